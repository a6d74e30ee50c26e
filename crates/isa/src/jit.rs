//! The block translator: hot cached blocks (`block.rs`) become host code
//! (through Cranelift), which [`Cpu::run`](crate::Cpu::run) calls instead
//! of interpreting them.
//!
//! # What is translated
//!
//! The longest prefix of a block made of the integer subset: RV64I
//! computation, M, conditional branches, `jal`/`jalr` (which end blocks),
//! integer loads and stores, `fence`. The prefix ends before anything else
//! (FP, atomics, CSRs, `ecall`, ...), which the interpreter then runs from a
//! block of its own. A block whose first instruction is not in the subset
//! is never translated.
//!
//! # Exactness
//!
//! Within a translation guest registers are SSA values (Cranelift
//! variables): the registers a block uses are loaded once at entry, and the
//! ones it writes are stored back at every exit. Every exit stores the next
//! `pc` in `io[IO_PC]` and returns the number of instructions retired, so
//! `pc` and `instret` are exact wherever the code stops:
//!
//! * the end of the block or a taken branch out of it: the next pc;
//! * a memory access the inline fast path cannot do (a TLB miss, a
//!   misaligned address, anything the bus must see: code-watched pages are
//!   never in the write TLB): the code stops *before* that instruction,
//!   with [`FALLBACK`] set in the result, and the runner interprets it (the
//!   bus's slow path then faults precisely or fills the TLB). So translated
//!   code never faults and never changes the code epoch;
//! * a block that branches back to its own start loops inside the code
//!   while the budget (`io[IO_BUDGET]`, the most instructions it may
//!   retire) allows another pass.
//!
//! The fast path is QEMU's softmmu compare: the bus lends its read and
//! write TLB arrays ([`Bus::jit_memory`](crate::Bus::jit_memory)); an
//! access's page address plus its misalignment bits must equal the entry's
//! `page`, and the entry's frame offset must lie inside the RAM
//! (`cowix_hostmem::code`'s contract, which keeps every access in bounds).
//!
//! Translations live as long as their cache entry: `block.rs` drops a
//! block's translation exactly when it drops or re-decodes the block.

use cowix_hostmem::code::{
    CodeArena, CodeRef, ENV_RAM, ENV_RAM_LIMIT, ENV_READ_TLB, ENV_TLB_MASK, ENV_WRITE_TLB,
    TLB_ENTRY_SHIFT, TLB_OFFSET_OFFSET, TLB_PAGE_OFFSET,
};
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{AbiParam, InstBuilder, MemFlagsData, Value};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};

use crate::block::Slot;
use crate::insn::Op;

/// `io` word: in, the most instructions the code may retire (at least the
/// translation's length); out, unused.
pub(crate) const IO_BUDGET: usize = 0;
/// `io` word: out, the address of the next instruction.
pub(crate) const IO_PC: usize = 1;
/// Result bit: the instruction at `io[IO_PC]` must be run by the
/// interpreter (its memory access needs the bus's slow path).
pub(crate) const FALLBACK: u64 = 1 << 63;

/// Bytes of executable memory reserved per hart (committed as used); when
/// full, every translation is dropped and the space reused.
const ARENA_BYTES: usize = 32 << 20;

const PAGE: i64 = 4096;

/// Whether the translator handles `op`.
fn supported(op: Op) -> bool {
    use Op::*;
    matches!(
        op,
        Lui | Auipc
            | Jal
            | Jalr
            | Beq
            | Bne
            | Blt
            | Bge
            | Bltu
            | Bgeu
            | Lb
            | Lh
            | Lw
            | Ld
            | Lbu
            | Lhu
            | Lwu
            | Sb
            | Sh
            | Sw
            | Sd
            | Addi
            | Slti
            | Sltiu
            | Xori
            | Ori
            | Andi
            | Slli
            | Srli
            | Srai
            | Add
            | Sub
            | Sll
            | Slt
            | Sltu
            | Xor
            | Srl
            | Sra
            | Or
            | And
            | Addiw
            | Slliw
            | Srliw
            | Sraiw
            | Addw
            | Subw
            | Sllw
            | Srlw
            | Sraw
            | Fence
            | Mul
            | Mulh
            | Mulhsu
            | Mulhu
            | Div
            | Divu
            | Rem
            | Remu
            | Mulw
            | Divw
            | Divuw
            | Remw
            | Remuw
    )
}

/// The registers `s` reads and writes, as bit masks (x0 excluded).
fn regs(s: &Slot) -> (u32, u32) {
    use crate::Form;
    let bit = |r: u8| if r == 0 { 0 } else { 1u32 << r };
    let (rd, rs1, rs2) = (bit(s.insn.rd), bit(s.insn.rs1), bit(s.insn.rs2));
    match s.insn.op.form() {
        Form::U | Form::J => (0, rd),
        Form::I | Form::Load => (rs1, rd),
        Form::R => (rs1 | rs2, rd),
        Form::Store | Form::Branch => (rs1 | rs2, 0),
        _ => (0, 0),
    }
}

/// The translator of one hart: Cranelift's state, reused between
/// translations, and the executable memory.
pub(crate) struct Jit {
    isa: OwnedTargetIsa,
    ctx: Context,
    fctx: FunctionBuilderContext,
    pub arena: CodeArena,
}

impl std::fmt::Debug for Jit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jit").field("arena", &self.arena).finish()
    }
}

/// A translation: its code and how many instructions one pass retires.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Translation {
    pub code: CodeRef,
    pub len: u8,
}

impl Jit {
    /// A translator for the host, or `None` where translated code cannot
    /// run (then the interpreter does everything).
    pub fn new() -> Option<Jit> {
        let arena = CodeArena::new(ARENA_BYTES).ok()?;
        let mut flags = settings::builder();
        flags.set("opt_level", "speed").ok()?;
        flags.set("unwind_info", "false").ok()?;
        let verify = if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        };
        flags.set("enable_verifier", verify).ok()?;
        let isa = cranelift_native::builder()
            .ok()?
            .finish(settings::Flags::new(flags))
            .ok()?;
        Some(Jit {
            isa,
            ctx: Context::new(),
            fctx: FunctionBuilderContext::new(),
            arena,
        })
    }

    /// Translates the block `insns` starting at `start`; `None` if its first
    /// instruction is not in the translated subset (or Cranelift refused).
    pub fn translate(&mut self, insns: &[Slot], start: u64) -> Option<Translation> {
        let n = insns.iter().take_while(|s| supported(s.insn.op)).count();
        if n == 0 {
            return None;
        }
        self.ctx.clear();
        let call_conv = self.isa.default_call_conv();
        let sig = &mut self.ctx.func.signature;
        sig.call_conv = call_conv;
        sig.params.extend([AbiParam::new(I64); 3]);
        sig.returns.push(AbiParam::new(I64));
        let config = self.isa.frontend_config();
        let mut b = FunctionBuilder::new(&mut self.ctx.func, &mut self.fctx);
        Emitter::emit(&mut b, &insns[..n], insns.get(n), start);
        b.seal_all_blocks();
        b.finalize(config);
        let compiled = self
            .ctx
            .compile(&*self.isa, &mut ControlPlane::default())
            .ok()?;
        if !compiled.buffer.relocs().is_empty() {
            return None; // the code must be self-contained
        }
        let bytes = compiled.code_buffer();
        let code = match self.arena.install(bytes) {
            Some(c) => c,
            None => {
                // Full: drop every translation (their `CodeRef`s go stale).
                self.arena.clear();
                self.arena.install(bytes)?
            }
        };
        Some(Translation { code, len: n as u8 })
    }
}

/// Emits one block's function.
struct Emitter<'a, 'b> {
    b: &'a mut FunctionBuilder<'b>,
    start: u64,
    /// Guest registers 1 to 31 (index 0 unused).
    x: [Variable; 32],
    /// Instructions retired by earlier passes of a looping block.
    done: Variable,
    /// Registers the block writes (stored back at every exit).
    written: u32,
    state: Value,
    io: Value,
    ram: Value,
    ram_limit: Value,
    read_tlb: Value,
    write_tlb: Value,
    tlb_mask: Value,
}

/// Loads of data that does not change during a call (`env`, the TLBs).
fn ro() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly()
}

impl<'a, 'b> Emitter<'a, 'b> {
    /// Emits the function for `body` (all translatable; `stop` is the
    /// instruction after it, if the block goes on untranslated).
    fn emit(b: &'a mut FunctionBuilder<'b>, body: &[Slot], stop: Option<&Slot>, start: u64) {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let p = b.block_params(entry).to_vec();
        let (state, io, env) = (p[0], p[1], p[2]);
        let envw = |b: &mut FunctionBuilder, i: usize| b.ins().load(I64, ro(), env, 8 * i as i32);
        let ram = envw(b, ENV_RAM);
        let ram_limit = envw(b, ENV_RAM_LIMIT);
        let read_tlb = envw(b, ENV_READ_TLB);
        let write_tlb = envw(b, ENV_WRITE_TLB);
        let tlb_mask = envw(b, ENV_TLB_MASK);
        let x: [Variable; 32] = std::array::from_fn(|_| b.declare_var(I64));
        let done = b.declare_var(I64);
        let (mut used, mut written) = (0u32, 0u32);
        for s in body {
            let (r, w) = regs(s);
            used |= r | w;
            written |= w;
        }
        for r in 1..32 {
            if used & (1 << r) != 0 {
                let v = b.ins().load(I64, MemFlagsData::trusted(), state, 8 * r);
                b.def_var(x[r as usize], v);
            }
        }
        let zero = b.ins().iconst(I64, 0);
        b.def_var(done, zero);
        let head = b.create_block();
        b.ins().jump(head, &[]);
        b.switch_to_block(head);
        let mut e = Emitter {
            b,
            start,
            x,
            done,
            written,
            state,
            io,
            ram,
            ram_limit,
            read_tlb,
            write_tlb,
            tlb_mask,
        };
        let n = body.len() as i64;
        for (k, s) in body.iter().enumerate() {
            let last = k + 1 == body.len() && stop.is_none();
            if e.insn(s, k as i64, n, last, head) {
                return; // the block's last instruction ended the function
            }
        }
        // Falls off the end: the block ended at a page or size limit, or
        // before an instruction left to the interpreter.
        let next = match stop {
            Some(s) => start.wrapping_add(u64::from(s.off)),
            None => {
                let l = &body[body.len() - 1];
                start.wrapping_add(u64::from(l.off) + u64::from(l.len))
            }
        };
        let pc = e.b.ins().iconst(I64, next as i64);
        let count = e.count(n);
        e.exit(pc, count, 0);
    }

    /// `done + k`.
    fn count(&mut self, k: i64) -> Value {
        let d = self.b.use_var(self.done);
        self.b.ins().iadd_imm_s(d, k)
    }

    fn get(&mut self, r: u8) -> Value {
        if r == 0 {
            self.b.ins().iconst(I64, 0)
        } else {
            self.b.use_var(self.x[usize::from(r & 31)])
        }
    }

    fn set(&mut self, r: u8, v: Value) {
        if r != 0 {
            self.b.def_var(self.x[usize::from(r & 31)], v);
        }
    }

    /// Ends the current Cranelift block: stores the written registers, the
    /// next pc, and returns `count | flag`.
    fn exit(&mut self, pc: Value, count: Value, flag: u64) {
        for r in 1..32u8 {
            if self.written & (1 << r) != 0 {
                let v = self.b.use_var(self.x[usize::from(r)]);
                self.b
                    .ins()
                    .store(MemFlagsData::trusted(), v, self.state, 8 * i32::from(r));
            }
        }
        self.b
            .ins()
            .store(MemFlagsData::trusted(), pc, self.io, 8 * IO_PC as i32);
        let ret = if flag != 0 {
            self.b.ins().bor_imm_s(count, flag as i64)
        } else {
            count
        };
        self.b.ins().return_(&[ret]);
    }

    /// If `cond` (an i8), exits to `target` having retired `count` (+ `flag`).
    fn exit_if(&mut self, cond: Value, target: u64, k: i64, flag: u64) {
        let out = self.b.create_block();
        let cont = self.b.create_block();
        self.b.ins().brif(cond, out, &[], cont, &[]);
        self.b.switch_to_block(out);
        self.b.set_cold_block(out);
        let pc = self.b.ins().iconst(I64, target as i64);
        let count = self.count(k);
        self.exit(pc, count, flag);
        self.b.switch_to_block(cont);
    }

    /// Ends the function with a jump to `target` after the whole pass
    /// (`n` instructions): back to the top if it is the block's start and
    /// the budget allows another pass, else an exit.
    fn goto(&mut self, target: u64, n: i64, head: cranelift_codegen::ir::Block) {
        if target == self.start {
            let d = self.b.use_var(self.done);
            let nd = self.b.ins().iadd_imm_s(d, n);
            self.b.def_var(self.done, nd);
            let budget =
                self.b
                    .ins()
                    .load(I64, MemFlagsData::trusted(), self.io, 8 * IO_BUDGET as i32);
            let need = self.b.ins().iadd_imm_s(nd, n);
            let ok = self
                .b
                .ins()
                .icmp(IntCC::UnsignedLessThanOrEqual, need, budget);
            let out = self.b.create_block();
            self.b.ins().brif(ok, head, &[], out, &[]);
            self.b.switch_to_block(out);
            let pc = self.b.ins().iconst(I64, target as i64);
            self.exit(pc, nd, 0);
        } else {
            let pc = self.b.ins().iconst(I64, target as i64);
            let count = self.count(n);
            self.exit(pc, count, 0);
        }
    }

    /// The host address of an aligned `size`-byte access at guest `addr`
    /// through the read or write TLB; exits with [`FALLBACK`] before
    /// instruction `k` (at `pc`) when the fast path does not apply.
    fn host_addr(&mut self, addr: Value, size: i64, write: bool, pc: u64, k: i64) -> Value {
        let page = self.b.ins().ushr_imm_s(addr, 12);
        let idx = self.b.ins().band(page, self.tlb_mask);
        let off = self.b.ins().ishl_imm_s(idx, i64::from(TLB_ENTRY_SHIFT));
        let tlb = if write { self.write_tlb } else { self.read_tlb };
        let entry = self.b.ins().iadd(tlb, off);
        let tag = self.b.ins().load(I64, ro(), entry, TLB_PAGE_OFFSET);
        let frame = self.b.ins().load(I64, ro(), entry, TLB_OFFSET_OFFSET);
        let want = self.b.ins().band_imm_s(addr, !(PAGE - 1) | (size - 1));
        let miss = self.b.ins().icmp(IntCC::NotEqual, tag, want);
        let out = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThan, frame, self.ram_limit);
        let bad = self.b.ins().bor(miss, out);
        self.exit_if(bad, pc, k, FALLBACK);
        let in_page = self.b.ins().band_imm_s(addr, PAGE - 1);
        let base = self.b.ins().iadd(self.ram, frame);
        self.b.ins().iadd(base, in_page)
    }

    /// Emits instruction `s` (the `k`th of `n`; `last` if it ends the
    /// block). Returns true if it ended the function.
    fn insn(
        &mut self,
        s: &Slot,
        k: i64,
        n: i64,
        last: bool,
        head: cranelift_codegen::ir::Block,
    ) -> bool {
        let i = s.insn;
        let imm = i64::from(i.imm);
        let pc = self.start.wrapping_add(u64::from(s.off));
        let fall = pc.wrapping_add(u64::from(s.len));
        let a = |e: &mut Self| e.get(i.rs1);
        let bb = |e: &mut Self| e.get(i.rs2);
        let sext32 = |e: &mut Self, v: Value| {
            let w = e.b.ins().ireduce(I32, v);
            e.b.ins().sextend(I64, w)
        };
        let v = match i.op {
            Op::Lui => self.b.ins().iconst(I64, imm),
            Op::Auipc => self.b.ins().iconst(I64, pc.wrapping_add(imm as u64) as i64),
            Op::Addi => {
                let a = a(self);
                self.b.ins().iadd_imm_s(a, imm)
            }
            Op::Slti | Op::Sltiu => {
                let a = a(self);
                let cc = if i.op == Op::Slti {
                    IntCC::SignedLessThan
                } else {
                    IntCC::UnsignedLessThan
                };
                let c = self.b.ins().icmp_imm_s(cc, a, imm);
                self.b.ins().uextend(I64, c)
            }
            Op::Xori => {
                let a = a(self);
                self.b.ins().bxor_imm_s(a, imm)
            }
            Op::Ori => {
                let a = a(self);
                self.b.ins().bor_imm_s(a, imm)
            }
            Op::Andi => {
                let a = a(self);
                self.b.ins().band_imm_s(a, imm)
            }
            Op::Slli => {
                let a = a(self);
                self.b.ins().ishl_imm_s(a, imm & 63)
            }
            Op::Srli => {
                let a = a(self);
                self.b.ins().ushr_imm_s(a, imm & 63)
            }
            Op::Srai => {
                let a = a(self);
                self.b.ins().sshr_imm_s(a, imm & 63)
            }
            Op::Addiw => {
                let a = a(self);
                let v = self.b.ins().iadd_imm_s(a, imm);
                sext32(self, v)
            }
            Op::Slliw | Op::Srliw | Op::Sraiw => {
                let a = a(self);
                let w = self.b.ins().ireduce(I32, a);
                let sh = imm & 31;
                let r = match i.op {
                    Op::Slliw => self.b.ins().ishl_imm_s(w, sh),
                    Op::Srliw => self.b.ins().ushr_imm_s(w, sh),
                    _ => self.b.ins().sshr_imm_s(w, sh),
                };
                self.b.ins().sextend(I64, r)
            }
            Op::Add
            | Op::Sub
            | Op::Sll
            | Op::Slt
            | Op::Sltu
            | Op::Xor
            | Op::Srl
            | Op::Sra
            | Op::Or
            | Op::And
            | Op::Mul
            | Op::Mulh
            | Op::Mulhu
            | Op::Mulhsu
            | Op::Div
            | Op::Divu
            | Op::Rem
            | Op::Remu => {
                let (a, b) = (a(self), bb(self));
                self.r64(i.op, a, b)
            }
            Op::Addw | Op::Subw | Op::Sllw | Op::Srlw | Op::Sraw | Op::Mulw => {
                let (a, b) = (a(self), bb(self));
                let a = self.b.ins().ireduce(I32, a);
                let b = self.b.ins().ireduce(I32, b);
                let r = self.r32(i.op, a, b);
                self.b.ins().sextend(I64, r)
            }
            Op::Divw | Op::Remw | Op::Divuw | Op::Remuw => {
                // The 64-bit operation on the 32-bit operands, extended as
                // the operation reads them, has the same low 32 bits
                // (including the zero-divisor and overflow cases).
                let (a, b) = (a(self), bb(self));
                let signed = matches!(i.op, Op::Divw | Op::Remw);
                let ext = |e: &mut Self, v: Value| {
                    let w = e.b.ins().ireduce(I32, v);
                    if signed {
                        e.b.ins().sextend(I64, w)
                    } else {
                        e.b.ins().uextend(I64, w)
                    }
                };
                let (a, b) = (ext(self, a), ext(self, b));
                let op = match i.op {
                    Op::Divw => Op::Div,
                    Op::Remw => Op::Rem,
                    Op::Divuw => Op::Divu,
                    _ => Op::Remu,
                };
                let r = self.div(op, a, b);
                sext32(self, r)
            }
            Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => {
                let (a, b) = (a(self), bb(self));
                let cc = match i.op {
                    Op::Beq => IntCC::Equal,
                    Op::Bne => IntCC::NotEqual,
                    Op::Blt => IntCC::SignedLessThan,
                    Op::Bge => IntCC::SignedGreaterThanOrEqual,
                    Op::Bltu => IntCC::UnsignedLessThan,
                    _ => IntCC::UnsignedGreaterThanOrEqual,
                };
                let c = self.b.ins().icmp(cc, a, b);
                let target = pc.wrapping_add(imm as u64);
                if last {
                    if target == self.start {
                        // A loop: taken goes round again.
                        let out = self.b.create_block();
                        let taken = self.b.create_block();
                        self.b.ins().brif(c, taken, &[], out, &[]);
                        self.b.switch_to_block(out);
                        let p = self.b.ins().iconst(I64, fall as i64);
                        let count = self.count(n);
                        self.exit(p, count, 0);
                        self.b.switch_to_block(taken);
                        self.goto(target, n, head);
                    } else {
                        let p_t = self.b.ins().iconst(I64, target as i64);
                        let p_f = self.b.ins().iconst(I64, fall as i64);
                        let p = self.b.ins().select(c, p_t, p_f);
                        let count = self.count(n);
                        self.exit(p, count, 0);
                    }
                    return true;
                }
                self.exit_if(c, target, k + 1, 0);
                return false;
            }
            Op::Jal => {
                let link = self.b.ins().iconst(I64, fall as i64);
                self.set(i.rd, link);
                self.goto(pc.wrapping_add(imm as u64), n, head);
                return true;
            }
            Op::Jalr => {
                let a = a(self);
                let t = self.b.ins().iadd_imm_s(a, imm);
                let t = self.b.ins().band_imm_s(t, !1);
                let link = self.b.ins().iconst(I64, fall as i64);
                self.set(i.rd, link);
                let count = self.count(n);
                self.exit(t, count, 0);
                return true;
            }
            Op::Lb | Op::Lh | Op::Lw | Op::Ld | Op::Lbu | Op::Lhu | Op::Lwu => {
                let a = a(self);
                let addr = self.b.ins().iadd_imm_s(a, imm);
                let size = match i.op {
                    Op::Lb | Op::Lbu => 1,
                    Op::Lh | Op::Lhu => 2,
                    Op::Lw | Op::Lwu => 4,
                    _ => 8,
                };
                let h = self.host_addr(addr, size, false, pc, k);
                let f = MemFlagsData::trusted();
                match i.op {
                    Op::Lb => self.b.ins().sload8(I64, f, h, 0),
                    Op::Lbu => self.b.ins().uload8(I64, f, h, 0),
                    Op::Lh => self.b.ins().sload16(I64, f, h, 0),
                    Op::Lhu => self.b.ins().uload16(I64, f, h, 0),
                    Op::Lw => self.b.ins().sload32(f, h, 0),
                    Op::Lwu => self.b.ins().uload32(f, h, 0),
                    _ => self.b.ins().load(I64, f, h, 0),
                }
            }
            Op::Sb | Op::Sh | Op::Sw | Op::Sd => {
                let a = a(self);
                let v = bb(self);
                let addr = self.b.ins().iadd_imm_s(a, imm);
                let size = match i.op {
                    Op::Sb => 1,
                    Op::Sh => 2,
                    Op::Sw => 4,
                    _ => 8,
                };
                let h = self.host_addr(addr, size, true, pc, k);
                let f = MemFlagsData::trusted();
                match i.op {
                    Op::Sb => self.b.ins().istore8(f, v, h, 0),
                    Op::Sh => self.b.ins().istore16(f, v, h, 0),
                    Op::Sw => self.b.ins().istore32(f, v, h, 0),
                    _ => self.b.ins().store(f, v, h, 0),
                };
                return false;
            }
            Op::Fence => return false,
            op => unreachable!("jit: {op:?} is not translated"),
        };
        self.set(i.rd, v);
        false
    }

    /// A 64-bit register-register operation (spec 2.4, 7.1, 7.2).
    fn r64(&mut self, op: Op, a: Value, b: Value) -> Value {
        let ins = self.b.ins();
        match op {
            Op::Add => ins.iadd(a, b),
            Op::Sub => ins.isub(a, b),
            Op::Sll => ins.ishl(a, b),
            Op::Srl => ins.ushr(a, b),
            Op::Sra => ins.sshr(a, b),
            Op::Xor => ins.bxor(a, b),
            Op::Or => ins.bor(a, b),
            Op::And => ins.band(a, b),
            Op::Slt | Op::Sltu => {
                let cc = if op == Op::Slt {
                    IntCC::SignedLessThan
                } else {
                    IntCC::UnsignedLessThan
                };
                let c = ins.icmp(cc, a, b);
                self.b.ins().uextend(I64, c)
            }
            Op::Mul => ins.imul(a, b),
            Op::Mulh => ins.smulhi(a, b),
            Op::Mulhu => ins.umulhi(a, b),
            Op::Mulhsu => {
                // high(a_signed * b_unsigned) = high_u(a, b) - (a < 0 ? b : 0)
                let hi = ins.umulhi(a, b);
                let sign = self.b.ins().sshr_imm_s(a, 63);
                let fix = self.b.ins().band(sign, b);
                self.b.ins().isub(hi, fix)
            }
            _ => self.div(op, a, b),
        }
    }

    /// A 32-bit (`*w`) operation on the low halves; the caller sign-extends.
    fn r32(&mut self, op: Op, a: Value, b: Value) -> Value {
        let ins = self.b.ins();
        match op {
            Op::Addw => ins.iadd(a, b),
            Op::Subw => ins.isub(a, b),
            Op::Sllw => ins.ishl(a, b),
            Op::Srlw => ins.ushr(a, b),
            Op::Sraw => ins.sshr(a, b),
            _ => ins.imul(a, b), // Mulw
        }
    }

    /// 64-bit DIV/DIVU/REM/REMU with RISC-V's results for a zero
    /// divisor and signed overflow (spec 7.2), never trapping: the divisor
    /// is replaced by 1 where the host would trap, and the result selected.
    fn div(&mut self, op: Op, a: Value, b: Value) -> Value {
        let ins = self.b.ins();
        let one = ins.iconst(I64, 1);
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
        let signed = matches!(op, Op::Div | Op::Rem);
        let unsafe_div = if signed {
            // b == 0 or (a == MIN and b == -1): MIN / 1 = MIN and MIN % 1 = 0
            // are already RISC-V's overflow results.
            let a_min = self.b.ins().icmp_imm_s(IntCC::Equal, a, i64::MIN);
            let b_m1 = self.b.ins().icmp_imm_s(IntCC::Equal, b, -1);
            let ovf = self.b.ins().band(a_min, b_m1);
            self.b.ins().bor(zero, ovf)
        } else {
            zero
        };
        let d = self.b.ins().select(unsafe_div, one, b);
        let q = match op {
            Op::Div => self.b.ins().sdiv(a, d),
            Op::Divu => self.b.ins().udiv(a, d),
            Op::Rem => self.b.ins().srem(a, d),
            _ => self.b.ins().urem(a, d),
        };
        // Division by zero: quotient all ones, remainder the dividend.
        let on_zero = match op {
            Op::Div | Op::Divu => self.b.ins().iconst(I64, -1),
            _ => a,
        };
        self.b.ins().select(zero, on_zero, q)
    }
}
