//! Micro-benchmark of the interpreter's dispatch: loops of `n` independent
//! `add`s closed by a backward `jal`, so one block per iteration, and a loop
//! of a dependent chain. Shows the cost of an instruction and of a block.
//! Ignored in normal runs; run it with
//!
//! ```text
//! cargo test --release -p cowix-isa --test block_bench -- --ignored --nocapture
//! ```

mod common;
use common::*;
use cowix_isa::{Cpu, Exit};
use std::time::Instant;

/// Instructions executed per measurement.
const INSNS: u64 = 20_000_000;

/// `jal x0, -4 * n`: back to the start of an `n`-word loop body.
fn jal_back(n: u32) -> u32 {
    let off = (-4 * n as i32) as u32;
    // imm[20|10:1|11|19:12] rd=0 opcode=1101111
    ((off >> 20) & 1) << 31
        | ((off >> 1) & 0x3ff) << 21
        | ((off >> 11) & 1) << 20
        | ((off >> 12) & 0xff) << 12
        | 0x6f
}

/// Nanoseconds per instruction of the loop `body` + `jal` (best of 3).
fn time_loop(body: &[u32]) -> f64 {
    let mut words = body.to_vec();
    words.push(jal_back(body.len() as u32));
    let mut best = f64::MAX;
    for _ in 0..3 {
        let mut bus = TestBus::new();
        bus.put_words(CODE, &words);
        let mut cpu = Cpu::new();
        cpu.pc = CODE;
        cpu.x[1] = 3;
        let start = Instant::now();
        assert_eq!(cpu.run(&mut bus, INSNS), Exit::Budget);
        best = best.min(start.elapsed().as_nanos() as f64 / INSNS as f64);
    }
    best
}

#[test]
#[ignore = "benchmark, run with --ignored --release --nocapture"]
fn dispatch_cost() {
    let add = 0x0010_8133; // add x2, x1, x1
    for n in [1, 3, 7, 15] {
        let ns = time_loop(&vec![add; n]);
        println!("{:>2} independent adds + jal   {ns:5.2} ns/insn", n);
    }
    // xor a1,a1,a5; mul a1,a1,a2; addi a5,a5,1; srli a4,a1,29; xor a1,a1,a4
    // (compute.c's hash loop: a dependent chain through the register file)
    let chain = [0x00f5c5b3, 0x02c585b3, 0x00178793, 0x01d5d713, 0x00e5c5b3];
    println!(
        "hash loop body + jal         {:5.2} ns/insn",
        time_loop(&chain)
    );
    // ld a0, 0(sp); sd a0, 8(sp): memory through the TLB fast path
    let mem = [0x00013503, 0x00a13423];
    let mut words = mem.to_vec();
    words.push(jal_back(2));
    let mut bus = TestBus::new();
    bus.put_words(CODE, &words);
    let mut cpu = Cpu::new();
    cpu.pc = CODE;
    cpu.x[2] = DATA;
    let start = Instant::now();
    assert_eq!(cpu.run(&mut bus, INSNS), Exit::Budget);
    println!(
        "ld + sd + jal (TestBus)      {:5.2} ns/insn",
        start.elapsed().as_nanos() as f64 / INSNS as f64
    );
}
