//! Disassembler output for representative encodings, and totality: every
//! 16-bit parcel and a large sample of 32-bit words decode and disassemble
//! without panicking, and every operation disassembles with any operands.

use cowix_isa::{decode, disassemble, disassemble_raw, Insn, Op};
use std::collections::HashSet;

mod common;
use common::sample_encodings;

#[test]
fn gnu_like_text_for_representative_encodings() {
    let pc = 0x1000;
    let cases: &[(u32, &str)] = &[
        (0x00150513, "addi a0, a0, 1"),
        (0xff010113, "addi sp, sp, -16"),
        (0x01010413, "addi s0, sp, 16"),
        (0x0800, "addi s0, sp, 16"), // c.addi4spn s0, sp, 16
        (0x4515, "li a0, 5"),        // c.li a0, 5
        (0x852e, "mv a0, a1"),       // c.mv a0, a1
        (0x8082, "ret"),             // c.jr ra
        (0x0001, "nop"),             // c.nop
        (0x9002, "ebreak"),          // c.ebreak
        (0xfe113c23, "sd ra, -8(sp)"),
        (0x0005b503, "ld a0, 0(a1)"),
        (0x12345537, "lui a0, 0x12345"),
        (0x03f59513, "slli a0, a1, 0x3f"),
        (0x010000ef, "jal 0x1010"),
        (0x0080006f, "j 0x1008"),
        (0x00c58463, "beq a1, a2, 0x1008"),
        (0xc119, "beqz a0, 0x1006"), // c.beqz a0, .+6
        (0x02c5c533, "div a0, a1, a2"),
        (0x1605a52f, "lr.w.aqrl a0, (a1)"),
        (0x04c5a52f, "amoadd.w.aq a0, a2, (a1)"),
        (0x18c5b6af, "sc.d a3, a2, (a1)"),
        (0xc2051553, "fcvt.w.d a0, fa0, rtz"),
        (0xc205f553, "fcvt.w.d a0, fa1"),
        (0x6ac5f543, "fmadd.d fa0, fa1, fa2, fa3"),
        (0x00b5a427, "fsw fa1, 8(a1)"),
        (0x22b58553, "fmv.d fa0, fa1"),
        (0xe2059553, "fclass.d a0, fa1"),
        (0x00102573, "frflags a0"),
        (0xc0102573, "rdtime a0"),
        (0x7c002573, "csrr a0, 0x7c0"),
        (0x0021d573, "csrrwi a0, frm, 3"),
        (0x0ff0000f, "fence"),
        (0x0330000f, "fence rw, rw"),
        (0x8330000f, "fence.tso"),
        (0x0000100f, "fence.i"),
        (0x00000073, "ecall"),
        (0x10500073, ".insn 0x10500073"), // wfi: illegal in user mode
        (0x0000, ".insn 0x0000"),
    ];
    for &(raw, want) in cases {
        assert_eq!(disassemble_raw(raw, pc), want, "{raw:#x}");
    }
}

#[test]
fn decode_is_total_and_illegal_keeps_raw_bits() {
    let all: HashSet<Op> = Op::ALL.iter().copied().collect();
    assert_eq!(all.len(), Op::ALL.len(), "Op::ALL has duplicates");
    let mut seen = HashSet::new();
    for raw in sample_encodings() {
        let (insn, len) = decode(raw as u16, (raw >> 16) as u16);
        assert_eq!(len, if raw & 3 == 3 { 4 } else { 2 });
        assert!(all.contains(&insn.op), "{:?} missing from Op::ALL", insn.op);
        if insn.op == Op::Illegal {
            assert_eq!(insn.raw(), raw, "raw bits of {raw:#x}");
        } else if insn.op.form() != cowix_isa::Form::Raw {
            assert!(
                insn.rm != 5 && insn.rm != 6,
                "reserved rm decoded: {raw:#x}"
            );
        }
        let text = disassemble(&insn, 0x8000_0000);
        assert!(!text.is_empty());
        seen.insert(insn.op);
    }
    let unseen: Vec<_> = Op::ALL.iter().filter(|op| !seen.contains(op)).collect();
    assert!(unseen.is_empty(), "never decoded: {unseen:?}");
}

#[test]
fn every_operation_disassembles_with_any_operands() {
    for &op in Op::ALL {
        for (k, imm) in [0, -1, 1, i32::MIN, i32::MAX, 0xfff, 0x8330, 0x10]
            .into_iter()
            .enumerate()
        {
            let r = (k * 5 % 32) as u8;
            let insn = Insn {
                op,
                rd: r,
                rs1: 31 - r,
                rs2: r / 2,
                rs3: r % 4,
                rm: (k % 8) as u8,
                imm,
            };
            let text = disassemble(&insn, u64::MAX - 4);
            assert!(!text.is_empty(), "{op:?}");
        }
    }
}
