//! File system calls beyond open/read/write (links, renames, modes, times,
//! statfs, sendfile, copy_file_range, memfd_create, fcntl/OFD locks, flock,
//! affinity), compared line by line with qemu-riscv64, which passes them to
//! the host's Linux kernel; and riscv_hwprobe, which describes cowix's own
//! hart (qemu's differs), checked against what cowix implements; static and
//! dynamic.

mod common;

use common::*;

static_and_dynamic! {
    fn file_system_calls_behave_as_on_linux(link) {
        file_system_calls(link)
    }
}

fn file_system_calls(link: Link) {
    let (a, b) = (link.scratch("fsops-cowix"), Scratch::new("fsops-qemu"));
    let got = link.run(&[], "fsops", &[a.guest()]);
    let want = link
        .qemu("fsops", &[b.path().as_os_str()])
        .expect("qemu-riscv64 is needed (scripts/test installs it)");
    let (got_out, want_out) = (
        stdout(&got),
        String::from_utf8_lossy(&want.stdout).into_owned(),
    );
    let strip = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.starts_with("hw "))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    assert_eq!(
        strip(&got_out),
        strip(&want_out),
        "stderr: {}",
        stderr(&got)
    );
    assert_eq!(got.status.code(), Some(0));
    // Every section ran.
    for section in [
        "links",
        "renames",
        "memfd",
        "fcntl locks",
        "OFD locks and flock",
        "cpu",
    ] {
        assert!(got_out.contains(&format!("== {section}\n")), "{got_out}");
    }
    // The memfd written by a child through a shared mapping reads back with pread.
    assert!(
        got_out.contains("  pread \"written by the child\"\n"),
        "{got_out}"
    );
    // A waiting F_SETLKW got the lock once the parent released it.
    assert!(
        got_out.contains("  child setlkw wr [0,+5) -> 0\n"),
        "{got_out}"
    );
    // riscv_hwprobe: base IMA, extensions F/D and C, the Sv39 user top, and
    // an unknown key marked -1.
    assert!(
        got_out.contains("hw hwprobe -> 0 base=1 ima=0x3 top=0x3fffffffff unknown=-1/0\n"),
        "{got_out}"
    );
}
