//! ppoll and pselect6 (fs/select.c): which descriptors are ready, waiting
//! (parked like a blocked pipe read, retried whenever something happened)
//! until one is, the timeout passes or a signal comes.

use super::Sys;
use crate::epoll::PollState;
use crate::errno::{Errno, SysResult};
use crate::fd::{FileRef, Object};
use crate::process::rlimit;
use crate::signal::{SIGSET_SIZE, UNBLOCKABLE};

pub const POLLIN: u16 = 0x001;
pub const POLLPRI: u16 = 0x002;
pub const POLLOUT: u16 = 0x004;
pub const POLLERR: u16 = 0x008;
pub const POLLHUP: u16 = 0x010;
pub const POLLNVAL: u16 = 0x020;
pub const POLLRDNORM: u16 = 0x040;
pub const POLLWRNORM: u16 = 0x100;

/// The events an open file description has now (its f_op->poll()). Files
/// without a poll method (regular files, directories, /dev/null, procfs)
/// are always readable and writable (DEFAULT_POLLMASK); the host's
/// standard streams are taken as ready (a read of stdin waits on the host).
pub(crate) fn poll_mask(file: &FileRef) -> u16 {
    const DEFAULT_POLLMASK: u16 = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
    match &file.borrow().object {
        Object::PipeRead(end) => end.pipe.borrow().poll(false),
        Object::PipeWrite(end) => end.pipe.borrow().poll(true),
        Object::Stdin => POLLIN | POLLRDNORM,
        Object::Tty => POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM,
        Object::Stdout | Object::Stderr => POLLOUT | POLLWRNORM,
        Object::EventFd(e) => e.borrow().poll(),
        Object::TimerFd(t) => t.borrow_mut().poll(),
        // These answer for a poller: see `poll_state`.
        Object::SignalFd(_) | Object::Epoll(_) => 0,
        _ => DEFAULT_POLLMASK,
    }
}

/// The events of `file` for a poller whose pending signals (its own and
/// its group's) are `pending`, with the object's wakeup counts for edge
/// triggering: the one readiness entry point ppoll, pselect6 and epoll
/// share. A signalfd is readable when the poller has a signal of its
/// mask pending (signalfd_poll()); an epoll file when one of its
/// registrations would be reported (ep_eventpoll_poll()); every other
/// object answers [`poll_mask`].
pub(crate) fn poll_state(file: &FileRef, pending: u64) -> PollState {
    let f = file.borrow();
    match &f.object {
        Object::SignalFd(s) => PollState {
            mask: s.poll(pending),
            rseq: pending,
            wseq: 0,
        },
        Object::Epoll(ep) => {
            let ep = ep.clone();
            drop(f);
            let ready = ep
                .borrow_mut()
                .collect(1, false, &mut |g| poll_state(g, pending));
            PollState {
                mask: if ready.is_empty() {
                    0
                } else {
                    POLLIN | POLLRDNORM
                },
                ..Default::default()
            }
        }
        Object::EventFd(e) => {
            let e = e.borrow();
            PollState {
                mask: e.poll(),
                rseq: e.writes,
                wseq: e.reads,
            }
        }
        Object::TimerFd(t) => {
            let mut t = t.borrow_mut();
            PollState {
                mask: t.poll(),
                rseq: t.seq,
                wseq: 0,
            }
        }
        Object::PipeRead(end) => {
            let p = end.pipe.borrow();
            PollState {
                mask: p.poll(false),
                rseq: p.writes,
                wseq: 0,
            }
        }
        Object::PipeWrite(end) => {
            let p = end.pipe.borrow();
            PollState {
                mask: p.poll(true),
                rseq: 0,
                wseq: p.reads,
            }
        }
        _ => {
            drop(f);
            PollState {
                mask: poll_mask(file),
                ..Default::default()
            }
        }
    }
}

/// [`poll_state`]'s events alone.
pub(crate) fn poll_events(file: &FileRef, pending: u64) -> u16 {
    poll_state(file, pending).mask
}

/// Whether `file` has a poll method (file_can_poll()): regular files,
/// directories, /dev/null, /dev/zero and procfs files have none, so
/// epoll refuses them (EPERM); poll and select take them as always ready.
pub(crate) fn can_poll(file: &FileRef) -> bool {
    match &file.borrow().object {
        Object::Host(h) => h
            .file
            .metadata()
            .map(|m| !m.is_file() && !m.is_dir())
            .unwrap_or(false),
        Object::Null | Object::Zero | Object::Proc(_) => false,
        _ => true,
    }
}

/// What ppoll and pselect6 share: the optional timeout (a deadline kept
/// in `sleep_until` across retries) and the optional signal mask, in force
/// while waiting and restored when the call returns (a handler run for a
/// signal that interrupted the wait restores it on return, as sigsuspend).
struct Wait {
    timeout: Option<u64>,
}

impl Wait {
    /// Reads the timeout at `tsp` (0: none) and installs `mask` if given.
    fn begin(sys: &mut Sys<'_>, tsp: u64, mask: Option<u64>) -> Result<Self, Errno> {
        let timeout = if tsp == 0 {
            None
        } else {
            Some(super::time::read_timespec(sys, tsp)?)
        };
        if let Some(m) = mask {
            let s = &mut sys.t.signals;
            if s.saved_mask.is_none() {
                s.saved_mask = Some(s.blocked);
            }
            s.blocked = m & !UNBLOCKABLE;
        }
        Ok(Wait { timeout })
    }

    /// Nothing is ready: true if the call should return 0 (the timeout
    /// passed), false after parking the thread to be retried.
    fn expired(&self, sys: &mut Sys<'_>) -> bool {
        match self.timeout {
            Some(0) => true,
            Some(ns) => super::time::sleep_ns(sys, ns),
            None => {
                sys.block = true;
                false
            }
        }
    }

    /// The call returns: the old signal mask comes back, and the time left
    /// is written to `tsp` (poll_select_finish()).
    fn finish(self, sys: &mut Sys<'_>, tsp: u64, had_mask: bool) -> Result<(), Errno> {
        if had_mask {
            if let Some(old) = sys.t.signals.saved_mask.take() {
                sys.t.signals.blocked = old;
            }
        }
        let left = match sys.t.sleep_until.take() {
            Some(deadline) => deadline.saturating_sub(sys.clock.monotonic_ns()),
            None => 0,
        };
        if tsp != 0 && self.timeout.is_some_and(|t| t != 0) {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&(left / 1_000_000_000).to_le_bytes());
            b[8..].copy_from_slice(&(left % 1_000_000_000).to_le_bytes());
            sys.mem().copy_out(tsp, &b)?;
        }
        Ok(())
    }
}

/// Reads ppoll's/pselect6's signal mask: none at `addr` 0, else EINVAL
/// unless `size` is the kernel's sigset size.
fn read_mask(sys: &mut Sys<'_>, addr: u64, size: u64) -> Result<Option<u64>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    if size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    Ok(Some(sys.mem().read_u64(addr)?))
}

/// ppoll(fds, nfds, tsp, sigmask, sigsetsize) (fs/select.c: do_sys_poll()):
/// EINVAL if `nfds` exceeds RLIMIT_NOFILE or the timeout or mask size is
/// bad, EFAULT for unreadable arguments. Each entry's `revents` gets its
/// requested events that are ready plus POLLERR/POLLHUP, POLLNVAL for a
/// closed descriptor, nothing for a negative one. Returns how many
/// entries have events, 0 when the timeout passes first, EINTR if a
/// signal comes (never restarted).
pub fn ppoll(
    sys: &mut Sys<'_>,
    fds: u64,
    nfds: u64,
    tsp: u64,
    sigmask: u64,
    size: u64,
) -> SysResult {
    // RLIMIT_NOFILE never exceeds fs.nr_open (1 << 20) in Linux.
    const NR_OPEN: u64 = 1 << 20;
    if nfds > sys.p.rlimits[rlimit::NOFILE].cur || nfds > NR_OPEN {
        return Err(Errno::EINVAL);
    }
    let mask = read_mask(sys, sigmask, size)?;
    let mut raw = vec![0u8; nfds as usize * 8];
    sys.mem().copy_in(fds, &mut raw)?;
    let wait = Wait::begin(sys, tsp, mask)?;
    let pending = sys.t.signals.pending(&sys.p.signals.shared);
    let mut ready = 0u64;
    for e in raw.chunks_exact_mut(8) {
        let fd = i32::from_le_bytes(e[..4].try_into().unwrap());
        let events = u16::from_le_bytes(e[4..6].try_into().unwrap());
        let revents = if fd < 0 {
            0
        } else {
            match sys.p.fds.file(fd) {
                Ok(f) => poll_events(&f, pending) & (events | POLLERR | POLLHUP),
                Err(_) => POLLNVAL,
            }
        };
        e[6..8].copy_from_slice(&revents.to_le_bytes());
        ready += u64::from(revents != 0);
    }
    if ready == 0 && !wait.expired(sys) {
        return Ok(0);
    }
    sys.mem().copy_out(fds, &raw)?;
    wait.finish(sys, tsp, mask.is_some())?;
    Ok(ready)
}

/// pselect6(nfds, readfds, writefds, exceptfds, tsp, sig) (fs/select.c:
/// core_sys_select()): `sig` points at {sigset pointer, size}. EINVAL for
/// a negative `nfds`, EBADF if a set names a descriptor that is not open.
/// Readable means POLLIN/POLLHUP/POLLERR, writable POLLOUT/POLLERR,
/// exceptional POLLPRI; the sets are rewritten to the ready descriptors
/// and the count of set bits returned.
pub fn pselect6(sys: &mut Sys<'_>, nfds: i32, sets: [u64; 3], tsp: u64, sig: u64) -> SysResult {
    const IN: u16 = POLLIN | POLLRDNORM | POLLHUP | POLLERR;
    const OUT: u16 = POLLOUT | POLLWRNORM | POLLERR;
    const EX: u16 = POLLPRI;
    if nfds < 0 {
        return Err(Errno::EINVAL);
    }
    let mask = if sig == 0 {
        None
    } else {
        let set = sys.mem().read_u64(sig)?;
        let size = sys.mem().read_u64(sig + 8)?;
        read_mask(sys, set, size)?
    };
    // Descriptors past the table cannot be open: the sets are cut there
    // (only that many bits are read and written back, as in Linux).
    // Linux's table (max_fds) has at least BITS_PER_LONG slots and grows
    // in powers of two.
    let max_fds = sys.p.fds.size().next_power_of_two().max(64);
    let n = (nfds as usize).min(max_fds);
    let words = n.div_ceil(64);
    let mut inp = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    for (k, &addr) in sets.iter().enumerate() {
        if addr != 0 {
            let mut raw = vec![0u8; words * 8];
            sys.mem().copy_in(addr, &mut raw)?;
            for (w, c) in inp[k].iter_mut().zip(raw.chunks_exact(8)) {
                *w = u64::from_le_bytes(c.try_into().unwrap());
            }
        }
    }
    let wait = Wait::begin(sys, tsp, mask)?;
    let mut out = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    let mut ready = 0u64;
    for fd in 0..n {
        let (w, bit) = (fd / 64, 1u64 << (fd % 64));
        if inp.iter().all(|s| s[w] & bit == 0) {
            continue;
        }
        let file = if fd < n {
            sys.p.fds.file(fd as i32).ok()
        } else {
            None
        };
        let Some(file) = file else {
            if let Some(old) = mask.and(sys.t.signals.saved_mask.take()) {
                sys.t.signals.blocked = old;
            }
            sys.t.sleep_until = None;
            return Err(Errno::EBADF);
        };
        let pending = sys.t.signals.pending(&sys.p.signals.shared);
        let m = poll_events(&file, pending);
        for (k, want) in [IN, OUT, EX].into_iter().enumerate() {
            if inp[k][w] & bit != 0 && m & want != 0 {
                out[k][w] |= bit;
                ready += 1;
            }
        }
    }
    if ready == 0 && !wait.expired(sys) {
        return Ok(0);
    }
    for (k, &addr) in sets.iter().enumerate() {
        if addr != 0 {
            let raw: Vec<u8> = out[k].iter().flat_map(|w| w.to_le_bytes()).collect();
            sys.mem().copy_out(addr, &raw)?;
        }
    }
    wait.finish(sys, tsp, mask.is_some())?;
    Ok(ready)
}
