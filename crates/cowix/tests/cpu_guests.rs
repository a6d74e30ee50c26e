//! CPU-heavy glibc guests at -O2 (doubles through printf and libm, the FP
//! environment, 128-bit arithmetic, M-extension edge cases): their whole
//! output must equal qemu-riscv64's (which also implements F/D in software,
//! exactly), and the lines the RISC-V spec pins down are checked directly;
//! static and dynamic (libm.so.6 under qemu-riscv64 -L too).

mod common;

use std::process::Command;

use common::*;

fn under_qemu(link: Link, name: &str) -> String {
    let o = link.qemu(name, &[]).expect(
        "qemu-riscv64 is needed for this test: scripts/test installs it (Debian package qemu-user)",
    );
    assert!(
        o.status.success(),
        "qemu: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn under_cowix(link: Link, name: &str) -> String {
    let o = link.run(&[], name, &[]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    stdout(&o)
}

static_and_dynamic! {
    fn doubles_printf_libm_and_fenv_match_qemu(link) {
        let ours = under_cowix(link, "float_printf");
        assert_eq!(ours, under_qemu(link, "float_printf"));
        for line in [
            "0.10000000000000001 | 0.100000 | 1.000e-01 | 0.1 | 0x1.999999999999ap-4",
            "upward     1/3=0x1.5555555555556p-2 lrint(-2.5)=-2",
            "downward   1/3=0x1.5555555555555p-2 lrint(-2.5)=-3",
            "1/0=inf divbyzero=1",
            "overflow=1 inexact=1",
            "sqrt(-1) invalid=1",
            "underflow=1",
            "fma 0x1p-54",
        ] {
            assert!(
                ours.lines().any(|l| l == line),
                "missing line {line:?} in:\n{ours}"
            );
        }
    }

    fn int128_and_division_edge_cases_match_qemu_and_the_spec(link) {
        let ours = under_cowix(link, "int128");
        assert_eq!(ours, under_qemu(link, "int128"));
        for line in [
            "30! 00000d13f6370f96865df5dd54000000",
            // RISC-V unprivileged spec, M extension, table "Semantics for division by zero and division overflow".
            "7/0 -1 7%0 7 7u/0 18446744073709551615 7u%0 7",
            "min/-1 -9223372036854775808 min%-1 0",
        ] {
            assert!(
                ours.lines().any(|l| l == line),
                "missing line {line:?} in:\n{ours}"
            );
        }
    }
}

/// Hot guest code runs translated (the kernel lends its TLB to the block
/// translator), with the same output as the interpreter alone
/// (`COWIX_JIT=0`), which translates nothing.
#[test]
fn hot_code_is_translated_unless_cowix_jit_is_0() {
    let run = |jit: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_cowix"))
            .env("COWIX_JIT", jit)
            .args(["run", "--stats", "--"])
            .arg(guest("int128"))
            .output()
            .expect("cannot start cowix");
        assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
        let err = stderr(&o);
        let line = err
            .lines()
            .find(|l| l.contains("translated blocks"))
            .unwrap_or_else(|| panic!("no translated blocks line in: {err}"));
        let n: u64 = line
            .split_whitespace()
            .last()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad line: {line}"));
        (stdout(&o), n)
    };
    let (interp, none) = run("0");
    let (jit, some) = run("2");
    assert_eq!(none, 0, "COWIX_JIT=0 translates nothing");
    if cfg!(target_arch = "x86_64") {
        // Other hosts only interpret (cowix_hostmem::code::JIT_SUPPORTED).
        assert!(some > 10, "COWIX_JIT=2 translated only {some} blocks");
    }
    assert_eq!(interp, jit);
}
