//! Executor for F and D computation (RISC-V unprivileged spec chapters 13
//! and 14). This file handles operand access, NaN boxing, rounding-mode
//! selection and flag accrual. Arithmetic, square roots and conversions to
//! floating point first try the host-FPU fast path (`host`, round to
//! nearest-even only), which answers only when it can prove its result and
//! flags bit-identical to the exact `softfloat` module's; everything else
//! runs the soft-float.
//!
//! NaN boxing (spec 14.2): a single-precision value lives in the low 32 bits
//! of an `f` register with the upper 32 bits all ones. An operand that is
//! not properly boxed reads as the canonical NaN. `fmv.x.w` and `fsw` move
//! the raw low 32 bits without this check, as the spec requires.

use crate::insn::{Insn, Op};
use crate::softfloat::{self as sf, Env, Fmt, Rm, F32, F64};
use crate::Cpu;

mod host;

/// Upper half of a NaN-boxed single.
const BOX: u64 = 0xffff_ffff_0000_0000;

impl Cpu {
    /// Resolve the instruction's rounding mode: the static `rm` field, or
    /// `frm` when it is 7 (dynamic). `None` for a reserved value (spec
    /// 13.2: illegal instruction).
    #[inline]
    fn rounding(&self, i: &Insn) -> Option<Rm> {
        let rm = if i.rm == 7 {
            (self.fcsr >> 5) & 7
        } else {
            u32::from(i.rm)
        };
        Rm::from_bits(rm)
    }

    /// FP register `r` as an operand of format `fmt` (unboxing singles).
    #[inline]
    fn fread(&self, fmt: Fmt, r: u8) -> u64 {
        let v = self.f[usize::from(r & 31)];
        if fmt == F64 {
            v
        } else if v & BOX == BOX {
            v & 0xffff_ffff
        } else {
            F32.canonical_nan()
        }
    }

    /// Write a result of format `fmt` to FP register `r` (boxing singles).
    #[inline]
    fn fwrite(&mut self, fmt: Fmt, r: u8, v: u64) {
        self.f[usize::from(r & 31)] = if fmt == F64 { v } else { v | BOX };
    }

    /// OR exception flags into `fflags`.
    #[inline]
    fn accrue(&mut self, flags: u32) {
        self.fcsr |= flags;
    }

    /// Execute an F/D computational instruction. `None` means illegal (a
    /// reserved dynamic rounding mode); nothing has been changed then.
    pub(crate) fn execute_fp(&mut self, i: &Insn) -> Option<()> {
        use Op::*;
        let fmt = if is_double(i.op) { F64 } else { F32 };
        match i.op {
            FaddS | FaddD => self.binary(i, fmt, host::add, sf::add)?,
            FsubS | FsubD => self.binary(i, fmt, host::sub, sf::sub)?,
            FmulS | FmulD => self.binary(i, fmt, host::mul, sf::mul)?,
            FdivS | FdivD => self.binary(i, fmt, host::div, sf::div)?,
            FsqrtS | FsqrtD => {
                let rm = self.rounding(i)?;
                let a = self.fread(fmt, i.rs1);
                let (r, flags) = compute(rm, || host::sqrt(fmt, a), |env| sf::sqrt(fmt, a, env));
                self.finish_f(fmt, i.rd, r, flags);
            }
            FmaddS | FmaddD => self.fused(i, fmt, false, false)?,
            FmsubS | FmsubD => self.fused(i, fmt, false, true)?,
            FnmsubS | FnmsubD => self.fused(i, fmt, true, false)?,
            FnmaddS | FnmaddD => self.fused(i, fmt, true, true)?,
            FsgnjS | FsgnjnS | FsgnjxS | FsgnjD | FsgnjnD | FsgnjxD => self.sign_inject(i, fmt),
            FminS | FmaxS | FminD | FmaxD => {
                let mut env = Env::new(Rm::Rne);
                let (a, b) = (self.fread(fmt, i.rs1), self.fread(fmt, i.rs2));
                let r = sf::min_max(fmt, a, b, matches!(i.op, FmaxS | FmaxD), &mut env);
                self.finish_f(fmt, i.rd, r, env.flags);
            }
            FeqS | FltS | FleS | FeqD | FltD | FleD => self.compare(i, fmt),
            FclassS | FclassD => self.xw(i.rd, sf::classify(fmt, self.fread(fmt, i.rs1))),
            FcvtSD => {
                let rm = self.rounding(i)?;
                let a = self.fread(F64, i.rs1);
                let (r, flags) =
                    compute(rm, || host::narrow(a), |env| sf::convert(F64, F32, a, env));
                self.finish_f(F32, i.rd, r, flags);
            }
            FcvtDS => {
                let rm = self.rounding(i)?;
                let a = self.fread(F32, i.rs1);
                let (r, flags) =
                    compute(rm, || host::widen(a), |env| sf::convert(F32, F64, a, env));
                self.finish_f(F64, i.rd, r, flags);
            }
            FcvtWS | FcvtWuS | FcvtLS | FcvtLuS | FcvtWD | FcvtWuD | FcvtLD | FcvtLuD => {
                self.float_to_int(i, fmt)?
            }
            FcvtSW | FcvtSWu | FcvtSL | FcvtSLu | FcvtDW | FcvtDWu | FcvtDL | FcvtDLu => {
                self.int_to_float(i, fmt)?
            }
            FmvXW => self.xw(i.rd, self.f[usize::from(i.rs1 & 31)] as i32 as i64 as u64),
            FmvXD => self.xw(i.rd, self.f[usize::from(i.rs1 & 31)]),
            FmvWX => self.fwrite(F32, i.rd, self.xr(i.rs1) & 0xffff_ffff),
            FmvDX => self.fwrite(F64, i.rd, self.xr(i.rs1)),
            _ => return None, // not an FP computational op: cannot happen
        }
        Some(())
    }

    /// Write an FP result and accrue its flags.
    #[inline]
    fn finish_f(&mut self, fmt: Fmt, rd: u8, v: u64, flags: u32) {
        self.fwrite(fmt, rd, v);
        self.accrue(flags);
    }

    /// FADD/FSUB/FMUL/FDIV (spec 13.6): `fast` is the host path, `exact`
    /// the soft-float operation.
    #[inline]
    fn binary(
        &mut self,
        i: &Insn,
        fmt: Fmt,
        fast: fn(Fmt, u64, u64) -> Option<(u64, u32)>,
        exact: fn(Fmt, u64, u64, &mut Env) -> u64,
    ) -> Option<()> {
        let rm = self.rounding(i)?;
        let (a, b) = (self.fread(fmt, i.rs1), self.fread(fmt, i.rs2));
        let (r, flags) = compute(rm, || fast(fmt, a, b), |env| exact(fmt, a, b, env));
        self.finish_f(fmt, i.rd, r, flags);
        Some(())
    }

    /// FMADD/FMSUB/FNMSUB/FNMADD (spec 13.6): `(±rs1*rs2) ± rs3`, one rounding.
    #[inline]
    fn fused(&mut self, i: &Insn, fmt: Fmt, neg_prod: bool, neg_add: bool) -> Option<()> {
        let rm = self.rounding(i)?;
        let (a, b, c) = (
            self.fread(fmt, i.rs1),
            self.fread(fmt, i.rs2),
            self.fread(fmt, i.rs3),
        );
        let (r, flags) = compute(
            rm,
            || host::fma(fmt, a, b, c, neg_prod, neg_add),
            |env| sf::fma(fmt, a, b, c, neg_prod, neg_add, env),
        );
        self.finish_f(fmt, i.rd, r, flags);
        Some(())
    }

    /// FSGNJ/FSGNJN/FSGNJX (spec 13.6): sign from rs2, plain, negated or xor-ed.
    fn sign_inject(&mut self, i: &Insn, fmt: Fmt) {
        let sign = fmt.sign_bit();
        let (a, b) = (self.fread(fmt, i.rs1), self.fread(fmt, i.rs2));
        let r = match i.op {
            Op::FsgnjS | Op::FsgnjD => (a & !sign) | (b & sign),
            Op::FsgnjnS | Op::FsgnjnD => (a & !sign) | (!b & sign),
            _ => a ^ (b & sign),
        };
        self.fwrite(fmt, i.rd, r);
    }

    /// FEQ/FLT/FLE (spec 13.8): 1 or 0 into an integer register.
    fn compare(&mut self, i: &Insn, fmt: Fmt) {
        let mut env = Env::new(Rm::Rne);
        let (a, b) = (self.fread(fmt, i.rs1), self.fread(fmt, i.rs2));
        let r = match i.op {
            Op::FeqS | Op::FeqD => sf::eq(fmt, a, b, &mut env),
            Op::FltS | Op::FltD => sf::lt(fmt, a, b, false, &mut env),
            _ => sf::lt(fmt, a, b, true, &mut env),
        };
        self.xw(i.rd, u64::from(r));
        self.accrue(env.flags);
    }

    /// FCVT.{W,WU,L,LU}.{S,D} (spec 13.7): 32-bit results are sign-extended.
    fn float_to_int(&mut self, i: &Insn, fmt: Fmt) -> Option<()> {
        use Op::*;
        let rm = self.rounding(i)?;
        let (signed, width) = match i.op {
            FcvtWS | FcvtWD => (true, 32),
            FcvtWuS | FcvtWuD => (false, 32),
            FcvtLS | FcvtLD => (true, 64),
            _ => (false, 64),
        };
        // No host path: the soft-float is about as quick here.
        let a = self.fread(fmt, i.rs1);
        let (mut r, flags) = soft(rm, |env| sf::to_int(fmt, a, signed, width, env));
        if width == 32 {
            r = r as i32 as i64 as u64;
        }
        self.xw(i.rd, r);
        self.accrue(flags);
        Some(())
    }

    /// FCVT.{S,D}.{W,WU,L,LU} (spec 13.7).
    fn int_to_float(&mut self, i: &Insn, fmt: Fmt) -> Option<()> {
        use Op::*;
        let rm = self.rounding(i)?;
        let x = self.xr(i.rs1);
        let (neg, mag) = match i.op {
            FcvtSW | FcvtDW => ((x as i32) < 0, u64::from((x as i32).unsigned_abs())),
            FcvtSWu | FcvtDWu => (false, x & 0xffff_ffff),
            FcvtSL | FcvtDL => ((x as i64) < 0, (x as i64).unsigned_abs()),
            _ => (false, x),
        };
        let (r, flags) = compute(
            rm,
            || host::from_int(fmt, neg, mag),
            |env| sf::from_int(fmt, neg, mag, env),
        );
        self.finish_f(fmt, i.rd, r, flags);
        Some(())
    }
}

/// Result and flags of an operation in rounding mode `rm`: the host's
/// `fast` answer if the mode is RNE and it has one, else the soft-float's
/// `exact` one (see `host` for why they agree).
#[inline(always)]
fn compute(
    rm: Rm,
    fast: impl FnOnce() -> Option<(u64, u32)>,
    exact: impl FnOnce(&mut Env) -> u64,
) -> (u64, u32) {
    if rm == Rm::Rne {
        if let Some(answer) = fast() {
            return answer;
        }
    }
    soft(rm, exact)
}

/// Result and flags of the soft-float operation `exact` in mode `rm`.
#[inline]
fn soft(rm: Rm, exact: impl FnOnce(&mut Env) -> u64) -> (u64, u32) {
    let mut env = Env::new(rm);
    let r = exact(&mut env);
    (r, env.flags)
}

/// Whether `op` operates on doubles (for conversions: the float side; the
/// two float-float conversions are handled explicitly).
fn is_double(op: Op) -> bool {
    use Op::*;
    matches!(
        op,
        FmaddD
            | FmsubD
            | FnmsubD
            | FnmaddD
            | FaddD
            | FsubD
            | FmulD
            | FdivD
            | FsqrtD
            | FsgnjD
            | FsgnjnD
            | FsgnjxD
            | FminD
            | FmaxD
            | FcvtWD
            | FcvtWuD
            | FcvtLD
            | FcvtLuD
            | FmvXD
            | FeqD
            | FltD
            | FleD
            | FclassD
            | FcvtDW
            | FcvtDWu
            | FcvtDL
            | FcvtDLu
            | FmvDX
    )
}
