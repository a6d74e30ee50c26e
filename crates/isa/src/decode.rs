//! Decoder for 32-bit encodings (RISC-V unprivileged spec, chapter 2.2-2.3
//! "Base instruction formats" and "Immediate encoding variants", and the
//! opcode map in chapter 34/35 "RV32/64G Instruction Set Listings").
//!
//! [`decode`] is the single entry point for both lengths: a parcel whose low
//! two bits are not `11` is a compressed instruction (see `rvc.rs`).
//! Decoding is pure, total and cheap: every 32-bit word yields either an
//! instruction or [`Op::Illegal`] carrying the raw bits, so it can later feed
//! a decoded-instruction cache unchanged.

use crate::insn::{Insn, Op};
use crate::rvc;

/// Decode the instruction whose first parcel is `parcel_lo`; `parcel_hi` (the
/// next parcel) is only looked at when `parcel_lo` starts a 32-bit
/// instruction. Returns the instruction and its length in bytes (2 or 4).
#[inline]
pub fn decode(parcel_lo: u16, parcel_hi: u16) -> (Insn, u32) {
    if parcel_lo & 3 != 3 {
        (rvc::decode_compressed(parcel_lo), 2)
    } else {
        (
            decode32(u32::from(parcel_lo) | (u32::from(parcel_hi) << 16)),
            4,
        )
    }
}

// ---- field extraction (spec 2.2, figure "RISC-V base instruction formats") ----

#[inline]
fn rd(w: u32) -> u8 {
    ((w >> 7) & 31) as u8
}
#[inline]
fn rs1(w: u32) -> u8 {
    ((w >> 15) & 31) as u8
}
#[inline]
fn rs2(w: u32) -> u8 {
    ((w >> 20) & 31) as u8
}
#[inline]
fn rs3(w: u32) -> u8 {
    (w >> 27) as u8
}
#[inline]
fn funct3(w: u32) -> u32 {
    (w >> 12) & 7
}
#[inline]
fn funct7(w: u32) -> u32 {
    w >> 25
}
/// I-type immediate: bits 31:20, sign-extended.
#[inline]
fn imm_i(w: u32) -> i32 {
    (w as i32) >> 20
}
/// S-type immediate: bits 31:25 | 11:7, sign-extended.
#[inline]
fn imm_s(w: u32) -> i32 {
    ((w as i32) >> 25 << 5) | ((w >> 7) & 31) as i32
}
/// B-type immediate: imm[12|10:5] in 31:25, imm[4:1|11] in 11:7.
#[inline]
fn imm_b(w: u32) -> i32 {
    ((w as i32) >> 31 << 12)
        | (((w >> 7) & 1) << 11) as i32
        | (((w >> 25) & 0x3f) << 5) as i32
        | (((w >> 8) & 0xf) << 1) as i32
}
/// U-type immediate: bits 31:12, low 12 bits zero.
#[inline]
fn imm_u(w: u32) -> i32 {
    (w & 0xffff_f000) as i32
}
/// J-type immediate: imm[20|10:1|11|19:12] in bits 31:12.
#[inline]
fn imm_j(w: u32) -> i32 {
    ((w as i32) >> 31 << 20)
        | (w & 0x000f_f000) as i32
        | (((w >> 20) & 1) << 11) as i32
        | (((w >> 21) & 0x3ff) << 1) as i32
}

// ---- format constructors ----

#[inline]
fn r_type(op: Op, w: u32) -> Insn {
    Insn {
        rd: rd(w),
        rs1: rs1(w),
        rs2: rs2(w),
        ..Insn::new(op)
    }
}
#[inline]
fn i_type(op: Op, w: u32) -> Insn {
    Insn {
        rd: rd(w),
        rs1: rs1(w),
        imm: imm_i(w),
        ..Insn::new(op)
    }
}
#[inline]
fn s_type(op: Op, w: u32) -> Insn {
    Insn {
        rs1: rs1(w),
        rs2: rs2(w),
        imm: imm_s(w),
        ..Insn::new(op)
    }
}
#[inline]
fn b_type(op: Op, w: u32) -> Insn {
    Insn {
        rs1: rs1(w),
        rs2: rs2(w),
        imm: imm_b(w),
        ..Insn::new(op)
    }
}
/// Shift-immediate form: `imm` is the shift amount (`bits` wide).
#[inline]
fn shift_type(op: Op, w: u32, bits: u32) -> Insn {
    Insn {
        rd: rd(w),
        rs1: rs1(w),
        imm: ((w >> 20) & ((1 << bits) - 1)) as i32,
        ..Insn::new(op)
    }
}
/// FP R-type with rounding mode; rm 5 and 6 are reserved (spec 13.2).
#[inline]
fn fp_rm(op: Op, w: u32) -> Insn {
    let rm = funct3(w) as u8;
    if rm == 5 || rm == 6 {
        return Insn::illegal(w);
    }
    Insn {
        rd: rd(w),
        rs1: rs1(w),
        rs2: rs2(w),
        rm,
        ..Insn::new(op)
    }
}

/// Decode one 32-bit instruction word (low two bits `11`).
pub fn decode32(w: u32) -> Insn {
    match (w >> 2) & 0x1f {
        0x00 => decode_load(w),
        0x01 => decode_load_fp(w),
        0x03 => decode_misc_mem(w),
        0x04 => decode_op_imm(w),
        0x05 => Insn {
            rd: rd(w),
            imm: imm_u(w),
            ..Insn::new(Op::Auipc)
        },
        0x06 => decode_op_imm_32(w),
        0x08 => decode_store(w),
        0x09 => decode_store_fp(w),
        0x0b => decode_amo(w),
        0x0c => decode_op(w),
        0x0d => Insn {
            rd: rd(w),
            imm: imm_u(w),
            ..Insn::new(Op::Lui)
        },
        0x0e => decode_op_32(w),
        0x10..=0x13 => decode_fma(w),
        0x14 => decode_op_fp(w),
        0x18 => decode_branch(w),
        0x19 if funct3(w) == 0 => i_type(Op::Jalr, w),
        0x1b => Insn {
            rd: rd(w),
            imm: imm_j(w),
            ..Insn::new(Op::Jal)
        },
        0x1c => decode_system(w),
        _ => Insn::illegal(w),
    }
}

/// LOAD (spec 2.6, 4.3).
fn decode_load(w: u32) -> Insn {
    let op = match funct3(w) {
        0 => Op::Lb,
        1 => Op::Lh,
        2 => Op::Lw,
        3 => Op::Ld,
        4 => Op::Lbu,
        5 => Op::Lhu,
        6 => Op::Lwu,
        _ => return Insn::illegal(w),
    };
    i_type(op, w)
}

/// STORE (spec 2.6, 4.3).
fn decode_store(w: u32) -> Insn {
    let op = match funct3(w) {
        0 => Op::Sb,
        1 => Op::Sh,
        2 => Op::Sw,
        3 => Op::Sd,
        _ => return Insn::illegal(w),
    };
    s_type(op, w)
}

/// LOAD-FP (spec 13.5, 14.3).
fn decode_load_fp(w: u32) -> Insn {
    match funct3(w) {
        2 => i_type(Op::Flw, w),
        3 => i_type(Op::Fld, w),
        _ => Insn::illegal(w),
    }
}

/// STORE-FP (spec 13.5, 14.3).
fn decode_store_fp(w: u32) -> Insn {
    match funct3(w) {
        2 => s_type(Op::Fsw, w),
        3 => s_type(Op::Fsd, w),
        _ => Insn::illegal(w),
    }
}

/// MISC-MEM: `fence` (spec 2.7; reserved fm/rs1/rd values are executed as a
/// plain fence, as the spec recommends) and `fence.i` (Zifencei, chapter 6).
fn decode_misc_mem(w: u32) -> Insn {
    match funct3(w) {
        0 => Insn {
            imm: (w >> 20) as i32,
            ..Insn::new(Op::Fence)
        },
        1 => Insn::new(Op::FenceI),
        _ => Insn::illegal(w),
    }
}

/// OP-IMM (spec 2.4.1, 4.2.1: RV64 shifts take a 6-bit shamt).
fn decode_op_imm(w: u32) -> Insn {
    match funct3(w) {
        0 => i_type(Op::Addi, w),
        1 if w >> 26 == 0 => shift_type(Op::Slli, w, 6),
        2 => i_type(Op::Slti, w),
        3 => i_type(Op::Sltiu, w),
        4 => i_type(Op::Xori, w),
        5 if w >> 26 == 0 => shift_type(Op::Srli, w, 6),
        5 if w >> 26 == 0x10 => shift_type(Op::Srai, w, 6),
        6 => i_type(Op::Ori, w),
        7 => i_type(Op::Andi, w),
        _ => Insn::illegal(w),
    }
}

/// OP-IMM-32 (spec 4.2.1).
fn decode_op_imm_32(w: u32) -> Insn {
    match (funct3(w), funct7(w)) {
        (0, _) => i_type(Op::Addiw, w),
        (1, 0) => shift_type(Op::Slliw, w, 5),
        (5, 0) => shift_type(Op::Srliw, w, 5),
        (5, 0x20) => shift_type(Op::Sraiw, w, 5),
        _ => Insn::illegal(w),
    }
}

/// OP (spec 2.4.2 and chapter 7 "M").
fn decode_op(w: u32) -> Insn {
    let op = match (funct7(w), funct3(w)) {
        (0, 0) => Op::Add,
        (0x20, 0) => Op::Sub,
        (0, 1) => Op::Sll,
        (0, 2) => Op::Slt,
        (0, 3) => Op::Sltu,
        (0, 4) => Op::Xor,
        (0, 5) => Op::Srl,
        (0x20, 5) => Op::Sra,
        (0, 6) => Op::Or,
        (0, 7) => Op::And,
        (1, 0) => Op::Mul,
        (1, 1) => Op::Mulh,
        (1, 2) => Op::Mulhsu,
        (1, 3) => Op::Mulhu,
        (1, 4) => Op::Div,
        (1, 5) => Op::Divu,
        (1, 6) => Op::Rem,
        (1, 7) => Op::Remu,
        _ => return Insn::illegal(w),
    };
    r_type(op, w)
}

/// OP-32 (spec 4.2.2 and 7.1/7.2).
fn decode_op_32(w: u32) -> Insn {
    let op = match (funct7(w), funct3(w)) {
        (0, 0) => Op::Addw,
        (0x20, 0) => Op::Subw,
        (0, 1) => Op::Sllw,
        (0, 5) => Op::Srlw,
        (0x20, 5) => Op::Sraw,
        (1, 0) => Op::Mulw,
        (1, 4) => Op::Divw,
        (1, 5) => Op::Divuw,
        (1, 6) => Op::Remw,
        (1, 7) => Op::Remuw,
        _ => return Insn::illegal(w),
    };
    r_type(op, w)
}

/// BRANCH (spec 2.5.2).
fn decode_branch(w: u32) -> Insn {
    let op = match funct3(w) {
        0 => Op::Beq,
        1 => Op::Bne,
        4 => Op::Blt,
        5 => Op::Bge,
        6 => Op::Bltu,
        7 => Op::Bgeu,
        _ => return Insn::illegal(w),
    };
    b_type(op, w)
}

/// SYSTEM: `ecall`/`ebreak` (spec 2.8) and Zicsr (chapter 9). Everything
/// else (wfi, mret, sret, sfence.vma, hypervisor loads) is privileged and
/// therefore illegal in user mode.
fn decode_system(w: u32) -> Insn {
    let op = match funct3(w) {
        0 => {
            return match w {
                0x0000_0073 => Insn::new(Op::Ecall),
                0x0010_0073 => Insn::new(Op::Ebreak),
                _ => Insn::illegal(w),
            }
        }
        1 => Op::Csrrw,
        2 => Op::Csrrs,
        3 => Op::Csrrc,
        5 => Op::Csrrwi,
        6 => Op::Csrrsi,
        7 => Op::Csrrci,
        _ => return Insn::illegal(w),
    };
    Insn {
        rd: rd(w),
        rs1: rs1(w),
        imm: (w >> 20) as i32,
        ..Insn::new(op)
    }
}

/// AMO (chapter 8 "A"): funct5 in bits 31:27, aq/rl in 26:25, width in funct3.
fn decode_amo(w: u32) -> Insn {
    let double = match funct3(w) {
        2 => false,
        3 => true,
        _ => return Insn::illegal(w),
    };
    let (wop, dop) = match w >> 27 {
        0b00010 if rs2(w) == 0 => (Op::LrW, Op::LrD),
        0b00011 => (Op::ScW, Op::ScD),
        0b00001 => (Op::AmoswapW, Op::AmoswapD),
        0b00000 => (Op::AmoaddW, Op::AmoaddD),
        0b00100 => (Op::AmoxorW, Op::AmoxorD),
        0b01100 => (Op::AmoandW, Op::AmoandD),
        0b01000 => (Op::AmoorW, Op::AmoorD),
        0b10000 => (Op::AmominW, Op::AmominD),
        0b10100 => (Op::AmomaxW, Op::AmomaxD),
        0b11000 => (Op::AmominuW, Op::AmominuD),
        0b11100 => (Op::AmomaxuW, Op::AmomaxuD),
        _ => return Insn::illegal(w),
    };
    let op = if double { dop } else { wop };
    Insn {
        rs3: ((w >> 25) & 3) as u8,
        ..r_type(op, w)
    }
}

/// MADD/MSUB/NMSUB/NMADD (spec 13.6, 14.4): fmt in bits 26:25.
fn decode_fma(w: u32) -> Insn {
    let ops = match (w >> 2) & 3 {
        0 => [Op::FmaddS, Op::FmaddD],
        1 => [Op::FmsubS, Op::FmsubD],
        2 => [Op::FnmsubS, Op::FnmsubD],
        _ => [Op::FnmaddS, Op::FnmaddD],
    };
    let op = match (w >> 25) & 3 {
        0 => ops[0],
        1 => ops[1],
        _ => return Insn::illegal(w),
    };
    let insn = fp_rm(op, w);
    if insn.op == Op::Illegal {
        return insn;
    }
    Insn {
        rs3: rs3(w),
        ..insn
    }
}

/// OP-FP (spec 13.6-13.9, 14.4-14.6): funct5 in bits 31:27, fmt in 26:25.
fn decode_op_fp(w: u32) -> Insn {
    let double = match (w >> 25) & 3 {
        0 => false,
        1 => true,
        _ => return Insn::illegal(w),
    };
    let pick = |s: Op, d: Op| if double { d } else { s };
    let f3 = funct3(w);
    let r2 = rs2(w);
    match w >> 27 {
        0x00 => fp_rm(pick(Op::FaddS, Op::FaddD), w),
        0x01 => fp_rm(pick(Op::FsubS, Op::FsubD), w),
        0x02 => fp_rm(pick(Op::FmulS, Op::FmulD), w),
        0x03 => fp_rm(pick(Op::FdivS, Op::FdivD), w),
        0x0b if r2 == 0 => fp_rm(pick(Op::FsqrtS, Op::FsqrtD), w),
        0x04 => match f3 {
            0 => r_type(pick(Op::FsgnjS, Op::FsgnjD), w),
            1 => r_type(pick(Op::FsgnjnS, Op::FsgnjnD), w),
            2 => r_type(pick(Op::FsgnjxS, Op::FsgnjxD), w),
            _ => Insn::illegal(w),
        },
        0x05 => match f3 {
            0 => r_type(pick(Op::FminS, Op::FminD), w),
            1 => r_type(pick(Op::FmaxS, Op::FmaxD), w),
            _ => Insn::illegal(w),
        },
        // fcvt.s.d (fmt S, rs2 = 1) and fcvt.d.s (fmt D, rs2 = 0).
        0x08 if !double && r2 == 1 => fp_rm(Op::FcvtSD, w),
        0x08 if double && r2 == 0 => fp_rm(Op::FcvtDS, w),
        0x14 => match f3 {
            0 => r_type(pick(Op::FleS, Op::FleD), w),
            1 => r_type(pick(Op::FltS, Op::FltD), w),
            2 => r_type(pick(Op::FeqS, Op::FeqD), w),
            _ => Insn::illegal(w),
        },
        0x18 => match r2 {
            0 => fp_rm(pick(Op::FcvtWS, Op::FcvtWD), w),
            1 => fp_rm(pick(Op::FcvtWuS, Op::FcvtWuD), w),
            2 => fp_rm(pick(Op::FcvtLS, Op::FcvtLD), w),
            3 => fp_rm(pick(Op::FcvtLuS, Op::FcvtLuD), w),
            _ => Insn::illegal(w),
        },
        0x1a => match r2 {
            0 => fp_rm(pick(Op::FcvtSW, Op::FcvtDW), w),
            1 => fp_rm(pick(Op::FcvtSWu, Op::FcvtDWu), w),
            2 => fp_rm(pick(Op::FcvtSL, Op::FcvtDL), w),
            3 => fp_rm(pick(Op::FcvtSLu, Op::FcvtDLu), w),
            _ => Insn::illegal(w),
        },
        0x1c if r2 == 0 && f3 == 0 => r_type(pick(Op::FmvXW, Op::FmvXD), w),
        0x1c if r2 == 0 && f3 == 1 => r_type(pick(Op::FclassS, Op::FclassD), w),
        0x1e if r2 == 0 && f3 == 0 => r_type(pick(Op::FmvWX, Op::FmvDX), w),
        _ => Insn::illegal(w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(w: u32) -> Insn {
        let (insn, len) = decode(w as u16, (w >> 16) as u16);
        assert_eq!(len, 4);
        insn
    }

    #[test]
    fn immediates_are_sign_extended_and_scattered_bits_gathered() {
        // addi a0, a0, -1
        assert_eq!(
            d(0xfff50513),
            Insn {
                rd: 10,
                rs1: 10,
                imm: -1,
                ..Insn::new(Op::Addi)
            }
        );
        // sd ra, -8(sp)
        assert_eq!(
            d(0xfe113c23),
            Insn {
                rs1: 2,
                rs2: 1,
                imm: -8,
                ..Insn::new(Op::Sd)
            }
        );
        // beq a0, a1, -4096 (most negative B offset)
        assert_eq!(d(0x80b50063).imm, -4096);
        // bne a0, zero, +4094 (most positive B offset)
        assert_eq!(d(0x7e051fe3).imm, 4094);
        // jal ra, -1048576 (most negative J offset)
        assert_eq!(d(0x800000ef).imm, -1_048_576);
        // jal zero, +1048574
        assert_eq!(d(0x7ffff06f).imm, 1_048_574);
        // lui a0, 0x80000 (sign-extends into bit 31 of imm)
        assert_eq!(d(0x80000537).imm, i32::MIN);
    }

    #[test]
    fn reserved_32_bit_encodings_are_illegal() {
        for w in [
            0x0000_7003u32, // load funct3=7 (reserved)
            0x0000_4023,    // store funct3=4
            0x0400_1013,    // slli with funct6 = 1
            0x0200_101b,    // slliw with shamt[5] = 1
            0x1050_0073,    // wfi
            0x3020_0073,    // mret
            0x1020_0073,    // sret
            0x0000_0077,    // 0b11101 opcode (OP-P/reserved)
            0x0000_001f,    // 48-bit encoding prefix
            0x4000_0053,    // fcvt.s.d with rs2 = 0 (should be 1)
            0x0600_0053,    // OP-FP fmt = Q
            0x0000_5053,    // fadd.s with rm = 5
            0x0000_6043,    // fmadd.s with rm = 6
            0x2800_202f,    // amocas.w (funct5 00101, not supported)
        ] {
            assert_eq!(d(w).op, Op::Illegal, "{w:#010x}");
            assert_eq!(d(w).raw(), w);
        }
        // lr.w with rs2 != 0 is reserved.
        assert_eq!(d(0x1015252f).op, Op::Illegal);
    }
}
