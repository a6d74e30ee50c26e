//! A guest process (a thread group) and its threads.
//!
//! As in Linux, what the threads of a group share (address space, files,
//! working directory, signal dispositions, credentials, limits) lives in
//! [`Process`], whose pid is the group's tgid; what each has alone (CPU
//! state, tid, signal mask and pending set, alternate stack,
//! clear_child_tid, robust list, what it is blocked in) in [`Thread`].

use std::cell::{Ref, RefCell, RefMut};
use std::collections::BTreeMap;
use std::rc::Rc;

use cowix_isa::Cpu;
use cowix_mm::{AddressSpace, PhysMem};

use crate::fd::FdTable;
use crate::futex::FutexWait;
use crate::signal::{SignalState, ThreadSignals};
use crate::uaccess::Tlb;

/// Resource limits (include/uapi/asm-generic/resource.h).
pub mod rlimit {
    pub const CPU: usize = 0;
    pub const FSIZE: usize = 1;
    pub const DATA: usize = 2;
    pub const STACK: usize = 3;
    pub const CORE: usize = 4;
    pub const RSS: usize = 5;
    pub const NPROC: usize = 6;
    pub const NOFILE: usize = 7;
    pub const MEMLOCK: usize = 8;
    pub const AS: usize = 9;
    pub const SIGPENDING: usize = 11;
    pub const COUNT: usize = 16;
    pub const INFINITY: u64 = u64::MAX;
}

/// A soft and hard limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

/// Linux's defaults for a process started from a login shell.
pub fn default_rlimits() -> [Rlimit; rlimit::COUNT] {
    let inf = Rlimit {
        cur: rlimit::INFINITY,
        max: rlimit::INFINITY,
    };
    let mut r = [inf; rlimit::COUNT];
    r[rlimit::STACK] = Rlimit {
        cur: 8 << 20,
        max: rlimit::INFINITY,
    };
    r[rlimit::CORE] = Rlimit {
        cur: 0,
        max: rlimit::INFINITY,
    };
    r[rlimit::NOFILE] = Rlimit {
        cur: 1024,
        max: 1 << 20,
    };
    r[rlimit::MEMLOCK] = Rlimit {
        cur: 8 << 20,
        max: 8 << 20,
    };
    r[rlimit::NPROC] = Rlimit {
        cur: 63_000,
        max: 63_000,
    };
    r[11] = Rlimit {
        cur: 63_000,
        max: 63_000,
    }; // RLIMIT_SIGPENDING
    r[12] = Rlimit {
        cur: 819_200,
        max: 819_200,
    }; // RLIMIT_MSGQUEUE
    r[13] = Rlimit { cur: 0, max: 0 }; // RLIMIT_NICE
    r[14] = Rlimit { cur: 0, max: 0 }; // RLIMIT_RTPRIO
    r
}

/// User and group ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
}

/// Where exec put things in the program's memory, as /proc/PID/stat,
/// cmdline and environ show them: the argument and environment strings
/// (`mm->arg_start` ... `mm->env_end`), the initial stack pointer
/// (`mm->start_stack`) and the executable's code and data
/// (`mm->start_code` ... `mm->end_data`, load_elf_binary()'s reckoning).
#[derive(Debug, Clone, Copy, Default)]
pub struct ArgArea {
    pub arg_start: u64,
    pub env_start: u64,
    pub env_end: u64,
    pub start_stack: u64,
    pub start_code: u64,
    pub end_code: u64,
    pub start_data: u64,
    pub end_data: u64,
}

/// How a process ended, as `wait4` encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// `exit(code)`; only the low 8 bits are kept.
    Exited(u8),
    /// Killed by signal N (with `core` when the default action dumps core).
    Signaled { signal: u8, core: bool },
}

impl ExitStatus {
    /// The status word `wait4` stores (include/uapi/linux/wait.h, kernel/exit.c):
    /// `code << 8` for an exit, the signal number for a death by signal, with
    /// 0x80 (WCOREDUMP) when a core was dumped. cowix writes no core files;
    /// like Linux with a plain `core_pattern`, it reports a dump only when
    /// the default action dumps core and RLIMIT_CORE allows one (`core_limit > 0`).
    pub fn wait_status(self, core_limit: u64) -> u32 {
        match self {
            ExitStatus::Exited(c) => (c as u32) << 8,
            ExitStatus::Signaled { signal, core } => {
                signal as u32 | if core && core_limit > 0 { 0x80 } else { 0 }
            }
        }
    }

    /// The shell's `$?`: the code, or 128 + the signal number.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c as i32,
            ExitStatus::Signaled { signal, .. } => 128 + signal as i32,
        }
    }
}

/// An address space and its users (Linux's mm_struct with mm_users): the
/// processes that hold a handle share it. Every thread of a group uses its
/// process's; a vfork child and a clone(CLONE_VM) child without
/// CLONE_THREAD hold another handle to their parent's. Cloning a handle is
/// mmget; [`Mm::put`] is mmput, and the last user's put releases the
/// space's frames (exit_mmap). Only one thread runs at a time, so a borrow
/// never meets another: each lasts a syscall step or a CPU run.
#[derive(Debug, Clone)]
pub struct Mm(Rc<RefCell<AddressSpace>>);

impl Mm {
    /// A handle to a space nobody else uses yet.
    pub fn new(space: AddressSpace) -> Self {
        Mm(Rc::new(RefCell::new(space)))
    }

    /// The space, to look at.
    pub fn get(&self) -> Ref<'_, AddressSpace> {
        self.0.borrow()
    }

    /// The space, to change.
    pub fn get_mut(&self) -> RefMut<'_, AddressSpace> {
        self.0.borrow_mut()
    }

    /// How many processes hold it (mm_users, counting processes).
    pub fn users(&self) -> usize {
        Rc::strong_count(&self.0)
    }

    /// Whether `self` and `other` are the same space.
    pub fn same(&self, other: &Mm) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    /// A number naming the space while it lives (futex keys of private
    /// futexes are (mm, address) in Linux).
    pub fn id(&self) -> usize {
        Rc::as_ptr(&self.0) as usize
    }

    /// mmput: lets go of this handle; the last one releases the space.
    pub fn put(self, pm: &mut PhysMem) {
        if let Ok(cell) = Rc::try_unwrap(self.0) {
            cell.into_inner().release(pm);
        }
    }
}

/// The working directory and umask (Linux's fs_struct): a handle, shared
/// by the processes cloned with CLONE_FS (and by a group's threads,
/// through their `Process`); [`FsInfo::copy`] is copy_fs_struct, what
/// fork gives the child otherwise.
#[derive(Debug)]
pub struct FsInfo(Rc<RefCell<(String, u32)>>);

impl FsInfo {
    /// `cwd`: an absolute, normalized guest path.
    pub fn new(cwd: String, umask: u32) -> Self {
        FsInfo(Rc::new(RefCell::new((cwd, umask))))
    }

    /// The current directory: an absolute, normalized guest path.
    pub fn cwd(&self) -> String {
        self.0.borrow().0.clone()
    }

    pub fn set_cwd(&self, cwd: String) {
        self.0.borrow_mut().0 = cwd;
    }

    pub fn umask(&self) -> u32 {
        self.0.borrow().1
    }

    pub fn set_umask(&self, umask: u32) {
        self.0.borrow_mut().1 = umask;
    }

    /// A copy that changes on its own.
    pub fn copy(&self) -> Self {
        FsInfo(Rc::new(RefCell::new(self.0.borrow().clone())))
    }

    /// Another handle to the very same (CLONE_FS).
    pub fn share(&self) -> Self {
        FsInfo(Rc::clone(&self.0))
    }
}

/// One thread (a Linux task): a hart's state and what it alone owns.
#[derive(Debug)]
pub struct Thread {
    /// The thread id; the group leader's equals the process's pid.
    pub tid: i32,
    pub cpu: Cpu,
    /// This hart's software TLB over the shared address space; `sync`
    /// flushes it when another thread changed the space (its TLB
    /// generation moved).
    pub tlb: Box<Tlb>,
    pub signals: ThreadSignals,
    /// set_tid_address / CLONE_CHILD_CLEARTID: zeroed and futex-woken at exit.
    pub clear_child_tid: u64,
    /// set_robust_list head and length.
    pub robust_list: (u64, u64),
    /// Blocked in a syscall (wait4, pipe read or write): the kernel's event
    /// count when it blocked. The syscall is retried once the count moves.
    pub blocked: Option<u64>,
    /// Blocked in nanosleep or a futex wait with a timeout: the
    /// CLOCK_MONOTONIC time (ns) it wakes at.
    pub sleep_until: Option<u64>,
    /// Parked in FUTEX_WAIT (pc past the ecall, a0 written by the waker).
    pub futex: Option<FutexWait>,
    /// Bytes a blocked pipe write has already written (Linux's blocking
    /// write returns only when all is written).
    pub write_done: usize,
    /// Set once the thread has called exit (its code); the group goes on.
    pub exited: Option<u8>,
    /// Scheduling policy (with SCHED_RESET_ON_FORK) and priority, as
    /// sched_setscheduler set them; they do not change how it is scheduled.
    pub sched: (u32, i32),
    /// Waiting in vfork for this child to exec or end (the rest of the
    /// group runs on, on the same memory the child uses).
    pub vfork_child: Option<i32>,
    /// The thread's command name (task_struct.comm, at most 15 bytes):
    /// copied from the creating thread, set by prctl(PR_SET_NAME) or a
    /// write to /proc/PID/task/TID/comm, the program's base name at exec.
    /// The leader's is also the group's [`Process::comm`].
    pub comm: String,
}

impl Thread {
    /// A thread `tid` running `cpu` with nothing pending and nothing blocked.
    pub fn new(tid: i32, cpu: Cpu, tlb: Box<Tlb>, signals: ThreadSignals, comm: String) -> Self {
        Thread {
            comm,
            vfork_child: None,
            tid,
            cpu,
            tlb,
            signals,
            clear_child_tid: 0,
            robust_list: (0, 0),
            blocked: None,
            sleep_until: None,
            futex: None,
            write_done: 0,
            exited: None,
            sched: (0, 0),
        }
    }
}

/// One guest process: a thread group and what its threads share.
#[derive(Debug)]
pub struct Process {
    /// The thread group id (the leader's tid).
    pub pid: i32,
    pub ppid: i32,
    /// The threads, by tid; the one running is taken out for its turn (it
    /// is the syscall handlers' `sys.t`). Never empty between turns.
    /// Boxed, so taking one out and putting it back moves a pointer.
    pub threads: BTreeMap<i32, Box<Thread>>,
    /// The address space, shared with the other users of it (see [`Mm`]).
    pub mm: Mm,
    pub fds: FdTable,
    /// Current directory and umask, shared with CLONE_FS kin.
    pub fs: FsInfo,
    /// The group's command name, which is its leader thread's
    /// ([`Thread::comm`] of tid = pid; kept here too, since the leader
    /// may have exited or be out for its turn): /proc/PID/comm, ps.
    pub comm: String,
    /// The executable's guest path (/proc/PID/exe).
    pub exe: String,
    pub args: ArgArea,
    /// The auxiliary vector the program was started with.
    pub auxv: Vec<(u64, u64)>,
    pub creds: Creds,
    /// Supplementary group ids (getgroups/setgroups); none at start.
    pub groups: Vec<u32>,
    /// The nice value, -20..=19 (getpriority/setpriority; Linux keeps it
    /// per thread, cowix per process).
    pub nice: i32,
    pub rlimits: [Rlimit; rlimit::COUNT],
    /// Dispositions and process-directed pending signals.
    pub signals: SignalState,
    /// Process group and session ids (setpgid, setsid).
    pub pgid: i32,
    pub sid: i32,
    /// The console is this process's controlling terminal (Linux's
    /// `signal->tty`; see [`crate::tty`]).
    pub ctty: bool,
    /// The signal the parent gets at exit (clone's low byte; SIGCHLD for fork).
    pub exit_signal: u8,
    /// vfork child: the (pid, tid) of the thread waiting in vfork until
    /// this process execs or ends (Linux's vfork_done completion).
    pub vfork_parent: Option<(i32, i32)>,
    /// Set once the whole group has ended (exit_group, a fatal signal, the
    /// last thread's exit).
    pub exit: Option<ExitStatus>,
    /// The leader's exit code if it called exit while other threads went
    /// on: the group's status when the last one ends (Linux reports the
    /// leader's exit_code).
    pub leader_exit: Option<u8>,
    /// Instructions retired by the group's threads that have ended.
    pub retired: u64,
    /// The `[vdso]` signal trampoline, handlers' return address (0: none).
    pub vdso: u64,
    /// Why a fatal signal was delivered, once it has been reported to the user.
    pub fatal: Option<String>,
    /// Lay out the image randomly at exec (`--aslr`; Linux's
    /// PF_RANDOMIZE, cleared by personality(ADDR_NO_RANDOMIZE)). Inherited.
    pub randomize: bool,
    /// Peak memory figures, when the kernel accounts (`accounting`).
    pub sampling: crate::accounting::Sampling,
    /// Group stop and continue (job control).
    pub job: JobState,
    /// Interval timers and POSIX timers ([`crate::timers`]).
    pub timers: crate::timers::Timers,
}

/// A thread group's stop/continue state (Linux's `signal_struct` flags
/// SIGNAL_STOP_STOPPED / SIGNAL_STOP_CONTINUED and group_exit_code).
#[derive(Debug, Clone, Default)]
pub struct JobState {
    /// Stopped by this signal (do_signal_stop): no thread runs until SIGCONT.
    pub stopped: Option<u8>,
    /// A stop not yet reported to the parent's wait (WUNTRACED/WSTOPPED).
    pub stop_report: Option<u8>,
    /// A continue not yet reported to the parent's wait (WCONTINUED).
    pub cont_report: bool,
    /// SIGCHLD notifications for the parent not yet sent
    /// (do_notify_parent_cldstop): (si_code, si_status), oldest first.
    pub notify: Vec<(i32, i32)>,
    /// Reparented to init when its parent ended: that parent no longer
    /// keeps its process group from being orphaned.
    pub reparented: bool,
}

/// The name exec gives a program (fs/exec.c: __set_task_comm with
/// kbasename of the file name): its base name, at most 15 bytes
/// (TASK_COMM_LEN - 1).
pub fn comm_of_path(path: &str) -> String {
    truncate_comm(path.rsplit('/').next().unwrap_or(""))
}

/// `name` cut to TASK_COMM_LEN - 1 = 15 bytes (at a character boundary:
/// cowix keeps comm as a String).
pub fn truncate_comm(name: &str) -> String {
    let mut end = name.len().min(15);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

impl Process {
    /// Sets thread `tid`'s comm (`t`: that thread), and the group's when
    /// it is the leader (kernel/sys.c: prctl PR_SET_NAME, set_task_comm).
    pub fn set_comm(&mut self, t: &mut Thread, name: String) {
        if t.tid == self.pid {
            self.comm = name.clone();
        }
        t.comm = name;
    }

    /// Instructions retired by the whole group; `running` is the thread
    /// taken out for its turn, if any.
    pub fn instret(&self, running: Option<&Thread>) -> u64 {
        self.retired
            + self.threads.values().map(|t| t.cpu.instret).sum::<u64>()
            + running.map_or(0, |t| t.cpu.instret)
    }
}

/// A process that has ended and not yet been reaped by its parent: all that
/// `wait4` needs. Its memory and files are already released.
#[derive(Debug, Clone, Copy)]
pub struct Zombie {
    pub ppid: i32,
    pub pgid: i32,
    pub status: ExitStatus,
    /// RLIMIT_CORE at death (for WCOREDUMP).
    pub core_limit: u64,
    pub instret: u64,
    /// A "clone child": its exit signal is not SIGCHLD, so only a wait
    /// with __WCLONE or __WALL sees it (eligible_child).
    pub clone_child: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_encodes_as_linux() {
        assert_eq!(ExitStatus::Exited(3).wait_status(0), 0x300);
        assert_eq!(ExitStatus::Exited(0).wait_status(0), 0);
        assert_eq!(
            ExitStatus::Signaled {
                signal: 11,
                core: true
            }
            .wait_status(0),
            11
        );
        assert_eq!(
            ExitStatus::Signaled {
                signal: 11,
                core: true
            }
            .wait_status(u64::MAX),
            0x8b
        );
        assert_eq!(
            ExitStatus::Signaled {
                signal: 9,
                core: false
            }
            .wait_status(u64::MAX),
            9
        );
    }
}
