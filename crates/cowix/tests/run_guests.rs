//! `cowix run` on real glibc guests (tests/guest/*.c, built by
//! scripts/test), checking what they print and how they end; those in
//! static_and_dynamic! run both builds, the rest the static one.

mod common;

use common::*;

static_and_dynamic! {
    fn hello_prints_through_stdio_and_exits_zero(link) {
        let o = link.run(&[], "hello", &[]);
        assert_eq!(stdout(&o), "hello, world\n", "stderr: {}", stderr(&o));
        assert_eq!(o.status.code(), Some(0));
    }

    fn arguments_and_environment_reach_the_guest_exactly(link) {
        let g = link.guest("echo_args");
        let o = link.run(
            &["--env", "A=1", "--env", "EMPTY=", "--env", "WITH SPACE=x y"],
            "echo_args",
            &["one", "", "two words", "--not-an-option"],
        );
        let expected = format!(
            "argc=5\nargv[0]={g}\nargv[1]=one\nargv[2]=\nargv[3]=two words\nargv[4]=--not-an-option\nenv=A=1\nenv=EMPTY=\nenv=WITH SPACE=x y\n",
        );
        assert_eq!(stdout(&o), expected, "stderr: {}", stderr(&o));
        assert_eq!(o.status.code(), Some(0));
    }

    fn guest_environment_is_empty_without_env_flags(link) {
        let o = link.run(&[], "echo_args", &[]);
        assert!(stdout(&o).starts_with("argc=1\n"), "{}", stderr(&o));
        assert!(!stdout(&o).contains("env="), "{}", stdout(&o));
    }

    /// The PIE's brk heap starts after its bss as the static program's does.
    fn malloc_small_blocks_use_brk_and_large_blocks_use_mmap(link) {
        let o = link.run(&[], "malloc", &[]);
        let out = stdout(&o);
        let expected = "small blocks in brk heap: yes\n\
                        brk above bss: yes\n\
                        large block 200 KiB mmapped outside heap: yes\n\
                        large block 1024 KiB mmapped outside heap: yes\n\
                        large block 5120 KiB mmapped outside heap: yes\n\
                        contents intact: yes\n";
        assert_eq!(out, expected, "stderr: {}", stderr(&o));
        assert_eq!(o.status.code(), Some(0));
    }
}

/// The checksum tests/guest/readfile.c computes.
fn checksum(data: &[u8]) -> u64 {
    data.iter()
        .fold(0u64, |s, &b| s.wrapping_mul(131).wrapping_add(b as u64))
}

#[test]
fn file_read_through_read_stdio_and_pread() {
    let root = Scratch::new("readfile");
    root.install_guest("readfile", "bin/readfile");
    let mut data = b"first line of the file\n".to_vec();
    data.extend((0..20_000u32).map(|i| (i * 7 % 251) as u8));
    std::fs::create_dir_all(root.path().join("data")).unwrap();
    std::fs::write(root.path().join("data/input.bin"), &data).unwrap();
    let o = cowix([
        "run",
        "--root",
        root.path().to_str().unwrap(),
        "--cwd",
        "/data",
        "/bin/readfile",
        "input.bin",
    ]);
    let expected = format!(
        "size={} read={} sum={} regular=1\nfirst line: first line of the file\n",
        data.len(),
        data.len(),
        checksum(&data)
    );
    assert_eq!(stdout(&o), expected, "stderr: {}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn missing_guest_file_is_enoent_inside_the_guest() {
    let o = run_guest("readfile", &["/definitely/not/here"]);
    assert_eq!(
        stdout(&o),
        "open /definitely/not/here: No such file or directory\n"
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn guest_cannot_climb_out_of_its_root() {
    let root = Scratch::new("confine");
    root.install_guest("readfile", "readfile");
    std::fs::write(root.path().join("secret-inside"), "inside\n").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", root.path().join("escape")).unwrap();
    let r = root.path().to_str().unwrap();
    // `..` at the root stays at the root: this names <root>/etc/hostname, which does not exist.
    let o = cowix(["run", "--root", r, "/readfile", "/../../../../etc/hostname"]);
    assert_eq!(
        stdout(&o),
        "open /../../../../etc/hostname: No such file or directory\n"
    );
    // An absolute symlink is resolved inside the root too.
    let o = cowix(["run", "--root", r, "/readfile", "/escape"]);
    assert_eq!(stdout(&o), "open /escape: No such file or directory\n");
    let o = cowix(["run", "--root", r, "/readfile", "../secret-inside"]);
    assert!(
        stdout(&o).ends_with("first line: inside\n"),
        "{}",
        stdout(&o)
    );
}

static_and_dynamic! {
    fn exit_codes_pass_through(link) {
        for (args, code) in [
            (&["exit", "0"][..], 0),
            (&["exit", "1"], 1),
            (&["exit", "255"], 255),
            (&["exit", "256"], 0),
            (&["exit", "300"], 44),
            (&["return", "42"], 42),
        ] {
            let o = link.run(&[], "exitcode", args);
            assert_eq!(
                o.status.code(),
                Some(code),
                "{args:?}: stderr {}",
                stderr(&o)
            );
        }
    }

    fn death_by_signal_exits_128_plus_signal(link) {
        for (how, sig, name) in [
            ("segv", 11, "SIGSEGV"),
            ("abort", 6, "SIGABRT"),
            ("ill", 4, "SIGILL"),
            ("ebreak", 5, "SIGTRAP"),
        ] {
            let o = link.run(&[], "exitcode", &[how]);
            assert_eq!(
                o.status.code(),
                Some(128 + sig),
                "{how}: stderr {}",
                stderr(&o)
            );
            assert!(stderr(&o).contains(name), "{how}: stderr {}", stderr(&o));
        }
    }

    fn segv_message_names_the_address_and_access(link) {
        let o = link.run(&[], "exitcode", &["segv", "4096"]);
        assert_eq!(o.status.code(), Some(139));
        let e = stderr(&o);
        assert!(e.contains("write to 0x1000 (no mapping)"), "{e}");
    }

    fn illegal_instruction_message_disassembles(link) {
        let o = link.run(&[], "exitcode", &["ill"]);
        let e = stderr(&o);
        assert!(e.contains("illegal instruction 0x00000000 at pc 0x"), "{e}");
    }
}

#[test]
fn committed_tiny_guest_runs_without_a_cross_compiler() {
    let hello = workspace().join("guests/hello/hello");
    let o = cowix(["run", hello.to_str().unwrap(), "a", "b c"]);
    assert_eq!(
        stdout(&o),
        "Hello from a RISC-V guest running on cowix!\n  arg: a\n  arg: b c\n  bss reads as zero: yes\n  data is writable: yes\n"
    );
    assert_eq!(o.status.code(), Some(0));
}

static_and_dynamic! {
    /// RLIMIT_AS bounds mmap, brk and mremap growth (ENOMEM) and RLIMIT_NOFILE
    /// descriptors (EMFILE). The expected lines are what the same C program
    /// prints natively on Linux (x86-64), where both limits behave the same.
    fn address_space_and_descriptor_limits_are_enforced(link) {
        let o = link.run(&[], "rlimit_as", &[]);
        assert_eq!(
            stdout(&o),
            "setrlimit AS 64M: 0\n\
             mmap 128M: Cannot allocate memory\n\
             mmap 1M: mapped\n\
             sbrk +100M: Cannot allocate memory, break unchanged\n\
             mremap to 200M: Cannot allocate memory\n\
             mremap to 2M: grew\n\
             malloc 100M: NULL\n\
             open past RLIMIT_NOFILE 8: last fd 7, then Too many open files\n",
            "stderr: {}",
            stderr(&o)
        );
    }
}

/// The addresses the layout guest prints ("NAME 0xHEX" pairs), in order.
fn layout_fields(o: &std::process::Output) -> Vec<u64> {
    stdout(o)
        .split_whitespace()
        .skip(1)
        .step_by(2)
        .map(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).unwrap())
        .collect()
}

/// Without --aslr every run lays the program out the same way; with it the
/// stack top, the break and the mmap base move (each by up to 1 GiB, so two
/// runs agreeing on all three is a 1 in 2^54 event), while a non-PIE
/// program's code stays where its ELF file puts it, as on Linux.
#[test]
fn aslr_moves_stack_break_and_mmap_only_when_asked() {
    let plain: Vec<Vec<u64>> = (0..2)
        .map(|_| layout_fields(&run_guest("layout", &[])))
        .collect();
    assert_eq!(plain[0], plain[1]);
    let g = guest("layout");
    let random: Vec<Vec<u64>> = (0..2)
        .map(|_| layout_fields(&cowix(["run", "--aslr", "--", g.to_str().unwrap()])))
        .collect();
    for r in &random {
        let (stack, brk, mmap, code) = (r[0], r[1], r[2], r[3]);
        assert!(
            stack < 0x40_0000_0000 && stack > 0x40_0000_0000 - (1 << 31),
            "{r:x?}"
        );
        assert!(mmap < stack && brk < mmap && code < brk, "{r:x?}");
        assert_eq!(code, plain[0][3], "a static program's code does not move");
    }
    assert!(random[0][..3] != random[1][..3], "{random:x?}");
    assert!(random[0][..3] != plain[0][..3], "{random:x?}");
}

/// A PIE (the dynamic layout guest) is loaded at ELF_ET_DYN_BASE, 2/3 of
/// the Sv39 user space (arch/riscv/include/asm/elf.h), with ld.so and libc
/// below the mmap base; with --aslr its load address moves too
/// (load_elf_binary: arch_mmap_rnd() for ET_DYN), and so do the others.
#[test]
fn aslr_moves_a_pie_and_its_libraries_only_when_asked() {
    let run = |opts: &[&str]| layout_fields(&Link::Dynamic.run(opts, "layout", &[]));
    let plain = [run(&[]), run(&[])];
    assert_eq!(plain[0], plain[1]);
    assert_eq!(plain[0][3] & !0xfff, 0x2a_aaaa_a000, "{:x?}", plain[0]);
    let random = [run(&["--aslr"]), run(&["--aslr"])];
    for r in &random {
        let (stack, brk, mmap, code) = (r[0], r[1], r[2], r[3]);
        assert!(mmap < stack && brk < mmap && code < brk, "{r:x?}");
        assert_eq!(code & 0xfff, plain[0][3] & 0xfff, "{r:x?}");
    }
    assert!(random[0] != random[1], "{random:x?}");
    for i in 0..4 {
        assert!(
            random[0][i] != plain[0][i] || random[1][i] != plain[0][i],
            "{random:x?}"
        );
    }
}
