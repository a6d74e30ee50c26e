//! Zicsr (RISC-V unprivileged spec chapter 9) and the user-visible CSRs:
//! the FP CSRs (13.2) and the Zicntr counters (chapter 10).
//!
//! | CSR      | number | access | value                                  |
//! |----------|--------|--------|----------------------------------------|
//! | fflags   | 0x001  | RW     | `fcsr[4:0]`                            |
//! | frm      | 0x002  | RW     | `fcsr[7:5]`                            |
//! | fcsr     | 0x003  | RW     | `fcsr[7:0]`                            |
//! | cycle    | 0xC00  | RO     | `instret`                              |
//! | time     | 0xC01  | RO     | `instret / 100` (10 MHz at ~1 GIPS)    |
//! | instret  | 0xC02  | RO     | retired instructions                   |
//!
//! Any other CSR number, and any write to a read-only one, is an illegal
//! instruction. A read-only CSR can be read with `csrrs`/`csrrc` when rs1
//! is x0 (or `csrrsi`/`csrrci` with uimm 0), which do not write (spec 9.1).

use crate::insn::{Insn, Op};
use crate::Cpu;

/// `fflags`.
pub const FFLAGS: u16 = 0x001;
/// `frm`.
pub const FRM: u16 = 0x002;
/// `fcsr`.
pub const FCSR: u16 = 0x003;
/// `cycle`.
pub const CYCLE: u16 = 0xc00;
/// `time`.
pub const TIME: u16 = 0xc01;
/// `instret`.
pub const INSTRET: u16 = 0xc02;

/// Retired instructions per `time` tick: a 10 MHz timebase at ~1 GIPS.
pub const INSTRET_PER_TICK: u64 = 100;

impl Cpu {
    /// Value of CSR `csr`, or `None` if it does not exist in user mode.
    fn csr_read(&self, csr: u16) -> Option<u64> {
        Some(match csr {
            FFLAGS => u64::from(self.fcsr & 0x1f),
            FRM => u64::from((self.fcsr >> 5) & 7),
            FCSR => u64::from(self.fcsr & 0xff),
            CYCLE | INSTRET => self.instret,
            TIME => self.instret / INSTRET_PER_TICK,
            _ => return None,
        })
    }

    /// Write CSR `csr`; `None` if it is read-only or does not exist.
    fn csr_write(&mut self, csr: u16, v: u64) -> Option<()> {
        let v = v as u32;
        self.fcsr = match csr {
            FFLAGS => (self.fcsr & !0x1f) | (v & 0x1f),
            FRM => (self.fcsr & 0x1f) | ((v & 7) << 5),
            FCSR => v & 0xff,
            _ => return None,
        };
        Some(())
    }

    /// Execute a Zicsr instruction (spec 9.1): returns the old value for rd,
    /// or `None` for an illegal access (nothing is changed then).
    pub(crate) fn csr_op(&mut self, i: &Insn) -> Option<u64> {
        let csr = (i.imm as u32 & 0xfff) as u16;
        let src = match i.op {
            Op::Csrrw | Op::Csrrs | Op::Csrrc => self.xr(i.rs1),
            _ => u64::from(i.rs1), // 5-bit zero-extended uimm
        };
        // CSRRW always writes; CSRRS/CSRRC write only when rs1/uimm != 0.
        let writes = matches!(i.op, Op::Csrrw | Op::Csrrwi) || i.rs1 != 0;
        let old = self.csr_read(csr)?; // reads have no side effects here
        if writes {
            let new = match i.op {
                Op::Csrrw | Op::Csrrwi => src,
                Op::Csrrs | Op::Csrrsi => old | src,
                _ => old & !src,
            };
            self.csr_write(csr, new)?;
        }
        Some(old)
    }
}
