//! A process's interval timers and POSIX timers (kernel/time/itimer.c,
//! kernel/time/posix-timers.c, kernel/time/posix-cpu-timers.c).
//!
//! Each expiry is an absolute time on its clock:
//!
//! | timer                         | clock                                  |
//! |-------------------------------|----------------------------------------|
//! | ITIMER_REAL, CLOCK_MONOTONIC, CLOCK_BOOTTIME | CLOCK_MONOTONIC (host time since boot) |
//! | CLOCK_REALTIME                | the host's wall clock                  |
//! | ITIMER_VIRTUAL, ITIMER_PROF, CLOCK_PROCESS_CPUTIME_ID | the group's CPU time |
//! | CLOCK_THREAD_CPUTIME_ID       | the creating thread's CPU time         |
//!
//! Guest CPU time is what getrusage and clock_gettime already report: one
//! nanosecond per retired instruction ([`crate::Clock::cpu_ns`]), so a
//! CPU-time timer fires at the same instruction every run. cowix has no
//! kernel time of its own to charge, so ITIMER_PROF (user + system) runs
//! exactly as ITIMER_VIRTUAL (user).
//!
//! The scheduler calls [`expire`] between turns for every process and,
//! for the running one, after every stretch of guest code, whose budget
//! it cuts at the next CPU-time expiry ([`Timers::cpu_budget`]); an
//! expired timer sends its signal and is re-armed by its interval.
//! Intervals missed meanwhile are counted as overruns (POSIX timers) or
//! folded into one signal (itimers).
//!
//! itimers are cleared in a fork child and survive exec; POSIX timers are
//! not inherited by fork and are deleted at exec (`Timers::exec`).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::process::{Process, Thread};
use crate::signal::{bit, sig, SigInfo, SIG_DFL};
use crate::Clock;

/// si_code of a POSIX timer's signal (include/uapi/asm-generic/siginfo.h).
pub const SI_TIMER: i32 = -2;
/// A process may hold at most this many POSIX timers (Linux bounds them by
/// RLIMIT_SIGPENDING's preallocated queue entries; EAGAIN beyond).
pub const MAX_POSIX_TIMERS: usize = 1 << 15;
/// The fewest instructions a thread runs between two CPU-time timer
/// checks (10 µs of guest CPU time): a timer with a tinier interval fires
/// at most this often, as Linux's CPU timers fire at most once a tick,
/// and a hostile one cannot make the scheduler run one instruction at a time.
pub const MIN_CPU_SLICE: u64 = 10_000;
/// Overrun counts saturate here (DELAYTIMER_MAX).
pub const DELAYTIMER_MAX: u64 = i32::MAX as u64;

/// CLOCK_REALTIME now, in nanoseconds since the epoch.
pub fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64
}

/// When a timer next expires on its clock (None: disarmed) and its period
/// (0: one-shot).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expiry {
    pub next: Option<u64>,
    pub interval: u64,
}

impl Expiry {
    /// An expiry set by setitimer/timer_settime/timerfd_settime at `now`:
    /// disarmed if `value` is 0, else at `value` (absolute) or `now +
    /// value` (relative), then every `interval`.
    pub fn arm(value: u64, interval: u64, abstime: bool, now: u64) -> Self {
        if value == 0 {
            return Expiry::default();
        }
        let next = if abstime {
            value
        } else {
            now.saturating_add(value)
        };
        Expiry {
            next: Some(next),
            interval,
        }
    }

    /// Expirations up to `now` (0 if not due); the expiry moves past `now`
    /// by whole intervals, or disarms if one-shot (hrtimer_forward()).
    pub fn advance(&mut self, now: u64) -> u64 {
        match self.next {
            Some(n) if n <= now => match (now - n).checked_div(self.interval) {
                None => {
                    self.next = None;
                    1
                }
                Some(missed) => {
                    let k = missed + 1;
                    self.next = Some(n.saturating_add(k.saturating_mul(self.interval)));
                    k
                }
            },
            _ => 0,
        }
    }

    /// Time left until the next expiry at `now` (0 if disarmed).
    pub fn remaining(&self, now: u64) -> u64 {
        self.next.map_or(0, |n| n.saturating_sub(now))
    }
}

/// The clock a POSIX timer counts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerClock {
    Realtime,
    Monotonic,
    ProcessCpu,
    /// The CPU time of one thread (the one that created the timer).
    ThreadCpu(i32),
}

/// What an expiry does (struct sigevent's sigev_notify).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// SIGEV_NONE: nothing; timer_gettime shows the progress.
    None,
    /// SIGEV_SIGNAL: `signo` to the process, si_value `value`.
    Signal { signo: u8, value: u64 },
    /// SIGEV_THREAD_ID: `signo` to thread `tid` of the process.
    Thread { signo: u8, value: u64, tid: i32 },
}

/// One POSIX timer (struct k_itimer).
#[derive(Debug, Clone)]
pub struct PosixTimer {
    pub clock: TimerClock,
    pub notify: Notify,
    pub expiry: Expiry,
    /// The overrun carried by the signal now queued (or last queued).
    pub overrun: u64,
    /// The overrun of the signal delivered before that one.
    pub overrun_last: u64,
}

/// A process's timers (the itimers of signal_struct and its posix_timers list).
#[derive(Debug, Clone, Default)]
pub struct Timers {
    /// ITIMER_REAL, on CLOCK_MONOTONIC.
    pub real: Expiry,
    /// ITIMER_VIRTUAL and ITIMER_PROF, on the group's CPU time.
    pub virt: Expiry,
    pub prof: Expiry,
    /// POSIX timers by id.
    pub posix: BTreeMap<i32, PosixTimer>,
    /// The id the next timer_create tries first (signal_struct's next_posix_timer_id).
    next_id: i32,
}

impl Timers {
    /// A free timer id, the lowest from `next_id` on (wrapping at INT_MAX).
    pub fn alloc_id(&mut self) -> Option<i32> {
        if self.posix.len() >= MAX_POSIX_TIMERS {
            return None;
        }
        let mut id = self.next_id;
        while self.posix.contains_key(&id) {
            id = id.checked_add(1).unwrap_or(0);
        }
        self.next_id = id.checked_add(1).unwrap_or(0);
        Some(id)
    }

    /// execve: POSIX timers are deleted (exit_itimers()), itimers stay.
    pub fn exec(&mut self) {
        self.posix.clear();
    }

    /// Instructions the running thread `t` may retire before a CPU-time
    /// timer of its group (or its own thread clock) expires; `cpu` is the
    /// group's CPU time now.
    pub fn cpu_budget(&self, cpu: u64, t: &Thread) -> Option<u64> {
        let group = [self.virt.next, self.prof.next]
            .into_iter()
            .chain(
                self.posix
                    .values()
                    .filter(|x| x.clock == TimerClock::ProcessCpu)
                    .map(|x| x.expiry.next),
            )
            .flatten()
            .map(|n| n.saturating_sub(cpu));
        let own = self
            .posix
            .values()
            .filter(|x| x.clock == TimerClock::ThreadCpu(t.tid))
            .filter_map(|x| x.expiry.next)
            .map(|n| n.saturating_sub(t.cpu.instret));
        group.chain(own).min()
    }

    /// The earliest CLOCK_MONOTONIC time at which a wall-clock or
    /// monotonic timer expires (the idle scheduler sleeps until then).
    pub fn next_wakeup(&self, mono: u64, real: u64) -> Option<u64> {
        let posix = self.posix.values().filter_map(|x| {
            let n = x.expiry.next?;
            match x.clock {
                TimerClock::Monotonic => Some(n),
                TimerClock::Realtime => Some(mono.saturating_add(n.saturating_sub(real))),
                _ => None,
            }
        });
        self.real.next.into_iter().chain(posix).min()
    }
}

/// The siginfo queued for `signo` by timer `id`, if one waits undelivered
/// in `q` (a real-time signal has its own entry; a standard one is
/// pending once, with its first siginfo).
fn queued_entry(q: &mut crate::signal::SigQueue, signo: u8, id: i32) -> Option<&mut SigInfo> {
    let mine = |s: &SigInfo| s.signo == signo && s.code == SI_TIMER && s.pid == id;
    if q.pending & bit(signo) == 0 {
        return None;
    }
    if signo >= crate::signal::SIGRTMIN {
        q.rt.iter_mut().find(|s| mine(s))
    } else {
        Some(&mut q.info[(signo - 1) as usize]).filter(|s| mine(s))
    }
}

/// Whether timer `id`'s signal `signo` waits undelivered in `q`.
pub fn is_queued(q: &crate::signal::SigQueue, signo: u8, id: i32) -> bool {
    let mine = |s: &SigInfo| s.signo == signo && s.code == SI_TIMER && s.pid == id;
    if q.pending & bit(signo) == 0 {
        return false;
    }
    if signo >= crate::signal::SIGRTMIN {
        q.rt.iter().any(mine)
    } else {
        mine(&q.info[(signo - 1) as usize])
    }
}

/// Drops timer `id`'s undelivered signal (timer_delete: the preallocated
/// queue entry goes with the timer).
pub fn dequeue_deleted(p: &mut Process, running: Option<&mut Thread>, id: i32, signo: u8) {
    let drop_from = |q: &mut crate::signal::SigQueue| {
        if queued_entry(q, signo, id).is_none() {
            return;
        }
        if signo >= crate::signal::SIGRTMIN {
            q.rt.retain(|s| !(s.signo == signo && s.code == SI_TIMER && s.pid == id));
            if !q.rt.iter().any(|s| s.signo == signo) {
                q.pending &= !bit(signo);
            }
        } else {
            q.pending &= !bit(signo);
        }
    };
    drop_from(&mut p.signals.shared);
    for t in p.threads.values_mut() {
        drop_from(&mut t.signals.pending);
    }
    if let Some(t) = running {
        drop_from(&mut t.signals.pending);
    }
}

/// Sends a timer's signal to the group (or thread `tid`). A signal whose
/// action is the default fatal one, unblocked, ends the group here, so the
/// user is told a timer did it.
fn send(p: &mut Process, mut running: Option<&mut Thread>, tid: Option<i32>, info: SigInfo) {
    let n = info.signo;
    let blocked = |t: &Thread| t.signals.blocked & bit(n) != 0;
    let all_block = match tid {
        Some(tid) => running
            .as_deref()
            .filter(|t| t.tid == tid)
            .or_else(|| p.threads.get(&tid).map(|t| &**t))
            .is_none_or(blocked),
        None => running
            .as_deref()
            .into_iter()
            .chain(p.threads.values().map(|t| &**t))
            .all(blocked),
    };
    let a = p.signals.action(n);
    let fatal = matches!(
        crate::signal::default_action(n),
        crate::signal::DefaultAction::Terminate | crate::signal::DefaultAction::CoreDump
    );
    if !all_block && a.handler == SIG_DFL && fatal {
        if p.exit.is_none() {
            let core = crate::signal::default_action(n) == crate::signal::DefaultAction::CoreDump;
            p.exit = Some(crate::process::ExitStatus::Signaled { signal: n, core });
            p.fatal = crate::report(p, n, "a timer expired");
        }
        return;
    }
    match tid {
        None => {
            let _ = crate::deliver::send(p, running, info);
        }
        Some(tid) => {
            if let Some(t) = running.as_deref_mut().filter(|t| t.tid == tid) {
                let _ = crate::deliver::send_thread(p, t, None, info);
            } else if let Some(mut t) = p.threads.remove(&tid) {
                let _ = crate::deliver::send_thread(p, &mut t, running, info);
                p.threads.insert(tid, t);
            }
        }
    }
}

/// Fires `p`'s expired timers (`running`: its thread taken out for its
/// turn, if any), in a fixed order: ITIMER_REAL, ITIMER_VIRTUAL,
/// ITIMER_PROF, then POSIX timers by id. True if any expired.
///
/// itimers send SIGALRM, SIGVTALRM, SIGPROF with si_code SI_KERNEL
/// (it_real_fn(), check_cpu_itimer()). A POSIX timer whose previous signal
/// is still queued counts the expiries as overruns on that signal instead
/// of queueing another (posix_timer_event(), send_sigqueue()).
pub fn expire(p: &mut Process, mut running: Option<&mut Thread>, clock: &Clock) -> bool {
    if p.exit.is_some() {
        return false;
    }
    let mono = clock.monotonic_ns();
    let cpu = clock.cpu_ns(p.instret(running.as_deref()));
    let mut fired = false;
    for (signo, which) in [(sig::SIGALRM, 0), (sig::SIGVTALRM, 1), (sig::SIGPROF, 2)] {
        let (e, now) = match which {
            0 => (&mut p.timers.real, mono),
            1 => (&mut p.timers.virt, cpu),
            _ => (&mut p.timers.prof, cpu),
        };
        if e.advance(now) > 0 {
            fired = true;
            let info = SigInfo::user(signo, crate::signal::code::SI_KERNEL, 0, 0);
            send(p, running.as_deref_mut(), None, info);
        }
    }
    if p.timers.posix.is_empty() {
        return fired;
    }
    let real = realtime_ns();
    let ids: Vec<i32> = p.timers.posix.keys().copied().collect();
    for id in ids {
        let Some(x) = p.timers.posix.get_mut(&id) else {
            continue;
        };
        let now = match x.clock {
            TimerClock::Realtime => real,
            TimerClock::Monotonic => mono,
            TimerClock::ProcessCpu => cpu,
            TimerClock::ThreadCpu(tid) => {
                let t = running
                    .as_deref()
                    .filter(|t| t.tid == tid)
                    .or_else(|| p.threads.get(&tid).map(|t| &**t));
                match t {
                    Some(t) => clock.cpu_ns(t.cpu.instret),
                    None => continue,
                }
            }
        };
        let k = x.expiry.advance(now);
        if k == 0 {
            continue;
        }
        fired = true;
        let (signo, value, tid) = match x.notify {
            Notify::None => continue,
            Notify::Signal { signo, value } => (signo, value, None),
            Notify::Thread { signo, value, tid } => (signo, value, Some(tid)),
        };
        let (overrun, last) = (x.overrun, x.overrun);
        // Still queued? Then these expiries are overruns of that signal.
        let q = match tid {
            None => Some(&mut p.signals.shared),
            Some(tid) => match running.as_deref_mut().filter(|t| t.tid == tid) {
                Some(t) => Some(&mut t.signals.pending),
                None => p.threads.get_mut(&tid).map(|t| &mut t.signals.pending),
            },
        };
        if let Some(entry) = q.and_then(|q| queued_entry(q, signo, id)) {
            let o = overrun.saturating_add(k).min(DELAYTIMER_MAX);
            entry.uid = o as u32;
            if let Some(x) = p.timers.posix.get_mut(&id) {
                x.overrun = o;
            }
            continue;
        }
        let o = (k - 1).min(DELAYTIMER_MAX);
        if let Some(x) = p.timers.posix.get_mut(&id) {
            x.overrun_last = last;
            x.overrun = o;
        }
        let info = SigInfo {
            signo,
            code: SI_TIMER,
            pid: id,
            uid: o as u32,
            value: Some(value),
            ..Default::default()
        };
        send(p, running.as_deref_mut(), tid, info);
    }
    fired
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_expiry_skips_whole_intervals_and_one_shot_disarms() {
        let mut e = Expiry::arm(100, 10, false, 1000);
        assert_eq!(e.next, Some(1100));
        assert_eq!(e.advance(1099), 0);
        assert_eq!(e.advance(1135), 4, "1100, 1110, 1120, 1130");
        assert_eq!(e.next, Some(1140));
        assert_eq!(e.remaining(1135), 5);
        let mut once = Expiry::arm(5, 0, true, 0);
        assert_eq!(once.advance(7), 1);
        assert_eq!(once.next, None);
        assert_eq!(Expiry::arm(0, 10, false, 3), Expiry::default(), "0 disarms");
    }

    /// A group with one thread (tid 1) and a handler for SIGRTMIN+1 and
    /// SIGVTALRM, so their signals queue rather than kill.
    fn process(pm: &mut cowix_mm::PhysMem) -> Process {
        let p = crate::futex::tests::group(pm, 1, &[1]);
        for n in [crate::signal::SIGRTMIN + 1, sig::SIGVTALRM] {
            let i = (n - 1) as usize;
            let mut a = p.signals.actions.get(i);
            a.handler = 0x1000;
            p.signals.actions.set(i, a);
        }
        p
    }

    fn set_cpu(p: &mut Process, instret: u64) {
        p.threads.get_mut(&1).unwrap().cpu.instret = instret;
    }

    #[test]
    fn expiries_while_the_signal_is_queued_become_its_overrun() {
        let mut pm = cowix_mm::PhysMem::try_new(64).unwrap();
        let mut p = process(&mut pm);
        let clock = Clock::new();
        let signo = crate::signal::SIGRTMIN + 1;
        p.timers.posix.insert(
            0,
            PosixTimer {
                clock: TimerClock::ProcessCpu,
                notify: Notify::Signal { signo, value: 77 },
                expiry: Expiry::arm(100, 10, false, 0),
                overrun: 0,
                overrun_last: 0,
            },
        );
        set_cpu(&mut p, 99);
        assert!(!expire(&mut p, None, &clock));
        set_cpu(&mut p, 100);
        assert!(expire(&mut p, None, &clock));
        assert!(is_queued(&p.signals.shared, signo, 0));
        set_cpu(&mut p, 135); // 110, 120, 130: three more while queued
        assert!(expire(&mut p, None, &clock));
        assert_eq!(p.signals.shared.count(), 1, "no second signal queued");
        let t = p.threads.get_mut(&1).unwrap();
        let info = t.signals.take(&mut p.signals.shared, signo);
        assert_eq!(
            (info.code, info.pid, info.uid, info.value),
            (SI_TIMER, 0, 3, Some(77))
        );
        set_cpu(&mut p, 140);
        assert!(expire(&mut p, None, &clock));
        let x = &p.timers.posix[&0];
        assert_eq!((x.overrun, x.overrun_last), (0, 3), "a fresh signal");
        assert_delete_drops_queued_signal(&mut p, signo);
    }

    fn assert_delete_drops_queued_signal(p: &mut Process, signo: u8) {
        assert!(is_queued(&p.signals.shared, signo, 0));
        dequeue_deleted(p, None, 0, signo);
        assert_eq!(p.signals.shared.pending, 0);
    }

    #[test]
    fn itimer_virtual_counts_cpu_time_and_kills_by_default() {
        let mut pm = cowix_mm::PhysMem::try_new(64).unwrap();
        let mut p = process(&mut pm);
        let clock = Clock::new();
        p.timers.virt = Expiry::arm(50, 0, false, 0);
        let t = &p.threads[&1];
        assert_eq!(p.timers.cpu_budget(0, t), Some(50));
        set_cpu(&mut p, 50);
        assert!(expire(&mut p, None, &clock));
        assert_ne!(p.signals.shared.pending & bit(sig::SIGVTALRM), 0);
        assert_eq!(p.timers.virt, Expiry::default(), "one-shot");
        let i = (sig::SIGVTALRM - 1) as usize;
        let mut a = p.signals.actions.get(i);
        a.handler = SIG_DFL;
        p.signals.actions.set(i, a);
        p.timers.virt = Expiry::arm(1, 0, false, 50);
        set_cpu(&mut p, 60);
        expire(&mut p, None, &clock);
        assert_eq!(
            p.exit,
            Some(crate::process::ExitStatus::Signaled {
                signal: sig::SIGVTALRM,
                core: false
            })
        );
    }

    #[test]
    fn timer_ids_count_up_and_skip_used_ones() {
        let mut t = Timers::default();
        let a = t.alloc_id().unwrap();
        t.posix.insert(
            a,
            PosixTimer {
                clock: TimerClock::Monotonic,
                notify: Notify::None,
                expiry: Expiry::default(),
                overrun: 0,
                overrun_last: 0,
            },
        );
        assert_eq!((a, t.alloc_id()), (0, Some(1)));
        t.exec();
        assert!(t.posix.is_empty());
    }
}
