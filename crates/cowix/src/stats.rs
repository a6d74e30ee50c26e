//! `--stats-json`: the run's counters as one JSON object. The schema is
//! documented (and versioned) in docs/stats-json.md; fields are only ever
//! added, never renamed or removed, within a `schema_version`.

use std::time::Duration;

use cowix_kernel::Kernel;
use serde_json::{json, Value};

/// The `schema_version` this code writes.
pub const SCHEMA_VERSION: u64 = 1;

/// The counters of a finished run (`exit_code` is what cowix exits with).
pub fn to_json(kernel: &Kernel, exit_code: i32, wall: Duration) -> Value {
    let m = kernel.mem_stats();
    let f = &m.faults;
    let kib = |bytes: u64| bytes / 1024;
    let processes: Vec<Value> = kernel
        .process_reports()
        .iter()
        .map(|r| {
            json!({
                "pid": r.pid,
                "command_line": r.command_line,
                "peak_rss_kib": kib(r.peak.rss),
                "peak_pss_kib": kib(r.peak.pss),
                "peak_shared_kib": kib(r.peak.shared),
                "peak_private_kib": kib(r.peak.private),
                "peak_swap_kib": kib(r.peak.swap),
            })
        })
        .collect();
    // Frames still held when every process has gone, by anything but the
    // page cache (and the swap cache, which drains as slots are freed):
    // 0 means nothing leaked.
    let in_use_at_exit = m
        .frames_in_use
        .saturating_sub(m.page_cache_frames + m.swap_cache_frames);
    json!({
        "schema_version": SCHEMA_VERSION,
        "exit_code": exit_code,
        "guest_instructions": kernel.instructions(),
        "wall_seconds": wall.as_secs_f64(),
        "processes": kernel.processes_created(),
        "faults": {
            "zero_page": f.zero_page,
            "zero_fill": f.zero_fill,
            "cow_copy": f.cow_copy,
            "cow_reuse": f.cow_reuse,
            "file": f.file,
            "file_cow": f.file_cow,
            "shared_write": f.shared_write,
            "swap_in": f.swap_in,
            "stack_growth": f.stack_growth,
            "segv": f.segv,
            "bus": f.bus,
            "oom": f.oom,
        },
        "frames": {
            "total": m.max_frames,
            "peak": m.peak_frames_in_use,
            "in_use_at_exit": in_use_at_exit,
            "page_cache_at_exit": m.page_cache_frames,
            "page_tables_peak": m.peak_page_table_frames,
        },
        "swap": {
            "total": m.swap_total,
            "out": m.swap_outs,
            "in": m.swap_ins,
        },
        "fork": {
            "count": m.forks,
            "mode": m.fork_mode.name(),
            "host_ns_total": m.fork_ns,
            "pages_copied": m.fork_pages_copied,
        },
        "reclaim": {
            "runs": m.reclaim_runs,
            "freed_frames": m.reclaimed_frames,
            "writebacks": m.writebacks,
            "oom_kills": m.oom_kills,
        },
        "per_process": processes,
    })
}
