// Counter-based random numbers shared by every kernel: Philox4x32-10 and the samplers built on it.
//
// CPU twin: src/rng/ (philox.rs, stream.rs, samplers.rs). Keep the two in step line by line:
// every draw is a pure function of (seed, element, step, purpose, draw index), so the GPU and
// the CPU path consume identical u32 streams and differ only by the rounding of transcendental
// functions (log, exp, sqrt, cos, sin), whose accuracy WGSL leaves to the driver.
//
// Transcendentals come from shared/math.wgsl (npm_*), not the builtins, so both paths round
// alike.
//
// Counter layout of one Philox block: (element, step, purpose, block); key = (seed_lo, seed_hi).
// Draw index d of a stream reads lane d % 4 of block d / 4.

// #import shared/math.wgsl

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// 2^-24: the spacing of the 24-bit uniforms below.
const RNG_INV_2_24: f32 = 5.9604644775390625e-8;
const RNG_PI: f32 = 3.14159265358979;
const RNG_HALF_LN_2PI: f32 = 0.918938533204673;
// Rejection loops end after this many tries (the expected number is below 1.3); the cap only
// guards the GPU against a runaway loop and is never reached in practice.
const RNG_MAX_TRIES: u32 = 256u;

// Full 32 x 32 -> 64-bit product as (hi, lo), from 16-bit halves: WGSL has no 64-bit integers.
fn mul_hilo(a: u32, b: u32) -> vec2<u32> {
    let a_lo = a & 0xFFFFu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xFFFFu;
    let b_hi = b >> 16u;
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let hh = a_hi * b_hi;
    let mid = (ll >> 16u) + (lh & 0xFFFFu) + (hl & 0xFFFFu);
    let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox_round(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    let p0 = mul_hilo(PHILOX_M0, ctr.x);
    let p1 = mul_hilo(PHILOX_M1, ctr.z);
    return vec4<u32>(p1.x ^ ctr.y ^ key.x, p1.y, p0.x ^ ctr.w ^ key.y, p0.y);
}

// Philox4x32-10 (Salmon et al. 2011): ten rounds, the key bumped by the Weyl constants between them.
fn philox4x32_10(counter: vec4<u32>, key0: vec2<u32>) -> vec4<u32> {
    var ctr = counter;
    var key = key0;
    for (var i = 0u; i < 9u; i = i + 1u) {
        ctr = philox_round(ctr, key);
        key = key + vec2<u32>(PHILOX_W0, PHILOX_W1);
    }
    return philox_round(ctr, key);
}

// One random stream: the draws of (seed, element, step, purpose), in draw-index order.
struct Rng {
    key: vec2<u32>,
    ctr: vec4<u32>,
    buf: vec4<u32>,
    used: u32,
}

fn rng_init(seed: vec2<u32>, element: u32, step: u32, purpose: u32) -> Rng {
    return Rng(seed, vec4<u32>(element, step, purpose, 0u), vec4<u32>(0u), 4u);
}

fn rng_next_u32(r: ptr<function, Rng>) -> u32 {
    if ((*r).used >= 4u) {
        (*r).buf = philox4x32_10((*r).ctr, (*r).key);
        (*r).ctr.w = (*r).ctr.w + 1u;
        (*r).used = 0u;
    }
    let i = (*r).used;
    (*r).used = i + 1u;
    let b = (*r).buf;
    return select(select(b.w, b.z, i == 2u), select(b.y, b.x, i == 0u), i < 2u);
}

// Uniform on (0, 1], 24-bit resolution: never 0, so npm_log() of it is finite.
// (Converted through i32: exact below 2^24, and a single instruction on CPUs without an
// unsigned conversion, such as lavapipe's AVX2.)
fn u32_to_uniform(x: u32) -> f32 {
    return f32(i32((x >> 8u) + 1u)) * RNG_INV_2_24;
}

// Uniform on [0, 1), 24-bit resolution.
fn u32_to_uniform0(x: u32) -> f32 {
    return f32(i32(x >> 8u)) * RNG_INV_2_24;
}

fn rng_uniform(r: ptr<function, Rng>) -> f32 {
    return u32_to_uniform(rng_next_u32(r));
}

fn rng_uniform0(r: ptr<function, Rng>) -> f32 {
    return u32_to_uniform0(rng_next_u32(r));
}

// Box-Muller from two u32: the first (0, 1] for the radius, the second [0, 1) for the angle,
// which stays in [-pi, pi) where GPU cos/sin are specified.
fn box_muller(x0: u32, x1: u32) -> vec2<f32> {
    let u1 = u32_to_uniform(x0);
    let u2 = u32_to_uniform0(x1);
    let radius = sqrt(-2.0 * npm_log(u1));
    let theta = RNG_PI * (2.0 * u2 - 1.0);
    let sc = npm_sincos(theta);
    return vec2<f32>(radius * sc.y, radius * sc.x);
}

// Two independent standard normals from two draws.
fn rng_normal2(r: ptr<function, Rng>) -> vec2<f32> {
    let x0 = rng_next_u32(r);
    let x1 = rng_next_u32(r);
    return box_muller(x0, x1);
}

// npm_log(1 + x), accurate for small |x|: series of 2 atanh(x / (2 + x)) for |x| < 0.5.
fn log1p_f32(x: f32) -> f32 {
    if (abs(x) < 0.5) {
        let s = x / (2.0 + x);
        let s2 = s * s;
        let poly = 1.0 + s2 * (1.0 / 3.0 + s2 * (1.0 / 5.0 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0
            + s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0 + s2 * (1.0 / 15.0 + s2 * (1.0 / 17.0))))))));
        return 2.0 * s * poly;
    }
    return npm_log(1.0 + x);
}

// Stirling-series error npm_log(n!) - (n + 1/2) npm_log(n) + n - npm_log(sqrt(2 pi)) for whole n >= 1
// (Loader 2000): a table up to 15, the asymptotic series above.
var<private> STIRLERR_TABLE: array<f32, 16> = array<f32, 16>(
    0.0, 0.0810614667953273, 0.0413406959554093, 0.0276779256849983,
    0.0207906721037651, 0.0166446911898212, 0.0138761288230707, 0.0118967099458918,
    0.0104112652619721, 0.00925546218271273, 0.00833056343336287, 0.00757367548795184,
    0.00694284010720953, 0.00640899418800421, 0.00595137011275885, 0.00555473355196280,
);

fn stirlerr(n: f32) -> f32 {
    if (n <= 15.0) {
        return STIRLERR_TABLE[u32(n)];
    }
    let nn = n * n;
    return (0.0833333333333333 - (0.00277777777777778 - (0.000793650793650794
        - (0.000595238095238095 - 0.000841750841750842 / nn) / nn) / nn) / nn) / n;
}

// Deviance term x npm_log(x / np) + np - x, with a series where x is close to np so that no
// cancellation of large numbers occurs (Loader 2000).
fn bd0(x: f32, np: f32) -> f32 {
    if (abs(x - np) < 0.1 * (x + np)) {
        var v = (x - np) / (x + np);
        var s = (x - np) * v;
        var ej = 2.0 * x * v;
        v = v * v;
        for (var j = 1u; j < 12u; j = j + 1u) {
            ej = ej * v;
            let s1 = s + ej / f32(2u * j + 1u);
            if (s1 == s) {
                return s1;
            }
            s = s1;
        }
        return s;
    }
    return x * npm_log(x / np) + np - x;
}

// log P(K = k) for K ~ Poisson(lam), k >= 0 whole, in the saddle-point form (no large terms).
fn log_poisson_pmf(k: f32, lam: f32) -> f32 {
    if (k == 0.0) {
        return -lam;
    }
    return -stirlerr(k) - bd0(k, lam) - RNG_HALF_LN_2PI - 0.5 * npm_log(k);
}

// log P(K = k) for K ~ Binomial(n, p), q = 1 - p, in the saddle-point form.
fn log_binomial_pmf(k: f32, n: f32, p: f32, q: f32) -> f32 {
    if (k == 0.0) {
        return n * log1p_f32(-p);
    }
    if (k == n) {
        return n * npm_log(p);
    }
    let lc = stirlerr(n) - stirlerr(k) - stirlerr(n - k) - bd0(k, n * p) - bd0(n - k, n * q);
    return lc - RNG_HALF_LN_2PI - 0.5 * npm_log(k * ((n - k) / n));
}

// Poisson(lam) by sequential inversion (lam < 10): one uniform, stops once the rest of the
// tail is below the uniform's resolution.
fn poisson_inversion(r: ptr<function, Rng>, lam: f32) -> u32 {
    return poisson_inversion_p0(r, lam, npm_exp(-lam));
}

// The same with p0 = npm_exp(-lam) given: a caller drawing many counts of one mean computes
// it once instead of once per draw.
fn poisson_inversion_p0(r: ptr<function, Rng>, lam: f32, p0: f32) -> u32 {
    var u = rng_uniform0(r);
    var p = p0;
    var k = 0u;
    loop {
        if (u < p || k >= 1000u) {
            break;
        }
        u = u - p;
        k = k + 1u;
        p = p * lam / f32(k);
        if (p < u * RNG_INV_2_24) {
            break;
        }
    }
    return k;
}

// Poisson(lam) for lam >= 10: PTRS, transformed rejection with squeeze (Hoermann 1993).
fn poisson_ptrs(r: ptr<function, Rng>, lam: f32) -> u32 {
    let slam = sqrt(lam);
    let b = 0.931 + 2.53 * slam;
    let a = -0.059 + 0.02483 * b;
    let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    let vr = 0.9277 - 3.6224 / (b - 2.0);
    for (var tries = 0u; tries < RNG_MAX_TRIES; tries = tries + 1u) {
        let u = rng_uniform0(r) - 0.5;
        let v = rng_uniform(r);
        let us = 0.5 - abs(u);
        if (us <= 0.0) {
            continue;
        }
        let k = floor((2.0 * a / us + b) * u + lam + 0.43);
        if (us >= 0.07 && v <= vr) {
            return u32(max(k, 0.0));
        }
        if (k < 0.0 || (us < 0.013 && v > us)) {
            continue;
        }
        let lhs = npm_log(v) + npm_log(inv_alpha) - npm_log(a / (us * us) + b);
        if (lhs <= log_poisson_pmf(k, lam)) {
            return u32(k);
        }
    }
    return u32(floor(lam));
}

// Poisson(lam); 0 for lam <= 0. Exact up to f32 rounding for every lam below 2^24.
fn rng_poisson(r: ptr<function, Rng>, lam: f32) -> u32 {
    if (!(lam > 0.0)) {
        return 0u;
    }
    if (lam < 10.0) {
        return poisson_inversion(r, lam);
    }
    return poisson_ptrs(r, lam);
}

// Binomial(n, p) by sequential inversion (BINV, Kachitvichyanukul & Schmeiser 1988) for
// n p < 10 with p <= 1/2.
fn binomial_inversion(r: ptr<function, Rng>, n: u32, p: f32) -> u32 {
    let nf = f32(n);
    let q = 1.0 - p;
    let s = p / q;
    let a = (nf + 1.0) * s;
    var f = npm_exp(nf * log1p_f32(-p));
    var u = rng_uniform0(r);
    var k = 0u;
    loop {
        if (u < f || k >= n) {
            break;
        }
        u = u - f;
        k = k + 1u;
        f = f * (a / f32(k) - s);
        if (f < u * RNG_INV_2_24) {
            break;
        }
    }
    return k;
}

// Binomial(n, p) for n p >= 10 with p <= 1/2: BTRD (Hoermann 1993), its final acceptance test
// done in the saddle-point form so that f32 stays accurate for n up to 2^24.
fn binomial_btrd(r: ptr<function, Rng>, n: u32, p: f32) -> u32 {
    let nf = f32(n);
    let q = 1.0 - p;
    let m = floor((nf + 1.0) * p);
    let rr = p / q;
    let nr = (nf + 1.0) * rr;
    let npq = nf * p * q;
    let spq = sqrt(npq);
    let b = 1.15 + 2.53 * spq;
    let a = -0.0873 + 0.0248 * b + 0.01 * p;
    let c = nf * p + 0.5;
    let alpha = (2.83 + 5.1 / b) * spq;
    let vr = 0.92 - 4.2 / b;
    let urvr = 0.86 * vr;
    for (var tries = 0u; tries < RNG_MAX_TRIES; tries = tries + 1u) {
        var v = rng_uniform0(r);
        if (v <= urvr) {
            let u = v / vr - 0.43;
            let k = floor((2.0 * a / (0.5 - abs(u)) + b) * u + c);
            return u32(clamp(k, 0.0, nf));
        }
        var u: f32;
        if (v >= vr) {
            u = rng_uniform0(r) - 0.5;
        } else {
            u = v / vr - 0.93;
            u = select(-0.5, 0.5, u > 0.0) - u;
            v = rng_uniform0(r) * vr;
        }
        let us = 0.5 - abs(u);
        if (us <= 0.0) {
            continue;
        }
        let k = floor((2.0 * a / us + b) * u + c);
        if (k < 0.0 || k > nf) {
            continue;
        }
        v = v * alpha / (a / (us * us) + b);
        let km = abs(k - m);
        if (km <= 15.0) {
            // Recursive evaluation of f(k) / f(m).
            var f = 1.0;
            if (m < k) {
                for (var i = m + 1.0; i <= k; i = i + 1.0) {
                    f = f * (nr / i - rr);
                }
            } else if (m > k) {
                for (var i = k + 1.0; i <= m; i = i + 1.0) {
                    v = v * (nr / i - rr);
                }
            }
            if (v <= f) {
                return u32(k);
            }
            continue;
        }
        if (v <= 0.0) {
            return u32(k);
        }
        // Squeeze on npm_log(v), then the exact test npm_log(v) <= log f(k) - log f(m).
        let lv = npm_log(v);
        let rho = (km / npq) * (((km / 3.0 + 0.625) * km + 1.0 / 6.0) / npq + 0.5);
        let t = -km * km / (2.0 * npq);
        if (lv < t - rho) {
            return u32(k);
        }
        if (lv > t + rho) {
            continue;
        }
        if (lv <= log_binomial_pmf(k, nf, p, q) - log_binomial_pmf(m, nf, p, q)) {
            return u32(k);
        }
    }
    return u32(m);
}

// Binomial(n, p), p clipped to [0, 1]. Exact up to f32 rounding for every n up to 2^24.
fn rng_binomial(r: ptr<function, Rng>, n: u32, p: f32) -> u32 {
    if (n == 0u || !(p > 0.0)) {
        return 0u;
    }
    if (p >= 1.0) {
        return n;
    }
    let flip = p > 0.5;
    let pp = select(p, 1.0 - p, flip);
    var k: u32;
    if (f32(n) * pp < 10.0) {
        k = binomial_inversion(r, n, pp);
    } else {
        k = binomial_btrd(r, n, pp);
    }
    return select(k, n - k, flip);
}
