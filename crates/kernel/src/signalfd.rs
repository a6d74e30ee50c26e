//! Signals read through a file descriptor (fs/signalfd.c).
//!
//! A signalfd holds only its mask; what it reads is the *reader's*
//! pending signals (its own and its group's) that are in the mask, taken
//! off the queue as delivery would take them (signalfd_dequeue()), each as
//! a 128-byte `struct signalfd_siginfo`.

use crate::signal::{bit, code, sig, SigInfo, UNBLOCKABLE};
use crate::syscall::poll::{POLLIN, POLLRDNORM};
use crate::timers::SI_TIMER;

/// sizeof(struct signalfd_siginfo).
pub const SIGINFO_SIZE: usize = 128;

/// One signalfd's mask (SIGKILL and SIGSTOP never in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalFd {
    pub mask: u64,
}

impl SignalFd {
    pub fn new(mask: u64) -> Self {
        SignalFd {
            mask: mask & !UNBLOCKABLE,
        }
    }

    /// signalfd_poll(): readable while a signal in the mask is pending for
    /// the poller (`pending`: its pending set, own and shared).
    pub fn poll(&self, pending: u64) -> u16 {
        if pending & self.mask != 0 {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }
}

/// `info` as struct signalfd_siginfo (include/uapi/linux/signalfd.h,
/// signalfd_copyinfo()): signo, errno, code, pid, uid, fd, tid, band,
/// overrun, trapno, status, int, ptr, utime, stime, addr.
pub fn siginfo_bytes(info: &SigInfo) -> [u8; SIGINFO_SIZE] {
    let mut b = [0u8; SIGINFO_SIZE];
    let mut put32 = |off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    put32(0, u32::from(info.signo));
    put32(8, info.code as u32);
    if info.fault {
        b[72..80].copy_from_slice(&info.addr.to_le_bytes());
        return b;
    }
    if info.code == SI_TIMER {
        put32(24, info.pid as u32); // ssi_tid: the timer id
        put32(32, info.uid); // ssi_overrun
    } else {
        put32(12, info.pid as u32);
        put32(16, info.uid);
        if info.signo == sig::SIGCHLD && info.code > 0 && info.code != code::SI_KERNEL {
            put32(40, info.status as u32);
        }
    }
    if let Some(v) = info.value {
        b[44..48].copy_from_slice(&(v as u32).to_le_bytes()); // ssi_int
        b[48..56].copy_from_slice(&v.to_le_bytes()); // ssi_ptr
    }
    b
}

/// Whether signal `n` is in `mask`.
pub fn in_mask(mask: u64, n: u8) -> bool {
    mask & bit(n) != 0
}
