// Weights and delays drawn per synapse (procedural projections regenerate them at every
// delivery). CPU twin: models::spiking::synapse (SynDist, syn_value).

// #import shared/math.wgsl
// #import shared/rng.wgsl

const SYN_MAX_TRIES: u32 = 32u;
const PURPOSE_WEIGHT: u32 = 7u;
const PURPOSE_DELAY: u32 = 8u;

// Keep in sync with models::spiking::synapse::SynDist.
struct SynDist {
    // 0: one value; 1 normal, 2 lognormal, 3 uniform, 4 exponential.
    kind: u32,
    a: f32,
    b: f32,
    lo: f32,
    hi: f32,
    // Weight: 1 / resolution; delay: 1 / dt.
    scale: f32,
    purpose: u32,
    // Delay: the smallest delay in steps.
    base: u32,
}

// A draw from d, drawn again while outside [lo, hi] (at most SYN_MAX_TRIES times, then
// clipped).
fn syn_value(d: SynDist, r: ptr<function, Rng>) -> f32 {
    var x = d.lo;
    for (var i = 0u; i < SYN_MAX_TRIES; i = i + 1u) {
        if (d.kind == 1u) {
            x = d.a + d.b * rng_normal2(r).x;
        } else if (d.kind == 2u) {
            x = npm_exp(d.a + d.b * rng_normal2(r).x);
        } else if (d.kind == 3u) {
            x = d.a + d.b * rng_uniform0(r);
        } else {
            x = -d.a * npm_log(rng_uniform(r));
        }
        if (x >= d.lo && x <= d.hi) {
            return x;
        }
    }
    return clamp(x, d.lo, d.hi);
}

// The value of the synapse keyed (element, step).
fn syn_draw(d: SynDist, seed: vec2<u32>, element: u32, step: u32) -> f32 {
    var r = rng_init(seed, element, step, d.purpose);
    return syn_value(d, &r);
}

// A weight as an integer multiple of the resolution.
fn syn_quantum(d: SynDist, x: f32) -> u32 {
    return u32(round(abs(x) * d.scale));
}

// A delay in steps: rounded to the nearest step, at least one.
fn syn_steps(d: SynDist, x: f32) -> u32 {
    return max(u32(round(x * d.scale)), 1u);
}
