//! `--trace FILE` (docs/trace.md) and `cowix report`: the events of real
//! guests from tests/guest, checked against `--stats-json`.
//!
//! These run the static guests only: they count and locate the faults of
//! a program's own pages and processes, which in a dynamic program share
//! the trace with ld.so's relocation and libc's pages (more faults, other
//! addresses, no new mechanism). tests/lazy_binding.rs traces a dynamic
//! guest: the fault by which ld.so makes the GOT page anonymous.

mod common;

use common::*;
use serde_json::Value;

/// Runs guest `name` with `--trace` (and `extra` flags) and `--stats-json`;
/// returns the trace's records and the stats.
fn traced(name: &str, extra: &[&str], args: &[&str]) -> (Vec<Value>, Value, Scratch) {
    let dir = Scratch::new("trace");
    let trace = dir.path().join("t.jsonl");
    let stats = dir.path().join("s.json");
    let g = guest(name);
    let mut v: Vec<String> = vec!["run".into(), "--trace".into(), trace.display().to_string()];
    v.extend(["--stats-json".into(), stats.display().to_string()]);
    v.extend(extra.iter().map(|s| s.to_string()));
    v.push("--".into());
    v.push(g.display().to_string());
    v.extend(args.iter().map(|s| s.to_string()));
    let o = cowix(&v);
    assert!(o.status.code().is_some(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&trace).expect("trace written");
    let records = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let stats = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    (records, stats, dir)
}

fn count(records: &[Value], ev: &str) -> usize {
    records.iter().filter(|r| r["ev"] == ev).count()
}

fn faults_of_kind(records: &[Value], kind: &str) -> u64 {
    records
        .iter()
        .filter(|r| r["ev"] == "fault" && r["kind"] == kind)
        .count() as u64
}

#[test]
fn fork8_faults_in_the_trace_match_the_stats_kind_by_kind() {
    let (r, stats, _dir) = traced("fork8", &[], &[]);
    for kind in [
        "zero_page",
        "zero_fill",
        "cow_copy",
        "cow_reuse",
        "file",
        "file_cow",
        "shared_write",
        "swap_in",
    ] {
        assert_eq!(
            faults_of_kind(&r, kind),
            stats["faults"][kind].as_u64().unwrap(),
            "{kind}"
        );
    }
    assert!(faults_of_kind(&r, "cow_copy") > 0);
    assert_eq!(count(&r, "fork"), 8);
    assert_eq!(count(&r, "exit"), 9);
    assert_eq!(count(&r, "exec"), 1);
    assert_eq!(r[0]["ev"], "trace");
    assert_eq!(r[0]["version"], 1);
    assert_eq!(r.last().unwrap()["ev"], "end");
    assert_eq!(r.last().unwrap()["truncated"], false);
}

#[test]
fn records_are_numbered_in_order_and_time_never_goes_back_within_a_process() {
    let (r, _, _dir) = traced("fork_vars", &[], &[]);
    for (i, rec) in r.iter().enumerate() {
        assert_eq!(rec["seq"].as_u64(), Some(i as u64), "{rec}");
    }
    let mut last = std::collections::HashMap::new();
    for rec in r.iter().filter(|x| x["pid"].is_i64()) {
        let pid = rec["pid"].as_i64().unwrap();
        let insn = rec["insn"].as_u64().unwrap();
        let prev = last.insert(pid, insn).unwrap_or(0);
        assert!(insn >= prev, "{rec}");
    }
}

#[test]
fn a_cow_copy_names_the_shared_frame_it_left_and_the_private_one_it_got() {
    let (r, _, _dir) = traced("fork_vars", &[], &[]);
    let copies: Vec<&Value> = r
        .iter()
        .filter(|x| x["ev"] == "fault" && x["kind"] == "cow_copy")
        .collect();
    assert!(!copies.is_empty());
    for c in copies {
        assert!(c["refs_before"].as_u64().unwrap() >= 2, "{c}");
        assert_ne!(c["frame_before"], c["frame"], "{c}");
        let vma = c["vma"].as_array().unwrap();
        let addr = c["addr"].as_u64().unwrap();
        assert!(vma[0].as_u64().unwrap() <= addr && addr < vma[1].as_u64().unwrap());
    }
    let fork = r.iter().find(|x| x["ev"] == "fork").unwrap();
    assert_eq!(fork["mode"], "cow");
    assert!(fork["ns"].is_u64());
    let child = fork["child"].as_i64().unwrap();
    let snap = r
        .iter()
        .find(|x| x["ev"] == "snapshot" && x["pid"] == child && x["why"] == "fork")
        .expect("the child's snapshot at fork");
    let runs = snap["runs"].as_array().unwrap();
    assert!(runs
        .iter()
        .any(|run| run[2] == "cow" && run[4].as_u64().unwrap() >= 2));
    let exit = r
        .iter()
        .find(|x| x["ev"] == "exit" && x["pid"] == child)
        .unwrap();
    assert_eq!(exit["status"], 7);
}

#[test]
fn bss_reads_map_the_zero_frame() {
    let (r, stats, _dir) = traced("bss_read", &[], &[]);
    let zero = faults_of_kind(&r, "zero_page");
    assert!(zero > 0);
    assert_eq!(zero, stats["faults"]["zero_page"].as_u64().unwrap());
    let f = r
        .iter()
        .find(|x| x["ev"] == "fault" && x["kind"] == "zero_page")
        .unwrap();
    assert_eq!(f["frame"], 0, "the zero frame is frame 0: {f}");
}

#[test]
fn vfork_and_exec_are_traced_with_the_exec_path() {
    let echo = guest("echo_args");
    let (r, _, _dir) = traced("vfork_exec", &[], &[echo.to_str().unwrap()]);
    let vfork = r
        .iter()
        .rfind(|x| x["ev"] == "vfork")
        .expect("a vfork event (the second one execs)");
    let child = vfork["child"].as_i64().unwrap();
    let exec = r
        .iter()
        .find(|x| x["ev"] == "exec" && x["pid"] == child)
        .expect("the child's exec");
    assert!(
        exec["path"].as_str().unwrap().ends_with("echo_args"),
        "{exec}"
    );
    assert!(exec["seq"].as_u64() > vfork["seq"].as_u64());
    let (r, _, _dir) = traced("fork_exec", &[], &[echo.to_str().unwrap()]);
    assert_eq!(count(&r, "fork"), 1);
    assert_eq!(count(&r, "exec"), 2, "the first process and the child");
}

#[test]
fn swap_out_and_in_are_traced_like_the_stats_count_them() {
    let (r, stats, _dir) = traced("swapme", &["--memory", "8M", "--swap", "64M"], &["16"]);
    let written = r
        .iter()
        .filter(|e| e["ev"] == "swap_out" && e["written"] == true)
        .count() as u64;
    assert!(written > 0);
    assert_eq!(written, stats["swap"]["out"].as_u64().unwrap());
    assert_eq!(
        count(&r, "swap_in") as u64,
        stats["swap"]["in"].as_u64().unwrap()
    );
    assert!(count(&r, "reclaim") > 0);
}

/// Every PTE reclaim moves to swap is one `swap_out` naming the process
/// whose page table held it and the page's address; after fork, a page
/// both processes share goes out once (`written`) and the other mapping
/// finds it in the swap cache.
#[test]
fn swap_outs_name_the_mapping_they_unmapped() {
    let (r, _, _dir) = traced(
        "swapme",
        &["--memory", "8M", "--swap", "64M"],
        &["16", "fork"],
    );
    let pids: std::collections::BTreeSet<i64> = r
        .iter()
        .filter(|e| e["ev"] == "exec" || e["ev"] == "fork")
        .flat_map(|e| [e["pid"].as_i64(), e["child"].as_i64()])
        .flatten()
        .collect();
    assert_eq!(pids.len(), 2, "{pids:?}");
    let outs: Vec<&Value> = r.iter().filter(|e| e["ev"] == "swap_out").collect();
    assert!(outs.len() > 4096, "{}", outs.len());
    for e in &outs {
        let owner = e["owner"].as_i64().unwrap_or_else(|| panic!("{e}"));
        assert!(pids.contains(&owner), "{e}");
        let addr = e["addr"].as_u64().unwrap_or_else(|| panic!("{e}"));
        assert_eq!(addr % 4096, 0, "{e}");
    }
    let found = outs.iter().filter(|e| e["written"] == false).count();
    assert!(found > 0, "shared pages found in the swap cache");
    let others = outs.iter().filter(|e| e["owner"] != e["pid"]).count();
    assert!(others > 0, "pages of the other process taken for this one");
}

#[test]
fn the_limit_stops_the_trace_with_one_truncated_record() {
    let (r, _, _dir) = traced("fork8", &["--trace-limit", "50"], &[]);
    assert_eq!(r.len(), 53, "header, 50 events, truncated, end");
    assert_eq!(r[51]["ev"], "truncated");
    assert_eq!(r[51]["limit"], 50);
    assert_eq!(count(&r, "truncated"), 1);
    assert_eq!(r[52]["ev"], "end");
    assert_eq!(r[52]["truncated"], true);
}

#[test]
fn without_trace_no_file_is_written() {
    let dir = Scratch::new("trace-off");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_cowix"))
        .args(["run", "--", guest("fork8").to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn an_unwritable_trace_file_is_a_usage_error() {
    let g = guest("hello");
    let o = cowix([
        "run",
        "--trace",
        "/nonexistent-dir/t.jsonl",
        "--",
        g.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("cowix: --trace /nonexistent-dir/t.jsonl:"));
}

/// Writes a fork8 trace and its report; returns (trace, html, pids).
fn fork8_report(dir: &Scratch) -> (std::path::PathBuf, std::path::PathBuf, usize) {
    let trace = dir.path().join("t.jsonl");
    let html = dir.path().join("report.html");
    let g = guest("fork8");
    let o = cowix([
        "run",
        "--trace",
        trace.to_str().unwrap(),
        "--",
        g.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = cowix([
        "report",
        trace.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&trace).unwrap();
    let pids: std::collections::BTreeSet<i64> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["ev"] == "snapshot")
        .filter_map(|r| r["pid"].as_i64())
        .collect();
    (trace, html, pids.len())
}

#[test]
fn the_report_is_one_self_contained_page_with_a_strip_per_process() {
    let dir = Scratch::new("report");
    let (_, html, procs) = fork8_report(&dir);
    assert_eq!(procs, 9);
    let page = std::fs::read_to_string(html).unwrap();
    assert_eq!(page.matches(r#"<div class="strip""#).count(), procs);
    for needle in [r#"id="timeline""#, r#"id="scrubber""#, r#"type="range""#] {
        assert!(page.contains(needle), "{needle}");
    }
    for remote in ["src=", "href=", "url(", "@import", "https://"] {
        assert!(
            !page.contains(remote),
            "the page must fetch nothing: {remote}"
        );
    }
}

#[test]
fn bad_report_input_is_one_error_line_and_exit_2() {
    let dir = Scratch::new("report-bad");
    let out = dir.path().join("r.html");
    let missing = dir.path().join("missing.jsonl");
    let not_trace = dir.path().join("not.jsonl");
    std::fs::write(&not_trace, "{\"hello\":1}\n").unwrap();
    let cut = dir.path().join("cut.jsonl");
    let (trace, _, _) = fork8_report(&dir);
    let text = std::fs::read_to_string(trace).unwrap();
    std::fs::write(&cut, &text[..text.len() - 20]).unwrap();
    for (input, says) in [
        (&missing, "cannot read"),
        (&not_trace, "is not a cowix trace"),
        (&cut, "not a JSON record (truncated?)"),
    ] {
        let o = cowix([
            "report",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", input.display());
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("cowix report: ") && err.contains(says),
            "{err}"
        );
        assert!(!out.exists());
    }
}

/// The PNG's width and height from its IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

/// Runs headless Chromium on `html` with `extra` flags (a screenshot or a
/// DOM dump); None (and a note) where Chromium is not installed.
fn headless(
    dir: &Scratch,
    html: &std::path::Path,
    extra: &[String],
) -> Option<std::process::Output> {
    let chromium = std::process::Command::new("chromium")
        .arg("--version")
        .output();
    if !chromium.is_ok_and(|o| o.status.success()) {
        // scripts/test installs Debian's chromium; a bare `cargo test`
        // on a machine without it cannot run this check.
        eprintln!("no chromium: the headless check is not run");
        return None;
    }
    let profile = dir.path().join("profile");
    let mut c = std::process::Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1200,900",
    ]);
    c.arg(format!("--user-data-dir={}", profile.display()));
    c.args(extra).arg(format!("file://{}", html.display()));
    Some(c.output().expect("chromium runs"))
}

#[test]
fn headless_chromium_draws_the_report() {
    let dir = Scratch::new("report-chromium");
    let (_, html, procs) = fork8_report(&dir);
    let shot = dir.path().join("shot.png");
    let Some(o) = headless(&dir, &html, &[format!("--screenshot={}", shot.display())]) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(png_size(&png), (1200, 900));
    // A blank 1200x900 page compresses to a few KiB; strips, links and
    // the timeline take far more.
    assert!(
        png.len() > 20_000,
        "screenshot looks blank: {} bytes",
        png.len()
    );
    let o = headless(&dir, &html, &["--dump-dom".to_string()]).unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let dom = stdout(&o);
    assert_eq!(dom.matches(r#"<div class="strip"#).count(), procs);
    assert!(dom.matches(r#"class="bar""#).count() > 10, "timeline bars");
    assert!(dom.contains(r#"id="scrubber""#));
    for state in ["private", "cow", "file"] {
        assert!(dom.contains(&format!(r#"data-state="{state}""#)), "{state}");
    }
    assert!(
        dom.contains("<line "),
        "lines between processes sharing frames"
    );
}

/// A synthesized trace of 2,000,000 faults in 64 processes (each page its
/// own run: a private frame, then the zero frame, alternately), with swap
/// outs: far more than a page can hold whole.
fn write_large_trace(path: &std::path::Path) -> u64 {
    use std::io::Write;
    const PROCS: u64 = 64;
    const FAULTS: u64 = 2_000_000;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        w,
        r#"{{"seq":0,"ev":"trace","version":1,"page_size":4096,"fork_mode":"cow","limit":0}}"#
    )
    .unwrap();
    let mut seq = 1u64;
    let mut line = |w: &mut std::io::BufWriter<std::fs::File>, body: String| {
        writeln!(w, r#"{{"seq":{seq},"insn":{},{body}}}"#, seq * 10).unwrap();
        seq += 1;
    };
    line(&mut w, r#""pid":1,"ev":"exec","path":"/synth""#.into());
    line(
        &mut w,
        r#""pid":1,"ev":"snapshot","why":"exec","page_size":4096,"vmas":[],"runs":[],"cut":false"#
            .into(),
    );
    for child in 2..=PROCS {
        line(
            &mut w,
            format!(r#""pid":1,"ev":"fork","child":{child},"mode":"cow","ns":1"#),
        );
        line(
            &mut w,
            format!(
                r#""pid":{child},"ev":"snapshot","why":"fork","page_size":4096,"vmas":[],"runs":[],"cut":false"#
            ),
        );
    }
    for j in 0..FAULTS {
        let pid = 1 + j % PROCS;
        let page = j / PROCS;
        let addr = 0x4000_0000 + page * 4096;
        let body = if page % 2 == 0 {
            format!(
                r#""pid":{pid},"ev":"fault","kind":"zero_fill","addr":{addr},"frame_before":null,"refs_before":null,"frame":{},"refs":1"#,
                1000 + j
            )
        } else {
            format!(
                r#""pid":{pid},"ev":"fault","kind":"zero_page","addr":{addr},"frame_before":null,"refs_before":null,"frame":0,"refs":9"#
            )
        };
        line(&mut w, body);
        if j % 1000 == 999 {
            // The first page of process 2 goes to swap.
            line(
                &mut w,
                format!(
                    r#""pid":{pid},"ev":"swap_out","frame":1001,"slot":{j},"written":true,"addr":{},"owner":2"#,
                    0x4000_0000u64
                ),
            );
        }
    }
    line(
        &mut w,
        r#""pid":3,"ev":"exit","status":0,"signal":null"#.into(),
    );
    writeln!(
        w,
        r#"{{"seq":{seq},"insn":{},"ev":"end","events":{seq},"truncated":false}}"#,
        seq * 10
    )
    .unwrap();
    w.flush().unwrap();
    FAULTS
}

/// The page of a huge trace stays under the bound, says it was
/// downsampled, keeps exact fault counts, and still draws.
#[test]
fn a_report_of_millions_of_events_is_bounded_and_still_draws() {
    let dir = Scratch::new("report-large");
    let trace = dir.path().join("big.jsonl");
    let faults = write_large_trace(&trace);
    assert!(std::fs::metadata(&trace).unwrap().len() > 100_000_000);
    let html = dir.path().join("big.html");
    let o = cowix([
        "report",
        trace.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.len() <= 10_000_000, "{} bytes", page.len());
    assert!(page.contains("downsampled: "), "the page says so");
    assert!(page.contains(&format!("64 processes, {faults} faults")));
    assert_eq!(page.matches(r#"<div class="strip""#).count(), 64);
    // The data: exact bucket counts adding up to every fault, and the last
    // point's pages of process 1 exactly as the faults left them.
    let start = page
        .find(r#"<script id="trace-data" type="application/json">"#)
        .unwrap();
    let json = &page[start..];
    let json = &json[json.find('>').unwrap() + 1..json.find("</script>").unwrap()];
    let data: Value = serde_json::from_str(json).unwrap();
    assert_eq!(data["mode"], "keyframes");
    let counted: u64 = data["bins"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b.as_array().unwrap().iter().map(|n| n.as_u64().unwrap()))
        .sum();
    assert_eq!(counted, faults);
    let stops = data["stops"].as_array().unwrap();
    assert!(!stops.is_empty());
    let last = stops.last().unwrap();
    let (first, end) = (
        last[0].as_u64().unwrap() as usize,
        last[1].as_u64().unwrap() as usize,
    );
    let records = data["records"].as_array().unwrap();
    let p1 = records[first..end]
        .iter()
        .find(|r| r["pid"] == 1)
        .expect("pid 1 at the last point");
    let runs = p1["runs"].as_array().unwrap();
    assert_eq!(
        runs[0],
        serde_json::json!([0x4000_0000u64, 1, "private", 1000, 1])
    );
    assert_eq!(
        runs[1],
        serde_json::json!([0x4000_1000u64, 1, "zero", 0, 9])
    );
    assert!(
        records[first..end].iter().all(|r| r["pid"] != 3),
        "pid 3 ended"
    );
    // Process 2's first page went to swap.
    let p2 = records[first..end].iter().find(|r| r["pid"] == 2).unwrap();
    assert_eq!(p2["runs"][0][2], "swap");
    // And Chromium draws it.
    let Some(o) = headless(&dir, &html, &["--dump-dom".to_string()]) else {
        return;
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let dom = stdout(&o);
    assert_eq!(dom.matches(r#"<div class="strip"#).count(), 64);
    assert!(dom.matches(r#"class="bar""#).count() > 10, "timeline bars");
    for state in ["private", "zero", "swap"] {
        assert!(dom.contains(&format!(r#"data-state="{state}""#)), "{state}");
    }
    assert!(dom.contains("point "), "the scrubber moves over points");
}
