//! Malformed programs and command lines: each gets one clear line on stderr
//! and a documented exit status, never a panic.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

/// Runs `cowix run PATH` and returns (exit code, stderr).
fn run_path(path: &std::path::Path) -> (Option<i32>, String) {
    let o = cowix(["run".as_ref(), path.as_os_str()]);
    let e = stderr(&o);
    assert!(!e.contains("panicked"), "cowix panicked: {e}");
    (o.status.code(), e)
}

fn write_exec(dir: &Scratch, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn hello_bytes() -> Vec<u8> {
    std::fs::read(workspace().join("guests/hello/hello")).unwrap()
}

fn assert_one_line(e: &str) {
    assert_eq!(e.lines().count(), 1, "expected one line, got: {e:?}");
}

#[test]
fn missing_program_exits_127() {
    let (code, e) = run_path(std::path::Path::new("/no/such/program"));
    assert_eq!(code, Some(127));
    assert_eq!(e, "cowix: /no/such/program: No such file or directory\n");
}

#[test]
fn missing_program_name_searched_in_path_exits_127() {
    let o = cowix(["run", "--env", "PATH=/nonexistent", "no-such-command"]);
    assert_eq!(o.status.code(), Some(127));
    assert_eq!(stderr(&o), "cowix: no-such-command: command not found\n");
}

#[test]
fn text_file_exits_126_saying_text_file() {
    let d = Scratch::new("text");
    let p = write_exec(&d, "notes.txt", b"just some words\n");
    let (code, e) = run_path(&p);
    assert_eq!(code, Some(126));
    assert!(
        e.ends_with("not a RISC-V ELF executable: text file\n"),
        "{e}"
    );
    assert_one_line(&e);
}

#[test]
fn empty_file_exits_126() {
    let d = Scratch::new("empty");
    let p = write_exec(&d, "empty", b"");
    let (code, e) = run_path(&p);
    assert_eq!(code, Some(126));
    assert!(e.contains("empty file"), "{e}");
}

#[test]
fn x86_64_elf_exits_126_naming_the_machine() {
    let d = Scratch::new("x86");
    let mut b = hello_bytes();
    b[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    let p = write_exec(&d, "x86prog", &b);
    let (code, e) = run_path(&p);
    assert_eq!(code, Some(126));
    assert!(
        e.ends_with("not a RISC-V ELF executable: 64-bit x86-64 ELF\n"),
        "{e}"
    );
    assert_one_line(&e);
}

#[test]
fn truncated_elf_exits_126() {
    let d = Scratch::new("trunc");
    let b = hello_bytes();
    for len in [4, 20, 63] {
        let p = write_exec(&d, &format!("cut{len}"), &b[..len]);
        let (code, e) = run_path(&p);
        assert_eq!(code, Some(126), "length {len}");
        assert!(e.contains("truncated ELF"), "length {len}: {e}");
        assert_one_line(&e);
    }
    // Header intact, segments cut off.
    let p = write_exec(&d, "cut-body", &b[..400]);
    let (code, e) = run_path(&p);
    assert_eq!(code, Some(126));
    assert!(e.contains("truncated ELF: segment"), "{e}");
}

#[test]
fn program_headers_past_end_of_file_exit_126() {
    let d = Scratch::new("phoff");
    let mut b = hello_bytes();
    let near_end = b.len() as u64 - 8;
    b[32..40].copy_from_slice(&near_end.to_le_bytes()); // e_phoff near the end
    let p = write_exec(&d, "phoff", &b);
    let (code, e) = run_path(&p);
    assert_eq!(code, Some(126));
    assert!(
        e.contains("program headers at offset") && e.contains("run past the end"),
        "{e}"
    );
}

/// Offset of the program header of the first PT_LOAD with flags RW (the data segment).
fn data_phdr(b: &[u8]) -> usize {
    let phoff = u64::from_le_bytes(b[32..40].try_into().unwrap()) as usize;
    let phnum = u16::from_le_bytes(b[56..58].try_into().unwrap()) as usize;
    (0..phnum)
        .map(|i| phoff + 56 * i)
        .find(|&p| u32::from_le_bytes(b[p..p + 4].try_into().unwrap()) == 1 && b[p + 4] & 2 != 0)
        .expect("no RW PT_LOAD in hello")
}

#[test]
fn absurd_segment_size_exits_126() {
    let d = Scratch::new("absurd");
    let mut b = hello_bytes();
    let ph = data_phdr(&b);
    b[ph + 40..ph + 48].copy_from_slice(&(1u64 << 50).to_le_bytes()); // p_memsz = 1 PiB
    let p = write_exec(&d, "huge-bss", &b);
    let (code, e) = run_path(&p);
    assert_eq!(code, Some(126));
    assert!(
        e.contains("does not fit in the 256 GiB user address space"),
        "{e}"
    );
}

#[test]
fn bss_larger_than_memory_still_loads_on_demand() {
    // 200 GiB of bss under a 64 MiB machine: only touched pages cost frames.
    let d = Scratch::new("bigbss");
    let mut b = hello_bytes();
    let ph = data_phdr(&b);
    b[ph + 40..ph + 48].copy_from_slice(&(200u64 << 30).to_le_bytes());
    let p = write_exec(&d, "big-bss", &b);
    let o = cowix(["run", "--memory", "64M", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert!(stdout(&o).contains("bss reads as zero: yes"));
}

#[test]
fn directory_and_non_executable_file_exit_126() {
    let d = Scratch::new("dir");
    let (code, e) = run_path(d.path());
    assert_eq!(code, Some(126));
    assert!(e.contains("directory"), "{e}");
    let p = d.path().join("noexec");
    std::fs::write(&p, hello_bytes()).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, e) = run_path(&p);
    assert_eq!(code, Some(126));
    assert!(e.contains("permission denied"), "{e}");
}

#[test]
fn bad_flags_exit_2_with_one_clear_line() {
    let hello = workspace().join("guests/hello/hello");
    let h = hello.to_str().unwrap();
    for (args, needle) in [
        (vec!["run", "--memory", "12Q", h], "unknown unit"),
        (vec!["run", "--memory", "lots", h], "not a size"),
        (
            vec!["run", "--env", "NOEQUALS", h],
            "not of the form NAME=VALUE",
        ),
        (vec!["run", "--root", "/definitely/not/a/dir", h], "--root"),
        (vec!["run", "--cwd", "/definitely/not/a/dir", h], "--cwd"),
        (
            vec!["run", "--fork-mode", "fast", h],
            "unknown fork mode 'fast'",
        ),
        (vec!["run", "--swap", "1Q", h], "unknown unit"),
        (
            vec!["run", "--no-such-flag", h],
            "unexpected argument '--no-such-flag'",
        ),
        (vec!["run"], "<PROGRAM>"),
        (vec!["report", "t.jsonl"], "--output <FILE>"),
        (vec!["demo", "--step", "0"], "--step"),
        (vec!["frobnicate"], "unrecognized subcommand 'frobnicate'"),
    ] {
        let o = cowix(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.starts_with("cowix: ") && e.contains(needle),
            "{args:?}: {e}"
        );
        assert_one_line(&e);
        assert!(!e.contains("panicked"), "{e}");
        assert_eq!(stdout(&o), "", "{args:?}");
    }
}

/// `--help` goes to stdout with status 0, and ends with examples.
#[test]
fn help_is_on_stdout_with_examples() {
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["demo", "--help"],
        &["report", "--help"],
    ] {
        let o = cowix(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        let out = stdout(&o);
        assert!(out.contains("Examples:\n  cowix "), "{args:?}: {out}");
        assert_eq!(stderr(&o), "");
    }
}
