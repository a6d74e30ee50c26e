//! Sockets (tests/guest/sockets_*.c): AF_UNIX and loopback TCP/UDP between
//! guest processes, compared line by line with qemu-riscv64, which passes
//! the calls to the host's Linux (a faithful oracle for loopback); and
//! what only cowix can be held to (no network but loopback, arguments
//! qemu translates), against the exact expected output.

mod common;

use common::*;

/// Runs guest `name` under cowix and under qemu-riscv64; both must exit 0
/// with the same output, which must contain every `sections` heading.
fn same_as_linux(name: &str, sections: &[&str]) {
    let g = guest(name);
    let got = cowix(["run".as_ref(), "--".as_ref(), g.as_os_str()]);
    let want = std::process::Command::new("qemu-riscv64")
        .arg(&g)
        .output()
        .expect("qemu-riscv64 is needed (scripts/test installs it)");
    assert_eq!(want.status.code(), Some(0), "qemu: {}", stderr(&want));
    assert_eq!(stdout(&got), stdout(&want), "stderr: {}", stderr(&got));
    assert_eq!(got.status.code(), Some(0));
    for section in sections {
        assert!(
            stdout(&got).contains(&format!("== {section}\n")),
            "missing section {section}"
        );
    }
}

#[test]
fn unix_sockets_behave_as_on_linux() {
    same_as_linux(
        "sockets_unix",
        &[
            "socketpair echo",
            "message boundaries",
            "path server",
            "abstract names",
            "SCM_RIGHTS",
            "EPIPE and ECONNRESET",
            "options and errors",
            "done",
        ],
    );
}

#[test]
fn loopback_tcp_and_udp_behave_as_on_linux() {
    same_as_linux(
        "sockets_inet",
        &[
            "TCP echo server",
            "names and shutdown",
            "nonblocking connect and accept",
            "UDP",
            "IPv6 loopback",
            "done",
        ],
    );
}

#[test]
fn the_guest_network_is_loopback_only_and_waits_end() {
    let got = run_guest("sockets_isolated", &[]);
    assert_eq!(got.status.code(), Some(0), "stderr: {}", stderr(&got));
    assert_eq!(
        stdout(&got),
        "\
== only loopback
connect 10.1.2.3: -1 Network is unreachable
sendto 8.8.8.8: -1 Network is unreachable
bind 10.1.2.3: -1 Cannot assign requested address
bind 127.0.0.2: 0
connect 2001:db8::1: -1 Network is unreachable
== argument checks
socket type 99: -1 Invalid argument
socket type with bit 0x100: -1 Invalid argument
socket AF_INET SOCK_SEQPACKET: -1 Socket type not supported
socket AF_NETLINK: -1 Address family not supported by protocol
room for 2 of 3 fds: got 2 MSG_CTRUNC 1
== blocking
drained 1048576 bytes; writer exit 0
blocking accept 1
poll waits for data: 1
read: 4
late; child exit 0
read EOF: 0
== done
"
    );
}
