//! Decoder for the compressed (RVC) extension, RV64C subset (RISC-V
//! unprivileged spec chapter 16 "C" Standard Extension; tables 16.5-16.7
//! "RVC opcode map").
//!
//! Every valid 16-bit encoding expands to the [`Insn`] of its 32-bit
//! equivalent. Reserved encodings (spec 16.8 lists them) become
//! [`Op::Illegal`] with the parcel zero-extended as raw bits. HINT encodings
//! (e.g. `c.addi` with rd = x0, `c.li x0`, `c.slli` with shamt 0) are
//! executed as their expansion, which has no architectural effect.

use crate::insn::{Insn, Op};

/// Bits `hi..=lo` of parcel `p`.
#[inline]
fn bits(p: u16, hi: u32, lo: u32) -> u32 {
    (u32::from(p) >> lo) & ((1 << (hi - lo + 1)) - 1)
}

/// Sign-extend the low `n` bits of `v`.
#[inline]
fn sext(v: u32, n: u32) -> i32 {
    ((v << (32 - n)) as i32) >> (32 - n)
}

/// Full register number in bits 11:7.
#[inline]
fn rd_full(p: u16) -> u8 {
    bits(p, 11, 7) as u8
}
/// Full register number in bits 6:2.
#[inline]
fn rs2_full(p: u16) -> u8 {
    bits(p, 6, 2) as u8
}
/// Popular register (x8..x15) in bits 9:7.
#[inline]
fn r_hi(p: u16) -> u8 {
    bits(p, 9, 7) as u8 + 8
}
/// Popular register (x8..x15) in bits 4:2.
#[inline]
fn r_lo(p: u16) -> u8 {
    bits(p, 4, 2) as u8 + 8
}

/// 6-bit immediate `imm[5]` = bit 12, `imm[4:0]` = bits 6:2, unsigned.
#[inline]
fn imm6_u(p: u16) -> u32 {
    (bits(p, 12, 12) << 5) | bits(p, 6, 2)
}
/// The same, sign-extended (c.addi, c.li, c.andi, c.addiw).
#[inline]
fn imm6_s(p: u16) -> i32 {
    sext(imm6_u(p), 6)
}

/// CL/CS word offset: uimm[5:3] = 12:10, uimm[2] = 6, uimm[6] = 5.
#[inline]
fn off_w(p: u16) -> i32 {
    ((bits(p, 12, 10) << 3) | (bits(p, 6, 6) << 2) | (bits(p, 5, 5) << 6)) as i32
}
/// CL/CS doubleword offset: uimm[5:3] = 12:10, uimm[7:6] = 6:5.
#[inline]
fn off_d(p: u16) -> i32 {
    ((bits(p, 12, 10) << 3) | (bits(p, 6, 5) << 6)) as i32
}

/// Build `op rd, rs1, imm` (I-type expansion).
#[inline]
fn i(op: Op, rd: u8, rs1: u8, imm: i32) -> Insn {
    Insn {
        rd,
        rs1,
        imm,
        ..Insn::new(op)
    }
}
/// Build `op rs2, imm(rs1)` (S-type expansion).
#[inline]
fn s(op: Op, rs1: u8, rs2: u8, imm: i32) -> Insn {
    Insn {
        rs1,
        rs2,
        imm,
        ..Insn::new(op)
    }
}
/// Build `op rd, rs1, rs2` (R-type expansion).
#[inline]
fn r(op: Op, rd: u8, rs1: u8, rs2: u8) -> Insn {
    Insn {
        rd,
        rs1,
        rs2,
        ..Insn::new(op)
    }
}

/// Decode one 16-bit parcel (low two bits not `11`).
pub fn decode_compressed(p: u16) -> Insn {
    match (p & 3, bits(p, 15, 13)) {
        (0, f) => quadrant0(p, f),
        (1, f) => quadrant1(p, f),
        (2, f) => quadrant2(p, f),
        _ => Insn::illegal(u32::from(p)),
    }
}

/// Quadrant 0: stack-pointer-based addi and register-based loads/stores.
fn quadrant0(p: u16, f: u32) -> Insn {
    let bad = Insn::illegal(u32::from(p));
    match f {
        // c.addi4spn: nzuimm[5:4|9:6|2|3] = bits 12:11|10:7|6|5; 0 reserved
        // (this includes the all-zero parcel, defined illegal).
        0 => {
            let imm = (bits(p, 12, 11) << 4)
                | (bits(p, 10, 7) << 6)
                | (bits(p, 6, 6) << 2)
                | (bits(p, 5, 5) << 3);
            if imm == 0 {
                bad
            } else {
                i(Op::Addi, r_lo(p), 2, imm as i32)
            }
        }
        1 => i(Op::Fld, r_lo(p), r_hi(p), off_d(p)),
        2 => i(Op::Lw, r_lo(p), r_hi(p), off_w(p)),
        3 => i(Op::Ld, r_lo(p), r_hi(p), off_d(p)),
        5 => s(Op::Fsd, r_hi(p), r_lo(p), off_d(p)),
        6 => s(Op::Sw, r_hi(p), r_lo(p), off_w(p)),
        7 => s(Op::Sd, r_hi(p), r_lo(p), off_d(p)),
        // 4 is reserved (Zcb uses it; not supported).
        _ => bad,
    }
}

/// Quadrant 1: immediates, register-register ALU, jumps and branches.
fn quadrant1(p: u16, f: u32) -> Insn {
    let bad = Insn::illegal(u32::from(p));
    let rd = rd_full(p);
    match f {
        0 => i(Op::Addi, rd, rd, imm6_s(p)), // c.addi / c.nop (rd = 0 is a HINT)
        1 if rd == 0 => bad,                 // c.addiw rd = 0 reserved
        1 => i(Op::Addiw, rd, rd, imm6_s(p)),
        2 => i(Op::Addi, rd, 0, imm6_s(p)), // c.li
        3 if rd == 2 => {
            // c.addi16sp: nzimm[9] = 12, nzimm[4|6|8:7|5] = 6|5|4:3|2.
            let imm = (bits(p, 12, 12) << 9)
                | (bits(p, 6, 6) << 4)
                | (bits(p, 5, 5) << 6)
                | (bits(p, 4, 3) << 7)
                | (bits(p, 2, 2) << 5);
            if imm == 0 {
                bad
            } else {
                i(Op::Addi, 2, 2, sext(imm, 10))
            }
        }
        3 => {
            // c.lui: nzimm[17] = 12, nzimm[16:12] = 6:2; 0 reserved.
            let imm = imm6_s(p) << 12;
            if imm == 0 {
                bad
            } else {
                Insn {
                    rd,
                    imm,
                    ..Insn::new(Op::Lui)
                }
            }
        }
        4 => misc_alu(p),
        5 => Insn {
            rd: 0,
            imm: cj_offset(p),
            ..Insn::new(Op::Jal)
        }, // c.j
        6 => cb_branch(Op::Beq, p), // c.beqz
        _ => cb_branch(Op::Bne, p), // c.bnez
    }
}

/// c.j offset[11|4|9:8|10|6|7|3:1|5] in bits 12|11|10:9|8|7|6|5:3|2.
fn cj_offset(p: u16) -> i32 {
    let v = (bits(p, 12, 12) << 11)
        | (bits(p, 11, 11) << 4)
        | (bits(p, 10, 9) << 8)
        | (bits(p, 8, 8) << 10)
        | (bits(p, 7, 7) << 6)
        | (bits(p, 6, 6) << 7)
        | (bits(p, 5, 3) << 1)
        | (bits(p, 2, 2) << 5);
    sext(v, 12)
}

/// c.beqz/c.bnez: offset[8|4:3] = 12|11:10, offset[7:6|2:1|5] = 6:5|4:3|2.
fn cb_branch(op: Op, p: u16) -> Insn {
    let v = (bits(p, 12, 12) << 8)
        | (bits(p, 11, 10) << 3)
        | (bits(p, 6, 5) << 6)
        | (bits(p, 4, 3) << 1)
        | (bits(p, 2, 2) << 5);
    Insn {
        rs1: r_hi(p),
        rs2: 0,
        imm: sext(v, 9),
        ..Insn::new(op)
    }
}

/// Quadrant 1, funct3 = 100: c.srli, c.srai, c.andi and the CA-format ALU ops.
fn misc_alu(p: u16) -> Insn {
    let rd = r_hi(p);
    match bits(p, 11, 10) {
        0 => i(Op::Srli, rd, rd, imm6_u(p) as i32),
        1 => i(Op::Srai, rd, rd, imm6_u(p) as i32),
        2 => i(Op::Andi, rd, rd, imm6_s(p)),
        _ => {
            let rs2 = r_lo(p);
            let op = match (bits(p, 12, 12), bits(p, 6, 5)) {
                (0, 0) => Op::Sub,
                (0, 1) => Op::Xor,
                (0, 2) => Op::Or,
                (0, 3) => Op::And,
                (1, 0) => Op::Subw,
                (1, 1) => Op::Addw,
                _ => return Insn::illegal(u32::from(p)), // reserved (Zcb)
            };
            r(op, rd, rd, rs2)
        }
    }
}

/// Quadrant 2: sp-based loads/stores, c.slli, c.jr/c.mv/c.jalr/c.add/c.ebreak.
fn quadrant2(p: u16, f: u32) -> Insn {
    let bad = Insn::illegal(u32::from(p));
    let rd = rd_full(p);
    let rs2 = rs2_full(p);
    // sp-relative offsets, see table 16.2 "CI/CSS" immediates.
    let lwsp = ((bits(p, 12, 12) << 5) | (bits(p, 6, 4) << 2) | (bits(p, 3, 2) << 6)) as i32;
    let ldsp = ((bits(p, 12, 12) << 5) | (bits(p, 6, 5) << 3) | (bits(p, 4, 2) << 6)) as i32;
    let swsp = ((bits(p, 12, 9) << 2) | (bits(p, 8, 7) << 6)) as i32;
    let sdsp = ((bits(p, 12, 10) << 3) | (bits(p, 9, 7) << 6)) as i32;
    match f {
        0 => i(Op::Slli, rd, rd, imm6_u(p) as i32),
        1 => i(Op::Fld, rd, 2, ldsp),
        2 if rd == 0 => bad,
        2 => i(Op::Lw, rd, 2, lwsp),
        3 if rd == 0 => bad,
        3 => i(Op::Ld, rd, 2, ldsp),
        4 => cr_group(p, rd, rs2),
        5 => s(Op::Fsd, 2, rs2, sdsp),
        6 => s(Op::Sw, 2, rs2, swsp),
        _ => s(Op::Sd, 2, rs2, sdsp),
    }
}

/// Quadrant 2, funct3 = 100 (CR format).
fn cr_group(p: u16, rd: u8, rs2: u8) -> Insn {
    match (bits(p, 12, 12), rd, rs2) {
        (0, 0, 0) => Insn::illegal(u32::from(p)), // c.jr x0 reserved
        (0, _, 0) => i(Op::Jalr, 0, rd, 0),       // c.jr
        (0, _, _) => r(Op::Add, rd, 0, rs2),      // c.mv
        (_, 0, 0) => Insn::new(Op::Ebreak),       // c.ebreak
        (_, _, 0) => i(Op::Jalr, 1, rd, 0),       // c.jalr
        _ => r(Op::Add, rd, rd, rs2),             // c.add
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode32;

    /// Each pair: a compressed parcel and the 32-bit instruction it expands to
    /// (both assembled by GNU as; the assembly is in the comment).
    const EXPANSIONS: &[(u16, u32)] = &[
        (0x0800, 0x01010413), // c.addi4spn s0, sp, 16  = addi s0, sp, 16
        (0x2418, 0x00843707), // c.fld fa4, 8(s0)        = fld fa4, 8(s0)
        (0x4108, 0x00052503), // c.lw a0, 0(a0)          = lw a0, 0(a0)
        (0x7de8, 0x0f85b503), // c.ld a0, 248(a1)        = ld a0, 248(a1)
        (0xa418, 0x00e43427), // c.fsd fa4, 8(s0)        = fsd fa4, 8(s0)
        (0xc1a8, 0x04a5a023), // c.sw a0, 64(a1)         = sw a0, 64(a1)
        (0xe988, 0x00a5b823), // c.sd a0, 16(a1)         = sd a0, 16(a1)
        (0x1141, 0xff010113), // c.addi sp, -16          = addi sp, sp, -16
        (0x2505, 0x0015051b), // c.addiw a0, 1           = addiw a0, a0, 1
        (0x557d, 0xfff00513), // c.li a0, -1             = addi a0, zero, -1
        (0x7139, 0xfc010113), // c.addi16sp sp, -64      = addi sp, sp, -64
        (0x6505, 0x00001537), // c.lui a0, 1             = lui a0, 0x1
        (0x93fd, 0x03f7d793), // c.srli a5, 63           = srli a5, a5, 63
        (0x8505, 0x40155513), // c.srai a0, 1            = srai a0, a0, 1
        (0x9975, 0xffd57513), // c.andi a0, -3           = andi a0, a0, -3
        (0x8d0d, 0x40b50533), // c.sub a0, a1            = sub a0, a0, a1
        (0x8d2d, 0x00b54533), // c.xor a0, a1            = xor a0, a0, a1
        (0x8d4d, 0x00b56533), // c.or a0, a1             = or a0, a0, a1
        (0x8d6d, 0x00b57533), // c.and a0, a1            = and a0, a0, a1
        (0x9d2d, 0x00b5053b), // c.addw a0, a1           = addw a0, a0, a1
        (0x0506, 0x00151513), // c.slli a0, 1            = slli a0, a0, 1
        (0x2522, 0x00813507), // c.fldsp fa0, 8(sp)      = fld fa0, 8(sp)
        (0x4502, 0x00012503), // c.lwsp a0, 0(sp)        = lw a0, 0(sp)
        (0x6522, 0x00813503), // c.ldsp a0, 8(sp)        = ld a0, 8(sp)
        (0xbfaa, 0x1ea13c27), // c.fsdsp fa0, 504(sp)    = fsd fa0, 504(sp)
        (0xc22a, 0x00a12223), // c.swsp a0, 4(sp)        = sw a0, 4(sp)
        (0xe406, 0x00113423), // c.sdsp ra, 8(sp)        = sd ra, 8(sp)
        (0x8082, 0x00008067), // c.jr ra                 = jalr zero, 0(ra)
        (0x852e, 0x00b00533), // c.mv a0, a1             = add a0, zero, a1
        (0x9502, 0x000500e7), // c.jalr a0               = jalr ra, 0(a0)
        (0x952e, 0x00b50533), // c.add a0, a1            = add a0, a0, a1
        (0x9002, 0x00100073), // c.ebreak                = ebreak
        (0x0001, 0x00000013), // c.nop                   = addi zero, zero, 0
    ];

    #[test]
    fn compressed_encodings_expand_to_their_32_bit_forms() {
        for &(c, w) in EXPANSIONS {
            assert_eq!(decode_compressed(c), decode32(w), "c={c:#06x} w={w:#010x}");
        }
    }

    #[test]
    fn jumps_and_branches_gather_scattered_offsets() {
        // c.j -2048 (most negative)
        assert_eq!(decode_compressed(0xb001).imm, -2048);
        // c.j +2046
        assert_eq!(decode_compressed(0xaffd).imm, 2046);
        // c.beqz s0, -256
        let b = decode_compressed(0xd001);
        assert_eq!((b.op, b.rs1, b.imm), (Op::Beq, 8, -256));
        // c.bnez a5, +254
        let b = decode_compressed(0xeffd);
        assert_eq!((b.op, b.rs1, b.imm), (Op::Bne, 15, 254));
    }

    #[test]
    fn reserved_compressed_encodings_are_illegal() {
        for p in [
            0x0000u16, // all-zero parcel
            0x0010,    // c.addi4spn nzuimm = 0 (rd' = a2)
            0x6101,    // c.addi16sp imm = 0
            0x6501,    // c.lui a0, 0
            0x8002,    // c.jr zero
            0x4002,    // c.lwsp zero, 0(sp)
            0x6002,    // c.ldsp zero, 0(sp)
            0x2001,    // c.addiw zero, 0
            0x9d41,    // CA funct 10 with bit12 = 1 (Zcb c.mul)
            0x8000,    // quadrant 0 funct3 = 100 (reserved)
        ] {
            let insn = decode_compressed(p);
            assert_eq!(insn.op, Op::Illegal, "{p:#06x}");
            assert_eq!(insn.raw(), u32::from(p));
        }
    }
}
