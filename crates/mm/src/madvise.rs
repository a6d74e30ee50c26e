//! madvise (mm/madvise.c): advice about a range, some of which changes
//! what the program sees (DONTNEED, FREE) or what fork does (DONTFORK,
//! DOFORK, WIPEONFORK, KEEPONFORK).

use crate::address_space::AddressSpace;
use crate::frame::PhysMem;
use crate::vma::OnFork;
use crate::{is_page_aligned, MmError};

/// The advice values the memory system acts on (the kernel maps the
/// syscall's `MADV_*` numbers; unknown ones are EINVAL there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Advice {
    /// `MADV_NORMAL`, `MADV_RANDOM`, `MADV_SEQUENTIAL`, `MADV_WILLNEED`
    /// (and the huge-page and cold/pageout hints): no effect here, since
    /// cowix reads files synchronously; still ENOMEM over a hole.
    Hint,
    /// `MADV_DONTNEED`: the pages are dropped (zap_page_range_single()); the
    /// next access of private anonymous memory reads zeros, of a private
    /// file mapping the file's contents, of a shared mapping the shared
    /// object's (unchanged) contents.
    DontNeed,
    /// `MADV_FREE`: Linux frees the pages lazily, keeping them until memory
    /// is short unless they are written again. cowix treats it as
    /// `DontNeed` (allowed: the program may not rely on the old contents),
    /// after Linux's check that the VMA is private anonymous (EINVAL else).
    Free,
    /// `MADV_DONTFORK`: fork does not give the child this range (VM_DONTCOPY).
    DontFork,
    /// `MADV_DOFORK`: undoes `DontFork`.
    DoFork,
    /// `MADV_WIPEONFORK`: the child gets the range zero-filled
    /// (VM_WIPEONFORK); private anonymous memory only, else EINVAL.
    WipeOnFork,
    /// `MADV_KEEPONFORK`: undoes `WipeOnFork`.
    KeepOnFork,
}

impl AddressSpace {
    /// madvise(`addr`, `len`, `advice`) as mm/madvise.c:do_madvise():
    /// `InvalidArgument` for an unaligned `addr` or a range that wraps;
    /// a zero length (after rounding up to pages) does nothing. The advice
    /// is applied VMA by VMA over the mapped parts of the range (splitting
    /// VMAs at the edges for the fork flags); if the range has holes the
    /// result is `NoMemory` after the mapped parts were done
    /// (madvise_walk_vmas()). A VMA the advice does not fit
    /// (`WipeOnFork`/`Free` on shared or file memory) stops the walk with
    /// `InvalidArgument`, earlier VMAs keeping the advice, as Linux does.
    /// `OutOfMemory` when dropping pages needs a shared leaf table copied
    /// and no frame is left (the VMAs before keep what was done).
    pub fn madvise(
        &mut self,
        pm: &mut PhysMem,
        addr: u64,
        len: u64,
        advice: Advice,
    ) -> Result<(), MmError> {
        if !is_page_aligned(addr) {
            return Err(MmError::InvalidArgument);
        }
        let len = crate::page_up(len).ok_or(MmError::InvalidArgument)?;
        let end = addr.checked_add(len).ok_or(MmError::InvalidArgument)?;
        if len == 0 {
            return Ok(());
        }
        if addr >= crate::USER_TOP {
            // Nothing is mapped up there (Linux finds no VMA: ENOMEM).
            return Err(MmError::NoMemory);
        }
        let end_in_space = end.min(crate::USER_TOP);
        let pieces: Vec<(u64, u64, bool, bool)> = self
            .vmas
            .overlapping(addr, end_in_space)
            .map(|v| {
                (
                    v.start.max(addr),
                    v.end.min(end),
                    v.shared,
                    v.backing.is_anonymous(),
                )
            })
            .collect();
        let mut at = addr;
        let mut hole = false;
        for &(start, stop, shared, anonymous) in &pieces {
            hole |= start > at;
            at = stop;
            match advice {
                Advice::Hint => {}
                Advice::DontNeed | Advice::Free => {
                    if advice == Advice::Free && (shared || !anonymous) {
                        return Err(MmError::InvalidArgument);
                    }
                    self.unshare_range(pm, start, stop, false)?;
                    self.unmap_ptes(pm, start, stop);
                }
                Advice::WipeOnFork if shared || !anonymous => {
                    return Err(MmError::InvalidArgument);
                }
                Advice::DontFork | Advice::DoFork | Advice::WipeOnFork | Advice::KeepOnFork => {
                    self.set_on_fork(start, stop, advice);
                }
            }
        }
        hole |= at < end;
        if hole {
            Err(MmError::NoMemory)
        } else {
            Ok(())
        }
    }

    /// Sets the fork flag `advice` asks for on `[start, stop)` (inside one
    /// VMA), splitting and re-merging VMAs (madvise_update_vma()).
    fn set_on_fork(&mut self, start: u64, stop: u64, advice: Advice) {
        let apply = |cur: OnFork| match (advice, cur) {
            // VM_DONTCOPY and VM_WIPEONFORK are independent flags.
            (Advice::DontFork, OnFork::Copy) => OnFork::Skip,
            (Advice::DontFork, OnFork::Wipe) => OnFork::SkipWipe,
            (Advice::DoFork, OnFork::Skip) => OnFork::Copy,
            (Advice::DoFork, OnFork::SkipWipe) => OnFork::Wipe,
            (Advice::WipeOnFork, OnFork::Copy) => OnFork::Wipe,
            (Advice::WipeOnFork, OnFork::Skip) => OnFork::SkipWipe,
            (Advice::KeepOnFork, OnFork::Wipe) => OnFork::Copy,
            (Advice::KeepOnFork, OnFork::SkipWipe) => OnFork::Skip,
            (_, cur) => cur,
        };
        self.vmas.split_at(start);
        self.vmas.split_at(stop);
        self.vmas
            .update_range(start, stop, |v| v.on_fork = apply(v.on_fork));
        self.vmas.merge_range(start, stop);
    }
}
