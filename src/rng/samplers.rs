//! Samplers on [`Rng`], each the twin of the WGSL function named in its doc.
//!
//! All arithmetic is f32 in the same order as the shader, so both paths make the same
//! accept/reject decisions except where a transcendental function rounds differently.

use crate::math;

use super::special::{log1p_f32, log_binomial_pmf, log_poisson_pmf};
use super::stream::Rng;

/// `RNG_INV_2_24`: the spacing of the 24-bit uniforms.
const INV_2_24: f32 = 1.0 / 16_777_216.0;
/// `RNG_PI`.
const PI: f32 = std::f32::consts::PI;
/// `RNG_MAX_TRIES`: cap of the rejection loops (never reached in practice).
const MAX_TRIES: u32 = 256;

/// `u32_to_uniform`: uniform on (0, 1] with 24-bit resolution, never 0.
#[inline]
pub fn u32_to_uniform(x: u32) -> f32 {
    ((x >> 8) + 1) as f32 * INV_2_24
}

/// `u32_to_uniform0`: uniform on [0, 1) with 24-bit resolution.
#[inline]
pub fn u32_to_uniform0(x: u32) -> f32 {
    (x >> 8) as f32 * INV_2_24
}

/// `box_muller`: two standard normals from two u32; the angle stays in [-pi, pi).
#[inline]
pub fn box_muller(x0: u32, x1: u32) -> [f32; 2] {
    let u1 = u32_to_uniform(x0);
    let u2 = u32_to_uniform0(x1);
    let radius = (-2.0 * math::ln(u1)).sqrt();
    let theta = PI * (2.0 * u2 - 1.0);
    let (s, c) = math::sincos(theta);
    [radius * c, radius * s]
}

impl Rng {
    /// `rng_uniform`: uniform on (0, 1].
    #[inline]
    pub fn uniform(&mut self) -> f32 {
        u32_to_uniform(self.next_u32())
    }

    /// `rng_uniform0`: uniform on [0, 1).
    #[inline]
    pub fn uniform0(&mut self) -> f32 {
        u32_to_uniform0(self.next_u32())
    }

    /// `rng_normal2`: two independent standard normals (Box-Muller) from two draws.
    #[inline]
    pub fn normal2(&mut self) -> [f32; 2] {
        let x0 = self.next_u32();
        let x1 = self.next_u32();
        box_muller(x0, x1)
    }

    /// `rng_poisson`: Poisson(lam), 0 for `lam <= 0` or NaN. Inversion below 10, PTRS above.
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN must take the early return
    pub fn poisson(&mut self, lam: f32) -> u32 {
        if !(lam > 0.0) {
            return 0;
        }
        if lam < 10.0 {
            return self.poisson_inversion(lam);
        }
        self.poisson_ptrs(lam)
    }

    /// `poisson_inversion`: sequential search from 0 with one uniform.
    fn poisson_inversion(&mut self, lam: f32) -> u32 {
        self.poisson_inversion_p0(lam, math::exp(-lam))
    }

    /// `poisson_inversion_p0`: Poisson(lam) for lam < 10 by inversion, with `p0 =
    /// math::exp(-lam)` given (computed once for many draws of one mean).
    pub fn poisson_inversion_p0(&mut self, lam: f32, p0: f32) -> u32 {
        let mut u = self.uniform0();
        let mut p = p0;
        let mut k = 0u32;
        loop {
            if u < p || k >= 1000 {
                break;
            }
            u -= p;
            k += 1;
            p = p * lam / k as f32;
            if p < u * INV_2_24 {
                break;
            }
        }
        k
    }

    /// `poisson_ptrs`: transformed rejection with squeeze (Hoermann 1993).
    fn poisson_ptrs(&mut self, lam: f32) -> u32 {
        let slam = lam.sqrt();
        let b = 0.931 + 2.53 * slam;
        let a = -0.059 + 0.02483 * b;
        let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
        let vr = 0.9277 - 3.6224 / (b - 2.0);
        for _ in 0..MAX_TRIES {
            let u = self.uniform0() - 0.5;
            let v = self.uniform();
            let us = 0.5 - u.abs();
            if us <= 0.0 {
                continue;
            }
            let k = ((2.0 * a / us + b) * u + lam + 0.43).floor();
            if us >= 0.07 && v <= vr {
                return k.max(0.0) as u32;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            let lhs = math::ln(v) + math::ln(inv_alpha) - math::ln(a / (us * us) + b);
            if lhs <= log_poisson_pmf(k, lam) {
                return k as u32;
            }
        }
        lam.floor() as u32
    }

    /// `rng_binomial`: Binomial(n, p) with p clipped to [0, 1]; exact up to f32 rounding for
    /// every `n <= 2^24`. Inversion when `n min(p, 1-p) < 10`, BTRD otherwise.
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN must take the early return
    pub fn binomial(&mut self, n: u32, p: f32) -> u32 {
        if n == 0 || !(p > 0.0) {
            return 0;
        }
        if p >= 1.0 {
            return n;
        }
        let flip = p > 0.5;
        let pp = if flip { 1.0 - p } else { p };
        let k = if n as f32 * pp < 10.0 {
            self.binomial_inversion(n, pp)
        } else {
            self.binomial_btrd(n, pp)
        };
        if flip {
            n - k
        } else {
            k
        }
    }

    /// `binomial_inversion`: BINV (Kachitvichyanukul & Schmeiser 1988).
    fn binomial_inversion(&mut self, n: u32, p: f32) -> u32 {
        let nf = n as f32;
        let q = 1.0 - p;
        let s = p / q;
        let a = (nf + 1.0) * s;
        let mut f = math::exp(nf * log1p_f32(-p));
        let mut u = self.uniform0();
        let mut k = 0u32;
        loop {
            if u < f || k >= n {
                break;
            }
            u -= f;
            k += 1;
            f *= a / k as f32 - s;
            if f < u * INV_2_24 {
                break;
            }
        }
        k
    }

    /// `binomial_btrd`: BTRD (Hoermann 1993) with the final test in saddle-point form.
    fn binomial_btrd(&mut self, n: u32, p: f32) -> u32 {
        let nf = n as f32;
        let q = 1.0 - p;
        let m = ((nf + 1.0) * p).floor();
        let rr = p / q;
        let nr = (nf + 1.0) * rr;
        let npq = nf * p * q;
        let spq = npq.sqrt();
        let b = 1.15 + 2.53 * spq;
        let a = -0.0873 + 0.0248 * b + 0.01 * p;
        let c = nf * p + 0.5;
        let alpha = (2.83 + 5.1 / b) * spq;
        let vr = 0.92 - 4.2 / b;
        let urvr = 0.86 * vr;
        for _ in 0..MAX_TRIES {
            let mut v = self.uniform0();
            if v <= urvr {
                let u = v / vr - 0.43;
                let k = ((2.0 * a / (0.5 - u.abs()) + b) * u + c).floor();
                return k.clamp(0.0, nf) as u32;
            }
            let mut u: f32;
            if v >= vr {
                u = self.uniform0() - 0.5;
            } else {
                u = v / vr - 0.93;
                u = if u > 0.0 { 0.5 } else { -0.5 } - u;
                v = self.uniform0() * vr;
            }
            let us = 0.5 - u.abs();
            if us <= 0.0 {
                continue;
            }
            let k = ((2.0 * a / us + b) * u + c).floor();
            if k < 0.0 || k > nf {
                continue;
            }
            v = v * alpha / (a / (us * us) + b);
            let km = (k - m).abs();
            if km <= 15.0 {
                let mut f = 1.0f32;
                if m < k {
                    let mut i = m + 1.0;
                    while i <= k {
                        f *= nr / i - rr;
                        i += 1.0;
                    }
                } else if m > k {
                    let mut i = k + 1.0;
                    while i <= m {
                        v *= nr / i - rr;
                        i += 1.0;
                    }
                }
                if v <= f {
                    return k as u32;
                }
                continue;
            }
            if v <= 0.0 {
                return k as u32;
            }
            let lv = math::ln(v);
            let rho = (km / npq) * (((km / 3.0 + 0.625) * km + 1.0 / 6.0) / npq + 0.5);
            let t = -km * km / (2.0 * npq);
            if lv < t - rho {
                return k as u32;
            }
            if lv > t + rho {
                continue;
            }
            if lv <= log_binomial_pmf(k, nf, p, q) - log_binomial_pmf(m, nf, p, q) {
                return k as u32;
            }
        }
        m as u32
    }
}
