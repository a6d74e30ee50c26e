//! `cowix`: run RISC-V Linux programs on a user-space kernel with its own
//! virtual memory system.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
use cowix_kernel::{Config, ExecError, ForkMode, Kernel};

mod report;
mod stats;

/// Exit status when PROGRAM does not exist (as a shell reports it).
const EXIT_NOT_FOUND: u8 = 127;
/// Exit status when PROGRAM exists but is not a runnable RISC-V executable.
const EXIT_NOT_EXECUTABLE: u8 = 126;
/// Exit status for a bad command line.
const EXIT_USAGE: u8 = 2;

/// The guest's PATH when --env gives none (used only to find a PROGRAM named without a '/').
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The examples at the end of each --help: one line at least per option
// (the test `every_option_has_an_example_in_its_help` checks it).

const TOP_EXAMPLES: &str = "\
Start here:
  cowix demo

Examples:
  cowix run guests/hello/hello one two
  cowix run --help                 every option of run, with examples
  cowix --version
  cowix --help";

const RUN_EXAMPLES: &str = "\
Examples:
  cowix run guests/hello/hello one two
  cowix run --root /srv/riscv-root --cwd /root -- /bin/busybox ls -l
  cowix run --env PATH=/bin --env HOME=/root -- /bin/sh -c 'echo $HOME'
  cowix run --memory 512M -- guests/demo/cow
  cowix run --memory 8M --swap 64M --stats -- guests/demo/fill
  cowix run --fork-mode share-tables --stats -- guests/demo/forkmodes
  cowix run --aslr -- guests/hello/hello
  cowix run --strace -- guests/hello/hello
  cowix run --stats-json out.json -- guests/demo/cow
  cowix run --trace t.jsonl --trace-limit 100000 -- guests/demo/cow
  cowix run --help";

const DEMO_EXAMPLES: &str = "\
Examples:
  cowix demo
  cowix demo --step 8
  cowix demo --step 1 --no-color
  cowix demo --help";

const REPORT_EXAMPLES: &str = "\
Examples:
  cowix run --trace t.jsonl -- guests/demo/cow
  cowix report t.jsonl -o report.html
  cowix report t.jsonl --output report.html
  cowix report --help

The page is at most 10 MB: a trace over 4 MB is drawn at up to 200 points
in time (exact at each) instead of event by event (docs/trace.md).";

#[derive(Parser, Debug)]
#[command(
    name = "cowix",
    version,
    about = "A user-space Unix kernel with its own virtual memory system, running unmodified RISC-V (rv64gc) Linux programs",
    after_help = TOP_EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a RISC-V Linux program. Exits with the program's exit status,
    /// 128+N if it dies of signal N, 127 if PROGRAM does not exist, 126 if it
    /// is not a RISC-V ELF executable, 2 for a bad command line.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Watch copy-on-write happen: fork, zero pages, exec, vfork, lazy
    /// binding, stack growth, swap and the three fork modes, each a real run
    /// of a tiny embedded guest with the counters it produced. Exits 1 if a
    /// step's numbers contradict what it claims.
    #[command(after_help = DEMO_EXAMPLES)]
    Demo(DemoArgs),
    /// Draw a --trace file as one self-contained HTML page: each process's
    /// pages coloured by state, frames shared between processes, and a
    /// timeline of faults with a scrubber. Exits 2 if TRACE is missing or
    /// not a cowix trace.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
}

#[derive(clap::Args, Debug)]
struct ReportArgs {
    /// The trace written by `cowix run --trace`.
    #[arg(value_name = "TRACE")]
    trace: PathBuf,

    /// The HTML file to write.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
}

#[derive(clap::Args, Debug)]
struct DemoArgs {
    /// Run only step N (1 to 8).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=demo::STEPS as i64))]
    step: Option<u8>,

    /// No ANSI colour (colour is used only when stdout is a terminal and
    /// NO_COLOR is unset anyway).
    #[arg(long)]
    no_color: bool,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Host directory that the guest sees as `/` (guest file access never leaves it).
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,

    /// Add K=V to the guest's environment (repeatable). The guest gets exactly these variables.
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    env: Vec<OsString>,

    /// Guest working directory [default: the host's current directory if it lies inside --root, else /].
    #[arg(long, value_name = "DIR")]
    cwd: Option<String>,

    /// Guest physical memory, e.g. 512M, 4G (suffixes K, M, G, T; powers of 1024).
    #[arg(long, value_name = "SIZE", default_value = "4G", value_parser = parse_size)]
    memory: u64,

    /// Swap area size, e.g. 256M [default: no swap]. The swap area is a
    /// sparse file in the host's temp directory, removed as soon as it is
    /// created (so it never outlives cowix).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    swap: Option<u64>,
    /// How fork builds the child's memory: copy (eager copy of every
    /// private page), cow (copy-on-write), share-tables (copy-on-write
    /// sharing the leaf page tables too).
    #[arg(long, value_name = "MODE", default_value = "cow")]
    fork_mode: String,

    /// Randomize each program's address-space layout at exec, as Linux
    /// does by default (stack top, mmap base, break and PIE load address
    /// each move by up to 1 GiB). Off by default, so runs are repeatable.
    #[arg(long)]
    aslr: bool,

    /// Trace every system call on stderr, in strace's format (as
    /// `strace -f`: decoded arguments, results, `[pid N]` for processes
    /// other than the first), e.g. `cowix run --strace -- /bin/ls`.
    #[arg(long)]
    strace: bool,

    /// Write the counters at exit to FILE as JSON (schema in
    /// docs/stats-json.md), e.g. `--stats-json out.json`; `-` is stdout.
    #[arg(long, value_name = "FILE")]
    stats_json: Option<PathBuf>,

    /// Print a table of counters at exit on stderr: guest instructions and
    /// speed, faults by kind, forks (mode, count, host time), frames.
    #[arg(long)]
    stats: bool,

    /// Write memory and process events to FILE as JSON lines (faults with
    /// frames and refcounts, fork, vfork, exec, exit, swap, OOM kills, page
    /// snapshots; schema in docs/trace.md), for `cowix report`.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,

    /// Stop the --trace after N events (then one "truncated" record).
    #[arg(long, value_name = "N", default_value_t = cowix_kernel::trace::DEFAULT_TRACE_LIMIT)]
    trace_limit: u64,

    /// The program: a path in the guest file system (a name without '/' is searched in the guest PATH).
    #[arg(value_name = "PROGRAM")]
    program: OsString,

    /// Arguments passed to the program.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<OsString>,
}

fn parse_env(s: &str) -> Result<OsString, String> {
    match s.split_once('=') {
        Some((k, _)) if !k.is_empty() => Ok(OsString::from(s)),
        _ => Err(format!("'{s}' is not of the form NAME=VALUE")),
    }
}

/// Parses a size like `512M` or `4G` (binary units) into bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    if num.is_empty() {
        return Err(format!("'{s}' is not a size such as 512M or 4G"));
    }
    let shift = match unit
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (use K, M, G or T)")),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size such as 512M or 4G"))?;
    let bytes = n
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))?;
    if bytes < 1 << 20 {
        return Err(format!("'{s}' is too small: at least 1M is needed"));
    }
    Ok(bytes)
}

/// A command-line error as one line: clap's message without its "error: "
/// prefix, usage and tips (the indented lines of a list joined on).
fn one_line_error(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut parts = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        parts.push(line.trim().trim_start_matches("error: ").to_string());
    }
    let hint = match e.kind() {
        clap::error::ErrorKind::UnknownArgument | clap::error::ErrorKind::InvalidSubcommand => {
            " (see --help)"
        }
        _ => "",
    };
    format!("cowix: {}{hint}", parts.join(" "))
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                // Help and version as clap prints them (usage errors
                // showing the help go to stderr with status 2).
                let _ = e.print();
                return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
            }
            eprintln!("{}", one_line_error(&e));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match cli.command {
        Command::Run(args) => run(args),
        Command::Report(args) => ExitCode::from(report::main(&args.trace, &args.output)),
        Command::Demo(args) => ExitCode::from(demo::main(
            args.step.map(usize::from),
            demo::colour_wanted(args.no_color),
        )),
    }
}

/// The guest working directory: --cwd, or the host's cwd seen from inside the root.
fn guest_cwd(root: &Path, explicit: Option<String>) -> String {
    if let Some(c) = explicit {
        return c;
    }
    let (Ok(root), Ok(here)) = (std::fs::canonicalize(root), std::env::current_dir()) else {
        return "/".into();
    };
    match here.strip_prefix(&root) {
        Ok(rel) => format!("/{}", rel.display()),
        Err(_) => "/".into(),
    }
}

fn run(args: RunArgs) -> ExitCode {
    let fork_mode = match args.fork_mode.parse::<ForkMode>() {
        Ok(mode) => mode,
        Err(why) => {
            eprintln!("cowix: --fork-mode: {why}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let cwd = guest_cwd(&args.root, args.cwd);
    let config = Config {
        root: args.root.clone(),
        cwd,
        memory: args.memory,
        swap: args.swap.unwrap_or(0),
        fork_mode,
        strace: args.strace,
        aslr: args.aslr,
    };
    let mut kernel = match Kernel::new(config) {
        Ok(k) => k,
        Err(e) if e.kind() == std::io::ErrorKind::OutOfMemory => {
            eprintln!("cowix: --memory {}: {e}", args.memory);
            return ExitCode::from(EXIT_USAGE);
        }
        Err(e) if e.to_string().starts_with(cowix_kernel::SWAP_ERROR) => {
            eprintln!("cowix: --swap: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
        Err(e) => {
            eprintln!(
                "cowix: cannot use --root {} / --cwd: {e}",
                args.root.display()
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Some(path) = &args.trace {
        if let Err(e) = kernel.enable_trace(path, args.trace_limit) {
            eprintln!("cowix: --trace {}: {e}", path.display());
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let program = args.program.clone().into_vec();
    let mut argv = vec![program.clone()];
    argv.extend(args.args.into_iter().map(OsStringExt::into_vec));
    let envp: Vec<Vec<u8>> = args.env.into_iter().map(OsStringExt::into_vec).collect();
    let shown = String::from_utf8_lossy(&program).into_owned();

    let result = if program.contains(&b'/') {
        kernel.spawn(&program, argv, envp)
    } else {
        spawn_from_path(&mut kernel, &program, argv, envp)
    };
    let pid = match result {
        Ok(pid) => pid,
        Err(e) => {
            let code = match e {
                ExecError::NotFound(_) => EXIT_NOT_FOUND,
                _ => EXIT_NOT_EXECUTABLE,
            };
            match e {
                ExecError::NotFound(why) => eprintln!("cowix: {why}"),
                other => eprintln!("cowix: {shown}: {other}"),
            }
            return ExitCode::from(code);
        }
    };
    if args.stats || args.stats_json.is_some() {
        kernel.enable_accounting();
    }
    let started = std::time::Instant::now();
    let status = kernel.run(pid);
    if let Err(e) = kernel.finish_trace() {
        let path = args.trace.as_deref().unwrap_or(Path::new(""));
        eprintln!("cowix: --trace {}: {e}", path.display());
        return ExitCode::from(EXIT_USAGE);
    }
    if args.stats {
        print_stats(&kernel, started.elapsed());
    }
    if let Some(path) = &args.stats_json {
        let json = stats::to_json(&kernel, status.shell_code(), started.elapsed());
        let text = serde_json::to_string_pretty(&json).expect("stats JSON serializes") + "\n";
        let written = if path.as_os_str() == "-" {
            std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())
        } else {
            std::fs::write(path, text)
        };
        if let Err(e) = written {
            eprintln!("cowix: --stats-json {}: {e}", path.display());
            return ExitCode::from(EXIT_USAGE);
        }
    }
    ExitCode::from(status.shell_code() as u8)
}

/// The --stats table, on stderr.
fn print_stats(kernel: &Kernel, wall: std::time::Duration) {
    let insns = kernel.instructions();
    let secs = wall.as_secs_f64().max(1e-9);
    let m = kernel.mem_stats();
    let f = &m.faults;
    let kib = |frames: u64| frames * 4;
    eprintln!("cowix stats");
    eprintln!("  guest instructions   {insns:>14}");
    eprintln!("  wall time            {:>14.3} s", secs);
    eprintln!(
        "  speed                {:>14.1} MIPS",
        insns as f64 / secs / 1e6
    );
    eprintln!("  translated blocks    {:>14}", kernel.translated_blocks());
    eprintln!("  faults: zero page    {:>14}", f.zero_page);
    eprintln!("          zero fill    {:>14}", f.zero_fill);
    eprintln!("          file         {:>14}", f.file);
    eprintln!("          file COW     {:>14}", f.file_cow);
    eprintln!("          COW copy     {:>14}", f.cow_copy);
    eprintln!("          COW reuse    {:>14}", f.cow_reuse);
    eprintln!("          stack grow   {:>14}", f.stack_growth);
    eprintln!("          SIGSEGV      {:>14}", f.segv);
    eprintln!("          swap-in      {:>14}", f.swap_in);
    eprintln!("  fork mode            {:>14}", m.fork_mode.name());
    eprintln!("  forks                {:>14}", m.forks);
    eprintln!("  pages copied at fork {:>14}", m.fork_pages_copied);
    if let Some(per_fork) = m.fork_ns.checked_div(m.forks) {
        eprintln!("  host time per fork   {per_fork:>14} ns");
    }
    if m.leaf_tables_shared > 0 {
        eprintln!("  leaf tables: shared  {:>14}", m.leaf_tables_shared);
        eprintln!("               copied  {:>14}", m.leaf_table_copies);
        eprintln!("               dropped {:>14}", m.leaf_table_drops);
    }
    eprintln!(
        "  frames: peak         {:>14} KiB",
        kib(m.peak_frames_in_use)
    );
    eprintln!("          in use       {:>14} KiB", kib(m.frames_in_use));
    let meta = kernel.peak_metadata_bytes();
    eprintln!(
        "  metadata (peak)      {:>14} KiB  {:.2}% of peak guest memory",
        meta / 1024,
        meta as f64 * 100.0 / (m.peak_frames_in_use.max(1) * 4096) as f64
    );
    eprintln!(
        "          page cache   {:>14} KiB",
        kib(m.page_cache_frames)
    );
    eprintln!(
        "          page tables  {:>14} KiB",
        kib(m.page_table_frames)
    );
    eprintln!("          total        {:>14} KiB", kib(m.max_frames));
    eprintln!("  swap:   total        {:>14} KiB", kib(m.swap_total));
    eprintln!("          used         {:>14} KiB", kib(m.swap_used));
    eprintln!(
        "          swap cache   {:>14} KiB",
        kib(m.swap_cache_frames)
    );
    eprintln!("          pages out    {:>14}", m.swap_outs);
    eprintln!("          pages in     {:>14}", m.swap_ins);
    eprintln!("  reclaim: runs        {:>14}", m.reclaim_runs);
    eprintln!("          freed        {:>14} KiB", kib(m.reclaimed_frames));
    eprintln!("          write-backs  {:>14}", m.writebacks);
    eprintln!("          OOM kills    {:>14}", m.oom_kills);
    eprintln!("  processes            {:>14}", kernel.processes_created());
    let reports = kernel.process_reports();
    if !reports.is_empty() {
        eprintln!("  peak memory per process (KiB):");
        eprintln!(
            "  {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}  command",
            "pid", "rss", "pss", "shared", "private", "swap"
        );
        for r in reports {
            let mut cmd = r.command_line.clone();
            if cmd.chars().count() > 24 {
                cmd = cmd.chars().take(23).collect::<String>() + "…";
            }
            let k = |b: u64| b / 1024;
            eprintln!(
                "  {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}  {cmd}",
                r.pid,
                k(r.peak.rss),
                k(r.peak.pss),
                k(r.peak.shared),
                k(r.peak.private),
                k(r.peak.swap)
            );
        }
    }
}

/// execvp's search: try each directory of the guest's PATH in turn.
fn spawn_from_path(
    kernel: &mut Kernel,
    name: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<i32, ExecError> {
    let path = envp
        .iter()
        .find_map(|e| e.strip_prefix(b"PATH="))
        .map(<[u8]>::to_vec)
        .unwrap_or_else(|| DEFAULT_PATH.as_bytes().to_vec());
    let mut first_other = None;
    for dir in path.split(|&b| b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let mut candidate = dir.to_vec();
        candidate.push(b'/');
        candidate.extend_from_slice(name);
        match kernel.spawn(&candidate, argv.clone(), envp.clone()) {
            Ok(pid) => return Ok(pid),
            Err(ExecError::NotFound(_)) => {}
            // Found but not runnable: remember it, keep looking (as execvp does on EACCES).
            Err(e) => {
                first_other.get_or_insert(e);
            }
        }
    }
    Err(first_other.unwrap_or_else(|| {
        ExecError::NotFound(format!(
            "{}: command not found",
            String::from_utf8_lossy(name)
        ))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2048k"), Ok(2 << 20));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert!(parse_size("12Q").unwrap_err().contains("unknown unit"));
        assert!(parse_size("G").is_err());
        assert!(parse_size("1K").unwrap_err().contains("too small"));
        assert!(parse_size("99999999999T")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn default_memory_flag_is_the_kernel_default() {
        assert_eq!(parse_size("4G"), Ok(cowix_kernel::DEFAULT_MEMORY));
    }

    /// Every option the parser knows (of cowix and of each subcommand)
    /// is in that command's --help, and an example line of it
    /// ("  cowix [SUBCOMMAND] ...") uses it; every guest program an
    /// example names exists.
    #[test]
    fn every_option_has_an_example_in_its_help() {
        use clap::CommandFactory;
        let mut top = Cli::command();
        top.build();
        let mut commands = vec![(String::new(), top.clone())];
        for sub in top.get_subcommands().filter(|c| c.get_name() != "help") {
            commands.push((format!("{} ", sub.get_name()), sub.clone()));
        }
        for (prefix, mut cmd) in commands {
            let help = cmd.render_help().to_string();
            let examples: Vec<&str> = help
                .lines()
                .filter(|l| {
                    l.starts_with(&format!("  cowix {prefix}")) || l.starts_with("  cowix run ")
                })
                .collect();
            let mut options = 0;
            for arg in cmd.get_arguments().filter(|a| !a.is_positional()) {
                let long = format!(
                    "--{}",
                    arg.get_long().expect("every option has a long name")
                );
                options += 1;
                assert!(
                    help.contains(&long),
                    "cowix {prefix}--help does not list {long}"
                );
                let used = examples.iter().any(|l| {
                    l.starts_with(&format!("  cowix {prefix}"))
                        && l.split_whitespace().any(|w| w == long)
                });
                assert!(
                    used,
                    "cowix {prefix}--help has no example of {long}:\n{help}"
                );
            }
            assert!(options >= 2, "cowix {prefix}: at least --help and one more");
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            for word in examples.iter().flat_map(|l| l.split_whitespace()) {
                if word.starts_with("guests/") {
                    assert!(
                        workspace.join(word).exists(),
                        "example names a missing {word}"
                    );
                }
            }
        }
    }

    /// Bad flags and values: one line on stderr (the rest of clap's
    /// message, usage and tips, left out).
    #[test]
    fn command_line_errors_are_one_line() {
        for args in [
            &["cowix", "run", "--memory", "12Q", "x"][..],
            &["cowix", "run", "--bogus", "x"],
            &["cowix", "run"],
            &["cowix", "report", "t.jsonl"],
            &["cowix", "demo", "--step", "9"],
            &["cowix", "nonsense"],
        ] {
            let e = Cli::try_parse_from(args).expect_err("a bad command line");
            let line = one_line_error(&e);
            assert!(line.starts_with("cowix: "), "{line}");
            assert!(!line.contains('\n'), "{line}");
            assert!(line.len() > 20, "{line}");
        }
        let e = Cli::try_parse_from(["cowix", "run"]).unwrap_err();
        assert_eq!(
            one_line_error(&e),
            "cowix: the following required arguments were not provided: <PROGRAM>"
        );
    }

    #[test]
    fn env_needs_a_name_and_equals_sign() {
        assert!(parse_env("A=1").is_ok());
        assert!(parse_env("A=").is_ok());
        assert!(parse_env("A").is_err());
        assert!(parse_env("=1").is_err());
    }
}
