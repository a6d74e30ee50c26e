//! Physical memory: a pool of refcounted 4 KiB frames and the zero frame.
//!
//! Host memory is committed only when a frame is allocated and returned when
//! it is freed; a freed frame's number is reused. Frame 0 is the shared zero
//! frame: all zeros, never written, never freed, not counted against
//! `max_frames`.
//!
//! A frame's refcount is the number of references to it: PTEs mapping it, the
//! parent table entry pointing at a page-table frame (or the address space
//! owning a root), the page cache's entry, and temporary references a caller
//! took with [`PhysMem::get`]. [`check_invariants`](crate::check_invariants)
//! verifies that count.
//!
//! # Storage
//!
//! Frames live in one host [`Arena`] reserved for `max_frames + 1` frames:
//! frame `i` at byte `i * PAGE_SIZE`. Host memory is committed when a frame
//! is first written and given back when it is freed (the arena's `discard`),
//! except that the last few thousand freed frames are kept committed and
//! zero-filled for the next allocations (fork and exit churn through page
//! tables and copies faster than the host can take pages back and give
//! them again),
//! so a freed frame reads as zeros and a new frame needs no clearing.
//!
//! # Code watching
//!
//! A CPU that caches decoded instructions must learn when the bytes it
//! decoded change (QEMU's `TLB_NOTDIRTY` pages). [`PhysMem::watch_code`]
//! marks a frame as holding cached code and returns its *code version*, a
//! number never handed out before. The first write to a watched frame
//! through [`PhysMem::bytes_mut`] (every writer uses it: stores, syscalls,
//! copy-on-write copies, file reads into the page cache) or freeing it ends
//! the watch and moves [`PhysMem::code_epoch`]; the frame's next
//! `watch_code` returns a new version. A software TLB that lets stores
//! bypass `bytes_mut` ([`PhysMem::ram_mut_unwatched`]) must therefore never
//! cache write access to a watched frame; [`PhysMem::code_watches`] moves
//! whenever a frame becomes watched, telling such TLBs to drop their
//! write entries.

use std::collections::HashMap;
use std::fmt;
use std::io;

use cowix_hostmem::Arena;

use crate::page_cache::{PageCache, PageKey};
use crate::stats::MemStats;
use crate::{MmError, PAGE_SIZE};

const FRAME_BYTES: usize = PAGE_SIZE as usize;

/// Names a frame of a [`PhysMem`]. It is also the PPN stored in a PTE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameId(u32);

impl FrameId {
    /// The frame's number (its index in the pool and its PPN).
    pub fn index(self) -> u32 {
        self.0
    }

    pub(crate) fn from_index(index: u32) -> FrameId {
        FrameId(index)
    }
}

const ZERO_FRAME: FrameId = FrameId(0);

/// What a frame is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// Not allocated.
    Free,
    /// The shared zero frame.
    Zero,
    /// Anonymous data: private pages, copies made by copy-on-write.
    Anon,
    /// A page-table page (512 PTEs).
    PageTable,
    /// A page of a file (or of shared anonymous memory) held by the page cache.
    PageCache,
}

#[derive(Clone, Copy, Debug)]
struct FrameMeta {
    refcount: u32,
    kind: FrameKind,
    /// The frame's code version while it is watched ([`PhysMem::watch_code`]), else 0.
    code_version: u64,
}

const FREE_META: FrameMeta = FrameMeta {
    refcount: 0,
    kind: FrameKind::Free,
    code_version: 0,
};

/// The frame pool, its statistics and the page cache.
///
/// Invariants: `meta.len() <= arena.frames()`; a frame is on `free` iff it
/// is `Free`; a `Free` frame reads as zeros; `stats.frames_in_use` counts
/// non-free frames other than the zero frame; a watched frame has
/// `code_version` in `1..next_code_version`.
pub struct PhysMem {
    arena: Arena,
    meta: Vec<FrameMeta>,
    free: Vec<u32>,
    /// Free frames whose host memory is still committed (zero-filled),
    /// at most [`HOT_FRAMES`]; handed out before `free`.
    hot: Vec<u32>,
    /// The next code version [`watch_code`](Self::watch_code) hands out (starts at 1).
    next_code_version: u64,
    /// Moves when a watched frame is written or freed, or on request.
    code_epoch: u64,
    pub(crate) cache: PageCache,
    /// For `PageCache` frames: the cache entry holding the frame (kept
    /// apart from `meta` so that the per-frame record stays 16 bytes).
    cache_keys: HashMap<u32, PageKey>,
    pub(crate) stats: MemStats,
    /// The swap area, if swap is enabled (`swap.rs`).
    pub(crate) swap: Option<crate::swap::SwapArea>,
    /// Recorded memory events while tracing (`trace.rs`), else `None`.
    pub(crate) trace: Option<Vec<crate::MemEvent>>,
}

impl fmt::Debug for PhysMem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhysMem")
            .field("stats", &self.stats)
            .field("slots", &self.meta.len())
            .field("cached_pages", &self.cache.len())
            .finish_non_exhaustive()
    }
}

/// Freed frames kept committed (zeroed) for reuse rather than given back
/// to the host at once: 4 MiB.
const HOT_FRAMES: usize = 1024;

/// Never-used frames are committed in batches of this many (256 KiB) as
/// the pool first reaches them, one host call instead of a host page
/// fault per frame.
const POPULATE_FRAMES: usize = 64;

/// The most frames a pool can hand out: what a 32-bit frame number names.
const MAX_FRAMES: u64 = u32::MAX as u64 - 1;

/// Frames of host address space a pool reserves at least (1 GiB), so that
/// [`PhysMem::set_max_frames`] can raise a small cap; reserving costs no
/// host memory.
const MIN_RESERVED_FRAMES: u64 = 1 << 18;

impl PhysMem {
    /// A pool that will hand out at most `max_frames` frames (clamped to what
    /// a 32-bit frame number can name), plus the zero frame. Host address
    /// space for all of them (and at least 1 GiB) is reserved now; host
    /// memory is committed only as frames are written. An error if the host
    /// refuses the reservation.
    pub fn try_new(max_frames: u64) -> io::Result<Self> {
        let max_frames = max_frames.min(MAX_FRAMES);
        let arena = Arena::new(max_frames.max(MIN_RESERVED_FRAMES) as usize + 1)?;
        Ok(PhysMem {
            arena,
            meta: vec![FrameMeta {
                refcount: 1,
                kind: FrameKind::Zero,
                code_version: 0,
            }],
            free: Vec::new(),
            hot: Vec::new(),
            next_code_version: 1,
            code_epoch: 0,
            cache: PageCache::default(),
            cache_keys: HashMap::new(),
            swap: None,
            trace: None,
            stats: MemStats {
                max_frames,
                ..MemStats::default()
            },
        })
    }

    /// [`try_new`](Self::try_new) for sizes known to fit (tests, small
    /// pools). Panics if the host refuses the reservation.
    pub fn new(max_frames: u64) -> Self {
        match Self::try_new(max_frames) {
            Ok(pm) => pm,
            Err(e) => panic!("PhysMem::new: {e}"),
        }
    }

    /// The shared read-only zero frame.
    pub fn zero_frame(&self) -> FrameId {
        ZERO_FRAME
    }

    /// Changes the cap on frames in use (e.g. to make the next allocation fail
    /// in a test). Frames already in use above the new cap stay allocated.
    /// The cap cannot grow beyond the frames reserved at creation.
    pub fn set_max_frames(&mut self, max_frames: u64) {
        self.stats.max_frames = max_frames.min(self.arena.frames() as u64 - 1);
    }

    /// Allocates a zero-filled anonymous frame with refcount 1.
    /// When the pool is full, first evicts a clean page-cache page nobody maps
    /// (like Linux reclaiming clean file pages); `Err(OutOfMemory)` if none.
    pub fn alloc(&mut self) -> Result<FrameId, MmError> {
        self.alloc_kind(FrameKind::Anon)
    }

    /// [`alloc`](Self::alloc) for a frame of the given kind.
    pub(crate) fn alloc_kind(&mut self, kind: FrameKind) -> Result<FrameId, MmError> {
        assert!(
            !matches!(kind, FrameKind::Free | FrameKind::Zero),
            "alloc_kind: bad kind {kind:?}"
        );
        if self.stats.frames_in_use >= self.stats.max_frames {
            self.reap_shared_anon();
            while self.stats.frames_in_use >= self.stats.max_frames {
                if !self.evict_one_clean() {
                    return Err(MmError::OutOfMemory);
                }
            }
        }
        let index = match self.hot.pop().or_else(|| self.free.pop()) {
            Some(index) => index,
            None => {
                let index =
                    u32::try_from(self.meta.len()).expect("alloc_kind: frame numbers exhausted");
                assert!(
                    (index as usize) < self.arena.frames(),
                    "alloc_kind: frame {index} beyond the arena"
                );
                if index as usize % POPULATE_FRAMES == 0 {
                    // Never used before: commit the next batch in one go.
                    self.arena.populate(index as usize, POPULATE_FRAMES);
                }
                self.meta.push(FREE_META);
                index
            }
        };
        let slot = index as usize;
        debug_assert_eq!(self.meta[slot].kind, FrameKind::Free);
        // A free frame was discarded, so it already reads as zeros.
        self.meta[slot] = FrameMeta {
            refcount: 1,
            kind,
            code_version: 0,
        };
        self.stats.frames_in_use += 1;
        self.stats.peak_frames_in_use = self.stats.peak_frames_in_use.max(self.stats.frames_in_use);
        match kind {
            FrameKind::PageTable => {
                self.stats.page_table_frames += 1;
                self.stats.peak_page_table_frames = self
                    .stats
                    .peak_page_table_frames
                    .max(self.stats.page_table_frames);
            }
            FrameKind::PageCache => self.stats.page_cache_frames += 1,
            _ => {}
        }
        Ok(FrameId(index))
    }

    fn meta(&self, f: FrameId) -> &FrameMeta {
        match self.meta.get(f.0 as usize) {
            Some(m) if m.kind != FrameKind::Free => m,
            _ => panic!("PhysMem: frame {} is not allocated", f.0),
        }
    }

    fn meta_mut(&mut self, f: FrameId) -> &mut FrameMeta {
        match self.meta.get_mut(f.0 as usize) {
            Some(m) if m.kind != FrameKind::Free => m,
            _ => panic!("PhysMem: frame {} is not allocated", f.0),
        }
    }

    /// Takes one more reference to an allocated frame.
    pub fn get(&mut self, f: FrameId) {
        let m = self.meta_mut(f);
        m.refcount = m.refcount.checked_add(1).expect("get: refcount overflow");
    }

    /// Drops one reference; the frame is freed when none remain. The zero
    /// frame is never freed (its own reference is permanent).
    pub fn put(&mut self, f: FrameId) {
        let m = self.meta_mut(f);
        assert!(m.refcount > 0, "put: frame {} has refcount 0", f.0);
        if m.kind == FrameKind::Zero {
            assert!(
                m.refcount > 1,
                "put: dropping the zero frame's own reference"
            );
        }
        m.refcount -= 1;
        if m.refcount > 0 {
            return;
        }
        let kind = m.kind;
        if let Some(key) = (kind == FrameKind::PageCache)
            .then(|| self.cache_keys.remove(&f.0))
            .flatten()
        {
            assert!(
                self.cache.lookup_key(key).map(|p| p.frame) != Some(f),
                "put: freeing frame {} still held by the page cache",
                f.0
            );
        }
        let slot = f.0 as usize;
        if self.meta[slot].code_version != 0 {
            self.code_epoch += 1;
        }
        self.meta[slot] = FREE_META;
        if self.hot.len() < HOT_FRAMES {
            // Cheaper than giving the host page back and faulting it in
            // again on the next allocation (fork, exit and COW churn).
            self.arena.frame_mut(slot).fill(0);
            self.hot.push(f.0);
        } else {
            self.arena.discard(slot);
            self.free.push(f.0);
        }
        self.stats.frames_in_use -= 1;
        match kind {
            FrameKind::PageTable => self.stats.page_table_frames -= 1,
            FrameKind::PageCache => self.stats.page_cache_frames -= 1,
            _ => {}
        }
    }

    /// The number of references to `f`.
    pub fn refcount(&self, f: FrameId) -> u32 {
        self.meta(f).refcount
    }

    /// What `f` is used for ([`FrameKind::Free`] if not allocated).
    pub fn frame_kind(&self, f: FrameId) -> FrameKind {
        self.meta
            .get(f.0 as usize)
            .map_or(FrameKind::Free, |m| m.kind)
    }

    /// The contents of an allocated frame.
    pub fn bytes(&self, f: FrameId) -> &[u8; FRAME_BYTES] {
        match self.meta.get(f.0 as usize) {
            Some(m) if m.kind != FrameKind::Free => self.arena.frame(f.0 as usize),
            _ => panic!("bytes: frame {} is not allocated", f.0),
        }
    }

    /// The contents of an allocated frame, for writing. Ends the frame's
    /// code watch, if any. Panics on the zero frame: writing it is a kernel
    /// bug.
    pub fn bytes_mut(&mut self, f: FrameId) -> &mut [u8; FRAME_BYTES] {
        assert!(f != ZERO_FRAME, "bytes_mut: the zero frame is read-only");
        match self.meta.get_mut(f.0 as usize) {
            Some(m) if m.kind != FrameKind::Free => {
                if m.code_version != 0 {
                    m.code_version = 0;
                    self.code_epoch += 1;
                }
                self.arena.frame_mut(f.0 as usize)
            }
            _ => panic!("bytes_mut: frame {} is not allocated", f.0),
        }
    }

    /// Copies the contents of `src` into `dst` (`dst` must not be the zero frame).
    pub fn copy_frame(&mut self, src: FrameId, dst: FrameId) {
        let _ = self.bytes(src); // allocated?
        let _ = self.bytes_mut(dst); // allocated, not the zero frame; ends its watch
        let from = Self::frame_offset(src);
        self.arena
            .bytes_mut()
            .copy_within(from..from + FRAME_BYTES, Self::frame_offset(dst));
    }

    /// Every frame's bytes as one slice: frame `f` is
    /// `ram()[f.index() * PAGE_SIZE..][..PAGE_SIZE]`. For a CPU TLB that
    /// names frames by byte offset (see [`frame_offset`](Self::frame_offset)).
    /// Free frames read as zeros.
    #[inline]
    pub fn ram(&self) -> &[u8] {
        self.arena.bytes()
    }

    /// [`ram`](Self::ram), writable, *without* ending code watches: the
    /// caller may only write frames it knows to be allocated, not the zero
    /// frame and not watched (a TLB that caches write access only for such
    /// frames and drops it when [`code_watches`](Self::code_watches) moves).
    #[inline]
    pub fn ram_mut_unwatched(&mut self) -> &mut [u8] {
        self.arena.bytes_mut()
    }

    /// Byte offset of frame `f` in [`ram`](Self::ram).
    #[inline]
    pub fn frame_offset(f: FrameId) -> usize {
        f.0 as usize * FRAME_BYTES
    }

    /// Marks allocated frame `f` as holding code a CPU has decoded and
    /// cached, and returns its code version: a number no other frame, and
    /// no earlier watch of this frame, ever had. The version stays the same
    /// until `f` is written through [`bytes_mut`](Self::bytes_mut) or freed.
    pub fn watch_code(&mut self, f: FrameId) -> u64 {
        let next = self.next_code_version;
        let m = self.meta_mut(f);
        if m.code_version == 0 {
            m.code_version = next;
            self.next_code_version += 1;
        }
        self.meta(f).code_version
    }

    /// Whether `f` is watched (a store to it must go through [`bytes_mut`](Self::bytes_mut)).
    #[inline]
    pub fn is_code_watched(&self, f: FrameId) -> bool {
        self.meta
            .get(f.0 as usize)
            .is_some_and(|m| m.code_version != 0)
    }

    /// Moves whenever a watched frame is written or freed (so some cached
    /// code may be stale), or [`bump_code_epoch`](Self::bump_code_epoch) is
    /// called. Never goes back to an earlier value.
    #[inline]
    pub fn code_epoch(&self) -> u64 {
        self.code_epoch
    }

    /// Moves [`code_epoch`](Self::code_epoch): a TLB calls this when it
    /// flushes, since cached code may then be reached through a different
    /// translation.
    pub fn bump_code_epoch(&mut self) {
        self.code_epoch += 1;
    }

    /// Moves whenever a frame becomes watched: a TLB caching write access
    /// must then drop it (the newly watched frame may be among its entries).
    #[inline]
    pub fn code_watches(&self) -> u64 {
        self.next_code_version
    }

    /// The fork strategy of this machine's kernel (recorded in the stats).
    pub fn fork_mode(&self) -> crate::ForkMode {
        self.stats.fork_mode
    }

    /// Sets the fork strategy [`fork_mode`](Self::fork_mode) reports.
    pub fn set_fork_mode(&mut self, mode: crate::ForkMode) {
        self.stats.fork_mode = mode;
    }

    /// Host bytes of memory-system metadata at its peak: the per-frame
    /// records (which grow to the highest frame number used and stay) and
    /// the most page-table frames ever held at once. Compare with
    /// `peak_frames_in_use * PAGE_SIZE`, the guest memory it describes.
    pub fn peak_metadata_bytes(&self) -> u64 {
        (self.meta.capacity() * std::mem::size_of::<FrameMeta>()
            + (self.free.capacity() + self.hot.capacity()) * std::mem::size_of::<u32>())
            as u64
            + self.stats.peak_page_table_frames * PAGE_SIZE
    }

    /// Frame usage and fault counters.
    pub fn stats(&self) -> &MemStats {
        &self.stats
    }

    pub(crate) fn set_cache_key(&mut self, f: FrameId, key: Option<PageKey>) {
        let m = self.meta_mut(f);
        assert_eq!(
            m.kind,
            FrameKind::PageCache,
            "set_cache_key: frame {} is not a page-cache frame",
            f.0
        );
        match key {
            Some(key) => self.cache_keys.insert(f.0, key),
            None => self.cache_keys.remove(&f.0),
        };
    }

    pub(crate) fn cache_key(&self, f: FrameId) -> Option<PageKey> {
        self.meta(f);
        self.cache_keys.get(&f.0).copied()
    }

    /// Every allocated frame with its refcount and kind (for the invariant checker).
    pub(crate) fn allocated_frames(&self) -> impl Iterator<Item = (FrameId, u32, FrameKind)> + '_ {
        self.meta
            .iter()
            .enumerate()
            .filter(|(_, m)| m.kind != FrameKind::Free)
            .map(|(i, m)| (FrameId(i as u32), m.refcount, m.kind))
    }

    /// Internal consistency of the pool itself (for the invariant checker).
    pub(crate) fn check_pool(&self) {
        assert!(
            self.meta.len() <= self.arena.frames(),
            "check_pool: more frames than the arena holds"
        );
        for (i, m) in self.meta.iter().enumerate() {
            if m.kind != FrameKind::Free {
                assert!(
                    m.refcount > 0,
                    "check_pool: allocated frame {i} has refcount 0"
                );
            } else {
                assert_eq!(
                    m.code_version, 0,
                    "check_pool: free frame {i} is code-watched"
                );
            }
            assert!(
                m.code_version < self.next_code_version,
                "check_pool: frame {i} has a future code version"
            );
        }
        let free: std::collections::HashSet<u32> =
            self.free.iter().chain(&self.hot).copied().collect();
        assert_eq!(
            free.len(),
            self.free.len() + self.hot.len(),
            "check_pool: duplicate on free list"
        );
        assert!(
            self.hot.len() <= HOT_FRAMES,
            "check_pool: too many hot frames"
        );
        for &i in &free {
            assert_eq!(
                self.meta[i as usize].kind,
                FrameKind::Free,
                "check_pool: allocated frame {i} on free list"
            );
        }
        let in_use = self
            .meta
            .iter()
            .filter(|m| !matches!(m.kind, FrameKind::Free | FrameKind::Zero))
            .count();
        assert_eq!(
            free.len() + in_use + 1,
            self.meta.len(),
            "check_pool: a free frame is missing from the free list"
        );
        assert_eq!(
            self.stats.frames_in_use, in_use as u64,
            "check_pool: frames_in_use is wrong"
        );
        let tables = self
            .meta
            .iter()
            .filter(|m| m.kind == FrameKind::PageTable)
            .count();
        assert_eq!(
            self.stats.page_table_frames, tables as u64,
            "check_pool: page_table_frames is wrong"
        );
        let cached = self
            .meta
            .iter()
            .filter(|m| m.kind == FrameKind::PageCache)
            .count();
        assert_eq!(
            self.stats.page_cache_frames, cached as u64,
            "check_pool: page_cache_frames is wrong"
        );
        assert!(
            self.stats.peak_frames_in_use >= self.stats.frames_in_use,
            "check_pool: peak below current"
        );
        assert!(
            self.bytes(ZERO_FRAME).iter().all(|&b| b == 0),
            "check_pool: the zero frame was written"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_is_zeroed_and_freed_frames_are_reused() {
        let mut pm = PhysMem::new(2);
        let a = pm.alloc().unwrap();
        pm.bytes_mut(a)[7] = 42;
        let b = pm.alloc().unwrap();
        assert_eq!(pm.alloc(), Err(MmError::OutOfMemory));
        assert_eq!(pm.stats().frames_in_use, 2);
        pm.put(a);
        let c = pm.alloc().unwrap();
        assert_eq!(c, a, "freed frame number is reused");
        assert_eq!(pm.bytes(c)[7], 0, "reused frame is zero-filled");
        pm.put(b);
        pm.put(c);
        assert_eq!(pm.stats().frames_in_use, 0);
        assert_eq!(pm.stats().peak_frames_in_use, 2);
        pm.check_pool();
    }

    #[test]
    fn refcount_frees_at_zero() {
        let mut pm = PhysMem::new(4);
        let a = pm.alloc().unwrap();
        pm.get(a);
        assert_eq!(pm.refcount(a), 2);
        pm.put(a);
        assert_eq!(pm.frame_kind(a), FrameKind::Anon);
        pm.put(a);
        assert_eq!(pm.frame_kind(a), FrameKind::Free);
        pm.check_pool();
    }

    #[test]
    fn zero_frame_survives_get_put() {
        let mut pm = PhysMem::new(0);
        let z = pm.zero_frame();
        pm.get(z);
        pm.put(z);
        assert_eq!(pm.refcount(z), 1);
        assert!(pm.bytes(z).iter().all(|&b| b == 0));
        pm.check_pool();
    }

    #[test]
    fn writing_or_freeing_a_watched_frame_ends_its_watch() {
        let mut pm = PhysMem::new(4);
        let a = pm.alloc().unwrap();
        let b = pm.alloc().unwrap();
        let (epoch, watches) = (pm.code_epoch(), pm.code_watches());
        let va = pm.watch_code(a);
        assert!(pm.is_code_watched(a) && !pm.is_code_watched(b));
        assert_ne!(
            pm.code_watches(),
            watches,
            "TLBs must learn about the new watch"
        );
        assert_eq!(pm.watch_code(a), va, "same bytes, same version");
        let vb = pm.watch_code(b);
        assert_ne!(va, vb, "versions name one frame");
        pm.bytes_mut(b)[0] = 1; // a store into code
        assert!(!pm.is_code_watched(b));
        assert_ne!(pm.code_epoch(), epoch, "cached code must be revalidated");
        let vb2 = pm.watch_code(b);
        assert_ne!(vb2, vb, "new bytes, new version");
        let epoch = pm.code_epoch();
        pm.put(a); // freed, then reused for other contents
        assert_ne!(pm.code_epoch(), epoch);
        let c = pm.alloc().unwrap();
        assert_eq!(c, a);
        assert!(!pm.is_code_watched(c));
        assert_ne!(
            pm.watch_code(c),
            va,
            "a reused frame never repeats a version"
        );
        pm.check_pool();
    }

    #[test]
    fn frames_live_in_one_arena_at_their_offsets() {
        let mut pm = PhysMem::new(3);
        let a = pm.alloc().unwrap();
        pm.bytes_mut(a)[5] = 9;
        assert_eq!(pm.ram()[PhysMem::frame_offset(a) + 5], 9);
        pm.ram_mut_unwatched()[PhysMem::frame_offset(a) + 6] = 8;
        assert_eq!(pm.bytes(a)[6], 8);
        pm.set_max_frames(u64::MAX);
        assert_eq!(
            pm.stats().max_frames,
            MIN_RESERVED_FRAMES,
            "the cap cannot outgrow the reservation"
        );
        pm.put(a);
        assert!(
            pm.ram()[PhysMem::frame_offset(a)..][..PAGE_SIZE as usize]
                .iter()
                .all(|&b| b == 0),
            "freed frames are discarded"
        );
    }

    #[test]
    #[should_panic(expected = "bytes_mut: the zero frame is read-only")]
    fn writing_the_zero_frame_panics() {
        let mut pm = PhysMem::new(1);
        let z = pm.zero_frame();
        pm.bytes_mut(z)[0] = 1;
    }

    #[test]
    #[should_panic(expected = "put: dropping the zero frame's own reference")]
    fn freeing_the_zero_frame_panics() {
        let mut pm = PhysMem::new(1);
        let z = pm.zero_frame();
        pm.put(z);
    }

    #[test]
    #[should_panic(expected = "not allocated")]
    fn put_of_a_free_frame_panics() {
        let mut pm = PhysMem::new(1);
        let a = pm.alloc().unwrap();
        pm.put(a);
        pm.put(a);
    }
}
