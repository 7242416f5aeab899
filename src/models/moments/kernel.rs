//! The `moment_activation` kernel: descriptor, parameter struct, fit table and CPU twin.
//!
//! One thread per input point (mu_bar, sigma_bar) computes rate, std, Fano factor and chi in
//! f32 with the decomposition of `reference.rs`, replacing its quadratures by piecewise
//! polynomial fits and its asymptotic series by fixed-length ones:
//!
//! - on [-6, 0] (six pieces of width 1): g, `Ga = int_0^x g`, `Ha = int_{-inf}^x h`;
//! - on [0, 6] (six pieces): the scaled antiderivatives `P = e^{-x^2} Ga` and
//!   `Q = e^{-2x^2} Ha`;
//! - below -6: the series of g, Ga, Ha in `1/x^2`; above 6: `P = sqrt(pi) F`,
//!   `Q = pi F^2 / 2` with Dawson's F from its series.
//!
//! The table ([`coefficient_table`]) is built once on the host in f64 from the reference
//! functions (Chebyshev interpolation at 16 nodes per piece, converted to powers of
//! `x - centre` and rounded to f32) and uploaded, so both paths use the same numbers. The
//! kernel uses only add, multiply, divide, sqrt, floor and `npm_exp`/`npm_log`, and keeps
//! every intermediate a normal f32 (scale factors below e^{-40} are set to 0), so the CPU
//! twin and lavapipe agree bit for bit.

use std::sync::OnceLock;

use crate::kernels::{Binding, BindingKind, KernelDesc, Layout};
use crate::math;

use super::params::MomentParams;
use super::reference;

/// Pieces per side of 0 and coefficients per piece (degree 15).
pub const PIECES: usize = 6;
/// Coefficients per polynomial piece.
pub const NCOEF: usize = 16;
/// Terms of each asymptotic series (smallest term at |x| = 6 about 1e-11).
pub const NSER: usize = 12;
/// Offsets of the tables in the coefficient array (keep in sync with the shader's `OFF_*`).
pub const OFF_G: usize = 0;
/// `Ga` on [-6, 0].
pub const OFF_GA: usize = OFF_G + PIECES * NCOEF;
/// `Ha` on [-6, 0].
pub const OFF_HA: usize = OFF_GA + PIECES * NCOEF;
/// `P` on [0, 6].
pub const OFF_P: usize = OFF_HA + PIECES * NCOEF;
/// `Q` on [0, 6].
pub const OFF_Q: usize = OFF_P + PIECES * NCOEF;
/// g series `a_n` (g = sum a_n z^n / t, z = 1/t^2).
pub const OFF_SA: usize = OFF_Q + PIECES * NCOEF;
/// Ga series `a_{n+1}/(2n+2)` (pg(t) = ln(t)/2 - z sum ...).
pub const OFF_SG: usize = OFF_SA + NSER;
/// Ha series `b_n/(2n+2)` (Ha = z sum ...).
pub const OFF_SH: usize = OFF_SG + NSER;
/// Dawson series `(2n-1)!!/2^n` (F = sum ... z^n / (2x)).
pub const OFF_SD: usize = OFF_SH + NSER;
/// The constant `CG` with `Ga(-t) = CG - pg(t)`.
pub const OFF_CG: usize = OFF_SD + NSER;
/// Length of the coefficient array.
pub const TABLE_LEN: usize = OFF_CG + 1;

/// Uniform parameters, computed on the host in f64 and rounded once.
/// Keep in sync with `struct MomentParams` in shaders/moment_activation.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MomentKernelParams {
    /// Number of points.
    pub n: u32,
    /// Always 0: the shader's reassociation barrier `keep(x)` xors it into values.
    pub zero: u32,
    /// `V_th L` (mV/ms).
    pub theta: f32,
    /// `V_res L` (mV/ms).
    pub theta_res: f32,
    /// `sqrt(L)`.
    pub sqrt_l: f32,
    /// `T_ref` (ms).
    pub t_ref: f32,
    /// `2 / L`.
    pub two_over_l: f32,
    /// `8 / L^2`.
    pub eight_over_l2: f32,
    /// `2 / L^{3/2}`.
    pub chi_coef: f32,
    /// `1 / L`.
    pub inv_l: f32,
    /// Padding to 48 bytes.
    pub _pad: [u32; 2],
}

impl MomentKernelParams {
    /// The uniform for `n` points of neuron `p`.
    pub fn new(p: &MomentParams, n: u32) -> Self {
        Self {
            n,
            zero: 0,
            theta: (p.v_th * p.l) as f32,
            theta_res: (p.v_res * p.l) as f32,
            sqrt_l: p.l.sqrt() as f32,
            t_ref: p.t_ref as f32,
            two_over_l: (2.0 / p.l) as f32,
            eight_over_l2: (8.0 / (p.l * p.l)) as f32,
            chi_coef: (2.0 / p.l.powf(1.5)) as f32,
            inv_l: (1.0 / p.l) as f32,
            _pad: [0; 2],
        }
    }
}

/// Descriptor of the `moment_activation` kernel.
pub const DESC: KernelDesc = KernelDesc {
    name: "moment_activation",
    shader: "moment_activation.wgsl",
    entry: "moment_activation",
    workgroup_size: [64, 1, 1],
    overrides: &[],
    bindings: &[
        Binding::uniform::<MomentKernelParams>("params"),
        Binding::new("coef", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("mu_bar", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("sigma_bar", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("out", BindingKind::StorageReadWrite, Layout::Array(4)),
    ],
};

// ---------------------------------------------------------------------------------------
// The fit table (host, f64)

/// Chebyshev interpolant of `f` on [c - 1/2, c + 1/2] at `NCOEF` nodes, as coefficients of
/// powers of `u = x - c`.
fn fit_piece(f: &dyn Fn(f64) -> f64, c: f64) -> [f64; NCOEF] {
    let n = NCOEF;
    let nodes: Vec<f64> = (0..n)
        .map(|k| (std::f64::consts::PI * (k as f64 + 0.5) / n as f64).cos())
        .collect();
    let vals: Vec<f64> = nodes.iter().map(|&v| f(c + 0.5 * v)).collect();
    // Chebyshev coefficients in v = 2u.
    let mut cheb = vec![0.0; n];
    for (j, cj) in cheb.iter_mut().enumerate() {
        let s: f64 = (0..n)
            .map(|k| {
                vals[k] * (std::f64::consts::PI * j as f64 * (k as f64 + 0.5) / n as f64).cos()
            })
            .sum();
        *cj = s * 2.0 / n as f64 * if j == 0 { 0.5 } else { 1.0 };
    }
    // Monomial coefficients of T_j in v (T_{j+1} = 2 v T_j - T_{j-1}).
    let mut t_prev = vec![0.0; n];
    let mut t_cur = vec![0.0; n];
    t_prev[0] = 1.0;
    t_cur[1] = 1.0;
    let mut mono = vec![0.0; n];
    for (i, m) in mono.iter_mut().enumerate() {
        *m += cheb[0] * t_prev[i] + cheb[1] * t_cur[i];
    }
    for cj in cheb.iter().skip(2) {
        let mut next = vec![0.0; n];
        for i in 0..n {
            next[i] = -t_prev[i] + if i > 0 { 2.0 * t_cur[i - 1] } else { 0.0 };
        }
        for i in 0..n {
            mono[i] += cj * next[i];
        }
        t_prev = t_cur;
        t_cur = next;
    }
    let mut out = [0.0; NCOEF];
    for (i, o) in out.iter_mut().enumerate() {
        *o = mono[i] * 2f64.powi(i as i32);
    }
    out
}

/// The f64 table before rounding (also used by the tests to measure fit errors).
pub fn coefficient_table_f64() -> Vec<f64> {
    let mut t = vec![0.0; TABLE_LEN];
    let put = |t: &mut Vec<f64>, off: usize, f: &dyn Fn(f64) -> f64, neg: bool| {
        for piece in 0..PIECES {
            let c = if neg {
                piece as f64 - 5.5
            } else {
                piece as f64 + 0.5
            };
            let coefs = fit_piece(f, c);
            t[off + piece * NCOEF..off + (piece + 1) * NCOEF].copy_from_slice(&coefs);
        }
    };
    put(&mut t, OFF_G, &reference::g, true);
    put(&mut t, OFF_GA, &reference::ga_neg, true);
    put(&mut t, OFF_HA, &reference::ha_neg, true);
    put(&mut t, OFF_P, &reference::p_pos, false);
    put(&mut t, OFF_Q, &reference::q_pos, false);
    let (a, b) = reference::series_coefficients();
    let mut dfact = 1.0;
    for n in 0..NSER {
        t[OFF_SA + n] = a[n];
        t[OFF_SG + n] = a[n + 1] / (2.0 * (n + 1) as f64);
        t[OFF_SH + n] = b[n] / (2.0 * n as f64 + 2.0);
        if n > 0 {
            dfact *= (2 * n - 1) as f64 / 2.0;
        }
        t[OFF_SD + n] = dfact;
    }
    t[OFF_CG] = reference::ga_neg(-6.0) + 0.5 * 6f64.ln() - {
        // pg(6) = ln(6)/2 - z sum a_{n+1}/(2n+2) z^n with the f32 kernel's truncation
        let z = 1.0 / 36.0;
        let mut s = 0.0;
        for n in (0..NSER).rev() {
            s = s * z + a[n + 1] / (2.0 * (n + 1) as f64);
        }
        z * s
    };
    t
}

/// The coefficient table uploaded to the kernel (built once per process, ~0.1 s).
pub fn coefficient_table() -> &'static [f32] {
    static T: OnceLock<Vec<f32>> = OnceLock::new();
    T.get_or_init(|| coefficient_table_f64().iter().map(|&v| v as f32).collect())
}

// ---------------------------------------------------------------------------------------
// The CPU twin (mirrors shaders/moment_activation.wgsl line by line)

const SQRT_PI: f32 = 1.772_453_9;
const HALF_PI: f32 = std::f32::consts::FRAC_PI_2;
/// Scale factors whose exponent is below -CUT are set to 0 (no subnormals anywhere).
const CUT: f32 = 40.0;
/// Above this upper bound the outputs are their far-subthreshold limits (rate, std and chi 0,
/// Fano 1 to f32 precision); computing them would overflow `(mu/s)^2`.
const UB_MAX: f32 = 1.0e4;
/// Above this |x| the `1/x^2` of the series is set to 0.
const T_BIG: f32 = 1.0e15;

fn poly(c: &[f32], off: usize, piece: usize, u: f32) -> f32 {
    let base = off + piece * NCOEF;
    let mut p = c[base + NCOEF - 1];
    for k in (0..NCOEF - 1).rev() {
        p = p * u + c[base + k];
    }
    p
}

fn series(c: &[f32], off: usize, z: f32) -> f32 {
    let mut p = c[off + NSER - 1];
    for k in (0..NSER - 1).rev() {
        p = p * z + c[off + k];
    }
    p
}

fn inv_sq(t: f32) -> f32 {
    if t > T_BIG {
        0.0
    } else {
        1.0 / (t * t)
    }
}

/// Piece index and local variable on [-6, 0] (x >= -6).
fn piece_neg(x: f32) -> (usize, f32) {
    let i = ((x + 6.0).floor() as i32).clamp(0, PIECES as i32 - 1);
    let centre = i as f32 - 5.5;
    (i as usize, x - centre)
}

/// Piece index and local variable on [0, 6] (x < 6).
fn piece_pos(x: f32) -> (usize, f32) {
    let i = (x.floor() as i32).clamp(0, PIECES as i32 - 1);
    let centre = i as f32 + 0.5;
    (i as usize, x - centre)
}

fn g_ser(c: &[f32], t: f32) -> f32 {
    series(c, OFF_SA, inv_sq(t)) / t
}

/// `pg(t) = ln(t)/2 - z S(z)`'s second part `z S(z)`.
fn pg_tail(c: &[f32], t: f32) -> f32 {
    let z = inv_sq(t);
    z * series(c, OFF_SG, z)
}

fn ha_ser(c: &[f32], t: f32) -> f32 {
    let z = inv_sq(t);
    z * series(c, OFF_SH, z)
}

fn g_neg(c: &[f32], x: f32) -> f32 {
    if x <= -6.0 {
        return g_ser(c, -x);
    }
    let (i, u) = piece_neg(x);
    poly(c, OFF_G, i, u)
}

fn ga_neg(c: &[f32], x: f32) -> f32 {
    if x <= -6.0 {
        let t = -x;
        return c[OFF_CG] - (0.5 * math::ln(t) - pg_tail(c, t));
    }
    let (i, u) = piece_neg(x);
    poly(c, OFF_GA, i, u)
}

fn ha_neg(c: &[f32], x: f32) -> f32 {
    if x <= -6.0 {
        return ha_ser(c, -x);
    }
    let (i, u) = piece_neg(x);
    poly(c, OFF_HA, i, u)
}

fn dawson_asym(c: &[f32], x: f32) -> f32 {
    series(c, OFF_SD, inv_sq(x)) / (2.0 * x)
}

fn p_pos(c: &[f32], x: f32) -> f32 {
    if x >= 6.0 {
        return SQRT_PI * dawson_asym(c, x);
    }
    let (i, u) = piece_pos(x);
    poly(c, OFF_P, i, u)
}

fn q_pos(c: &[f32], x: f32) -> f32 {
    if x >= 6.0 {
        let f = dawson_asym(c, x);
        return HALF_PI * f * f;
    }
    let (i, u) = piece_pos(x);
    poly(c, OFF_Q, i, u)
}

/// `e^{-a}` for a >= 0, or 0 when a > CUT.
fn scale(a: f32) -> f32 {
    if a > CUT {
        0.0
    } else {
        math::exp(-a)
    }
}

/// chi of the noiseless neuron above rheobase (the sigma_bar -> 0 limit).
fn chi_deterministic(p: &MomentKernelParams, mu: f32, rate: f32) -> f32 {
    let dth = mu - p.theta;
    let drs = mu - p.theta_res;
    let var_coef = (1.0 / (dth * dth) - 1.0 / (drs * drs)) * (0.5 * p.inv_l);
    let dmu = rate * rate * (p.theta - p.theta_res) * p.inv_l / (dth * drs);
    dmu / (rate * rate * rate * var_coef).sqrt()
}

/// One point: `[rate, std, fano, chi]`.
#[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN takes the sigma_bar = 0 branch, as in WGSL
#[inline(always)]
pub fn moment_point(p: &MomentKernelParams, c: &[f32], mu: f32, sigma: f32) -> [f32; 4] {
    if !(sigma > 0.0) {
        if mu > p.theta {
            let t = math::ln((mu - p.theta_res) / (mu - p.theta)) * p.inv_l;
            let rate = 1.0 / (p.t_ref + t);
            return [rate, 0.0, 0.0, chi_deterministic(p, mu, rate)];
        }
        let fano = if mu < p.theta { 1.0 } else { 0.0 };
        return [0.0, 0.0, fano, 0.0];
    }
    let sl = p.sqrt_l * sigma;
    let ub = (p.theta - mu) / sl;
    let lb = (p.theta_res - mu) / sl;
    if ub > UB_MAX {
        return [0.0, 0.0, 1.0, 0.0];
    }
    let mut s = 1.0f32;
    let mut root_s = 1.0f32;
    let gs: f32;
    let hs: f32;
    let gu: f32;
    let gl: f32;
    if ub <= -6.0 {
        let ta = -lb;
        let tb = -ub;
        gs = 0.5 * math::ln(ta / tb) - (pg_tail(c, ta) - pg_tail(c, tb));
        hs = ha_ser(c, tb) - ha_ser(c, ta);
        gu = g_ser(c, tb);
        gl = g_ser(c, ta);
    } else if ub <= 0.0 {
        gs = ga_neg(c, ub) - ga_neg(c, lb);
        hs = ha_neg(c, ub) - ha_neg(c, lb);
        gu = g_neg(c, ub);
        gl = g_neg(c, lb);
    } else {
        let ub2 = ub * ub;
        s = scale(ub2);
        root_s = scale(0.5 * ub2);
        let s2 = scale(2.0 * ub2);
        gu = SQRT_PI - s * g_neg(c, -ub);
        if lb <= 0.0 {
            gs = p_pos(c, ub) - s * ga_neg(c, lb);
            hs = q_pos(c, ub) - s2 * ha_neg(c, lb);
            gl = s * g_neg(c, lb);
        } else {
            let d = (ub - lb) * (ub + lb);
            let e = scale(d);
            let e2 = scale(2.0 * d);
            gs = p_pos(c, ub) - p_pos(c, lb) * e;
            hs = q_pos(c, ub) - q_pos(c, lb) * e2;
            gl = SQRT_PI * e - s * g_neg(c, -lb);
        }
    }
    let mt = 1.0 / (p.t_ref * s + p.two_over_l * gs);
    let rate = mt * s;
    let fano = p.eight_over_l2 * hs * (mt * mt);
    let sd = (fano * rate).sqrt();
    let fm = fano * mt;
    let chi = if fm > 0.0 {
        p.chi_coef * (mt * mt) * root_s * (gu - gl) / fm.sqrt()
    } else if mu > p.theta {
        chi_deterministic(p, mu, rate)
    } else {
        0.0
    };
    [rate, sd, fano, chi]
}

/// CPU twin of the `moment_activation` entry point: `out[4 i + k]` is output k (rate, std,
/// Fano, chi) of point i. Compiled for the CPU's SIMD level ([`crate::simd`]): each point
/// takes its own branch through the fit's pieces, so the points stay scalar, but `floor`,
/// `exp` and `log` are then single instructions or branch-free sequences.
pub fn moment_activation(
    p: &MomentKernelParams,
    coef: &[f32],
    mu_bar: &[f32],
    sigma_bar: &[f32],
    out: &mut [f32],
) {
    crate::simd::dispatch(Points {
        p,
        coef,
        mu_bar,
        sigma_bar,
        out,
    });
}

struct Points<'a> {
    p: &'a MomentKernelParams,
    coef: &'a [f32],
    mu_bar: &'a [f32],
    sigma_bar: &'a [f32],
    out: &'a mut [f32],
}

impl crate::simd::Lanes for Points<'_> {
    type Output = ();

    #[inline(always)]
    fn run<const W: usize>(self) {
        points(self.p, self.coef, self.mu_bar, self.sigma_bar, self.out);
    }
}

#[inline(always)]
fn points(
    p: &MomentKernelParams,
    coef: &[f32],
    mu_bar: &[f32],
    sigma_bar: &[f32],
    out: &mut [f32],
) {
    for (i, o) in out
        .chunks_exact_mut(4)
        .enumerate()
        .take(p.n as usize)
        .take(mu_bar.len().min(sigma_bar.len()))
    {
        o.copy_from_slice(&moment_point(p, coef, mu_bar[i], sigma_bar[i]));
    }
}
