//! Host-FPU fast path for F/D arithmetic, bit-identical to `softfloat`.
//!
//! The soft-float is the reference: exact in every rounding mode, with exact
//! `fflags`, but it costs dozens of integer operations per instruction.
//! Nearly all guest floating point runs in round-to-nearest-even (rm = 000,
//! or dynamic with `frm` = 000; spec 13.2), which is also the host's
//! rounding, so here the host computes the result and a few integer
//! operations on the operands' bits prove what the flags are. Every function
//! returns `Some((result, fflags))` only when both are bit-identical to what
//! the soft-float gives, and `None` otherwise, for the caller to run the
//! soft-float. `host/tests.rs` checks that claim on random operands.
//!
//! # Why the results are identical
//!
//! Rust's `f32`/`f64` `+ - * /`, `sqrt`, `mul_add` and integer-to-float
//! and float-to-float `as` casts are the IEEE 754 operations, rounded to
//! nearest-even (Rust never contracts `a * b + c` nor keeps excess
//! precision, and `mul_add` rounds once even where libm emulates it without
//! an FMA instruction). The exception is 32-bit x86 with only the x87 FPU,
//! where this module is off ([`ENABLED`]). Results differ only for NaNs:
//! RISC-V returns the canonical NaN (spec 13.3), hosts propagate payloads.
//! So every path requires a finite result and leaves NaNs to the soft-float.
//!
//! # Why the flags are identical
//!
//! With a finite result NV cannot be raised (an invalid operation gives
//! NaN), nor DZ (it gives an infinity), and OF is raised exactly when an RNE
//! result is infinite. UF is raised for an inexact result that is tiny, and
//! "tininess is detected after rounding" (spec 13.4 "Subnormal
//! Arithmetic"): the exact value rounded to p bits with an unbounded
//! exponent is below 2^emin, the smallest normal. That needs a rounded
//! result of magnitude at most 2^emin, and exactly 2^emin is possible (a
//! value just below it can round up to it in the subnormal grid but not at
//! p bits). So the arithmetic paths require `2^emin < |result| < inf`
//! ([`in_fast_range`]); there only NX can be raised, and it is decided
//! exactly, by integer arithmetic on the operands' bits, with:
//!
//! **Lemma (exact iff short).** Write a nonzero binary number x as an odd
//! integer times 2^low(x). Let r = RN(x) with 2^emin <= |r| < inf, its
//! leading bit 2^lead(r). Then x = r iff lead(r) - low(x) < p, the
//! precision (24 or 53 bits).
//!
//! *Proof.* If x = r, x is a float, whose set bits lie within p consecutive
//! positions. Conversely, RN is monotonic and 2^(lead(r)+1) is a float or
//! the overflow threshold, so |x| < 2^(lead(r)+1). Hence x = k·2^low(x)
//! with k odd and |k| < 2^(lead(r)+1-low(x)) <= 2^p, and low(x) > lead(r) -
//! p >= emin - p. Every such number is a (normal or subnormal) float, so
//! RN(x) = x.
//!
//! low(x) of the exact result x comes from the operands' bits
//! ([`odd_part`]; zero has no set bit, and its low counts as +inf):
//!
//! | x        | low(x) |
//! |----------|--------|
//! | `a·b`    | low(a) + low(b): odd times odd is odd |
//! | `a + b`  | min(low(a), low(b)) if they differ. If both are l, x is exact anyway: with A, B odd and below 2^p, (A + B)·2^l = ((A + B)/2)·2^(l+1) and \|(A + B)/2\| < 2^p |
//! | `a·b + c` | as for `+`, with low(a·b) from the first row; if they are equal, from the exact odd integers A·B ± C |
//!
//! A quotient q = RN(a/b) is exact iff q·b = a exactly: RN(q·b) must be a,
//! and by the lemma (x = q·b, low(x) = low(q) + low(b), r = a) q·b is then
//! exact iff lead(a) - low(x) < p. A square root r likewise, with r·r = a.
//! An integer n converts exactly iff its odd part is below 2^p.

use crate::softfloat::{Fmt, F32, F64, NX};
use core::ops::{Add, Div, Mul};

/// Whether the host's float operations are IEEE 754 binary32/binary64 ones:
/// all hosts except 32-bit x86 without SSE2, whose x87 FPU rounds to
/// extended precision first.
const ENABLED: bool = !cfg!(all(target_arch = "x86", not(target_feature = "sse2")));

/// `low` of zero: above every real `low` and every sum of two (|low| < 1200).
const ZERO_LOW: i32 = 1 << 20;

/// A host float type implementing one RISC-V format. Operands and results
/// are raw bits in the low bits of a `u64`, as in `softfloat`.
trait HostFloat:
    Copy + PartialOrd + Add<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    /// The format.
    const FMT: Fmt;
    /// Precision p in bits, the implicit one included.
    const P: i32;
    /// Smallest positive normal, 2^emin.
    const MIN_NORMAL: Self;
    /// Largest finite value.
    const MAX: Self;
    fn from_raw(bits: u64) -> Self;
    fn raw(self) -> u64;
    fn abs(self) -> Self;
    fn sqrt(self) -> Self;
    fn mul_add(self, b: Self, c: Self) -> Self;
    /// `n` rounded to nearest-even (Rust's `as`).
    fn from_u64(n: u64) -> Self;
}

macro_rules! host_float {
    ($t:ty, $fmt:expr, $bits:ty) => {
        impl HostFloat for $t {
            const FMT: Fmt = $fmt;
            const P: i32 = <$t>::MANTISSA_DIGITS as i32;
            const MIN_NORMAL: Self = <$t>::MIN_POSITIVE;
            const MAX: Self = <$t>::MAX;
            #[inline(always)]
            fn from_raw(bits: u64) -> Self {
                <$t>::from_bits(bits as $bits)
            }
            #[inline(always)]
            fn raw(self) -> u64 {
                u64::from(self.to_bits())
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn mul_add(self, b: Self, c: Self) -> Self {
                <$t>::mul_add(self, b, c)
            }
            #[inline(always)]
            fn from_u64(n: u64) -> Self {
                n as $t
            }
        }
    };
}
host_float!(f32, F32, u32);
host_float!(f64, F64, u64);

/// Run `op` on the host type of `fmt`.
macro_rules! by_format {
    ($fmt:expr, $op:ident($($arg:expr),*)) => {
        if $fmt == F64 {
            $op::<f64>($($arg),*)
        } else {
            $op::<f32>($($arg),*)
        }
    };
}

/// The finite value `bits` of `fmt` as `(k, low)`, value = ±k·2^low with
/// k odd; zero is `(0, ZERO_LOW)`.
#[inline]
fn odd_part(fmt: Fmt, bits: u64) -> (u64, i32) {
    let f = fmt.frac_bits;
    let biased = ((bits >> f) & fmt.exp_max()) as i32;
    let frac = bits & fmt.frac_mask();
    // A subnormal is frac·2^(emin-f); a normal has the implicit one.
    let (sig, exp) = if biased == 0 {
        (frac, fmt.emin() - f as i32)
    } else {
        (frac | 1 << f, biased - fmt.bias() - f as i32)
    };
    if sig == 0 {
        return (0, ZERO_LOW);
    }
    let tz = sig.trailing_zeros();
    (sig >> tz, exp + tz as i32)
}

/// Exponent of the leading bit of the normal value `bits` of `fmt`.
#[inline]
fn lead(fmt: Fmt, bits: u64) -> i32 {
    ((bits >> fmt.frac_bits) & fmt.exp_max()) as i32 - fmt.bias()
}

/// Whether `2^emin < |r| < inf`: a result that cannot have overflowed or
/// underflowed, and the lemma applies (false for NaN).
#[inline]
fn in_fast_range<T: HostFloat>(r: T) -> bool {
    let m = r.abs();
    ENABLED && m > T::MIN_NORMAL && m <= T::MAX
}

/// Flags of the RNE result `r` (in fast range) of an exact value whose
/// lowest set bit is 2^`low`: NX unless the lemma says `r` is exact.
#[inline]
fn nx_by_span<T: HostFloat>(r: T, low: i32) -> u32 {
    if lead(T::FMT, r.raw()) - low < T::P {
        0
    } else {
        NX
    }
}

/// `a + b` in RNE (spec 13.6 FADD), or `None`.
#[inline]
pub(crate) fn add(fmt: Fmt, a: u64, b: u64) -> Option<(u64, u32)> {
    by_format!(fmt, add_in(a, b))
}

/// `a - b` in RNE (spec 13.6 FSUB), or `None`.
#[inline]
pub(crate) fn sub(fmt: Fmt, a: u64, b: u64) -> Option<(u64, u32)> {
    add(fmt, a, b ^ fmt.sign_bit())
}

#[inline]
fn add_in<T: HostFloat>(a: u64, b: u64) -> Option<(u64, u32)> {
    let r = T::from_raw(a) + T::from_raw(b);
    if !in_fast_range(r) {
        return None;
    }
    let (la, lb) = (odd_part(T::FMT, a).1, odd_part(T::FMT, b).1);
    let flags = if la == lb {
        0 // equal lowest bits: always exact (module doc)
    } else {
        nx_by_span(r, la.min(lb))
    };
    Some((r.raw(), flags))
}

/// `a * b` in RNE (spec 13.6 FMUL), or `None`.
#[inline]
pub(crate) fn mul(fmt: Fmt, a: u64, b: u64) -> Option<(u64, u32)> {
    by_format!(fmt, mul_in(a, b))
}

#[inline]
fn mul_in<T: HostFloat>(a: u64, b: u64) -> Option<(u64, u32)> {
    let r = T::from_raw(a) * T::from_raw(b);
    if !in_fast_range(r) {
        return None; // also every zero, infinite or NaN operand
    }
    let low = odd_part(T::FMT, a).1 + odd_part(T::FMT, b).1;
    Some((r.raw(), nx_by_span(r, low)))
}

/// `a / b` in RNE (spec 13.6 FDIV), or `None`.
#[inline]
pub(crate) fn div(fmt: Fmt, a: u64, b: u64) -> Option<(u64, u32)> {
    by_format!(fmt, div_in(a, b))
}

#[inline]
fn div_in<T: HostFloat>(a: u64, b: u64) -> Option<(u64, u32)> {
    let (x, y) = (T::from_raw(a), T::from_raw(b));
    let q = x / y;
    // q in range means a and b are finite and nonzero; a must be normal.
    if !in_fast_range(q) || (a >> T::FMT.frac_bits) & T::FMT.exp_max() == 0 {
        return None;
    }
    // q is exact iff q·b = a: RN(q·b) = a, and q·b's bits span < p.
    let low = odd_part(T::FMT, q.raw()).1 + odd_part(T::FMT, b).1;
    let exact = (q * y).raw() == a && lead(T::FMT, a) - low < T::P;
    Some((q.raw(), if exact { 0 } else { NX }))
}

/// `sqrt(a)` in RNE (spec 13.6 FSQRT), or `None`.
#[inline]
pub(crate) fn sqrt(fmt: Fmt, a: u64) -> Option<(u64, u32)> {
    by_format!(fmt, sqrt_in(a))
}

#[inline]
fn sqrt_in<T: HostFloat>(a: u64) -> Option<(u64, u32)> {
    // Only positive normal a (the sign bit makes `a >> frac_bits` too big);
    // then the root is normal: 2^(emin/2) <= r < 2^((emax+1)/2).
    if !ENABLED || !(1..T::FMT.exp_max()).contains(&(a >> T::FMT.frac_bits)) {
        return None;
    }
    let r = T::from_raw(a).sqrt();
    // r is exact iff r·r = a: RN(r·r) = a, and r·r's bits span < p.
    let low = 2 * odd_part(T::FMT, r.raw()).1;
    let exact = (r * r).raw() == a && lead(T::FMT, a) - low < T::P;
    Some((r.raw(), if exact { 0 } else { NX }))
}

/// `(±a·b) ± c` with one rounding, in RNE (spec 13.6 FMADD and friends;
/// `neg_prod` negates the product, `neg_add` the addend), or `None`.
#[inline]
pub(crate) fn fma(
    fmt: Fmt,
    a: u64,
    b: u64,
    c: u64,
    neg_prod: bool,
    neg_add: bool,
) -> Option<(u64, u32)> {
    let sign = fmt.sign_bit();
    let a = if neg_prod { a ^ sign } else { a };
    let c = if neg_add { c ^ sign } else { c };
    by_format!(fmt, fma_in(a, b, c))
}

#[inline]
fn fma_in<T: HostFloat>(a: u64, b: u64, c: u64) -> Option<(u64, u32)> {
    let r = T::from_raw(a).mul_add(T::from_raw(b), T::from_raw(c));
    if !in_fast_range(r) {
        return None;
    }
    let fmt = T::FMT;
    let ((ka, la), (kb, lb), (kc, lc)) = (odd_part(fmt, a), odd_part(fmt, b), odd_part(fmt, c));
    // low(a·b). A zero product leaves x = c, nonzero as r is.
    let lp = if ka == 0 || kb == 0 {
        ZERO_LOW
    } else {
        la + lb
    };
    let low = if lp != lc {
        lp.min(lc)
    } else {
        // Same lowest bit: x = (±A·B ± C)·2^lp with A·B and C odd.
        let prod = u128::from(ka) * u128::from(kb);
        let sum = if (a ^ b ^ c) & fmt.sign_bit() == 0 {
            prod + u128::from(kc)
        } else {
            prod.abs_diff(u128::from(kc))
        };
        lp + sum.trailing_zeros() as i32 // sum != 0, as r != 0
    };
    Some((r.raw(), nx_by_span(r, low)))
}

/// FCVT.S.D in RNE (spec 14.5), or `None`.
#[inline]
pub(crate) fn narrow(a: u64) -> Option<(u64, u32)> {
    let x = f64::from_bits(a);
    let r = x as f32;
    if !in_fast_range(r) {
        return None;
    }
    Some((r.raw(), if f64::from(r) == x { 0 } else { NX }))
}

/// FCVT.D.S (spec 14.5): exact for every non-NaN single; `None` for NaNs
/// (canonical result, NV for a signalling one).
#[inline]
pub(crate) fn widen(a: u64) -> Option<(u64, u32)> {
    let x = f32::from_raw(a);
    if !ENABLED || x.is_nan() {
        return None;
    }
    Some((f64::from(x).to_bits(), 0))
}

/// FCVT.{S,D}.{W,WU,L,LU} in RNE (spec 13.7): `(-1)^neg · mag`, inexact iff
/// mag's odd part has more than p bits. `None` only if the module is off.
#[inline]
pub(crate) fn from_int(fmt: Fmt, neg: bool, mag: u64) -> Option<(u64, u32)> {
    by_format!(fmt, from_int_in(neg, mag))
}

#[inline]
fn from_int_in<T: HostFloat>(neg: bool, mag: u64) -> Option<(u64, u32)> {
    if !ENABLED {
        return None;
    }
    if mag == 0 {
        return Some((0, 0)); // +0 whatever the sign
    }
    let r = T::from_u64(mag).raw();
    let r = if neg { r | T::FMT.sign_bit() } else { r };
    let exact = mag >> mag.trailing_zeros() < 1 << T::P;
    Some((r, if exact { 0 } else { NX }))
}

#[cfg(test)]
mod tests;
