//! Sockets (tests/guest/sockets_*.c): AF_UNIX and loopback TCP/UDP between
//! guest processes, compared line by line with qemu-riscv64, which passes
//! the calls to the host's Linux (a faithful oracle for loopback); and
//! what only cowix can be held to (no network but loopback, arguments
//! qemu translates), against the exact expected output. Debian's python3
//! uses them through its socket, socketserver and multiprocessing modules.

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
            "sendmmsg, recvmmsg, select",
            "SO_RCVTIMEO and SO_SNDTIMEO",
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
            "sendfile",
            "epoll",
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

/// Debian's python3: socket.socketpair() across fork, a TCP echo through
/// socketserver.ForkingTCPServer (a process per connection) and
/// multiprocessing.connection's Listener/Client with authentication; then
/// a TCP connection to "localhost", a name from the root's /etc/hosts
/// (which scripts/fetch-debian writes, as the installer does).
const PY_SOCKETS: &str = r#"import os, socket, socketserver
a, b = socket.socketpair()
a.sendall(b"ping")
print("socketpair:", b.recv(10), a.family.name, a.type.name)
pid = os.fork()
if pid == 0:
    a.close()
    d = b.recv(100)
    b.sendall(d.upper())
    os._exit(0)
b.close()
a.sendall(b"across fork")
print("fork:", a.recv(100), os.waitpid(pid, 0)[1])

class Upper(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(self.rfile.readline().upper())

srv = socketserver.ForkingTCPServer(("127.0.0.1", 0), Upper)
port = srv.server_address[1]
pid = os.fork()
if pid == 0:
    for _ in range(3):
        srv.handle_request()
    srv.server_close()
    os._exit(0)
srv.server_close()
for i in range(3):
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(b"hello %d\n" % i)
        print("tcp:", c.makefile("rb").readline())
print("server exit", os.waitpid(pid, 0)[1])

from multiprocessing.connection import Listener, Client
with Listener(("127.0.0.1", 0), authkey=b"k") as l:
    pid = os.fork()
    if pid == 0:
        with Client(l.address, authkey=b"k") as c:
            c.send({"n": 41})
            c.send(c.recv() + 1)
        os._exit(0)
    with l.accept() as conn:
        m = conn.recv()
        conn.send(m["n"])
        print("multiprocessing:", m, conn.recv())
    print("client exit", os.waitpid(pid, 0)[1])
names = {ai[4][0] for ai in socket.getaddrinfo("localhost", 80)}
srv = socket.create_server(("localhost", 0))
cli = socket.create_connection(("localhost", srv.getsockname()[1]))
conn, _ = srv.accept()
cli.sendall(b"hi")
print("localhost:", "127.0.0.1" in names, conn.recv(2))
"#;

#[test]
fn python_socketpair_socketserver_and_multiprocessing_connection() {
    let o = debian_python("pysock", PY_SOCKETS);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "socketpair: b'ping' AF_UNIX SOCK_STREAM\n\
         fork: b'ACROSS FORK' 0\n\
         tcp: b'HELLO 0\\n'\n\
         tcp: b'HELLO 1\\n'\n\
         tcp: b'HELLO 2\\n'\n\
         server exit 0\n\
         multiprocessing: {'n': 41} 42\n\
         client exit 0\n\
         localhost: True b'hi'\n",
        "stderr: {}",
        stderr(&o)
    );
}
