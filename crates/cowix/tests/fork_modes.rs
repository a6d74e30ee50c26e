//! `cowix run --fork-mode copy|cow|share-tables`: a guest that forks,
//! writes, uses MADV_DONTFORK / MADV_WIPEONFORK / MADV_DONTNEED and mremap
//! (tests/guest/forkmodes.c) prints the same thing in every mode: the
//! output Linux gives (qemu-riscv64 agrees except on the madvise lines,
//! where qemu-user accepts anything and ignores the fork flags).

mod common;

use common::*;

const EXPECTED: &str = "\
cow: child exit 0\n\
parent sees 2048 (want 2048)\n\
parent rewrote: 1\n\
dontfork: 0\n\
wipeonfork: 0\n\
wipeonfork shared: -1 errno EINVAL\n\
probe: child exit 0\n\
parent: dontfork 5 wipe 7 shared c\n\
dofork: 0\n\
keeponfork: 0\n\
dontneed: 0 now 0\n\
madvise bad advice: -1 EINVAL\n\
madvise unaligned: -1 EINVAL\n\
madvise over a hole: -1 ENOMEM\n\
mremap grow without MAYMOVE: ENOMEM\n\
mremap moved: yes data abcd new 0\n\
old range gone: yes\n\
mremap shrink: in place ab\n\
mremap of a hole: EFAULT\n\
mremap FIXED without MAYMOVE: EINVAL\n\
mremap FIXED: at target ab big[2*PAGE] 3\n\
after fork: child 0 parent a\n\
";

fn stat_value(stderr: &str, label: &str) -> Option<u64> {
    let line = stderr.lines().find(|l| l.contains(label))?;
    line.split_whitespace().rev().find_map(|w| w.parse().ok())
}

fn run_mode(link: Link, mode: &str) -> std::process::Output {
    link.run(&["--stats", "--fork-mode", mode], "forkmodes", &[])
}

static_and_dynamic! {
    fn every_fork_mode_gives_the_guest_the_same_memory(link) {
        for mode in ["copy", "cow", "share-tables"] {
            let o = run_mode(link, mode);
            let err = stderr(&o);
            assert_eq!(stdout(&o), EXPECTED, "--fork-mode {mode}; stderr: {err}");
            assert_eq!(o.status.code(), Some(0), "--fork-mode {mode}: {err}");
            assert!(
                err.lines()
                    .any(|l| l.contains("fork mode") && l.trim_end().ends_with(mode)),
                "{err}"
            );
            assert_eq!(stat_value(&err, "forks"), Some(3), "{mode}: {err}");
            assert!(stat_value(&err, "host time per fork").is_some(), "{err}");
            let cow_copies = stat_value(&err, "COW copy").unwrap();
            let shared_tables = stat_value(&err, "leaf tables: shared").unwrap_or(0);
            match mode {
                // An eager copy leaves nothing to copy on write.
                "copy" => assert_eq!(cow_copies, 0, "{err}"),
                // The child's writes to the 8 MiB area copy its pages.
                _ => assert!(cow_copies >= 1024, "{mode}: {err}"),
            }
            assert_eq!(shared_tables > 0, mode == "share-tables", "{err}");
            // The eager copy copies at fork (the 8 MiB area at least), the
            // copy-on-write modes never.
            let at_fork = stat_value(&err, "pages copied at fork").unwrap();
            match mode {
                "copy" => assert!(at_fork >= 2048, "{err}"),
                _ => assert_eq!(at_fork, 0, "{mode}: {err}"),
            }
        }
    }
}

#[test]
fn a_bad_fork_mode_is_one_line_and_status_2() {
    let g = guest("forkmodes");
    let o = cowix(["run", "--fork-mode", "fast", "--", g.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "cowix: --fork-mode: unknown fork mode 'fast' (use copy, cow or share-tables)\n"
    );
    assert_eq!(stdout(&o), "");
}
