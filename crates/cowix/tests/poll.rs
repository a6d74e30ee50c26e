//! ppoll, pselect6 and close_range (tests/guest/poll.c) compared line by
//! line with qemu-riscv64, which passes them to the host's Linux: ready
//! and hung-up pipes, POLLNVAL, timeouts, waking on another process's
//! write, EINTR under SA_RESTART, the temporary signal mask, argument
//! errors, and /proc/self/fd listed anew after a rewind.

mod common;

use common::*;

static_and_dynamic! {
    fn ppoll_pselect6_and_close_range_behave_as_on_linux(link) {
        let got = link.run(&[], "poll", &[]);
        let want = link
            .qemu("poll", &[])
            .expect("qemu-riscv64 is needed (scripts/test installs it)");
        assert_eq!(want.status.code(), Some(0), "qemu: {}", stderr(&want));
        assert_eq!(stdout(&got), stdout(&want), "stderr: {}", stderr(&got));
        assert_eq!(got.status.code(), Some(0));
        for section in [
            "ppoll",
            "signals",
            "hang-ups",
            "pselect6",
            "close_range",
            "/proc/self/fd",
        ] {
            assert!(stdout(&got).contains(&format!("== {section}\n")));
        }
    }
}
