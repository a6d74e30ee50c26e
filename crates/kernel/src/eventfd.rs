//! Event counters (fs/eventfd.c): an eventfd is one 64-bit counter shared
//! by every open file description that fork or dup made of it.
//!
//! Blocking is the syscall layer's business: this module only says "would
//! block" with `EAGAIN`, as [`crate::pipe`] does.

use crate::errno::Errno;
use crate::syscall::poll::{POLLERR, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};

/// eventfd2 flags (include/linux/eventfd.h).
pub const EFD_SEMAPHORE: u32 = 1;

/// The counter and its mode.
#[derive(Debug)]
pub struct EventFd {
    count: u64,
    semaphore: bool,
    /// Reads and writes: the wakeups of writers and of readers that an
    /// edge-triggered epoll reports.
    pub reads: u64,
    pub writes: u64,
}

impl EventFd {
    pub fn new(initval: u32, semaphore: bool) -> Self {
        EventFd {
            count: u64::from(initval),
            semaphore,
            reads: 0,
            writes: 0,
        }
    }

    /// read(2) (eventfd_read()): EINVAL for a buffer under 8 bytes, EAGAIN
    /// while the counter is 0; else the counter (reset to 0), or 1 (the
    /// counter decremented) in semaphore mode, as 8 native-endian bytes.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        if self.count == 0 {
            return Err(Errno::EAGAIN);
        }
        let v = if self.semaphore { 1 } else { self.count };
        self.count -= v;
        self.reads += 1;
        buf[..8].copy_from_slice(&v.to_le_bytes());
        Ok(8)
    }

    /// write(2) (eventfd_write()): EINVAL for a buffer under 8 bytes or the
    /// value 0xffffffffffffffff; EAGAIN while adding it would reach that
    /// value (the writer blocks until a read makes room).
    pub fn write(&mut self, buf: &[u8]) -> Result<usize, Errno> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let v = u64::from_le_bytes(buf[..8].try_into().expect("eventfd: 8 bytes"));
        if v == u64::MAX {
            return Err(Errno::EINVAL);
        }
        if u64::MAX - self.count <= v {
            return Err(Errno::EAGAIN);
        }
        self.count += v;
        // Every write wakes the readers, even of 0 (eventfd_write()).
        self.writes += 1;
        Ok(8)
    }

    /// eventfd_poll(): readable while the counter is non-zero, writable
    /// while a write of 1 would not block, in error at the (unreachable
    /// through write) maximum.
    pub fn poll(&self) -> u16 {
        let mut m = 0;
        if self.count > 0 {
            m |= POLLIN | POLLRDNORM;
        }
        if self.count == u64::MAX {
            m |= POLLERR;
        }
        if u64::MAX - 1 > self.count {
            m |= POLLOUT | POLLWRNORM;
        }
        m
    }

    /// The counter (/proc/PID/fdinfo's eventfd-count).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether it is in semaphore mode (EFD_SEMAPHORE).
    pub fn semaphore(&self) -> bool {
        self.semaphore
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_mode_reads_all_semaphore_mode_one_at_a_time() {
        let mut e = EventFd::new(3, false);
        let mut b = [0u8; 8];
        assert_eq!(e.read(&mut b), Ok(8));
        assert_eq!(u64::from_le_bytes(b), 3);
        assert_eq!(e.read(&mut b), Err(Errno::EAGAIN));
        let mut s = EventFd::new(2, true);
        assert_eq!(s.read(&mut b), Ok(8));
        assert_eq!(u64::from_le_bytes(b), 1);
        assert_eq!(s.count(), 1);
        assert_eq!(s.read(&mut [0; 7]), Err(Errno::EINVAL));
    }

    #[test]
    fn write_rejects_max_and_blocks_on_overflow() {
        let mut e = EventFd::new(0, false);
        assert_eq!(e.write(&u64::MAX.to_le_bytes()), Err(Errno::EINVAL));
        assert_eq!(e.write(&(u64::MAX - 1).to_le_bytes()), Ok(8));
        assert_eq!(e.poll() & POLLOUT, 0);
        assert_eq!(e.write(&1u64.to_le_bytes()), Err(Errno::EAGAIN));
        assert_eq!(e.write(&0u64.to_le_bytes()), Ok(8), "adding 0 always fits");
        assert_eq!(e.write(&[0; 4]), Err(Errno::EINVAL));
    }
}
