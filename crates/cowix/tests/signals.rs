//! Signals delivered to guest handlers as riscv64 Linux does: the signal
//! frame and rt_sigreturn, siginfo for kill/tgkill/faults/SIGCHLD, blocked
//! and pending signals, sigaltstack, interrupted and restarted syscalls,
//! rt_sigsuspend, each program static and dynamic. Expected outputs are
//! qemu-riscv64's (Linux's) except where noted.

mod common;

use common::*;

static_and_dynamic! {
    fn handlers_run_with_siginfo_and_the_mask_and_pending_set_work(link) {
        let o = link.run(&[], "sig_handler", &[]);
        assert_eq!(
            stdout(&o),
            "handler ran: flag=10 d=3\n\
             siginfo: signo=12 code=-6 pid_ok=1 blocked_in_handler=1\n\
             kill: signo=12 code=0 pid_ok=1\n\
             blocked: flag=0 pending=1\n\
             unblocked: flag=10 pending=0\n\
             resethand: flag=10 now default=1\n\
             sigwaitinfo: 12 code=0 handler ran=0\n\
             sigtimedwait: -1 Resource temporarily unavailable\n\
             ignored ok\n",
            "stderr: {}",
            stderr(&o)
        );
        // glibc's sigwaitinfo folds raise()'s SI_TKILL into SI_USER (0).
        // The last raise(SIGUSR1) has the default action: the process dies.
        assert_eq!(o.status.code(), Some(128 + 10));
    }

    /// qemu-user reports SEGV_ACCERR for the stack overflow (it maps a
    /// PROT_NONE guard page); Linux, like cowix, reports SEGV_MAPERR.
    fn segv_handlers_get_the_fault_code_and_address_and_run_on_the_altstack(link) {
        let o = link.run(&[], "segv_handler", &[]);
        assert_eq!(
            stdout(&o),
            "write to read-only: code=2 (SEGV_ACCERR=2) addr_ok=1\n\
             NULL: code=1 (SEGV_MAPERR=1) addr=(nil)\n\
             again: code=2\n\
             small altstack: -1\n\
             stack overflow caught: code=1 on_alt=1 deep=1\n",
            "stderr: {}",
            stderr(&o)
        );
        assert_eq!(o.status.code(), Some(0));
    }

    fn sigchld_is_sent_at_child_exit_and_sigsuspend_waits_for_it(link) {
        let o = link.run(&[], "sigchld", &[]);
        assert_eq!(
            stdout(&o),
            "all 3 children exited; woke ok; last code=1 (CLD_EXITED=1) status=1; mask restored=1\n\
             killed child: code=2 (CLD_KILLED=2) status=15\n\
             child's own handler: status=40\n",
            "stderr: {}",
            stderr(&o)
        );
        assert_eq!(o.status.code(), Some(0));
    }

    fn blocked_syscalls_are_interrupted_or_restarted(link) {
        let o = link.run(&[], "restart", &[]);
        assert_eq!(
            stdout(&o),
            "no SA_RESTART: read -1 EINTR, handler ran 1\n\
             then got data\n\
             SA_RESTART: read 4, handler ran 1\n\
             then got data\n\
             nanosleep: -1 Interrupted system call rem<5s=1 rem>4s=1\n",
            "stderr: {}",
            stderr(&o)
        );
        assert_eq!(o.status.code(), Some(0));
    }

    fn a_fault_in_its_own_handler_kills_with_the_default_action(link) {
        let o = link.run(&[], "sig_nested_fault", &[]);
        assert_eq!(stdout(&o), "in handler\n", "stderr: {}", stderr(&o));
        assert_eq!(o.status.code(), Some(128 + 11));
        assert!(
            stderr(&o).contains("killed by SIGSEGV: write to 0x8 (no mapping)"),
            "{}",
            stderr(&o)
        );
    }
}
