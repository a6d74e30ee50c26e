//! Per-process memory accounting for `--stats` and `--stats-json`: each
//! process's peak Rss, Pss, Shared, Private and Swap, from the memory
//! system's smaps figures ([`cowix_mm::AddressSpace::smaps_rollup`]).
//!
//! A peak is the largest value seen at a *sample*: when the process execs
//! (the old image, just before it goes), when it ends (just before its
//! memory is released), and at the end of its scheduler turns while its
//! memory is changing. A sample walks the page tables, so turn-end samples
//! are spaced so that walking costs at most about a tenth of the run: a
//! process is sampled again only after it has retired
//! `SAMPLE_INSNS_PER_PAGE` instructions per resident page since the last
//! walk, and only if it faulted meanwhile. Accounting is off unless asked
//! for, and then costs nothing for processes whose memory is still.

use cowix_mm::PhysMem;

use crate::process::Process;

/// Instructions a process must retire per page walked before its next
/// turn-end sample (a walk costs about 20 ns a page, an instruction about
/// 2.5 ns: about 8% at most).
const SAMPLE_INSNS_PER_PAGE: u64 = 100;

/// A process's peak memory figures, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemPeak {
    pub rss: u64,
    pub pss: u64,
    pub shared: u64,
    pub private: u64,
    pub swap: u64,
}

/// Where a process's sampling stands.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sampling {
    pub peak: MemPeak,
    /// Instructions retired by the process at the last sample.
    last_insns: u64,
    /// Its resolved faults at the last sample (no change, no new sample).
    last_faults: u64,
    /// Pages the last sample walked.
    last_pages: u64,
}

/// What `--stats-json` reports of one process that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessReport {
    pub pid: i32,
    /// Its command line at the end (after any exec), arguments separated by spaces.
    pub command_line: String,
    pub peak: MemPeak,
}

/// Samples `p`'s memory now and raises its peaks.
pub fn sample(p: &mut Process, pm: &PhysMem) {
    let r = p.mm.get().smaps_rollup(pm);
    let faults = p.mm.get().fault_counters().resolved();
    let now = insns(p);
    let s = &mut p.sampling;
    s.peak.rss = s.peak.rss.max(r.rss);
    s.peak.pss = s.peak.pss.max(r.pss);
    s.peak.shared = s.peak.shared.max(r.shared_clean + r.shared_dirty);
    s.peak.private = s.peak.private.max(r.private_clean + r.private_dirty);
    s.peak.swap = s.peak.swap.max(r.swap);
    s.last_faults = faults;
    s.last_pages = (r.rss + r.swap) / cowix_mm::PAGE_SIZE;
    s.last_insns = now;
}

/// Samples at the end of a scheduler turn if the memory changed since the
/// last sample and enough instructions have passed to pay for the walk.
pub fn sample_after_turn(p: &mut Process, pm: &PhysMem) {
    let s = p.sampling;
    let faults = p.mm.get().fault_counters().resolved();
    if faults == s.last_faults && s.last_insns != 0 {
        return;
    }
    let due = s.last_insns + s.last_pages * SAMPLE_INSNS_PER_PAGE;
    if s.last_insns != 0 && insns(p) < due {
        return;
    }
    sample(p, pm);
}

/// Instructions the process's threads have retired so far.
fn insns(p: &Process) -> u64 {
    p.retired + p.threads.values().map(|t| t.cpu.instret).sum::<u64>()
}
