//! Sending signals, and delivering them to guest handlers as riscv64 Linux
//! does (kernel/signal.c, arch/riscv/kernel/signal.c).
//!
//! A signal is *sent* to a thread group ([`send`], kill) or to one thread
//! ([`send_thread`], tgkill, faults): thrown away if ignored, the whole
//! group ended at once if the default action kills and a thread that could
//! take it does not block it, else marked pending with its siginfo (in the
//! group's shared queue or the thread's own). Pending signals are
//! *delivered* at every return to user mode ([`handle_signals`]) of a
//! thread not blocking them: a handler gets a `struct rt_sigframe`
//! pushed on its stack (or the alternate stack) and runs with `ra` at the
//! `[vdso]` trampoline, whose `rt_sigreturn` ([`sigreturn`]) restores the
//! interrupted state.

use cowix_mm::PhysMem;

use crate::errno::Errno;
use crate::process::{rlimit, ExitStatus, Process, Thread};
use crate::signal::{
    self, bit, code, sig, DefaultAction, SigInfo, FRAME_FCSR, FRAME_FREGS, FRAME_INFO, FRAME_REGS,
    FRAME_SIZE, FRAME_UC, FRAME_UC_SIGMASK, FRAME_UC_STACK, SA_NODEFER, SA_ONSTACK, SA_RESETHAND,
    SIG_DFL, SIG_IGN, UNBLOCKABLE,
};
use crate::uaccess::GuestMemory;

/// Ends `p` with signal `n`'s default fatal action, if it has one; false
/// for ignore/stop/continue.
fn die(p: &mut Process, n: u8, why: Option<String>) -> bool {
    let core = match signal::default_action(n) {
        DefaultAction::Terminate => false,
        DefaultAction::CoreDump => true,
        DefaultAction::Ignore | DefaultAction::Continue | DefaultAction::Stop => return false,
    };
    if p.exit.is_none() {
        p.exit = Some(ExitStatus::Signaled { signal: n, core });
        if let Some(w) = why {
            p.fatal = crate::report(p, n, &w);
        }
    }
    true
}

/// Sends process-directed `info.signo` to group `p` (send_signal +
/// complete_signal); `running` is its thread taken out for its turn, if
/// any. It kills the group at once if its action is the default fatal one
/// and some thread does not block it; else it waits in the group's queue
/// for a thread that does not block it. EAGAIN: a real-time signal with
/// its own siginfo (sigqueue) beyond RLIMIT_SIGPENDING.
pub(crate) fn send(
    p: &mut Process,
    mut running: Option<&mut Thread>,
    info: SigInfo,
) -> Result<(), Errno> {
    let n = info.signo;
    prepare(p, running.as_deref_mut(), n);
    let blocked_by_all = running
        .as_deref()
        .into_iter()
        .chain(p.threads.values().map(|t| &**t))
        .all(|t| t.signals.blocked & bit(n) != 0);
    if fatal_now(p, n, blocked_by_all, &info) {
        return Ok(());
    }
    let queued = group_queued(p, running.as_deref());
    let limit = p.rlimits[rlimit::SIGPENDING].cur;
    enqueue(&mut p.signals.shared, info, queued, limit)
}

/// Sends thread-directed `info.signo` to thread `t` of group `p` (tkill,
/// tgkill, rt_tgsigqueueinfo); `running` is the group's thread taken out
/// for its turn if that is not `t`. A fatal one still kills the whole group.
pub(crate) fn send_thread(
    p: &mut Process,
    t: &mut Thread,
    mut running: Option<&mut Thread>,
    info: SigInfo,
) -> Result<(), Errno> {
    let n = info.signo;
    prepare(p, running.as_deref_mut(), n);
    if n == sig::SIGCONT {
        t.signals.pending.discard(signal::STOP_MASK);
    } else if signal::is_stop(n) {
        t.signals.pending.discard(bit(sig::SIGCONT));
    }
    let blocked = t.signals.blocked & bit(n) != 0;
    if fatal_now(p, n, blocked, &info) {
        return Ok(());
    }
    let queued = group_queued(p, running.as_deref()) + t.signals.pending.count();
    let limit = p.rlimits[rlimit::SIGPENDING].cur;
    enqueue(&mut t.signals.pending, info, queued, limit)
}

/// Signals queued for group `p` and its threads (what counts against
/// RLIMIT_SIGPENDING; Linux counts per user, cowix per thread group).
pub(crate) fn group_queued(p: &Process, running: Option<&Thread>) -> u64 {
    p.signals.shared.count()
        + p.threads
            .values()
            .map(|t| &**t)
            .chain(running)
            .map(|t| t.signals.pending.count())
            .sum::<u64>()
}

/// __send_signal's queueing: a real-time signal gets an entry while
/// fewer than `limit` are queued; beyond, one carrying its own siginfo
/// (not kill's SI_USER) fails with EAGAIN, kill's is still sent without
/// an entry of its own.
fn enqueue(q: &mut signal::SigQueue, info: SigInfo, queued: u64, limit: u64) -> Result<(), Errno> {
    if info.signo < signal::SIGRTMIN || queued < limit {
        q.add(info);
    } else if info.code != signal::code::SI_USER {
        return Err(Errno::EAGAIN);
    } else {
        q.add_lossy(info);
    }
    Ok(())
}

/// prepare_signal's job control, at send time whatever the signal's
/// disposition or mask: a stop signal discards pending SIGCONTs; SIGCONT
/// discards pending stop signals and continues a stopped group, which
/// owes its parent a CLD_CONTINUED (SIGNAL_CLD_CONTINUED).
fn prepare(p: &mut Process, running: Option<&mut Thread>, n: u8) {
    if p.exit.is_some() {
        return;
    }
    let mask = if n == sig::SIGCONT {
        signal::STOP_MASK
    } else if signal::is_stop(n) {
        bit(sig::SIGCONT)
    } else {
        return;
    };
    p.signals.shared.discard(mask);
    for t in p.threads.values_mut() {
        t.signals.pending.discard(mask);
    }
    if let Some(t) = running {
        t.signals.pending.discard(mask);
    }
    if n == sig::SIGCONT && p.job.stopped.take().is_some() {
        p.job.stop_report = None;
        p.job.cont_report = true;
        p.job
            .notify
            .push((code::CLD_CONTINUED, sig::SIGCONT as i32));
    }
}

/// The part of sending common to both: SIGKILL, and unblocked signals
/// whose action is to do nothing or to kill, take effect at once. True if
/// the signal is dealt with (not to be queued). A stop signal with the
/// default action is queued: the group stops when a thread takes it.
fn fatal_now(p: &mut Process, n: u8, blocked: bool, info: &SigInfo) -> bool {
    if n == sig::SIGKILL {
        let why = (info.pid != p.pid).then(|| format!("sent by pid {}", info.pid));
        die(p, n, why);
        return true;
    }
    if !blocked && p.signals.ignored(n) {
        return true;
    }
    if !blocked && p.signals.action(n).handler == SIG_DFL && !signal::is_stop(n) {
        // Fatal: the group ends now.
        let why = (info.pid != p.pid && !info.fault).then(|| format!("sent by pid {}", info.pid));
        die(p, n, why);
        return true;
    }
    false
}

/// A synchronous fault (force_sig_fault): a blocked or ignored signal is
/// unblocked and reset to SIG_DFL (force_sig_info_to_task), so it kills:
/// e.g. a fault inside its own SIGSEGV handler. `what` explains the fault
/// to the user when it kills.
pub(crate) fn force_fault(p: &mut Process, t: &mut Thread, info: SigInfo, what: &str) {
    let n = info.signo;
    let i = (n - 1) as usize;
    let blocked = t.signals.blocked & bit(n) != 0;
    if blocked || p.signals.actions.get(i).handler == SIG_IGN {
        let mut a = p.signals.actions.get(i);
        a.handler = SIG_DFL;
        p.signals.actions.set(i, a);
        t.signals.blocked &= !bit(n);
    }
    if p.signals.actions.get(i).handler == SIG_DFL {
        die(p, n, Some(what.to_string()));
    } else {
        t.signals.pending.add(info);
    }
}

/// Which of the group's pending signals thread `t` takes
/// (complete_signal's choice of thread): the leader any it does not
/// block; another thread those the leader blocks (all once the leader has
/// exited).
pub(crate) fn shared_takes(p: &Process, t: &Thread) -> u64 {
    if t.tid == p.pid {
        return u64::MAX;
    }
    p.threads
        .get(&p.pid)
        .map_or(u64::MAX, |leader| leader.signals.blocked)
}

/// Whether a handler would run for a pending, unblocked signal now; its
/// sa_flags if so (used to decide between EINTR and a restart).
pub(crate) fn pending_handler(p: &Process, t: &Thread) -> Option<Option<u64>> {
    let n = t
        .signals
        .next_deliverable(&p.signals.shared, shared_takes(p, t))?;
    let a = p.signals.action(n);
    Some((a.handler != SIG_DFL && a.handler != SIG_IGN).then_some(a.flags))
}

/// Drops pending, unblocked signals whose action is to do nothing, and
/// takes a stop signal with the default action if one is pending for `t`
/// (get_signal's do_signal_stop): the caller stops the group with it.
pub(crate) fn discard_ignored(p: &mut Process, t: &mut Thread) -> Option<u8> {
    let takes = shared_takes(p, t);
    let mut stop = None;
    for n in 1..=sig::NSIG {
        if t.signals.blocked & bit(n) != 0 {
            continue;
        }
        if p.signals.ignored(n) {
            t.signals.pending.discard(bit(n));
            p.signals.shared.discard(bit(n));
        } else if stop.is_none()
            && signal::is_stop(n)
            && p.signals.action(n).handler == SIG_DFL
            && (t.signals.pending.pending | p.signals.shared.pending & takes) & bit(n) != 0
        {
            t.signals.take(&mut p.signals.shared, n);
            stop = Some(n);
        }
    }
    stop
}

fn guest<'a>(p: &'a mut Process, t: &'a mut Thread, pm: &'a mut PhysMem) -> GuestMemory<'a> {
    t.tlb.sync(&p.mm.get(), pm);
    GuestMemory {
        pm,
        mm: p.mm.get_mut().into(),
        tlb: &mut t.tlb,
    }
}

/// Delivers every signal pending for thread `t` of `p` that it does not
/// block (get_signal + handle_signal), nesting handler frames as Linux
/// does; handlers return to the `[vdso]` sigreturn trampoline (`p.vdso`).
/// A stop signal with the default action ends the delivery: it is
/// returned, for the caller to stop the group (do_signal_stop).
pub(crate) fn handle_signals(p: &mut Process, t: &mut Thread, pm: &mut PhysMem) -> Option<u8> {
    for _ in 0..sig::NSIG + 64 {
        if p.exit.is_some() {
            return None;
        }
        let n = t
            .signals
            .next_deliverable(&p.signals.shared, shared_takes(p, t))?;
        let info = t.signals.take(&mut p.signals.shared, n);
        let a = p.signals.action(n);
        if a.handler == SIG_IGN {
            continue;
        }
        if a.handler == SIG_DFL && signal::is_stop(n) {
            return Some(n);
        }
        if a.handler == SIG_DFL {
            let why =
                (info.pid != p.pid && !info.fault).then(|| format!("sent by pid {}", info.pid));
            die(p, n, why);
            continue;
        }
        if setup_frame(p, t, pm, n, info, a.handler, a.flags).is_err() {
            // force_sigsegv: the frame could not be written.
            let sp = t.cpu.x[2];
            die(
                p,
                sig::SIGSEGV,
                Some(format!(
                    "cannot write the {} signal frame below sp {sp:#x}",
                    signal::name(n)
                )),
            );
            return None;
        }
        let mut mask = a.mask;
        if a.flags & SA_NODEFER == 0 {
            mask |= bit(n);
        }
        t.signals.blocked = (t.signals.blocked | mask) & !UNBLOCKABLE;
        if a.flags & SA_RESETHAND != 0 {
            p.signals
                .actions
                .set((n - 1) as usize, signal::SigAction::default());
        }
    }
    None
}

fn setup_frame(
    p: &mut Process,
    t: &mut Thread,
    pm: &mut PhysMem,
    n: u8,
    info: SigInfo,
    handler: u64,
    flags: u64,
) -> Result<(), ()> {
    let trampoline = p.vdso;
    if trampoline == 0 {
        return Err(());
    }
    let sp = t.cpu.x[2];
    let alt = t.signals.altstack;
    // get_sigframe: an overflowing alternate stack is a bad frame.
    if alt.on(sp) && !alt.on(sp.wrapping_sub(FRAME_SIZE)) {
        return Err(());
    }
    let mut top = sp;
    if flags & SA_ONSTACK != 0 && alt.size != 0 && !alt.on(sp) {
        top = alt.sp + alt.size;
    }
    let frame = top.wrapping_sub(FRAME_SIZE) & !15;
    let mut b = vec![0u8; FRAME_SIZE as usize];
    let mut put = |off: u64, v: &[u8]| b[off as usize..off as usize + v.len()].copy_from_slice(v);
    put(FRAME_INFO, &info.to_bytes());
    put(FRAME_UC_STACK, &alt.sp.to_le_bytes());
    put(FRAME_UC_STACK + 8, &alt.flags_for(sp).to_le_bytes());
    put(FRAME_UC_STACK + 16, &alt.size.to_le_bytes());
    let mask = t.signals.saved_mask.take().unwrap_or(t.signals.blocked);
    put(FRAME_UC_SIGMASK, &mask.to_le_bytes());
    put(FRAME_REGS, &t.cpu.pc.to_le_bytes());
    for r in 1..32 {
        put(FRAME_REGS + 8 * r as u64, &t.cpu.x[r].to_le_bytes());
    }
    for r in 0..32 {
        put(FRAME_FREGS + 8 * r as u64, &t.cpu.f[r].to_le_bytes());
    }
    put(FRAME_FCSR, &t.cpu.fcsr.to_le_bytes());
    if guest(p, t, pm).copy_out(frame, &b).is_err() {
        return Err(());
    }
    if alt.flags & signal::SS_AUTODISARM != 0 {
        t.signals.altstack = signal::AltStack {
            sp: 0,
            flags: signal::SS_DISABLE,
            size: 0,
        };
    }
    t.cpu.pc = handler;
    t.cpu.x[1] = trampoline;
    t.cpu.x[2] = frame;
    t.cpu.x[10] = n as u64;
    t.cpu.x[11] = frame + FRAME_INFO;
    t.cpu.x[12] = frame + FRAME_UC;
    Ok(())
}

/// rt_sigreturn: restores registers, mask and alternate stack from the
/// frame at sp. A bad frame is SIGSEGV.
pub(crate) fn sigreturn(p: &mut Process, t: &mut Thread, pm: &mut PhysMem) {
    let frame = t.cpu.x[2];
    let mut b = vec![0u8; FRAME_SIZE as usize];
    if frame % 16 != 0 || guest(p, t, pm).copy_in(frame, &mut b).is_err() {
        let what = format!("bad signal frame at sp {frame:#x} in rt_sigreturn");
        force_fault(
            p,
            t,
            SigInfo {
                signo: sig::SIGSEGV,
                code: signal::code::SI_KERNEL,
                ..Default::default()
            },
            &what,
        );
        return;
    }
    let u64_at =
        |off: u64| u64::from_le_bytes(b[off as usize..off as usize + 8].try_into().unwrap());
    t.signals.blocked = u64_at(FRAME_UC_SIGMASK) & !UNBLOCKABLE;
    t.cpu.pc = u64_at(FRAME_REGS);
    for r in 1..32 {
        t.cpu.x[r] = u64_at(FRAME_REGS + 8 * r as u64);
    }
    for r in 0..32 {
        t.cpu.f[r] = u64_at(FRAME_FREGS + 8 * r as u64);
    }
    t.cpu.fcsr = u32::from_le_bytes(
        b[FRAME_FCSR as usize..FRAME_FCSR as usize + 4]
            .try_into()
            .unwrap(),
    );
    // restore_altstack: errors other than EFAULT are ignored.
    let ss = signal::AltStack {
        sp: u64_at(FRAME_UC_STACK),
        flags: u32::from_le_bytes(
            b[FRAME_UC_STACK as usize + 8..FRAME_UC_STACK as usize + 12]
                .try_into()
                .unwrap(),
        ),
        size: u64_at(FRAME_UC_STACK + 16),
    };
    let _ = set_altstack(t, ss);
}

/// sigaltstack's setting half (do_sigaltstack), for the current sp.
pub(crate) fn set_altstack(
    t: &mut Thread,
    ss: signal::AltStack,
) -> Result<(), crate::errno::Errno> {
    use crate::errno::Errno;
    if t.signals.altstack.on(t.cpu.x[2]) {
        return Err(Errno::EPERM);
    }
    let mode = ss.flags & !signal::SS_AUTODISARM;
    if mode != signal::SS_DISABLE && mode != signal::SS_ONSTACK && mode != 0 {
        return Err(Errno::EINVAL);
    }
    t.signals.altstack = if mode == signal::SS_DISABLE {
        signal::AltStack::default()
    } else {
        if ss.size < signal::MINSIGSTKSZ {
            return Err(Errno::ENOMEM);
        }
        signal::AltStack {
            sp: ss.sp,
            flags: ss.flags & signal::SS_AUTODISARM,
            size: ss.size,
        }
    };
    Ok(())
}
