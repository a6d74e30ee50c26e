//! The initial stack and auxiliary vector, compared with what qemu-riscv64
//! gives the same program, and with Linux where qemu-user differs.
//!
//! Static guest only: for a dynamic (PIE) program AT_BASE, AT_ENTRY and
//! AT_PHDR name where ld.so and the program were loaded, which qemu-user
//! chooses differently from Linux's ELF_ET_DYN_BASE (cowix follows Linux),
//! so qemu is no oracle for those values; and ld.so, not the program, is
//! the first to read the stack. The dynamic guests' startup is exercised by
//! every static_and_dynamic! test.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;

const ARGS: [&str; 3] = ["x", "hello world", ""];
const ENV: [&str; 2] = ["A=1", "LONGER=some value"];

fn under_cowix() -> String {
    let g = guest("auxv");
    let mut v: Vec<String> = vec!["run".into()];
    for e in ENV {
        v.push("--env".into());
        v.push(e.into());
    }
    v.push("--".into());
    v.push(g.to_string_lossy().into_owned());
    v.extend(ARGS.iter().map(|s| s.to_string()));
    let o = cowix(&v);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    stdout(&o)
}

fn under_qemu() -> String {
    let g = guest("auxv");
    // qemu-user hands the guest its environment in reverse order (Linux
    // keeps execve's order), so give qemu the variables reversed.
    let o = Command::new("env")
        .arg("-i")
        .args(ENV.iter().rev())
        .arg("qemu-riscv64")
        .arg(&g)
        .args(ARGS)
        .output()
        .expect("qemu-riscv64 is needed for this test: scripts/test installs it (Debian package qemu-user)");
    assert_eq!(
        o.status.code(),
        Some(0),
        "qemu stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The auxv lines ("auxv K = V") as an ordered list and a map.
fn auxv(out: &str) -> (Vec<u64>, BTreeMap<u64, String>) {
    let mut order = Vec::new();
    let mut map = BTreeMap::new();
    for line in out.lines().filter_map(|l| l.strip_prefix("auxv ")) {
        if let Some((k, v)) = line.split_once(" = ") {
            let k: u64 = k.parse().unwrap();
            order.push(k);
            map.insert(k, v.to_string());
        }
    }
    (order, map)
}

#[test]
fn stack_layout_matches_qemu() {
    let ours = under_cowix();
    let theirs = under_qemu();
    // Everything but the auxv lines: argc, sp alignment, where every string,
    // AT_RANDOM and AT_EXECFN sit relative to the stack top.
    let layout = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("auxv "))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        layout(&ours),
        layout(&theirs),
        "cowix:\n{ours}\nqemu:\n{theirs}"
    );
    assert!(ours.starts_with("argc=4 sp%16=0 top%4096=0\n"), "{ours}");
}

#[test]
fn auxv_values_match_qemu_for_every_common_key() {
    let (_, ours) = auxv(&under_cowix());
    let (_, theirs) = auxv(&under_qemu());
    // AT_PHDR AT_PHENT AT_PHNUM AT_PAGESZ AT_BASE AT_FLAGS AT_ENTRY AT_UID AT_EUID
    // AT_GID AT_EGID AT_HWCAP AT_CLKTCK AT_SECURE AT_RANDOM AT_EXECFN
    for key in [3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 16, 17, 23, 25, 31] {
        assert_eq!(ours.get(&key), theirs.get(&key), "auxv key {key}");
        assert!(ours.contains_key(&key), "cowix lacks auxv key {key}");
    }
}

#[test]
fn auxv_has_linux_riscv_entries_and_order() {
    let (order, map) = auxv(&under_cowix());
    // Linux's create_elf_tables(): ARCH_DLINFO (cache geometry, AT_MINSIGSTKSZ)
    // first, then the generic entries in this order. qemu-user orders them
    // differently and omits the riscv ones; Linux is what cowix matches.
    // (AT_SYSINFO_EHDR is absent: cowix maps no vDSO yet, and glibc falls back
    // to system calls, as on a kernel without one.)
    let linux = [
        40, 41, 42, 43, 44, 45, 46, 47, 51, 16, 6, 17, 3, 4, 5, 7, 8, 9, 11, 12, 13, 14, 23, 25, 31,
    ];
    assert_eq!(order, linux);
    for k in 40..=47 {
        assert_eq!(
            map[&k], "0",
            "cache key {k}: Linux reports 0 when the cache is unknown"
        );
    }
    assert_eq!(
        map[&51], "0x440",
        "AT_MINSIGSTKSZ: sizeof(struct rt_sigframe) on riscv64 without V"
    );
    assert_eq!(map[&16], "0x112d", "AT_HWCAP: rv64imafdc");
    // riscv defines ELF_PLATFORM as NULL, so Linux gives no AT_PLATFORM (15).
    assert!(!map.contains_key(&15));
}
