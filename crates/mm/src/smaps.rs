//! /proc/PID/smaps accounting computed from the real frames
//! (fs/proc/task_mmu.c: smaps_pte_entry(), smaps_account(),
//! smaps_pte_hole() for swap).
//!
//! For each present page of a VMA (the zero frame excluded: Linux's
//! vm_normal_page() does not count it), its *map count* is the number of
//! PTEs mapping its frame: the frame's refcount less the page cache's
//! reference (for a page-cache frame) and the swap cache's (for a frame in
//! the swap cache). Under a share-tables fork a frame's reference from a
//! leaf table stands for every space sharing that table: the table this
//! PTE is in counts for its share count, each other table for one (exact
//! unless several shared tables map the frame). A page mapped once is private, else shared; its Pss
//! share is its size divided by the map count. Dirty is the PTE's D bit,
//! the page-cache page's dirty flag, or an anonymous page not in the swap
//! cache (its only copy is the frame). For a swap entry, Swap counts the page
//! and SwapPss divides it by the number of swap PTEs naming its slot.
//!
//! All quantities are in bytes. Pss values are accumulated with 12 bits of
//! fraction (Linux's PSS_SHIFT) and rounded down once at the end.

use crate::address_space::AddressSpace;
use crate::frame::{FrameKind, PhysMem};
use crate::pagetable::{self, Pte};
use crate::vma::Vma;
use crate::{PAGE_SIZE, SHARED_ANON_DEV};

const PSS_SHIFT: u32 = 12;

/// One VMA's smaps counters (or their sum over all VMAs: the rollup), in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SmapsCounts {
    /// Size: the VMA's length.
    pub size: u64,
    /// Rss: present pages (not the zero frame).
    pub rss: u64,
    /// Pss: each present page's size divided by its map count.
    pub pss: u64,
    /// Pss_Dirty: the Pss of dirty pages.
    pub pss_dirty: u64,
    /// Pss_Anon / Pss_File / Pss_Shmem: the Pss of anonymous, file and
    /// shared anonymous pages.
    pub pss_anon: u64,
    pub pss_file: u64,
    pub pss_shmem: u64,
    /// Shared_Clean / Shared_Dirty: pages mapped more than once.
    pub shared_clean: u64,
    pub shared_dirty: u64,
    /// Private_Clean / Private_Dirty: pages mapped once.
    pub private_clean: u64,
    pub private_dirty: u64,
    /// Referenced: pages whose PTE has the accessed bit.
    pub referenced: u64,
    /// Anonymous: present anonymous pages (not page-cache pages).
    pub anonymous: u64,
    /// Swap: swapped-out pages.
    pub swap: u64,
    /// SwapPss: each swapped page divided by the swap PTEs naming its slot.
    pub swap_pss: u64,
}

/// The same counters with Pss still in fixed point.
#[derive(Default)]
struct Acc {
    c: SmapsCounts,
    pss: u64,
    pss_dirty: u64,
    pss_anon: u64,
    pss_file: u64,
    pss_shmem: u64,
    swap_pss: u64,
}

impl Acc {
    /// A present page, mapped from a leaf table that `sharers` address
    /// spaces share (1 unless a share-tables fork shares it).
    fn page(&mut self, pm: &PhysMem, pte: Pte, sharers: u64) {
        let frame = pte.frame();
        let kind = pm.frame_kind(frame);
        if kind == FrameKind::Zero {
            return;
        }
        let cache_key = (kind == FrameKind::PageCache)
            .then(|| pm.cache_key(frame))
            .flatten();
        let cached_dirty = cache_key
            .and_then(|(dev, ino, index)| pm.page_cache().lookup((dev, ino), index))
            .is_some_and(|p| p.dirty);
        let mut mapcount = pm.refcount(frame);
        if cache_key.is_some() {
            mapcount -= 1;
        }
        let in_swap_cache = pm.swap_cache_slot(frame).is_some();
        if in_swap_cache {
            mapcount -= 1;
        }
        // The frame's references count tables: this one stands for
        // `sharers` spaces, every other one (assumed unshared) for one.
        let mapcount = u64::from(mapcount.max(1)) - 1 + sharers;
        // An anonymous page has no copy anywhere unless the swap cache's
        // slot holds one: Linux keeps such folios dirty.
        let dirty = pte.has(Pte::D) || cached_dirty || (kind == FrameKind::Anon && !in_swap_cache);
        let size = PAGE_SIZE;
        self.c.rss += size;
        if pte.has(Pte::A) {
            self.c.referenced += size;
        }
        if kind == FrameKind::Anon {
            self.c.anonymous += size;
        }
        let share = (size << PSS_SHIFT) / mapcount;
        self.pss += share;
        if dirty {
            self.pss_dirty += share;
        }
        match (kind, cache_key) {
            (FrameKind::Anon, _) => self.pss_anon += share,
            (_, Some((SHARED_ANON_DEV, _, _))) => self.pss_shmem += share,
            _ => self.pss_file += share,
        }
        match (mapcount >= 2, dirty) {
            (true, true) => self.c.shared_dirty += size,
            (true, false) => self.c.shared_clean += size,
            (false, true) => self.c.private_dirty += size,
            (false, false) => self.c.private_clean += size,
        }
    }

    fn swap_entry(&mut self, pm: &PhysMem, pte: Pte, sharers: u64) {
        self.c.swap += PAGE_SIZE;
        let count = u64::from(pm.swap_pte_count(pte.swap_slot()).max(1)) - 1 + sharers;
        self.swap_pss += (PAGE_SIZE << PSS_SHIFT) / count;
    }

    fn finish(self) -> SmapsCounts {
        SmapsCounts {
            pss: self.pss >> PSS_SHIFT,
            pss_dirty: self.pss_dirty >> PSS_SHIFT,
            pss_anon: self.pss_anon >> PSS_SHIFT,
            pss_file: self.pss_file >> PSS_SHIFT,
            pss_shmem: self.pss_shmem >> PSS_SHIFT,
            swap_pss: self.swap_pss >> PSS_SHIFT,
            ..self.c
        }
    }

    fn add(&mut self, o: &Acc) {
        let (a, b) = (&mut self.c, &o.c);
        a.size += b.size;
        a.rss += b.rss;
        a.shared_clean += b.shared_clean;
        a.shared_dirty += b.shared_dirty;
        a.private_clean += b.private_clean;
        a.private_dirty += b.private_dirty;
        a.referenced += b.referenced;
        a.anonymous += b.anonymous;
        a.swap += b.swap;
        self.pss += o.pss;
        self.pss_dirty += o.pss_dirty;
        self.pss_anon += o.pss_anon;
        self.pss_file += o.pss_file;
        self.pss_shmem += o.pss_shmem;
        self.swap_pss += o.swap_pss;
    }
}

impl AddressSpace {
    fn smaps_acc(&self, pm: &PhysMem) -> Vec<(Vma, Acc)> {
        let mut out: Vec<(Vma, Acc)> = self
            .vmas
            .iter()
            .map(|v| {
                let acc = Acc {
                    c: SmapsCounts {
                        size: v.len(),
                        ..SmapsCounts::default()
                    },
                    ..Acc::default()
                };
                (v.clone(), acc)
            })
            .collect();
        let index_of = |out: &[(Vma, Acc)], va: u64| out.partition_point(|(v, _)| v.end <= va);
        let (_, leaf_tables) = pagetable::collect_tables(pm, self.root);
        for (base, table) in leaf_tables {
            let sharers = u64::from(pm.refcount(table));
            for (n, pte) in pagetable::read_table(pm, table).into_iter().enumerate() {
                let va = base + n as u64 * PAGE_SIZE;
                if !pte.is_present() && !pte.is_swap() {
                    continue;
                }
                let i = index_of(&out, va);
                if i < out.len() && out[i].0.contains(va) {
                    if pte.is_swap() {
                        out[i].1.swap_entry(pm, pte, sharers);
                    } else {
                        out[i].1.page(pm, pte, sharers);
                    }
                }
            }
        }
        out
    }

    /// Per VMA, in address order, the smaps counters computed from the page
    /// tables and frames (see the module documentation for how map counts
    /// and Pss are derived). For `/proc/PID/smaps`.
    pub fn smaps(&self, pm: &PhysMem) -> Vec<(Vma, SmapsCounts)> {
        self.smaps_acc(pm)
            .into_iter()
            .map(|(v, a)| (v, a.finish()))
            .collect()
    }

    /// The sum over all VMAs (`/proc/PID/smaps_rollup`; Pss summed before
    /// rounding, as Linux does).
    pub fn smaps_rollup(&self, pm: &PhysMem) -> SmapsCounts {
        let mut total = Acc::default();
        for (_, a) in self.smaps_acc(pm) {
            total.add(&a);
        }
        total.finish()
    }
}
