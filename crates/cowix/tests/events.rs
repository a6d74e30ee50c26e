//! Timers and event file descriptors (issue 5): setitimer/alarm, POSIX
//! timers, eventfd, timerfd, signalfd and epoll, each driven by a guest
//! program from tests/guest with its exact expected output. The expected
//! texts are what qemu-riscv64 prints for the same binaries, except for
//! the lines after an exec of /proc/self/exe, which qemu-user cannot
//! follow (those are Linux's). Timing-dependent facts are printed as
//! yes/no against generous bounds, so the output does not depend on the
//! host's speed.

mod common;

use common::*;

/// Runs guest `name` and checks its exit status and exact stdout.
fn expect(name: &str, args: &[&str], want: &str) {
    let o = run_guest(name, args);
    assert_eq!(
        (stdout(&o).as_str(), o.status.code()),
        (want, Some(0)),
        "stderr: {}",
        stderr(&o)
    );
}

#[test]
fn itimers_alarm_and_their_fork_and_exec_rules() {
    expect(
        "itimer",
        &[],
        "alarm(5) = 0\n\
         alarm(3) = 5\n\
         getitimer: value <= 3 s yes, interval 0\n\
         alarm(0) = 3\n\
         disarmed: 0 0\n\
         periodic: 5 SIGALRM\n\
         old: interval 0.250000 value<=7s yes\n\
         read without SA_RESTART: -1 Interrupted system call (alarms 1)\n\
         read with SA_RESTART: 1 'x' (alarms 1)\n\
         pause: -1 Interrupted system call alarms 1\n\
         spinning: SIGVTALRM 1 SIGPROF 1, virtual disarmed yes\n\
         virtual during sleep: 0\n\
         setitimer(99): -1 Invalid argument\n\
         usec 1000000: -1 Invalid argument\n\
         getitimer(-1): -1 Invalid argument\n\
         default SIGALRM: signaled 1 sig 14\n\
         fork child: ITIMER_REAL armed no\n\
         after exec: ITIMER_REAL armed yes, interval 3 s\n\
         parent keeps its own: interval 5\n",
    );
}

#[test]
fn posix_timers_signal_overrun_thread_cpu_clocks_and_fork_exec_rules() {
    expect(
        "posix_timer",
        &[],
        "one-shot: hits 1 code SI_TIMER value 42 overrun 0\n\
         expired one-shot gettime: 0 0\n\
         blocked 30 ms: hits 1 overrun >= 10 yes getoverrun == si_overrun yes\n\
         periodic: 4 hits, disarmed yes\n\
         SIGEV_NONE: left in (4 s, 5 s] yes\n\
         SIGEV_THREAD_ID: value 7 in my thread yes\n\
         CPU clock: value 99 after spinning\n\
         SIGEV_THREAD: callback ran >= 3 times\n\
         bad clock: -1 Invalid argument\n\
         bad signal: -1 Invalid argument\n\
         bad nsec: -1 Invalid argument\n\
         delete unknown: -1 Invalid argument\n\
         getoverrun unknown: -1 Invalid argument\n\
         fork child: timer_gettime -1 Invalid argument\n\
         after exec: timer_gettime -1 Invalid argument\n",
    );
}

#[test]
fn the_killing_timer_is_named_on_stderr() {
    // SIGALRM's default action: the process dies and cowix says why.
    let o = run_guest("itimer", &[]);
    assert!(
        stderr(&o).contains("killed by SIGALRM: a timer expired"),
        "stderr: {}",
        stderr(&o)
    );
}
