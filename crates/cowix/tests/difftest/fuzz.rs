//! Decode fuzzing: one instruction word at a time, in a fixed template
//! program, under both emulators. The words are near-valid (a generated
//! instruction with one to three bits flipped, which lands on reserved
//! fields, neighbouring opcodes and unused funct values) or random. Both
//! emulators must end the same way (exit, SIGILL, SIGSEGV, SIGTRAP, SIGBUS)
//! and write the same bytes: the registers after the word, and the memory
//! its stores can reach.
//!
//! The template is built once; each word is patched into a copy of the
//! executable (no assembler per word). Every integer register holds the
//! middle of a 64 KiB buffer, so loads, stores and AMOs through any base
//! register with any 12-bit offset stay inside it; branches and jumps a
//! short way off land on a sled of `c.ebreak` (SIGTRAP).
//!
//! qemu runs with `-cpu rv64,zba=false,zbb=false,zbc=false,zbs=false,h=false`:
//! qemu 7.2 enables the bit-manipulation extensions by default, cowix (an
//! rv64gc CPU) rightly rejects them.
//!
//! Words left out: the vector encodings qemu 7.2 executes although its V
//! extension is off ([`qemu_runs_without_v`], a qemu bug), and those whose
//! outcome is not the CPU's to decide:
//! * SYSTEM words other than `ecall`/`ebreak` and CSR accesses to fflags,
//!   frm, fcsr: the counters (cycle, time, instret) differ between any two
//!   machines, which other CSRs user mode may touch is up to the execution
//!   environment, and `wfi` in U-mode may complete or trap (privileged spec
//!   3.3.3);
//! * `ecall`: its outcome depends on a7, a random system call number.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::gen;
use crate::harness;
use crate::rng::Rng;

/// The word the template holds where a fuzzed word goes (an illegal
/// placeholder, unique in the executable).
const MARKER: u32 = 0x5eed_c0df;

/// The template's source.
fn template() -> String {
    let mut s = String::from("\t.option norelax\n\t.text\n\t.globl _start\n_start:\n");
    s.push_str("\tlla x31, fdata\n");
    for r in 0..32 {
        s.push_str(&format!("\tfld f{r}, {}(x31)\n", r * 8));
    }
    s.push_str("\tfscsr x0\n\tlla x31, buf+32768\n");
    for r in 1..31 {
        s.push_str(&format!("\tmv x{r}, x31\n"));
    }
    s.push_str("\tj slot\n\t.balign 4\n\t.fill 1024, 2, 0x9002\nslot:\n");
    s.push_str(&format!("\t.4byte {MARKER:#x}\n"));
    // Dump beyond every store the word can make (base +-2 KiB + 8).
    s.push_str("\taddi x31, x31, 2047\n\taddi x31, x31, 2047\n");
    for r in 1..31 {
        s.push_str(&format!("\tsd x{r}, {}(x31)\n", (r - 1) * 8));
    }
    s.push_str("\taddi x1, x31, -2047\n\taddi x1, x1, -2047\n\tsd x1, 240(x31)\n");
    for r in 0..32 {
        s.push_str(&format!("\tfsd f{r}, {}(x31)\n", 248 + r * 8));
    }
    s.push_str("\tfrcsr x1\n\tsd x1, 504(x31)\n");
    // write(1, buf_mid - 2048, 4094 + 2048 + 512), then exit_group(0).
    s.push_str("\tli a0, 1\n\tli a2, 6654\n\taddi a1, x31, -2047\n\taddi a1, a1, -2047\n\taddi a1, a1, -2048\n");
    s.push_str("\tli a7, 64\n\tecall\n\tli a0, 0\n\tli a7, 94\n\tecall\n");
    s.push_str("\t.fill 1024, 2, 0x9002\n");
    s.push_str("\t.section .rodata\n\t.balign 8\nfdata:\n");
    // Doubles and boxed singles of every class, fixed.
    let f: [u64; 8] = [
        0x3ff0_0000_0000_0000,
        0xffff_ffff_4049_0fdb,
        0x7ff0_0000_0000_0001,
        0xffff_ffff_ff80_0000,
        0x8000_0000_0000_0001,
        0x0000_0000_3f80_0000,
        0xc1e0_0000_0020_0000,
        0xffff_ffff_7fc0_0000,
    ];
    for r in 0..32 {
        s.push_str(&format!(
            "\t.8byte {:#x}\n",
            f[r % 8] ^ ((r as u64 / 8) << 1)
        ));
    }
    s.push_str("\t.bss\n\t.balign 4096\nbuf:\n\t.zero 65536\n");
    s
}

/// A built template: its bytes and where the word goes.
#[derive(Debug)]
pub struct Template {
    elf: Vec<u8>,
    slot: usize,
}

impl Template {
    pub fn build(dir: &Path) -> Result<Template, String> {
        let src = dir.join("fuzz.s");
        let exe = dir.join("fuzz-template");
        std::fs::write(&src, template()).map_err(|e| e.to_string())?;
        harness::link(&src, &exe)?;
        let elf = std::fs::read(&exe).map_err(|e| e.to_string())?;
        let m = MARKER.to_le_bytes();
        let hits: Vec<usize> = elf
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == m)
            .map(|(i, _)| i)
            .collect();
        match hits[..] {
            [slot] => Ok(Template { elf, slot }),
            _ => Err(format!("fuzz template: marker found {} times", hits.len())),
        }
    }

    /// Writes the template with `word` in the slot (a 16-bit parcel is
    /// followed by `c.nop`) to `path`, executable.
    fn instantiate(&self, word: u32, path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let word = if word & 3 == 3 {
            word
        } else {
            (word & 0xffff) | (0x0001 << 16)
        };
        let mut elf = self.elf.clone();
        elf[self.slot..self.slot + 4].copy_from_slice(&word.to_le_bytes());
        std::fs::write(path, &elf)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
    }
}

/// Whether `word` (a 32-bit word or a 16-bit parcel) is one whose outcome
/// is the CPU's to decide (see the module comment), and not one of the
/// vector encodings qemu 7.2 wrongly executes without V ([`qemu_runs_without_v`]).
pub fn eligible(word: u32) -> bool {
    if word & 3 != 3 {
        return true;
    }
    if qemu_runs_without_v(word) {
        return false;
    }
    if word & 0x7f != 0x73 {
        return true;
    }
    let f3 = (word >> 12) & 7;
    if f3 == 0 {
        return word == 0x0010_0073; // ebreak (ecall depends on a7)
    }
    let csr = word >> 20;
    (1..=3).contains(&csr)
}

/// A word to try: usually a generated instruction with 1-3 bits flipped
/// (keeping its length), sometimes a random word or parcel.
pub fn word(r: &mut Rng) -> u32 {
    loop {
        let w = if r.chance(15) {
            let w = r.next() as u32;
            if r.chance(40) {
                w & 0xffff
            } else {
                w | 3
            }
        } else {
            let case = gen::case(Rng::new(r.next()), 3);
            let i = &case.code[r.below(case.code.len() as u64) as usize];
            let mut w = i.raw;
            for _ in 0..r.range(1, 3) {
                let bit = if i.len == 2 {
                    r.range(2, 15)
                } else {
                    r.range(2, 31)
                };
                w ^= 1 << bit;
            }
            w
        };
        if eligible(w) {
            return w;
        }
    }
}

/// Runs `word` in a copy of the template at `path` under both emulators.
pub fn run_word(
    t: &Template,
    word: u32,
    path: &Path,
    cowix: &Path,
) -> Result<(Output, Output), String> {
    t.instantiate(word, path).map_err(|e| e.to_string())?;
    let spawn = |c: &mut Command| c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let q = spawn(
        Command::new("timeout")
            .args([
                "20",
                "qemu-riscv64",
                "-cpu",
                "rv64,zba=false,zbb=false,zbc=false,zbs=false,h=false",
            ])
            .arg(path),
    )
    .map_err(|e| format!("qemu-riscv64: {e}"))?;
    let c = spawn(
        Command::new("timeout")
            .arg("20")
            .arg(cowix)
            .args(["run", "--"])
            .arg(path),
    )
    .map_err(|e| format!("cowix: {e}"))?;
    let q = q.wait_with_output().map_err(|e| e.to_string())?;
    let c = c.wait_with_output().map_err(|e| e.to_string())?;
    Ok((q, c))
}

/// Where fuzz executables go.
pub fn exe_path(dir: &Path, worker: usize) -> PathBuf {
    dir.join(format!("fuzz-{worker}"))
}

/// The V-extension encodings qemu 7.2 executes although V is off: the
/// whole-register loads `vl<nf>re<eew>.v` (LOAD-FP, width 0/5/6/7, mop 00,
/// lumop 01000), the whole-register stores `vs<nf>r.v` (STORE-FP, width 0,
/// mop 00, sumop 01000) and `vmv<nr>r.v` (OP-V, OPIVI, funct6 100111). Their
/// translators (target/riscv/insn_trans/trans_rvv.c.inc,
/// `GEN_LDST_WHOLE_TRANS` and `trans_vmv_nr_r`) check only `require_rvv()`,
/// i.e. mstatus.VS, which qemu's Linux user mode turns on, and not misa.V.
/// On an rv64gc machine these are encodings of an extension it does not
/// have: an illegal-instruction exception, SIGILL under Linux, as cowix does.
pub fn qemu_runs_without_v(word: u32) -> bool {
    let (op, width, mop, umop) = (
        word & 0x7f,
        (word >> 12) & 7,
        (word >> 26) & 3,
        (word >> 20) & 31,
    );
    match op {
        0x07 => matches!(width, 0 | 5 | 6 | 7) && mop == 0 && umop == 0b01000,
        0x27 => width == 0 && mop == 0 && umop == 0b01000,
        0x57 => width == 3 && word >> 26 == 0b10_0111,
        _ => false,
    }
}
