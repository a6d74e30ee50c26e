//! The block translator (`jit.rs`) must be invisible: on random integer
//! programs (loops, side exits, loads and stores, misaligned accesses,
//! division corner cases, CSR reads of `instret` between translated
//! stretches) and at every budget, a hart that translates every block at
//! its first run ends in exactly the state of one that only interprets.

mod common;
use common::*;
use cowix_isa::{Access, Cpu, Exit, MemFault};

/// A small xorshift generator (deterministic tests).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
}

fn r(f7: u32, rs2: u32, rs1: u32, f3: u32, rd: u32, opc: u32) -> u32 {
    f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc
}
fn i(imm: i32, rs1: u32, f3: u32, rd: u32, opc: u32) -> u32 {
    ((imm as u32) & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc
}
fn s(imm: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    let imm = imm as u32;
    ((imm >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (imm & 0x1f) << 7 | 0x23
}
fn b(off: i32, rs2: u32, rs1: u32, f3: u32) -> u32 {
    let o = off as u32;
    ((o >> 12) & 1) << 31
        | ((o >> 5) & 0x3f) << 25
        | rs2 << 20
        | rs1 << 15
        | f3 << 12
        | ((o >> 1) & 0xf) << 8
        | ((o >> 11) & 1) << 7
        | 0x63
}

/// The data pointer (x5) and the loop counter (x6) are never destinations.
const PTR: u32 = 5;
const CTR: u32 = 6;

/// A random destination (x0 sometimes, never PTR/CTR) and source.
fn rd(g: &mut Rng) -> u32 {
    g.pick(&[0, 1, 7, 8, 9, 10, 11, 12, 13, 14, 15, 28, 29, 30, 31])
}
fn rs(g: &mut Rng) -> u32 {
    g.pick(&[0, 1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 28, 29, 30, 31])
}

/// One random straight-line instruction.
fn random_insn(g: &mut Rng) -> u32 {
    let imm = (g.next() as i32) >> 20; // 12-bit signed
    match g.below(12) {
        0 | 1 => {
            // OP and OP-32, with M.
            let (f7, f3) = g.pick(&[
                (0, 0),
                (0x20, 0),
                (0, 1),
                (0, 2),
                (0, 3),
                (0, 4),
                (0, 5),
                (0x20, 5),
                (0, 6),
                (0, 7),
                (1, 0),
                (1, 1),
                (1, 2),
                (1, 3),
                (1, 4),
                (1, 5),
                (1, 6),
                (1, 7),
            ]);
            r(f7, rs(g), rs(g), f3, rd(g), 0x33)
        }
        2 => {
            let (f7, f3) = g.pick(&[
                (0, 0),
                (0x20, 0),
                (0, 1),
                (0, 5),
                (0x20, 5),
                (1, 0),
                (1, 4),
                (1, 5),
                (1, 6),
                (1, 7),
            ]);
            r(f7, rs(g), rs(g), f3, rd(g), 0x3b)
        }
        3 | 4 => {
            // OP-IMM
            let f3 = g.pick(&[0, 2, 3, 4, 6, 7, 1, 5]);
            let imm = match f3 {
                1 => (g.below(64)) as i32,
                5 => (g.below(64) as i32) | if g.below(2) == 0 { 0x400 } else { 0 },
                _ => imm,
            };
            i(imm, rs(g), f3, rd(g), 0x13)
        }
        5 => {
            let f3 = g.pick(&[0, 1, 5]);
            let imm = match f3 {
                0 => imm,
                1 => g.below(32) as i32,
                _ => (g.below(32) as i32) | if g.below(2) == 0 { 0x400 } else { 0 },
            };
            i(imm, rs(g), f3, rd(g), 0x1b)
        }
        6 => (g.next() as u32 & 0xffff_f000) | rd(g) << 7 | g.pick(&[0x37, 0x17]),
        7 | 8 => {
            // Load from the data page, mostly aligned.
            let f3 = g.pick(&[0, 1, 2, 3, 4, 5, 6]);
            let size = 1 << (f3 & 3);
            let mut off = g.below(4096 - 8) as i32 & !(size - 1);
            if g.below(8) == 0 {
                off |= 1; // misaligned (or a byte)
            }
            i(off - 2048, PTR, f3, rd(g), 0x03)
        }
        9 | 10 => {
            let f3 = g.below(4) as u32;
            let size = 1 << f3;
            let mut off = g.below(4096 - 8) as i32 & !(size - 1);
            if g.below(8) == 0 {
                off |= 1;
            }
            s(off - 2048, rs(g), PTR, f3)
        }
        _ => {
            if g.below(2) == 0 {
                0x0ff0_000f // fence
            } else {
                // csrrs rd, instret, x0: reads the exact count, ends a block
                0xc020_2073 | rd(g) << 7
            }
        }
    }
}

/// A loop of `body` random instructions (with forward branches skipping
/// a few of them) run `iters` times, then `ecall`.
fn random_program(g: &mut Rng, body: usize, iters: i32) -> Vec<u32> {
    let mut p = vec![i(iters, 0, 0, CTR, 0x13)]; // li x6, iters
    let mut k = 0;
    while k < body {
        if g.below(8) == 0 && k + 3 < body {
            let skip = 1 + g.below(3) as i32;
            let f3 = g.pick(&[0, 1, 4, 5, 6, 7]);
            p.push(b(4 * (skip + 1), rs(g), rs(g), f3));
            k += 1;
        }
        p.push(random_insn(g));
        k += 1;
    }
    p.push(i(-1, CTR, 0, CTR, 0x13)); // addi x6, x6, -1
    let back = -4 * (p.len() as i32 - 1);
    p.push(b(back, 0, CTR, 1)); // bnez x6, top
    p.push(0x0000_0073); // ecall
    p
}

/// A hart with random registers, the data pointer at the middle of the
/// data page, running with translation `threshold`.
fn hart(seed: u64, threshold: u32) -> Cpu {
    let mut g = Rng(seed | 1);
    let mut cpu = Cpu::new();
    for k in 1..32 {
        cpu.x[k] = match g.below(4) {
            0 => g.below(5),
            1 => g.pick(&[i64::MIN as u64, u64::MAX, 0x8000_0000, 0xffff_ffff]),
            _ => g.next(),
        };
    }
    cpu.x[PTR as usize] = DATA + 2048;
    cpu.set_jit_threshold(threshold);
    cpu
}

/// Runs `prog` with `budget` (in slices of at most `slice`) and returns the
/// final hart, exit and data page.
fn run(prog: &[u32], seed: u64, threshold: u32, budget: u64, slice: u64) -> (Cpu, Exit, Vec<u8>) {
    let mut bus = TestBus::new();
    bus.put_words(CODE, prog);
    let mut data = Rng(seed ^ 0xdead_beef);
    for a in (DATA..DATA + DATA_SIZE).step_by(8) {
        bus.write(a, &data.next().to_le_bytes());
    }
    let mut cpu = hart(seed, threshold);
    cpu.pc = CODE;
    let mut left = budget;
    let mut exit = Exit::Budget;
    while left > 0 && exit == Exit::Budget {
        let n = left.min(slice);
        let before = cpu.instret;
        exit = cpu.run(&mut bus, n);
        left -= cpu.instret - before;
        if exit == Exit::Budget {
            assert_eq!(
                cpu.instret - before,
                n,
                "a budget exit used the whole budget"
            );
        }
    }
    let off = (DATA - CODE) as usize;
    let mem = bus.mem[off..off + DATA_SIZE as usize].to_vec();
    (cpu, exit, mem)
}

fn assert_same(what: &str, a: &(Cpu, Exit, Vec<u8>), b: &(Cpu, Exit, Vec<u8>)) {
    assert_eq!(a.1, b.1, "{what}: exit");
    assert_eq!(a.0.pc, b.0.pc, "{what}: pc");
    assert_eq!(a.0.instret, b.0.instret, "{what}: instret");
    assert_eq!(a.0.x, b.0.x, "{what}: registers");
    assert!(a.2 == b.2, "{what}: data memory differs");
}

#[test]
fn random_loops_run_translated_exactly_as_interpreted() {
    let mut translated = 0;
    for seed in 1..=300u64 {
        let mut g = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let body = 4 + g.below(40) as usize;
        let iters = 1 + g.below(20) as i32;
        let prog = random_program(&mut g, body, iters);
        let interp = run(&prog, seed, 0, 100_000, 100_000);
        assert_eq!(
            interp.1,
            Exit::Ecall,
            "seed {seed}: the program ends with ecall"
        );
        let jit = run(&prog, seed, 1, 100_000, 100_000);
        assert_same(&format!("seed {seed}"), &interp, &jit);
        translated += u64::from(jit.0.translated_blocks() > 0);
        // Any budget, run in slices: the same states.
        let total = interp.0.instret;
        let cut = 1 + g.below(total);
        let a = run(&prog, seed, 0, cut, 1 + g.below(7));
        let b = run(&prog, seed, 1, cut, 1 + g.below(7));
        assert_same(&format!("seed {seed}, budget {cut}"), &a, &b);
    }
    assert!(
        translated >= 290,
        "most programs were translated ({translated})"
    );
}

#[test]
fn a_translated_hot_loop_is_translated_and_counts_exactly() {
    // hash loop of compute.c's shape: x = (x ^ i) * K; x ^= x >> 29; i++
    let prog = [
        0x0000_0513,         // li a0, 0 (x)
        0x0000_0593,         // li a1, 0 (i)
        0x3e80_0613,         // li a2, 1000
        0x00b5_4533,         // 0x0c: xor a0, a0, a1
        0x02d5_0533,         // mul a0, a0, a3
        0x01d5_5713,         // srli a4, a0, 29
        0x00e5_4533,         // xor a0, a0, a4
        0x0015_8593,         // addi a1, a1, 1
        b(-0x14, 12, 11, 4), // blt a1, a2, 0x0c
        0x0000_0073,         // ecall
    ];
    let mut results = Vec::new();
    for threshold in [0, 1, 50] {
        let mut bus = TestBus::new();
        bus.put_words(CODE, &prog);
        let mut cpu = cpu_with(&[(A3, 0x9e37_79b9_7f4a_7c15)]);
        cpu.set_jit_threshold(threshold);
        cpu.pc = CODE;
        assert_eq!(cpu.run(&mut bus, 1_000_000), Exit::Ecall);
        assert_eq!(cpu.instret, 3 + 6 * 1000 + 1);
        if threshold > 0 {
            assert!(cpu.translated_blocks() >= 1, "threshold {threshold}");
        } else {
            assert_eq!(cpu.translated_blocks(), 0);
        }
        results.push(cpu.x[A0]);
    }
    assert!(results.iter().all(|&v| v == results[0]), "{results:x?}");
}

#[test]
fn a_fault_in_translated_code_is_precise() {
    // Two additions, then a load from an unmapped address: the additions
    // are retired, the load did nothing, pc is at the load.
    let prog = [
        0x0015_0513, // addi a0, a0, 1
        0x0015_0513, // addi a0, a0, 1
        0x0005_b583, // ld a1, 0(a1)
        0x0015_0513, // addi a0, a0, 1
        0x0000_0073, // ecall
    ];
    let mut bus = TestBus::new();
    bus.put_words(CODE, &prog);
    let mut cpu = cpu_with(&[(A1, 0x40)]);
    cpu.set_jit_threshold(1);
    cpu.pc = CODE;
    let exit = cpu.run(&mut bus, 100);
    assert_eq!(
        exit,
        Exit::MemFault(MemFault {
            addr: 0x40,
            access: Access::Read
        })
    );
    assert_eq!(cpu.pc, CODE + 8);
    assert_eq!(cpu.instret, 2);
    assert_eq!(cpu.x[A0], 2);
    assert_eq!(cpu.x[A1], 0x40, "the faulting load wrote nothing");
    assert_eq!(cpu.translated_blocks(), 1);
}

#[test]
fn a_store_into_translated_code_is_seen() {
    // A loop whose first instruction is rewritten by its own store (the
    // write goes through the bus's slow path, which moves the code epoch):
    // the next pass runs the new instruction, translated or not.
    let prog = [
        0x0015_0513,        // 0x00: addi a0, a0, 1  (becomes addi a0, a0, 100)
        0x00c6_a023,        // 0x04: sw a2, 0(a3)
        0xfff5_8593,        // 0x08: addi a1, a1, -1
        b(-0x0c, 0, 11, 1), // 0x0c: bnez a1, 0x00
        0x0000_0073,        // 0x10: ecall
    ];
    for threshold in [0, 1, 2] {
        let mut bus = TestBus::new();
        bus.put_words(CODE, &prog);
        let mut cpu = cpu_with(&[(A1, 3), (A2, 0x0645_0513), (A3, CODE)]);
        cpu.set_jit_threshold(threshold);
        cpu.pc = CODE;
        assert_eq!(cpu.run(&mut bus, 100), Exit::Ecall);
        assert_eq!(cpu.x[A0], 201, "threshold {threshold}: 1 + 100 + 100");
        assert_eq!(cpu.instret, 13);
    }
}
