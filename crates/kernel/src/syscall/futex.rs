//! futex(2): wait, wake, requeue and wake-op (kernel/futex/syscalls.c,
//! waitwake.c, requeue.c). The queues are in [`crate::futex`].
//!
//! A waiter parks (its pc past the ecall, a0 untouched) with a
//! [`FutexWait`] and, with a timeout, a deadline like nanosleep's; the
//! waker writes its a0 = 0. The guest's check-then-sleep is atomic because
//! nothing else runs while a syscall does. PI futexes and FUTEX_FD are
//! ENOSYS.

use super::Sys;
use crate::errno::{Errno, SysResult};
use crate::futex::{self, FutexKey, FutexWait};

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAKE_OP: u32 = 5;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;
const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

/// futex(uaddr, op, val, timeout or val2, uaddr2, val3).
pub fn futex(
    sys: &mut Sys<'_>,
    uaddr: u64,
    op: u32,
    val: u32,
    timeout: u64,
    uaddr2: u64,
    val3: u32,
) -> SysResult {
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    if realtime && cmd != FUTEX_WAIT_BITSET {
        return Err(Errno::ENOSYS);
    }
    // For the requeue and wake-op commands, the "timeout" is val2.
    let val2 = timeout as u32;
    match cmd {
        FUTEX_WAIT => wait(sys, uaddr, private, val, timeout, false, false, val3),
        FUTEX_WAIT_BITSET => wait(sys, uaddr, private, val, timeout, true, realtime, val3),
        FUTEX_WAKE => wake(sys, uaddr, private, val, FUTEX_BITSET_MATCH_ANY),
        FUTEX_WAKE_BITSET => wake(sys, uaddr, private, val, val3),
        FUTEX_REQUEUE => requeue(sys, uaddr, private, val, val2, uaddr2, None),
        FUTEX_CMP_REQUEUE => requeue(sys, uaddr, private, val, val2, uaddr2, Some(val3)),
        FUTEX_WAKE_OP => wake_op(sys, uaddr, private, val, val2, uaddr2, val3),
        _ => Err(Errno::ENOSYS),
    }
}

/// The key of the futex word at `addr`: EINVAL unless 4-aligned, EFAULT
/// unless mapped.
fn key(sys: &mut Sys<'_>, addr: u64, private: bool) -> Result<FutexKey, Errno> {
    if addr % 4 != 0 {
        return Err(Errno::EINVAL);
    }
    FutexKey::new(
        &mut sys.p.mm.get_mut(),
        sys.pm,
        sys.p.mm.id(),
        addr,
        private,
    )
    .ok_or(Errno::EFAULT)
}

/// FUTEX_WAIT / FUTEX_WAIT_BITSET (futex_wait): EAGAIN if the word is
/// not `val`; else parks until woken (0), until the timeout (ETIMEDOUT;
/// relative for FUTEX_WAIT, absolute on CLOCK_MONOTONIC or, with
/// FUTEX_CLOCK_REALTIME, CLOCK_REALTIME for FUTEX_WAIT_BITSET), or until
/// a signal (EINTR or a restart).
#[allow(clippy::too_many_arguments)]
fn wait(
    sys: &mut Sys<'_>,
    uaddr: u64,
    private: bool,
    val: u32,
    timeout: u64,
    absolute: bool,
    realtime: bool,
    bitset: u32,
) -> SysResult {
    let bitset = if absolute {
        bitset
    } else {
        FUTEX_BITSET_MATCH_ANY
    };
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let deadline = if timeout == 0 {
        None
    } else {
        let ns = super::time::read_timespec(sys, timeout)?;
        let now = sys.clock.monotonic_ns();
        Some(if !absolute {
            now.saturating_add(ns)
        } else if realtime {
            // An absolute CLOCK_REALTIME time, as a CLOCK_MONOTONIC deadline.
            let real = super::time::now_ns(sys, 0)?;
            now.saturating_add(ns.saturating_sub(real))
        } else {
            ns
        })
    };
    let k = key(sys, uaddr, private)?;
    let mut b = [0u8; 4];
    sys.mem().copy_in(uaddr, &mut b)?;
    if u32::from_le_bytes(b) != val {
        return Err(Errno::EAGAIN);
    }
    if deadline.is_some_and(|d| d <= sys.clock.monotonic_ns()) {
        return Err(Errno::ETIMEDOUT);
    }
    *sys.futex_seq += 1;
    sys.t.futex = Some(FutexWait {
        key: k,
        bitset,
        seq: *sys.futex_seq,
    });
    sys.t.sleep_until = deadline;
    Ok(0)
}

/// FUTEX_WAKE / FUTEX_WAKE_BITSET: wakes up to `n` waiters whose bitset
/// meets `bitset`; returns how many.
fn wake(sys: &mut Sys<'_>, uaddr: u64, private: bool, n: u32, bitset: u32) -> SysResult {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    let k = key(sys, uaddr, private)?;
    Ok(futex::wake(sys.p, sys.procs, k, n, bitset) as u64)
}

/// FUTEX_REQUEUE / FUTEX_CMP_REQUEUE (futex_requeue): wakes `n_wake`
/// waiters of `uaddr` and moves up to `n_move` others to `uaddr2`;
/// CMP_REQUEUE first checks the word is `cmp` (EAGAIN otherwise).
fn requeue(
    sys: &mut Sys<'_>,
    uaddr: u64,
    private: bool,
    n_wake: u32,
    n_move: u32,
    uaddr2: u64,
    cmp: Option<u32>,
) -> SysResult {
    if (n_wake as i32) < 0 || (n_move as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let from = key(sys, uaddr, private)?;
    let to = key(sys, uaddr2, private)?;
    if let Some(c) = cmp {
        let mut b = [0u8; 4];
        sys.mem().copy_in(uaddr, &mut b)?;
        if u32::from_le_bytes(b) != c {
            return Err(Errno::EAGAIN);
        }
    }
    Ok(futex::requeue(sys.p, sys.procs, from, to, n_wake, n_move) as u64)
}

/// The operation FUTEX_WAKE_OP applies to the word at uaddr2, and whether
/// the old value passes its comparison (futex_atomic_op_inuser): `encoded`
/// is `op:4 cmp:4 oparg:12 cmparg:12`, op bit 3 meaning `1 << oparg`.
/// None for an unknown op or comparison (ENOSYS).
pub fn wake_op_apply(encoded: u32, old: u32) -> Option<(u32, bool)> {
    let op = (encoded >> 28) & 7;
    let cmp = (encoded >> 24) & 15;
    let sext12 = |v: u32| ((v << 20) as i32) >> 20;
    let mut oparg = sext12((encoded >> 12) & 0xfff);
    let cmparg = sext12(encoded & 0xfff);
    if encoded & (8 << 28) != 0 {
        // FUTEX_OP_OPARG_SHIFT; Linux masks an out-of-range shift.
        oparg = 1 << (oparg & 31);
    }
    let oparg = oparg as u32;
    let new = match op {
        0 => oparg,
        1 => old.wrapping_add(oparg),
        2 => old | oparg,
        3 => old & !oparg,
        4 => old ^ oparg,
        _ => return None,
    };
    let o = old as i32;
    let pass = match cmp {
        0 => o == cmparg,
        1 => o != cmparg,
        2 => o < cmparg,
        3 => o <= cmparg,
        4 => o > cmparg,
        5 => o >= cmparg,
        _ => return None,
    };
    Some((new, pass))
}

/// FUTEX_WAKE_OP (futex_wake_op): updates the word at `uaddr2` as `op`
/// says, wakes `n1` waiters of `uaddr` and, if the old value passed the
/// comparison, `n2` waiters of `uaddr2`. Returns the total woken.
fn wake_op(
    sys: &mut Sys<'_>,
    uaddr: u64,
    private: bool,
    n1: u32,
    n2: u32,
    uaddr2: u64,
    op: u32,
) -> SysResult {
    let k1 = key(sys, uaddr, private)?;
    let k2 = key(sys, uaddr2, private)?;
    let mut b = [0u8; 4];
    sys.mem().copy_in(uaddr2, &mut b)?;
    let old = u32::from_le_bytes(b);
    let (new, pass) = wake_op_apply(op, old).ok_or(Errno::ENOSYS)?;
    sys.mem().copy_out(uaddr2, &new.to_le_bytes())?;
    let mut woken = futex::wake(sys.p, sys.procs, k1, n1, FUTEX_BITSET_MATCH_ANY);
    if pass {
        woken += futex::wake(sys.p, sys.procs, k2, n2, FUTEX_BITSET_MATCH_ANY);
    }
    Ok(woken as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FUTEX_OP(op, oparg, cmp, cmparg) from linux/futex.h.
    fn futex_op(op: u32, oparg: u32, cmp: u32, cmparg: u32) -> u32 {
        ((op & 0xf) << 28) | ((cmp & 0xf) << 24) | ((oparg & 0xfff) << 12) | (cmparg & 0xfff)
    }

    #[test]
    fn wake_op_encodings_match_linux() {
        // glibc's pthread_cond_signal of old: FUTEX_OP_CLEAR_WAKE_IF_GT_ONE.
        let clear_wake_if_gt_one = futex_op(0, 0, 4, 1);
        assert_eq!(wake_op_apply(clear_wake_if_gt_one, 2), Some((0, true)));
        assert_eq!(wake_op_apply(clear_wake_if_gt_one, 1), Some((0, false)));
        // ADD -1 (sign-extended), compare LT 0.
        assert_eq!(wake_op_apply(futex_op(1, 0xfff, 2, 0), 5), Some((4, false)));
        assert_eq!(
            wake_op_apply(futex_op(1, 0xfff, 2, 0), u32::MAX),
            Some((u32::MAX - 1, true))
        );
        // OR with the OPARG_SHIFT bit: 1 << 4.
        assert_eq!(
            wake_op_apply(futex_op(8 | 2, 4, 0, 0), 1),
            Some((17, false))
        );
        // ANDN, XOR, and the comparisons NE, LE, GE.
        assert_eq!(wake_op_apply(futex_op(3, 6, 1, 7), 7), Some((1, false)));
        assert_eq!(wake_op_apply(futex_op(4, 3, 3, 7), 7), Some((4, true)));
        assert_eq!(wake_op_apply(futex_op(0, 9, 5, 8), 7), Some((9, false)));
        assert_eq!(wake_op_apply(futex_op(5, 0, 0, 0), 0), None, "op 5 unknown");
        assert_eq!(
            wake_op_apply(futex_op(0, 0, 6, 0), 0),
            None,
            "cmp 6 unknown"
        );
    }
}
