//! Instruction encoders (section numbers are those of the unprivileged
//! ISA spec, version 20191213): the RISC-V base formats (2.2,
//! "Base Instruction Formats", and 2.3 "Immediate Encoding Variants"), the
//! R4 format of the fused multiply-adds (11.6), the A format (8.2), and the
//! compressed formats (chapter 16 "C" Standard Extension, table 16.1-16.3).
//!
//! Encoders take already-validated fields and panic with "encoder: reason"
//! on a field out of range (a generator bug, never a guest condition).

/// Major opcodes (spec table 24.1 "RISC-V base opcode map").
pub mod opc {
    pub const LOAD: u32 = 0x03;
    pub const LOAD_FP: u32 = 0x07;
    pub const MISC_MEM: u32 = 0x0f;
    pub const OP_IMM: u32 = 0x13;
    pub const AUIPC: u32 = 0x17;
    pub const OP_IMM_32: u32 = 0x1b;
    pub const STORE: u32 = 0x23;
    pub const STORE_FP: u32 = 0x27;
    pub const AMO: u32 = 0x2f;
    pub const OP: u32 = 0x33;
    pub const LUI: u32 = 0x37;
    pub const OP_32: u32 = 0x3b;
    pub const MADD: u32 = 0x43;
    pub const OP_FP: u32 = 0x53;
    pub const BRANCH: u32 = 0x63;
    pub const JALR: u32 = 0x67;
    pub const JAL: u32 = 0x6f;
    pub const SYSTEM: u32 = 0x73;
}

fn reg(r: u8) -> u32 {
    assert!(r < 32, "encoder: register {r} out of range");
    u32::from(r)
}

fn fits_signed(v: i64, bits: u32) -> bool {
    let lim = 1i64 << (bits - 1);
    (-lim..lim).contains(&v)
}

/// R-type.
pub fn r(op: u32, f3: u32, f7: u32, rd: u8, rs1: u8, rs2: u8) -> u32 {
    (f7 << 25) | (reg(rs2) << 20) | (reg(rs1) << 15) | (f3 << 12) | (reg(rd) << 7) | op
}

/// I-type; `imm` is a signed 12-bit value.
pub fn i(op: u32, f3: u32, rd: u8, rs1: u8, imm: i64) -> u32 {
    assert!(
        fits_signed(imm, 12),
        "encoder: I immediate {imm} out of range"
    );
    (((imm as u32) & 0xfff) << 20) | (reg(rs1) << 15) | (f3 << 12) | (reg(rd) << 7) | op
}

/// S-type; `imm` is a signed 12-bit value.
pub fn s(op: u32, f3: u32, rs1: u8, rs2: u8, imm: i64) -> u32 {
    assert!(
        fits_signed(imm, 12),
        "encoder: S immediate {imm} out of range"
    );
    let imm = imm as u32;
    (((imm >> 5) & 0x7f) << 25)
        | (reg(rs2) << 20)
        | (reg(rs1) << 15)
        | (f3 << 12)
        | ((imm & 0x1f) << 7)
        | op
}

/// B-type conditional branch; `off` is even and within ±4 KiB.
pub fn b(f3: u32, rs1: u8, rs2: u8, off: i64) -> u32 {
    assert!(
        off % 2 == 0 && fits_signed(off, 13),
        "encoder: branch offset {off}"
    );
    let o = off as u32;
    (((o >> 12) & 1) << 31)
        | (((o >> 5) & 0x3f) << 25)
        | (reg(rs2) << 20)
        | (reg(rs1) << 15)
        | (f3 << 12)
        | (((o >> 1) & 0xf) << 8)
        | (((o >> 11) & 1) << 7)
        | opc::BRANCH
}

/// U-type; `imm20` is the 20-bit upper immediate.
pub fn u(op: u32, rd: u8, imm20: u32) -> u32 {
    assert!(imm20 < (1 << 20), "encoder: U immediate {imm20:#x}");
    (imm20 << 12) | (reg(rd) << 7) | op
}

/// JAL; `off` is even and within ±1 MiB.
pub fn jal(rd: u8, off: i64) -> u32 {
    assert!(
        off % 2 == 0 && fits_signed(off, 21),
        "encoder: jal offset {off}"
    );
    let o = off as u32;
    (((o >> 20) & 1) << 31)
        | (((o >> 1) & 0x3ff) << 21)
        | (((o >> 11) & 1) << 20)
        | (((o >> 12) & 0xff) << 12)
        | (reg(rd) << 7)
        | opc::JAL
}

/// R4-type (fused multiply-add): `op` is MADD/MSUB/NMSUB/NMADD, `fmt` 0 = S, 1 = D.
pub fn r4(op: u32, fmt: u32, rm: u32, rd: u8, rs1: u8, rs2: u8, rs3: u8) -> u32 {
    (reg(rs3) << 27)
        | (fmt << 25)
        | (reg(rs2) << 20)
        | (reg(rs1) << 15)
        | (rm << 12)
        | (reg(rd) << 7)
        | op
}

/// AMO / LR / SC: `funct5` selects the operation, `width_f3` is 2 (.W) or 3 (.D).
pub fn amo(funct5: u32, aq: bool, rl: bool, width_f3: u32, rd: u8, rs1: u8, rs2: u8) -> u32 {
    let f7 = (funct5 << 2) | (u32::from(aq) << 1) | u32::from(rl);
    r(opc::AMO, width_f3, f7, rd, rs1, rs2)
}

// ---- compressed (spec chapter 16) ----

/// A register of the 3-bit compressed fields (x8..x15 / f8..f15).
fn creg(r: u8) -> u32 {
    assert!(
        (8..16).contains(&r),
        "encoder: {r} is not a compressed register"
    );
    u32::from(r - 8)
}

fn bit(v: u32, n: u32) -> u32 {
    (v >> n) & 1
}

/// CIW: c.addi4spn rd', sp, nzuimm (nzuimm a non-zero multiple of 4 below 1024).
pub fn c_addi4spn(rd: u8, nzuimm: u32) -> u32 {
    assert!(
        nzuimm != 0 && nzuimm % 4 == 0 && nzuimm < 1024,
        "encoder: c.addi4spn {nzuimm}"
    );
    let v = nzuimm;
    (((v >> 4) & 3) << 11)
        | (((v >> 6) & 0xf) << 7)
        | (bit(v, 2) << 6)
        | (bit(v, 3) << 5)
        | (creg(rd) << 2)
}

/// CL/CS with a word offset (c.lw, c.sw): funct3, reg in [4:2], base in [9:7].
pub fn c_lsw(f3: u32, quad: u32, r: u8, base: u8, uimm: u32) -> u32 {
    assert!(
        uimm % 4 == 0 && uimm < 128,
        "encoder: c.lw/c.sw offset {uimm}"
    );
    (f3 << 13)
        | (((uimm >> 3) & 7) << 10)
        | (creg(base) << 7)
        | (bit(uimm, 2) << 6)
        | (bit(uimm, 6) << 5)
        | (creg(r) << 2)
        | quad
}

/// CL/CS with a doubleword offset (c.ld, c.sd, c.fld, c.fsd).
pub fn c_lsd(f3: u32, quad: u32, r: u8, base: u8, uimm: u32) -> u32 {
    assert!(
        uimm % 8 == 0 && uimm < 256,
        "encoder: c.ld/c.sd offset {uimm}"
    );
    (f3 << 13)
        | (((uimm >> 3) & 7) << 10)
        | (creg(base) << 7)
        | (((uimm >> 6) & 3) << 5)
        | (creg(r) << 2)
        | quad
}

/// CI with a 6-bit signed immediate (c.addi, c.addiw, c.li; c.nop is c.addi x0, 0).
pub fn c_ci(f3: u32, rd: u8, imm: i64) -> u32 {
    assert!(fits_signed(imm, 6), "encoder: CI immediate {imm}");
    let v = imm as u32;
    (f3 << 13) | (bit(v, 5) << 12) | (reg(rd) << 7) | ((v & 0x1f) << 2) | 1
}

/// c.lui rd, nzimm (nzimm is the 6-bit signed value of bits 17:12).
pub fn c_lui(rd: u8, nzimm: i64) -> u32 {
    assert!(
        nzimm != 0 && fits_signed(nzimm, 6) && rd != 2,
        "encoder: c.lui {rd} {nzimm}"
    );
    let v = nzimm as u32;
    (3 << 13) | (bit(v, 5) << 12) | (reg(rd) << 7) | ((v & 0x1f) << 2) | 1
}

/// c.addi16sp nzimm (a non-zero multiple of 16 in -512..=496).
pub fn c_addi16sp(nzimm: i64) -> u32 {
    assert!(
        nzimm != 0 && nzimm % 16 == 0 && fits_signed(nzimm, 10),
        "encoder: c.addi16sp {nzimm}"
    );
    let v = nzimm as u32;
    (3 << 13)
        | (bit(v, 9) << 12)
        | (2 << 7)
        | (bit(v, 4) << 6)
        | (bit(v, 6) << 5)
        | (((v >> 7) & 3) << 3)
        | (bit(v, 5) << 2)
        | 1
}

/// c.srli / c.srai / c.andi (`kind` 0, 1, 2) on rd' with a 6-bit immediate.
pub fn c_shift_andi(kind: u32, rd: u8, imm: i64) -> u32 {
    let v = imm as u32;
    (4 << 13) | (bit(v, 5) << 12) | (kind << 10) | (creg(rd) << 7) | ((v & 0x1f) << 2) | 1
}

/// CA: c.sub/c.xor/c.or/c.and (word = false, f2 0..3), c.subw/c.addw (word = true, f2 0..1).
pub fn c_arith(word: bool, f2: u32, rd: u8, rs2: u8) -> u32 {
    (4 << 13)
        | (u32::from(word) << 12)
        | (3 << 10)
        | (creg(rd) << 7)
        | (f2 << 5)
        | (creg(rs2) << 2)
        | 1
}

/// c.j offset (even, within ±2 KiB).
pub fn c_j(off: i64) -> u32 {
    assert!(
        off % 2 == 0 && fits_signed(off, 12),
        "encoder: c.j offset {off}"
    );
    let v = off as u32;
    (5 << 13)
        | (bit(v, 11) << 12)
        | (bit(v, 4) << 11)
        | (((v >> 8) & 3) << 9)
        | (bit(v, 10) << 8)
        | (bit(v, 6) << 7)
        | (bit(v, 7) << 6)
        | (((v >> 1) & 7) << 3)
        | (bit(v, 5) << 2)
        | 1
}

/// c.beqz / c.bnez rs1', offset (even, within ±256 bytes).
pub fn c_branch(bnez: bool, rs1: u8, off: i64) -> u32 {
    assert!(
        off % 2 == 0 && fits_signed(off, 9),
        "encoder: c.beqz offset {off}"
    );
    let v = off as u32;
    ((6 + u32::from(bnez)) << 13)
        | (bit(v, 8) << 12)
        | (((v >> 3) & 3) << 10)
        | (creg(rs1) << 7)
        | (((v >> 6) & 3) << 5)
        | (((v >> 1) & 3) << 3)
        | (bit(v, 5) << 2)
        | 1
}

/// c.slli rd, shamt (6-bit).
pub fn c_slli(rd: u8, shamt: u32) -> u32 {
    assert!(shamt < 64, "encoder: c.slli {shamt}");
    (bit(shamt, 5) << 12) | (reg(rd) << 7) | ((shamt & 0x1f) << 2) | 2
}

/// c.lwsp rd, uimm(sp) (multiple of 4 below 256).
pub fn c_lwsp(rd: u8, uimm: u32) -> u32 {
    assert!(uimm % 4 == 0 && uimm < 256, "encoder: c.lwsp {uimm}");
    (2 << 13)
        | (bit(uimm, 5) << 12)
        | (reg(rd) << 7)
        | (((uimm >> 2) & 7) << 4)
        | (((uimm >> 6) & 3) << 2)
        | 2
}

/// c.ldsp / c.fldsp (f3 3 / 1) rd, uimm(sp) (multiple of 8 below 512).
pub fn c_ldsp(f3: u32, rd: u8, uimm: u32) -> u32 {
    assert!(uimm % 8 == 0 && uimm < 512, "encoder: c.ldsp {uimm}");
    (f3 << 13)
        | (bit(uimm, 5) << 12)
        | (reg(rd) << 7)
        | (((uimm >> 3) & 3) << 5)
        | (((uimm >> 6) & 7) << 2)
        | 2
}

/// c.swsp rs2, uimm(sp) (multiple of 4 below 256).
pub fn c_swsp(rs2: u8, uimm: u32) -> u32 {
    assert!(uimm % 4 == 0 && uimm < 256, "encoder: c.swsp {uimm}");
    (6 << 13) | (((uimm >> 2) & 0xf) << 9) | (((uimm >> 6) & 3) << 7) | (reg(rs2) << 2) | 2
}

/// c.sdsp / c.fsdsp (f3 7 / 5) rs2, uimm(sp) (multiple of 8 below 512).
pub fn c_sdsp(f3: u32, rs2: u8, uimm: u32) -> u32 {
    assert!(uimm % 8 == 0 && uimm < 512, "encoder: c.sdsp {uimm}");
    (f3 << 13) | (((uimm >> 3) & 7) << 10) | (((uimm >> 6) & 7) << 7) | (reg(rs2) << 2) | 2
}

/// CR: c.jr (jalr=false, rs2=0), c.mv (jalr=false), c.jalr (true, rs2=0), c.add (true).
pub fn c_cr(high: bool, rd: u8, rs2: u8) -> u32 {
    (4 << 13) | (u32::from(high) << 12) | (reg(rd) << 7) | (reg(rs2) << 2) | 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_of_the_spec_examples() {
        // addi a0, a0, 1
        assert_eq!(i(opc::OP_IMM, 0, 10, 10, 1), 0x0015_0513);
        // c.addi a0, 1
        assert_eq!(c_ci(0, 10, 1), 0x0505);
        // c.j .+0
        assert_eq!(c_j(0), 0xa001);
    }
}
