//! Scheduling policies (kernel/sched/syscalls.c). cowix has one scheduler:
//! round-robin in instruction quanta. These calls keep and report each
//! thread's policy and priority, with Linux's checks, so programs that set
//! or query them (pthread_attr_setschedpolicy, chrt) see Linux's answers;
//! the policy does not change how the thread is scheduled.

use super::Sys;
use crate::errno::{Errno, SysResult};
use crate::process::Thread;

const SCHED_OTHER: u32 = 0;
const SCHED_FIFO: u32 = 1;
const SCHED_RR: u32 = 2;
const SCHED_BATCH: u32 = 3;
const SCHED_IDLE: u32 = 5;
const SCHED_DEADLINE: u32 = 6;
const SCHED_RESET_ON_FORK: u32 = 0x4000_0000;
/// RLIMIT_RTPRIO.
const RLIMIT_RTPRIO: usize = 14;

/// The thread `pid` names (0: the caller): ESRCH if none, EINVAL if negative.
fn with_thread<R>(
    sys: &mut Sys<'_>,
    pid: i32,
    f: impl FnOnce(&mut Thread) -> R,
) -> Result<R, Errno> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid == 0 || pid == sys.t.tid {
        return Ok(f(sys.t));
    }
    if let Some(t) = sys.p.threads.get_mut(&pid) {
        return Ok(f(t));
    }
    sys.procs
        .values_mut()
        .find_map(|q| q.threads.get_mut(&pid))
        .map(|t| f(t))
        .ok_or(Errno::ESRCH)
}

/// The priority range of `policy`: 1..=99 for the real-time ones, 0 for
/// the others (sched_get_priority_min/max); None for an unknown policy.
fn priority_range(policy: u32) -> Option<(i32, i32)> {
    match policy {
        SCHED_FIFO | SCHED_RR => Some((1, 99)),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE => Some((0, 0)),
        _ => None,
    }
}

pub fn sched_get_priority_max(policy: i32) -> SysResult {
    let (_, max) = priority_range(policy as u32).ok_or(Errno::EINVAL)?;
    Ok(max as u64)
}

pub fn sched_get_priority_min(policy: i32) -> SysResult {
    let (min, _) = priority_range(policy as u32).ok_or(Errno::EINVAL)?;
    Ok(min as u64)
}

/// sched_getscheduler(pid): the policy, with SCHED_RESET_ON_FORK if set.
pub fn sched_getscheduler(sys: &mut Sys<'_>, pid: i32) -> SysResult {
    with_thread(sys, pid, |t| t.sched.0 as u64)
}

/// sched_getparam(pid, param): struct sched_param is one int, the priority.
pub fn sched_getparam(sys: &mut Sys<'_>, pid: i32, param: u64) -> SysResult {
    if param == 0 {
        return Err(Errno::EINVAL);
    }
    let prio = with_thread(sys, pid, |t| t.sched.1)?;
    sys.mem().write_u32(param, prio as u32)?;
    Ok(0)
}

/// sched_setscheduler(pid, policy, param) (__sched_setscheduler): the
/// priority must be in the policy's range (EINVAL); a real-time policy
/// above RLIMIT_RTPRIO needs privilege (EPERM). SCHED_DEADLINE needs
/// sched_setattr: EINVAL here.
pub fn sched_setscheduler(sys: &mut Sys<'_>, pid: i32, policy: i32, param: u64) -> SysResult {
    if param == 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    let policy = policy as u32;
    let base = policy & !SCHED_RESET_ON_FORK;
    if base == SCHED_DEADLINE {
        return Err(Errno::EINVAL);
    }
    let (min, max) = priority_range(base).ok_or(Errno::EINVAL)?;
    let prio = read_i32(sys, param)?;
    set(sys, pid, policy, min, max, prio)
}

/// sched_setparam(pid, param): a new priority under the current policy.
pub fn sched_setparam(sys: &mut Sys<'_>, pid: i32, param: u64) -> SysResult {
    if param == 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    let policy = with_thread(sys, pid, |t| t.sched.0)?;
    let (min, max) = priority_range(policy & !SCHED_RESET_ON_FORK).ok_or(Errno::EINVAL)?;
    let prio = read_i32(sys, param)?;
    set(sys, pid, policy, min, max, prio)
}

fn read_i32(sys: &mut Sys<'_>, addr: u64) -> Result<i32, Errno> {
    let mut b = [0u8; 4];
    sys.mem().copy_in(addr, &mut b)?;
    Ok(i32::from_le_bytes(b))
}

/// What a new task inherits of its creator's policy (sched_fork): all of
/// it; under SCHED_RESET_ON_FORK (which the new task does not keep) a
/// real-time policy reverts to SCHED_OTHER.
pub fn inherit(sched: (u32, i32)) -> (u32, i32) {
    let (policy, prio) = sched;
    if policy & SCHED_RESET_ON_FORK == 0 {
        return sched;
    }
    match policy & !SCHED_RESET_ON_FORK {
        SCHED_FIFO | SCHED_RR => (SCHED_OTHER, 0),
        other => (other, prio),
    }
}

fn set(sys: &mut Sys<'_>, pid: i32, policy: u32, min: i32, max: i32, prio: i32) -> SysResult {
    if !(min..=max).contains(&prio) {
        return Err(Errno::EINVAL);
    }
    let rt_limit = sys.p.rlimits[RLIMIT_RTPRIO].cur;
    if prio > 0 && prio as u64 > rt_limit && sys.p.creds.euid != 0 {
        return Err(Errno::EPERM);
    }
    with_thread(sys, pid, |t| t.sched = (policy, prio))?;
    Ok(0)
}
