//! Interesting register and memory values: integer boundaries, and the FP
//! classes every operation must handle (RISC-V unprivileged spec 20191213, 11.3
//! "NaN generation and propagation", 11.6 subnormals, and 11.7's
//! out-of-range conversion table), single-precision values NaN-boxed or not
//! (12.2 "NaN Boxing of Narrower Values").

use crate::rng::Rng;

/// An integer register value.
pub fn int(r: &mut Rng) -> u64 {
    const SPECIAL: [u64; 22] = [
        0,
        1,
        2,
        3,
        u64::MAX,
        u64::MAX - 1,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        0x1_0000_0000,
        0xffff_ffff_8000_0000,
        0xffff_ffff_7fff_ffff,
        0x7fff_ffff_ffff_ffff,
        0x8000_0000_0000_0000,
        0x8000_0000_0000_0001,
        0x0000_0000_ffff_fffe,
        0x7ff,
        0xffff_ffff_ffff_f800,
        0xffff_f000,
        0x8000,
        0xffff,
        0xff,
    ];
    match r.below(10) {
        0 | 1 => SPECIAL[r.below(SPECIAL.len() as u64) as usize],
        2 => r.range(-20, 20) as u64,
        3 => r.next(),
        4 => (r.next() as i32) as u64,   // sign-extended word
        5 => u64::from(r.next() as u32), // zero-extended word
        6 => 1u64 << r.below(64),        // power of two
        7 => (1u64 << r.below(64)).wrapping_sub(1), // mask
        8 => r.below(128),               // shift amounts, small
        _ => {
            // An FP bit pattern, for fmv.w.x / fmv.d.x.
            if r.chance(50) {
                double(r)
            } else {
                u64::from(single_bits(r))
            }
        }
    }
}

/// Bits of an interesting double.
pub fn double(r: &mut Rng) -> u64 {
    const SPECIAL: [u64; 41] = [
        0x0000_0000_0000_0000, // +0
        0x8000_0000_0000_0000, // -0
        0x3ff0_0000_0000_0000, // 1
        0xbff0_0000_0000_0000, // -1
        0x3fe0_0000_0000_0000, // 0.5
        0xbfe0_0000_0000_0000, // -0.5
        0x3ff8_0000_0000_0000, // 1.5
        0x4004_0000_0000_0000, // 2.5
        0xc004_0000_0000_0000, // -2.5
        0x7ff0_0000_0000_0000, // +inf
        0xfff0_0000_0000_0000, // -inf
        0x7ff8_0000_0000_0000, // canonical qNaN
        0xfff8_0000_0000_0000, // negative qNaN
        0x7ff0_0000_0000_0001, // sNaN
        0xfff4_0000_0000_0000, // negative sNaN
        0x7ff8_dead_beef_0001, // qNaN with payload
        0x7ff7_ffff_ffff_ffff, // sNaN, largest payload
        0x0000_0000_0000_0001, // smallest subnormal
        0x800f_ffff_ffff_ffff, // largest negative subnormal
        0x0010_0000_0000_0000, // smallest normal
        0x7fef_ffff_ffff_ffff, // largest finite
        0xffef_ffff_ffff_ffff, // most negative finite
        0x41e0_0000_0000_0000, // 2^31
        0x41df_ffff_ffe0_0000, // 2^31 - 1
        0xc1e0_0000_0000_0000, // -2^31
        0xc1e0_0000_0020_0000, // -2^31 - 1
        0x41f0_0000_0000_0000, // 2^32
        0x41ef_ffff_ffff_0000, // 2^32 - 0.5
        0x43e0_0000_0000_0000, // 2^63
        0xc3e0_0000_0000_0000, // -2^63
        0x43df_ffff_ffff_ffff, // largest below 2^63
        0x43f0_0000_0000_0000, // 2^64
        0x3fd5_5555_5555_5555, // 1/3
        0x7fe0_0000_0000_0000, // 2^1023 (overflows when doubled)
        0x0008_0000_0000_0000, // subnormal 2^-1023
        0x3ff0_0000_0000_0001, // 1 + ulp
        0x3810_0000_0000_0000, // 2^-126, smallest normal single
        0x36a0_0000_0000_0000, // 2^-149, smallest subnormal single
        0x3690_0000_0000_0000, // 2^-150, half of it
        0x47ef_ffff_e000_0000, // largest finite single
        0x47ef_ffff_f000_0000, // largest single + half an ulp
    ];
    match r.below(8) {
        0..=2 => SPECIAL[r.below(SPECIAL.len() as u64) as usize],
        3 => (r.range(-1000, 1000) as f64).to_bits(),
        4 => {
            // Halfway and near-halfway values between integers: rounding tests.
            let v = r.range(-100, 100) as f64 + 0.5;
            v.to_bits() ^ r.below(2)
        }
        5 => {
            // A random sign and mantissa with an exponent near the extremes.
            let exp = match r.below(5) {
                0 => r.below(4),                   // subnormal / tiny
                1 => 0x7fb + r.below(4),           // near overflow
                2 => 0x368 + r.below(0x20),        // single-precision subnormals
                3 => 0x47c + r.below(6),           // single-precision overflow
                _ => 0x3fe + r.below(0x50) - 0x20, // near 1, up to 2^64 and beyond
            };
            (r.next() & 0x800f_ffff_ffff_ffff) | (exp << 52)
        }
        6 => {
            // A special value with a few low mantissa bits disturbed.
            SPECIAL[r.below(SPECIAL.len() as u64) as usize] ^ r.below(4)
        }
        _ => r.next(),
    }
}

/// Bits of an interesting single.
pub fn single_bits(r: &mut Rng) -> u32 {
    const SPECIAL: [u32; 34] = [
        0x0000_0000, // +0
        0x8000_0000, // -0
        0x3f80_0000, // 1
        0xbf80_0000, // -1
        0x3f00_0000, // 0.5
        0x3fc0_0000, // 1.5
        0x4020_0000, // 2.5
        0xc020_0000, // -2.5
        0x7f80_0000, // +inf
        0xff80_0000, // -inf
        0x7fc0_0000, // canonical qNaN
        0xffc0_0000, // negative qNaN
        0x7f80_0001, // sNaN
        0xffa0_0000, // negative sNaN
        0x7fc0_beef, // qNaN with payload
        0x7fbf_ffff, // sNaN, largest payload
        0x0000_0001, // smallest subnormal
        0x807f_ffff, // largest negative subnormal
        0x0080_0000, // smallest normal
        0x7f7f_ffff, // largest finite
        0xff7f_ffff, // most negative finite
        0x4f00_0000, // 2^31
        0x4eff_ffff, // largest below 2^31
        0xcf00_0000, // -2^31
        0xcf00_0001, // below -2^31
        0x4f80_0000, // 2^32
        0x4f7f_ffff, // largest below 2^32
        0x5f00_0000, // 2^63
        0xdf00_0000, // -2^63
        0x5eff_ffff, // largest below 2^63
        0x5f80_0000, // 2^64
        0x3eaa_aaab, // 1/3
        0x7f00_0000, // 2^127
        0x0040_0000, // subnormal 2^-127
    ];
    match r.below(8) {
        0..=2 => SPECIAL[r.below(SPECIAL.len() as u64) as usize],
        3 => (r.range(-1000, 1000) as f32).to_bits(),
        4 => ((r.range(-100, 100) as f32) + 0.5).to_bits() ^ r.below(2) as u32,
        5 => {
            let exp = match r.below(3) {
                0 => r.below(4) as u32,
                1 => 0xfb + r.below(4) as u32,
                _ => 0x7e + r.below(0x50) as u32 - 0x20,
            };
            (r.next() as u32 & 0x807f_ffff) | (exp << 23)
        }
        6 => SPECIAL[r.below(SPECIAL.len() as u64) as usize] ^ r.below(4) as u32,
        _ => r.next() as u32,
    }
}

/// A single in an FP register: usually NaN-boxed, sometimes not (then every
/// single-precision operation must read it as the canonical NaN, spec 12.2).
pub fn boxed_single(r: &mut Rng) -> u64 {
    let s = u64::from(single_bits(r));
    match r.below(24) {
        0 => s,                         // upper half zero
        1 => s | (r.next() << 32),      // random upper half
        2 => s | 0x7fff_ffff_0000_0000, // one bit short of a box
        _ => s | 0xffff_ffff_0000_0000, // properly boxed
    }
}

/// A `fcsr` value with a valid rounding mode (0-4) and, half the time, no
/// flags (so that the flags a sequence raises are visible).
pub fn fcsr(r: &mut Rng) -> u64 {
    let flags = if r.chance(50) { 0 } else { r.below(32) };
    (r.below(5) << 5) | flags
}

/// A double related to `v`: equal, negated, one ulp away, or halved/doubled
/// (for exact cancellation in fused multiply-adds, equal comparisons,
/// fmin/fmax of equal magnitudes, +0 against -0).
pub fn related_double(r: &mut Rng, v: u64) -> u64 {
    match r.below(5) {
        0 => v,
        1 => v ^ (1 << 63),
        2 => v.wrapping_add(1),
        3 => v.wrapping_sub(1),
        _ => (f64::from_bits(v) * if r.chance(50) { 2.0 } else { 0.5 }).to_bits(),
    }
}

/// A NaN-boxed single related to the boxed single `v` (as [`related_double`]).
pub fn related_single(r: &mut Rng, v: u64) -> u64 {
    let s = v as u32;
    let t = match r.below(5) {
        0 => s,
        1 => s ^ (1 << 31),
        2 => s.wrapping_add(1),
        3 => s.wrapping_sub(1),
        _ => (f32::from_bits(s) * if r.chance(50) { 2.0 } else { 0.5 }).to_bits(),
    };
    u64::from(t) | 0xffff_ffff_0000_0000
}

/// An integer related to `v`: equal, negated, off by one, complemented.
pub fn related_int(r: &mut Rng, v: u64) -> u64 {
    match r.below(5) {
        0 => v,
        1 => v.wrapping_neg(),
        2 => v.wrapping_add(1),
        3 => v.wrapping_sub(1),
        _ => !v,
    }
}
