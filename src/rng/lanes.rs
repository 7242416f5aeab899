//! The samplers in vector lanes: one stream per lane, each lane drawing exactly what the
//! scalar sampler of [`super::Rng`] draws from its stream (and so what the shader draws), as
//! loops over lanes that compile to vector instructions (see [`crate::simd`]).

// Loops over lanes index several arrays with the lane.
#![allow(clippy::needless_range_loop)]

/// The first uniform [0, 1) of the stream `(seed; g, t, purpose)` in every lane (one Philox
/// block each, as `Rng::uniform0` would draw it).
#[inline(always)]
pub fn uniform0<const W: usize>(seed: u64, g: &[u32; W], t: u32, purpose: u32) -> [f32; W] {
    let key = crate::rng::seed_key(seed);
    let mut u = [0f32; W];
    for l in 0..W {
        let x = crate::rng::philox4x32_10([g[l], t, purpose, 0], key);
        u[l] = crate::rng::u32_to_uniform0(x[0]);
    }
    u
}

/// `poisson_inversion_p0` in every lane: Poisson(lam) by inversion from the uniforms `u`,
/// each lane's search exactly the scalar one (lanes that are done keep their count). The
/// count is kept as an f32 (exact below 2^24, and it only ever multiplies a weight), so the
/// loop has no integer-float conversions; `|` and `&` instead of `||` and `&&` keep it free
/// of branches per lane.
#[inline(always)]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // the scalar search's NaN behaviour, exactly
pub fn poisson_inversion<const W: usize>(u0: &[f32; W], lam: f32, p0: f32) -> [f32; W] {
    const INV_2_24: f32 = 1.0 / 16_777_216.0;
    let mut u = *u0;
    let mut p = [p0; W];
    let mut k = [0f32; W];
    let mut active = [true; W];
    // One pass over the lanes per step of the search: a lane stops (as the scalar loop
    // breaks) before or after its update; the loop ends once a pass leaves none going.
    loop {
        let mut any = false;
        for l in 0..W {
            let (ul, pl, kl) = (u[l], p[l], k[l]);
            let a = active[l] & !((ul < pl) | (kl >= 1000.0));
            let u1 = ul - pl;
            let k1 = kl + 1.0;
            let p1 = pl * lam / k1;
            u[l] = if a { u1 } else { ul };
            k[l] = if a { k1 } else { kl };
            p[l] = if a { p1 } else { pl };
            active[l] = a & !(p1 < u1 * INV_2_24);
            any |= active[l];
        }
        if !any {
            return k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn lanes_draw_what_the_scalar_samplers_draw() {
        for lam in [0.3f32, 1.5, 4.0, 9.5] {
            let p0 = crate::math::exp(-lam);
            for t in 0..50u32 {
                let g: [u32; 16] = std::array::from_fn(|l| 1000 + l as u32);
                let u = uniform0::<16>(42, &g, t, 4);
                let n = poisson_inversion::<16>(&u, lam, p0);
                for l in 0..16 {
                    let mut r = Rng::new(42, g[l], t, 4);
                    assert_eq!(u[l], Rng::new(42, g[l], t, 4).uniform0());
                    assert_eq!(n[l], r.poisson_inversion_p0(lam, p0) as f32, "lam {lam}");
                }
            }
        }
    }
}
