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
//!   executor has no RVC-specific code. `Insn` is a 12-byte `Copy` value.
//! * [`Cpu::run`] does not decode as it goes: it runs *blocks* of decoded
//!   instructions from a cache (`block.rs`), kept valid by the bus's code
//!   versions ([`Bus::code_version`], [`Bus::code_epoch`]) and flushed by
//!   `fence.i`. Only the block's last instruction can branch, so the
//!   executor's body loop has no pc bookkeeping.
//! * Hot blocks are translated to host code (`jit.rs`, Cranelift) and run
//!   from there, with exactly the interpreter's architectural results,
//!   traps and counts; `COWIX_JIT=0` (or [`Cpu::set_jit_threshold`]`(0)`)
//!   keeps everything in the interpreter. Translated loads and stores use
//!   the bus's TLB inline ([`Bus::jit_memory`]).
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

mod block;
mod csr;
mod decode;
mod disasm;
mod exec;
mod fp;
mod insn;
mod jit;
mod rvc;
mod softfloat;

pub use block::{DEFAULT_THRESHOLD, UNCACHED};
pub use cowix_hostmem::code::{JitMemory, TlbEntry};
pub use decode::decode;
pub use disasm::{disassemble, disassemble_raw};
pub use insn::{Form, Insn, Op};

use block::{BlockCache, JitState, Slot};
use exec::CONTINUE;

/// `run_block`'s report of a side exit (a taken branch inside a block).
/// `execute` never returns `Exit::Budget`, so it cannot be confused with a
/// real exit, and `run_blocks` never passes it on.
const SIDE_EXIT: Exit = Exit::Budget;

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
    /// The *code version* of the page holding `pc`, which must be
    /// fetchable (else the fetch fault). The CPU caches the instructions it
    /// decodes from a page under this version and reuses them only while
    /// the page's version stays the same, so it must change whenever the
    /// bytes at `pc` as fetched may change: a store into the page, a new
    /// translation for it. Versions are never reused for other bytes.
    /// [`UNCACHED`] (the default) means "do not cache": every instruction is
    /// fetched and decoded each time it runs.
    fn code_version(&mut self, pc: u64) -> Result<u64, MemFault> {
        self.fetch(pc & !1).map(|_| UNCACHED)
    }
    /// A number that moves (never back to an earlier value) whenever any
    /// page's [`code_version`](Self::code_version) may have changed. While
    /// it stays the same, the CPU reuses cached blocks without asking for
    /// versions; when it moves, each block is revalidated once.
    fn code_epoch(&self) -> u64 {
        0
    }
    /// Guest memory for translated code (`jit.rs`), if this bus offers it;
    /// without it (the default) the CPU only interprets. The read and write
    /// TLB arrays lent must agree with [`load`](Self::load) and
    /// [`store`](Self::store): an entry whose `page` equals an access's
    /// address masked with `!(4095) | (size - 1)` (so the access is aligned)
    /// means that the `size` bytes at the entry's `offset` plus the
    /// address's offset in the page are the ones `load` reads (`store`
    /// writes, with no other effect: no watched code is behind a write
    /// entry, and the code epoch does not move). An empty entry's `page`
    /// matches no address.
    fn jit_memory(&mut self) -> Option<JitMemory<'_>> {
        None
    }
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
    /// An LR, SC or AMO at an address that is not a multiple of its size
    /// (spec 8.2/8.4: an address-misaligned exception). Nothing changed and
    /// pc is the instruction's address. Linux emulates misaligned ordinary
    /// loads and stores for user space, but not atomics: it delivers SIGBUS
    /// (BUS_ADRALN).
    Misaligned {
        /// The misaligned address.
        addr: u64,
        /// `Read` for LR, `Write` for SC and AMOs (store/AMO misaligned).
        access: Access,
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
    /// Integer registers. `x[0]` reads as 0 always: `run` zeroes it on
    /// entry, whatever the caller stored there, and no write to it is ever
    /// visible to a later instruction.
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
    /// Decoded blocks (`block.rs`); not architectural state.
    blocks: BlockCache,
}

impl Cpu {
    /// A hart with every register zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Execute at most `budget` instructions. Returns why it stopped.
    ///
    /// Instructions run from the decoded-block cache (`block.rs`); the
    /// count, the stopping point and every trap are exactly those of
    /// executing one instruction at a time.
    pub fn run<B: Bus>(&mut self, bus: &mut B, budget: u64) -> Exit {
        self.x[0] = 0;
        // The cache is moved out so blocks can be borrowed while `self` runs them.
        let mut blocks = std::mem::take(&mut self.blocks);
        let exit = self.run_blocks(bus, &mut blocks, budget);
        self.blocks = blocks;
        exit
    }

    /// A hart with every register zero that shares this one's decoded
    /// blocks and translations (`block.rs`, "Sharing between harts"): the
    /// kernel makes the harts of forked, cloned and exec'd tasks this way,
    /// so they do not decode and translate the same code again.
    pub fn sharing_code(&self) -> Cpu {
        Cpu {
            blocks: self.blocks.sharing(),
            ..Cpu::default()
        }
    }

    /// Blocks in the store this hart shares (see [`sharing_code`](Self::sharing_code)).
    pub fn shared_blocks(&self) -> usize {
        self.blocks.stored()
    }

    /// Forget every decoded block (the kernel may call this when it replaces
    /// the memory a hart runs in, e.g. at exec).
    pub fn flush_code_cache(&mut self) {
        self.blocks.flush();
    }

    /// [`run`](Self::run) with the block cache at hand. `pc` and `instret`
    /// live in locals (registers) while blocks run, and are stored back
    /// when it stops.
    fn run_blocks<B: Bus>(&mut self, bus: &mut B, blocks: &mut BlockCache, budget: u64) -> Exit {
        let mut left = budget;
        let mut pc = self.pc;
        let mut retired = self.instret;
        // Set when translated code stopped before an instruction it cannot
        // do (a memory access for the bus's slow path): the interpreter
        // runs the next block.
        let mut interpret = false;
        while left > 0 {
            let epoch = bus.code_epoch();
            let i = match blocks.lookup(pc, epoch) {
                Some(i) => i,
                None => {
                    (self.pc, self.instret) = (pc, retired);
                    match blocks.fill(bus, pc, epoch) {
                        Ok(Some(i)) => i,
                        Ok(None) => {
                            match self.step(bus) {
                                Ok(Op::FenceI) => blocks.flush(),
                                Ok(_) => {}
                                Err(exit) => return exit,
                            }
                            (pc, retired) = (self.pc, self.instret);
                            left -= 1;
                            interpret = false;
                            continue;
                        }
                        Err(f) => return Exit::MemFault(f),
                    }
                }
            };
            let jit = blocks.threshold > 0;
            if jit && !interpret {
                if let Some((next, n, fallback)) =
                    self.run_translated(bus, blocks, i, pc, left, epoch)
                {
                    retired = retired.wrapping_add(n);
                    left -= n;
                    pc = next;
                    interpret = fallback;
                    continue;
                }
            }
            interpret = false;
            let insns = &blocks.block(i).insns[..];
            // Run the block, again and again while it branches back to
            // its own start (a loop) and no code may have changed: such a
            // block needs no lookup (until it is hot enough to translate).
            loop {
                let n = insns.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                match self.run_block(bus, &insns[..n], pc, retired) {
                    Ok(next) => {
                        retired = retired.wrapping_add(n as u64);
                        left -= n as u64;
                        if next != pc
                            || left == 0
                            || bus.code_epoch() != epoch
                            || (jit && blocks.count_run(i))
                        {
                            pc = next;
                            break;
                        }
                    }
                    Err(SIDE_EXIT) => {
                        left -= self.instret.wrapping_sub(retired);
                        (pc, retired) = (self.pc, self.instret);
                        break;
                    }
                    Err(exit) => return exit,
                }
            }
        }
        (self.pc, self.instret) = (pc, retired);
        Exit::Budget
    }

    /// Runs block `i` (at `pc`) through its translation, translating it
    /// first if it just became hot, then the translations of the blocks
    /// that follow while they have one (chaining: translated code neither
    /// moves the code epoch nor touches the TLB, so `epoch` stays current
    /// and the memory lent stays valid). Returns the next pc, the
    /// instructions retired and whether the instruction at the next pc must
    /// be interpreted (see `jit.rs`); `None` if nothing ran (no
    /// translation, the budget is below one pass, or the bus lends no
    /// memory).
    #[inline]
    fn run_translated<B: Bus>(
        &mut self,
        bus: &mut B,
        blocks: &mut BlockCache,
        i: usize,
        pc: u64,
        left: u64,
        epoch: u64,
    ) -> Option<(u64, u64, bool)> {
        let mut t = blocks.translation(i, pc)?;
        if u64::from(t.len) > left {
            return None;
        }
        let mut mem = bus.jit_memory()?;
        let (mut pc, mut done, mut cur) = (pc, 0u64, i);
        let mut stale = None;
        let fallback = blocks.with_jit(|jit| {
            let arena = &jit.expect("run_translated: translator").arena;
            loop {
                let mut io = [0u64; cowix_hostmem::code::IO_WORDS];
                io[jit::IO_BUDGET] = left - done;
                let Some(r) = arena.call(t.code, &mut self.x, &mut io, &mut mem) else {
                    stale = Some(cur);
                    return None;
                };
                done += r & !jit::FALLBACK;
                pc = io[jit::IO_PC];
                if r & jit::FALLBACK != 0 {
                    return Some((pc, done, true));
                }
                let j = blocks.lookup(pc, epoch)?;
                match blocks.block(j).jit.get() {
                    JitState::Code(next) if u64::from(next.len) <= left - done => {
                        (t, cur) = (next, j);
                    }
                    _ => return None,
                }
            }
        });
        if let Some(r) = fallback {
            return Some(r);
        }
        if let Some(s) = stale {
            blocks.drop_translation(s);
            if done == 0 {
                return None;
            }
        }
        Some((pc, done, false))
    }

    /// The translation threshold: interpreted runs of a block before it is
    /// translated to host code (`jit.rs`); 0 means never (interpreter
    /// only). Defaults to the `COWIX_JIT` environment variable if set (a
    /// number; `COWIX_JIT=0` turns the translator off), else
    /// [`DEFAULT_THRESHOLD`].
    pub fn jit_threshold(&self) -> u32 {
        self.blocks.threshold
    }

    /// Blocks this hart has translated to host code so far.
    pub fn translated_blocks(&self) -> u64 {
        self.blocks.translated
    }

    /// Sets the [translation threshold](Self::jit_threshold).
    pub fn set_jit_threshold(&mut self, runs: u32) {
        self.blocks.threshold = runs;
    }

    /// Execute `insns` (a block or a prefix of one) starting at `start`,
    /// with `base` instructions retired before it; returns the address of
    /// the next instruction. A taken branch leaves early: `Err(SIDE_EXIT)`
    /// with `self.pc` the target and `self.instret` counting the branch. On
    /// a trap, `self.pc` and `self.instret` are set to those of the
    /// trapping instruction, as if each had run alone.
    #[inline(always)]
    fn run_block<B: Bus>(
        &mut self,
        bus: &mut B,
        insns: &[Slot],
        start: u64,
        base: u64,
    ) -> Result<u64, Exit> {
        let (last, body) = insns.split_last().expect("run_block: empty block");
        for s in body {
            // Only pc-relative arms and traps need the pc: no running sum.
            // The body never writes x0 (see block.rs), so no re-zeroing.
            match self.execute::<B, true>(bus, s, start) {
                Ok(CONTINUE) => {}
                Ok(target) => {
                    // A taken branch. Kept off the common path's registers.
                    self.pc = target;
                    self.instret = base.wrapping_add(u64::from(s.idx) + 1);
                    return Err(SIDE_EXIT);
                }
                Err(exit) => {
                    let pc = start.wrapping_add(u64::from(s.off));
                    let retired = base.wrapping_add(u64::from(s.idx));
                    return Err(self.trap(exit, pc, s.len, retired));
                }
            }
        }
        let retired = base.wrapping_add(body.len() as u64);
        self.instret = retired; // exact for a CSR read of instret
        match self.execute::<B, false>(bus, last, start) {
            Ok(next) => {
                self.x[0] = 0;
                Ok(next)
            }
            Err(exit) => {
                let pc = start.wrapping_add(u64::from(last.off));
                Err(self.trap(exit, pc, last.len, retired))
            }
        }
    }

    /// Execute one instruction at `self.pc` without the cache (a page the
    /// bus will not let us cache, or an instruction crossing a page).
    /// Returns the operation executed.
    #[cold]
    #[inline(never)]
    fn step<B: Bus>(&mut self, bus: &mut B) -> Result<Op, Exit> {
        let pc = self.pc;
        let lo = bus.fetch(pc)?;
        let hi = if lo & 3 == 3 {
            bus.fetch(pc.wrapping_add(2))?
        } else {
            0
        };
        let (insn, len) = decode(lo, hi);
        let slot = Slot::new(insn, len as u8, 0, 0);
        match self.execute::<B, false>(bus, &slot, pc) {
            Ok(next) => {
                self.x[0] = 0;
                self.pc = next;
                self.instret = self.instret.wrapping_add(1);
                Ok(insn.op)
            }
            Err(exit) => Err(self.trap(exit, pc, len as u8, self.instret)),
        }
    }

    /// Stop at the instruction at `pc` (of `len` bytes), `retired`
    /// instructions having retired before it. For `ecall`, which retires,
    /// pc moves past it; for every other exit the instruction had no effect.
    #[cold]
    fn trap(&mut self, exit: Exit, pc: u64, len: u8, retired: u64) -> Exit {
        self.x[0] = 0;
        if exit == Exit::Ecall {
            self.pc = pc.wrapping_add(u64::from(len));
            self.instret = retired.wrapping_add(1);
        } else {
            self.pc = pc;
            self.instret = retired;
        }
        exit
    }

    /// Drop the LR reservation (the kernel calls this on context switch / signal).
    pub fn clear_reservation(&mut self) {
        self.reservation = None;
    }
}
