//! Executor for the integer instructions: RV64I (spec chapters 2 and 4), M
//! (chapter 7), A (chapter 8), and the memory side of F/D loads and stores.
//! FP computation is in `fp.rs`, CSR access in `csr.rs`.
//!
//! Precise traps: every arm performs its memory accesses (which may fail
//! with `Exit::MemFault` via `?`) before writing any register, so an `Err`
//! leaves the hart exactly as it was.

use crate::block::Slot;
use crate::insn::{Insn, Op};
use crate::{Access, Bus, Cpu, Exit, Reservation};

/// What [`Cpu::execute`] returns for an instruction of a block body that
/// falls through to the next one (odd, so never an instruction address).
pub(crate) const CONTINUE: u64 = 1;

/// Sign-extend the low 32 bits.
#[inline(always)]
fn sext32(v: u64) -> u64 {
    v as i32 as i64 as u64
}

impl Cpu {
    /// Integer register `r` (x0 is kept zero by the run loop).
    #[inline(always)]
    pub(crate) fn xr(&self, r: u8) -> u64 {
        self.x[usize::from(r & 31)]
    }

    /// Write integer register `r` (a write to x0 is undone by the run loop).
    #[inline(always)]
    pub(crate) fn xw(&mut self, r: u8, v: u64) {
        self.x[usize::from(r & 31)] = v;
    }

    /// `Exit::Illegal` for the instruction at `pc`. The executor only keeps
    /// decoded fields, so the raw bits are fetched again (this is the rare
    /// path: an encoding that decoded fine but is illegal in the current
    /// state, e.g. a dynamic rounding mode with an invalid `frm`).
    #[cold]
    pub(crate) fn illegal_at<B: Bus>(bus: &mut B, pc: u64, len: u32) -> Exit {
        let lo = u32::from(bus.fetch(pc).unwrap_or(0));
        let hi = if len == 4 {
            u32::from(bus.fetch(pc.wrapping_add(2)).unwrap_or(0))
        } else {
            0
        };
        Exit::Illegal {
            pc,
            insn: lo | (hi << 16),
        }
    }

    /// Execute the instruction of slot `s` of the block starting at `start`
    /// (its address is `start + s.off`, its length `s.len`). Returns the
    /// address of the next instruction, or why execution must stop with no
    /// architectural state changed (for `Exit::Ecall` the caller retires the
    /// `ecall`: see `Cpu::trap`). `pc` and `instret` are the caller's:
    /// `self.pc` is not read, and `self.instret` must be exact only for
    /// the instructions that end a block (CSR accesses).
    ///
    /// The common operations are here, to be inlined into the block loop;
    /// the rest are in [`execute_rare`](Self::execute_rare), out of line,
    /// so that they do not crowd the loop's registers.
    ///
    /// `BODY` is true for an instruction in a block body, which is never a
    /// jump (see `block.rs`). There the result is [`CONTINUE`] for "go on
    /// with the next slot", which every instruction but a taken conditional
    /// branch returns (so the address is not even computed), and the
    /// branch target for a taken branch: a side exit from the block.
    #[inline(always)]
    pub(crate) fn execute<B: Bus, const BODY: bool>(
        &mut self,
        bus: &mut B,
        s: &Slot,
        start: u64,
    ) -> Result<u64, Exit> {
        let i = &s.insn;
        // Computed only by the arms that need them (few do in a block body).
        let pc = || start.wrapping_add(u64::from(s.off));
        let fallthrough = || pc().wrapping_add(u64::from(s.len));
        let next = || if BODY { CONTINUE } else { fallthrough() };
        let imm = i.imm as i64 as u64;
        // Operands are read only by the arms that use them.
        macro_rules! a {
            () => {
                self.x[s.rs1.idx()]
            };
        }
        macro_rules! b {
            () => {
                self.x[s.rs2.idx()]
            };
        }
        macro_rules! addr {
            () => {
                a!().wrapping_add(imm)
            };
        }
        macro_rules! branch {
            ($taken:expr) => {
                return Ok(if $taken {
                    pc().wrapping_add(imm)
                } else {
                    next()
                })
            };
        }
        let v = match i.op {
            // ---- 2.4 integer computational ----
            Op::Lui => imm,
            Op::Auipc => pc().wrapping_add(imm),
            Op::Addi => a!().wrapping_add(imm),
            Op::Slti => u64::from((a!() as i64) < (imm as i64)),
            Op::Sltiu => u64::from(a!() < imm),
            Op::Xori => a!() ^ imm,
            Op::Ori => a!() | imm,
            Op::Andi => a!() & imm,
            Op::Slli => a!() << (imm & 63),
            Op::Srli => a!() >> (imm & 63),
            Op::Srai => ((a!() as i64) >> (imm & 63)) as u64,
            Op::Add => a!().wrapping_add(b!()),
            Op::Sub => a!().wrapping_sub(b!()),
            Op::Sll => a!() << (b!() & 63),
            Op::Slt => u64::from((a!() as i64) < (b!() as i64)),
            Op::Sltu => u64::from(a!() < b!()),
            Op::Xor => a!() ^ b!(),
            Op::Srl => a!() >> (b!() & 63),
            Op::Sra => ((a!() as i64) >> (b!() & 63)) as u64,
            Op::Or => a!() | b!(),
            Op::And => a!() & b!(),
            // ---- 4.2 RV64 *W ops: 32-bit result, sign-extended ----
            Op::Addiw => sext32(a!().wrapping_add(imm)),
            Op::Slliw => sext32(u64::from((a!() as u32) << (imm & 31))),
            Op::Srliw => sext32(u64::from((a!() as u32) >> (imm & 31))),
            Op::Sraiw => ((a!() as i32) >> (imm & 31)) as i64 as u64,
            Op::Addw => sext32(a!().wrapping_add(b!())),
            Op::Subw => sext32(a!().wrapping_sub(b!())),
            Op::Sllw => sext32(u64::from((a!() as u32) << (b!() & 31))),
            Op::Srlw => sext32(u64::from((a!() as u32) >> (b!() & 31))),
            Op::Sraw => ((a!() as i32) >> (b!() & 31)) as i64 as u64,
            // ---- 2.5 control transfer ----
            Op::Jal | Op::Jalr if BODY => {
                unreachable!("execute: {:?} in a block body", i.op)
            }
            Op::Jal => {
                self.x[s.rd.idx()] = fallthrough();
                return Ok(pc().wrapping_add(imm));
            }
            Op::Jalr => {
                let target = addr!() & !1; // read rs1 before writing rd (rd may equal rs1)
                self.x[s.rd.idx()] = fallthrough();
                return Ok(target);
            }
            Op::Beq => branch!(a!() == b!()),
            Op::Bne => branch!(a!() != b!()),
            Op::Blt => branch!((a!() as i64) < (b!() as i64)),
            Op::Bge => branch!((a!() as i64) >= (b!() as i64)),
            Op::Bltu => branch!(a!() < b!()),
            Op::Bgeu => branch!(a!() >= b!()),
            // ---- 2.6 / 4.3 loads and stores ----
            Op::Lb => bus.load(addr!(), 1)? as i8 as i64 as u64,
            Op::Lh => bus.load(addr!(), 2)? as i16 as i64 as u64,
            Op::Lw => bus.load(addr!(), 4)? as i32 as i64 as u64,
            Op::Ld => bus.load(addr!(), 8)?,
            Op::Lbu => bus.load(addr!(), 1)? & 0xff,
            Op::Lhu => bus.load(addr!(), 2)? & 0xffff,
            Op::Lwu => bus.load(addr!(), 4)? & 0xffff_ffff,
            Op::Sb => {
                bus.store(addr!(), 1, b!())?;
                return Ok(next());
            }
            Op::Sh => {
                bus.store(addr!(), 2, b!())?;
                return Ok(next());
            }
            Op::Sw => {
                bus.store(addr!(), 4, b!())?;
                return Ok(next());
            }
            Op::Sd => {
                bus.store(addr!(), 8, b!())?;
                return Ok(next());
            }
            // ---- 13.5 / 14.3 FP loads and stores (raw bits) ----
            Op::Flw => {
                let v = bus.load(addr!(), 4)?;
                self.f[s.rd.idx()] = v | 0xffff_ffff_0000_0000;
                return Ok(next());
            }
            Op::Fld => {
                self.f[s.rd.idx()] = bus.load(addr!(), 8)?;
                return Ok(next());
            }
            Op::Fsw => {
                bus.store(addr!(), 4, self.f[s.rs2.idx()])?;
                return Ok(next());
            }
            Op::Fsd => {
                bus.store(addr!(), 8, self.f[s.rs2.idx()])?;
                return Ok(next());
            }
            // ---- 7 M extension (division is rarer: out of line) ----
            Op::Mul => a!().wrapping_mul(b!()),
            Op::Mulh => ((i128::from(a!() as i64) * i128::from(b!() as i64)) >> 64) as u64,
            Op::Mulhsu => ((i128::from(a!() as i64) * i128::from(b!())) >> 64) as u64,
            Op::Mulhu => ((u128::from(a!()) * u128::from(b!())) >> 64) as u64,
            Op::Mulw => sext32(a!().wrapping_mul(b!())),
            Op::Fence => return Ok(next()),
            // ---- 13 / 14 F and D computation ----
            Op::FmaddS
            | Op::FmsubS
            | Op::FnmsubS
            | Op::FnmaddS
            | Op::FaddS
            | Op::FsubS
            | Op::FmulS
            | Op::FdivS
            | Op::FsqrtS
            | Op::FsgnjS
            | Op::FsgnjnS
            | Op::FsgnjxS
            | Op::FminS
            | Op::FmaxS
            | Op::FcvtWS
            | Op::FcvtWuS
            | Op::FcvtLS
            | Op::FcvtLuS
            | Op::FmvXW
            | Op::FeqS
            | Op::FltS
            | Op::FleS
            | Op::FclassS
            | Op::FcvtSW
            | Op::FcvtSWu
            | Op::FcvtSL
            | Op::FcvtSLu
            | Op::FmvWX
            | Op::FmaddD
            | Op::FmsubD
            | Op::FnmsubD
            | Op::FnmaddD
            | Op::FaddD
            | Op::FsubD
            | Op::FmulD
            | Op::FdivD
            | Op::FsqrtD
            | Op::FsgnjD
            | Op::FsgnjnD
            | Op::FsgnjxD
            | Op::FminD
            | Op::FmaxD
            | Op::FcvtSD
            | Op::FcvtDS
            | Op::FcvtWD
            | Op::FcvtWuD
            | Op::FcvtLD
            | Op::FcvtLuD
            | Op::FmvXD
            | Op::FeqD
            | Op::FltD
            | Op::FleD
            | Op::FclassD
            | Op::FcvtDW
            | Op::FcvtDWu
            | Op::FcvtDL
            | Op::FcvtDLu
            | Op::FmvDX => {
                return match self.execute_fp(i) {
                    Some(()) => Ok(next()),
                    None => Err(Self::illegal_at(bus, pc(), u32::from(s.len))),
                }
            }
            // Listed rather than `_`, so that the jump table needs no range check.
            Op::Illegal
            | Op::Ecall
            | Op::Ebreak
            | Op::FenceI
            | Op::Csrrw
            | Op::Csrrs
            | Op::Csrrc
            | Op::Csrrwi
            | Op::Csrrsi
            | Op::Csrrci
            | Op::Div
            | Op::Divu
            | Op::Rem
            | Op::Remu
            | Op::Divw
            | Op::Divuw
            | Op::Remw
            | Op::Remuw
            | Op::LrW
            | Op::ScW
            | Op::AmoswapW
            | Op::AmoaddW
            | Op::AmoxorW
            | Op::AmoandW
            | Op::AmoorW
            | Op::AmominW
            | Op::AmomaxW
            | Op::AmominuW
            | Op::AmomaxuW
            | Op::LrD
            | Op::ScD
            | Op::AmoswapD
            | Op::AmoaddD
            | Op::AmoxorD
            | Op::AmoandD
            | Op::AmoorD
            | Op::AmominD
            | Op::AmomaxD
            | Op::AmominuD
            | Op::AmomaxuD => {
                let next = self.execute_rare(bus, i, pc(), u32::from(s.len))?;
                return Ok(if BODY { CONTINUE } else { next });
            }
        };
        self.x[s.rd.idx()] = v;
        Ok(next())
    }

    /// [`execute`](Self::execute) for the less frequent operations: division,
    /// atomics, system instructions and CSRs.
    #[inline(never)]
    fn execute_rare<B: Bus>(
        &mut self,
        bus: &mut B,
        i: &Insn,
        pc: u64,
        len: u32,
    ) -> Result<u64, Exit> {
        let next = pc.wrapping_add(u64::from(len));
        let a = self.xr(i.rs1);
        let b = self.xr(i.rs2);
        let v = match i.op {
            Op::Div => div(a as i64, b as i64) as u64,
            Op::Divu => a.checked_div(b).unwrap_or(u64::MAX),
            Op::Rem => rem(a as i64, b as i64) as u64,
            Op::Remu => {
                if b == 0 {
                    a
                } else {
                    a % b
                }
            }
            Op::Divw => i64::from(div32(a as i32, b as i32)) as u64,
            Op::Divuw => sext32(u64::from(
                (a as u32).checked_div(b as u32).unwrap_or(u32::MAX),
            )),
            Op::Remw => i64::from(rem32(a as i32, b as i32)) as u64,
            Op::Remuw => {
                let (x, y) = (a as u32, b as u32);
                sext32(u64::from(if y == 0 { x } else { x % y }))
            }
            // ---- 8 A extension ----
            Op::LrW | Op::LrD => {
                let size = if i.op == Op::LrW { 4 } else { 8 };
                check_aligned(a, size, Access::Read)?;
                let v = bus.load(a, size)?;
                self.reservation = Some(Reservation { addr: a, size });
                if size == 4 {
                    sext32(v)
                } else {
                    v
                }
            }
            Op::ScW | Op::ScD => {
                let size = if i.op == Op::ScW { 4 } else { 8 };
                check_aligned(a, size, Access::Write)?;
                self.store_conditional(bus, a, size, b)?
            }
            Op::AmoswapW
            | Op::AmoaddW
            | Op::AmoxorW
            | Op::AmoandW
            | Op::AmoorW
            | Op::AmominW
            | Op::AmomaxW
            | Op::AmominuW
            | Op::AmomaxuW => {
                check_aligned(a, 4, Access::Write)?;
                let old = sext32(bus.load(a, 4)?);
                bus.store(a, 4, amo_op(i.op, old, sext32(b)))?;
                old
            }
            Op::AmoswapD
            | Op::AmoaddD
            | Op::AmoxorD
            | Op::AmoandD
            | Op::AmoorD
            | Op::AmominD
            | Op::AmomaxD
            | Op::AmominuD
            | Op::AmomaxuD => {
                check_aligned(a, 8, Access::Write)?;
                let old = bus.load(a, 8)?;
                bus.store(a, 8, amo_op(i.op, old, b))?;
                old
            }
            // ---- 2.7 / 2.8 / Zifencei / Zicsr ----
            Op::FenceI => {
                bus.fence_i();
                return Ok(next);
            }
            // Retires: the caller advances pc and instret (see `Cpu::trap`).
            Op::Ecall => return Err(Exit::Ecall),
            Op::Ebreak => return Err(Exit::Breakpoint),
            Op::Csrrw | Op::Csrrs | Op::Csrrc | Op::Csrrwi | Op::Csrrsi | Op::Csrrci => {
                match self.csr_op(i) {
                    Some(v) => v,
                    None => return Err(Self::illegal_at(bus, pc, len)),
                }
            }
            Op::Illegal => return Err(Exit::Illegal { pc, insn: i.raw() }),
            _ => unreachable!("execute_rare: {:?} is executed by execute", i.op),
        };
        self.xw(i.rd, v);
        Ok(next)
    }

    /// SC.W / SC.D (spec 8.2): store and write 0 to rd if the reservation
    /// covers exactly this address and size, else write 1 without touching
    /// memory. The reservation is dropped either way, but kept if the store
    /// faults, so the SC can be re-executed after the kernel fixes the page.
    fn store_conditional<B: Bus>(
        &mut self,
        bus: &mut B,
        addr: u64,
        size: u32,
        v: u64,
    ) -> Result<u64, Exit> {
        if self.reservation != Some(Reservation { addr, size }) {
            self.reservation = None;
            return Ok(1);
        }
        bus.store(addr, size, v)?;
        self.reservation = None;
        Ok(0)
    }
}

/// LR/SC/AMOs must be naturally aligned (spec 8.2, 8.4); a misaligned one
/// raises an address-misaligned exception before touching memory.
#[inline]
fn check_aligned(addr: u64, size: u32, access: Access) -> Result<(), Exit> {
    if addr % u64::from(size) == 0 {
        Ok(())
    } else {
        Err(Exit::Misaligned { addr, access })
    }
}

/// DIV (spec 7.2): x/0 = -1, MIN/-1 = MIN.
#[inline]
fn div(a: i64, b: i64) -> i64 {
    if b == 0 {
        -1
    } else {
        a.wrapping_div(b)
    }
}

/// REM (spec 7.2): x%0 = x, MIN%-1 = 0.
#[inline]
fn rem(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        a.wrapping_rem(b)
    }
}

/// DIVW: 32-bit DIV.
#[inline]
fn div32(a: i32, b: i32) -> i32 {
    if b == 0 {
        -1
    } else {
        a.wrapping_div(b)
    }
}

/// REMW: 32-bit REM.
#[inline]
fn rem32(a: i32, b: i32) -> i32 {
    if b == 0 {
        a
    } else {
        a.wrapping_rem(b)
    }
}

/// The value an AMO stores, from the loaded `old` and register `src` (both
/// sign-extended to 64 bits for the .W forms, which compare as 32-bit values;
/// only the low 32 bits are stored). Spec 8.4.
#[inline]
fn amo_op(op: Op, old: u64, src: u64) -> u64 {
    match op {
        Op::AmoswapW | Op::AmoswapD => src,
        Op::AmoaddW | Op::AmoaddD => old.wrapping_add(src),
        Op::AmoxorW | Op::AmoxorD => old ^ src,
        Op::AmoandW | Op::AmoandD => old & src,
        Op::AmoorW | Op::AmoorD => old | src,
        Op::AmominW | Op::AmominD => (old as i64).min(src as i64) as u64,
        Op::AmomaxW | Op::AmomaxD => (old as i64).max(src as i64) as u64,
        // For .W both are sign-extended, so compare the low 32 bits unsigned.
        Op::AmominuW => u64::from((old as u32).min(src as u32)),
        Op::AmomaxuW => u64::from((old as u32).max(src as u32)),
        Op::AmominuD => old.min(src),
        _ => old.max(src), // AmomaxuD
    }
}
