//! `--stats-json FILE`: the schema's values on programs whose memory
//! behaviour is known (docs/stats-json.md).

mod common;

use common::*;
use serde_json::Value;

/// Runs a guest with `--stats-json` and parses what it wrote.
fn stats(name: &str, extra: &[&str]) -> (std::process::Output, Value) {
    stats_linked(Link::Static, name, extra)
}

/// [`stats`] of the guest linked as `link`.
fn stats_linked(link: Link, name: &str, extra: &[&str]) -> (std::process::Output, Value) {
    let dir = Scratch::new("stats-json");
    let file = dir.path().join("stats.json");
    let mut args = vec!["--stats-json", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = link.run(&args, name, &[]);
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("no stats file: {e}\n{}", stderr(&o)));
    (o, serde_json::from_str(&text).expect("valid JSON"))
}

fn u(v: &Value, path: &str) -> u64 {
    path.split('.')
        .fold(v, |v, k| match k.parse::<usize>() {
            Ok(i) => &v[i],
            Err(_) => &v[k],
        })
        .as_u64()
        .unwrap_or_else(|| panic!("{path} is not a number in {v:#}"))
}

#[test]
fn eight_children_writing_256_pages_make_at_least_2048_cow_copies() {
    let (o, s) = stats("fork8", &[]);
    assert_eq!(stdout(&o), "children ok: 8\n", "{}", stderr(&o));
    assert_eq!(u(&s, "schema_version"), 1);
    assert_eq!(u(&s, "exit_code"), 0);
    assert_eq!(u(&s, "processes"), 9);
    assert_eq!(u(&s, "fork.count"), 8);
    assert_eq!(s["fork"]["mode"], "cow");
    assert!(u(&s, "fork.host_ns_total") > 0);
    // Copy-on-write copies at the write, never at fork.
    assert_eq!(u(&s, "fork.pages_copied"), 0, "{s:#}");
    assert!(u(&s, "faults.cow_copy") >= 2048, "{s:#}");
    // Nothing is left behind once every process has gone.
    assert_eq!(u(&s, "frames.in_use_at_exit"), 0, "{s:#}");
    assert!(u(&s, "guest_instructions") > 0);
    // One entry per process; each child peaked with its own 1 MiB private
    // copy on top of what it shares.
    let procs = s["per_process"].as_array().unwrap();
    assert_eq!(procs.len(), 9);
    for p in procs {
        assert!(
            p["command_line"].as_str().unwrap().ends_with("fork8"),
            "{p}"
        );
        assert!(u(p, "peak_rss_kib") >= 1024, "{p}");
        assert!(u(p, "peak_pss_kib") <= u(p, "peak_rss_kib"), "{p}");
        assert_eq!(u(p, "peak_swap_kib"), 0, "{p}");
    }
    let children = procs.iter().filter(|p| u(p, "pid") != 1);
    for c in children {
        assert!(u(c, "peak_private_kib") >= 1024, "{c}");
    }
}

static_and_dynamic! {
    fn a_256_mib_bss_read_maps_the_zero_page_and_costs_almost_nothing(link) {
        let (o, s) = stats_linked(link, "bss_read", &["--memory", "64M"]);
        assert_eq!(stdout(&o), "sum 0 over 65536 pages\n", "{}", stderr(&o));
        let zero = u(&s, "faults.zero_page");
        assert!((65536..65536 + 64).contains(&zero), "zero_page {zero}");
        // 256 MiB read in 64 MiB of memory: the peak is a few hundred frames
        // (code, stack, page tables), not 65536.
        assert!(u(&s, "frames.peak") < 1024, "{s:#}");
        assert!(u(&s, "frames.page_tables_peak") >= 128, "{s:#}");
        assert_eq!(u(&s, "frames.total"), 16384);
        assert!(u(&s, "per_process.0.peak_rss_kib") < 4096, "{s:#}");
    }
}

#[test]
fn swapping_and_exit_codes_are_reported() {
    let (o, s) = stats("swapme", &["--memory", "8M", "--swap", "64M"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(u(&s, "swap.out") > 0 && u(&s, "swap.in") > 0, "{s:#}");
    assert_eq!(u(&s, "swap.total"), 16384);
    assert!(u(&s, "per_process.0.peak_swap_kib") > 0, "{s:#}");
    let (o, s) = stats("exitcode", &[]);
    assert_eq!(u(&s, "exit_code") as i32, o.status.code().unwrap());
}

#[test]
fn a_stats_file_that_cannot_be_written_is_a_usage_error() {
    let o = cowix([
        "run",
        "--stats-json",
        "/nonexistent-dir/x.json",
        "--",
        guest("hello").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--stats-json /nonexistent-dir/x.json"),
        "{}",
        stderr(&o)
    );
}

/// `--fork-mode copy`: each of fork8's 8 forks copies every private page
/// the parent has (its 256-page buffer at least), so nothing is left for
/// the children's writes to copy; each child's private memory is no more
/// than what its fork copied (plus a few pages of stack growth).
#[test]
fn copy_mode_counts_the_pages_each_fork_copied() {
    let (o, s) = stats("fork8", &["--fork-mode", "copy"]);
    assert_eq!(stdout(&o), "children ok: 8\n", "{}", stderr(&o));
    assert_eq!(s["fork"]["mode"], "copy");
    let copied = u(&s, "fork.pages_copied");
    assert!(copied >= 8 * 256, "{s:#}");
    assert_eq!(u(&s, "faults.cow_copy"), 0, "{s:#}");
    let per_fork = copied / 8;
    let procs = s["per_process"].as_array().unwrap();
    assert_eq!(procs.len(), 9);
    // In the order they ended: the parent, which waited for all, is last.
    for p in &procs[..8] {
        let private_pages = u(p, "peak_private_kib") / 4;
        assert!(private_pages >= 256, "{p}");
        assert!(
            private_pages <= per_fork + 4,
            "{per_fork} copied per fork: {p}"
        );
    }
}
