//! C extension execution (RISC-V unprivileged spec chapter 16): compressed
//! instructions behave exactly like their expansions, links are pc + 2, and
//! 16- and 32-bit instructions mix freely.

mod common;
use common::*;
use cowix_isa::{Cpu, Exit};

/// Run `parcels` with the given registers for `budget` instructions.
fn exec16(regs: &[(usize, u64)], parcels: &[u16], budget: u64) -> (Cpu, TestBus) {
    let mut cpu = cpu_with(regs);
    let (bus, exit) = run16(&mut cpu, parcels, budget);
    assert_eq!(exit, Exit::Budget, "stopped early at pc {:#x}", cpu.pc);
    (cpu, bus)
}

#[test]
fn stack_pointer_adjustments() {
    let (cpu, _) = exec16(&[(SP, 0x1000)], &[0x7139], 1); // c.addi16sp sp, -64
    assert_eq!(cpu.x[SP], 0x1000 - 64);
    let (cpu, _) = exec16(&[(SP, 0x1000)], &[0x617d], 1); // c.addi16sp sp, 496
    assert_eq!(cpu.x[SP], 0x1000 + 496);
    let (cpu, _) = exec16(&[(SP, 0x1000)], &[0x1fe8], 1); // c.addi4spn a0, sp, 1020
    assert_eq!(cpu.x[A0], 0x1000 + 1020);
}

#[test]
fn stack_pointer_loads_and_stores() {
    let sp = DATA + 0x100;
    let (cpu, bus) = exec16(
        &[
            (SP, sp),
            (A0, 0xffff_ffff_8765_4321),
            (A1, 0x1122_3344_5566_7788),
        ],
        &[
            0xffae, // c.sdsp a1, 504(sp)
            0xc02a, // c.swsp a0, 0(sp)
            0x4512, // c.lwsp a0, 4(sp)   (reads 0: sign extension of zero)
            0x65a2, // c.ldsp a1, 8(sp)
        ],
        4,
    );
    assert_eq!(bus.read(sp + 504, 8), 0x1122_3344_5566_7788);
    assert_eq!(bus.read(sp, 8), 0x8765_4321);
    assert_eq!((cpu.x[A0], cpu.x[A1]), (0, 0));
    let mut bus2 = TestBus::new();
    bus2.write(sp + 4, &0x8000_0000u32.to_le_bytes());
    bus2.put_parcels(CODE, &[0x4512]); // c.lwsp a0, 4(sp)
    let mut cpu = cpu_with(&[(SP, sp)]);
    cpu.pc = CODE;
    cpu.run(&mut bus2, 1);
    assert_eq!(cpu.x[A0], 0xffff_ffff_8000_0000, "c.lwsp sign-extends");
}

#[test]
fn register_based_loads_and_stores() {
    let (cpu, bus) = exec16(
        &[(A0, 0xdead_beef_cafe_f00d), (A1, DATA)],
        &[
            0xe588, // c.sd a0, 8(a1)
            0x41c8, // c.lw a0, 4(a1)  (bytes 4..8 are zero)
            0x2588, // c.fld fa0, 8(a1)
        ],
        3,
    );
    assert_eq!(bus.read(DATA + 8, 8), 0xdead_beef_cafe_f00d);
    assert_eq!(cpu.x[A0], 0);
    assert_eq!(cpu.f[10], 0xdead_beef_cafe_f00d);
    let mut cpu = cpu_with(&[(SP, DATA)]);
    cpu.f[10] = 0x4000_0000_0000_0000;
    let (bus, _) = run16(&mut cpu, &[0xa82a], 1); // c.fsdsp fa0, 16(sp)
    assert_eq!(bus.read(DATA + 16, 8), 0x4000_0000_0000_0000);
}

#[test]
fn jumps_and_branches_are_pc_relative_with_two_byte_links() {
    let (cpu, _) = exec16(&[], &[0xa019], 1); // c.j .+6
    assert_eq!(cpu.pc, CODE + 6);
    let (cpu, _) = exec16(&[], &[0x0001, 0xbffd], 2); // c.nop; c.j .-2
    assert_eq!(cpu.pc, CODE);
    let (cpu, _) = exec16(&[(A0, 0)], &[0xc119], 1); // c.beqz a0, .+6
    assert_eq!(cpu.pc, CODE + 6);
    let (cpu, _) = exec16(&[(A0, 1)], &[0xc119], 1); // c.beqz a0, .+6
    assert_eq!(cpu.pc, CODE + 2);
    let (cpu, _) = exec16(&[(A0, 1)], &[0xe119], 1); // c.bnez a0, .+6
    assert_eq!(cpu.pc, CODE + 6);
    let (cpu, _) = exec16(&[(A1, 0x4001)], &[0x9582], 1); // c.jalr a1
    assert_eq!((cpu.pc, cpu.x[RA]), (0x4000, CODE + 2));
    let (cpu, _) = exec16(&[(A1, 0x4000)], &[0x8582], 1); // c.jr a1
    assert_eq!((cpu.pc, cpu.x[RA]), (0x4000, 0));
}

#[test]
fn alu_expansions() {
    let (cpu, _) = exec16(&[(A1, 5)], &[0x862e, 0x962e], 2); // c.mv a2, a1; c.add a2, a1
    assert_eq!(cpu.x[A2], 10);
    let (cpu, _) = exec16(&[], &[0x5501], 1); // c.li a0, -32
    assert_eq!(cpu.x[A0], (-32i64) as u64);
    let (cpu, _) = exec16(&[], &[0x7501], 1); // c.lui a0, 0xfffe0
    assert_eq!(cpu.x[A0], 0xffff_ffff_fffe_0000);
    let (cpu, _) = exec16(&[(A0, 0x1_0000_0000)], &[0x357d], 1); // c.addiw a0, -1
    assert_eq!(cpu.x[A0], u64::MAX);
    let (cpu, _) = exec16(&[(A0, 1 << 63)], &[0x957d], 1); // c.srai a0, 63
    assert_eq!(cpu.x[A0], u64::MAX);
    let (cpu, _) = exec16(&[(A0, 1 << 63)], &[0x8105], 1); // c.srli a0, 1
    assert_eq!(cpu.x[A0], 1 << 62);
    let (cpu, _) = exec16(&[(A0, 0xff)], &[0x8901], 1); // c.andi a0, 0
    assert_eq!(cpu.x[A0], 0);
    let (cpu, _) = exec16(&[(A0, 0), (A1, 1)], &[0x9d0d], 1); // c.subw a0, a1
    assert_eq!(cpu.x[A0], u64::MAX);
    let (cpu, _) = exec16(&[(A0, 1)], &[0x157e], 1); // c.slli a0, 63
    assert_eq!(cpu.x[A0], 1 << 63);
}

#[test]
fn mixed_16_and_32_bit_code_with_a_misaligned_32_bit_instruction() {
    // c.nop; addi a0, a0, 1 (at CODE+2, not 4-aligned); c.addi a0, 1
    let (cpu, _) = exec16(&[], &[0x0001, 0x0513, 0x0015, 0x0505], 3);
    assert_eq!((cpu.x[A0], cpu.pc, cpu.instret), (2, CODE + 8, 3));
}

#[test]
fn reserved_compressed_encodings_trap_with_the_parcel() {
    for p in [
        0x0000u16, // all zero
        0x0010,    // c.addi4spn a2, sp, 0 (nzuimm = 0)
        0x6101,    // c.addi16sp sp, 0
        0x6501,    // c.lui a0, 0
        0x8002,    // c.jr zero
        0x4002,    // c.lwsp zero, 0(sp)
        0x6002,    // c.ldsp zero, 0(sp)
        0x2001,    // c.addiw zero, 0
    ] {
        let mut cpu = Cpu::new();
        let (_, exit) = run16(&mut cpu, &[p], 1);
        assert_eq!(
            exit,
            Exit::Illegal {
                pc: CODE,
                insn: u32::from(p)
            },
            "{p:#06x}"
        );
    }
}
