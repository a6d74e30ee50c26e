//! Signal numbers, dispositions and default actions (signal(7)).
//!
//! This layer holds what `rt_sigaction` (per thread group),
//! `rt_sigprocmask` and `sigaltstack` (per thread) set, the pending set with each signal's siginfo, and the
//! riscv64 signal frame (arch/riscv/kernel/signal.c): [`SigInfo::to_bytes`]
//! and the `FRAME_*` offsets. The kernel's run loop delivers pending
//! signals at every return to user mode (see `Kernel::handle_signals`).

use std::cell::RefCell;
use std::rc::Rc;

/// Signal numbers on riscv64 (include/uapi/asm-generic/signal.h).
pub mod sig {
    pub const SIGHUP: u8 = 1;
    pub const SIGINT: u8 = 2;
    pub const SIGQUIT: u8 = 3;
    pub const SIGILL: u8 = 4;
    pub const SIGTRAP: u8 = 5;
    pub const SIGABRT: u8 = 6;
    pub const SIGBUS: u8 = 7;
    pub const SIGFPE: u8 = 8;
    pub const SIGKILL: u8 = 9;
    pub const SIGUSR1: u8 = 10;
    pub const SIGSEGV: u8 = 11;
    pub const SIGUSR2: u8 = 12;
    pub const SIGPIPE: u8 = 13;
    pub const SIGALRM: u8 = 14;
    pub const SIGTERM: u8 = 15;
    pub const SIGSTKFLT: u8 = 16;
    pub const SIGCHLD: u8 = 17;
    pub const SIGCONT: u8 = 18;
    pub const SIGSTOP: u8 = 19;
    pub const SIGTSTP: u8 = 20;
    pub const SIGTTIN: u8 = 21;
    pub const SIGTTOU: u8 = 22;
    pub const SIGURG: u8 = 23;
    pub const SIGXCPU: u8 = 24;
    pub const SIGXFSZ: u8 = 25;
    pub const SIGVTALRM: u8 = 26;
    pub const SIGPROF: u8 = 27;
    pub const SIGWINCH: u8 = 28;
    pub const SIGIO: u8 = 29;
    pub const SIGPWR: u8 = 30;
    pub const SIGSYS: u8 = 31;
    /// Highest signal number (SIGRTMAX).
    pub const NSIG: u8 = 64;
}

/// `sa_handler` special values.
pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

/// What a signal does when its disposition is SIG_DFL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultAction {
    Terminate,
    CoreDump,
    Ignore,
    Stop,
    Continue,
}

/// The default action of signal `n` (signal(7)'s table).
pub fn default_action(n: u8) -> DefaultAction {
    use sig::*;
    match n {
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ
        | SIGSYS => DefaultAction::CoreDump,
        SIGCHLD | SIGURG | SIGWINCH => DefaultAction::Ignore,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        SIGCONT => DefaultAction::Continue,
        _ => DefaultAction::Terminate,
    }
}

/// The name strace and shells use ("SIGSEGV").
pub fn name(n: u8) -> String {
    const NAMES: [&str; 32] = [
        "0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match n {
        0..=31 => NAMES[n as usize].to_string(),
        32..=64 => format!("SIGRT_{}", n - 32),
        _ => format!("signal {n}"),
    }
}

/// `struct sigaction` as the riscv64 kernel sees it (include/linux/signal_types.h:
/// handler, flags, mask; riscv has no sa_restorer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub mask: u64,
}

/// Size of the kernel's sigset_t in bytes (`_NSIG / 8`).
pub const SIGSET_SIZE: u64 = 8;

/// Bits that can never be blocked or caught.
pub const UNBLOCKABLE: u64 = (1 << (sig::SIGKILL - 1)) | (1 << (sig::SIGSTOP - 1));

/// `sa_flags` bits (include/uapi/asm-generic/signal-defs.h).
pub const SA_NOCLDSTOP: u64 = 1;
pub const SA_NOCLDWAIT: u64 = 2;
pub const SA_SIGINFO: u64 = 4;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// `ss_flags` bits and the smallest alternate stack (MINSIGSTKSZ).
pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;
pub const SS_AUTODISARM: u32 = 1 << 31;
pub const MINSIGSTKSZ: u64 = 2048;

/// `si_code` values.
pub mod code {
    pub const SI_USER: i32 = 0;
    pub const SI_KERNEL: i32 = 0x80;
    pub const SI_TKILL: i32 = -6;
    pub const SEGV_MAPERR: i32 = 1;
    pub const SEGV_ACCERR: i32 = 2;
    pub const BUS_ADRALN: i32 = 1;
    pub const BUS_ADRERR: i32 = 2;
    pub const ILL_ILLOPC: i32 = 1;
    pub const TRAP_BRKPT: i32 = 1;
    pub const CLD_EXITED: i32 = 1;
    pub const CLD_KILLED: i32 = 2;
    pub const CLD_DUMPED: i32 = 3;
    pub const CLD_STOPPED: i32 = 5;
    pub const CLD_CONTINUED: i32 = 6;
    /// sigqueue(3)'s code (rt_sigqueueinfo from glibc).
    pub const SI_QUEUE: i32 = -1;
}

/// The first real-time signal (SIGRTMIN as the kernel numbers it):
/// signals from here to NSIG are queued, one entry per sending.
pub const SIGRTMIN: u8 = 32;

/// Whether `n`'s default action is to stop the group (sig_kernel_stop).
pub fn is_stop(n: u8) -> bool {
    default_action(n) == DefaultAction::Stop
}

/// The stop signals' bits (SIG_KERNEL_STOP_MASK).
pub const STOP_MASK: u64 = (1 << (sig::SIGSTOP - 1))
    | (1 << (sig::SIGTSTP - 1))
    | (1 << (sig::SIGTTIN - 1))
    | (1 << (sig::SIGTTOU - 1));

/// What a signal carries (the parts of `siginfo_t` cowix fills in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SigInfo {
    pub signo: u8,
    pub code: i32,
    /// Sender (kill, SIGCHLD).
    pub pid: i32,
    pub uid: u32,
    /// SIGCHLD's si_status.
    pub status: i32,
    /// Faults: si_addr.
    pub addr: u64,
    /// Whether this is a fault (si_addr) rather than a kill/child (si_pid) layout.
    pub fault: bool,
    /// sigqueue's si_value (the _rt layout: in place of si_status).
    pub value: Option<u64>,
}

impl SigInfo {
    /// A signal sent by `kill` (SI_USER) or `tkill`/`tgkill` (SI_TKILL).
    pub fn user(signo: u8, code: i32, pid: i32, uid: u32) -> Self {
        SigInfo {
            signo,
            code,
            pid,
            uid,
            ..Default::default()
        }
    }

    /// A synchronous fault at `addr`.
    pub fn fault(signo: u8, code: i32, addr: u64) -> Self {
        SigInfo {
            signo,
            code,
            addr,
            fault: true,
            ..Default::default()
        }
    }

    /// The 128-byte `siginfo_t` (include/uapi/asm-generic/siginfo.h, 64-bit):
    /// si_signo, si_errno, si_code, then the union at offset 16: si_pid,
    /// si_uid, si_status (SIGCHLD) or si_addr (faults).
    pub fn to_bytes(&self) -> [u8; 128] {
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&(self.signo as i32).to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        if self.fault {
            b[16..24].copy_from_slice(&self.addr.to_le_bytes());
        } else {
            b[16..20].copy_from_slice(&self.pid.to_le_bytes());
            b[20..24].copy_from_slice(&self.uid.to_le_bytes());
            match self.value {
                Some(v) => b[24..32].copy_from_slice(&v.to_le_bytes()),
                None => b[24..28].copy_from_slice(&self.status.to_le_bytes()),
            }
        }
        b
    }
}

/// `struct rt_sigframe` on riscv64: siginfo_t, then struct ucontext.
pub const FRAME_SIZE: u64 = 1088;
pub const FRAME_INFO: u64 = 0;
pub const FRAME_UC: u64 = 128;
/// Offsets inside the frame of ucontext's fields.
pub const FRAME_UC_FLAGS: u64 = FRAME_UC;
pub const FRAME_UC_LINK: u64 = FRAME_UC + 8;
pub const FRAME_UC_STACK: u64 = FRAME_UC + 16;
pub const FRAME_UC_SIGMASK: u64 = FRAME_UC + 40;
/// uc_mcontext (struct sigcontext), 16-aligned after `__unused[120]`.
pub const FRAME_MCONTEXT: u64 = FRAME_UC + 176;
/// sc_regs: pc, then x1..x31.
pub const FRAME_REGS: u64 = FRAME_MCONTEXT;
/// sc_fpregs: f0..f31 (64-bit each), then fcsr.
pub const FRAME_FREGS: u64 = FRAME_MCONTEXT + 256;
pub const FRAME_FCSR: u64 = FRAME_FREGS + 256;

/// An alternate signal stack (sigaltstack).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AltStack {
    pub sp: u64,
    pub flags: u32,
    pub size: u64,
}

impl AltStack {
    /// Linux's on_sig_stack(): `sp` is inside the stack (it grows down).
    pub fn on(&self, sp: u64) -> bool {
        self.size != 0 && sp > self.sp && sp - self.sp <= self.size
    }

    /// ss_flags as sigaltstack and uc_stack report it for stack pointer `sp`.
    pub fn flags_for(&self, sp: u64) -> u32 {
        if self.size == 0 {
            SS_DISABLE
        } else if self.on(sp) {
            SS_ONSTACK
        } else {
            self.flags & SS_AUTODISARM
        }
    }
}

/// Pending signals with each one's siginfo (Linux's `struct sigpending`):
/// a standard signal is queued once (one already pending keeps its first
/// siginfo; legacy_queue()), a real-time one once per sending, in order,
/// each with its own siginfo.
#[derive(Debug, Clone)]
pub struct SigQueue {
    /// Bit n-1 for signal n.
    pub pending: u64,
    /// Boxed: a thread or process moves in and out of its map every turn.
    pub info: Box<[SigInfo; sig::NSIG as usize]>,
    /// Queued real-time signals, oldest first (several of one number may
    /// wait; `info` is unused for them).
    pub rt: std::collections::VecDeque<SigInfo>,
}

impl Default for SigQueue {
    fn default() -> Self {
        SigQueue {
            pending: 0,
            info: Box::new([SigInfo::default(); sig::NSIG as usize]),
            rt: std::collections::VecDeque::new(),
        }
    }
}

impl SigQueue {
    /// Queues signal `info.signo`: a standard one is coalesced with one
    /// already pending; a real-time one is appended.
    pub fn add(&mut self, info: SigInfo) {
        let n = info.signo;
        if n >= SIGRTMIN {
            self.rt.push_back(info);
        } else if self.pending & bit(n) == 0 {
            self.info[(n - 1) as usize] = info;
        }
        self.pending |= bit(n);
    }

    /// Marks signal `n` pending without queueing an entry (a real-time
    /// signal beyond RLIMIT_SIGPENDING from kill: __send_signal's "silent
    /// loss of information"); it is delivered with `info`'s siginfo.
    pub fn add_lossy(&mut self, info: SigInfo) {
        let n = info.signo;
        if n >= SIGRTMIN {
            if self.pending & bit(n) == 0 {
                self.info[(n - 1) as usize] = info;
            }
            self.pending |= bit(n);
        } else {
            self.add(info);
        }
    }

    /// Entries queued: one per pending standard signal, one per queued
    /// real-time one (what counts against RLIMIT_SIGPENDING; SigQ).
    pub fn count(&self) -> u64 {
        (self.pending & (bit(SIGRTMIN) - 1)).count_ones() as u64 + self.rt.len() as u64
    }

    /// Takes the oldest instance of signal `n` off the queue, returning
    /// its siginfo (collect_signal); `n` stays pending while more wait.
    pub fn take(&mut self, n: u8) -> SigInfo {
        if n >= SIGRTMIN {
            if let Some(i) = self.rt.iter().position(|s| s.signo == n) {
                let info = self.rt.remove(i).expect("SigQueue::take: index vanished");
                if !self.rt.iter().any(|s| s.signo == n) {
                    self.pending &= !bit(n);
                }
                return info;
            }
        }
        self.pending &= !bit(n);
        self.info[(n - 1) as usize]
    }

    /// Drops every instance of the signals in `mask` (flush_sigqueue_mask).
    pub fn discard(&mut self, mask: u64) {
        self.pending &= !mask;
        self.rt.retain(|s| mask & bit(s.signo) == 0);
    }
}

/// The dispositions (Linux's `sighand_struct`): a handle, shared by a
/// group's threads (through their `Process`) and by processes cloned with
/// CLONE_SIGHAND; [`Handlers::copy`] is what fork gives the child
/// otherwise, and exec (unshare_sighand).
#[derive(Debug)]
pub struct Handlers(Rc<RefCell<[SigAction; sig::NSIG as usize]>>);

impl Default for Handlers {
    fn default() -> Self {
        Handlers(Rc::new(RefCell::new(
            [SigAction::default(); sig::NSIG as usize],
        )))
    }
}

impl Handlers {
    /// The action of the signal at index `i` (signal `i + 1`).
    pub fn get(&self, i: usize) -> SigAction {
        self.0.borrow()[i]
    }

    pub fn set(&self, i: usize, a: SigAction) {
        self.0.borrow_mut()[i] = a;
    }

    /// Every action, signal 1 first.
    pub fn all(&self) -> [SigAction; sig::NSIG as usize] {
        *self.0.borrow()
    }

    /// A copy that changes on its own.
    pub fn copy(&self) -> Self {
        Handlers(Rc::new(RefCell::new(*self.0.borrow())))
    }

    /// Another handle to the very same table (CLONE_SIGHAND).
    pub fn share(&self) -> Self {
        Handlers(Rc::clone(&self.0))
    }

    /// Whether another process uses this table too.
    pub fn is_shared(&self) -> bool {
        Rc::strong_count(&self.0) > 1
    }
}

/// A thread group's signal state (Linux's `sighand_struct` and
/// `signal_struct.shared_pending`): the dispositions, shared by every
/// thread, and the process-directed signals (kill) not yet taken by one.
#[derive(Debug, Default)]
pub struct SignalState {
    pub actions: Handlers,
    /// Process-directed pending signals: any thread not blocking one takes it.
    pub shared: SigQueue,
}

/// One thread's signal state (`task_struct`'s blocked, pending, sas_ss_*,
/// saved_sigmask): its mask, the signals sent to it alone (tgkill and
/// faults), its alternate stack.
#[derive(Debug, Clone, Default)]
pub struct ThreadSignals {
    pub blocked: u64,
    /// Thread-directed pending signals.
    pub pending: SigQueue,
    pub altstack: AltStack,
    /// rt_sigsuspend's saved mask: restored by the handler's sigreturn
    /// (it goes into uc_sigmask), as Linux's saved_sigmask.
    pub saved_mask: Option<u64>,
}

/// The bit of signal `n` in a sigset.
pub fn bit(n: u8) -> u64 {
    1u64 << (n - 1)
}

impl SignalState {
    pub fn action(&self, n: u8) -> SigAction {
        self.actions.get((n - 1) as usize)
    }

    /// A new process's: the handlers shared (CLONE_SIGHAND) or copied,
    /// nothing pending (copy_sighand, copy_signal).
    pub fn for_child(&self, share_handlers: bool) -> Self {
        SignalState {
            actions: if share_handlers {
                self.actions.share()
            } else {
                self.actions.copy()
            },
            shared: SigQueue::default(),
        }
    }

    /// Whether signal `n` would be thrown away: ignored explicitly, or by
    /// default (sig_ignored() in kernel/signal.c; a blocked one stays pending).
    /// SIGCONT's default action counts as ignoring it (sig_kernel_ignore):
    /// its effect, continuing the group, happens when it is sent.
    pub fn ignored(&self, n: u8) -> bool {
        let a = self.action(n);
        a.handler == SIG_IGN
            || (a.handler == SIG_DFL
                && matches!(
                    default_action(n),
                    DefaultAction::Ignore | DefaultAction::Continue
                ))
    }

    /// At execve, caught signals revert to SIG_DFL; ignored ones stay ignored
    /// and the pending set is kept (execve(2)).
    pub fn reset_for_exec(&mut self) {
        if self.actions.is_shared() {
            // unshare_sighand: the CLONE_SIGHAND kin keep theirs.
            self.actions = self.actions.copy();
        }
        let mut all = self.actions.0.borrow_mut();
        for a in all.iter_mut() {
            if a.handler != SIG_IGN {
                *a = SigAction::default();
            }
        }
    }
}

impl ThreadSignals {
    /// Signals pending for this thread (its own and the group's `shared`).
    pub fn pending(&self, shared: &SigQueue) -> u64 {
        self.pending.pending | shared.pending
    }

    /// Pending signals not blocked, lowest-numbered first; synchronous
    /// faults first as Linux's SYNCHRONOUS_MASK (dequeue_signal). Of the
    /// group's `shared` ones, only those in `takes` are this thread's.
    pub fn next_deliverable(&self, shared: &SigQueue, takes: u64) -> Option<u8> {
        let ready = (self.pending.pending | shared.pending & takes) & !self.blocked;
        if ready == 0 {
            return None;
        }
        let sync = bit(sig::SIGSEGV)
            | bit(sig::SIGBUS)
            | bit(sig::SIGILL)
            | bit(sig::SIGTRAP)
            | bit(sig::SIGFPE)
            | bit(sig::SIGSYS);
        let pick = if ready & sync != 0 {
            ready & sync
        } else {
            ready
        };
        Some(pick.trailing_zeros() as u8 + 1)
    }

    /// Takes signal `n`, the thread's own first, then the group's
    /// (dequeue_signal), returning its siginfo.
    pub fn take(&mut self, shared: &mut SigQueue, n: u8) -> SigInfo {
        if self.pending.pending & bit(n) != 0 {
            self.pending.take(n)
        } else {
            shared.take(n)
        }
    }

    /// At execve the alternate stack goes; mask and pending stay.
    pub fn reset_for_exec(&mut self) {
        self.altstack = AltStack::default();
        self.saved_mask = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_actions_follow_signal7() {
        assert_eq!(default_action(sig::SIGSEGV), DefaultAction::CoreDump);
        assert_eq!(default_action(sig::SIGTERM), DefaultAction::Terminate);
        assert_eq!(default_action(sig::SIGCHLD), DefaultAction::Ignore);
        assert_eq!(default_action(sig::SIGTSTP), DefaultAction::Stop);
        assert_eq!(default_action(40), DefaultAction::Terminate);
        assert_eq!(name(sig::SIGABRT), "SIGABRT");
    }

    #[test]
    fn frame_layout_matches_riscv64_linux() {
        // struct rt_sigframe: siginfo (128) + ucontext (960) = AT_MINSIGSTKSZ-sized.
        assert_eq!(FRAME_SIZE, 128 + 960);
        assert_eq!(FRAME_UC_STACK, 128 + 16);
        assert_eq!(FRAME_UC_SIGMASK, 128 + 40);
        assert_eq!(FRAME_MCONTEXT % 16, 0);
        assert_eq!(FRAME_MCONTEXT, 128 + 176);
        assert_eq!(FRAME_FREGS, FRAME_MCONTEXT + 32 * 8);
        assert_eq!(FRAME_FCSR, FRAME_FREGS + 32 * 8);
        // The q-ext union is 528 bytes: the frame ends right after it.
        assert_eq!(FRAME_FREGS + 528, FRAME_SIZE);
        let b = SigInfo::fault(sig::SIGSEGV, code::SEGV_ACCERR, 0x1000).to_bytes();
        assert_eq!(&b[0..4], &11i32.to_le_bytes());
        assert_eq!(&b[8..12], &2i32.to_le_bytes());
        assert_eq!(&b[16..24], &0x1000u64.to_le_bytes());
    }

    #[test]
    fn pending_prefers_synchronous_and_respects_mask() {
        let mut shared = SigQueue::default();
        let mut s = ThreadSignals::default();
        shared.add(SigInfo::user(sig::SIGUSR1, 0, 5, 0));
        s.pending.add(SigInfo::fault(sig::SIGSEGV, 1, 0));
        assert_eq!(s.next_deliverable(&shared, u64::MAX), Some(sig::SIGSEGV));
        s.blocked = bit(sig::SIGSEGV);
        assert_eq!(s.next_deliverable(&shared, u64::MAX), Some(sig::SIGUSR1));
        assert_eq!(s.take(&mut shared, sig::SIGUSR1).pid, 5);
        assert_eq!(s.next_deliverable(&shared, u64::MAX), None);
        assert_eq!(s.pending(&shared), bit(sig::SIGSEGV));
        shared.add(SigInfo::user(sig::SIGUSR2, 0, 5, 0));
        assert_eq!(s.next_deliverable(&shared, 0), None, "another thread's");
        let alt = AltStack {
            sp: 0x1000,
            flags: 0,
            size: 0x1000,
        };
        assert!(alt.on(0x2000) && !alt.on(0x1000) && !alt.on(0x2001));
    }

    #[test]
    fn real_time_signals_queue_and_standard_ones_coalesce() {
        let mut q = SigQueue::default();
        for v in 1..=3 {
            q.add(SigInfo {
                value: Some(v),
                ..SigInfo::user(SIGRTMIN + 1, code::SI_QUEUE, 1, 0)
            });
        }
        q.add(SigInfo::user(sig::SIGUSR1, 0, 7, 0));
        q.add(SigInfo::user(sig::SIGUSR1, 0, 8, 0));
        q.add(SigInfo::user(SIGRTMIN, 0, 9, 0));
        assert_eq!(q.count(), 1 + 3 + 1);
        assert_eq!(q.take(sig::SIGUSR1).pid, 7, "the first siginfo stays");
        assert_eq!(q.pending & bit(sig::SIGUSR1), 0);
        for v in 1..=3 {
            assert_ne!(q.pending & bit(SIGRTMIN + 1), 0);
            assert_eq!(q.take(SIGRTMIN + 1).value, Some(v), "FIFO within a number");
        }
        assert_eq!(q.pending, bit(SIGRTMIN));
        q.add(SigInfo::user(sig::SIGCONT, 0, 1, 0));
        q.discard(bit(SIGRTMIN) | bit(sig::SIGCONT));
        assert_eq!((q.pending, q.count()), (0, 0));
        let b = SigInfo {
            value: Some(0x1234_5678_9abc),
            ..SigInfo::user(40, code::SI_QUEUE, 3, 0)
        }
        .to_bytes();
        assert_eq!(&b[24..32], &0x1234_5678_9abcu64.to_le_bytes());
    }

    #[test]
    fn exec_resets_caught_but_keeps_ignored() {
        let mut s = SignalState::default();
        s.actions.set(
            0,
            SigAction {
                handler: 0x1234,
                flags: 0,
                mask: 0,
            },
        );
        s.actions.set(
            1,
            SigAction {
                handler: SIG_IGN,
                flags: 0,
                mask: 0,
            },
        );
        let kin = s.for_child(true);
        s.reset_for_exec();
        assert_eq!(s.action(1).handler, SIG_DFL);
        assert_eq!(s.action(2).handler, SIG_IGN);
        assert_eq!(
            kin.action(1).handler,
            0x1234,
            "CLONE_SIGHAND kin keep their handlers when one execs"
        );
        assert!(!kin.actions.is_shared());
    }
}
