//! Swap: a swap area of 4 KiB slots in a host file, per-slot reference
//! counts and a swap cache (mm/swapfile.c, mm/swap_state.c, and
//! mm/memory.c:do_swap_page() for the fault side).
//!
//! A swapped-out page is a non-valid PTE holding its slot ([`Pte::swap`]).
//! A slot's *count* is the number of swap PTEs naming it, plus one while
//! the *swap cache* holds a frame for it (Linux's swap_map with
//! SWAP_HAS_CACHE). The swap cache maps slot → frame and owns one reference
//! on that frame; it is what makes a page shared copy-on-write by several
//! processes go out once and come back as one frame:
//!
//! * swap-out of a PTE whose frame is already in the swap cache only moves
//!   the reference (no I/O); otherwise the frame is written to a new slot and
//!   enters the cache. When the cache's reference is the frame's last, the
//!   frame leaves the cache and is freed: the page is now only on disk.
//! * swap-in of a slot in the cache maps the cached frame; otherwise a frame
//!   is allocated, read, and put in the cache, so the other PTEs naming the
//!   slot find it there. When the last swap PTE is gone (the count is down to
//!   the cache's one), the slot is freed and the frame leaves the cache.
//!
//! A frame in the swap cache is never mapped writable (its copy on disk
//! would go stale): every PTE mapping it is read-only, and a write fault
//! follows the COW rules (the cache's reference makes it shared).
//!
//! The swap file is created in a directory (the host's temp dir) and
//! unlinked at once, so it disappears when cowix exits however it exits.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::address_space::AddressSpace;
use crate::fault::leaf_flags;
use crate::frame::{FrameId, FrameKind, PhysMem};
use crate::pagetable::{self, Pte, PteSlot};
use crate::stats::FaultKind;
use crate::vma::{Access, Prot};
use crate::{FaultError, MmError, PAGE_SIZE};

/// A page-sized slot store behind a swap area.
pub trait SwapDevice: fmt::Debug {
    /// Number of slots.
    fn slots(&self) -> u32;
    /// Reads slot `slot` into `buf`.
    fn read_slot(&mut self, slot: u32, buf: &mut [u8]) -> io::Result<()>;
    /// Writes `buf` (one page) to slot `slot`.
    fn write_slot(&mut self, slot: u32, buf: &[u8]) -> io::Result<()>;
}

/// A swap device in a sparse host file, unlinked as soon as it is created.
#[derive(Debug)]
pub struct SwapFile {
    file: File,
    slots: u32,
}

impl SwapFile {
    /// Creates a sparse swap file of `bytes` (rounded down to pages, at most
    /// 2^32 - 1 slots) in `dir`, and unlinks it at once: the space is
    /// returned to the host when the file is dropped or the process ends,
    /// even by a signal.
    pub fn create(dir: &Path, bytes: u64) -> io::Result<SwapFile> {
        let slots = u32::try_from((bytes / PAGE_SIZE).min(u64::from(u32::MAX - 1)))
            .expect("SwapFile::create: clamped");
        let mut n = 0u32;
        let (file, path) = loop {
            let path = dir.join(format!("cowix-swap-{}-{n}", std::process::id()));
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(f) => break (f, path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e),
            }
        };
        std::fs::remove_file(&path)?;
        file.set_len(u64::from(slots) * PAGE_SIZE)?;
        Ok(SwapFile { file, slots })
    }
}

impl SwapDevice for SwapFile {
    fn slots(&self) -> u32 {
        self.slots
    }

    fn read_slot(&mut self, slot: u32, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, u64::from(slot) * PAGE_SIZE)
    }

    fn write_slot(&mut self, slot: u32, buf: &[u8]) -> io::Result<()> {
        self.file.write_all_at(buf, u64::from(slot) * PAGE_SIZE)
    }
}

/// The swap area: the device, slot counts, free slots and the swap cache.
#[derive(Debug)]
pub(crate) struct SwapArea {
    dev: Box<dyn SwapDevice>,
    /// Per slot: swap PTEs naming it, plus one if the swap cache holds it.
    counts: Vec<u32>,
    /// Free slots (count 0), highest first so the lowest is popped first.
    free: Vec<u32>,
    /// The swap cache: slot → frame (holding one reference on the frame).
    cache: HashMap<u32, FrameId>,
    /// The reverse of `cache`.
    frame_slot: HashMap<FrameId, u32>,
}

/// What [`PhysMem::swap_info`] reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SwapInfo {
    /// Slots in the area (0 without swap).
    pub total_slots: u64,
    /// Slots in use (count > 0).
    pub used_slots: u64,
    /// Frames in the swap cache.
    pub cached_pages: u64,
}

impl PhysMem {
    /// Enables swap on `dev` (replacing no area: panics if one is set, or if
    /// the device has no slots, both kernel bugs).
    pub fn enable_swap(&mut self, dev: Box<dyn SwapDevice>) {
        assert!(self.swap.is_none(), "enable_swap: swap already enabled");
        let slots = dev.slots();
        self.swap = Some(SwapArea {
            dev,
            counts: vec![0; slots as usize],
            free: (0..slots).rev().collect(),
            cache: HashMap::new(),
            frame_slot: HashMap::new(),
        });
        self.sync_swap_stats();
    }

    /// Copies the area's slot and cache counts into the statistics.
    fn sync_swap_stats(&mut self) {
        let info = self.swap_info();
        self.stats.swap_total = info.total_slots;
        self.stats.swap_used = info.used_slots;
        self.stats.swap_cache_frames = info.cached_pages;
    }

    /// Slot usage of the swap area.
    pub fn swap_info(&self) -> SwapInfo {
        match &self.swap {
            None => SwapInfo::default(),
            Some(area) => SwapInfo {
                total_slots: area.counts.len() as u64,
                used_slots: area.counts.len() as u64 - area.free.len() as u64,
                cached_pages: area.cache.len() as u64,
            },
        }
    }

    /// The slot of `frame` if it is in the swap cache.
    pub(crate) fn swap_cache_slot(&self, frame: FrameId) -> Option<u32> {
        self.swap.as_ref()?.frame_slot.get(&frame).copied()
    }

    fn area(&mut self) -> &mut SwapArea {
        self.swap
            .as_mut()
            .expect("swap: a swap entry without a swap area")
    }

    /// One more swap PTE names `slot` (fork: Linux's swap_duplicate()).
    pub(crate) fn swap_dup(&mut self, slot: u32) {
        let count = &mut self.area().counts[slot as usize];
        assert!(*count > 0, "swap_dup: slot {slot} is free");
        *count += 1;
    }

    /// A swap PTE naming `slot` is gone (unmapped, or swapped in: Linux's
    /// swap_free()). When only the swap cache is left holding the slot, the
    /// slot is freed and the frame leaves the cache.
    pub(crate) fn swap_free(&mut self, slot: u32) {
        let area = self.area();
        let count = &mut area.counts[slot as usize];
        assert!(*count > 0, "swap_free: slot {slot} is free");
        *count -= 1;
        let cached = area.cache.get(&slot).copied();
        match (*count, cached) {
            (0, None) => area.free.push(slot),
            (1, Some(frame)) => self.swap_cache_drop(slot, frame),
            _ => {}
        }
        self.sync_swap_stats();
    }

    /// Removes `slot` → `frame` from the swap cache, dropping the cache's
    /// count and frame reference (freeing the slot if nothing else names it).
    fn swap_cache_drop(&mut self, slot: u32, frame: FrameId) {
        let area = self.area();
        area.cache.remove(&slot);
        area.frame_slot.remove(&frame);
        let count = &mut area.counts[slot as usize];
        *count -= 1;
        if *count == 0 {
            area.free.push(slot);
        }
        self.put(frame);
        self.sync_swap_stats();
    }

    /// Drops swap-cache frames nobody maps (their only reference is the
    /// cache's; their slot stays, still named by swap PTEs). Returns how
    /// many frames were freed.
    pub(crate) fn swap_cache_shrink(&mut self) -> u64 {
        let Some(area) = &self.swap else {
            return 0;
        };
        let idle: Vec<(u32, FrameId)> = area
            .cache
            .iter()
            .filter(|(_, &f)| self.refcount(f) == 1)
            .map(|(&s, &f)| (s, f))
            .collect();
        for &(slot, frame) in &idle {
            self.swap_cache_drop(slot, frame);
        }
        idle.len() as u64
    }

    /// Moves one PTE's reference on anonymous `frame` to a swap slot
    /// (Linux's add_to_swap() + try_to_unmap_one() for one PTE): writes the
    /// frame to a new slot unless it is already in the swap cache, and
    /// returns the slot with one count taken for the caller's swap PTE. The
    /// caller still owns its PTE's frame reference and must `put` it after
    /// writing the swap PTE, then call [`swap_out_done`](Self::swap_out_done).
    /// `mapping` (the space's root table and the page's address) goes into
    /// the trace event.
    ///
    /// `Err(OutOfMemory)` if no slot is free or the write failed (nothing
    /// changed).
    pub(crate) fn swap_out_frame(
        &mut self,
        frame: FrameId,
        mapping: (FrameId, u64),
    ) -> Result<u32, MmError> {
        assert_eq!(
            self.frame_kind(frame),
            FrameKind::Anon,
            "swap_out_frame: only anonymous frames go to swap"
        );
        if let Some(slot) = self.swap_cache_slot(frame) {
            self.area().counts[slot as usize] += 1;
            self.trace_event(|_| crate::MemEvent::SwapOut {
                frame,
                slot,
                written: false,
                mapping: Some(mapping),
            });
            return Ok(slot);
        }
        let slot = self.write_to_free_slot(frame, 2)?; // the cache and the caller's PTE
        let area = self.area();
        area.cache.insert(slot, frame);
        area.frame_slot.insert(frame, slot);
        self.get(frame); // the cache's reference
        self.sync_swap_stats();
        self.trace_event(|_| crate::MemEvent::SwapOut {
            frame,
            slot,
            written: true,
            mapping: Some(mapping),
        });
        Ok(slot)
    }

    /// After a swap-out moved a PTE's reference away from `frame`: if the
    /// swap cache now holds its last reference, the frame is freed (the page
    /// lives only in its slot).
    pub(crate) fn swap_out_done(&mut self, frame: FrameId) {
        if let Some(slot) = self.swap_cache_slot(frame) {
            if self.refcount(frame) == 1 {
                self.swap_cache_drop(slot, frame);
            }
        }
    }

    /// The frame holding `slot`'s page, from the swap cache or read in (and
    /// then added to the cache), with one reference taken for the caller.
    /// `Err(OutOfMemory)` if no frame is free, `Err(Bus)` if the read fails;
    /// on error nothing changed.
    fn swap_read(&mut self, slot: u32) -> Result<(FrameId, bool), FaultError> {
        if let Some(&frame) = self.area().cache.get(&slot) {
            self.get(frame);
            return Ok((frame, false));
        }
        let frame = self.alloc()?;
        let mut buf = [0u8; PAGE_SIZE as usize];
        if self.area().dev.read_slot(slot, &mut buf).is_err() {
            self.put(frame);
            return Err(FaultError::Bus);
        }
        *self.bytes_mut(frame) = buf;
        let area = self.area();
        area.cache.insert(slot, frame);
        area.frame_slot.insert(frame, slot);
        area.counts[slot as usize] += 1;
        self.stats.swap_ins += 1;
        self.get(frame);
        self.sync_swap_stats();
        self.trace_event(|_| crate::MemEvent::SwapIn { slot, frame });
        Ok((frame, true))
    }

    /// Every slot with its count and cached frame (for the invariant checker).
    pub(crate) fn swap_slots(&self) -> Vec<(u32, u32, Option<FrameId>)> {
        let Some(area) = &self.swap else {
            return Vec::new();
        };
        let mut free = vec![false; area.counts.len()];
        for &s in &area.free {
            assert!(
                !free[s as usize],
                "swap_slots: slot {s} twice on the free list"
            );
            free[s as usize] = true;
        }
        area.counts
            .iter()
            .enumerate()
            .map(|(s, &count)| {
                assert_eq!(
                    free[s],
                    count == 0,
                    "swap_slots: slot {s} with count {count} free-list state wrong"
                );
                (s as u32, count, area.cache.get(&(s as u32)).copied())
            })
            .collect()
    }
}

impl AddressSpace {
    /// A fault on a swap entry (mm/memory.c:do_swap_page()): the page is
    /// brought back (from the swap cache or the swap area, a major fault)
    /// and mapped. Writable only when this was a write and the page is ours
    /// alone; otherwise read-only (COW in a private writable VMA), and a
    /// write then follows the copy-on-write rules (do_wp_page()).
    ///
    /// On error the swap entry stays, except when the frame for a write's
    /// copy is missing: then the page stays mapped read-only (a retry takes
    /// the COW path).
    pub(crate) fn swap_fault(
        &mut self,
        pm: &mut PhysMem,
        slot: PteSlot,
        pte: Pte,
        prot: Prot,
        access: Access,
    ) -> Result<FaultKind, FaultError> {
        let swap_slot = pte.swap_slot();
        let (frame, _read) = pm.swap_read(swap_slot)?;
        // The PTE now holds `frame` instead of the slot.
        pagetable::write_pte(pm, slot, Pte::leaf(frame, leaf_flags(prot, false, false)));
        pm.swap_free(swap_slot);
        if access == Access::Write {
            let exclusive = pm.refcount(frame) == 1;
            if exclusive {
                pagetable::write_pte(pm, slot, Pte::leaf(frame, leaf_flags(prot, false, true)));
            } else {
                // Still shared (another PTE, or the cache for another swap
                // PTE): copy now, as do_swap_page() → do_wp_page() does.
                let copy = pm.alloc()?;
                pm.copy_frame(frame, copy);
                pagetable::write_pte(pm, slot, Pte::leaf(copy, leaf_flags(prot, false, true)));
                pm.put(frame);
            }
        }
        Ok(FaultKind::SwapIn)
    }

    /// Number of swap entries (pages swapped out) in this address space.
    pub fn swap_pages(&self, pm: &PhysMem) -> u64 {
        pagetable::collect_swap(pm, self.root).len() as u64
    }
}

impl PhysMem {
    /// The number of swap PTEs naming `slot` (Linux's swp_swapcount()):
    /// its count less the swap cache's one.
    pub(crate) fn swap_pte_count(&self, slot: u32) -> u32 {
        let Some(area) = &self.swap else {
            return 0;
        };
        area.counts[slot as usize] - u32::from(area.cache.contains_key(&slot))
    }
}

impl PhysMem {
    /// Whether the swap cache holds a frame for `slot`.
    pub(crate) fn swap_cache_has(&self, slot: u32) -> bool {
        self.swap
            .as_ref()
            .is_some_and(|a| a.cache.contains_key(&slot))
    }

    /// Counts a process killed by the OOM killer in [`MemStats`](crate::MemStats).
    pub fn note_oom_kill(&mut self) {
        self.stats.oom_kills += 1;
    }

    /// Free frames under the cap.
    pub fn free_frames(&self) -> u64 {
        self.stats
            .max_frames
            .saturating_sub(self.stats.frames_in_use)
    }

    /// The low watermark: reclaim should run when [`free_frames`](Self::free_frames)
    /// falls below it (like kswapd waking at the low watermark): 1/64 of
    /// the cap, at least 8 and at most 1024 frames (never above the cap).
    pub fn low_watermark(&self) -> u64 {
        (self.stats.max_frames / 64)
            .clamp(8, 1024)
            .min(self.stats.max_frames / 2)
    }
}

impl PhysMem {
    /// Writes `frame` to a new slot with count 1 (for a holder other than a
    /// PTE: a shared anonymous object's swap record). `Err` if no slot is
    /// free or the write failed (nothing changed).
    pub(crate) fn swap_write_new(&mut self, frame: FrameId) -> Result<u32, MmError> {
        let slot = self.write_to_free_slot(frame, 1)?;
        self.sync_swap_stats();
        self.trace_event(|_| crate::MemEvent::SwapOut {
            frame,
            slot,
            written: true,
            mapping: None,
        });
        Ok(slot)
    }

    /// Takes a free slot, writes `frame`'s bytes to it and gives it `count`
    /// references (mm/swapfile.c: get_swap_pages(), then mm/page_io.c:
    /// swap_writepage()).
    /// `Err(OutOfMemory)` if swap is off, full, or the write failed; the
    /// slot goes back on the free list and nothing changed.
    fn write_to_free_slot(&mut self, frame: FrameId, count: u32) -> Result<u32, MmError> {
        let bytes = *self.bytes(frame);
        let area = self.swap.as_mut().ok_or(MmError::OutOfMemory)?;
        let slot = area.free.pop().ok_or(MmError::OutOfMemory)?;
        if area.dev.write_slot(slot, &bytes).is_err() {
            area.free.push(slot);
            return Err(MmError::OutOfMemory);
        }
        area.counts[slot as usize] = count;
        self.stats.swap_outs += 1;
        Ok(slot)
    }

    /// Reads `slot` into `frame`; false on an I/O error.
    pub(crate) fn swap_read_into(&mut self, slot: u32, frame: FrameId) -> bool {
        let mut buf = [0u8; PAGE_SIZE as usize];
        if self.area().dev.read_slot(slot, &mut buf).is_err() {
            return false;
        }
        *self.bytes_mut(frame) = buf;
        self.stats.swap_ins += 1;
        self.trace_event(|_| crate::MemEvent::SwapIn { slot, frame });
        true
    }
}
