//! The f64 reference of the LIF moment activation (docs/models.md, section 3).
//!
//! With `ub = (V_th L - mu_bar)/(sqrt(L) sigma_bar)` and `lb = (V_res L - mu_bar)/(sqrt(L)
//! sigma_bar)` the outputs need `G = int_lb^ub g` and `H = int_lb^ub h` of the Dawson-like
//! functions `g(x) = e^{x^2} int_{-inf}^x e^{-u^2} du` and `h(x) = e^{x^2} int_{-inf}^x
//! e^{-u^2} g(u)^2 du`. Both grow like `e^{x^2}` and `e^{2x^2}` for x > 0 and fall like
//! `1/(2|x|)` and `1/(8|x|^3)` for x < 0, so the code works with antiderivatives and scaled
//! forms that stay in range for every input:
//!
//! - `Ga(x) = int_0^x g` and `Ha(x) = int_{-inf}^x h` for x <= 0, from asymptotic series
//!   (integrated term by term) below `-T0` and composite Gauss-Legendre quadrature above;
//! - `P(x) = e^{-x^2} Ga(x)` and `Q(x) = e^{-2x^2} Ha(x)` for x > 0, which tend to
//!   `sqrt(pi) F(x)` and `pi F(x)^2 / 2` (F = Dawson's integral) up to terms of relative size
//!   `e^{-x^2}`;
//! - when `ub > 0` every output is computed from `G e^{-ub^2}` and `H e^{-2 ub^2}`, so the
//!   far-subthreshold rate underflows gracefully to 0 while the Fano factor tends to 1.
//!
//! The same decomposition, with Chebyshev fits in place of the quadratures, is the f32
//! kernel (`kernel.rs`), whose fit tables are built from the functions here. Accuracy against
//! 40-digit mpmath values (`tests/data/moments_reference.csv`) is checked in
//! `tests/moments.rs`.

use std::f64::consts::PI;
use std::sync::OnceLock;

use super::params::MomentParams;

/// Below `-T0` the asymptotic series of g, h and their antiderivatives are used: at
/// |x| = 7 the smallest term is about e^{-49}, far below f64 rounding.
pub const T0: f64 = 7.0;
/// Above this x, P and Q are their Dawson asymptotic forms (corrections ~ e^{-64}).
const X_DAWSON: f64 = 8.0;
/// Terms kept at most in the asymptotic series.
const N_SERIES: usize = 60;

/// The four outputs of the moment activation for one input point.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Moments {
    /// Mean firing rate mu, spikes/ms.
    pub rate: f64,
    /// Output standard deviation sigma = sqrt(Var_T mu^3), spikes/sqrt(ms) (the spike-count
    /// variance per unit time is its square).
    pub std: f64,
    /// Fano factor Var_T mu^2 (spike-count variance over mean for long windows).
    pub fano: f64,
    /// Linear perturbation coefficient chi = (sigma_bar / sigma) d mu / d mu_bar.
    pub chi: f64,
}

/// Output correlation of two neurons whose inputs have correlation `rho_bar`:
/// `chi_i chi_j rho_bar` (linear response around rho_bar = 0, docs/models.md, section 3).
pub fn output_correlation(chi_i: f64, chi_j: f64, rho_bar: f64) -> f64 {
    chi_i * chi_j * rho_bar
}

// ---------------------------------------------------------------------------------------
// Quadrature

const GL_N: usize = 20;

/// Nodes and weights of 20-point Gauss-Legendre on [-1, 1] (Newton on P_20).
fn gauss_legendre() -> &'static ([f64; GL_N], [f64; GL_N]) {
    static GL: OnceLock<([f64; GL_N], [f64; GL_N])> = OnceLock::new();
    GL.get_or_init(|| {
        let mut x = [0.0; GL_N];
        let mut w = [0.0; GL_N];
        let n = GL_N as f64;
        for i in 0..GL_N {
            let mut z = (PI * (i as f64 + 0.75) / (n + 0.5)).cos();
            let mut dp = 1.0;
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, z);
                for k in 2..=GL_N {
                    let k = k as f64;
                    let p2 = ((2.0 * k - 1.0) * z * p1 - (k - 1.0) * p0) / k;
                    p0 = p1;
                    p1 = p2;
                }
                dp = n * (z * p1 - p0) / (z * z - 1.0);
                let dz = p1 / dp;
                z -= dz;
                if dz.abs() < 1e-16 {
                    break;
                }
            }
            x[i] = z;
            w[i] = 2.0 / ((1.0 - z * z) * dp * dp);
        }
        (x, w)
    })
}

/// `int_a^b f` by 20-point Gauss-Legendre on equal panels no wider than `width`.
fn integrate(f: impl Fn(f64) -> f64, a: f64, b: f64, width: f64) -> f64 {
    if b <= a {
        return 0.0;
    }
    let (x, w) = gauss_legendre();
    let panels = ((b - a) / width).ceil().max(1.0) as usize;
    let hw = 0.5 * (b - a) / panels as f64;
    let mut sum = 0.0;
    for p in 0..panels {
        let mid = a + (2 * p + 1) as f64 * hw;
        let mut s = 0.0;
        for k in 0..GL_N {
            s += w[k] * f(mid + hw * x[k]);
        }
        sum += s * hw;
    }
    sum
}

// ---------------------------------------------------------------------------------------
// Asymptotic series for x -> -inf (t = -x):
//   g(x)  = sum a_n t^{-(2n+1)},   a_0 = 1/2,  a_n = -(2n-1)/2 a_{n-1}    (from g' = 2xg + 1)
//   h(x)  = sum b_n t^{-(2n+3)},   2 b_n = c_n - (2n+1) b_{n-1}, c = a * a  (from h' = 2xh + g^2)

/// Coefficients `a_n` and `b_n` of the series above.
pub fn series_coefficients() -> &'static (Vec<f64>, Vec<f64>) {
    static C: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
    C.get_or_init(|| {
        let mut a = vec![0.5];
        for n in 1..N_SERIES {
            a.push(-(2.0 * n as f64 - 1.0) / 2.0 * a[n - 1]);
        }
        let mut b: Vec<f64> = Vec::new();
        for n in 0..N_SERIES {
            let c: f64 = (0..=n).map(|k| a[k] * a[n - k]).sum();
            let prev = if n == 0 {
                0.0
            } else {
                (2.0 * n as f64 + 1.0) * b[n - 1]
            };
            b.push(0.5 * (c - prev));
        }
        (a, b)
    })
}

/// Sums `coef[n] * z^n * lead` until the terms stop shrinking (optimal truncation).
fn asymptotic_sum(coef: impl Fn(usize) -> f64, z: f64) -> f64 {
    let mut sum = 0.0;
    let mut zn = 1.0;
    let mut last = f64::INFINITY;
    for n in 0..N_SERIES {
        let term = coef(n) * zn;
        if term.abs() > last {
            break;
        }
        sum += term;
        last = term.abs();
        if last <= 1e-18 * sum.abs() {
            break;
        }
        zn *= z;
    }
    sum
}

fn g_series(t: f64) -> f64 {
    let (a, _) = series_coefficients();
    asymptotic_sum(|n| a[n], 1.0 / (t * t)) / t
}

/// `int g dx` over `x in [-t1, -t2]` (t1 > t2 >= T0) from the series.
fn g_series_integral(t1: f64, t2: f64) -> f64 {
    let (a, _) = series_coefficients();
    // a_0 ln(t1/t2) - sum_{n>=1} a_n/(2n) (t1^{-2n} - t2^{-2n})
    let tail = |t: f64| {
        let z = 1.0 / (t * t);
        asymptotic_sum(|n| a[n + 1] / (2.0 * (n + 1) as f64), z) * z
    };
    a[0] * (t1 / t2).ln() - (tail(t1) - tail(t2))
}

fn h_series(t: f64) -> f64 {
    let (_, b) = series_coefficients();
    asymptotic_sum(|n| b[n], 1.0 / (t * t)) / (t * t * t)
}

/// `Ha(-t) = int_{-inf}^{-t} h` from the series: sum b_n t^{-(2n+2)} / (2n+2).
fn ha_series(t: f64) -> f64 {
    let (_, b) = series_coefficients();
    let z = 1.0 / (t * t);
    asymptotic_sum(|n| b[n] / (2.0 * n as f64 + 2.0), z) * z
}

/// Dawson's integral `F(x) = e^{-x^2} int_0^x e^{u^2} du` for x >= 0.
pub fn dawson(x: f64) -> f64 {
    if x > X_DAWSON {
        // F(x) ~ 1/(2x) sum (2n-1)!! / (2x^2)^n
        let z = 1.0 / (2.0 * x * x);
        asymptotic_sum(|n| (1..=n).map(|k| (2 * k - 1) as f64).product::<f64>(), z) / (2.0 * x)
    } else {
        integrate(|u| ((u - x) * (u + x)).exp(), 0.0, x, 0.5 / (1.0 + x))
    }
}

// ---------------------------------------------------------------------------------------
// g, h and their antiderivatives

/// `erfcx(y) = e^{y^2} erfc(y)` for y >= 0.
fn erfcx(y: f64) -> f64 {
    if y < 3.0 {
        (y * y).exp() * statrs::function::erf::erfc(y)
    } else {
        // Continued fraction erfc(y) = e^{-y^2}/sqrt(pi) / (y + (1/2)/(y + 1/(y + (3/2)/(y + ...)))),
        // evaluated backwards.
        let mut f = y;
        for k in (1..=200).rev() {
            f = y + (k as f64 / 2.0) / f;
        }
        1.0 / (PI.sqrt() * f)
    }
}

/// `g(x) = e^{x^2} int_{-inf}^x e^{-u^2} du = (sqrt(pi)/2) erfcx(-x)`. For x > 0 it grows like
/// `sqrt(pi) e^{x^2}` (finite up to x ~ 26).
pub fn g(x: f64) -> f64 {
    if x <= -T0 {
        g_series(-x)
    } else if x <= 0.0 {
        0.5 * PI.sqrt() * erfcx(-x)
    } else {
        PI.sqrt() * (x * x).exp() - g(-x)
    }
}

/// `e^{-s^2} g(x)` for x <= s, s > 0: the scaled g used when the upper bound s is positive.
fn g_scaled(x: f64, s: f64) -> f64 {
    if x <= 0.0 {
        (-s * s).exp() * g(x)
    } else {
        PI.sqrt() * ((x - s) * (x + s)).exp() - (-s * s).exp() * g(-x)
    }
}

/// `h(y)` for y <= 0, as `int_0^inf e^{2yv - v^2} g(y - v)^2 dv` (bounded integrand).
pub fn h_neg(y: f64) -> f64 {
    if y <= -T0 {
        return h_series(-y);
    }
    let ay = -y;
    // Truncate where e^{-(v^2 + 2|y| v)} < e^{-40}.
    let vmax = -ay + (ay * ay + 40.0).sqrt();
    integrate(
        |v| {
            let gv = g(y - v);
            (2.0 * y * v - v * v).exp() * gv * gv
        },
        0.0,
        vmax,
        4.0 / (1.0 + ay),
    )
}

struct Constants {
    /// `CG = Ga(-T0) + pg(T0)` so that `Ga(-t) = CG - pg(t)` for t >= T0, with
    /// `pg(t) = a_0 ln t - sum_{n>=1} a_n t^{-2n}/(2n)`.
    cg: f64,
    /// `Ha(0) = int_{-inf}^0 h`.
    ha0: f64,
    /// `h(0) = int_{-inf}^0 e^{-u^2} g(u)^2 du`.
    h0: f64,
}

fn constants() -> &'static Constants {
    static C: OnceLock<Constants> = OnceLock::new();
    C.get_or_init(|| {
        let ga_t0 = -integrate(g, -T0, 0.0, 0.5);
        let cg = ga_t0 + pg(T0);
        Constants {
            cg,
            ha0: ha_series(T0) + integrate(h_neg, -T0, 0.0, 1.0),
            h0: h_neg(0.0),
        }
    })
}

fn pg(t: f64) -> f64 {
    let (a, _) = series_coefficients();
    let z = 1.0 / (t * t);
    a[0] * t.ln() - asymptotic_sum(|n| a[n + 1] / (2.0 * (n + 1) as f64), z) * z
}

/// `Ga(x) = int_0^x g` for x <= 0.
pub fn ga_neg(x: f64) -> f64 {
    if x <= -T0 {
        constants().cg - pg(-x)
    } else {
        -integrate(g, x, 0.0, 0.5)
    }
}

/// `Ha(x) = int_{-inf}^x h` for x <= 0.
pub fn ha_neg(x: f64) -> f64 {
    if x <= -T0 {
        ha_series(-x)
    } else {
        ha_series(T0) + integrate(h_neg, -T0, x, 1.0)
    }
}

/// `P(x) = e^{-x^2} Ga(x) = sqrt(pi) F(x) + e^{-x^2} Ga(-x)` for x >= 0.
pub fn p_pos(x: f64) -> f64 {
    let c = if x > X_DAWSON {
        0.0
    } else {
        (-x * x).exp() * ga_neg(-x)
    };
    PI.sqrt() * dawson(x) + c
}

/// `Q(x) = e^{-2x^2} Ha(x)` for x >= 0:
/// `e^{-2x^2} Ha(0) + int_0^x e^{y^2 - 2x^2} K(y) dy` with
/// `K(y) = h(0) + int_0^y e^{-u^2} g(u)^2 du` (so that h(y) = e^{y^2} K(y)).
pub fn q_pos(x: f64) -> f64 {
    if x > X_DAWSON {
        let f = dawson(x);
        return 0.5 * PI * f * f;
    }
    let c = constants();
    let k_integrand = |u: f64| {
        // e^{-u^2} g(u)^2 with g(u) = sqrt(pi) e^{u^2} - g(-u), kept in range
        let v = PI.sqrt() * (0.5 * u * u).exp() - (-0.5 * u * u).exp() * g(-u);
        v * v
    };
    let (xs, ws) = gauss_legendre();
    let width = 0.5 / (1.0 + x);
    let panels = (x / width).ceil().max(1.0) as usize;
    let hw = 0.5 * x / panels as f64;
    let mut k_start = c.h0;
    let mut sum = 0.0;
    for p in 0..panels {
        let lo = 2.0 * p as f64 * hw;
        let mid = lo + hw;
        for k in 0..GL_N {
            let y = mid + hw * xs[k];
            let ky = k_start + integrate(k_integrand, lo, y, 2.0 * hw);
            sum += ws[k] * hw * ((y * y - 2.0 * x * x).exp() * ky);
        }
        k_start += integrate(k_integrand, lo, lo + 2.0 * hw, 2.0 * hw);
    }
    (-2.0 * x * x).exp() * c.ha0 + sum
}

// ---------------------------------------------------------------------------------------
// The moment activation

/// The deterministic limit sigma_bar -> 0: rate `1/(T_ref + ln(mu_bar/(mu_bar - V_th L))/L)`
/// above rheobase (V_res = 0 form generalised to `(mu_bar - V_res L)/(mu_bar - V_th L)`), std
/// and Fano 0, and chi's limit `sqrt(2 mu theta / (L (2 mu_bar - theta)))` (for V_res = 0;
/// in general from Var_T ~ sigma_bar^2/(2L) (1/(mu_bar - V_th L)^2 - 1/(mu_bar - V_res L)^2)).
/// Below rheobase no spikes: rate, std and chi 0, Fano 1 (the limit of the escape regime);
/// at rheobase exactly, Fano 0 (the limit along mu_bar = V_th L).
pub fn deterministic(p: &MomentParams, mu_bar: f64) -> Moments {
    let th = p.v_th * p.l;
    let rs = p.v_res * p.l;
    if mu_bar > th {
        let t = ((mu_bar - rs) / (mu_bar - th)).ln() / p.l;
        let rate = 1.0 / (p.t_ref + t);
        let dth = mu_bar - th;
        let drs = mu_bar - rs;
        let var_coef = (1.0 / (dth * dth) - 1.0 / (drs * drs)) / (2.0 * p.l);
        let dmu = rate * rate * (th - rs) / (p.l * dth * drs);
        let chi = dmu / (rate * rate * rate * var_coef).sqrt();
        Moments {
            rate,
            std: 0.0,
            fano: 0.0,
            chi,
        }
    } else {
        Moments {
            rate: 0.0,
            std: 0.0,
            fano: if mu_bar < th { 1.0 } else { 0.0 },
            chi: 0.0,
        }
    }
}

/// Mean rate, output std, Fano factor and chi of the LIF neuron with input mean `mu_bar`
/// (mV/ms) and input std `sigma_bar` (mV/sqrt(ms)), accurate to about 1e-12 relative
/// wherever the rate exceeds 1e-300 /ms; never NaN or infinite for finite inputs with
/// `sigma_bar >= 0`.
pub fn moments(p: &MomentParams, mu_bar: f64, sigma_bar: f64) -> Moments {
    if sigma_bar <= 0.0 {
        return deterministic(p, mu_bar);
    }
    let sl = p.l.sqrt() * sigma_bar;
    let ub = (p.v_th * p.l - mu_bar) / sl;
    let lb = (p.v_res * p.l - mu_bar) / sl;
    if !ub.is_finite() || !lb.is_finite() {
        return deterministic(p, mu_bar);
    }
    if ub > 1e100 {
        // Far subthreshold: rate 0 and Fano 1 to f64 precision, where (mu/s)^2 would overflow.
        return Moments {
            rate: 0.0,
            std: 0.0,
            fano: 1.0,
            chi: 0.0,
        };
    }
    // s = e^{-ub^2} for ub > 0; gs = G s, hs = H s^2, gu/gl = g(ub) s, g(lb) s.
    let (s, gs, hs, gu, gl) = if ub <= -T0 {
        let (ta, tb) = (-lb, -ub);
        let gint = g_series_integral(ta, tb);
        let hint = ha_series(tb) - ha_series(ta);
        (1.0, gint, hint, g(ub), g(lb))
    } else if ub <= 0.0 {
        (
            1.0,
            ga_neg(ub) - ga_neg(lb),
            ha_neg(ub) - ha_neg(lb),
            g(ub),
            g(lb),
        )
    } else {
        let s = (-ub * ub).exp();
        let (gs, hs) = if lb <= 0.0 {
            (p_pos(ub) - s * ga_neg(lb), q_pos(ub) - s * s * ha_neg(lb))
        } else {
            let e = ((lb - ub) * (lb + ub)).exp();
            (p_pos(ub) - p_pos(lb) * e, q_pos(ub) - q_pos(lb) * e * e)
        };
        (s, gs, hs, g_scaled(ub, ub), g_scaled(lb, ub))
    };
    finish(p, mu_bar, ub, s, gs, hs, gu, gl)
}

/// The outputs from the scaled integrals (shared formula with the f32 kernel).
#[allow(clippy::too_many_arguments)]
fn finish(
    p: &MomentParams,
    mu_bar: f64,
    ub: f64,
    s: f64,
    gs: f64,
    hs: f64,
    gu: f64,
    gl: f64,
) -> Moments {
    let mt = 1.0 / (p.t_ref * s + 2.0 / p.l * gs); // mu / s
    let rate = mt * s;
    let fano = 8.0 / (p.l * p.l) * hs * mt * mt;
    let std = (fano * rate).sqrt();
    let fm = fano * mt;
    let chi = if fm > 0.0 {
        let root_s = if ub > 0.0 {
            (-0.5 * ub * ub).exp()
        } else {
            1.0
        };
        2.0 / p.l.powf(1.5) * mt * mt * root_s * (gu - gl) / fm.sqrt()
    } else {
        deterministic(p, mu_bar).chi
    };
    Moments {
        rate,
        std,
        fano,
        chi,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_polynomials_and_exp() {
        let v = integrate(|x| x.powi(30), -1.0, 1.0, 2.0);
        assert!((v - 2.0 / 31.0).abs() < 1e-15, "{v}");
        let v = integrate(f64::exp, 0.0, 3.0, 0.5);
        assert!((v - (3f64.exp() - 1.0)).abs() < 1e-13);
    }

    #[test]
    fn g_and_h_match_known_values() {
        // g(0) = sqrt(pi)/2; g(-1) = (sqrt(pi)/2) erfcx(1) = 0.37893607807065605 (mpmath; statrs erfc is good to ~5e-11)
        assert!((g(0.0) - 0.886_226_925_452_758).abs() < 1e-15);
        assert!(
            (g(-1.0) / 0.378_936_078_070_656_05 - 1.0).abs() < 1e-10,
            "{}",
            g(-1.0)
        );
        // Series and erfcx agree at the switch.
        let t = T0 + 1e-9;
        assert!((g_series(t) / (0.5 * PI.sqrt() * erfcx(t)) - 1.0).abs() < 1e-13);
        // h from its integral agrees with the series at the switch.
        let (a, b) = (h_series(T0), {
            let y = -T0;
            let vmax = -T0 + (T0 * T0 + 40.0).sqrt();
            integrate(
                |v| {
                    let gv = g(y - v);
                    (2.0 * y * v - v * v).exp() * gv * gv
                },
                0.0,
                vmax,
                0.5 / (1.0 + T0),
            )
        });
        assert!((a / b - 1.0).abs() < 1e-12, "{a} {b}");
        // Ga: series form and quadrature agree near the switch.
        let x = -T0 - 0.5;
        let q = -integrate(g, x, 0.0, 0.5);
        assert!((ga_neg(x) / q - 1.0).abs() < 1e-13, "{} {q}", ga_neg(x));
    }

    #[test]
    fn deterministic_limit_is_continuous() {
        let p = MomentParams::default();
        let d = deterministic(&p, 2.0);
        let m = moments(&p, 2.0, 1e-4);
        assert!((m.rate / d.rate - 1.0).abs() < 1e-6, "{m:?} {d:?}");
        assert!((m.chi / d.chi - 1.0).abs() < 1e-4, "{m:?} {d:?}");
    }
}
