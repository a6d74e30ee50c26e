//! Interval timers and POSIX timers: getitimer/setitimer
//! (kernel/time/itimer.c) and timer_create/settime/gettime/getoverrun/
//! delete (kernel/time/posix-timers.c). The timers themselves, and how
//! they expire, are in [`crate::timers`]. riscv64 has no alarm(2): the C
//! library's alarm() is setitimer(ITIMER_REAL) and rounds the seconds.

use super::events::{read_itimerspec, write_itimerspec};
use super::Sys;
use crate::errno::{Errno, SysResult};
use crate::signal::sig;
use crate::timers::{self, Expiry, Notify, PosixTimer, TimerClock};

const ITIMER_REAL: i32 = 0;
const ITIMER_VIRTUAL: i32 = 1;
const ITIMER_PROF: i32 = 2;

/// The group's CPU time now (the clock of ITIMER_VIRTUAL and ITIMER_PROF).
fn group_cpu(sys: &Sys<'_>) -> u64 {
    sys.clock.cpu_ns(sys.p.instret(Some(sys.t)))
}

/// itimer `which`'s expiry and its clock's time now; EINVAL for another `which`.
fn itimer<'s>(sys: &'s mut Sys<'_>, which: i32) -> Result<(&'s mut Expiry, u64), Errno> {
    let mono = sys.clock.monotonic_ns();
    let cpu = group_cpu(sys);
    let t = &mut sys.p.timers;
    match which {
        ITIMER_REAL => Ok((&mut t.real, mono)),
        ITIMER_VIRTUAL => Ok((&mut t.virt, cpu)),
        ITIMER_PROF => Ok((&mut t.prof, cpu)),
        _ => Err(Errno::EINVAL),
    }
}

/// An itimer's (interval, value) as getitimer reports it: an armed timer
/// whose expiry is due (not yet fired) shows 1 µs, never 0, which would
/// read as disarmed (get_itimerval()).
fn itimer_value(e: &Expiry, now: u64) -> (u64, u64) {
    let left = match e.next {
        Some(_) => e.remaining(now).max(1000),
        None => 0,
    };
    (e.interval, left)
}

/// Writes struct itimerval (two struct timeval: interval, value) from
/// nanoseconds, truncated to microseconds.
fn write_itimerval(sys: &mut Sys<'_>, addr: u64, (interval, value): (u64, u64)) -> SysResult {
    let mut b = [0u8; 32];
    for (i, ns) in [interval, value].into_iter().enumerate() {
        b[i * 16..i * 16 + 8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
        b[i * 16 + 8..i * 16 + 16].copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
    }
    sys.mem().copy_out(addr, &b)?;
    Ok(0)
}

/// Reads a struct timeval as nanoseconds; EINVAL unless tv_sec >= 0 and
/// 0 <= tv_usec < 1e6 (timeval_valid()).
fn read_timeval(sys: &mut Sys<'_>, addr: u64) -> Result<u64, Errno> {
    let sec = sys.mem().read_u64(addr)? as i64;
    let usec = sys.mem().read_u64(addr + 8)? as i64;
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(usec as u64 * 1000))
}

/// getitimer(which, curr).
pub fn getitimer(sys: &mut Sys<'_>, which: i32, curr: u64) -> SysResult {
    let (e, now) = itimer(sys, which)?;
    let v = itimer_value(e, now);
    write_itimerval(sys, curr, v)
}

/// setitimer(which, new, old): a NULL `new` disarms (as Linux still
/// allows); a zero value disarms whatever the interval. The old setting
/// is written after the new one is in force (do_setitimer()).
pub fn setitimer(sys: &mut Sys<'_>, which: i32, new: u64, old: u64) -> SysResult {
    let (interval, value) = if new == 0 {
        (0, 0)
    } else {
        (read_timeval(sys, new)?, read_timeval(sys, new + 16)?)
    };
    let (e, now) = itimer(sys, which)?;
    let prev = itimer_value(e, now);
    *e = Expiry::arm(value, interval, false, now);
    if old != 0 {
        write_itimerval(sys, old, prev)?;
    }
    Ok(0)
}

const CLOCK_REALTIME: i32 = 0;
const CLOCK_MONOTONIC: i32 = 1;
const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
const CLOCK_BOOTTIME: i32 = 7;
const CLOCK_REALTIME_ALARM: i32 = 8;
const CLOCK_BOOTTIME_ALARM: i32 = 9;
const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD_ID: i32 = 4;
const TIMER_ABSTIME: u32 = 1;

/// A POSIX timer's clock's time now.
pub(super) fn clock_now(sys: &Sys<'_>, c: TimerClock) -> u64 {
    match c {
        TimerClock::Realtime => timers::realtime_ns(),
        TimerClock::Monotonic => sys.clock.monotonic_ns(),
        TimerClock::ProcessCpu => group_cpu(sys),
        TimerClock::ThreadCpu(tid) => {
            let t = if tid == sys.t.tid {
                Some(&*sys.t)
            } else {
                sys.p.threads.get(&tid).map(|t| &**t)
            };
            t.map_or(0, |t| sys.clock.cpu_ns(t.cpu.instret))
        }
    }
}

/// A CPU-time clock id (include/linux/posix-timers.h: the pid or tid
/// complemented above three bits, PERTHREAD in bit 2, the kind in bits
/// 0-1), as glibc passes for CLOCK_PROCESS_CPUTIME_ID (-6) and
/// CLOCK_THREAD_CPUTIME_ID (-2). The id 0 means the caller; cowix
/// supports its own process and threads (EINVAL for others' clocks and
/// bad kinds). Every kind (PROF, VIRT, SCHED) counts instructions.
pub(super) fn cpu_clock(sys: &Sys<'_>, c: i32) -> Result<TimerClock, Errno> {
    const CPUCLOCK_PERTHREAD: i32 = 4;
    const CPUCLOCK_MAX: i32 = 3;
    let id = !(c >> 3);
    if c & 3 >= CPUCLOCK_MAX {
        return Err(Errno::EINVAL);
    }
    if c & CPUCLOCK_PERTHREAD != 0 {
        let tid = if id == 0 { sys.t.tid } else { id };
        if tid != sys.t.tid && !sys.p.threads.contains_key(&tid) {
            return Err(Errno::EINVAL);
        }
        Ok(TimerClock::ThreadCpu(tid))
    } else if id == 0 || id == sys.p.pid {
        Ok(TimerClock::ProcessCpu)
    } else {
        Err(Errno::EINVAL)
    }
}

/// timer_create(clockid, sevp, timerid) (do_timer_create()): the clocks
/// CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME, the _ALARM forms
/// (EPERM unless root), and the calling process's and thread's CPU
/// clocks; other clocks EINVAL (ENOTSUP for those without timers, as
/// the coarse and raw ones). `sevp` NULL means SIGEV_SIGNAL with SIGALRM
/// and the timer id as si_value. SIGEV_SIGNAL and SIGEV_THREAD_ID (with
/// a thread of this process) need a signal 1..=64 (EINVAL); SIGEV_THREAD
/// is the C library's business (EINVAL here). EAGAIN beyond the timer
/// limit; EFAULT if the id cannot be written (the timer is undone).
pub fn timer_create(sys: &mut Sys<'_>, clockid: i32, sevp: u64, idp: u64) -> SysResult {
    let clock = match clockid {
        CLOCK_REALTIME | CLOCK_REALTIME_ALARM => TimerClock::Realtime,
        CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_BOOTTIME_ALARM => TimerClock::Monotonic,
        CLOCK_PROCESS_CPUTIME_ID => TimerClock::ProcessCpu,
        CLOCK_THREAD_CPUTIME_ID => TimerClock::ThreadCpu(sys.t.tid),
        4..=6 => return Err(Errno::ENOTSUP),
        c if c < 0 => cpu_clock(sys, c)?,
        _ => return Err(Errno::EINVAL),
    };
    if matches!(clockid, CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM) && sys.p.creds.euid != 0 {
        return Err(Errno::EPERM);
    }
    let sev = if sevp == 0 {
        None
    } else {
        let mut b = [0u8; 64];
        sys.mem().copy_in(sevp, &mut b)?;
        let value = u64::from_le_bytes(b[..8].try_into().unwrap());
        let signo = i32::from_le_bytes(b[8..12].try_into().unwrap());
        let notify = i32::from_le_bytes(b[12..16].try_into().unwrap());
        let tid = i32::from_le_bytes(b[16..20].try_into().unwrap());
        Some((value, signo, notify, tid))
    };
    if let Some((_, signo, notify, tid)) = sev {
        // good_sigevent()
        if notify == SIGEV_THREAD_ID && (tid != sys.t.tid && !sys.p.threads.contains_key(&tid)) {
            return Err(Errno::EINVAL);
        }
        if matches!(notify, SIGEV_SIGNAL | SIGEV_THREAD_ID)
            && !(1..=i32::from(sig::NSIG)).contains(&signo)
        {
            return Err(Errno::EINVAL);
        }
        if !matches!(notify, SIGEV_SIGNAL | SIGEV_NONE | SIGEV_THREAD_ID) {
            return Err(Errno::EINVAL);
        }
    }
    let id = sys.p.timers.alloc_id().ok_or(Errno::EAGAIN)?;
    let notify = match sev {
        None => Notify::Signal {
            signo: sig::SIGALRM,
            value: id as u64,
        },
        Some((_, _, SIGEV_NONE, _)) => Notify::None,
        Some((value, signo, SIGEV_THREAD_ID, tid)) => Notify::Thread {
            signo: signo as u8,
            value,
            tid,
        },
        Some((value, signo, _, _)) => Notify::Signal {
            signo: signo as u8,
            value,
        },
    };
    sys.mem().copy_out(idp, &id.to_le_bytes())?;
    sys.p.timers.posix.insert(
        id,
        PosixTimer {
            clock,
            notify,
            expiry: Expiry::default(),
            overrun: 0,
            overrun_last: 0,
        },
    );
    Ok(0)
}

/// The timer `id` (EINVAL if there is none).
fn posix_timer(sys: &Sys<'_>, id: i32) -> Result<PosixTimer, Errno> {
    sys.p.timers.posix.get(&id).cloned().ok_or(Errno::EINVAL)
}

/// timer_settime(id, flags, new, old) (do_timer_settime()): EINVAL for a
/// NULL `new`, an invalid itimerspec or an unknown id. Arms (relative, or
/// absolute on the timer's clock with TIMER_ABSTIME; a time already past
/// expires at once) or disarms; the overrun count restarts.
pub fn timer_settime(sys: &mut Sys<'_>, id: i32, flags: u32, new: u64, old: u64) -> SysResult {
    if new == 0 {
        return Err(Errno::EINVAL);
    }
    let (interval, value) = read_itimerspec(sys, new)?;
    let x = posix_timer(sys, id)?;
    let now = clock_now(sys, x.clock);
    let prev = (x.expiry.interval, x.expiry.remaining(now));
    if let Some(x) = sys.p.timers.posix.get_mut(&id) {
        x.expiry = Expiry::arm(value, interval, flags & TIMER_ABSTIME != 0, now);
        x.overrun = 0;
        x.overrun_last = 0;
    }
    if old != 0 {
        write_itimerspec(sys, old, prev.0, prev.1)?;
    }
    Ok(0)
}

/// timer_gettime(id, cur): the time to the next expiry (0: disarmed) and
/// the interval.
pub fn timer_gettime(sys: &mut Sys<'_>, id: i32, cur: u64) -> SysResult {
    let x = posix_timer(sys, id)?;
    let now = clock_now(sys, x.clock);
    let mut e = x.expiry;
    if matches!(x.notify, Notify::None) {
        // A SIGEV_NONE timer is never fired: it runs on here.
        e.advance(now);
    }
    write_itimerspec(sys, cur, e.interval, e.remaining(now))?;
    Ok(0)
}

/// timer_getoverrun(id): the overrun count of the timer's last delivered
/// signal (it_overrun_last).
pub fn timer_getoverrun(sys: &mut Sys<'_>, id: i32) -> SysResult {
    let x = posix_timer(sys, id)?;
    let (signo, tid) = match x.notify {
        Notify::None => return Ok(0),
        Notify::Signal { signo, .. } => (signo, None),
        Notify::Thread { signo, tid, .. } => (signo, Some(tid)),
    };
    let queued = {
        let q = match tid {
            None => &sys.p.signals.shared,
            Some(t) if t == sys.t.tid => &sys.t.signals.pending,
            Some(t) => match sys.p.threads.get(&t) {
                Some(t) => &t.signals.pending,
                None => &sys.p.signals.shared,
            },
        };
        timers::is_queued(q, signo, id)
    };
    Ok(if queued { x.overrun_last } else { x.overrun })
}

/// timer_delete(id): EINVAL for an unknown id; its undelivered signal goes too.
pub fn timer_delete(sys: &mut Sys<'_>, id: i32) -> SysResult {
    let x = sys.p.timers.posix.remove(&id).ok_or(Errno::EINVAL)?;
    if let Notify::Signal { signo, .. } | Notify::Thread { signo, .. } = x.notify {
        timers::dequeue_deleted(sys.p, Some(sys.t), id, signo);
    }
    Ok(0)
}
