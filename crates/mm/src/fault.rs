//! The page-fault handler: reconciles a VMA's intent with the missing or
//! insufficient PTE (mm/memory.c:handle_mm_fault() and its helpers).
//!
//! | PTE state | access | VMA | result (Linux function) |
//! |---|---|---|---|
//! | no VMA (not below a stack) | any | — | SIGSEGV MAPERR (bad_area) |
//! | — | not allowed by prot | any | SIGSEGV ACCERR (access_error) |
//! | absent | read/exec | private anonymous | zero frame, read-only (do_anonymous_page) |
//! | absent | write | private anonymous | fresh zeroed frame (do_anonymous_page) |
//! | absent | read/exec | file | page-cache frame, read-only if private (do_read_fault) |
//! | absent | write | private file | copy of the cache page, writable (do_cow_fault) |
//! | absent | write | shared file | cache frame writable, page dirty (do_shared_fault) |
//! | read-only | write | shared | made writable, page dirty (wp_page_shared) |
//! | zero frame | write | private | fresh zeroed frame (wp_page_copy) |
//! | cache frame | write | private file | copy into an anonymous frame (wp_page_copy) |
//! | anon, refcount 1 | write | private | made writable, no copy (wp_page_reuse) |
//! | anon, shared | write | private | copied (wp_page_copy) |
//! | swap entry | any | private | swapped in, mapped (do_swap_page, `swap.rs`) |
//!
//! A file page wholly beyond end of file is SIGBUS; the tail of the last
//! page reads as zeros. Running out of frames is `FaultError::OutOfMemory`
//! and leaves the PTE as it was.

use std::rc::Rc;

use crate::address_space::AddressSpace;
use crate::frame::{FrameKind, PhysMem};
use crate::pagetable::{self, Pte, PteSlot};
use crate::stats::FaultKind;
use crate::vma::{Access, Backing, FileSource, Prot};
use crate::{page_down, FaultError, SegvCode, MMAP_MIN_ADDR, STACK_GUARD_GAP, USER_TOP};

const MAPERR: FaultError = FaultError::Segv(SegvCode::MapErr);
const ACCERR: FaultError = FaultError::Segv(SegvCode::AccErr);

/// What the fault handler needs of the VMA (copied out so the VMA set is not
/// borrowed while frames are allocated).
struct Target {
    start: u64,
    prot: Prot,
    shared: bool,
    file: Option<(Rc<dyn FileSource>, u64)>,
}

impl Target {
    /// The file, its id and the page index backing `va`.
    fn file_page(&self, va: u64) -> Option<(&dyn FileSource, (u64, u64), u64)> {
        self.file.as_ref().map(|(file, offset)| {
            let index = (offset + (va - self.start)) / crate::PAGE_SIZE;
            (&**file, file.id(), index)
        })
    }
}

/// Flags of a valid leaf for a page of a VMA with `prot`: R when readable
/// (write implies read, as riscv's protection_map does), X when executable,
/// W (and D) only when `writable`; a write-protected page of a private
/// writable VMA carries COW. The A bit is set: the fault is an access.
pub(crate) fn leaf_flags(prot: Prot, shared: bool, writable: bool) -> u64 {
    let mut flags = Pte::V | Pte::U | Pte::A;
    if prot.read || prot.write {
        flags |= Pte::R;
    }
    if prot.exec {
        flags |= Pte::X;
    }
    if writable {
        flags |= Pte::W | Pte::D;
    } else if prot.write && !shared {
        flags |= Pte::COW;
    }
    flags
}

impl AddressSpace {
    /// Resolves a fault at `addr` for `access`.
    ///
    /// `Ok(kind)` when the mapping was fixed and the access can be retried
    /// (`translate` now succeeds for it); `Err(Segv{MapErr|AccErr})` or
    /// `Err(Bus)` when Linux would deliver SIGSEGV/SIGBUS;
    /// `Err(OutOfMemory)` when no frame was left (the kernel kills the
    /// process). On error no PTE changed (page tables allocated on the way
    /// may remain, empty). Each outcome is counted in the global and the
    /// per-space fault counters.
    pub fn handle_fault(
        &mut self,
        pm: &mut PhysMem,
        addr: u64,
        access: Access,
    ) -> Result<FaultKind, FaultError> {
        if pm.trace.is_some() {
            return self.traced_fault(pm, addr, access);
        }
        self.counted_fault(pm, addr, access)
    }

    /// [`resolve_fault`](Self::resolve_fault) with the outcome counted.
    fn counted_fault(
        &mut self,
        pm: &mut PhysMem,
        addr: u64,
        access: Access,
    ) -> Result<FaultKind, FaultError> {
        let result = self.resolve_fault(pm, addr, access);
        match result {
            Ok(kind) => {
                pm.stats.faults.record(kind);
                self.faults.record(kind);
            }
            Err(error) => {
                pm.stats.faults.record_error(error);
                self.faults.record_error(error);
            }
        }
        result
    }

    /// [`handle_fault`](Self::handle_fault) while tracing: the same, and
    /// a [`MemEvent::Fault`](crate::MemEvent::Fault) for a resolved fault.
    #[cold]
    fn traced_fault(
        &mut self,
        pm: &mut PhysMem,
        addr: u64,
        access: Access,
    ) -> Result<FaultKind, FaultError> {
        let va = page_down(addr);
        let before = (addr < USER_TOP)
            .then(|| self.mapped_frame(pm, va))
            .flatten();
        let result = self.counted_fault(pm, addr, access);
        if let Ok(kind) = result {
            let vma = self
                .vmas
                .find(addr)
                .expect("traced_fault: resolved without a vma");
            let event = crate::MemEvent::Fault {
                addr,
                kind,
                vma_start: vma.start,
                vma_end: vma.end,
                vma_name: crate::trace::vma_label(vma),
                before,
                after: self.mapped_frame(pm, va),
            };
            pm.trace_event(|_| event);
        }
        result
    }

    fn resolve_fault(
        &mut self,
        pm: &mut PhysMem,
        addr: u64,
        access: Access,
    ) -> Result<FaultKind, FaultError> {
        if addr >= USER_TOP {
            return Err(MAPERR);
        }
        if self.vmas.find(addr).is_none() {
            self.grow_stack(pm, addr)?;
        }
        let target = {
            let vma = self.vmas.find(addr).expect("resolve_fault: vma vanished");
            let file = match &vma.backing {
                Backing::Anonymous => None,
                Backing::File { file, offset } => Some((file.clone(), *offset)),
            };
            Target {
                start: vma.start,
                prot: vma.prot,
                shared: vma.shared,
                file,
            }
        };
        if !target.prot.allows(access) {
            return Err(ACCERR);
        }
        let va = page_down(addr);
        self.unshare_for_fault(pm, va, access)?; // share_tables.rs
        let slot = pagetable::walk(pm, self.root, va);
        let pte = slot.map_or(Pte::EMPTY, |s| pagetable::read_pte(pm, s));
        if pte.is_swap() {
            let slot = slot.expect("resolve_fault: swap pte without a slot");
            return self.swap_fault(pm, slot, pte, target.prot, access);
        }
        if !pte.is_present() {
            return match target.file_page(va) {
                None => self.anonymous_fault(pm, &target, va, access),
                Some(_) => self.file_fault(pm, &target, va, access),
            };
        }
        let slot = slot.expect("resolve_fault: present pte without a slot");
        assert!(
            pte.is_leaf(),
            "handle_fault: PROT_NONE pte at {va:#x} in an accessible vma"
        );
        let granted = match access {
            Access::Read => pte.has(Pte::R),
            Access::Write => pte.has(Pte::W),
            Access::Execute => pte.has(Pte::X),
        };
        if granted {
            return Ok(FaultKind::Spurious);
        }
        assert_eq!(
            access,
            Access::Write,
            "handle_fault: pte {pte:?} at {va:#x} disagrees with vma {:?}",
            target.prot
        );
        self.write_protect_fault(pm, &target, va, slot, pte)
    }

    /// Grows the grows-down VMA just above `addr` to cover it, like
    /// mm/mmap.c:expand_downwards(): only within `RLIMIT_STACK` measured
    /// from the VMA's end, not below `MMAP_MIN_ADDR`, and keeping the stack
    /// guard gap above an accessible non-stack VMA below. SIGSEGV MAPERR
    /// otherwise (there is no VMA at `addr`).
    fn grow_stack(&mut self, pm: &mut PhysMem, addr: u64) -> Result<(), FaultError> {
        let Some(stack) = self.vmas.next_above(addr) else {
            return Err(MAPERR);
        };
        if !stack.grows_down || stack.shared || !stack.backing.is_anonymous() {
            return Err(MAPERR);
        }
        let (old_start, end) = (stack.start, stack.end);
        let new_start = page_down(addr);
        if end - new_start > self.stack_limit || new_start < MMAP_MIN_ADDR {
            return Err(MAPERR);
        }
        if let Some(prev) = self.vmas.prev_below(addr) {
            if !prev.grows_down && !prev.prot.is_none() && new_start - prev.end < STACK_GUARD_GAP {
                return Err(MAPERR);
            }
        }
        self.vmas.grow_down(old_start, new_start);
        pm.stats.faults.stack_growth += 1;
        self.faults.stack_growth += 1;
        Ok(())
    }

    /// A not-present page of private anonymous memory
    /// (mm/memory.c:do_anonymous_page()): reads map the zero frame
    /// read-only, writes get a fresh zeroed frame.
    fn anonymous_fault(
        &mut self,
        pm: &mut PhysMem,
        t: &Target,
        va: u64,
        access: Access,
    ) -> Result<FaultKind, FaultError> {
        assert!(
            !t.shared,
            "anonymous_fault: shared anonymous vma without a shared object"
        );
        let slot = pagetable::walk_alloc(pm, self.root, va)?;
        if access == Access::Write {
            let frame = pm.alloc()?;
            pagetable::write_pte(pm, slot, Pte::leaf(frame, leaf_flags(t.prot, false, true)));
            Ok(FaultKind::ZeroFill)
        } else {
            let zero = pm.zero_frame();
            pm.get(zero);
            pagetable::write_pte(pm, slot, Pte::leaf(zero, leaf_flags(t.prot, false, false)));
            Ok(FaultKind::ZeroPage)
        }
    }

    /// A not-present file page: do_read_fault() (map the cache page,
    /// read-only if private), do_cow_fault() (private write: copy it into an
    /// anonymous frame) or do_shared_fault() (shared write: map it writable
    /// and mark it dirty).
    fn file_fault(
        &mut self,
        pm: &mut PhysMem,
        t: &Target,
        va: u64,
        access: Access,
    ) -> Result<FaultKind, FaultError> {
        let (file, id, index) = t.file_page(va).expect("file_fault: not a file vma");
        let slot = pagetable::walk_alloc(pm, self.root, va)?;
        // `cached` carries a reference for us, so reclaim cannot take it.
        let cached = pm.cache_get(file, index)?;
        if t.shared {
            let write = access == Access::Write;
            if write {
                pm.cache_mark_dirty(id, index);
            }
            pagetable::write_pte(pm, slot, Pte::leaf(cached, leaf_flags(t.prot, true, write)));
            Ok(FaultKind::File)
        } else if access == Access::Write {
            let copy = match pm.alloc() {
                Ok(copy) => copy,
                Err(e) => {
                    pm.put(cached);
                    return Err(e.into());
                }
            };
            pm.copy_frame(cached, copy);
            pm.put(cached);
            pagetable::write_pte(pm, slot, Pte::leaf(copy, leaf_flags(t.prot, false, true)));
            Ok(FaultKind::FileCow)
        } else {
            pagetable::write_pte(
                pm,
                slot,
                Pte::leaf(cached, leaf_flags(t.prot, false, false)),
            );
            Ok(FaultKind::File)
        }
    }

    /// A write to a present, write-protected page of a writable VMA
    /// (mm/memory.c:do_wp_page()).
    fn write_protect_fault(
        &mut self,
        pm: &mut PhysMem,
        t: &Target,
        va: u64,
        slot: PteSlot,
        pte: Pte,
    ) -> Result<FaultKind, FaultError> {
        let old = pte.frame();
        if t.shared {
            // wp_page_shared(): the page-cache page becomes dirty.
            let (_, id, index) = t
                .file_page(va)
                .expect("write_protect_fault: shared vma without an object");
            assert_eq!(
                pm.page_cache().lookup(id, index).map(|p| p.frame),
                Some(old),
                "write_protect_fault: shared pte at {va:#x} is not the cache page"
            );
            pm.cache_mark_dirty(id, index);
            pagetable::write_pte(pm, slot, pte.with(Pte::W | Pte::D | Pte::A));
            return Ok(FaultKind::SharedWrite);
        }
        let kind = match pm.frame_kind(old) {
            FrameKind::Zero => FaultKind::ZeroFill,
            FrameKind::PageCache => FaultKind::FileCow,
            FrameKind::Anon if pm.refcount(old) == 1 => {
                // wp_page_reuse(): nobody else holds it; no copy, no flush.
                pagetable::write_pte(
                    pm,
                    slot,
                    pte.without(Pte::COW).with(Pte::W | Pte::D | Pte::A),
                );
                return Ok(FaultKind::CowReuse);
            }
            FrameKind::Anon => FaultKind::CowCopy,
            other => panic!("write_protect_fault: pte at {va:#x} maps a {other:?} frame"),
        };
        // wp_page_copy(): our PTE keeps `old` referenced while we allocate.
        let copy = pm.alloc()?;
        if kind != FaultKind::ZeroFill {
            pm.copy_frame(old, copy);
        }
        pagetable::write_pte(pm, slot, Pte::leaf(copy, leaf_flags(t.prot, false, true)));
        pm.put(old);
        self.flush_tlb_page(va);
        Ok(kind)
    }

    /// Faults in every page of `[start, end)` like mm/gup.c:populate_vma_page_range():
    /// a write fault for private writable VMAs (breaking COW up front), a
    /// read (or execute) fault otherwise. Best effort: stops at the first
    /// failure, as MAP_POPULATE ignores errors.
    pub(crate) fn populate(&mut self, pm: &mut PhysMem, start: u64, end: u64) {
        let mut va = start;
        while va < end {
            let Some(vma) = self.vmas.find(va) else {
                return;
            };
            let access = if vma.prot.write && !vma.shared {
                Access::Write
            } else if vma.prot.allows(Access::Read) {
                Access::Read
            } else if vma.prot.exec {
                Access::Execute
            } else {
                va = vma.end;
                continue;
            };
            if self.translate(pm, va, access).is_none()
                && self.handle_fault(pm, va, access).is_err()
            {
                return;
            }
            va += crate::PAGE_SIZE;
        }
    }
}
