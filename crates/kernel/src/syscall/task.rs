//! Process and thread lifecycle syscalls: clone and clone3 (fork, vfork,
//! threads), execve, wait4 and waitid, process groups and sessions.
//!
//! How they map onto the memory system (seed 002_e6bf70a011e746b4.txt):
//! fork gives the child `AddressSpace::fork` of the parent's, in the
//! machine's fork mode (`--fork-mode`: eager copy, copy-on-write, or
//! copy-on-write with shared leaf page tables); vfork and clone(CLONE_VM)
//! give the child another handle to the parent's very address space
//! (`Mm`), and vfork's calling thread waits until the child execs or
//! exits; execve builds the whole new image with `loader::load`
//! before it lets go of the old one.

use std::collections::BTreeMap;
use std::io::Read;
use std::mem;

use cowix_isa::Cpu;

use super::Sys;
use crate::elf::ExecError;
use crate::errno::{Errno, SysResult};
use crate::loader::{self, ExecRequest};
use crate::process::{rlimit, ExitStatus, Process, Thread, Zombie};
use crate::signal::{SigQueue, ThreadSignals};
use crate::uaccess::Tlb;
use crate::vfs::Follow;

const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_PTRACE: u64 = 0x2000;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PARENT: u64 = 0x8000;
const CLONE_THREAD: u64 = 0x1_0000;
const CLONE_NEWNS: u64 = 0x2_0000;
const CLONE_SYSVSEM: u64 = 0x4_0000;
const CLONE_SETTLS: u64 = 0x8_0000;
const CLONE_PARENT_SETTID: u64 = 0x0010_0000;
const CLONE_CHILD_CLEARTID: u64 = 0x0020_0000;
const CLONE_DETACHED: u64 = 0x0040_0000;
const CLONE_UNTRACED: u64 = 0x0080_0000;
const CLONE_CHILD_SETTID: u64 = 0x0100_0000;
const CLONE_NEWUSER: u64 = 0x1000_0000;
const CLONE_IO: u64 = 0x8000_0000;
/// clone3 only: the child's caught signals revert to SIG_DFL.
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
/// Namespace flags: cowix has one namespace of each kind.
const CLONE_NEWS: u64 = 0x7e02_0080;
const CSIGNAL: u64 = 0xff;

/// What clone and clone3 ask for (struct kernel_clone_args).
#[derive(Debug, Clone, Copy, Default)]
struct CloneArgs {
    flags: u64,
    exit_signal: u64,
    /// The child's stack pointer (0: the caller's).
    sp: u64,
    parent_tid: u64,
    child_tid: u64,
    tls: u64,
}

/// clone(flags, newsp, parent_tidptr, tls, child_tidptr), riscv64's order.
pub fn clone(
    sys: &mut Sys<'_>,
    flags: u64,
    newsp: u64,
    ptid: u64,
    tls: u64,
    ctid: u64,
) -> SysResult {
    // The low byte is the exit signal; only the low 32 bits are flags
    // (kernel/fork.c: SYSCALL_DEFINE5(clone)).
    let args = CloneArgs {
        flags: flags & !CSIGNAL & 0xffff_ffff,
        exit_signal: flags & CSIGNAL,
        sp: newsp,
        parent_tid: ptid,
        child_tid: ctid,
        tls,
    };
    if args.exit_signal > 64 {
        return Err(Errno::EINVAL);
    }
    kernel_clone(sys, args)
}

/// clone3(uargs, size) (kernel/fork.c: copy_clone_args_from_user). The
/// struct has grown: 64 bytes (VER0), 80 (set_tid), 88 (cgroup); a larger
/// struct is accepted if the bytes cowix does not know are zero (E2BIG
/// otherwise, or above a page); a smaller one than VER0 is EINVAL.
pub fn clone3(sys: &mut Sys<'_>, uargs: u64, size: u64) -> SysResult {
    const VER0: u64 = 64;
    const KNOWN: u64 = 88;
    if size > cowix_mm::PAGE_SIZE {
        return Err(Errno::E2BIG);
    }
    if size < VER0 {
        return Err(Errno::EINVAL);
    }
    let mut b = vec![0u8; size as usize];
    sys.mem().copy_in(uargs, &mut b)?;
    if b.len() > KNOWN as usize && b[KNOWN as usize..].iter().any(|&x| x != 0) {
        return Err(Errno::E2BIG);
    }
    b.resize(KNOWN as usize, 0);
    let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
    let (flags, _pidfd, child_tid, parent_tid, exit_signal) = (w(0), w(1), w(2), w(3), w(4));
    let (stack, stack_size, tls, set_tid, set_tid_size, _cgroup) =
        (w(5), w(6), w(7), w(8), w(9), w(10));
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    if flags & !(0xffff_ffff | CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP) != 0
        || flags & CSIGNAL != 0
        || exit_signal & !CSIGNAL != 0
        || exit_signal > 64
        || set_tid_size > 32
        || (set_tid == 0) != (set_tid_size == 0)
    {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_INTO_CGROUP != 0 {
        // cowix has no cgroups to put the child into.
        return Err(Errno::EINVAL);
    }
    if set_tid_size != 0 {
        // Choosing the tid needs CAP_SYS_ADMIN over the pid namespace.
        return Err(Errno::EPERM);
    }
    // clone3_stack_valid: both or neither; the stack grows down from its end.
    if (stack == 0) != (stack_size == 0) {
        return Err(Errno::EINVAL);
    }
    let sp = if stack == 0 {
        0
    } else {
        stack.checked_add(stack_size).ok_or(Errno::EINVAL)?
    };
    let args = CloneArgs {
        flags,
        exit_signal,
        sp,
        parent_tid,
        child_tid,
        tls,
    };
    kernel_clone(sys, args)
}

/// kernel_clone + copy_process. The shapes cowix's thread groups allow:
///
/// | flags | result |
/// | --- | --- |
/// | no CLONE_VM | fork: a new process over `AddressSpace::fork`, one thread |
/// | CLONE_VM | a new process on the caller's very address space (copy_mm's mmget) |
/// | CLONE_VM \| CLONE_VFORK | vfork: the same, and the calling thread (alone of its group) waits until the child execs or exits |
/// | CLONE_VM \| CLONE_FS \| CLONE_FILES \| CLONE_SIGHAND \| CLONE_THREAD | a thread of the caller's group |
///
/// The flag rules are copy_process's (THREAD needs SIGHAND, SIGHAND needs
/// VM, ...: EINVAL); namespace flags are EPERM; CLONE_PIDFD (cowix has no
/// pidfds) is EINVAL. CLONE_FILES shares the fd table with a new process
/// too (copy_files), CLONE_FS the working directory and umask (copy_fs),
/// CLONE_SIGHAND the handlers (copy_sighand). A thread with its own fd
/// table or fs info is not supported: EINVAL.
fn kernel_clone(sys: &mut Sys<'_>, a: CloneArgs) -> SysResult {
    let f = a.flags;
    if f & (CLONE_NEWNS | CLONE_FS) == CLONE_NEWNS | CLONE_FS
        || f & (CLONE_NEWUSER | CLONE_FS) == CLONE_NEWUSER | CLONE_FS
        || (f & CLONE_THREAD != 0 && f & CLONE_SIGHAND == 0)
        || (f & CLONE_SIGHAND != 0 && f & CLONE_VM == 0)
        || (f & CLONE_CLEAR_SIGHAND != 0 && f & CLONE_SIGHAND != 0)
    {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_NEWS != 0 {
        return Err(Errno::EPERM);
    }
    let known = CLONE_VM
        | CLONE_FS
        | CLONE_FILES
        | CLONE_SIGHAND
        | CLONE_PTRACE
        | CLONE_VFORK
        | CLONE_PARENT
        | CLONE_THREAD
        | CLONE_SYSVSEM
        | CLONE_SETTLS
        | CLONE_PARENT_SETTID
        | CLONE_CHILD_CLEARTID
        | CLONE_DETACHED
        | CLONE_UNTRACED
        | CLONE_CHILD_SETTID
        | CLONE_IO
        | CLONE_CLEAR_SIGHAND;
    if f & CLONE_PIDFD != 0 || f & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let shared = f & (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD);
    let thread_flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD;
    if shared == thread_flags {
        if f & CLONE_VFORK != 0 {
            return Err(Errno::EINVAL);
        }
        return new_thread(sys, a);
    }
    // A new process may share the address space (CLONE_VM, with or
    // without CLONE_VFORK), the fd table (CLONE_FILES), the fs info
    // (CLONE_FS) and the handlers (CLONE_SIGHAND, which needs CLONE_VM);
    // a thread must share all of them (cowix keeps them per group).
    if shared & CLONE_THREAD != 0 {
        return Err(Errno::EINVAL);
    }
    new_process(sys, a)
}

/// A new thread in the caller's group: the caller's registers with a0 = 0,
/// sp and tp as asked, its signal mask; no pending signals and no
/// alternate stack (copy_process clears it when the memory is shared).
/// RLIMIT_NPROC (kernel/fork.c: copy_process()): a new task (thread or
/// process) of a user already running `RLIMIT_NPROC` tasks is EAGAIN,
/// unless the user is root (CAP_SYS_RESOURCE / CAP_SYS_ADMIN).
fn nproc_allows(sys: &Sys<'_>) -> Result<(), Errno> {
    let uid = sys.p.creds.uid;
    if uid == 0 {
        return Ok(());
    }
    let limit = sys.p.rlimits[crate::process::rlimit::NPROC].cur;
    let mine = |p: &crate::process::Process| {
        if p.creds.uid == uid && p.exit.is_none() {
            p.threads.len() as u64
        } else {
            0
        }
    };
    // The caller's own running thread is out of its map for its turn.
    let tasks = mine(sys.p) + 1 + sys.procs.values().map(mine).sum::<u64>();
    if tasks >= limit {
        Err(Errno::EAGAIN)
    } else {
        Ok(())
    }
}

fn new_thread(sys: &mut Sys<'_>, a: CloneArgs) -> SysResult {
    nproc_allows(sys)?;
    let tid = *sys.next_pid;
    *sys.next_pid += 1;
    let mut cpu = child_cpu(&sys.t.cpu, a.sp);
    if a.flags & CLONE_SETTLS != 0 {
        cpu.x[4] = a.tls;
    }
    let signals = ThreadSignals {
        blocked: sys.t.signals.blocked,
        ..ThreadSignals::default()
    };
    let mut t = Thread::new(
        tid,
        cpu,
        Tlb::new(sys.pm.zero_frame()),
        signals,
        sys.t.comm.clone(),
    );
    t.sched = super::sched::inherit(sys.t.sched);
    if a.flags & CLONE_CHILD_CLEARTID != 0 {
        t.clear_child_tid = a.child_tid;
    }
    let id = (tid as u32).to_le_bytes();
    if a.flags & CLONE_CHILD_SETTID != 0 {
        let _ = sys.p.mm.get_mut().write_bytes(sys.pm, a.child_tid, &id);
    }
    if a.flags & CLONE_PARENT_SETTID != 0 {
        let _ = sys.p.mm.get_mut().write_bytes(sys.pm, a.parent_tid, &id);
    }
    sys.p.threads.insert(tid, Box::new(t));
    Ok(tid as u64)
}

/// A new process with one thread, a copy of the caller: with CLONE_VM
/// it uses the caller's very address space (copy_mm: mmget), else a fork
/// of it. With CLONE_VFORK the calling thread, alone of its group, waits
/// until the child execs or ends (wait_for_vfork_done).
fn new_process(sys: &mut Sys<'_>, a: CloneArgs) -> SysResult {
    nproc_allows(sys)?;
    let flags = a.flags;
    let (share_vm, vfork) = (flags & CLONE_VM != 0, flags & CLONE_VFORK != 0);
    let pid = *sys.next_pid;
    let mm = if share_vm {
        // copy_mm with CLONE_VM: another handle to the same space (mmget).
        sys.p.mm.clone()
    } else {
        // Out of frames for the child's tables: reclaim and retry (fork is
        // all or nothing), while reclaim finds something.
        let mode = sys.pm.fork_mode();
        let mut tries = 0;
        loop {
            let forked = sys.p.mm.get_mut().fork(sys.pm, mode);
            match forked {
                Ok(mm) => break crate::process::Mm::new(mm),
                Err(_) if tries < 16 && sys.reclaim(256) > 0 => tries += 1,
                Err(_) => return Err(Errno::ENOMEM),
            }
        }
    };
    *sys.next_pid += 1;
    let parent = &mut *sys.p;
    let mut cpu = child_cpu(&sys.t.cpu, a.sp);
    if flags & CLONE_SETTLS != 0 {
        cpu.x[4] = a.tls;
    }
    let mut thread = Thread::new(
        pid,
        cpu,
        Tlb::new(sys.pm.zero_frame()),
        sys.t.signals.clone(),
        sys.t.comm.clone(),
    );
    thread.signals.pending = SigQueue::default();
    thread.signals.saved_mask = None;
    thread.sched = super::sched::inherit(sys.t.sched);
    if share_vm {
        // copy_process: sharing the memory, the child gets no altstack.
        thread.signals.altstack = Default::default();
    }
    if flags & CLONE_CHILD_CLEARTID != 0 {
        thread.clear_child_tid = a.child_tid;
    }
    let ppid = if flags & CLONE_PARENT != 0 {
        parent.ppid
    } else {
        parent.pid
    };
    let mut child = Process {
        pid,
        ppid,
        threads: BTreeMap::from([(pid, Box::new(thread))]),
        mm,
        // copy_files: the very table with CLONE_FILES, else a copy.
        fds: if flags & CLONE_FILES != 0 {
            parent.fds.share()
        } else {
            parent.fds.copy()
        },
        // copy_fs: the very fs_struct with CLONE_FS, else a copy.
        fs: if flags & CLONE_FS != 0 {
            parent.fs.share()
        } else {
            parent.fs.copy()
        },
        // dup_task_struct copies the calling thread's comm.
        comm: sys.t.comm.clone(),
        exe: parent.exe.clone(),
        args: parent.args,
        auxv: parent.auxv.clone(),
        creds: parent.creds,
        groups: parent.groups.clone(),
        nice: parent.nice,
        rlimits: parent.rlimits,
        signals: parent.signals.for_child(flags & CLONE_SIGHAND != 0),
        pgid: parent.pgid,
        sid: parent.sid,
        ctty: parent.ctty,
        exit_signal: a.exit_signal as u8,
        vfork_parent: vfork.then_some((parent.pid, sys.t.tid)),
        exit: None,
        leader_exit: None,
        retired: 0,
        vdso: parent.vdso,
        fatal: None,
        sampling: Default::default(),
        randomize: parent.randomize,
        job: Default::default(),
        timers: Default::default(),
    };
    if flags & CLONE_CLEAR_SIGHAND != 0 {
        // flush_signal_handlers(p, 0): ignored signals stay ignored.
        child.signals.reset_for_exec();
    }
    let tid = (pid as u32).to_le_bytes();
    if flags & CLONE_CHILD_SETTID != 0 {
        let _ = child.mm.get_mut().write_bytes(sys.pm, a.child_tid, &tid);
    }
    if flags & CLONE_PARENT_SETTID != 0 {
        let _ = parent.mm.get_mut().write_bytes(sys.pm, a.parent_tid, &tid);
    }
    if vfork {
        sys.t.vfork_child = Some(pid);
    }
    sys.procs.insert(pid, child);
    *sys.processes += 1;
    Ok(pid as u64)
}

/// The CPU a new task starts with: the caller's registers, a0 = 0 (clone
/// returns 0 in the child), sp = `newsp` if given.
fn child_cpu(cpu: &Cpu, newsp: u64) -> Cpu {
    let mut c = Cpu::new();
    c.x = cpu.x;
    c.f = cpu.f;
    c.fcsr = cpu.fcsr;
    c.pc = cpu.pc;
    c.x[10] = 0;
    if newsp != 0 {
        c.x[2] = newsp;
    }
    c
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
    let via_proc = super::fs::resolve(sys, &sys.p.fs.cwd(), &path, Follow::Yes)?;
    if via_proc.proc {
        return Err(Errno::EACCES);
    }
    let plain = sys.vfs.resolve(&sys.p.fs.cwd(), &path, Follow::Yes).ok();
    let mut path = if plain.is_some_and(|r| r.guest == via_proc.guest) {
        path
    } else {
        via_proc.guest.into_bytes()
    };
    for depth in 0..=MAX_INTERP_DEPTH {
        let r = sys.vfs.resolve(&sys.p.fs.cwd(), &path, Follow::Yes)?;
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
    let cwd = sys.p.fs.cwd();
    let req = ExecRequest {
        path: &path,
        argv: &argv,
        envp: &envp,
        cwd: &cwd,
        creds: sys.p.creds,
        stack_limit: sys.p.rlimits[rlimit::STACK].cur,
        random,
        layout_random: sys.p.randomize.then(|| sys.clock.random_words()),
    };
    let loaded = loader::load(sys.pm, sys.vfs, &req).map_err(exec_errno)?;
    let p = &mut *sys.p;
    let t = &mut *sys.t;
    // de_thread: the other threads die, and the caller becomes the leader
    // (tid = tgid). They go with the old memory, so their clear_child_tid
    // words are not touched.
    for (_, other) in mem::take(&mut p.threads) {
        p.retired += other.cpu.instret;
    }
    t.tid = p.pid;
    p.leader_exit = None;
    if sys.accounting && p.vfork_parent.is_none() {
        crate::accounting::sample(p, sys.pm);
    }
    // exec_mmap: the new space is this process's alone; the old one lives
    // on while others use it (a vfork parent, CLONE_VM processes).
    let old = mem::replace(&mut p.mm, crate::process::Mm::new(loaded.mm));
    old.put(sys.pm);
    if let Some(parent) = p.vfork_parent.take() {
        crate::vfork_done(sys.procs, parent);
    }
    t.tlb = loaded.tlb;
    let instret = t.cpu.instret;
    t.cpu = Cpu::new();
    t.cpu.instret = instret;
    t.cpu.pc = loaded.entry;
    t.cpu.x[2] = loaded.sp;
    // unshare_files, then the close-on-exec descriptors go.
    if p.fds.is_shared() {
        p.fds = p.fds.copy();
    }
    p.fds.close_on_exec();
    p.timers.exec();
    p.signals.reset_for_exec();
    t.signals.reset_for_exec();
    // The exec'ing thread, now the leader, takes the program's name.
    let comm = crate::process::comm_of_path(&loaded.exe);
    p.set_comm(t, comm);
    p.exe = loaded.exe;
    p.args = loaded.args;
    p.auxv = loaded.auxv;
    p.vdso = loaded.vdso;
    t.clear_child_tid = 0;
    t.robust_list = (0, 0);
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

/// What a wait call found to report about a child.
#[derive(Debug, Clone, Copy)]
enum Report {
    /// It ended (its zombie).
    Exited(Zombie),
    /// It stopped with this signal (wait_task_stopped).
    Stopped { signal: u8, uid: u32, instret: u64 },
    /// It was continued (wait_task_continued).
    Continued { uid: u32, instret: u64 },
}

impl Report {
    /// wait4's status word: the exit status, `0x7f | sig << 8` for a
    /// stop, 0xffff for a continue (include/uapi/linux/wait.h's macros).
    fn wait_status(&self) -> u32 {
        match *self {
            Report::Exited(z) => z.status.wait_status(z.core_limit),
            Report::Stopped { signal, .. } => 0x7f | (signal as u32) << 8,
            Report::Continued { .. } => 0xffff,
        }
    }

    fn instret(&self) -> u64 {
        match *self {
            Report::Exited(z) => z.instret,
            Report::Stopped { instret, .. } | Report::Continued { instret, .. } => instret,
        }
    }
}

/// The common part of wait4 and waitid (do_wait): a matching zombie
/// child if WEXITED is asked for (removed unless WNOWAIT), else a stopped
/// child not yet reported (WUNTRACED/WSTOPPED) or a continued one
/// (WCONTINUED), whose report is consumed unless WNOWAIT; `Ok(None)` if
/// there are matching live children only (the caller blocks or, with
/// WNOHANG, returns 0), ECHILD if there are none. A child whose exit
/// signal is not SIGCHLD (a "clone child") is seen only with __WCLONE,
/// the others only without it; __WALL sees both (eligible_child).
fn reap(sys: &mut Sys<'_>, which: Which, options: u32) -> Result<Option<(i32, Report)>, Errno> {
    let me = sys.p.pid;
    let keep = options & WNOWAIT != 0;
    let eligible =
        |clone_child: bool| options & WALL != 0 || clone_child == (options & WCLONE != 0);
    if options & WEXITED != 0 {
        let found = sys
            .zombies
            .iter()
            .find(|(&pid, z)| z.ppid == me && which.matches(pid, z.pgid) && eligible(z.clone_child))
            .map(|(&pid, z)| (pid, *z));
        if let Some((pid, z)) = found {
            if !keep {
                sys.zombies.remove(&pid);
            }
            return Ok(Some((pid, Report::Exited(z))));
        }
    }
    let mut any = false;
    for q in sys.procs.values_mut().filter(|q| {
        q.ppid == me
            && which.matches(q.pid, q.pgid)
            && eligible(q.exit_signal != crate::signal::sig::SIGCHLD)
    }) {
        any = true;
        let (uid, instret) = (q.creds.uid, q.instret(None));
        if options & WUNTRACED != 0 {
            if let Some(signal) = q.job.stop_report {
                if !keep {
                    q.job.stop_report = None;
                }
                return Ok(Some((
                    q.pid,
                    Report::Stopped {
                        signal,
                        uid,
                        instret,
                    },
                )));
            }
        }
        if options & WCONTINUED != 0 && q.job.cont_report {
            if !keep {
                q.job.cont_report = false;
            }
            return Ok(Some((q.pid, Report::Continued { uid, instret })));
        }
    }
    if any {
        Ok(None)
    } else {
        Err(Errno::ECHILD)
    }
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

/// wait4(pid, wstatus, options, rusage) (kernel/exit.c): exits always,
/// stops with WUNTRACED, continues with WCONTINUED.
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
    match reap(sys, which, options | WEXITED)? {
        Some((cpid, r)) => {
            if wstatus != 0 {
                sys.mem().write_u32(wstatus, r.wait_status())?;
            }
            rusage_of(sys, rusage, r.instret())?;
            Ok(cpid as u64)
        }
        None if options & WNOHANG != 0 => Ok(0),
        None => {
            sys.block = true;
            Ok(0)
        }
    }
}

/// waitid(idtype, id, infop, options, rusage): WEXITED, WSTOPPED
/// (= WUNTRACED), WCONTINUED, WNOWAIT; the siginfo is SIGCHLD's.
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
    let mut info = [0u8; 128];
    match reap(sys, which, options)? {
        Some((cpid, r)) => {
            const SIGCHLD: i32 = 17;
            use crate::signal::{code, sig};
            let (si_code, status, uid): (i32, i32, u32) = match r {
                Report::Exited(z) => {
                    let (c, st) = match z.status {
                        ExitStatus::Exited(c) => (code::CLD_EXITED, c as i32),
                        ExitStatus::Signaled { signal, .. }
                            if z.status.wait_status(z.core_limit) & 0x80 != 0 =>
                        {
                            (code::CLD_DUMPED, signal as i32)
                        }
                        ExitStatus::Signaled { signal, .. } => (code::CLD_KILLED, signal as i32),
                    };
                    (c, st, sys.p.creds.uid)
                }
                Report::Stopped { signal, uid, .. } => (code::CLD_STOPPED, signal as i32, uid),
                Report::Continued { uid, .. } => (code::CLD_CONTINUED, sig::SIGCONT as i32, uid),
            };
            info[0..4].copy_from_slice(&SIGCHLD.to_le_bytes());
            info[8..12].copy_from_slice(&si_code.to_le_bytes());
            info[16..20].copy_from_slice(&cpid.to_le_bytes());
            info[20..24].copy_from_slice(&uid.to_le_bytes());
            info[24..28].copy_from_slice(&status.to_le_bytes());
            if infop != 0 {
                sys.mem().copy_out(infop, &info)?;
            }
            rusage_of(sys, rusage, r.instret())?;
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
    // proc_clear_tty: a new session has no controlling terminal.
    sys.p.ctty = false;
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
