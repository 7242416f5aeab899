//! Weights and delays drawn per synapse: [`SynDist`], the distribution as the kernels see it,
//! and [`syn_value`], the draw of one value, the CPU twin of `syn_value` in
//! shaders/shared/synapse.wgsl (same f32 operations in the same order, so a procedural
//! projection regenerates the same synapses on both paths).
//!
//! A synapse's value is a pure function of (seed, key, purpose): `key` is (global source,
//! target index) for the rules without multapses (`pairwise_bernoulli`, `all_to_all`,
//! `one_to_one`, stored or procedural), (global source, draw index) for `fixed_total_number`
//! (rows drawn by source, stored or procedural) and (global target, draw index) for
//! `fixed_indegree` (drawn per target), so two synapses of a multapse draw different values.
//! Purposes: `Weight + 256 k`, `Delay + 256 k` for projection k.
//!
//! Delivery sums weights as integers: a weight w reaches the ring as
//! `q = round(|w| / resolution)` with a power-of-two resolution per projection, chosen so that
//! the most synapses of the projection onto one target times the largest `q` fits a u32
//! ([`weight_resolution`]). Integer sums do not depend on the order of delivery, so the
//! result is the same for every thread count and on every device; the target multiplies the
//! sum by `±resolution` (exact: a power of two) where it multiplied a spike count by the
//! weight.

use bytemuck::{Pod, Zeroable};

use crate::rng::Rng;
use crate::spec::{Dist, DistKind};

/// Draws per value before the last is clipped (`SYN_MAX_TRIES` in the shader).
pub const MAX_TRIES: u32 = crate::spec::dist::MAX_TRIES;

/// Finest weight resolution relative to the mean weight that a projection may be refused
/// for: the resolution needed to keep sums in 32 bits must be at most `mean / 1024`.
pub const MIN_RELATIVE_RESOLUTION: f64 = 1.0 / 1024.0;

/// A distribution of synapse values as the kernels draw it. Keep in sync with `SynDist` in
/// shaders/shared/synapse.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct SynDist {
    /// 0: not drawn (one value); otherwise [`DistKind::code`].
    pub kind: u32,
    /// normal: mean; lognormal: mean of the underlying normal; uniform: min;
    /// exponential: beta.
    pub a: f32,
    /// normal, lognormal: standard deviation; uniform: max - min.
    pub b: f32,
    /// Draws outside `[lo, hi]` are drawn again.
    pub lo: f32,
    /// Upper bound.
    pub hi: f32,
    /// Weight: 1 / resolution; delay: 1 / dt.
    pub scale: f32,
    /// RNG purpose word (`Weight + 256 k` or `Delay + 256 k`).
    pub purpose: u32,
    /// Delay: the smallest delay in steps (stored delays are offsets from it).
    pub base: u32,
}

impl SynDist {
    /// The kernel form of `d` (already validated), in f32, with `scale` and `purpose`.
    pub fn new(d: &Dist, scale: f64, purpose: u32) -> Self {
        let kind = d.kind().unwrap_or(DistKind::Normal);
        let (lo, hi) = d.support();
        let (a, b) = match kind {
            DistKind::Normal | DistKind::Lognormal => {
                (d.mean.unwrap_or(0.0) as f32, d.std.unwrap_or(0.0) as f32)
            }
            DistKind::Uniform => {
                let a = d.min.unwrap_or(0.0) as f32;
                (a, d.max.unwrap_or(0.0) as f32 - a)
            }
            DistKind::Exponential => (d.beta.unwrap_or(1.0) as f32, 0.0),
        };
        Self {
            kind: kind.code(),
            a,
            b,
            lo: lo as f32,
            hi: hi as f32,
            scale: scale as f32,
            purpose,
            base: 0,
        }
    }

    /// The largest `|value|` drawn.
    pub fn max_abs(&self) -> f32 {
        self.lo.abs().max(self.hi.abs())
    }

    /// Delay in steps of value `x` (ms): rounded to the nearest step, at least one.
    #[inline(always)]
    pub fn steps(&self, x: f32) -> u32 {
        ((x * self.scale).round_ties_even() as u32).max(1)
    }

    /// Weight `x` as an integer multiple of the resolution.
    #[inline(always)]
    pub fn quantum(&self, x: f32) -> u32 {
        (x.abs() * self.scale).round_ties_even() as u32
    }

    /// Draws this synapse's value from `(seed; element, step, self.purpose)`.
    #[inline(always)]
    pub fn draw(&self, seed: u64, element: u32, step: u32) -> f32 {
        let mut r = Rng::new(seed, element, step, self.purpose);
        syn_value(self, &mut r)
    }
}

/// `syn_value`: a draw from `d`, drawn again (at most [`MAX_TRIES`] times) while outside
/// `[lo, hi]`, then clipped.
#[inline(always)]
pub fn syn_value(d: &SynDist, r: &mut Rng) -> f32 {
    let mut x = d.lo;
    for _ in 0..MAX_TRIES {
        x = match d.kind {
            1 => d.a + d.b * r.normal2()[0],
            2 => crate::math::exp(d.a + d.b * r.normal2()[0]),
            3 => d.a + d.b * r.uniform0(),
            _ => -d.a * crate::math::ln(r.uniform()),
        };
        if x >= d.lo && x <= d.hi {
            return x;
        }
    }
    x.clamp(d.lo, d.hi)
}

/// The power-of-two resolution of a projection's weights: the finest with which `k_max`
/// synapses onto one target, each at most `w_max` (in quanta, rounded), sum to at most
/// `u32::MAX`. Errors (as text) when it would be coarser than [`MIN_RELATIVE_RESOLUTION`] of
/// `mean_abs`.
pub fn weight_resolution(w_max: f64, k_max: u64, mean_abs: f64) -> Result<f64, String> {
    let k = k_max.max(1) as f64;
    let room = f64::from(u32::MAX) - k;
    if room <= 0.0 {
        return Err(format!(
            "{k_max} synapses onto one target: at most {}",
            u32::MAX / 2
        ));
    }
    // k (w_max / res + 1/2) <= u32::MAX  <=>  res >= k w_max / (u32::MAX - k / 2).
    let need = k * w_max / room;
    let e = need.log2().ceil().clamp(-100.0, 100.0);
    let res = e.exp2();
    if res > mean_abs * MIN_RELATIVE_RESOLUTION {
        return Err(format!(
            "up to {k_max} synapses per target with weights up to {w_max:.6e}: summed in 32-bit integers, the resolution would be {res:.3e}, coarser than 1/1024 of the mean weight {mean_abs:.6e} (the fixed-point range would overflow); lower `max` or the in-degree"
        ));
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolution_keeps_sums_in_range() {
        let res = weight_resolution(351.2 * 1.5, 2500, 351.2).expect("fits");
        assert_eq!(res.log2().fract(), 0.0);
        let q = (351.2f64 * 1.5 / res).round();
        assert!(2500.0 * q <= f64::from(u32::MAX));
        assert!(2500.0 * (2.0 * q) > f64::from(u32::MAX) * 0.5);
        assert!(weight_resolution(1e6, 1 << 30, 1.0).is_err());
    }

    #[test]
    fn draws_stay_within_bounds_and_repeat() {
        let d = Dist {
            dist: "normal".into(),
            mean: Some(1.5),
            std: Some(0.75),
            min: Some(0.05),
            max: None,
            beta: None,
        };
        let s = SynDist::new(&d, 10.0, 8);
        for e in 0..2000 {
            let x = s.draw(3, e, 7);
            assert!((0.05..=1.5 + 5.0 * 0.75).contains(&x), "{x}");
            assert_eq!(x.to_bits(), s.draw(3, e, 7).to_bits());
            assert!(s.steps(x) >= 1);
        }
    }
}
