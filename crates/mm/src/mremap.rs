//! mremap (mm/mremap.c): resize a mapping, in place or by moving it.
//!
//! | case | result (Linux function) |
//! |---|---|
//! | `new_len <= old_len` (no FIXED) | the tail `[addr + new_len, addr + old_len)` is unmapped; `addr` returned |
//! | grow, the range ends its VMA and the space above is free | the VMA is extended in place (vma_expandable(), vma_merge_extend()) |
//! | grow otherwise, `MAYMOVE` | a new range is found and the VMA moved there (move_vma()) |
//! | grow otherwise, no `MAYMOVE` | `NoMemory` (ENOMEM) |
//! | `FIXED` (needs `MAYMOVE`) | moved to exactly `new_addr`, replacing what is there (mremap_to()) |
//! | `DONTUNMAP` (needs `MAYMOVE`, equal lengths) | moved, the old VMA kept with no pages (private anonymous: reads zeros again) |
//!
//! A move carries the PTEs with their frames (move_page_tables()): no page
//! is copied and no frame reference changes; the old PTEs are cleared.
//!
//! Unlike Linux, which unmaps the destination of `FIXED` before it checks
//! the source, every check here comes first, so a failing call changes
//! nothing.

use crate::address_space::AddressSpace;
use crate::frame::PhysMem;
use crate::pagetable::{self, Pte};
use crate::vma::{Backing, Vma};
use crate::{is_page_aligned, page_up, MmError, PAGE_SIZE, USER_TOP};

/// mremap's flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RemapFlags {
    /// `MREMAP_MAYMOVE`: the mapping may move if it cannot grow in place.
    pub may_move: bool,
    /// `MREMAP_FIXED`: move to exactly `new_addr` (requires `may_move`).
    pub fixed: bool,
    /// `MREMAP_DONTUNMAP`: leave the old VMA mapped, empty (requires
    /// `may_move` and equal lengths).
    pub dont_unmap: bool,
}

impl AddressSpace {
    /// mremap(`addr`, `old_len`, `new_len`, `flags`, `new_addr`): returns
    /// the mapping's (new) start.
    ///
    /// Errors (nothing changed): `InvalidArgument` for an unaligned `addr`
    /// (or `new_addr` with FIXED), a zero `new_len`, FIXED or DONTUNMAP
    /// without MAYMOVE, DONTUNMAP with different lengths, FIXED ranges that
    /// overlap or leave user space; `Fault` (EFAULT) when `addr` is not
    /// mapped or `[addr, addr + old_len)` is not inside one VMA (for a
    /// grow or move); `NoMemory` when it cannot grow in place without
    /// MAYMOVE or there is no room to move to; `OutOfMemory` when page
    /// tables for the destination cannot be had.
    pub fn mremap(
        &mut self,
        pm: &mut PhysMem,
        addr: u64,
        old_len: u64,
        new_len: u64,
        flags: RemapFlags,
        new_addr: u64,
    ) -> Result<u64, MmError> {
        if !is_page_aligned(addr)
            || ((flags.fixed || flags.dont_unmap) && !flags.may_move)
            || (flags.dont_unmap && old_len != new_len)
        {
            return Err(MmError::InvalidArgument);
        }
        let old_len = page_up(old_len).ok_or(MmError::InvalidArgument)?;
        let new_len = page_up(new_len).ok_or(MmError::InvalidArgument)?;
        if new_len == 0 {
            return Err(MmError::InvalidArgument);
        }
        let old_end = addr.checked_add(old_len).ok_or(MmError::InvalidArgument)?;
        if old_end > USER_TOP {
            return Err(MmError::Fault);
        }
        let vma = self.vmas.find(addr).cloned().ok_or(MmError::Fault)?;
        if old_len == 0 {
            return self.mremap_duplicate(addr, new_len, flags, new_addr, &vma);
        }
        if flags.fixed {
            return self.mremap_to(pm, addr, old_len, new_len, new_addr, flags, &vma);
        }
        if old_len >= new_len && !flags.dont_unmap {
            if old_len > new_len {
                self.unmap_range(pm, addr + new_len, old_end)?;
            }
            return Ok(addr);
        }
        if old_end > vma.end {
            return Err(MmError::Fault);
        }
        if new_len > old_len && !flags.dont_unmap && old_end == vma.end {
            let new_end = addr.checked_add(new_len).filter(|&e| e <= USER_TOP);
            let room = new_end.is_some_and(|e| {
                self.vmas
                    .next_above(vma.start)
                    .is_none_or(|next| e <= next.start)
            });
            if room {
                let new_end = new_end.expect("mremap: checked above");
                let mut whole = vma;
                whole.end = new_end;
                self.vmas.remove_range(whole.start, old_end);
                self.vmas.insert(whole);
                return Ok(addr);
            }
        }
        if !flags.may_move {
            return Err(MmError::NoMemory);
        }
        let dest = self.find_free_area(0, new_len).ok_or(MmError::NoMemory)?;
        self.move_vma(pm, addr, old_len, dest, new_len, &vma, flags.dont_unmap)?;
        Ok(dest)
    }

    /// mremap_to(): FIXED.
    #[allow(clippy::too_many_arguments)]
    fn mremap_to(
        &mut self,
        pm: &mut PhysMem,
        addr: u64,
        old_len: u64,
        new_len: u64,
        new_addr: u64,
        flags: RemapFlags,
        vma: &Vma,
    ) -> Result<u64, MmError> {
        if !is_page_aligned(new_addr) || new_len > USER_TOP || new_addr > USER_TOP - new_len {
            return Err(MmError::InvalidArgument);
        }
        if addr + old_len > new_addr && new_addr + new_len > addr {
            return Err(MmError::InvalidArgument);
        }
        let moved = old_len.min(new_len);
        if addr + moved > vma.end {
            return Err(MmError::Fault);
        }
        // As Linux, the destination is unmapped first; running out of
        // frames for page tables after that leaves it unmapped.
        self.unmap_range(pm, new_addr, new_addr + new_len)?;
        if old_len > new_len {
            self.unmap_range(pm, addr + new_len, addr + old_len)?;
        }
        self.move_vma(pm, addr, moved, new_addr, new_len, vma, flags.dont_unmap)?;
        Ok(new_addr)
    }

    /// `old_len == 0`: a second mapping of the same shared pages at a new
    /// place (only for shared mappings; EINVAL for private ones, and
    /// without MAYMOVE, as mm/mremap.c).
    fn mremap_duplicate(
        &mut self,
        addr: u64,
        new_len: u64,
        flags: RemapFlags,
        new_addr: u64,
        vma: &Vma,
    ) -> Result<u64, MmError> {
        if !vma.shared || !flags.may_move || flags.dont_unmap {
            return Err(MmError::InvalidArgument);
        }
        let dest = if flags.fixed {
            if !is_page_aligned(new_addr)
                || new_len > USER_TOP
                || new_addr > USER_TOP - new_len
                || self.vmas.overlaps(new_addr, new_addr + new_len)
            {
                return Err(MmError::InvalidArgument);
            }
            new_addr
        } else {
            self.find_free_area(0, new_len).ok_or(MmError::NoMemory)?
        };
        let mut copy = vma.clone();
        if let Backing::File { offset, .. } = &mut copy.backing {
            *offset += addr - vma.start;
        }
        copy.start = dest;
        copy.end = dest + new_len;
        self.vmas.insert(copy);
        Ok(dest)
    }

    /// Allocates every page table the move of the PTEs (present or swap entries) of
    /// `[addr, addr + len)` to `dest` needs, so the move itself cannot
    /// fail. On `Err(OutOfMemory)` the empty tables allocated are pruned.
    fn prepare_tables(
        &mut self,
        pm: &mut PhysMem,
        addr: u64,
        len: u64,
        dest: u64,
    ) -> Result<(), MmError> {
        let mut vas = Vec::new();
        pagetable::for_each_entry(pm, self.root, addr, addr + len, &mut |_, va, _, _| {
            vas.push(va);
            Ok(())
        })
        .expect("prepare_tables: the visitor cannot fail");
        for va in vas {
            if let Err(e) = pagetable::walk_alloc(pm, self.root, va - addr + dest) {
                pagetable::prune(pm, self.root, dest, dest + len);
                return Err(e);
            }
        }
        Ok(())
    }

    /// move_vma(): the VMA piece `[addr, addr + old_len)` of `vma` becomes
    /// `[dest, dest + new_len)`; present PTEs move with their frames, swap entries with their slots. The
    /// old range is unmapped, or with `dont_unmap` stays mapped, empty.
    #[allow(clippy::too_many_arguments)]
    fn move_vma(
        &mut self,
        pm: &mut PhysMem,
        addr: u64,
        old_len: u64,
        dest: u64,
        new_len: u64,
        vma: &Vma,
        dont_unmap: bool,
    ) -> Result<(), MmError> {
        self.unshare_range(pm, addr, addr + old_len, true)?;
        self.unshare_range(pm, dest, dest + new_len, true)?;
        self.prepare_tables(pm, addr, old_len, dest)?;
        let mut moved_any = false;
        let mut va = addr;
        while va < addr + old_len {
            if let Some(pte) = pagetable::unmap_page(pm, self.root, va) {
                let slot = pagetable::walk(pm, self.root, va - addr + dest)
                    .expect("move_vma: destination table prepared");
                assert_eq!(
                    pagetable::read_pte(pm, slot),
                    Pte::EMPTY,
                    "move_vma: destination {:#x} mapped",
                    va - addr + dest
                );
                pagetable::write_pte(pm, slot, pte);
                moved_any = true;
            }
            va += PAGE_SIZE;
        }
        if moved_any {
            pagetable::prune(pm, self.root, addr, addr + old_len);
            self.flush_tlb();
        }
        let mut moved = vma.clone();
        if let Backing::File { offset, .. } = &mut moved.backing {
            *offset += addr - vma.start;
        }
        moved.start = dest;
        moved.end = dest + new_len;
        if !dont_unmap {
            self.vmas.remove_range(addr, addr + old_len);
            pm.reap_shared_anon();
        }
        self.vmas.insert(moved);
        Ok(())
    }
}
