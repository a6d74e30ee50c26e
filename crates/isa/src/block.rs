//! The decoded-block cache: instructions are fetched and decoded once per
//! basic block, and [`Cpu::run`](crate::Cpu::run) executes cached blocks.
//!
//! A *block* is a run of instructions starting at some `pc`, all inside
//! `pc`'s page, ending after the first jump or trap-prone system
//! instruction (`jal`, `jalr`, `ecall`, `ebreak`, CSR access, illegal
//! encoding) or backward conditional branch (a loop, likely taken), before
//! a `fence.i` (never cached: it runs alone, and the runner flushes the
//! cache after it) or an instruction that would cross into the next page, or at
//! [`MAX_BLOCK`] instructions. Forward conditional branches (likely not
//! taken) do not end a block (it is a *superblock*): taken, such a branch
//! leaves the block early (a side exit); not taken, it goes on with the
//! next instruction. Only the last instruction can jump.
//!
//! Only a block's last instruction may write `x0` (which the runner then
//! re-zeroes): an instruction whose only effect is writing `rd` = `x0` is
//! cached as a no-op (`fence`), and any other writing `x0` (a load, an AMO)
//! ends its block. So the block body never has to restore `x0`.
//!
//! # Staying correct when code changes
//!
//! Each block remembers the [`Bus::code_version`] of its page at decode
//! time, and the [`Bus::code_epoch`] at which it was last known valid. A
//! lookup whose entry's epoch is current is a hit. When the epoch moved
//! (something was written into watched code, or the mappings changed), the
//! entry is revalidated by asking for its page's version again: the same
//! version means the same bytes through the same translation; a different
//! one (or a fault) means the block is decoded again. `fence.i` flushes the
//! whole cache. A bus that returns [`UNCACHED`] disables caching for that
//! page: its instructions are fetched and decoded each time.
//!
//! # Layout
//!
//! A direct-mapped table indexed by `pc` bits with the full `pc` as tag
//! (cheaper than hashing). It starts small, so a short-lived hart costs
//! little, and grows when blocks keep being decoded.
//!
//! # Sharing between harts
//!
//! A code version names one frame's bytes at one time, and no other bytes
//! ever get it (the bus's contract), so a block decoded at `pc` under
//! version `v` is right for every hart that fetches `pc` from a page of
//! version `v`, whatever its address space. Harts made from one another
//! ([`Cpu::sharing_code`](crate::Cpu::sharing_code): the kernel's fork,
//! clone and exec) share a [`CodeStore`] of blocks keyed by `(pc,
//! version)`, with their run counts and translations: a forked child, or a
//! program exec'd again from the same page-cache frames, finds the shell's
//! blocks decoded and its hot loops translated. Each hart keeps its own
//! direct-mapped table of references into the store, checked by tag and
//! epoch as above; only a table miss reaches the store.
//!
//! # Translations
//!
//! Each block counts its interpreted runs; at the threshold (see
//! [`DEFAULT_THRESHOLD`], `COWIX_JIT`) the block translator (`jit.rs`)
//! compiles it and the translation is kept in the block's entry
//! ([`JitState`]), one translator per store. A block never changes once
//! decoded, so its translation is valid as long as the block lives (or
//! until the translator's arena is cleared, which the runner notices).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;
use std::sync::OnceLock;

use crate::insn::{Form, Insn, Op};
use crate::jit::{Jit, Translation};
use crate::{decode, Bus, MemFault};

/// Most instructions in one block.
pub(crate) const MAX_BLOCK: usize = 64;

/// Code version meaning "do not cache this page" (see [`Bus::code_version`]).
pub const UNCACHED: u64 = u64::MAX;

/// Table size a new cache starts with, and the most it grows to.
const MIN_ENTRIES: usize = 64;
const MAX_ENTRIES: usize = 1 << 14;

/// Most blocks a [`CodeStore`] keeps; past it, it forgets them all (harts
/// keep the ones their tables hold). Bounds the blocks of versions that
/// are gone (frames freed or written), which nothing else removes.
const MAX_STORED: usize = 1 << 16;

const PAGE_SIZE: u64 = 4096;

/// A register number, 0 to 31, as a type: indexing a 32-entry register
/// file with it needs neither a mask nor a bounds check (the compiler knows
/// its range), which the executor's hot arms rely on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[rustfmt::skip]
pub(crate) enum Reg {
    R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11, R12, R13, R14, R15,
    R16, R17, R18, R19, R20, R21, R22, R23, R24, R25, R26, R27, R28, R29, R30, R31,
}

impl Reg {
    #[rustfmt::skip]
    const ALL: [Reg; 32] = [
        Reg::R0, Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5, Reg::R6, Reg::R7,
        Reg::R8, Reg::R9, Reg::R10, Reg::R11, Reg::R12, Reg::R13, Reg::R14, Reg::R15,
        Reg::R16, Reg::R17, Reg::R18, Reg::R19, Reg::R20, Reg::R21, Reg::R22, Reg::R23,
        Reg::R24, Reg::R25, Reg::R26, Reg::R27, Reg::R28, Reg::R29, Reg::R30, Reg::R31,
    ];

    /// Register `r & 31`.
    pub fn new(r: u8) -> Reg {
        Self::ALL[usize::from(r & 31)]
    }

    /// Its index in a register file.
    #[inline(always)]
    pub fn idx(self) -> usize {
        self as usize
    }
}

/// One instruction of a block: the decoded instruction, its register
/// operands as [`Reg`]s, its length and where it is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub insn: Insn,
    /// `insn.rd`, `insn.rs1`, `insn.rs2`.
    pub rd: Reg,
    pub rs1: Reg,
    pub rs2: Reg,
    /// 2 or 4.
    pub len: u8,
    /// Byte offset from the block's first instruction (less than a page).
    pub off: u16,
    /// Position in the block (instructions before this one).
    pub idx: u8,
}

impl Slot {
    /// `insn` at byte `off` of its block, the `idx`th instruction.
    pub fn new(insn: Insn, len: u8, off: u16, idx: u8) -> Slot {
        Slot {
            insn,
            rd: Reg::new(insn.rd),
            rs1: Reg::new(insn.rs1),
            rs2: Reg::new(insn.rs2),
            len,
            off,
            idx,
        }
    }
}

/// A decoded block: immutable once made, shared by every hart whose table
/// refers to it (see the module comment).
#[derive(Debug, Default)]
pub(crate) struct Block {
    /// The instructions, at least one.
    pub insns: Vec<Slot>,
    /// Times the interpreter ran it, on any hart (counted only while below
    /// the translation threshold).
    pub runs: Cell<u32>,
    /// Its translation (`jit.rs`), if any.
    pub jit: Cell<JitState>,
}

/// One entry of a hart's table.
#[derive(Clone, Debug, Default)]
struct Entry {
    /// `!pc` of the first instruction; 0 (the `!` of no valid, 2-aligned
    /// pc) for an empty entry.
    tag: u64,
    /// The bus's code epoch when this block was last known to be valid.
    epoch: u64,
    /// Code version of the block's page when it was decoded.
    version: u64,
    /// The block (`Some` whenever `tag` is not 0).
    block: Option<Rc<Block>>,
}

/// Blocks shared by harts (see the module comment), and the translator
/// that translates them.
#[derive(Default)]
pub(crate) struct CodeStore {
    blocks: HashMap<(u64, u64), Rc<Block>, BuildHasherDefault<PcVersionHasher>>,
    /// Made at the first translation.
    jit: Option<Box<Jit>>,
    /// This host cannot run translated code (the translator could not be made).
    no_jit: bool,
}

/// Hashes a `(pc, version)` key with one multiply (the keys are not
/// chosen by an adversary: pcs and versions of the guest's own code).
#[derive(Default)]
pub(crate) struct PcVersionHasher(u64);

impl Hasher for PcVersionHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(26) ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Whether a block has been translated.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) enum JitState {
    /// Not yet (or its translation went stale).
    #[default]
    Cold,
    /// Translated.
    Code(Translation),
    /// Not translatable (its first instruction is outside the subset).
    Never,
}

/// The translation threshold from the environment: `COWIX_JIT=0` turns the
/// translator off, `COWIX_JIT=N` translates a block after `N` interpreted
/// runs; unset (or unparsable), [`DEFAULT_THRESHOLD`].
fn env_threshold() -> u32 {
    static T: OnceLock<u32> = OnceLock::new();
    *T.get_or_init(|| {
        std::env::var("COWIX_JIT")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(DEFAULT_THRESHOLD)
    })
}

/// Interpreted runs of a block before it is translated, by default.
///
/// Translating a block costs about as much host time as interpreting it
/// some ten thousand times (one to three milliseconds of Cranelift for a
/// block of a few instructions), so a block is translated only once it
/// has run that often: a hot loop still gets translated within a
/// millisecond or two, while the lukewarm code of short-lived programs
/// (a shell's subshells, ld.so's symbol lookup, interpreter start-up)
/// never pays for a translation it cannot earn back. At 50, translation
/// made 300 busybox subshells 4x slower than the interpreter alone (see
/// BENCHMARKS.md, "Debian userland").
pub const DEFAULT_THRESHOLD: u32 = 10_000;

/// A hart's cache: a direct-mapped table of references into its store.
pub(crate) struct BlockCache {
    /// Power-of-two length, or empty before the first block.
    blocks: Vec<Entry>,
    /// Blocks filled since the table last grew.
    decoded: usize,
    /// Interpreted runs before a block is translated; 0: never.
    pub threshold: u32,
    /// The blocks and translator this hart shares with the harts made
    /// from it.
    store: Rc<RefCell<CodeStore>>,
    /// Blocks translated by this hart so far (diagnostics, tests).
    pub translated: u64,
}

impl Default for BlockCache {
    fn default() -> Self {
        BlockCache {
            blocks: Vec::new(),
            decoded: 0,
            threshold: env_threshold(),
            store: Rc::default(),
            translated: 0,
        }
    }
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cached = self.blocks.iter().filter(|b| b.tag != 0).count();
        f.debug_struct("BlockCache")
            .field("entries", &self.blocks.len())
            .field("cached", &cached)
            .field("stored", &self.store.borrow().blocks.len())
            .finish()
    }
}

/// A cloned hart starts with an empty table over the same store (and the
/// same translation threshold).
impl Clone for BlockCache {
    fn clone(&self) -> Self {
        self.sharing()
    }
}

/// Whether `op` ends a block: it jumps, traps by design, reads
/// or write state that the block runner keeps in flight (`instret` for
/// CSRs). (`fence.i`, which requires the cache to be flushed, is never
/// part of a block.)
fn ends_block(op: Op) -> bool {
    use Op::*;
    matches!(
        op,
        Jal | Jalr | Ecall | Ebreak | Csrrw | Csrrs | Csrrc | Csrrwi | Csrrsi | Csrrci | Illegal
    )
}

/// Whether `op` writes integer register `rd`.
fn writes_x_rd(op: Op) -> bool {
    use crate::Form::*;
    matches!(
        op.form(),
        U | J | I | Load | R | Csr | CsrI | Lr | Amo | FCmp | FToX | FMvToX
    )
}

/// Whether writing `rd` is all `op` does (it cannot trap, touch memory or
/// change other state). Such an instruction with `rd` = `x0` does nothing.
fn only_writes_rd(op: Op) -> bool {
    use crate::Form::*;
    matches!(op.form(), U | I | R) && op != Op::Jalr
}

impl BlockCache {
    /// An empty table over this cache's store, with its threshold.
    pub fn sharing(&self) -> BlockCache {
        BlockCache {
            threshold: self.threshold,
            store: Rc::clone(&self.store),
            ..BlockCache::default()
        }
    }

    /// Blocks in the shared store (diagnostics, tests).
    pub fn stored(&self) -> usize {
        self.store.borrow().blocks.len()
    }

    /// Slot of `pc` in the table (which must not be empty).
    #[inline(always)]
    fn index(&self, pc: u64) -> usize {
        (pc >> 1) as usize & (self.blocks.len().wrapping_sub(1))
    }

    /// The slot of the block at `pc` if it is known to be valid at `epoch`.
    #[inline(always)]
    pub fn lookup(&self, pc: u64, epoch: u64) -> Option<usize> {
        // An empty table has no block: `get` answers None.
        let i = self.index(pc);
        let b = self.blocks.get(i)?;
        (b.tag == !pc && b.epoch == epoch).then_some(i)
    }

    /// The block in slot `i` (from `lookup` or `fill`).
    #[inline(always)]
    pub fn block(&self, i: usize) -> &Block {
        self.blocks[i]
            .block
            .as_deref()
            .expect("BlockCache::block: a filled entry")
    }

    /// Counts an interpreted run of block `i`; true when it is (now) hot
    /// enough to be translated, or has a translation (the interpreter ran
    /// it only for a fallback): the runner should go back to its lookup.
    /// Never true for a block that cannot be translated.
    #[inline(always)]
    pub fn count_run(&self, i: usize) -> bool {
        let b = self.block(i);
        if matches!(b.jit.get(), JitState::Never) {
            return false;
        }
        let runs = b.runs.get();
        if runs >= self.threshold {
            return true;
        }
        b.runs.set(runs + 1);
        runs + 1 >= self.threshold
    }

    /// Block `i`'s translation, translating it now if it is hot; `None` if
    /// it has none (cold, or not translatable). Called only while the
    /// translator is on (`threshold > 0`).
    #[inline]
    pub fn translation(&mut self, i: usize, pc: u64) -> Option<Translation> {
        match self.block(i).jit.get() {
            JitState::Code(t) => Some(t),
            JitState::Never => None,
            JitState::Cold => {
                if !self.count_run(i) {
                    return None;
                }
                self.translate(i, pc)
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn translate(&mut self, i: usize, pc: u64) -> Option<Translation> {
        let mut store = self.store.borrow_mut();
        if store.jit.is_none() && !store.no_jit {
            match Jit::new() {
                Some(j) => store.jit = Some(Box::new(j)),
                None => store.no_jit = true,
            }
        }
        let Some(jit) = store.jit.as_mut() else {
            self.threshold = 0; // this host cannot run translated code
            return None;
        };
        let b = self.blocks[i]
            .block
            .as_deref()
            .expect("translate: a filled entry");
        let t = jit.translate(&b.insns, pc);
        b.jit.set(t.map_or(JitState::Never, JitState::Code));
        self.translated += u64::from(t.is_some());
        t
    }

    /// Runs `f` with the translator (present once a block was translated
    /// by any hart of the store).
    pub fn with_jit<R>(&self, f: impl FnOnce(Option<&Jit>) -> R) -> R {
        f(self.store.borrow().jit.as_deref())
    }

    /// Block `i`'s translation went stale (its arena was cleared): it will
    /// be translated again when hot.
    #[cold]
    pub fn drop_translation(&mut self, i: usize) {
        let b = self.block(i);
        b.jit.set(JitState::Cold);
        b.runs.set(0);
    }

    /// The block at `pc` after a `lookup` miss: the entry revalidated (its
    /// page's code version unchanged) or decoded anew. `Ok(None)` when the
    /// bus does not allow caching this page, or the first instruction is a
    /// `fence.i` or cannot be decoded inside the page (it crosses into the
    /// next one); the caller
    /// then executes one instruction uncached. `Err` is the fault of
    /// fetching `pc` itself.
    #[cold]
    #[inline(never)]
    pub fn fill<B: Bus>(
        &mut self,
        bus: &mut B,
        pc: u64,
        epoch: u64,
    ) -> Result<Option<usize>, MemFault> {
        let version = bus.code_version(pc)?;
        if version == UNCACHED {
            return Ok(None);
        }
        if self.blocks.is_empty() {
            self.blocks = vec![Entry::default(); MIN_ENTRIES];
        }
        let i = self.index(pc);
        let e = &mut self.blocks[i];
        if e.tag == !pc && e.version == version {
            e.epoch = epoch;
            return Ok(Some(i));
        }
        if self.decoded >= self.blocks.len() && self.blocks.len() < MAX_ENTRIES {
            // Many fills for the table's size: conflicts are likely. Grow
            // (dropping everything; hot blocks come back at once).
            self.blocks = vec![Entry::default(); self.blocks.len() * 4];
            self.decoded = 0;
        }
        self.decoded += 1;
        let block = {
            let mut store = self.store.borrow_mut();
            match store.blocks.get(&(pc, version)) {
                Some(b) => Rc::clone(b),
                None => {
                    let mut insns = Vec::new();
                    decode_block(bus, pc, &mut insns);
                    if insns.is_empty() {
                        return Ok(None);
                    }
                    // The bytes were read after `code_version` watched the
                    // page, and nothing ran in between: the version
                    // describes them.
                    let b = Rc::new(Block {
                        insns,
                        ..Block::default()
                    });
                    if store.blocks.len() >= MAX_STORED {
                        store.blocks.clear();
                    }
                    store.blocks.insert((pc, version), Rc::clone(&b));
                    b
                }
            }
        };
        let i = self.index(pc);
        self.blocks[i] = Entry {
            tag: !pc,
            epoch,
            version,
            block: Some(block),
        };
        Ok(Some(i))
    }

    /// Forgets every block (`fence.i`): this hart's table and the store's
    /// blocks (a bus may rely on `fence.i` alone to make new code visible;
    /// other harts keep what their tables hold, as each hart's own
    /// `fence.i` orders only its own fetches).
    pub fn flush(&mut self) {
        self.store.borrow_mut().blocks.clear();
        for e in &mut self.blocks {
            *e = Entry::default();
        }
    }
}

/// Fetches and decodes the block starting at `pc` into `out` (see the module
/// comment for where it ends). Stops early, without an error, at the first
/// parcel that cannot be fetched: execution reports that fault when it gets
/// there. Leaves `out` empty if not even the first instruction fits.
fn decode_block<B: Bus>(bus: &mut B, pc: u64, out: &mut Vec<Slot>) {
    let mut a = pc;
    while out.len() < MAX_BLOCK {
        let Ok(lo) = bus.fetch(a) else { break };
        let len: u8 = if lo & 3 == 3 { 4 } else { 2 };
        if a % PAGE_SIZE + u64::from(len) > PAGE_SIZE {
            break; // crosses into the next page: executed uncached
        }
        let hi = if len == 4 {
            let Ok(hi) = bus.fetch(a.wrapping_add(2)) else {
                break;
            };
            hi
        } else {
            0
        };
        let (mut insn, _) = decode(lo, hi);
        if insn.op == Op::FenceI {
            // Never cached: executed alone (uncached), the runner flushes
            // the cache after it, so cached blocks need no check.
            break;
        }
        let backward_branch = insn.op.form() == Form::Branch && insn.imm <= 0;
        let mut last = ends_block(insn.op) || backward_branch;
        if insn.rd == 0 && writes_x_rd(insn.op) {
            if only_writes_rd(insn.op) {
                insn = Insn::new(Op::Fence); // `nop` and friends
            } else {
                last = true;
            }
        }
        out.push(Slot::new(insn, len, (a - pc) as u16, out.len() as u8));
        a = a.wrapping_add(u64::from(len));
        if last || a % PAGE_SIZE == 0 {
            break;
        }
    }
}
