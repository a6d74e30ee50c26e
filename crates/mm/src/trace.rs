//! Memory events for `--trace` and page-state snapshots for `cowix report`.
//!
//! Tracing is off unless [`PhysMem::enable_trace`] is called; then the
//! fault handler, swap and reclaim append a [`MemEvent`] to a buffer in
//! [`PhysMem`] that the kernel drains ([`PhysMem::take_trace_events`]) and
//! tags with the pid and instruction count it alone knows. When off, the
//! cost is one test of an `Option` per fault and no allocation.
//!
//! [`AddressSpace::page_runs`] summarises a space's resident and swapped
//! pages as runs of one [`PageState`] (what /proc/PID/pagemap and
//! /proc/kpagecount would tell, fs/proc/task_mmu.c:pagemap_pmd_range()).

use crate::address_space::AddressSpace;
use crate::frame::{FrameId, FrameKind, PhysMem};
use crate::pagetable;
use crate::stats::FaultKind;
use crate::{Vma, VmaName, PAGE_SIZE};

/// One memory event (the kernel adds pid, time and sequence number).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemEvent {
    /// A fault resolved as `kind` at `addr`, in the VMA `[vma_start,
    /// vma_end)` named `vma_name`. `before`/`after` are the frame the page
    /// mapped before and after (if any) with that frame's refcount at the
    /// time.
    Fault {
        addr: u64,
        kind: FaultKind,
        vma_start: u64,
        vma_end: u64,
        vma_name: String,
        before: Option<(FrameId, u32)>,
        after: Option<(FrameId, u32)>,
    },
    /// A page of anonymous `frame` moved to swap slot `slot`: `written` if
    /// this wrote it (a new slot; counted in `swap_outs`), not if the frame
    /// was already in the swap cache (another mapping of a COW-shared page
    /// went first). `mapping` is the PTE that now names the slot: the root
    /// page table of its address space ([`AddressSpace::root`], unique
    /// among live spaces, which the kernel maps to a process) and the
    /// page's virtual address; `None` for a page of shared anonymous
    /// memory, written once its last mapping went (mm/shmem.c).
    SwapOut {
        frame: FrameId,
        slot: u32,
        written: bool,
        mapping: Option<(FrameId, u64)>,
    },
    /// Swap slot `slot` read back into `frame` (a swap-cache hit is not
    /// an event: nothing was read).
    SwapIn { slot: u32, frame: FrameId },
    /// A reclaim run freed `freed` frames.
    Reclaim { freed: u64 },
}

/// The state of one page in a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageState {
    /// An anonymous frame mapped once.
    Private,
    /// An anonymous frame with several references (copy-on-write shared
    /// after fork, or a shared anonymous page).
    Shared,
    /// The shared zero frame.
    Zero,
    /// A page-cache frame (file-backed, or shared anonymous memory).
    File,
    /// A swap entry.
    Swapped,
}

impl PageState {
    /// The name used in trace files.
    pub fn name(self) -> &'static str {
        match self {
            PageState::Private => "private",
            PageState::Shared => "cow",
            PageState::Zero => "zero",
            PageState::File => "file",
            PageState::Swapped => "swap",
        }
    }
}

/// `count` pages from `start` in one state: frames `frame, frame+1, ...`
/// (the swap slots for `Swapped`), each with refcount `refs` (the
/// first page's refcount for a run of several).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRun {
    pub start: u64,
    pub count: u64,
    pub state: PageState,
    pub frame: u32,
    pub refs: u32,
}

impl PhysMem {
    /// Starts recording [`MemEvent`]s (idempotent).
    pub fn enable_trace(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }

    /// True if events are being recorded.
    pub fn tracing(&self) -> bool {
        self.trace.is_some()
    }

    /// The events recorded since the last call (empty when tracing is off).
    pub fn take_trace_events(&mut self) -> Vec<MemEvent> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Records `event` if tracing; `make` runs only then.
    pub(crate) fn trace_event(&mut self, make: impl FnOnce(&PhysMem) -> MemEvent) {
        if self.trace.is_some() {
            let event = make(self);
            if let Some(buf) = self.trace.as_mut() {
                buf.push(event);
            }
        }
    }
}

/// The name of a VMA as /proc/PID/maps prints it ("" for anonymous).
pub(crate) fn vma_label(vma: &Vma) -> String {
    match &vma.name {
        VmaName::Anonymous => String::new(),
        VmaName::Heap => "[heap]".into(),
        VmaName::Stack => "[stack]".into(),
        VmaName::Path(p) => p.clone(),
    }
}

/// Leaf tables cover 2 MiB: a missing one is skipped whole.
const LEAF_SPAN: u64 = 512 * PAGE_SIZE;

impl AddressSpace {
    /// The frame the PTE for `va` maps (present or PROT_NONE), and its refcount.
    pub(crate) fn mapped_frame(&self, pm: &PhysMem, va: u64) -> Option<(FrameId, u32)> {
        let pte = pagetable::read_pte(pm, pagetable::walk(pm, self.root, va)?);
        pte.is_present()
            .then(|| (pte.frame(), pm.refcount(pte.frame())))
    }

    /// The space's resident and swapped pages as runs, lowest address
    /// first, at most `max_runs` of them (the rest dropped; the second
    /// value says whether any were). Untouched pages are not in any run.
    pub fn page_runs(&self, pm: &PhysMem, max_runs: usize) -> (Vec<PageRun>, bool) {
        let mut runs: Vec<PageRun> = Vec::new();
        for vma in self.vmas.iter() {
            let mut va = vma.start;
            while va < vma.end {
                let Some(slot) = pagetable::walk(pm, self.root, va) else {
                    va = ((va / LEAF_SPAN) + 1) * LEAF_SPAN;
                    continue;
                };
                let pte = pagetable::read_pte(pm, slot);
                let page = if pte.is_swap() {
                    Some((PageState::Swapped, pte.swap_slot(), 1))
                } else if pte.is_present() {
                    let frame = pte.frame();
                    let refs = pm.refcount(frame);
                    let state = match pm.frame_kind(frame) {
                        FrameKind::Zero => PageState::Zero,
                        FrameKind::PageCache => PageState::File,
                        _ if refs > 1 => PageState::Shared,
                        _ => PageState::Private,
                    };
                    Some((state, frame.index(), refs))
                } else {
                    None
                };
                if let Some((state, frame, refs)) = page {
                    let extends = runs.last().is_some_and(|r| {
                        r.state == state
                            && r.start + r.count * PAGE_SIZE == va
                            && r.refs == refs
                            && (state == PageState::Zero
                                || u64::from(r.frame) + r.count == u64::from(frame))
                    });
                    if extends {
                        runs.last_mut().expect("page_runs: last").count += 1;
                    } else if runs.len() == max_runs {
                        return (runs, true);
                    } else {
                        runs.push(PageRun {
                            start: va,
                            count: 1,
                            state,
                            frame,
                            refs,
                        });
                    }
                }
                va += PAGE_SIZE;
            }
        }
        (runs, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Access, ForkMode, MapFlags, Prot};

    fn space_with_pages(pm: &mut PhysMem) -> (AddressSpace, u64) {
        let mut mm = AddressSpace::new(pm).unwrap();
        let addr = mm
            .mmap(
                pm,
                0,
                4 * PAGE_SIZE,
                Prot::READ_WRITE,
                MapFlags::default(),
                crate::Backing::Anonymous,
                VmaName::Anonymous,
            )
            .unwrap();
        (mm, addr)
    }

    #[test]
    fn no_events_are_kept_while_tracing_is_off() {
        let mut pm = PhysMem::new(64);
        let (mut mm, addr) = space_with_pages(&mut pm);
        mm.handle_fault(&mut pm, addr, Access::Write).unwrap();
        assert!(!pm.tracing());
        assert!(pm.take_trace_events().is_empty());
    }

    #[test]
    fn a_cow_copy_after_fork_is_traced_with_refcounts() {
        let mut pm = PhysMem::new(64);
        let (mut parent, addr) = space_with_pages(&mut pm);
        parent.handle_fault(&mut pm, addr, Access::Write).unwrap();
        let mut child = parent.fork(&mut pm, ForkMode::Cow).unwrap();
        pm.enable_trace();
        let kind = child.handle_fault(&mut pm, addr, Access::Write).unwrap();
        assert_eq!(kind, FaultKind::CowCopy);
        let events = pm.take_trace_events();
        assert_eq!(events.len(), 1);
        let MemEvent::Fault {
            before,
            after,
            vma_start,
            ..
        } = &events[0]
        else {
            panic!("not a fault: {events:?}");
        };
        assert_eq!(*vma_start, addr);
        let (old, old_refs) = before.unwrap();
        let (new, new_refs) = after.unwrap();
        assert_eq!(old_refs, 2, "shared by parent and child before the copy");
        assert_ne!(old, new);
        assert_eq!(new_refs, 1);
        assert!(pm.take_trace_events().is_empty(), "drained");
        child.release(&mut pm);
        parent.release(&mut pm);
    }

    #[test]
    fn page_runs_tell_private_shared_and_zero_pages_apart() {
        let mut pm = PhysMem::new(64);
        let (mut mm, addr) = space_with_pages(&mut pm);
        mm.handle_fault(&mut pm, addr, Access::Write).unwrap();
        mm.handle_fault(&mut pm, addr + PAGE_SIZE, Access::Read)
            .unwrap();
        mm.handle_fault(&mut pm, addr + 2 * PAGE_SIZE, Access::Read)
            .unwrap();
        let (runs, cut) = mm.page_runs(&pm, 100);
        assert!(!cut);
        let states: Vec<_> = runs.iter().map(|r| (r.state, r.count)).collect();
        assert_eq!(states, [(PageState::Private, 1), (PageState::Zero, 2)]);
        let child = mm.fork(&mut pm, ForkMode::Cow).unwrap();
        let (runs, _) = child.page_runs(&pm, 100);
        assert_eq!(runs[0].state, PageState::Shared);
        assert_eq!(runs[0].refs, 2);
        let (runs, cut) = child.page_runs(&pm, 1);
        assert_eq!(runs.len(), 1);
        assert!(cut);
        child.release(&mut pm);
        mm.release(&mut pm);
    }
}
