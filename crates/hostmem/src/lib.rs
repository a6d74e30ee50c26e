//! `cowix-hostmem`: the host memory behind cowix's guest physical memory.
//!
//! An [`Arena`] is one anonymous host mapping of `frames` 4 KiB frames,
//! frame `i` at byte offset `i * 4096`. The whole range is *reserved* at
//! creation (`MAP_NORESERVE`: no host memory or swap is committed for it),
//! and the host commits a page only when it is first written. A frame handed
//! back with [`Arena::discard`] is returned to the host
//! (`madvise(MADV_DONTNEED)`) and reads as zeros afterwards, so host memory
//! stays bounded by the frames actually in use.
//!
//! Keeping every frame in one mapping lets the CPU's software TLB name a
//! frame by its byte offset and reach guest data with one bounds-checked
//! slice index (see `cowix-kernel`'s `uaccess`).
//!
//! This crate holds the only `unsafe` code of cowix (the workspace forbids it
//! everywhere else). The API is safe: the arena owns its mapping like a
//! `Box<[u8]>` owns its allocation, shared access is `&self` and mutation
//! `&mut self`, so Rust's borrow rules are the aliasing argument.

use std::fmt;
use std::io;
use std::ptr::NonNull;

use rustix::mm::{madvise, mmap_anonymous, munmap, Advice, MapFlags, ProtFlags};

/// Bytes in a frame (and in a host page: the arena assumes 4 KiB host pages
/// or a divisor of them, which is what x86-64 and aarch64 Linux use).
pub const FRAME_SIZE: usize = 4096;

/// A reserved range of host memory holding `frames` zero-initialised frames.
pub struct Arena {
    /// Start of the mapping (page aligned, never null).
    base: NonNull<u8>,
    /// Number of frames.
    frames: usize,
    /// Length of the mapping in bytes: `frames * FRAME_SIZE`.
    len: usize,
}

// SAFETY:
// 1. `Arena` exclusively owns its mapping (nothing else holds `base`), like
//    `Box<[u8]>` owns its heap allocation, and has no thread-affine state.
// 2. Moving it to another thread moves that ownership with it.
unsafe impl Send for Arena {}

// SAFETY:
// 1. Through `&Arena` the mapping can only be read (`bytes`, `frame`);
//    every write goes through `&mut Arena`, so shared references never see
//    a concurrent write, exactly as with `&[u8]`.
unsafe impl Sync for Arena {}

impl fmt::Debug for Arena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arena")
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl Arena {
    /// Reserves `frames` frames of host address space, all reading as zero.
    /// Fails (never aborts) when `frames` is zero or the host refuses the
    /// reservation (address space limits, `vm.overcommit_memory = 2`).
    pub fn new(frames: usize) -> io::Result<Arena> {
        let len = frames
            .checked_mul(FRAME_SIZE)
            .filter(|&l| l > 0 && l <= isize::MAX as usize)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("cannot reserve {frames} frames of guest memory"),
                )
            })?;
        // SAFETY:
        // 1. A null address hint lets the kernel choose a fresh range, so no
        //    existing mapping (and no Rust object) is replaced.
        let ptr = unsafe {
            mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            )
        }
        .map_err(|e| {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "cannot reserve {} MiB of host address space for guest memory: {e}",
                    len >> 20
                ),
            )
        })?;
        let base = NonNull::new(ptr.cast::<u8>()).expect("Arena::new: mmap returned null");
        Ok(Arena { base, frames, len })
    }

    /// Number of frames.
    #[inline]
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Length of the arena in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: an arena holds at least one frame.
    #[inline]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The whole arena: frame `i` is `bytes()[i * FRAME_SIZE..][..FRAME_SIZE]`.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        // SAFETY:
        // 1. `base` is the start of a live mapping of `len()` bytes, readable
        //    and writable, which lives until `self` is dropped; the returned
        //    borrow cannot outlive `self`.
        // 2. Anonymous memory is zero-initialised by the host, so every byte
        //    is initialised.
        // 3. No `&mut` to the mapping can exist while `&self` is borrowed.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.len()) }
    }

    /// The whole arena, writable.
    #[inline]
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY:
        // 1-2. As in `bytes`: a live, initialised mapping of `len()` bytes.
        // 3. `&mut self` guarantees that this is the only reference into the
        //    mapping for the borrow's lifetime.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr(), self.len()) }
    }

    /// Frame `i`. Panics if `i >= frames()`.
    #[inline]
    pub fn frame(&self, i: usize) -> &[u8; FRAME_SIZE] {
        let start = self.frame_start(i);
        self.bytes()[start..start + FRAME_SIZE]
            .try_into()
            .expect("Arena::frame: slice length")
    }

    /// Frame `i`, writable. Panics if `i >= frames()`.
    #[inline]
    pub fn frame_mut(&mut self, i: usize) -> &mut [u8; FRAME_SIZE] {
        let start = self.frame_start(i);
        (&mut self.bytes_mut()[start..start + FRAME_SIZE])
            .try_into()
            .expect("Arena::frame_mut: slice length")
    }

    /// Gives frame `i`'s host memory back to the host; the frame reads as
    /// zeros afterwards. Panics if `i >= frames()`.
    pub fn discard(&mut self, i: usize) {
        let start = self.frame_start(i);
        let frame = self.base.as_ptr().wrapping_add(start);
        // SAFETY:
        // 1. `[start, start + FRAME_SIZE)` lies inside our private anonymous
        //    mapping (checked by `frame_start`) and is page aligned.
        // 2. `&mut self` guarantees no Rust reference into the arena is
        //    alive, so no borrow observes the contents changing to zero.
        // 3. MADV_DONTNEED on private anonymous memory only drops its
        //    contents (later reads see zeros); the range stays mapped.
        let r = unsafe { madvise(frame.cast(), FRAME_SIZE, Advice::LinuxDontNeed) };
        if r.is_err() {
            // The host refused: the frame keeps its memory, but must still
            // read as zeros.
            self.frame_mut(i).fill(0);
        }
    }

    /// Asks the host to commit the memory of frames `[first, first +
    /// count)` now (clamped to the arena), in one call rather than one
    /// page fault per frame later; their contents do not change (never
    /// written frames stay zero). Best effort: a host that cannot
    /// (MADV_POPULATE_WRITE is Linux 5.14+) just faults them in later.
    pub fn populate(&mut self, first: usize, count: usize) {
        let end = first.saturating_add(count).min(self.frames);
        if first >= end {
            return;
        }
        let start = self.frame_start(first);
        let ptr = self.base.as_ptr().wrapping_add(start);
        // SAFETY:
        // 1. `[start, end * FRAME_SIZE)` lies inside our private anonymous
        //    mapping (`first` checked by `frame_start`, `end` clamped to
        //    `frames`) and is page aligned.
        // 2. MADV_POPULATE_WRITE only faults the pages in, as a write that
        //    stores nothing would: the contents every reference may see stay
        //    the same, and `&mut self` rules out concurrent readers anyway.
        let _ = unsafe {
            madvise(
                ptr.cast(),
                (end - first) * FRAME_SIZE,
                Advice::LinuxPopulateWrite,
            )
        };
    }

    /// Byte offset of frame `i`, panicking when it is out of range.
    #[inline]
    fn frame_start(&self, i: usize) -> usize {
        assert!(
            i < self.frames,
            "Arena: frame {i} out of range ({} frames)",
            self.frames
        );
        i * FRAME_SIZE
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY:
        // 1. `base`/`len()` is exactly the mapping `new` created, unmapped
        //    only here, once.
        // 2. `&mut self` in `drop` means no reference into it remains.
        let r = unsafe { munmap(self.base.as_ptr().cast(), self.len()) };
        debug_assert!(r.is_ok(), "Arena::drop: munmap failed: {r:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_frames_read_as_zero_and_keep_what_is_written() {
        let mut a = Arena::new(4).unwrap();
        assert_eq!(a.frames(), 4);
        assert_eq!(a.len(), 4 * FRAME_SIZE);
        assert!(a.frame(3).iter().all(|&b| b == 0));
        a.frame_mut(1)[0] = 7;
        a.frame_mut(1)[FRAME_SIZE - 1] = 9;
        assert_eq!(a.bytes()[FRAME_SIZE], 7, "frame 1 starts at offset 4096");
        assert_eq!(a.bytes()[2 * FRAME_SIZE - 1], 9);
        assert!(a.frame(0).iter().all(|&b| b == 0), "neighbours untouched");
        assert!(a.frame(2).iter().all(|&b| b == 0), "neighbours untouched");
    }

    #[test]
    fn discarded_frame_reads_as_zero_and_can_be_reused() {
        let mut a = Arena::new(2).unwrap();
        a.frame_mut(0).fill(0xaa);
        a.frame_mut(1).fill(0x55);
        a.discard(0);
        assert!(a.frame(0).iter().all(|&b| b == 0));
        assert!(
            a.frame(1).iter().all(|&b| b == 0x55),
            "only the discarded frame is dropped"
        );
        a.frame_mut(0)[5] = 1;
        assert_eq!(a.frame(0)[5], 1);
    }

    #[test]
    fn a_large_reservation_commits_nothing_up_front() {
        // 64 GiB of address space: fine with MAP_NORESERVE, only two pages touched.
        let frames = 16 << 20;
        let Ok(mut a) = Arena::new(frames) else {
            return; // a host with a small address-space limit: nothing to check
        };
        a.frame_mut(frames - 1)[0] = 1;
        assert_eq!(a.frame(frames - 1)[0], 1);
        a.discard(frames - 1);
        assert_eq!(a.frame(frames - 1)[0], 0);
    }

    #[test]
    fn impossible_sizes_are_errors_not_aborts() {
        assert!(Arena::new(0).is_err());
        assert!(Arena::new(usize::MAX / 2).is_err());
        assert!(
            Arena::new(usize::MAX / FRAME_SIZE / 4).is_err(),
            "beyond any host's address space"
        );
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn frame_out_of_range_panics() {
        let a = Arena::new(1).unwrap();
        let _ = a.frame(1);
    }
}
