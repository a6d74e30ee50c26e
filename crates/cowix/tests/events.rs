//! Timers and event file descriptors (issue 5): setitimer/alarm, POSIX
//! timers, eventfd, timerfd, signalfd and epoll, each driven by a guest
//! program from tests/guest (static and dynamic) with its exact expected
//! output. The expected
//! texts are what qemu-riscv64 prints for the same binaries, except for
//! the lines after an exec of /proc/self/exe, which qemu-user cannot
//! follow, and epoll_pwait2's, which qemu lacks (those are Linux's).
//! Timing-dependent facts are printed as yes/no against generous bounds,
//! so the output does not depend on the host's speed.

mod common;

use common::*;

/// Runs guest `name` linked as `link` and checks its exit status and
/// exact stdout.
fn expect(link: Link, name: &str, args: &[&str], want: &str) {
    let o = link.run(&[], name, args);
    assert_eq!(
        (stdout(&o).as_str(), o.status.code()),
        (want, Some(0)),
        "stderr: {}",
        stderr(&o)
    );
}

static_and_dynamic! {
    fn itimers_alarm_and_their_fork_and_exec_rules(link) {
        expect(
            link,
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
             nanosleep: -1 Interrupted system call alarms 1, left > 0.5 s yes\n\
             sigsuspend: -1 Interrupted system call alarms 1, blocked again yes\n\
             spinning: SIGVTALRM 1 SIGPROF 1, virtual disarmed yes\n\
             virtual during sleep: 0\n\
             tiny virtual interval: signals yes\n\
             setitimer(99): -1 Invalid argument\n\
             usec 1000000: -1 Invalid argument\n\
             getitimer(-1): -1 Invalid argument\n\
             default SIGALRM: signaled 1 sig 14\n\
             fork child: ITIMER_REAL armed no\n\
             after exec: ITIMER_REAL armed yes, interval 3 s\n\
             parent keeps its own: interval 5\n",
        );
    }
}

static_and_dynamic! {
    fn posix_timers_signal_overrun_thread_cpu_clocks_and_fork_exec_rules(link) {
        expect(
            link,
            "posix_timer",
            &[],
            "one-shot: hits 1 code SI_TIMER value 42 overrun 0\n\
             expired one-shot gettime: 0 0\n\
             blocked 30 ms: hits 1 overrun >= 10 yes getoverrun == si_overrun yes\n\
             periodic: 4 hits, disarmed yes\n\
             SIGEV_NONE: left in (4 s, 5 s] yes\n\
             SIGEV_THREAD_ID: value 7 in my thread yes\n\
             CPU clock: value 99 after spinning\n\
             cpu clock ids: 0 0, process time > 20 ms yes, thread time > 0 yes\n\
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
}

#[test]
fn a_cpu_time_timer_fires_at_the_same_instruction_every_run() {
    let counts: Vec<String> = (0..3)
        .map(|_| {
            let o = run_guest("itimer", &["vcount"]);
            assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
            stdout(&o)
        })
        .collect();
    let n: u64 = counts[0].trim().parse().unwrap();
    // 5 ms of guest CPU time is 5 million instructions, a few per iteration.
    assert!((100_000..5_000_000).contains(&n), "{n} iterations");
    assert!(counts.iter().all(|c| *c == counts[0]), "{counts:?}");
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

static_and_dynamic! {
    fn eventfd_timerfd_and_signalfd_read_write_block_and_fail_as_linux(link) {
        expect(
            link,
            "eventfds",
            &[],
            "counter: read 7\n\
             empty nonblocking read: Resource temporarily unavailable\n\
             4-byte read: -1 Invalid argument\n\
             write of 2^64-1: -1 Invalid argument\n\
             overflowing write: -1 Resource temporarily unavailable\n\
             poll at max-1: in 1 out 0\n\
             semaphore read 0: 1\n\
             semaphore read 1: 1\n\
             semaphore read 2: 1\n\
             semaphore empty: Resource temporarily unavailable\n\
             eventfd bad flags: -1 Invalid argument\n\
             fstat mode 600\n\
             blocking read across fork: 5\n\
             writer still blocked: yes\n\
             read frees it: 18446744073709551614\n\
             writer done: exit 0, counter 2\n\
             semaphore across fork: child got 1, parent gets 1\n\
             timerfd: >= 5 expirations in <= 5 reads, interval 10000000 ns, next within 10 ms yes\n\
             absolute past: 1, old interval 10000000 ns\n\
             not expired: Resource temporarily unavailable\n\
             disarmed gettime: 0 0\n\
             timerfd bad clock: -1 Invalid argument\n\
             timerfd bad flags: -1 Invalid argument\n\
             settime on an eventfd: -1 Invalid argument\n\
             settime bad nsec: -1 Invalid argument\n\
             settime bad flags: -1 Invalid argument\n\
             signalfd: 128 bytes, signo 10, from me yes, code 0\n\
             nothing pending: -1 Resource temporarily unavailable\n\
             two at once: 256 bytes, 12 then 0 (int 1234)\n\
             short buffer: -1 Invalid argument\n\
             mask update keeps fd: yes\n\
             USR1 not in the new mask: -1 Resource temporarily unavailable\n\
             poll with USR1 pending: 0\n\
             poll with USR2 pending: 1\n\
             signalfd of an eventfd: -1 Invalid argument\n\
             signalfd bad flags: -1 Invalid argument\n\
             blocking signalfd read: 128 signo 10 from child yes\n",
        );
    }
}

static_and_dynamic! {
    fn epoll_level_edge_oneshot_nesting_lifetime_timeouts_masks_and_errors(link) {
        expect(
            link,
            "epoll",
            &[],
            "nothing ready: 0\n\
             level, data: 1 [1:IN]\n\
             level, same data: 1 [1:IN]\n\
             level, drained: 0\n\
             edge, write: 1 [2:IN]\n\
             edge, no new write: 0\n\
             edge, after a partial read: 0\n\
             edge, another write: 1 [2:IN]\n\
             edge write end: 1 [9:OUT]\n\
             edge write end, again: 0\n\
             edge write end, read of a non-full pipe: 0\n\
             edge write end, full: 0\n\
             edge write end, room made: 1 [9:OUT]\n\
             oneshot: 1 [3:IN]\n\
             oneshot, disabled: 0\n\
             oneshot, re-armed: 1 [33:IN]\n\
             write end: 1 [4:OUT]\n\
             writer gone: 1 [1:HUP]\n\
             timerfd, blocking: 1 [5:IN]\n\
             waited >= 25 ms: yes\n\
             timeout 50 ms: 0\n\
             waited >= 45 ms: yes\n\
             epoll_pwait2 30 ms: 0, waited >= 25 ms yes\n\
             epoll_pwait2 bad timeout: -1 Invalid argument\n\
             woken by a child: 1 [6:IN]\n\
             epoll_pwait: -1 Interrupted system call\n\
             SIGALRM blocked again: yes\n\
             outer, inner idle: 0\n\
             outer, inner ready: 1 [71:IN]\n\
             cycle: -1 Too many levels of symbolic links\n\
             nesting: 4 levels, then Too many levels of symbolic links\n\
             fd closed, dup open: 1 [80:IN]\n\
             DEL of the closed fd: -1 Bad file descriptor\n\
             same fd number, new description: ADD 0\n\
             only the new one: 0\n\
             ADD twice: -1 File exists\n\
             MOD missing: -1 No such file or directory\n\
             DEL missing: -1 No such file or directory\n\
             epfd itself: -1 Invalid argument\n\
             not an epoll: -1 Invalid argument\n\
             bad op: -1 Invalid argument\n\
             closed fd: -1 Bad file descriptor\n\
             regular file: -1 Operation not permitted\n\
             EPOLLEXCLUSIVE add: 0\n\
             EPOLLEXCLUSIVE mod: -1 Invalid argument\n\
             EPOLLEXCLUSIVE on an epoll: -1 Invalid argument\n\
             bad event pointer: -1 Bad address\n\
             maxevents 0: -1 Invalid argument\n\
             wait on a pipe: -1 Invalid argument\n\
             wait on a closed fd: -1 Bad file descriptor\n\
             bad flags: -1 Invalid argument\n\
             epoll read: -1 Invalid argument\n",
        );
    }
}

const PY_TIMERS: &str = r##"import os, select, signal, time
hits = []
signal.signal(signal.SIGALRM, lambda s, f: hits.append(s))
signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
while len(hits) < 3:
    pass
left = signal.setitimer(signal.ITIMER_REAL, 0)
print("setitimer:", len(hits), hits[0] == signal.SIGALRM, left[1])
print("alarm:", signal.alarm(5), signal.alarm(0))
r, w = os.pipe()
ep = select.epoll()
ep.register(r, select.EPOLLIN)
print("epoll idle:", ep.poll(0.01))
os.write(w, b"hi")
print("epoll ready:", ep.poll(1) == [(r, select.EPOLLIN)], os.read(r, 2))
t0 = time.monotonic()
signal.setitimer(signal.ITIMER_REAL, 0.03)
print("epoll timeout with SIGALRM (PEP 475 retries):", ep.poll(0.1), time.monotonic() - t0 >= 0.09)
ep.close()
fired = []
signal.signal(signal.SIGVTALRM, lambda s, f: fired.append(s))
signal.setitimer(signal.ITIMER_VIRTUAL, 0.02)
while not fired:
    pass
print("virtual:", fired == [signal.SIGVTALRM], signal.getitimer(signal.ITIMER_VIRTUAL))
"##;

/// Debian's python3 (the root tests/debian.rs uses): signal.setitimer
/// with a handler, signal.alarm, select.epoll over an os.pipe, an epoll
/// wait that a SIGALRM interrupts and Python retries (PEP 475), and
/// ITIMER_VIRTUAL. qemu-riscv64 prints the same.
#[test]
fn python_setitimer_alarm_and_select_epoll() {
    let o = debian_python("pytimers", PY_TIMERS);
    assert_eq!(
        (stdout(&o).as_str(), o.status.code()),
        (
            "setitimer: 3 True 0.01\n\
             alarm: 0 5\n\
             epoll idle: []\n\
             epoll ready: True b'hi'\n\
             epoll timeout with SIGALRM (PEP 475 retries): [] True\n\
             virtual: True (0.0, 0.0)\n",
            Some(0)
        ),
        "stderr: {}",
        stderr(&o)
    );
}

#[test]
fn fdinfo_shows_each_event_file_state() {
    let o = run_guest("fdinfo_events", &[]);
    let out = stdout(&o);
    for want in [
        "eventfd-count:                5\neventfd-semaphore: 1\n",
        "sigmask:\t0000000000000200\n",
        "clockid: 1\nticks: 0\nsettime flags: 00\nit_value: (99, ",
        "it_interval: (2, 0)\n",
        "tfd:        3 events: 80000019 data:             1234  pos:0 ino:0 sdev:0\n",
    ] {
        assert!(out.contains(want), "{want:?} not in:\n{out}");
    }
}
