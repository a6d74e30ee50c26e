//! Reclaim: freeing frames when memory runs low (mm/vmscan.c), and the
//! per-process usage the OOM killer ranks by (mm/oom_kill.c:oom_badness()).
//!
//! There is no reverse map (page → PTEs). Reclaim scans the page tables of
//! every address space it is given, like Linux 2.4's swap_out(): the kernel,
//! which owns the process list, calls [`reclaim`] with all of them when a
//! fault ran out of frames or free frames fell below the watermark.
//! A COW-shared page is freed only once every PTE mapping it was visited,
//! which the swap cache makes cheap: the first visit writes it to a slot,
//! the others only move their reference to the same slot.
//!
//! Order (cheapest first, as Linux's LRU lists do roughly):
//! 1. clean page-cache pages nobody maps, and swap-cache frames nobody maps;
//! 2. file pages mapped by PTEs: the PTE is dropped (a later access faults
//!    the page back from the cache or the file); a dirty shared page whose
//!    last mapping went is written back to its file, then dropped;
//! 3. anonymous pages (including private file pages that were written,
//!    which are anonymous now): written to swap; pages of shared anonymous
//!    memory are unmapped and, once nobody maps them, written to swap too
//!    (their object's page-cache entry becomes a swap record, as shmem's).
//!
//! Steps 2 and 3 give a second chance (the clock algorithm): a page whose
//! PTE has the accessed bit loses the bit and is kept on the first pass;
//! the TLB of a space whose bits were cleared is flushed, so that the next
//! access sets the bit again. The second pass takes pages regardless.

use std::rc::Rc;

use crate::address_space::AddressSpace;
use crate::frame::{FrameKind, PhysMem};
use crate::pagetable::{self, Pte};
use crate::vma::{Backing, FileSource};
use crate::{MmError, SHARED_ANON_DEV};

/// Memory use of one address space, in pages (Linux's mm counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MemUsage {
    /// Pages of all VMAs (total-vm).
    pub total_vm: u64,
    /// Present anonymous pages (MM_ANONPAGES; the zero frame excluded).
    pub anon_rss: u64,
    /// Present file pages (MM_FILEPAGES).
    pub file_rss: u64,
    /// Present shared anonymous pages (MM_SHMEMPAGES).
    pub shmem_rss: u64,
    /// Swap entries (MM_SWAPENTS).
    pub swap: u64,
    /// Page-table frames, the root included.
    pub page_tables: u64,
}

impl MemUsage {
    /// mm/oom_kill.c:oom_badness() with oom_score_adj 0: rss + swap entries
    /// + page-table pages.
    pub fn oom_badness(&self) -> u64 {
        self.anon_rss + self.file_rss + self.shmem_rss + self.swap + self.page_tables
    }
}

impl AddressSpace {
    /// This space's memory use, counted from its page tables.
    pub fn usage(&self, pm: &PhysMem) -> MemUsage {
        let (tables, leaves) = pagetable::collect(pm, self.root);
        let mut u = MemUsage {
            total_vm: self.vmas.iter().map(|v| v.len()).sum::<u64>() / crate::PAGE_SIZE,
            swap: pagetable::collect_swap(pm, self.root).len() as u64,
            page_tables: tables.len() as u64,
            ..MemUsage::default()
        };
        for (_, pte) in leaves {
            let frame = pte.frame();
            match pm.frame_kind(frame) {
                FrameKind::Anon => u.anon_rss += 1,
                FrameKind::PageCache => match pm.cache_key(frame) {
                    Some((SHARED_ANON_DEV, _, _)) => u.shmem_rss += 1,
                    _ => u.file_rss += 1,
                },
                _ => {}
            }
        }
        u
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    File,
    Anon,
}

/// Frees at least `want` frames if it can, from the page cache, from file
/// pages mapped in `spaces` and by swapping out their anonymous pages (see
/// the module documentation for the order). Returns the frames freed (may
/// be more or less than `want`). Every TLB that may hold a dropped
/// translation has its address space's generation bumped.
pub fn reclaim(pm: &mut PhysMem, spaces: &mut [&mut AddressSpace], want: u64) -> u64 {
    reclaim_passes(pm, spaces, want, &[true, false])
}

/// [`reclaim`] without the second pass: only pages not referenced since
/// the last scan are taken, so pages in use (those the faulting instruction
/// needs, the text being executed) stay. For background reclaim at the
/// watermark (kswapd), which must never take what the next instruction
/// needs.
pub fn reclaim_cold(pm: &mut PhysMem, spaces: &mut [&mut AddressSpace], want: u64) -> u64 {
    reclaim_passes(pm, spaces, want, &[true])
}

fn reclaim_passes(
    pm: &mut PhysMem,
    spaces: &mut [&mut AddressSpace],
    want: u64,
    passes: &[bool],
) -> u64 {
    pm.stats.reclaim_runs += 1;
    let before = pm.stats.frames_in_use;
    let freed = |pm: &PhysMem| before.saturating_sub(pm.stats.frames_in_use);
    pm.reap_shared_anon();
    while freed(pm) < want && pm.evict_one_clean() {}
    if freed(pm) < want {
        pm.swap_cache_shrink();
    }
    'passes: for &second_chance in passes {
        for phase in [Phase::File, Phase::Anon] {
            for space in spaces.iter_mut() {
                if freed(pm) >= want {
                    break 'passes;
                }
                let target = before.saturating_sub(want);
                space.reclaim_scan(pm, phase, second_chance, target);
            }
        }
    }
    let n = freed(pm);
    pm.stats.reclaimed_frames += n;
    pm.trace_event(|_| crate::MemEvent::Reclaim { freed: n });
    // A page-table page may be reachable from several spaces (a shared
    // leaf table), and a frame freed here may be cached by any of their
    // TLBs: every space flushes (reclaim is rare, a refill is cheap).
    if n > 0 {
        for space in spaces.iter_mut() {
            space.flush_tlb();
        }
    }
    n
}

/// What the scan needs of a VMA (copied, so the VMA set is not borrowed).
struct ScanVma {
    start: u64,
    end: u64,
    shared: bool,
    file: Option<(Rc<dyn FileSource>, u64)>,
}

impl AddressSpace {
    /// One scan of this space for `phase`, stopping once `frames_in_use`
    /// is at most `target`.
    fn reclaim_scan(&mut self, pm: &mut PhysMem, phase: Phase, second_chance: bool, target: u64) {
        if phase == Phase::Anon && pm.swap.is_none() {
            return;
        }
        let vmas: Vec<ScanVma> = self
            .vmas
            .iter()
            .filter(|v| !v.prot.is_none())
            .map(|v| ScanVma {
                start: v.start,
                end: v.end,
                shared: v.shared,
                file: match &v.backing {
                    Backing::Anonymous => None,
                    Backing::File { file, offset } => Some((file.clone(), *offset)),
                },
            })
            .collect();
        let mut flush = false;
        for vma in vmas {
            if pm.stats.frames_in_use <= target {
                break;
            }
            let shared_anon = vma
                .file
                .as_ref()
                .is_some_and(|(f, _)| f.id().0 == SHARED_ANON_DEV);
            let wanted_vma = match phase {
                Phase::File => vma.file.is_some() && !shared_anon,
                Phase::Anon => !vma.shared || shared_anon,
            };
            if !wanted_vma {
                continue;
            }
            let root = self.root;
            let result =
                pagetable::for_each_leaf(pm, root, vma.start, vma.end, &mut |pm, va, slot, pte| {
                    if pm.stats.frames_in_use <= target {
                        return Err(MmError::Exists); // done: stop the walk
                    }
                    if !pte.is_leaf() {
                        return Ok(());
                    }
                    let frame = pte.frame();
                    let kind = pm.frame_kind(frame);
                    let wanted = match phase {
                        Phase::File => kind == FrameKind::PageCache,
                        Phase::Anon if shared_anon => kind == FrameKind::PageCache,
                        Phase::Anon => kind == FrameKind::Anon,
                    };
                    if !wanted {
                        return Ok(());
                    }
                    if second_chance && pte.has(Pte::A) {
                        pagetable::write_pte(pm, slot, pte.without(Pte::A));
                        flush = true;
                        return Ok(());
                    }
                    match phase {
                        Phase::Anon if shared_anon => {
                            // mm/shmem.c: the page goes to swap once unmapped everywhere.
                            pagetable::write_pte(pm, slot, Pte::EMPTY);
                            pm.put(frame);
                            flush = true;
                            let (file, offset) = vma.file.as_ref().expect("reclaim: shmem vma");
                            let index = (offset + (va - vma.start)) / crate::PAGE_SIZE;
                            let (dev, ino) = file.id();
                            pm.shmem_swap_out((dev, ino, index));
                            Ok(())
                        }
                        Phase::File => {
                            pagetable::write_pte(pm, slot, Pte::EMPTY);
                            pm.put(frame);
                            flush = true;
                            let (file, offset) = vma.file.as_ref().expect("reclaim: file vma");
                            let index = (offset + (va - vma.start)) / crate::PAGE_SIZE;
                            if vma.shared {
                                let _ = pm.writeback_page(&**file, index, 0);
                            }
                            let (dev, ino) = file.id();
                            pm.evict_if_idle((dev, ino, index));
                            Ok(())
                        }
                        Phase::Anon => match pm.swap_out_frame(frame, (root, va)) {
                            Ok(swap_slot) => {
                                pagetable::write_pte(pm, slot, Pte::swap(swap_slot));
                                pm.put(frame);
                                pm.swap_out_done(frame);
                                flush = true;
                                Ok(())
                            }
                            Err(e) => Err(e), // swap full: stop
                        },
                    }
                });
            if result.is_err() {
                break;
            }
        }
        if flush {
            self.flush_tlb();
        }
    }
}
