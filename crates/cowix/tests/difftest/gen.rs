//! The test-case generator (spec sections are those of the unprivileged
//! ISA spec, version 20191213): random but valid rv64gc instruction sequences
//! over every extension (I, M, A, F, D, Zicsr on the FP CSRs, Zifencei, C),
//! with random initial integer, FP, `fcsr` and memory state.
//!
//! A sequence is a list of *groups*. A group is one instruction under test,
//! plus the set-up instructions it needs to be well defined: a memory access
//! is preceded by `addi rB, x31, k` that points its base register into the
//! scratch buffer; `jalr`/`c.jr` by the `auipc` that computes their target;
//! a write of `frm` by an `andi` that keeps the rounding mode valid. Forward
//! branches and jumps skip whole groups, so a set-up instruction is never
//! skipped without the instruction it sets up. Some cases also hold one
//! bounded loop (1-4 iterations, the count kept in memory), so that code
//! runs again on new values; every sequence terminates.
//!
//! Invariants every generated sequence keeps:
//! * x31 holds the scratch buffer's address and is never written (it may be
//!   read, as any register);
//! * every memory access lies inside the scratch buffer (or is the loop
//!   counter's, just past the harness's dump area); atomics are
//!   naturally aligned, other accesses may be misaligned (Linux emulates
//!   misaligned user loads and stores, so both must perform them);
//! * `frm` always holds a valid rounding mode (0-4), so dynamic-rounding
//!   instructions never trap;
//! * an LR and its SC are in one group with only register-to-register
//!   instructions between them, same address and width: whether an SC
//!   succeeds after an intervening store of the same hart, or after an LR of
//!   another width, is implementation-defined (spec 8.2), so it is not
//!   tested. An SC with no LR before it in the case (the harness drops any
//!   reservation before each case) must fail. A loop body holds no lone LR
//!   or SC, since its next iteration would run one after the other.

use crate::encode::{self, opc};
use crate::rng::Rng;
use crate::values;

/// Bytes of the scratch buffer every memory access of a sequence uses.
pub const SCRATCH: usize = 512;

/// The scratch buffer's register.
pub const BASE: u8 = 31;

/// Offset from x31 of a case's loop counter: past the scratch buffer and
/// the harness's dump area, where no generated access reaches.
pub const LOOP_COUNTER: i64 = 1024;

/// One encoded instruction of a sequence.
#[derive(Clone, Debug)]
pub struct Insn {
    /// The encoding (a 16-bit parcel zero-extended, or a 32-bit word).
    pub raw: u32,
    /// 2 or 4.
    pub len: u32,
    /// The generator's name for it, in objdump's `-M no-aliases` spelling.
    pub name: String,
    /// Set-up instruction of the group (not the one under test).
    pub setup: bool,
}

/// The state a case starts from.
#[derive(Clone, Debug)]
pub struct State {
    pub scratch: Vec<u8>,
    /// x1..x30 (x31 is the scratch base, set by the harness).
    pub x: [u64; 30],
    pub f: [u64; 32],
    pub fcsr: u64,
}

/// One test case: a start state and a straight-line (forward-branching) sequence.
#[derive(Clone, Debug)]
pub struct Case {
    pub state: State,
    pub code: Vec<Insn>,
}

impl Case {
    /// Number of instructions (set-up included).
    pub fn insns(&self) -> usize {
        self.code.len()
    }
}

/// A pc-relative instruction, encoded once the layout is known.
#[derive(Clone, Copy, Debug)]
enum Rel {
    /// B-type branch (funct3).
    Branch {
        f3: u32,
        rs1: u8,
        rs2: u8,
    },
    Jal {
        rd: u8,
    },
    CJ,
    CBranch {
        bnez: bool,
        rs1: u8,
    },
    /// `jalr rd, (target - anchor + odd)(rs1)`, rs1 holding the anchor's address.
    Jalr {
        rd: u8,
        rs1: u8,
        odd: bool,
    },
    /// `addi rd, rs1, target - anchor`, rs1 holding the anchor's address.
    AddPc {
        rd: u8,
        rs1: u8,
    },
}

#[derive(Clone, Debug)]
enum Item {
    Fixed(Insn),
    /// Encoded against the start of group `target` (the group count = the end),
    /// relative to the item `anchor` of the same group, or to itself.
    Rel {
        rel: Rel,
        name: &'static str,
        target: usize,
        anchor: Option<usize>,
    },
}

impl Item {
    fn len(&self) -> u32 {
        match self {
            Item::Fixed(i) => i.len,
            Item::Rel {
                rel: Rel::CJ | Rel::CBranch { .. },
                ..
            } => 2,
            Item::Rel { .. } => 4,
        }
    }
}

/// What an FP register currently holds, to bias operand choice towards
/// values of the operation's precision (a double read as a single is
/// almost always an improperly boxed value, i.e. the canonical NaN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prec {
    S,
    D,
}

/// Generates one case of `groups` groups.
pub fn case(rng: Rng, groups: usize) -> Case {
    let mut g = Gen {
        r: rng,
        groups: Vec::new(),
        n: groups,
        prec: [Prec::D; 32],
        lr_seen: false,
        lp: None,
        in_loop: false,
    };
    let state = g.state();
    for k in 0..32 {
        g.prec[k] = if state.f[k] >> 32 == 0xffff_ffff {
            Prec::S
        } else {
            Prec::D
        };
    }
    if groups >= 6 && g.r.chance(40) {
        let body = g.r.range(2, 8.min(groups as i64 - 3)) as usize;
        let init = g.r.below((groups - body - 1) as u64) as usize;
        g.lp = Some(Loop {
            init,
            tail: init + 1 + body,
        });
    }
    while g.groups.len() < groups {
        let here = g.groups.len();
        let items = match g.lp {
            Some(l) if here == l.init => g.loop_init(),
            Some(l) if here == l.tail => g.loop_tail(l),
            Some(l) => {
                g.in_loop = here > l.init && here < l.tail;
                g.group()
            }
            None => g.group(),
        };
        g.groups.push(items);
    }
    let code = layout(&g.groups);
    Case { state, code }
}

/// Resolves pc-relative items: every group's start offset is known once
/// lengths are, since an item's length does not depend on its offset.
fn layout(groups: &[Vec<Item>]) -> Vec<Insn> {
    let mut starts = Vec::with_capacity(groups.len() + 1);
    let mut off = 0i64;
    for g in groups {
        starts.push(off);
        off += g.iter().map(|i| i64::from(i.len())).sum::<i64>();
    }
    starts.push(off);
    let mut code = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let mut item_off = Vec::with_capacity(g.len());
        let mut o = starts[gi];
        for it in g {
            item_off.push(o);
            o += i64::from(it.len());
        }
        for (k, it) in g.iter().enumerate() {
            match it {
                Item::Fixed(i) => code.push(i.clone()),
                Item::Rel {
                    rel,
                    name,
                    target,
                    anchor,
                } => {
                    let t = starts[*target];
                    let here = item_off[k];
                    let base = anchor.map_or(here, |a| item_off[a]);
                    let (raw, len) = match *rel {
                        Rel::Branch { f3, rs1, rs2 } => (encode::b(f3, rs1, rs2, t - here), 4),
                        Rel::Jal { rd } => (encode::jal(rd, t - here), 4),
                        Rel::CJ => (encode::c_j(t - here), 2),
                        Rel::CBranch { bnez, rs1 } => (encode::c_branch(bnez, rs1, t - here), 2),
                        Rel::Jalr { rd, rs1, odd } => (
                            encode::i(opc::JALR, 0, rd, rs1, t - base + i64::from(odd)),
                            4,
                        ),
                        Rel::AddPc { rd, rs1 } => (encode::i(opc::OP_IMM, 0, rd, rs1, t - base), 4),
                    };
                    let setup = matches!(rel, Rel::AddPc { .. });
                    code.push(Insn {
                        raw,
                        len,
                        name: name.to_string(),
                        setup,
                    });
                }
            }
        }
    }
    code
}

struct Gen {
    r: Rng,
    groups: Vec<Vec<Item>>,
    /// Groups in the case.
    n: usize,
    prec: [Prec; 32],
    /// A standalone LR was generated: a later standalone SC might find its
    /// reservation, with an implementation-defined outcome, so none follows.
    lr_seen: bool,
    /// The case's loop, if it has one.
    lp: Option<Loop>,
    /// Generating the loop's body: no standalone LR or SC (a later
    /// iteration would run one after the other).
    in_loop: bool,
}

/// A bounded loop: group `init` stores an iteration count (1-4) at
/// [`LOOP_COUNTER`], groups `init + 1 .. tail` are the body, group `tail`
/// decrements the count and branches back while it is not zero. Branches
/// from before the loop never land inside it (they would skip `init`);
/// branches inside the body land at most on `tail`.
#[derive(Clone, Copy, Debug)]
struct Loop {
    init: usize,
    tail: usize,
}

/// The instruction `raw` (2 or 4 bytes, by its low bits), shown as `name`.
fn fixed(raw: u32, name: impl Into<String>, setup: bool) -> Item {
    let len = if raw & 3 == 3 { 4 } else { 2 };
    Item::Fixed(Insn {
        raw,
        len,
        name: name.into(),
        setup,
    })
}

/// An instruction under test.
fn ins(raw: u32, name: impl Into<String>) -> Item {
    fixed(raw, name, false)
}

/// A set-up instruction of its group (not the one under test).
fn setup(raw: u32, name: impl Into<String>) -> Item {
    fixed(raw, name, true)
}

/// `addi rd, x31, k`: points rd at scratch + k.
fn point(rd: u8, k: i64) -> Item {
    setup(encode::i(opc::OP_IMM, 0, rd, BASE, k), "addi")
}

impl Gen {
    // ---- state ----

    fn state(&mut self) -> State {
        let r = &mut self.r;
        // A fifth of the registers are related to an earlier one (equal,
        // negated, one off...), for cancellations and equal comparisons.
        let mut x = [0u64; 30];
        for k in 0..30 {
            x[k] = if k > 0 && r.chance(20) {
                let j = r.below(k as u64) as usize;
                values::related_int(r, x[j])
            } else {
                values::int(r)
            };
        }
        let mut f = [0u64; 32];
        for k in 0..32 {
            f[k] = if k > 0 && r.chance(20) {
                let j = r.below(k as u64) as usize;
                if f[j] >> 32 == 0xffff_ffff {
                    values::related_single(r, f[j])
                } else {
                    values::related_double(r, f[j])
                }
            } else if r.chance(50) {
                values::double(r)
            } else {
                values::boxed_single(r)
            };
        }
        let mut scratch = Vec::with_capacity(SCRATCH);
        while scratch.len() < SCRATCH {
            let v = match r.below(4) {
                0 => values::int(r),
                1 => values::double(r),
                2 => u64::from(values::single_bits(r)) | (u64::from(values::single_bits(r)) << 32),
                _ => r.next(),
            };
            scratch.extend_from_slice(&v.to_le_bytes());
        }
        State {
            scratch,
            x,
            f,
            fcsr: values::fcsr(r),
        }
    }

    // ---- operand choice ----

    /// A destination integer register: never x31, rarely x0.
    fn xd(&mut self) -> u8 {
        if self.r.chance(3) {
            0
        } else {
            self.r.range(1, 30) as u8
        }
    }

    /// A destination other than `avoid` (and x31).
    fn xd_not(&mut self, avoid: u8) -> u8 {
        loop {
            let d = self.xd();
            if d != avoid {
                return d;
            }
        }
    }

    /// A source integer register: any, x0 and x31 included.
    fn xs(&mut self) -> u8 {
        self.r.below(32) as u8
    }

    /// A register of the compressed 3-bit fields (x8..x15 / f8..f15).
    fn xc(&mut self) -> u8 {
        self.r.range(8, 15) as u8
    }

    /// A base register for a set-up address (x1..x30).
    fn xb(&mut self) -> u8 {
        self.r.range(1, 30) as u8
    }

    /// An FP source register, usually one holding a value of precision `p`.
    fn fs(&mut self, p: Prec) -> u8 {
        if self.r.chance(85) {
            let matching: Vec<u8> = (0..32).filter(|&k| self.prec[k as usize] == p).collect();
            if !matching.is_empty() {
                return self.r.pick(&matching);
            }
        }
        self.r.below(32) as u8
    }

    /// An FP destination register, now holding a value of precision `p`.
    fn fd(&mut self, p: Prec) -> u8 {
        let d = self.r.below(32) as u8;
        self.prec[d as usize] = p;
        d
    }

    /// A valid rounding-mode field: static 0-4 or dynamic (7).
    fn rm(&mut self) -> u32 {
        let k = self.r.below(7);
        if k >= 5 {
            7
        } else {
            k as u32
        }
    }

    fn prec(&mut self) -> (Prec, u32, &'static str) {
        if self.r.chance(50) {
            (Prec::S, 0, "s")
        } else {
            (Prec::D, 1, "d")
        }
    }

    /// A 12-bit immediate, boundaries often.
    fn imm12(&mut self) -> i64 {
        match self.r.below(6) {
            0 => self.r.pick(&[0, 1, -1, 2047, -2048, 0x7ff, -2, 31, 32, 63]),
            1 | 2 => self.r.range(-16, 16),
            _ => self.r.range(-2048, 2047),
        }
    }

    /// A 6-bit signed immediate (compressed).
    fn imm6(&mut self) -> i64 {
        self.r.range(-32, 31)
    }

    /// An effective offset into the scratch buffer for a `w`-byte access,
    /// naturally aligned if `aligned` (else usually aligned anyway).
    fn ea(&mut self, w: usize, aligned: bool) -> i64 {
        let e = self.r.below((SCRATCH - w + 1) as u64) as i64;
        if aligned || self.r.chance(70) {
            e & !(w as i64 - 1)
        } else {
            e
        }
    }

    // ---- groups ----

    fn group(&mut self) -> Vec<Item> {
        const KINDS: [u32; 20] = [
            14, // 0 integer register-register (I, M)
            10, // 1 integer immediate, lui, auipc
            8,  // 2 integer loads and stores
            4,  // 3 FP loads and stores
            4,  // 4 AMOs
            3,  // 5 LR/SC
            10, // 6 FP arithmetic
            5,  // 7 fused multiply-add
            2,  // 8 fsqrt
            5,  // 9 fsgnj, fmin/fmax
            9,  // 10 fcvt
            3,  // 11 fmv
            4,  // 12 compare, fclass
            5,  // 13 CSR
            9,  // 14 compressed integer
            5,  // 15 compressed loads and stores
            4,  // 16 branches
            3,  // 17 jumps
            1,  // 18 fences
            2,  // 19 compressed jumps and branches
        ];
        match self.r.weighted(&KINDS) {
            0 => vec![self.int_rr()],
            1 => vec![self.int_imm()],
            2 => self.int_mem(),
            3 => self.fp_mem(),
            4 => self.amo(),
            5 => self.lrsc(),
            6 => vec![self.fp_arith()],
            7 => vec![self.fma()],
            8 => vec![self.fsqrt()],
            9 => vec![self.fsgnj_minmax()],
            10 => vec![self.fcvt()],
            11 => vec![self.fmv()],
            12 => vec![self.fcmp()],
            13 => self.csr(),
            14 => self.c_int(),
            15 => self.c_mem(),
            16 => self.branch(),
            17 => self.jump(),
            18 => vec![self.fence()],
            _ => self.c_jump(),
        }
    }

    /// OP and OP-32, base and M (spec 2.4.2, 5.2, 7.1, 7.2).
    fn int_rr(&mut self) -> Item {
        const OPS: [(&str, u32, u32, u32); 28] = [
            ("add", opc::OP, 0, 0),
            ("sub", opc::OP, 0, 0x20),
            ("sll", opc::OP, 1, 0),
            ("slt", opc::OP, 2, 0),
            ("sltu", opc::OP, 3, 0),
            ("xor", opc::OP, 4, 0),
            ("srl", opc::OP, 5, 0),
            ("sra", opc::OP, 5, 0x20),
            ("or", opc::OP, 6, 0),
            ("and", opc::OP, 7, 0),
            ("addw", opc::OP_32, 0, 0),
            ("subw", opc::OP_32, 0, 0x20),
            ("sllw", opc::OP_32, 1, 0),
            ("srlw", opc::OP_32, 5, 0),
            ("sraw", opc::OP_32, 5, 0x20),
            ("mul", opc::OP, 0, 1),
            ("mulh", opc::OP, 1, 1),
            ("mulhsu", opc::OP, 2, 1),
            ("mulhu", opc::OP, 3, 1),
            ("div", opc::OP, 4, 1),
            ("divu", opc::OP, 5, 1),
            ("rem", opc::OP, 6, 1),
            ("remu", opc::OP, 7, 1),
            ("mulw", opc::OP_32, 0, 1),
            ("divw", opc::OP_32, 4, 1),
            ("divuw", opc::OP_32, 5, 1),
            ("remw", opc::OP_32, 6, 1),
            ("remuw", opc::OP_32, 7, 1),
        ];
        let (name, op, f3, f7) = self.r.pick(&OPS);
        let (rd, rs1, rs2) = (self.xd(), self.xs(), self.xs());
        ins(encode::r(op, f3, f7, rd, rs1, rs2), name)
    }

    /// OP-IMM, OP-IMM-32, LUI, AUIPC (spec 2.4.1, 5.2).
    fn int_imm(&mut self) -> Item {
        let (rd, rs1) = (self.xd(), self.xs());
        match self.r.below(13) {
            k @ 0..=5 => {
                let (name, f3) = [
                    ("addi", 0),
                    ("slti", 2),
                    ("sltiu", 3),
                    ("xori", 4),
                    ("ori", 6),
                    ("andi", 7),
                ][k as usize];
                let imm = self.imm12();
                ins(encode::i(opc::OP_IMM, f3, rd, rs1, imm), name)
            }
            6 => {
                let sh = self.r.below(64) as i64;
                ins(encode::i(opc::OP_IMM, 1, rd, rs1, sh), "slli")
            }
            7 => {
                let sh = self.r.below(64) as i64;
                if self.r.chance(50) {
                    ins(encode::i(opc::OP_IMM, 5, rd, rs1, sh), "srli")
                } else {
                    ins(encode::i(opc::OP_IMM, 5, rd, rs1, sh | 0x400), "srai")
                }
            }
            8 => {
                let imm = self.imm12();
                ins(encode::i(opc::OP_IMM_32, 0, rd, rs1, imm), "addiw")
            }
            9 => {
                let sh = self.r.below(32) as i64;
                match self.r.below(3) {
                    0 => ins(encode::i(opc::OP_IMM_32, 1, rd, rs1, sh), "slliw"),
                    1 => ins(encode::i(opc::OP_IMM_32, 5, rd, rs1, sh), "srliw"),
                    _ => ins(encode::i(opc::OP_IMM_32, 5, rd, rs1, sh | 0x400), "sraiw"),
                }
            }
            10 | 11 => {
                let imm = self.upper20();
                ins(encode::u(opc::LUI, rd, imm), "lui")
            }
            _ => {
                let imm = self.upper20();
                ins(encode::u(opc::AUIPC, rd, imm), "auipc")
            }
        }
    }

    fn upper20(&mut self) -> u32 {
        match self.r.below(4) {
            0 => self.r.pick(&[0, 1, 0x7ffff, 0x80000, 0xfffff, 0x80001]),
            _ => self.r.below(1 << 20) as u32,
        }
    }

    /// Points a base register at scratch + e - off for an access at offset
    /// `off` from it: x31 itself when the offset fits, else a set-up `addi`.
    fn base_for(&mut self, items: &mut Vec<Item>, e: i64) -> (u8, i64) {
        if self.r.chance(30) {
            return (BASE, e);
        }
        let off = match self.r.below(4) {
            0 => self.r.pick(&[2047, -1536, 0, -1, 1]),
            _ => self.r.range(-1536, 2047),
        };
        let rb = self.xb();
        items.push(point(rb, e - off));
        (rb, off)
    }

    /// Integer loads and stores of every width and signedness (spec 2.6, 5.3).
    fn int_mem(&mut self) -> Vec<Item> {
        const OPS: [(&str, bool, u32, usize); 11] = [
            ("lb", true, 0, 1),
            ("lh", true, 1, 2),
            ("lw", true, 2, 4),
            ("ld", true, 3, 8),
            ("lbu", true, 4, 1),
            ("lhu", true, 5, 2),
            ("lwu", true, 6, 4),
            ("sb", false, 0, 1),
            ("sh", false, 1, 2),
            ("sw", false, 2, 4),
            ("sd", false, 3, 8),
        ];
        let (name, load, f3, w) = self.r.pick(&OPS);
        let mut items = Vec::new();
        let e = self.ea(w, false);
        let (rb, off) = self.base_for(&mut items, e);
        if load {
            let rd = self.xd();
            items.push(ins(encode::i(opc::LOAD, f3, rd, rb, off), name));
        } else {
            let rs2 = self.xs();
            items.push(ins(encode::s(opc::STORE, f3, rb, rs2, off), name));
        }
        items
    }

    /// flw, fld, fsw, fsd (spec 11.5, 12.3).
    fn fp_mem(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        let (p, fmt, _) = self.prec();
        let w = if fmt == 0 { 4 } else { 8 };
        let e = self.ea(w, false);
        let (rb, off) = self.base_for(&mut items, e);
        let f3 = if fmt == 0 { 2 } else { 3 };
        if self.r.chance(50) {
            let rd = self.fd(p);
            let name = if fmt == 0 { "flw" } else { "fld" };
            items.push(ins(encode::i(opc::LOAD_FP, f3, rd, rb, off), name));
        } else {
            let rs2 = self.fs(p);
            let name = if fmt == 0 { "fsw" } else { "fsd" };
            items.push(ins(encode::s(opc::STORE_FP, f3, rb, rs2, off), name));
        }
        items
    }

    fn aqrl(&mut self) -> (bool, bool, &'static str) {
        match self.r.below(4) {
            0 => (false, false, ""),
            1 => (true, false, ".aq"),
            2 => (false, true, ".rl"),
            _ => (true, true, ".aqrl"),
        }
    }

    /// Every AMO, .W and .D, with random aq/rl bits (spec 8.4).
    fn amo(&mut self) -> Vec<Item> {
        const OPS: [(&str, u32); 9] = [
            ("amoswap", 0b00001),
            ("amoadd", 0b00000),
            ("amoxor", 0b00100),
            ("amoand", 0b01100),
            ("amoor", 0b01000),
            ("amomin", 0b10000),
            ("amomax", 0b10100),
            ("amominu", 0b11000),
            ("amomaxu", 0b11100),
        ];
        let (name, f5) = self.r.pick(&OPS);
        let (wf3, w, sfx) = if self.r.chance(50) {
            (2, 4, "w")
        } else {
            (3, 8, "d")
        };
        let e = self.ea(w, true);
        let mut items = Vec::new();
        let rb = if e == 0 && self.r.chance(30) {
            BASE
        } else {
            let rb = self.xb();
            items.push(point(rb, e));
            rb
        };
        let (aq, rl, o) = self.aqrl();
        let (rd, rs2) = (self.xd(), self.xs());
        items.push(ins(
            encode::amo(f5, aq, rl, wf3, rd, rb, rs2),
            format!("{name}.{sfx}{o}"),
        ));
        items
    }

    /// LR/SC: a pair on one address (SC succeeds), a pair on different
    /// addresses (SC must fail), a lone SC (must fail), a lone LR.
    fn lrsc(&mut self) -> Vec<Item> {
        let (wf3, w, sfx) = if self.r.chance(50) {
            (2, 4, "w")
        } else {
            (3, 8, "d")
        };
        let mut items = Vec::new();
        let e = self.ea(w, true);
        let rb = self.xb();
        items.push(point(rb, e));
        let mut kind = self.r.below(10);
        if self.in_loop && kind >= 8 {
            kind = 0;
        }
        let lone_sc = kind == 8 && !self.lr_seen;
        if !lone_sc {
            let (aq, rl, o) = self.aqrl();
            let rd = self.xd_not(rb);
            items.push(ins(
                encode::amo(0b00010, aq, rl, wf3, rd, rb, 0),
                format!("lr.{sfx}{o}"),
            ));
            if kind >= 8 {
                self.lr_seen = true;
                return items;
            }
            for _ in 0..self.r.below(3) {
                // Register-only fillers that leave the base alone.
                let it = self.int_rr_not(rb);
                items.push(it);
            }
        }
        let mut sc_base = rb;
        if kind == 7 {
            // A different address: the SC must fail.
            let mut e2 = self.ea(w, true);
            if e2 == e {
                e2 = (e + w as i64) % SCRATCH as i64;
            }
            sc_base = self.xb();
            items.push(point(sc_base, e2));
        }
        let (aq, rl, o) = self.aqrl();
        let (rd, rs2) = (self.xd(), self.xs());
        items.push(ins(
            encode::amo(0b00011, aq, rl, wf3, rd, sc_base, rs2),
            format!("sc.{sfx}{o}"),
        ));
        items
    }

    /// A register-register integer instruction that does not write `avoid`.
    fn int_rr_not(&mut self, avoid: u8) -> Item {
        loop {
            let it = self.int_rr();
            if let Item::Fixed(i) = &it {
                if ((i.raw >> 7) & 31) as u8 != avoid {
                    return it;
                }
            }
        }
    }

    /// fadd, fsub, fmul, fdiv (spec 11.6).
    fn fp_arith(&mut self) -> Item {
        let (p, fmt, sfx) = self.prec();
        let (name, f5) = self
            .r
            .pick(&[("fadd", 0u32), ("fsub", 1), ("fmul", 2), ("fdiv", 3)]);
        let rm = self.rm();
        let (rs1, rs2) = (self.fs(p), self.fs(p));
        let rd = self.fd(p);
        ins(
            encode::r(opc::OP_FP, rm, (f5 << 2) | fmt, rd, rs1, rs2),
            format!("{name}.{sfx}"),
        )
    }

    /// fmadd, fmsub, fnmsub, fnmadd (spec 11.6).
    fn fma(&mut self) -> Item {
        let (p, fmt, sfx) = self.prec();
        let (name, k) = self
            .r
            .pick(&[("fmadd", 0u32), ("fmsub", 1), ("fnmsub", 2), ("fnmadd", 3)]);
        let rm = self.rm();
        let (rs1, rs2, rs3) = (self.fs(p), self.fs(p), self.fs(p));
        let rd = self.fd(p);
        ins(
            encode::r4(opc::MADD + 4 * k, fmt, rm, rd, rs1, rs2, rs3),
            format!("{name}.{sfx}"),
        )
    }

    fn fsqrt(&mut self) -> Item {
        let (p, fmt, sfx) = self.prec();
        let rm = self.rm();
        let rs1 = self.fs(p);
        let rd = self.fd(p);
        ins(
            encode::r(opc::OP_FP, rm, (0b01011 << 2) | fmt, rd, rs1, 0),
            format!("fsqrt.{sfx}"),
        )
    }

    /// fsgnj, fsgnjn, fsgnjx, fmin, fmax (spec 11.6).
    fn fsgnj_minmax(&mut self) -> Item {
        let (p, fmt, sfx) = self.prec();
        let (name, f5, f3) = self.r.pick(&[
            ("fsgnj", 0b00100u32, 0u32),
            ("fsgnjn", 0b00100, 1),
            ("fsgnjx", 0b00100, 2),
            ("fmin", 0b00101, 0),
            ("fmax", 0b00101, 1),
        ]);
        let rs1 = self.fs(p);
        let rs2 = if self.r.chance(15) { rs1 } else { self.fs(p) };
        let rd = self.fd(p);
        ins(
            encode::r(opc::OP_FP, f3, (f5 << 2) | fmt, rd, rs1, rs2),
            format!("{name}.{sfx}"),
        )
    }

    /// Every conversion: float to int, int to float (W, WU, L, LU), and
    /// between single and double (spec 11.7, 12.5).
    fn fcvt(&mut self) -> Item {
        let rm = self.rm();
        match self.r.below(5) {
            0 | 1 => {
                let (p, fmt, sfx) = self.prec();
                let k = self.r.below(4) as u8;
                let int = ["w", "wu", "l", "lu"][k as usize];
                let rs1 = self.fs(p);
                let rd = self.xd();
                let raw = encode::r(opc::OP_FP, rm, (0b11000 << 2) | fmt, rd, rs1, k);
                ins(raw, format!("fcvt.{int}.{sfx}"))
            }
            2 | 3 => {
                let (p, fmt, sfx) = self.prec();
                let k = self.r.below(4) as u8;
                let int = ["w", "wu", "l", "lu"][k as usize];
                let rs1 = self.xs();
                let rd = self.fd(p);
                let raw = encode::r(opc::OP_FP, rm, (0b11010 << 2) | fmt, rd, rs1, k);
                ins(raw, format!("fcvt.{sfx}.{int}"))
            }
            _ => {
                if self.r.chance(50) {
                    let rs1 = self.fs(Prec::D);
                    let rd = self.fd(Prec::S);
                    ins(encode::r(opc::OP_FP, rm, 0b0100000, rd, rs1, 1), "fcvt.s.d")
                } else {
                    let rs1 = self.fs(Prec::S);
                    let rd = self.fd(Prec::D);
                    ins(encode::r(opc::OP_FP, rm, 0b0100001, rd, rs1, 0), "fcvt.d.s")
                }
            }
        }
    }

    /// fmv.x.w, fmv.x.d, fmv.w.x, fmv.d.x (spec 11.7, 12.5).
    fn fmv(&mut self) -> Item {
        let (p, fmt, _) = self.prec();
        let w = if fmt == 0 { "w" } else { "d" };
        if self.r.chance(50) {
            // To an integer register: the raw bits, NaN-boxed or not.
            let rs1 = if self.r.chance(70) {
                self.fs(p)
            } else {
                self.r.below(32) as u8
            };
            let rd = self.xd();
            ins(
                encode::r(opc::OP_FP, 0, (0b11100 << 2) | fmt, rd, rs1, 0),
                format!("fmv.x.{w}"),
            )
        } else {
            let rs1 = self.xs();
            let rd = self.fd(p);
            ins(
                encode::r(opc::OP_FP, 0, (0b11110 << 2) | fmt, rd, rs1, 0),
                format!("fmv.{w}.x"),
            )
        }
    }

    /// feq, flt, fle, fclass (spec 11.8, 11.9).
    fn fcmp(&mut self) -> Item {
        let (p, fmt, sfx) = self.prec();
        let rd = self.xd();
        if self.r.chance(25) {
            let rs1 = if self.r.chance(80) {
                self.fs(p)
            } else {
                self.r.below(32) as u8
            };
            return ins(
                encode::r(opc::OP_FP, 1, (0b11100 << 2) | fmt, rd, rs1, 0),
                format!("fclass.{sfx}"),
            );
        }
        let (name, f3) = self.r.pick(&[("feq", 2u32), ("flt", 1), ("fle", 0)]);
        let rs1 = self.fs(p);
        let rs2 = if self.r.chance(15) { rs1 } else { self.fs(p) };
        ins(
            encode::r(opc::OP_FP, f3, (0b10100 << 2) | fmt, rd, rs1, rs2),
            format!("{name}.{sfx}"),
        )
    }

    /// Zicsr on fflags, frm, fcsr (spec 9.1, 11.2). Writes that could make
    /// `frm` invalid go through an `andi` that clears the offending bits.
    fn csr(&mut self) -> Vec<Item> {
        let csr = self.r.range(1, 3);
        let rd = self.xd();
        let mut items = Vec::new();
        let form = self.r.below(6) as u32; // csrrw, csrrs, csrrc, then the immediate forms
        let names = ["csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"];
        let f3 = if form < 3 { form + 1 } else { form + 2 };
        let src: u8 = if form < 3 {
            // Register source, masked when it would set a bad frm.
            let mask: Option<i64> = match (csr, form) {
                (2, 0) => Some(self.r.pick(&[-4, -5])), // frm := {0,4} / 0..3
                (2, 1) => Some(-8),                     // frm |= 0
                (3, 0) => Some(self.r.pick(&[-129, -97])), // frm := 0..3 / {0,4}
                (3, 1) => Some(-225),                   // frm |= 0
                _ => None,
            };
            let rs = if self.r.chance(10) { 0 } else { self.xs() };
            match mask {
                Some(m) if rs != 0 => {
                    let t = self.xb();
                    items.push(setup(encode::i(opc::OP_IMM, 7, t, rs, m), "andi"));
                    t
                }
                _ => rs,
            }
        } else {
            let mut u = self.r.below(32) as u8;
            if csr == 2 && form == 3 && u & 7 > 4 {
                u &= !3; // csrrwi frm: low three bits 0..4
            }
            if csr == 2 && form == 4 {
                u &= !7; // csrrsi frm: sets no frm bit
            }
            u
        };
        let raw = encode::i(opc::SYSTEM, f3, rd, src, csr);
        items.push(ins(raw, names[form as usize]));
        items
    }

    /// Every RV64C integer computational instruction, HINT forms included
    /// (spec 16.5). Reserved encodings are never generated.
    fn c_int(&mut self) -> Vec<Item> {
        match self.r.below(16) {
            0 => {
                // c.addi (rd = 0 with imm = 0 is c.nop; the other rd = 0 / imm = 0 forms are HINTs)
                let rd = if self.r.chance(5) {
                    0
                } else {
                    self.r.range(1, 30) as u8
                };
                let imm = if self.r.chance(5) { 0 } else { self.nz6() };
                let name = if rd == 0 { "c.nop" } else { "c.addi" };
                vec![ins(encode::c_ci(0, rd, imm), name)]
            }
            1 => {
                let rd = self.r.range(1, 30) as u8;
                let imm = self.imm6();
                vec![ins(encode::c_ci(1, rd, imm), "c.addiw")]
            }
            2 => {
                let rd = self.xd();
                let imm = self.imm6();
                vec![ins(encode::c_ci(2, rd, imm), "c.li")]
            }
            3 => {
                let rd = loop {
                    let d = self.xd();
                    if d != 2 {
                        break d;
                    }
                };
                let imm = self.nz6();
                vec![ins(encode::c_lui(rd, imm), "c.lui")]
            }
            4 => {
                let imm = loop {
                    let v = self.r.range(-32, 31) * 16;
                    if v != 0 {
                        break v;
                    }
                };
                vec![ins(encode::c_addi16sp(imm), "c.addi16sp")]
            }
            5 => {
                let rd = self.xc();
                let u = self.r.range(1, 255) as u32 * 4;
                vec![ins(encode::c_addi4spn(rd, u), "c.addi4spn")]
            }
            6 | 7 => {
                let kind = self.r.below(3) as u32;
                let rd = self.xc();
                let imm = if kind == 2 {
                    self.imm6()
                } else if self.r.chance(5) {
                    0 // HINT
                } else {
                    self.r.range(1, 63)
                };
                vec![ins(
                    encode::c_shift_andi(kind, rd, imm),
                    ["c.srli", "c.srai", "c.andi"][kind as usize],
                )]
            }
            8..=10 => {
                let (word, f2, name) = self.r.pick(&[
                    (false, 0u32, "c.sub"),
                    (false, 1, "c.xor"),
                    (false, 2, "c.or"),
                    (false, 3, "c.and"),
                    (true, 0, "c.subw"),
                    (true, 1, "c.addw"),
                ]);
                let (rd, rs2) = (self.xc(), self.xc());
                vec![ins(encode::c_arith(word, f2, rd, rs2), name)]
            }
            11 | 12 => {
                let rd = if self.r.chance(5) {
                    0
                } else {
                    self.r.range(1, 30) as u8
                };
                let sh = if self.r.chance(5) {
                    0
                } else {
                    self.r.range(1, 63) as u32
                };
                vec![ins(encode::c_slli(rd, sh), "c.slli")]
            }
            13 | 14 => {
                let rd = if self.r.chance(5) {
                    0
                } else {
                    self.r.range(1, 30) as u8
                };
                let rs2 = self.r.range(1, 31) as u8;
                vec![ins(encode::c_cr(false, rd, rs2), "c.mv")]
            }
            _ => {
                let rd = if self.r.chance(5) {
                    0
                } else {
                    self.r.range(1, 30) as u8
                };
                let rs2 = self.r.range(1, 31) as u8;
                vec![ins(encode::c_cr(true, rd, rs2), "c.add")]
            }
        }
    }

    fn nz6(&mut self) -> i64 {
        loop {
            let v = self.imm6();
            if v != 0 {
                return v;
            }
        }
    }

    /// Every RV64C load and store, register-based and sp-based (spec 16.3, 16.4).
    fn c_mem(&mut self) -> Vec<Item> {
        let mut items = Vec::new();
        let k = self.r.below(12);
        let w: usize = match k {
            0 | 3 | 6 | 9 => 4,
            _ => 8,
        };
        let e = self.ea(w, false);
        if k < 6 {
            // Register-based: base and data in x8..x15 / f8..f15.
            let base = self.xc();
            let uoff = if w == 4 {
                self.r.below(32) as u32 * 4
            } else {
                self.r.below(32) as u32 * 8
            };
            items.push(point(base, e - i64::from(uoff)));
            let it = match k {
                0 => ins(encode::c_lsw(2, 0, self.xc(), base, uoff), "c.lw"),
                1 => ins(encode::c_lsd(3, 0, self.xc(), base, uoff), "c.ld"),
                2 => {
                    let rd = self.xc();
                    self.prec[rd as usize] = Prec::D;
                    ins(encode::c_lsd(1, 0, rd, base, uoff), "c.fld")
                }
                3 => ins(encode::c_lsw(6, 0, self.xc(), base, uoff), "c.sw"),
                4 => ins(encode::c_lsd(7, 0, self.xc(), base, uoff), "c.sd"),
                _ => ins(encode::c_lsd(5, 0, self.xc(), base, uoff), "c.fsd"),
            };
            items.push(it);
        } else {
            // sp-based.
            let uoff = if w == 4 {
                self.r.below(64) as u32 * 4
            } else {
                self.r.below(64) as u32 * 8
            };
            items.push(point(2, e - i64::from(uoff)));
            let it = match k {
                6 => ins(encode::c_lwsp(self.r.range(1, 30) as u8, uoff), "c.lwsp"),
                7 => ins(encode::c_ldsp(3, self.r.range(1, 30) as u8, uoff), "c.ldsp"),
                8 => {
                    let rd = self.fd(Prec::D);
                    ins(encode::c_ldsp(1, rd, uoff), "c.fldsp")
                }
                9 => ins(encode::c_swsp(self.xs(), uoff), "c.swsp"),
                10 => ins(encode::c_sdsp(7, self.xs(), uoff), "c.sdsp"),
                _ => ins(encode::c_sdsp(5, self.r.below(32) as u8, uoff), "c.fsdsp"),
            };
            items.push(it);
        }
        items
    }

    /// The start of a group 1-4 groups past the next one (or the end).
    fn forward_target(&mut self) -> usize {
        let here = self.groups.len();
        let mut t = (here + 1 + self.r.range(1, 4) as usize).min(self.n);
        if let Some(l) = self.lp {
            if here < l.init && t > l.init && t <= l.tail {
                t = l.init;
            }
            if here > l.init && here < l.tail {
                t = t.min(l.tail);
            }
        }
        t
    }

    /// The loop's first group: the iteration count into memory.
    fn loop_init(&mut self) -> Vec<Item> {
        let t = self.xb();
        let n = self.r.range(1, 4);
        vec![
            setup(encode::i(opc::OP_IMM, 0, t, 0, n), "addi"),
            setup(encode::s(opc::STORE, 3, BASE, t, LOOP_COUNTER), "sd"),
        ]
    }

    /// The loop's last group: count down, branch back to the body.
    fn loop_tail(&mut self, l: Loop) -> Vec<Item> {
        let t = self.xb();
        let mut items = vec![
            setup(encode::i(opc::LOAD, 3, t, BASE, LOOP_COUNTER), "ld"),
            setup(encode::i(opc::OP_IMM, 0, t, t, -1), "addi"),
            setup(encode::s(opc::STORE, 3, BASE, t, LOOP_COUNTER), "sd"),
        ];
        let target = l.init + 1;
        let anchor = None;
        if (8..16).contains(&t) && self.r.chance(50) {
            let rel = Rel::CBranch { bnez: true, rs1: t };
            items.push(Item::Rel {
                rel,
                name: "c.bnez",
                target,
                anchor,
            });
        } else {
            let rel = Rel::Branch {
                f3: 1,
                rs1: t,
                rs2: 0,
            };
            items.push(Item::Rel {
                rel,
                name: "bne",
                target,
                anchor,
            });
        }
        items
    }

    /// beq, bne, blt, bge, bltu, bgeu forward over a few groups (spec 2.5.2).
    fn branch(&mut self) -> Vec<Item> {
        let (name, f3) = self.r.pick(&[
            ("beq", 0u32),
            ("bne", 1),
            ("blt", 4),
            ("bge", 5),
            ("bltu", 6),
            ("bgeu", 7),
        ]);
        let rs1 = self.xs();
        let rs2 = if self.r.chance(10) { rs1 } else { self.xs() };
        let target = self.forward_target();
        vec![Item::Rel {
            rel: Rel::Branch { f3, rs1, rs2 },
            name,
            target,
            anchor: None,
        }]
    }

    /// jal, and jalr through an `auipc` (odd offsets too: jalr clears bit 0, spec 2.5.1).
    fn jump(&mut self) -> Vec<Item> {
        let target = self.forward_target();
        let rd = self.xd();
        if self.r.chance(40) {
            return vec![Item::Rel {
                rel: Rel::Jal { rd },
                name: "jal",
                target,
                anchor: None,
            }];
        }
        let rs1 = self.xb();
        let odd = self.r.chance(30);
        vec![
            setup(encode::u(opc::AUIPC, rs1, 0), "auipc"),
            Item::Rel {
                rel: Rel::Jalr { rd, rs1, odd },
                name: "jalr",
                target,
                anchor: Some(0),
            },
        ]
    }

    /// c.j, c.beqz, c.bnez, c.jr, c.jalr (spec 16.4).
    fn c_jump(&mut self) -> Vec<Item> {
        let target = self.forward_target();
        match self.r.below(5) {
            0 => vec![Item::Rel {
                rel: Rel::CJ,
                name: "c.j",
                target,
                anchor: None,
            }],
            1 | 2 => {
                let bnez = self.r.chance(50);
                let rs1 = self.xc();
                let name = if bnez { "c.bnez" } else { "c.beqz" };
                vec![Item::Rel {
                    rel: Rel::CBranch { bnez, rs1 },
                    name,
                    target,
                    anchor: None,
                }]
            }
            k => {
                let rs1 = self.xb();
                let (high, name) = if k == 3 {
                    (false, "c.jr")
                } else {
                    (true, "c.jalr")
                };
                vec![
                    setup(encode::u(opc::AUIPC, rs1, 0), "auipc"),
                    Item::Rel {
                        rel: Rel::AddPc { rd: rs1, rs1 },
                        name: "addi",
                        target,
                        anchor: Some(0),
                    },
                    ins(encode::c_cr(high, rs1, 0), name),
                ]
            }
        }
    }

    /// fence (random predecessor/successor sets), fence.tso, fence.i (spec 2.7, 3).
    fn fence(&mut self) -> Item {
        match self.r.below(4) {
            0 => ins(
                encode::i(opc::MISC_MEM, 0, 0, 0, 0x833 - 0x1000),
                "fence.tso",
            ),
            1 => ins(encode::i(opc::MISC_MEM, 1, 0, 0, 0), "fence.i"),
            _ => {
                let pred = self.r.range(1, 15);
                let succ = self.r.range(1, 15);
                ins(
                    encode::i(opc::MISC_MEM, 0, 0, 0, (pred << 4) | succ),
                    "fence",
                )
            }
        }
    }
}
