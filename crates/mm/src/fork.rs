//! fork with copy-on-write (kernel/fork.c:dup_mmap() → mm/memory.c:
//! copy_page_range() → copy_present_pte()).
//!
//! The child gets a copy of the VMAs and of every present PTE, sharing the
//! frames (refcount + 1). Private writable pages are write-protected (COW)
//! in both parent and child, so the first write on either side copies
//! (do_wp_page) — or reuses the frame if the other side has let go of it.
//! Shared mappings keep their PTEs as they are: both sides see one frame.
//!
//! All or nothing: the child is built completely before the parent is
//! touched; if a page-table frame cannot be had, the partial child is
//! released and the parent is exactly as before.

use crate::address_space::AddressSpace;
use crate::frame::PhysMem;
use crate::pagetable::{self, Pte, PteSlot};
use crate::stats::FaultCounters;
use crate::MmError;

impl AddressSpace {
    /// Creates the child address space of a fork with copy-on-write.
    ///
    /// On `Err(OutOfMemory)` nothing changed: the frames the partial child
    /// took are returned. On success the parent's private writable PTEs are
    /// write-protected (and its TLB generation bumped).
    pub fn fork_cow(&mut self, pm: &mut PhysMem) -> Result<AddressSpace, MmError> {
        let mut child = AddressSpace::new(pm)?;
        child.vmas = self.vmas.clone();
        child.brk_start = self.brk_start;
        child.brk_end = self.brk_end;
        child.brk_set = self.brk_set;
        child.stack_limit = self.stack_limit;
        child.mmap_base = self.mmap_base;
        child.faults = FaultCounters::default();

        let mut to_protect: Vec<(PteSlot, Pte)> = Vec::new();
        let child_root = child.root;
        let ranges: Vec<(u64, u64, bool)> = self
            .vmas
            .iter()
            .map(|v| (v.start, v.end, v.shared))
            .collect();
        for (start, end, shared) in ranges {
            let copied =
                pagetable::for_each_leaf(pm, self.root, start, end, &mut |pm, va, slot, pte| {
                    let child_slot = pagetable::walk_alloc(pm, child_root, va)?;
                    let mut child_pte = pte.without(Pte::A); // pte_mkold()
                    if shared {
                        child_pte = child_pte.without(Pte::D); // pte_mkclean()
                    } else if pte.has(Pte::W) {
                        let protected = pte.without(Pte::W).with(Pte::COW); // ptep_set_wrprotect()
                        child_pte = child_pte.without(Pte::W).with(Pte::COW);
                        to_protect.push((slot, protected));
                    }
                    pm.get(pte.frame());
                    pagetable::write_pte(pm, child_slot, child_pte);
                    Ok(())
                });
            let copied = copied.and_then(|()| {
                if shared {
                    Ok(())
                } else {
                    self.fork_swap_entries(pm, &mut child, start, end)
                }
            });
            if let Err(e) = copied {
                child.release(pm);
                return Err(e);
            }
        }
        if !to_protect.is_empty() {
            for (slot, pte) in to_protect {
                pagetable::write_pte(pm, slot, pte);
            }
            self.flush_tlb();
        }
        Ok(child)
    }
}
