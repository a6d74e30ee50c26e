//! The address space of one process: a page-table root, the VMAs, the brk
//! state and a TLB-flush generation (gVisor's `mm.go` + `lifecycle.go`).
//!
//! Operations live one per file: `mmap.rs` (mmap, munmap, mprotect, brk),
//! `fault.rs` (handle_fault), `fork.rs` (fork_cow).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::frame::{FrameId, PhysMem};
use crate::pagetable::{self, Pte};
use crate::stats::FaultCounters;
use crate::vma::{Access, Vma, VmaSet};
use crate::{
    page_down, page_up, FaultError, MmError, SegvCode, DEFAULT_STACK_LIMIT, PAGE_SIZE, USER_TOP,
};

/// Numbers address spaces, for their first TLB generation.
static NEXT_SPACE: AtomicU64 = AtomicU64::new(1);

/// One process's virtual memory.
///
/// It must be torn down with [`release`](Self::release): dropping it leaks
/// its frames (which [`check_invariants`](crate::check_invariants) reports).
#[derive(Debug)]
pub struct AddressSpace {
    /// Root page table; this struct owns its one reference.
    pub(crate) root: FrameId,
    /// The intent. Every present PTE lies inside one of these.
    pub(crate) vmas: VmaSet,
    /// `mm->start_brk`: page aligned, set once at exec.
    pub(crate) brk_start: u64,
    /// `mm->brk`: the current break as the program set it (may be unaligned);
    /// the heap VMA ends at its page-rounded value.
    pub(crate) brk_end: u64,
    /// Whether `set_brk_base` was called; brk fails until it is.
    pub(crate) brk_set: bool,
    /// `RLIMIT_STACK` in bytes: how far a grows-down VMA may extend below its end.
    pub(crate) stack_limit: u64,
    /// Top of the area searched by non-fixed mmap (mm->mmap_base).
    pub(crate) mmap_base: u64,
    /// Bumped when a PTE loses permission or changes frame.
    pub(crate) tlb_generation: u64,
    /// `Some(page)` when the latest bump of `tlb_generation` changed only
    /// that page's PTE (a COW copy), so a TLB one generation behind may
    /// drop just that page (flush_tlb_page()).
    pub(crate) flushed_page: Option<u64>,
    /// Faults of this address space by kind (Linux's per-task min_flt).
    pub(crate) faults: FaultCounters,
}

/// Linux's mmap_base() (mm/util.c) without randomization: the stack top less
/// a gap of `RLIMIT_STACK` plus the stack guard gap, clamped to
/// [128 MiB, 5/6 of the address space].
pub(crate) fn mmap_base_for(stack_limit: u64) -> u64 {
    const MIN_GAP: u64 = 128 << 20;
    const MAX_GAP: u64 = USER_TOP / 6 * 5;
    let gap = stack_limit
        .saturating_add(crate::STACK_GUARD_GAP)
        .clamp(MIN_GAP, MAX_GAP);
    page_down(USER_TOP - gap)
}

impl AddressSpace {
    /// An empty address space (one root table frame).
    pub fn new(pm: &mut PhysMem) -> Result<Self, MmError> {
        let root = pagetable::new_root(pm)?;
        Ok(AddressSpace {
            root,
            vmas: VmaSet::default(),
            brk_start: 0,
            brk_end: 0,
            brk_set: false,
            stack_limit: DEFAULT_STACK_LIMIT,
            mmap_base: mmap_base_for(DEFAULT_STACK_LIMIT),
            // Each space's generations start apart from every other's, so a
            // TLB that followed another space never sees this one exactly
            // one generation ahead (see `flushed_page`).
            tlb_generation: NEXT_SPACE.fetch_add(1, Ordering::Relaxed) << 32,
            flushed_page: None,
            faults: FaultCounters::default(),
        })
    }

    /// The root page-table frame (what `satp` would point at).
    pub fn root(&self) -> FrameId {
        self.root
    }

    /// Pure translation for the CPU's TLB fill: `Some(frame)` if the PTE for
    /// `addr` is valid, user-accessible and permits `access` (R for reads, W
    /// for writes, X for execution). Sets A, and D for writes, like hardware
    /// with Svadu. Never allocates, never fixes faults. The CPU must try this
    /// before reporting a fault; after `handle_fault` returns `Ok` this
    /// succeeds for the same access.
    pub fn translate(&mut self, pm: &mut PhysMem, addr: u64, access: Access) -> Option<FrameId> {
        if addr >= USER_TOP {
            return None;
        }
        let slot = pagetable::walk(pm, self.root, addr)?;
        let pte = pagetable::read_pte(pm, slot);
        let need = match access {
            Access::Read => Pte::R,
            Access::Write => Pte::W,
            Access::Execute => Pte::X,
        };
        if !pte.is_leaf() || !pte.has(Pte::U | need) {
            return None;
        }
        let updated = if access == Access::Write {
            pte.with(Pte::A | Pte::D)
        } else {
            pte.with(Pte::A)
        };
        if updated != pte {
            pagetable::write_pte(pm, slot, updated);
        }
        Some(pte.frame())
    }

    /// Bumped whenever a PTE loses permission or changes frame (unmap,
    /// write-protect, COW replace): a CPU TLB caching translations must flush
    /// when it changes. Gaining permission does not bump it (a stale entry
    /// just misses and refills through `translate`).
    pub fn tlb_generation(&self) -> u64 {
        self.tlb_generation
    }

    /// The single page whose PTE the latest TLB-generation bump changed,
    /// if that bump was for one page only: a TLB whose generation is
    /// exactly one behind may invalidate only that page's entries (as
    /// flush_tlb_page() does); any other TLB must flush everything.
    pub fn flushed_page(&self) -> Option<u64> {
        self.flushed_page
    }

    pub(crate) fn flush_tlb(&mut self) {
        self.tlb_generation += 1;
        self.flushed_page = None;
    }

    /// [`flush_tlb`](Self::flush_tlb) for a change of page `va`'s PTE only.
    pub(crate) fn flush_tlb_page(&mut self, va: u64) {
        self.tlb_generation += 1;
        self.flushed_page = Some(va);
    }

    /// The VMAs in address order.
    pub fn vmas(&self) -> impl Iterator<Item = &Vma> {
        self.vmas.iter()
    }

    /// Number of VMAs (Linux's `map_count`).
    pub fn vma_count(&self) -> usize {
        self.vmas.len()
    }

    /// The VMA containing `addr`.
    pub fn find_vma(&self, addr: u64) -> Option<&Vma> {
        self.vmas.find(addr)
    }

    /// Sets `RLIMIT_STACK` (bytes) for stack growth (default 8 MiB). On a
    /// fresh address space (no VMA yet, i.e. at exec) this also places
    /// `mmap_base` like arch_pick_mmap_layout(); later calls leave it.
    pub fn set_stack_limit(&mut self, bytes: u64) {
        self.stack_limit = bytes;
        if self.vmas.is_empty() {
            self.mmap_base = mmap_base_for(bytes);
        }
    }

    /// Address-space layout randomization, at exec (arch_pick_mmap_layout()
    /// with PF_RANDOMIZE): the gap below the stack also leaves room for the
    /// stack top's own randomization (`stack_pad` bytes, STACK_RND_MASK
    /// pages), and the mmap base moves down by `offset` bytes
    /// (arch_mmap_rnd()). Only on a fresh address space (no VMA yet).
    pub fn randomize_mmap_base(&mut self, stack_pad: u64, offset: u64) {
        if !self.vmas.is_empty() {
            return;
        }
        let base = mmap_base_for(self.stack_limit.saturating_add(stack_pad));
        self.mmap_base = page_down(base.saturating_sub(offset)).max(crate::MMAP_MIN_ADDR);
    }

    /// The stack growth limit in bytes.
    pub fn stack_limit(&self) -> u64 {
        self.stack_limit
    }

    /// Where top-down mmap placement starts.
    pub fn mmap_base(&self) -> u64 {
        self.mmap_base
    }

    /// `(start_brk, brk)`.
    pub fn brk_range(&self) -> (u64, u64) {
        (self.brk_start, self.brk_end)
    }

    /// Faults of this address space by kind.
    pub fn fault_counters(&self) -> &FaultCounters {
        &self.faults
    }

    /// Number of pages with a frame mapped (resident set, in pages).
    pub fn resident_pages(&self, pm: &PhysMem) -> u64 {
        pagetable::collect(pm, self.root).1.len() as u64
    }

    /// The frame backing `addr` for `access`, faulting it in if needed (as
    /// the CPU would: translate, fault, translate again).
    fn frame_for(
        &mut self,
        pm: &mut PhysMem,
        addr: u64,
        access: Access,
    ) -> Result<FrameId, FaultError> {
        if let Some(frame) = self.translate(pm, addr, access) {
            return Ok(frame);
        }
        self.handle_fault(pm, addr, access)?;
        Ok(self
            .translate(pm, addr, access)
            .expect("frame_for: fault resolved but translation still fails"))
    }

    /// Copies guest memory at `addr` into `buf` (the kernel's
    /// copy_from_user), faulting pages in as a read by the program would.
    /// On error a prefix of `buf` may have been filled.
    pub fn read_bytes(
        &mut self,
        pm: &mut PhysMem,
        addr: u64,
        buf: &mut [u8],
    ) -> Result<(), FaultError> {
        let end = addr
            .checked_add(buf.len() as u64)
            .ok_or(FaultError::Segv(SegvCode::MapErr))?;
        let mut at = addr;
        while at < end {
            let frame = self.frame_for(pm, at, Access::Read)?;
            let offset = (at % PAGE_SIZE) as usize;
            let n = ((PAGE_SIZE - at % PAGE_SIZE).min(end - at)) as usize;
            let done = (at - addr) as usize;
            buf[done..done + n].copy_from_slice(&pm.bytes(frame)[offset..offset + n]);
            at += n as u64;
        }
        Ok(())
    }

    /// Copies `data` into guest memory at `addr` (the kernel's copy_to_user),
    /// faulting pages in as a write by the program would (so copy-on-write
    /// and permissions apply). On error a prefix may have been written.
    pub fn write_bytes(
        &mut self,
        pm: &mut PhysMem,
        addr: u64,
        data: &[u8],
    ) -> Result<(), FaultError> {
        let end = addr
            .checked_add(data.len() as u64)
            .ok_or(FaultError::Segv(SegvCode::MapErr))?;
        let mut at = addr;
        while at < end {
            let frame = self.frame_for(pm, at, Access::Write)?;
            let offset = (at % PAGE_SIZE) as usize;
            let n = ((PAGE_SIZE - at % PAGE_SIZE).min(end - at)) as usize;
            let done = (at - addr) as usize;
            pm.bytes_mut(frame)[offset..offset + n].copy_from_slice(&data[done..done + n]);
            at += n as u64;
        }
        Ok(())
    }

    /// Unmaps every present PTE in `[start, end)`, putting its frame (or
    /// freeing its swap slot, for a swap entry), then
    /// frees emptied page tables. Bumps the TLB generation if anything was
    /// mapped. The VMAs are the caller's business. Shared leaf tables
    /// wholly inside the range lose this space's share; one only partly
    /// inside must have been unshared first (`unshare_range`), else this
    /// panics.
    pub(crate) fn unmap_ptes(&mut self, pm: &mut PhysMem, start: u64, end: u64) {
        let mut unmapped = self.drop_shared_tables(pm, start, end);
        pagetable::for_each_entry(pm, self.root, start, end, &mut |pm, _va, slot, pte| {
            pagetable::write_pte(pm, slot, Pte::EMPTY);
            if pte.is_swap() {
                pm.swap_free(pte.swap_slot());
            } else {
                pm.put(pte.frame());
            }
            unmapped = true;
            Ok(())
        })
        .expect("unmap_ptes: the visitor cannot fail");
        if unmapped {
            pagetable::prune(pm, self.root, start, end);
            self.flush_tlb();
        }
    }

    /// Tears everything down, returning every frame (the address space is
    /// consumed). Shared anonymous objects it held the last reference to
    /// are freed too; dirty pages of shared file mappings are written back.
    pub fn release(mut self, pm: &mut PhysMem) {
        let shared: Vec<Vma> = self
            .vmas
            .iter()
            .filter(|v| v.shared && !v.backing.is_anonymous())
            .cloned()
            .collect();
        self.unmap_ptes(pm, 0, USER_TOP);
        self.writeback_unmapped(pm, &shared);
        drop(shared);
        pagetable::free_tree(pm, self.root);
        drop(self.vmas);
        pm.reap_shared_anon();
    }

    /// Validates an address range given by the program: returns the page
    /// aligned end of `[addr, addr + len)` within user space.
    pub(crate) fn user_range_end(addr: u64, len: u64) -> Option<u64> {
        let len = page_up(len)?;
        let end = addr.checked_add(len)?;
        (end <= USER_TOP).then_some(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmap_base_follows_linux_layout() {
        // 8 MiB + 1 MiB guard < 128 MiB minimum gap.
        assert_eq!(mmap_base_for(8 << 20), USER_TOP - (128 << 20));
        assert_eq!(mmap_base_for(512 << 20), USER_TOP - (513 << 20));
        assert_eq!(
            mmap_base_for(u64::MAX),
            page_down(USER_TOP - USER_TOP / 6 * 5)
        );
    }
}
