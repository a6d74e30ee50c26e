//! `cowix-isa`: the emulated RISC-V CPU of cowix, one user-mode RV64GC hart
//! (RV64I, M, A, F, D, C, Zicsr, Zifencei).
//!
//! This crate knows nothing about Linux or about how memory is organised. It
//! decodes and executes instructions, talks to memory only through the
//! [`Bus`] trait, and stops with an [`Exit`] for anything a kernel must
//! handle (system calls, faults, illegal instructions, breakpoints).
//!
//! # Design: decode → [`Insn`] → execute
//!
//! ```text
//!   Bus::fetch ──> decode(lo, hi) ──> Insn ──┬─> Cpu::execute (exec.rs, fp.rs, csr.rs)
//!   (16-bit parcels)  (decode.rs, rvc.rs)    └─> disassemble (disasm.rs)
//! ```
//!
//! * [`decode`] is pure and total: every 16- or 32-bit pattern becomes an
//!   [`Insn`], reserved ones [`Op::Illegal`] with the raw bits. Compressed
//!   instructions decode to the same `Insn` as their 32-bit expansion, so the
//!   executor has no RVC-specific code. `Insn` is a 12-byte `Copy` value, so
//!   a decoded-instruction cache can be added later without changing anything
//!   here ([`Bus::fence_i`] is the hook for flushing it).
//! * One decoder feeds both the executor and [`disassemble`], so they never
//!   disagree.
//! * Floating point is done by an exact software implementation
//!   (`softfloat.rs`): every rounding mode, exact exception flags, RISC-V
//!   NaN rules. The host FPU is never relied on for results.
//!
//! # The Bus contract
//!
//! The [`Bus`] translates guest virtual addresses. It never fixes a fault
//! itself: a missing or insufficient mapping is `Err(MemFault)` with the
//! faulting address. Stores are all-or-nothing. Misaligned loads and stores
//! (including AMOs) are passed to the bus unchanged; Linux emulates
//! misaligned user accesses, so the bus must simply perform them.
//!
//! # Precise traps
//!
//! [`Cpu::run`] executes up to `budget` instructions. When it returns
//! [`Exit::MemFault`], [`Exit::Illegal`] or [`Exit::Breakpoint`], the
//! faulting instruction has had no architectural effect: `pc` is its
//! address, no register (integer, FP, `fcsr`) was written, no partial store
//! happened, and `instret` was not incremented. Every instruction performs
//! all of its memory accesses before it writes any register (an AMO loads,
//! computes, stores, and only then writes `rd`). The kernel can therefore fix
//! a mapping and call `run` again, or deliver a signal. [`Exit::Ecall`] is
//! the exception: the `ecall` retires (pc advanced by 4, `instret`
//! incremented) so that the kernel only has to write `a0` and resume.
//!
//! # Counters
//!
//! `cycle` and `instret` read the retired-instruction count; `time` reads
//! `instret / 100`, i.e. a 10 MHz timebase for a CPU assumed to retire about
//! one instruction per nanosecond. The kernel should report the same
//! frequency (`timebase-frequency`) if it exposes one.

mod csr;
mod decode;
mod disasm;
mod exec;
mod fp;
mod insn;
mod rvc;
mod softfloat;

pub use decode::decode;
pub use disasm::{disassemble, disassemble_raw};
pub use insn::{Form, Insn, Op};

/// Register width in bits.
pub const XLEN: u32 = 64;

/// Kind of memory access that faulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Data load (including the load half of an AMO, and LR).
    Read,
    /// Data store (including the store half of an AMO, and SC).
    Write,
    /// Instruction fetch.
    Execute,
}

/// A failed memory access: the faulting virtual address and access kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemFault {
    /// Faulting virtual address (for a page-crossing access, the first byte
    /// that could not be accessed is preferred, but any byte of the access
    /// is acceptable).
    pub addr: u64,
    /// What the CPU was trying to do.
    pub access: Access,
}

/// Guest memory as the CPU sees it. Little-endian. Implementations translate
/// virtual addresses; they never fix faults themselves: a missing or
/// insufficient mapping is reported as Err(MemFault) with the faulting address.
pub trait Bus {
    /// size is 1, 2, 4 or 8. addr may be misaligned and may cross a page boundary.
    fn load(&mut self, addr: u64, size: u32) -> Result<u64, MemFault>;
    /// Must be all-or-nothing: on Err nothing was written.
    fn store(&mut self, addr: u64, size: u32, value: u64) -> Result<(), MemFault>;
    /// Fetch a 16-bit instruction parcel (addr is 2-aligned) with execute permission.
    fn fetch(&mut self, addr: u64) -> Result<u16, MemFault>;
    /// Called on fence.i (and may be called by the kernel) so a decoded-instruction cache can be flushed.
    fn fence_i(&mut self) {}
}

/// Why [`Cpu::run`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `ecall`: pc has already been advanced past the ecall (pc = ecall pc + 4).
    Ecall,
    /// `ebreak` / `c.ebreak`: pc is the address of the ebreak instruction.
    Breakpoint,
    /// A load/store/fetch faulted. No architectural state changed: pc is the
    /// faulting instruction's address, registers are untouched, no partial store.
    /// The kernel fixes the mapping and calls run() again, or delivers SIGSEGV.
    MemFault(MemFault),
    /// Illegal/reserved/unsupported encoding at `pc` (raw bits, 16-bit parcels zero-extended).
    Illegal {
        /// Address of the instruction.
        pc: u64,
        /// Its raw bits.
        insn: u32,
    },
    /// The instruction budget given to run() was used up.
    Budget,
}

impl From<MemFault> for Exit {
    #[inline]
    fn from(f: MemFault) -> Self {
        Exit::MemFault(f)
    }
}

/// An LR reservation: the reserved address and access size (spec 8.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reservation {
    addr: u64,
    size: u32,
}

/// Architectural state of one user-mode hart.
#[derive(Clone, Debug, Default)]
pub struct Cpu {
    /// Integer registers. `x[0]` reads as 0 always (it is re-zeroed before
    /// and after every instruction, whatever the caller stores there).
    pub x: [u64; 32],
    /// Raw 64-bit FP registers; singles are NaN-boxed (upper 32 bits ones).
    pub f: [u64; 32],
    /// Address of the next instruction.
    pub pc: u64,
    /// `frm` in bits 7:5, `fflags` in bits 4:0; other bits are zero.
    pub fcsr: u32,
    /// Retired instructions (also `cycle`, and `time` * 100).
    pub instret: u64,
    /// LR reservation, if any. Cleared by every SC and by [`Cpu::clear_reservation`].
    reservation: Option<Reservation>,
}

impl Cpu {
    /// A hart with every register zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Execute at most `budget` instructions. Returns why it stopped.
    pub fn run<B: Bus>(&mut self, bus: &mut B, budget: u64) -> Exit {
        self.x[0] = 0;
        for _ in 0..budget {
            let pc = self.pc;
            let lo = match bus.fetch(pc) {
                Ok(p) => p,
                Err(f) => return Exit::MemFault(f),
            };
            let hi = if lo & 3 == 3 {
                match bus.fetch(pc.wrapping_add(2)) {
                    Ok(p) => p,
                    Err(f) => return Exit::MemFault(f),
                }
            } else {
                0
            };
            let (insn, len) = decode(lo, hi);
            match self.execute(bus, &insn, pc, len) {
                Ok(next) => {
                    self.x[0] = 0;
                    self.pc = next;
                    self.instret = self.instret.wrapping_add(1);
                }
                Err(exit) => {
                    self.x[0] = 0;
                    return exit;
                }
            }
        }
        Exit::Budget
    }

    /// Drop the LR reservation (the kernel calls this on context switch / signal).
    pub fn clear_reservation(&mut self) {
        self.reservation = None;
    }
}
