//! Elementary functions from basic IEEE operations, the CPU twin of `shaders/shared/math.wgsl`.
//!
//! WGSL leaves the accuracy of `exp`, `log`, `sin` and `cos` to the driver (log near 1 and
//! cos only have an absolute error bound), so builtins would make the GPU and CPU paths drift
//! apart at the last bits and, through chaotic or bistable dynamics, beyond. These versions
//! use only add, multiply, floor and bit casts, each exactly rounded on both sides, so the two
//! paths compute the same bits wherever the device does not fuse a multiply-add. Cephes
//! single-precision algorithms (S. Moshier): about 1 ulp in their domains.

#![allow(clippy::excessive_precision)]

const TWO_POW_M64: f32 = 5.421_010_862_427_522e-20;
const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
const FOUR_OVER_PI: f32 = 1.27323954473516;
const DP1: f32 = 0.78515625;
const DP2: f32 = 2.4187564849853515625e-4;
const DP3: f32 = 3.77489497744594108e-8;

/// `npm_pow2i`: 2^n for whole n in [-126, 127].
#[cfg(test)]
#[inline(always)]
fn pow2i(n: i32) -> f32 {
    f32::from_bits(((n + 127) as u32) << 23)
}

/// The shared part of `npm_exp`: n = round(x / ln 2) and q = e^r - 1 for the remainder
/// r = x - n ln 2 (Cody-Waite reduction, a degree-5 polynomial), so e^x = 2^n (1 + q).
#[inline(always)]
fn exp_reduced(x: f32) -> (f32, f32) {
    let n = (x * LOG2E + 0.5).floor();
    let mut r = x - n * LN2_HI;
    r -= n * LN2_LO;
    let z = r * r;
    let mut p = 1.9875691500e-4f32;
    p = p * r + 1.3981999507e-3;
    p = p * r + 8.3334519073e-3;
    p = p * r + 4.1665795894e-2;
    p = p * r + 1.6666665459e-1;
    p = p * r + 5.0000001201e-1;
    let q = p * z + r;
    (n, q)
}

/// `npm_exp`: e^x; 0 below -87, the largest finite f32 above 88.7.
///
/// Written without branches (the shader's early returns are selects), so that loops over
/// lanes vectorise, and with fewer operations than the shader's text where the result is
/// provably the same bits (`tests::exp_is_the_shaders_exp` checks them):
/// - no clamp of x: a lane outside [-87, 88.72283] computes garbage (its exponent field is
///   built by a float add and a shift, nothing that can overflow or panic) that the final
///   selects replace, and NaN still propagates through `r`;
/// - the scale 2^n, n in [-126, 128], is applied as s = 2^(n - e), then 2^e, with e = 1 for
///   n > 0 and -64 otherwise (the shader splits n in halves): in both forms q s is exact
///   (s >= 2^-63, and |q| > 2^-60 unless x is too small for n to be negative), so
///   s q + s = s fl(q + 1) is exact and normal, and the second product rounds 2^n fl(q + 1)
///   once.
///   The exponent field is built from the float n directly (1.5 2^23 + n has n in its low
///   mantissa bits, and a shift by 23 keeps only them).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let (n, q) = exp_reduced(x);
    let up = n > 0.0;
    let e = if up { 1.0 } else { -64.0 };
    let t = if up { 2.0 } else { TWO_POW_M64 };
    // The biased exponent n - e + 127 in the low 9 bits of 1.5 2^23 + (n - e + 127).
    let s = f32::from_bits(((n - e) + 12_583_039.0).to_bits() << 23);
    let v = (q * s + s) * t;
    let v = if x > 88.72283 { f32::MAX } else { v };
    if x < -87.0 {
        0.0
    } else {
        v
    }
}

/// The shader's `npm_exp` as written (clamped argument, the scale split in halves): the
/// reference [`exp`] is tested against.
#[cfg(test)]
fn exp_as_the_shader(x: f32) -> f32 {
    let xc = x.clamp(-87.0, 88.72283);
    let (n, q) = exp_reduced(xc);
    let ni = n as i32;
    let h = ni / 2;
    let s = pow2i(h);
    let v = (q * s + s) * pow2i(ni - h);
    if x > 88.72283 {
        f32::MAX
    } else if x < -87.0 {
        0.0
    } else {
        v
    }
}

/// `npm_log`: natural log for positive normal x; -1e30 for x <= 0 (and NaN). Without
/// branches, as [`exp`].
#[inline(always)]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN must take the -1e30
pub fn ln(x0: f32) -> f32 {
    let bits = x0.to_bits();
    let e0 = (((bits >> 23) & 0xFF) as i32 - 126) as f32;
    let m = f32::from_bits((bits & 0x807F_FFFF) | 0x3F00_0000);
    let small = m < SQRT_HALF;
    let e = if small { e0 - 1.0 } else { e0 };
    let x = if small { m + m - 1.0 } else { m - 1.0 };
    let z = x * x;
    let mut y = 7.0376836292e-2f32;
    y = y * x - 1.1514610310e-1;
    y = y * x + 1.1676998740e-1;
    y = y * x - 1.2420140846e-1;
    y = y * x + 1.4249322787e-1;
    y = y * x - 1.6668057665e-1;
    y = y * x + 2.0000714765e-1;
    y = y * x - 2.4999993993e-1;
    y = y * x + 3.3333331174e-1;
    y = y * x * z;
    y += e * LN2_LO;
    y -= 0.5 * z;
    let mut r = x + y;
    r += e * LN2_HI;
    if !(x0 > 0.0) {
        -1.0e30
    } else {
        r
    }
}

/// `npm_sincos`: (sin x, cos x) for |x| <= 2 pi. Without branches, as [`exp`].
#[inline(always)]
pub fn sincos(x: f32) -> (f32, f32) {
    let ax = x.abs();
    // The octant, truncated (ax >= 0, so floor), converted exactly: (ax 4/pi) as u32.
    let j0 = ((ax * FOUR_OVER_PI).floor() + 12_582_912.0).to_bits() - 0x4B40_0000;
    let odd = j0 & 1 == 1;
    let j1 = if odd { j0 + 1 } else { j0 };
    let y = j1 as i32 as f32;
    let j = j1 & 7;
    let mut r = ax - y * DP1;
    r -= y * DP2;
    r -= y * DP3;
    let z = r * r;
    let mut sp = -1.9515295891e-4f32;
    sp = sp * z + 8.3321608736e-3;
    sp = sp * z - 1.6666654611e-1;
    sp = sp * z * r + r;
    let mut cp = 2.443315711809948e-5f32;
    cp = cp * z - 1.388731625493765e-3;
    cp = cp * z + 4.166664568298827e-2;
    cp = cp * z * z + (1.0 - 0.5 * z);
    let swap = j & 2 == 2;
    let s = if swap { cp } else { sp };
    let c = if swap { sp } else { cp };
    let s = if (j > 3) != (x < 0.0) { -s } else { s };
    let c = if j == 2 || j == 4 { -c } else { c };
    (s, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f64) -> f64 {
        let b32 = b as f32;
        let spacing = (f32::from_bits(b32.abs().to_bits() + 1) - b32.abs()) as f64;
        ((a as f64) - b).abs() / spacing
    }

    #[test]
    fn exp_is_within_2_ulp() {
        let mut worst = 0.0f64;
        for i in 0..200_001 {
            let x = -87.0 + 175.7 * i as f32 / 200_000.0;
            worst = worst.max(ulps(exp(x), (x as f64).exp()));
        }
        assert!(worst <= 2.0, "exp worst {worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-100.0), 0.0);
        assert!(exp(88.7).is_finite() && exp(100.0) == f32::MAX);
    }

    /// Bit patterns `lo..hi` through both forms of exp (vectorised at the CPU's level).
    struct ExpPair {
        lo: u32,
        hi: u32,
    }

    impl crate::simd::Lanes for ExpPair {
        type Output = u64;
        #[inline(always)]
        fn run<const W: usize>(self) -> u64 {
            let mut differ = 0u64;
            let mut b = self.lo;
            while b < self.hi {
                let k = (self.hi - b).min(1024);
                let mut bad = 0u64;
                for i in 0..k {
                    let x = f32::from_bits(b + i);
                    let (a, r) = (exp(x), exp_as_the_shader(x));
                    bad += u64::from(a.to_bits() != r.to_bits() && !(a.is_nan() && r.is_nan()));
                }
                differ += bad;
                b += k;
            }
            differ
        }
    }

    /// Every f32 whose magnitude is at least 2^-40 and below 128 (all of exp's range where
    /// the result is neither 1 nor saturated), then every 61st bit pattern of the rest
    /// (tiny, huge, infinite and NaN arguments): the same bits as the shader's form.
    #[test]
    fn exp_is_the_shaders_exp() {
        let (lo, hi) = ((127 - 40) << 23, 134 << 23);
        let mut differ = 0;
        for sign in [0u32, 1 << 31] {
            differ += crate::simd::dispatch(ExpPair {
                lo: sign | lo,
                hi: sign | hi,
            });
            let mut b = sign;
            while b < (sign | 0x7FFF_FFFF) {
                if !(lo..hi).contains(&(b & 0x7FFF_FFFF)) {
                    differ += crate::simd::dispatch(ExpPair { lo: b, hi: b + 1 });
                }
                b = b.saturating_add(61);
            }
        }
        assert_eq!(differ, 0);
        for x in [
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            0.0,
            -0.0,
        ] {
            assert_eq!(exp(x).to_bits(), exp_as_the_shader(x).to_bits(), "{x}");
        }
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn log_is_within_2_ulp() {
        let mut worst = 0.0f64;
        let mut x = 1.2e-38f32;
        while x < 3e38 {
            for k in 0..64 {
                let y = x * (1.0 + k as f32 / 64.0);
                let want = (y as f64).ln();
                if want.abs() > 1e-30 {
                    worst = worst.max(ulps(ln(y), want));
                }
            }
            x *= 1.7;
        }
        // Near 1, where builtins are weakest, the relative error stays small too.
        for k in 1..10_000 {
            let y = 1.0 + k as f32 * 1e-7;
            worst = worst.max(ulps(ln(y), (y as f64).ln()));
        }
        assert!(worst <= 2.0, "log worst {worst} ulp");
        assert_eq!(ln(1.0), 0.0);
    }

    #[test]
    fn sincos_is_accurate_on_two_periods() {
        let mut worst = 0.0f64;
        for i in -100_000..=100_000 {
            let x = i as f32 * (std::f32::consts::PI / 50_000.0);
            let (s, c) = sincos(x);
            worst = worst.max((s as f64 - (x as f64).sin()).abs());
            worst = worst.max((c as f64 - (x as f64).cos()).abs());
        }
        assert!(worst < 2e-7, "sincos worst absolute error {worst}");
    }
}
