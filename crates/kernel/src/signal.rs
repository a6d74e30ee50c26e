//! Signal numbers, dispositions and default actions (signal(7)).
//!
//! This layer records what `rt_sigaction` and `rt_sigprocmask` set, and
//! applies default actions. Running a guest handler (building the riscv64
//! signal frame) comes with the full Linux layer.

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
        "0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
        "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
        "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
        "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
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

/// A process's dispositions and blocked mask.
#[derive(Debug, Clone)]
pub struct SignalState {
    pub actions: [SigAction; sig::NSIG as usize],
    pub blocked: u64,
}

impl Default for SignalState {
    fn default() -> Self {
        SignalState { actions: [SigAction::default(); sig::NSIG as usize], blocked: 0 }
    }
}

impl SignalState {
    pub fn action(&self, n: u8) -> SigAction {
        self.actions[(n - 1) as usize]
    }

    /// At execve, caught signals revert to SIG_DFL; ignored ones stay ignored
    /// and the mask is kept (execve(2)).
    pub fn reset_for_exec(&mut self) {
        for a in &mut self.actions {
            if a.handler != SIG_IGN {
                *a = SigAction::default();
            }
        }
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
    fn exec_resets_caught_but_keeps_ignored() {
        let mut s = SignalState::default();
        s.actions[0] = SigAction { handler: 0x1234, flags: 0, mask: 0 };
        s.actions[1] = SigAction { handler: SIG_IGN, flags: 0, mask: 0 };
        s.reset_for_exec();
        assert_eq!(s.action(1).handler, SIG_DFL);
        assert_eq!(s.action(2).handler, SIG_IGN);
    }
}
