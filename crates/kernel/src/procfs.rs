//! procfs: `/proc`, generated from the kernel's and the memory system's
//! real state (fs/proc/ in Linux).
//!
//! `/proc` is always this file system, whatever the guest root holds there
//! (as a mount hides the directory under it). The path walk
//! ([`Vfs::resolve_with`](crate::vfs::Vfs::resolve_with)) asks [`Tree`]
//! what each name under `/proc` is: a directory, a file, or a symbolic link
//! (`self`, `PID/exe`, `PID/cwd`, `PID/fd/N`...). Links are followed by
//! the walk like any other, so they can only ever name paths inside the
//! root. `PID/fd/N` is a *magic* link, as in Linux: opening it opens the
//! very file the descriptor refers to, even a pipe or a deleted file.
//!
//! A file's contents are made when it is read from offset 0 (then kept
//! for the reads that continue it), as Linux's seq_file does: reading a
//! file again from the start shows the state at that moment.
//!
//! What is shown:
//! * `/proc`: `self`, `thread-self`, one directory per live process,
//!   `meminfo`, `cpuinfo`, `mounts` (→ `self/mounts`), `uptime`,
//!   `loadavg`, `version`, `filesystems`, `stat`, `sys/kernel/{osrelease,
//!   ostype, hostname, pid_max}`, `sys/vm/overcommit_memory`;
//! * `/proc/PID`: `auxv`, `cmdline`, `comm`, `cwd`, `environ`, `exe`,
//!   `fd/`, `fdinfo/`, `limits`, `maps`, `mounts`, `root`, `smaps`,
//!   `smaps_rollup`, `stat`, `statm`, `status`, `task/`.

use std::fmt::Write as _;

use cowix_mm::pagetable;
use cowix_mm::{Backing, PhysMem, Vma, VmaName, PAGE_SIZE, SHARED_ANON_DEV};

use crate::errno::Errno;
use crate::fd::Object;
use crate::process::{rlimit, Process, Thread};
use crate::syscall::Sys;
use crate::vfs::ProcNode;

/// st_dev of every procfs inode (Linux gives procfs an anonymous device;
/// 0:22 is a common value).
pub const PROC_DEV: u64 = 22;
/// Kernel clock ticks per second (`USER_HZ`).
const USER_HZ: u64 = 100;

/// What is open on a procfs file descriptor: the path it was opened by and
/// the contents as last generated.
#[derive(Debug)]
pub struct ProcFile {
    /// The guest path, e.g. `/proc/12/maps` (never via `self`).
    pub path: String,
    /// The contents made at the last read from offset 0.
    pub data: Vec<u8>,
    /// `Some` for a directory: its entries (name, d_type).
    pub dir: Option<Vec<(String, u8)>>,
    /// Made by open and not read yet: the first read from offset 0 uses it.
    pub fresh: bool,
}

impl ProcFile {
    /// The empty file a read shows once its process has gone.
    pub fn empty(path: &str) -> Self {
        ProcFile {
            path: path.to_string(),
            data: Vec::new(),
            dir: None,
            fresh: false,
        }
    }
}

/// d_type values (include/linux/fs_types.h).
pub const DT_DIR: u8 = 4;
pub const DT_REG: u8 = 8;
pub const DT_LNK: u8 = 10;

/// Per-process directory entries: name and kind.
const PID_ENTRIES: &[(&str, u8)] = &[
    ("auxv", DT_REG),
    ("cmdline", DT_REG),
    ("comm", DT_REG),
    ("cwd", DT_LNK),
    ("environ", DT_REG),
    ("exe", DT_LNK),
    ("fd", DT_DIR),
    ("fdinfo", DT_DIR),
    ("limits", DT_REG),
    ("maps", DT_REG),
    ("mounts", DT_REG),
    ("root", DT_LNK),
    ("smaps", DT_REG),
    ("smaps_rollup", DT_REG),
    ("stat", DT_REG),
    ("statm", DT_REG),
    ("status", DT_REG),
    ("task", DT_DIR),
];

/// Top-level files of `/proc` (besides the pid directories).
const ROOT_ENTRIES: &[(&str, u8)] = &[
    ("self", DT_LNK),
    ("thread-self", DT_LNK),
    ("cpuinfo", DT_REG),
    ("filesystems", DT_REG),
    ("loadavg", DT_REG),
    ("meminfo", DT_REG),
    ("mounts", DT_LNK),
    ("stat", DT_REG),
    ("sys", DT_DIR),
    ("uptime", DT_REG),
    ("version", DT_REG),
];

/// `/proc/sys` and its files: (path below /proc/sys, contents or None for a directory).
const SYS_ENTRIES: &[(&str, Option<&str>)] = &[
    ("kernel", None),
    ("kernel/hostname", Some("cowix\n")),
    ("kernel/osrelease", Some("6.12.0-cowix\n")),
    ("kernel/ostype", Some("Linux\n")),
    ("kernel/pid_max", Some("4194304\n")),
    ("vm", None),
    ("vm/overcommit_memory", Some("0\n")),
];

/// The processes as the path walk sees them.
#[derive(Debug)]
pub(crate) struct Tree<'a> {
    pub cur: &'a Process,
    /// The calling thread (taken out of `cur.threads` while it runs).
    pub cur_tid: i32,
    pub others: &'a std::collections::BTreeMap<i32, Process>,
}

impl<'a> Tree<'a> {
    pub(crate) fn new(sys: &'a Sys<'_>) -> Self {
        Tree {
            cur: sys.p,
            cur_tid: sys.t.tid,
            others: sys.procs,
        }
    }

    /// What the resolved procfs path `guest` (`/proc/...`) names.
    pub(crate) fn node(&self, guest: &str) -> Option<ProcNode> {
        let rest: Vec<Vec<u8>> = below_proc(guest)
            .into_iter()
            .map(String::into_bytes)
            .collect();
        crate::vfs::ProcLookup::lookup(self, &rest)
    }

    fn process(&self, pid: i32) -> Option<&'a Process> {
        if pid == self.cur.pid {
            Some(self.cur)
        } else {
            self.others.get(&pid)
        }
    }

    /// The tids of group `p`, in order.
    fn tids(&self, p: &Process) -> Vec<i32> {
        let mut v: Vec<i32> = p.threads.keys().copied().collect();
        if p.pid == self.cur.pid {
            v.push(self.cur_tid);
            v.sort_unstable();
        }
        v
    }

    fn pids(&self) -> Vec<i32> {
        let mut v: Vec<i32> = self.others.keys().copied().collect();
        v.push(self.cur.pid);
        v.sort_unstable();
        v
    }
}

/// Parses a decimal pid or fd the way procfs does (no sign, no leading zero).
fn number(name: &[u8]) -> Option<i32> {
    if name.is_empty() || (name[0] == b'0' && name.len() > 1) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

impl crate::vfs::ProcLookup for Tree<'_> {
    fn lookup(&self, rest: &[Vec<u8>]) -> Option<ProcNode> {
        let name = |i: usize| rest.get(i).map(Vec::as_slice);
        match rest.len() {
            0 => return Some(ProcNode::Dir),
            1 => match name(0)? {
                b"self" => return Some(ProcNode::Link(self.cur.pid.to_string().into_bytes())),
                b"thread-self" => {
                    let (pid, tid) = (self.cur.pid, self.cur_tid);
                    return Some(ProcNode::Link(format!("{pid}/task/{tid}").into_bytes()));
                }
                b"mounts" => return Some(ProcNode::Link(b"self/mounts".to_vec())),
                b"sys" => return Some(ProcNode::Dir),
                n => {
                    if ROOT_ENTRIES.iter().any(|(e, _)| e.as_bytes() == n) {
                        return Some(ProcNode::File);
                    }
                }
            },
            _ => {}
        }
        if name(0)? == b"sys" {
            let sub = rest[1..]
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("/");
            return SYS_ENTRIES.iter().find(|(p, _)| *p == sub).map(|(_, c)| {
                if c.is_some() {
                    ProcNode::File
                } else {
                    ProcNode::Dir
                }
            });
        }
        let p = self.process(number(name(0)?)?)?;
        pid_lookup(p, &rest[1..], Some(&self.tids(p)))
    }
}

/// What `rest` names inside `/proc/PID` (its threads' `tids` given), or
/// inside `/proc/PID/task/TID` (`tids` None).
fn pid_lookup(p: &Process, rest: &[Vec<u8>], tids: Option<&[i32]>) -> Option<ProcNode> {
    let Some(first) = rest.first() else {
        return Some(ProcNode::Dir);
    };
    let (_, kind) = PID_ENTRIES
        .iter()
        .find(|(n, _)| n.as_bytes() == first.as_slice())?;
    match (first.as_slice(), rest.len()) {
        (b"task", _) if tids.is_none() => None,
        (b"task", 1) => Some(ProcNode::Dir),
        (b"task", _) => {
            if !tids?.contains(&number(&rest[1])?) {
                return None;
            }
            pid_lookup(p, &rest[2..], None)
        }
        (b"fd" | b"fdinfo", 1) => Some(ProcNode::Dir),
        (b"fd", 2) => {
            let fd = number(&rest[1])?;
            let file = p.fds.file(fd).ok()?;
            let target = fd_link_target(&file.borrow().object, &file.borrow().path);
            Some(ProcNode::FdLink(target.into_bytes()))
        }
        (b"fdinfo", 2) => {
            p.fds.file(number(&rest[1])?).ok()?;
            Some(ProcNode::File)
        }
        (b"exe", 1) => Some(ProcNode::Link(p.exe.clone().into_bytes())),
        (b"cwd", 1) => Some(ProcNode::Link(p.fs.cwd().into_bytes())),
        (b"root", 1) => Some(ProcNode::Link(b"/".to_vec())),
        (_, 1) if *kind == DT_REG => Some(ProcNode::File),
        _ => None,
    }
}

/// The object's own lines of `/proc/PID/fdinfo/N` (each kind's
/// show_fdinfo: eventfd_show_fdinfo(), timerfd_show(), signalfd_show_fdinfo(),
/// ep_show_fdinfo()).
fn object_fdinfo(object: &Object) -> String {
    match object {
        Object::EventFd(e) => {
            let e = e.borrow();
            format!(
                "eventfd-count: {:16x}\neventfd-semaphore: {}\n",
                e.count(),
                u8::from(e.semaphore())
            )
        }
        Object::TimerFd(t) => {
            let t = t.borrow();
            let now = t.now();
            let (v, i) = (t.expiry.remaining(now), t.expiry.interval);
            let clockid = match t.clock {
                crate::timerfd::TimerFdClock::Realtime => 0,
                crate::timerfd::TimerFdClock::Monotonic => 1,
            };
            format!(
                "clockid: {clockid}\nticks: {}\nsettime flags: 00\nit_value: ({}, {})\nit_interval: ({}, {})\n",
                t.ticks(),
                v / 1_000_000_000,
                v % 1_000_000_000,
                i / 1_000_000_000,
                i % 1_000_000_000
            )
        }
        Object::SignalFd(s) => format!("sigmask:\t{:016x}\n", s.mask),
        Object::Epoll(ep) => ep
            .borrow()
            .entries
            .iter()
            .filter(|e| e.file.strong_count() > 0)
            .map(|e| {
                format!(
                    "tfd: {:>8} events: {:>8x} data: {:>16x}  pos:0 ino:0 sdev:0\n",
                    e.fd, e.events, e.data
                )
            })
            .collect(),
        _ => String::new(),
    }
}

/// What readlink of `/proc/PID/fd/N` shows.
fn fd_link_target(object: &Object, path: &str) -> String {
    match object {
        Object::PipeRead(end) | Object::PipeWrite(end) => {
            format!("pipe:[{}]", end.pipe.borrow().id())
        }
        Object::Stdin => "/dev/stdin".into(),
        Object::Tty => "/dev/tty".into(),
        Object::Stdout => "/dev/stdout".into(),
        Object::Stderr => "/dev/stderr".into(),
        Object::Null => "/dev/null".into(),
        Object::Zero => "/dev/zero".into(),
        Object::Random => "/dev/urandom".into(),
        Object::Host(_)
        | Object::Proc(_)
        | Object::EventFd(_)
        | Object::TimerFd(_)
        | Object::SignalFd(_)
        | Object::Epoll(_) => path.into(),
    }
}

/// The components of a guest path below `/proc` (`guest` starts with `/proc`).
fn below_proc(guest: &str) -> Vec<String> {
    guest
        .split('/')
        .filter(|c| !c.is_empty())
        .skip(1)
        .map(str::to_string)
        .collect()
}

/// If `guest` is `/proc/PID/fd/N` (or the same under `task/TID`), the pid and fd.
pub fn fd_link(guest: &str) -> Option<(i32, i32)> {
    let parts = below_proc(guest);
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    match parts.as_slice() {
        [pid, "fd", fd] | [pid, "task", _, "fd", fd] => {
            Some((number(pid.as_bytes())?, number(fd.as_bytes())?))
        }
        _ => None,
    }
}

/// The mode bits of a procfs node (for stat).
pub fn mode_of(guest: &str, node: &ProcNode) -> u32 {
    match node {
        ProcNode::Dir => 0o040555,
        ProcNode::Link(_) => 0o120777,
        ProcNode::FdLink(_) => 0o120700,
        ProcNode::File => {
            let parts = below_proc(guest);
            match parts.last().map(String::as_str) {
                Some("environ" | "auxv") if parts.len() >= 2 => 0o100400,
                Some("comm") if parts.len() >= 2 => 0o100644,
                _ => 0o100444,
            }
        }
    }
}

/// If `guest` is `/proc/PID/comm` or `/proc/PID/task/TID/comm` (the one
/// writable kind of procfs file), the pid and the tid (the pid for the
/// first form, which names the leader).
pub fn comm_file(guest: &str) -> Option<(i32, i32)> {
    let parts = below_proc(guest);
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    match parts.as_slice() {
        [pid, "comm"] => {
            let pid = number(pid.as_bytes())?;
            Some((pid, pid))
        }
        [pid, "task", tid, "comm"] => Some((number(pid.as_bytes())?, number(tid.as_bytes())?)),
        _ => None,
    }
}

/// A write of `data` to `/proc/PID[/task/TID]/comm` (fs/proc/base.c:
/// comm_write()): the thread's name becomes the first 15 bytes, up to a
/// NUL (a trailing newline is kept, as Linux keeps it); only a thread of
/// the caller's own group may be renamed (EINVAL otherwise, also for a
/// thread that has gone). Returns the whole count.
pub(crate) fn write_comm(sys: &mut Sys<'_>, guest: &str, data: &[u8]) -> Result<usize, Errno> {
    let (pid, tid) = comm_file(guest).ok_or(Errno::EINVAL)?;
    if pid != sys.p.pid {
        return Err(Errno::EINVAL);
    }
    let bytes = &data[..data.len().min(15)];
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let name = crate::process::truncate_comm(&String::from_utf8_lossy(&bytes[..end]));
    if tid == sys.t.tid {
        sys.p.set_comm(sys.t, name);
    } else {
        let mut t = sys.p.threads.remove(&tid).ok_or(Errno::EINVAL)?;
        sys.p.set_comm(&mut t, name);
        sys.p.threads.insert(tid, t);
    }
    Ok(data.len())
}

/// A stable inode number for a procfs path.
pub fn ino_of(guest: &str) -> u64 {
    // FNV-1a: the same path always has the same inode within a run.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in guest.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h >> 8 | 1
}

/// Makes the contents of the procfs file or directory `guest` (a path the
/// walk resolved, so it exists unless a process ended since).
pub(crate) fn generate(sys: &mut Sys<'_>, guest: &str) -> Result<ProcFile, Errno> {
    let parts = below_proc(guest);
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let file = |data: String| ProcFile {
        path: guest.to_string(),
        data: data.into_bytes(),
        dir: None,
        fresh: true,
    };
    let dir = |entries: Vec<(String, u8)>| ProcFile {
        path: guest.to_string(),
        data: Vec::new(),
        dir: Some(entries),
        fresh: true,
    };
    match parts.as_slice() {
        [] => {
            let mut e: Vec<(String, u8)> = ROOT_ENTRIES
                .iter()
                .map(|(n, k)| (n.to_string(), *k))
                .collect();
            for pid in Tree::new(sys).pids() {
                e.push((pid.to_string(), DT_DIR));
            }
            Ok(dir(e))
        }
        ["sys", rest @ ..] => {
            let sub = rest.join("/");
            if rest.is_empty() {
                return Ok(dir(vec![("kernel".into(), DT_DIR), ("vm".into(), DT_DIR)]));
            }
            match SYS_ENTRIES.iter().find(|(p, _)| *p == sub) {
                Some((_, Some(c))) => Ok(file(c.to_string())),
                Some((_, None)) => Ok(dir(SYS_ENTRIES
                    .iter()
                    .filter_map(|(p, c)| {
                        let name = p.strip_prefix(&format!("{sub}/"))?;
                        Some((name.to_string(), if c.is_some() { DT_REG } else { DT_DIR }))
                    })
                    .collect())),
                None => Err(Errno::ENOENT),
            }
        }
        ["meminfo"] => Ok(file(meminfo(sys.pm))),
        ["cpuinfo"] => Ok(file(CPUINFO.to_string())),
        ["filesystems"] => Ok(file("nodev\tproc\nnodev\tpipefs\n\text4\n".into())),
        ["loadavg"] => {
            let n = sys.procs.len() + 1;
            Ok(file(format!(
                "0.00 0.00 0.00 1/{n} {}\n",
                *sys.next_pid - 1
            )))
        }
        ["uptime"] => {
            let ns = sys.clock.monotonic_ns();
            let cs = ns / 10_000_000;
            Ok(file(format!(
                "{}.{:02} {}.{:02}\n",
                cs / 100,
                cs % 100,
                cs / 100,
                cs % 100
            )))
        }
        ["version"] => Ok(file(format!(
            "Linux version {} (cowix) {}\n",
            crate::syscall::UTS_RELEASE,
            crate::syscall::UTS_VERSION
        ))),
        ["stat"] => Ok(file(system_stat(sys))),
        [pid, rest @ ..] => {
            let pid = number(pid.as_bytes()).ok_or(Errno::ENOENT)?;
            let tids = {
                let tree = Tree::new(sys);
                tree.process(pid).map(|p| tree.tids(p)).unwrap_or_default()
            };
            let rest: Vec<&str> = match rest {
                ["task"] => {
                    return Ok(dir(tids.iter().map(|t| (t.to_string(), DT_DIR)).collect()));
                }
                ["task", tid, more @ ..]
                    if number(tid.as_bytes()).is_some_and(|t| tids.contains(&t)) =>
                {
                    let tid = number(tid.as_bytes());
                    if more.is_empty() {
                        return Ok(dir(PID_ENTRIES
                            .iter()
                            .filter(|(n, _)| *n != "task")
                            .map(|(n, k)| (n.to_string(), *k))
                            .collect()));
                    }
                    return pid_file(sys, pid, tid, more, guest);
                }
                ["task", ..] => return Err(Errno::ENOENT),
                other => other.to_vec(),
            };
            pid_file(sys, pid, None, &rest, guest)
        }
    }
}

/// The contents of `/proc/PID/<rest>`, or of `/proc/PID/task/TID/<rest>`
/// when `tid` is given (comm, stat and status then show that thread).
fn pid_file(
    sys: &mut Sys<'_>,
    pid: i32,
    tid: Option<i32>,
    rest: &[&str],
    guest: &str,
) -> Result<ProcFile, Errno> {
    let file = |data: Vec<u8>| ProcFile {
        path: guest.to_string(),
        data,
        dir: None,
        fresh: true,
    };
    let dir = |entries: Vec<(String, u8)>| ProcFile {
        path: guest.to_string(),
        data: Vec::new(),
        dir: Some(entries),
        fresh: true,
    };
    // Memory the generators read: the caller's through its own mm, another
    // process's through its address space directly.
    let now = sys.clock.monotonic_ns();
    let pm: &mut PhysMem = sys.pm;
    let console: &crate::tty::Console = sys.console;
    let (p, running): (&mut Process, Option<&Thread>) = if pid == sys.p.pid {
        (sys.p, Some(&*sys.t))
    } else {
        (sys.procs.get_mut(&pid).ok_or(Errno::ENOENT)?, None)
    };
    let task: Option<&Thread> = match tid {
        None => None,
        Some(tid) => Some(
            running
                .filter(|t| t.tid == tid)
                .or_else(|| p.threads.get(&tid).map(|t| &**t))
                .ok_or(Errno::ENOENT)?,
        ),
    };
    Ok(match rest {
        [] => dir(PID_ENTRIES
            .iter()
            .map(|(n, k)| (n.to_string(), *k))
            .collect()),
        ["fd"] => dir(p
            .fds
            .open_fds()
            .into_iter()
            .map(|fd| (fd.to_string(), DT_LNK))
            .collect()),
        ["fdinfo"] => dir(p
            .fds
            .open_fds()
            .into_iter()
            .map(|fd| (fd.to_string(), DT_REG))
            .collect()),
        ["fdinfo", fd] => {
            let fd = number(fd.as_bytes()).ok_or(Errno::ENOENT)?;
            let entry = p.fds.get(fd).map_err(|_| Errno::ENOENT)?;
            let f = entry.file.borrow();
            let mut flags = f.flags;
            if entry.cloexec {
                flags |= crate::fd::oflag::O_CLOEXEC;
            }
            let mut text = format!(
                "pos:\t{}\nflags:\t0{:o}\nmnt_id:\t1\nino:\t{}\n",
                f.offset,
                flags,
                ino_of(&f.path)
            );
            text.push_str(&object_fdinfo(&f.object));
            file(text.into_bytes())
        }
        ["auxv"] => {
            let mut b = Vec::with_capacity(p.auxv.len() * 16);
            for (k, v) in &p.auxv {
                b.extend_from_slice(&k.to_le_bytes());
                b.extend_from_slice(&v.to_le_bytes());
            }
            file(b)
        }
        ["cmdline"] => file(read_area(pm, p, p.args.arg_start, p.args.env_start)),
        ["environ"] => file(read_area(pm, p, p.args.env_start, p.args.env_end)),
        ["comm"] => file(format!("{}\n", task.map_or(&p.comm, |t| &t.comm)).into_bytes()),
        ["limits"] => file(limits(p).into_bytes()),
        ["maps"] => file(maps(p).into_bytes()),
        ["mounts"] => file(MOUNTS.as_bytes().to_vec()),
        ["smaps"] => file(smaps(pm, p).into_bytes()),
        ["smaps_rollup"] => file(smaps_rollup(pm, p).into_bytes()),
        ["stat"] => {
            let tty = console.stat_fields(p);
            file(stat(pm, p, running, task, tty, now).into_bytes())
        }
        ["statm"] => file(statm(pm, p).into_bytes()),
        ["status"] => file(status(pm, p, running, task).into_bytes()),
        _ => return Err(Errno::ENOENT),
    })
}

/// The command line of `p` as ps shows it: its arguments (from its own
/// memory, as /proc/PID/cmdline) separated by spaces; its name in brackets
/// if they cannot be read.
pub(crate) fn command_line(pm: &mut PhysMem, p: &mut Process) -> String {
    let raw = read_area(pm, p, p.args.arg_start, p.args.env_start);
    let words: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    if words.is_empty() {
        format!("[{}]", p.comm)
    } else {
        words.join(" ")
    }
}

/// Bytes `[start, end)` of a process's memory (its argument or environment
/// strings), as much as can be read (proc_pid_cmdline_read()).
fn read_area(pm: &mut PhysMem, p: &mut Process, start: u64, end: u64) -> Vec<u8> {
    if end <= start {
        return Vec::new();
    }
    let mut buf = vec![0u8; (end - start).min(1 << 20) as usize];
    let mut got = 0;
    // Page by page, so an unmapped page ends the area instead of emptying it.
    while got < buf.len() {
        let at = start + got as u64;
        let n = ((PAGE_SIZE - at % PAGE_SIZE) as usize).min(buf.len() - got);
        if p.mm
            .get_mut()
            .read_bytes(pm, at, &mut buf[got..got + n])
            .is_err()
        {
            break;
        }
        got += n;
    }
    buf.truncate(got);
    buf
}

/// The `dev` and `inode` columns of maps: the backing file's identity.
fn vma_file_id(v: &Vma) -> (u64, u64, u64) {
    match &v.backing {
        Backing::Anonymous => (0, 0, 0),
        Backing::File { file, offset } => {
            let (dev, ino) = file.id();
            if dev == SHARED_ANON_DEV {
                // shmem: Linux shows its own device and the object's inode.
                (0, ino, 0)
            } else {
                (dev, ino, *offset)
            }
        }
    }
}

/// The name column of maps.
fn vma_name(v: &Vma) -> Option<String> {
    if let Backing::File { file, .. } = &v.backing {
        if file.id().0 == SHARED_ANON_DEV {
            return Some("/dev/zero (deleted)".into());
        }
    }
    match &v.name {
        VmaName::Anonymous => None,
        VmaName::Heap => Some("[heap]".into()),
        VmaName::Stack => Some("[stack]".into()),
        VmaName::Path(p) => Some(p.clone()),
    }
}

/// One maps line (fs/proc/task_mmu.c: show_map_vma()), with its newline.
fn maps_line(out: &mut String, v: &Vma) {
    let (dev, ino, offset) = vma_file_id(v);
    let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
    let start_len = out.len();
    let _ = write!(
        out,
        "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
        v.start,
        v.end,
        if v.prot.read { 'r' } else { '-' },
        if v.prot.write { 'w' } else { '-' },
        if v.prot.exec { 'x' } else { '-' },
        if v.shared { 's' } else { 'p' },
        offset,
        major,
        minor,
        ino
    );
    if let Some(name) = vma_name(v) {
        // seq_pad(): the name starts at column 73.
        let width = out.len() - start_len;
        for _ in width..72 {
            out.push(' ');
        }
        out.push_str(&name);
    }
    out.push('\n');
}

fn maps(p: &Process) -> String {
    let mut out = String::new();
    for v in p.mm.get().vmas() {
        maps_line(&mut out, v);
    }
    out
}

/// One smaps quantity line: the name padded to 16 columns, kB right-aligned in 8.
fn kb_line(out: &mut String, name: &str, kb: u64) {
    let _ = writeln!(out, "{:<16}{:>8} kB", format!("{name}:"), kb);
}

fn smaps_body(out: &mut String, s: &cowix_mm::SmapsCounts) {
    let kb = |b: u64| b >> 10;
    kb_line(out, "Rss", kb(s.rss));
    kb_line(out, "Pss", kb(s.pss));
    kb_line(out, "Pss_Dirty", kb(s.pss_dirty));
    kb_line(out, "Pss_Anon", kb(s.pss_anon));
    kb_line(out, "Pss_File", kb(s.pss_file));
    kb_line(out, "Pss_Shmem", kb(s.pss_shmem));
    kb_line(out, "Shared_Clean", kb(s.shared_clean));
    kb_line(out, "Shared_Dirty", kb(s.shared_dirty));
    kb_line(out, "Private_Clean", kb(s.private_clean));
    kb_line(out, "Private_Dirty", kb(s.private_dirty));
    kb_line(out, "Referenced", kb(s.referenced));
    kb_line(out, "Anonymous", kb(s.anonymous));
    kb_line(out, "KSM", 0);
    kb_line(out, "LazyFree", 0);
    kb_line(out, "AnonHugePages", 0);
    kb_line(out, "ShmemPmdMapped", 0);
    kb_line(out, "FilePmdMapped", 0);
    kb_line(out, "Shared_Hugetlb", 0);
    kb_line(out, "Private_Hugetlb", 0);
    kb_line(out, "Swap", kb(s.swap));
    kb_line(out, "SwapPss", kb(s.swap_pss));
    kb_line(out, "Locked", 0);
}

/// The VmFlags line of smaps (fs/proc/task_mmu.c: show_smap_vma_flags()).
fn vm_flags(v: &Vma) -> String {
    let mut f = Vec::new();
    if v.prot.read {
        f.push("rd");
    }
    if v.prot.write {
        f.push("wr");
    }
    if v.prot.exec {
        f.push("ex");
    }
    if v.shared {
        f.push("sh");
    }
    // VM_MAYREAD/MAYWRITE/MAYEXEC (a private mapping may always gain them).
    f.extend(["mr", "mw", "me"]);
    if v.shared {
        f.push("ms");
    }
    if v.grows_down {
        f.push("gd");
    }
    if v.backing.is_anonymous() && !v.shared {
        f.push("ac");
    }
    f.join(" ")
}

fn smaps(pm: &PhysMem, p: &Process) -> String {
    let mut out = String::new();
    for (v, s) in p.mm.get().smaps(pm) {
        maps_line(&mut out, &v);
        kb_line(&mut out, "Size", v.len() >> 10);
        kb_line(&mut out, "KernelPageSize", PAGE_SIZE >> 10);
        kb_line(&mut out, "MMUPageSize", PAGE_SIZE >> 10);
        smaps_body(&mut out, &s);
        let _ = writeln!(out, "THPeligible:    0");
        let _ = writeln!(out, "VmFlags: {} ", vm_flags(&v));
    }
    out
}

fn smaps_rollup(pm: &PhysMem, p: &Process) -> String {
    let mm = p.mm.get();
    let vmas: Vec<&Vma> = mm.vmas().collect();
    let (start, end) = match (vmas.first(), vmas.last()) {
        (Some(a), Some(b)) => (a.start, b.end),
        _ => (0, 0),
    };
    let mut out = format!(
        "{start:08x}-{end:08x} ---p 00000000 00:00 0{:>w$}[rollup]\n",
        "",
        w = 72 - format!("{start:08x}-{end:08x} ---p 00000000 00:00 0").len()
    );
    let total = p.mm.get().smaps_rollup(pm);
    smaps_body(&mut out, &total);
    out
}

/// Sizes in pages that statm and status share.
struct MemSizes {
    size: u64,
    rss_anon: u64,
    rss_file: u64,
    rss_shmem: u64,
    text: u64,
    data: u64,
    stack: u64,
    swap: u64,
    page_tables: u64,
}

fn mem_sizes(pm: &PhysMem, p: &Process) -> MemSizes {
    let mut m = MemSizes {
        size: 0,
        rss_anon: 0,
        rss_file: 0,
        rss_shmem: 0,
        text: 0,
        data: 0,
        stack: 0,
        swap: 0,
        page_tables: pagetable::collect(pm, p.mm.get().root()).0.len() as u64,
    };
    for (v, s) in p.mm.get().smaps(pm) {
        let pages = v.len() / PAGE_SIZE;
        m.size += pages;
        let shmem =
            matches!(&v.backing, Backing::File { file, .. } if file.id().0 == SHARED_ANON_DEV);
        let anon = s.anonymous / PAGE_SIZE;
        m.rss_anon += anon;
        if shmem {
            m.rss_shmem += s.rss / PAGE_SIZE;
        } else {
            m.rss_file += s.rss / PAGE_SIZE - anon;
        }
        m.swap += s.swap / PAGE_SIZE;
        // mm->exec_vm, data_vm, stack_vm (mm/mmap.c: vm_stat_account()).
        if v.prot.exec && !v.prot.write {
            m.text += pages;
        } else if v.grows_down || v.name == VmaName::Stack {
            m.stack += pages;
        } else if v.prot.write && !v.shared {
            m.data += pages;
        }
    }
    m
}

fn statm(pm: &PhysMem, p: &Process) -> String {
    let m = mem_sizes(pm, p);
    // size resident shared text lib data dt (fs/proc/task_mmu.c: task_statm()).
    format!(
        "{} {} {} {} 0 {} 0\n",
        m.size,
        m.rss_anon + m.rss_file + m.rss_shmem,
        m.rss_file + m.rss_shmem,
        m.text,
        m.data + m.stack
    )
}

/// The thread whose per-thread state a file shows: under
/// /proc/PID/task/TID that thread (`task`); under /proc/PID the caller's
/// own (`running`) for its group, else the leader, or the first thread left.
fn shown_thread<'a>(
    p: &'a Process,
    running: Option<&'a Thread>,
    task: Option<&'a Thread>,
) -> Option<&'a Thread> {
    task.or(running)
        .or_else(|| p.threads.get(&p.pid).map(|t| &**t))
        .or_else(|| p.threads.values().next().map(|t| &**t))
}

fn thread_count(p: &Process, running: Option<&Thread>) -> usize {
    p.threads.len() + running.is_some() as usize
}

/// The state letter and word of a process (of its shown thread).
fn state(p: &Process, running: Option<&Thread>, task: Option<&Thread>) -> (char, &'static str) {
    let waits = |t: &Thread| t.blocked.is_some() || t.sleep_until.is_some() || t.futex.is_some();
    if p.exit.is_some() {
        ('Z', "zombie")
    } else if p.job.stopped.is_some() {
        ('T', "stopped")
    } else if shown_thread(p, running, task).is_some_and(|t| waits(t) || t.vfork_child.is_some()) {
        ('S', "sleeping")
    } else {
        ('R', "running")
    }
}

/// The thread's pending set, the ignored and the caught signals.
fn sig_sets(p: &Process, running: Option<&Thread>, task: Option<&Thread>) -> (u64, u64, u64) {
    const SIG_DFL: u64 = 0;
    const SIG_IGN: u64 = 1;
    let mut ign = 0u64;
    let mut cgt = 0u64;
    for (i, a) in p.signals.actions.all().iter().enumerate().skip(1) {
        let bit = 1u64 << (i - 1);
        match a.handler {
            SIG_DFL => {}
            SIG_IGN => ign |= bit,
            _ => cgt |= bit,
        }
    }
    let own = shown_thread(p, running, task).map_or(0, |t| t.signals.pending.pending);
    (own, ign, cgt)
}

/// /proc/PID/status (fs/proc/array.c: proc_pid_status()); `task`: the
/// thread of /proc/PID/task/TID/status, whose Name it shows.
fn status(pm: &PhysMem, p: &Process, running: Option<&Thread>, task: Option<&Thread>) -> String {
    let m = mem_sizes(pm, p);
    let kb = |pages: u64| pages * (PAGE_SIZE >> 10);
    let (st, word) = state(p, running, task);
    let (pending, ign, cgt) = sig_sets(p, running, task);
    let shown = shown_thread(p, running, task);
    let c = p.creds;
    let rss = m.rss_anon + m.rss_file + m.rss_shmem;
    let mut o = String::new();
    let _ = writeln!(o, "Name:\t{}", task.map_or(&p.comm, |t| &t.comm));
    let _ = writeln!(o, "Umask:\t{:04o}", p.fs.umask());
    let _ = writeln!(o, "State:\t{st} ({word})");
    let _ = writeln!(o, "Tgid:\t{}", p.pid);
    let _ = writeln!(o, "Ngid:\t0");
    let _ = writeln!(o, "Pid:\t{}", shown.map_or(p.pid, |t| t.tid));
    let _ = writeln!(o, "PPid:\t{}", p.ppid);
    let _ = writeln!(o, "TracerPid:\t0");
    let _ = writeln!(o, "Uid:\t{}\t{}\t{}\t{}", c.uid, c.euid, c.euid, c.euid);
    let _ = writeln!(o, "Gid:\t{}\t{}\t{}\t{}", c.gid, c.egid, c.egid, c.egid);
    let _ = writeln!(o, "FDSize:\t{}", p.fds.size().next_power_of_two().max(64));
    let _ = writeln!(o, "Groups:\t");
    let _ = writeln!(o, "NStgid:\t{}", p.pid);
    let _ = writeln!(o, "NSpid:\t{}", shown.map_or(p.pid, |t| t.tid));
    let _ = writeln!(o, "NSpgid:\t{}", p.pgid);
    let _ = writeln!(o, "NSsid:\t{}", p.sid);
    let _ = writeln!(o, "Kthread:\t0");
    // Peaks are not tracked per address space yet: shown as the current sizes.
    for (name, v) in [
        ("VmPeak", kb(m.size)),
        ("VmSize", kb(m.size)),
        ("VmLck", 0),
        ("VmPin", 0),
        ("VmHWM", kb(rss)),
        ("VmRSS", kb(rss)),
        ("RssAnon", kb(m.rss_anon)),
        ("RssFile", kb(m.rss_file)),
        ("RssShmem", kb(m.rss_shmem)),
        ("VmData", kb(m.data)),
        ("VmStk", kb(m.stack)),
        ("VmExe", kb(m.text)),
        ("VmLib", 0),
        ("VmPTE", kb(m.page_tables)),
        ("VmSwap", kb(m.swap)),
    ] {
        let _ = writeln!(o, "{:<8}{:>8} kB", format!("{name}:"), v);
    }
    let _ = writeln!(o, "HugetlbPages:\t       0 kB");
    let _ = writeln!(o, "CoreDumping:\t0");
    let _ = writeln!(o, "THP_enabled:\t0");
    let _ = writeln!(o, "untag_mask:\t0xffffffffffffffff");
    let _ = writeln!(o, "Threads:\t{}", thread_count(p, running));
    let _ = writeln!(
        o,
        "SigQ:\t{}/{}",
        crate::deliver::group_queued(p, running),
        p.rlimits[11].cur.min(u32::MAX as u64)
    );
    let _ = writeln!(o, "SigPnd:\t{pending:016x}");
    let _ = writeln!(o, "ShdPnd:\t{:016x}", p.signals.shared.pending);
    let blocked = shown.map_or(0, |t| t.signals.blocked);
    let _ = writeln!(o, "SigBlk:\t{blocked:016x}");
    let _ = writeln!(o, "SigIgn:\t{ign:016x}");
    let _ = writeln!(o, "SigCgt:\t{cgt:016x}");
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        let v: u64 = if c.euid == 0 && cap != "CapInh" && cap != "CapAmb" {
            0x1ff_ffff_ffff
        } else {
            0
        };
        let _ = writeln!(o, "{cap}:\t{v:016x}");
    }
    let _ = writeln!(o, "NoNewPrivs:\t0");
    let _ = writeln!(o, "Seccomp:\t0");
    let _ = writeln!(o, "Seccomp_filters:\t0");
    let _ = writeln!(o, "Speculation_Store_Bypass:\tunknown");
    let _ = writeln!(o, "SpeculationIndirectBranch:\tunknown");
    let _ = writeln!(o, "Cpus_allowed:\t1");
    let _ = writeln!(o, "Cpus_allowed_list:\t0");
    let _ = writeln!(o, "Mems_allowed:\t1");
    let _ = writeln!(o, "Mems_allowed_list:\t0");
    let _ = writeln!(o, "voluntary_ctxt_switches:\t0");
    let _ = writeln!(o, "nonvoluntary_ctxt_switches:\t0");
    o
}

/// /proc/PID/stat (fs/proc/array.c: do_task_stat()), 52 fields; `task`:
/// the thread of /proc/PID/task/TID/stat (its tid and comm head the line).
fn stat(
    pm: &PhysMem,
    p: &Process,
    running: Option<&Thread>,
    task: Option<&Thread>,
    (tty_nr, tpgid): (u64, i32),
    now_ns: u64,
) -> String {
    let m = mem_sizes(pm, p);
    let (st, _) = state(p, running, task);
    let (pending, ign, cgt) = sig_sets(p, running, task);
    let pending = pending | p.signals.shared.pending;
    let blocked = shown_thread(p, running, task).map_or(0, |t| t.signals.blocked);
    let mm = p.mm.get();
    let f = mm.fault_counters();
    let ticks = |ns: u64| ns / (1_000_000_000 / USER_HZ);
    let utime = ticks(p.instret(running));
    let (brk_start, _) = p.mm.get().brk_range();
    let a = p.args;
    let rss = m.rss_anon + m.rss_file + m.rss_shmem;
    let fields: [String; 50] = [
        st.to_string(),
        p.ppid.to_string(),
        p.pgid.to_string(),
        p.sid.to_string(),
        tty_nr.to_string(),
        tpgid.to_string(),
        "4194304".into(), // flags: PF_RANDOMIZE off; PF_FORKNOEXEC etc. not tracked
        f.resolved().to_string(), // minflt
        "0".into(),
        "0".into(), // majflt: no fault here waits for a disk
        "0".into(),
        utime.to_string(),
        "0".into(),
        "0".into(),
        "0".into(),
        "20".into(), // priority
        "0".into(),  // nice
        thread_count(p, running).to_string(),
        "0".into(),
        "0".into(), // starttime: every process starts at boot on this clock
        (m.size * PAGE_SIZE).to_string(),
        rss.to_string(),
        p.rlimits[rlimit::RSS].cur.to_string(),
        a.start_code.to_string(),
        a.end_code.to_string(),
        a.start_stack.to_string(),
        "0".into(), // kstkesp
        "0".into(), // kstkeip
        (pending & 0x7fff_ffff).to_string(),
        (blocked & 0x7fff_ffff).to_string(),
        (ign & 0x7fff_ffff).to_string(),
        (cgt & 0x7fff_ffff).to_string(),
        "0".into(), // wchan
        "0".into(),
        "0".into(),
        p.exit_signal.to_string(),
        "0".into(), // processor
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        a.start_data.to_string(),
        a.end_data.to_string(),
        brk_start.to_string(),
        p.args.arg_start.to_string(),
        p.args.env_start.to_string(),
        p.args.env_start.to_string(),
        p.args.env_end.to_string(),
        "0".into(), // exit_code
    ];
    let _ = now_ns;
    let (id, comm) = task.map_or((p.pid, &p.comm), |t| (t.tid, &t.comm));
    format!("{id} ({comm}) {}\n", fields.join(" "))
}

fn limits(p: &Process) -> String {
    const NAMES: [(&str, &str); 16] = [
        ("Max cpu time", "seconds"),
        ("Max file size", "bytes"),
        ("Max data size", "bytes"),
        ("Max stack size", "bytes"),
        ("Max core file size", "bytes"),
        ("Max resident set", "bytes"),
        ("Max processes", "processes"),
        ("Max open files", "files"),
        ("Max locked memory", "bytes"),
        ("Max address space", "bytes"),
        ("Max file locks", "locks"),
        ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"),
        ("Max nice priority", ""),
        ("Max realtime priority", ""),
        ("Max realtime timeout", "us"),
    ];
    let mut o = format!(
        "{:<25} {:<20} {:<20} {:<10}\n",
        "Limit", "Soft Limit", "Hard Limit", "Units"
    );
    let show = |v: u64| {
        if v == rlimit::INFINITY {
            "unlimited".to_string()
        } else {
            v.to_string()
        }
    };
    for (i, (name, unit)) in NAMES.iter().enumerate() {
        let r = p.rlimits[i];
        let _ = writeln!(
            o,
            "{:<25} {:<20} {:<20} {:<10}",
            name,
            show(r.cur),
            show(r.max),
            unit
        );
    }
    o
}

fn meminfo(pm: &PhysMem) -> String {
    let s = pm.stats();
    let kb = |frames: u64| frames * (PAGE_SIZE >> 10);
    let total = s.max_frames;
    let free = total.saturating_sub(s.frames_in_use);
    let cached = s.page_cache_frames;
    let mut o = String::new();
    for (name, v) in [
        ("MemTotal", kb(total)),
        ("MemFree", kb(free)),
        ("MemAvailable", kb(free + cached)),
        ("Buffers", 0),
        ("Cached", kb(cached)),
        ("SwapCached", kb(s.swap_cache_frames)),
        ("Active", kb(s.frames_in_use)),
        ("Inactive", 0),
        ("SwapTotal", kb(s.swap_total)),
        ("SwapFree", kb(s.swap_total - s.swap_used)),
        ("Dirty", 0),
        ("Writeback", 0),
        (
            "AnonPages",
            kb(s.frames_in_use.saturating_sub(cached + s.page_table_frames)),
        ),
        ("Mapped", kb(cached)),
        ("Shmem", 0),
        ("PageTables", kb(s.page_table_frames)),
        ("CommitLimit", kb(total / 2)),
        ("Committed_AS", kb(s.frames_in_use)),
        ("VmallocTotal", 0),
        ("HugePages_Total", 0),
    ] {
        if name.starts_with("HugePages") {
            let _ = writeln!(o, "{name}:{v:>8}");
        } else {
            let _ = writeln!(o, "{:<16}{:>8} kB", format!("{name}:"), v);
        }
    }
    let _ = writeln!(o, "Hugepagesize:       2048 kB");
    o
}

/// /proc/stat: one hart; times from retired instructions.
fn system_stat(sys: &Sys<'_>) -> String {
    let ticks = |instret: u64| instret / (1_000_000_000 / USER_HZ);
    let user: u64 = ticks(
        sys.p.instret(Some(sys.t)) + sys.procs.values().map(|p| p.instret(None)).sum::<u64>(),
    );
    let running = 1 + sys
        .procs
        .values()
        .filter(|p| state(p, None, None).0 == 'R')
        .count();
    format!(
        "cpu  {user} 0 0 0 0 0 0 0 0 0\ncpu0 {user} 0 0 0 0 0 0 0 0 0\nintr 0\nctxt 0\nbtime 0\nprocesses {}\nprocs_running {running}\nprocs_blocked 0\n",
        *sys.next_pid - 1
    )
}

/// /proc/cpuinfo of one rv64gc hart, as riscv Linux prints it
/// (arch/riscv/kernel/cpu.c: c_show()).
const CPUINFO: &str = "processor\t: 0\n\
hart\t\t: 0\n\
isa\t\t: rv64imafdc_zicntr_zicsr_zifencei\n\
mmu\t\t: sv39\n\
uarch\t\t: cowix\n\
mvendorid\t: 0x0\n\
marchid\t\t: 0x0\n\
mimpid\t\t: 0x0\n\
hart isa\t: rv64imafdc_zicntr_zicsr_zifencei\n\
\n";

/// /proc/PID/mounts: the root and /proc.
const MOUNTS: &str =
    "cowix / cowix rw,relatime 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n";
