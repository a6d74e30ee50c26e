//! `cowix report TRACE -o out.html`: one self-contained HTML page (inline
//! CSS, JS and SVG; nothing fetched; the template is report.html) drawn
//! from a `--trace` file (docs/trace.md): each process's address space as
//! a strip of pages coloured by state, lines between processes sharing
//! frames, and a timeline of faults by kind with a scrubber.
//!
//! The page is bounded ([`PAGE_BOUND`] bytes, whatever the trace):
//!
//! * a small trace (at most [`FULL_TRACE_MAX`] bytes) is embedded whole and
//!   the page replays it, so the scrubber moves record by record;
//! * a larger one is read as a stream and replayed here, and the page gets
//!   the state of every page of every process at up to [`KEYFRAMES`]
//!   evenly spaced records (exact at each: the same replay the page does
//!   for a small trace), as few as the bound allows.
//!
//! Either way the fault timeline is counted here over every record
//! ([`BINS`] buckets of records, exact counts by kind), at most
//! [`MAX_STRIPS`] processes get a strip (the first by pid), and a keyframe
//! lists at most [`MAX_KEYFRAME_RUNS`] page runs. The page says which
//! limits it hit.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::Value;

/// Exit status for bad input (missing file, not a trace, bad JSON).
const EXIT_BAD_INPUT: u8 = 2;

/// The most bytes a report page has, for any trace.
pub const PAGE_BOUND: usize = 10_000_000;
/// Traces up to this size are embedded whole (every event replayable).
pub const FULL_TRACE_MAX: u64 = 4_000_000;
/// The most points in time a downsampled page keeps.
pub const KEYFRAMES: usize = 200;
/// Buckets of the fault timeline.
pub const BINS: usize = 200;
/// Processes drawn as strips (the first by pid); the timeline counts all.
pub const MAX_STRIPS: usize = 512;
/// Page runs one keyframe may list (over all its processes).
pub const MAX_KEYFRAME_RUNS: usize = 50_000;

/// Fault kinds in the timeline's order (docs/trace.md).
const KINDS: [&str; 9] = [
    "zero_page",
    "zero_fill",
    "cow_copy",
    "cow_reuse",
    "file",
    "file_cow",
    "shared_write",
    "swap_in",
    "spurious",
];

/// Why a line is not a usable trace record (`i` counts from 0).
fn check_record(shown: &str, i: usize, line: &str) -> Result<Value, String> {
    let record: Value = serde_json::from_str(line)
        .map_err(|e| format!("{shown}:{}: not a JSON record (truncated?): {e}", i + 1))?;
    if i == 0 {
        if record["ev"] != "trace" || !record["version"].is_u64() {
            return Err(format!(
                "{shown} is not a cowix trace (its first line is not the \"trace\" header)"
            ));
        }
        if record["version"] != 1 {
            return Err(format!(
                "{shown}: trace version {} is not supported (this cowix reads version 1)",
                record["version"]
            ));
        }
    } else if !record["ev"].is_string() {
        return Err(format!("{shown}:{}: a record without \"ev\"", i + 1));
    }
    Ok(record)
}

/// Reads and checks a whole trace: its records, or the one-line reason it
/// is not a usable trace.
pub fn read_trace(path: &Path) -> Result<Vec<Value>, String> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let records = text
        .lines()
        .enumerate()
        .map(|(i, line)| check_record(&shown, i, line))
        .collect::<Result<Vec<_>, _>>()?;
    if records.is_empty() {
        return Err(format!("{shown} is empty, not a cowix trace"));
    }
    Ok(records)
}

/// A page's state as the page draws it (docs/trace.md's snapshot states).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Page {
    state: &'static str,
    frame: u64,
    refs: i64,
}

/// Known states, so a page holds a `&'static str`.
fn state_name(s: &str) -> &'static str {
    match s {
        "private" => "private",
        "cow" => "cow",
        "zero" => "zero",
        "file" => "file",
        _ => "swap",
    }
}

#[derive(Default)]
struct Proc {
    pages: BTreeMap<u64, Page>,
    gone: bool,
}

/// The page's replay (report.html: `statesAt`), done here for a large
/// trace: every process's pages and each frame's refcount as last seen.
#[derive(Default)]
struct Replay {
    procs: BTreeMap<i64, Proc>,
    refs: HashMap<u64, i64>,
}

impl Replay {
    fn apply(&mut self, r: &Value) {
        let pid = r["pid"].as_i64().unwrap_or(0);
        match r["ev"].as_str().unwrap_or("") {
            "snapshot" => {
                let exit = r["why"] == "exit";
                let mut pages = BTreeMap::new();
                for run in r["runs"].as_array().into_iter().flatten() {
                    let n = |i: usize| run[i].as_u64().unwrap_or(0);
                    let (start, count, frame) = (n(0), n(1), n(3));
                    let state = state_name(run[2].as_str().unwrap_or(""));
                    let refs = run[4].as_i64().unwrap_or(1);
                    for k in 0..count {
                        let f = if state == "zero" { 0 } else { frame + k };
                        if state != "swap" {
                            self.refs.insert(f, if exit { refs - 1 } else { refs });
                        }
                        if !exit {
                            pages.insert(
                                start + k * 4096,
                                Page {
                                    state,
                                    frame: f,
                                    refs,
                                },
                            );
                        }
                    }
                }
                // An ended process is drawn without its pages.
                self.procs.insert(pid, Proc { pages, gone: exit });
            }
            "fault" => {
                let frame = r["frame"].as_u64();
                if let Some(before) = r["frame_before"].as_u64() {
                    if Some(before) != frame {
                        let refs = r["refs_before"].as_i64().unwrap_or(1);
                        self.refs.insert(before, refs - 1);
                    }
                }
                let refs = r["refs"].as_i64().unwrap_or(1);
                if let Some(f) = frame {
                    self.refs.insert(f, refs);
                }
                let kind = r["kind"].as_str().unwrap_or("");
                let page = match (kind, frame) {
                    ("zero_page", _) => Some(Page {
                        state: "zero",
                        frame: 0,
                        refs,
                    }),
                    ("file" | "shared_write", Some(f)) => Some(Page {
                        state: "file",
                        frame: f,
                        refs,
                    }),
                    (_, Some(f)) => Some(Page {
                        state: if refs > 1 { "cow" } else { "private" },
                        frame: f,
                        refs,
                    }),
                    (_, None) => None,
                };
                let addr = r["addr"].as_u64().unwrap_or(0) / 4096 * 4096;
                if let (Some(page), Some(p)) = (page, self.procs.get_mut(&pid)) {
                    p.pages.insert(addr, page);
                }
            }
            "swap_out" => {
                let (Some(owner), Some(addr)) = (r["owner"].as_i64(), r["addr"].as_u64()) else {
                    return;
                };
                let slot = r["slot"].as_u64().unwrap_or(0);
                if let Some(p) = self.procs.get_mut(&owner) {
                    p.pages.insert(
                        addr,
                        Page {
                            state: "swap",
                            frame: slot,
                            refs: 1,
                        },
                    );
                }
            }
            "exit" => {
                if let Some(p) = self.procs.get_mut(&pid) {
                    p.gone = true;
                    p.pages.clear();
                }
            }
            _ => {}
        }
    }

    /// The live processes among `drawn` as snapshot records of their pages
    /// (refcounts as last seen, runs merged), a JSON array, with how many
    /// records it holds; at most `max_runs` runs in all (true if some were
    /// left out: the walk stops there, so a keyframe costs at most about
    /// `max_runs` pages more than the processes' count).
    fn keyframe(&self, drawn: &BTreeSet<i64>, max_runs: usize) -> (String, usize, bool) {
        let mut out = String::from("[");
        let mut records = 0;
        let mut left = max_runs;
        let mut cut = false;
        for (&pid, p) in self
            .procs
            .iter()
            .filter(|(pid, p)| !p.gone && drawn.contains(pid))
        {
            if records > 0 {
                out.push(',');
            }
            records += 1;
            let _ = write!(
                out,
                r#"{{"ev":"snapshot","pid":{pid},"why":"keyframe","runs":["#
            );
            let mut runs = 0;
            let mut last: Option<(u64, u64, Page)> = None; // start, count, first page
            let mut flush = |out: &mut String, (start, count, pg): (u64, u64, Page)| {
                let sep = if runs > 0 { "," } else { "" };
                let _ = write!(
                    out,
                    r#"{sep}[{start},{count},"{}",{},{}]"#,
                    pg.state, pg.frame, pg.refs
                );
                runs += 1;
            };
            for (&addr, pg) in &p.pages {
                let pg = self.resolved(pg);
                match last {
                    Some((s, c, first))
                        if s + c * 4096 == addr
                            && first.state == pg.state
                            && first.refs == pg.refs
                            && pg.frame
                                == if first.state == "zero" {
                                    0
                                } else {
                                    first.frame + c
                                } =>
                    {
                        last = Some((s, c + 1, first));
                    }
                    _ => {
                        if let Some(run) = last.take() {
                            if left == 0 {
                                cut = true;
                                break;
                            }
                            flush(&mut out, run);
                            left -= 1;
                        }
                        last = Some((addr, 1, pg));
                    }
                }
            }
            if let Some(run) = last {
                if left == 0 {
                    cut = true;
                } else {
                    flush(&mut out, run);
                    left -= 1;
                }
            }
            out.push_str("]}");
        }
        out.push(']');
        (out, records, cut)
    }

    /// A page with its frame's last-seen refcount (private or cow by it;
    /// the zero frame's as the last fault on it saw it).
    fn resolved(&self, pg: &Page) -> Page {
        if pg.state == "zero" {
            let refs = self.refs.get(&0).copied().unwrap_or(pg.refs);
            return Page { refs, ..*pg };
        }
        if pg.state != "private" && pg.state != "cow" {
            return *pg;
        }
        let refs = self.refs.get(&pg.frame).copied().unwrap_or(pg.refs);
        Page {
            state: if refs > 1 { "cow" } else { "private" },
            frame: pg.frame,
            refs,
        }
    }
}

/// One point of a downsampled page: its snapshot records and where it is.
struct Keyframe {
    seq: usize,
    insn: u64,
    /// Its snapshot records, a JSON array.
    json: String,
    /// How many records `json` holds.
    count: usize,
    cut: bool,
}

/// What the page is drawn from.
struct Compact {
    /// Every record (small trace), or none (keyframes instead).
    records: Option<Vec<Value>>,
    keyframes: Vec<Keyframe>,
    bins: Vec<[u64; KINDS.len()]>,
    total: usize,
    pids: BTreeSet<i64>,
    drawn: BTreeSet<i64>,
    faults: u64,
    truncated: bool,
    first_exit: Option<usize>,
}

impl Compact {
    /// The page's data from `counts` over `total` records.
    fn new(
        counts: Counts,
        total: usize,
        records: Option<Vec<Value>>,
        keyframes: Vec<Keyframe>,
    ) -> Compact {
        Compact {
            records,
            keyframes,
            bins: counts.bins,
            total,
            pids: counts.pids,
            drawn: counts.drawn,
            faults: counts.faults,
            truncated: counts.truncated,
            first_exit: counts.first_exit,
        }
    }

    /// A whole (small) trace: every record, counted.
    fn whole(records: Vec<Value>) -> Compact {
        let mut counts = Counts::new();
        for (i, r) in records.iter().enumerate() {
            counts.add(i, records.len(), r);
        }
        Compact::new(counts, records.len(), Some(records), Vec::new())
    }
}

/// Timeline counts and process set over records `(index, record)`.
#[derive(Default)]
struct Counts {
    bins: Vec<[u64; KINDS.len()]>,
    pids: BTreeSet<i64>,
    drawn: BTreeSet<i64>,
    faults: u64,
    truncated: bool,
    first_exit: Option<usize>,
}

impl Counts {
    fn new() -> Counts {
        Counts {
            bins: vec![[0; KINDS.len()]; BINS],
            ..Counts::default()
        }
    }

    fn add(&mut self, i: usize, total: usize, r: &Value) {
        let ev = r["ev"].as_str().unwrap_or("");
        if matches!(ev, "snapshot" | "fault" | "exec") {
            if let Some(pid) = r["pid"].as_i64().filter(|&p| p > 0) {
                if self.pids.insert(pid) && self.drawn.len() < MAX_STRIPS {
                    self.drawn.insert(pid);
                }
            }
        }
        match ev {
            "fault" => {
                self.faults += 1;
                let bin = (i * BINS / total.max(1)).min(BINS - 1);
                if let Some(k) = KINDS.iter().position(|k| r["kind"] == *k) {
                    self.bins[bin][k] += 1;
                }
            }
            "truncated" => self.truncated = true,
            "exit" if self.first_exit.is_none() => self.first_exit = Some(i),
            _ => {}
        }
    }
}

/// Reads the trace at `path` into what the page needs: whole if small,
/// else streamed through a [`Replay`] into keyframes.
fn compact(path: &Path) -> Result<Compact, String> {
    let shown = path.display().to_string();
    let cannot = |e: std::io::Error| format!("cannot read {shown}: {e}");
    let size = std::fs::metadata(path).map_err(cannot)?.len();
    if size <= FULL_TRACE_MAX {
        return Ok(Compact::whole(read_trace(path)?));
    }
    // Large: count the records first, so that keyframes and buckets are
    // evenly spaced, then replay in one pass.
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    let mut last = b'\n';
    loop {
        let n = file.read(&mut buf).map_err(cannot)?;
        if n == 0 {
            break;
        }
        total += buf[..n].iter().filter(|&&b| b == b'\n').count();
        last = buf[n - 1];
    }
    if last != b'\n' {
        total += 1;
    }
    let at: BTreeSet<usize> = (1..=KEYFRAMES)
        .map(|k| (k * total / KEYFRAMES).max(1) - 1)
        .collect();
    let mut counts = Counts::new();
    let mut replay = Replay::default();
    let mut keyframes = Vec::new();
    let mut insn = 0;
    let reader = BufReader::new(std::fs::File::open(path).map_err(cannot)?);
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(cannot)?;
        let r = check_record(&shown, i, &line)?;
        counts.add(i, total, &r);
        insn = r["insn"].as_u64().unwrap_or(insn);
        replay.apply(&r);
        if at.contains(&i) {
            let (json, count, cut) = replay.keyframe(&counts.drawn, MAX_KEYFRAME_RUNS);
            keyframes.push(Keyframe {
                seq: i,
                insn,
                json,
                count,
                cut,
            });
        }
    }
    Ok(Compact::new(counts, total, None, keyframes))
}

/// The HTML page for the records of a whole (small) trace.
#[cfg(test)]
fn render(records: &[Value], title: &str) -> String {
    page(&Compact::whole(records.to_vec()), title)
}

/// The page for `c`, at most [`PAGE_BOUND`] bytes: the keyframes kept are
/// every n-th (n = 1, 2, 4, ...) of those computed, as many as fit, always
/// including the last.
fn page(c: &Compact, title: &str) -> String {
    let mut strips = String::new();
    for pid in &c.drawn {
        let _ = write!(
            strips,
            r#"<div class="strip" data-pid="{pid}"><span class="label">pid {pid}</span><svg class="pages" width="1000" height="22"></svg></div>"#
        );
    }
    let bins = serde_json::to_string(&c.bins).expect("bins serialize");
    let mut notes = Vec::new();
    if c.pids.len() > c.drawn.len() {
        notes.push(format!(
            "strips for the first {} of {} processes (the timeline counts all)",
            c.drawn.len(),
            c.pids.len()
        ));
    }
    let (body, max, start) = match &c.records {
        Some(records) => {
            let start = c
                .first_exit
                .map_or(records.len().saturating_sub(1), |i| i.saturating_sub(1));
            let body = serde_json::to_string(records).expect("trace records serialize");
            let data = format!(
                r#"{{"mode":"full","records":{body},"bins":{bins},"total":{}}}"#,
                c.total
            );
            (data, records.len().saturating_sub(1), start)
        }
        None => {
            // The title appears twice, escaped (at most 6 bytes a byte).
            let fixed = HTML_TEMPLATE.len() + strips.len() + bins.len() + 12 * title.len();
            let room = PAGE_BOUND.saturating_sub(fixed + 4096);
            let n = c.keyframes.len();
            let mut stride = 1;
            let chosen = loop {
                let chosen: Vec<&Keyframe> = (0..n)
                    .rev()
                    .step_by(stride)
                    .map(|i| &c.keyframes[i])
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                let size: usize = chosen.iter().map(|k| k.json.len() + 64).sum();
                if size <= room || chosen.len() <= 1 {
                    break chosen;
                }
                stride *= 2;
            };
            let mut records = String::from("[");
            let mut stops = String::from("[");
            let mut first = 0;
            for (i, k) in chosen.iter().enumerate() {
                let inner = &k.json[1..k.json.len() - 1];
                let count = k.count;
                if count > 0 {
                    if first > 0 {
                        records.push(',');
                    }
                    records.push_str(inner);
                }
                let sep = if i > 0 { "," } else { "" };
                let _ = write!(
                    stops,
                    "{sep}[{first},{},{},{}]",
                    first + count,
                    k.seq,
                    k.insn
                );
                first += count;
            }
            records.push(']');
            stops.push(']');
            notes.push(format!(
                "downsampled: {} records, drawn at {} points in time (the state of every page exact at each); the timeline counts every fault",
                c.total,
                chosen.len()
            ));
            if chosen.iter().any(|k| k.cut) {
                notes.push(format!(
                    "some points list only their first {MAX_KEYFRAME_RUNS} page runs"
                ));
            }
            let start = c
                .first_exit
                .and_then(|e| chosen.iter().rposition(|k| k.seq < e))
                .unwrap_or(chosen.len().saturating_sub(1));
            let data = format!(
                r#"{{"mode":"keyframes","records":{records},"stops":{stops},"bins":{bins},"total":{}}}"#,
                c.total
            );
            (data, chosen.len().saturating_sub(1), start)
        }
    };
    let data = body.replace("</", "<\\/");
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(
            r#"<div id="notes">{}</div>"#,
            html_escape(&notes.join("; "))
        )
    };
    let title = html_escape(title);
    let mut page = String::from(HTML_TEMPLATE);
    for (key, value) in [
        ("{{TITLE}}", title.as_str()),
        ("{{STRIPS}}", strips.as_str()),
        ("{{PROCS}}", &c.pids.len().to_string()),
        ("{{FAULTS}}", &c.faults.to_string()),
        ("{{MAX}}", &max.to_string()),
        (
            "{{TRUNC}}",
            if c.truncated {
                " (truncated by --trace-limit)"
            } else {
                ""
            },
        ),
        ("{{NOTES}}", notes.as_str()),
        ("{{START}}", &start.to_string()),
        ("{{DATA}}", data.as_str()),
    ] {
        page = page.replace(key, value);
    }
    page
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `cowix report`: 0, or 2 with one error line on stderr.
pub fn main(trace: &Path, out: &Path) -> u8 {
    let compact = match compact(trace) {
        Ok(c) => c,
        Err(why) => {
            eprintln!("cowix report: {why}");
            return EXIT_BAD_INPUT;
        }
    };
    let html = page(&compact, &trace.display().to_string());
    if let Err(e) = std::fs::write(out, html) {
        eprintln!("cowix report: cannot write {}: {e}", out.display());
        return EXIT_BAD_INPUT;
    }
    0
}

const HTML_TEMPLATE: &str = include_str!("report.html");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_end_their_script_safely() {
        let records: Vec<Value> = vec![
            serde_json::json!({"seq":0,"ev":"trace","version":1}),
            serde_json::json!({"seq":1,"ev":"exec","pid":1,"path":"</script><b>"}),
        ];
        let html = render(&records, "t");
        assert!(!html.contains("</script><b>"));
        assert_eq!(html.matches(r#"class="strip""#).count(), 1);
    }

    fn replayed(records: &[Value]) -> Replay {
        let mut r = Replay::default();
        for record in records {
            r.apply(record);
        }
        r
    }

    fn fault(pid: i64, kind: &str, addr: u64, frame: u64, refs: i64) -> Value {
        serde_json::json!({"ev": "fault", "pid": pid, "kind": kind, "addr": addr,
            "frame_before": null, "refs_before": null, "frame": frame, "refs": refs})
    }

    /// A keyframe merges pages into runs as a snapshot does (consecutive
    /// addresses, same state and refcount, consecutive frames), and a
    /// copy in one process turns its sharer's page private again.
    #[test]
    fn keyframes_merge_runs_and_follow_refcounts_across_processes() {
        let base = 0x1000_0000u64;
        let snap = |pid: i64, runs: Value| serde_json::json!({"ev": "snapshot", "pid": pid, "why": "fork", "runs": runs});
        let mut records = vec![
            snap(1, serde_json::json!([[base, 3, "cow", 10, 2]])),
            snap(2, serde_json::json!([[base, 3, "cow", 10, 2]])),
        ];
        let drawn: BTreeSet<i64> = [1, 2].into();
        let (json, count, cut) = replayed(&records).keyframe(&drawn, 100);
        assert_eq!((count, cut), (2, false));
        assert!(
            json.contains(&format!(r#"[{base},3,"cow",10,2]"#)),
            "{json}"
        );
        // pid 2 copies the middle page: frame 11 is pid 1's alone now.
        records.push(
            serde_json::json!({"ev": "fault", "pid": 2, "kind": "cow_copy",
            "addr": base + 4096 + 8, "frame_before": 11, "refs_before": 2, "frame": 50, "refs": 1}),
        );
        records.push(fault(2, "zero_page", base + 3 * 4096, 0, 7));
        records.push(fault(2, "zero_page", base + 4 * 4096, 0, 8));
        let r = replayed(&records);
        let (json, _, _) = r.keyframe(&[1].into(), 100);
        let want = format!(
            r#"[{base},1,"cow",10,2],[{},1,"private",11,1],[{},1,"cow",12,2]"#,
            base + 4096,
            base + 8192
        );
        assert!(json.contains(&want), "{json}");
        let (json, _, _) = r.keyframe(&[2].into(), 100);
        assert!(
            json.contains(&format!(r#"[{},1,"private",50,1]"#, base + 4096)),
            "{json}"
        );
        // The two zero pages are one run (the zero frame's refcount as the
        // last fault saw it).
        assert!(
            json.contains(&format!(r#"[{},2,"zero",0,8]"#, base + 3 * 4096)),
            "{json}"
        );
        // A limit of 2 runs in all: pid 1 keeps two, pid 2 none.
        let (json, count, cut) = r.keyframe(&drawn, 2);
        assert_eq!((count, cut), (2, true));
        assert!(json.ends_with(r#""runs":[]}]"#), "{json}");
        // An exit drops the process from keyframes.
        records.push(serde_json::json!({"ev": "exit", "pid": 2}));
        let (_, count, _) = replayed(&records).keyframe(&drawn, 100);
        assert_eq!(count, 1);
    }
}
