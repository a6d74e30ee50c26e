//! The decoded instruction: one compact `Copy` value that both the executor
//! (`exec.rs`, `fp.rs`) and the disassembler (`disasm.rs`) consume, so the
//! two can never disagree about what an encoding means.
//!
//! An [`Insn`] is an operation ([`Op`]) plus the operand fields every format
//! shares. Compressed (RVC) encodings decode to the same `Insn` as the 32-bit
//! instruction they expand to (RISC-V unprivileged spec, chapter "C"
//! extension: "each RVC instruction expands into a single 32-bit
//! instruction").

/// Operation of a decoded instruction. Which [`Insn`] fields are meaningful
/// depends on the operation; [`Op::form`] tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Op {
    /// Reserved, unsupported or privileged encoding. `Insn::imm` holds the
    /// raw bits (16-bit parcels zero-extended).
    Illegal,

    // RV64I (spec chapters 2 and 4).
    Lui,
    Auipc,
    Jal,
    Jalr,
    Beq,
    Bne,
    Blt,
    Bge,
    Bltu,
    Bgeu,
    Lb,
    Lh,
    Lw,
    Ld,
    Lbu,
    Lhu,
    Lwu,
    Sb,
    Sh,
    Sw,
    Sd,
    Addi,
    Slti,
    Sltiu,
    Xori,
    Ori,
    Andi,
    Slli,
    Srli,
    Srai,
    Add,
    Sub,
    Sll,
    Slt,
    Sltu,
    Xor,
    Srl,
    Sra,
    Or,
    And,
    Addiw,
    Slliw,
    Srliw,
    Sraiw,
    Addw,
    Subw,
    Sllw,
    Srlw,
    Sraw,
    /// `fence`; `imm` holds bits 31:20 (fm, pred, succ).
    Fence,
    Ecall,
    Ebreak,

    // Zifencei.
    FenceI,

    // Zicsr: `imm` is the CSR number; for the `*i` forms `rs1` is the uimm.
    Csrrw,
    Csrrs,
    Csrrc,
    Csrrwi,
    Csrrsi,
    Csrrci,

    // M.
    Mul,
    Mulh,
    Mulhsu,
    Mulhu,
    Div,
    Divu,
    Rem,
    Remu,
    Mulw,
    Divw,
    Divuw,
    Remw,
    Remuw,

    // A: `rs3` holds the aq/rl bits (aq = 2, rl = 1) for the disassembler.
    LrW,
    ScW,
    AmoswapW,
    AmoaddW,
    AmoxorW,
    AmoandW,
    AmoorW,
    AmominW,
    AmomaxW,
    AmominuW,
    AmomaxuW,
    LrD,
    ScD,
    AmoswapD,
    AmoaddD,
    AmoxorD,
    AmoandD,
    AmoorD,
    AmominD,
    AmomaxD,
    AmominuD,
    AmomaxuD,

    // F.
    Flw,
    Fsw,
    FmaddS,
    FmsubS,
    FnmsubS,
    FnmaddS,
    FaddS,
    FsubS,
    FmulS,
    FdivS,
    FsqrtS,
    FsgnjS,
    FsgnjnS,
    FsgnjxS,
    FminS,
    FmaxS,
    FcvtWS,
    FcvtWuS,
    FcvtLS,
    FcvtLuS,
    FmvXW,
    FeqS,
    FltS,
    FleS,
    FclassS,
    FcvtSW,
    FcvtSWu,
    FcvtSL,
    FcvtSLu,
    FmvWX,

    // D.
    Fld,
    Fsd,
    FmaddD,
    FmsubD,
    FnmsubD,
    FnmaddD,
    FaddD,
    FsubD,
    FmulD,
    FdivD,
    FsqrtD,
    FsgnjD,
    FsgnjnD,
    FsgnjxD,
    FminD,
    FmaxD,
    FcvtSD,
    FcvtDS,
    FcvtWD,
    FcvtWuD,
    FcvtLD,
    FcvtLuD,
    FmvXD,
    FeqD,
    FltD,
    FleD,
    FclassD,
    FcvtDW,
    FcvtDWu,
    FcvtDL,
    FcvtDLu,
    FmvDX,
}

/// Operand layout of an [`Op`]: which fields are used and which register
/// file they name. Drives the disassembler and documents the `Insn` fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// No operands (`ecall`, `fence.i`, ...).
    None,
    /// Raw bits in `imm` (illegal encodings).
    Raw,
    /// `rd, imm` with imm the already-shifted upper immediate (`lui`, `auipc`).
    U,
    /// `rd, pc + imm` (`jal`).
    J,
    /// `rd, rs1, imm` (OP-IMM, shifts, `jalr`).
    I,
    /// `rd, imm(rs1)` integer load.
    Load,
    /// `rs2, imm(rs1)` integer store.
    Store,
    /// `rs1, rs2, pc + imm`.
    Branch,
    /// `rd, rs1, rs2` integer.
    R,
    /// `rd, csr(imm), rs1`.
    Csr,
    /// `rd, csr(imm), uimm(rs1)`.
    CsrI,
    /// `fence pred, succ` from `imm`.
    Fence,
    /// `rd, (rs1)` load-reserved.
    Lr,
    /// `rd, rs2, (rs1)` store-conditional and AMOs.
    Amo,
    /// `fd, imm(rs1)` FP load.
    FLoad,
    /// `fs2, imm(rs1)` FP store.
    FStore,
    /// `fd, fs1, fs2, fs3, rm`.
    FR4,
    /// `fd, fs1, fs2, rm`.
    FRrm,
    /// `fd, fs1, fs2` (sign injection, min/max).
    FR,
    /// `fd, fs1, rm` (sqrt, float-to-float conversion).
    FUnary,
    /// `rd, fs1, fs2` (comparisons).
    FCmp,
    /// `rd, fs1, rm` (float-to-int conversion).
    FToX,
    /// `rd, fs1` (fmv.x.*, fclass).
    FMvToX,
    /// `fd, rs1, rm` (int-to-float conversion).
    XToF,
    /// `fd, rs1` (fmv.*.x).
    FMvFromX,
}

/// A decoded instruction.
///
/// Field meaning depends on [`Op::form`]: `rd`/`rs1`/`rs2`/`rs3` are register
/// numbers (integer or FP as the form says), `rm` is the raw rounding-mode
/// field (0..=4 static, 7 dynamic; 5 and 6 never appear, they decode as
/// [`Op::Illegal`]), and `imm` is the sign-extended immediate (already
/// shifted for U/J/B forms), the CSR number, the fence bits, or for
/// [`Op::Illegal`] the raw encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Insn {
    /// The operation.
    pub op: Op,
    /// Destination register.
    pub rd: u8,
    /// First source register (or CSR uimm).
    pub rs1: u8,
    /// Second source register.
    pub rs2: u8,
    /// Third source register (R4 forms) or aq/rl bits (AMOs).
    pub rs3: u8,
    /// Rounding mode field of FP instructions.
    pub rm: u8,
    /// Immediate, CSR number, fence bits or raw illegal encoding.
    pub imm: i32,
}

impl Insn {
    /// An instruction with every operand zero.
    #[inline]
    pub const fn new(op: Op) -> Self {
        Insn {
            op,
            rd: 0,
            rs1: 0,
            rs2: 0,
            rs3: 0,
            rm: 0,
            imm: 0,
        }
    }

    /// The illegal instruction carrying `raw` (what [`crate::Exit::Illegal`] reports).
    #[inline]
    pub const fn illegal(raw: u32) -> Self {
        Insn {
            op: Op::Illegal,
            rd: 0,
            rs1: 0,
            rs2: 0,
            rs3: 0,
            rm: 0,
            imm: raw as i32,
        }
    }

    /// Raw bits of an [`Op::Illegal`] instruction.
    #[inline]
    pub const fn raw(&self) -> u32 {
        self.imm as u32
    }
}

impl Op {
    /// Every operation, for exhaustive tests (disassembly, decode round trips).
    #[rustfmt::skip]
    pub const ALL: &'static [Op] = &[
        Op::Illegal, Op::Lui, Op::Auipc, Op::Jal, Op::Jalr, Op::Beq, Op::Bne, Op::Blt,
        Op::Bge, Op::Bltu, Op::Bgeu, Op::Lb, Op::Lh, Op::Lw, Op::Ld, Op::Lbu, Op::Lhu,
        Op::Lwu, Op::Sb, Op::Sh, Op::Sw, Op::Sd, Op::Addi, Op::Slti, Op::Sltiu, Op::Xori,
        Op::Ori, Op::Andi, Op::Slli, Op::Srli, Op::Srai, Op::Add, Op::Sub, Op::Sll,
        Op::Slt, Op::Sltu, Op::Xor, Op::Srl, Op::Sra, Op::Or, Op::And, Op::Addiw,
        Op::Slliw, Op::Srliw, Op::Sraiw, Op::Addw, Op::Subw, Op::Sllw, Op::Srlw,
        Op::Sraw, Op::Fence, Op::Ecall, Op::Ebreak, Op::FenceI, Op::Csrrw, Op::Csrrs,
        Op::Csrrc, Op::Csrrwi, Op::Csrrsi, Op::Csrrci, Op::Mul, Op::Mulh, Op::Mulhsu,
        Op::Mulhu, Op::Div, Op::Divu, Op::Rem, Op::Remu, Op::Mulw, Op::Divw, Op::Divuw,
        Op::Remw, Op::Remuw, Op::LrW, Op::ScW, Op::AmoswapW, Op::AmoaddW, Op::AmoxorW,
        Op::AmoandW, Op::AmoorW, Op::AmominW, Op::AmomaxW, Op::AmominuW, Op::AmomaxuW,
        Op::LrD, Op::ScD, Op::AmoswapD, Op::AmoaddD, Op::AmoxorD, Op::AmoandD,
        Op::AmoorD, Op::AmominD, Op::AmomaxD, Op::AmominuD, Op::AmomaxuD, Op::Flw,
        Op::Fsw, Op::FmaddS, Op::FmsubS, Op::FnmsubS, Op::FnmaddS, Op::FaddS, Op::FsubS,
        Op::FmulS, Op::FdivS, Op::FsqrtS, Op::FsgnjS, Op::FsgnjnS, Op::FsgnjxS,
        Op::FminS, Op::FmaxS, Op::FcvtWS, Op::FcvtWuS, Op::FcvtLS, Op::FcvtLuS,
        Op::FmvXW, Op::FeqS, Op::FltS, Op::FleS, Op::FclassS, Op::FcvtSW, Op::FcvtSWu,
        Op::FcvtSL, Op::FcvtSLu, Op::FmvWX, Op::Fld, Op::Fsd, Op::FmaddD, Op::FmsubD,
        Op::FnmsubD, Op::FnmaddD, Op::FaddD, Op::FsubD, Op::FmulD, Op::FdivD,
        Op::FsqrtD, Op::FsgnjD, Op::FsgnjnD, Op::FsgnjxD, Op::FminD, Op::FmaxD,
        Op::FcvtSD, Op::FcvtDS, Op::FcvtWD, Op::FcvtWuD, Op::FcvtLD, Op::FcvtLuD,
        Op::FmvXD, Op::FeqD, Op::FltD, Op::FleD, Op::FclassD, Op::FcvtDW, Op::FcvtDWu,
        Op::FcvtDL, Op::FcvtDLu, Op::FmvDX,
    ];

    /// The operand layout of this operation.
    pub const fn form(self) -> Form {
        use Op::*;
        match self {
            Illegal => Form::Raw,
            Lui | Auipc => Form::U,
            Jal => Form::J,
            Jalr | Addi | Slti | Sltiu | Xori | Ori | Andi | Slli | Srli | Srai | Addiw | Slliw
            | Srliw | Sraiw => Form::I,
            Beq | Bne | Blt | Bge | Bltu | Bgeu => Form::Branch,
            Lb | Lh | Lw | Ld | Lbu | Lhu | Lwu => Form::Load,
            Sb | Sh | Sw | Sd => Form::Store,
            Add | Sub | Sll | Slt | Sltu | Xor | Srl | Sra | Or | And | Addw | Subw | Sllw
            | Srlw | Sraw | Mul | Mulh | Mulhsu | Mulhu | Div | Divu | Rem | Remu | Mulw | Divw
            | Divuw | Remw | Remuw => Form::R,
            Fence => Form::Fence,
            Ecall | Ebreak | FenceI => Form::None,
            Csrrw | Csrrs | Csrrc => Form::Csr,
            Csrrwi | Csrrsi | Csrrci => Form::CsrI,
            LrW | LrD => Form::Lr,
            ScW | AmoswapW | AmoaddW | AmoxorW | AmoandW | AmoorW | AmominW | AmomaxW
            | AmominuW | AmomaxuW | ScD | AmoswapD | AmoaddD | AmoxorD | AmoandD | AmoorD
            | AmominD | AmomaxD | AmominuD | AmomaxuD => Form::Amo,
            Flw | Fld => Form::FLoad,
            Fsw | Fsd => Form::FStore,
            FmaddS | FmsubS | FnmsubS | FnmaddS | FmaddD | FmsubD | FnmsubD | FnmaddD => Form::FR4,
            FaddS | FsubS | FmulS | FdivS | FaddD | FsubD | FmulD | FdivD => Form::FRrm,
            FsgnjS | FsgnjnS | FsgnjxS | FminS | FmaxS | FsgnjD | FsgnjnD | FsgnjxD | FminD
            | FmaxD => Form::FR,
            FsqrtS | FsqrtD | FcvtSD | FcvtDS => Form::FUnary,
            FeqS | FltS | FleS | FeqD | FltD | FleD => Form::FCmp,
            FcvtWS | FcvtWuS | FcvtLS | FcvtLuS | FcvtWD | FcvtWuD | FcvtLD | FcvtLuD => Form::FToX,
            FmvXW | FclassS | FmvXD | FclassD => Form::FMvToX,
            FcvtSW | FcvtSWu | FcvtSL | FcvtSLu | FcvtDW | FcvtDWu | FcvtDL | FcvtDLu => Form::XToF,
            FmvWX | FmvDX => Form::FMvFromX,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insn_stays_compact_for_a_future_decoded_instruction_cache() {
        assert_eq!(std::mem::size_of::<Op>(), 1);
        assert_eq!(std::mem::size_of::<Insn>(), 12);
    }
}
