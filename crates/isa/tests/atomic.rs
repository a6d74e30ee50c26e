//! A extension: LR/SC reservations and AMOs (RISC-V unprivileged spec
//! chapter 8), including precise behaviour when the store half faults.

mod common;
use common::*;
use cowix_isa::{Access, Cpu, Exit, MemFault};

/// Run `words` against `bus` (code already placed or placed here).
fn run_on(bus: &mut TestBus, cpu: &mut Cpu, words: &[u32]) -> Exit {
    bus.put_words(CODE, words);
    cpu.pc = CODE;
    cpu.run(bus, words.len() as u64)
}

#[test]
fn lr_sc_succeeds_on_a_matching_reservation_then_fails() {
    let mut bus = TestBus::new();
    bus.write(DATA, &5u32.to_le_bytes());
    let mut cpu = cpu_with(&[(A1, DATA), (A2, 7)]);
    let prog = [
        0x1005a52f, // lr.w a0, (a1)
        0x18c5a6af, // sc.w a3, a2, (a1)
        0x18c5a6af, // sc.w a3, a2, (a1)  (reservation consumed: fails)
    ];
    bus.put_words(CODE, &prog);
    cpu.pc = CODE;
    assert_eq!(cpu.run(&mut bus, 2), Exit::Budget);
    assert_eq!((cpu.x[A0], cpu.x[A3]), (5, 0));
    assert_eq!(bus.read(DATA, 4), 7);
    bus.write(DATA, &9u32.to_le_bytes());
    assert_eq!(cpu.run(&mut bus, 1), Exit::Budget);
    assert_eq!(cpu.x[A3], 1, "second sc fails");
    assert_eq!(bus.read(DATA, 4), 9, "failed sc does not store");
}

#[test]
fn sc_fails_for_another_address_size_or_after_clear_reservation() {
    // Different address.
    let mut bus = TestBus::new();
    let mut cpu = cpu_with(&[(A1, DATA), (A4, DATA + 8), (A2, 7)]);
    let exit = run_on(
        &mut bus,
        &mut cpu,
        &[
            0x1005b52f, // lr.d a0, (a1)
            0x18c736af, // sc.d a3, a2, (a4)
        ],
    );
    assert_eq!(exit, Exit::Budget);
    assert_eq!(cpu.x[A3], 1);
    assert_eq!(bus.read(DATA + 8, 8), 0);
    // Different size: lr.w then sc.d on the same address.
    let mut cpu = cpu_with(&[(A1, DATA), (A2, 7)]);
    run_on(
        &mut bus,
        &mut cpu,
        &[
            0x1005a52f, // lr.w a0, (a1)
            0x18c5b6af, // sc.d a3, a2, (a1)
        ],
    );
    assert_eq!(cpu.x[A3], 1);
    // The kernel drops the reservation (context switch) between LR and SC.
    let mut cpu = cpu_with(&[(A1, DATA), (A2, 7)]);
    bus.put_words(
        CODE,
        &[
            0x1005b52f, // lr.d a0, (a1)
            0x18c5b6af, // sc.d a3, a2, (a1)
        ],
    );
    cpu.pc = CODE;
    cpu.run(&mut bus, 1);
    cpu.clear_reservation();
    cpu.run(&mut bus, 1);
    assert_eq!(cpu.x[A3], 1);
    assert_eq!(bus.read(DATA, 8), 0);
}

#[test]
fn lr_w_sign_extends() {
    let mut bus = TestBus::new();
    bus.write(DATA, &0x8000_0001u32.to_le_bytes());
    let mut cpu = cpu_with(&[(A1, DATA)]);
    run_on(&mut bus, &mut cpu, &[0x1005a52f]); // lr.w a0, (a1)
    assert_eq!(cpu.x[A0], 0xffff_ffff_8000_0001);
}

/// Run one AMO on memory word `mem` with a2 = `src`; return (a0, new memory).
fn amo(word: u32, size: usize, mem: u64, src: u64) -> (u64, u64) {
    let mut bus = TestBus::new();
    bus.write(DATA, &mem.to_le_bytes()[..size]);
    let mut cpu = cpu_with(&[(A1, DATA), (A2, src)]);
    assert_eq!(run_on(&mut bus, &mut cpu, &[word]), Exit::Budget);
    (cpu.x[A0], bus.read(DATA, size))
}

#[test]
fn amo_w_returns_the_sign_extended_old_value() {
    let old = 0x8000_0000u64;
    assert_eq!(amo(0x08c5a52f, 4, old, 1), (0xffff_ffff_8000_0000, 1)); // amoswap.w a0, a2, (a1)
    assert_eq!(
        amo(0x00c5a52f, 4, old, 0xffff_ffff),
        (0xffff_ffff_8000_0000, 0x7fff_ffff)
    ); // amoadd.w
    assert_eq!(amo(0x20c5a52f, 4, 0xff, 0x0f), (0xff, 0xf0)); // amoxor.w a0, a2, (a1)
    assert_eq!(amo(0x60c5a52f, 4, 0xff, 0x0f), (0xff, 0x0f)); // amoand.w a0, a2, (a1)
    assert_eq!(amo(0x40c5a52f, 4, 0xf0, 0x0f), (0xf0, 0xff)); // amoor.w a0, a2, (a1)
}

#[test]
fn amo_min_max_compare_as_32_bit_signed_or_unsigned() {
    let neg1 = 0xffff_ffffu64; // -1 as a word in memory
                               // amomin.w: min(-1, 1) = -1.
    assert_eq!(amo(0x80c5a52f, 4, neg1, 1), (u64::MAX, neg1)); // amomin.w a0, a2, (a1)
                                                               // amomax.w: max(-1, 1) = 1. Upper register bits of a2 are ignored.
    assert_eq!(
        amo(0xa0c5a52f, 4, neg1, 0xdead_0000_0000_0001),
        (u64::MAX, 1)
    ); // amomax.w
       // amominu.w: minu(0xffffffff, 1) = 1.
    assert_eq!(amo(0xc0c5a52f, 4, neg1, 1), (u64::MAX, 1)); // amominu.w a0, a2, (a1)
                                                            // amomaxu.w: maxu(0xffffffff, 1) = 0xffffffff; a2 = -1 sign-extended compares as 0xffffffff.
    assert_eq!(amo(0xe0c5a52f, 4, 1, u64::MAX), (1, neg1)); // amomaxu.w a0, a2, (a1)
                                                            // 64-bit forms.
    assert_eq!(amo(0x80c5b52f, 8, u64::MAX, 1), (u64::MAX, u64::MAX)); // amomin.d a0, a2, (a1)
    assert_eq!(amo(0xa0c5b52f, 8, u64::MAX, 1), (u64::MAX, 1)); // amomax.d a0, a2, (a1)
    assert_eq!(amo(0xc0c5b52f, 8, u64::MAX, 1), (u64::MAX, 1)); // amominu.d a0, a2, (a1)
    assert_eq!(amo(0xe0c5b52f, 8, 1, u64::MAX), (1, u64::MAX)); // amomaxu.d a0, a2, (a1)
    assert_eq!(amo(0x06c5b52f, 8, 1 << 40, 1), (1 << 40, (1 << 40) + 1)); // amoadd.d.aqrl
    assert_eq!(amo(0x08c5b52f, 8, 3, 4), (3, 4)); // amoswap.d a0, a2, (a1)
}

#[test]
fn amo_whose_store_faults_changes_nothing() {
    let mut bus = TestBus::new();
    bus.write(DATA, &10u32.to_le_bytes());
    bus.ro = (DATA, DATA + 0x100);
    let mut cpu = cpu_with(&[(A0, 0x5555), (A1, DATA), (A2, 1)]);
    let exit = run_on(&mut bus, &mut cpu, &[0x00c5a52f]); // amoadd.w a0, a2, (a1)
    assert_eq!(
        exit,
        Exit::MemFault(MemFault {
            addr: DATA,
            access: Access::Write
        })
    );
    assert_eq!(cpu.x[A0], 0x5555, "rd not written");
    assert_eq!(cpu.pc, CODE);
    assert_eq!(cpu.instret, 0);
    assert_eq!(bus.read(DATA, 4), 10);
    // The kernel makes the page writable and resumes: the AMO completes.
    bus.ro = (0, 0);
    assert_eq!(cpu.run(&mut bus, 1), Exit::Budget);
    assert_eq!((cpu.x[A0], bus.read(DATA, 4)), (10, 11));
}

#[test]
fn sc_whose_store_faults_keeps_the_reservation_for_the_retry() {
    let mut bus = TestBus::new();
    bus.ro = (DATA, DATA + 0x100);
    let mut cpu = cpu_with(&[(A1, DATA), (A2, 7), (A3, 0x77)]);
    bus.put_words(
        CODE,
        &[
            0x1005a52f, // lr.w a0, (a1)
            0x18c5a6af, // sc.w a3, a2, (a1)
        ],
    );
    cpu.pc = CODE;
    let exit = cpu.run(&mut bus, 2);
    assert_eq!(
        exit,
        Exit::MemFault(MemFault {
            addr: DATA,
            access: Access::Write
        })
    );
    assert_eq!((cpu.pc, cpu.x[A3]), (CODE + 4, 0x77));
    bus.ro = (0, 0); // copy-on-write resolved
    assert_eq!(cpu.run(&mut bus, 1), Exit::Budget);
    assert_eq!((cpu.x[A3], bus.read(DATA, 4)), (0, 7));
}

#[test]
fn misaligned_atomics_trap_before_touching_memory() {
    // Linux emulates misaligned loads and stores but not atomics: the
    // address-misaligned exception becomes SIGBUS, so nothing may change.
    for (word, access) in [
        (0x1005a52f, Access::Read),  // lr.w a0, (a1)
        (0x18c5a6af, Access::Write), // sc.w a3, a2, (a1)
        (0x00c5a52f, Access::Write), // amoadd.w a0, a2, (a1)
        (0x00c5b52f, Access::Write), // amoadd.d a0, a2, (a1)
    ] {
        let mut bus = TestBus::new();
        bus.write(DATA, &[0x11; 16]);
        let mut cpu = cpu_with(&[(A1, DATA + 2), (A2, 7)]);
        let before = cpu.clone();
        let exit = run_on(&mut bus, &mut cpu, &[word]);
        assert_eq!(
            exit,
            Exit::Misaligned {
                addr: DATA + 2,
                access
            },
            "{word:#010x}"
        );
        assert_eq!(cpu.pc, CODE, "pc stays at the atomic");
        assert_eq!(
            (cpu.x, cpu.instret),
            (before.x, before.instret),
            "no register written"
        );
        assert_eq!(bus.read(DATA, 8), 0x1111_1111_1111_1111, "memory untouched");
    }
}
