//! Micro-benchmark of F/D arithmetic through the whole CPU (fetch, decode,
//! execute), with an integer `add` loop as the interpreter-overhead baseline.
//! Ignored in normal runs; run it with
//!
//! ```text
//! cargo test --release -p cowix-isa --test float_bench -- --ignored --nocapture
//! ```
//!
//! Every operation is inexact with normal operands and results (the common
//! case in real programs), in the default rounding mode (RNE, `frm` = 0).

mod common;
use common::*;
use cowix_isa::{Cpu, Exit};
use std::time::Instant;

/// Instructions executed per measured loop.
const INSNS: u64 = 2_000_000;

/// Measured loops per case; the fastest counts (the least disturbed by
/// other work on the machine).
const REPEATS: usize = 7;

/// OP-FP R-type word: `funct7 rs2 rs1 rm=dyn rd 1010011`.
fn op_fp(funct7: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
    funct7 << 25 | rs2 << 20 | rs1 << 15 | 7 << 12 | rd << 7 | 0x53
}

/// FMADD R4-type word: `rs3 fmt rs2 rs1 rm=dyn rd 1000011`.
fn fmadd(double: bool, rd: u32, rs1: u32, rs2: u32, rs3: u32) -> u32 {
    rs3 << 27 | u32::from(double) << 25 | rs2 << 20 | rs1 << 15 | 7 << 12 | rd << 7 | 0x43
}

/// Run a loop of eight copies of `body` and a backward `jal x0` for
/// [`INSNS`] instructions, [`REPEATS`] times; the best nanoseconds per
/// instruction.
fn time_loop(body: u32, cpu: &mut Cpu) -> f64 {
    let mut words = vec![body; 8];
    words.push(0xfe1f_f06f); // jal x0, -32
    let mut bus = TestBus::new();
    bus.put_words(CODE, &words);
    let mut best = f64::INFINITY;
    for _ in 0..REPEATS {
        cpu.pc = CODE;
        let start = Instant::now();
        let exit = cpu.run(&mut bus, INSNS);
        let ns = start.elapsed().as_nanos() as f64;
        assert_eq!(exit, Exit::Budget);
        best = best.min(ns / INSNS as f64);
    }
    best
}

#[test]
#[ignore = "benchmark, run with --ignored --release --nocapture"]
fn float_arithmetic_throughput() {
    // f1 = 1.0000001, f2 = 0.9999999 (doubles and boxed singles in f11..f12).
    let mut cpu = Cpu::new();
    cpu.f[1] = 1.000_000_1f64.to_bits();
    cpu.f[2] = 0.999_999_9f64.to_bits();
    cpu.f[11] = 0xffff_ffff_0000_0000 | u64::from(1.000_000_1f32.to_bits());
    cpu.f[12] = 0xffff_ffff_0000_0000 | u64::from(0.999_999_9f32.to_bits());
    cpu.x[1] = 3;
    let cases: [(&str, u32); 13] = [
        ("add (integer baseline)", 0x0010_8133), // add x2, x1, x1
        ("fadd.d f3, f3, f1", op_fp(0x01, 3, 3, 1)),
        ("fmul.d f4, f1, f2", op_fp(0x09, 4, 1, 2)),
        ("fdiv.d f5, f1, f2", op_fp(0x0d, 5, 1, 2)),
        ("fsqrt.d f6, f1", op_fp(0x2d, 6, 1, 0)),
        ("fmadd.d f7, f1, f2, f7", fmadd(true, 7, 1, 2, 7)),
        ("fadd.s f13, f13, f11", op_fp(0x00, 13, 13, 11)),
        ("fmul.s f14, f11, f12", op_fp(0x08, 14, 11, 12)),
        ("fdiv.s f15, f11, f12", op_fp(0x0c, 15, 11, 12)),
        ("fsqrt.s f16, f11", op_fp(0x2c, 16, 11, 0)),
        ("fmadd.s f17, f11, f12, f17", fmadd(false, 17, 11, 12, 17)),
        ("fcvt.d.l f8, x1", op_fp(0x69, 8, 1, 2)),
        ("fcvt.l.d x2, f1", op_fp(0x61, 2, 1, 2)),
    ];
    cpu.f[13] = 0xffff_ffff_0000_0000;
    cpu.f[17] = 0xffff_ffff_0000_0000;
    for (name, word) in cases {
        let ns = time_loop(word, &mut cpu);
        println!("{name:<28} {ns:6.2} ns/insn");
    }
    assert_eq!(cpu.fcsr & 0x1f, 1, "only NX was raised");
}
