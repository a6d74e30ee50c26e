//! Shared test helpers: a flat-memory [`TestBus`] and program runners.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use cowix_isa::{Access, Bus, Cpu, Exit, JitMemory, MemFault, TlbEntry};

/// Where test programs are placed (executable).
pub const CODE: u64 = 0x1_0000;
/// Size of the executable code region.
pub const CODE_SIZE: u64 = 0x1000;
/// Start of the data region (readable and writable, not executable).
pub const DATA: u64 = CODE + CODE_SIZE;
/// Size of the data region.
pub const DATA_SIZE: u64 = 0x1000;

/// A `Vec<u8>` of memory at `base`: bytes in `[base, base + len)` exist,
/// everything else faults; only `[exec_lo, exec_hi)` may be fetched.
#[derive(Debug)]
pub struct TestBus {
    pub base: u64,
    /// The bytes. Change code through [`TestBus::write`] (or a store), not
    /// directly, so that harts drop the blocks they decoded from it.
    pub mem: Vec<u8>,
    pub exec_lo: u64,
    pub exec_hi: u64,
    /// Stores to `[ro.0, ro.1)` fault (a read-only page).
    pub ro: (u64, u64),
    /// Number of `fence_i` calls seen.
    pub fence_i_calls: u32,
    /// Code version and epoch: a number never handed out before, taken
    /// anew at every write into the executable range (so a version is never
    /// reused, even by another bus a hart runs on later, and a [`fork`]ed
    /// bus keeps its parent's only until one of them writes code).
    ///
    /// [`fork`]: TestBus::fork
    code_version: u64,
    /// TLB arrays lent to translated code (rebuilt at every `jit_memory`).
    jit_read: Vec<TlbEntry>,
    jit_write: Vec<TlbEntry>,
}

/// Entries of the TLB arrays lent to translated code.
const JIT_TLB: usize = 64;
/// An empty TLB entry.
const NO_PAGE: TlbEntry = TlbEntry {
    page: u64::MAX,
    offset: 0,
};

/// Numbers the buses' code versions, so that none is used twice.
static BUSES: AtomicU64 = AtomicU64::new(1);

/// A code version never handed out before (and above every earlier one, so
/// it also serves as an epoch that only moves forward).
fn fresh_version() -> u64 {
    BUSES.fetch_add(1, Ordering::Relaxed) << 32
}

impl TestBus {
    /// Code region at [`CODE`] followed by the data region at [`DATA`].
    pub fn new() -> Self {
        TestBus {
            base: CODE,
            mem: vec![0; (CODE_SIZE + DATA_SIZE) as usize],
            exec_lo: CODE,
            exec_hi: CODE + CODE_SIZE,
            ro: (0, 0),
            fence_i_calls: 0,
            code_version: fresh_version(),
            jit_read: vec![NO_PAGE; JIT_TLB],
            jit_write: vec![NO_PAGE; JIT_TLB],
        }
    }

    /// A copy of this memory that keeps its code version, as a forked
    /// child's address space maps its parent's frames: blocks decoded from
    /// one are valid in the other until either writes code.
    pub fn fork(&self) -> TestBus {
        TestBus {
            mem: self.mem.clone(),
            fence_i_calls: 0,
            jit_read: vec![NO_PAGE; JIT_TLB],
            jit_write: vec![NO_PAGE; JIT_TLB],
            ..*self
        }
    }

    /// First address of `[addr, addr + size)` outside memory, if any.
    fn outside(&self, addr: u64, size: u64) -> Option<u64> {
        let end = self.base + self.mem.len() as u64;
        (0..size)
            .map(|k| addr.wrapping_add(k))
            .find(|&a| a < self.base || a >= end)
    }

    /// Write 32-bit instruction words at `addr`.
    pub fn put_words(&mut self, addr: u64, words: &[u32]) {
        for (k, w) in words.iter().enumerate() {
            self.write(addr + 4 * k as u64, &w.to_le_bytes());
        }
    }

    /// Write 16-bit parcels at `addr` (for compressed code and mixes).
    pub fn put_parcels(&mut self, addr: u64, parcels: &[u16]) {
        for (k, p) in parcels.iter().enumerate() {
            self.write(addr + 2 * k as u64, &p.to_le_bytes());
        }
    }

    /// Write raw bytes (panics outside memory: a test bug).
    pub fn write(&mut self, addr: u64, bytes: &[u8]) {
        if addr < self.exec_hi && addr + bytes.len() as u64 > self.exec_lo {
            self.code_version = fresh_version(); // cached blocks are stale
        }
        let off = (addr - self.base) as usize;
        self.mem[off..off + bytes.len()].copy_from_slice(bytes);
    }

    /// Read a little-endian value of `size` bytes (test bug if outside).
    pub fn read(&self, addr: u64, size: usize) -> u64 {
        let off = (addr - self.base) as usize;
        let mut v = [0u8; 8];
        v[..size].copy_from_slice(&self.mem[off..off + size]);
        u64::from_le_bytes(v)
    }
}

impl Bus for TestBus {
    fn load(&mut self, addr: u64, size: u32) -> Result<u64, MemFault> {
        if let Some(bad) = self.outside(addr, u64::from(size)) {
            return Err(MemFault {
                addr: bad,
                access: Access::Read,
            });
        }
        Ok(self.read(addr, size as usize))
    }

    fn store(&mut self, addr: u64, size: u32, value: u64) -> Result<(), MemFault> {
        if let Some(bad) = self.outside(addr, u64::from(size)) {
            return Err(MemFault {
                addr: bad,
                access: Access::Write,
            });
        }
        if let Some(k) =
            (0..u64::from(size)).find(|&k| (self.ro.0..self.ro.1).contains(&(addr + k)))
        {
            return Err(MemFault {
                addr: addr + k,
                access: Access::Write,
            });
        }
        self.write(addr, &value.to_le_bytes()[..size as usize]);
        Ok(())
    }

    fn fetch(&mut self, addr: u64) -> Result<u16, MemFault> {
        if addr < self.exec_lo || addr + 2 > self.exec_hi {
            return Err(MemFault {
                addr,
                access: Access::Execute,
            });
        }
        Ok(self.read(addr, 2) as u16)
    }

    fn fence_i(&mut self) {
        self.fence_i_calls += 1;
    }

    fn code_version(&mut self, pc: u64) -> Result<u64, MemFault> {
        self.fetch(pc)?;
        Ok(self.code_version)
    }

    fn code_epoch(&self) -> u64 {
        self.code_version
    }

    /// Every whole 4 KiB page of memory is readable by translated code;
    /// pages outside the executable and read-only ranges are writable
    /// (stores to code and to read-only bytes take the slow path).
    fn jit_memory(&mut self) -> Option<JitMemory<'_>> {
        self.jit_read.fill(NO_PAGE);
        self.jit_write.fill(NO_PAGE);
        let first = self.base.next_multiple_of(4096);
        let end = self.base + self.mem.len() as u64;
        let mut page = first;
        while page + 4096 <= end {
            let i = (page / 4096) as usize % JIT_TLB;
            let e = TlbEntry {
                page,
                offset: page - self.base,
            };
            self.jit_read[i] = e;
            let overlaps = |lo: u64, hi: u64| page < hi && page + 4096 > lo;
            if !overlaps(self.exec_lo, self.exec_hi) && !overlaps(self.ro.0, self.ro.1) {
                self.jit_write[i] = e;
            }
            page += 4096;
        }
        JitMemory::new(&mut self.mem, &self.jit_read, &self.jit_write)
    }
}

/// Every 16-bit parcel, plus 32-bit words with every major opcode and
/// pseudo-random fields, biased so that the sparse funct7/funct5 and rs2
/// values that select real instructions (OP, OP-FP, AMO) come up often.
pub fn sample_encodings() -> Vec<u32> {
    let mut v: Vec<u32> = (0..=0xffffu32).filter(|p| p & 3 != 3).collect();
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 16) as u32
    };
    for k in 0..200_000u32 {
        let mut w = next();
        let r = next();
        if r & 1 == 0 {
            // funct7 = funct5 << 2 | fmt (fmt S or D), or one of OP's values.
            let funct7 = match (r >> 1) % 4 {
                0 => [0x00, 0x01, 0x20][(r >> 3) as usize % 3],
                _ => ((r >> 3) % 32) << 2 | ((r >> 8) & 1),
            };
            w = (w & 0x01ff_ffff) | (funct7 << 25);
        }
        if r & 0x200 == 0 {
            w = (w & !(31 << 20)) | (((r >> 10) % 4) << 20); // rs2 in 0..=3
        }
        v.push((w & !0x7f) | ((k % 32) << 2) | 3);
    }
    v.extend([0x0000_0073, 0x0010_0073, 0x0000_100f]);
    v
}

/// Run the 32-bit `words` placed at [`CODE`] (pc = CODE) with a budget of
/// one instruction per word. `cpu`'s registers are used as given.
pub fn run32(cpu: &mut Cpu, words: &[u32]) -> (TestBus, Exit) {
    let mut bus = TestBus::new();
    bus.put_words(CODE, words);
    cpu.pc = CODE;
    let exit = cpu.run(&mut bus, words.len() as u64);
    (bus, exit)
}

/// Run 16-bit `parcels` at [`CODE`] with an instruction budget of `budget`.
pub fn run16(cpu: &mut Cpu, parcels: &[u16], budget: u64) -> (TestBus, Exit) {
    let mut bus = TestBus::new();
    bus.put_parcels(CODE, parcels);
    cpu.pc = CODE;
    let exit = cpu.run(&mut bus, budget);
    (bus, exit)
}

/// A hart with the given (register, value) pairs set.
pub fn cpu_with(regs: &[(usize, u64)]) -> Cpu {
    let mut cpu = Cpu::new();
    for &(r, v) in regs {
        cpu.x[r] = v;
    }
    cpu
}

/// Run `words` from a hart with `regs` set; assert every word ran.
pub fn exec(regs: &[(usize, u64)], words: &[u32]) -> Cpu {
    let mut cpu = cpu_with(regs);
    let (_, exit) = run32(&mut cpu, words);
    assert_eq!(
        exit,
        Exit::Budget,
        "program stopped early at pc {:#x}",
        cpu.pc
    );
    cpu
}

// ABI register numbers.
pub const RA: usize = 1;
pub const SP: usize = 2;
pub const S0: usize = 8;
pub const S1: usize = 9;
pub const A0: usize = 10;
pub const A1: usize = 11;
pub const A2: usize = 12;
pub const A3: usize = 13;
pub const A4: usize = 14;
pub const A5: usize = 15;
