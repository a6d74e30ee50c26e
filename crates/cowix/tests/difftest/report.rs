//! Comparing the two emulators' dumps and describing a mismatch: the case's
//! sequence with disassembly, its start state, and every register and
//! scratch byte range that differs, FP values also decoded.

use std::fmt::Write as _;

use crate::gen::{Case, SCRATCH};
use crate::harness::{DUMP_BYTES, DUMP_F, DUMP_FCSR, DUMP_X};

const XREG: [&str; 32] = [
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
];

fn word(d: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(d[off..off + 8].try_into().unwrap())
}

/// A 64-bit FP register value as the two precisions would read it.
pub fn fp_text(bits: u64) -> String {
    let d = f64::from_bits(bits);
    let mut s = format!(
        "{bits:#018x} (d: {})",
        float_text(d.is_nan(), bits >> 63 == 1, &format!("{d:e}"))
    );
    if bits >> 32 == 0xffff_ffff {
        let f = f32::from_bits(bits as u32);
        let _ = write!(
            s,
            " (s: {})",
            float_text(f.is_nan(), bits >> 31 & 1 == 1, &format!("{f:e}"))
        );
    } else {
        s.push_str(" (s: not NaN-boxed)");
    }
    s
}

fn float_text(nan: bool, neg: bool, v: &str) -> String {
    if nan {
        if neg {
            "-NaN".into()
        } else {
            "NaN".into()
        }
    } else {
        v.to_string()
    }
}

fn fcsr_text(v: u64) -> String {
    const RM: [&str; 8] = ["rne", "rtz", "rdn", "rup", "rmm", "rm5", "rm6", "rm7"];
    let flags: Vec<&str> = [(4, "NV"), (3, "DZ"), (2, "OF"), (1, "UF"), (0, "NX")]
        .iter()
        .filter(|(b, _)| v >> b & 1 == 1)
        .map(|&(_, n)| n)
        .collect();
    format!(
        "{v:#x} (frm {}, flags {})",
        RM[(v >> 5 & 7) as usize],
        if flags.is_empty() {
            "-".into()
        } else {
            flags.join("|")
        }
    )
}

/// The listing of a case's sequence: offset, encoding, disassembly.
pub fn listing(case: &Case) -> String {
    let mut s = String::new();
    let mut off = 0u64;
    for i in &case.code {
        let raw = if i.len == 2 {
            format!("    {:04x}", i.raw)
        } else {
            format!("{:08x}", i.raw)
        };
        let dis = cowix_isa::disassemble_raw(i.raw, off);
        let tag = if i.setup { "  (set-up)" } else { "" };
        let _ = writeln!(s, "  +{off:#05x}  {raw}  {dis:<40} [{}]{tag}", i.name);
        off += u64::from(i.len);
    }
    s
}

/// The start state of a case.
pub fn start_state(case: &Case) -> String {
    let mut s = String::new();
    for (k, v) in case.state.x.iter().enumerate() {
        let _ = writeln!(s, "  x{:<2} {:<4} = {v:#018x}", k + 1, XREG[k + 1]);
    }
    s.push_str("  x31 t6   = scratch buffer address\n");
    for (k, &v) in case.state.f.iter().enumerate() {
        let _ = writeln!(s, "  f{k:<2}      = {}", fp_text(v));
    }
    let _ = writeln!(s, "  fcsr     = {}", fcsr_text(case.state.fcsr));
    s
}

/// Every difference between two dumps of `case`, one line each; empty if equal.
pub fn differences(case: &Case, qemu: &[u8], ours: &[u8]) -> String {
    assert_eq!(qemu.len(), DUMP_BYTES);
    assert_eq!(ours.len(), DUMP_BYTES);
    let mut s = String::new();
    for (r, name) in XREG.iter().enumerate().skip(1) {
        let (q, c) = (
            word(qemu, DUMP_X + (r - 1) * 8),
            word(ours, DUMP_X + (r - 1) * 8),
        );
        if q != c {
            let start = if r <= 30 {
                format!("{:#x}", case.state.x[r - 1])
            } else {
                "scratch".into()
            };
            let _ = writeln!(
                s,
                "  x{r} ({name}): qemu {q:#018x}  cowix {c:#018x}  (start {start})"
            );
        }
    }
    for r in 0..32usize {
        let (q, c) = (word(qemu, DUMP_F + r * 8), word(ours, DUMP_F + r * 8));
        if q != c {
            let _ = writeln!(
                s,
                "  f{r}: qemu  {}\n       cowix {}\n       start {}",
                fp_text(q),
                fp_text(c),
                fp_text(case.state.f[r])
            );
        }
    }
    let (q, c) = (word(qemu, DUMP_FCSR), word(ours, DUMP_FCSR));
    if q != c {
        let _ = writeln!(
            s,
            "  fcsr: qemu {}  cowix {}  (start {})",
            fcsr_text(q),
            fcsr_text(c),
            fcsr_text(case.state.fcsr)
        );
    }
    for k in (0..SCRATCH).step_by(8) {
        let (q, c) = (word(qemu, k), word(ours, k));
        if q != c {
            let st = word(&case.state.scratch, k);
            let _ = writeln!(s, "  scratch[{k:#05x}..+8] (le u64): qemu {q:#018x}  cowix {c:#018x}  (start {st:#018x})");
        }
    }
    s
}
