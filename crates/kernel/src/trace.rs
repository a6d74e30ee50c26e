//! `--trace FILE`: memory and process events as JSON lines (schema in
//! docs/trace.md, version [`TRACE_VERSION`]).
//!
//! The memory system records [`MemEvent`]s (faults, swap, reclaim) when
//! tracing is on; the kernel drains them after each fault, system call and
//! turn, tags them with the running pid and the guest instruction count,
//! and adds the process events (fork, vfork, exec, exit, OOM kill) and
//! page-state snapshots of the processes involved. At most `limit` events
//! are written; then one `truncated` record ends the event stream.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use cowix_mm::{AddressSpace, FaultKind, FrameId, MemEvent, PhysMem, PAGE_SIZE};

/// The trace format's version (docs/trace.md).
pub const TRACE_VERSION: u32 = 1;

/// Default for `--trace-limit`.
pub const DEFAULT_TRACE_LIMIT: u64 = 1_000_000;

/// Most page runs in one snapshot (the rest are dropped, `"cut": true`).
pub const SNAPSHOT_RUNS: usize = 4096;

/// Most VMAs listed in one snapshot.
const SNAPSHOT_VMAS: usize = 1024;

/// An open trace file.
pub struct Tracer {
    out: BufWriter<File>,
    /// Sequence number of the next record.
    seq: u64,
    /// Events written so far (the header and final records excluded).
    events: u64,
    limit: u64,
    truncated: bool,
    /// The first write error, reported by [`Tracer::finish`].
    error: Option<io::Error>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("seq", &self.seq)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

/// The name a fault kind has in traces and in `--stats-json`.
pub fn fault_kind_name(kind: FaultKind) -> &'static str {
    match kind {
        FaultKind::ZeroPage => "zero_page",
        FaultKind::ZeroFill => "zero_fill",
        FaultKind::CowCopy => "cow_copy",
        FaultKind::CowReuse => "cow_reuse",
        FaultKind::File => "file",
        FaultKind::FileCow => "file_cow",
        FaultKind::SharedWrite => "shared_write",
        FaultKind::Spurious => "spurious",
        FaultKind::SwapIn => "swap_in",
    }
}

/// `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn frame_fields(out: &mut String, prefix: &str, frame: Option<(cowix_mm::FrameId, u32)>) {
    match frame {
        Some((f, refs)) => {
            let _ = write!(
                out,
                r#","frame{prefix}":{},"refs{prefix}":{refs}"#,
                f.index()
            );
        }
        None => {
            let _ = write!(out, r#","frame{prefix}":null,"refs{prefix}":null"#);
        }
    }
}

/// The body (fields after `ev`) of a memory event; `owner` names the
/// process of an address space by its root page table.
fn mem_event_body(
    event: &MemEvent,
    owner: &dyn Fn(FrameId) -> Option<i32>,
) -> (&'static str, String) {
    let mut s = String::new();
    let ev = match event {
        MemEvent::Fault {
            addr,
            kind,
            vma_start,
            vma_end,
            vma_name,
            before,
            after,
        } => {
            let _ = write!(
                s,
                r#","kind":"{}","addr":{addr},"vma":[{vma_start},{vma_end}],"vma_name":{}"#,
                fault_kind_name(*kind),
                json_string(vma_name)
            );
            frame_fields(&mut s, "_before", *before);
            frame_fields(&mut s, "", *after);
            "fault"
        }
        MemEvent::SwapOut {
            frame,
            slot,
            written,
            mapping,
        } => {
            let _ = write!(
                s,
                r#","frame":{},"slot":{slot},"written":{written}"#,
                frame.index()
            );
            match mapping.map(|(root, addr)| (owner(root), addr)) {
                Some((Some(pid), addr)) => {
                    let _ = write!(s, r#","addr":{addr},"owner":{pid}"#);
                }
                Some((None, addr)) => {
                    let _ = write!(s, r#","addr":{addr},"owner":null"#);
                }
                None => s.push_str(r#","addr":null,"owner":null"#),
            }
            "swap_out"
        }
        MemEvent::SwapIn { slot, frame } => {
            let _ = write!(s, r#","frame":{},"slot":{slot}"#, frame.index());
            "swap_in"
        }
        MemEvent::Reclaim { freed } => {
            let _ = write!(s, r#","freed":{freed}"#);
            "reclaim"
        }
    };
    (ev, s)
}

/// The body of a snapshot of `mm`.
pub fn snapshot_body(mm: &AddressSpace, pm: &PhysMem, why: &str) -> String {
    let mut s = format!(r#","why":"{why}","page_size":{PAGE_SIZE},"vmas":["#);
    for (i, vma) in mm.vmas().take(SNAPSHOT_VMAS).enumerate() {
        let name = match &vma.name {
            cowix_mm::VmaName::Anonymous => String::new(),
            cowix_mm::VmaName::Heap => "[heap]".into(),
            cowix_mm::VmaName::Stack => "[stack]".into(),
            cowix_mm::VmaName::Path(p) => p.clone(),
        };
        let _ = write!(
            s,
            "{}[{},{},{}]",
            if i == 0 { "" } else { "," },
            vma.start,
            vma.end,
            json_string(&name)
        );
    }
    s.push_str(r#"],"runs":["#);
    let (runs, cut) = mm.page_runs(pm, SNAPSHOT_RUNS);
    for (i, r) in runs.iter().enumerate() {
        let _ = write!(
            s,
            r#"{}[{},{},"{}",{},{}]"#,
            if i == 0 { "" } else { "," },
            r.start,
            r.count,
            r.state.name(),
            r.frame,
            r.refs
        );
    }
    let _ = write!(s, r#"],"cut":{}"#, cut || mm.vma_count() > SNAPSHOT_VMAS);
    s
}

impl Tracer {
    /// Creates `path` and writes the header record.
    pub fn create(path: &Path, limit: u64, fork_mode: &str) -> io::Result<Tracer> {
        let mut t = Tracer {
            out: BufWriter::with_capacity(1 << 16, File::create(path)?),
            seq: 0,
            events: 0,
            limit,
            truncated: false,
            error: None,
        };
        t.raw(&format!(
            r#""ev":"trace","version":{TRACE_VERSION},"page_size":{PAGE_SIZE},"fork_mode":"{fork_mode}","limit":{limit}"#
        ));
        Ok(t)
    }

    /// Writes one record `{"seq":..., <fields>}`.
    fn raw(&mut self, fields: &str) {
        let line = format!("{{\"seq\":{},{fields}}}\n", self.seq);
        self.seq += 1;
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(line.as_bytes()) {
                self.error = Some(e);
            }
        }
    }

    /// True while events are still being written (the limit not reached).
    pub fn open(&self) -> bool {
        !self.truncated
    }

    /// Writes event `ev` of `pid` at instruction count `insn`, unless the
    /// limit was reached (the first event past it writes the `truncated`
    /// record instead).
    pub fn event(&mut self, insn: u64, pid: i32, ev: &str, body: &str) {
        if self.truncated {
            return;
        }
        if self.events >= self.limit {
            self.truncated = true;
            self.raw(&format!(
                r#""insn":{insn},"ev":"truncated","limit":{}"#,
                self.limit
            ));
            return;
        }
        self.events += 1;
        self.raw(&format!(r#""insn":{insn},"pid":{pid},"ev":"{ev}"{body}"#));
    }

    /// Writes a snapshot of `pid`'s pages (`why`: fork, exec, exit, end).
    pub fn snapshot(&mut self, pm: &PhysMem, insn: u64, pid: i32, mm: &AddressSpace, why: &str) {
        if !self.truncated {
            let body = snapshot_body(mm, pm, why);
            self.event(insn, pid, "snapshot", &body);
        }
    }

    /// Writes the memory events recorded since the last drain as `pid`'s;
    /// `owner` maps an address space's root page table to its process
    /// (for the `owner` of `swap_out`; `None` if no live process has it).
    pub fn drain(
        &mut self,
        pm: &mut PhysMem,
        insn: u64,
        pid: i32,
        owner: &dyn Fn(FrameId) -> Option<i32>,
    ) {
        for event in pm.take_trace_events() {
            let (ev, body) = mem_event_body(&event, owner);
            self.event(insn, pid, ev, &body);
        }
    }

    /// Writes the final `end` record and flushes; the first write error if any.
    pub fn finish(mut self, insn: u64) -> io::Result<()> {
        let events = self.events;
        self.raw(&format!(
            r#""insn":{insn},"ev":"end","events":{events},"truncated":{}"#,
            self.truncated
        ));
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_for_json() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\u0001""#);
    }

    #[test]
    fn the_limit_ends_the_stream_with_one_truncated_record() {
        let dir = std::env::temp_dir().join(format!("cowix-trace-unit-{}", std::process::id()));
        let mut t = Tracer::create(&dir, 2, "cow").unwrap();
        for i in 0..5 {
            t.event(i, 1, "reclaim", r#","freed":0"#);
        }
        t.finish(9).unwrap();
        let text = std::fs::read_to_string(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[0].contains(r#""ev":"trace""#));
        assert!(lines[3].contains(r#""ev":"truncated""#));
        assert!(lines[4].contains(r#""ev":"end","events":2,"truncated":true"#));
    }
}
