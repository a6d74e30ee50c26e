//! What the program may ask about the machine's one hart: riscv_hwprobe,
//! sched_getaffinity/sched_setaffinity and getcpu. The answers are true of
//! cowix's emulated CPU.

use super::Sys;
use crate::errno::{Errno, SysResult};

/// The `time` CSR's frequency: the CPU counts one tick per 100 retired
/// instructions (cowix-isa's csr.rs), and the kernel's clock takes one
/// instruction for one nanosecond (`Clock::cpu_ns`): 10 MHz.
const TIME_CSR_FREQ: u64 = 10_000_000;

/// riscv_hwprobe keys (arch/riscv/include/uapi/asm/hwprobe.h) and cowix's
/// answers; keys it does not know get key -1, value 0, as Linux.
fn hwprobe_value(key: i64) -> Option<u64> {
    const BASE_BEHAVIOR_IMA: u64 = 1;
    const IMA_FD: u64 = 1 << 0;
    const IMA_C: u64 = 1 << 1;
    /// Misaligned scalar accesses are done in the emulator at full speed,
    /// as on hardware where they are fast (RISCV_HWPROBE_MISALIGNED_FAST).
    const MISALIGNED_FAST: u64 = 3;
    const MISALIGNED_VECTOR_UNSUPPORTED: u64 = 4;
    Some(match key {
        0..=2 => 0, // mvendorid, marchid, mimpid: not a vendor's core
        3 => BASE_BEHAVIOR_IMA,
        4 => IMA_FD | IMA_C,
        5 | 9 => MISALIGNED_FAST, // CPUPERF_0, MISALIGNED_SCALAR_PERF
        6 => 0,                   // ZICBOZ_BLOCK_SIZE: no Zicboz
        7 => cowix_mm::USER_TOP - 1,
        8 => TIME_CSR_FREQ,
        10 => MISALIGNED_VECTOR_UNSUPPORTED,
        _ => return None,
    })
}

/// riscv_hwprobe(pairs, pair_count, cpusetsize, cpus, flags): fills each
/// `struct riscv_hwprobe { s64 key; u64 value; }`. The cpu set may be empty
/// (all CPUs) or must contain cpu 0, the only one.
pub fn riscv_hwprobe(
    sys: &mut Sys<'_>,
    pairs: u64,
    count: u64,
    setsize: u64,
    cpus: u64,
    flags: u32,
) -> SysResult {
    const WHICH_CPUS: u32 = 1;
    if flags & !WHICH_CPUS != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & WHICH_CPUS != 0 && (setsize == 0 || cpus == 0) {
        return Err(Errno::EINVAL);
    }
    if setsize != 0 && cpus != 0 {
        let mut first = [0u8; 1];
        sys.mem().copy_in(cpus, &mut first)?;
        if flags & WHICH_CPUS == 0 && first[0] & 1 == 0 {
            return Err(Errno::EINVAL);
        }
    }
    for i in 0..count.min(1 << 16) {
        let at = pairs + i * 16;
        let mut raw = [0u8; 8];
        sys.mem().copy_in(at, &mut raw)?;
        let key = i64::from_le_bytes(raw);
        let (key, value) = match hwprobe_value(key) {
            Some(v) => (key, v),
            None => (-1, 0),
        };
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&key.to_le_bytes());
        out[8..].copy_from_slice(&value.to_le_bytes());
        sys.mem().copy_out(at, &out)?;
    }
    Ok(0)
}

/// Checks that `pid` (0: the caller) names a live task.
fn task_exists(sys: &Sys<'_>, pid: i32) -> Result<(), Errno> {
    if pid == 0 || pid == sys.p.pid || sys.thread_exists(pid) {
        Ok(())
    } else if pid < 0 {
        Err(Errno::EINVAL)
    } else {
        Err(Errno::ESRCH)
    }
}

/// sched_getaffinity(pid, len, mask): one CPU. Returns the bytes written,
/// a whole `unsigned long`, as Linux (nr_cpu_ids rounded up).
pub fn sched_getaffinity(sys: &mut Sys<'_>, pid: i32, len: u64, mask: u64) -> SysResult {
    task_exists(sys, pid)?;
    if len < 8 || len % 8 != 0 {
        return Err(Errno::EINVAL);
    }
    sys.mem().copy_out(mask, &1u64.to_le_bytes())?;
    Ok(8)
}

/// sched_setaffinity(pid, len, mask): any mask that includes cpu 0 is
/// accepted (there is nowhere else to run); one without it is EINVAL.
pub fn sched_setaffinity(sys: &mut Sys<'_>, pid: i32, len: u64, mask: u64) -> SysResult {
    task_exists(sys, pid)?;
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let mut first = [0u8; 1];
    sys.mem().copy_in(mask, &mut first)?;
    if first[0] & 1 == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// getcpu(cpu, node, cache): cpu 0, node 0.
pub fn getcpu(sys: &mut Sys<'_>, cpu: u64, node: u64) -> SysResult {
    for p in [cpu, node] {
        if p != 0 {
            sys.mem().copy_out(p, &0u32.to_le_bytes())?;
        }
    }
    Ok(0)
}
