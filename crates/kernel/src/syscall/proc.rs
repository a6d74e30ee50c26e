//! Process syscalls: exit, thread bookkeeping, signals, limits.

use super::Sys;
use crate::deliver::{self, send};
use crate::errno::{Errno, SysResult};
use crate::process::{rlimit, ExitStatus, Process, Rlimit};
use crate::signal::{code, sig, AltStack, SigAction, SigInfo, SIGSET_SIZE, UNBLOCKABLE};

/// exit(code): ends the calling thread only (do_exit); the group ends
/// with its last thread.
pub fn exit(sys: &mut Sys<'_>, code: u64) -> SysResult {
    sys.t.exited = Some(code as u8);
    Ok(0)
}

/// exit_group(code): ends every thread of the group (do_group_exit).
pub fn exit_group(sys: &mut Sys<'_>, code: u64) -> SysResult {
    sys.p.exit = Some(ExitStatus::Exited(code as u8));
    Ok(0)
}

pub fn set_tid_address(sys: &mut Sys<'_>, addr: u64) -> SysResult {
    sys.t.clear_child_tid = addr;
    Ok(sys.t.tid as u64)
}

pub fn set_robust_list(sys: &mut Sys<'_>, head: u64, len: u64) -> SysResult {
    // sizeof(struct robust_list_head) on 64-bit.
    if len != 24 {
        return Err(Errno::EINVAL);
    }
    sys.t.robust_list = (head, len);
    Ok(0)
}

fn check_signal(n: i32) -> Result<Option<u8>, Errno> {
    if !(0..=sig::NSIG as i32).contains(&n) {
        return Err(Errno::EINVAL);
    }
    Ok((n != 0).then_some(n as u8))
}

/// kill(pid, sig) (kernel/signal.c:kill_something_info): pid > 0 one
/// process, 0 the caller's group, -1 every process but init and the
/// caller, < -1 the group -pid. Signal 0 only checks that a target exists.
/// The signal is process-directed (see `deliver::send`).
pub fn kill(sys: &mut Sys<'_>, pid: i32, n: i32) -> SysResult {
    let n = check_signal(n)?;
    let me = sys.p.pid;
    let uid = sys.p.creds.uid;
    let my_pgid = sys.p.pgid;
    let init = sys.init;
    let my_tid = sys.t.tid;
    // pid > 0 may name any thread: the signal goes to its group (find_vpid
    // finds the task, group_send_sig_info sends to the thread group).
    let hit = |q: &Process| match pid {
        p if p > 0 => q.pid == p || q.threads.contains_key(&p) || (q.pid == me && p == my_tid),
        0 => q.pgid == my_pgid,
        -1 => q.pid != init && q.pid != me,
        p => q.pgid == p.wrapping_neg(),
    };
    let mut found = false;
    for q in sys.procs.values_mut().filter(|q| hit(q)) {
        found = true;
        if let Some(n) = n {
            let _ = send(q, None, SigInfo::user(n, code::SI_USER, me, uid));
        }
    }
    if pid > 0 && sys.zombies.contains_key(&pid) {
        found = true;
    }
    if hit(sys.p) {
        found = true;
        if let Some(n) = n {
            let _ = send(sys.p, Some(sys.t), SigInfo::user(n, code::SI_USER, me, uid));
        }
    }
    if found {
        Ok(0)
    } else {
        Err(Errno::ESRCH)
    }
}

/// A signal to thread `tid`, which must belong to group `tgid` if that is
/// given (do_send_specific): SI_TKILL, queued for that thread alone.
fn send_to_tid(sys: &mut Sys<'_>, tgid: Option<i32>, tid: i32, n: i32) -> SysResult {
    let n = check_signal(n)?;
    let me = sys.p.pid;
    let uid = sys.p.creds.uid;
    let info = n.map(|n| SigInfo::user(n, code::SI_TKILL, me, uid));
    send_specific(sys, tgid, tid, info)
}

/// do_send_specific: `info` (None: only check the target exists) to
/// thread `tid` of group `tgid` (any group if None). ESRCH if there is
/// no such thread; EAGAIN beyond RLIMIT_SIGPENDING (rt_tgsigqueueinfo).
fn send_specific(
    sys: &mut Sys<'_>,
    tgid: Option<i32>,
    tid: i32,
    info: Option<SigInfo>,
) -> SysResult {
    let me = sys.p.pid;
    if tgid.is_none_or(|g| g == me) {
        if tid == sys.t.tid {
            if let Some(info) = info {
                deliver::send_thread(sys.p, sys.t, None, info)?;
            }
            return Ok(0);
        }
        if let Some(mut t) = sys.p.threads.remove(&tid) {
            let r = match info {
                Some(info) => deliver::send_thread(sys.p, &mut t, Some(sys.t), info),
                None => Ok(()),
            };
            sys.p.threads.insert(tid, t);
            r?;
            return Ok(0);
        }
    }
    let q = sys
        .procs
        .values_mut()
        .find(|q| tgid.is_none_or(|g| g == q.pid) && q.threads.contains_key(&tid))
        .ok_or(Errno::ESRCH)?;
    let mut t = q
        .threads
        .remove(&tid)
        .expect("send_to_tid: thread vanished");
    let r = match info {
        Some(info) => deliver::send_thread(q, &mut t, None, info),
        None => Ok(()),
    };
    q.threads.insert(tid, t);
    r?;
    Ok(0)
}

/// Reads a sender's `siginfo_t` for rt_sigqueueinfo/rt_tgsigqueueinfo
/// and applies do_rt_sigqueueinfo's rule: nobody may pretend to be the
/// kernel or kill/tgkill (si_code >= 0 or SI_TKILL) when signalling
/// another task (`self_target` false): EPERM. cowix keeps si_code,
/// si_pid, si_uid and si_value (the _rt layout).
fn queued_info(sys: &mut Sys<'_>, n: u8, uinfo: u64, self_target: bool) -> Result<SigInfo, Errno> {
    let mut b = [0u8; 128];
    sys.mem().copy_in(uinfo, &mut b)?;
    let i32_at = |o: usize| i32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let code_ = i32_at(8);
    if (code_ >= 0 || code_ == code::SI_TKILL) && !self_target {
        return Err(Errno::EPERM);
    }
    Ok(SigInfo {
        signo: n,
        code: code_,
        pid: i32_at(16),
        uid: i32_at(20) as u32,
        value: Some(u64::from_le_bytes(b[24..32].try_into().unwrap())),
        ..Default::default()
    })
}

/// rt_sigqueueinfo(tgid, sig, info) (kernel/signal.c:
/// do_rt_sigqueueinfo, then kill_proc_info): a process-directed signal
/// carrying the caller's siginfo (sigqueue(3)); a real-time one is
/// queued once per call, EAGAIN beyond RLIMIT_SIGPENDING.
pub fn rt_sigqueueinfo(sys: &mut Sys<'_>, pid: i32, n: i32, uinfo: u64) -> SysResult {
    let me = sys.p.pid;
    let info = queued_info(sys, n.clamp(0, 64) as u8, uinfo, pid == me)?;
    if pid == me || sys.p.threads.contains_key(&pid) || pid == sys.t.tid {
        if let Some(n) = check_signal(n)? {
            send(sys.p, Some(sys.t), SigInfo { signo: n, ..info })?;
        }
        return Ok(0);
    }
    let q = sys
        .procs
        .values_mut()
        .find(|q| pid > 0 && (q.pid == pid || q.threads.contains_key(&pid)))
        .ok_or(Errno::ESRCH)?;
    if let Some(n) = check_signal(n)? {
        send(q, None, SigInfo { signo: n, ..info })?;
    }
    Ok(0)
}

/// rt_tgsigqueueinfo(tgid, tid, sig, info) (do_rt_tgsigqueueinfo): as
/// rt_sigqueueinfo, to one thread; only the caller may be sent a
/// kernel-looking or tgkill-looking siginfo.
pub fn rt_tgsigqueueinfo(sys: &mut Sys<'_>, tgid: i32, tid: i32, n: i32, uinfo: u64) -> SysResult {
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let info = queued_info(sys, n.clamp(0, 64) as u8, uinfo, tid == sys.t.tid)?;
    let n = check_signal(n)?;
    send_specific(
        sys,
        Some(tgid),
        tid,
        n.map(|n| SigInfo { signo: n, ..info }),
    )
}

pub fn tkill(sys: &mut Sys<'_>, tid: i32, n: i32) -> SysResult {
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    send_to_tid(sys, None, tid, n)
}

pub fn tgkill(sys: &mut Sys<'_>, tgid: i32, tid: i32, n: i32) -> SysResult {
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    send_to_tid(sys, Some(tgid), tid, n)
}

fn read_sigaction(sys: &mut Sys<'_>, addr: u64) -> Result<SigAction, Errno> {
    let mut b = [0u8; 24];
    sys.mem().copy_in(addr, &mut b)?;
    let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
    Ok(SigAction {
        handler: w(0),
        flags: w(1),
        mask: w(2),
    })
}

pub fn rt_sigaction(sys: &mut Sys<'_>, n: i32, act: u64, oact: u64, size: u64) -> SysResult {
    if size != SIGSET_SIZE || !(1..=sig::NSIG as i32).contains(&n) {
        return Err(Errno::EINVAL);
    }
    let n = n as u8;
    let new = if act != 0 {
        Some(read_sigaction(sys, act)?)
    } else {
        None
    };
    if new.is_some() && (n == sig::SIGKILL || n == sig::SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let old = sys.p.signals.action(n);
    if oact != 0 {
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&old.handler.to_le_bytes());
        b[8..16].copy_from_slice(&old.flags.to_le_bytes());
        b[16..24].copy_from_slice(&old.mask.to_le_bytes());
        sys.mem().copy_out(oact, &b)?;
    }
    if let Some(mut a) = new {
        a.mask &= !UNBLOCKABLE;
        sys.p.signals.actions.set((n - 1) as usize, a);
    }
    Ok(0)
}

pub fn rt_sigprocmask(sys: &mut Sys<'_>, how: u32, set: u64, oset: u64, size: u64) -> SysResult {
    const SIG_BLOCK: u32 = 0;
    const SIG_UNBLOCK: u32 = 1;
    const SIG_SETMASK: u32 = 2;
    if size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let old = sys.t.signals.blocked;
    if set != 0 {
        let s = sys.mem().read_u64(set)?;
        let new = match how {
            SIG_BLOCK => old | s,
            SIG_UNBLOCK => old & !s,
            SIG_SETMASK => s,
            _ => return Err(Errno::EINVAL),
        };
        sys.t.signals.blocked = new & !UNBLOCKABLE;
    }
    if oset != 0 {
        sys.mem().write_u64(oset, old)?;
    }
    Ok(0)
}

/// rt_sigsuspend(mask): waits with `mask` blocked until a handler runs;
/// always -EINTR. The old mask comes back at the handler's sigreturn
/// (the kernel puts it in uc_sigmask).
pub fn rt_sigsuspend(sys: &mut Sys<'_>, set: u64, size: u64) -> SysResult {
    if size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let new = sys.mem().read_u64(set)?;
    let s = &mut sys.t.signals;
    if s.saved_mask.is_none() {
        s.saved_mask = Some(s.blocked);
    }
    s.blocked = new & !UNBLOCKABLE;
    sys.block = true;
    Ok(0)
}

/// rt_sigtimedwait(set, info, timeout, size): takes a pending signal of
/// `set` (blocked or not) without running its handler; EAGAIN when the
/// timeout passes first.
pub fn rt_sigtimedwait(
    sys: &mut Sys<'_>,
    set: u64,
    info: u64,
    timeout: u64,
    size: u64,
) -> SysResult {
    if size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let want = sys.mem().read_u64(set)? & !UNBLOCKABLE;
    let ready = sys.t.signals.pending(&sys.p.signals.shared) & want;
    if ready != 0 {
        sys.t.sleep_until = None;
        let n = ready.trailing_zeros() as u8 + 1;
        let si = sys.t.signals.take(&mut sys.p.signals.shared, n);
        if info != 0 {
            sys.mem().copy_out(info, &si.to_bytes())?;
        }
        return Ok(n as u64);
    }
    if timeout == 0 {
        sys.block = true;
        return Ok(0);
    }
    let ns = super::time::read_timespec(sys, timeout)?;
    if super::time::sleep_ns(sys, ns) {
        return Err(Errno::EAGAIN);
    }
    Ok(0)
}

pub fn rt_sigpending(sys: &mut Sys<'_>, set: u64, size: u64) -> SysResult {
    if size > SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let s = &sys.t.signals;
    let pending = s.pending(&sys.p.signals.shared) & s.blocked;
    let b = pending.to_le_bytes();
    sys.mem().copy_out(set, &b[..size as usize])?;
    Ok(0)
}

/// sigaltstack(ss, old_ss): stack_t is ss_sp, ss_flags (int, padded), ss_size.
pub fn sigaltstack(sys: &mut Sys<'_>, ss: u64, old: u64) -> SysResult {
    let cur = sys.t.signals.altstack;
    let sp = sys.t.cpu.x[2];
    let new = if ss != 0 {
        let mut b = [0u8; 24];
        sys.mem().copy_in(ss, &mut b)?;
        Some(AltStack {
            sp: u64::from_le_bytes(b[0..8].try_into().unwrap()),
            flags: u32::from_le_bytes(b[8..12].try_into().unwrap()),
            size: u64::from_le_bytes(b[16..24].try_into().unwrap()),
        })
    } else {
        None
    };
    if old != 0 {
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&cur.sp.to_le_bytes());
        b[8..12].copy_from_slice(&cur.flags_for(sp).to_le_bytes());
        b[16..24].copy_from_slice(&cur.size.to_le_bytes());
        sys.mem().copy_out(old, &b)?;
    }
    if let Some(n) = new {
        deliver::set_altstack(sys.t, n)?;
    }
    Ok(0)
}

pub fn prlimit64(sys: &mut Sys<'_>, pid: i32, res: u32, new: u64, old: u64) -> SysResult {
    // The caller's group, named by its pid or any of its tids.
    if pid != 0 && pid != sys.p.pid && pid != sys.t.tid && !sys.p.threads.contains_key(&pid) {
        return Err(Errno::ESRCH);
    }
    let r = res as usize;
    if r >= rlimit::COUNT {
        return Err(Errno::EINVAL);
    }
    let new_limit = if new != 0 {
        let cur = sys.mem().read_u64(new)?;
        let max = sys.mem().read_u64(new + 8)?;
        if cur > max {
            return Err(Errno::EINVAL);
        }
        let l = Rlimit { cur, max };
        // Raising a hard limit needs privilege (CAP_SYS_RESOURCE).
        if max > sys.p.rlimits[r].max && sys.p.creds.euid != 0 {
            return Err(Errno::EPERM);
        }
        if r == rlimit::NOFILE && max > 1 << 20 {
            return Err(Errno::EPERM);
        }
        Some(l)
    } else {
        None
    };
    if old != 0 {
        let l = sys.p.rlimits[r];
        sys.mem().write_u64(old, l.cur)?;
        sys.mem().write_u64(old + 8, l.max)?;
    }
    if let Some(l) = new_limit {
        sys.p.rlimits[r] = l;
        if r == rlimit::STACK {
            sys.p.mm.get_mut().set_stack_limit(l.cur);
        }
    }
    Ok(0)
}

pub fn getrusage(sys: &mut Sys<'_>, who: i32, buf: u64) -> SysResult {
    const RUSAGE_SELF: i32 = 0;
    const RUSAGE_CHILDREN: i32 = -1;
    const RUSAGE_THREAD: i32 = 1;
    if ![RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD].contains(&who) {
        return Err(Errno::EINVAL);
    }
    // struct rusage: utime, stime (timevals), then 14 longs.
    let mut b = [0u8; 144];
    if who != RUSAGE_CHILDREN {
        let instret = if who == RUSAGE_THREAD {
            sys.t.cpu.instret
        } else {
            sys.p.instret(Some(sys.t))
        };
        let ns = sys.clock.cpu_ns(instret);
        b[0..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
        b[8..16].copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
        let stats = sys.pm.stats();
        let maxrss_kib = stats.peak_frames_in_use * 4;
        b[32..40].copy_from_slice(&maxrss_kib.to_le_bytes());
        b[64..72].copy_from_slice(&stats.faults.resolved().to_le_bytes()); // ru_minflt
    }
    sys.mem().copy_out(buf, &b)?;
    Ok(0)
}

pub fn umask(sys: &mut Sys<'_>, mask: u32) -> SysResult {
    let old = sys.p.fs.umask();
    sys.p.fs.set_umask(mask & 0o777);
    Ok(old as u64)
}

pub fn prctl(sys: &mut Sys<'_>, option: i32, arg2: u64) -> SysResult {
    const PR_SET_NAME: i32 = 15;
    const PR_GET_NAME: i32 = 16;
    match option {
        PR_SET_NAME => {
            let mut name = [0u8; 16];
            let whole = sys.mem().copy_in(arg2, &mut name[..15]);
            whole.or_else(|_| {
                // A shorter string near the end of a mapping: read it as a C string.
                let s = sys.mem().read_cstr(arg2, 15)?;
                name[..s.len().min(15)].copy_from_slice(&s[..s.len().min(15)]);
                Ok::<(), Errno>(())
            })?;
            let end = name.iter().position(|&b| b == 0).unwrap_or(15);
            let name = crate::process::truncate_comm(&String::from_utf8_lossy(&name[..end]));
            sys.p.set_comm(sys.t, name);
            Ok(0)
        }
        PR_GET_NAME => {
            let mut name = [0u8; 16];
            let c = sys.t.comm.as_bytes();
            name[..c.len().min(15)].copy_from_slice(&c[..c.len().min(15)]);
            sys.mem().copy_out(arg2, &name)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// getresuid(ruid, euid, suid) / getresgid (kernel/sys.c): the real,
/// effective and saved ids, each a u32 the caller's pointer receives
/// (EFAULT otherwise). cowix has no set*id calls, so the saved id is the
/// effective one exec gave.
pub fn getresid(sys: &mut Sys<'_>, group: bool, r: u64, e: u64, s: u64) -> SysResult {
    let c = sys.p.creds;
    let (real, eff) = if group {
        (c.gid, c.egid)
    } else {
        (c.uid, c.euid)
    };
    sys.mem().copy_out(r, &real.to_le_bytes())?;
    sys.mem().copy_out(e, &eff.to_le_bytes())?;
    sys.mem().copy_out(s, &eff.to_le_bytes())?;
    Ok(0)
}

/// getgroups(size, list) (kernel/groups.c): the number of supplementary
/// groups with `size` 0, else the groups copied to `list`; EINVAL for a
/// negative `size` or one too small.
pub fn getgroups(sys: &mut Sys<'_>, size: i32, list: u64) -> SysResult {
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    let n = sys.p.groups.len();
    if size == 0 {
        return Ok(n as u64);
    }
    if (size as usize) < n {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = sys.p.groups.iter().flat_map(|g| g.to_le_bytes()).collect();
    sys.mem().copy_out(list, &bytes)?;
    Ok(n as u64)
}

/// setgroups(size, list) (kernel/groups.c): EPERM without CAP_SETGID
/// (euid 0 here), EINVAL above NGROUPS_MAX, EFAULT for an unreadable
/// list; the groups are kept sorted (groups_sort()).
pub fn setgroups(sys: &mut Sys<'_>, size: i32, list: u64) -> SysResult {
    const NGROUPS_MAX: u32 = 65536;
    if sys.p.creds.euid != 0 {
        return Err(Errno::EPERM);
    }
    if size as u32 > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; size as usize * 4];
    sys.mem().copy_in(list, &mut raw)?;
    let mut groups: Vec<u32> = raw
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    groups.sort_unstable();
    sys.p.groups = groups;
    Ok(0)
}

const PRIO_PROCESS: i32 = 0;
const PRIO_PGRP: i32 = 1;
const PRIO_USER: i32 = 2;

/// Whether process `q` is a target of get/setpriority(which, who) called
/// by `me` (kernel/sys.c: who 0 is the caller, its group or its uid; a
/// PRIO_PROCESS id may name any thread).
fn prio_target(q: &Process, me: &Process, my_tid: i32, which: i32, who: i32) -> bool {
    match which {
        PRIO_PROCESS if who == 0 => q.pid == me.pid,
        PRIO_PROCESS => {
            q.pid == who || q.threads.contains_key(&who) || (q.pid == me.pid && who == my_tid)
        }
        PRIO_PGRP => q.pgid == if who == 0 { me.pgid } else { who },
        _ => q.creds.uid == if who == 0 { me.creds.uid } else { who as u32 },
    }
}

/// getpriority(which, who) (kernel/sys.c): `20 - nice` of the target with
/// the highest priority (the raw syscall's 1..=40; glibc turns it into a
/// nice value). EINVAL for an unknown `which`, ESRCH if nothing matches.
pub fn getpriority(sys: &mut Sys<'_>, which: i32, who: i32) -> SysResult {
    if !(PRIO_PROCESS..=PRIO_USER).contains(&which) {
        return Err(Errno::EINVAL);
    }
    let (me, tid) = (&*sys.p, sys.t.tid);
    let best = std::iter::once(me)
        .chain(sys.procs.values())
        .filter(|q| prio_target(q, me, tid, which, who))
        .map(|q| 20 - q.nice)
        .max()
        .ok_or(Errno::ESRCH)?;
    Ok(best as u64)
}

/// setpriority(which, who, niceval) (kernel/sys.c: set_one_prio()): the
/// value is clamped to -20..=19; EINVAL for an unknown `which`, ESRCH if
/// nothing matches, EPERM for another user's process and EACCES for a
/// lower nice value (can_nice(): RLIMIT_NICE is 0) unless root.
pub fn setpriority(sys: &mut Sys<'_>, which: i32, who: i32, niceval: i32) -> SysResult {
    if !(PRIO_PROCESS..=PRIO_USER).contains(&which) {
        return Err(Errno::EINVAL);
    }
    let nice = niceval.clamp(-20, 19);
    let euid = sys.p.creds.euid;
    let allowed = |q: &Process| -> Result<(), Errno> {
        if q.creds.uid != euid && q.creds.euid != euid && euid != 0 {
            Err(Errno::EPERM)
        } else if nice < q.nice && euid != 0 {
            Err(Errno::EACCES)
        } else {
            Ok(())
        }
    };
    let tid = sys.t.tid;
    let targets: Vec<i32> = sys
        .procs
        .values()
        .filter(|q| prio_target(q, sys.p, tid, which, who))
        .map(|q| q.pid)
        .collect();
    let me = prio_target(sys.p, sys.p, tid, which, who);
    if targets.is_empty() && !me {
        return Err(Errno::ESRCH);
    }
    // As set_one_prio(): each target is tried; the last error is returned.
    let mut result = Ok(0);
    for pid in targets {
        let q = sys.procs.get_mut(&pid).unwrap();
        match allowed(q) {
            Ok(()) => q.nice = nice,
            Err(e) => result = Err(e),
        }
    }
    if me {
        match allowed(sys.p) {
            Ok(()) => sys.p.nice = nice,
            Err(e) => result = Err(e),
        }
    }
    result
}
