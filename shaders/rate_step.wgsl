// rate_step: advances every replica of a network of NP <= 16 coupled rate populations by
// n_steps forward-Euler steps, state in registers, as the rate-model tutorial integrates
//     tau_m dr_m/dt = -r_m + F_m(sum_j W_mj r_j + I_ext_m + I_stim_m(t) + eta_m(t)),
// with Ornstein-Uhlenbeck input eta_m advanced after r (Euler as the tutorial's my_OU, or exact).
// CPU twin: models::rate::kernel::rate_step. One thread per replica; replica = replica0 + t.
//
// Pipeline-overridable constants specialise the kernel when the pipeline is built: NP (the
// population count) lets the loops over populations unroll so the per-replica arrays live in
// registers; NOISE, STIM, TRACE, SUMMARY (a bit mask) and TRANSFER compile out what a run does not use.
// (Software rasterisers such as lavapipe execute both sides of a branch under a lane mask,
// so an unused feature behind a runtime `if` would still cost its full price every step.)
//
// Noise: xi(0, m) is the first normal of the Philox block (replica, 0, PURPOSE_NOISE, m);
// xi(k, m) for k >= 1 is normal (k - 1) % 4 of block (replica, (k - 1) / 4 + 1, PURPOSE_NOISE,
// m), where a block's four normals are the two Box-Muller pairs of its four words. Steps are
// advanced in groups of four (chunks start at multiples of 4) so that each group draws one
// block per population.
//
// Summaries add r into `block`, fold `block` into `sblock` every 64 steps and `sblock` into
// `sum` every 4096 steps, all at fixed global step indices: f32-accurate over long runs and
// independent of how steps are split into dispatches (compensated summation would not
// survive the driver's algebraic simplifications).

// #import shared/math.wgsl
// #import shared/rng.wgsl
// #import shared/grid.wgsl

override NP: u32 = 1u;
override NOISE: bool = true;
override STIM: bool = true;
override TRACE: bool = true;
// Bit mask of the summaries to accumulate: SUM_MEAN | SUM_ABOVE | SUM_CROSSINGS.
override SUMMARY: u32 = 7u;
// A TRANSFER_* code when every population uses the same F, TRANSFER_MIXED otherwise.
override TRANSFER: u32 = 4u;
const TRANSFER_MIXED: u32 = 4u;
const SUM_MEAN: u32 = 1u;
const SUM_ABOVE: u32 = 2u;
const SUM_CROSSINGS: u32 = 4u;
const MAX_POPS: u32 = 16u;
const PURPOSE_NOISE: u32 = 1u;
const TRANSFER_SIGMOID: u32 = 0u;
const TRANSFER_RELU: u32 = 1u;
const TRANSFER_THRESHOLD_LINEAR: u32 = 2u;

// Keep in sync with models::rate::kernel::RateConfig.
struct RateConfig {
    n_replicas: u32,
    n_pops: u32,
    replicas_per_combo: u32,
    replica0: u32,
    combo0: u32,
    step0: u32,
    n_steps: u32,
    seed_lo: u32,
    seed_hi: u32,
    w_per_combo: u32,
    has_noise: u32,
    has_stim: u32,
    rec_replicas: u32,
    rec_every: u32,
    rec_sample0: u32,
    summary_from: u32,
    above: f32,
    cross_low: f32,
    cross_high: f32,
    summary_mask: u32,
}

// Keep in sync with models::rate::kernel::PopCoef (coefficients computed on the host in f64).
struct PopCoef {
    dt_over_tau: f32,
    a: f32,
    theta: f32,
    f_offset: f32,
    i_ext: f32,
    r_init: f32,
    ou_decay: f32,
    ou_amp: f32,
    eta0_amp: f32,
    transfer: u32,
}

// Keep in sync with models::rate::kernel::PopState.
struct PopState {
    r: f32,
    eta: f32,
}

// Keep in sync with models::rate::kernel::PopSummary.
struct PopSummary {
    sum: f32,
    sblock: f32,
    block: f32,
    above: u32,
    crossings: u32,
    side: u32,
}

@group(0) @binding(0) var<uniform> cfg: RateConfig;
@group(0) @binding(1) var<storage, read> coef: array<PopCoef>;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> stim: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<PopState>;
@group(0) @binding(5) var<storage, read_write> summary: array<PopSummary>;
@group(0) @binding(6) var<storage, read_write> trace: array<f32>;

// tanh(y), accurate near 0 (series) and saturating for large |y|.
fn rate_tanh(y: f32) -> f32 {
    let ay = abs(y);
    if (ay < 0.01) {
        let y2 = y * y;
        return y * (1.0 - y2 * (1.0 / 3.0 - y2 * (2.0 / 15.0)));
    }
    let e = npm_exp(-2.0 * ay);
    let t = (1.0 - e) / (1.0 + e);
    return select(t, -t, y < 0.0);
}

// The transfer function F of population coefficients c at input x.
fn transfer(c: PopCoef, x: f32) -> f32 {
    let code = select(TRANSFER, c.transfer, TRANSFER == TRANSFER_MIXED);
    switch code {
        case TRANSFER_SIGMOID: {
            return 1.0 / (1.0 + npm_exp(-c.a * (x - c.theta))) - c.f_offset;
        }
        case TRANSFER_RELU: {
            return max(x, 0.0);
        }
        case TRANSFER_THRESHOLD_LINEAR: {
            return c.a * max(x - c.theta, 0.0);
        }
        default: {
            return rate_tanh(c.a * (x - c.theta));
        }
    }
}

// The four normals of noise block (replica, b, m).
fn noise_block(seed: vec2<u32>, replica: u32, b: u32, m: u32) -> vec4<f32> {
    let x = philox4x32_10(vec4<u32>(replica, b, PURPOSE_NOISE, m), seed);
    let z0 = box_muller(x.x, x.y);
    let z1 = box_muller(x.z, x.w);
    return vec4<f32>(z0.x, z0.y, z1.x, z1.y);
}

fn lane(v: vec4<f32>, i: u32) -> f32 {
    return select(select(v.w, v.z, i == 2u), select(v.y, v.x, i == 0u), i < 2u);
}

// Adds the state k value r to the running summaries.
fn summarize(s0: PopSummary, r: f32, k: u32) -> PopSummary {
    var s = s0;
    if ((SUMMARY & SUM_MEAN) != 0u) {
        s.block = s.block + r;
        if ((k & 63u) == 63u) {
            s.sblock = s.sblock + s.block;
            s.block = 0.0;
            if ((k & 4095u) == 4095u) {
                s.sum = s.sum + s.sblock;
                s.sblock = 0.0;
            }
        }
    }
    if ((SUMMARY & SUM_ABOVE) != 0u && r > cfg.above) {
        s.above = s.above + 1u;
    }
    if ((SUMMARY & SUM_CROSSINGS) == 0u) {
        return s;
    }
    if (r < cfg.cross_low) {
        if (s.side == 2u) {
            s.crossings = s.crossings + 1u;
        }
        s.side = 1u;
    } else if (r > cfg.cross_high) {
        if (s.side == 1u) {
            s.crossings = s.crossings + 1u;
        }
        s.side = 2u;
    }
    return s;
}

@compute @workgroup_size(64)
fn rate_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = linear_index(gid, nwg, 64u);
    if (t >= cfg.n_replicas) {
        return;
    }
    let replica = cfg.replica0 + t;
    let combo = replica / cfg.replicas_per_combo - cfg.combo0;
    let seed = vec2<u32>(cfg.seed_lo, cfg.seed_hi);
    let wbase = select(0u, combo * NP * NP, cfg.w_per_combo == 1u);
    let traced = TRACE && t < cfg.rec_replicas;

    var c: array<PopCoef, MAX_POPS>;
    var w: array<f32, 256>;
    var r: array<f32, MAX_POPS>;
    var eta: array<f32, MAX_POPS>;
    var f: array<f32, MAX_POPS>;
    var z: array<vec4<f32>, MAX_POPS>;
    var s: array<PopSummary, MAX_POPS>;

    for (var m = 0u; m < NP; m = m + 1u) {
        c[m] = coef[combo * NP + m];
        for (var q = 0u; q < NP; q = q + 1u) {
            w[m * NP + q] = weights[wbase + m * NP + q];
        }
    }

    if (cfg.step0 == 0u) {
        for (var m = 0u; m < NP; m = m + 1u) {
            r[m] = c[m].r_init;
            eta[m] = 0.0;
            if (NOISE) {
                eta[m] = c[m].eta0_amp * noise_block(seed, replica, 0u, m).x;
            }
            s[m] = PopSummary(0.0, 0.0, 0.0, 0u, 0u, 0u);
            if (SUMMARY != 0u && cfg.summary_from == 0u) {
                s[m] = summarize(s[m], r[m], 0u);
            }
            if (traced) {
                let i = (t * NP + m) * 2u;
                trace[i] = r[m];
                trace[i + 1u] = eta[m];
            }
        }
    } else {
        for (var m = 0u; m < NP; m = m + 1u) {
            let st = state[t * NP + m];
            r[m] = st.r;
            eta[m] = st.eta;
            if (SUMMARY != 0u) {
                s[m] = summary[t * NP + m];
            }
        }
    }

    // Next traced state and its row in `trace` (counters, not a division per step).
    let every = cfg.rec_every;
    var rec_next = (cfg.step0 / every + 1u) * every;
    var row = rec_next / every - cfg.rec_sample0;
    let groups = (cfg.n_steps + 3u) / 4u;
    for (var g = 0u; g < groups; g = g + 1u) {
        // step0 is a multiple of 4: this group advances states kb .. kb + 3.
        let kb = cfg.step0 + 4u * g;
        if (NOISE) {
            for (var m = 0u; m < NP; m = m + 1u) {
                z[m] = noise_block(seed, replica, (kb >> 2u) + 1u, m);
            }
        }
        for (var l = 0u; l < 4u; l = l + 1u) {
            let j = 4u * g + l;
            if (j < cfg.n_steps) {
                // Inputs from the rates of step k = kb + l.
                for (var m = 0u; m < NP; m = m + 1u) {
                    var x = c[m].i_ext + eta[m];
                    for (var q = 0u; q < NP; q = q + 1u) {
                        x = x + w[m * NP + q] * r[q];
                    }
                    if (STIM) {
                        x = x + stim[j * NP + m];
                    }
                    f[m] = transfer(c[m], x);
                }
                let k1 = kb + l + 1u;
                let rec = traced && (k1 == rec_next);
                for (var m = 0u; m < NP; m = m + 1u) {
                    r[m] = r[m] + c[m].dt_over_tau * (f[m] - r[m]);
                    if (NOISE) {
                        eta[m] = eta[m] * c[m].ou_decay + c[m].ou_amp * lane(z[m], l);
                    }
                    if (SUMMARY != 0u && k1 >= cfg.summary_from) {
                        s[m] = summarize(s[m], r[m], k1);
                    }
                    if (rec) {
                        let i = ((row * cfg.rec_replicas + t) * NP + m) * 2u;
                        trace[i] = r[m];
                        trace[i + 1u] = eta[m];
                    }
                }
                if (TRACE && k1 == rec_next) {
                    rec_next = rec_next + every;
                    row = row + 1u;
                }
            }
        }
    }

    for (var m = 0u; m < NP; m = m + 1u) {
        state[t * NP + m] = PopState(r[m], eta[m]);
        if (SUMMARY != 0u) {
            summary[t * NP + m] = s[m];
        }
    }
}
