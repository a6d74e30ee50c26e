//! Exact IEEE 754-2008 binary32/binary64 arithmetic in software, with every
//! RISC-V rounding mode and exact exception flags (RISC-V unprivileged spec
//! chapter 13 "F", 13.2 "Floating-Point Control and Status Register").
//!
//! Why not only the host FPU: Rust offers no safe way to change the host
//! rounding mode or read its exception flags, and `softfloat-wrapper`
//! (Berkeley SoftFloat) needs CMake at build time, which is not a dependency
//! this project wants. (The executor does try the host first in
//! round-to-nearest-even, through `fp/host.rs`, which answers only when it
//! can prove it agrees with this module bit for bit, flags included; this
//! module stays the reference and handles everything else.) The algorithm
//! here is the textbook one SoftFloat uses:
//!
//! 1. unpack each operand to `sign, sig, exp` with value `sig * 2^exp` and
//!    `sig` normalised (its top bit at the implicit-one position);
//! 2. compute the exact result, or one "jammed" result whose lowest bit is
//!    OR-ed with every bit shifted out (at least two bits below the rounding
//!    position, so rounding and inexactness are decided correctly);
//! 3. [`round_pack`] rounds once, detecting tininess *after* rounding as
//!    RISC-V requires, and packs.
//!
//! RISC-V specifics: every NaN result is the canonical NaN (sign 0, quiet
//! bit only); `fmin`/`fmax` return the non-NaN operand when only one is NaN
//! and order -0 below +0; `fma(inf, 0, qNaN)` raises NV; float-to-int
//! conversions saturate, with NaN converting to the largest value
//! (spec 13.7, table "Domains of float-to-integer conversions").

/// Exception flags in `fflags` bit order (spec 13.2).
pub const NX: u32 = 1;
/// Underflow.
pub const UF: u32 = 2;
/// Overflow.
pub const OF: u32 = 4;
/// Divide by zero.
pub const DZ: u32 = 8;
/// Invalid operation.
pub const NV: u32 = 16;

/// Static rounding modes (spec 13.2, table "Rounding mode encoding").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rm {
    /// Round to nearest, ties to even.
    Rne = 0,
    /// Round towards zero.
    Rtz = 1,
    /// Round down (towards -inf).
    Rdn = 2,
    /// Round up (towards +inf).
    Rup = 3,
    /// Round to nearest, ties to max magnitude.
    Rmm = 4,
}

impl Rm {
    /// The rounding mode with encoding `bits`, or `None` for 5..=7
    /// (reserved, or "dynamic", which the caller resolves first).
    #[inline]
    pub fn from_bits(bits: u32) -> Option<Rm> {
        match bits {
            0 => Some(Rm::Rne),
            1 => Some(Rm::Rtz),
            2 => Some(Rm::Rdn),
            3 => Some(Rm::Rup),
            4 => Some(Rm::Rmm),
            _ => None,
        }
    }
}

/// Rounding mode in, accrued exception flags out.
#[derive(Clone, Copy, Debug)]
pub struct Env {
    /// Rounding mode for this operation.
    pub rm: Rm,
    /// Flags raised so far (NX, UF, OF, DZ, NV).
    pub flags: u32,
}

impl Env {
    /// A fresh environment with no flags raised.
    #[inline]
    pub fn new(rm: Rm) -> Self {
        Env { rm, flags: 0 }
    }
}

/// An IEEE binary interchange format, described by its field widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fmt {
    /// Width of the biased exponent field.
    pub exp_bits: u32,
    /// Width of the fraction field (precision minus one).
    pub frac_bits: u32,
}

/// binary32.
pub const F32: Fmt = Fmt {
    exp_bits: 8,
    frac_bits: 23,
};
/// binary64.
pub const F64: Fmt = Fmt {
    exp_bits: 11,
    frac_bits: 52,
};

impl Fmt {
    /// Exponent bias (127 or 1023).
    #[inline]
    pub(crate) const fn bias(self) -> i32 {
        (1 << (self.exp_bits - 1)) - 1
    }
    /// All-ones biased exponent (infinities and NaNs).
    #[inline]
    pub(crate) const fn exp_max(self) -> u64 {
        (1 << self.exp_bits) - 1
    }
    /// Mask of the fraction field.
    #[inline]
    pub(crate) const fn frac_mask(self) -> u64 {
        (1 << self.frac_bits) - 1
    }
    /// The sign bit.
    #[inline]
    pub const fn sign_bit(self) -> u64 {
        1 << (self.exp_bits + self.frac_bits)
    }
    /// The canonical NaN: 0x7fc00000 or 0x7ff8000000000000.
    #[inline]
    pub const fn canonical_nan(self) -> u64 {
        (self.exp_max() << self.frac_bits) | (1 << (self.frac_bits - 1))
    }
    #[inline]
    const fn signed(self, sign: bool, mag: u64) -> u64 {
        if sign {
            mag | self.sign_bit()
        } else {
            mag
        }
    }
    #[inline]
    const fn zero(self, sign: bool) -> u64 {
        self.signed(sign, 0)
    }
    #[inline]
    const fn inf(self, sign: bool) -> u64 {
        self.signed(sign, self.exp_max() << self.frac_bits)
    }
    #[inline]
    const fn max_finite(self, sign: bool) -> u64 {
        self.signed(sign, (self.exp_max() << self.frac_bits) - 1)
    }
    /// Smallest unbiased exponent of a normal number.
    #[inline]
    pub(crate) const fn emin(self) -> i32 {
        1 - self.bias()
    }
}

/// Operand class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Zero,
    Finite,
    Inf,
    QNaN,
    SNaN,
}

/// An unpacked operand: for `Finite`, the value is `sig * 2^exp` with `sig`
/// normalised to `2^frac_bits <= sig < 2^(frac_bits+1)` (subnormals too).
#[derive(Clone, Copy, Debug)]
struct Unpacked {
    sign: bool,
    class: Class,
    sig: u64,
    exp: i32,
    /// Subnormal input (only fclass needs to know).
    subnormal: bool,
}

impl Unpacked {
    #[inline]
    fn is_nan(&self) -> bool {
        matches!(self.class, Class::QNaN | Class::SNaN)
    }
}

/// Split `bits` (in the low bits of the u64) into sign, class and exact value.
fn unpack(fmt: Fmt, bits: u64) -> Unpacked {
    let f = fmt.frac_bits;
    let sign = bits & fmt.sign_bit() != 0;
    let e = (bits >> f) & fmt.exp_max();
    let frac = bits & fmt.frac_mask();
    let mut u = Unpacked {
        sign,
        class: Class::Finite,
        sig: 0,
        exp: 0,
        subnormal: false,
    };
    if e == fmt.exp_max() {
        u.class = if frac == 0 {
            Class::Inf
        } else if frac >> (f - 1) != 0 {
            Class::QNaN
        } else {
            Class::SNaN
        };
    } else if e == 0 {
        if frac == 0 {
            u.class = Class::Zero;
        } else {
            let shift = frac.leading_zeros() - (63 - f);
            u.sig = frac << shift;
            u.exp = fmt.emin() - f as i32 - shift as i32;
            u.subnormal = true;
        }
    } else {
        u.sig = frac | (1 << f);
        u.exp = e as i32 - fmt.bias() - f as i32;
    }
    u
}

/// Shift `sig` right by `s` bits (left by `-s` if negative; the caller
/// guarantees that cannot overflow) and round the result to an integer in
/// mode `rm` for a value of sign `sign`. Returns the rounded integer and
/// whether any nonzero bit was discarded.
#[inline]
fn round_shift(sig: u128, s: i32, sign: bool, rm: Rm) -> (u128, bool) {
    if s <= 0 {
        return (sig << (-s) as u32, false);
    }
    let (q, rem, half) = match s {
        1..=127 => (sig >> s, sig & ((1u128 << s) - 1), Some(1u128 << (s - 1))),
        128 => (0, sig, Some(1u128 << 127)),
        _ => (0, sig, None), // everything is below one half
    };
    let inexact = rem != 0;
    let up = match rm {
        Rm::Rne => half.is_some_and(|h| rem > h || (rem == h && q & 1 == 1)),
        Rm::Rmm => half.is_some_and(|h| rem >= h),
        Rm::Rtz => false,
        Rm::Rdn => inexact && sign,
        Rm::Rup => inexact && !sign,
    };
    (q + u128::from(up), inexact)
}

/// The result of an overflow in mode `rm`: infinity or the largest finite
/// number, whichever the rounding direction selects (IEEE 754 7.4).
fn overflow(fmt: Fmt, sign: bool, env: &mut Env) -> u64 {
    env.flags |= OF | NX;
    let to_inf = match env.rm {
        Rm::Rne | Rm::Rmm => true,
        Rm::Rtz => false,
        Rm::Rdn => sign,
        Rm::Rup => !sign,
    };
    if to_inf {
        fmt.inf(sign)
    } else {
        fmt.max_finite(sign)
    }
}

/// Round the nonzero value `(-1)^sign * sig * 2^exp` to `fmt` and pack it.
/// `sig` is exact, or jammed with at least two bits below the rounding
/// position. Raises NX, and UF when the result is tiny after rounding and
/// inexact, and OF (spec 13.2: tininess is detected after rounding).
pub(crate) fn round_pack(fmt: Fmt, sign: bool, sig: u128, exp: i32, env: &mut Env) -> u64 {
    debug_assert!(sig != 0, "round_pack: zero significand");
    let f = fmt.frac_bits as i32;
    let msb = 127 - sig.leading_zeros() as i32;
    let e = msb + exp; // exponent of the leading bit
    let lsb = e.max(fmt.emin()) - f; // exponent of the result's last bit
    let (mut q, inexact) = round_shift(sig, lsb - exp, sign, env.rm);
    let mut e_res = lsb + f;
    if q >> (f + 1) != 0 {
        q >>= 1; // rounding carried into a new leading bit; the lost bit is 0
        e_res += 1;
    }
    let biased = if q >> f != 0 {
        (e_res + fmt.bias()) as u64
    } else {
        0
    };
    if biased >= fmt.exp_max() {
        return overflow(fmt, sign, env);
    }
    if inexact {
        env.flags |= NX;
        let tiny = e < fmt.emin()
            && !(e == fmt.emin() - 1 && round_shift(sig, msb - f, sign, env.rm).0 >> (f + 1) != 0);
        if tiny {
            env.flags |= UF;
        }
    }
    fmt.signed(
        sign,
        (biased << fmt.frac_bits) | (q as u64 & fmt.frac_mask()),
    )
}

/// Invalid operation: raise NV, return the canonical NaN.
#[inline]
fn invalid(fmt: Fmt, env: &mut Env) -> u64 {
    env.flags |= NV;
    fmt.canonical_nan()
}

/// NaN propagation for arithmetic: the canonical NaN, NV if any input is
/// signalling (spec 13.3 "NaN Generation and Propagation").
fn propagate_nan(fmt: Fmt, ops: &[Unpacked], env: &mut Env) -> u64 {
    if ops.iter().any(|u| u.class == Class::SNaN) {
        env.flags |= NV;
    }
    fmt.canonical_nan()
}

/// Exact sum of two zeros: same signs keep it, else +0 (-0 in RDN).
#[inline]
fn zero_sum_sign(a: bool, b: bool, rm: Rm) -> bool {
    if a == b {
        a
    } else {
        rm == Rm::Rdn
    }
}

/// Add two nonzero finite exact values `(sign, sig, exp)` (sig < 2^120) and
/// round once. Shared by `add` and `fma`.
fn add_exact(fmt: Fmt, a: (bool, u128, i32), b: (bool, u128, i32), env: &mut Env) -> u64 {
    let top = |v: (bool, u128, i32)| 127 - v.1.leading_zeros() as i32 + v.2;
    let (big, small) = if top(a) >= top(b) { (a, b) } else { (b, a) };
    // Put big's leading bit at 125: two bits of headroom for the carry.
    let shl = 125 - (127 - big.1.leading_zeros() as i32);
    let big_sig = big.1 << shl as u32;
    let base = big.2 - shl;
    let d = base - small.2;
    let small_sig = if d <= 0 {
        small.1 << (-d) as u32
    } else if d >= 128 {
        1 // everything shifted out: jam
    } else {
        (small.1 >> d) | u128::from(small.1 & ((1u128 << d) - 1) != 0)
    };
    let (sign, sig) = if big.0 == small.0 {
        (big.0, big_sig + small_sig)
    } else if big_sig >= small_sig {
        (big.0, big_sig - small_sig)
    } else {
        (small.0, small_sig - big_sig)
    };
    if sig == 0 {
        return fmt.zero(env.rm == Rm::Rdn);
    }
    round_pack(fmt, sign, sig, base, env)
}

/// `a + b` (spec 13.6 FADD).
pub fn add(fmt: Fmt, a: u64, b: u64, env: &mut Env) -> u64 {
    let (x, y) = (unpack(fmt, a), unpack(fmt, b));
    if x.is_nan() || y.is_nan() {
        return propagate_nan(fmt, &[x, y], env);
    }
    match (x.class, y.class) {
        (Class::Inf, Class::Inf) if x.sign != y.sign => invalid(fmt, env),
        (Class::Inf, _) => fmt.inf(x.sign),
        (_, Class::Inf) => fmt.inf(y.sign),
        (Class::Zero, Class::Zero) => fmt.zero(zero_sum_sign(x.sign, y.sign, env.rm)),
        (Class::Zero, _) => b,
        (_, Class::Zero) => a,
        _ => add_exact(
            fmt,
            (x.sign, u128::from(x.sig), x.exp),
            (y.sign, u128::from(y.sig), y.exp),
            env,
        ),
    }
}

/// `a - b` (spec 13.6 FSUB).
pub fn sub(fmt: Fmt, a: u64, b: u64, env: &mut Env) -> u64 {
    add(fmt, a, b ^ fmt.sign_bit(), env)
}

/// `a * b` (spec 13.6 FMUL).
pub fn mul(fmt: Fmt, a: u64, b: u64, env: &mut Env) -> u64 {
    let (x, y) = (unpack(fmt, a), unpack(fmt, b));
    if x.is_nan() || y.is_nan() {
        return propagate_nan(fmt, &[x, y], env);
    }
    let sign = x.sign ^ y.sign;
    match (x.class, y.class) {
        (Class::Inf, Class::Zero) | (Class::Zero, Class::Inf) => invalid(fmt, env),
        (Class::Inf, _) | (_, Class::Inf) => fmt.inf(sign),
        (Class::Zero, _) | (_, Class::Zero) => fmt.zero(sign),
        _ => round_pack(
            fmt,
            sign,
            u128::from(x.sig) * u128::from(y.sig),
            x.exp + y.exp,
            env,
        ),
    }
}

/// `a / b` (spec 13.6 FDIV).
pub fn div(fmt: Fmt, a: u64, b: u64, env: &mut Env) -> u64 {
    let (x, y) = (unpack(fmt, a), unpack(fmt, b));
    if x.is_nan() || y.is_nan() {
        return propagate_nan(fmt, &[x, y], env);
    }
    let sign = x.sign ^ y.sign;
    match (x.class, y.class) {
        (Class::Inf, Class::Inf) | (Class::Zero, Class::Zero) => invalid(fmt, env),
        (Class::Inf, _) => fmt.inf(sign),
        (_, Class::Inf) | (Class::Zero, _) => fmt.zero(sign),
        (_, Class::Zero) => {
            env.flags |= DZ;
            fmt.inf(sign)
        }
        _ => {
            // Quotient with >= 63 bits, remainder jammed into bit 0.
            let num = u128::from(x.sig) << 64;
            let den = u128::from(y.sig);
            let q = ((num / den) << 1) | u128::from(num % den != 0);
            round_pack(fmt, sign, q, x.exp - y.exp - 65, env)
        }
    }
}

/// Integer square root: `(floor(sqrt(n)), n is not a perfect square)`.
/// Newton iteration from the host's f64 estimate; `n < 2^122`.
fn isqrt(n: u128) -> (u128, bool) {
    let mut r = (n as f64).sqrt() as u128;
    if r > 0 {
        r = (r + n / r) >> 1;
    }
    while r * r > n {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= n {
        r += 1;
    }
    (r, r * r != n)
}

/// `sqrt(a)` (spec 13.6 FSQRT).
pub fn sqrt(fmt: Fmt, a: u64, env: &mut Env) -> u64 {
    let x = unpack(fmt, a);
    if x.is_nan() {
        return propagate_nan(fmt, &[x], env);
    }
    match x.class {
        Class::Zero => a, // sqrt(-0) = -0
        _ if x.sign => invalid(fmt, env),
        Class::Inf => a,
        _ => {
            let (mut sig, mut exp) = (u128::from(x.sig), x.exp);
            // Make the exponent even and give the root >= 60 bits.
            let mut sh = 120 - (127 - sig.leading_zeros() as i32);
            if (exp - sh) & 1 != 0 {
                sh -= 1;
            }
            sig <<= sh as u32;
            exp -= sh;
            let (root, inexact) = isqrt(sig);
            round_pack(
                fmt,
                false,
                (root << 1) | u128::from(inexact),
                exp / 2 - 1,
                env,
            )
        }
    }
}

/// Fused `(±a*b) ± c` with one rounding (spec 13.6 FMADD and friends):
/// `neg_prod` negates the product, `neg_add` the addend.
pub fn fma(fmt: Fmt, a: u64, b: u64, c: u64, neg_prod: bool, neg_add: bool, env: &mut Env) -> u64 {
    let (x, y, mut z) = (unpack(fmt, a), unpack(fmt, b), unpack(fmt, c));
    let inf_times_zero = matches!(
        (x.class, y.class),
        (Class::Inf, Class::Zero) | (Class::Zero, Class::Inf)
    );
    if inf_times_zero {
        return invalid(fmt, env); // even when c is a quiet NaN
    }
    if x.is_nan() || y.is_nan() || z.is_nan() {
        return propagate_nan(fmt, &[x, y, z], env);
    }
    let ps = x.sign ^ y.sign ^ neg_prod;
    z.sign ^= neg_add;
    if x.class == Class::Inf || y.class == Class::Inf {
        return if z.class == Class::Inf && z.sign != ps {
            invalid(fmt, env)
        } else {
            fmt.inf(ps)
        };
    }
    match z.class {
        Class::Inf => return fmt.inf(z.sign),
        Class::Zero if x.class == Class::Zero || y.class == Class::Zero => {
            return fmt.zero(zero_sum_sign(ps, z.sign, env.rm))
        }
        _ => {}
    }
    if x.class == Class::Zero || y.class == Class::Zero {
        return fmt.signed(z.sign, c & !fmt.sign_bit());
    }
    let prod = (ps, u128::from(x.sig) * u128::from(y.sig), x.exp + y.exp);
    if z.class == Class::Zero {
        return round_pack(fmt, prod.0, prod.1, prod.2, env);
    }
    add_exact(fmt, prod, (z.sign, u128::from(z.sig), z.exp), env)
}

/// Convert between formats (spec 14.5 FCVT.S.D / FCVT.D.S).
pub fn convert(from: Fmt, to: Fmt, a: u64, env: &mut Env) -> u64 {
    let x = unpack(from, a);
    match x.class {
        Class::QNaN | Class::SNaN => propagate_nan(to, &[x], env),
        Class::Inf => to.inf(x.sign),
        Class::Zero => to.zero(x.sign),
        Class::Finite => round_pack(to, x.sign, u128::from(x.sig), x.exp, env),
    }
}

/// Convert the integer `(-1)^neg * mag` to `fmt` (spec 13.7 FCVT.S.W etc.).
pub fn from_int(fmt: Fmt, neg: bool, mag: u64, env: &mut Env) -> u64 {
    if mag == 0 {
        return fmt.zero(false);
    }
    round_pack(fmt, neg, u128::from(mag), 0, env)
}

/// Convert to a `width`-bit (32 or 64) signed or unsigned integer, rounding
/// in `env.rm`. Out-of-range values and NaN saturate and raise NV (then NX
/// is not raised); the result is in the low `width` bits (spec 13.7).
pub fn to_int(fmt: Fmt, a: u64, signed: bool, width: u32, env: &mut Env) -> u64 {
    let max: u128 = if signed {
        (1 << (width - 1)) - 1
    } else {
        (1 << width) - 1
    };
    let min_mag: u128 = if signed { 1 << (width - 1) } else { 0 };
    let neg_of = |m: u128| (m as u64).wrapping_neg();
    let x = unpack(fmt, a);
    let sat = |neg: bool, env: &mut Env| {
        env.flags |= NV;
        if neg {
            neg_of(min_mag)
        } else {
            max as u64
        }
    };
    let (mag, inexact) = match x.class {
        Class::QNaN | Class::SNaN => return sat(false, env),
        Class::Inf => return sat(x.sign, env),
        Class::Zero => return 0,
        Class::Finite if x.exp > 64 => return sat(x.sign, env),
        Class::Finite => round_shift(u128::from(x.sig), -x.exp, x.sign, env.rm),
    };
    if (x.sign && mag > min_mag) || (!x.sign && mag > max) {
        return sat(x.sign, env);
    }
    if inexact {
        env.flags |= NX;
    }
    if x.sign {
        neg_of(mag)
    } else {
        mag as u64
    }
}

/// Key that orders non-NaN values numerically with -0 == +0.
#[inline]
fn order_key(fmt: Fmt, bits: u64) -> i64 {
    let mag = (bits & !fmt.sign_bit()) as i64;
    if bits & fmt.sign_bit() != 0 {
        -mag
    } else {
        mag
    }
}

/// `a == b`, quiet: NV only for signalling NaNs (spec 13.8 FEQ).
pub fn eq(fmt: Fmt, a: u64, b: u64, env: &mut Env) -> bool {
    let (x, y) = (unpack(fmt, a), unpack(fmt, b));
    if x.is_nan() || y.is_nan() {
        if x.class == Class::SNaN || y.class == Class::SNaN {
            env.flags |= NV;
        }
        return false;
    }
    order_key(fmt, a) == order_key(fmt, b)
}

/// `a < b` (or `a <= b` with `or_equal`), signalling: NV for any NaN
/// (spec 13.8 FLT/FLE).
pub fn lt(fmt: Fmt, a: u64, b: u64, or_equal: bool, env: &mut Env) -> bool {
    let (x, y) = (unpack(fmt, a), unpack(fmt, b));
    if x.is_nan() || y.is_nan() {
        env.flags |= NV;
        return false;
    }
    let (ka, kb) = (order_key(fmt, a), order_key(fmt, b));
    ka < kb || (or_equal && ka == kb)
}

/// `fmin`/`fmax` (spec 13.6, IEEE 754-2019 minimumNumber/maximumNumber):
/// a single NaN operand yields the other, two NaNs the canonical NaN,
/// signalling NaNs raise NV, and -0 < +0.
pub fn min_max(fmt: Fmt, a: u64, b: u64, is_max: bool, env: &mut Env) -> u64 {
    let (x, y) = (unpack(fmt, a), unpack(fmt, b));
    if x.class == Class::SNaN || y.class == Class::SNaN {
        env.flags |= NV;
    }
    match (x.is_nan(), y.is_nan()) {
        (true, true) => return fmt.canonical_nan(),
        (true, false) => return b,
        (false, true) => return a,
        _ => {}
    }
    // Like order_key but with -0 below +0.
    let key = |v: u64| {
        let mag = (v & !fmt.sign_bit()) as i64;
        if v & fmt.sign_bit() != 0 {
            -mag - 1
        } else {
            mag
        }
    };
    let a_wins = if is_max {
        key(a) >= key(b)
    } else {
        key(a) <= key(b)
    };
    if a_wins {
        a
    } else {
        b
    }
}

/// `fclass` result mask (spec 13.9, table "Format of result of FCLASS").
pub fn classify(fmt: Fmt, a: u64) -> u64 {
    let x = unpack(fmt, a);
    let bit = match (x.class, x.sign) {
        (Class::Inf, true) => 0,
        (Class::Finite, true) if !x.subnormal => 1,
        (Class::Finite, true) => 2,
        (Class::Zero, true) => 3,
        (Class::Zero, false) => 4,
        (Class::Finite, false) if x.subnormal => 5,
        (Class::Finite, false) => 6,
        (Class::Inf, false) => 7,
        (Class::SNaN, _) => 8,
        (Class::QNaN, _) => 9,
    };
    1 << bit
}

#[cfg(test)]
mod tests;
