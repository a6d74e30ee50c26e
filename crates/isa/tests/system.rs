//! Traps and system instructions: ecall, ebreak, illegal encodings, precise
//! memory faults, the instruction budget, and the CSRs (RISC-V unprivileged
//! spec chapters 2.8, 9, 10, 13.2).

mod common;
use common::*;
use cowix_isa::{Access, Cpu, Exit, MemFault};

#[test]
fn ecall_retires_and_advances_pc() {
    let mut cpu = cpu_with(&[]);
    let (_, exit) = run32(&mut cpu, &[0x00150513, 0x00000073, 0x00150513]); // addi; ecall; addi
    assert_eq!(exit, Exit::Ecall);
    assert_eq!(cpu.pc, CODE + 8);
    assert_eq!(cpu.instret, 2);
    assert_eq!(cpu.x[A0], 1);
}

#[test]
fn ebreak_and_c_ebreak_stop_at_the_instruction() {
    let mut cpu = cpu_with(&[]);
    let (_, exit) = run32(&mut cpu, &[0x00100073]); // ebreak
    assert_eq!((exit, cpu.pc, cpu.instret), (Exit::Breakpoint, CODE, 0));
    let mut cpu = cpu_with(&[]);
    let (_, exit) = run16(&mut cpu, &[0x0505, 0x9002], 5); // c.addi a0, 1; c.ebreak
    assert_eq!((exit, cpu.pc, cpu.instret), (Exit::Breakpoint, CODE + 2, 1));
}

#[test]
fn privileged_and_reserved_encodings_are_illegal_with_raw_bits() {
    for w in [
        0x10500073u32, // wfi
        0x30200073,    // mret
        0x10200073,    // sret
        0xffffffff,    // reserved (>= 80-bit encoding space)
    ] {
        let mut cpu = cpu_with(&[(A0, 3)]);
        let (_, exit) = run32(&mut cpu, &[w]);
        assert_eq!(exit, Exit::Illegal { pc: CODE, insn: w }, "{w:#010x}");
        assert_eq!((cpu.pc, cpu.instret, cpu.x[A0]), (CODE, 0, 3));
    }
    // The all-zero parcel (e.g. jumping into zeroed memory).
    let mut cpu = cpu_with(&[]);
    let (_, exit) = run16(&mut cpu, &[0x0000], 1);
    assert_eq!(exit, Exit::Illegal { pc: CODE, insn: 0 });
}

#[test]
fn faulting_store_leaves_memory_and_registers_untouched() {
    // sd a2, -4(a1) with the 8 bytes straddling the end of memory.
    let end = DATA + DATA_SIZE;
    let mut cpu = cpu_with(&[(A1, end), (A2, u64::MAX)]);
    let before = cpu.clone();
    let (bus, exit) = run32(&mut cpu, &[0xfec5be23]); // sd a2, -4(a1)
    assert_eq!(
        exit,
        Exit::MemFault(MemFault {
            addr: end,
            access: Access::Write
        })
    );
    assert_eq!(bus.read(end - 4, 4), 0, "no partial store");
    assert_eq!(cpu.x, before.x);
    assert_eq!((cpu.pc, cpu.instret), (CODE, 0));
}

#[test]
fn faulting_load_does_not_write_rd() {
    let mut cpu = cpu_with(&[(A0, 0x1234), (A1, 0x10)]);
    let (_, exit) = run32(&mut cpu, &[0x0005a503]); // lw a0, 0(a1)
    assert_eq!(
        exit,
        Exit::MemFault(MemFault {
            addr: 0x10,
            access: Access::Read
        })
    );
    assert_eq!((cpu.x[A0], cpu.pc, cpu.instret), (0x1234, CODE, 0));
}

#[test]
fn fetch_faults_report_the_parcel_address() {
    // Jumping into non-executable data.
    let mut bus = TestBus::new();
    let mut cpu = Cpu::new();
    cpu.pc = DATA;
    assert_eq!(
        cpu.run(&mut bus, 1),
        Exit::MemFault(MemFault {
            addr: DATA,
            access: Access::Execute
        })
    );
    assert_eq!(cpu.pc, DATA);
    // A 32-bit instruction whose second parcel is on a non-executable page.
    let last = CODE + CODE_SIZE - 2;
    bus.put_parcels(last, &[0x0513]); // low half of addi a0, zero, ...
    cpu.pc = last;
    assert_eq!(
        cpu.run(&mut bus, 1),
        Exit::MemFault(MemFault {
            addr: last + 2,
            access: Access::Execute
        })
    );
    assert_eq!((cpu.pc, cpu.instret), (last, 0));
}

#[test]
fn budget_bounds_the_instructions_run() {
    let mut bus = TestBus::new();
    bus.put_words(CODE, &[0x00150513, 0xffdff06f]); // addi a0, a0, 1; j .-4
    let mut cpu = Cpu::new();
    cpu.pc = CODE;
    assert_eq!(cpu.run(&mut bus, 0), Exit::Budget);
    assert_eq!(cpu.instret, 0);
    assert_eq!(cpu.run(&mut bus, 101), Exit::Budget);
    assert_eq!((cpu.instret, cpu.x[A0]), (101, 51));
}

#[test]
fn fp_csrs_are_views_of_fcsr() {
    let mut cpu = cpu_with(&[(A1, 0xff)]);
    let (_, exit) = run32(&mut cpu, &[0x00359573]); // csrrw a0, fcsr, a1
    assert_eq!(exit, Exit::Budget);
    assert_eq!((cpu.x[A0], cpu.fcsr), (0, 0xff));
    let cpu = exec(
        &[],
        &[
            0x0021d573, // csrrwi a0, frm, 3     -> a0 = 0, frm = 3
            0x0012e573, // csrrsi a0, fflags, 5  -> a0 = 0, fflags = 5
            0x0010f573, // csrrci a0, fflags, 1  -> a0 = 5, fflags = 4
            0x00302573, // csrrs a0, fcsr, zero  -> a0 = 3 << 5 | 4
        ],
    );
    assert_eq!((cpu.x[A0], cpu.fcsr), (0x64, 0x64));
    let mut cpu = cpu_with(&[(A1, 0xffff_ff03)]);
    cpu.fcsr = 0xff;
    let (_, _) = run32(&mut cpu, &[0x0035b573]); // csrrc a0, fcsr, a1
    assert_eq!((cpu.x[A0], cpu.fcsr), (0xff, 0xfc));
    let mut cpu = cpu_with(&[(A1, 0xffff_ffff)]);
    let (_, _) = run32(&mut cpu, &[0x00159073]); // csrrw zero, fflags, a1
    assert_eq!(cpu.fcsr, 0x1f, "only the flag bits are written");
    let mut cpu = cpu_with(&[]);
    cpu.fcsr = 0xa7;
    let (_, _) = run32(&mut cpu, &[0x00202573]); // csrrs a0, frm, zero
    assert_eq!(cpu.x[A0], 5);
    let (_, _) = run32(&mut cpu, &[0x00102573]); // csrrs a0, fflags, zero
    assert_eq!(cpu.x[A0], 7);
}

#[test]
fn counters_read_instret_and_a_10mhz_time() {
    let mut cpu = cpu_with(&[]);
    cpu.instret = 12_345;
    let (_, exit) = run32(
        &mut cpu,
        &[
            0xc0002573, // csrrs a0, cycle, zero   (rdcycle)
            0xc02025f3, // csrrs a1, instret, zero (rdinstret)
            0xc0102673, // csrrs a2, time, zero    (rdtime)
        ],
    );
    assert_eq!(exit, Exit::Budget);
    assert_eq!((cpu.x[A0], cpu.x[A1], cpu.x[A2]), (12_345, 12_346, 123));
    assert_eq!(cpu.instret, 12_348);
}

#[test]
fn writing_a_counter_or_touching_an_unknown_csr_is_illegal() {
    for w in [
        0xc0059073u32, // csrrw zero, cycle, a1
        0xc005a573,    // csrrs a0, cycle, a1 (rs1 != x0 writes)
        0x7c002573,    // csrrs a0, 0x7c0, zero
    ] {
        let mut cpu = cpu_with(&[(A0, 9), (A1, 1)]);
        let (_, exit) = run32(&mut cpu, &[w]);
        assert_eq!(exit, Exit::Illegal { pc: CODE, insn: w }, "{w:#010x}");
        assert_eq!((cpu.x[A0], cpu.instret), (9, 0));
    }
    // csrrsi with uimm = 0 does not write, so it may read a counter.
    let cpu = exec(&[], &[0xc0206573]); // csrrsi a0, instret, 0
    assert_eq!(cpu.x[A0], 0);
}

/// Property: any encoding, executed from any register state, either retires
/// or stops with no architectural change (precise traps), and never panics.
#[test]
fn random_instructions_trap_precisely_and_never_panic() {
    let mut seed = 0x243f_6a88_85a3_08d3u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for raw in sample_encodings().into_iter().step_by(3) {
        let mut cpu = Cpu::new();
        for r in 1..32 {
            cpu.x[r] = match rand() % 4 {
                0 => DATA + rand() % DATA_SIZE, // a valid pointer
                1 => rand() % 64,
                _ => rand(),
            };
            cpu.f[r] = if r % 2 == 0 {
                rand() | 0xffff_ffff_0000_0000
            } else {
                rand()
            };
        }
        cpu.fcsr = (rand() % 256) as u32; // includes reserved frm values
        let mut bus = TestBus::new();
        if raw & 3 == 3 {
            bus.put_words(CODE, &[raw]);
        } else {
            bus.put_parcels(CODE, &[raw as u16]);
        }
        cpu.pc = CODE;
        let before = cpu.clone();
        let mem_before = bus.mem.clone();
        match cpu.run(&mut bus, 1) {
            Exit::Budget | Exit::Ecall => assert_eq!(cpu.instret, 1, "{raw:#x}"),
            exit => {
                if let Exit::Illegal { pc, insn } = exit {
                    assert_eq!((pc, insn), (CODE, raw), "{raw:#x}");
                }
                assert_eq!(
                    (cpu.x, cpu.f, cpu.pc),
                    (before.x, before.f, before.pc),
                    "{raw:#x}"
                );
                assert_eq!((cpu.fcsr, cpu.instret), (before.fcsr, 0), "{raw:#x}");
                assert!(bus.mem == mem_before, "{raw:#x} stored before trapping");
            }
        }
    }
}
