//! Shared leaf page tables: the `share-tables` fork (On-demand-fork, Zhao,
//! Gong and Fonseca, EuroSys 2021).
//!
//! Fork copies only the root and the level-1 tables; each level-1 entry of
//! the child points at the parent's very leaf (level-0) table, whose frame
//! refcount is its *share count*: the number of level-1 entries, over all
//! address spaces, pointing at it. The private writable PTEs inside a
//! shared table are write-protected with the COW bit once, for every
//! sharer. Data frames mapped by a shared table are referenced once per
//! table, not once per address space.
//!
//! A shared table is never modified on behalf of one address space (except
//! the A/D bits `translate` sets, as hardware would). Before anything would
//! change a PTE of it, that space *unshares* it:
//!
//! * a fault that would install or change a PTE (the first write in a
//!   2 MiB range, or a first touch) copies the table, taking a reference
//!   on each frame it maps and dropping one share of the old table, then
//!   proceeds as an ordinary fault; a table whose count is 1 is simply
//!   this space's own and is reused. Reads of mapped pages never fault, so
//!   never unshare;
//! * munmap, mprotect, mremap, madvise(DONTNEED), MAP_FIXED and brk copy a
//!   shared table their range covers only in part, and simply drop their
//!   share of one their range covers whole (so exit copies nothing).
//!
//! A 2 MiB range holding (part of) a `MADV_DONTFORK` or `MADV_WIPEONFORK`
//! VMA is not shared (the child must not see those PTEs): its PTEs are
//! copied as the `cow` fork does.
//!
//! What [`check_invariants`](crate::check_invariants) verifies: a table
//! frame's refcount equals the number of entries pointing at it (a leaf
//! table may be pointed at from several spaces; the root and level-1
//! tables belong to one); a data frame's refcount counts each *table*
//! mapping it once; a table shared by several spaces holds no writable
//! private PTE, and its PTEs agree with every sharer's VMAs.

use crate::address_space::AddressSpace;
use crate::fork::ProtectRun;
use crate::frame::{FrameId, FrameKind, PhysMem};
use crate::pagetable::{self, Pte, PteSlot};
use crate::vma::OnFork;
use crate::MmError;

/// Bytes one leaf table maps (2 MiB).
pub(crate) const LEAF_SPAN: u64 = 1 << 21;

impl AddressSpace {
    /// The `share-tables` fork (see the module documentation).
    pub(crate) fn fork_share_tables(&mut self, pm: &mut PhysMem) -> Result<AddressSpace, MmError> {
        let child = self.fork_shell(pm)?;
        // 2 MiB ranges meeting a DONTFORK/WIPEONFORK VMA are copied, not shared.
        let special: Vec<(u64, u64)> = self
            .vmas
            .iter()
            .filter(|v| v.on_fork != OnFork::Copy)
            .map(|v| (v.start, v.end))
            .collect();
        let inherited = self.inherited_vmas();
        let mut protect: Vec<ProtectRun> = Vec::new();
        let mut protected = Vec::new();
        let child_root = child.root;
        let mut shared_tables = 0u64;
        let result = pagetable::for_each_leaf_table(
            pm,
            self.root,
            0,
            crate::USER_TOP,
            &mut |pm, base, _l1, table, _first, _last| {
                let end = base + LEAF_SPAN;
                let in_chunk = || {
                    inherited
                        .iter()
                        .filter(move |v| v.start < end && base < v.end)
                        .map(move |v| (v, v.start.max(base), v.end.min(end)))
                };
                if special.iter().any(|&(s, e)| s < end && base < e) {
                    for (vma, s, e) in in_chunk() {
                        crate::fork::copy_range_cow(
                            pm,
                            self.root,
                            child_root,
                            s,
                            e,
                            vma,
                            &mut protected,
                        )?;
                    }
                    return Ok(());
                }
                let slot = pagetable::walk_alloc_level1(pm, child_root, base)?;
                pm.get(table);
                pagetable::write_entry(pm, slot.table, slot.index, Pte::table(table));
                shared_tables += 1;
                for (vma, s, e) in in_chunk() {
                    if !vma.shared && vma.prot.write {
                        protect.push((table, pagetable::vpn(s, 0), pagetable::vpn(e - 1, 0)));
                    }
                }
                Ok(())
            },
        );
        if let Err(e) = result {
            crate::fork::undo_protect(pm, &protected);
            child.release(pm);
            return Err(e);
        }
        pm.stats.leaf_tables_shared += shared_tables;
        if !protected.is_empty() {
            self.flush_tlb();
        }
        self.write_protect_runs(pm, &protect);
        Ok(child)
    }

    /// Before the fault handler changes the PTE of `va`: unshares its leaf
    /// table unless that PTE already grants `access` (a spurious fault
    /// changes nothing, so it need not copy).
    pub(crate) fn unshare_for_fault(
        &mut self,
        pm: &mut PhysMem,
        va: u64,
        access: crate::Access,
    ) -> Result<(), MmError> {
        let Some(slot) = pagetable::walk_level1(pm, self.root, va) else {
            return Ok(());
        };
        let entry = pagetable::read_entry(pm, slot.table, slot.index);
        if !entry.is_table() || pm.refcount(entry.frame()) == 1 {
            return Ok(());
        }
        let pte = pagetable::read_entry(pm, entry.frame(), pagetable::vpn(va, 0));
        let need = match access {
            crate::Access::Read => Pte::R,
            crate::Access::Write => Pte::W,
            crate::Access::Execute => Pte::X,
        };
        if pte.is_leaf() && pte.has(need) {
            return Ok(());
        }
        copy_shared_table(pm, slot, entry.frame())
    }

    /// Unshares every shared leaf table meeting `[start, end)`. With
    /// `whole_too == false`, tables whose 2 MiB lie wholly inside the
    /// range are left shared (an unmap will just drop their share, see
    /// [`drop_shared_tables`](Self::drop_shared_tables)). All or nothing:
    /// on `Err(OutOfMemory)` the tables copied so far stay copied, which
    /// no one can observe (same PTEs, same frames).
    pub(crate) fn unshare_range(
        &mut self,
        pm: &mut PhysMem,
        start: u64,
        end: u64,
        whole_too: bool,
    ) -> Result<(), MmError> {
        pagetable::for_each_leaf_table(
            pm,
            self.root,
            start,
            end,
            &mut |pm, base, l1, table, _, _| {
                let whole = start <= base && base + LEAF_SPAN <= end;
                if pm.refcount(table) > 1 && (whole_too || !whole) {
                    copy_shared_table(pm, l1, table)?;
                }
                Ok(())
            },
        )
    }

    /// Drops this space's share of every shared leaf table lying wholly in
    /// `[start, end)` (clearing the level-1 entry), so an unmap of the
    /// range leaves the other sharers' PTEs alone. Panics on a shared
    /// table the range covers only in part: the caller must have called
    /// [`unshare_range`](Self::unshare_range) first. Returns whether a
    /// share was dropped (the caller flushes the TLB).
    pub(crate) fn drop_shared_tables(&mut self, pm: &mut PhysMem, start: u64, end: u64) -> bool {
        let mut dropped = false;
        pagetable::for_each_leaf_table(pm, self.root, start, end, &mut |pm, base, l1, table, _, _| {
            if pm.refcount(table) > 1 {
                assert!(
                    start <= base && base + LEAF_SPAN <= end,
                    "drop_shared_tables: shared table at {base:#x} only partly in {start:#x}..{end:#x}"
                );
                pagetable::write_entry(pm, l1.table, l1.index, Pte::EMPTY);
                pm.put(table);
                pm.stats.leaf_table_drops += 1;
                dropped = true;
            }
            Ok(())
        })
        .expect("drop_shared_tables: the visitor cannot fail");
        dropped
    }
}

/// Replaces the shared leaf table `old` (pointed at from `l1`) by a copy
/// that holds its own reference on every frame it maps; drops one share of
/// `old`. The PTEs are the same, so no TLB flush is needed.
fn copy_shared_table(pm: &mut PhysMem, l1: PteSlot, old: FrameId) -> Result<(), MmError> {
    let new = pm.alloc_kind(FrameKind::PageTable)?;
    let entries = pagetable::read_table(pm, old);
    for pte in &entries {
        if pte.is_present() {
            pm.get(pte.frame());
        } else if pte.is_swap() {
            pm.swap_dup(pte.swap_slot());
        }
    }
    pagetable::write_table(pm, new, &entries);
    pagetable::write_entry(pm, l1.table, l1.index, Pte::table(new));
    pm.put(old);
    pm.stats.leaf_table_copies += 1;
    Ok(())
}
