//! The decoded-block cache must be invisible: self-modifying code runs the
//! new instructions, and traps, budgets and counters inside a block are
//! exactly those of executing one instruction at a time.

mod common;
use common::*;
use cowix_isa::{Access, Bus, Cpu, Exit, MemFault};

const ADDI_A0_A0_1: u32 = 0x0015_0513; // addi a0, a0, 1
const ADDI_A0_A0_100: u32 = 0x0645_0513; // addi a0, a0, 100

/// A loop that executes `addi a0, a0, 1`, overwrites it with the word in a2
/// at the address in a3, runs fence.i and executes it again.
const REWRITE_THEN_FENCE_I: [u32; 7] = [
    ADDI_A0_A0_1, // 0x00: the instruction that gets rewritten
    0x0005_9a63,  // 0x04: bnez a1, 0x18
    0x00c6_a023,  // 0x08: sw a2, 0(a3)
    0x0000_100f,  // 0x0c: fence.i
    0x0010_0593,  // 0x10: li a1, 1
    0xfedf_f06f,  // 0x14: j 0x00
    0x0000_0073,  // 0x18: ecall
];

/// Runs the code already at [`CODE`] from there, with a2 = `addi a0, a0, 100`
/// and a3 = `CODE` (what [`REWRITE_THEN_FENCE_I`] stores, and where), until
/// its ecall; returns the hart.
fn run_rewriter(bus: &mut impl Bus) -> Cpu {
    let mut cpu = cpu_with(&[(A2, u64::from(ADDI_A0_A0_100)), (A3, CODE)]);
    cpu.pc = CODE;
    assert_eq!(cpu.run(bus, 100), Exit::Ecall);
    cpu
}

#[test]
fn rewritten_instruction_runs_after_fence_i() {
    let mut bus = TestBus::new();
    bus.put_words(CODE, &REWRITE_THEN_FENCE_I);
    let cpu = run_rewriter(&mut bus);
    assert_eq!(cpu.x[A0], 101, "the first pass added 1, the second 100");
    assert_eq!(cpu.instret, 9);
    assert_eq!(bus.fence_i_calls, 1);
}

/// A bus whose code versions never change: only `fence.i` can make the
/// hart see new code (the RISC-V minimum).
struct NeverInvalidates(TestBus);

impl Bus for NeverInvalidates {
    fn load(&mut self, addr: u64, size: u32) -> Result<u64, MemFault> {
        self.0.load(addr, size)
    }
    fn store(&mut self, addr: u64, size: u32, value: u64) -> Result<(), MemFault> {
        self.0.store(addr, size, value)
    }
    fn fetch(&mut self, addr: u64) -> Result<u16, MemFault> {
        self.0.fetch(addr)
    }
    fn code_version(&mut self, pc: u64) -> Result<u64, MemFault> {
        self.0.fetch(pc).map(|_| 1)
    }
    fn code_epoch(&self) -> u64 {
        1
    }
}

#[test]
fn fence_i_flushes_the_block_cache() {
    let mut bus = NeverInvalidates(TestBus::new());
    bus.0.put_words(CODE, &REWRITE_THEN_FENCE_I);
    let cpu = run_rewriter(&mut bus);
    assert_eq!(cpu.x[A0], 101, "fence.i made the new instruction visible");

    // Without the fence.i (replaced by a nop) the stale block may run: this
    // bus never invalidates, so it does, which shows the cache is in use.
    let mut bus = NeverInvalidates(TestBus::new());
    let mut no_fence = REWRITE_THEN_FENCE_I;
    no_fence[3] = 0x0000_0013; // nop
    bus.0.put_words(CODE, &no_fence);
    let cpu = run_rewriter(&mut bus);
    assert_eq!(cpu.x[A0], 2, "the cached addi a0, a0, 1 ran twice");
}

#[test]
fn store_into_cached_code_is_seen_even_without_fence_i() {
    // cowix invalidates on the store itself (stronger than RISC-V needs).
    let prog = [ADDI_A0_A0_1, 0x0000_0073]; // addi a0, a0, 1; ecall
    let mut bus = TestBus::new();
    bus.put_words(CODE, &prog);
    let mut cpu = Cpu::new();
    cpu.pc = CODE;
    assert_eq!(cpu.run(&mut bus, 10), Exit::Ecall);
    assert_eq!(cpu.x[A0], 1);
    bus.store(CODE, 4, u64::from(ADDI_A0_A0_100)).unwrap();
    cpu.pc = CODE;
    assert_eq!(cpu.run(&mut bus, 10), Exit::Ecall);
    assert_eq!(cpu.x[A0], 101);
}

#[test]
fn a_loop_that_rewrites_itself_runs_the_new_code_on_its_next_pass() {
    // The block branches back to its own start, which the runner repeats
    // without a lookup: the store into it must still be seen.
    let prog = [
        ADDI_A0_A0_1, // 0x00: the instruction that gets rewritten
        0x00c6_a023,  // 0x04: sw a2, 0(a3)
        0xfff5_8593,  // 0x08: addi a1, a1, -1
        0xfe05_9ae3,  // 0x0c: bnez a1, 0x00
        0x0000_0073,  // 0x10: ecall
    ];
    let mut bus = TestBus::new();
    bus.put_words(CODE, &prog);
    let mut cpu = cpu_with(&[(A1, 2), (A2, u64::from(ADDI_A0_A0_100)), (A3, CODE)]);
    cpu.pc = CODE;
    assert_eq!(cpu.run(&mut bus, 100), Exit::Ecall);
    assert_eq!(cpu.x[A0], 101, "the first pass added 1, the second 100");
    assert_eq!(cpu.instret, 9);
}

#[test]
fn a_loop_stops_exactly_at_the_budget() {
    // addi a0, a0, 1; bnez a0, 0x00: a self-loop of two instructions,
    // stopped after an odd count (inside a pass).
    let prog = [ADDI_A0_A0_1, 0xfe05_1ee3];
    let mut bus = TestBus::new();
    bus.put_words(CODE, &prog);
    let mut cpu = Cpu::new();
    cpu.pc = CODE;
    assert_eq!(cpu.run(&mut bus, 7), Exit::Budget);
    assert_eq!((cpu.x[A0], cpu.instret, cpu.pc), (4, 7, CODE + 4));
}

#[test]
fn a_new_bus_under_the_same_hart_is_not_served_stale_blocks() {
    let mut cpu = Cpu::new();
    let (_, exit) = run32(&mut cpu, &[ADDI_A0_A0_1, 0x0000_0073]);
    assert_eq!((exit, cpu.x[A0]), (Exit::Ecall, 1));
    let (_, exit) = run32(&mut cpu, &[ADDI_A0_A0_100, 0x0000_0073]);
    assert_eq!((exit, cpu.x[A0]), (Exit::Ecall, 101));
}

/// The exit of a load from the unmapped address 0x10.
const LOAD_FAULT_AT_0X10: Exit = Exit::MemFault(MemFault {
    addr: 0x10,
    access: Access::Read,
});

#[test]
fn fault_in_the_middle_of_a_block_is_precise() {
    let prog = [
        0x0025_8593, // addi a1, a1, 2
        0x0006_a603, // lw a2, 0(a3)   (faults: a3 is unmapped)
        0x0036_8693, // addi a3, a3, 3
        0x0000_0073, // ecall
    ];
    let mut cpu = cpu_with(&[(A3, 0x10)]);
    let (_, exit) = run32(&mut cpu, &prog);
    assert_eq!(exit, LOAD_FAULT_AT_0X10);
    assert_eq!(
        (cpu.pc, cpu.instret),
        (CODE + 4, 1),
        "stopped at the lw, one retired"
    );
    assert_eq!(
        (cpu.x[A1], cpu.x[A2], cpu.x[A3]),
        (2, 0, 0x10),
        "only the addi before it ran"
    );
    // The kernel maps the page: the same hart resumes at the lw.
    let mut bus = TestBus::new();
    bus.put_words(CODE, &prog);
    cpu.x[A3] = DATA;
    bus.write(DATA, &7u32.to_le_bytes());
    assert_eq!(cpu.run(&mut bus, 10), Exit::Ecall);
    assert_eq!(
        (cpu.x[A1], cpu.x[A2], cpu.x[A3], cpu.instret),
        (2, 7, DATA + 3, 4)
    );
}

#[test]
fn budget_ending_inside_a_block_stops_exactly_there() {
    let prog = [
        0x0015_0513,
        0x0015_0513,
        0x0015_0513,
        0x0015_0513,
        0x0000_0073,
    ];
    let mut bus = TestBus::new();
    bus.put_words(CODE, &prog);
    let mut cpu = Cpu::new();
    cpu.pc = CODE;
    assert_eq!(cpu.run(&mut bus, 3), Exit::Budget);
    assert_eq!((cpu.x[A0], cpu.pc, cpu.instret), (3, CODE + 12, 3));
    assert_eq!(cpu.run(&mut bus, 1), Exit::Budget);
    assert_eq!(cpu.run(&mut bus, 5), Exit::Ecall);
    assert_eq!((cpu.x[A0], cpu.pc, cpu.instret), (4, CODE + 20, 5));
}

#[test]
fn instret_read_at_the_end_of_a_block_counts_the_block() {
    let prog = [
        0x0015_0513, // addi a0, a0, 1
        0x0015_0513, // addi a0, a0, 1
        0xc020_2773, // rdinstret a4
        0x0000_0073, // ecall
    ];
    let mut cpu = Cpu::new();
    cpu.instret = 40;
    let (_, exit) = run32(&mut cpu, &prog);
    assert_eq!(exit, Exit::Ecall);
    assert_eq!(
        cpu.x[A4], 42,
        "two instructions retired before the rdinstret"
    );
    assert_eq!(cpu.instret, 44);
}

#[test]
fn writes_to_x0_are_discarded_inside_blocks() {
    let prog = [
        0x0050_0013, // li zero, 5         (cached as a no-op)
        0x0006_a003, // lw zero, 0(a3)     (loads, then x0 stays 0)
        0x0000_0633, // add a2, zero, zero
        0x0000_0073, // ecall
    ];
    let mut bus = TestBus::new();
    bus.put_words(CODE, &prog);
    bus.write(DATA, &9u32.to_le_bytes());
    let mut cpu = cpu_with(&[(A2, 1), (A3, DATA)]);
    cpu.pc = CODE;
    assert_eq!(cpu.run(&mut bus, 10), Exit::Ecall);
    assert_eq!((cpu.x[0], cpu.x[A2], cpu.instret), (0, 0, 4));
    // lw zero from an unmapped address still faults.
    let mut cpu = cpu_with(&[(A3, 0x10)]);
    let (_, exit) = run32(&mut cpu, &prog);
    assert_eq!(exit, LOAD_FAULT_AT_0X10);
    assert_eq!((cpu.pc, cpu.instret), (CODE + 4, 1));
}

#[test]
fn long_straight_line_code_and_page_ends_split_blocks_invisibly() {
    // 1023 addis fill the code page up to its last word, an ecall ends it.
    let mut prog = vec![ADDI_A0_A0_1; 1023];
    prog.push(0x0000_0073);
    let mut cpu = Cpu::new();
    let (_, exit) = run32(&mut cpu, &prog);
    assert_eq!(exit, Exit::Ecall);
    assert_eq!((cpu.x[A0], cpu.instret), (1023, 1024));
}

#[test]
fn forward_branch_inside_a_block_exits_exactly() {
    let prog = [
        0x0015_0513, // addi a0, a0, 1
        0x0005_8463, // beqz a1, +8     (a forward branch: inside the block)
        0x00a5_0513, // addi a0, a0, 10
        0x0645_0513, // addi a0, a0, 100
        0x0000_0073, // ecall
    ];
    for (a1, a0, retired) in [(0, 101, 4), (1, 111, 5)] {
        let mut cpu = cpu_with(&[(A1, a1)]);
        let (_, exit) = run32(&mut cpu, &prog);
        assert_eq!(exit, Exit::Ecall);
        assert_eq!(
            (cpu.x[A0], cpu.instret, cpu.pc),
            (a0, retired, CODE + 20),
            "a1 = {a1}"
        );
    }
    // The budget runs out right after the taken branch.
    let mut bus = TestBus::new();
    bus.put_words(CODE, &prog);
    let mut cpu = Cpu::new();
    cpu.pc = CODE;
    assert_eq!(cpu.run(&mut bus, 2), Exit::Budget);
    assert_eq!((cpu.x[A0], cpu.instret, cpu.pc), (1, 2, CODE + 12));
    assert_eq!(cpu.run(&mut bus, 1), Exit::Budget);
    assert_eq!((cpu.x[A0], cpu.instret, cpu.pc), (101, 3, CODE + 16));
}
