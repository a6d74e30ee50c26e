//! `--strace`: every system call on stderr in strace's format, for static
//! and dynamic guests (ld.so's calls come first in the latter).

mod common;

use common::*;

static_and_dynamic! {
    fn strace_shows_decoded_calls_results_and_exits(link) {
        let o = link.run(&["--strace"], "strace_me", &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(3), "{err}");
        for line in [
            "openat(AT_FDCWD, \"/no/such/file\", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)\n",
            "pipe2(",
            "write(4, \"ping\\n\", 5) = 5\n",
            "read(3, \"ping\\n\", 8) = 5\n",
            "syscall_4000(0x1, 0x2, 0x3, 0x4, 0x5, 0x6) = -1 ENOSYS (Function not implemented)\n",
            "exit_group(3) = ?\n+++ exited with 3 +++\n",
        ] {
            assert!(err.contains(line), "missing {line:?} in:\n{err}");
        }
        // The program's own output is untouched.
        assert_eq!(stdout(&o), "");
    }

    fn strace_marks_child_processes_with_their_pid(link) {
        let o = link.run(&["--strace"], "fork_vars", &[]);
        let err = stderr(&o);
        assert!(
            err.contains("clone(flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, "),
            "{err}"
        );
        assert!(
            err.contains("[pid     2] exit_group(7) = ?\n[pid     2] +++ exited with 7 +++\n"),
            "{err}"
        );
        assert!(err.contains("wait4(2, "), "{err}");
        // Without --strace, nothing of it.
        let quiet = link.run(&[], "fork_vars", &[]);
        assert!(!stderr(&quiet).contains("exit_group"), "{}", stderr(&quiet));
    }
}
