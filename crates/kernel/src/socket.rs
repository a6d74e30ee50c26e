//! Sockets: AF_UNIX (net/unix/af_unix.c) and loopback-only AF_INET /
//! AF_INET6 (net/ipv4/tcp.c, udp.c), as in-kernel byte and message
//! channels between guest processes.
//!
//! Isolation: cowix never touches host networking. The guest lives in a
//! network namespace whose only interface is `lo` (127.0.0.0/8 and ::1);
//! a connection or datagram to any other address fails with ENETUNREACH.
//! AF_UNIX names bound to paths create a socket node in the host directory
//! under `--root` (so `stat` and `unlink` see it), but connecting looks the
//! socket up by that node's identity (st_dev, st_ino) in [`Net`], never
//! through a host socket.
//!
//! This module knows nothing of guest memory or syscall arguments: it
//! moves [`Msg`]s between [`Socket`]s and says "would block" with EAGAIN;
//! blocking, signals and copying are the syscall layer's business
//! (`syscall/net.rs`), as for pipes.
//!
//! Lifetime: an open file description holds its socket (`Rc`); a
//! connected peer and the name tables hold only `Weak` references, so the
//! last close drops the socket, and its `Drop` tells the peer (EOF, or
//! ECONNRESET if data was left unread, as unix_release_sock() and
//! tcp_close() do). A listening socket's queue holds the not yet accepted
//! server ends; file descriptions in flight (SCM_RIGHTS) are held by the
//! message carrying them.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::rc::{Rc, Weak};

use crate::errno::Errno;
use crate::fd::FileRef;

pub const AF_UNSPEC: u16 = 0;
pub const AF_UNIX: u16 = 1;
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

/// net.core.wmem_default / rmem_default: the default SO_SNDBUF/SO_RCVBUF
/// of AF_UNIX and UDP sockets, and how much a receive queue holds here.
pub const DEFAULT_BUF: usize = 212_992;
/// What one queued message costs against a buffer besides its bytes
/// (roughly an sk_buff's truesize overhead).
const MSG_OVERHEAD: usize = 512;
/// Largest UDP payload over IPv4 (65535 - 20 - 8).
pub const UDP_MAX: usize = 65_507;
/// The ephemeral port range (net.ipv4.ip_local_port_range).
pub const EPHEMERAL: (u16, u16) = (32768, 60999);

/// The socket type (SOCK_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Stream = 1,
    Dgram = 2,
    Seqpacket = 5,
}

impl Kind {
    /// Connection-oriented types (stream and seqpacket).
    pub fn connected(self) -> bool {
        self != Kind::Dgram
    }
    /// Types that keep message boundaries (dgram and seqpacket).
    pub fn messages(self) -> bool {
        self != Kind::Stream
    }
}

/// A socket address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addr {
    /// `sun_path` as bound: empty for an unnamed socket, a leading NUL for
    /// the abstract namespace, otherwise a path (without its NUL).
    Unix(Vec<u8>),
    Inet(SocketAddr),
}

/// Credentials of a process (struct ucred), as SO_PEERCRED and
/// SCM_CREDENTIALS carry them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Ucred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// One queued message (one skb): for a stream its bytes are read in
/// pieces (`off` of them consumed so far).
#[derive(Debug, Default)]
pub struct Msg {
    pub data: Vec<u8>,
    pub off: usize,
    /// The sender's address (datagrams).
    pub from: Option<Addr>,
    /// File descriptions passed with SCM_RIGHTS.
    pub fds: Vec<FileRef>,
    /// Credentials passed with SCM_CREDENTIALS (or added for SO_PASSCRED).
    pub cred: Option<Ucred>,
}

impl Msg {
    fn left(&self) -> usize {
        self.data.len() - self.off
    }
    fn cost(&self) -> usize {
        self.data.len() + MSG_OVERHEAD
    }
}

/// Connection state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// TCP_CLOSE: not connected (a datagram socket may still have a
    /// default peer).
    Unconnected,
    Listening,
    Connected,
}

pub type SockRef = Rc<RefCell<Socket>>;

/// A socket (struct sock).
#[derive(Debug)]
pub struct Socket {
    pub domain: u16,
    pub kind: Kind,
    pub protocol: i32,
    /// sockfs inode number, shown as `socket:[N]`.
    pub ino: u64,
    pub state: State,
    /// The bound name (None: not bound).
    pub local: Option<Addr>,
    /// The connected peer (a datagram socket's default destination).
    pub peer: Option<Weak<RefCell<Socket>>>,
    /// The peer's name, for getpeername.
    pub peer_addr: Option<Addr>,
    /// listen(2): the backlog and the connections not yet accepted.
    pub backlog: usize,
    pub queue: VecDeque<SockRef>,
    /// The receive queue and what it holds (bytes plus overhead).
    pub rx: VecDeque<Msg>,
    pub rx_cost: usize,
    /// RCV_SHUTDOWN / SEND_SHUTDOWN (sk_shutdown).
    pub rcv_shut: bool,
    pub snd_shut: bool,
    /// sk_err: reported once, by the next call or SO_ERROR.
    pub err: Option<Errno>,
    /// The connected peer was released.
    pub peer_gone: bool,
    /// TCP: the peer was released and one write already met its RST; the
    /// next write fails with EPIPE.
    pub reset: bool,
    /// A server end still in a listener's queue (an "embryo").
    pub embryo: bool,
    /// TCP: a nonblocking connect returned EINPROGRESS; the next connect
    /// returns 0.
    pub connecting: bool,
    /// The creator's credentials (sk_peer_cred of the other side).
    pub cred: Ucred,
    /// SO_PEERCRED.
    pub peer_cred: Option<Ucred>,
    /// setsockopt values kept as given (level, name) -> bytes.
    pub opts: BTreeMap<(i32, i32), Vec<u8>>,
    pub rcvbuf: usize,
    pub sndbuf: usize,
    /// Wakeups of this socket's readers (sk_data_ready, sk_state_change:
    /// data or a connection queued, a shutdown, the peer gone, an error),
    /// for epoll's edge triggering.
    pub wakes_in: u64,
    /// Wakeups of the peer's writers: reads that made room in a full
    /// receive queue (sk_write_space).
    pub wakes_out: u64,
}

/// sockfs inode numbers, handed out in creation order per host thread
/// (as pipes' are, so a run numbers its sockets the same way every time).
fn next_ino() -> u64 {
    thread_local!(static NEXT: std::cell::Cell<u64> = const { std::cell::Cell::new(5026532000) });
    NEXT.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

impl Socket {
    /// A new unconnected, unbound socket of the caller `cred`.
    pub fn new(domain: u16, kind: Kind, protocol: i32, cred: Ucred) -> SockRef {
        let (rcvbuf, sndbuf) = match (domain, kind) {
            // tcp_rmem[1], tcp_wmem[1]
            (AF_INET | AF_INET6, Kind::Stream) => (131_072, 16_384),
            _ => (DEFAULT_BUF, DEFAULT_BUF),
        };
        Rc::new(RefCell::new(Socket {
            domain,
            kind,
            protocol,
            ino: next_ino(),
            state: State::Unconnected,
            local: None,
            peer: None,
            peer_addr: None,
            backlog: 0,
            queue: VecDeque::new(),
            rx: VecDeque::new(),
            rx_cost: 0,
            rcv_shut: false,
            snd_shut: false,
            err: None,
            peer_gone: false,
            reset: false,
            embryo: false,
            connecting: false,
            cred,
            peer_cred: None,
            opts: BTreeMap::new(),
            rcvbuf,
            sndbuf,
            wakes_in: 0,
            wakes_out: 0,
        }))
    }

    /// socketpair(2) (unix_socketpair()): two connected AF_UNIX sockets,
    /// each the other's peer, both with the caller's credentials.
    pub fn pair(kind: Kind, cred: Ucred) -> (SockRef, SockRef) {
        let a = Socket::new(AF_UNIX, kind, 0, cred);
        let b = Socket::new(AF_UNIX, kind, 0, cred);
        for (x, y) in [(&a, &b), (&b, &a)] {
            let mut s = x.borrow_mut();
            s.peer = Some(Rc::downgrade(y));
            s.peer_addr = Some(Addr::Unix(Vec::new()));
            s.peer_cred = Some(cred);
            if kind.connected() {
                s.state = State::Connected;
            }
        }
        (a, b)
    }

    pub fn is_inet(&self) -> bool {
        self.domain != AF_UNIX
    }

    /// The connected peer, if it is still there.
    pub fn peer(&self) -> Option<SockRef> {
        self.peer.as_ref().and_then(Weak::upgrade)
    }

    /// An integer option as stored by setsockopt (0 if never set).
    pub fn opt_int(&self, level: i32, name: i32) -> i32 {
        self.opts
            .get(&(level, name))
            .and_then(|v| v.get(..4))
            .map_or(0, |b| i32::from_le_bytes(b.try_into().unwrap()))
    }

    /// Whether a message costing `cost` fits in the receive queue (an
    /// empty queue takes anything, so a large message is never stuck).
    fn room_for(&self, cost: usize) -> bool {
        self.rx.is_empty() || self.rx_cost + cost <= self.capacity()
    }

    /// How much the receive queue holds (SO_RCVBUF, at least the default).
    fn capacity(&self) -> usize {
        self.rcvbuf.max(DEFAULT_BUF)
    }

    /// Bytes waiting, or the first datagram's size: FIONREAD (unix_inq_len()).
    pub fn available(&self) -> usize {
        if self.kind == Kind::Dgram {
            self.rx.front().map_or(0, Msg::left)
        } else {
            self.rx.iter().map(Msg::left).sum()
        }
    }

    /// Queues `m` for reading (unix_stream_sendmsg's skb_queue_tail()).
    pub fn deliver(&mut self, m: Msg) {
        self.wakes_in += 1;
        self.rx_cost += m.cost();
        self.rx.push_back(m);
    }

    /// Takes the pending error (sock_error()).
    pub fn take_err(&mut self) -> Option<Errno> {
        self.err.take()
    }

    /// The poll events of this socket (unix_poll(), unix_dgram_poll(),
    /// tcp_poll(), udp_poll()): POLLIN with data queued, a connection
    /// waiting on a listener, or the peer's end shut (then also
    /// POLLRDHUP); POLLHUP when both directions are shut or a
    /// connection-oriented socket is not connected; POLLOUT while a send
    /// would not block; POLLERR with an error pending.
    pub fn poll_events(&self) -> u16 {
        use crate::syscall::poll::{
            POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP, POLLRDNORM, POLLWRNORM,
        };
        const IN: u16 = POLLIN | POLLRDNORM;
        const OUT: u16 = POLLOUT | POLLWRNORM;
        if self.state == State::Listening {
            return if self.queue.is_empty() { 0 } else { IN };
        }
        let mut m = 0;
        if self.err.is_some() {
            m |= POLLERR;
        }
        if self.rcv_shut {
            m |= IN | POLLRDHUP;
        }
        if (self.rcv_shut && self.snd_shut)
            || (self.kind.connected() && self.state == State::Unconnected)
        {
            m |= POLLHUP;
        }
        if !self.rx.is_empty() {
            m |= IN;
        }
        let writable = match self.peer() {
            Some(p) => p
                .try_borrow()
                .map_or(true, |p| p.room_for(MSG_OVERHEAD + 1)),
            None => true,
        };
        if writable {
            m |= OUT;
        }
        m
    }

    /// shutdown(2) (unix_shutdown(), tcp_shutdown()): marks this end's
    /// directions shut; on a connection the peer sees the mirror (our
    /// SHUT_WR is its end of input). TCP sends only SHUT_WR (a FIN).
    pub fn shutdown(me: &SockRef, rd: bool, wr: bool) -> Result<(), Errno> {
        let peer = {
            let mut s = me.borrow_mut();
            if s.is_inet() && s.state == State::Listening && rd {
                // tcp_disconnect(): the listener stops; queued connections reset.
                s.state = State::Unconnected;
                s.queue.clear();
                return Ok(());
            }
            // inet_shutdown(): ENOTCONN unconnected (the flags are set all
            // the same); unix_shutdown() never checks.
            let notconn = s.is_inet()
                && s.state != State::Connected
                && !(s.kind == Kind::Dgram && s.peer_addr.is_some());
            s.rcv_shut |= rd;
            s.snd_shut |= wr;
            s.wakes_in += 1;
            if notconn {
                return Err(Errno::ENOTCONN);
            }
            if s.kind.connected() && s.state == State::Connected {
                s.peer()
            } else {
                None
            }
        };
        if let Some(p) = peer {
            let mut p = p.borrow_mut();
            p.wakes_in += 1;
            p.rcv_shut |= wr;
            if !p.is_inet() {
                p.snd_shut |= rd;
            }
        }
        Ok(())
    }
}

impl Drop for Socket {
    /// unix_release_sock() / tcp_close(): a connected peer can no longer
    /// write and reads EOF after what is queued; if data was left unread
    /// here (or this was a never-accepted server end) it gets ECONNRESET.
    fn drop(&mut self) {
        if !self.kind.connected() {
            return;
        }
        let Some(peer) = self.peer() else { return };
        let Ok(mut p) = peer.try_borrow_mut() else {
            return;
        };
        p.peer_gone = true;
        p.wakes_in += 1;
        p.rcv_shut = true;
        if !p.is_inet() {
            p.snd_shut = true;
        }
        if !self.rx.is_empty() || self.embryo {
            p.err = Some(Errno::ECONNRESET);
            p.reset = true;
        }
    }
}

/// What a receive took: the bytes, the message's full length (datagram
/// truncation), the sender's address and what came with it.
#[derive(Debug, Default)]
pub struct Received {
    pub data: Vec<u8>,
    pub full_len: usize,
    pub from: Option<Addr>,
    pub fds: Vec<FileRef>,
    pub cred: Option<Ucred>,
}

/// Receives up to `len` bytes from `s` (unix_stream_read_generic(),
/// unix_dgram_recvmsg(), tcp_recvmsg(), udp_recvmsg()). A stream read
/// joins queued pieces, but stops after a piece carrying descriptors and
/// before one with other credentials; a datagram read takes one message
/// (the rest of it is lost unless `peek`). Errors: the pending error
/// first; EOF is `Ok` with no data once the input is shut; EAGAIN when
/// nothing is there yet; EINVAL on a listener, ENOTCONN on an
/// unconnected stream.
pub fn recv(s: &SockRef, len: usize, peek: bool) -> Result<Received, Errno> {
    let mut me = s.borrow_mut();
    if me.state == State::Listening {
        return Err(Errno::EINVAL);
    }
    if me.rx.is_empty() {
        if let Some(e) = me.take_err() {
            return Err(e);
        }
        if me.rcv_shut {
            return Ok(Received::default());
        }
        if me.kind.connected() && me.state != State::Connected {
            return Err(if me.is_inet() {
                Errno::ENOTCONN
            } else {
                Errno::EINVAL
            });
        }
        return Err(Errno::EAGAIN);
    }
    let mut out = Received::default();
    if me.kind.messages() {
        let m = me.rx.front().expect("recv: queue emptied");
        let n = len.min(m.left());
        out.data = m.data[m.off..m.off + n].to_vec();
        out.full_len = m.left();
        out.from = m.from.clone();
        out.cred = m.cred;
        out.fds = m.fds.clone();
        if !peek {
            let full = !me.room_for(MSG_OVERHEAD + 1);
            let m = me.rx.pop_front().expect("recv: queue emptied");
            me.rx_cost -= m.cost();
            me.wakes_out += u64::from(full);
        }
        return Ok(out);
    }
    let mut taken = 0usize;
    let mut i = 0;
    while taken < len && i < me.rx.len() {
        let m = &me.rx[i];
        if taken > 0 && (!m.fds.is_empty() || m.cred != out.cred) {
            break;
        }
        let n = (len - taken).min(m.left());
        out.data.extend_from_slice(&m.data[m.off..m.off + n]);
        if taken == 0 {
            out.cred = m.cred;
            out.from = m.from.clone();
        }
        let had_fds = !m.fds.is_empty();
        if had_fds {
            out.fds = m.fds.clone();
        }
        taken += n;
        if !peek {
            let m = &mut me.rx[i];
            m.off += n;
            if had_fds {
                m.fds.clear();
            }
        }
        i += 1;
        if had_fds {
            break;
        }
    }
    if !peek {
        let full = !me.room_for(MSG_OVERHEAD + 1);
        while me.rx.front().is_some_and(|m| m.left() == 0) {
            let m = me.rx.pop_front().expect("recv: queue emptied");
            me.rx_cost -= m.cost();
        }
        me.wakes_out += u64::from(full && taken > 0);
    }
    out.full_len = taken;
    Ok(out)
}

/// Sends `m` on the connected `s` (the peer must be there): a stream takes
/// what fits (EAGAIN if nothing does), a message goes whole or not at all.
/// EPIPE when this end or the peer's is shut or the peer is gone (a TCP
/// peer's first such write is swallowed by its reset); ENOTCONN if not
/// connected.
pub fn send_connected(s: &SockRef, mut m: Msg) -> Result<usize, Errno> {
    let peer = {
        let mut me = s.borrow_mut();
        if let Some(e) = me.take_err() {
            return Err(e);
        }
        if me.snd_shut && !(me.is_inet() && me.peer_gone && !me.reset) {
            return Err(Errno::EPIPE);
        }
        if me.kind.connected() && me.state != State::Connected {
            return Err(Errno::ENOTCONN);
        }
        match me.peer() {
            Some(p) => p,
            None if me.is_inet() && me.peer_gone => {
                if me.reset {
                    return Err(Errno::EPIPE);
                }
                me.reset = true;
                return Ok(m.data.len());
            }
            None if me.kind.connected() => return Err(Errno::EPIPE),
            None => {
                return Err(if me.peer.is_some() {
                    Errno::ECONNREFUSED
                } else {
                    Errno::ENOTCONN
                })
            }
        }
    };
    if Rc::ptr_eq(&peer, s) {
        // A datagram socket connected to itself.
        return deliver_to(s, m);
    }
    if s.borrow().kind == Kind::Stream {
        let mut p = peer.borrow_mut();
        if p.rcv_shut {
            return Err(Errno::EPIPE);
        }
        if m.data.is_empty() {
            return Ok(0);
        }
        let cap = p.capacity();
        let n = if p.rx.is_empty() {
            m.data.len().min(cap)
        } else {
            let free = cap.saturating_sub(p.rx_cost + MSG_OVERHEAD);
            m.data.len().min(free)
        };
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        m.data.truncate(n);
        p.deliver(m);
        return Ok(n);
    }
    deliver_to(&peer, m)
}

/// Queues the message `m` on `to` whole (EAGAIN if it does not fit; a
/// datagram to a shut reader is EPIPE for a connection, dropped silently
/// for UDP).
pub fn deliver_to(to: &SockRef, m: Msg) -> Result<usize, Errno> {
    let mut p = to.borrow_mut();
    let n = m.data.len();
    if p.rcv_shut && p.kind.connected() {
        return Err(Errno::EPIPE);
    }
    if !p.room_for(m.cost()) {
        if p.is_inet() {
            return Ok(n); // UDP drops what does not fit.
        }
        return Err(Errno::EAGAIN);
    }
    p.deliver(m);
    Ok(n)
}

/// The namespace: bound AF_UNIX names and inet ports of one cowix run.
#[derive(Debug, Default)]
pub struct Net {
    /// AF_UNIX sockets bound to a path, by the host node's (st_dev, st_ino).
    unix_paths: HashMap<(u64, u64), Weak<RefCell<Socket>>>,
    /// AF_UNIX sockets in the abstract namespace, by type and name
    /// (leading NUL): as in unix_find_socket_byname(), each type has its own.
    unix_abstract: HashMap<(Kind, Vec<u8>), Weak<RefCell<Socket>>>,
    /// Every bound inet socket (dead ones are swept as found).
    inet: Vec<Weak<RefCell<Socket>>>,
    next_port: u16,
    next_autobind: u32,
}

impl Net {
    /// Binds `s` to the path node `id` with name `path`.
    pub fn bind_unix_path(&mut self, s: &SockRef, id: (u64, u64), path: Vec<u8>) {
        s.borrow_mut().local = Some(Addr::Unix(path));
        self.unix_paths.insert(id, Rc::downgrade(s));
    }

    /// Binds `s` to the abstract `name` (EADDRINUSE if a live socket has it).
    pub fn bind_unix_abstract(&mut self, s: &SockRef, name: Vec<u8>) -> Result<(), Errno> {
        let key = (s.borrow().kind, name);
        if self
            .unix_abstract
            .get(&key)
            .is_some_and(|w| w.strong_count() > 0)
        {
            return Err(Errno::EADDRINUSE);
        }
        s.borrow_mut().local = Some(Addr::Unix(key.1.clone()));
        self.unix_abstract.insert(key, Rc::downgrade(s));
        Ok(())
    }

    /// unix_autobind(): an abstract name of five hex digits.
    pub fn autobind_unix(&mut self, s: &SockRef) -> Result<(), Errno> {
        for _ in 0..0x100000 {
            let n = self.next_autobind & 0xfffff;
            self.next_autobind = self.next_autobind.wrapping_add(1);
            let mut name = vec![0u8];
            name.extend_from_slice(format!("{n:05x}").as_bytes());
            if self.bind_unix_abstract(s, name).is_ok() {
                return Ok(());
            }
        }
        Err(Errno::ENOSPC)
    }

    pub fn lookup_unix_path(&self, id: (u64, u64)) -> Option<SockRef> {
        self.unix_paths.get(&id).and_then(Weak::upgrade)
    }

    /// The live socket of type `kind` bound to the abstract `name`.
    pub fn lookup_unix_abstract(&self, kind: Kind, name: &[u8]) -> Option<SockRef> {
        self.unix_abstract
            .get(&(kind, name.to_vec()))
            .and_then(Weak::upgrade)
    }

    fn live_inet(&mut self) -> Vec<SockRef> {
        self.inet.retain(|w| w.strong_count() > 0);
        self.inet.iter().filter_map(Weak::upgrade).collect()
    }

    /// inet_bind() / inet_csk_get_port(): binds `s` to `addr` (port 0: the
    /// next free ephemeral port). EADDRINUSE if a socket of the same type
    /// holds the port on an overlapping address, unless both asked for
    /// SO_REUSEADDR (and, for TCP, the holder is not listening) or
    /// SO_REUSEPORT.
    pub fn bind_inet(&mut self, s: &SockRef, addr: SocketAddr) -> Result<(), Errno> {
        let mut addr = addr;
        if addr.port() == 0 {
            addr.set_port(self.ephemeral(s, addr)?);
        } else if self.conflict(s, addr) {
            return Err(Errno::EADDRINUSE);
        }
        s.borrow_mut().local = Some(Addr::Inet(addr));
        self.inet.push(Rc::downgrade(s));
        Ok(())
    }

    fn ephemeral(&mut self, s: &SockRef, addr: SocketAddr) -> Result<u16, Errno> {
        let span = u32::from(EPHEMERAL.1 - EPHEMERAL.0) + 1;
        for _ in 0..span {
            let port = EPHEMERAL.0 + (u32::from(self.next_port) % span) as u16;
            self.next_port = self.next_port.wrapping_add(1);
            let mut a = addr;
            a.set_port(port);
            if !self.conflict(s, a) {
                return Ok(port);
            }
        }
        Err(Errno::EADDRINUSE)
    }

    fn conflict(&mut self, s: &SockRef, addr: SocketAddr) -> bool {
        const SOL_SOCKET: i32 = 1;
        const SO_REUSEADDR: i32 = 2;
        const SO_REUSEPORT: i32 = 15;
        let me = s.borrow();
        let reuse = me.opt_int(SOL_SOCKET, SO_REUSEADDR) != 0;
        let reuseport = me.opt_int(SOL_SOCKET, SO_REUSEPORT) != 0;
        let (kind, only6) = (me.kind, v6only(&me));
        drop(me);
        self.live_inet().iter().any(|o| {
            if Rc::ptr_eq(o, s) {
                return false;
            }
            let o = o.borrow();
            let Some(Addr::Inet(oa)) = &o.local else {
                return false;
            };
            if o.kind != kind || oa.port() != addr.port() {
                return false;
            }
            if !overlap(oa, v6only(&o), &addr, only6) {
                return false;
            }
            let both_reuse = reuse && o.opt_int(SOL_SOCKET, SO_REUSEADDR) != 0;
            let both_port = reuseport && o.opt_int(SOL_SOCKET, SO_REUSEPORT) != 0;
            let holder_listens = o.state == State::Listening;
            !(both_port || both_reuse && (kind == Kind::Dgram || !holder_listens))
        })
    }

    /// The listening TCP socket that a connection to `dst` reaches.
    pub fn find_listener(&mut self, dst: SocketAddr) -> Option<SockRef> {
        self.live_inet().into_iter().find(|o| {
            let o = o.borrow();
            o.kind == Kind::Stream
                && o.state == State::Listening
                && matches!(&o.local, Some(Addr::Inet(a)) if reaches(a, v6only(&o), &dst))
        })
    }

    /// The UDP socket a datagram to `dst` reaches (the last bound wins,
    /// as with SO_REUSEADDR on Linux).
    pub fn find_udp(&mut self, dst: SocketAddr) -> Option<SockRef> {
        self.live_inet().into_iter().rev().find(|o| {
            let o = o.borrow();
            o.kind == Kind::Dgram
                && matches!(&o.local, Some(Addr::Inet(a)) if reaches(a, v6only(&o), &dst))
        })
    }
}

fn v6only(s: &Socket) -> bool {
    const IPPROTO_IPV6: i32 = 41;
    const IPV6_V6ONLY: i32 = 26;
    s.domain == AF_INET6 && s.opt_int(IPPROTO_IPV6, IPV6_V6ONLY) != 0
}

/// An address as IPv6 (IPv4 as v4-mapped).
fn as_v6(a: &SocketAddr) -> Ipv6Addr {
    match a {
        SocketAddr::V4(v4) => v4.ip().to_ipv6_mapped(),
        SocketAddr::V6(v6) => *v6.ip(),
    }
}

/// Whether `a` names IPv4 (a v4 address or a v4-mapped v6 one).
fn is_v4(a: &SocketAddr) -> bool {
    match a {
        SocketAddr::V4(_) => true,
        SocketAddr::V6(v6) => v6.ip().to_ipv4_mapped().is_some(),
    }
}

fn unspecified(a: &SocketAddr) -> bool {
    match a {
        SocketAddr::V4(v4) => v4.ip().is_unspecified(),
        SocketAddr::V6(v6) => {
            v6.ip().is_unspecified() || v6.ip().to_ipv4_mapped() == Some(Ipv4Addr::UNSPECIFIED)
        }
    }
}

/// Whether a socket bound to `bound` receives what is sent to `dst`.
fn reaches(bound: &SocketAddr, v6only: bool, dst: &SocketAddr) -> bool {
    if bound.port() != dst.port() {
        return false;
    }
    let bound_v6_any = matches!(bound, SocketAddr::V6(v6) if v6.ip().is_unspecified());
    if bound_v6_any {
        return !(v6only && is_v4(dst));
    }
    if is_v4(bound) != is_v4(dst) {
        return false;
    }
    unspecified(bound) || as_v6(bound) == as_v6(dst)
}

/// Whether two bindings of the same port overlap.
fn overlap(a: &SocketAddr, a_v6only: bool, b: &SocketAddr, b_v6only: bool) -> bool {
    let any_v6 = |x: &SocketAddr| matches!(x, SocketAddr::V6(v6) if v6.ip().is_unspecified());
    if any_v6(a) {
        return !(a_v6only && is_v4(b));
    }
    if any_v6(b) {
        return !(b_v6only && is_v4(a));
    }
    is_v4(a) == is_v4(b) && (unspecified(a) || unspecified(b) || as_v6(a) == as_v6(b))
}

/// Where a connection or datagram to `dst` goes: loopback addresses (and
/// the unspecified address, which Linux takes as the local host) stay;
/// anything else is unreachable from the guest's namespace.
pub fn route(dst: SocketAddr) -> Result<SocketAddr, Errno> {
    let local = match dst {
        SocketAddr::V4(v4) => v4.ip().is_loopback() || v4.ip().is_unspecified(),
        SocketAddr::V6(v6) => {
            let ip = v6.ip();
            ip.is_loopback()
                || ip.is_unspecified()
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_unspecified())
        }
    };
    if !local {
        return Err(Errno::ENETUNREACH);
    }
    Ok(match dst {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => {
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, v4.port()))
        }
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => {
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, v6.port(), 0, 0))
        }
        SocketAddr::V6(v6) if v6.ip().to_ipv4_mapped() == Some(Ipv4Addr::UNSPECIFIED) => {
            SocketAddr::V6(SocketAddrV6::new(
                Ipv4Addr::LOCALHOST.to_ipv6_mapped(),
                v6.port(),
                0,
                0,
            ))
        }
        d => d,
    })
}

/// The address a socket of `domain` sends from to reach `dst`, on `port`
/// (the destination's own address when bound to the unspecified one).
pub fn source_for(domain: u16, bound: Option<&SocketAddr>, dst: &SocketAddr) -> SocketAddr {
    let port = bound.map_or(0, SocketAddr::port);
    if let Some(b) = bound.filter(|b| !unspecified(b)) {
        return *b;
    }
    match (domain, dst) {
        (AF_INET, SocketAddr::V4(d)) => SocketAddr::V4(SocketAddrV4::new(*d.ip(), port)),
        (AF_INET, SocketAddr::V6(d)) => SocketAddr::V4(SocketAddrV4::new(
            d.ip().to_ipv4_mapped().unwrap_or(Ipv4Addr::LOCALHOST),
            port,
        )),
        (_, d) => SocketAddr::V6(SocketAddrV6::new(as_v6(d), port, 0, 0)),
    }
}

/// `a` as a socket of `domain` sees it (an IPv6 socket sees IPv4 peers as
/// v4-mapped; an IPv4 socket sees v4-mapped peers as IPv4).
pub fn seen_by(domain: u16, a: &SocketAddr) -> SocketAddr {
    match (domain, a) {
        (AF_INET6, SocketAddr::V4(v4)) => {
            SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        (AF_INET, SocketAddr::V6(v6)) => match v6.ip().to_ipv4_mapped() {
            Some(ip) => SocketAddr::V4(SocketAddrV4::new(ip, v6.port())),
            None => *a,
        },
        _ => *a,
    }
}

/// Connects the stream or seqpacket socket `client` to `listener`
/// (unix_stream_connect(), tcp_v4_connect() + the handshake, done at
/// once): a server end is made with the listener's name and the
/// client's credentials and queued for accept. EAGAIN when the queue is
/// full (past the backlog); ECONNREFUSED if `listener` does not listen.
pub fn connect_stream(
    client: &SockRef,
    listener: &SockRef,
    client_addr: Addr,
    server_addr: Addr,
) -> Result<(), Errno> {
    let mut l = listener.borrow_mut();
    if l.state != State::Listening || l.rcv_shut {
        return Err(Errno::ECONNREFUSED);
    }
    if l.queue.len() > l.backlog {
        return Err(Errno::EAGAIN);
    }
    let mut c = client.borrow_mut();
    let server = Socket::new(l.domain, l.kind, l.protocol, l.cred);
    {
        let mut sv = server.borrow_mut();
        sv.state = State::Connected;
        sv.local = Some(server_addr.clone());
        sv.peer = Some(Rc::downgrade(client));
        sv.peer_addr = Some(client_addr);
        sv.peer_cred = Some(c.cred);
        sv.embryo = true;
        sv.opts = l.opts.clone();
    }
    c.state = State::Connected;
    c.peer = Some(Rc::downgrade(&server));
    c.peer_addr = Some(server_addr);
    c.peer_cred = Some(l.cred);
    l.queue.push_back(server);
    l.wakes_in += 1;
    Ok(())
}

/// accept(2): the first queued connection (EAGAIN if none; EINVAL if not
/// listening).
pub fn accept(s: &SockRef) -> Result<SockRef, Errno> {
    let mut l = s.borrow_mut();
    if l.state != State::Listening {
        return Err(Errno::EINVAL);
    }
    let c = l.queue.pop_front().ok_or(Errno::EAGAIN)?;
    c.borrow_mut().embryo = false;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred() -> Ucred {
        Ucred {
            pid: 1,
            uid: 0,
            gid: 0,
        }
    }

    fn msg(b: &[u8]) -> Msg {
        Msg {
            data: b.to_vec(),
            ..Msg::default()
        }
    }

    #[test]
    fn stream_pair_joins_writes_and_sees_eof_after_close() {
        let (a, b) = Socket::pair(Kind::Stream, cred());
        assert_eq!(recv(&b, 10, false).err(), Some(Errno::EAGAIN));
        assert_eq!(send_connected(&a, msg(b"hel")), Ok(3));
        assert_eq!(send_connected(&a, msg(b"lo")), Ok(2));
        assert_eq!(recv(&b, 4, true).unwrap().data, b"hell", "peek");
        assert_eq!(recv(&b, 4, false).unwrap().data, b"hell");
        drop(a);
        assert_eq!(recv(&b, 10, false).unwrap().data, b"o");
        assert!(recv(&b, 10, false).unwrap().data.is_empty(), "EOF");
        assert_eq!(send_connected(&b, msg(b"x")), Err(Errno::EPIPE));
    }

    #[test]
    fn unread_data_at_close_resets_the_peer() {
        let (a, b) = Socket::pair(Kind::Stream, cred());
        send_connected(&b, msg(b"unread")).unwrap();
        drop(a);
        assert_eq!(recv(&b, 10, false).err(), Some(Errno::ECONNRESET));
        assert!(recv(&b, 10, false).unwrap().data.is_empty());
    }

    #[test]
    fn seqpacket_keeps_boundaries_and_truncates() {
        let (a, b) = Socket::pair(Kind::Seqpacket, cred());
        send_connected(&a, msg(b"first")).unwrap();
        send_connected(&a, msg(b"second")).unwrap();
        let r = recv(&b, 3, false).unwrap();
        assert_eq!((r.data.as_slice(), r.full_len), (&b"fir"[..], 5));
        assert_eq!(recv(&b, 100, false).unwrap().data, b"second");
    }

    #[test]
    fn ports_conflict_unless_reused_and_ephemeral_ports_are_in_range() {
        let mut net = Net::default();
        let a = Socket::new(AF_INET, Kind::Stream, 0, cred());
        let b = Socket::new(AF_INET, Kind::Stream, 0, cred());
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        net.bind_inet(&a, any).unwrap();
        assert_eq!(net.bind_inet(&b, lo), Err(Errno::EADDRINUSE));
        let u = Socket::new(AF_INET, Kind::Dgram, 0, cred());
        net.bind_inet(&u, lo).unwrap(); // another protocol's port space
        let e = Socket::new(AF_INET6, Kind::Stream, 0, cred());
        net.bind_inet(&e, "[::]:0".parse().unwrap()).unwrap();
        let Some(Addr::Inet(got)) = e.borrow().local.clone() else {
            panic!("not bound")
        };
        assert!((EPHEMERAL.0..=EPHEMERAL.1).contains(&got.port()));
        drop(a);
        net.bind_inet(&b, lo).unwrap();
    }

    #[test]
    fn only_loopback_is_routed() {
        assert!(route("127.0.0.1:1".parse().unwrap()).is_ok());
        assert!(route("[::1]:1".parse().unwrap()).is_ok());
        assert_eq!(
            route("10.0.0.1:80".parse().unwrap()),
            Err(Errno::ENETUNREACH)
        );
        assert_eq!(
            route("0.0.0.0:5".parse().unwrap()),
            Ok("127.0.0.1:5".parse().unwrap())
        );
    }

    #[test]
    fn connection_is_queued_until_accepted_and_backlog_limits_it() {
        let l = Socket::new(AF_UNIX, Kind::Stream, 0, cred());
        l.borrow_mut().state = State::Listening;
        l.borrow_mut().backlog = 0;
        let c1 = Socket::new(AF_UNIX, Kind::Stream, 0, cred());
        let c2 = Socket::new(AF_UNIX, Kind::Stream, 0, cred());
        let (ca, sa) = (Addr::Unix(vec![]), Addr::Unix(b"/s".to_vec()));
        connect_stream(&c1, &l, ca.clone(), sa.clone()).unwrap();
        assert_eq!(
            connect_stream(&c2, &l, ca, sa),
            Err(Errno::EAGAIN),
            "backlog 0 holds one"
        );
        assert_ne!(l.borrow().poll_events() & crate::syscall::poll::POLLIN, 0);
        let s = accept(&l).unwrap();
        send_connected(&c1, msg(b"hi")).unwrap();
        assert_eq!(recv(&s, 8, false).unwrap().data, b"hi");
        assert_eq!(accept(&l).err(), Some(Errno::EAGAIN));
    }

    #[test]
    fn a_stream_read_stops_after_the_piece_carrying_descriptors() {
        use crate::fd::{Object, OpenFile};
        let (a, b) = Socket::pair(Kind::Stream, cred());
        let f = OpenFile::new(Object::Null, 2, "/dev/null");
        send_connected(&a, msg(b"ab")).unwrap();
        let mut with_fd = msg(b"cd");
        with_fd.fds.push(f.clone());
        send_connected(&a, with_fd).unwrap();
        send_connected(&a, msg(b"ef")).unwrap();
        let r = recv(&b, 10, false).unwrap();
        assert_eq!((r.data.as_slice(), r.fds.len()), (&b"ab"[..], 0));
        let r = recv(&b, 10, false).unwrap();
        assert_eq!(r.data, b"cd");
        assert!(Rc::ptr_eq(&r.fds[0], &f), "the same open file description");
        assert_eq!(recv(&b, 10, false).unwrap().data, b"ef");
    }

    #[test]
    fn an_unaccepted_connection_is_reset_when_the_listener_closes() {
        let l = Socket::new(AF_INET, Kind::Stream, 6, cred());
        l.borrow_mut().state = State::Listening;
        l.borrow_mut().backlog = 4;
        let c = Socket::new(AF_INET, Kind::Stream, 6, cred());
        let (ca, sa) = (
            Addr::Inet("127.0.0.1:40000".parse().unwrap()),
            Addr::Inet("127.0.0.1:80".parse().unwrap()),
        );
        connect_stream(&c, &l, ca, sa).unwrap();
        drop(l);
        assert_eq!(recv(&c, 4, false).err(), Some(Errno::ECONNRESET));
        assert_eq!(send_connected(&c, msg(b"x")), Err(Errno::EPIPE));
    }

    #[test]
    fn poll_events_follow_the_connection_state() {
        use crate::syscall::poll::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDHUP};
        let fresh = Socket::new(AF_INET, Kind::Stream, 6, cred());
        let m = fresh.borrow().poll_events();
        assert_eq!(m & (POLLOUT | POLLHUP | POLLIN), POLLOUT | POLLHUP);
        let (a, b) = Socket::pair(Kind::Stream, cred());
        assert_eq!(b.borrow().poll_events() & (POLLIN | POLLOUT), POLLOUT);
        send_connected(&a, msg(b"x")).unwrap();
        assert_ne!(b.borrow().poll_events() & POLLIN, 0);
        Socket::shutdown(&a, false, true).unwrap();
        assert_ne!(b.borrow().poll_events() & POLLRDHUP, 0);
        assert_eq!(b.borrow().poll_events() & POLLERR, 0);
        b.borrow_mut().err = Some(Errno::ECONNRESET);
        assert_ne!(b.borrow().poll_events() & POLLERR, 0);
    }

    #[test]
    fn datagrams_reach_v4_v6_and_dual_stack_bindings() {
        let mut net = Net::default();
        let v6 = Socket::new(AF_INET6, Kind::Dgram, 17, cred());
        net.bind_inet(&v6, "[::]:5000".parse().unwrap()).unwrap();
        assert!(net.find_udp("127.0.0.1:5000".parse().unwrap()).is_some());
        assert!(net.find_udp("[::1]:5000".parse().unwrap()).is_some());
        assert!(net.find_udp("127.0.0.1:5001".parse().unwrap()).is_none());
        let only = Socket::new(AF_INET6, Kind::Dgram, 17, cred());
        only.borrow_mut()
            .opts
            .insert((41, 26), 1i32.to_le_bytes().to_vec());
        net.bind_inet(&only, "[::]:6000".parse().unwrap()).unwrap();
        assert!(
            net.find_udp("127.0.0.1:6000".parse().unwrap()).is_none(),
            "IPV6_V6ONLY keeps IPv4 out"
        );
        let v4 = Socket::new(AF_INET, Kind::Dgram, 17, cred());
        net.bind_inet(&v4, "127.0.0.1:6000".parse().unwrap())
            .unwrap();
        assert!(Rc::ptr_eq(
            &net.find_udp("127.0.0.1:6000".parse().unwrap()).unwrap(),
            &v4
        ));
    }
}
