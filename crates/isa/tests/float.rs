//! F and D execution (RISC-V unprivileged spec chapters 13 and 14): NaN
//! boxing, canonical NaNs, fmin/fmax, conversions with saturation and every
//! rounding mode, fclass, fused multiply-add, flag accrual and reserved
//! rounding modes. (The arithmetic itself is checked exhaustively against
//! reference implementations in the crate's `softfloat` unit tests.)

mod common;
use common::*;
use cowix_isa::{Cpu, Exit};

const FA0: usize = 10;
const FA1: usize = 11;
const FA2: usize = 12;
const FA3: usize = 13;

/// Box a single into an FP register value.
fn boxed(v: f32) -> u64 {
    0xffff_ffff_0000_0000 | u64::from(v.to_bits())
}

/// Run `words` with integer registers `x` and FP registers `f` preset.
fn fexec(x: &[(usize, u64)], f: &[(usize, u64)], fcsr: u32, words: &[u32]) -> Cpu {
    let mut cpu = cpu_with(x);
    for &(r, v) in f {
        cpu.f[r] = v;
    }
    cpu.fcsr = fcsr;
    let (_, exit) = run32(&mut cpu, words);
    assert_eq!(exit, Exit::Budget, "stopped early at pc {:#x}", cpu.pc);
    cpu
}

/// One double-precision binary op on fa1, fa2 -> fa0; returns (fa0, fflags).
fn d2(word: u32, a: f64, b: f64) -> (f64, u32) {
    let cpu = fexec(&[], &[(FA1, a.to_bits()), (FA2, b.to_bits())], 0, &[word]);
    (f64::from_bits(cpu.f[FA0]), cpu.fcsr & 0x1f)
}

const NV: u32 = 16;
const DZ: u32 = 8;
const NX: u32 = 1;

#[test]
fn single_results_are_nan_boxed_and_unboxed_inputs_read_as_canonical_nan() {
    let cpu = fexec(
        &[],
        &[(FA1, boxed(1.5)), (FA2, boxed(2.0))],
        0,
        &[0x00c5f553],
    ); // fadd.s fa0, fa1, fa2
    assert_eq!(cpu.f[FA0], boxed(3.5));
    // fa1 holds a double (not boxed): it is the canonical NaN as a single.
    let cpu = fexec(
        &[],
        &[(FA1, 1.5f64.to_bits()), (FA2, boxed(2.0))],
        0,
        &[0x00c5f553],
    );
    assert_eq!(cpu.f[FA0], 0xffff_ffff_7fc0_0000);
    assert_eq!(cpu.fcsr, 0, "a quiet NaN input raises nothing");
}

#[test]
fn moves_between_register_files_are_raw() {
    let cpu = fexec(
        &[(A0, 0x1234_5678_bf80_0000)],
        &[],
        0,
        &[
            0xf0050553, // fmv.w.x fa0, a0
            0xe0050553, // fmv.x.w a0, fa0
        ],
    );
    assert_eq!(cpu.f[FA0], boxed(-1.0));
    assert_eq!(cpu.x[A0], 0xffff_ffff_bf80_0000, "fmv.x.w sign-extends");
    // fmv.x.w does not check boxing.
    let cpu = fexec(&[], &[(FA0, 0x0000_0000_7f80_0001)], 0, &[0xe0050553]);
    assert_eq!(cpu.x[A0], 0x7f80_0001);
    let cpu = fexec(
        &[(A0, 0x7ff0_0000_0000_0001)],
        &[],
        0,
        &[
            0xf2050553, // fmv.d.x fa0, a0
            0xe2050553, // fmv.x.d a0, fa0
        ],
    );
    assert_eq!(
        (cpu.f[FA0], cpu.x[A0]),
        (0x7ff0_0000_0000_0001, 0x7ff0_0000_0000_0001)
    );
}

#[test]
fn fp_loads_and_stores() {
    let mut bus = TestBus::new();
    bus.write(DATA, &0x4049_0fdbu32.to_le_bytes());
    bus.put_words(
        CODE,
        &[
            0x0005a507, // flw fa0, 0(a1)
            0x00b5b427, // fsd fa1, 8(a1)
            0x0005b507, // fld fa0, 0(a1)
        ],
    );
    let mut cpu = cpu_with(&[(A1, DATA)]);
    cpu.f[FA1] = 0x0123_4567_89ab_cdef;
    cpu.pc = CODE;
    assert_eq!(cpu.run(&mut bus, 1), Exit::Budget);
    assert_eq!(cpu.f[FA0], 0xffff_ffff_4049_0fdb, "flw boxes");
    assert_eq!(cpu.run(&mut bus, 2), Exit::Budget);
    assert_eq!(bus.read(DATA + 8, 8), 0x0123_4567_89ab_cdef);
    assert_eq!(cpu.f[FA0], 0x4049_0fdb, "fld is raw");
    // fsw stores the low 32 bits without unboxing.
    let mut cpu = cpu_with(&[(A1, DATA)]);
    cpu.f[FA1] = 0x0000_0000_3f80_0000;
    let (bus, _) = run32(&mut cpu, &[0x00b5a427]); // fsw fa1, 8(a1)
    assert_eq!(bus.read(DATA + 8, 4), 0x3f80_0000);
}

#[test]
fn arithmetic_produces_canonical_nans_and_flags() {
    let (r, fl) = d2(0x0ac5f553, f64::INFINITY, f64::INFINITY); // fsub.d fa0, fa1, fa2
    assert_eq!((r.to_bits(), fl), (0x7ff8_0000_0000_0000, NV));
    let (r, fl) = d2(0x1ac5f553, 1.0, 0.0); // fdiv.d fa0, fa1, fa2
    assert_eq!((r, fl), (f64::INFINITY, DZ));
    let (r, fl) = d2(0x1ac5f553, 1.0, 3.0); // fdiv.d fa0, fa1, fa2
    assert_eq!((r, fl), (1.0 / 3.0, NX));
    let (r, fl) = d2(0x12c5f553, 1.5, -2.0); // fmul.d fa0, fa1, fa2
    assert_eq!((r, fl), (-3.0, 0));
    // A NaN with a payload and the sign set still gives the canonical NaN.
    let (r, _) = d2(0x02c5f553, f64::from_bits(0xfff8_0000_dead_beef), 1.0); // fadd.d fa0, fa1, fa2
    assert_eq!(r.to_bits(), 0x7ff8_0000_0000_0000);
    let cpu = fexec(&[], &[(FA1, 2.0f64.to_bits())], 0, &[0x5a05f553]); // fsqrt.d fa0, fa1
    assert_eq!((f64::from_bits(cpu.f[FA0]), cpu.fcsr), (2.0f64.sqrt(), NX));
    let cpu = fexec(&[], &[(FA1, boxed(-4.0))], 0, &[0x5805f553]); // fsqrt.s fa0, fa1
    assert_eq!((cpu.f[FA0], cpu.fcsr), (0xffff_ffff_7fc0_0000, NV));
}

#[test]
fn flags_accrue_until_cleared_and_read_through_frflags() {
    let cpu = fexec(
        &[],
        &[(FA1, 1.0f64.to_bits()), (FA2, 0.0f64.to_bits())],
        0,
        &[
            0x1ac5f553,             // fdiv.d fa0, fa1, fa2   (DZ)
            0x0ac58553 | (7 << 12), // fsub.d fa0, fa1, fa2 dyn (exact, no flags)
            0xa2c59553,             // flt.d a0, fa1, fa2     (no NaN: no flags)
            0x00102573,             // csrrs a0, fflags, zero (frflags a0)
        ],
    );
    assert_eq!(cpu.x[A0], u64::from(DZ));
    let cpu = fexec(
        &[],
        &[(FA1, 1.0f64.to_bits()), (FA2, 3.0f64.to_bits())],
        DZ,
        &[
            0x1ac5f553, // fdiv.d fa0, fa1, fa2 (NX)
            0x00102573, // csrrs a0, fflags, zero
        ],
    );
    assert_eq!(cpu.x[A0], u64::from(DZ | NX));
}

#[test]
fn fmin_fmax_order_negative_zero_and_skip_a_single_nan() {
    assert_eq!(d2(0x2ac58553, 0.0, -0.0).0.to_bits(), (-0.0f64).to_bits()); // fmin.d fa0, fa1, fa2
    assert_eq!(d2(0x2ac58553, -0.0, 0.0).0.to_bits(), (-0.0f64).to_bits()); // fmin.d
    assert_eq!(d2(0x2ac59553, -0.0, 0.0).0.to_bits(), 0); // fmax.d fa0, fa1, fa2
    assert_eq!(d2(0x2ac58553, f64::NAN, 2.0), (2.0, 0)); // fmin.d
    let (r, fl) = d2(0x2ac59553, f64::from_bits(0x7ff0_0000_0000_0001), 2.0); // fmax.d, sNaN
    assert_eq!((r, fl), (2.0, NV));
    let (r, _) = d2(0x2ac58553, f64::NAN, f64::NAN); // fmin.d
    assert_eq!(r.to_bits(), 0x7ff8_0000_0000_0000);
    let cpu = fexec(
        &[],
        &[(FA1, boxed(f32::NAN)), (FA2, boxed(-1.0))],
        0,
        &[0x28c58553],
    ); // fmin.s
    assert_eq!(cpu.f[FA0], boxed(-1.0));
}

#[test]
fn float_to_int_saturates_and_nan_gives_the_maximum() {
    let w_s = |v: f32| {
        let cpu = fexec(&[], &[(FA1, boxed(v))], 0, &[0xc0059553]); // fcvt.w.s a0, fa1, rtz
        (cpu.x[A0], cpu.fcsr)
    };
    assert_eq!(w_s(3e9), (0x7fff_ffff, NV));
    assert_eq!(w_s(-3e9), (0xffff_ffff_8000_0000, NV));
    assert_eq!(w_s(f32::NAN), (0x7fff_ffff, NV));
    assert_eq!(w_s(f32::NEG_INFINITY), (0xffff_ffff_8000_0000, NV));
    assert_eq!(w_s(-1.9), ((-1i64) as u64, NX));
    let wu_s = |v: f32| {
        let cpu = fexec(&[], &[(FA1, boxed(v))], 0, &[0xc0159553]); // fcvt.wu.s a0, fa1, rtz
        (cpu.x[A0], cpu.fcsr)
    };
    assert_eq!(wu_s(-1.0), (0, NV));
    assert_eq!(wu_s(f32::NAN), (u64::MAX, NV), "0xffffffff sign-extended");
    assert_eq!(
        wu_s(4e9),
        (0xffff_ffff_ee6b_2800, 0),
        "4e9 fits; result is sign-extended"
    );
    let cpu = fexec(&[], &[(FA1, 1e19f64.to_bits())], 0, &[0xc2259553]); // fcvt.l.d a0, fa1, rtz
    assert_eq!((cpu.x[A0], cpu.fcsr), (i64::MAX as u64, NV));
}

#[test]
fn rounding_modes_static_and_dynamic_on_minus_two_and_a_half() {
    let m25 = (-2.5f64).to_bits();
    let cases: [(u32, i64); 5] = [
        (0xc2059553, -2), // fcvt.w.d a0, fa1, rtz
        (0xc2058553, -2), // fcvt.w.d a0, fa1, rne
        (0xc205a553, -3), // fcvt.w.d a0, fa1, rdn
        (0xc205b553, -2), // fcvt.w.d a0, fa1, rup
        (0xc205c553, -3), // fcvt.w.d a0, fa1, rmm
    ];
    for (w, want) in cases {
        let cpu = fexec(&[], &[(FA1, m25)], 0, &[w]);
        assert_eq!((cpu.x[A0] as i64, cpu.fcsr), (want, NX), "{w:#010x}");
    }
    // Dynamic: frm = rdn (2), set with fsrm.
    let cpu = fexec(
        &[(A1, 2)],
        &[(FA1, m25)],
        0,
        &[
            0x00259073, // csrrw zero, frm, a1 (fsrm a1)
            0xc205f553, // fcvt.w.d a0, fa1 (dyn)
        ],
    );
    assert_eq!(cpu.x[A0] as i64, -3);
    // Directed rounding of an inexact sum.
    let (r, _) = d2(0x02c59553, 1.0, f64::EPSILON / 4.0); // fadd.d fa0, fa1, fa2, rtz
    assert_eq!(r, 1.0);
}

/// Arithmetic in RNE may take the host-FPU fast path; every other mode,
/// static or dynamic, must still round its own way, with the same flags.
#[test]
fn directed_rounding_modes_bypass_the_nearest_even_fast_path() {
    let up = 1.0 + f64::EPSILON;
    let fa12 = |fcsr: u32, word: u32, a: f64, b: f64| {
        let cpu = fexec(
            &[],
            &[(FA1, a.to_bits()), (FA2, b.to_bits())],
            fcsr,
            &[word],
        );
        (f64::from_bits(cpu.f[FA0]), cpu.fcsr & 0x1f)
    };
    let tiny = f64::EPSILON / 256.0;
    // fadd.d fa0, fa1, fa2: 1 + 2^-60 is 1 in RNE, the next double in RUP.
    assert_eq!(fa12(0, 0x02c5f553, 1.0, tiny), (1.0, NX)); // dyn, frm = rne
    assert_eq!(fa12(3 << 5, 0x02c5f553, 1.0, tiny), (up, NX)); // dyn, frm = rup
    assert_eq!(fa12(0, 0x02c5b553, 1.0, tiny), (up, NX)); // static rup

    // fmul.d fa0, fa1, fa2: (1 + 2^-52)^2 = 1 + 2^-51 + 2^-104.
    let want_rne = 1.0 + 2.0 * f64::EPSILON;
    assert_eq!(fa12(0, 0x12c5f553, up, up), (want_rne, NX));
    assert_eq!(
        fa12(3 << 5, 0x12c5f553, up, up),
        (want_rne + f64::EPSILON, NX)
    );

    // fsqrt.d fa0, fa1 of 2: RNE rounds up, RTZ down.
    let root = 2f64.sqrt();
    assert_eq!(fa12(0, 0x5a05f553, 2.0, 0.0), (root, NX));
    assert_eq!(
        fa12(1 << 5, 0x5a05f553, 2.0, 0.0),
        (f64::from_bits(root.to_bits() - 1), NX)
    );
}

#[test]
fn reserved_rounding_modes_are_illegal_and_change_nothing() {
    for frm in [5u32, 6, 7] {
        let mut cpu = cpu_with(&[]);
        cpu.f[FA1] = 1.0f64.to_bits();
        cpu.f[FA2] = 3.0f64.to_bits();
        cpu.fcsr = frm << 5;
        let (_, exit) = run32(&mut cpu, &[0x1ac5f553]); // fdiv.d fa0, fa1, fa2 (dyn)
        assert_eq!(
            exit,
            Exit::Illegal {
                pc: CODE,
                insn: 0x1ac5f553
            },
            "frm {frm}"
        );
        assert_eq!((cpu.f[FA0], cpu.fcsr, cpu.instret), (0, frm << 5, 0));
    }
    // rm = 5 in the instruction itself.
    let w = 0x02c5d553; // fadd.d fa0, fa1, fa2 with rm = 101
    let mut cpu = cpu_with(&[]);
    let (_, exit) = run32(&mut cpu, &[w]);
    assert_eq!(exit, Exit::Illegal { pc: CODE, insn: w });
}

#[test]
fn int_to_float_and_float_to_float_conversions() {
    let cpu = fexec(&[(A1, (-3i64) as u64)], &[], 0, &[0xd225f553]); // fcvt.d.l fa0, a1
    assert_eq!(f64::from_bits(cpu.f[FA0]), -3.0);
    let cpu = fexec(&[(A1, u64::MAX)], &[], 0, &[0xd035f553]); // fcvt.s.lu fa0, a1
    assert_eq!((cpu.f[FA0], cpu.fcsr), (boxed(1.8446744e19), NX));
    let cpu = fexec(&[(A1, 0xffff_ffff_ffff_ffff)], &[], 0, &[0xd2158553]); // fcvt.d.wu fa0, a1
    assert_eq!(f64::from_bits(cpu.f[FA0]), 4294967295.0);
    let cpu = fexec(&[(A1, 0x1_ffff_ffff)], &[], 0, &[0xd005f553]); // fcvt.s.w fa0, a1
    assert_eq!(cpu.f[FA0], boxed(-1.0), "only the low 32 bits, signed");
    let cpu = fexec(&[(A1, 0x8000_0000)], &[], 0, &[0xd2058553]); // fcvt.d.w fa0, a1
    assert_eq!(f64::from_bits(cpu.f[FA0]), -2147483648.0);
    let cpu = fexec(&[], &[(FA1, 0.1f64.to_bits())], 0, &[0x4015f553]); // fcvt.s.d fa0, fa1
    assert_eq!((cpu.f[FA0], cpu.fcsr), (boxed(0.1), NX));
    let cpu = fexec(&[], &[(FA1, boxed(0.1))], 0, &[0x42058553]); // fcvt.d.s fa0, fa1
    assert_eq!(
        (f64::from_bits(cpu.f[FA0]), cpu.fcsr),
        (f64::from(0.1f32), 0)
    );
    let cpu = fexec(
        &[],
        &[(FA1, boxed(f32::from_bits(0x7f80_0001)))],
        0,
        &[0x42058553],
    );
    assert_eq!(
        (cpu.f[FA0], cpu.fcsr),
        (0x7ff8_0000_0000_0000, NV),
        "sNaN widens to canonical NaN"
    );
}

#[test]
fn fclass_reports_each_class() {
    let cases: [(f64, u64); 10] = [
        (f64::NEG_INFINITY, 1 << 0),
        (-1.0, 1 << 1),
        (-f64::from_bits(1), 1 << 2),
        (-0.0, 1 << 3),
        (0.0, 1 << 4),
        (f64::from_bits(1), 1 << 5),
        (1.0, 1 << 6),
        (f64::INFINITY, 1 << 7),
        (f64::from_bits(0x7ff0_0000_0000_0001), 1 << 8),
        (f64::NAN, 1 << 9),
    ];
    for (v, want) in cases {
        let cpu = fexec(&[], &[(FA1, v.to_bits())], 0, &[0xe2059553]); // fclass.d a0, fa1
        assert_eq!(cpu.x[A0], want, "{v:?}");
    }
    let cpu = fexec(&[], &[(FA1, 1.0f64.to_bits())], 0, &[0xe0059553]); // fclass.s a0, fa1 (unboxed)
    assert_eq!(cpu.x[A0], 1 << 9, "an unboxed single is a quiet NaN");
}

#[test]
fn fused_multiply_add_rounds_once() {
    // (1 + 2^-30)^2 - (1 + 2^-29) = 2^-60 exactly; mul-then-sub would give 0.
    let x = f64::from_bits(0x3ff0_0000_0040_0000);
    let c = f64::from_bits(0x3ff0_0000_0080_0000);
    let f = [(FA1, x.to_bits()), (FA2, x.to_bits()), (FA3, c.to_bits())];
    let r = |w: u32| f64::from_bits(fexec(&[], &f, 0, &[w]).f[FA0]);
    assert_eq!(r(0x6ac5f547), 2f64.powi(-60)); // fmsub.d fa0, fa1, fa2, fa3: x*x - c
    assert_eq!(r(0x6ac5f54b), -(2f64.powi(-60))); // fnmsub.d: -(x*x) + c
    assert_eq!(
        x * x - c,
        0.0,
        "separately rounded, the difference vanishes"
    );
    assert_eq!(r(0x6ac5f543), x.mul_add(x, c)); // fmadd.d: x*x + c
    assert_eq!(r(0x6ac5f54f), -x.mul_add(x, c)); // fnmadd.d: -(x*x) - c
                                                 // Single precision: (1 + 2^-12)^2 - (1 + 2^-11) = 2^-24.
    let xs = f32::from_bits(0x3f80_0800);
    let cs = f32::from_bits(0xbf80_1000); // -(1 + 2^-11)
    let f = [(FA1, boxed(xs)), (FA2, boxed(xs)), (FA3, boxed(cs))];
    let cpu = fexec(&[], &f, 0, &[0x68c5f543]); // fmadd.s fa0, fa1, fa2, fa3
    assert_eq!((cpu.f[FA0], cpu.fcsr), (boxed(2f32.powi(-24)), 0));
}

#[test]
fn sign_injection_and_comparisons() {
    let f = [(FA1, 3.0f64.to_bits()), (FA2, (-1.0f64).to_bits())];
    let r = |w: u32| f64::from_bits(fexec(&[], &f, 0, &[w]).f[FA0]);
    assert_eq!(r(0x22c58553), -3.0); // fsgnj.d fa0, fa1, fa2
    assert_eq!(r(0x22c59553), 3.0); // fsgnjn.d fa0, fa1, fa2
    assert_eq!(r(0x22c5a553), -3.0); // fsgnjx.d fa0, fa1, fa2
    let cpu = fexec(&[], &[(FA1, boxed(2.0))], 0, &[0x20b59553]); // fsgnjn.s fa0, fa1, fa1 (fneg.s)
    assert_eq!(cpu.f[FA0], boxed(-2.0));
    let cmp = |w: u32, a: f64, b: f64| {
        let cpu = fexec(&[], &[(FA1, a.to_bits()), (FA2, b.to_bits())], 0, &[w]);
        (cpu.x[A0], cpu.fcsr)
    };
    assert_eq!(cmp(0xa2c5a553, 0.0, -0.0), (1, 0)); // feq.d a0, fa1, fa2
    assert_eq!(cmp(0xa2c59553, -1.0, 1.0), (1, 0)); // flt.d a0, fa1, fa2
    assert_eq!(cmp(0xa2c58553, 1.0, 1.0), (1, 0)); // fle.d a0, fa1, fa2
    assert_eq!(cmp(0xa2c5a553, f64::NAN, f64::NAN), (0, 0)); // feq.d: quiet
    assert_eq!(cmp(0xa2c59553, f64::NAN, 1.0), (0, NV)); // flt.d: signalling
    assert_eq!(cmp(0xa2c58553, 1.0, f64::NAN), (0, NV)); // fle.d: signalling
}
