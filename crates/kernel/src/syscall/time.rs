//! Time, identity of the machine, randomness.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Sys;
use crate::errno::{Errno, SysResult};

const CLOCK_REALTIME: i32 = 0;
const CLOCK_MONOTONIC: i32 = 1;
const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
const CLOCK_MONOTONIC_RAW: i32 = 4;
const CLOCK_REALTIME_COARSE: i32 = 5;
const CLOCK_MONOTONIC_COARSE: i32 = 6;
const CLOCK_BOOTTIME: i32 = 7;
const TIMER_ABSTIME: u32 = 1;

/// The time on clock `id`, in nanoseconds.
pub(super) fn now_ns(sys: &Sys<'_>, id: i32) -> Result<u64, Errno> {
    match id {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE => {
            let d = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            Ok(d.as_nanos() as u64)
        }
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME => {
            Ok(sys.clock.monotonic_ns())
        }
        CLOCK_PROCESS_CPUTIME_ID => Ok(sys.clock.cpu_ns(sys.p.instret(Some(sys.t)))),
        CLOCK_THREAD_CPUTIME_ID => Ok(sys.clock.cpu_ns(sys.t.cpu.instret)),
        // clock_getcpuclockid/pthread_getcpuclockid ids (this process's).
        c if c < 0 => Ok(super::timer::clock_now(
            sys,
            super::timer::cpu_clock(sys, c)?,
        )),
        _ => Err(Errno::EINVAL),
    }
}

fn timespec(ns: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    b[8..].copy_from_slice(&(ns % 1_000_000_000).to_le_bytes());
    b
}

/// Reads a struct timespec; EINVAL unless 0 <= tv_nsec < 1e9 and tv_sec >= 0.
pub(super) fn read_timespec(sys: &mut Sys<'_>, addr: u64) -> Result<u64, Errno> {
    let sec = sys.mem().read_u64(addr)? as i64;
    let nsec = sys.mem().read_u64(addr + 8)? as i64;
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(nsec as u64))
}

pub fn clock_gettime(sys: &mut Sys<'_>, id: i32, tp: u64) -> SysResult {
    let ns = now_ns(sys, id)?;
    sys.mem().copy_out(tp, &timespec(ns))?;
    Ok(0)
}

pub fn clock_getres(sys: &mut Sys<'_>, id: i32, tp: u64) -> SysResult {
    now_ns(sys, id)?;
    let res = match id {
        CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE => 4_000_000,
        _ => 1,
    };
    if tp != 0 {
        sys.mem().copy_out(tp, &timespec(res))?;
    }
    Ok(0)
}

pub fn gettimeofday(sys: &mut Sys<'_>, tv: u64, tz: u64) -> SysResult {
    if tv != 0 {
        let ns = now_ns(sys, CLOCK_REALTIME)?;
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
        b[8..].copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
        sys.mem().copy_out(tv, &b)?;
    }
    if tz != 0 {
        sys.mem().copy_out(tz, &[0u8; 8])?;
    }
    Ok(0)
}

/// Sleeps `ns` nanoseconds without holding up the other processes: the
/// first call sets the deadline and blocks; the kernel retries the syscall
/// once the deadline has passed (sleeping the host only when nothing else
/// can run). True once the deadline has passed.
pub(super) fn sleep_ns(sys: &mut Sys<'_>, ns: u64) -> bool {
    let now = sys.clock.monotonic_ns();
    let deadline = *sys.t.sleep_until.get_or_insert(now.saturating_add(ns));
    if now >= deadline {
        sys.t.sleep_until = None;
        true
    } else {
        sys.block = true;
        false
    }
}

pub fn nanosleep(sys: &mut Sys<'_>, req: u64, rem: u64) -> SysResult {
    let ns = read_timespec(sys, req)?;
    if !sleep_ns(sys, ns) {
        return Ok(0);
    }
    if rem != 0 {
        sys.mem().copy_out(rem, &timespec(0))?;
    }
    Ok(0)
}

pub fn clock_nanosleep(sys: &mut Sys<'_>, id: i32, flags: u32, req: u64, rem: u64) -> SysResult {
    // Sleeping on a CPU-time clock (posix_cpu_nsleep()) is not supported:
    // EINVAL, as Linux gives for thread clocks.
    if id == CLOCK_THREAD_CPUTIME_ID || id < 0 {
        return Err(Errno::EINVAL);
    }
    let now = now_ns(sys, id)?;
    let t = read_timespec(sys, req)?;
    let ns = if flags & TIMER_ABSTIME != 0 {
        t.saturating_sub(now)
    } else {
        t
    };
    if !sleep_ns(sys, ns) {
        return Ok(0);
    }
    if rem != 0 && flags & TIMER_ABSTIME == 0 {
        sys.mem().copy_out(rem, &timespec(0))?;
    }
    Ok(0)
}

/// The kernel cowix presents itself as (uname -a).
pub const UTS_SYSNAME: &str = "Linux";
pub const UTS_RELEASE: &str = "6.12.0-cowix";
pub const UTS_VERSION: &str = "#1 SMP PREEMPT cowix";
pub const UTS_MACHINE: &str = "riscv64";

pub fn uname(sys: &mut Sys<'_>, buf: u64) -> SysResult {
    // struct new_utsname: six fields of 65 bytes.
    let mut b = [0u8; 65 * 6];
    let fields = [
        UTS_SYSNAME,
        "cowix",
        UTS_RELEASE,
        UTS_VERSION,
        UTS_MACHINE,
        "(none)",
    ];
    for (i, f) in fields.iter().enumerate() {
        b[i * 65..i * 65 + f.len()].copy_from_slice(f.as_bytes());
    }
    sys.mem().copy_out(buf, &b)?;
    Ok(0)
}

pub fn sysinfo(sys: &mut Sys<'_>, buf: u64) -> SysResult {
    // struct sysinfo on 64-bit: uptime, loads[3], totalram, freeram,
    // sharedram, bufferram, totalswap, freeswap (longs), procs (u16),
    // pad, totalhigh, freehigh, mem_unit (u32): 112 bytes.
    let s = *sys.pm.stats();
    let mut b = [0u8; 112];
    let mut put = |off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(0, sys.clock.monotonic_ns() / 1_000_000_000);
    put(32, s.max_frames * 4096);
    put(40, s.max_frames.saturating_sub(s.frames_in_use) * 4096);
    // bufferram is block-device buffers, of which there are none; the page
    // cache is /proc/meminfo's Cached.
    let procs = (sys.procs.len() + 1).min(u16::MAX as usize) as u16;
    b[80..82].copy_from_slice(&procs.to_le_bytes());
    b[104..108].copy_from_slice(&1u32.to_le_bytes());
    sys.mem().copy_out(buf, &b)?;
    Ok(0)
}

pub fn getrandom(sys: &mut Sys<'_>, buf: u64, len: u64, flags: u32) -> SysResult {
    const GRND_NONBLOCK: u32 = 1;
    const GRND_RANDOM: u32 = 2;
    const GRND_INSECURE: u32 = 4;
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == (GRND_RANDOM | GRND_INSECURE)
    {
        return Err(Errno::EINVAL);
    }
    let n = len.min(33_554_431) as usize; // Linux caps one call at INT_MAX >> 6... (32 MiB - 1)
    let mut data = vec![0u8; n];
    sys.clock.random(&mut data);
    sys.mem().copy_out(buf, &data)?;
    Ok(n as u64)
}
