//! Lazy binding through the PLT (seed 000's "on demand linking") in a
//! dynamically linked guest: tests/guest/lazy_plt.c looks at its own
//! .got.plt slots before and after the first call, across fork and under
//! LD_BIND_NOW, and at the GOT page in /proc/self/smaps; `--trace` shows
//! the fault that turned that page anonymous. And the shared libraries'
//! pages (tests/guest/dyn_libs.c): code loaded on demand and shared through
//! the page cache, data written by ld.so's relocations made anonymous.
//!
//! What the slots hold is checked against qemu-riscv64 -L (the same ld.so
//! and libc on the host's Linux kernel). qemu's smaps describes its own host
//! mappings, not a Linux guest's (it shows a read-only data page as dirty,
//! having copied it), so the smaps lines are checked against Linux's rules
//! instead: a private file page only read is Private_Clean; once written it
//! is an anonymous Private_Dirty copy (mm/memory.c: do_cow_fault()).

mod common;

use common::*;
use serde_json::Value;

/// What lazy_plt prints without LD_BIND_NOW, its "addr" line left out.
const LAZY: &str = "same GOT page: 1\n\
    got[0] (the resolver): ld.so\n\
    getppid slot at main: plt\n\
    getpgrp slot at main: plt\n\
    smaps at main: pages=1 Rss=4 Shared_Clean=0 Shared_Dirty=0 Private_Clean=0 Private_Dirty=4 Anonymous=4\n\
    filler read: 1\n\
    smaps data page read, never written: pages=1 Rss=4 Shared_Clean=0 Shared_Dirty=0 Private_Clean=4 Private_Dirty=0 Anonymous=0\n\
    child: getpgrp slot after its call: libc (result ok 1)\n\
    parent: getpgrp slot after the child's call: plt\n\
    getppid slot after the first call: libc (result ok 1)\n\
    getppid slot after the second call: libc\n\
    smaps at exit: pages=1 Rss=4 Shared_Clean=0 Shared_Dirty=0 Private_Clean=0 Private_Dirty=4 Anonymous=4\n";

/// The output without the lines that name addresses.
fn without_addresses(out: &str) -> String {
    out.lines()
        .filter(|l| !l.starts_with("addr "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The output without the lines that vary between kernels (addresses and
/// smaps).
fn slots_only(out: &str) -> String {
    out.lines()
        .filter(|l| !l.starts_with("addr ") && !l.starts_with("smaps "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// lazy_plt under qemu-riscv64 -L (dyn_root) with `env` (`None` if qemu is
/// not installed).
fn qemu(env: &[&str]) -> Option<String> {
    let mut c = std::process::Command::new("qemu-riscv64");
    for e in env {
        c.arg("-E").arg(e);
    }
    let o = c
        .arg("-L")
        .arg(dyn_root())
        .arg(Link::Dynamic.host_path("lazy_plt"))
        .output()
        .ok()?;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    Some(stdout(&o))
}

/// Before its first call a slot points at the PLT header (which enters
/// ld.so's _dl_runtime_resolve, the resolver in got[0]); the first call
/// binds it to libc's function. A forked child's binding writes its own
/// copy of the GOT page: the parent's slot stays unbound. The GOT page is
/// anonymous and dirty at main already: ld.so wrote it while relocating
/// (glibc's elf_machine_runtime_setup() stores the resolver and link map
/// in got[0..1]; elf_machine_lazy_rel() adds the load bias to each slot).
#[test]
fn a_plt_slot_is_bound_at_the_first_call_and_per_process() {
    let o = Link::Dynamic.run(&[], "lazy_plt", &[]);
    let out = stdout(&o);
    assert_eq!(without_addresses(&out), LAZY, "stderr: {}", stderr(&o));
    assert_eq!(o.status.code(), Some(0));
    match qemu(&[]) {
        Some(want) => assert_eq!(slots_only(&out), slots_only(&want)),
        None => eprintln!("qemu-riscv64 is not installed (scripts/test installs it); skipped"),
    }
}

/// LD_BIND_NOW=1: ld.so binds every slot before main (the resolver is
/// still installed in got[0]).
#[test]
fn ld_bind_now_binds_every_slot_before_main() {
    let o = Link::Dynamic.run(&["--env", "LD_BIND_NOW=1"], "lazy_plt", &[]);
    let out = stdout(&o);
    let expected = LAZY
        .replace("slot at main: plt", "slot at main: libc")
        .replace(
            "after the child's call: plt",
            "after the child's call: libc",
        );
    assert_ne!(expected, LAZY);
    assert_eq!(without_addresses(&out), expected, "stderr: {}", stderr(&o));
    match qemu(&["LD_BIND_NOW=1"]) {
        Some(want) => assert_eq!(slots_only(&out), slots_only(&want)),
        None => eprintln!("qemu-riscv64 is not installed (scripts/test installs it); skipped"),
    }
}

/// The static build has no PLT to look at (and says so).
#[test]
fn the_static_build_has_no_plt() {
    let o = Link::Static.run(&[], "lazy_plt", &[]);
    assert_eq!(stdout(&o), "static: no dynamic section, no PLT\n");
    assert_eq!(o.status.code(), Some(0));
}

/// The trace of one run, one JSON value a line.
fn trace_of(options: &[&str]) -> (String, Vec<Value>) {
    let dir = Scratch::new("lazy-trace");
    let file = dir.path().join("t.jsonl");
    let mut opts = vec!["--trace", file.to_str().unwrap()];
    opts.extend_from_slice(options);
    let o = Link::Dynamic.run(&opts, "lazy_plt", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&file).unwrap();
    let records = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (stdout(&o), records)
}

/// The GOT page's address, from lazy_plt's "addr" line.
fn got_page(out: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with("addr "))
        .unwrap_or_else(|| panic!("no addr line in {out}"));
    let hex = line.rsplit("page 0x").next().unwrap();
    u64::from_str_radix(hex, 16).unwrap()
}

/// The faults in the page at `page`, as (pid, insn, kind, refs_before).
fn faults_in(records: &[Value], page: u64) -> Vec<(u64, u64, String, Option<u64>)> {
    records
        .iter()
        .filter(|r| r["ev"] == "fault" && r["addr"].as_u64().unwrap() & !4095 == page)
        .map(|r| {
            (
                r["pid"].as_u64().unwrap(),
                r["insn"].as_u64().unwrap(),
                r["kind"].as_str().unwrap().to_string(),
                r["refs_before"].as_u64(),
            )
        })
        .collect()
}

/// The GOT page is a private file page of the program until ld.so, running
/// in the guest (after instruction 0, when exec's loader is done), writes
/// it: a `file_cow` fault (docs/trace.md) copies the page-cache frame, the
/// one write fault the page takes in that process. After fork the first
/// binding write on either side is a copy-on-write fault: the first writer
/// copies, the other then owns the frame alone (a copy, or a reuse if its
/// sharer has gone).
#[test]
fn trace_shows_ld_so_turning_the_got_page_anonymous() {
    let (out, records) = trace_of(&[]);
    let page = got_page(&out);
    let faults = faults_in(&records, page);
    let fork_insn = records
        .iter()
        .find(|r| r["ev"] == "fork")
        .and_then(|r| r["insn"].as_u64())
        .expect("a fork record");
    let parent_before_fork: Vec<_> = faults
        .iter()
        .filter(|f| f.0 == 1 && f.1 < fork_insn)
        .collect();
    let writes: Vec<_> = parent_before_fork
        .iter()
        .filter(|f| f.2 != "file")
        .collect();
    assert_eq!(writes.len(), 1, "{faults:?}");
    let (_, insn, kind, refs_before) = writes[0];
    assert_eq!(kind, "file_cow", "{faults:?}");
    assert!(*insn > 0, "written by exec's loader, not ld.so: {faults:?}");
    // It copied a page-cache frame (the cache's reference and this PTE's)
    // or a frame not yet mapped here.
    assert!(matches!(refs_before, None | Some(2)), "{faults:?}");
    // The VMA it faulted in is the program's own file mapping.
    let vma_name = records
        .iter()
        .find(|r| {
            r["ev"] == "fault" && r["kind"] == "file_cow" && r["insn"].as_u64() == Some(*insn)
        })
        .map(|r| r["vma_name"].as_str().unwrap().to_string())
        .unwrap();
    assert_eq!(vma_name, "/lazy_plt");
    // After the fork: one COW fault on each side, at least one a copy.
    let after: Vec<_> = faults.iter().filter(|f| f.1 >= fork_insn).collect();
    for pid in [1, 2] {
        let mine: Vec<_> = after.iter().filter(|f| f.0 == pid).collect();
        assert_eq!(mine.len(), 1, "pid {pid}: {faults:?}");
        assert!(mine[0].2.starts_with("cow_"), "pid {pid}: {faults:?}");
    }
    assert!(after.iter().any(|f| f.2 == "cow_copy"), "{faults:?}");
    // ld.so also writes libc's data pages (relocations) that nothing had
    // read yet: the page is copied straight from the page cache, never
    // mapped from it first (seed 000: "it has to load it first").
    assert!(
        records.iter().any(|r| r["ev"] == "fault"
            && r["pid"] == 1
            && r["kind"] == "file_cow"
            && r["refs_before"].is_null()
            && r["insn"].as_u64().unwrap() > 0
            && r["vma_name"].as_str().unwrap().ends_with("/libc.so.6")),
        "no direct file_cow in libc"
    );
}

/// Seed 000's shared libraries on Linux's rules (qemu-user's smaps shows
/// its own host mappings, so it is no oracle): ld.so and libc's code are
/// loaded on demand from the page cache, libc's data pages that ld.so
/// relocated are anonymous, and a program exec'd by a child maps the very
/// frames of libc's code its parent maps (Shared_Clean, Pss < Rss), though
/// exec left it nothing of the fork. The static build has no libraries.
#[test]
fn shared_library_code_is_loaded_on_demand_and_shared_through_the_page_cache() {
    let o = Link::Dynamic.run(&[], "dyn_libs", &[]);
    assert_eq!(
        stdout(&o),
        "ld.so and libc mapped: yes\n\
         libc code loaded on demand (Rss < Size): yes, anonymous: 0 kB\n\
         ld.so code loaded on demand (Rss < Size): yes, anonymous: 0 kB\n\
         libc data written by ld.so is anonymous: yes (private dirty yes)\n\
         libc code mapped by this process alone: yes\n\
         exec'd child: libc code shared with its parent: yes, Pss < Rss: yes, anonymous: 0 kB\n\
         child: exited 0\n",
        "stderr: {}",
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(0));
    let o = Link::Static.run(&[], "dyn_libs", &[]);
    assert_eq!(stdout(&o), "static: no shared libraries\n");
}

/// ld.so's own account (LD_DEBUG=bindings, on stderr, each line headed by
/// the pid): getppid and getpgrp are bound once at start for the GOT
/// entries that hold their addresses (lazy_plt takes them) and once more
/// at the PLT call: getpgrp's in the forked child (pid 2), getppid's in
/// the parent. With LD_BIND_NOW=1 both bindings happen at start, in pid 1.
#[test]
fn ld_so_logs_each_lazy_binding_in_the_process_that_called() {
    let count = |err: &str, pid: &str, symbol: &str| {
        err.lines()
            .filter(|l| l.trim_start().starts_with(&format!("{pid}:")))
            .filter(|l| l.contains("binding file /lazy_plt") && l.contains(&format!("`{symbol}'")))
            .count()
    };
    let o = Link::Dynamic.run(&["--env", "LD_DEBUG=bindings"], "lazy_plt", &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(count(&err, "1", "getppid"), 2, "{err}");
    assert_eq!(count(&err, "1", "getpgrp"), 1, "{err}");
    assert_eq!(count(&err, "2", "getpgrp"), 1, "{err}");
    assert_eq!(count(&err, "2", "getppid"), 0, "{err}");
    let o = Link::Dynamic.run(
        &["--env", "LD_DEBUG=bindings", "--env", "LD_BIND_NOW=1"],
        "lazy_plt",
        &[],
    );
    let err = stderr(&o);
    assert_eq!(count(&err, "1", "getppid"), 2, "{err}");
    assert_eq!(count(&err, "1", "getpgrp"), 2, "{err}");
    assert_eq!(count(&err, "2", "getpgrp"), 0, "{err}");
}

/// The dynamic linker at run time (tests/guest/dlopen.c, dynamic only):
/// dlopen maps libm and dlclose unmaps it, dlerror, dladdr, pthread_cancel
/// unwinding through the libgcc_s.so.1 glibc dlopens, __thread variables.
/// Matches qemu-riscv64 -L, line for line.
#[test]
fn dlopen_dlclose_cancellation_and_tls_work() {
    let o = Link::Dynamic.run(&[], "dlopen", &[]);
    let out = stdout(&o);
    assert_eq!(
        out,
        "libm mapped at start: 0\n\
         dlopen libm: 1, mapped: 1, cos(0) = 1\n\
         dlclose: 0, mapped: 0\n\
         dlopen missing: libcowix-missing.so: cannot open shared object file: No such file or directory\n\
         dladdr(printf): 1 /lib/libc.so.6\n\
         cancelled: 1, libgcc_s mapped: 1\n\
         __thread: main 5, thread 15\n",
        "stderr: {}",
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(0));
    if let Some(want) = Link::Dynamic.qemu("dlopen", &[]) {
        assert_eq!(out, stdout(&want));
    }
}
