//! Process lifecycle syscalls: clone (fork and vfork), execve, wait4 and
//! waitid, process groups and sessions.
//!
//! How they map onto the memory system (seed 002_e6bf70a011e746b4.txt):
//! fork gives the child `AddressSpace::fork_cow` of the parent's (frames
//! shared copy-on-write); vfork lends the child the parent's very address
//! space, the parent holding a placeholder and not running until the child
//! execs or exits; execve builds the whole new image with `loader::load`
//! before it lets go of the old one.

use std::io::Read;
use std::mem;

use cowix_isa::Cpu;
use cowix_mm::AddressSpace;

use super::Sys;
use crate::elf::ExecError;
use crate::errno::{Errno, SysResult};
use crate::loader::{self, ExecRequest};
use crate::process::{rlimit, ExitStatus, Process, Zombie};
use crate::uaccess::Tlb;
use crate::vfs::Follow;

const CLONE_VM: u64 = 0x100;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PARENT_SETTID: u64 = 0x0010_0000;
const CLONE_CHILD_CLEARTID: u64 = 0x0020_0000;
const CLONE_CHILD_SETTID: u64 = 0x0100_0000;
const CSIGNAL: u64 = 0xff;

/// clone(flags, newsp, parent_tidptr, tls, child_tidptr), riscv64's order.
///
/// Two shapes are supported: fork (`SIGCHLD`) and vfork (`CLONE_VM |
/// CLONE_VFORK | SIGCHLD`), each with the tid-pointer flags glibc adds.
/// Anything else (threads: CLONE_VM | CLONE_THREAD ...) is EINVAL until
/// cowix has threads.
pub fn clone(
    sys: &mut Sys<'_>,
    flags: u64,
    newsp: u64,
    ptid: u64,
    _tls: u64,
    ctid: u64,
) -> SysResult {
    let exit_signal = flags & CSIGNAL;
    if exit_signal > 64 {
        return Err(Errno::EINVAL);
    }
    let shape =
        flags & !CSIGNAL & !(CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID);
    let vfork = match shape {
        0 => false,
        s if s == CLONE_VM | CLONE_VFORK => true,
        _ => return Err(Errno::EINVAL),
    };
    let pid = *sys.next_pid;
    let mm = if vfork {
        let placeholder = AddressSpace::new(sys.pm).map_err(|_| Errno::ENOMEM)?;
        mem::replace(&mut sys.p.mm, placeholder)
    } else {
        // Out of frames for the child's tables: reclaim and retry (fork is
        // all or nothing), while reclaim finds something.
        let mut tries = 0;
        loop {
            match sys.p.mm.fork_cow(sys.pm) {
                Ok(mm) => break mm,
                Err(_) if tries < 16 && sys.reclaim(256) > 0 => tries += 1,
                Err(_) => return Err(Errno::ENOMEM),
            }
        }
    };
    *sys.next_pid += 1;
    let parent = &mut *sys.p;
    let mut cpu = Cpu::new();
    cpu.x = parent.cpu.x;
    cpu.f = parent.cpu.f;
    cpu.fcsr = parent.cpu.fcsr;
    cpu.pc = parent.cpu.pc;
    cpu.x[10] = 0;
    if newsp != 0 {
        cpu.x[2] = newsp;
    }
    let mut child = Process {
        pid,
        ppid: parent.pid,
        cpu,
        mm,
        tlb: Tlb::new(sys.pm.zero_frame()),
        fds: parent.fds.clone(),
        cwd: parent.cwd.clone(),
        comm: parent.comm.clone(),
        exe: parent.exe.clone(),
        args: parent.args,
        auxv: parent.auxv.clone(),
        creds: parent.creds,
        umask: parent.umask,
        rlimits: parent.rlimits,
        signals: parent.signals.clone(),
        clear_child_tid: if flags & CLONE_CHILD_CLEARTID != 0 {
            ctid
        } else {
            0
        },
        robust_list: (0, 0),
        pgid: parent.pgid,
        sid: parent.sid,
        exit_signal: exit_signal as u8,
        vfork_parent: vfork.then_some(parent.pid),
        vfork_child: None,
        blocked: None,
        sleep_until: None,
        write_done: 0,
        exit: None,
        vdso: parent.vdso,
        fatal: None,
    };
    child.signals.pending = 0;
    child.signals.saved_mask = None;
    let tid = (pid as u32).to_le_bytes();
    if flags & CLONE_CHILD_SETTID != 0 {
        let _ = child.mm.write_bytes(sys.pm, ctid, &tid);
    }
    if flags & CLONE_PARENT_SETTID != 0 {
        // The parent's memory: for vfork, the child holds it now.
        let mm = if vfork { &mut child.mm } else { &mut parent.mm };
        let _ = mm.write_bytes(sys.pm, ptid, &tid);
    }
    if vfork {
        parent.vfork_child = Some(pid);
    }
    sys.procs.insert(pid, child);
    Ok(pid as u64)
}

/// Linux's limit on one argument or environment string (MAX_ARG_STRLEN).
const MAX_ARG_STRLEN: usize = 32 * 4096;
/// Nested `#!` interpreters allowed (fs/exec.c's depth limit for binfmt handlers).
const MAX_INTERP_DEPTH: usize = 4;
/// How much of a file execve looks at for `#!` (BINPRM_BUF_SIZE).
const BINPRM_BUF_SIZE: usize = 256;

/// Reads a NULL-terminated array of string pointers (argv, envp). A NULL
/// array is empty.
fn read_strings(
    sys: &mut Sys<'_>,
    mut addr: u64,
    total: &mut usize,
    max_total: usize,
) -> Result<Vec<Vec<u8>>, Errno> {
    let mut v = Vec::new();
    if addr == 0 {
        return Ok(v);
    }
    loop {
        let ptr = sys.mem().read_u64(addr)?;
        if ptr == 0 {
            return Ok(v);
        }
        let s = sys.mem().read_cstr(ptr, MAX_ARG_STRLEN - 1).map_err(|e| {
            if e == Errno::ERANGE {
                Errno::E2BIG
            } else {
                e
            }
        })?;
        *total += s.len() + 1 + 8;
        if *total > max_total {
            return Err(Errno::E2BIG);
        }
        v.push(s);
        addr += 8;
    }
}

/// What a `#!` line asks for: the interpreter and its optional argument.
#[derive(Debug, PartialEq, Eq)]
pub struct Shebang {
    pub interp: Vec<u8>,
    pub arg: Option<Vec<u8>>,
}

/// Parses the first BINPRM_BUF_SIZE bytes of a file as fs/binfmt_script.c
/// does: `None` if it does not start with `#!`; `Err(ENOEXEC)` if the line
/// names no interpreter or the interpreter name does not end within the
/// buffer. Everything after the interpreter (spaces and tabs trimmed at both
/// ends) is one argument.
pub fn parse_shebang(buf: &[u8]) -> Option<Result<Shebang, Errno>> {
    let buf = &buf[..buf.len().min(BINPRM_BUF_SIZE)];
    if !buf.starts_with(b"#!") {
        return None;
    }
    let blank = |c: &u8| *c == b' ' || *c == b'\t';
    let (line, complete) = match buf.iter().position(|&c| c == b'\n') {
        Some(i) => (&buf[2..i], true),
        None => (&buf[2..], buf.len() < BINPRM_BUF_SIZE),
    };
    let start = line.iter().position(|c| !blank(c)).unwrap_or(line.len());
    let line = &line[start..];
    let end = line.iter().rposition(|c| !blank(c)).map_or(0, |i| i + 1);
    let line = &line[..end];
    if line.is_empty() {
        return Some(Err(Errno::ENOEXEC));
    }
    let iend = line.iter().position(blank).unwrap_or(line.len());
    // A truncated line is fine as long as the interpreter name ended in it.
    if !complete && iend == line.len() {
        return Some(Err(Errno::ENOEXEC));
    }
    let interp = line[..iend].to_vec();
    let rest = &line[iend..];
    let rstart = rest.iter().position(|c| !blank(c)).unwrap_or(rest.len());
    let arg = (rstart < rest.len()).then(|| rest[rstart..].to_vec());
    Some(Ok(Shebang { interp, arg }))
}

fn exec_errno(e: ExecError) -> Errno {
    match e {
        ExecError::NotFound(_) => Errno::ENOENT,
        ExecError::NotExecutable(what)
            if what.contains("permission")
                || what.contains("directory")
                || what.contains("regular") =>
        {
            Errno::EACCES
        }
        ExecError::NotExecutable(_) => Errno::ENOEXEC,
        ExecError::Io(_) => Errno::EIO,
        ExecError::OutOfMemory => Errno::ENOMEM,
    }
}

/// execve(path, argv, envp). The new image is built completely first; on
/// failure the caller continues with an errno and nothing changed. On
/// success the old address space is released (or, for a vfork child, given
/// back to the parent, which runs again), close-on-exec fds are closed and
/// caught signals reset.
pub fn execve(sys: &mut Sys<'_>, path: u64, argv: u64, envp: u64) -> SysResult {
    let path = super::fs::path_arg(sys, path)?;
    exec_path(sys, path, argv, envp)
}

/// execveat(dirfd, path, argv, envp, flags): AT_FDCWD or an absolute path,
/// or AT_EMPTY_PATH with an fd opened on the file.
pub fn execveat(
    sys: &mut Sys<'_>,
    dirfd: i32,
    path: u64,
    argv: u64,
    envp: u64,
    flags: u32,
) -> SysResult {
    const AT_EMPTY_PATH: u32 = 0x1000;
    const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
    if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let p = super::fs::path_arg(sys, path)?;
    if p.is_empty() && flags & AT_EMPTY_PATH != 0 {
        let f = sys.p.fds.file(dirfd)?;
        let guest = f.borrow().path.clone();
        return exec_path(sys, guest.into_bytes(), argv, envp);
    }
    if p.first() == Some(&b'/') || dirfd == super::fs::AT_FDCWD {
        return exec_path(sys, p, argv, envp);
    }
    let f = sys.p.fds.file(dirfd)?;
    let mut full = f.borrow().path.clone().into_bytes();
    full.push(b'/');
    full.extend_from_slice(&p);
    exec_path(sys, full, argv, envp)
}

fn exec_path(sys: &mut Sys<'_>, path: Vec<u8>, argv_addr: u64, envp_addr: u64) -> SysResult {
    // Arguments and environment may take a quarter of the stack limit
    // (fs/exec.c: bprm_stack_limits), at least 128 KiB... at most 6 MiB.
    let max_total = (sys.p.rlimits[rlimit::STACK].cur / 4).clamp(128 * 1024, 6 << 20) as usize;
    let mut total = 0;
    let mut argv = read_strings(sys, argv_addr, &mut total, max_total)?;
    let envp = read_strings(sys, envp_addr, &mut total, max_total)?;
    // A path through /proc (`/proc/self/exe`, `/proc/PID/cwd/prog`) is
    // followed there first; a procfs file itself is not executable.
    let via_proc = super::fs::resolve(sys, &sys.p.cwd, &path, Follow::Yes)?;
    if via_proc.proc {
        return Err(Errno::EACCES);
    }
    let plain = sys.vfs.resolve(&sys.p.cwd, &path, Follow::Yes).ok();
    let mut path = if plain.is_some_and(|r| r.guest == via_proc.guest) {
        path
    } else {
        via_proc.guest.into_bytes()
    };
    for depth in 0..=MAX_INTERP_DEPTH {
        let r = sys.vfs.resolve(&sys.p.cwd, &path, Follow::Yes)?;
        let mut head = Vec::with_capacity(BINPRM_BUF_SIZE);
        if let Ok(f) = std::fs::File::open(&r.host) {
            let _ = f.take(BINPRM_BUF_SIZE as u64).read_to_end(&mut head);
        }
        let Some(sb) = parse_shebang(&head) else {
            break;
        };
        if depth == MAX_INTERP_DEPTH {
            return Err(Errno::ELOOP);
        }
        // Needs execute permission on the script, as for any program.
        let mode = std::fs::metadata(&r.host)
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
            .unwrap_or(0);
        if mode & 0o111 == 0 {
            return Err(Errno::EACCES);
        }
        let sb = sb?;
        let mut new_argv = vec![sb.interp.clone()];
        new_argv.extend(sb.arg);
        new_argv.push(path);
        new_argv.extend(argv.into_iter().skip(1));
        argv = new_argv;
        path = sb.interp;
    }
    let mut random = [0u8; 16];
    sys.clock.random(&mut random);
    let cwd = sys.p.cwd.clone();
    let req = ExecRequest {
        path: &path,
        argv: &argv,
        envp: &envp,
        cwd: &cwd,
        creds: sys.p.creds,
        stack_limit: sys.p.rlimits[rlimit::STACK].cur,
        random,
    };
    let loaded = loader::load(sys.pm, sys.vfs, &req).map_err(exec_errno)?;
    let p = &mut *sys.p;
    let old = mem::replace(&mut p.mm, loaded.mm);
    match p.vfork_parent.take() {
        Some(ppid) => crate::give_back_vfork_mm(sys.procs, sys.pm, ppid, old),
        None => old.release(sys.pm),
    }
    p.tlb = loaded.tlb;
    let instret = p.cpu.instret;
    p.cpu = Cpu::new();
    p.cpu.instret = instret;
    p.cpu.pc = loaded.entry;
    p.cpu.x[2] = loaded.sp;
    p.fds.close_on_exec();
    p.signals.reset_for_exec();
    p.comm = loaded
        .exe
        .rsplit('/')
        .next()
        .unwrap_or("")
        .chars()
        .take(15)
        .collect();
    p.exe = loaded.exe;
    p.args = loaded.args;
    p.auxv = loaded.auxv;
    p.vdso = loaded.vdso;
    p.clear_child_tid = 0;
    p.robust_list = (0, 0);
    Ok(0)
}

const WNOHANG: u32 = 1;
const WUNTRACED: u32 = 2;
const WEXITED: u32 = 4;
const WCONTINUED: u32 = 8;
const WNOWAIT: u32 = 0x0100_0000;
const WNOTHREAD: u32 = 0x2000_0000;
const WALL: u32 = 0x4000_0000;
const WCLONE: u32 = 0x8000_0000;

/// Which children a wait call asks for.
#[derive(Debug, Clone, Copy)]
enum Which {
    Pid(i32),
    Any,
    Group(i32),
}

impl Which {
    fn matches(self, pid: i32, pgid: i32) -> bool {
        match self {
            Which::Pid(p) => p == pid,
            Which::Any => true,
            Which::Group(g) => g == pgid,
        }
    }
}

/// The common part of wait4 and waitid: a matching zombie child (removed
/// unless `keep`), `Ok(None)` if there are matching live children only (the
/// caller blocks or, with WNOHANG, returns 0), ECHILD if there are none.
fn reap(sys: &mut Sys<'_>, which: Which, keep: bool) -> Result<Option<(i32, Zombie)>, Errno> {
    let me = sys.p.pid;
    let found = sys
        .zombies
        .iter()
        .find(|(&pid, z)| z.ppid == me && which.matches(pid, z.pgid))
        .map(|(&pid, z)| (pid, *z));
    if let Some((pid, z)) = found {
        if !keep {
            sys.zombies.remove(&pid);
        }
        return Ok(Some((pid, z)));
    }
    if sys
        .procs
        .values()
        .any(|q| q.ppid == me && which.matches(q.pid, q.pgid))
    {
        return Ok(None);
    }
    Err(Errno::ECHILD)
}

/// struct rusage with the child's CPU time.
fn rusage_of(sys: &mut Sys<'_>, addr: u64, instret: u64) -> Result<(), Errno> {
    if addr == 0 {
        return Ok(());
    }
    let ns = sys.clock.cpu_ns(instret);
    let mut b = [0u8; 144];
    b[0..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    b[8..16].copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
    sys.mem().copy_out(addr, &b)
}

/// wait4(pid, wstatus, options, rusage) (kernel/exit.c).
pub fn wait4(sys: &mut Sys<'_>, pid: i32, wstatus: u64, options: u32, rusage: u64) -> SysResult {
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE) != 0 {
        return Err(Errno::EINVAL);
    }
    let which = match pid {
        -1 => Which::Any,
        0 => Which::Group(sys.p.pgid),
        p if p < 0 => Which::Group(p.checked_neg().ok_or(Errno::ESRCH)?),
        p => Which::Pid(p),
    };
    match reap(sys, which, false)? {
        Some((cpid, z)) => {
            if wstatus != 0 {
                sys.mem()
                    .write_u32(wstatus, z.status.wait_status(z.core_limit))?;
            }
            rusage_of(sys, rusage, z.instret)?;
            Ok(cpid as u64)
        }
        None if options & WNOHANG != 0 => Ok(0),
        None => {
            sys.block = true;
            Ok(0)
        }
    }
}

/// waitid(idtype, id, infop, options, rusage).
pub fn waitid(
    sys: &mut Sys<'_>,
    idtype: u32,
    id: i32,
    infop: u64,
    options: u32,
    rusage: u64,
) -> SysResult {
    const P_ALL: u32 = 0;
    const P_PID: u32 = 1;
    const P_PGID: u32 = 2;
    if options & !(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE)
        != 0
        || options & (WEXITED | WUNTRACED | WCONTINUED) == 0
    {
        return Err(Errno::EINVAL);
    }
    let which = match idtype {
        P_ALL => Which::Any,
        P_PID if id > 0 => Which::Pid(id),
        P_PGID if id >= 0 => Which::Group(if id == 0 { sys.p.pgid } else { id }),
        _ => return Err(Errno::EINVAL),
    };
    if options & WEXITED == 0 {
        // Only stops and continues asked for: cowix has no job control, nothing to report.
        return if options & WNOHANG != 0 {
            Ok(0)
        } else {
            Err(Errno::ECHILD)
        };
    }
    let mut info = [0u8; 128];
    match reap(sys, which, options & WNOWAIT != 0)? {
        Some((cpid, z)) => {
            const SIGCHLD: i32 = 17;
            let (code, status): (i32, i32) = match z.status {
                ExitStatus::Exited(c) => (1, c as i32), // CLD_EXITED
                ExitStatus::Signaled { signal, .. }
                    if z.status.wait_status(z.core_limit) & 0x80 != 0 =>
                {
                    (3, signal as i32)
                }
                ExitStatus::Signaled { signal, .. } => (2, signal as i32), // CLD_KILLED
            };
            info[0..4].copy_from_slice(&SIGCHLD.to_le_bytes());
            info[8..12].copy_from_slice(&code.to_le_bytes()); // si_code
            info[16..20].copy_from_slice(&cpid.to_le_bytes());
            info[20..24].copy_from_slice(&sys.p.creds.uid.to_le_bytes());
            info[24..28].copy_from_slice(&status.to_le_bytes());
            if infop != 0 {
                sys.mem().copy_out(infop, &info)?;
            }
            rusage_of(sys, rusage, z.instret)?;
            Ok(0)
        }
        None if options & WNOHANG != 0 => {
            if infop != 0 {
                sys.mem().copy_out(infop, &info)?;
            }
            Ok(0)
        }
        None => {
            sys.block = true;
            Ok(0)
        }
    }
}

/// The process `pid` names: the caller for 0 or its own pid, else another.
fn target<'s>(sys: &'s mut Sys<'_>, pid: i32) -> Result<&'s mut Process, Errno> {
    if pid == 0 || pid == sys.p.pid {
        return Ok(&mut *sys.p);
    }
    sys.procs.get_mut(&pid).ok_or(Errno::ESRCH)
}

pub fn getpgid(sys: &mut Sys<'_>, pid: i32) -> SysResult {
    if pid < 0 {
        return Err(Errno::ESRCH);
    }
    Ok(target(sys, pid)?.pgid as u64)
}

pub fn getsid(sys: &mut Sys<'_>, pid: i32) -> SysResult {
    if pid < 0 {
        return Err(Errno::ESRCH);
    }
    Ok(target(sys, pid)?.sid as u64)
}

/// setpgid(pid, pgid) (kernel/sys.c): the caller or one of its children,
/// into a group of the same session (or a new group named by the target).
pub fn setpgid(sys: &mut Sys<'_>, pid: i32, pgid: i32) -> SysResult {
    if pid < 0 || pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let me = sys.p.pid;
    let my_sid = sys.p.sid;
    let pid = if pid == 0 { me } else { pid };
    let pgid = if pgid == 0 { pid } else { pgid };
    let group_exists = pgid == pid
        || sys.p.pgid == pgid && sys.p.sid == my_sid
        || sys
            .procs
            .values()
            .any(|q| q.pgid == pgid && q.sid == my_sid);
    let t = target(sys, pid)?;
    if t.pid != me && t.ppid != me {
        return Err(Errno::ESRCH);
    }
    if t.sid != my_sid || t.sid == t.pid {
        return Err(Errno::EPERM);
    }
    if !group_exists {
        return Err(Errno::EPERM);
    }
    t.pgid = pgid;
    Ok(0)
}

/// setsid(): a new session and group led by the caller, unless it already
/// leads a group.
pub fn setsid(sys: &mut Sys<'_>) -> SysResult {
    let me = sys.p.pid;
    if sys.p.pgid == me || sys.procs.values().any(|q| q.pgid == me) {
        return Err(Errno::EPERM);
    }
    sys.p.pgid = me;
    sys.p.sid = me;
    Ok(me as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb(interp: &str, arg: Option<&str>) -> Option<Result<Shebang, Errno>> {
        Some(Ok(Shebang {
            interp: interp.into(),
            arg: arg.map(Into::into),
        }))
    }

    #[test]
    fn shebang_lines_parse_as_binfmt_script() {
        assert_eq!(parse_shebang(b"\x7fELF"), None);
        assert_eq!(parse_shebang(b"#!/bin/sh\necho"), sb("/bin/sh", None));
        assert_eq!(
            parse_shebang(b"#! /bin/sh -e \n"),
            sb("/bin/sh", Some("-e"))
        );
        assert_eq!(
            parse_shebang(b"#!/usr/bin/env python3 -u -B\n"),
            sb("/usr/bin/env", Some("python3 -u -B"))
        );
        assert_eq!(
            parse_shebang(b"#!\t/bin/x\t\ta b\t\n"),
            sb("/bin/x", Some("a b"))
        );
        assert_eq!(
            parse_shebang(b"#!/bin/sh"),
            sb("/bin/sh", None),
            "no newline in a short file"
        );
        assert_eq!(parse_shebang(b"#!   \n"), Some(Err(Errno::ENOEXEC)));
    }

    #[test]
    fn shebang_truncated_at_buffer_end() {
        let mut long = b"#!/bin/".to_vec();
        long.extend(std::iter::repeat_n(b'x', 300));
        assert_eq!(
            parse_shebang(&long),
            Some(Err(Errno::ENOEXEC)),
            "interpreter name does not end in 256 bytes"
        );
        let mut ok = b"#!/bin/sh ".to_vec();
        ok.extend(std::iter::repeat_n(b'y', 300));
        let r = parse_shebang(&ok).unwrap().unwrap();
        assert_eq!(r.interp, b"/bin/sh");
        assert_eq!(
            r.arg.unwrap().len(),
            256 - 10,
            "the argument is cut at the buffer's end"
        );
    }
}
