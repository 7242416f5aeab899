//! Analysis of rate populations in f64: F and F', the exact solution for w = 0, every fixed
//! point with its eigenvalue (no initial guesses), Jacobians of coupled systems, and
//! bifurcation maps (number of stable fixed points over a (w, I_ext) grid).

use serde::Serialize;

use super::params::{RateParams, Transfer};
use crate::cpu::par_chunks_mut;

/// F(x) for population parameters `p` (f64; docs/models.md, section 1).
pub fn f(p: &RateParams, x: f64) -> f64 {
    match p.transfer {
        Transfer::Sigmoid => {
            1.0 / (1.0 + (-p.a * (x - p.theta)).exp()) - 1.0 / (1.0 + (p.a * p.theta).exp())
        }
        Transfer::Relu => x.max(0.0),
        Transfer::ThresholdLinear => p.a * (x - p.theta).max(0.0),
        Transfer::Tanh => (p.a * (x - p.theta)).tanh(),
    }
}

/// F'(x).
pub fn df(p: &RateParams, x: f64) -> f64 {
    match p.transfer {
        Transfer::Sigmoid => {
            let e = (-p.a * (x - p.theta)).exp();
            if !e.is_finite() {
                return 0.0;
            }
            p.a * e / ((1.0 + e) * (1.0 + e))
        }
        Transfer::Relu => f64::from(u8::from(x > 0.0)),
        Transfer::ThresholdLinear => p.a * f64::from(u8::from(x > p.theta)),
        Transfer::Tanh => {
            let t = (p.a * (x - p.theta)).tanh();
            p.a * (1.0 - t * t)
        }
    }
}

/// Exact solution for w = 0 and constant input: `r0 + (F(I) - r0)(1 - exp(-t/tau))`.
pub fn exact_w0(p: &RateParams, r0: f64, t: f64) -> f64 {
    r0 + (f(p, p.i_ext) - r0) * (-(-t / p.tau).exp_m1())
}

/// dr/dt of one population with self-coupling `p.w`.
pub fn drdt(p: &RateParams, r: f64) -> f64 {
    (-r + f(p, p.w * r + p.i_ext)) / p.tau
}

/// A fixed point of one population.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FixedPoint {
    /// The rate r*.
    pub r: f64,
    /// Eigenvalue `(-1 + w F'(w r* + I)) / tau` in 1/ms.
    pub eigenvalue: f64,
    /// `eigenvalue < 0`.
    pub stable: bool,
}

/// The closed range of F (a bounded interval containing every fixed point), or `None` for
/// unbounded (piecewise-linear) transfer functions.
fn f_range(p: &RateParams) -> Option<(f64, f64)> {
    match p.transfer {
        Transfer::Sigmoid => {
            let off = 1.0 / (1.0 + (p.a * p.theta).exp());
            Some((-off, 1.0 - off))
        }
        Transfer::Tanh => Some((-1.0, 1.0)),
        Transfer::Relu | Transfer::ThresholdLinear => None,
    }
}

fn refine(g: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    let mut glo = g(lo);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        let gm = g(mid);
        if gm == 0.0 {
            return mid;
        }
        if (gm < 0.0) == (glo < 0.0) {
            lo = mid;
            glo = gm;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-15 * (1.0 + lo.abs()) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// Every fixed point of one population (self-coupling `p.w`, input `p.i_ext`), increasing,
/// found without initial guesses: sign changes of `-r + F(w r + I)` on a grid of `grid`
/// points over the range of F, refined by bisection to machine precision; tangential roots
/// (where the curve touches zero) are found at the grid's local extrema of |g|. Piecewise-
/// linear transfer functions are solved exactly piece by piece.
pub fn fixed_points(p: &RateParams, grid: usize) -> Vec<FixedPoint> {
    let g = |r: f64| -r + f(p, p.w * r + p.i_ext);
    let point = |r: f64| {
        let eigenvalue = (-1.0 + p.w * df(p, p.w * r + p.i_ext)) / p.tau;
        FixedPoint {
            r,
            eigenvalue,
            stable: eigenvalue < 0.0,
        }
    };
    let Some((lo, hi)) = f_range(p) else {
        return linear_fixed_points(p).into_iter().map(point).collect();
    };
    let n = grid.max(16);
    let xs: Vec<f64> = (0..=n)
        .map(|i| lo + (hi - lo) * i as f64 / n as f64)
        .collect();
    let gs: Vec<f64> = xs.iter().map(|&r| g(r)).collect();
    let mut roots = Vec::new();
    for i in 0..n {
        if gs[i] == 0.0 {
            roots.push(xs[i]);
        } else if gs[i + 1] != 0.0 && (gs[i] < 0.0) != (gs[i + 1] < 0.0) {
            roots.push(refine(g, xs[i], xs[i + 1]));
        }
    }
    if gs[n] == 0.0 {
        roots.push(xs[n]);
    }
    // Tangential roots: a local extremum of g that reaches zero without a sign change.
    for i in 1..n {
        let (a, b, c) = (gs[i - 1], gs[i], gs[i + 1]);
        let extremum = (b.abs() <= a.abs())
            && (b.abs() <= c.abs())
            && (a < 0.0) == (c < 0.0)
            && (b < 0.0) == (a < 0.0);
        if extremum && b.abs() < 1e-6 {
            // Minimise |g| by golden-section search on [x(i-1), x(i+1)].
            let (mut l, mut h) = (xs[i - 1], xs[i + 1]);
            for _ in 0..200 {
                let m1 = h - (h - l) * 0.618_033_988_749_895;
                let m2 = l + (h - l) * 0.618_033_988_749_895;
                if g(m1).abs() < g(m2).abs() {
                    h = m2;
                } else {
                    l = m1;
                }
            }
            let r = 0.5 * (l + h);
            if g(r).abs() < 1e-10 && !roots.iter().any(|&q: &f64| (q - r).abs() < 1e-9) {
                roots.push(r);
            }
        }
    }
    roots.sort_by(f64::total_cmp);
    roots.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
    roots.into_iter().map(point).collect()
}

/// Fixed points of `r = F(w r + I)` for piecewise-linear F.
fn linear_fixed_points(p: &RateParams) -> Vec<f64> {
    // F(x) = s max(x - c, 0): relu s = 1, c = 0; threshold-linear s = a, c = theta.
    let (s, c) = match p.transfer {
        Transfer::ThresholdLinear => (p.a, p.theta),
        _ => (1.0, 0.0),
    };
    let mut out = Vec::new();
    // Lower piece: r = 0, valid if w * 0 + I <= c.
    if p.i_ext <= c {
        out.push(0.0);
    }
    // Upper piece: r = s (w r + I - c) => r (1 - s w) = s (I - c), valid if w r + I > c.
    let denom = 1.0 - s * p.w;
    if denom.abs() > 1e-15 {
        let r = s * (p.i_ext - c) / denom;
        if p.w * r + p.i_ext > c && r > 0.0 {
            out.push(r);
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

/// Jacobian of M coupled populations at rates `r`: `J_ij = (-delta_ij + F_i'(x_i) W_ij) / tau_i`
/// with `x_i = sum_j W_ij r_j + I_i` (`w[i * M + j]`).
pub fn jacobian(params: &[RateParams], w: &[f64], r: &[f64]) -> Vec<f64> {
    let m = params.len();
    let mut j = vec![0.0; m * m];
    for i in 0..m {
        let x: f64 = (0..m).map(|q| w[i * m + q] * r[q]).sum::<f64>() + params[i].i_ext;
        let d = df(&params[i], x);
        for q in 0..m {
            j[i * m + q] = (-f64::from(u8::from(i == q)) + d * w[i * m + q]) / params[i].tau;
        }
    }
    j
}

/// Eigenvalues (re, im) of a 2 x 2 matrix `[a, b, c, d]`.
pub fn eig2(j: &[f64]) -> [(f64, f64); 2] {
    let (a, b, c, d) = (j[0], j[1], j[2], j[3]);
    let tr = a + d;
    let det = a * d - b * c;
    let disc = tr * tr / 4.0 - det;
    if disc >= 0.0 {
        let s = disc.sqrt();
        [(tr / 2.0 - s, 0.0), (tr / 2.0 + s, 0.0)]
    } else {
        let s = (-disc).sqrt();
        [(tr / 2.0, -s), (tr / 2.0, s)]
    }
}

/// A fixed point of a coupled 2-D system.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FixedPoint2 {
    /// Rates (r_1, r_2).
    pub r: [f64; 2],
    /// Jacobian eigenvalues as (re, im), 1/ms.
    pub eigenvalues: [(f64, f64); 2],
    /// Both real parts negative.
    pub stable: bool,
}

/// Fixed points of two coupled populations (e.g. Wilson-Cowan E-I), found by Newton's method
/// started from every point of a `seeds x seeds` grid over the ranges of F, deduplicated.
pub fn fixed_points_2d(params: &[RateParams; 2], w: &[f64; 4], seeds: usize) -> Vec<FixedPoint2> {
    let range = |p: &RateParams| f_range(p).unwrap_or((0.0, 10.0));
    let (r0, r1) = (range(&params[0]), range(&params[1]));
    let resid = |r: [f64; 2]| -> [f64; 2] {
        let mut out = [0.0; 2];
        for i in 0..2 {
            let x = w[2 * i] * r[0] + w[2 * i + 1] * r[1] + params[i].i_ext;
            out[i] = -r[i] + f(&params[i], x);
        }
        out
    };
    let mut found: Vec<[f64; 2]> = Vec::new();
    let n = seeds.max(2);
    for a in 0..n {
        for b in 0..n {
            let mut r = [
                r0.0 + (r0.1 - r0.0) * (a as f64 + 0.5) / n as f64,
                r1.0 + (r1.1 - r1.0) * (b as f64 + 0.5) / n as f64,
            ];
            let mut ok = false;
            for _ in 0..100 {
                let g = resid(r);
                if g[0].abs() + g[1].abs() < 1e-13 {
                    ok = true;
                    break;
                }
                // Jacobian of the residual (tau-free).
                let mut jm = [0.0; 4];
                for i in 0..2 {
                    let x = w[2 * i] * r[0] + w[2 * i + 1] * r[1] + params[i].i_ext;
                    let d = df(&params[i], x);
                    for q in 0..2 {
                        jm[2 * i + q] = -f64::from(u8::from(i == q)) + d * w[2 * i + q];
                    }
                }
                let det = jm[0] * jm[3] - jm[1] * jm[2];
                if det.abs() < 1e-300 {
                    break;
                }
                let dx = (jm[3] * g[0] - jm[1] * g[1]) / det;
                let dy = (-jm[2] * g[0] + jm[0] * g[1]) / det;
                r = [r[0] - dx, r[1] - dy];
                if !(r[0].is_finite() && r[1].is_finite()) {
                    break;
                }
            }
            if ok
                && !found
                    .iter()
                    .any(|q| (q[0] - r[0]).abs() + (q[1] - r[1]).abs() < 1e-8)
            {
                found.push(r);
            }
        }
    }
    found.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    found
        .into_iter()
        .map(|r| {
            let ev = eig2(&jacobian(params, w, &r));
            FixedPoint2 {
                r,
                eigenvalues: ev,
                stable: ev[0].0 < 0.0 && ev[1].0 < 0.0,
            }
        })
        .collect()
}

/// Number of stable (and of all) fixed points of one population over a grid of self-coupling
/// `ws` x inputs `is`, computed for the whole grid at once (rows in parallel). Row-major:
/// `[iw * is.len() + ii]`.
pub fn bifurcation_map(
    p: &RateParams,
    ws: &[f64],
    is: &[f64],
    grid: usize,
) -> (Vec<u32>, Vec<u32>) {
    let n = ws.len() * is.len();
    let mut cells = vec![(0u32, 0u32); n];
    let cols = is.len().max(1);
    par_chunks_mut(&mut cells, cols, |first_row, chunk| {
        for (k, cell) in chunk.iter_mut().enumerate() {
            let (iw, ii) = (first_row + k / cols, k % cols);
            let q = RateParams {
                w: ws[iw],
                i_ext: is[ii],
                ..*p
            };
            let fps = fixed_points(&q, grid);
            *cell = (
                fps.iter().filter(|fp| fp.stable).count() as u32,
                fps.len() as u32,
            );
        }
    });
    cells.into_iter().unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tutorial_fixed_points_and_eigenvalues() {
        // docs/models.md, section 1: w = 5, I_ext = 0.5 -> 0.042, 0.447, 0.900 with eigenvalues
        // -0.583, 0.498, -0.626.
        let p = RateParams {
            w: 5.0,
            i_ext: 0.5,
            ..Default::default()
        };
        let fps = fixed_points(&p, 10_000);
        assert_eq!(fps.len(), 3, "{fps:?}");
        let want = [
            (0.042, -0.583, true),
            (0.447, 0.498, false),
            (0.900, -0.626, true),
        ];
        for (fp, (r, ev, st)) in fps.iter().zip(want) {
            assert!((fp.r - r).abs() < 5e-4, "{fp:?}");
            assert!((fp.eigenvalue - ev).abs() < 5e-4, "{fp:?}");
            assert_eq!(fp.stable, st);
            assert!(drdt(&p, fp.r).abs() < 1e-12);
        }
    }

    #[test]
    fn one_fixed_point_without_recurrence() {
        let p = RateParams {
            w: 0.0,
            i_ext: 2.0,
            ..Default::default()
        };
        let fps = fixed_points(&p, 1000);
        assert_eq!(fps.len(), 1);
        assert!((fps[0].r - f(&p, 2.0)).abs() < 1e-12);
        assert!((fps[0].eigenvalue + 1.0).abs() < 1e-12);
    }

    #[test]
    fn piecewise_linear_fixed_points_are_exact() {
        let p = RateParams {
            transfer: Transfer::ThresholdLinear,
            a: 0.5,
            theta: 1.0,
            w: 1.0,
            i_ext: 3.0,
            ..Default::default()
        };
        // r = 0.5 (r + 3 - 1) => r = 2.
        let fps = fixed_points(&p, 100);
        assert_eq!(fps.len(), 1);
        assert!((fps[0].r - 2.0).abs() < 1e-12 && fps[0].stable);
    }

    #[test]
    fn bifurcation_map_counts_bistability() {
        let p = RateParams::default();
        let (stable, all) = bifurcation_map(&p, &[0.0, 5.0], &[0.5], 2000);
        assert_eq!((stable[0], all[0]), (1, 1));
        assert_eq!((stable[1], all[1]), (2, 3));
    }

    #[test]
    fn wilson_cowan_fixed_point_matches_residual() {
        let e = RateParams {
            tau: 1.0,
            a: 1.2,
            theta: 2.8,
            i_ext: 0.5,
            ..Default::default()
        };
        let i = RateParams {
            tau: 2.0,
            a: 1.0,
            theta: 4.0,
            i_ext: 0.0,
            ..Default::default()
        };
        let w = [9.0, -4.0, 13.0, -11.0];
        let fps = fixed_points_2d(&[e, i], &w, 40);
        assert!(!fps.is_empty());
        for fp in &fps {
            let x0 = w[0] * fp.r[0] + w[1] * fp.r[1] + e.i_ext;
            let x1 = w[2] * fp.r[0] + w[3] * fp.r[1] + i.i_ext;
            assert!((fp.r[0] - f(&e, x0)).abs() < 1e-10 && (fp.r[1] - f(&i, x1)).abs() < 1e-10);
        }
    }
}
