//! The page cache: file pages keyed by (file id, page index), one frame each,
//! shared by every mapping of that file in every address space.
//!
//! The cache holds one reference on each of its frames; each PTE mapping a
//! cached page holds another. A page is *dirty* once a shared mapping was
//! given write access to it; it is written back to its file by msync,
//! munmap, exit or reclaim (`writeback.rs`) and never dropped while dirty.
//! A clean page nobody maps (refcount 1) may be evicted when the frame pool
//! is full: it can be read again from the file.
//!
//! Shared anonymous memory (`MAP_SHARED | MAP_ANONYMOUS`) is backed the way
//! Linux backs it (mm/shmem.c:shmem_zero_setup()): by an anonymous in-memory
//! object whose pages live in this cache under [`SHARED_ANON_DEV`], so that
//! every process sharing the mapping after fork sees the same frames, even
//! for pages first touched after the fork. Its pages are dropped when the last
//! reference to the object goes away.

use std::collections::BTreeMap;
use std::io;
use std::ops::Bound;
use std::rc::{Rc, Weak};

use crate::frame::{FrameId, FrameKind, PhysMem};
use crate::vma::FileSource;
use crate::{FaultError, PAGE_SIZE};

/// (device, inode, page index): the identity of a cached page.
pub(crate) type PageKey = (u64, u64, u64);

/// The device number under which shared anonymous memory objects are cached.
/// The kernel must not give real files this device number.
pub const SHARED_ANON_DEV: u64 = u64::MAX;

/// One page of the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CachedPage {
    /// The frame holding the page (the cache owns one reference to it).
    pub frame: FrameId,
    /// Written through a shared mapping since it was read from the file.
    pub dirty: bool,
}

/// The set of cached pages. Reached through [`PhysMem::page_cache`]; changed
/// only by the fault handler and the eviction paths of this crate.
#[derive(Debug, Default)]
pub struct PageCache {
    pages: BTreeMap<PageKey, CachedPage>,
    /// Where the last eviction scan stopped (a clock hand over the keys).
    hand: Option<PageKey>,
    /// Live shared anonymous objects, to drop their pages once unreferenced.
    shared_anon: Vec<(u64, Weak<SharedAnon>)>,
    next_shared_anon: u64,
    /// Pages of shared anonymous objects that reclaim wrote to swap: key →
    /// slot, each holding one count of its slot (Linux keeps shmem's swap
    /// entries in the mapping's page cache xarray the same way).
    swapped: BTreeMap<PageKey, u32>,
}

impl PageCache {
    /// The cached page `index` of the file with id `file`, if present.
    pub fn lookup(&self, file: (u64, u64), index: u64) -> Option<CachedPage> {
        self.pages.get(&(file.0, file.1, index)).copied()
    }

    pub(crate) fn lookup_key(&self, key: PageKey) -> Option<CachedPage> {
        self.pages.get(&key).copied()
    }

    /// Number of cached pages.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// True if nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// The cached pages of `file` with index in `[first, last]`.
    pub(crate) fn file_pages(
        &self,
        file: (u64, u64),
        first: u64,
        last: u64,
    ) -> Vec<(u64, CachedPage)> {
        self.pages
            .range((file.0, file.1, first)..=(file.0, file.1, last))
            .map(|(&(_, _, index), &page)| (index, page))
            .collect()
    }

    pub(crate) fn page_mut(&mut self, key: PageKey) -> Option<&mut CachedPage> {
        self.pages.get_mut(&key)
    }

    /// Every swapped-out shared anonymous page as (key, slot).
    pub(crate) fn swapped(&self) -> impl Iterator<Item = (PageKey, u32)> + '_ {
        self.swapped.iter().map(|(&k, &s)| (k, s))
    }

    /// Every cached page as (file id, page index, page), in key order.
    pub fn pages(&self) -> impl Iterator<Item = ((u64, u64), u64, CachedPage)> + '_ {
        self.pages
            .iter()
            .map(|(&(dev, ino, index), &page)| ((dev, ino), index, page))
    }
}

/// The object behind a shared anonymous mapping: reads as zeros, `len` long.
#[derive(Debug)]
pub(crate) struct SharedAnon {
    id: u64,
    len: u64,
}

impl FileSource for SharedAnon {
    fn id(&self) -> (u64, u64) {
        (SHARED_ANON_DEV, self.id)
    }

    fn read_at(&self, _offset: u64, _buf: &mut [u8]) -> io::Result<usize> {
        Ok(0) // the caller's zero-filled frame is the content
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.len)
    }
}

impl PhysMem {
    /// The page cache (read-only view).
    pub fn page_cache(&self) -> &PageCache {
        &self.cache
    }

    /// Finds page `index` of `file` in the cache, reading it in on a miss, and
    /// returns its frame with one extra reference taken for the caller (who
    /// moves it into a PTE or `put`s it).
    ///
    /// Errors: `Bus` if the page lies wholly beyond end of file or reading
    /// fails (mm/filemap.c:filemap_fault() → VM_FAULT_SIGBUS); `OutOfMemory`
    /// if no frame is free. On error nothing changed.
    pub(crate) fn cache_get(
        &mut self,
        file: &dyn FileSource,
        index: u64,
    ) -> Result<FrameId, FaultError> {
        let (dev, ino) = file.id();
        let key = (dev, ino, index);
        if let Some(page) = self.cache.pages.get(&key) {
            let frame = page.frame;
            self.get(frame);
            return Ok(frame);
        }
        if let Some(&slot) = self.cache.swapped.get(&key) {
            return self.shmem_swap_in(key, slot);
        }
        let len = file.len().map_err(|_| FaultError::Bus)?;
        let offset = index.checked_mul(PAGE_SIZE).ok_or(FaultError::Bus)?;
        if offset >= len {
            return Err(FaultError::Bus);
        }
        let frame = self.alloc_kind(FrameKind::PageCache)?;
        let want = (len - offset).min(PAGE_SIZE) as usize;
        let mut filled = 0;
        while filled < want {
            match file.read_at(
                offset + filled as u64,
                &mut self.bytes_mut(frame)[filled..want],
            ) {
                Ok(0) => break, // end of file: the rest stays zero
                Ok(n) => filled += n.min(want - filled),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.put(frame);
                    return Err(FaultError::Bus);
                }
            }
        }
        self.cache.pages.insert(
            key,
            CachedPage {
                frame,
                dirty: false,
            },
        );
        self.set_cache_key(frame, Some(key));
        self.get(frame);
        Ok(frame)
    }

    /// Marks a cached page dirty. Panics if it is not cached (the caller maps
    /// it, so the cache must hold it).
    pub(crate) fn cache_mark_dirty(&mut self, file: (u64, u64), index: u64) {
        match self.cache.pages.get_mut(&(file.0, file.1, index)) {
            Some(page) => page.dirty = true,
            None => panic!("cache_mark_dirty: page {index} of {file:?} is not cached"),
        }
    }

    /// Evicts one clean page nobody maps, scanning from the clock hand.
    /// Returns false if there is none.
    pub(crate) fn evict_one_clean(&mut self) -> bool {
        let victim = {
            let this = &*self;
            let evictable =
                |(_, page): &(&PageKey, &CachedPage)| !page.dirty && this.refcount(page.frame) == 1;
            let after = this.cache.hand.map_or(Bound::Unbounded, Bound::Excluded);
            this.cache
                .pages
                .range((after, Bound::Unbounded))
                .find(evictable)
                .or_else(|| this.cache.pages.iter().find(evictable))
                .map(|(key, page)| (*key, page.frame))
        };
        let Some((key, frame)) = victim else {
            return false;
        };
        self.cache.pages.remove(&key);
        self.cache.hand = Some(key);
        self.set_cache_key(frame, None);
        self.put(frame);
        self.stats.page_cache_evictions += 1;
        true
    }

    /// Evicts the cached page `key` if it is clean and nobody maps it
    /// (refcount 1, the cache's own). Returns whether it did.
    pub(crate) fn evict_if_idle(&mut self, key: PageKey) -> bool {
        let Some(page) = self.cache.pages.get(&key).copied() else {
            return false;
        };
        if page.dirty || self.refcount(page.frame) != 1 {
            return false;
        }
        self.cache.pages.remove(&key);
        self.set_cache_key(page.frame, None);
        self.put(page.frame);
        self.stats.page_cache_evictions += 1;
        true
    }

    /// Drops every clean cached page nobody maps (like writing 1 to
    /// `/proc/sys/vm/drop_caches`). Returns how many were dropped.
    pub fn drop_clean_cache(&mut self) -> u64 {
        let mut dropped = 0;
        while self.evict_one_clean() {
            dropped += 1;
        }
        dropped
    }

    /// Drops the clean, unmapped cached pages of one file, e.g. after the
    /// kernel changed the file through `write`. Mapped or dirty pages stay
    /// (coherence between `write` and shared mappings is a later issue).
    /// Returns how many were dropped.
    pub fn invalidate_file(&mut self, file: (u64, u64)) -> u64 {
        let range = (file.0, file.1, 0)..=(file.0, file.1, u64::MAX);
        let victims: Vec<(PageKey, FrameId)> = self
            .cache
            .pages
            .range(range)
            .filter(|(_, page)| !page.dirty && self.refcount(page.frame) == 1)
            .map(|(key, page)| (*key, page.frame))
            .collect();
        for &(key, frame) in &victims {
            self.cache.pages.remove(&key);
            self.set_cache_key(frame, None);
            self.put(frame);
        }
        victims.len() as u64
    }

    /// A new shared anonymous memory object of `len` bytes.
    pub(crate) fn new_shared_anon(&mut self, len: u64) -> Rc<dyn FileSource> {
        let id = self.cache.next_shared_anon;
        self.cache.next_shared_anon += 1;
        let object = Rc::new(SharedAnon { id, len });
        self.cache.shared_anon.push((id, Rc::downgrade(&object)));
        object
    }

    /// Drops the cached pages of shared anonymous objects nobody references
    /// any more (their last mapping was unmapped). Called after unmapping.
    pub(crate) fn reap_shared_anon(&mut self) {
        let dead: Vec<u64> = self
            .cache
            .shared_anon
            .iter()
            .filter(|(_, w)| w.strong_count() == 0)
            .map(|&(id, _)| id)
            .collect();
        if dead.is_empty() {
            return;
        }
        self.cache.shared_anon.retain(|(_, w)| w.strong_count() > 0);
        for id in dead {
            let keys: Vec<PageKey> = self
                .cache
                .pages
                .range((SHARED_ANON_DEV, id, 0)..=(SHARED_ANON_DEV, id, u64::MAX))
                .map(|(key, _)| *key)
                .collect();
            for key in keys {
                let page = self
                    .cache
                    .pages
                    .remove(&key)
                    .expect("reap_shared_anon: key vanished");
                self.set_cache_key(page.frame, None);
                self.put(page.frame);
            }
            let swapped: Vec<(PageKey, u32)> = self
                .cache
                .swapped
                .range((SHARED_ANON_DEV, id, 0)..=(SHARED_ANON_DEV, id, u64::MAX))
                .map(|(&k, &s)| (k, s))
                .collect();
            for (key, slot) in swapped {
                self.cache.swapped.remove(&key);
                self.swap_free(slot);
            }
        }
    }
}

impl PhysMem {
    /// Writes the shared anonymous page `key` to swap if nobody maps it
    /// (refcount 1, the cache's): the cache entry becomes a swap record and
    /// the frame is freed (mm/shmem.c:shmem_writeout()). Returns whether it
    /// did; false when mapped, absent, or swap is full or absent.
    pub(crate) fn shmem_swap_out(&mut self, key: PageKey) -> bool {
        debug_assert_eq!(key.0, SHARED_ANON_DEV, "shmem_swap_out: not shmem");
        let Some(page) = self.cache.pages.get(&key).copied() else {
            return false;
        };
        if self.refcount(page.frame) != 1 {
            return false;
        }
        let Ok(slot) = self.swap_write_new(page.frame) else {
            return false;
        };
        self.cache.pages.remove(&key);
        self.cache.swapped.insert(key, slot);
        self.set_cache_key(page.frame, None);
        self.put(page.frame);
        true
    }

    /// Brings a swapped shared anonymous page back into the cache (dirty:
    /// its only copy is the frame now) and frees its slot; returns the
    /// frame with a reference for the caller. `OutOfMemory` or `Bus` (read
    /// error) leave the swap record as it was.
    fn shmem_swap_in(&mut self, key: PageKey, slot: u32) -> Result<FrameId, FaultError> {
        let frame = self.alloc_kind(FrameKind::PageCache)?;
        if !self.swap_read_into(slot, frame) {
            self.put(frame);
            return Err(FaultError::Bus);
        }
        self.cache.swapped.remove(&key);
        self.swap_free(slot);
        self.cache
            .pages
            .insert(key, CachedPage { frame, dirty: true });
        self.set_cache_key(frame, Some(key));
        self.get(frame);
        Ok(frame)
    }
}
