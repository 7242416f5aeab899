// moment_activation: the LIF neuron's moment activation (docs/models.md, section 3) for many
// input points (mu_bar, sigma_bar): mean rate, output std, Fano factor and chi, in f32.
// CPU twin: models::moments::kernel::moment_activation (mirrors this file line by line).
//
// g, Ga = int_0^x g and Ha = int_{-inf}^x h come from piecewise polynomials on [-6, 0] and
// from series in 1/x^2 below -6; for x > 0 the scaled antiderivatives P = e^{-x^2} Ga and
// Q = e^{-2x^2} Ha come from polynomials on [0, 6] and Dawson's series above. The table
// `coef` is built on the host in f64 (kernel.rs); scale factors below e^{-40} are 0, so no
// intermediate is subnormal (devices may flush those).

// #import shared/math.wgsl
// #import shared/grid.wgsl

const PIECES: i32 = 6;
const NCOEF: u32 = 16u;
const NSER: u32 = 12u;
const OFF_G: u32 = 0u;
const OFF_GA: u32 = 96u;
const OFF_HA: u32 = 192u;
const OFF_P: u32 = 288u;
const OFF_Q: u32 = 384u;
const OFF_SA: u32 = 480u;
const OFF_SG: u32 = 492u;
const OFF_SH: u32 = 504u;
const OFF_SD: u32 = 516u;
const OFF_CG: u32 = 528u;

const SQRT_PI: f32 = 1.7724539;
const HALF_PI: f32 = 1.5707964;
const CUT: f32 = 40.0;
const T_BIG: f32 = 1.0e15;
const UB_MAX: f32 = 1.0e4;

// Keep in sync with models::moments::kernel::MomentKernelParams.
struct MomentParams {
    n: u32,
    zero: u32,
    theta: f32,
    theta_res: f32,
    sqrt_l: f32,
    t_ref: f32,
    two_over_l: f32,
    eight_over_l2: f32,
    chi_coef: f32,
    inv_l: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: MomentParams;
@group(0) @binding(1) var<storage, read> coef: array<f32>;
@group(0) @binding(2) var<storage, read> mu_bar: array<f32>;
@group(0) @binding(3) var<storage, read> sigma_bar: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// Reassociation barrier (ARCHITECTURE.md, rule 4): params.zero is 0 at run time.
fn keep(x: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) ^ params.zero);
}

fn poly(off: u32, piece: u32, u: f32) -> f32 {
    let base = off + piece * NCOEF;
    var p = coef[base + NCOEF - 1u];
    for (var k = i32(NCOEF) - 2; k >= 0; k = k - 1) {
        p = p * u + coef[base + u32(k)];
    }
    return p;
}

fn series(off: u32, z: f32) -> f32 {
    var p = coef[off + NSER - 1u];
    for (var k = i32(NSER) - 2; k >= 0; k = k - 1) {
        p = p * z + coef[off + u32(k)];
    }
    return p;
}

fn inv_sq(t: f32) -> f32 {
    if (t > T_BIG) {
        return 0.0;
    }
    return 1.0 / (t * t);
}

fn piece_neg(x: f32) -> vec2<f32> {
    let i = clamp(i32(floor(x + 6.0)), 0, PIECES - 1);
    let centre = f32(i) - 5.5;
    return vec2<f32>(f32(i), x - centre);
}

fn piece_pos(x: f32) -> vec2<f32> {
    let i = clamp(i32(floor(x)), 0, PIECES - 1);
    let centre = f32(i) + 0.5;
    return vec2<f32>(f32(i), x - centre);
}

fn g_ser(t: f32) -> f32 {
    return series(OFF_SA, inv_sq(t)) / t;
}

fn pg_tail(t: f32) -> f32 {
    let z = inv_sq(t);
    return z * series(OFF_SG, z);
}

fn ha_ser(t: f32) -> f32 {
    let z = inv_sq(t);
    return z * series(OFF_SH, z);
}

fn g_neg(x: f32) -> f32 {
    if (x <= -6.0) {
        return g_ser(-x);
    }
    let q = piece_neg(x);
    return poly(OFF_G, u32(q.x), q.y);
}

fn ga_neg(x: f32) -> f32 {
    if (x <= -6.0) {
        let t = -x;
        return coef[OFF_CG] - (0.5 * npm_log(t) - pg_tail(t));
    }
    let q = piece_neg(x);
    return poly(OFF_GA, u32(q.x), q.y);
}

fn ha_neg(x: f32) -> f32 {
    if (x <= -6.0) {
        return ha_ser(-x);
    }
    let q = piece_neg(x);
    return poly(OFF_HA, u32(q.x), q.y);
}

fn dawson_asym(x: f32) -> f32 {
    return series(OFF_SD, inv_sq(x)) / (2.0 * x);
}

fn p_pos(x: f32) -> f32 {
    if (x >= 6.0) {
        return SQRT_PI * dawson_asym(x);
    }
    let q = piece_pos(x);
    return poly(OFF_P, u32(q.x), q.y);
}

fn q_pos(x: f32) -> f32 {
    if (x >= 6.0) {
        let f = dawson_asym(x);
        return HALF_PI * f * f;
    }
    let q = piece_pos(x);
    return poly(OFF_Q, u32(q.x), q.y);
}

fn scale(a: f32) -> f32 {
    if (a > CUT) {
        return 0.0;
    }
    return npm_exp(-a);
}

fn chi_deterministic(mu: f32, rate: f32) -> f32 {
    let dth = mu - params.theta;
    let drs = mu - params.theta_res;
    let var_coef = (1.0 / (dth * dth) - 1.0 / (drs * drs)) * (0.5 * params.inv_l);
    let dmu = rate * rate * (params.theta - params.theta_res) * params.inv_l / (dth * drs);
    return dmu / sqrt(rate * rate * rate * var_coef);
}

fn moment_point(mu: f32, sigma: f32) -> vec4<f32> {
    if (!(sigma > 0.0)) {
        if (mu > params.theta) {
            let t = npm_log((mu - params.theta_res) / (mu - params.theta)) * params.inv_l;
            let rate = 1.0 / (params.t_ref + t);
            return vec4<f32>(rate, 0.0, 0.0, chi_deterministic(mu, rate));
        }
        let fano = select(0.0, 1.0, mu < params.theta);
        return vec4<f32>(0.0, 0.0, fano, 0.0);
    }
    let sl = params.sqrt_l * sigma;
    let ub = (params.theta - mu) / sl;
    let lb = (params.theta_res - mu) / sl;
    if (ub > UB_MAX) {
        return vec4<f32>(0.0, 0.0, 1.0, 0.0);
    }
    var s = 1.0;
    var root_s = 1.0;
    var gs: f32;
    var hs: f32;
    var gu: f32;
    var gl: f32;
    if (ub <= -6.0) {
        let ta = -lb;
        let tb = -ub;
        gs = 0.5 * npm_log(ta / tb) - (pg_tail(ta) - pg_tail(tb));
        hs = ha_ser(tb) - ha_ser(ta);
        gu = g_ser(tb);
        gl = g_ser(ta);
    } else if (ub <= 0.0) {
        gs = ga_neg(ub) - ga_neg(lb);
        hs = ha_neg(ub) - ha_neg(lb);
        gu = g_neg(ub);
        gl = g_neg(lb);
    } else {
        let ub2 = ub * ub;
        s = scale(ub2);
        root_s = scale(0.5 * ub2);
        let s2 = scale(2.0 * ub2);
        gu = SQRT_PI - s * g_neg(-ub);
        if (lb <= 0.0) {
            gs = p_pos(ub) - s * ga_neg(lb);
            hs = q_pos(ub) - s2 * ha_neg(lb);
            gl = s * g_neg(lb);
        } else {
            let d = (ub - lb) * (ub + lb);
            let e = scale(d);
            let e2 = scale(2.0 * d);
            gs = p_pos(ub) - p_pos(lb) * e;
            hs = q_pos(ub) - q_pos(lb) * e2;
            gl = SQRT_PI * e - s * g_neg(-lb);
        }
    }
    let mt = 1.0 / (params.t_ref * s + params.two_over_l * gs);
    let rate = mt * s;
    let fano = params.eight_over_l2 * hs * (mt * mt);
    let sd = sqrt(fano * rate);
    let fm = fano * mt;
    var chi = 0.0;
    if (fm > 0.0) {
        chi = params.chi_coef * (mt * mt) * root_s * (gu - gl) / sqrt(fm);
    } else if (mu > params.theta) {
        chi = chi_deterministic(mu, rate);
    }
    return vec4<f32>(rate, sd, fano, chi);
}

@compute @workgroup_size(64)
fn moment_activation(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 64u);
    if (i >= params.n) {
        return;
    }
    let r = moment_point(mu_bar[i], sigma_bar[i]);
    out[4u * i] = r.x;
    out[4u * i + 1u] = r.y;
    out[4u * i + 2u] = r.z;
    out[4u * i + 3u] = r.w;
}
