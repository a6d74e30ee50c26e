//! The system call boundary: numbers, dispatch, and the context every
//! handler gets.
//!
//! One syscall, one function: it checks its arguments first, then hands off
//! to the VFS, the fd table or the memory system. Lower layers' errors
//! become an [`Errno`] here, once. Numbers are riscv64's, which are the
//! generic table (include/uapi/asm-generic/unistd.h); all are listed in
//! [`NAMES`], and an unknown number returns ENOSYS.

mod cpu;
mod events;
mod fs;
mod futex;
#[cfg(test)]
mod garbage_tests;
mod mem;
mod names;
pub(crate) mod poll;
mod proc;
mod sched;
mod task;
mod time;
mod timer;

use std::collections::BTreeMap;

pub(crate) use time::{UTS_RELEASE, UTS_VERSION};

use cowix_mm::PhysMem;

use crate::errno::{Errno, SysResult};
use crate::process::{Process, Thread, Zombie};
use crate::uaccess::GuestMemory;
use crate::vfs::Vfs;
use crate::Clock;

/// Everything a syscall handler may touch.
#[derive(Debug)]
pub(crate) struct Sys<'a> {
    /// The calling thread's group (its other threads are in `p.threads`).
    pub p: &'a mut Process,
    /// The calling thread.
    pub t: &'a mut Thread,
    pub pm: &'a mut PhysMem,
    pub vfs: &'a Vfs,
    pub clock: &'a Clock,
    /// Every other live process (the caller is not among them).
    pub procs: &'a mut BTreeMap<i32, Process>,
    /// fcntl byte-range locks, shared by every process.
    pub locks: &'a mut crate::locks::LockTable,
    /// The console (the controlling terminal of the first session).
    pub console: &'a mut crate::tty::Console,
    /// Per-process memory accounting is on: exec samples the old image.
    pub accounting: bool,
    /// Processes created so far (fork and vfork count one each).
    pub processes: &'a mut u64,
    pub zombies: &'a mut BTreeMap<i32, Zombie>,
    /// The next pid or tid to hand out (they share one number space).
    pub next_pid: &'a mut i32,
    /// Orders futex waiters (see `futex::FutexWait::seq`).
    pub futex_seq: &'a mut u64,
    /// The process that plays init.
    pub init: i32,
    /// Set by a handler that must wait (wait4, pipe I/O): the syscall is
    /// re-executed once something has changed; its return value is unused.
    pub block: bool,
    /// Set by sched_yield: the thread's turn ends after this syscall.
    pub resched: bool,
    /// Every timerfd made so far (dead ones pruned by the scheduler),
    /// whose expiries the scheduler watches.
    pub timerfds: &'a mut Vec<std::rc::Weak<std::cell::RefCell<crate::timerfd::TimerFd>>>,
}

impl Sys<'_> {
    /// Whether `tid` names a live thread, of any group.
    pub fn thread_exists(&self, tid: i32) -> bool {
        tid == self.t.tid
            || self.p.threads.contains_key(&tid)
            || self.procs.values().any(|q| q.threads.contains_key(&tid))
    }

    /// The calling process's memory, for copying syscall arguments in and out.
    pub fn mem(&mut self) -> GuestMemory<'_> {
        self.t.tlb.sync(&self.p.mm.get(), self.pm);
        GuestMemory {
            pm: self.pm,
            mm: self.p.mm.get_mut().into(),
            tlb: &mut self.t.tlb,
        }
    }
}

/// riscv64 syscall numbers and names, for dispatch and traces.
pub const NAMES: &[(u64, &str)] = &[
    (17, "getcwd"),
    (23, "dup"),
    (24, "dup3"),
    (25, "fcntl"),
    (29, "ioctl"),
    (34, "mkdirat"),
    (35, "unlinkat"),
    (46, "ftruncate"),
    (48, "faccessat"),
    (49, "chdir"),
    (56, "openat"),
    (57, "close"),
    (61, "getdents64"),
    (62, "lseek"),
    (63, "read"),
    (64, "write"),
    (65, "readv"),
    (66, "writev"),
    (67, "pread64"),
    (68, "pwrite64"),
    (78, "readlinkat"),
    (79, "newfstatat"),
    (80, "fstat"),
    (82, "fsync"),
    (83, "fdatasync"),
    (59, "pipe2"),
    (93, "exit"),
    (95, "waitid"),
    (94, "exit_group"),
    (96, "set_tid_address"),
    (98, "futex"),
    (99, "set_robust_list"),
    (101, "nanosleep"),
    (113, "clock_gettime"),
    (114, "clock_getres"),
    (115, "clock_nanosleep"),
    (118, "sched_setparam"),
    (119, "sched_setscheduler"),
    (120, "sched_getscheduler"),
    (121, "sched_getparam"),
    (124, "sched_yield"),
    (125, "sched_get_priority_max"),
    (126, "sched_get_priority_min"),
    (129, "kill"),
    (130, "tkill"),
    (131, "tgkill"),
    (132, "sigaltstack"),
    (133, "rt_sigsuspend"),
    (134, "rt_sigaction"),
    (135, "rt_sigprocmask"),
    (136, "rt_sigpending"),
    (137, "rt_sigtimedwait"),
    (138, "rt_sigqueueinfo"),
    (139, "rt_sigreturn"),
    (154, "setpgid"),
    (155, "getpgid"),
    (156, "getsid"),
    (157, "setsid"),
    (160, "uname"),
    (163, "getrlimit"),
    (164, "setrlimit"),
    (165, "getrusage"),
    (166, "umask"),
    (167, "prctl"),
    (169, "gettimeofday"),
    (172, "getpid"),
    (173, "getppid"),
    (174, "getuid"),
    (175, "geteuid"),
    (176, "getgid"),
    (177, "getegid"),
    (178, "gettid"),
    (179, "sysinfo"),
    (214, "brk"),
    (215, "munmap"),
    (216, "mremap"),
    (220, "clone"),
    (221, "execve"),
    (222, "mmap"),
    (226, "mprotect"),
    (227, "msync"),
    (232, "mincore"),
    (233, "madvise"),
    (240, "rt_tgsigqueueinfo"),
    (258, "riscv_hwprobe"),
    (260, "wait4"),
    (261, "prlimit64"),
    (278, "getrandom"),
    (281, "execveat"),
    (291, "statx"),
    (293, "rseq"),
    (435, "clone3"),
    (439, "faccessat2"),
    (32, "flock"),
    (36, "symlinkat"),
    (37, "linkat"),
    (38, "renameat"),
    (276, "renameat2"),
    (43, "statfs"),
    (44, "fstatfs"),
    (45, "truncate"),
    (50, "fchdir"),
    (52, "fchmod"),
    (53, "fchmodat"),
    (452, "fchmodat2"),
    (54, "fchownat"),
    (55, "fchown"),
    (88, "utimensat"),
    (71, "sendfile"),
    (285, "copy_file_range"),
    (279, "memfd_create"),
    (122, "sched_setaffinity"),
    (123, "sched_getaffinity"),
    (168, "getcpu"),
    (436, "close_range"),
    (72, "pselect6"),
    (140, "setpriority"),
    (141, "getpriority"),
    (148, "getresuid"),
    (150, "getresgid"),
    (158, "getgroups"),
    (159, "setgroups"),
    (73, "ppoll"),
    (19, "eventfd2"),
    (20, "epoll_create1"),
    (21, "epoll_ctl"),
    (22, "epoll_pwait"),
    (441, "epoll_pwait2"),
    (74, "signalfd4"),
    (85, "timerfd_create"),
    (86, "timerfd_settime"),
    (87, "timerfd_gettime"),
    (102, "getitimer"),
    (103, "setitimer"),
    (107, "timer_create"),
    (108, "timer_gettime"),
    (109, "timer_getoverrun"),
    (110, "timer_settime"),
    (111, "timer_delete"),
];

/// The name of syscall `nr`, if cowix knows it.
pub fn name(nr: u64) -> Option<&'static str> {
    NAMES.iter().find(|(n, _)| *n == nr).map(|(_, s)| *s)
}

/// Runs syscall `nr` with arguments `a` for the thread in `sys`; returns
/// the value for `a0`. A handler that ends the thread sets `t.exited`, one
/// that ends the group `p.exit`.
pub(crate) fn dispatch(sys: &mut Sys<'_>, nr: u64, a: [u64; 6]) -> u64 {
    let r: SysResult = match nr {
        17 => fs::getcwd(sys, a[0], a[1]),
        23 => fs::dup(sys, a[0] as i32),
        24 => fs::dup3(sys, a[0] as i32, a[1] as i32, a[2] as u32),
        25 => fs::fcntl(sys, a[0] as i32, a[1] as u32, a[2]),
        29 => fs::ioctl(sys, a[0] as i32, a[1] as u32, a[2]),
        34 => fs::mkdirat(sys, a[0] as i32, a[1], a[2] as u32),
        35 => fs::unlinkat(sys, a[0] as i32, a[1], a[2] as u32),
        46 => fs::ftruncate(sys, a[0] as i32, a[1]),
        48 => fs::faccessat(sys, a[0] as i32, a[1], a[2] as u32, 0),
        439 => fs::faccessat(sys, a[0] as i32, a[1], a[2] as u32, a[3] as u32),
        49 => fs::chdir(sys, a[0]),
        56 => fs::openat(sys, a[0] as i32, a[1], a[2] as u32, a[3] as u32),
        57 => fs::close(sys, a[0] as i32),
        62 => fs::lseek(sys, a[0] as i32, a[1] as i64, a[2] as u32),
        63 => fs::read(sys, a[0] as i32, a[1], a[2]),
        64 => fs::write(sys, a[0] as i32, a[1], a[2]),
        65 => fs::readv(sys, a[0] as i32, a[1], a[2]),
        66 => fs::writev(sys, a[0] as i32, a[1], a[2]),
        67 => fs::pread64(sys, a[0] as i32, a[1], a[2], a[3]),
        68 => fs::pwrite64(sys, a[0] as i32, a[1], a[2], a[3]),
        78 => fs::readlinkat(sys, a[0] as i32, a[1], a[2], a[3]),
        79 => fs::newfstatat(sys, a[0] as i32, a[1], a[2], a[3] as u32),
        80 => fs::fstat(sys, a[0] as i32, a[1]),
        82 | 83 => fs::fsync(sys, a[0] as i32),
        291 => fs::statx(sys, a[0] as i32, a[1], a[2] as u32, a[3] as u32, a[4]),
        59 => fs::pipe2(sys, a[0], a[1] as u32),
        61 => fs::getdents64(sys, a[0] as i32, a[1], a[2]),
        93 => proc::exit(sys, a[0]),
        94 => proc::exit_group(sys, a[0]),
        95 => task::waitid(sys, a[0] as u32, a[1] as i32, a[2], a[3] as u32, a[4]),
        154 => task::setpgid(sys, a[0] as i32, a[1] as i32),
        155 => task::getpgid(sys, a[0] as i32),
        156 => task::getsid(sys, a[0] as i32),
        157 => task::setsid(sys),
        220 => task::clone(sys, a[0], a[1], a[2], a[3], a[4]),
        221 => task::execve(sys, a[0], a[1], a[2]),
        281 => task::execveat(sys, a[0] as i32, a[1], a[2], a[3], a[4] as u32),
        260 => task::wait4(sys, a[0] as i32, a[1], a[2] as u32, a[3]),
        435 => task::clone3(sys, a[0], a[1]),
        96 => proc::set_tid_address(sys, a[0]),
        98 => futex::futex(sys, a[0], a[1] as u32, a[2] as u32, a[3], a[4], a[5] as u32),
        99 => proc::set_robust_list(sys, a[0], a[1]),
        118 => sched::sched_setparam(sys, a[0] as i32, a[1]),
        119 => sched::sched_setscheduler(sys, a[0] as i32, a[1] as i32, a[2]),
        120 => sched::sched_getscheduler(sys, a[0] as i32),
        121 => sched::sched_getparam(sys, a[0] as i32, a[1]),
        125 => sched::sched_get_priority_max(a[0] as i32),
        126 => sched::sched_get_priority_min(a[0] as i32),
        124 => {
            sys.resched = true;
            Ok(0)
        }
        129 => proc::kill(sys, a[0] as i32, a[1] as i32),
        130 => proc::tkill(sys, a[0] as i32, a[1] as i32),
        131 => proc::tgkill(sys, a[0] as i32, a[1] as i32, a[2] as i32),
        138 => proc::rt_sigqueueinfo(sys, a[0] as i32, a[1] as i32, a[2]),
        240 => proc::rt_tgsigqueueinfo(sys, a[0] as i32, a[1] as i32, a[2] as i32, a[3]),
        132 => proc::sigaltstack(sys, a[0], a[1]),
        133 => proc::rt_sigsuspend(sys, a[0], a[1]),
        136 => proc::rt_sigpending(sys, a[0], a[1]),
        137 => proc::rt_sigtimedwait(sys, a[0], a[1], a[2], a[3]),
        134 => proc::rt_sigaction(sys, a[0] as i32, a[1], a[2], a[3]),
        135 => proc::rt_sigprocmask(sys, a[0] as u32, a[1], a[2], a[3]),
        163 => proc::prlimit64(sys, 0, a[0] as u32, 0, a[1]),
        164 => proc::prlimit64(sys, 0, a[0] as u32, a[1], 0),
        261 => proc::prlimit64(sys, a[0] as i32, a[1] as u32, a[2], a[3]),
        165 => proc::getrusage(sys, a[0] as i32, a[1]),
        166 => proc::umask(sys, a[0] as u32),
        167 => proc::prctl(sys, a[0] as i32, a[1]),
        172 => Ok(sys.p.pid as u64),
        173 => Ok(sys.p.ppid as u64),
        174 => Ok(sys.p.creds.uid as u64),
        175 => Ok(sys.p.creds.euid as u64),
        176 => Ok(sys.p.creds.gid as u64),
        177 => Ok(sys.p.creds.egid as u64),
        178 => Ok(sys.t.tid as u64),
        101 => time::nanosleep(sys, a[0], a[1]),
        113 => time::clock_gettime(sys, a[0] as i32, a[1]),
        114 => time::clock_getres(sys, a[0] as i32, a[1]),
        115 => time::clock_nanosleep(sys, a[0] as i32, a[1] as u32, a[2], a[3]),
        160 => time::uname(sys, a[0]),
        169 => time::gettimeofday(sys, a[0], a[1]),
        179 => time::sysinfo(sys, a[0]),
        278 => time::getrandom(sys, a[0], a[1], a[2] as u32),
        214 => mem::brk(sys, a[0]),
        215 => mem::munmap(sys, a[0], a[1]),
        216 => mem::mremap(sys, a[0], a[1], a[2], a[3] as u32, a[4]),
        222 => mem::mmap(sys, a[0], a[1], a[2] as u32, a[3] as u32, a[4] as i32, a[5]),
        226 => mem::mprotect(sys, a[0], a[1], a[2] as u32),
        227 => mem::msync(sys, a[0], a[1], a[2] as u32),
        232 => mem::mincore(sys, a[0], a[1], a[2]),
        233 => mem::madvise(sys, a[0], a[1], a[2] as u32),
        32 => fs::flock(sys, a[0] as i32, a[1] as u32),
        36 => names::symlinkat(sys, a[0], a[1] as i32, a[2]),
        37 => names::linkat(sys, a[0] as i32, a[1], a[2] as i32, a[3], a[4] as u32),
        38 => names::renameat2(sys, a[0] as i32, a[1], a[2] as i32, a[3], 0),
        276 => names::renameat2(sys, a[0] as i32, a[1], a[2] as i32, a[3], a[4] as u32),
        43 => names::statfs(sys, a[0], a[1]),
        44 => names::fstatfs(sys, a[0] as i32, a[1]),
        45 => names::truncate(sys, a[0], a[1]),
        50 => names::fchdir(sys, a[0] as i32),
        52 => names::fchmod(sys, a[0] as i32, a[1] as u32),
        53 => names::fchmodat(sys, a[0] as i32, a[1], a[2] as u32, 0),
        452 => names::fchmodat(sys, a[0] as i32, a[1], a[2] as u32, a[3] as u32),
        54 => names::fchownat(
            sys,
            a[0] as i32,
            a[1],
            a[2] as u32,
            a[3] as u32,
            a[4] as u32,
        ),
        55 => names::fchown(sys, a[0] as i32, a[1] as u32, a[2] as u32),
        88 => names::utimensat(sys, a[0] as i32, a[1], a[2], a[3] as u32),
        71 => fs::sendfile(sys, a[0] as i32, a[1] as i32, a[2], a[3]),
        285 => fs::copy_file_range(sys, a[0] as i32, a[1], a[2] as i32, a[3], a[4], a[5] as u32),
        279 => fs::memfd_create(sys, a[0], a[1] as u32),
        258 => cpu::riscv_hwprobe(sys, a[0], a[1], a[2], a[3], a[4] as u32),
        122 => cpu::sched_setaffinity(sys, a[0] as i32, a[1], a[2]),
        123 => cpu::sched_getaffinity(sys, a[0] as i32, a[1], a[2]),
        168 => cpu::getcpu(sys, a[0], a[1]),
        72 => poll::pselect6(sys, a[0] as i32, [a[1], a[2], a[3]], a[4], a[5]),
        73 => poll::ppoll(sys, a[0], a[1], a[2], a[3], a[4]),
        140 => proc::setpriority(sys, a[0] as i32, a[1] as i32, a[2] as i32),
        141 => proc::getpriority(sys, a[0] as i32, a[1] as i32),
        148 => proc::getresid(sys, false, a[0], a[1], a[2]),
        150 => proc::getresid(sys, true, a[0], a[1], a[2]),
        158 => proc::getgroups(sys, a[0] as i32, a[1]),
        159 => proc::setgroups(sys, a[0] as i32, a[1]),
        436 => fs::close_range(sys, a[0] as u32, a[1] as u32, a[2] as u32),
        19 => events::eventfd2(sys, a[0] as u32, a[1] as u32),
        20 => events::epoll_create1(sys, a[0] as u32),
        21 => events::epoll_ctl(sys, a[0] as i32, a[1] as i32, a[2] as i32, a[3]),
        22 => events::epoll_pwait(sys, a[0] as i32, a[1], a[2] as i32, a[3] as i32, a[4], a[5]),
        441 => events::epoll_pwait2(sys, a[0] as i32, a[1], a[2] as i32, a[3], a[4], a[5]),
        74 => events::signalfd4(sys, a[0] as i32, a[1], a[2], a[3] as u32),
        85 => events::timerfd_create(sys, a[0] as i32, a[1] as u32),
        86 => events::timerfd_settime(sys, a[0] as i32, a[1] as u32, a[2], a[3]),
        87 => events::timerfd_gettime(sys, a[0] as i32, a[1]),
        102 => timer::getitimer(sys, a[0] as i32, a[1]),
        103 => timer::setitimer(sys, a[0] as i32, a[1], a[2]),
        107 => timer::timer_create(sys, a[0] as i32, a[1], a[2]),
        108 => timer::timer_gettime(sys, a[0] as i32, a[1]),
        109 => timer::timer_getoverrun(sys, a[0] as i32),
        110 => timer::timer_settime(sys, a[0] as i32, a[1] as u32, a[2], a[3]),
        111 => timer::timer_delete(sys, a[0] as i32),
        _ => Err(Errno::ENOSYS),
    };
    match r {
        Ok(v) => v,
        Err(e) => e.to_ret(),
    }
}
