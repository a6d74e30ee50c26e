//! Memory pressure end to end: swap (--swap), reclaim, the OOM killer, and
//! write-back of shared file mappings (msync, exit), on guests from
//! tests/guest (static and dynamic, whose libraries' file pages are
//! reclaimed too).

mod common;

use common::*;

static_and_dynamic! {
    fn more_memory_than_ram_is_swapped_and_comes_back_intact_across_fork(link) {
        let o = link.run(
            &["--memory", "8M", "--swap", "64M", "--stats"],
            "swapme",
            &["16", "fork"],
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{}{err}", stdout(&o));
        assert!(stdout(&o).starts_with("swapme: ok "), "{}", stdout(&o));
        assert!(stat_value(&err, "pages out") >= 2048, "{err}");
        assert!(stat_value(&err, "pages in") > 0, "{err}");
        assert!(stat_value(&err, "swap-in") > 0, "{err}");
        assert!(stat_value(&err, "frames: peak") <= 8192, "{err}");
        assert_eq!(stat_value(&err, "OOM kills"), 0, "{err}");
    }

    fn without_swap_the_same_program_is_killed_by_the_oom_killer(link) {
        let o = link.run(&["--memory", "8M"], "swapme", &["16", "fork"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(137), "{}{err}", stdout(&o));
        assert!(
            err.contains("cowix: out of memory: killed process 1 (swapme), total-vm:"),
            "{err}"
        );
        assert_eq!(stdout(&o), "");
    }

    fn too_little_swap_ends_in_the_oom_killer_too(link) {
        let o = link.run(&["--memory", "4M", "--swap", "4M"], "swapme", &["16"]);
        assert_eq!(o.status.code(), Some(137), "{}", stderr(&o));
        assert!(stderr(&o).contains("out of memory: killed process"));
    }
}

#[test]
fn msync_and_exit_write_shared_mappings_back_to_the_file() {
    let dir = Scratch::new("msync");
    let file = dir.path().join("data");
    let g = guest("msync");
    let o = cowix(["run", "--", g.to_str().unwrap(), file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o), "msync: ok\n");
    let data = std::fs::read(&file).unwrap();
    assert_eq!(data.len(), 8192, "write-back does not extend the file");
    assert_eq!(&data[..16], b"synced by msync\0");
    assert_eq!(&data[4096..4112], b"written at exit\0");
}

#[test]
fn the_swap_file_is_gone_while_cowix_runs_and_after() {
    let before: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("cowix-swap-"))
        .map(|e| e.file_name())
        .collect();
    let g = guest("swapme");
    let o = cowix([
        "run",
        "--memory",
        "4M",
        "--swap",
        "32M",
        "--",
        g.to_str().unwrap(),
        "6",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let after: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("cowix-swap-"))
        .map(|e| e.file_name())
        .filter(|n| !before.contains(n))
        .collect();
    assert!(after.is_empty(), "left behind: {after:?}");
}

static_and_dynamic! {
    fn the_oom_killer_picks_the_biggest_process_and_the_others_go_on(link) {
        let o = link.run(&["--memory", "8M"], "oomvictim", &["6", "3"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{}{err}", stdout(&o));
        assert_eq!(
            stdout(&o),
            "small: exited\nsmall status 0\nhog: SIGKILL\n",
            "{err}"
        );
        assert!(
            err.contains("cowix: out of memory: killed process 2 (oomvictim)"),
            "{err}"
        );
    }
}

/// Debian's busybox: a pipeline whose sort needs more than 1 MiB of memory
/// finishes with swap (same output as with room to spare) and is OOM-killed
/// without.
#[test]
fn busybox_sort_runs_in_one_mebibyte_with_swap() {
    let run = |memory: &[&str]| {
        let options = [&["--stats"], memory].concat();
        busybox_sh_with(
            &options,
            "busybox seq 1 20000 | busybox sort -rn | busybox head -1",
        )
    };
    let o = run(&["--memory", "1M", "--swap", "16M"]);
    let err = stderr(&o);
    assert_eq!(stdout(&o), "20000\n", "{err}");
    assert!(stat_value(&err, "pages out") > 0, "{err}");
    assert!(stat_value(&err, "frames: peak") <= 1024, "{err}");
    let o = run(&["--memory", "1M"]);
    let err = stderr(&o);
    assert_eq!(stdout(&o), "", "{err}");
    assert!(
        err.contains("cowix: out of memory: killed process"),
        "{err}"
    );
}

#[test]
fn a_swap_file_that_cannot_be_created_is_a_usage_error() {
    let g = guest("hello");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_cowix"))
        .args(["run", "--swap", "16M", "--", g.to_str().unwrap()])
        .env("TMPDIR", "/nonexistent-cowix-tmp")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .starts_with("cowix: --swap: cannot create the swap file in /nonexistent-cowix-tmp"),
        "{}",
        stderr(&o)
    );
}
