//! fork in three strategies (kernel/fork.c:dup_mmap() → mm/memory.c:
//! copy_page_range()), chosen per machine with [`ForkMode`]:
//!
//! | mode | at fork | first write after fork |
//! |---|---|---|
//! | [`Copy`](ForkMode::Copy) | every private anonymous page copied into a new frame (the pre-COW Unix fork of seed 002) | nothing special |
//! | [`Cow`](ForkMode::Cow) | page tables copied; frames shared (refcount + 1), private writable PTEs write-protected with the COW bit in both (copy_present_pte()) | copy, or reuse if the other side let go (do_wp_page()) |
//! | [`ShareTables`](ForkMode::ShareTables) | only the upper levels copied; leaf tables shared with a per-table count, their private writable PTEs write-protected (`share_tables.rs`) | the leaf table is copied (or reused by its sole owner), then as `Cow` |
//!
//! In every mode shared mappings stay shared (same frames), a VMA marked
//! `MADV_DONTFORK` is not given to the child and one marked
//! `MADV_WIPEONFORK` is given without its pages (the child reads zeros).
//!
//! `Copy` keeps pages that are not private anonymous data as they are: the
//! zero frame stays mapped read-only (a write will fault it to a fresh
//! frame, as it would in the parent) and an unwritten private file page
//! stays the page-cache page; both are the same bytes a copy would hold.
//!
//! Swap entries are copied in every mode, taking one more count of their
//! slot (mm/memory.c:copy_nonpresent_pte()); in `ShareTables` they are in
//! the shared table, counted once per table like its frames.
//!
//! All or nothing: the child is built completely before the parent is
//! touched; if a frame cannot be had, the partial child is released and
//! the parent (PTEs, refcounts, TLB generation) is exactly as before.

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use crate::address_space::AddressSpace;
use crate::frame::{FrameId, FrameKind, PhysMem};
use crate::pagetable::{self, Pte};
use crate::stats::FaultCounters;
use crate::vma::{OnFork, Vma, VmaSet};
use crate::MmError;

/// How fork builds the child's address space (`cowix run --fork-mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ForkMode {
    /// Eager copy of every private page.
    Copy,
    /// Copy-on-write with copied page tables (Linux's fork).
    #[default]
    Cow,
    /// Copy-on-write with shared leaf page tables (On-demand-fork).
    ShareTables,
}

impl ForkMode {
    /// Every mode, in the order `--fork-mode` lists them.
    pub const ALL: [ForkMode; 3] = [ForkMode::Copy, ForkMode::Cow, ForkMode::ShareTables];

    /// The name `--fork-mode` takes and `--stats` prints.
    pub fn name(self) -> &'static str {
        match self {
            ForkMode::Copy => "copy",
            ForkMode::Cow => "cow",
            ForkMode::ShareTables => "share-tables",
        }
    }
}

impl fmt::Display for ForkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ForkMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        ForkMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown fork mode '{s}' (use copy, cow or share-tables)"))
    }
}

/// A run of private writable PTEs of a parent leaf table that must be
/// write-protected once the child is complete: (table, first, last index).
pub(crate) type ProtectRun = (FrameId, usize, usize);

impl AddressSpace {
    /// Creates the child address space of a fork in `mode`, counting the
    /// fork and its host time in the memory statistics.
    ///
    /// On `Err(OutOfMemory)` nothing changed: the frames the partial child
    /// took are returned and the parent is untouched. On success with `Cow`
    /// or `ShareTables` the parent's private writable PTEs are
    /// write-protected (and its TLB generation bumped).
    pub fn fork(&mut self, pm: &mut PhysMem, mode: ForkMode) -> Result<AddressSpace, MmError> {
        let started = Instant::now();
        let child = match mode {
            ForkMode::Copy => self.fork_copy(pm),
            ForkMode::Cow => self.fork_cow_inner(pm),
            ForkMode::ShareTables => self.fork_share_tables(pm),
        }?;
        pm.stats.forks += 1;
        pm.stats.fork_ns += started.elapsed().as_nanos() as u64;
        Ok(child)
    }

    /// [`fork`](Self::fork) with [`ForkMode::Cow`].
    pub fn fork_cow(&mut self, pm: &mut PhysMem) -> Result<AddressSpace, MmError> {
        self.fork(pm, ForkMode::Cow)
    }

    /// The child before any page: a new root, the VMAs fork keeps (all but
    /// `MADV_DONTFORK` ones), the brk and stack settings.
    pub(crate) fn fork_shell(&self, pm: &mut PhysMem) -> Result<AddressSpace, MmError> {
        let mut child = AddressSpace::new(pm)?;
        let mut vmas = VmaSet::default();
        for vma in self.vmas.iter().filter(|v| v.on_fork.in_child()) {
            vmas.insert(vma.clone());
        }
        child.vmas = vmas;
        child.brk_start = self.brk_start;
        child.brk_end = self.brk_end;
        child.brk_set = self.brk_set;
        child.stack_limit = self.stack_limit;
        child.mmap_base = self.mmap_base;
        child.faults = FaultCounters::default();
        Ok(child)
    }

    /// The VMAs whose pages the child gets (not DONTFORK, not WIPEONFORK).
    pub(crate) fn inherited_vmas(&self) -> Vec<Vma> {
        self.vmas
            .iter()
            .filter(|v| v.on_fork == OnFork::Copy)
            .cloned()
            .collect()
    }

    fn fork_cow_inner(&mut self, pm: &mut PhysMem) -> Result<AddressSpace, MmError> {
        let child = self.fork_shell(pm)?;
        let mut protected = Vec::new();
        for vma in self.inherited_vmas() {
            let copied = copy_range_cow(
                pm,
                self.root,
                child.root,
                vma.start,
                vma.end,
                &vma,
                &mut protected,
            );
            if let Err(e) = copied {
                undo_protect(pm, &protected);
                child.release(pm);
                return Err(e);
            }
        }
        if !protected.is_empty() {
            self.flush_tlb();
        }
        Ok(child)
    }

    /// Clears W and sets COW on the writable PTEs of `runs` (private
    /// writable memory of this space), bumping the TLB generation if any.
    pub(crate) fn write_protect_runs(&mut self, pm: &mut PhysMem, runs: &[ProtectRun]) {
        let mut changed = false;
        for &(table, first, last) in runs {
            if !pagetable::any_writable(pm, table, first, last) {
                continue; // e.g. every fork after the first
            }
            let mut entries = pagetable::read_table(pm, table);
            let mut dirty = false;
            for pte in &mut entries[first..=last] {
                if pte.is_leaf() && pte.has(Pte::W) {
                    *pte = pte.without(Pte::W).with(Pte::COW); // ptep_set_wrprotect()
                    dirty = true;
                }
            }
            if dirty {
                pagetable::write_table(pm, table, &entries);
                changed = true;
            }
        }
        if changed {
            self.flush_tlb();
        }
    }

    /// The eager fork: counts the pages it copied in
    /// [`MemStats::fork_pages_copied`](crate::MemStats::fork_pages_copied)
    /// only when the whole fork succeeds.
    fn fork_copy(&mut self, pm: &mut PhysMem) -> Result<AddressSpace, MmError> {
        let child = self.fork_shell(pm)?;
        let mut copied = 0;
        for vma in self.inherited_vmas() {
            if let Err(e) = copy_range_eager(pm, self.root, child.root, &vma, &mut copied) {
                child.release(pm);
                return Err(e);
            }
        }
        pm.stats.fork_pages_copied += copied;
        Ok(child)
    }
}

/// The child's leaf table for the table of the parent at `va`, allocated
/// (with upper levels) if missing.
fn child_table(pm: &mut PhysMem, child_root: FrameId, va: u64) -> Result<FrameId, MmError> {
    Ok(pagetable::walk_alloc(pm, child_root, va)?.table)
}

/// A parent PTE [`copy_range_cow`] write-protected: (table, index).
pub(crate) type Protected = (FrameId, u16);

/// copy_pte_range() for `[start, end)` of `vma` (start, end inside it):
/// each present PTE of the parent is copied into the child's tables with
/// a reference on its frame (pte_mkold; pte_mkclean for shared mappings);
/// private writable PTEs are write-protected with the COW bit in both
/// (ptep_set_wrprotect()), each parent PTE so changed recorded in
/// `protected` so that a failing fork can [`undo_protect`] it. The
/// caller bumps the parent's TLB generation if `protected` is not empty.
pub(crate) fn copy_range_cow(
    pm: &mut PhysMem,
    parent_root: FrameId,
    child_root: FrameId,
    start: u64,
    end: u64,
    vma: &Vma,
    protected: &mut Vec<Protected>,
) -> Result<(), MmError> {
    pagetable::for_each_leaf_table(
        pm,
        parent_root,
        start,
        end,
        &mut |pm, base, _l1, table, first, last| {
            let mut entries = pagetable::read_table(pm, table);
            if nothing_to_copy(&entries[first..=last]) {
                return Ok(());
            }
            let ctable = child_table(pm, child_root, base)?;
            let mut centries = pagetable::read_table(pm, ctable);
            let before = protected.len();
            for i in first..=last {
                let pte = entries[i];
                if pte.is_swap() {
                    // copy_nonpresent_pte(): the child names the same slot.
                    pm.swap_dup(pte.swap_slot());
                    centries[i] = pte;
                    continue;
                }
                if !pte.is_present() {
                    continue;
                }
                let mut cpte = pte.without(Pte::A);
                if vma.shared {
                    cpte = cpte.without(Pte::D);
                } else if pte.has(Pte::W) {
                    cpte = cpte.without(Pte::W).with(Pte::COW);
                    entries[i] = pte.without(Pte::W).with(Pte::COW);
                    protected.push((table, i as u16));
                }
                pm.get(pte.frame());
                centries[i] = cpte;
            }
            pagetable::write_table(pm, ctable, &centries);
            if protected.len() > before {
                pagetable::write_table(pm, table, &entries);
            }
            Ok(())
        },
    )
}

/// Whether none of `entries` maps a page or names a swap slot, so a fork
/// copies nothing from their table (and allocates no child table for it).
fn nothing_to_copy(entries: &[Pte]) -> bool {
    entries.iter().all(|p| !p.is_present() && !p.is_swap())
}

/// Makes the PTEs a failed [`copy_range_cow`] write-protected writable
/// again, exactly as they were.
pub(crate) fn undo_protect(pm: &mut PhysMem, protected: &[Protected]) {
    for &(table, index) in protected {
        let pte = pagetable::read_entry(pm, table, index as usize);
        pagetable::write_entry(
            pm,
            table,
            index as usize,
            pte.without(Pte::COW).with(Pte::W),
        );
    }
}

/// The eager copy of `vma` for [`ForkMode::Copy`]: private anonymous
/// frames are copied into new frames the child owns (writable if the VMA
/// is); everything else is mapped as the parent maps it, with a reference.
/// Adds the number of frames copied to `copied`.
fn copy_range_eager(
    pm: &mut PhysMem,
    parent_root: FrameId,
    child_root: FrameId,
    vma: &Vma,
    copied: &mut u64,
) -> Result<(), MmError> {
    pagetable::for_each_leaf_table(
        pm,
        parent_root,
        vma.start,
        vma.end,
        &mut |pm, base, _l1, table, first, last| {
            let entries = pagetable::read_table(pm, table);
            if nothing_to_copy(&entries[first..=last]) {
                return Ok(());
            }
            let ctable = child_table(pm, child_root, base)?;
            let mut centries = pagetable::read_table(pm, ctable);
            // On failure, what is already in `centries` must reach the
            // table so that releasing the child returns those frames.
            let mut result = Ok(());
            for i in first..=last {
                let pte = entries[i];
                if pte.is_swap() {
                    // A swapped page is shared through its slot (the swap
                    // cache brings it back as one frame; a write copies).
                    pm.swap_dup(pte.swap_slot());
                    centries[i] = pte;
                    continue;
                }
                if !pte.is_present() {
                    continue;
                }
                let frame = pte.frame();
                let cpte = if !vma.shared && pm.frame_kind(frame) == FrameKind::Anon {
                    let copy = match pm.alloc() {
                        Ok(copy) => copy,
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    };
                    pm.copy_frame(frame, copy);
                    *copied += 1;
                    if pte.is_prot_none() {
                        Pte::prot_none(copy)
                    } else if vma.prot.write {
                        Pte::leaf(copy, pte.flags() & !Pte::COW | Pte::W | Pte::D)
                    } else {
                        Pte::leaf(copy, pte.flags())
                    }
                } else {
                    pm.get(frame);
                    if vma.shared {
                        pte.without(Pte::A | Pte::D)
                    } else {
                        pte.without(Pte::A)
                    }
                };
                centries[i] = cpte;
            }
            pagetable::write_table(pm, ctable, &centries);
            result
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_mode_names_round_trip() {
        for mode in ForkMode::ALL {
            assert_eq!(mode.name().parse::<ForkMode>(), Ok(mode));
        }
        assert!("fast".parse::<ForkMode>().is_err());
        assert_eq!(ForkMode::default(), ForkMode::Cow);
    }
}
