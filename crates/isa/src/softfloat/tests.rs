//! Soft-float tests: hand-picked edge cases, plus differential tests against
//! the host FPU (round-to-nearest-even only) and against LLVM's APFloat
//! (`rustc_apfloat`, every rounding mode, values and flags).

use super::*;
use rustc_apfloat::ieee::{Double, Single};
use rustc_apfloat::{Float, FloatConvert, Round, Status, StatusAnd};

const MODES: [Rm; 5] = [Rm::Rne, Rm::Rtz, Rm::Rdn, Rm::Rup, Rm::Rmm];

/// xorshift64*: deterministic operand generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// An operand of `fmt`, biased towards special values, subnormals,
    /// values near overflow, and exponents close to `near` (to provoke
    /// cancellation and subnormal results).
    fn operand(&mut self, fmt: Fmt, near: u64) -> u64 {
        let r = self.next();
        let f = fmt.frac_bits;
        let sign = (r >> 63) << (fmt.exp_bits + f);
        let frac = self.next() & fmt.frac_mask();
        let specials = [
            0,
            fmt.inf(false),
            fmt.canonical_nan(),
            fmt.canonical_nan() ^ (1 << (f - 1)) | 1, // signalling NaN
            1,                                        // smallest subnormal
            fmt.frac_mask(),                          // largest subnormal
            1 << f,                                   // smallest normal
            fmt.max_finite(false),
            (fmt.bias() as u64) << f, // 1.0
        ];
        let exp = match r % 8 {
            0 => return sign | specials[(r >> 8) as usize % specials.len()],
            1 => 0,                                // subnormal
            2 => fmt.exp_max() - 1 - (r >> 8) % 4, // near overflow
            3 => (r >> 8) % 4,                     // near underflow
            4 | 5 => (near + (r >> 8) % 5)
                .saturating_sub(2)
                .min(fmt.exp_max() - 1),
            _ => (r >> 8) % fmt.exp_max(),
        };
        sign | (exp << f) | frac
    }
}

fn round_of(rm: Rm) -> Round {
    match rm {
        Rm::Rne => Round::NearestTiesToEven,
        Rm::Rtz => Round::TowardZero,
        Rm::Rdn => Round::TowardNegative,
        Rm::Rup => Round::TowardPositive,
        Rm::Rmm => Round::NearestTiesToAway,
    }
}

fn flags_of(s: Status) -> u32 {
    let mut f = 0;
    for (st, fl) in [
        (Status::INVALID_OP, NV),
        (Status::DIV_BY_ZERO, DZ),
        (Status::OVERFLOW, OF),
        (Status::UNDERFLOW, UF),
        (Status::INEXACT, NX),
    ] {
        if s.contains(st) {
            f |= fl;
        }
    }
    f
}

fn is_nan(fmt: Fmt, v: u64) -> bool {
    let x = unpack(fmt, v);
    x.is_nan()
}

/// Compare our `(bits, flags)` with the reference. NaN results must be the
/// canonical NaN; NV is only compared when no input was a NaN (APFloat's
/// sNaN rules differ); UF may differ when the result is the smallest normal
/// magnitude (APFloat detects tininess before rounding there).
fn check(fmt: Fmt, what: &str, ins: &[u64], got: (u64, u32), want: (u64, u32)) {
    let ctx = || {
        format!(
            "{what} {ins:x?}: got {:#x}/{:#x} want {:#x}/{:#x}",
            got.0, got.1, want.0, want.1
        )
    };
    if is_nan(fmt, want.0) {
        assert_eq!(got.0, fmt.canonical_nan(), "{}", ctx());
    } else {
        assert_eq!(got.0, want.0, "{}", ctx());
    }
    let mut mask = !0u32;
    if ins.iter().any(|&v| is_nan(fmt, v)) {
        mask &= !NV;
    }
    if got.0 & !fmt.sign_bit() == 1 << fmt.frac_bits {
        mask &= !UF;
    }
    // APFloat raises only NX when a directed mode clamps an overflow to the
    // largest finite number; IEEE 754 7.4 (and SoftFloat) also raise OF.
    if got.0 & !fmt.sign_bit() == fmt.max_finite(false) {
        mask &= !OF;
    }
    assert_eq!(got.1 & mask, want.1 & mask, "{}", ctx());
}

fn ours2(f: fn(Fmt, u64, u64, &mut Env) -> u64, fmt: Fmt, a: u64, b: u64, rm: Rm) -> (u64, u32) {
    let mut env = Env::new(rm);
    let r = f(fmt, a, b, &mut env);
    (r, env.flags)
}

fn reference2<F: Float>(op: fn(F, F, Round) -> StatusAnd<F>, a: u64, b: u64, rm: Rm) -> (u64, u32) {
    let r = op(
        F::from_bits(u128::from(a)),
        F::from_bits(u128::from(b)),
        round_of(rm),
    );
    (r.value.to_bits() as u64, flags_of(r.status))
}

const N: usize = 40_000;

#[test]
fn binary_ops_match_apfloat_in_every_rounding_mode() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    type Op = (&'static str, fn(Fmt, u64, u64, &mut Env) -> u64);
    let ops: [Op; 4] = [("add", add), ("sub", sub), ("mul", mul), ("div", div)];
    for (i, (name, f)) in ops.iter().enumerate() {
        for _ in 0..N {
            for fmt in [F32, F64] {
                let a = rng.operand(fmt, 0);
                let near = (a >> fmt.frac_bits) & fmt.exp_max();
                let b = rng.operand(fmt, near);
                let rm = MODES[(rng.next() % 5) as usize];
                let want = match (fmt == F32, i) {
                    (true, 0) => reference2::<Single>(|x, y, r| x.add_r(y, r), a, b, rm),
                    (true, 1) => reference2::<Single>(|x, y, r| x.sub_r(y, r), a, b, rm),
                    (true, 2) => reference2::<Single>(|x, y, r| x.mul_r(y, r), a, b, rm),
                    (true, _) => reference2::<Single>(|x, y, r| x.div_r(y, r), a, b, rm),
                    (false, 0) => reference2::<Double>(|x, y, r| x.add_r(y, r), a, b, rm),
                    (false, 1) => reference2::<Double>(|x, y, r| x.sub_r(y, r), a, b, rm),
                    (false, 2) => reference2::<Double>(|x, y, r| x.mul_r(y, r), a, b, rm),
                    (false, _) => reference2::<Double>(|x, y, r| x.div_r(y, r), a, b, rm),
                };
                check(
                    fmt,
                    &format!("{name} {rm:?}"),
                    &[a, b],
                    ours2(*f, fmt, a, b, rm),
                    want,
                );
            }
        }
    }
}

#[test]
fn fma_matches_apfloat_in_every_rounding_mode() {
    let mut rng = Rng(0xfeed_f00d_dead_beef);
    for _ in 0..N {
        for fmt in [F32, F64] {
            let a = rng.operand(fmt, 0);
            let b = rng.operand(fmt, 0);
            // Put c near the product's exponent to provoke cancellation.
            let ea = (a >> fmt.frac_bits) & fmt.exp_max();
            let eb = (b >> fmt.frac_bits) & fmt.exp_max();
            let near = (ea + eb).saturating_sub(fmt.bias() as u64);
            let c = rng.operand(fmt, near);
            let rm = MODES[(rng.next() % 5) as usize];
            let mut env = Env::new(rm);
            let got = (fma(fmt, a, b, c, false, false, &mut env), env.flags);
            let want = if fmt == F32 {
                let r = Single::from_bits(a.into()).mul_add_r(
                    Single::from_bits(b.into()),
                    Single::from_bits(c.into()),
                    round_of(rm),
                );
                (r.value.to_bits() as u64, flags_of(r.status))
            } else {
                let r = Double::from_bits(a.into()).mul_add_r(
                    Double::from_bits(b.into()),
                    Double::from_bits(c.into()),
                    round_of(rm),
                );
                (r.value.to_bits() as u64, flags_of(r.status))
            };
            check(fmt, &format!("fma {rm:?}"), &[a, b, c], got, want);
        }
    }
}

#[test]
fn rne_results_match_the_host_fpu() {
    let mut rng = Rng(42);
    let mut env = Env::new(Rm::Rne);
    let same64 = |got: u64, want: f64| {
        if want.is_nan() {
            got == F64.canonical_nan()
        } else {
            got == want.to_bits()
        }
    };
    let same32 = |got: u64, want: f32| {
        if want.is_nan() {
            got == F32.canonical_nan()
        } else {
            got == u64::from(want.to_bits())
        }
    };
    for _ in 0..N {
        let (a, b, c) = (
            rng.operand(F64, 0),
            rng.operand(F64, 1023),
            rng.operand(F64, 1023),
        );
        let (x, y, z) = (f64::from_bits(a), f64::from_bits(b), f64::from_bits(c));
        assert!(same64(sqrt(F64, a, &mut env), x.sqrt()), "sqrt {a:#x}");
        assert!(
            same64(fma(F64, a, b, c, false, false, &mut env), x.mul_add(y, z)),
            "fma {a:#x} {b:#x} {c:#x}"
        );
        assert!(same64(add(F64, a, b, &mut env), x + y), "add {a:#x} {b:#x}");
        assert!(same64(div(F64, a, b, &mut env), x / y), "div {a:#x} {b:#x}");
        let (a, b, c) = (
            rng.operand(F32, 0),
            rng.operand(F32, 127),
            rng.operand(F32, 127),
        );
        let (x, y, z) = (
            f32::from_bits(a as u32),
            f32::from_bits(b as u32),
            f32::from_bits(c as u32),
        );
        assert!(same32(sqrt(F32, a, &mut env), x.sqrt()), "sqrt {a:#x}");
        assert!(
            same32(fma(F32, a, b, c, false, false, &mut env), x.mul_add(y, z)),
            "fma {a:#x}"
        );
        assert!(same32(mul(F32, a, b, &mut env), x * y), "mul {a:#x} {b:#x}");
        assert!(
            same64(convert(F32, F64, a, &mut env), f64::from(x)),
            "cvt {a:#x}"
        );
        let d = rng.operand(F64, 1023 - 100);
        assert!(
            same32(convert(F64, F32, d, &mut env), f64::from_bits(d) as f32),
            "cvt {d:#x}"
        );
    }
}

/// Directed-mode square roots, checked with the exact identity
/// `r*r - a` (computed by the host's fused multiply-add).
#[test]
fn sqrt_rounds_in_every_mode() {
    let mut rng = Rng(7);
    for _ in 0..N {
        let a = rng.operand(F64, 1023) & !F64.sign_bit();
        let x = f64::from_bits(a);
        if !x.is_finite() || x == 0.0 || x < 1e-290 {
            continue;
        }
        let near = x.sqrt();
        let below = if near.mul_add(near, -x) > 0.0 {
            f64::from_bits(near.to_bits() - 1)
        } else {
            near
        };
        let exact = below.mul_add(below, -x) == 0.0;
        let above = if exact {
            below
        } else {
            f64::from_bits(below.to_bits() + 1)
        };
        for (rm, want) in [
            (Rm::Rtz, below),
            (Rm::Rdn, below),
            (Rm::Rup, above),
            (Rm::Rne, near),
        ] {
            let mut env = Env::new(rm);
            assert_eq!(sqrt(F64, a, &mut env), want.to_bits(), "sqrt {a:#x} {rm:?}");
            assert_eq!(env.flags, if exact { 0 } else { NX }, "sqrt {a:#x} {rm:?}");
        }
    }
}

#[test]
fn conversions_match_apfloat() {
    let mut rng = Rng(99);
    for _ in 0..N {
        let rm = MODES[(rng.next() % 5) as usize];
        // f64 -> f32 narrowing.
        let d = rng.operand(F64, 1023 - 120);
        let mut env = Env::new(rm);
        let got = (convert(F64, F32, d, &mut env), env.flags);
        let mut lost = false;
        let r: StatusAnd<Single> = Double::from_bits(d.into()).convert_r(round_of(rm), &mut lost);
        check(
            F32,
            "cvt.s.d",
            &[d],
            got,
            (r.value.to_bits() as u64, flags_of(r.status)),
        );
        // Integers -> float.
        let v = rng.next() >> (rng.next() % 64);
        let neg = rng.next() & 1 == 1;
        for fmt in [F32, F64] {
            let mut env = Env::new(rm);
            let got = (from_int(fmt, neg, v, &mut env), env.flags);
            let iv = if neg { -i128::from(v) } else { i128::from(v) };
            let want = if fmt == F32 {
                let r = Single::from_i128_r(iv, round_of(rm));
                (r.value.to_bits() as u64, flags_of(r.status))
            } else {
                let r = Double::from_i128_r(iv, round_of(rm));
                (r.value.to_bits() as u64, flags_of(r.status))
            };
            check(fmt, "from_int", &[v], got, want);
        }
        // Float -> integers of both widths and signedness.
        for fmt in [F32, F64] {
            let near = fmt.bias() as u64 + 20 + rng.next() % 50;
            let a = rng.operand(fmt, near);
            if is_nan(fmt, a) {
                continue;
            }
            for (signed, width) in [(true, 32), (false, 32), (true, 64), (false, 64)] {
                let mut env = Env::new(rm);
                let got = to_int(fmt, a, signed, width, &mut env);
                let mut exact = false;
                let (want, st) = match (fmt == F32, signed) {
                    (true, true) => {
                        let r = Single::from_bits(a.into()).to_i128_r(
                            width as usize,
                            round_of(rm),
                            &mut exact,
                        );
                        (r.value as u128, r.status)
                    }
                    (true, false) => {
                        let r = Single::from_bits(a.into()).to_u128_r(
                            width as usize,
                            round_of(rm),
                            &mut exact,
                        );
                        (r.value, r.status)
                    }
                    (false, true) => {
                        let r = Double::from_bits(a.into()).to_i128_r(
                            width as usize,
                            round_of(rm),
                            &mut exact,
                        );
                        (r.value as u128, r.status)
                    }
                    (false, false) => {
                        let r = Double::from_bits(a.into()).to_u128_r(
                            width as usize,
                            round_of(rm),
                            &mut exact,
                        );
                        (r.value, r.status)
                    }
                };
                let mask = if width == 32 { 0xffff_ffff } else { u64::MAX };
                let ctx = format!("to_int {a:#x} {signed} {width} {rm:?}");
                assert_eq!(got & mask, want as u64 & mask, "{ctx}");
                assert_eq!(env.flags, flags_of(st), "{ctx}");
            }
        }
    }
}

#[test]
fn nan_results_are_canonical_and_snan_raises_invalid() {
    let snan32 = 0x7f80_0001;
    let qnan_payload32 = 0xffc0_1234;
    let mut env = Env::new(Rm::Rne);
    assert_eq!(add(F32, qnan_payload32, 0x3f80_0000, &mut env), 0x7fc0_0000);
    assert_eq!(env.flags, 0);
    assert_eq!(mul(F32, snan32, 0x3f80_0000, &mut env), 0x7fc0_0000);
    assert_eq!(env.flags, NV);
    let mut env = Env::new(Rm::Rne);
    // inf - inf, 0 * inf, 0 / 0, sqrt(-1): invalid, canonical NaN.
    assert_eq!(
        sub(F64, F64.inf(false), F64.inf(false), &mut env),
        0x7ff8_0000_0000_0000
    );
    assert_eq!(div(F64, 0, 0, &mut env), 0x7ff8_0000_0000_0000);
    assert_eq!(
        sqrt(F64, (-1.0f64).to_bits(), &mut env),
        0x7ff8_0000_0000_0000
    );
    assert_eq!(env.flags, NV);
    // fma(inf, 0, qNaN) raises NV (spec 13.6).
    let mut env = Env::new(Rm::Rne);
    assert_eq!(
        fma(
            F64,
            F64.inf(false),
            0,
            F64.canonical_nan(),
            false,
            false,
            &mut env
        ),
        F64.canonical_nan()
    );
    assert_eq!(env.flags, NV);
    // 1 / 0 = inf with DZ.
    let mut env = Env::new(Rm::Rne);
    assert_eq!(
        div(F64, 1.0f64.to_bits(), (-0.0f64).to_bits(), &mut env),
        F64.inf(true)
    );
    assert_eq!(env.flags, DZ);
}

#[test]
fn min_max_treat_negative_zero_as_smaller_and_ignore_one_nan() {
    let mut env = Env::new(Rm::Rne);
    let (pz, nz) = (0u64, F64.sign_bit());
    assert_eq!(min_max(F64, pz, nz, false, &mut env), nz);
    assert_eq!(min_max(F64, nz, pz, false, &mut env), nz);
    assert_eq!(min_max(F64, nz, pz, true, &mut env), pz);
    let one = 1.0f64.to_bits();
    assert_eq!(min_max(F64, F64.canonical_nan(), one, false, &mut env), one);
    assert_eq!(min_max(F64, one, F64.canonical_nan(), true, &mut env), one);
    assert_eq!(env.flags, 0);
    assert_eq!(
        min_max(F64, 0x7ff0_0000_0000_0001, one, true, &mut env),
        one
    );
    assert_eq!(env.flags, NV);
    assert_eq!(
        min_max(
            F64,
            F64.canonical_nan(),
            0x7ff0_0000_0000_0001,
            true,
            &mut env
        ),
        F64.canonical_nan()
    );
}

#[test]
fn comparisons_signal_only_as_the_spec_says() {
    let mut env = Env::new(Rm::Rne);
    let qnan = F32.canonical_nan();
    assert!(!eq(F32, qnan, qnan, &mut env));
    assert_eq!(env.flags, 0, "feq is quiet");
    assert!(!lt(F32, qnan, 0, false, &mut env));
    assert_eq!(env.flags, NV, "flt signals on quiet NaN");
    let mut env = Env::new(Rm::Rne);
    assert!(eq(F32, 0, F32.sign_bit(), &mut env), "-0 == +0");
    assert!(
        !lt(F32, F32.sign_bit(), 0, false, &mut env),
        "-0 < +0 is false"
    );
    assert!(lt(F32, F32.sign_bit(), 0, true, &mut env), "-0 <= +0");
    assert!(lt(F32, 0xbf80_0000, 0x3f80_0000, false, &mut env), "-1 < 1");
    assert!(
        lt(F32, 0xc000_0000, 0xbf80_0000, false, &mut env),
        "-2 < -1"
    );
    assert_eq!(env.flags, 0);
}

#[test]
fn classify_every_class() {
    let cases: [(u64, u32); 10] = [
        (0xfff0_0000_0000_0000, 0), // -inf
        (0xbff0_0000_0000_0000, 1), // -1.0
        (0x800f_ffff_ffff_ffff, 2), // negative subnormal
        (0x8000_0000_0000_0000, 3), // -0
        (0, 4),                     // +0
        (1, 5),                     // positive subnormal
        (0x3ff0_0000_0000_0000, 6), // 1.0
        (0x7ff0_0000_0000_0000, 7), // +inf
        (0x7ff0_0000_0000_0001, 8), // signalling NaN
        (0x7ff8_0000_0000_0000, 9), // quiet NaN
    ];
    for (v, bit) in cases {
        assert_eq!(classify(F64, v), 1 << bit, "{v:#x}");
    }
    assert_eq!(classify(F32, 0x0000_0001), 1 << 5);
    assert_eq!(classify(F32, 0xff80_0000), 1 << 0);
    assert_eq!(classify(F32, 0x7fa0_0000), 1 << 8);
}

#[test]
fn float_to_int_rounds_and_saturates() {
    let m25 = (-2.5f64).to_bits();
    for (rm, want) in [
        (Rm::Rne, -2i64),
        (Rm::Rtz, -2),
        (Rm::Rdn, -3),
        (Rm::Rup, -2),
        (Rm::Rmm, -3),
    ] {
        let mut env = Env::new(rm);
        assert_eq!(
            to_int(F64, m25, true, 32, &mut env) as u32 as i32,
            want as i32,
            "{rm:?}"
        );
        assert_eq!(env.flags, NX);
    }
    let mut env = Env::new(Rm::Rne);
    assert_eq!(
        to_int(F64, 3e10f64.to_bits(), true, 32, &mut env) as u32,
        0x7fff_ffff
    );
    assert_eq!(
        to_int(F64, (-3e10f64).to_bits(), true, 32, &mut env) as u32,
        0x8000_0000
    );
    assert_eq!(
        to_int(F64, F64.canonical_nan(), true, 64, &mut env),
        i64::MAX as u64
    );
    assert_eq!(to_int(F64, F64.inf(true), false, 64, &mut env), 0);
    assert_eq!(to_int(F64, (-1.0f64).to_bits(), false, 32, &mut env), 0);
    assert_eq!(env.flags, NV);
    let mut env = Env::new(Rm::Rtz);
    assert_eq!(to_int(F64, (-0.5f64).to_bits(), false, 64, &mut env), 0);
    assert_eq!(env.flags, NX, "-0.5 -> 0 unsigned is inexact, not invalid");
}

#[test]
fn overflow_and_underflow_flags() {
    let mut env = Env::new(Rm::Rne);
    let max = F64.max_finite(false);
    assert_eq!(mul(F64, max, 2.0f64.to_bits(), &mut env), F64.inf(false));
    assert_eq!(env.flags, OF | NX);
    let mut env = Env::new(Rm::Rtz);
    assert_eq!(mul(F64, max, 2.0f64.to_bits(), &mut env), max);
    // Smallest subnormal halved: tiny and inexact -> UF | NX, rounds to 0.
    let mut env = Env::new(Rm::Rne);
    assert_eq!(mul(F64, 1, 0.5f64.to_bits(), &mut env), 0);
    assert_eq!(env.flags, UF | NX);
    // Exact subnormal result: no flags at all.
    let mut env = Env::new(Rm::Rne);
    assert_eq!(mul(F64, 2, 0.5f64.to_bits(), &mut env), 1);
    assert_eq!(env.flags, 0);
}
