//! Issue 5's remaining signal semantics: stop and continue of a thread
//! group (kernel/signal.c: do_signal_stop, prepare_signal), their reports
//! to the parent (wait4 WUNTRACED/WCONTINUED, waitid, SIGCHLD
//! CLD_STOPPED/CLD_CONTINUED), and real-time signal queueing
//! (rt_sigqueueinfo, rt_tgsigqueueinfo, RLIMIT_SIGPENDING). Expected
//! outputs are qemu-riscv64's (Linux's) except where noted.

mod common;

use common::*;

/// qemu-user reports SIGCHLD for stops and continues even under
/// SA_NOCLDSTOP (it installs its own host SIGCHLD handler); Linux's
/// do_notify_parent_cldstop, like cowix, sends none ("nocldstop: 0").
#[test]
fn stop_and_continue_are_reported_to_the_parent() {
    let o = run_guest("job_control", &[]);
    assert_eq!(
        stdout(&o),
        "stop: waitpid=1 status=0x137f stopped=1 sig=19 state=T\n\
         stopped child ran: 0\n\
         stop reported once: 0\n\
         cont: waitpid=1 status=0xffff continued=1\n\
         runs again: 1 state=R\n\
         stop+cont: 2 SIGCHLD: code=5 status=19 code=6 status=18\n\
         waitid nowait: code=5 status=20 pid=1\n\
         waitid: code=5 status=20\n\
         waitid again: 0 pid=0\n\
         waitid cont: code=6 status=18\n\
         tstp+cont: 2 SIGCHLD: code=5 status=20 code=6 status=18\n\
         killed while stopped: signaled=1 sig=9\n\
         stop+kill: 2 SIGCHLD: code=5 status=19 code=2 status=9\n\
         blocked SIGCONT continues: 1\n\
         nocldstop: 0 SIGCHLD:\n\
         nocldstop exit: 1 SIGCHLD: code=2 status=15\n\
         raise(SIGSTOP): stopped=1 sig=19\n\
         pending after TSTP,CONT,TSTP: exit=6\n",
        "stderr: {}",
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(0));
}

/// A group that stops itself with nobody left to continue it: nothing can
/// run, which is a deadlock, reported with the stop.
#[test]
fn a_stopped_machine_is_a_deadlock() {
    let o = run_guest("job_control", &["self-stop"]);
    let e = stderr(&o);
    assert!(
        e.contains("deadlock") && e.contains("stopped by SIGSTOP"),
        "stderr: {e}"
    );
    assert_eq!(o.status.code(), Some(128 + 9), "stderr: {e}");
}
