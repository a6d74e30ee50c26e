//! File descriptors that wait for events: eventfd2 (fs/eventfd.c),
//! timerfd_create/settime/gettime (fs/timerfd.c), signalfd4
//! (fs/signalfd.c) and epoll_create1/ctl/pwait/pwait2 (fs/eventpoll.c).
//! riscv64 has only these flag-taking forms (no eventfd, signalfd,
//! epoll_create or epoll_wait in the generic table).

use std::cell::RefCell;
use std::rc::Rc;

use super::Sys;
use crate::epoll::{self, Epoll};
use crate::errno::{Errno, SysResult};
use crate::eventfd::{EventFd, EFD_SEMAPHORE};
use crate::fd::{oflag, FdEntry, FileRef, Object, OpenFile};
use crate::process::rlimit;
use crate::signal::{SIGSET_SIZE, UNBLOCKABLE};
use crate::signalfd::{self, SignalFd};
use crate::timerfd::{TimerFd, TimerFdClock};

/// Installs a new anonymous-inode description (`anon_inode:[NAME]`),
/// read-write, with O_NONBLOCK from `flags`, close-on-exec if O_CLOEXEC.
fn install(sys: &mut Sys<'_>, object: Object, flags: u32, name: &str) -> SysResult {
    let file = OpenFile::new(
        object,
        oflag::O_RDWR | (flags & oflag::O_NONBLOCK),
        format!("anon_inode:{name}"),
    );
    let cloexec = flags & oflag::O_CLOEXEC != 0;
    let limit = sys.p.rlimits[rlimit::NOFILE].cur;
    Ok(sys.p.fds.install(FdEntry { file, cloexec }, 0, limit)? as u64)
}

/// eventfd2(initval, flags): EINVAL for flags other than EFD_SEMAPHORE,
/// EFD_NONBLOCK, EFD_CLOEXEC (do_eventfd()).
pub fn eventfd2(sys: &mut Sys<'_>, initval: u32, flags: u32) -> SysResult {
    if flags & !(EFD_SEMAPHORE | oflag::O_NONBLOCK | oflag::O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let e = EventFd::new(initval, flags & EFD_SEMAPHORE != 0);
    install(
        sys,
        Object::EventFd(Rc::new(RefCell::new(e))),
        flags,
        "[eventfd]",
    )
}

const CLOCK_REALTIME: i32 = 0;
const CLOCK_MONOTONIC: i32 = 1;
const CLOCK_BOOTTIME: i32 = 7;
const CLOCK_REALTIME_ALARM: i32 = 8;
const CLOCK_BOOTTIME_ALARM: i32 = 9;
const TFD_TIMER_ABSTIME: u32 = 1;
const TFD_TIMER_CANCEL_ON_SET: u32 = 2;

/// timerfd_create(clockid, flags): CLOCK_REALTIME, CLOCK_MONOTONIC,
/// CLOCK_BOOTTIME and their _ALARM forms (EPERM without CAP_WAKE_ALARM,
/// i.e. unless root); EINVAL for another clock or unknown flags.
pub fn timerfd_create(sys: &mut Sys<'_>, clockid: i32, flags: u32) -> SysResult {
    let clock = match clockid {
        CLOCK_REALTIME | CLOCK_REALTIME_ALARM => TimerFdClock::Realtime,
        CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_BOOTTIME_ALARM => TimerFdClock::Monotonic,
        _ => return Err(Errno::EINVAL),
    };
    if flags & !(oflag::O_NONBLOCK | oflag::O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if matches!(clockid, CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM) && sys.p.creds.euid != 0 {
        return Err(Errno::EPERM);
    }
    let t = Rc::new(RefCell::new(TimerFd::new(clock, sys.clock.boot())));
    sys.timerfds.push(Rc::downgrade(&t));
    install(sys, Object::TimerFd(t), flags, "[timerfd]")
}

/// Reads a struct itimerspec (interval, then value) as nanoseconds;
/// EINVAL for a negative or out-of-range field (timespec64_valid()).
pub(super) fn read_itimerspec(sys: &mut Sys<'_>, addr: u64) -> Result<(u64, u64), Errno> {
    let interval = super::time::read_timespec(sys, addr)?;
    let value = super::time::read_timespec(sys, addr + 16)?;
    Ok((interval, value))
}

/// Writes a struct itimerspec.
pub(super) fn write_itimerspec(
    sys: &mut Sys<'_>,
    addr: u64,
    interval: u64,
    value: u64,
) -> Result<(), Errno> {
    let mut b = [0u8; 32];
    for (i, ns) in [interval, value].into_iter().enumerate() {
        b[i * 16..i * 16 + 8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
        b[i * 16 + 8..i * 16 + 16].copy_from_slice(&(ns % 1_000_000_000).to_le_bytes());
    }
    sys.mem().copy_out(addr, &b)
}

/// The timerfd behind `fd`: EBADF if not open, EINVAL if not a timerfd.
fn timerfd(sys: &Sys<'_>, fd: i32) -> Result<Rc<RefCell<TimerFd>>, Errno> {
    match &sys.p.fds.file(fd)?.borrow().object {
        Object::TimerFd(t) => Ok(t.clone()),
        _ => Err(Errno::EINVAL),
    }
}

/// timerfd_settime(fd, flags, new, old) (do_timerfd_settime()): the new
/// setting is read first (EFAULT, EINVAL), then the old one written out.
/// TFD_TIMER_CANCEL_ON_SET is accepted and does nothing: cowix never sets
/// the wall clock, so there is no discontinuity to report with ECANCELED.
pub fn timerfd_settime(sys: &mut Sys<'_>, fd: i32, flags: u32, new: u64, old: u64) -> SysResult {
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let (interval, value) = read_itimerspec(sys, new)?;
    let t = timerfd(sys, fd)?;
    let (old_interval, old_value) = {
        let mut t = t.borrow_mut();
        t.update();
        let now = t.now();
        let prev = (t.expiry.interval, t.expiry.remaining(now));
        t.set(value, interval, flags & TFD_TIMER_ABSTIME != 0);
        prev
    };
    if old != 0 {
        write_itimerspec(sys, old, old_interval, old_value)?;
    }
    Ok(0)
}

/// timerfd_gettime(fd, cur): the time to the next expiry and the interval.
pub fn timerfd_gettime(sys: &mut Sys<'_>, fd: i32, cur: u64) -> SysResult {
    let t = timerfd(sys, fd)?;
    let (interval, value) = {
        let mut t = t.borrow_mut();
        t.update();
        let now = t.now();
        (t.expiry.interval, t.expiry.remaining(now))
    };
    write_itimerspec(sys, cur, interval, value)?;
    Ok(0)
}

/// signalfd4(fd, mask, sizemask, flags) (do_signalfd4()): EINVAL unless
/// `sizemask` is the sigset size and flags are SFD_NONBLOCK/SFD_CLOEXEC;
/// fd -1 makes a new signalfd, else `fd` must be one (EINVAL) and gets
/// the new mask. SIGKILL and SIGSTOP are dropped from the mask.
pub fn signalfd4(sys: &mut Sys<'_>, fd: i32, mask: u64, size: u64, flags: u32) -> SysResult {
    if flags & !(oflag::O_NONBLOCK | oflag::O_CLOEXEC) != 0 || size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let set = sys.mem().read_u64(mask)? & !UNBLOCKABLE;
    if fd == -1 {
        return install(
            sys,
            Object::SignalFd(SignalFd::new(set)),
            flags,
            "[signalfd]",
        );
    }
    let file = sys.p.fds.file(fd)?;
    let mut f = file.borrow_mut();
    match &mut f.object {
        Object::SignalFd(s) => {
            *s = SignalFd::new(set);
            Ok(fd as u64)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// read(2) of a signalfd (signalfd_read()): EINVAL for a buffer under one
/// struct signalfd_siginfo; then as many of the reader's pending signals
/// in the mask as fit, lowest first, taken off their queues; with none,
/// EAGAIN or (blocking) a wait.
pub(super) fn signalfd_read(sys: &mut Sys<'_>, file: &FileRef, buf: u64, len: u64) -> SysResult {
    let (mask, nonblock) = {
        let f = file.borrow();
        let Object::SignalFd(s) = &f.object else {
            return Err(Errno::EINVAL);
        };
        (s.mask, f.flags & oflag::O_NONBLOCK != 0)
    };
    let count = (len / signalfd::SIGINFO_SIZE as u64).min(64) as usize;
    if count == 0 {
        return Err(Errno::EINVAL);
    }
    let mut out = Vec::new();
    while out.len() < count * signalfd::SIGINFO_SIZE {
        let ready = sys.t.signals.pending(&sys.p.signals.shared) & mask;
        if ready == 0 {
            break;
        }
        let n = ready.trailing_zeros() as u8 + 1;
        let info = sys.t.signals.take(&mut sys.p.signals.shared, n);
        out.extend_from_slice(&signalfd::siginfo_bytes(&info));
    }
    if out.is_empty() {
        if !nonblock {
            sys.block = true;
        }
        return Err(Errno::EAGAIN);
    }
    sys.mem().copy_out(buf, &out)?;
    Ok(out.len() as u64)
}

/// epoll_create1(flags): EINVAL for flags other than EPOLL_CLOEXEC.
pub fn epoll_create1(sys: &mut Sys<'_>, flags: u32) -> SysResult {
    if flags & !oflag::O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let ep = Rc::new(RefCell::new(Epoll::default()));
    install(sys, Object::Epoll(ep), flags, "[eventpoll]")
}

const EPOLL_CTL_ADD: i32 = 1;
const EPOLL_CTL_DEL: i32 = 2;
const EPOLL_CTL_MOD: i32 = 3;

/// epoll_ctl(epfd, op, fd, event) (do_epoll_ctl(), its checks in its
/// order): EFAULT for an unreadable event (not needed by DEL); EBADF for
/// a closed epfd or fd; EPERM if fd's file cannot be polled; EINVAL if
/// epfd is not an epoll or is fd itself, for EPOLLEXCLUSIVE with MOD, an
/// epoll target or other than its allowed bits, for MOD of an exclusive
/// registration, or an unknown op; ELOOP if the target epoll would close
/// a cycle or nest deeper than EP_MAX_NESTS; EEXIST/ENOENT for a
/// registration that is/is not there. EPOLLWAKEUP is dropped
/// (CAP_BLOCK_SUSPEND).
pub fn epoll_ctl(sys: &mut Sys<'_>, epfd: i32, op: i32, fd: i32, event: u64) -> SysResult {
    let (mut events, data) = if op != EPOLL_CTL_DEL {
        let mut b = [0u8; 16];
        sys.mem().copy_in(event, &mut b)?;
        (
            u32::from_le_bytes(b[..4].try_into().unwrap()),
            u64::from_le_bytes(b[8..].try_into().unwrap()),
        )
    } else {
        (0, 0)
    };
    let epf = sys.p.fds.file(epfd)?;
    let tf = sys.p.fds.file(fd)?;
    if !super::poll::can_poll(&tf) {
        return Err(Errno::EPERM);
    }
    events &= !epoll::EPOLLWAKEUP;
    let ep = match &epf.borrow().object {
        Object::Epoll(ep) if !Rc::ptr_eq(&epf, &tf) => ep.clone(),
        _ => return Err(Errno::EINVAL),
    };
    let target = match &tf.borrow().object {
        Object::Epoll(t) => Some(t.clone()),
        _ => None,
    };
    let exclusive = op != EPOLL_CTL_DEL && events & epoll::EPOLLEXCLUSIVE != 0;
    if exclusive
        && (op == EPOLL_CTL_MOD
            || (op == EPOLL_CTL_ADD && (target.is_some() || events & !epoll::EXCLUSIVE_OK != 0)))
    {
        return Err(Errno::EINVAL);
    }
    if let (EPOLL_CTL_ADD, Some(t)) = (op, &target) {
        match epoll::depth_below(t, &ep, 1) {
            Some(d) if d < epoll::MAX_NESTS => {}
            _ => return Err(Errno::ELOOP),
        }
    }
    let mut ep = ep.borrow_mut();
    ep.prune();
    let found = ep.find(fd, &tf);
    match (op, found) {
        (EPOLL_CTL_ADD, None) => ep.add(fd, &tf, events, data),
        (EPOLL_CTL_ADD, Some(_)) => return Err(Errno::EEXIST),
        (EPOLL_CTL_DEL, Some(i)) => {
            ep.entries.remove(i);
        }
        (EPOLL_CTL_MOD, Some(i)) => {
            if ep.entries[i].events & epoll::EPOLLEXCLUSIVE != 0 {
                return Err(Errno::EINVAL);
            }
            ep.modify(i, events, data);
        }
        (EPOLL_CTL_DEL | EPOLL_CTL_MOD, None) => return Err(Errno::ENOENT),
        _ => return Err(Errno::EINVAL),
    }
    Ok(0)
}

/// The most events one epoll_wait may ask for (EP_MAX_EVENTS: INT_MAX /
/// sizeof(struct epoll_event), 16 bytes on riscv64: not packed).
const EP_MAX_EVENTS: i64 = i32::MAX as i64 / 16;

/// epoll_pwait(epfd, events, maxevents, timeout_ms, sigmask, sigsetsize).
/// A negative timeout waits for ever.
pub fn epoll_pwait(
    sys: &mut Sys<'_>,
    epfd: i32,
    events: u64,
    max: i32,
    timeout_ms: i32,
    sigmask: u64,
    size: u64,
) -> SysResult {
    let timeout = u64::try_from(timeout_ms)
        .ok()
        .map(|ms| ms.saturating_mul(1_000_000));
    epoll_wait_common(sys, epfd, events, max, timeout, sigmask, size)
}

/// epoll_pwait2(epfd, events, maxevents, timeout, sigmask, sigsetsize):
/// the timeout a struct timespec (NULL: for ever; EINVAL if invalid).
pub fn epoll_pwait2(
    sys: &mut Sys<'_>,
    epfd: i32,
    events: u64,
    max: i32,
    tsp: u64,
    sigmask: u64,
    size: u64,
) -> SysResult {
    let timeout = if tsp == 0 {
        None
    } else {
        Some(super::time::read_timespec(sys, tsp)?)
    };
    epoll_wait_common(sys, epfd, events, max, timeout, sigmask, size)
}

/// What both waits share (do_epoll_pwait(), do_epoll_wait(), ep_poll()):
/// the mask's size (EINVAL) and bits (EFAULT) checked first, then
/// `max` (EINVAL unless 1..=EP_MAX_EVENTS), the buffer (EFAULT), epfd
/// (EBADF, EINVAL if not an epoll). Ready registrations are written as
/// struct epoll_event {u32 events; u64 data} (16 bytes) and counted; with
/// none, the thread waits (the signal mask in force meanwhile, restored
/// on return as ppoll's), until one is ready (0 at the timeout, EINTR
/// for a signal, never restarted).
fn epoll_wait_common(
    sys: &mut Sys<'_>,
    epfd: i32,
    events: u64,
    max: i32,
    timeout: Option<u64>,
    sigmask: u64,
    size: u64,
) -> SysResult {
    let mask = if sigmask == 0 {
        None
    } else {
        if size != SIGSET_SIZE {
            return Err(Errno::EINVAL);
        }
        Some(sys.mem().read_u64(sigmask)?)
    };
    if max <= 0 || i64::from(max) > EP_MAX_EVENTS {
        return Err(Errno::EINVAL);
    }
    let bytes = max as u64 * 16;
    match events.checked_add(bytes) {
        Some(end) if end <= cowix_mm::USER_TOP => {}
        _ => return Err(Errno::EFAULT),
    }
    let ep = match &sys.p.fds.file(epfd)?.borrow().object {
        Object::Epoll(ep) => ep.clone(),
        _ => return Err(Errno::EINVAL),
    };
    let restore = |sys: &mut Sys<'_>| {
        if mask.is_some() {
            if let Some(old) = sys.t.signals.saved_mask.take() {
                sys.t.signals.blocked = old;
            }
        }
    };
    if let Some(m) = mask {
        let s = &mut sys.t.signals;
        if s.saved_mask.is_none() {
            s.saved_mask = Some(s.blocked);
        }
        s.blocked = m & !UNBLOCKABLE;
    }
    let pending = sys.t.signals.pending(&sys.p.signals.shared);
    let ready = ep.borrow_mut().collect(max as usize, true, &mut |f| {
        super::poll::poll_state(f, pending)
    });
    if ready.is_empty() {
        let expired = match timeout {
            Some(0) => true,
            Some(ns) => super::time::sleep_ns(sys, ns),
            None => {
                sys.block = true;
                false
            }
        };
        if !expired {
            return Ok(0);
        }
        sys.t.sleep_until = None;
        restore(sys);
        return Ok(0);
    }
    sys.t.sleep_until = None;
    restore(sys);
    let mut out = Vec::with_capacity(ready.len() * 16);
    for (ev, data) in &ready {
        out.extend_from_slice(&ev.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&data.to_le_bytes());
    }
    sys.mem().copy_out(events, &out)?;
    Ok(ready.len() as u64)
}
