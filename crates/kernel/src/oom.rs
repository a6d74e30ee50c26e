//! Memory pressure at the Linux layer: reclaim over every process's address
//! space (the memory system has no reverse map; the kernel owns the process
//! list, so it hands reclaim all the page tables to scan) and the OOM killer
//! (mm/oom_kill.c).

use cowix_mm::{AddressSpace, PAGE_SIZE, USER_TOP};

use crate::errno::Errno;

use std::cell::RefMut;
use std::collections::BTreeMap;

use crate::process::{ExitStatus, Mm, Process};
use crate::signal::sig;
use crate::Kernel;

impl Kernel {
    /// Reclaims `want` frames from every live process's memory, the running
    /// process `p` (out of `procs` for its turn) included. Returns the
    /// frames freed.
    pub(crate) fn reclaim_all(&mut self, p: &mut Process, want: u64, cold_only: bool) -> u64 {
        let mut guards = live_spaces(p, &self.procs);
        let mut spaces: Vec<&mut AddressSpace> = guards.iter_mut().map(|g| &mut **g).collect();
        if cold_only {
            cowix_mm::reclaim_cold(&mut self.pm, &mut spaces, want)
        } else {
            cowix_mm::reclaim(&mut self.pm, &mut spaces, want)
        }
    }

    /// Keeps free frames above the low watermark, like kswapd: called at
    /// each return to user mode. Only pages not referenced since the last
    /// scan are taken (so the pages the next instruction needs stay). A run that freed nothing is not repeated
    /// until more frames are in use, so a machine without swap does not
    /// scan on every syscall.
    pub(crate) fn balance_memory(&mut self, p: &mut Process) {
        let low = self.pm.low_watermark();
        if self.pm.free_frames() >= low {
            return;
        }
        let in_use = self.pm.stats().frames_in_use;
        if self.futile_reclaim_at.is_some_and(|at| in_use <= at) {
            return;
        }
        let want = 2 * low - self.pm.free_frames();
        if self.reclaim_all(p, want, true) == 0 {
            self.futile_reclaim_at = Some(in_use);
        } else {
            self.futile_reclaim_at = None;
        }
    }

    /// A fault of `p` found no frame even after reclaim: kill the process
    /// with the highest mm/oom_kill.c:oom_badness() (rss + swap entries +
    /// page tables), as out_of_memory() does, with a line on stderr. A
    /// victim other than `p` loses its memory at once (as the OOM reaper
    /// does) and ends at the end of this turn; then `p` retries. Returns
    /// true if `p` itself was chosen (it dies of SIGKILL).
    pub(crate) fn out_of_memory(&mut self, p: &mut Process) -> bool {
        let mine = p.mm.get().usage(&self.pm);
        let mut victim: Option<(u64, i32)> = None;
        for q in self.procs.values().filter(|q| q.exit.is_none()) {
            let badness = q.mm.get().usage(&self.pm).oom_badness();
            if victim.is_none_or(|(b, _)| badness > b) {
                victim = Some((badness, q.pid));
            }
        }
        self.pm.note_oom_kill();
        if self.tracer.is_some() {
            let insn = self.trace_clock(p, None);
            let victim = match victim {
                Some((badness, pid)) if badness > mine.oom_badness() => pid,
                _ => p.pid,
            };
            if let Some(tracer) = self.tracer.as_mut() {
                tracer.event(insn, p.pid, "oom_kill", &format!(r#","victim":{victim}"#));
            }
        }
        let kill = ExitStatus::Signaled {
            signal: sig::SIGKILL,
            core: false,
        };
        match victim {
            Some((badness, pid)) if badness > mine.oom_badness() => {
                let pm = &mut self.pm;
                let q = self
                    .procs
                    .get_mut(&pid)
                    .expect("out_of_memory: victim vanished");
                let u = q.mm.get().usage(pm);
                q.fatal = Some(oom_line(q, &u));
                q.exit = Some(kill);
                if q.mm.users() == 1 {
                    // The OOM reaper: the memory goes now, the process at
                    // the end of the turn (a space others use stays).
                    q.mm.get_mut()
                        .munmap(pm, 0, USER_TOP)
                        .expect("out_of_memory: unmapping everything is valid");
                }
                false
            }
            _ => {
                p.fatal = Some(oom_line(p, &mine));
                p.exit = Some(kill);
                true
            }
        }
    }
}

/// Every live address space once: `p`'s (the running process, out of
/// `procs`) and the other live processes', a space shared by several
/// (vfork, CLONE_VM) counted once.
fn live_spaces<'a>(
    p: &'a Process,
    procs: &'a BTreeMap<i32, Process>,
) -> Vec<RefMut<'a, AddressSpace>> {
    let mut seen: Vec<&Mm> = vec![&p.mm];
    for q in procs.values().filter(|q| q.exit.is_none()) {
        if !seen.iter().any(|m| m.same(&q.mm)) {
            seen.push(&q.mm);
        }
    }
    seen.into_iter().map(Mm::get_mut).collect()
}

/// Prints Linux's "Out of memory: Killed process" line and returns it.
fn oom_line(p: &Process, u: &cowix_mm::MemUsage) -> String {
    let line = format!(
        "out of memory: killed process {} ({}), total-vm:{}kB, anon-rss:{}kB, file-rss:{}kB, shmem-rss:{}kB, swap:{}kB, pgtables:{}kB",
        p.pid,
        p.comm,
        u.total_vm * 4,
        u.anon_rss * 4,
        u.file_rss * 4,
        u.shmem_rss * 4,
        u.swap * 4,
        u.page_tables * 4
    );
    eprintln!("cowix: {line}");
    line
}

impl crate::syscall::Sys<'_> {
    /// Reclaims `want` frames over every live process (the caller's memory
    /// included), for a syscall whose allocation found no frame. Returns
    /// the frames freed.
    pub(crate) fn reclaim(&mut self, want: u64) -> u64 {
        let mut guards = live_spaces(self.p, self.procs);
        let mut spaces: Vec<&mut AddressSpace> = guards.iter_mut().map(|g| &mut **g).collect();
        cowix_mm::reclaim(self.pm, &mut spaces, want)
    }

    /// copy_out that reclaims when a page of the destination needs a frame
    /// and none is free, as Linux's allocator reclaims inside
    /// copy_to_user(): page by page, so a page already written may be
    /// swapped out again while a later one gets its frame. ENOMEM only if
    /// reclaim over every process frees nothing; other errors as copy_out.
    pub(crate) fn copy_out_reclaiming(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        const RECLAIM_BATCH: u64 = 32;
        let mut done = 0usize;
        while done < data.len() {
            let at = addr.wrapping_add(done as u64);
            let n = (data.len() - done).min((PAGE_SIZE - at % PAGE_SIZE) as usize);
            let copied = self.mem().copy_out(at, &data[done..done + n]);
            match copied {
                Ok(()) => done += n,
                Err(Errno::ENOMEM) => {
                    if self.reclaim(RECLAIM_BATCH) == 0 {
                        return Err(Errno::ENOMEM);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
