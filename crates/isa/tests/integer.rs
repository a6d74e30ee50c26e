//! RV64I and M: arithmetic, shifts, comparisons, upper immediates, jumps,
//! branches, loads and stores (RISC-V unprivileged spec chapters 2, 4, 7).

mod common;
use common::*;
use cowix_isa::Exit;

/// Run one instruction with a1 = `a`, a2 = `b`; return a0.
fn op(word: u32, a: u64, b: u64) -> u64 {
    exec(&[(A1, a), (A2, b)], &[word]).x[A0]
}

const MIN: u64 = i64::MIN as u64;

#[test]
fn immediate_arithmetic_and_comparisons() {
    assert_eq!(exec(&[(A0, 41)], &[0x00150513]).x[A0], 42); // addi a0, a0, 1
    assert_eq!(op(0x80058513, 0, 0), (-2048i64) as u64); // addi a0, a1, -2048
    assert_eq!(op(0xfff5a513, (-2i64) as u64, 0), 1); // slti a0, a1, -1
    assert_eq!(op(0xfff5a513, 0, 0), 0); // slti a0, a1, -1
                                         // sltiu compares against the sign-extended immediate as unsigned.
    assert_eq!(op(0xfff5b513, u64::MAX - 1, 0), 1); // sltiu a0, a1, -1
    assert_eq!(op(0xfff5b513, u64::MAX, 0), 0); // sltiu a0, a1, -1
    assert_eq!(op(0x0015b513, 0, 0), 1); // sltiu a0, a1, 1 (seqz)
    assert_eq!(op(0xfff5c513, 0x0f, 0), !0x0f); // xori a0, a1, -1 (not)
}

#[test]
fn shifts_by_63_and_31() {
    assert_eq!(op(0x03f59513, 1, 0), MIN); // slli a0, a1, 63
    assert_eq!(op(0x03f5d513, MIN, 0), 1); // srli a0, a1, 63
    assert_eq!(op(0x43f5d513, MIN, 0), u64::MAX); // srai a0, a1, 63
                                                  // *W shifts produce a sign-extended 32-bit result.
    assert_eq!(op(0x01f5951b, 1, 0), 0xffff_ffff_8000_0000); // slliw a0, a1, 31
    assert_eq!(op(0x01f5d51b, 0x8000_0000, 0), 1); // srliw a0, a1, 31
    assert_eq!(op(0x41f5d51b, 0x8000_0000, 0), u64::MAX); // sraiw a0, a1, 31
                                                          // Register shifts use only the low 6 (or 5 for *W) bits of rs2.
    assert_eq!(op(0x00c59533, 1, 64 + 63), MIN); // sll a0, a1, a2
    assert_eq!(op(0x00c5d533, MIN, 63), 1); // srl a0, a1, a2
    assert_eq!(op(0x40c5d533, MIN, 63), u64::MAX); // sra a0, a1, a2
    assert_eq!(op(0x00c5953b, 1, 32 + 31), 0xffff_ffff_8000_0000); // sllw a0, a1, a2
    assert_eq!(op(0x00c5d53b, 0xffff_ffff_8000_0000, 31), 1); // srlw a0, a1, a2
    assert_eq!(op(0x40c5d53b, 0x8000_0000, 31), u64::MAX); // sraw a0, a1, a2
}

#[test]
fn word_ops_sign_extend_their_32_bit_result() {
    assert_eq!(op(0x0015851b, 0x7fff_ffff, 0), 0xffff_ffff_8000_0000); // addiw a0, a1, 1
    assert_eq!(op(0x00c5853b, 0x7fff_ffff, 1), 0xffff_ffff_8000_0000); // addw a0, a1, a2
    assert_eq!(op(0x40c5853b, 0, 1), u64::MAX); // subw a0, a1, a2
                                                // Upper 32 bits of the sources are ignored.
    assert_eq!(
        op(0x00c5853b, 0xdead_beef_0000_0001, 0x1234_5678_0000_0001),
        2
    ); // addw a0, a1, a2
    assert_eq!(op(0x02c5853b, 0x1_0000_0000 | 0x10000, 0x10000), 0); // mulw a0, a1, a2
}

#[test]
fn register_comparisons_and_sub() {
    assert_eq!(op(0x00c5a533, u64::MAX, 0), 1); // slt a0, a1, a2 (-1 < 0)
    assert_eq!(op(0x00c5b533, u64::MAX, 0), 0); // sltu a0, a1, a2
    assert_eq!(op(0x40c58533, 0, 1), u64::MAX); // sub a0, a1, a2
}

#[test]
fn lui_and_auipc_sign_extend_the_upper_immediate() {
    assert_eq!(op(0x80000537, 0, 0), 0xffff_ffff_8000_0000); // lui a0, 0x80000
    assert_eq!(op(0x7ffff537, 0, 0), 0x7fff_f000); // lui a0, 0x7ffff
    assert_eq!(op(0x00001517, 0, 0), CODE + 0x1000); // auipc a0, 0x1
    assert_eq!(op(0xfffff517, 0, 0), CODE - 0x1000); // auipc a0, 0xfffff
}

#[test]
fn multiply_high_signed_unsigned_mixed() {
    let m1 = u64::MAX; // -1
    assert_eq!(op(0x02c58533, 3, m1), (-3i64) as u64); // mul a0, a1, a2
    assert_eq!(op(0x02c59533, m1, m1), 0); // mulh a0, a1, a2: (-1)*(-1) = 1
    assert_eq!(op(0x02c59533, MIN, MIN), 1 << 62); // mulh: 2^126 >> 64
    assert_eq!(op(0x02c5a533, m1, m1), m1); // mulhsu: -1 * (2^64-1) = -(2^64-1)
    assert_eq!(op(0x02c5a533, 2, m1), 1); // mulhsu: 2 * (2^64-1)
    assert_eq!(op(0x02c5b533, m1, m1), m1 - 1); // mulhu: (2^64-1)^2 >> 64
}

#[test]
fn division_by_zero_and_overflow_follow_the_spec_table() {
    let m1 = u64::MAX;
    // Division by zero: quotient all ones, remainder the dividend.
    assert_eq!(op(0x02c5c533, 7, 0), m1); // div a0, a1, a2
    assert_eq!(op(0x02c5d533, 7, 0), m1); // divu a0, a1, a2
    assert_eq!(op(0x02c5e533, 7, 0), 7); // rem a0, a1, a2
    assert_eq!(op(0x02c5f533, 7, 0), 7); // remu a0, a1, a2
    assert_eq!(op(0x02c5c53b, 7, 0), m1); // divw a0, a1, a2
    assert_eq!(op(0x02c5d53b, 7, 0), m1); // divuw a0, a1, a2
    assert_eq!(
        op(0x02c5e53b, 0xffff_ffff_8000_0007, 0),
        0xffff_ffff_8000_0007
    ); // remw
    assert_eq!(op(0x02c5f53b, 0x8000_0007, 0), 0xffff_ffff_8000_0007); // remuw sign-extends
                                                                       // Signed overflow: MIN / -1 = MIN, MIN % -1 = 0.
    assert_eq!(op(0x02c5c533, MIN, m1), MIN); // div a0, a1, a2
    assert_eq!(op(0x02c5e533, MIN, m1), 0); // rem a0, a1, a2
    assert_eq!(op(0x02c5c53b, 0x8000_0000, m1), 0xffff_ffff_8000_0000); // divw
    assert_eq!(op(0x02c5e53b, 0x8000_0000, m1), 0); // remw
                                                    // Ordinary signed division truncates towards zero.
    assert_eq!(op(0x02c5c533, (-7i64) as u64, 2), (-3i64) as u64); // div
    assert_eq!(op(0x02c5e533, (-7i64) as u64, 2), (-1i64) as u64); // rem
    assert_eq!(op(0x02c5d533, m1, 2), m1 >> 1); // divu
    assert_eq!(op(0x02c5d53b, 0xffff_fffe, 2), 0x7fff_ffff); // divuw a0, a1, a2
}

#[test]
fn jal_links_and_jumps() {
    let mut cpu = cpu_with(&[]);
    let (_, exit) = run32(&mut cpu, &[0x010000ef]); // jal ra, .+16
    assert_eq!(exit, Exit::Budget);
    assert_eq!(cpu.x[RA], CODE + 4);
    assert_eq!(cpu.pc, CODE + 16);
}

#[test]
fn jalr_clears_bit_zero_and_reads_rs1_before_writing_rd() {
    let mut cpu = cpu_with(&[(A1, 0x2000)]);
    let (_, _) = run32(&mut cpu, &[0x005580e7]); // jalr ra, 5(a1)
    assert_eq!(cpu.pc, 0x2004);
    assert_eq!(cpu.x[RA], CODE + 4);
    let mut cpu = cpu_with(&[(A1, 0x3000)]);
    run32(&mut cpu, &[0x000585e7]); // jalr a1, 0(a1)
    assert_eq!(cpu.pc, 0x3000);
    assert_eq!(cpu.x[A1], CODE + 4);
}

#[test]
fn branches_compare_signed_and_unsigned() {
    let m1 = u64::MAX;
    let cases: [(u32, u64, u64, bool); 12] = [
        (0x00c58463, 5, 5, true),   // beq a1, a2, .+8
        (0x00c58463, 5, 6, false),  // beq a1, a2, .+8
        (0x00c59463, 5, 6, true),   // bne a1, a2, .+8
        (0x00c59463, 5, 5, false),  // bne a1, a2, .+8
        (0x00c5c463, m1, 0, true),  // blt a1, a2, .+8 (-1 < 0)
        (0x00c5c463, 0, m1, false), // blt a1, a2, .+8
        (0x00c5d463, 0, m1, true),  // bge a1, a2, .+8
        (0x00c5d463, 3, 3, true),   // bge a1, a2, .+8
        (0x00c5e463, 0, m1, true),  // bltu a1, a2, .+8
        (0x00c5e463, m1, 0, false), // bltu a1, a2, .+8
        (0x00c5f463, m1, 0, true),  // bgeu a1, a2, .+8
        (0x00c5f463, 0, m1, false), // bgeu a1, a2, .+8
    ];
    for (w, a, b, taken) in cases {
        let cpu = exec(&[(A1, a), (A2, b)], &[w]);
        assert_eq!(
            cpu.pc,
            CODE + if taken { 8 } else { 4 },
            "{w:#010x} {a:#x} {b:#x}"
        );
    }
    let cpu = exec(&[], &[0x0000_0013, 0xfec58ee3]); // nop; beq a1, a2, .-4
    assert_eq!(cpu.pc, CODE);
}

#[test]
fn loads_sign_or_zero_extend() {
    let mut bus_words = TestBus::new();
    bus_words.write(DATA, &0x8081_8283_8485_8687u64.to_le_bytes());
    let cases: [(u32, u64); 7] = [
        (0x00058503, 0xffff_ffff_ffff_ff87), // lb a0, 0(a1)
        (0x00059503, 0xffff_ffff_ffff_8687), // lh a0, 0(a1)
        (0x0005a503, 0xffff_ffff_8485_8687), // lw a0, 0(a1)
        (0x0005b503, 0x8081_8283_8485_8687), // ld a0, 0(a1)
        (0x0005c503, 0x87),                  // lbu a0, 0(a1)
        (0x0005d503, 0x8687),                // lhu a0, 0(a1)
        (0x0005e503, 0x8485_8687),           // lwu a0, 0(a1)
    ];
    for (w, want) in cases {
        let mut cpu = cpu_with(&[(A1, DATA)]);
        let mut bus = TestBus::new();
        bus.mem.clone_from(&bus_words.mem);
        bus.put_words(CODE, &[w]);
        cpu.pc = CODE;
        assert_eq!(cpu.run(&mut bus, 1), Exit::Budget);
        assert_eq!(cpu.x[A0], want, "{w:#010x}");
    }
}

#[test]
fn stores_write_only_their_width() {
    let mut cpu = cpu_with(&[(A1, DATA), (A2, 0x1122_3344_5566_7788)]);
    let (bus, exit) = run32(
        &mut cpu,
        &[
            0x00c580a3, // sb a2, 1(a1)
            0x00c59123, // sh a2, 2(a1)
            0x00c5a223, // sw a2, 4(a1)
            0x00c5b423, // sd a2, 8(a1)
        ],
    );
    assert_eq!(exit, Exit::Budget);
    assert_eq!(bus.read(DATA, 8), 0x5566_7788_7788_8800);
    assert_eq!(bus.read(DATA + 8, 8), 0x1122_3344_5566_7788);
}

#[test]
fn misaligned_accesses_are_passed_to_the_bus() {
    let mut cpu = cpu_with(&[(A1, DATA + 3), (A2, 0x1122_3344_5566_7788)]);
    let (bus, exit) = run32(
        &mut cpu,
        &[
            0x00c5b423, // sd a2, 8(a1)
            0x0005b503, // ld a0, 0(a1)
        ],
    );
    assert_eq!(exit, Exit::Budget);
    assert_eq!(bus.read(DATA + 11, 8), 0x1122_3344_5566_7788);
    assert_eq!(cpu.x[A0], 0);
}

#[test]
fn x0_stays_zero() {
    let mut cpu = cpu_with(&[(A1, 1), (A2, 2)]);
    cpu.x[0] = 99; // even if the kernel scribbles on it
    let (_, exit) = run32(&mut cpu, &[0x00c58033, 0x00000513]); // add zero, a1, a2; li a0, 0
    assert_eq!(exit, Exit::Budget);
    assert_eq!(cpu.x[0], 0);
    assert_eq!(cpu.x[A0], 0);
}

#[test]
fn fence_is_a_no_op_and_fence_i_reaches_the_bus() {
    let mut cpu = cpu_with(&[]);
    let (bus, exit) = run32(&mut cpu, &[0x0ff0000f, 0x0000100f]); // fence; fence.i
    assert_eq!(exit, Exit::Budget);
    assert_eq!(bus.fence_i_calls, 1);
    assert_eq!(cpu.pc, CODE + 8);
    assert_eq!(cpu.instret, 2);
}
