//! Garbage in, errno out: every syscall cowix implements, called through
//! the kernel's own trap path with hostile arguments (null, -1, huge,
//! unaligned, kernel-half and unmapped addresses, addresses into the
//! process's own stack and code, random bits). Nothing may panic the
//! host, and afterwards the memory system must be consistent (frame
//! counts, page tables, VMAs: `check_invariants`).

use std::path::Path;

use cowix_mm::{check_invariants, AddressSpace};

use crate::fd::{FdEntry, FdTable, Object, OpenFile};
use crate::{Config, ForkMode, Kernel};

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Syscalls left out, and why: each would take the test's process away
/// without saying anything about argument checking.
fn skipped(nr: u64) -> bool {
    const EXIT: u64 = 93;
    const EXIT_GROUP: u64 = 94;
    matches!(nr, EXIT | EXIT_GROUP)
}

/// A fresh machine running the committed hello guest, with stdio replaced
/// by /dev/null so no garbage reaches the terminal or waits on it.
fn machine(fork_mode: ForkMode) -> (Kernel, i32) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guests/hello");
    let mut k = Kernel::new(Config {
        root: root.canonicalize().unwrap(),
        cwd: "/".into(),
        memory: 64 << 20,
        fork_mode,
        strace: false,
        aslr: false,
        swap: 0,
    })
    .unwrap();
    let pid = k
        .spawn(b"/hello", vec![b"hello".to_vec()], vec![b"A=1".to_vec()])
        .unwrap();
    let p = k.procs.get_mut(&pid).unwrap();
    p.fds = FdTable::default();
    for _ in 0..3 {
        let e = FdEntry {
            file: OpenFile::new(Object::Null, 2, "/dev/null"),
            cloexec: false,
        };
        p.fds.install(e, 0, 1024).unwrap();
    }
    (k, pid)
}

/// An argument: mostly values that sit on a boundary somewhere.
fn garbage(rng: &mut Rng, sp: u64, pc: u64) -> u64 {
    const INTERESTING: [u64; 16] = [
        0,
        1,
        2,
        3,
        0xffff_ffff,
        0x8000_0000,
        u64::MAX,
        u64::MAX - 1,
        i64::MAX as u64,
        i64::MIN as u64,
        4096,
        4095,
        0x40_0000_0000,        // the end of user space
        0x3f_ffff_f000,        // its last page
        0xffff_ffc0_0000_0000, // the kernel half
        0x1000,
    ];
    match rng.next() % 8 {
        0..=2 => INTERESTING[(rng.next() % 16) as usize],
        3 => sp.wrapping_sub(rng.next() % 8192) & !7, // the stack, mapped
        4 => pc.wrapping_add(rng.next() % 4096),      // the code, read-only
        5 => rng.next() % 64,                         // small: fds, flags, counts
        _ => rng.next(),
    }
}

fn run(fork_mode: ForkMode, seed: u64, rounds: usize) {
    let mut rng = Rng(seed);
    let numbers: Vec<u64> = super::NAMES
        .iter()
        .map(|&(nr, _)| nr)
        .filter(|&nr| !skipped(nr))
        .chain([3, 999, 4000, u64::MAX]) // unknown ones: ENOSYS
        .collect();
    let (mut k, mut pid) = machine(fork_mode);
    for round in 0..rounds {
        for &nr in &numbers {
            let mut p = k.procs.remove(&pid).expect("the test process is alive");
            let tid = *p.threads.keys().next().expect("a thread");
            let mut t = p.threads.remove(&tid).unwrap();
            let (sp, pc) = (t.cpu.x[2], t.cpu.pc);
            t.cpu.x[17] = nr;
            for i in 10..16 {
                t.cpu.x[i] = garbage(&mut rng, sp, pc);
            }
            if std::env::var_os("COWIX_GARBAGE_VERBOSE").is_some() {
                eprintln!(
                    "garbage: round {round} nr {nr} args {:x?}",
                    &t.cpu.x[10..16]
                );
            }
            // The trap path: pc is past the ecall.
            t.cpu.pc += 4;
            let _ = k.syscall(&mut p, &mut t);
            t.blocked = None;
            t.sleep_until = None;
            t.futex = None;
            // Put back a sane user context for the next call.
            t.cpu.pc = pc;
            t.cpu.x[2] = sp;
            let ended = p.exit.is_some() || t.vfork_child.is_some();
            p.threads.insert(t.tid, t);
            k.procs.insert(pid, p);
            if ended {
                // Killed by its own garbage (kill(0, SIGKILL), a fatal
                // signal from rt_sigreturn...) or lending its memory to a
                // vfork child: carry on in a new machine.
                check_all(&k);
                (k, pid) = machine(fork_mode);
            }
            let _ = round;
        }
        check_all(&k);
    }
}

/// The memory system is consistent over every address space there is.
fn check_all(k: &Kernel) {
    let mut mms: Vec<&crate::process::Mm> = Vec::new();
    for p in k.procs.values() {
        if !mms.iter().any(|m| m.same(&p.mm)) {
            mms.push(&p.mm);
        }
    }
    let guards: Vec<_> = mms.iter().map(|m| m.get()).collect();
    let spaces: Vec<&AddressSpace> = guards.iter().map(|g| &**g).collect();
    check_invariants(&k.pm, &spaces);
}

/// Rounds per run: COWIX_GARBAGE_ROUNDS raises it for a long search
/// (`COWIX_GARBAGE_ROUNDS=5000 cargo test -p cowix-kernel --release garbage`).
fn rounds(default: usize) -> usize {
    std::env::var("COWIX_GARBAGE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn every_syscall_survives_garbage_arguments_cow() {
    run(ForkMode::Cow, 0x5eed_0001, rounds(40));
}

#[test]
fn every_syscall_survives_garbage_arguments_other_fork_modes() {
    run(ForkMode::Copy, 0x5eed_0002, rounds(10));
    run(ForkMode::ShareTables, 0x5eed_0003, rounds(10));
}

/// RLIMIT_NPROC (copy_process()): a user other than root at its limit of
/// tasks gets EAGAIN from fork; root is not limited.
#[test]
fn fork_past_rlimit_nproc_is_eagain_except_for_root() {
    const CLONE: u64 = 220;
    const SIGCHLD: u64 = 17;
    for (uid, want_fail) in [(1000u32, true), (0, false)] {
        let (mut k, pid) = machine(ForkMode::Cow);
        let mut p = k.procs.remove(&pid).unwrap();
        p.creds.uid = uid;
        p.rlimits[crate::process::rlimit::NPROC].cur = 2;
        let tid = *p.threads.keys().next().unwrap();
        let mut t = p.threads.remove(&tid).unwrap();
        let mut results = Vec::new();
        for _ in 0..2 {
            t.cpu.x[17] = CLONE;
            t.cpu.x[10] = SIGCHLD;
            for i in 11..16 {
                t.cpu.x[i] = 0;
            }
            let _ = k.syscall(&mut p, &mut t);
            results.push(t.cpu.x[10] as i64);
        }
        assert!(
            results[0] > 0,
            "uid {uid}: the first fork works: {results:?}"
        );
        if want_fail {
            assert_eq!(
                results[1], -11,
                "uid {uid}: EAGAIN at the limit: {results:?}"
            );
        } else {
            assert!(results[1] > 0, "root is not limited: {results:?}");
        }
    }
}

/// The console's ioctls (tty.rs) with garbage arguments, from the
/// foreground and, after setpgid or setsid, from a background group or
/// another session, on /dev/tty, the standard streams and other files:
/// errno values or job-control signals, never a panic, and the memory
/// system stays consistent.
#[test]
fn console_ioctls_survive_garbage_arguments() {
    const IOCTL: u64 = 29;
    const SETPGID: u64 = 154;
    const SETSID: u64 = 157;
    const REQUESTS: [u64; 12] = [
        0x5401, 0x5402, 0x5403, 0x5404, 0x540e, 0x540f, 0x5410, 0x5422, 0x5429, 0x5413, 0x541b,
        0x5400,
    ];
    let mut rng = Rng(0x5eed_0707);
    let with_console = || {
        let (mut k, pid) = machine(ForkMode::Cow);
        let p = k.procs.get_mut(&pid).unwrap();
        for object in [Object::Tty, Object::Stdin, Object::Stdout] {
            let e = FdEntry {
                file: OpenFile::new(object, 2, "/dev/tty"),
                cloexec: false,
            };
            p.fds.install(e, 0, 1024).unwrap();
        }
        (k, pid)
    };
    let (mut k, mut pid) = with_console();
    let mut restarts = 0;
    for _ in 0..rounds(400) {
        let mut p = k.procs.remove(&pid).expect("the test process is alive");
        let tid = *p.threads.keys().next().expect("a thread");
        let mut t = p.threads.remove(&tid).unwrap();
        let (sp, pc) = (t.cpu.x[2], t.cpu.pc);
        let nr = match rng.next() % 16 {
            0 => SETPGID,
            1 => SETSID,
            _ => IOCTL,
        };
        t.cpu.x[17] = nr;
        for i in 10..16 {
            t.cpu.x[i] = garbage(&mut rng, sp, pc);
        }
        if nr == IOCTL {
            t.cpu.x[10] = rng.next() % 7;
            t.cpu.x[11] = REQUESTS[(rng.next() % REQUESTS.len() as u64) as usize];
        } else if nr == SETPGID {
            t.cpu.x[10] = 0;
            t.cpu.x[11] = 0;
        }
        t.cpu.pc += 4;
        let _ = k.syscall(&mut p, &mut t);
        t.blocked = None;
        t.cpu.pc = pc;
        t.cpu.x[2] = sp;
        // A stop for SIGTTOU is what Linux does; carry on as if continued.
        p.job.stopped = None;
        let ended = p.exit.is_some();
        p.threads.insert(t.tid, t);
        k.procs.insert(pid, p);
        if ended {
            // TIOCNOTTY's SIGHUP to its own foreground group: a new machine.
            check_all(&k);
            restarts += 1;
            (k, pid) = with_console();
        }
    }
    assert!(
        restarts < rounds(400) / 4,
        "most calls leave the process alive"
    );
    check_all(&k);
}
