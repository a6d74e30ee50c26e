//! `--strace`: every system call with its decoded arguments and result, in
//! strace's format (`strace -f`), one line each on stderr:
//!
//! ```text
//! openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3
//! read(3, "root:x:0:0:root:/root:/bin/sh\n", 4096) = 30
//! [pid 2] exit_group(0) = ?
//! ```
//!
//! A call is formatted in two steps, as strace does: what the program
//! passed in is read at entry (paths, written buffers, argv), what the
//! kernel wrote back is read at exit (read buffers), once the result is
//! known. Strings are quoted and escaped as C, buffers cut after 32 bytes
//! with `...`, as strace's default `-s 32`. A blocked call is shown once,
//! when it completes. Unknown calls show as `syscall_N(...)` with ENOSYS.

use std::fmt::Write as _;

use crate::errno::Errno;
use crate::uaccess::GuestMemory;

impl Peek for GuestMemory<'_> {
    fn peek(&mut self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.copy_in(addr, &mut buf).ok()?;
        Some(buf)
    }
    fn peek_cstr(&mut self, addr: u64, max: usize) -> Option<Vec<u8>> {
        self.read_cstr(addr, max).ok()
    }
}

/// Reads the traced program's memory for the trace (never fails the call:
/// unreadable memory is shown as its address).
pub trait Peek {
    fn peek(&mut self, addr: u64, len: usize) -> Option<Vec<u8>>;
    fn peek_cstr(&mut self, addr: u64, max: usize) -> Option<Vec<u8>>;
}

/// How one argument is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum A {
    /// Signed decimal (an `int`).
    D,
    /// Signed decimal (a `long`, an offset).
    L,
    /// Unsigned decimal (a size or count).
    U,
    /// Hexadecimal.
    X,
    /// Octal (a mode).
    Mode,
    /// A directory fd: AT_FDCWD by name.
    DirFd,
    /// A NUL-terminated path.
    Path,
    /// A buffer the program passes in; its length is argument N.
    In(usize),
    /// A buffer the kernel fills; its length is the result.
    Out,
    /// A pointer: NULL or hex.
    Ptr,
    OpenFlags,
    AtFlags,
    Prot,
    MapFlags,
    /// msync's MS_* flags.
    MsFlags,
    Signal,
    SigHow,
    Clock,
    CloneFlags,
    Whence,
    FutexOp,
    Argv,
    Envp,
    Advice,
    FcntlCmd,
    WaitOptions,
    /// An iovec array whose count is argument N (writev: shown at entry).
    IovIn(usize),
    /// A resource limit (RLIMIT_*).
    Resource,
    /// getrandom's flags.
    GrndFlags,
    /// An ioctl request (the terminal's by name).
    IoctlReq,
    /// epoll_ctl's op.
    EpollOp,
    /// An epoll_event the program passes in (`{events=EPOLLIN, data=...}`).
    EpollEvent,
    /// setitimer/getitimer's which.
    ItimerWhich,
    /// eventfd2, timerfd_create, signalfd4, epoll_create1 flags (O_* bits).
    FdFlags,
    /// timerfd_settime, timer_settime flags.
    TimerFlags,
}

use A::*;

/// Argument shapes by syscall number; calls not listed show their six
/// raw arguments in hex.
fn shape(nr: u64) -> Option<&'static [A]> {
    Some(match nr {
        17 => &[Out, U],                            // getcwd
        23 => &[D],                                 // dup
        24 => &[D, D, OpenFlags],                   // dup3
        25 => &[D, FcntlCmd, X],                    // fcntl
        29 => &[D, IoctlReq, X],                    // ioctl
        34 => &[DirFd, Path, Mode],                 // mkdirat
        35 => &[DirFd, Path, AtFlags],              // unlinkat
        37 => &[DirFd, Path, DirFd, Path, AtFlags], // linkat
        36 => &[Path, DirFd, Path],                 // symlinkat
        38 => &[DirFd, Path, DirFd, Path],          // renameat
        276 => &[DirFd, Path, DirFd, Path, X],      // renameat2
        43 | 44 => &[Path, Ptr],                    // statfs
        46 => &[D, L],                              // ftruncate
        48 => &[DirFd, Path, D],                    // faccessat
        439 => &[DirFd, Path, D, AtFlags],          // faccessat2
        49 => &[Path],                              // chdir
        50 => &[D],                                 // fchdir
        52 => &[D, Mode],                           // fchmod
        53 => &[DirFd, Path, Mode],                 // fchmodat
        56 => &[DirFd, Path, OpenFlags, Mode],      // openat
        57 => &[D],                                 // close
        59 => &[Ptr, OpenFlags],                    // pipe2
        61 => &[D, Ptr, U],                         // getdents64
        62 => &[D, L, Whence],                      // lseek
        63 => &[D, Out, U],                         // read
        64 => &[D, In(2), U],                       // write
        65 => &[D, Ptr, U],                         // readv
        66 => &[D, IovIn(2), U],                    // writev
        67 => &[D, Out, U, L],                      // pread64
        68 => &[D, In(2), U, L],                    // pwrite64
        71 => &[D, D, Ptr, U],                      // sendfile
        78 => &[DirFd, Path, Out, U],               // readlinkat
        79 => &[DirFd, Path, Ptr, AtFlags],         // newfstatat
        80 => &[D, Ptr],                            // fstat
        82 | 83 => &[D],                            // fsync, fdatasync
        88 => &[DirFd, Path, Ptr, AtFlags],         // utimensat
        93 | 94 => &[D],                            // exit, exit_group
        95 => &[D, D, Ptr, WaitOptions, Ptr],       // waitid
        96 => &[Ptr],                               // set_tid_address
        98 => &[Ptr, FutexOp, D, Ptr, Ptr, D],      // futex
        99 => &[Ptr, U],                            // set_robust_list
        101 => &[Ptr, Ptr],                         // nanosleep
        113 | 114 => &[Clock, Ptr],                 // clock_gettime, clock_getres
        115 => &[Clock, D, Ptr, Ptr],               // clock_nanosleep
        124 => &[],                                 // sched_yield
        129 => &[D, Signal],                        // kill
        130 => &[D, Signal],                        // tkill
        131 => &[D, D, Signal],                     // tgkill
        132 => &[Ptr, Ptr],                         // sigaltstack
        133 => &[Ptr, U],                           // rt_sigsuspend
        134 => &[Signal, Ptr, Ptr, U],              // rt_sigaction
        135 => &[SigHow, Ptr, Ptr, U],              // rt_sigprocmask
        136 => &[Ptr, U],                           // rt_sigpending
        137 => &[Ptr, Ptr, Ptr, U],                 // rt_sigtimedwait
        138 => &[D, Signal, Ptr],                   // rt_sigqueueinfo
        139 => &[],                                 // rt_sigreturn
        153 => &[Ptr],                              // times
        154 => &[D, D],                             // setpgid
        155..=157 => &[D],                          // getpgid, getsid, setsid
        160 => &[Ptr],                              // uname
        163 | 164 => &[Resource, Ptr],              // getrlimit, setrlimit
        165 => &[D, Ptr],                           // getrusage
        166 => &[Mode],                             // umask
        167 => &[D, X, X, X, X],                    // prctl
        169 => &[Ptr, Ptr],                         // gettimeofday
        172..=178 => &[],                           // getpid ... gettid
        179 => &[Ptr],                              // sysinfo
        214 => &[Ptr],                              // brk
        215 => &[Ptr, U],                           // munmap
        216 => &[Ptr, U, U, X, Ptr],                // mremap
        220 => &[CloneFlags, Ptr, Ptr, Ptr, Ptr],   // clone
        221 => &[Path, Argv, Envp],                 // execve
        222 => &[Ptr, U, Prot, MapFlags, D, L],     // mmap
        226 => &[Ptr, U, Prot],                     // mprotect
        227 => &[Ptr, U, MsFlags],                  // msync
        232 => &[Ptr, U, Ptr],                      // mincore
        233 => &[Ptr, U, Advice],                   // madvise
        240 => &[D, D, Signal, Ptr],                // rt_tgsigqueueinfo
        260 => &[D, Ptr, WaitOptions, Ptr],         // wait4
        261 => &[D, Resource, Ptr, Ptr],            // prlimit64
        278 => &[Out, U, GrndFlags],                // getrandom
        279 => &[Path, X],                          // memfd_create
        281 => &[DirFd, Path, Argv, Envp, AtFlags], // execveat
        291 => &[DirFd, Path, AtFlags, X, Ptr],     // statx
        435 => &[Ptr, U],                           // clone3
        72 => &[D, Ptr, Ptr, Ptr, Ptr, Ptr],        // pselect6
        73 => &[Ptr, U, Ptr, Ptr, U],               // ppoll
        140 => &[D, D, D],                          // setpriority
        141 => &[D, D],                             // getpriority
        148 | 150 => &[Ptr, Ptr, Ptr],              // getresuid, getresgid
        158 | 159 => &[D, Ptr],                     // getgroups, setgroups
        436 => &[D, D, X],                          // close_range
        19 => &[U, FdFlags],                        // eventfd2
        20 => &[FdFlags],                           // epoll_create1
        21 => &[D, EpollOp, D, EpollEvent],         // epoll_ctl
        22 => &[D, Ptr, D, D, Ptr, U],              // epoll_pwait
        441 => &[D, Ptr, D, Ptr, Ptr, U],           // epoll_pwait2
        74 => &[D, Ptr, U, FdFlags],                // signalfd4
        85 => &[Clock, FdFlags],                    // timerfd_create
        86 => &[D, TimerFlags, Ptr, Ptr],           // timerfd_settime
        87 => &[D, Ptr],                            // timerfd_gettime
        102 => &[ItimerWhich, Ptr],                 // getitimer
        103 => &[ItimerWhich, Ptr, Ptr],            // setitimer
        107 => &[Clock, Ptr, Ptr],                  // timer_create
        108 => &[D, Ptr],                           // timer_gettime
        109 | 111 => &[D],                          // timer_getoverrun, timer_delete
        110 => &[D, TimerFlags, Ptr, Ptr],          // timer_settime
        _ => return None,
    })
}

/// What was read at entry, kept until the call completes.
#[derive(Debug)]
pub struct Entry {
    nr: u64,
    args: [u64; 6],
    /// Arguments already formatted at entry (`None`: formatted at exit).
    shown: Vec<Option<String>>,
}

/// strace's string length limit (`-s 32`).
const STRSIZE: usize = 32;

/// Formats what the program passed in to syscall `nr`.
pub fn enter(nr: u64, args: [u64; 6], mem: &mut dyn Peek) -> Entry {
    const OPENAT: u64 = 56;
    const O_CREAT_OR_TMPFILE: u64 = 0o100 | 0o20000000;
    let mut shown: Vec<Option<String>> = match shape(nr) {
        Some(kinds) => kinds
            .iter()
            .enumerate()
            .map(|(i, k)| enter_arg(*k, args[i], &args, mem))
            .collect(),
        None => args.iter().map(|a| Some(format!("{a:#x}"))).collect(),
    };
    // openat's mode is shown only when it is used.
    if nr == OPENAT && args[2] & O_CREAT_OR_TMPFILE == 0 {
        shown.truncate(3);
    }
    Entry { nr, args, shown }
}

/// The whole line for a completed call that returned `ret` (the value
/// left in a0), without the pid prefix and newline.
pub fn exit(entry: &Entry, ret: u64, mem: &mut dyn Peek) -> String {
    let kinds = shape(entry.nr).unwrap_or(&[]);
    let mut line = String::new();
    let name = crate::syscall::name(entry.nr)
        .map(str::to_string)
        .unwrap_or_else(|| format!("syscall_{}", entry.nr));
    line.push_str(&name);
    line.push('(');
    let failed = is_error(ret);
    for (i, shown) in entry.shown.iter().enumerate() {
        if i > 0 {
            line.push_str(", ");
        }
        match shown {
            Some(s) => line.push_str(s),
            None => {
                let a = entry.args[i];
                let s = match kinds.get(i) {
                    Some(Out) if !failed => quoted_buf(mem, a, ret as usize),
                    _ => pointer(a),
                };
                line.push_str(&s);
            }
        }
    }
    line.push_str(") = ");
    line.push_str(&result(entry.nr, ret));
    line
}

/// The line of a call that does not return (exit, exit_group, a
/// successful execve's old image never sees its result).
pub fn no_return(entry: &Entry) -> String {
    let mut line = exit(entry, 0, &mut NoMem);
    if let Some(i) = line.rfind(" = ") {
        line.truncate(i);
    }
    line.push_str(" = ?");
    line
}

/// The line of a call that parked the thread (a futex wait): strace's
/// `<unfinished ...>`; its result is not shown.
pub fn unfinished(entry: &Entry) -> String {
    let mut line = no_return(entry);
    line.truncate(line.len() - " = ?".len());
    line.push_str(" <unfinished ...>");
    line
}

struct NoMem;

impl Peek for NoMem {
    fn peek(&mut self, _: u64, _: usize) -> Option<Vec<u8>> {
        None
    }
    fn peek_cstr(&mut self, _: u64, _: usize) -> Option<Vec<u8>> {
        None
    }
}

fn is_error(ret: u64) -> bool {
    (ret as i64) < 0 && (ret as i64) >= -4095
}

fn result(nr: u64, ret: u64) -> String {
    if is_error(ret) {
        let n = -(ret as i64) as i32;
        return match ERRNOS.iter().find(|(v, _, _)| *v == n) {
            Some((_, name, text)) => format!("-1 {name} ({text})"),
            None => format!("-1 {} (Unknown error {n})", Errno(n).name()),
        };
    }
    match nr {
        // Addresses.
        214 | 216 | 222 => format!("{ret:#x}"),
        _ => format!("{}", ret as i64),
    }
}

/// Errno names and glibc's strerror() texts, as strace prints them.
const ERRNOS: &[(i32, &str, &str)] = &[
    (1, "EPERM", "Operation not permitted"),
    (2, "ENOENT", "No such file or directory"),
    (3, "ESRCH", "No such process"),
    (4, "EINTR", "Interrupted system call"),
    (5, "EIO", "Input/output error"),
    (6, "ENXIO", "No such device or address"),
    (7, "E2BIG", "Argument list too long"),
    (8, "ENOEXEC", "Exec format error"),
    (9, "EBADF", "Bad file descriptor"),
    (10, "ECHILD", "No child processes"),
    (11, "EAGAIN", "Resource temporarily unavailable"),
    (12, "ENOMEM", "Cannot allocate memory"),
    (13, "EACCES", "Permission denied"),
    (14, "EFAULT", "Bad address"),
    (15, "ENOTBLK", "Block device required"),
    (16, "EBUSY", "Device or resource busy"),
    (17, "EEXIST", "File exists"),
    (18, "EXDEV", "Invalid cross-device link"),
    (19, "ENODEV", "No such device"),
    (20, "ENOTDIR", "Not a directory"),
    (21, "EISDIR", "Is a directory"),
    (22, "EINVAL", "Invalid argument"),
    (23, "ENFILE", "Too many open files in system"),
    (24, "EMFILE", "Too many open files"),
    (25, "ENOTTY", "Inappropriate ioctl for device"),
    (26, "ETXTBSY", "Text file busy"),
    (27, "EFBIG", "File too large"),
    (28, "ENOSPC", "No space left on device"),
    (29, "ESPIPE", "Illegal seek"),
    (30, "EROFS", "Read-only file system"),
    (31, "EMLINK", "Too many links"),
    (32, "EPIPE", "Broken pipe"),
    (33, "EDOM", "Numerical argument out of domain"),
    (34, "ERANGE", "Numerical result out of range"),
    (35, "EDEADLK", "Resource deadlock avoided"),
    (36, "ENAMETOOLONG", "File name too long"),
    (37, "ENOLCK", "No locks available"),
    (38, "ENOSYS", "Function not implemented"),
    (39, "ENOTEMPTY", "Directory not empty"),
    (40, "ELOOP", "Too many levels of symbolic links"),
    (61, "ENODATA", "No data available"),
    (62, "ETIME", "Timer expired"),
    (75, "EOVERFLOW", "Value too large for defined data type"),
    (95, "EOPNOTSUPP", "Operation not supported"),
    (110, "ETIMEDOUT", "Connection timed out"),
    (130, "EOWNERDEAD", "Owner died"),
    (131, "ENOTRECOVERABLE", "State not recoverable"),
];

fn pointer(a: u64) -> String {
    if a == 0 {
        "NULL".into()
    } else {
        format!("{a:#x}")
    }
}

fn enter_arg(k: A, a: u64, args: &[u64; 6], mem: &mut dyn Peek) -> Option<String> {
    Some(match k {
        D => format!("{}", a as i32 as i64),
        L => format!("{}", a as i64),
        U => format!("{a}"),
        X => format!("{a:#x}"),
        Mode if a == 0 => "000".into(),
        Mode => format!("0{:o}", a as u32),
        DirFd if a as i32 == -100 => "AT_FDCWD".into(),
        DirFd => format!("{}", a as i32),
        Path => match mem.peek_cstr(a, 4096) {
            Some(s) => quote(&s, usize::MAX),
            None => pointer(a),
        },
        In(n) => quoted_buf(mem, a, args[n] as usize),
        Out => return None,
        Ptr => pointer(a),
        OpenFlags => open_flags(a as u32),
        AtFlags => flags(
            a,
            &[
                (0x100, "AT_SYMLINK_NOFOLLOW"),
                (0x200, "AT_REMOVEDIR"),
                (0x400, "AT_SYMLINK_FOLLOW"),
                (0x800, "AT_NO_AUTOMOUNT"),
                (0x1000, "AT_EMPTY_PATH"),
            ],
            "0",
        ),
        Prot => flags(
            a,
            &[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")],
            "PROT_NONE",
        ),
        MapFlags => map_flags(a),
        MsFlags => flags(
            a,
            &[(1, "MS_ASYNC"), (2, "MS_INVALIDATE"), (4, "MS_SYNC")],
            "0",
        ),
        Signal => signal(a),
        SigHow => match a {
            0 => "SIG_BLOCK".into(),
            1 => "SIG_UNBLOCK".into(),
            2 => "SIG_SETMASK".into(),
            _ => format!("{a:#x}"),
        },
        Clock => match a {
            0 => "CLOCK_REALTIME".into(),
            1 => "CLOCK_MONOTONIC".into(),
            2 => "CLOCK_PROCESS_CPUTIME_ID".into(),
            3 => "CLOCK_THREAD_CPUTIME_ID".into(),
            4 => "CLOCK_MONOTONIC_RAW".into(),
            5 => "CLOCK_REALTIME_COARSE".into(),
            6 => "CLOCK_MONOTONIC_COARSE".into(),
            7 => "CLOCK_BOOTTIME".into(),
            _ => format!("{}", a as i32),
        },
        CloneFlags => clone_flags(a),
        IoctlReq => {
            const NAMES: [(u64, &str); 12] = [
                (0x5401, "TCGETS"),
                (0x5402, "TCSETS"),
                (0x5403, "TCSETSW"),
                (0x5404, "TCSETSF"),
                (0x540e, "TIOCSCTTY"),
                (0x540f, "TIOCGPGRP"),
                (0x5410, "TIOCSPGRP"),
                (0x5413, "TIOCGWINSZ"),
                (0x5414, "TIOCSWINSZ"),
                (0x541b, "FIONREAD"),
                (0x5422, "TIOCNOTTY"),
                (0x5429, "TIOCGSID"),
            ];
            match NAMES.iter().find(|(n, _)| *n == a) {
                Some((_, name)) => (*name).into(),
                None => format!("{a:#x}"),
            }
        }
        Whence => match a {
            0 => "SEEK_SET".into(),
            1 => "SEEK_CUR".into(),
            2 => "SEEK_END".into(),
            3 => "SEEK_DATA".into(),
            4 => "SEEK_HOLE".into(),
            _ => format!("{a}"),
        },
        FutexOp => futex_op(a as u32),
        Argv => match string_array(mem, a) {
            Some(v) => format!("[{}]", v.join(", ")),
            None => pointer(a),
        },
        Envp => match string_array(mem, a) {
            Some(v) => format!("{} /* {} vars */", pointer(a), v.len()),
            None => pointer(a),
        },
        Advice => {
            const NAMES: [(u64, &str); 11] = [
                (0, "MADV_NORMAL"),
                (1, "MADV_RANDOM"),
                (2, "MADV_SEQUENTIAL"),
                (3, "MADV_WILLNEED"),
                (4, "MADV_DONTNEED"),
                (8, "MADV_FREE"),
                (10, "MADV_DONTFORK"),
                (11, "MADV_DOFORK"),
                (18, "MADV_WIPEONFORK"),
                (19, "MADV_KEEPONFORK"),
                (14, "MADV_HUGEPAGE"),
            ];
            NAMES
                .iter()
                .find(|(v, _)| *v == a)
                .map_or_else(|| format!("{a}"), |(_, n)| n.to_string())
        }
        FcntlCmd => {
            const NAMES: [&str; 17] = [
                "F_DUPFD",
                "F_GETFD",
                "F_SETFD",
                "F_GETFL",
                "F_SETFL",
                "F_GETLK",
                "F_SETLK",
                "F_SETLKW",
                "F_SETOWN",
                "F_GETOWN",
                "F_SETSIG",
                "F_GETSIG",
                "12",
                "13",
                "14",
                "F_SETOWN_EX",
                "F_GETOWN_EX",
            ];
            match a {
                0x406 => "F_DUPFD_CLOEXEC".into(),
                36 => "F_OFD_GETLK".into(),
                37 => "F_OFD_SETLK".into(),
                38 => "F_OFD_SETLKW".into(),
                _ => NAMES
                    .get(a as usize)
                    .map_or_else(|| format!("{a:#x}"), |n| n.to_string()),
            }
        }
        WaitOptions => flags(
            a,
            &[
                (1, "WNOHANG"),
                (2, "WUNTRACED"),
                (4, "WEXITED"),
                (8, "WCONTINUED"),
                (0x0100_0000, "WNOWAIT"),
                (0x2000_0000, "__WNOTHREAD"),
                (0x4000_0000, "__WALL"),
                (0x8000_0000, "__WCLONE"),
            ],
            "0",
        ),
        IovIn(n) => iovecs(mem, a, args[n]),
        Resource => {
            const NAMES: [&str; 16] = [
                "RLIMIT_CPU",
                "RLIMIT_FSIZE",
                "RLIMIT_DATA",
                "RLIMIT_STACK",
                "RLIMIT_CORE",
                "RLIMIT_RSS",
                "RLIMIT_NPROC",
                "RLIMIT_NOFILE",
                "RLIMIT_MEMLOCK",
                "RLIMIT_AS",
                "RLIMIT_LOCKS",
                "RLIMIT_SIGPENDING",
                "RLIMIT_MSGQUEUE",
                "RLIMIT_NICE",
                "RLIMIT_RTPRIO",
                "RLIMIT_RTTIME",
            ];
            NAMES
                .get(a as usize)
                .map_or_else(|| format!("{a:#x} /* RLIMIT_??? */"), |n| n.to_string())
        }
        GrndFlags => flags(
            a,
            &[
                (1, "GRND_NONBLOCK"),
                (2, "GRND_RANDOM"),
                (4, "GRND_INSECURE"),
            ],
            "0",
        ),
        EpollOp => match a as i32 {
            1 => "EPOLL_CTL_ADD".into(),
            2 => "EPOLL_CTL_DEL".into(),
            3 => "EPOLL_CTL_MOD".into(),
            _ => format!("{}", a as i32),
        },
        EpollEvent => match mem.peek(a, 16) {
            Some(b) => {
                let ev = u32::from_le_bytes(b[..4].try_into().unwrap());
                let data = u64::from_le_bytes(b[8..].try_into().unwrap());
                let names = flags(u64::from(ev), EPOLL_EVENTS, "0");
                format!("{{events={names}, data={data:#x}}}")
            }
            None => pointer(a),
        },
        ItimerWhich => match a as i32 {
            0 => "ITIMER_REAL".into(),
            1 => "ITIMER_VIRTUAL".into(),
            2 => "ITIMER_PROF".into(),
            _ => format!("{}", a as i32),
        },
        FdFlags => flags(
            a,
            &[
                (0o4000, "O_NONBLOCK"),
                (0o2000000, "O_CLOEXEC"),
                (1, "EFD_SEMAPHORE"),
            ],
            "0",
        ),
        TimerFlags => flags(
            a,
            &[(1, "TIMER_ABSTIME"), (2, "TFD_TIMER_CANCEL_ON_SET")],
            "0",
        ),
    })
}

/// epoll event bits by name (include/uapi/linux/eventpoll.h).
const EPOLL_EVENTS: &[(u64, &str)] = &[
    (0x001, "EPOLLIN"),
    (0x002, "EPOLLPRI"),
    (0x004, "EPOLLOUT"),
    (0x008, "EPOLLERR"),
    (0x010, "EPOLLHUP"),
    (0x040, "EPOLLRDNORM"),
    (0x080, "EPOLLRDBAND"),
    (0x100, "EPOLLWRNORM"),
    (0x200, "EPOLLWRBAND"),
    (0x400, "EPOLLMSG"),
    (0x2000, "EPOLLRDHUP"),
    (1 << 28, "EPOLLEXCLUSIVE"),
    (1 << 29, "EPOLLWAKEUP"),
    (1 << 30, "EPOLLONESHOT"),
    (1 << 31, "EPOLLET"),
];

/// `"bytes"...` for a buffer of `len` bytes at `addr`.
fn quoted_buf(mem: &mut dyn Peek, addr: u64, len: usize) -> String {
    let shown = len.min(STRSIZE);
    match mem.peek(addr, shown) {
        Some(b) => {
            let mut s = quote(&b, usize::MAX);
            if len > shown {
                s.push_str("...");
            }
            s
        }
        None => pointer(addr),
    }
}

/// A C string literal of `b`, as strace escapes it.
fn quote(b: &[u8], max: usize) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b.iter().take(max) {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0x0b => s.push_str("\\v"),
            0x0c => s.push_str("\\f"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\{c:o}");
            }
        }
    }
    s.push('"');
    s
}

/// `[{iov_base="...", iov_len=N}, ...]` for a writev.
fn iovecs(mem: &mut dyn Peek, addr: u64, count: u64) -> String {
    let mut parts = Vec::new();
    for i in 0..count.min(8) {
        let Some(raw) = mem.peek(addr + i * 16, 16) else {
            return pointer(addr);
        };
        let base = u64::from_le_bytes(raw[..8].try_into().unwrap());
        let len = u64::from_le_bytes(raw[8..].try_into().unwrap());
        parts.push(format!(
            "{{iov_base={}, iov_len={len}}}",
            quoted_buf(mem, base, len as usize)
        ));
    }
    if count > 8 {
        parts.push("...".into());
    }
    format!("[{}]", parts.join(", "))
}

/// The strings of a NULL-terminated array (argv, envp), at most 64 shown.
fn string_array(mem: &mut dyn Peek, addr: u64) -> Option<Vec<String>> {
    if addr == 0 {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    for i in 0..4096u64 {
        let raw = mem.peek(addr + i * 8, 8)?;
        let p = u64::from_le_bytes(raw.try_into().ok()?);
        if p == 0 {
            return Some(out);
        }
        if out.len() < 64 {
            let s = mem.peek_cstr(p, 4096)?;
            out.push(quote(&s, STRSIZE) + if s.len() > STRSIZE { "..." } else { "" });
        } else {
            out.push(String::new());
        }
    }
    Some(out)
}

/// Known bits by name, joined with `|`, then any unknown rest in hex.
fn flags(v: u64, known: &[(u64, &str)], zero: &str) -> String {
    if v == 0 {
        return zero.to_string();
    }
    let mut parts = Vec::new();
    let mut rest = v;
    for &(bit, name) in known {
        if v & bit == bit && bit != 0 {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

fn open_flags(v: u32) -> String {
    let acc = match v & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let rest = flags(
        (v & !3) as u64,
        &[
            (0o100, "O_CREAT"),
            (0o200, "O_EXCL"),
            (0o400, "O_NOCTTY"),
            (0o1000, "O_TRUNC"),
            (0o2000, "O_APPEND"),
            (0o4000, "O_NONBLOCK"),
            (0o10000, "O_DSYNC"),
            (0o40000, "O_DIRECT"),
            (0o200000, "O_DIRECTORY"),
            (0o400000, "O_NOFOLLOW"),
            (0o1000000, "O_NOATIME"),
            (0o2000000, "O_CLOEXEC"),
            (0o4010000, "O_SYNC"),
            (0o10000000, "O_PATH"),
            (0o20200000, "O_TMPFILE"),
            (0o100000, "O_LARGEFILE"),
        ],
        "",
    );
    if rest.is_empty() {
        acc.to_string()
    } else {
        format!("{acc}|{rest}")
    }
}

fn map_flags(v: u64) -> String {
    let kind = match v & 0xf {
        1 => "MAP_SHARED",
        2 => "MAP_PRIVATE",
        3 => "MAP_SHARED_VALIDATE",
        _ => "",
    };
    let rest = flags(
        v & !0xf,
        &[
            (0x10, "MAP_FIXED"),
            (0x20, "MAP_ANONYMOUS"),
            (0x100, "MAP_GROWSDOWN"),
            (0x800, "MAP_DENYWRITE"),
            (0x1000, "MAP_EXECUTABLE"),
            (0x2000, "MAP_LOCKED"),
            (0x4000, "MAP_NORESERVE"),
            (0x8000, "MAP_POPULATE"),
            (0x10000, "MAP_NONBLOCK"),
            (0x20000, "MAP_STACK"),
            (0x40000, "MAP_HUGETLB"),
            (0x100000, "MAP_FIXED_NOREPLACE"),
        ],
        "",
    );
    match (kind.is_empty(), rest.is_empty()) {
        (_, true) if kind.is_empty() => format!("{:#x}", v & 0xf),
        (_, true) => kind.to_string(),
        (true, false) => format!("{:#x}|{rest}", v & 0xf),
        (false, false) => format!("{kind}|{rest}"),
    }
}

fn signal(a: u64) -> String {
    match a {
        1..=31 => crate::signal::name(a as u8),
        32..=64 => format!("SIGRT_{}", a - 32),
        _ => format!("{}", a as i32),
    }
}

fn clone_flags(v: u64) -> String {
    let sig = v & 0xff;
    let mut s = flags(
        v & !0xff,
        &[
            (0x100, "CLONE_VM"),
            (0x200, "CLONE_FS"),
            (0x400, "CLONE_FILES"),
            (0x800, "CLONE_SIGHAND"),
            (0x1000, "CLONE_PIDFD"),
            (0x2000, "CLONE_PTRACE"),
            (0x4000, "CLONE_VFORK"),
            (0x8000, "CLONE_PARENT"),
            (0x10000, "CLONE_THREAD"),
            (0x20000, "CLONE_NEWNS"),
            (0x40000, "CLONE_SYSVSEM"),
            (0x80000, "CLONE_SETTLS"),
            (0x100000, "CLONE_PARENT_SETTID"),
            (0x200000, "CLONE_CHILD_CLEARTID"),
            (0x400000, "CLONE_DETACHED"),
            (0x1000000, "CLONE_CHILD_SETTID"),
        ],
        "",
    );
    if sig != 0 {
        if !s.is_empty() {
            s.push('|');
        }
        s.push_str(&signal(sig));
    }
    if s.is_empty() {
        s.push('0');
    }
    format!("flags={s}")
}

fn futex_op(v: u32) -> String {
    const OPS: [&str; 14] = [
        "FUTEX_WAIT",
        "FUTEX_WAKE",
        "FUTEX_FD",
        "FUTEX_REQUEUE",
        "FUTEX_CMP_REQUEUE",
        "FUTEX_WAKE_OP",
        "FUTEX_LOCK_PI",
        "FUTEX_UNLOCK_PI",
        "FUTEX_TRYLOCK_PI",
        "FUTEX_WAIT_BITSET",
        "FUTEX_WAKE_BITSET",
        "FUTEX_WAIT_REQUEUE_PI",
        "FUTEX_CMP_REQUEUE_PI",
        "FUTEX_LOCK_PI2",
    ];
    let mut s = OPS
        .get((v & 0x7f) as usize)
        .map_or_else(|| format!("{:#x}", v & 0x7f), |n| n.to_string());
    if v & 128 != 0 {
        s.push_str("_PRIVATE");
    }
    if v & 256 != 0 {
        s.push_str("|FUTEX_CLOCK_REALTIME");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flat little memory: bytes at address 0x1000 onwards.
    struct Mem(Vec<u8>);

    impl Peek for Mem {
        fn peek(&mut self, addr: u64, len: usize) -> Option<Vec<u8>> {
            let at = addr.checked_sub(0x1000)? as usize;
            self.0.get(at..at + len).map(<[u8]>::to_vec)
        }
        fn peek_cstr(&mut self, addr: u64, max: usize) -> Option<Vec<u8>> {
            let at = addr.checked_sub(0x1000)? as usize;
            let rest = self.0.get(at..)?;
            let end = rest.iter().position(|&b| b == 0)?;
            Some(rest[..end.min(max)].to_vec())
        }
    }

    #[test]
    fn epoll_ctl_shows_op_and_event_itimers_their_which() {
        let mut ev = (0x8000_0001u32).to_le_bytes().to_vec();
        ev.extend([0; 4]);
        ev.extend(7u64.to_le_bytes());
        let mut m = Mem(ev);
        let e = enter(21, [3, 1, 4, 0x1000, 0, 0], &mut m);
        assert_eq!(
            exit(&e, 0, &mut m),
            "epoll_ctl(3, EPOLL_CTL_ADD, 4, {events=EPOLLIN|EPOLLET, data=0x7}) = 0"
        );
        let e = enter(103, [0, 0x1000, 0, 0, 0, 0], &mut m);
        assert_eq!(
            exit(&e, 0, &mut m),
            "setitimer(ITIMER_REAL, 0x1000, NULL) = 0"
        );
        let e = enter(19, [0, 0o2000001, 0, 0, 0, 0], &mut m);
        assert_eq!(
            exit(&e, 5, &mut m),
            "eventfd2(0, O_CLOEXEC|EFD_SEMAPHORE) = 5"
        );
    }

    #[test]
    fn openat_shows_dirfd_path_and_flags_and_errors_as_strace() {
        let mut m = Mem(b"/etc/passwd\0".to_vec());
        let e = enter(56, [(-100i64) as u64, 0x1000, 0o2000000, 0, 0, 0], &mut m);
        assert_eq!(
            exit(&e, 3, &mut m),
            r#"openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3"#
        );
        assert_eq!(
            exit(&e, Errno::ENOENT.to_ret(), &mut m),
            r#"openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)"#
        );
    }

    #[test]
    fn read_shows_the_bytes_read_write_the_bytes_written_cut_at_32() {
        let mut data = b"hello\n\tworld\x01\"".to_vec();
        data.extend(std::iter::repeat_n(b'x', 40));
        let mut m = Mem(data);
        let e = enter(63, [3, 0x1000, 4096, 0, 0, 0], &mut m);
        assert_eq!(
            exit(&e, 14, &mut m),
            r#"read(3, "hello\n\tworld\1\"", 4096) = 14"#
        );
        let e = enter(64, [1, 0x1000, 50, 0, 0, 0], &mut m);
        assert_eq!(
            exit(&e, 50, &mut m),
            r#"write(1, "hello\n\tworld\1\"xxxxxxxxxxxxxxxxxx"..., 50) = 50"#
        );
        // A failed read shows its buffer's address.
        let e = enter(63, [9, 0x1000, 10, 0, 0, 0], &mut m);
        assert_eq!(
            exit(&e, Errno::EBADF.to_ret(), &mut m),
            "read(9, 0x1000, 10) = -1 EBADF (Bad file descriptor)"
        );
    }

    #[test]
    fn terminal_ioctls_are_named() {
        let mut m = Mem(Vec::new());
        let e = enter(29, [10, 0x5410, 0x1000, 0, 0, 0], &mut m);
        assert_eq!(exit(&e, 0, &mut m), "ioctl(10, TIOCSPGRP, 0x1000) = 0");
        let e = enter(29, [0, 0x5401, 0x1000, 0, 0, 0], &mut m);
        assert_eq!(
            exit(&e, Errno::ENOTTY.to_ret(), &mut m),
            "ioctl(0, TCGETS, 0x1000) = -1 ENOTTY (Inappropriate ioctl for device)"
        );
        let e = enter(29, [3, 0x1234, 0, 0, 0, 0], &mut m);
        assert_eq!(exit(&e, 0, &mut m), "ioctl(3, 0x1234, 0x0) = 0");
    }

    #[test]
    fn mmap_clone_and_exit_decode_their_flags() {
        let mut m = Mem(Vec::new());
        let e = enter(222, [0, 8192, 3, 0x22, u64::MAX, 0], &mut m);
        assert_eq!(
            exit(&e, 0x3f_f000_0000, &mut m),
            "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x3ff0000000"
        );
        let e = enter(220, [0x1200011, 0, 0, 0, 0x2000, 0], &mut m);
        assert_eq!(
            exit(&e, 2, &mut m),
            "clone(flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, NULL, NULL, NULL, 0x2000) = 2"
        );
        let e = enter(94, [3, 0, 0, 0, 0, 0], &mut m);
        assert_eq!(no_return(&e), "exit_group(3) = ?");
        let e = enter(227, [0x1000, 4096, 6, 0, 0, 0], &mut m);
        assert_eq!(
            exit(&e, 0, &mut m),
            "msync(0x1000, 4096, MS_INVALIDATE|MS_SYNC) = 0"
        );
    }

    #[test]
    fn execve_shows_argv_and_counts_envp_unknown_calls_show_hex() {
        // argv at 0x1000: two pointers and NULL; strings after.
        let mut mem = Vec::new();
        for p in [0x1020u64, 0x1024, 0] {
            mem.extend_from_slice(&p.to_le_bytes());
        }
        mem.resize(0x20, 0);
        mem.extend_from_slice(b"ls\0\0-l\0");
        let mut m = Mem(mem);
        let e = enter(221, [0x1020, 0x1000, 0x1000, 0, 0, 0], &mut m);
        assert_eq!(
            no_return(&e),
            r#"execve("ls", ["ls", "-l"], 0x1000 /* 2 vars */) = ?"#
        );
        let e = enter(999, [1, 2, 3, 4, 5, 6], &mut m);
        assert_eq!(
            exit(&e, Errno::ENOSYS.to_ret(), &mut m),
            "syscall_999(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS (Function not implemented)"
        );
    }
}
