//! `cowix demo`: the copy-on-write story of the seed documents
//! (/work/shared/seeds/000_*.txt to 003_*.txt), told with real runs.
//!
//! Each step boots a fresh machine, runs one tiny guest embedded in this
//! binary (sources and recipe in guests/demo/, built by `make -C guests`),
//! lets the guest speak for itself (its lines start with `    | `), and then
//! prints the memory system's counters for that run. Nothing is canned: a
//! step whose numbers contradict its claim says so with a warning line.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use cowix_kernel::process::ExitStatus;
use cowix_kernel::{Config, ForkMode, Kernel};
use cowix_mm::MemStats;

/// The embedded guests: (name in the guest root, ELF bytes).
const GUESTS: &[(&str, &[u8])] = &[
    ("cow", include_bytes!("../../../guests/demo/cow")),
    ("bss", include_bytes!("../../../guests/demo/bss")),
    ("exec", include_bytes!("../../../guests/demo/exec")),
    ("vfork", include_bytes!("../../../guests/demo/vfork")),
    ("got", include_bytes!("../../../guests/demo/got")),
    ("stack", include_bytes!("../../../guests/demo/stack")),
    ("fill", include_bytes!("../../../guests/demo/fill")),
    (
        "forkmodes",
        include_bytes!("../../../guests/demo/forkmodes"),
    ),
];

/// Number of steps (`--step` takes 1..=STEPS).
pub const STEPS: usize = 8;

/// Guest memory for the swap step: less than the 24 MiB the guest fills.
const SWAP_STEP_MEMORY: u64 = 8 << 20;
/// Swap area for the swap step.
const SWAP_STEP_SWAP: u64 = 64 << 20;
/// Memory for the other steps (host memory is committed only as used).
const MEMORY: u64 = 256 << 20;

/// ANSI styling, or none.
struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn head(&self, s: &str) -> String {
        self.paint("1;36", s)
    }
    fn num(&self, n: u64) -> String {
        self.paint("1", &n.to_string())
    }
    fn ok(&self, s: &str) -> String {
        self.paint("32", s)
    }
    fn warn(&self, s: &str) -> String {
        self.paint("1;31", s)
    }
    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }
}

/// Whether colour is wanted: stdout is a terminal, NO_COLOR is unset and
/// `--no-color` was not given (<https://no-color.org>).
pub fn colour_wanted(no_color_flag: bool) -> bool {
    !no_color_flag && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

/// The guests written out to a private temp directory that is the guest
/// root; removed on drop.
struct Root {
    dir: PathBuf,
}

impl Root {
    fn new() -> std::io::Result<Root> {
        use std::os::unix::fs::PermissionsExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("cowix-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir)?;
        let root = Root { dir };
        for (name, bytes) in GUESTS {
            let path = root.dir.join(name);
            std::fs::write(&path, bytes)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(root)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One guest run's outcome.
struct Run {
    status: ExitStatus,
    stats: MemStats,
}

/// What the demo printer carries from step to step.
struct Demo<'a> {
    root: &'a Path,
    style: Style,
    /// Claims whose numbers did not hold.
    warnings: u32,
}

impl Demo<'_> {
    fn out(&self, s: &str) {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{s}");
        let _ = o.flush();
    }

    fn heading(&self, n: usize, title: &str) {
        let text = format!("== {n}/{STEPS}  {title} ");
        let pad = 78usize.saturating_sub(text.len());
        self.out("");
        self.out(&self.style.head(&format!("{text}{}", "=".repeat(pad))));
    }

    fn explain(&self, lines: &[&str]) {
        for l in lines {
            self.out(&format!("  {l}"));
        }
    }

    /// Boots a fresh machine and runs `/name args...` in it; the guest's
    /// output goes straight to our stdout, after a "$ cowix run" line.
    fn run(&self, name: &str, args: &[&str], memory: u64, swap: u64, mode: ForkMode) -> Run {
        let mut shown = vec!["cowix run".to_string()];
        if memory != MEMORY {
            shown.push(format!("--memory {}M", memory >> 20));
        }
        if swap != 0 {
            shown.push(format!("--swap {}M", swap >> 20));
        }
        if mode != ForkMode::Cow {
            shown.push(format!("--fork-mode {}", mode.name()));
        }
        shown.push(format!("guests/demo/{name}"));
        shown.extend(args.iter().map(|a| a.to_string()));
        self.show_command(&shown);
        let path = format!("/{name}");
        let mut argv = vec![path.clone().into_bytes()];
        argv.extend(args.iter().map(|a| a.as_bytes().to_vec()));
        match boot_and_run(self.root, &path, argv, Vec::new(), memory, swap, mode) {
            Ok(run) => run,
            Err(e) => {
                eprintln!("cowix demo: {e}");
                std::process::exit(1);
            }
        }
    }

    /// Prints a dimmed "$ ..." line for `words`, continued with " \\" past
    /// 78 columns.
    fn show_command(&self, words: &[String]) {
        let mut line = String::from("  $");
        for w in words {
            if line.len() + 1 + w.len() > 76 {
                self.out(&self.style.dim(&format!("{line} \\")));
                line = String::from("     ");
            }
            line.push(' ');
            line.push_str(w);
        }
        self.out(&self.style.dim(&line));
    }

    /// Prints "  measured: k v, k v, ..." wrapped at 78 columns.
    fn measured(&self, items: &[(&str, u64)]) {
        let mut line = String::from("  measured:");
        let mut width = line.len();
        for (i, (k, v)) in items.iter().enumerate() {
            let sep = if i + 1 < items.len() { "," } else { "" };
            let plain = format!(" {k} {v}{sep}");
            if width + plain.len() > 78 {
                self.out(&line);
                line = String::from("           ");
                width = line.len();
            }
            line += &format!(" {k} {}{sep}", self.style.num(*v));
            width += plain.len();
        }
        self.out(&line);
    }

    /// A claim about this run's numbers: "ok" or a visible warning.
    fn check(&mut self, ok: bool, claim: &str) {
        if ok {
            self.out(&format!("  {} {claim}", self.style.ok("ok:")));
        } else {
            self.warnings += 1;
            self.out(&format!(
                "  {} {claim}",
                self.style.warn("WARNING, not as expected:")
            ));
        }
    }

    fn status_ok(&mut self, run: &Run) {
        if !matches!(run.status, ExitStatus::Exited(0)) {
            let s = describe(run.status);
            self.check(false, &format!("the guest should exit 0 but {s}"));
        }
    }
}

/// Boots a fresh machine over `root` and runs `path` there to the end.
fn boot_and_run(
    root: &Path,
    path: &str,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    memory: u64,
    swap: u64,
    mode: ForkMode,
) -> Result<Run, String> {
    let config = Config {
        root: root.to_path_buf(),
        cwd: "/".into(),
        memory,
        swap,
        fork_mode: mode,
        strace: false,
        aslr: false,
    };
    let mut kernel = Kernel::new(config).map_err(|e| format!("cannot boot a machine: {e}"))?;
    let pid = kernel
        .spawn(path.as_bytes(), argv, envp)
        .map_err(|e| format!("cannot start {path}: {e}"))?;
    let status = kernel.run(pid);
    Ok(Run {
        status,
        stats: *kernel.mem_stats(),
    })
}

fn describe(status: ExitStatus) -> String {
    match status {
        ExitStatus::Exited(c) => format!("exited with status {c}"),
        ExitStatus::Signaled { signal, .. } => {
            let name = match signal {
                9 => "SIGKILL",
                11 => "SIGSEGV",
                6 => "SIGABRT",
                _ => "a signal",
            };
            format!("died of {name} ({signal})")
        }
    }
}

/// Runs the demo (every step, or only `only`); returns the process exit
/// code: 0, or 1 when a step's numbers contradicted its claim.
pub fn main(only: Option<usize>, colour: bool) -> u8 {
    let root = match Root::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cowix demo: cannot write the demo guests to a temp directory: {e}");
            return 1;
        }
    };
    let mut d = Demo {
        root: &root.dir,
        style: Style { on: colour },
        warnings: 0,
    };
    let started = Instant::now();
    d.out(&d.style.head("cowix demo: copy-on-write, measured"));
    d.out("Each step runs a tiny RISC-V guest (source: guests/demo/NAME.c) on a fresh");
    d.out("machine. Indented lines with '|' are the guest's own output; 'measured'");
    d.out("lines are the memory system's counters for that run, and 'ok' lines");
    d.out("check them against the step's claim. The story follows the project's");
    d.out("seed documents (000_... to 003_..., cited by name in each step).");
    let steps: [fn(&mut Demo<'_>, usize); STEPS] = [
        step_fork, step_bss, step_exec, step_vfork, step_got, step_stack, step_swap, step_modes,
    ];
    for (i, step) in steps.iter().enumerate() {
        if only.is_none_or(|n| n == i + 1) {
            step(&mut d, i + 1);
        }
    }
    d.out("");
    let secs = started.elapsed().as_secs_f64();
    if d.warnings == 0 {
        d.out(&format!(
            "Done in {secs:.2} s; every claim held. Next: cowix run --stats PROGRAM."
        ));
        0
    } else {
        d.out(&d.style.warn(&format!(
            "Done in {secs:.2} s; {} claim(s) did NOT hold (see WARNING lines).",
            d.warnings
        )));
        1
    }
}

fn step_fork(d: &mut Demo<'_>, n: usize) {
    d.heading(n, "fork: parent and child write different variables");
    d.explain(&[
        "After fork both processes map the same frames, read-only (000_..., 002_...",
        "call it copy-on-write). The first write to a shared page copies it for",
        "the writer (cow_copy). Once the child has exited, the parent is the",
        "page's only owner: its next write keeps the frame, no copy (cow_reuse).",
    ]);
    let r = d.run("cow", &[], MEMORY, 0, ForkMode::Cow);
    let f = &r.stats.faults;
    d.measured(&[
        ("forks", r.stats.forks),
        ("cow_copy", f.cow_copy),
        ("cow_reuse", f.cow_reuse),
        ("peak frames", r.stats.peak_frames_in_use),
    ]);
    d.explain(&[
        "(cow_copy counts every page copied: the two variables' pages and the",
        "stack pages both sides wrote; cow_reuse the pages reused after exit)",
    ]);
    d.status_ok(&r);
    d.check(
        f.cow_copy >= 2,
        &format!(
            "each side copied its written page: cow_copy {} >= 2",
            f.cow_copy
        ),
    );
    d.check(
        f.cow_reuse >= 1,
        &format!("sole owner reused its page: cow_reuse {} >= 1", f.cow_reuse),
    );
}

fn step_bss(d: &mut Demo<'_>, n: usize) {
    d.heading(n, "a huge bss costs one zero frame");
    d.explain(&[
        "bss is memory the program expects to read as zero (000_..., 001_...).",
        "Reading a never-written page maps the one shared zero frame instead of",
        "allocating: 256 MiB of reads, and only page tables get frames.",
    ]);
    let r = d.run("bss", &[], MEMORY, 0, ForkMode::Cow);
    let f = &r.stats.faults;
    d.measured(&[
        ("zero_page", f.zero_page),
        ("zero_fill", f.zero_fill),
        ("peak frames", r.stats.peak_frames_in_use),
        ("of them page tables", r.stats.peak_page_table_frames),
    ]);
    d.status_ok(&r);
    d.check(
        f.zero_page >= 65536,
        &format!(
            "every page read mapped the zero frame: {} >= 65536",
            f.zero_page
        ),
    );
    d.check(
        r.stats.peak_frames_in_use <= 1024,
        &format!(
            "memory used is tiny: peak {} frames ({} KiB) for 256 MiB read",
            r.stats.peak_frames_in_use,
            r.stats.peak_frames_in_use * 4
        ),
    );
}

fn step_exec(d: &mut Demo<'_>, n: usize) {
    d.heading(n, "fork + exec: exec drops the shared pages");
    d.explain(&[
        "Most children exec right after fork (001_..., 002_...): execve throws",
        "the inherited memory away, so the parent owns its pages alone again.",
        "Its writes after that are reuses, not copies.",
    ]);
    let r = d.run("exec", &[], MEMORY, 0, ForkMode::Cow);
    let f = &r.stats.faults;
    d.measured(&[
        ("forks", r.stats.forks),
        ("cow_copy", f.cow_copy),
        ("cow_reuse", f.cow_reuse),
    ]);
    d.status_ok(&r);
    d.check(
        f.cow_reuse >= 256 && f.cow_copy <= 4,
        &format!(
            "256 pages rewritten, {} reused, only {} copied (before the exec)",
            f.cow_reuse, f.cow_copy
        ),
    );
}

fn step_vfork(d: &mut Demo<'_>, n: usize) {
    d.heading(n, "vfork: no copy at all");
    d.explain(&[
        "vfork (002_..., 003_...) lends the parent's memory to the child and",
        "suspends the parent until the child execs or exits. Nothing is copied",
        "or even write-protected; a store by the child is seen by the parent.",
    ]);
    let r = d.run("vfork", &[], MEMORY, 0, ForkMode::Cow);
    let f = &r.stats.faults;
    d.measured(&[
        ("forks (address-space copies)", r.stats.forks),
        ("cow_copy", f.cow_copy),
        ("cow_reuse", f.cow_reuse),
    ]);
    d.status_ok(&r);
    d.check(
        f.cow_copy == 0 && f.cow_reuse == 0 && r.stats.forks == 0,
        &format!(
            "two vforks, {} address spaces copied, {} pages copied",
            r.stats.forks, f.cow_copy
        ),
    );
}

fn step_got(d: &mut Demo<'_>, n: usize) {
    d.heading(n, "lazy binding: a GOT page turns from file to anonymous");
    d.explain(&[
        "A dynamic program's GOT (000_...) lives in a private file mapping.",
        "Reading it maps the file's page from the page cache (file fault);",
        "the first write copies it into an anonymous page (file_cow). On",
        "riscv64 ld.so writes the GOT header at start-up, so the page is",
        "anonymous before main; each PLT slot still points at the resolver",
        "until its first call binds it. This static guest (a dynamic one needs",
        "glibc) shows the fault by hand on a table of function pointers.",
    ]);
    let r = d.run("got", &[], MEMORY, 0, ForkMode::Cow);
    let f = &r.stats.faults;
    d.measured(&[
        ("file", f.file),
        ("file_cow", f.file_cow),
        ("page cache frames", r.stats.page_cache_frames),
    ]);
    d.status_ok(&r);
    d.check(
        f.file_cow >= 1 && f.file >= 1,
        &format!(
            "the table was read from the file, then copied once written: file_cow {}",
            f.file_cow
        ),
    );
    dynamic_got(d);
}

/// Where scripts/fetch-debian unpacks Debian's riscv64 packages (a
/// symlink to a shared cache in a work tree; absent in a fresh clone).
const DEBIAN_ROOT: &str = "cache/debian/root";
/// A dynamically linked program from that root.
const DYNAMIC_PROGRAM: &str = "/usr/bin/lua5.4";

/// The lazy-binding step for real, when a Debian root with a dynamic
/// program is at hand: run it with lazy binding and with LD_BIND_NOW=1.
fn dynamic_got(d: &mut Demo<'_>) {
    let root = Path::new(DEBIAN_ROOT);
    if !root.join(DYNAMIC_PROGRAM.trim_start_matches('/')).is_file() {
        d.explain(&[
            "(no Debian root at cache/debian/root: scripts/fetch-debian lua5.4",
            "would let this step also run a real dynamic program)",
        ]);
        return;
    }
    d.explain(&[
        "A Debian root is at hand, so here is a real dynamic program, run",
        "with lazy binding, then with LD_BIND_NOW=1 (bind everything at start):",
    ]);
    let script = r#"io.write("    | lua: 1+1 = ", 1+1, "\n")"#;
    let mut rows = Vec::new();
    for env in [None, Some("LD_BIND_NOW=1")] {
        let mut shown = vec!["cowix run".to_string(), format!("--root {DEBIAN_ROOT}")];
        shown.extend(env.map(|e| format!("--env {e}")));
        shown.extend([
            DYNAMIC_PROGRAM.to_string(),
            "-e".into(),
            format!("'{script}'"),
        ]);
        d.show_command(&shown);
        let argv = vec![DYNAMIC_PROGRAM.into(), b"-e".to_vec(), script.into()];
        let envp = env.map(|e| vec![e.as_bytes().to_vec()]).unwrap_or_default();
        match boot_and_run(root, DYNAMIC_PROGRAM, argv, envp, MEMORY, 0, ForkMode::Cow) {
            Ok(r) if matches!(r.status, ExitStatus::Exited(0)) => rows.push(r.stats.faults),
            Ok(r) => {
                d.out(&format!(
                    "  (the dynamic program {}; skipped)",
                    describe(r.status)
                ));
                return;
            }
            Err(e) => {
                d.out(&format!("  ({e}; skipped)"));
                return;
            }
        }
    }
    d.measured(&[
        ("lazy: file", rows[0].file),
        ("file_cow", rows[0].file_cow),
        ("bind now: file", rows[1].file),
        ("file_cow", rows[1].file_cow),
    ]);
    if rows[0].file_cow == rows[1].file_cow {
        d.explain(&[
            "(same file_cow both ways: ld.so's relocations already wrote the GOT",
            "pages at start, turning them anonymous; binding later copies none)",
        ]);
    } else {
        d.explain(&["(binding everything at start changed how many file pages were copied)"]);
    }
    d.check(
        rows[0].file_cow >= 1,
        &format!(
            "the dynamic program's written file pages: file_cow {}",
            rows[0].file_cow
        ),
    );
}

fn step_stack(d: &mut Demo<'_>, n: usize) {
    d.heading(n, "the stack grows on demand, up to RLIMIT_STACK");
    d.explain(&[
        "The stack is a mapping that grows down when a fault lands just below",
        "it (stack_growth), one page at a time. Past RLIMIT_STACK the fault is",
        "refused and the program gets SIGSEGV (003_...; here a 1 MiB limit).",
    ]);
    let r = d.run("stack", &[], MEMORY, 0, ForkMode::Cow);
    let f = &r.stats.faults;
    d.measured(&[
        ("stack_growth", f.stack_growth),
        ("zero_fill", f.zero_fill),
        ("segv", f.segv),
    ]);
    d.explain(&[
        "(segv counts each refused fault: the first ran the guest's one-shot",
        "handler, which printed the lines above; the same store then faulted",
        "again with no handler left)",
    ]);
    d.out(&format!("  the guest {}", describe(r.status)));
    d.check(
        f.stack_growth >= 200
            && f.segv >= 1
            && matches!(r.status, ExitStatus::Signaled { signal: 11, .. }),
        &format!(
            "stack grew {} times, then SIGSEGV killed the guest",
            f.stack_growth
        ),
    );
}

fn step_swap(d: &mut Demo<'_>, n: usize) {
    d.heading(n, "swapping under a small --memory");
    d.explain(&[
        "With 8 MiB of guest memory and a swap area (000_...), 24 MiB of pages do",
        "not fit: reclaim writes pages out to swap (swap out) and faults read",
        "them back when touched again (swap in). The guest checks every page.",
    ]);
    let r = d.run("fill", &[], SWAP_STEP_MEMORY, SWAP_STEP_SWAP, ForkMode::Cow);
    let s = &r.stats;
    d.measured(&[
        ("swap out", s.swap_outs),
        ("swap in", s.swap_ins),
        ("reclaim runs", s.reclaim_runs),
        ("guest frames", s.max_frames),
        ("peak in use", s.peak_frames_in_use),
    ]);
    d.explain(&["(a page can go out more than once: out, back in, out again)"]);
    d.status_ok(&r);
    d.check(
        s.swap_outs >= 4096 && s.swap_ins >= 1 && s.peak_frames_in_use <= s.max_frames,
        &format!(
            "6144 pages through {} frames: {} out, {} in, no page lost",
            s.max_frames, s.swap_outs, s.swap_ins
        ),
    );
}

fn step_modes(d: &mut Demo<'_>, n: usize) {
    d.heading(n, "three fork modes, one program");
    d.explain(&[
        "The old way (002_...) copies every page at fork; copy-on-write copies",
        "only what is written; share-tables also shares the leaf page tables.",
        "The guest touches 2048 pages, forks, and its child writes 64.",
    ]);
    let mut rows = Vec::new();
    for mode in ForkMode::ALL {
        let r = d.run("forkmodes", &[], MEMORY, 0, mode);
        d.status_ok(&r);
        rows.push((mode, r.stats));
    }
    d.out("");
    d.out("  mode          peak frames  fork copies  COW copies  fork time  tables shared");
    for (mode, s) in &rows {
        let us = s.fork_ns.checked_div(s.forks).unwrap_or(0) as f64 / 1000.0;
        d.out(&format!(
            "  {:<12}  {:>11}  {:>11}  {:>10}  {:>6.0} us  {:>13}",
            mode.name(),
            s.peak_frames_in_use,
            s.fork_pages_copied,
            s.faults.cow_copy,
            us,
            s.leaf_tables_shared
        ));
    }
    d.explain(&[
        "(copy mode copies inside fork (fork copies), so it takes no COW",
        "faults: its cost shows in peak frames and fork time)",
    ]);
    let peak = |m: ForkMode| {
        rows.iter()
            .find(|(x, _)| *x == m)
            .map_or(0, |(_, s)| s.peak_frames_in_use)
    };
    let extra = peak(ForkMode::Copy).saturating_sub(peak(ForkMode::Cow));
    d.check(
        extra >= 1500,
        &format!("copy mode held {extra} more frames at its peak than cow (the copy)"),
    );
    let fork_copies = |m: ForkMode| {
        rows.iter()
            .find(|(x, _)| *x == m)
            .map_or(0, |(_, s)| s.fork_pages_copied)
    };
    d.check(
        fork_copies(ForkMode::Copy) >= 2048 && fork_copies(ForkMode::Cow) == 0,
        &format!(
            "copy mode's fork copied {} pages (the 2048 touched and more), cow's none",
            fork_copies(ForkMode::Copy)
        ),
    );
    let cow_copies = rows
        .iter()
        .find(|(x, _)| *x == ForkMode::Cow)
        .map_or(0, |(_, s)| s.faults.cow_copy);
    d.check(
        (64..=80).contains(&cow_copies),
        &format!("cow copied {cow_copies} pages: the 64 written, plus stack"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_paints_only_when_on() {
        let on = Style { on: true };
        let off = Style { on: false };
        assert_eq!(on.num(42), "\x1b[1m42\x1b[0m");
        assert_eq!(off.num(42), "42");
        assert_eq!(off.warn("w"), "w");
        assert!(on.head("h").starts_with("\x1b["));
    }

    #[test]
    fn no_color_flag_wins() {
        assert!(!colour_wanted(true));
    }

    #[test]
    fn every_embedded_guest_is_a_riscv_elf() {
        assert_eq!(GUESTS.len(), 8, "one guest per step");
        for (name, bytes) in GUESTS {
            assert_eq!(&bytes[..4], b"\x7fELF", "{name}");
            // e_machine (offset 18) is EM_RISCV (243).
            assert_eq!(u16::from_le_bytes([bytes[18], bytes[19]]), 243, "{name}");
        }
    }
}
