//! Socket syscalls (net/socket.c): socket, socketpair, bind, listen,
//! accept4, connect, the name calls, send/recv in their forms, shutdown and
//! socket options, over [`crate::socket`].
//!
//! Each checks its arguments in Linux's order (the descriptor first:
//! EBADF, then ENOTSOCK; then the address: EINVAL for a bad length, EFAULT
//! for unreadable memory), then hands off. A call that would wait parks
//! the thread (`sys.block`) unless the description is O_NONBLOCK or the
//! call passed MSG_DONTWAIT, and is retried whenever something happened,
//! as pipe reads and writes are. Nothing here reaches a host socket.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::rc::Rc;

use super::Sys;
use crate::errno::{Errno, SysResult};
use crate::fd::{oflag, FdEntry, FileRef, Object, OpenFile};
use crate::process::rlimit;
use crate::socket::{
    self, Addr, Kind, Msg, SockRef, Socket, State, Ucred, AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC,
};
use crate::vfs::Follow;

const SOCK_NONBLOCK: u32 = oflag::O_NONBLOCK;
const SOCK_CLOEXEC: u32 = oflag::O_CLOEXEC;
/// Linux's AF_MAX: families at or past it are EAFNOSUPPORT at once.
const AF_MAX: i32 = 46;

pub const MSG_OOB: u32 = 0x1;
pub const MSG_PEEK: u32 = 0x2;
pub const MSG_CTRUNC: u32 = 0x8;
pub const MSG_TRUNC: u32 = 0x20;
pub const MSG_DONTWAIT: u32 = 0x40;
pub const MSG_WAITALL: u32 = 0x100;
pub const MSG_ERRQUEUE: u32 = 0x2000;
pub const MSG_NOSIGNAL: u32 = 0x4000;
pub const MSG_CMSG_CLOEXEC: u32 = 0x4000_0000;

const SOL_SOCKET: i32 = 1;
const SCM_RIGHTS: i32 = 1;
const SCM_CREDENTIALS: i32 = 2;
/// SCM_MAX_FD: descriptors one SCM_RIGHTS message may carry.
const SCM_MAX_FD: usize = 253;
const IPPROTO_IP: i32 = 0;
const IPPROTO_TCP: i32 = 6;
const IPPROTO_UDP: i32 = 17;
const IPPROTO_IPV6: i32 = 41;

/// SOL_SOCKET option names (asm-generic/socket.h).
mod so {
    pub const TYPE: i32 = 3;
    pub const ERROR: i32 = 4;
    pub const SNDBUF: i32 = 7;
    pub const RCVBUF: i32 = 8;
    pub const LINGER: i32 = 13;
    pub const PASSCRED: i32 = 16;
    pub const PEERCRED: i32 = 17;
    pub const RCVTIMEO: i32 = 20;
    pub const SNDTIMEO: i32 = 21;
    pub const PEERNAME: i32 = 28;
    pub const ACCEPTCONN: i32 = 30;
    pub const SNDBUFFORCE: i32 = 32;
    pub const RCVBUFFORCE: i32 = 33;
    pub const PROTOCOL: i32 = 38;
    pub const DOMAIN: i32 = 39;
    /// Integer options that are stored and read back as given.
    pub const PLAIN: &[i32] = &[
        1,  // SO_DEBUG
        2,  // SO_REUSEADDR
        5,  // SO_DONTROUTE
        6,  // SO_BROADCAST
        9,  // SO_KEEPALIVE
        10, // SO_OOBINLINE
        11, // SO_NO_CHECK
        12, // SO_PRIORITY
        14, // SO_BSDCOMPAT
        15, // SO_REUSEPORT
        16, // SO_PASSCRED
        18, // SO_RCVLOWAT
        19, // SO_SNDLOWAT
        29, // SO_TIMESTAMP
        34, // SO_PASSSEC
        35, // SO_TIMESTAMPNS
        36, // SO_MARK
        40, // SO_RXQ_OVFL
        42, // SO_PEEK_OFF
        46, // SO_BUSY_POLL
        47, // SO_MAX_PACING_RATE
        50, // SO_INCOMING_CPU
        52, // SO_ZEROCOPY
        62, // SO_BUSY_POLL_BUDGET
    ];
}

/// IPPROTO_TCP options accepted and stored (TCP_NODELAY, MAXSEG, CORK,
/// KEEPIDLE, KEEPINTVL, KEEPCNT, SYNCNT, LINGER2, DEFER_ACCEPT,
/// WINDOW_CLAMP, QUICKACK, USER_TIMEOUT, FASTOPEN, NOTSENT_LOWAT...).
const TCP_OPTS: &[i32] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 18, 23, 25, 30];

fn nofile(sys: &Sys<'_>) -> u64 {
    sys.p.rlimits[rlimit::NOFILE].cur
}

fn cred(sys: &Sys<'_>) -> Ucred {
    Ucred {
        pid: sys.p.pid,
        uid: sys.p.creds.euid,
        gid: sys.p.creds.egid,
    }
}

/// A call on `s` must wait (sk_wait_event()): parks the thread, forever
/// or until the socket's SO_RCVTIMEO / SO_SNDTIMEO (`opt`) has passed
/// since the call began (the deadline is kept in `sleep_until` across
/// retries). Returns false once that timeout has passed: the call then
/// fails with EAGAIN or returns what it did so far.
fn park(sys: &mut Sys<'_>, s: &SockRef, opt: i32) -> bool {
    match timeout_ns(s, opt) {
        None => {
            sys.block = true;
            true
        }
        Some(ns) => !super::time::sleep_ns(sys, ns),
    }
}

/// The kernel's tick rate (Debian's CONFIG_HZ_250): socket timeouts are
/// kept in ticks, so they read back rounded up to 4 ms as on Linux.
const HZ: u64 = 250;

/// SO_RCVTIMEO / SO_SNDTIMEO as a wait in nanoseconds (None: forever).
fn timeout_ns(s: &SockRef, opt: i32) -> Option<u64> {
    let b = s.borrow();
    let v = b.opts.get(&(SOL_SOCKET, opt))?;
    let ticks = u64::from_le_bytes(v[..8].try_into().unwrap());
    (ticks != u64::MAX).then_some(ticks.saturating_mul(1_000_000_000 / HZ))
}

/// sock_set_timeout(): a struct timeval as ticks (u64::MAX: forever, as a
/// zero timeval or one too large to count means; 0 for a negative one,
/// which times out at once). EDOM for microseconds out of range.
fn timeval_to_ticks(b: &[u8]) -> Result<u64, Errno> {
    let sec = i64::from_le_bytes(b[..8].try_into().unwrap());
    let usec = i64::from_le_bytes(b[8..16].try_into().unwrap());
    if !(0..1_000_000).contains(&usec) {
        return Err(Errno::EDOM);
    }
    Ok(match (sec, usec) {
        (s, _) if s < 0 => 0,
        (0, 0) => u64::MAX,
        (s, _) if s as u64 >= (i64::MAX as u64) / HZ - 1 => u64::MAX,
        (s, u) => s as u64 * HZ + (u as u64).div_ceil(1_000_000 / HZ),
    })
}

/// sock_get_timeout(): ticks back as a struct timeval (zero for forever).
fn ticks_to_timeval(ticks: u64) -> Vec<u8> {
    let (sec, usec) = if ticks == u64::MAX {
        (0, 0)
    } else {
        (ticks / HZ, (ticks % HZ) * 1_000_000 / HZ)
    };
    let mut v = sec.to_le_bytes().to_vec();
    v.extend_from_slice(&usec.to_le_bytes());
    v
}

/// A socket call is done (not parked): a deadline a timed wait left in
/// `sleep_until` goes with it.
fn settle<T>(sys: &mut Sys<'_>, r: T) -> T {
    if !sys.block {
        sys.t.sleep_until = None;
    }
    r
}

/// The socket open as `fd` (EBADF, ENOTSOCK).
fn sock(sys: &Sys<'_>, fd: i32) -> Result<(FileRef, SockRef), Errno> {
    let f = sys.p.fds.file(fd)?;
    let s = match &f.borrow().object {
        Object::Socket(s) => s.clone(),
        _ => return Err(Errno::ENOTSOCK),
    };
    Ok((f, s))
}

/// The socket behind an open file description, if it is one.
pub(crate) fn socket_of(file: &FileRef) -> Option<SockRef> {
    match &file.borrow().object {
        Object::Socket(s) => Some(s.clone()),
        _ => None,
    }
}

fn nonblocking(file: &FileRef) -> bool {
    file.borrow().flags & oflag::O_NONBLOCK != 0
}

/// Installs a new open file description of `s`.
fn install(sys: &mut Sys<'_>, s: SockRef, flags: u32) -> Result<i32, Errno> {
    let file = OpenFile::new(
        Object::Socket(s),
        oflag::O_RDWR | (flags & SOCK_NONBLOCK),
        "socket:",
    );
    let limit = nofile(sys);
    let cloexec = flags & SOCK_CLOEXEC != 0;
    sys.p.fds.install(FdEntry { file, cloexec }, 0, limit)
}

/// The family, type and protocol a socket(2) call asks for
/// (__sock_create(), unix_create(), inet_create()).
fn kind_of(sys: &Sys<'_>, domain: i32, ty: u32, protocol: i32) -> Result<(u16, Kind, i32), Errno> {
    const SOCK_MAX: u32 = 10;
    if ty & !(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 || ty & 0xf >= SOCK_MAX {
        return Err(Errno::EINVAL);
    }
    if !(0..AF_MAX).contains(&domain) {
        return Err(Errno::EAFNOSUPPORT);
    }
    let base = ty & 0xf;
    match domain as u16 {
        AF_UNIX => {
            if protocol != 0 && protocol != i32::from(AF_UNIX) {
                return Err(Errno::EPROTONOSUPPORT);
            }
            let kind = match base {
                1 => Kind::Stream,
                2 | 3 => Kind::Dgram, // unix_create(): SOCK_RAW is taken as SOCK_DGRAM
                5 => Kind::Seqpacket,
                _ => return Err(Errno::ESOCKTNOSUPPORT),
            };
            Ok((AF_UNIX, kind, 0))
        }
        d @ (AF_INET | AF_INET6) => match (base, protocol) {
            (1, 0 | IPPROTO_TCP) => Ok((d, Kind::Stream, IPPROTO_TCP)),
            (2, 0 | IPPROTO_UDP) => Ok((d, Kind::Dgram, IPPROTO_UDP)),
            (1 | 2, _) => Err(Errno::EPROTONOSUPPORT),
            (3, _) if sys.p.creds.euid != 0 => Err(Errno::EPERM),
            _ => Err(Errno::ESOCKTNOSUPPORT),
        },
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// socket(domain, type, protocol).
pub fn socket(sys: &mut Sys<'_>, domain: i32, ty: u32, protocol: i32) -> SysResult {
    let (d, kind, proto) = kind_of(sys, domain, ty, protocol)?;
    let s = Socket::new(d, kind, proto, cred(sys));
    Ok(install(sys, s, ty)? as u64)
}

/// socketpair(domain, type, protocol, sv): AF_UNIX only (inet families
/// have no socketpair: EOPNOTSUPP).
pub fn socketpair(sys: &mut Sys<'_>, domain: i32, ty: u32, protocol: i32, sv: u64) -> SysResult {
    let (d, kind, _) = kind_of(sys, domain, ty, protocol)?;
    if d != AF_UNIX {
        return Err(Errno::EOPNOTSUPP);
    }
    let (a, b) = Socket::pair(kind, cred(sys));
    let fa = install(sys, a, ty)?;
    let fb = match install(sys, b, ty) {
        Ok(fb) => fb,
        Err(e) => {
            sys.p.fds.close(fa)?;
            return Err(e);
        }
    };
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&fa.to_le_bytes());
    out[4..].copy_from_slice(&fb.to_le_bytes());
    let copied = sys.mem().copy_out(sv, &out);
    if let Err(e) = copied {
        sys.p.fds.close(fa)?;
        sys.p.fds.close(fb)?;
        return Err(e);
    }
    Ok(0)
}

/// move_addr_to_kernel(): the raw address (EINVAL past
/// sizeof(struct sockaddr_storage), EFAULT if unreadable).
fn read_addr(sys: &mut Sys<'_>, addr: u64, len: u32) -> Result<Vec<u8>, Errno> {
    if len > 128 {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; len as usize];
    if len > 0 {
        sys.mem().copy_in(addr, &mut raw)?;
    }
    Ok(raw)
}

/// What an address argument says, for a socket of `domain`.
#[derive(Debug)]
enum Target {
    /// AF_UNSPEC: dissolve the association (connect).
    Unspec,
    /// sockaddr_un of just the family: autobind (bind).
    UnixAuto,
    Unix(Vec<u8>),
    Inet(SocketAddr),
}

fn family(raw: &[u8]) -> u16 {
    raw.get(..2)
        .map_or(u16::MAX, |b| u16::from_le_bytes([b[0], b[1]]))
}

/// Parses `raw` as an address for a socket of `domain`
/// (unix_validate_addr(), inet_bind()/inet6_bind() checks).
fn parse_addr(domain: u16, raw: &[u8]) -> Result<Target, Errno> {
    if family(raw) == AF_UNSPEC && raw.len() >= 2 && domain != AF_UNIX {
        return Ok(Target::Unspec);
    }
    match domain {
        AF_UNIX => {
            if raw.len() < 2 || raw.len() > 110 {
                return Err(Errno::EINVAL);
            }
            if family(raw) == AF_UNSPEC {
                return Ok(Target::Unspec);
            }
            if family(raw) != AF_UNIX {
                return Err(Errno::EINVAL);
            }
            let path = &raw[2..];
            Ok(match path.first() {
                None => Target::UnixAuto,
                Some(0) => Target::Unix(path.to_vec()),
                Some(_) => {
                    let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                    Target::Unix(path[..end].to_vec())
                }
            })
        }
        _ => {
            let f = family(raw);
            if f == AF_INET && (domain == AF_INET || raw.len() >= 16) {
                if raw.len() < 16 {
                    return Err(Errno::EINVAL);
                }
                let port = u16::from_be_bytes([raw[2], raw[3]]);
                let ip = Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7]);
                let a = SocketAddr::V4(SocketAddrV4::new(ip, port));
                return Ok(Target::Inet(socket::seen_by(domain, &a)));
            }
            if domain == AF_INET {
                return Err(if raw.len() < 16 {
                    Errno::EINVAL
                } else {
                    Errno::EAFNOSUPPORT
                });
            }
            if raw.len() < 24 {
                return Err(Errno::EINVAL);
            }
            if f != AF_INET6 {
                return Err(Errno::EAFNOSUPPORT);
            }
            let port = u16::from_be_bytes([raw[2], raw[3]]);
            let flow = u32::from_be_bytes(raw[4..8].try_into().unwrap());
            let ip: [u8; 16] = raw[8..24].try_into().unwrap();
            let scope = raw
                .get(24..28)
                .map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap()));
            Ok(Target::Inet(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flow,
                scope,
            ))))
        }
    }
}

/// An address as the guest sees it (struct sockaddr_un / _in / _in6).
fn encode_addr(domain: u16, a: Option<&Addr>) -> Vec<u8> {
    match a {
        Some(Addr::Unix(name)) => {
            let mut b = AF_UNIX.to_le_bytes().to_vec();
            b.extend_from_slice(name);
            if name.first().is_some_and(|&c| c != 0) {
                b.push(0);
            }
            b
        }
        Some(Addr::Inet(sa)) => match socket::seen_by(domain, sa) {
            SocketAddr::V4(v4) => {
                let mut b = vec![0u8; 16];
                b[..2].copy_from_slice(&AF_INET.to_le_bytes());
                b[2..4].copy_from_slice(&v4.port().to_be_bytes());
                b[4..8].copy_from_slice(&v4.ip().octets());
                b
            }
            SocketAddr::V6(v6) => {
                let mut b = vec![0u8; 28];
                b[..2].copy_from_slice(&AF_INET6.to_le_bytes());
                b[2..4].copy_from_slice(&v6.port().to_be_bytes());
                b[4..8].copy_from_slice(&v6.flowinfo().to_be_bytes());
                b[8..24].copy_from_slice(&v6.ip().octets());
                b[24..28].copy_from_slice(&v6.scope_id().to_le_bytes());
                b
            }
        },
        None if domain == AF_UNIX => AF_UNIX.to_le_bytes().to_vec(),
        None if domain == AF_INET => {
            encode_addr(domain, Some(&Addr::Inet("0.0.0.0:0".parse().unwrap())))
        }
        None => encode_addr(domain, Some(&Addr::Inet("[::]:0".parse().unwrap()))),
    }
}

/// Reads the `int` length at `lenp` (EFAULT; EINVAL if negative).
fn read_len(sys: &mut Sys<'_>, lenp: u64) -> Result<usize, Errno> {
    let mut b = [0u8; 4];
    sys.mem().copy_in(lenp, &mut b)?;
    let n = i32::from_le_bytes(b);
    usize::try_from(n).map_err(|_| Errno::EINVAL)
}

/// move_addr_to_user(): copies what fits of `bytes` to `uaddr` and the
/// full length to `*lenp`.
fn put_addr(sys: &mut Sys<'_>, uaddr: u64, lenp: u64, bytes: &[u8]) -> Result<(), Errno> {
    let room = read_len(sys, lenp)?;
    let n = room.min(bytes.len());
    if n > 0 {
        sys.mem().copy_out(uaddr, &bytes[..n])?;
    }
    sys.mem().write_u32(lenp, bytes.len() as u32)
}

/// The AF_UNIX socket a name leads to (unix_find_other()): a path is
/// looked up in the guest's files (ENOENT, ...; a node that is not a
/// socket or a socket nobody holds is ECONNREFUSED); an abstract name in
/// the namespace of sockets of type `kind`.
fn find_unix(sys: &Sys<'_>, kind: Kind, name: &[u8]) -> Result<SockRef, Errno> {
    if name.first() == Some(&0) {
        return sys
            .net
            .lookup_unix_abstract(kind, name)
            .ok_or(Errno::ECONNREFUSED);
    }
    let r = super::fs::resolve(sys, &sys.p.fs.cwd(), name, Follow::Yes)?;
    if r.proc {
        return Err(Errno::ECONNREFUSED);
    }
    let st = rustix::fs::stat(&r.host)?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Socket {
        return Err(Errno::ECONNREFUSED);
    }
    #[allow(clippy::unnecessary_cast)]
    let id = (st.st_dev as u64, st.st_ino as u64);
    sys.net.lookup_unix_path(id).ok_or(Errno::ECONNREFUSED)
}

/// Whether `a` is an address of this machine (loopback, or unspecified).
fn local_address(a: &SocketAddr) -> bool {
    socket::route(*a).is_ok()
}

/// bind(fd, addr, len) (unix_bind(), inet_bind(), inet6_bind()).
pub fn bind(sys: &mut Sys<'_>, fd: i32, addr: u64, len: u32) -> SysResult {
    let (_, s) = sock(sys, fd)?;
    let raw = read_addr(sys, addr, len)?;
    let domain = s.borrow().domain;
    let target = parse_addr(domain, &raw)?;
    let bound = s.borrow().local.is_some();
    match target {
        Target::Unspec if domain == AF_UNIX => Err(Errno::EINVAL),
        Target::UnixAuto => {
            if !bound {
                sys.net.autobind_unix(&s)?;
            }
            Ok(0)
        }
        Target::Unix(_) | Target::Inet(_) if bound => Err(Errno::EINVAL),
        Target::Unix(name) if name.first() == Some(&0) => {
            sys.net.bind_unix_abstract(&s, name)?;
            Ok(0)
        }
        Target::Unix(path) => {
            let r = super::fs::resolve(sys, &sys.p.fs.cwd(), &path, Follow::No)?;
            if r.proc {
                return Err(Errno::EACCES);
            }
            // unix_bind_bsd(): a socket node, mode 0777 less the umask.
            let mode = rustix::fs::Mode::from_raw_mode(0o777 & !sys.p.fs.umask());
            rustix::fs::mknodat(
                rustix::fs::CWD,
                &r.host,
                rustix::fs::FileType::Socket,
                mode,
                0,
            )
            .map_err(|e| {
                if e == rustix::io::Errno::EXIST {
                    Errno::EADDRINUSE
                } else {
                    Errno::from(e)
                }
            })?;
            let st = rustix::fs::stat(&r.host)?;
            #[allow(clippy::unnecessary_cast)]
            let id = (st.st_dev as u64, st.st_ino as u64);
            sys.net.bind_unix_path(&s, id, path);
            Ok(0)
        }
        Target::Unspec => {
            // inet_bind(): AF_UNSPEC is taken as AF_INET for INADDR_ANY only.
            if domain == AF_INET && raw.len() >= 16 && raw[4..8] == [0; 4] {
                let any = SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::UNSPECIFIED,
                    u16::from_be_bytes([raw[2], raw[3]]),
                ));
                return bind_inet(sys, &s, any);
            }
            Err(Errno::EAFNOSUPPORT)
        }
        Target::Inet(a) => bind_inet(sys, &s, a),
    }
}

fn bind_inet(sys: &mut Sys<'_>, s: &SockRef, a: SocketAddr) -> SysResult {
    if s.borrow().local.is_some() {
        return Err(Errno::EINVAL);
    }
    if !local_address(&a) {
        return Err(Errno::EADDRNOTAVAIL);
    }
    // net.ipv4.ip_unprivileged_port_start
    if a.port() != 0 && a.port() < 1024 && sys.p.creds.euid != 0 {
        return Err(Errno::EACCES);
    }
    sys.net.bind_inet(s, a)?;
    Ok(0)
}

/// inet_autobind(): an unbound inet socket takes an ephemeral port on the
/// unspecified address.
fn autobind_inet(sys: &mut Sys<'_>, s: &SockRef) -> Result<(), Errno> {
    if s.borrow().local.is_some() {
        return Ok(());
    }
    let any = if s.borrow().domain == AF_INET {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0))
    };
    sys.net.bind_inet(s, any)
}

/// listen(fd, backlog) (unix_listen(), inet_listen()): EOPNOTSUPP for
/// datagram sockets, EINVAL for a connected one or an unbound AF_UNIX one.
/// A backlog past net.core.somaxconn (4096), or negative, is somaxconn.
pub fn listen(sys: &mut Sys<'_>, fd: i32, backlog: i32) -> SysResult {
    const SOMAXCONN: usize = 4096;
    let (_, s) = sock(sys, fd)?;
    let (kind, state, inet, bound) = {
        let b = s.borrow();
        (b.kind, b.state, b.is_inet(), b.local.is_some())
    };
    if kind == Kind::Dgram {
        return Err(Errno::EOPNOTSUPP);
    }
    if state == State::Connected || (!inet && !bound) {
        return Err(Errno::EINVAL);
    }
    if inet {
        autobind_inet(sys, &s)?;
    }
    let c = cred(sys);
    let mut b = s.borrow_mut();
    b.backlog = usize::try_from(backlog).map_or(SOMAXCONN, |n| n.min(SOMAXCONN));
    b.state = State::Listening;
    if !inet {
        b.cred = c; // init_peercred()
    }
    Ok(0)
}

/// accept4(fd, addr, len, flags): the first pending connection as a new
/// descriptor (flags: SOCK_NONBLOCK, SOCK_CLOEXEC; else EINVAL). Waits for
/// one unless nonblocking (EAGAIN). EOPNOTSUPP on a datagram socket,
/// EINVAL if not listening.
pub fn accept4(sys: &mut Sys<'_>, fd: i32, addr: u64, lenp: u64, flags: u32) -> SysResult {
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let (file, s) = sock(sys, fd)?;
    if s.borrow().kind == Kind::Dgram {
        return Err(Errno::EOPNOTSUPP);
    }
    if addr != 0 {
        read_len(sys, lenp)?;
    }
    let c = match socket::accept(&s) {
        Err(Errno::EAGAIN) if !nonblocking(&file) => {
            park(sys, &s, so::RCVTIMEO);
            return settle(sys, Err(Errno::EAGAIN));
        }
        r => settle(sys, r)?,
    };
    let domain = c.borrow().domain;
    let peer = encode_addr(domain, c.borrow().peer_addr.as_ref());
    let nfd = install(sys, c, flags)?;
    if addr != 0 {
        if let Err(e) = put_addr(sys, addr, lenp, &peer) {
            sys.p.fds.close(nfd)?;
            return Err(e);
        }
    }
    Ok(nfd as u64)
}

/// connect(fd, addr, len) (unix_stream_connect(), unix_dgram_connect(),
/// __inet_stream_connect(), ip4_datagram_connect()).
pub fn connect(sys: &mut Sys<'_>, fd: i32, addr: u64, len: u32) -> SysResult {
    let (file, s) = sock(sys, fd)?;
    let raw = read_addr(sys, addr, len)?;
    let (domain, kind, state) = {
        let b = s.borrow();
        (b.domain, b.kind, b.state)
    };
    let target = parse_addr(domain, &raw)?;
    if kind == Kind::Dgram {
        return connect_dgram(sys, &s, target);
    }
    let nonblock = nonblocking(&file);
    let (listener, client_addr, server_addr) = match target {
        Target::Unspec | Target::UnixAuto => return Err(Errno::EINVAL),
        Target::Unix(name) => {
            match state {
                State::Connected => return Err(Errno::EISCONN),
                State::Listening => return Err(Errno::EINVAL),
                State::Unconnected => {}
            }
            let l = find_unix(sys, kind, &name)?;
            if l.borrow().kind != kind {
                return Err(Errno::EPROTOTYPE);
            }
            let server = l.borrow().local.clone().unwrap_or(Addr::Unix(name));
            let client = s.borrow().local.clone().unwrap_or(Addr::Unix(Vec::new()));
            (l, client, server)
        }
        Target::Inet(dst) => {
            if s.borrow().connecting {
                // The connect reported as under way: now its outcome.
                let mut b = s.borrow_mut();
                b.connecting = false;
                return match b.take_err() {
                    Some(e) => Err(e),
                    None => Ok(0),
                };
            }
            if state != State::Unconnected {
                return Err(Errno::EISCONN);
            }
            let dst = socket::route(dst)?;
            let local = match s.borrow().local.clone() {
                Some(Addr::Inet(a)) => Some(a),
                _ => None,
            };
            if local.is_none() {
                autobind_inet(sys, &s)?;
            }
            let bound = match s.borrow().local.clone() {
                Some(Addr::Inet(a)) => a,
                _ => unreachable!("connect: autobind left the socket unbound"),
            };
            let src = socket::source_for(domain, Some(&bound), &dst);
            let Some(l) = sys.net.find_listener(dst) else {
                if !nonblock {
                    return Err(Errno::ECONNREFUSED);
                }
                // The reset arrives after connect returned (tcp_reset(),
                // tcp_done()): the error is pending, both directions shut.
                let mut b = s.borrow_mut();
                b.err = Some(Errno::ECONNREFUSED);
                b.wakes_in += 1;
                b.rcv_shut = true;
                b.snd_shut = true;
                b.connecting = true;
                return Err(Errno::EINPROGRESS);
            };
            {
                let mut b = s.borrow_mut();
                b.local = Some(Addr::Inet(src));
                b.rcv_shut = false;
                b.snd_shut = false;
            }
            (l, Addr::Inet(src), Addr::Inet(dst))
        }
    };
    match socket::connect_stream(&s, &listener, client_addr, server_addr) {
        Ok(()) if nonblock && s.borrow().is_inet() => {
            // The handshake is done at once, but like Linux's a
            // nonblocking TCP connect reports it as under way.
            s.borrow_mut().connecting = true;
            settle(sys, Err(Errno::EINPROGRESS))
        }
        Err(Errno::EAGAIN) if !nonblock => {
            park(sys, &s, so::SNDTIMEO);
            settle(sys, Err(Errno::EAGAIN))
        }
        r => settle(sys, r.map(|()| 0)),
    }
}

fn connect_dgram(sys: &mut Sys<'_>, s: &SockRef, target: Target) -> SysResult {
    match target {
        Target::Unspec => {
            let mut b = s.borrow_mut();
            b.peer = None;
            b.peer_addr = None;
            Ok(0)
        }
        Target::UnixAuto => Err(Errno::EINVAL),
        Target::Unix(name) => {
            let other = find_unix(sys, Kind::Dgram, &name)?;
            if other.borrow().kind != Kind::Dgram {
                return Err(Errno::EPROTOTYPE);
            }
            let addr = other.borrow().local.clone();
            let mut b = s.borrow_mut();
            b.peer = Some(Rc::downgrade(&other));
            b.peer_addr = addr;
            Ok(0)
        }
        Target::Inet(dst) => {
            let dst = socket::route(dst)?;
            autobind_inet(sys, s)?;
            let mut b = s.borrow_mut();
            let bound = match &b.local {
                Some(Addr::Inet(a)) => *a,
                _ => unreachable!("connect_dgram: autobind left the socket unbound"),
            };
            b.local = Some(Addr::Inet(socket::source_for(b.domain, Some(&bound), &dst)));
            b.peer_addr = Some(Addr::Inet(dst));
            Ok(0)
        }
    }
}

/// getsockname(fd, addr, len).
pub fn getsockname(sys: &mut Sys<'_>, fd: i32, addr: u64, lenp: u64) -> SysResult {
    let (_, s) = sock(sys, fd)?;
    let bytes = {
        let b = s.borrow();
        encode_addr(b.domain, b.local.as_ref())
    };
    put_addr(sys, addr, lenp, &bytes)?;
    Ok(0)
}

/// getpeername(fd, addr, len): ENOTCONN unless connected.
pub fn getpeername(sys: &mut Sys<'_>, fd: i32, addr: u64, lenp: u64) -> SysResult {
    let (_, s) = sock(sys, fd)?;
    let bytes = {
        let b = s.borrow();
        let connected = if b.kind.connected() {
            b.state == State::Connected && !(b.is_inet() && b.peer_gone && b.reset)
        } else {
            b.peer_addr.is_some()
        };
        if !connected {
            return Err(Errno::ENOTCONN);
        }
        encode_addr(b.domain, b.peer_addr.as_ref())
    };
    put_addr(sys, addr, lenp, &bytes)?;
    Ok(0)
}

/// shutdown(fd, how): how is SHUT_RD (0), SHUT_WR (1) or SHUT_RDWR (2).
pub fn shutdown(sys: &mut Sys<'_>, fd: i32, how: i32) -> SysResult {
    let (_, s) = sock(sys, fd)?;
    if !(0..=2).contains(&how) {
        return Err(Errno::EINVAL);
    }
    Socket::shutdown(&s, how != 1, how != 0)?;
    Ok(0)
}

/// What a send carries besides the bytes (from msg_control).
#[derive(Default)]
struct Control {
    fds: Vec<FileRef>,
    cred: Option<Ucred>,
}

/// Reads the control messages of a sendmsg (__scm_send()): SCM_RIGHTS
/// takes descriptors (EBADF if one is not open, EINVAL past SCM_MAX_FD),
/// SCM_CREDENTIALS the sender's own pid and ids (EPERM for others').
/// Only AF_UNIX carries them (EINVAL otherwise); a malformed header is EINVAL.
fn read_control(sys: &mut Sys<'_>, domain: u16, ctl: u64, len: u64) -> Result<Control, Errno> {
    let mut out = Control::default();
    if len == 0 {
        return Ok(out);
    }
    if len > 1 << 16 {
        return Err(Errno::ENOBUFS);
    }
    let mut raw = vec![0u8; len as usize];
    sys.mem().copy_in(ctl, &mut raw)?;
    let mut at = 0usize;
    while at + 16 <= raw.len() {
        let clen = u64::from_le_bytes(raw[at..at + 8].try_into().unwrap()) as usize;
        let level = i32::from_le_bytes(raw[at + 8..at + 12].try_into().unwrap());
        let ty = i32::from_le_bytes(raw[at + 12..at + 16].try_into().unwrap());
        if clen < 16 || clen > raw.len() - at {
            return Err(Errno::EINVAL);
        }
        let data = &raw[at + 16..at + clen];
        if level == SOL_SOCKET {
            if domain != AF_UNIX {
                return Err(Errno::EINVAL);
            }
            match ty {
                SCM_RIGHTS => {
                    let n = data.len() / 4;
                    if n == 0 || out.fds.len() + n > SCM_MAX_FD {
                        return Err(Errno::EINVAL);
                    }
                    for c in data.chunks_exact(4) {
                        let fd = i32::from_le_bytes(c.try_into().unwrap());
                        out.fds.push(sys.p.fds.file(fd)?);
                    }
                }
                SCM_CREDENTIALS => {
                    if data.len() != 12 {
                        return Err(Errno::EINVAL);
                    }
                    let w = |i: usize| u32::from_le_bytes(data[i..i + 4].try_into().unwrap());
                    let c = Ucred {
                        pid: w(0) as i32,
                        uid: w(4),
                        gid: w(8),
                    };
                    let me = &sys.p.creds;
                    let ok = sys.p.creds.euid == 0
                        || (c.pid == sys.p.pid
                            && [me.uid, me.euid].contains(&c.uid)
                            && [me.gid, me.egid].contains(&c.gid));
                    if !ok {
                        return Err(Errno::EPERM);
                    }
                    out.cred = Some(c);
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        at += (clen + 7) & !7;
    }
    Ok(out)
}

/// The bytes a send takes: the caller's iovecs, or a kernel buffer
/// (sendfile).
pub(crate) enum Source<'a> {
    User(&'a [(u64, u64)]),
    Kernel(&'a [u8]),
}

impl Source<'_> {
    fn len(&self) -> usize {
        match self {
            Source::User(v) => total(v),
            Source::Kernel(b) => b.len(),
        }
    }

    /// Bytes `[skip, skip + max)` of the source (EFAULT if unreadable).
    fn window(&self, sys: &mut Sys<'_>, skip: usize, max: usize) -> Result<Vec<u8>, Errno> {
        let end = self.len().min(skip.saturating_add(max));
        match self {
            Source::Kernel(b) => Ok(b[skip.min(end)..end].to_vec()),
            Source::User(v) => {
                let mut out = Vec::with_capacity(end.saturating_sub(skip));
                let mut at = 0usize;
                for &(base, len) in v.iter() {
                    let len = len as usize;
                    let (lo, hi) = (at.max(skip), at.saturating_add(len).min(end));
                    if lo < hi {
                        let start = out.len();
                        out.resize(start + hi - lo, 0);
                        sys.mem()
                            .copy_in(base.wrapping_add((lo - at) as u64), &mut out[start..])?;
                    }
                    at = at.saturating_add(len);
                    if at >= end {
                        break;
                    }
                }
                Ok(out)
            }
        }
    }
}

/// A stream send takes at most this much of the caller's buffer per try
/// (the peer's queue holds less), so a huge length allocates nothing huge.
const STREAM_WINDOW: usize = 1 << 20;

/// The send every form shares (sock_sendmsg()): `dest` is the raw
/// address (empty: none). Streams return only once all is sent unless
/// nonblocking (the part sent so far is kept in `write_done` across
/// retries, as for pipes); EPIPE raises SIGPIPE unless MSG_NOSIGNAL.
/// A message larger than its socket type allows is EMSGSIZE before any
/// of it is read.
fn send_core(
    sys: &mut Sys<'_>,
    file: &FileRef,
    s: &SockRef,
    src: Source<'_>,
    dest: &[u8],
    ctl: Control,
    flags: u32,
) -> Result<usize, Errno> {
    let r = send_inner(sys, file, s, src, dest, ctl, flags);
    settle(sys, r)
}

fn send_inner(
    sys: &mut Sys<'_>,
    file: &FileRef,
    s: &SockRef,
    src: Source<'_>,
    dest: &[u8],
    ctl: Control,
    flags: u32,
) -> Result<usize, Errno> {
    let nonblock = nonblocking(file) || flags & MSG_DONTWAIT != 0;
    let (domain, kind, sndbuf) = {
        let b = s.borrow();
        (b.domain, b.kind, b.sndbuf)
    };
    if flags & MSG_OOB != 0 && (domain == AF_UNIX || kind == Kind::Dgram) {
        return Err(Errno::EOPNOTSUPP);
    }
    let me = cred(sys);
    let from = s
        .borrow()
        .local
        .clone()
        .filter(|a| *a != Addr::Unix(vec![]));
    let msg = |bytes: Vec<u8>, ctl: Control| Msg {
        data: bytes,
        off: 0,
        from: from.clone(),
        fds: ctl.fds,
        cred: (domain == AF_UNIX).then(|| ctl.cred.unwrap_or(me)),
    };
    let total = src.len();
    let r = if kind == Kind::Dgram {
        let limit = if domain == AF_UNIX {
            sndbuf.saturating_sub(32)
        } else {
            socket::UDP_MAX
        };
        if total > limit {
            return Err(Errno::EMSGSIZE);
        }
        let data = src.window(sys, 0, total)?;
        send_dgram(sys, s, msg(data, ctl), dest)
    } else {
        if !dest.is_empty() && domain == AF_UNIX && kind == Kind::Stream {
            return Err(if s.borrow().state == State::Connected {
                Errno::EISCONN
            } else {
                Errno::EOPNOTSUPP
            });
        }
        if kind == Kind::Seqpacket {
            if total > sndbuf {
                return Err(Errno::EMSGSIZE);
            }
            let data = src.window(sys, 0, total)?;
            socket::send_connected(s, msg(data, ctl))
        } else {
            let done = sys.t.write_done.min(total);
            let ctl = if done == 0 { ctl } else { Control::default() };
            let data = match src.window(sys, done, STREAM_WINDOW) {
                Ok(d) => d,
                Err(e) if done == 0 => return Err(e),
                Err(_) => {
                    sys.t.write_done = 0;
                    return Ok(done);
                }
            };
            match socket::send_connected(s, msg(data, ctl)) {
                Ok(k) if done + k == total || nonblock => {
                    sys.t.write_done = 0;
                    Ok(done + k)
                }
                Ok(k) => {
                    if park(sys, s, so::SNDTIMEO) {
                        sys.t.write_done = done + k;
                        return Ok(0);
                    }
                    sys.t.write_done = 0;
                    Ok(done + k)
                }
                Err(Errno::EAGAIN) if !nonblock => {
                    if park(sys, s, so::SNDTIMEO) {
                        sys.t.write_done = done;
                        return Err(Errno::EAGAIN);
                    }
                    sys.t.write_done = 0;
                    if done > 0 {
                        Ok(done)
                    } else {
                        return Err(Errno::EAGAIN);
                    }
                }
                Err(e) => {
                    sys.t.write_done = 0;
                    if done > 0 {
                        Ok(done)
                    } else {
                        Err(e)
                    }
                }
            }
        }
    };
    match r {
        Err(Errno::EAGAIN) if !nonblock => {
            park(sys, s, so::SNDTIMEO);
            Err(Errno::EAGAIN)
        }
        Err(Errno::EPIPE) => {
            if flags & MSG_NOSIGNAL == 0 {
                let (pid, uid) = (sys.p.pid, sys.p.creds.uid);
                let info = crate::signal::SigInfo::user(crate::signal::sig::SIGPIPE, 0, pid, uid);
                let _ = crate::deliver::send_thread(sys.p, sys.t, None, info);
            }
            Err(Errno::EPIPE)
        }
        r => r,
    }
}

/// A datagram (unix_dgram_sendmsg(), udp_sendmsg()): to `dest`, or the
/// connected peer (ENOTCONN / EDESTADDRREQ without one). AF_UNIX: a peer
/// that is connected elsewhere refuses (EPERM), one that is gone is
/// ECONNREFUSED, a message larger than the send buffer EMSGSIZE. UDP:
/// larger than 65507 bytes is EMSGSIZE; a datagram nobody is bound to
/// receive is dropped.
fn send_dgram(sys: &mut Sys<'_>, s: &SockRef, mut m: Msg, dest: &[u8]) -> Result<usize, Errno> {
    let domain = s.borrow().domain;
    let target = if dest.is_empty() {
        None
    } else {
        Some(parse_addr(domain, dest)?)
    };
    if domain == AF_UNIX {
        let to = match target {
            Some(Target::Unix(name)) => find_unix(sys, Kind::Dgram, &name)?,
            Some(_) => return Err(Errno::EINVAL),
            None => {
                let b = s.borrow();
                match (&b.peer, b.peer()) {
                    (_, Some(p)) => p,
                    (Some(_), None) => return Err(Errno::ECONNREFUSED),
                    (None, None) => return Err(Errno::ENOTCONN),
                }
            }
        };
        if to.borrow().kind != Kind::Dgram {
            return Err(Errno::EPROTOTYPE);
        }
        if !Rc::ptr_eq(&to, s) {
            let tb = to.borrow();
            if let Some(pp) = tb.peer() {
                if !Rc::ptr_eq(&pp, s) {
                    return Err(Errno::EPERM);
                }
            }
        }
        if s.borrow().snd_shut {
            return Err(Errno::EPIPE);
        }
        return socket::deliver_to(&to, m);
    }
    let dst = match target {
        Some(Target::Inet(a)) => a,
        Some(Target::Unspec) | None => match s.borrow().peer_addr.clone() {
            Some(Addr::Inet(a)) => a,
            _ => return Err(Errno::EDESTADDRREQ),
        },
        Some(_) => return Err(Errno::EINVAL),
    };
    if s.borrow().snd_shut {
        return Err(Errno::EPIPE);
    }
    let dst = socket::route(dst)?;
    autobind_inet(sys, s)?;
    let bound = match s.borrow().local.clone() {
        Some(Addr::Inet(a)) => a,
        _ => unreachable!("send_dgram: autobind left the socket unbound"),
    };
    let src = socket::source_for(domain, Some(&bound), &dst);
    m.from = Some(Addr::Inet(src));
    let n = m.data.len();
    let Some(to) = sys.net.find_udp(dst) else {
        // Nobody is bound there: the ICMP port unreachable that comes
        // back is reported on a connected socket (__udp4_lib_err():
        // ECONNREFUSED on its next call), ignored on an unconnected one.
        if s.borrow().peer_addr.is_some() {
            let mut b = s.borrow_mut();
            b.err = Some(Errno::ECONNREFUSED);
            b.wakes_in += 1;
        }
        return Ok(n);
    };
    {
        // A connected UDP socket takes datagrams from its peer only.
        let accepts = match &to.borrow().peer_addr {
            Some(Addr::Inet(p)) => {
                let (tdom, p) = (to.borrow().domain, *p);
                socket::seen_by(tdom, &p) == socket::seen_by(tdom, &src)
            }
            _ => true,
        };
        if accepts {
            socket::deliver_to(&to, m)?;
        }
    }
    Ok(n)
}

/// What a receive returns to the caller.
struct Got {
    data: Vec<u8>,
    /// The return value (the full datagram length with MSG_TRUNC).
    ret: usize,
    from: Option<Addr>,
    fds: Vec<FileRef>,
    cred: Option<Ucred>,
    msg_flags: u32,
}

/// The receive every form shares (sock_recvmsg()).
fn recv_core(
    sys: &mut Sys<'_>,
    file: &FileRef,
    s: &SockRef,
    len: usize,
    flags: u32,
) -> Result<Got, Errno> {
    let r = recv_inner(sys, file, s, len, flags);
    settle(sys, r)
}

fn recv_inner(
    sys: &mut Sys<'_>,
    file: &FileRef,
    s: &SockRef,
    len: usize,
    flags: u32,
) -> Result<Got, Errno> {
    let nonblock = nonblocking(file) || flags & MSG_DONTWAIT != 0;
    let (domain, kind) = {
        let b = s.borrow();
        (b.domain, b.kind)
    };
    if flags & MSG_ERRQUEUE != 0 {
        return Err(Errno::EAGAIN);
    }
    if flags & MSG_OOB != 0 {
        return Err(if domain == AF_UNIX || kind == Kind::Dgram {
            Errno::EOPNOTSUPP
        } else {
            Errno::EINVAL
        });
    }
    let peek = flags & MSG_PEEK != 0;
    if kind == Kind::Stream && flags & MSG_WAITALL != 0 && !peek && !nonblock {
        // Wait until all asked for is there (or the stream ends).
        let short = {
            let b = s.borrow();
            let want = len.min(b.rcvbuf.max(socket::DEFAULT_BUF) / 2);
            b.available() < want && !b.rcv_shut && b.err.is_none() && b.state == State::Connected
        };
        // Past SO_RCVTIMEO, what is there is returned.
        if short && park(sys, s, so::RCVTIMEO) {
            return Err(Errno::EAGAIN);
        }
    }
    let r = match socket::recv(s, len, peek) {
        Err(Errno::EAGAIN) if !nonblock => {
            park(sys, s, so::RCVTIMEO);
            return Err(Errno::EAGAIN);
        }
        r => r?,
    };
    let mut msg_flags = 0;
    let mut ret = r.data.len();
    if kind.messages() && r.full_len > r.data.len() {
        msg_flags |= MSG_TRUNC;
        if flags & MSG_TRUNC != 0 {
            ret = r.full_len;
        }
    }
    let from = match (domain, &r.from) {
        (AF_UNIX, Some(Addr::Unix(n))) if !n.is_empty() => r.from.clone(),
        (AF_UNIX, _) => None,
        _ if kind == Kind::Stream => None,
        _ => r.from.clone(),
    };
    Ok(Got {
        data: r.data,
        ret,
        from,
        fds: r.fds,
        cred: r.cred,
        msg_flags,
    })
}

/// Copies `data` out over the iovecs `v`.
fn scatter(sys: &mut Sys<'_>, v: &[(u64, u64)], data: &[u8]) -> Result<(), Errno> {
    let mut done = 0;
    for &(base, len) in v {
        if done >= data.len() {
            break;
        }
        let k = (len as usize).min(data.len() - done);
        sys.copy_out_reclaiming(base, &data[done..done + k])?;
        done += k;
    }
    Ok(())
}

/// The bytes the iovecs `v` cover, at most MAX_RW_COUNT.
fn total(v: &[(u64, u64)]) -> usize {
    v.iter()
        .fold(0u64, |t, &(_, l)| t.saturating_add(l))
        .min(0x7fff_f000) as usize
}

/// sendto(fd, buf, len, flags, addr, addrlen).
pub fn sendto(
    sys: &mut Sys<'_>,
    fd: i32,
    buf: u64,
    len: u64,
    flags: u32,
    addr: u64,
    alen: u32,
) -> SysResult {
    let (file, s) = sock(sys, fd)?;
    let dest = if addr == 0 {
        Vec::new()
    } else {
        read_addr(sys, addr, alen)?
    };
    let v = [(buf, len)];
    Ok(send_core(
        sys,
        &file,
        &s,
        Source::User(&v),
        &dest,
        Control::default(),
        flags,
    )? as u64)
}

/// recvfrom(fd, buf, len, flags, addr, addrlen).
pub fn recvfrom(
    sys: &mut Sys<'_>,
    fd: i32,
    buf: u64,
    len: u64,
    flags: u32,
    addr: u64,
    lenp: u64,
) -> SysResult {
    let (file, s) = sock(sys, fd)?;
    let len = len.min(0x7fff_f000) as usize;
    if len > 0 {
        super::fs::user_range(buf, len)?;
    }
    let got = recv_core(sys, &file, &s, len, flags)?;
    sys.copy_out_reclaiming(buf, &got.data)?;
    if addr != 0 {
        let bytes = got
            .from
            .as_ref()
            .map_or(Vec::new(), |a| encode_addr(s.borrow().domain, Some(a)));
        put_addr(sys, addr, lenp, &bytes)?;
    }
    Ok(got.ret as u64)
}

/// struct msghdr (64-bit): name, namelen, iov, iovlen, control,
/// controllen, flags.
struct MsgHdr {
    name: u64,
    namelen: u32,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
}

fn read_msghdr(sys: &mut Sys<'_>, at: u64) -> Result<MsgHdr, Errno> {
    let mut b = [0u8; 56];
    sys.mem().copy_in(at, &mut b)?;
    let q = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    Ok(MsgHdr {
        name: q(0),
        namelen: u32::from_le_bytes(b[8..12].try_into().unwrap()),
        iov: q(16),
        iovlen: q(24),
        control: q(32),
        controllen: q(40),
    })
}

fn sendmsg_one(sys: &mut Sys<'_>, fd: i32, hdr: u64, flags: u32) -> Result<usize, Errno> {
    let (file, s) = sock(sys, fd)?;
    let h = read_msghdr(sys, hdr)?;
    let dest = if h.name == 0 {
        Vec::new()
    } else {
        read_addr(sys, h.name, h.namelen)?
    };
    let v = super::fs::iovecs(sys, h.iov, h.iovlen)?;
    let domain = s.borrow().domain;
    let ctl = read_control(sys, domain, h.control, h.controllen)?;
    send_core(sys, &file, &s, Source::User(&v), &dest, ctl, flags)
}

/// sendmsg(fd, msg, flags).
pub fn sendmsg(sys: &mut Sys<'_>, fd: i32, hdr: u64, flags: u32) -> SysResult {
    Ok(sendmsg_one(sys, fd, hdr, flags)? as u64)
}

/// Writes the control messages a receive brings (scm_recv(): credentials
/// with SO_PASSCRED, then descriptors, installed in the caller's table
/// (close-on-exec with MSG_CMSG_CLOEXEC); what does not fit is dropped
/// and MSG_CTRUNC set). Returns the control length used.
fn put_control(
    sys: &mut Sys<'_>,
    ctl: u64,
    room: u64,
    got: &mut Got,
    passcred: bool,
    flags: u32,
) -> Result<u64, Errno> {
    let room = room.min(1 << 20) as usize;
    let mut out = Vec::new();
    let push = |out: &mut Vec<u8>, ty: i32, data: &[u8]| {
        let clen = 16 + data.len();
        out.extend_from_slice(&(clen as u64).to_le_bytes());
        out.extend_from_slice(&SOL_SOCKET.to_le_bytes());
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(data);
        out.resize((out.len() + 7) & !7, 0);
    };
    if passcred {
        let c = got.cred.unwrap_or(Ucred {
            pid: 0,
            uid: 65534,
            gid: 65534,
        });
        if ctl == 0 || room < out.len() + 28 {
            got.msg_flags |= MSG_CTRUNC;
        } else {
            let mut d = Vec::new();
            d.extend_from_slice(&c.pid.to_le_bytes());
            d.extend_from_slice(&c.uid.to_le_bytes());
            d.extend_from_slice(&c.gid.to_le_bytes());
            push(&mut out, SCM_CREDENTIALS, &d);
        }
    }
    let fds = std::mem::take(&mut got.fds);
    if !fds.is_empty() {
        let fit = if ctl == 0 {
            0
        } else {
            room.saturating_sub(out.len() + 16) / 4
        };
        let n = fds.len().min(fit);
        if n < fds.len() {
            got.msg_flags |= MSG_CTRUNC;
        }
        let limit = nofile(sys);
        let cloexec = flags & MSG_CMSG_CLOEXEC != 0;
        let mut d = Vec::new();
        for f in fds.into_iter().take(n) {
            match sys.p.fds.install(FdEntry { file: f, cloexec }, 0, limit) {
                Ok(fd) => d.extend_from_slice(&fd.to_le_bytes()),
                Err(_) => {
                    got.msg_flags |= MSG_CTRUNC;
                    break;
                }
            }
        }
        if !d.is_empty() {
            push(&mut out, SCM_RIGHTS, &d);
        }
    }
    let used = out.len().min(room);
    if used > 0 {
        sys.mem().copy_out(ctl, &out[..used])?;
    }
    Ok(used as u64)
}

fn recvmsg_one(sys: &mut Sys<'_>, fd: i32, hdr: u64, flags: u32) -> Result<usize, Errno> {
    let (file, s) = sock(sys, fd)?;
    let h = read_msghdr(sys, hdr)?;
    let v = super::fs::iovecs(sys, h.iov, h.iovlen)?;
    let mut got = recv_core(sys, &file, &s, total(&v), flags)?;
    scatter(sys, &v, &got.data)?;
    let (domain, passcred) = {
        let b = s.borrow();
        (b.domain, b.opt_int(SOL_SOCKET, so::PASSCRED) != 0)
    };
    if h.name != 0 {
        let bytes = got
            .from
            .as_ref()
            .map_or(Vec::new(), |a| encode_addr(domain, Some(a)));
        let n = bytes.len().min(h.namelen as usize);
        if n > 0 {
            sys.mem().copy_out(h.name, &bytes[..n])?;
        }
        sys.mem().write_u32(hdr + 8, bytes.len() as u32)?;
    }
    let used = put_control(sys, h.control, h.controllen, &mut got, passcred, flags)?;
    sys.mem().write_u64(hdr + 40, used)?;
    sys.mem().write_u32(hdr + 48, got.msg_flags)?;
    Ok(got.ret)
}

/// recvmsg(fd, msg, flags).
pub fn recvmsg(sys: &mut Sys<'_>, fd: i32, hdr: u64, flags: u32) -> SysResult {
    Ok(recvmsg_one(sys, fd, hdr, flags)? as u64)
}

/// sendmmsg(fd, vec, vlen, flags): each struct mmsghdr (a msghdr and the
/// count sent) in turn; returns how many went, or the first one's error.
pub fn sendmmsg(sys: &mut Sys<'_>, fd: i32, vec: u64, vlen: u32, flags: u32) -> SysResult {
    const UIO_MAXIOV: u32 = 1024;
    sock(sys, fd)?;
    let vlen = vlen.min(UIO_MAXIOV);
    let mut sent = 0u32;
    while sent < vlen {
        let at = vec.wrapping_add(u64::from(sent) * 64);
        match sendmsg_one(sys, fd, at, flags) {
            Ok(n) => {
                sys.mem().write_u32(at + 56, n as u32)?;
                sent += 1;
            }
            Err(e) if sent == 0 => return Err(e),
            Err(_) => {
                sys.block = false;
                break;
            }
        }
        if sys.block {
            break;
        }
    }
    Ok(u64::from(sent))
}

/// recvmmsg(fd, vec, vlen, flags, timeout): receives into each mmsghdr
/// while messages are there (the first may wait; later ones do not).
pub fn recvmmsg(
    sys: &mut Sys<'_>,
    fd: i32,
    vec: u64,
    vlen: u32,
    flags: u32,
    tmo: u64,
) -> SysResult {
    const MSG_WAITFORONE: u32 = 0x10000;
    sock(sys, fd)?;
    if tmo != 0 {
        super::time::read_timespec(sys, tmo)?;
    }
    let vlen = vlen.min(1024);
    let mut got = 0u32;
    let mut fl = flags & !MSG_WAITFORONE;
    while got < vlen {
        let at = vec.wrapping_add(u64::from(got) * 64);
        match recvmsg_one(sys, fd, at, fl) {
            Ok(n) => {
                sys.mem().write_u32(at + 56, n as u32)?;
                got += 1;
            }
            Err(e) if got == 0 => return Err(e),
            Err(_) => {
                sys.block = false;
                break;
            }
        }
        if flags & MSG_WAITFORONE != 0 {
            fl |= MSG_DONTWAIT;
        }
    }
    Ok(u64::from(got))
}

/// read(2)/readv(2) on a socket: recv with no flags.
pub(crate) fn read(sys: &mut Sys<'_>, file: &FileRef, s: &SockRef, v: &[(u64, u64)]) -> SysResult {
    let got = recv_core(sys, file, s, total(v), 0)?;
    scatter(sys, v, &got.data)?;
    Ok(got.data.len() as u64)
}

/// write(2)/writev(2) on a socket, and sendfile into one: send with no
/// flags (SIGPIPE on EPIPE).
pub(crate) fn write(
    sys: &mut Sys<'_>,
    file: &FileRef,
    s: &SockRef,
    src: Source<'_>,
) -> Result<usize, Errno> {
    send_core(sys, file, s, src, &[], Control::default(), 0)
}

/// setsockopt(fd, level, name, val, len).
pub fn setsockopt(
    sys: &mut Sys<'_>,
    fd: i32,
    level: i32,
    name: i32,
    val: u64,
    len: u32,
) -> SysResult {
    let (_, s) = sock(sys, fd)?;
    let len = i32::try_from(len).map_err(|_| Errno::EINVAL)? as usize;
    let (domain, kind) = {
        let b = s.borrow();
        (b.domain, b.kind)
    };
    let read = |sys: &mut Sys<'_>, n: usize| -> Result<Vec<u8>, Errno> {
        if len < n {
            return Err(Errno::EINVAL);
        }
        let mut b = vec![0u8; n];
        sys.mem().copy_in(val, &mut b)?;
        Ok(b)
    };
    let int = |b: &[u8]| i32::from_le_bytes(b[..4].try_into().unwrap());
    match level {
        SOL_SOCKET => {
            let bytes = match name {
                so::LINGER => read(sys, 8)?,
                so::RCVTIMEO | so::SNDTIMEO => {
                    let ticks = timeval_to_ticks(&read(sys, 16)?)?;
                    ticks.to_le_bytes().to_vec()
                }
                so::SNDBUF | so::RCVBUF | so::SNDBUFFORCE | so::RCVBUFFORCE => {
                    // sock_setsockopt(): doubled, within [min, rmem_max*2].
                    let v = int(&read(sys, 4)?).max(0) as usize;
                    let v = (v.min(socket::DEFAULT_BUF) * 2).max(4608);
                    let mut b = s.borrow_mut();
                    if name == so::SNDBUF || name == so::SNDBUFFORCE {
                        b.sndbuf = v;
                    } else {
                        b.rcvbuf = v;
                    }
                    return Ok(0);
                }
                n if so::PLAIN.contains(&n) => read(sys, 4)?,
                _ => return Err(Errno::ENOPROTOOPT),
            };
            s.borrow_mut().opts.insert((level, name), bytes);
            Ok(0)
        }
        IPPROTO_TCP if domain != AF_UNIX && kind == Kind::Stream => {
            if !TCP_OPTS.contains(&name) {
                return Err(Errno::ENOPROTOOPT);
            }
            let b = read(sys, 4)?;
            s.borrow_mut().opts.insert((level, name), b);
            Ok(0)
        }
        IPPROTO_IP | IPPROTO_IPV6 | IPPROTO_UDP if domain != AF_UNIX => {
            if level == IPPROTO_IPV6 && domain != AF_INET6 {
                return Err(Errno::ENOPROTOOPT);
            }
            let n = len.min(64);
            let b = read(sys, n)?;
            s.borrow_mut().opts.insert((level, name), b);
            Ok(0)
        }
        _ if domain == AF_UNIX => Err(Errno::EOPNOTSUPP),
        _ => Err(Errno::ENOPROTOOPT),
    }
}

/// getsockopt(fd, level, name, val, lenp).
pub fn getsockopt(
    sys: &mut Sys<'_>,
    fd: i32,
    level: i32,
    name: i32,
    val: u64,
    lenp: u64,
) -> SysResult {
    let (_, s) = sock(sys, fd)?;
    let room = read_len(sys, lenp)?;
    let int = |v: i32| v.to_le_bytes().to_vec();
    let bytes = {
        let mut b = s.borrow_mut();
        let (domain, kind) = (b.domain, b.kind);
        match level {
            SOL_SOCKET => match name {
                so::TYPE => int(kind as i32),
                so::ERROR => int(b.take_err().map_or(0, |e| e.0)),
                so::DOMAIN => int(i32::from(domain)),
                so::PROTOCOL => int(b.protocol),
                so::ACCEPTCONN => int(i32::from(b.state == State::Listening)),
                so::SNDBUF => int(b.sndbuf as i32),
                so::RCVBUF => int(b.rcvbuf as i32),
                so::PEERCRED => {
                    let c = b.peer_cred.unwrap_or(Ucred {
                        pid: 0,
                        uid: 65534,
                        gid: 65534,
                    });
                    let mut v = int(c.pid);
                    v.extend_from_slice(&c.uid.to_le_bytes());
                    v.extend_from_slice(&c.gid.to_le_bytes());
                    v
                }
                so::PEERNAME => {
                    if b.peer_addr.is_none() {
                        return Err(Errno::ENOTCONN);
                    }
                    encode_addr(domain, b.peer_addr.as_ref())
                }
                so::LINGER => b.opts.get(&(level, name)).cloned().unwrap_or(vec![0; 8]),
                so::RCVTIMEO | so::SNDTIMEO => ticks_to_timeval(
                    b.opts
                        .get(&(level, name))
                        .map_or(u64::MAX, |v| u64::from_le_bytes(v[..8].try_into().unwrap())),
                ),
                n if so::PLAIN.contains(&n) => int(b.opt_int(level, n)),
                _ => return Err(Errno::ENOPROTOOPT),
            },
            IPPROTO_TCP if domain != AF_UNIX && kind == Kind::Stream => {
                if !TCP_OPTS.contains(&name) {
                    return Err(Errno::ENOPROTOOPT);
                }
                const TCP_MAXSEG: i32 = 2;
                match b.opts.get(&(level, name)) {
                    Some(v) => v.clone(),
                    None if name == TCP_MAXSEG => int(536),
                    None => int(0),
                }
            }
            IPPROTO_IP | IPPROTO_IPV6 | IPPROTO_UDP if domain != AF_UNIX => {
                const IP_TTL: i32 = 2;
                const IPV6_UNICAST_HOPS: i32 = 16;
                match b.opts.get(&(level, name)) {
                    Some(v) => v.clone(),
                    None if level == IPPROTO_IP && name == IP_TTL => int(64),
                    None if level == IPPROTO_IPV6 && name == IPV6_UNICAST_HOPS => int(64),
                    None => int(0),
                }
            }
            _ if domain == AF_UNIX => return Err(Errno::EOPNOTSUPP),
            _ => return Err(Errno::ENOPROTOOPT),
        }
    };
    let n = room.min(bytes.len());
    if n > 0 {
        sys.mem().copy_out(val, &bytes[..n])?;
    }
    sys.mem().write_u32(lenp, n as u32)?;
    Ok(0)
}
