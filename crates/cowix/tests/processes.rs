//! Many processes: fork (copy-on-write), vfork, execve, wait4, pipes,
//! signals between processes, on glibc guests from tests/guest (static and
//! dynamic) and,
//! when it can be fetched, Debian's busybox.

mod common;

use common::*;

static_and_dynamic! {
    fn fork_gives_each_process_its_own_copy_of_written_pages(link) {
        let o = link.run(&["--stats"], "fork_vars", &[]);
        assert_eq!(
            stdout(&o),
            "child: p = C, number = 11, global = 2, parent is getppid()\n\
             parent: p = P, number = 14, global = 1\n\
             child exited 7\n",
            "stderr: {}",
            stderr(&o)
        );
        assert_eq!(o.status.code(), Some(0));
        assert!(stat_value(&stderr(&o), "COW copy") > 0, "{}", stderr(&o));
    }

    fn open_file_offsets_are_shared_across_fork(link) {
        let dir = link.scratch("fork_fd");
        let file = format!("{}/f.txt", dir.guest());
        let o = link.run(&[], "fork_fd", &[&file]);
        assert_eq!(
            stdout(&o),
            "child read ab\nparent read 3: cde (offset 5)\n",
            "stderr: {}",
            stderr(&o)
        );
        assert_eq!(o.status.code(), Some(0));
    }

    fn forked_child_execs_another_program_and_is_waited_for(link) {
        let echo = link.guest("echo_args");
        let o = link.run(&[], "fork_exec", &[&echo]);
        assert_eq!(
            stdout(&o),
            "execv missing: No such file or directory\nargc=3\nargv[0]=echo_args\nargv[1]=x\nargv[2]=y z\nenv=K=V\n\
             waited ok, exited=1 status=0\n",
            "stderr: {}",
            stderr(&o)
        );
    }

    /// Linux semantics: the vfork child runs in the parent's memory while the
    /// parent waits, so the parent sees what the child wrote. (qemu-user runs
    /// vfork as fork, and there the parent would see 0.)
    fn vfork_child_writes_are_seen_by_the_suspended_parent(link) {
        let echo = link.guest("echo_args");
        let o = link.run(&[], "vfork_exec", &[&echo]);
        assert_eq!(
            stdout(&o),
            "after _exit: shared = 42, status 3\nargc=2\nargv[0]=echo_args\nargv[1]=from-vfork\n\
             after exec: shared = 99\nstatus 0\n",
            "stderr: {}",
            stderr(&o)
        );
    }

    fn wait_reports_exit_codes_and_signals_as_linux(link) {
        let o = link.run(&[], "wait_status", &[]);
        assert_eq!(
            stdout(&o),
            "exit 3: raw=0x300 exited=1 code=3 signaled=0\n\
             SIGSEGV: raw=0xb exited=0 signaled=1 sig=11 core=0\n\
             abort: raw=0x6 exited=0 signaled=1 sig=6 core=0\n\
             no children: -1\n\
             WNOHANG poll: raw=0x300 exited=1 code=3 signaled=0\n",
            "stderr: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("killed by SIGSEGV"));
    }

    fn pipes_carry_data_block_and_report_eof_and_epipe(link) {
        let o = link.run(&[], "pipes", &[]);
        assert_eq!(
            stdout(&o),
            "read 100000 bytes then EOF (0), child status 0\nwriter: signaled=1 sig=13\nignored: write=-1 errno=Broken pipe\n",
            "stderr: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("child wrote 100000"));
    }

    fn fifty_children_are_reaped_and_leak_no_frame(link) {
        let o = link.run(&["--stats"], "many_forks", &[]);
        assert_eq!(
            stdout(&o),
            "reaped 50 children, exit codes sum 147, parent data intact 1\n",
            "stderr: {}",
            stderr(&o)
        );
        let e = stderr(&o);
        assert_eq!(
            stat_value(&e, "in use"),
            stat_value(&e, "page cache"),
            "frames leaked: {e}"
        );
        assert!(stat_value(&e, "COW copy") >= 50, "{e}");
    }
}

/// Debian's busybox sh running `script` (common::busybox_sh_with).
fn busybox_sh(script: &str) -> std::process::Output {
    busybox_sh_with(&[], script)
}

/// A sleeping process does not hold up the others: the background job's
/// short sleep ends while the shell sleeps longer.
#[test]
fn busybox_background_jobs_sleep_concurrently() {
    let o = busybox_sh("(busybox sleep 0.1; echo late) & echo now; busybox sleep 1; echo done");
    assert_eq!(stdout(&o), "now\nlate\ndone\n", "stderr: {}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
}

/// ash's `wait` builtin sleeps in sigsuspend until its SIGCHLD handler
/// runs; `wait $!` reports the job's exit status.
#[test]
fn busybox_wait_builtin_waits_for_background_jobs() {
    let o = busybox_sh(
        "busybox true & wait; echo after; (exit 7) & wait $!; echo status $?; \
                        busybox sleep 0.05 & busybox sleep 0.1 & wait; echo both",
    );
    assert_eq!(
        stdout(&o),
        "after\nstatus 7\nboth\n",
        "stderr: {}",
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn busybox_sh_runs_pipelines_subshells_and_commands() {
    // Debian's root has no applet links: commands go through `busybox NAME`.
    let script = "echo $(echo sub); (exit 3); echo $?; for i in 1 2 3; do echo $i; done | busybox cat; \
                  busybox ls /usr/bin | busybox head -1; busybox sh -c 'kill -9 $$'; echo killed $?; exit 5";
    let o = busybox_sh_with(&[], script);
    assert_eq!(
        stdout(&o),
        "sub\n3\n1\n2\n3\nbusybox\nkilled 137\n",
        "stderr: {}",
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(5));
}

static_and_dynamic! {
    fn processes_all_blocked_on_each_other_are_reported_and_killed(link) {
        let o = link.run(&[], "deadlock", &[]);
        assert_eq!(o.status.code(), Some(128 + 9), "stderr: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("deadlock: every process is blocked: pid 1 (deadlock) in read, pid 2 (deadlock) in read"), "{e}");
    }

    fn failed_execs_return_linux_errnos_and_scripts_run_their_interpreter(link) {
        let dir = link.scratch("exec_errors");
        let d = dir.guest();
        let e = link.guest("echo_args");
        let o = link.run(&[], "exec_errors", &[d, &e]);
        let expected = format!(
            "missing: ENOENT\nplain.txt: EACCES\ngarbage: ENOEXEC\nbadinterp: ENOENT\nempty_shebang: ENOEXEC\ngarbage: E2BIG\nstill here\n\
             argc=4\nargv[0]={e}\nargv[1]=-opt  with space\nargv[2]={d}/script\nargv[3]=arg1\nscript: status 0\n\
             argc=5\nargv[0]={e}\nargv[1]=-opt  with space\nargv[2]={d}/script\nargv[3]={d}/nested\nargv[4]=arg2\nnested: status 0\n"
        );
        assert_eq!(stdout(&o), expected, "stderr: {}", stderr(&o));
        assert_eq!(o.status.code(), Some(0));
    }

    /// qemu-riscv64 runs the guest on the host's Linux kernel: where it does not
    /// differ from Linux (everything but vfork), its output is the oracle.
    fn outputs_match_qemu_user_on_the_host_kernel(link) {
        for name in [
            "fork_vars",
            "wait_status",
            "pipes",
            "many_forks",
            "kill_pgid",
        ] {
            let Some(want) = link.qemu(name, &[]) else {
                eprintln!("qemu-riscv64 is not installed (scripts/test installs it); skipped");
                return;
            };
            let got = link.run(&[], name, &[]);
            assert_eq!(
                stdout(&got),
                String::from_utf8_lossy(&want.stdout),
                "{name}: stderr {}",
                stderr(&got)
            );
            assert_eq!(got.status.code(), want.status.code(), "{name}");
        }
    }
}

#[test]
fn kill_reaches_other_processes_and_groups_sessions_and_waitid_work() {
    let o = run_guest("kill_pgid", &[]);
    assert_eq!(
        stdout(&o),
        "kill busy child: 0\nchild: signaled=1 sig=15\nkill reaped child: -1 No such process\n\
         child own group 1, setsid as leader refused 1\n\
         waitid nowait: 0 code=1 status=4 pid ok 1\nkill zombie: 0\nwaitid: 0 code=1 status=4\n\
         waitpid after: -1 No child processes\nsame session as child would be: 1\n",
        "stderr: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("(pid 2) killed by SIGTERM: sent by pid 1"),
        "{}",
        stderr(&o)
    );
}

/// vfork from a thread suspends the calling thread alone
/// (kernel/fork.c: wait_for_vfork_done): the group's other thread counts
/// on while the child, on the same memory, waits for the count to move,
/// then execs; the parent thread resumes after the exec and sees the
/// child's write. qemu-user runs vfork as fork, so there the child sees
/// no movement; this is Linux's answer.
#[test]
fn vfork_from_a_thread_suspends_only_that_thread() {
    expect_in_every_fork_mode(
        "vfork_thread",
        "child saw the counter move: 1\n\
         exec'd child: pid 1\n\
         parent resumed after the exec: sees the child's write 1, counter moved 1\n\
         child exit status 5\n\
         second child exit status 9\n",
    );
}

/// clone(CLONE_VM | SIGCHLD) makes a process, not a thread: its own pid,
/// fd table and handlers on the parent's address space; wait4 reaps it;
/// memory it mapped outlives it (the space is shared); its exec leaves the
/// parent's memory intact. CLONE_FILES (with or without CLONE_VM) shares
/// the fd table both ways until the child execs (unshare_files, then
/// close-on-exec in its own copy). A private futex is the address space's:
/// the parent's FUTEX_WAKE reaches the child's wait. CLONE_FS shares the
/// working directory and umask (copy_fs), CLONE_SIGHAND the handlers
/// until an exec (unshare_sighand). smaps is per address space, so both
/// users show the same Rss. A child whose exit signal is
/// not SIGCHLD is waited for only with __WCLONE or __WALL (eligible_child).
/// copy_process's flag
/// rules give EINVAL.
/// qemu-user refuses CLONE_VM without CLONE_THREAD (EINVAL); this is
/// Linux's answer.
#[test]
fn clone_vm_without_thread_is_a_process_sharing_memory() {
    expect_in_every_fork_mode(
        "clone_vm",
        "reaped 1, exit 7\n\
         child had its own pid: 1\n\
         shared write seen: 42\n\
         child's fd 20 in parent: -1 (Bad file descriptor)\n\
         parent's SIGUSR1 still default: 1\n\
         child's mapping after its exit: mapped by the child\n\
         exec'd: hello\n\
         after the child's exec: exit 3, shared 99, word hello, map mapped by the child\n\
         parent's heap still works: 1\n\
         CLONE_FILES child: exit 0, its fd 21 open here 1, fd 22 it closed open here 0\n\
         fork with CLONE_FILES closed fd 21 here too: 1\n\
         exec'd: files\n\
         after a CLONE_FILES child's exec: exit 3, close-on-exec fd 23 still open here 1\n\
         futex child woken: exit 5\n\
         CLONE_VM: exit 0, chdir seen 0, umask seen 0\n\
         CLONE_VM|CLONE_FS: exit 0, chdir seen 1, umask seen 1\n\
         smaps_rollup Rss the same for both users of the space: 1\n\
         CLONE_SIGHAND child's SIG_IGN seen here: 1\n\
         exec'd: hello\n\
         after its exec: exit 3, my SIGUSR2 handler kept 1\n\
         plain wait for a clone child: -1 ECHILD\n\
         __WCLONE wait: reaped 1, exit 7\n\
         __WALL wait for a child with no exit signal: reaped 1, exit 7\n\
         CLONE_SIGHAND without CLONE_VM: -1 Invalid argument\n\
         CLONE_THREAD without CLONE_SIGHAND: -1 Invalid argument\n",
    );
}

/// Runs guest `name` with `--stats` in each fork mode: it must print
/// `expected`, exit 0 and leave no frame in use beyond the page cache.
fn expect_in_every_fork_mode(name: &str, expected: &str) {
    for mode in ["cow", "copy", "share-tables"] {
        let o = cowix([
            "run",
            "--fork-mode",
            mode,
            "--stats",
            "--",
            guest(name).to_str().unwrap(),
        ]);
        assert_eq!(stdout(&o), expected, "{mode}: stderr: {}", stderr(&o));
        assert_eq!(o.status.code(), Some(0), "{mode}");
        let e = stderr(&o);
        assert_eq!(
            stat_value(&e, "in use"),
            stat_value(&e, "page cache"),
            "{mode}: frames leaked: {e}"
        );
    }
}
