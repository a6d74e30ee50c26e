//! Threads: clone's thread shape and clone3 through glibc's pthreads,
//! futexes, thread exit and exit_group, signals to threads and to thread
//! groups, execve and fork from threads, robust mutexes, deadlocks among
//! threads, and deterministic scheduling, each program static and dynamic.
//! Expected outputs are qemu-riscv64's (Linux's) except where noted.

mod common;

use common::*;

/// Runs `name`, static and dynamic, and checks its output and exit code.
fn expect(name: &str, out: &str, code: i32) {
    for link in LINKS {
        let o = link.run(&[], name, &[]);
        assert_eq!(stdout(&o), out, "{name} ({link:?}): stderr: {}", stderr(&o));
        assert_eq!(
            o.status.code(),
            Some(code),
            "{name} ({link:?}): stderr: {}",
            stderr(&o)
        );
    }
}

#[test]
fn pthread_create_join_exit_and_detached_threads() {
    expect(
        "threads_basic",
        "thread 0 returned 5000050000\n\
         thread 1 returned 20000100000\n\
         thread 2 returned 45000150001\n\
         thread 3 returned 80000200000\n\
         main: getpid == gettid: 1; thread tids distinct and not the pid: 1\n\
         detached threads done: 8\n\
         50 create/join rounds: 250002500000\n",
        0,
    );
}

/// FUTEX_WAKE with a count of 0 wakes one waiter in Linux (the count is
/// checked after each wake): "wake 0: 1".
#[test]
fn condvars_and_futex_wait_wake_requeue_wake_op_and_timeouts() {
    expect(
        "threads_sync",
        "producer/consumer: sum 204002000 expected 204002000\n\
         broadcast woke all 5\n\
         wait on changed word: -1 EAGAIN\n\
         timed wait: -1 ETIMEDOUT, waited >= 20ms: 1\n\
         absolute realtime wait: -1 ETIMEDOUT\n\
         CLOCK_REALTIME with FUTEX_WAIT: -1 ENOSYS\n\
         unaligned: -1 EINVAL\n\
         cmp_requeue with wrong value: -1 EAGAIN\n\
         cmp_requeue: woke+moved 3\n\
         wake 0: 1\n\
         wake_op: woke 2, word2 now 6\n\
         wake with empty bitset: -1 EINVAL\n\
         wake the rest: 0\n\
         waiters returned 0 0 0 0\n",
        0,
    );
}

/// The LR/SC loops are exact only if a switch between threads clears the
/// reservation (or no switch falls between an LR and its SC).
#[test]
fn atomics_from_four_threads_give_exact_counts() {
    expect(
        "threads_atomics",
        "fetch_add: 1200000 (expected 1200000)\n\
         compare_exchange: 2400000 (expected 2400000)\n\
         lr.d/sc.d: 3600000 (expected 3600000)\n\
         lr.w/sc.w: 1200000 (expected 1200000)\n\
         thread 0 did 300000\n\
         thread 1 did 300000\n\
         thread 2 did 300000\n\
         thread 3 did 300000\n",
        0,
    );
}

#[test]
fn tgkill_targets_a_thread_kill_goes_to_a_thread_not_blocking_it_altstacks_are_per_thread() {
    expect(
        "threads_signals",
        "worker: its altstack is set: 1\n\
         main: no altstack of its own: 1\n\
         tgkill: handled by the worker: 1, signo*1000+code 10001\n\
         tgkill with the wrong tgid: -1\n\
         kill(a thread's tid, 0): 0\n\
         kill: handled by the thread not blocking it: 1, signo*1000+code 10002\n\
         main: SIGUSR1 still pending: 0\n\
         kill from the worker: handled by main: 1\n\
         blocked thread-directed signal not handled: 1\n\
         main: SIGUSR2 pending for main: 0\n\
         blocker: SIGUSR2 pending for it: 1\n",
        0,
    );
}

#[test]
fn exit_group_from_a_thread_ends_every_thread() {
    expect("threads_exit_group", "quitter: exiting the process\n", 7);
}

static_and_dynamic! {
    fn a_fatal_signal_in_one_thread_kills_the_group(link) {
        let o = link.run(&[], "threads_exit_group", &["segv"]);
        assert_eq!(stdout(&o), "quitter: faulting\n", "stderr: {}", stderr(&o));
        assert_eq!(o.status.code(), Some(128 + 11));
        assert!(stderr(&o).contains("SIGSEGV"), "stderr: {}", stderr(&o));
    }

    fn deadlock_among_threads_is_reported_with_tids_and_syscalls(link) {
        let o = link.run(&[], "threads_deadlock", &[]);
        let err = stderr(&o);
        assert_eq!(stdout(&o), "");
        assert!(
            err.contains("deadlock")
                && err.contains("pid 1 (threads_deadloc) in futex")
                && err.contains("tid 2 (threads_deadloc) in futex")
                && err.contains("tid 3 (threads_deadloc) in futex"),
            "stderr: {err}"
        );
        assert_eq!(o.status.code(), Some(128 + 9));
    }

    /// fork from a multi-threaded process in every fork mode: the other
    /// threads' TLBs see the parent's pages write-protected (or its tables
    /// shared) as soon as they run again.
    fn threads_and_fork_agree_in_every_fork_mode(link) {
        for mode in ["copy", "cow", "share-tables"] {
            let o = link.run(&["--fork-mode", mode], "threads_tlb", &[]);
            assert_eq!(
                stdout(&o),
                "remapped page seen by the other thread: 2 (same address 1)\n\
                 write after mprotect in the other thread: SIGSEGV (SEGV_ACCERR)\n\
                 after fork: child saw 7, parent has 9\n",
                "--fork-mode {mode}: stderr: {}",
                stderr(&o)
            );
        }
    }
}

/// qemu-user (8.x) hangs on the thread-shaped clone3; the errnos are
/// kernel/fork.c's (copy_clone_args_from_user, copy_process).
#[test]
fn clone3_checks_its_struct_and_flags_and_makes_processes_and_threads() {
    expect(
        "threads_clone3",
        "size 32: -1 EINVAL\n\
         size 4097: -1 E2BIG\n\
         nonzero bytes past the known struct: -1 E2BIG\n\
         exit signal in flags: -1 EINVAL\n\
         stack without a size: -1 EINVAL\n\
         CLONE_THREAD without CLONE_SIGHAND: -1 EINVAL\n\
         CLONE_SIGHAND without CLONE_VM: -1 EINVAL\n\
         clone: CLONE_THREAD without CLONE_SIGHAND: -1 EINVAL\n\
         fork shape: reaped 1, exit 9\n\
         CLONE_CLEAR_SIGHAND: child saw 11 (11: default, still ignored)\n\
         CLONE_CLEAR_SIGHAND with CLONE_SIGHAND: -1 EINVAL\n\
         posix_spawn: 0, child exit 4\n\
         thread shape: parent_tid == tid: 1, tid != pid: 1, its tp: 0x1234560, cleared: 0\n",
        0,
    );
}

/// qemu-user cannot execve from a thread ("Exec format error" in its
/// binfmt path); the expected output is Linux's de_thread() behaviour.
#[test]
fn execve_from_a_non_leader_thread_keeps_the_pid_and_drops_the_others() {
    expect(
        "threads_exec",
        "thread: tid is not the pid: 1\n\
         after exec: same pid: 1, gettid == pid: 1\n\
         after exec: a new thread returned 42\n",
        5,
    );
}

/// qemu-user's posix_spawn child cannot exec a riscv64 program without
/// binfmt_misc (exit 127); on Linux, as in cowix, it runs and exits 6.
#[test]
fn fork_and_posix_spawn_from_a_thread() {
    expect(
        "threads_fork",
        "child: ticker did not run: 1, gettid == getpid: 1, new thread: 42\n\
         parent: reaped the child: 1, exit 3\n\
         posix_spawn from a thread: 0, reaped 1, exit 6\n\
         parent: ticker still runs\n",
        0,
    );
}

/// qemu-user ignores set_robust_list (the lock hangs there); this is
/// Linux's exit_robust_list behaviour.
#[test]
fn robust_mutex_of_a_dead_thread_gives_eownerdead() {
    expect(
        "threads_robust",
        "lock after the owner died: EOWNERDEAD\n\
         consistent: 0\n\
         lock again: 0\n",
        0,
    );
}

#[test]
fn condvar_ping_pong_between_two_threads() {
    expect("threads_pingpong", "passes: 20000 20000\n", 0);
}

/// The scheduler is round-robin in instruction quanta on one host thread:
/// the same program interleaves its threads the same way every run.
#[test]
fn threaded_runs_are_deterministic() {
    for link in LINKS {
        for name in ["threads_interleave", "threads_atomics", "threads_sync"] {
            let a = link.run(&[], name, &[]);
            let b = link.run(&[], name, &[]);
            assert_eq!(stdout(&a), stdout(&b), "{name} ({link:?})");
            assert_eq!(a.status.code(), b.status.code(), "{name} ({link:?})");
        }
    }
    let log = stdout(&run_guest("threads_interleave", &[]));
    let log = log.trim_end();
    assert_eq!(log.len(), 120, "{log}");
    for c in ['a', 'b', 'c'] {
        assert_eq!(log.matches(c).count(), 40, "{log}");
    }
    // Preempted mid-loop: the threads' entries are interleaved, not in three runs.
    let runs = 1 + log.as_bytes().windows(2).filter(|w| w[0] != w[1]).count();
    assert!(runs > 10, "{log}");
}

/// A futex word in MAP_SHARED memory is keyed by its frame, so a parent
/// and its child meet on it (and on process-shared pthread objects).
#[test]
fn shared_futexes_work_across_processes() {
    expect(
        "futex_shared",
        "parent: woke 1\n\
         child: woken: 0, word 1\n\
         parent: child signalled the shared condvar, exit 0\n",
        0,
    );
}

/// qemu-user shows one more task (its own RCU thread); Linux shows 4.
#[test]
fn proc_shows_every_thread_of_the_group() {
    expect(
        "threads_proc",
        "task entries: 4, all ours: 1\n\
         a thread's task dir exists: 1\n\
         Threads:\t4\n\
         thread-self names the caller: 1\n",
        0,
    );
}

#[test]
fn a_signal_interrupts_a_futex_wait_or_restarts_it() {
    expect(
        "threads_futex_intr",
        "no SA_RESTART: handler ran 1, wait returned -1 EINTR, still waiting after it: 0\n\
         SA_RESTART: handler ran 1, wait returned 0 , still waiting after it: 1\n\
         SA_RESTART with a timeout: handler ran 1, wait returned -1 EINTR, still waiting after it: 0\n",
        0,
    );
}

/// Each thread has its own software TLB over the shared address space; a
/// change by one thread (its TLB generation moves) flushes the others'
/// before they run again. Without that, the reader would keep the
/// unmapped frame, write through a read-only mapping, and write into the
/// frame the fork child shares.
#[test]
fn a_thread_never_uses_a_stale_translation_after_another_changes_the_memory() {
    expect(
        "threads_tlb",
        "remapped page seen by the other thread: 2 (same address 1)\n\
         write after mprotect in the other thread: SIGSEGV (SEGV_ACCERR)\n\
         after fork: child saw 7, parent has 9\n",
        0,
    );
}

/// Bad pointers, flags, sizes and ids to futex, clone, clone3, tkill,
/// tgkill and set_robust_list, and a thread that exits with a looping
/// robust list and an unmapped clear_child_tid: errnos, no host panic.
#[test]
fn hostile_thread_syscalls_get_errnos() {
    expect(
        "threads_hostile",
        "futex errnos as expected: 1\nsurvived\n",
        0,
    );
}

/// Matches qemu-riscv64 (Linux): policies are kept per thread, not acted on.
#[test]
fn scheduling_policies_are_per_thread_with_linux_checks() {
    expect(
        "threads_sched",
        "FIFO 1..99, RR 1..99, OTHER 0..0, BATCH 0..0\n\
         priority max of policy 42: -1 EINVAL\n\
         getscheduler: 0\n\
         OTHER with priority 5: -1 EINVAL\n\
         policy 42: -1 EINVAL\n\
         FIFO priority 100: -1 EINVAL\n\
         getparam(NULL): -1 EINVAL\n\
         getscheduler(-1): -1 EINVAL\n\
         getscheduler(no such pid): -1 ESRCH\n\
         BATCH: 0\n\
         getscheduler: 3\n\
         a new thread's policy: 3\n\
         IDLE with RESET_ON_FORK: 0\n\
         getscheduler: 1073741829\n\
         a new thread's policy: 5\n\
         getparam: 0\n\
         setparam 3 under IDLE: -1 EINVAL\n",
        0,
    );
}

/// comm is per thread (task_struct.comm): a new thread inherits its
/// creator's, PR_SET_NAME/PR_GET_NAME act on the caller, /proc/PID/comm
/// is the leader's and /proc/PID/task/TID/{comm,stat,status} the
/// thread's; pthread_setname_np on another thread writes its task comm
/// file; another process's comm is not writable (EINVAL, comm_write); an
/// exec from a non-leader thread names the new leader after the program.
/// qemu-riscv64 prints the same up to the exec (it cannot exec
/// /proc/self/exe as a guest): checked when it is installed.
#[test]
fn comm_is_per_thread() {
    if let Ok(want) = std::process::Command::new("qemu-riscv64")
        .arg(guest("threads_comm"))
        .output()
    {
        let want = String::from_utf8_lossy(&want.stdout).into_owned();
        assert!(want.contains("write parent's comm"), "qemu: {want}");
        let got = stdout(&run_guest("threads_comm", &[]));
        assert!(got.starts_with(&want), "cowix:\n{got}\nqemu:\n{want}");
    }
    expect(
        "threads_comm",
        "worker inherits: main-thread-wit\n\
         main: main-thread-wit\n\
         /proc/self/comm: main-thread-wit\n\
         task comm: worker-one\n\
         task stat starts with tid (comm): 1\n\
         task status: Name:\tworker-one\n\
         task comm: main-thread-wit\n\
         pthread_setname_np: 0\n\
         pthread_getname_np: 0 renamed\n\
         worker now: renamed\n\
         write comm: 8\n\
         main after write: via-proc\n\
         child inherits: via-proc\n\
         write parent's comm: -1 Invalid argument\n\
         after exec: threads_comm, pid==tid 1\n\
         /proc/self/comm: threads_comm\n",
        0,
    );
}
