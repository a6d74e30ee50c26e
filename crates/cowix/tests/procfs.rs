//! /proc: generated from the kernel's and the memory system's real state.
//! The expected values are real Linux's (qemu-riscv64 passes most of /proc
//! through to the host, so it shows the host's processes and memory, not
//! the guest's; it is no oracle here).

mod common;

use common::*;

static_and_dynamic! {
    /// tests/guest/procfs.c checks /proc from inside: links, cmdline, environ,
    /// status, stat, [heap] for small malloc and its own mapping for a large
    /// one, smaps Rss/Pss/Shared/Private across fork, fd links that reopen a
    /// pipe, directory listings, refused writes, seq_file re-reads.
    fn proc_files_show_the_guests_own_state(link) {
        let o = link.run(
            &["--memory", "64M", "--env", "PROCFS_TEST=yes"],
            "procfs",
            &["arg1"],
        );
        let out = stdout(&o);
        let fails: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
        assert!(fails.is_empty(), "{fails:#?}\n{out}\n{}", stderr(&o));
        assert!(out.contains("done 0 failures"), "{out}\n{}", stderr(&o));
        assert_eq!(o.status.code(), Some(0));
        // Every check ran (the child's two lines included).
        assert_eq!(
            out.lines().filter(|l| l.starts_with("ok ")).count(),
            34,
            "{out}"
        );
        // MemTotal is the machine's --memory.
        assert!(out.contains("fact MemTotal 65536\n"), "{out}");
    }
}

fn busybox(script: &str) -> std::process::Output {
    busybox_sh_with(&["--memory", "256M"], script)
}

/// busybox ps walks /proc: it lists the shell (pid 1, its whole command
/// line) and itself (pid 2). (`; true` keeps the shell from exec-ing ps.)
#[test]
fn busybox_ps_lists_the_guest_processes() {
    let o = busybox("busybox ps; true");
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}\n{}", stderr(&o));
    assert!(lines[0].starts_with("PID"), "{out}");
    assert!(
        lines[1].trim_start().starts_with("1 ")
            && lines[1].ends_with("/usr/bin/busybox sh -c busybox ps; true"),
        "{out}"
    );
    assert!(
        lines[2].trim_start().starts_with("2 ") && lines[2].ends_with("busybox ps"),
        "{out}"
    );
}

/// free reads sysinfo and /proc/meminfo: the total is --memory and used +
/// free + buff/cache add up to it (no double-counted page cache).
#[test]
fn busybox_free_adds_up_to_the_machines_memory() {
    let o = busybox("busybox free");
    let out = stdout(&o);
    let mem: Vec<u64> = out
        .lines()
        .find(|l| l.starts_with("Mem:"))
        .unwrap_or_else(|| panic!("{out}\n{}", stderr(&o)))
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    let (total, used, free, _shared, cache) = (mem[0], mem[1], mem[2], mem[3], mem[4]);
    assert_eq!(total, 256 * 1024, "{out}");
    assert_eq!(used + free + cache, total, "{out}");
    assert!(used > 0 && used < 8 * 1024 && cache > 0, "{out}");
}

/// Shell code reads its own /proc entries: status by relative path after
/// cd, fd links, the exe link, and a listing of /proc/self.
#[test]
fn busybox_reads_proc_by_paths_links_and_listings() {
    let o = busybox(
        "cd /proc/self && busybox grep '^Name' status; \
         busybox readlink /proc/self/exe; \
         busybox readlink /proc/$$/fd/1; \
         busybox ls /proc/self/ | busybox tr '\\n' ' '; echo; \
         echo hi > /proc/self/status || echo refused; \
         /proc/self/status 2>/dev/null; echo \"exec status $?\"",
    );
    let out = stdout(&o);
    assert_eq!(
        out,
        "Name:\tbusybox\n\
         /usr/bin/busybox\n\
         /dev/stdout\n\
         auxv cmdline comm cwd environ exe fd fdinfo limits maps mounts root smaps smaps_rollup stat statm status task \n\
         refused\n\
         exec status 126\n",
        "stderr: {}",
        stderr(&o)
    );
}
