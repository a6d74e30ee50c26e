//! The fast path against the soft-float: wherever `host` answers, its result
//! and flags must equal `softfloat`'s bit for bit. Operands are biased
//! toward the hard cases (special values, subnormals, results near 2^emin
//! and near overflow, exact results, equal lowest bits, cancellation), and
//! each test also checks that the fast path does answer for a good share
//! of them, so it cannot pass by declining everything.
//!
//! Each test runs `COWIX_FLOAT_ITERS` cases per operation and format
//! (default 200 000). A long run:
//!
//! ```text
//! COWIX_FLOAT_ITERS=20000000 cargo test --release -p cowix-isa fp::host
//! ```

use super::*;
use crate::softfloat::{self as sf, Env, Rm, UF};

/// Cases per operation and format.
fn iterations() -> usize {
    std::env::var("COWIX_FLOAT_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000)
}

/// xorshift64*: a deterministic operand generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A value of `fmt`, biased toward the hard cases. About half of the
    /// normal values have a biased exponent within 4 of `near`.
    fn operand(&mut self, fmt: Fmt, near: i64) -> u64 {
        let f = fmt.frac_bits;
        let mask = fmt.frac_mask();
        let sign = self.below(2) * fmt.sign_bit();
        let frac = self.next() & mask;
        let top = fmt.exp_max() as i64 - 1; // largest normal biased exponent
        let near_exp = (near + self.below(9) as i64 - 4).clamp(1, top) as u64;
        match self.below(10) {
            0 => self.next() & (fmt.sign_bit() << 1).wrapping_sub(1), // any bits
            1 => sign | small_int(fmt, 1 + self.below(1000)),
            2 => {
                // Just above or just below a power of two.
                let k = self.below(4);
                let frac = if self.below(2) == 0 { k } else { mask - k };
                sign | ((1 + self.below(top as u64)) << f) | frac
            }
            3 => sign | ((top as u64 - self.below(3)) << f) | frac, // near overflow
            4 => sign | (self.below(3) << f) | frac,                // subnormal or barely normal
            5 => {
                let specials = [
                    0,
                    fmt.exp_max() << f,           // infinity
                    fmt.canonical_nan(),          // quiet NaN
                    fmt.canonical_nan() | 0x1234, // quiet NaN, payload
                    (fmt.exp_max() << f) | 1,     // signalling NaN
                    1 << f,                       // smallest normal
                    (fmt.exp_max() << f) - 1,     // largest finite
                    1,                            // smallest subnormal
                    mask,                         // largest subnormal
                    (fmt.bias() as u64) << f,     // 1.0
                ];
                sign | specials[self.below(specials.len() as u64) as usize]
            }
            6 | 7 => sign | (near_exp << f) | self.short(fmt, frac),
            _ => sign | (near_exp << f) | frac,
        }
    }

    /// An operand near a random exponent.
    fn anywhere(&mut self, fmt: Fmt) -> u64 {
        let near = self.below(fmt.exp_max()) as i64;
        self.operand(fmt, near)
    }

    /// `frac` cut to its top few bits, so that products of two such
    /// significands are often exact.
    fn short(&mut self, fmt: Fmt, frac: u64) -> u64 {
        let keep = self.below(u64::from(fmt.frac_bits) / 2 + 1) as u32;
        frac & !(fmt.frac_mask() >> keep)
    }

    /// A biased exponent for the partner of `a` in a multiplicative
    /// operation: near a's (cancellation in fma), or placing the result
    /// near 2^emin or near overflow. `sign` is -1 for division.
    fn partner_exp(&mut self, fmt: Fmt, a: u64, sign: i64) -> i64 {
        let ea = biased_exp(fmt, a);
        let bias = i64::from(fmt.bias());
        let top = fmt.exp_max() as i64 - 1;
        // Result exponent: ea + sign * (eb - bias); solve for eb.
        let eb_for = |er: i64| bias + sign * (er - ea);
        match self.below(4) {
            0 => ea,
            1 => eb_for(1),
            2 => eb_for(top),
            _ => self.below(top as u64) as i64,
        }
    }
}

/// The integer `n` (< 2^24) as a value of `fmt`.
fn small_int(fmt: Fmt, n: u64) -> u64 {
    if fmt == F64 {
        (n as f64).to_bits()
    } else {
        u64::from((n as f32).to_bits())
    }
}

fn biased_exp(fmt: Fmt, a: u64) -> i64 {
    ((a >> fmt.frac_bits) & fmt.exp_max()) as i64
}

/// How often the fast path answered, to prove the tests are not vacuous.
#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    answered: usize,
    /// Answers with NX (the rest were exact).
    inexact: usize,
}

impl Tally {
    /// Check one case: a fast answer must equal the soft-float's `want`.
    fn check(&mut self, what: &str, ins: &[u64], fast: Option<(u64, u32)>, want: (u64, u32)) {
        self.cases += 1;
        if let Some(got) = fast {
            self.answered += 1;
            self.inexact += usize::from(got.1 & NX != 0);
            assert_eq!(
                got, want,
                "{what} {ins:#x?}: fast {got:#x?}, soft {want:#x?}"
            );
        }
    }

    /// The fast path must have answered at least `percent`% of the cases,
    /// and both exact and inexact ones.
    fn assert_answered(&self, what: &str, percent: usize) {
        eprintln!("{what}: {self:?}");
        assert!(
            self.answered * 100 >= self.cases * percent,
            "{what}: fast path answered only {} of {}",
            self.answered,
            self.cases
        );
        assert!(
            0 < self.inexact && self.inexact < self.answered,
            "{what}: fast answers were all exact or all inexact: {self:?}"
        );
    }
}

/// The soft-float in RNE: (result, flags).
fn soft(op: impl FnOnce(&mut Env) -> u64) -> (u64, u32) {
    let mut env = Env::new(Rm::Rne);
    let r = op(&mut env);
    (r, env.flags)
}

type Fast2 = fn(Fmt, u64, u64) -> Option<(u64, u32)>;
type Soft2 = fn(Fmt, u64, u64, &mut Env) -> u64;

#[test]
fn add_sub_mul_div_agree_with_the_soft_float() {
    let ops: [(&str, Fast2, Soft2, i64); 4] = [
        ("add", add, sf::add, 0),
        ("sub", sub, sf::sub, 0),
        ("mul", mul, sf::mul, 1),
        ("div", div, sf::div, -1),
    ];
    let mut rng = Rng(0x0005_eedf_10a7);
    for (name, fast, exact, dir) in ops {
        for fmt in [F32, F64] {
            let mut tally = Tally::default();
            for _ in 0..iterations() {
                let a = rng.anywhere(fmt);
                let near = if dir == 0 {
                    biased_exp(fmt, a)
                } else {
                    rng.partner_exp(fmt, a, dir)
                };
                let b = rng.operand(fmt, near);
                // Exact quotients: a = b * q with short significands.
                let a = if dir == -1 && rng.below(4) == 0 {
                    let q = rng.operand(fmt, i64::from(fmt.bias()));
                    let (x, y) = (rng.short(fmt, b), rng.short(fmt, q));
                    soft(|env| sf::mul(fmt, x, y, env)).0
                } else {
                    a
                };
                let want = soft(|env| exact(fmt, a, b, env));
                tally.check(name, &[a, b], fast(fmt, a, b), want);
            }
            tally.assert_answered(name, 25);
        }
    }
}

#[test]
fn sqrt_agrees_with_the_soft_float() {
    let mut rng = Rng(0x5071);
    for fmt in [F32, F64] {
        let mut tally = Tally::default();
        for _ in 0..iterations() {
            let mut a = rng.operand(fmt, i64::from(fmt.bias()));
            if rng.below(3) == 0 {
                // A perfect square (when the product is exact).
                let r = rng.short(fmt, a) & !fmt.sign_bit();
                a = soft(|env| sf::mul(fmt, r, r, env)).0;
            }
            let want = soft(|env| sf::sqrt(fmt, a, env));
            tally.check("sqrt", &[a], sqrt(fmt, a), want);
        }
        tally.assert_answered("sqrt", 25);
    }
}

#[test]
fn fused_multiply_add_agrees_with_the_soft_float() {
    let mut rng = Rng(0xf3a_0dd);
    for fmt in [F32, F64] {
        let mut tally = Tally::default();
        for _ in 0..iterations() {
            let a = rng.anywhere(fmt);
            let near = rng.partner_exp(fmt, a, 1);
            let b = rng.operand(fmt, near);
            // c near the product, to provoke cancellation and equal lows.
            let product = soft(|env| sf::mul(fmt, a, b, env)).0;
            let c = match rng.below(4) {
                0 => product ^ (rng.below(2) * fmt.sign_bit()),
                1 => rng.anywhere(fmt),
                _ => rng.operand(fmt, biased_exp(fmt, product)),
            };
            let (neg_prod, neg_add) = (rng.below(2) == 1, rng.below(2) == 1);
            let want = soft(|env| sf::fma(fmt, a, b, c, neg_prod, neg_add, env));
            let fast = fma(fmt, a, b, c, neg_prod, neg_add);
            tally.check("fma", &[a, b, c], fast, want);
        }
        tally.assert_answered("fma", 25);
    }
}

#[test]
fn conversions_agree_with_the_soft_float() {
    let mut rng = Rng(0xc0_4e47);
    let (mut narrowing, mut widening) = (Tally::default(), Tally::default());
    let mut ints = [Tally::default(), Tally::default()];
    for _ in 0..iterations() {
        // Doubles around the single range (biased 1023 - 127 = 896 is 2^-127).
        let near = 896 + rng.below(260) as i64;
        let d = rng.operand(F64, near);
        let want = soft(|env| sf::convert(F64, F32, d, env));
        narrowing.check("fcvt.s.d", &[d], narrow(d), want);
        let s = rng.operand(F32, 127);
        let want = soft(|env| sf::convert(F32, F64, s, env));
        widening.check("fcvt.d.s", &[s], widen(s), want);
        let mag = rng.next() >> rng.below(64);
        let neg = rng.below(2) == 1;
        for (k, fmt) in [F32, F64].into_iter().enumerate() {
            let want = soft(|env| sf::from_int(fmt, neg, mag, env));
            ints[k].check(
                "fcvt from int",
                &[u64::from(neg), mag],
                from_int(fmt, neg, mag),
                want,
            );
        }
    }
    narrowing.assert_answered("fcvt.s.d", 25);
    // Widening is always exact: no NX answers to expect.
    assert!(widening.answered * 100 >= widening.cases * 80 && widening.inexact == 0);
    for t in &ints {
        t.assert_answered("fcvt from int", 100);
    }
}

#[test]
fn ordinary_operands_always_take_the_fast_path() {
    let mut rng = Rng(1);
    for _ in 0..10_000 {
        // a in [1, 2), b in [4, 8): no cancellation, over- or underflow.
        let a = (1023 << 52) | (rng.next() >> 12);
        let b = (1025 << 52) | (rng.next() >> 12);
        for fast in [
            add(F64, a, b),
            sub(F64, a, b),
            mul(F64, a, b),
            div(F64, a, b),
        ] {
            assert!(fast.is_some(), "{a:#x} {b:#x}");
        }
        assert!(sqrt(F64, a).is_some() && fma(F64, a, b, a, false, true).is_some());
        let (a, b) = (a >> 32, b >> 32);
        let (a, b) = ((127 << 23) | (a & 0x7f_ffff), (129 << 23) | (b & 0x7f_ffff));
        for fast in [add(F32, a, b), mul(F32, a, b), div(F32, a, b), sqrt(F32, b)] {
            assert!(fast.is_some(), "{a:#x} {b:#x}");
        }
    }
}

#[test]
fn tiny_and_huge_results_are_left_to_the_soft_float() {
    let below_one = 0x3fef_ffff_ffff_ffff; // 1 - 2^-53
    let min_normal = 1u64 << 52;
    // (1 - 2^-53)·2^-1022 rounds to 2^-1022 in the subnormal grid, but to
    // itself at 53 bits with an unbounded exponent: it is tiny after
    // rounding, so UF | NX, and the fast path must decline.
    let want = soft(|env| sf::mul(F64, below_one, min_normal, env));
    assert_eq!(want, (min_normal, UF | NX));
    assert_eq!(mul(F64, below_one, min_normal), None);
    // Overflow to infinity: OF | NX, soft-float only.
    let max = 0x7fef_ffff_ffff_ffff;
    assert_eq!(mul(F64, max, 2f64.to_bits()), None);
    assert_eq!(add(F64, max, max), None);
    // Just above 2^emin: the fast path answers, exactly like the soft-float.
    let just_above = (1.5f64).to_bits();
    let want = soft(|env| sf::mul(F64, just_above, min_normal, env));
    assert_eq!(mul(F64, just_above, min_normal), Some(want));
    assert_eq!(want.1, 0);
    // Exact results of every kind raise nothing.
    let (three, nine) = (3f64.to_bits(), 9f64.to_bits());
    assert_eq!(sqrt(F64, nine), Some((three, 0)));
    assert_eq!(div(F64, nine, three), Some((three, 0)));
    assert_eq!(
        fma(F64, three, three, nine, false, true),
        None,
        "9 - 9 = +0 is left to the soft-float"
    );
    assert_eq!(add(F64, three, three), Some((6f64.to_bits(), 0)));
}
