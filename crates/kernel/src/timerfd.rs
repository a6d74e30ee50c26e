//! Timers read through a file descriptor (fs/timerfd.c).
//!
//! A timerfd counts its expirations on CLOCK_REALTIME or CLOCK_MONOTONIC
//! (CLOCK_BOOTTIME is the monotonic clock: the machine never suspends).
//! Expirations are counted lazily, from the clock, whenever the file is
//! read or polled, and by the scheduler's timer pass
//! (`Kernel::fire_timers`), which moves the kernel's event count so that
//! threads blocked on the timer retry.

use std::time::Instant;

use crate::errno::Errno;
use crate::syscall::poll::{POLLIN, POLLRDNORM};
use crate::timers::{realtime_ns, Expiry};

/// The clock a timerfd counts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerFdClock {
    Realtime,
    Monotonic,
}

/// One timerfd: its expiry, the expirations not yet read.
#[derive(Debug)]
pub struct TimerFd {
    pub clock: TimerFdClock,
    /// The machine's boot instant (CLOCK_MONOTONIC's zero).
    boot: Instant,
    pub expiry: Expiry,
    /// Expirations since the last read or settime (ctx->ticks).
    ticks: u64,
    /// Moves whenever ticks are added or read (epoll's edge trigger).
    pub seq: u64,
}

impl TimerFd {
    pub fn new(clock: TimerFdClock, boot: Instant) -> Self {
        TimerFd {
            clock,
            boot,
            expiry: Expiry::default(),
            ticks: 0,
            seq: 0,
        }
    }

    /// The timer's clock now, in nanoseconds.
    pub fn now(&self) -> u64 {
        match self.clock {
            TimerFdClock::Realtime => realtime_ns(),
            TimerFdClock::Monotonic => self.boot.elapsed().as_nanos() as u64,
        }
    }

    /// Counts the expirations up to now (timerfd_tmrproc() and
    /// hrtimer_forward_now()'s overruns). True if there were any.
    pub fn update(&mut self) -> bool {
        let n = self.expiry.advance(self.now());
        self.ticks = self.ticks.saturating_add(n);
        if n > 0 {
            self.seq += 1;
        }
        n > 0
    }

    /// timerfd_settime(): arms (value non-zero, absolute on the clock if
    /// `abstime`) or disarms; the unread expirations are dropped.
    pub fn set(&mut self, value: u64, interval: u64, abstime: bool) {
        self.ticks = 0;
        self.expiry = Expiry::arm(value, interval, abstime, self.now());
        self.update();
    }

    /// read(2) (timerfd_read()): EINVAL under 8 bytes, EAGAIN with no
    /// expiration yet; else the count of expirations, reset to 0.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        self.update();
        if self.ticks == 0 {
            return Err(Errno::EAGAIN);
        }
        buf[..8].copy_from_slice(&self.ticks.to_le_bytes());
        self.ticks = 0;
        self.seq += 1;
        Ok(8)
    }

    /// timerfd_poll(): readable with expirations to read.
    pub fn poll(&mut self) -> u16 {
        self.update();
        if self.ticks > 0 {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }

    /// Expirations not yet read (fdinfo's ticks).
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// The next expiry as CLOCK_MONOTONIC nanoseconds (the scheduler
    /// sleeps until then when nothing can run), if armed.
    pub fn next_monotonic(&self, mono_now: u64) -> Option<u64> {
        let next = self.expiry.next?;
        Some(mono_now.saturating_add(next.saturating_sub(self.now())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_timer_counts_missed_expirations() {
        let boot = Instant::now()
            .checked_sub(std::time::Duration::from_secs(1))
            .unwrap();
        let mut t = TimerFd::new(TimerFdClock::Monotonic, boot);
        let now = t.now();
        // Absolute, 10 periods of 1 ms in the past: 10 or 11 expirations.
        t.set(now.saturating_sub(10_000_000), 1_000_000, true);
        let mut b = [0u8; 8];
        assert_eq!(t.read(&mut b), Ok(8));
        let n = u64::from_le_bytes(b);
        assert!((10..=12).contains(&n), "{n} expirations");
        t.set(0, 0, false);
        assert_eq!(t.read(&mut b), Err(Errno::EAGAIN), "disarmed");
        assert_eq!(t.read(&mut [0; 4]), Err(Errno::EINVAL));
    }
}
