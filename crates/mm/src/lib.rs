//! cowix-mm: the virtual memory system of cowix.
//!
//! cowix runs unmodified RISC-V Linux programs on an emulated CPU; this crate
//! is the memory those programs see. It knows nothing about instructions or
//! system calls: the CPU asks [`AddressSpace::translate`] to fill its TLB and
//! reports misses to [`AddressSpace::handle_fault`]; the kernel calls
//! [`AddressSpace::mmap`], [`AddressSpace::munmap`], [`AddressSpace::mprotect`],
//! [`AddressSpace::brk`], [`AddressSpace::madvise`], [`AddressSpace::mremap`]
//! and [`AddressSpace::fork`] (in a [`ForkMode`]); under memory pressure it
//! calls [`reclaim`] with every address space (swap, the swap cache and
//! reclaim are in `swap.rs` and `reclaim.rs`; write-back of shared file
//! pages and [`AddressSpace::msync`] in `writeback.rs`;
//! [`AddressSpace::mincore`] and [`AddressSpace::smaps`] read the real
//! frames).
//!
//! # Layers (each calls only the one below)
//!
//! | layer | file | what it holds |
//! |---|---|---|
//! | intent | [`vma`](crate::Vma) (`vma.rs`) | what the program asked for: ranges, protections, private/shared, backing object |
//! | operations | `mmap.rs`, `madvise.rs`, `mremap.rs`, `fault.rs`, `fork.rs`, `share_tables.rs`, `address_space.rs` | reconcile intent and backing |
//! | backing | [`pagetable`] (`pagetable.rs`) | Sv39 page tables: a cache of the intent, filled lazily by faults |
//! | frames | [`PhysMem`] (`frame.rs`, `page_cache.rs`) | refcounted 4 KiB frames, the zero frame, the page cache |
//!
//! Invariants that hold between operations (checked by [`check_invariants`]):
//! * if a PTE is present, a VMA covers it and the PTE's permissions are the
//!   VMA's (a private writable VMA's read-only PTEs carry the COW bit);
//! * every frame's refcount equals the references to it from PTEs (a PTE
//!   in a leaf table shared by several spaces counts once), from parent
//!   page-table entries and from the page cache (plus one for the zero frame);
//! * the zero frame is all zeros and never mapped writable;
//! * a swap slot's count equals the swap PTEs naming it (once per shared
//!   table) plus one if the swap cache holds it, and the swap cache's
//!   frames are never mapped writable.
//!
//! Guest mistakes come back as [`MmError`] or [`FaultError`]; kernel bugs
//! (breaking a documented precondition) panic with `"function: reason"`.

mod address_space;
mod error;
mod fault;
mod fork;
mod frame;
mod invariants;
mod madvise;
mod mincore;
mod mmap;
mod mremap;
mod page_cache;
pub mod pagetable;
mod reclaim;
mod share_tables;
mod smaps;
mod stats;
mod swap;
mod trace;
mod vma;
mod writeback;

pub use address_space::AddressSpace;
pub use error::{FaultError, MmError, SegvCode};
pub use fork::ForkMode;
pub use frame::{FrameId, FrameKind, PhysMem};
pub use invariants::check_invariants;
pub use madvise::Advice;
pub use mmap::MapFlags;
pub use mremap::RemapFlags;
pub use page_cache::{CachedPage, PageCache, SHARED_ANON_DEV};
pub use reclaim::{reclaim, reclaim_cold, MemUsage};
pub use smaps::SmapsCounts;
pub use stats::{FaultCounters, FaultKind, MemStats};
pub use swap::{SwapDevice, SwapFile, SwapInfo};
pub use trace::{MemEvent, PageRun, PageState};
pub use vma::{Access, Backing, FileSource, OnFork, Prot, Vma, VmaName};

/// Size of a page and of a frame, in bytes.
pub const PAGE_SIZE: u64 = 4096;

/// End of the user address space (exclusive): Sv39 user addresses are
/// `[0, 2^38)`, riscv64 Linux's `TASK_SIZE` for Sv39. Nothing at or above it
/// is ever mapped. The stack top (`STACK_TOP`) is this address too.
pub const USER_TOP: u64 = 0x40_0000_0000;

/// Lowest address a non-fixed mmap may return (`vm.mmap_min_addr`, 64 KiB on
/// common distributions). Fixed mappings may go lower.
pub const MMAP_MIN_ADDR: u64 = 0x1_0000;

/// Gap kept free below a grows-down (stack) VMA: Linux's `stack_guard_gap`
/// (256 pages, mm/mmap.c).
pub const STACK_GUARD_GAP: u64 = 256 * PAGE_SIZE;

/// Default `RLIMIT_STACK` (8 MiB), the limit for stack growth.
pub const DEFAULT_STACK_LIMIT: u64 = 8 << 20;

/// Rounds `addr` down to a page boundary.
pub fn page_down(addr: u64) -> u64 {
    addr & !(PAGE_SIZE - 1)
}

/// Rounds `addr` up to a page boundary; `None` if that overflows.
pub fn page_up(addr: u64) -> Option<u64> {
    addr.checked_add(PAGE_SIZE - 1).map(page_down)
}

/// True if `addr` is page aligned.
pub fn is_page_aligned(addr: u64) -> bool {
    addr % PAGE_SIZE == 0
}
