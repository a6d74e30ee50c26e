//! Counters: frame usage (kept by [`PhysMem`](crate::PhysMem)) and faults by
//! kind (kept both globally and per address space, for `/proc` later).

use crate::{FaultError, ForkMode};

/// How a fault was resolved (returned by
/// [`AddressSpace::handle_fault`](crate::AddressSpace::handle_fault)).
/// The Linux function that does the same is named on each variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// Read of a never-touched anonymous page: mapped the shared zero frame
    /// read-only (mm/memory.c:do_anonymous_page(), the `my_zero_pfn` path).
    ZeroPage,
    /// Write to a never-touched anonymous page or to one mapping the zero
    /// frame: a fresh zeroed frame (do_anonymous_page() / wp_page_copy()).
    ZeroFill,
    /// Write to a copy-on-write page shared with someone else: copied
    /// (mm/memory.c:do_wp_page() → wp_page_copy()).
    CowCopy,
    /// Write to a copy-on-write page nobody else holds: made writable again
    /// without copying (do_wp_page() → wp_page_reuse()).
    CowReuse,
    /// A file page mapped from the page cache (mm/memory.c:do_read_fault(),
    /// do_shared_fault() for a write to a shared mapping).
    File,
    /// Write to a private file page: copied into an anonymous frame, the
    /// page's backing moving from the file to anonymous memory
    /// (mm/memory.c:do_cow_fault(), or wp_page_copy() when already mapped).
    FileCow,
    /// Write to a present read-only page of a shared mapping: made writable
    /// and the page-cache page marked dirty (do_wp_page() → wp_page_shared()).
    SharedWrite,
    /// The PTE already allowed the access (a stale TLB); nothing changed.
    Spurious,
    /// A swapped-out page brought back, from the swap cache or the swap
    /// area (mm/memory.c:do_swap_page(); a major fault).
    SwapIn,
}

/// Fault counters, one per [`FaultKind`] plus the growth and failure events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FaultCounters {
    pub zero_page: u64,
    pub zero_fill: u64,
    pub cow_copy: u64,
    pub cow_reuse: u64,
    pub file: u64,
    pub file_cow: u64,
    pub shared_write: u64,
    pub spurious: u64,
    /// Swap-ins (major faults).
    pub swap_in: u64,
    /// Stack VMAs grown down by a fault (counted in addition to the kind of
    /// the fault that followed).
    pub stack_growth: u64,
    /// Faults answered with SIGSEGV.
    pub segv: u64,
    /// Faults answered with SIGBUS.
    pub bus: u64,
    /// Faults that ran out of frames.
    pub oom: u64,
}

impl FaultCounters {
    /// Faults resolved so that the access could be retried (Linux's minor
    /// faults: every resolution here is minor, there is no disk I/O wait).
    pub fn resolved(&self) -> u64 {
        self.zero_page
            + self.zero_fill
            + self.cow_copy
            + self.cow_reuse
            + self.file
            + self.file_cow
            + self.shared_write
            + self.spurious
            + self.swap_in
    }

    /// Major faults: those that had to read a page back from swap.
    pub fn major(&self) -> u64 {
        self.swap_in
    }

    pub(crate) fn record(&mut self, kind: FaultKind) {
        let counter = match kind {
            FaultKind::ZeroPage => &mut self.zero_page,
            FaultKind::ZeroFill => &mut self.zero_fill,
            FaultKind::CowCopy => &mut self.cow_copy,
            FaultKind::CowReuse => &mut self.cow_reuse,
            FaultKind::File => &mut self.file,
            FaultKind::FileCow => &mut self.file_cow,
            FaultKind::SharedWrite => &mut self.shared_write,
            FaultKind::Spurious => &mut self.spurious,
            FaultKind::SwapIn => &mut self.swap_in,
        };
        *counter += 1;
    }

    pub(crate) fn record_error(&mut self, error: FaultError) {
        match error {
            FaultError::Segv(_) => self.segv += 1,
            FaultError::Bus => self.bus += 1,
            FaultError::OutOfMemory => self.oom += 1,
        }
    }
}

/// Whole-system memory statistics, kept by [`PhysMem`](crate::PhysMem).
///
/// Frame counts exclude the zero frame, which always exists and is not
/// counted against `max_frames`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MemStats {
    /// The cap on `frames_in_use`.
    pub max_frames: u64,
    /// Frames allocated now, of every kind (data, page table, page cache).
    pub frames_in_use: u64,
    /// Highest `frames_in_use` ever reached.
    pub peak_frames_in_use: u64,
    /// Of `frames_in_use`, frames holding page tables.
    pub page_table_frames: u64,
    /// Highest `page_table_frames` ever reached.
    pub peak_page_table_frames: u64,
    /// Of `frames_in_use`, frames held by the page cache.
    pub page_cache_frames: u64,
    /// Clean page-cache pages dropped to make room (or by `drop_clean_cache`).
    pub page_cache_evictions: u64,
    /// Faults by kind, over all address spaces.
    pub faults: FaultCounters,
    /// Slots of the swap area (0 without swap), in pages.
    pub swap_total: u64,
    /// Swap slots in use, in pages.
    pub swap_used: u64,
    /// Frames held by the swap cache (of `frames_in_use`).
    pub swap_cache_frames: u64,
    /// Pages read back from the swap area (pswpin).
    pub swap_ins: u64,
    /// Pages written to the swap area (pswpout).
    pub swap_outs: u64,
    /// Dirty shared file pages written back to their file (msync, munmap,
    /// exit, reclaim).
    pub writebacks: u64,
    /// Reclaim runs (calls of [`reclaim`](crate::reclaim)).
    pub reclaim_runs: u64,
    /// Frames freed by reclaim.
    pub reclaimed_frames: u64,
    /// Processes killed by the OOM killer (counted by the kernel through
    /// [`PhysMem::note_oom_kill`](crate::PhysMem::note_oom_kill)).
    pub oom_kills: u64,
    /// How fork builds children (`--fork-mode`); set with
    /// [`PhysMem::set_fork_mode`](crate::PhysMem::set_fork_mode).
    pub fork_mode: ForkMode,
    /// Successful forks (any mode).
    pub forks: u64,
    /// Host time spent in those forks, in nanoseconds.
    pub fork_ns: u64,
    /// Pages copied into new frames at fork time by successful
    /// [`Copy`](ForkMode::Copy) forks (private anonymous pages present in
    /// the parent); always 0 in the copy-on-write modes, whose copies are
    /// counted as `faults.cow_copy` when a write needs them.
    pub fork_pages_copied: u64,
    /// Leaf tables shared with a child by share-tables forks.
    pub leaf_tables_shared: u64,
    /// Shared leaf tables copied because one sharer changed a PTE.
    pub leaf_table_copies: u64,
    /// Shares of leaf tables dropped without a copy (unmap of the whole
    /// 2 MiB, exit).
    pub leaf_table_drops: u64,
}
