//! Special functions for the samplers, in f32, mirroring `shaders/shared/rng.wgsl`.
//!
//! The log-probabilities use the saddle-point form of Loader (2000, "Fast and accurate
//! computation of binomial probabilities"): no term grows with `n`, so f32 keeps about six
//! significant digits of `log f(k) - log f(m)` even for `n` near 2^24, where the textbook
//! `lgamma` differences would cancel away every digit.

use crate::math;

/// `RNG_HALF_LN_2PI`: log(sqrt(2 pi)).
#[allow(clippy::excessive_precision)]
const HALF_LN_2PI: f32 = 0.918938533204673;

/// `log1p_f32` in WGSL: log(1 + x), accurate for small |x|, by the series of
/// `2 atanh(x / (2 + x))` for |x| < 0.5.
#[inline]
pub fn log1p_f32(x: f32) -> f32 {
    if x.abs() < 0.5 {
        let s = x / (2.0 + x);
        let s2 = s * s;
        let poly = 1.0
            + s2 * (1.0 / 3.0
                + s2 * (1.0 / 5.0
                    + s2 * (1.0 / 7.0
                        + s2 * (1.0 / 9.0
                            + s2 * (1.0 / 11.0
                                + s2 * (1.0 / 13.0 + s2 * (1.0 / 15.0 + s2 * (1.0 / 17.0))))))));
        return 2.0 * s * poly;
    }
    math::ln(1.0 + x)
}

/// `STIRLERR_TABLE`: log(n!) - (n + 1/2) log(n) + n - log(sqrt(2 pi)) for n = 0..15 (0 at n = 0).
#[allow(clippy::excessive_precision)]
const STIRLERR_TABLE: [f32; 16] = [
    0.0,
    0.0810614667953273,
    0.0413406959554093,
    0.0276779256849983,
    0.0207906721037651,
    0.0166446911898212,
    0.0138761288230707,
    0.0118967099458918,
    0.0104112652619721,
    0.00925546218271273,
    0.00833056343336287,
    0.00757367548795184,
    0.00694284010720953,
    0.00640899418800421,
    0.00595137011275885,
    0.00555473355196280,
];

/// `stirlerr` in WGSL: the error of Stirling's formula for log(n!), whole `n >= 1`.
#[inline]
#[allow(clippy::excessive_precision)]
pub fn stirlerr(n: f32) -> f32 {
    if n <= 15.0 {
        return STIRLERR_TABLE[n as usize];
    }
    let nn = n * n;
    (0.0833333333333333
        - (0.00277777777777778
            - (0.000793650793650794 - (0.000595238095238095 - 0.000841750841750842 / nn) / nn)
                / nn)
            / nn)
        / n
}

/// `bd0` in WGSL: the deviance `x log(x / np) + np - x`, by series near `np`.
#[inline]
pub fn bd0(x: f32, np: f32) -> f32 {
    if (x - np).abs() < 0.1 * (x + np) {
        let mut v = (x - np) / (x + np);
        let mut s = (x - np) * v;
        let mut ej = 2.0 * x * v;
        v *= v;
        for j in 1u32..12 {
            ej *= v;
            let s1 = s + ej / (2 * j + 1) as f32;
            if s1 == s {
                return s1;
            }
            s = s1;
        }
        return s;
    }
    x * math::ln(x / np) + np - x
}

/// `log_poisson_pmf` in WGSL: log P(K = k) for K ~ Poisson(lam).
#[inline]
pub fn log_poisson_pmf(k: f32, lam: f32) -> f32 {
    if k == 0.0 {
        return -lam;
    }
    -stirlerr(k) - bd0(k, lam) - HALF_LN_2PI - 0.5 * math::ln(k)
}

/// `log_binomial_pmf` in WGSL: log P(K = k) for K ~ Binomial(n, p), `q = 1 - p`.
#[inline]
pub fn log_binomial_pmf(k: f32, n: f32, p: f32, q: f32) -> f32 {
    if k == 0.0 {
        return n * log1p_f32(-p);
    }
    if k == n {
        return n * math::ln(p);
    }
    let lc = stirlerr(n) - stirlerr(k) - stirlerr(n - k) - bd0(k, n * p) - bd0(n - k, n * q);
    lc - HALF_LN_2PI - 0.5 * math::ln(k * ((n - k) / n))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ln(n!) in f64 by summing logs: a slow but independent reference.
    fn ln_factorial(n: u64) -> f64 {
        (2..=n).map(|i| (i as f64).ln()).sum()
    }

    #[test]
    fn log1p_matches_f64_reference() {
        for &x in &[
            -0.49f32, -0.1, -1e-3, -1e-7, 0.0, 1e-9, 1e-5, 0.3, 0.49, 0.5, 2.0, 100.0,
        ] {
            let want = (x as f64).ln_1p();
            let got = log1p_f32(x) as f64;
            let tol = 3e-7 * want.abs().max(1e-30);
            assert!((got - want).abs() <= tol, "log1p({x}) = {got}, want {want}");
        }
    }

    #[test]
    fn stirlerr_matches_log_factorial() {
        for n in [1u64, 2, 5, 10, 15, 16, 20, 100, 1000, 100_000] {
            let nf = n as f64;
            let want = ln_factorial(n) - (nf + 0.5) * nf.ln() + nf
                - 0.5 * (2.0 * std::f64::consts::PI).ln();
            let got = stirlerr(n as f32) as f64;
            // The summed-log reference itself loses about 1e-9 to cancellation at n = 1e5.
            assert!(
                (got - want).abs() < 1e-6 * want.abs() + 5e-9,
                "stirlerr({n}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn binomial_log_pmf_is_accurate_for_huge_n() {
        // n = 10^7, p = 0.3: compare log f(k) - log f(m) with an f64 evaluation of the same
        // saddle-point formula; the f32 path must keep 1e-4 absolute accuracy.
        let (n, p) = (10_000_000.0f64, 0.3f64);
        let q = 1.0 - p;
        let m = ((n + 1.0) * p).floor();
        let ref_lpmf = |k: f64| -> f64 {
            let lf = |x: f64| {
                ln_factorial(0) + {
                    // Stirling with correction: accurate in f64 for large x.
                    let x1 = x.max(1.0);
                    (x1 + 0.5) * x1.ln() - x1
                        + 0.5 * (2.0 * std::f64::consts::PI).ln()
                        + 1.0 / (12.0 * x1)
                        - 1.0 / (360.0 * x1.powi(3))
                }
            };
            lf(n) - lf(k) - lf(n - k) + k * p.ln() + (n - k) * q.ln()
        };
        for dk in [-5000.0, -2000.0, -100.0, 1.0, 500.0, 3000.0] {
            let k = m + dk;
            let want = ref_lpmf(k) - ref_lpmf(m);
            let (nf, pf, qf) = (n as f32, p as f32, q as f32);
            let got = (log_binomial_pmf(k as f32, nf, pf, qf)
                - log_binomial_pmf(m as f32, nf, pf, qf)) as f64;
            assert!(
                (got - want).abs() < 2e-3 * (1.0 + want.abs()),
                "dk {dk}: {got} vs {want}"
            );
        }
    }
}
