//! Disassembler: [`Insn`] to GNU objdump-like text, for error messages and
//! traces. Differences from objdump: operands are separated by ", ", branch
//! and jump targets are printed as absolute hex addresses (`0x10078`) without
//! symbols, and compressed instructions print as their 32-bit expansion.
//!
//! The common objdump aliases are used (`li`, `mv`, `ret`, `j`, `beqz`,
//! `csrr`, `frflags`, `fmv.d`, ...), per the RISC-V assembly manual's
//! pseudoinstruction tables (unprivileged spec chapter 40 "RISC-V Assembly
//! Programmer's Handbook").

use crate::decode::decode;
use crate::insn::{Form, Insn, Op};

/// ABI names of the integer registers.
const XREG: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
];

/// ABI names of the FP registers.
const FREG: [&str; 32] = [
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
];

/// Rounding mode names by encoding; 7 (dynamic) is not printed.
const RM: [&str; 8] = ["rne", "rtz", "rdn", "rup", "rmm", "rm5", "rm6", "dyn"];

#[inline]
fn x(r: u8) -> &'static str {
    XREG[usize::from(r & 31)]
}

#[inline]
fn f(r: u8) -> &'static str {
    FREG[usize::from(r & 31)]
}

/// Name of a CSR, or its number in hex.
fn csr_name(csr: u32) -> String {
    match csr {
        0x001 => "fflags".into(),
        0x002 => "frm".into(),
        0x003 => "fcsr".into(),
        0xc00 => "cycle".into(),
        0xc01 => "time".into(),
        0xc02 => "instret".into(),
        n => format!("{n:#x}"),
    }
}

/// Disassemble the raw encoding `raw` (a 16-bit parcel zero-extended, or a
/// 32-bit word) located at `pc`. Unknown encodings print as `.insn 0x...`.
pub fn disassemble_raw(raw: u32, pc: u64) -> String {
    let (insn, _) = decode(raw as u16, (raw >> 16) as u16);
    disassemble(&insn, pc)
}

/// Disassemble `insn` located at `pc` (used for branch/jump targets).
pub fn disassemble(insn: &Insn, pc: u64) -> String {
    if let Some(s) = alias(insn, pc) {
        return s;
    }
    let i = insn;
    let m = mnemonic(i);
    let target = pc.wrapping_add(i.imm as i64 as u64);
    let rm = |s: String| {
        if i.rm == 7 {
            s
        } else {
            format!("{s}, {}", RM[usize::from(i.rm & 7)])
        }
    };
    match i.op.form() {
        Form::None => m,
        Form::Raw => raw_text(i.raw()),
        Form::U => format!("{m} {}, {:#x}", x(i.rd), (i.imm as u32) >> 12),
        Form::J => format!("{m} {}, {target:#x}", x(i.rd)),
        Form::I if matches!(i.op, Op::Jalr) => format!("{m} {}, {}({})", x(i.rd), i.imm, x(i.rs1)),
        Form::I if is_shift(i.op) => format!("{m} {}, {}, {:#x}", x(i.rd), x(i.rs1), i.imm),
        Form::I => format!("{m} {}, {}, {}", x(i.rd), x(i.rs1), i.imm),
        Form::Load => format!("{m} {}, {}({})", x(i.rd), i.imm, x(i.rs1)),
        Form::Store => format!("{m} {}, {}({})", x(i.rs2), i.imm, x(i.rs1)),
        Form::Branch => format!("{m} {}, {}, {target:#x}", x(i.rs1), x(i.rs2)),
        Form::R => format!("{m} {}, {}, {}", x(i.rd), x(i.rs1), x(i.rs2)),
        Form::Csr => format!(
            "{m} {}, {}, {}",
            x(i.rd),
            csr_name(i.imm as u32 & 0xfff),
            x(i.rs1)
        ),
        Form::CsrI => format!(
            "{m} {}, {}, {}",
            x(i.rd),
            csr_name(i.imm as u32 & 0xfff),
            i.rs1
        ),
        Form::Fence => fence_text(i.imm as u32),
        Form::Lr => format!("{m} {}, ({})", x(i.rd), x(i.rs1)),
        Form::Amo => format!("{m} {}, {}, ({})", x(i.rd), x(i.rs2), x(i.rs1)),
        Form::FLoad => format!("{m} {}, {}({})", f(i.rd), i.imm, x(i.rs1)),
        Form::FStore => format!("{m} {}, {}({})", f(i.rs2), i.imm, x(i.rs1)),
        Form::FR4 => rm(format!(
            "{m} {}, {}, {}, {}",
            f(i.rd),
            f(i.rs1),
            f(i.rs2),
            f(i.rs3)
        )),
        Form::FRrm => rm(format!("{m} {}, {}, {}", f(i.rd), f(i.rs1), f(i.rs2))),
        Form::FR => format!("{m} {}, {}, {}", f(i.rd), f(i.rs1), f(i.rs2)),
        Form::FUnary => rm(format!("{m} {}, {}", f(i.rd), f(i.rs1))),
        Form::FCmp => format!("{m} {}, {}, {}", x(i.rd), f(i.rs1), f(i.rs2)),
        Form::FToX => rm(format!("{m} {}, {}", x(i.rd), f(i.rs1))),
        Form::FMvToX => format!("{m} {}, {}", x(i.rd), f(i.rs1)),
        Form::XToF => rm(format!("{m} {}, {}", f(i.rd), x(i.rs1))),
        Form::FMvFromX => format!("{m} {}, {}", f(i.rd), x(i.rs1)),
    }
}

/// `.insn 0x....` with 4 hex digits for a 16-bit parcel, 8 for a word.
fn raw_text(raw: u32) -> String {
    if raw & 3 == 3 {
        format!(".insn {raw:#010x}")
    } else {
        format!(".insn {raw:#06x}")
    }
}

fn is_shift(op: Op) -> bool {
    matches!(
        op,
        Op::Slli | Op::Srli | Op::Srai | Op::Slliw | Op::Srliw | Op::Sraiw
    )
}

/// `fence pred, succ` with the objdump spellings (`fence`, `fence.tso`, `pause`).
fn fence_text(bits: u32) -> String {
    let set = |v: u32| {
        let s: String = ['i', 'o', 'r', 'w']
            .iter()
            .enumerate()
            .filter(|&(k, _)| v & (8 >> k) != 0)
            .map(|(_, c)| *c)
            .collect();
        if s.is_empty() {
            "0".to_string()
        } else {
            s
        }
    };
    let (fm, pred, succ) = (bits >> 8, (bits >> 4) & 15, bits & 15);
    match (fm, pred, succ) {
        (0, 15, 15) => "fence".into(),
        (8, 3, 3) => "fence.tso".into(),
        (0, 1, 0) => "pause".into(),
        _ => format!("fence {}, {}", set(pred), set(succ)),
    }
}

/// The objdump alias for `i`, if one applies.
fn alias(i: &Insn, pc: u64) -> Option<String> {
    use Op::*;
    let target = pc.wrapping_add(i.imm as i64 as u64);
    let (rd, rs1, rs2) = (x(i.rd), x(i.rs1), x(i.rs2));
    Some(match i.op {
        Addi if i.rd == 0 && i.rs1 == 0 && i.imm == 0 => "nop".into(),
        Addi if i.rs1 == 0 => format!("li {rd}, {}", i.imm),
        Addi if i.imm == 0 => format!("mv {rd}, {rs1}"),
        Add if i.rs1 == 0 => format!("mv {rd}, {rs2}"), // c.mv
        Addiw if i.imm == 0 => format!("sext.w {rd}, {rs1}"),
        Xori if i.imm == -1 => format!("not {rd}, {rs1}"),
        Sub if i.rs1 == 0 => format!("neg {rd}, {rs2}"),
        Subw if i.rs1 == 0 => format!("negw {rd}, {rs2}"),
        Sltiu if i.imm == 1 => format!("seqz {rd}, {rs1}"),
        Sltu if i.rs1 == 0 => format!("snez {rd}, {rs2}"),
        Slt if i.rs2 == 0 => format!("sltz {rd}, {rs1}"),
        Slt if i.rs1 == 0 => format!("sgtz {rd}, {rs2}"),
        Jal if i.rd == 0 => format!("j {target:#x}"),
        Jal if i.rd == 1 => format!("jal {target:#x}"),
        Jalr if i.rd == 0 && i.rs1 == 1 && i.imm == 0 => "ret".into(),
        Jalr if i.rd == 0 && i.imm == 0 => format!("jr {rs1}"),
        Jalr if i.rd == 1 && i.imm == 0 => format!("jalr {rs1}"),
        Beq if i.rs2 == 0 => format!("beqz {rs1}, {target:#x}"),
        Bne if i.rs2 == 0 => format!("bnez {rs1}, {target:#x}"),
        Blt if i.rs2 == 0 => format!("bltz {rs1}, {target:#x}"),
        Bge if i.rs2 == 0 => format!("bgez {rs1}, {target:#x}"),
        Blt if i.rs1 == 0 => format!("bgtz {rs2}, {target:#x}"),
        Bge if i.rs1 == 0 => format!("blez {rs2}, {target:#x}"),
        Csrrs | Csrrc | Csrrw | Csrrwi | Csrrsi | Csrrci => return csr_alias(i),
        FsgnjS | FsgnjnS | FsgnjxS | FsgnjD | FsgnjnD | FsgnjxD if i.rs1 == i.rs2 => {
            let m = mnemonic(i);
            let (kind, fmt) = m.split_at(m.len() - 2); // ".s" / ".d"
            let name = match kind {
                "fsgnj" => "fmv",
                "fsgnjn" => "fneg",
                _ => "fabs",
            };
            format!("{name}{fmt} {}, {}", f(i.rd), f(i.rs1))
        }
        _ => return None,
    })
}

/// CSR aliases: `frflags`, `fsrm`, `rdcycle`, `csrr`, `csrw`, `csrs`, `csrc`...
fn csr_alias(i: &Insn) -> Option<String> {
    use Op::*;
    let csr = i.imm as u32 & 0xfff;
    let name = csr_name(csr);
    let (rd, rs1) = (x(i.rd), x(i.rs1));
    let fp = match csr {
        1 => "flags",
        2 => "rm",
        3 => "csr",
        _ => "",
    };
    Some(match i.op {
        Csrrs if i.rs1 == 0 => match csr {
            1..=3 => format!("fr{fp} {rd}"),
            0xc00..=0xc02 => format!("rd{name} {rd}"),
            _ => format!("csrr {rd}, {name}"),
        },
        Csrrw if (1..=3).contains(&csr) && i.rd == 0 => format!("fs{fp} {rs1}"),
        Csrrw if (1..=3).contains(&csr) => format!("fs{fp} {rd}, {rs1}"),
        Csrrw if i.rd == 0 => format!("csrw {name}, {rs1}"),
        Csrrs if i.rd == 0 => format!("csrs {name}, {rs1}"),
        Csrrc if i.rd == 0 => format!("csrc {name}, {rs1}"),
        Csrrwi if i.rd == 0 => format!("csrwi {name}, {}", i.rs1),
        Csrrsi if i.rd == 0 => format!("csrsi {name}, {}", i.rs1),
        Csrrci if i.rd == 0 => format!("csrci {name}, {}", i.rs1),
        _ => return None,
    })
}

/// The mnemonic of `i`, including AMO ordering suffixes.
fn mnemonic(i: &Insn) -> String {
    let base = base_mnemonic(i.op);
    if matches!(i.op.form(), Form::Lr | Form::Amo) {
        let suffix = match i.rs3 & 3 {
            0 => "",
            1 => ".rl",
            2 => ".aq",
            _ => ".aqrl",
        };
        format!("{base}{suffix}")
    } else {
        base.to_string()
    }
}

/// Mnemonic of each operation (spec chapter 35 "RV32/64G Instruction Set Listings").
#[rustfmt::skip]
fn base_mnemonic(op: Op) -> &'static str {
    use Op::*;
    match op {
        Illegal => ".insn",
        Lui => "lui", Auipc => "auipc", Jal => "jal", Jalr => "jalr",
        Beq => "beq", Bne => "bne", Blt => "blt", Bge => "bge", Bltu => "bltu", Bgeu => "bgeu",
        Lb => "lb", Lh => "lh", Lw => "lw", Ld => "ld", Lbu => "lbu", Lhu => "lhu", Lwu => "lwu",
        Sb => "sb", Sh => "sh", Sw => "sw", Sd => "sd",
        Addi => "addi", Slti => "slti", Sltiu => "sltiu", Xori => "xori", Ori => "ori",
        Andi => "andi", Slli => "slli", Srli => "srli", Srai => "srai",
        Add => "add", Sub => "sub", Sll => "sll", Slt => "slt", Sltu => "sltu", Xor => "xor",
        Srl => "srl", Sra => "sra", Or => "or", And => "and",
        Addiw => "addiw", Slliw => "slliw", Srliw => "srliw", Sraiw => "sraiw",
        Addw => "addw", Subw => "subw", Sllw => "sllw", Srlw => "srlw", Sraw => "sraw",
        Fence => "fence", Ecall => "ecall", Ebreak => "ebreak", FenceI => "fence.i",
        Csrrw => "csrrw", Csrrs => "csrrs", Csrrc => "csrrc",
        Csrrwi => "csrrwi", Csrrsi => "csrrsi", Csrrci => "csrrci",
        Mul => "mul", Mulh => "mulh", Mulhsu => "mulhsu", Mulhu => "mulhu",
        Div => "div", Divu => "divu", Rem => "rem", Remu => "remu",
        Mulw => "mulw", Divw => "divw", Divuw => "divuw", Remw => "remw", Remuw => "remuw",
        LrW => "lr.w", ScW => "sc.w", AmoswapW => "amoswap.w", AmoaddW => "amoadd.w",
        AmoxorW => "amoxor.w", AmoandW => "amoand.w", AmoorW => "amoor.w",
        AmominW => "amomin.w", AmomaxW => "amomax.w", AmominuW => "amominu.w",
        AmomaxuW => "amomaxu.w",
        LrD => "lr.d", ScD => "sc.d", AmoswapD => "amoswap.d", AmoaddD => "amoadd.d",
        AmoxorD => "amoxor.d", AmoandD => "amoand.d", AmoorD => "amoor.d",
        AmominD => "amomin.d", AmomaxD => "amomax.d", AmominuD => "amominu.d",
        AmomaxuD => "amomaxu.d",
        Flw => "flw", Fsw => "fsw", FmaddS => "fmadd.s", FmsubS => "fmsub.s",
        FnmsubS => "fnmsub.s", FnmaddS => "fnmadd.s", FaddS => "fadd.s", FsubS => "fsub.s",
        FmulS => "fmul.s", FdivS => "fdiv.s", FsqrtS => "fsqrt.s", FsgnjS => "fsgnj.s",
        FsgnjnS => "fsgnjn.s", FsgnjxS => "fsgnjx.s", FminS => "fmin.s", FmaxS => "fmax.s",
        FcvtWS => "fcvt.w.s", FcvtWuS => "fcvt.wu.s", FcvtLS => "fcvt.l.s",
        FcvtLuS => "fcvt.lu.s", FmvXW => "fmv.x.w", FeqS => "feq.s", FltS => "flt.s",
        FleS => "fle.s", FclassS => "fclass.s", FcvtSW => "fcvt.s.w", FcvtSWu => "fcvt.s.wu",
        FcvtSL => "fcvt.s.l", FcvtSLu => "fcvt.s.lu", FmvWX => "fmv.w.x",
        Fld => "fld", Fsd => "fsd", FmaddD => "fmadd.d", FmsubD => "fmsub.d",
        FnmsubD => "fnmsub.d", FnmaddD => "fnmadd.d", FaddD => "fadd.d", FsubD => "fsub.d",
        FmulD => "fmul.d", FdivD => "fdiv.d", FsqrtD => "fsqrt.d", FsgnjD => "fsgnj.d",
        FsgnjnD => "fsgnjn.d", FsgnjxD => "fsgnjx.d", FminD => "fmin.d", FmaxD => "fmax.d",
        FcvtSD => "fcvt.s.d", FcvtDS => "fcvt.d.s", FcvtWD => "fcvt.w.d",
        FcvtWuD => "fcvt.wu.d", FcvtLD => "fcvt.l.d", FcvtLuD => "fcvt.lu.d",
        FmvXD => "fmv.x.d", FeqD => "feq.d", FltD => "flt.d", FleD => "fle.d",
        FclassD => "fclass.d", FcvtDW => "fcvt.d.w", FcvtDWu => "fcvt.d.wu",
        FcvtDL => "fcvt.d.l", FcvtDLu => "fcvt.d.lu", FmvDX => "fmv.d.x",
    }
}
