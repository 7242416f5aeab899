// lif_step: advances independent leaky integrate-and-fire neurons by n_steps time steps,
// state in registers, one thread per neuron (docs/models.md, section 2; parameters in
// models::lif::params). CPU twin: models::lif::kernel::lif_step.
//
// Voltages are relative to E_L (u = V - E_L). Per step k -> k + 1, with the drive
// w = R_m (I + I_stim[k] + eta[k]) (mV):
//   grid mode (PRECISE = false): u1 = w + (u - w) p (+ noise sigma sqrt(dt) xi); spike at the end of
//     the step when u1 > u_th, or (BRIDGE) with probability exp(-(u_th - u)(u_th - u1) bridge);
//     then u = u_reset held for ref_steps whole steps;
//   precise mode (PRECISE = true, no noise): the crossing time s within the step is solved
//     exactly, the neuron is refractory until s + t_ref and evolves exactly after that.
// Random numbers: one Philox block (neuron, k, PURPOSE_NOISE, 0) per neuron and step: words
// (x, y) -> Box-Muller (xi for V, xi for the OU input), word z -> the bridge's uniform [0, 1).
// CORR: the V noise is sqrt(rho) c + sqrt(1 - rho) xi with c the first Box-Muller normal of
// the block (group element, k, PURPOSE_COMMON, 0), group element =
// (neuron / pop_size) n_groups + (neuron % pop_size) / group.
// Spike counts per window (a spike during step k counts in [lo, hi) when lo <= k < hi),
// spike times of recorded neurons as (step k, offset within the step in ms), V traces.

// #import shared/math.wgsl
// #import shared/rng.wgsl
// #import shared/grid.wgsl

override PRECISE: bool = false;
override NOISE: bool = true;
override OU: bool = true;
override BRIDGE: bool = true;
override STIM: bool = true;
override NW: u32 = 1u;
override TRACE: bool = true;
override SPIKES: bool = true;
override CORR: bool = false;
const PURPOSE_NOISE: u32 = 1u;
const PURPOSE_COMMON: u32 = 6u;

// Keep in sync with models::lif::kernel::LifConfig.
struct LifConfig {
    n_threads: u32,
    neuron0: u32,
    per_combo: u32,
    combo0: u32,
    step0: u32,
    n_steps: u32,
    seed_lo: u32,
    seed_hi: u32,
    rec_spikes: u32,
    spike_cap: u32,
    rec_trace: u32,
    trace_every: u32,
    trace_sample0: u32,
    zero: u32,
    dt: f32,
    pop_size: u32,
    group: u32,
    n_groups: u32,
    pad0: u32,
    pad1: u32,
}

// Keep in sync with models::lif::kernel::LifCoef.
struct LifCoef {
    p: f32,
    q: f32,
    w0: f32,
    r_m: f32,
    u_th: f32,
    u_reset: f32,
    u_init: f32,
    e_l: f32,
    noise: f32,
    bridge: f32,
    ou_decay: f32,
    ou_amp: f32,
    ou0: f32,
    tau_m: f32,
    inv_tau: f32,
    t_ref: f32,
    ref_steps: u32,
    corr_a: f32,
    corr_b: f32,
    pad2: u32,
}

// Keep in sync with models::lif::kernel::LifState.
struct LifState {
    u: f32,
    eta: f32,
    ref_steps: u32,
    ref_frac: f32,
}

@group(0) @binding(0) var<uniform> cfg: LifConfig;
@group(0) @binding(1) var<storage, read> coef: array<LifCoef>;
@group(0) @binding(2) var<storage, read> stim: array<f32>;
@group(0) @binding(3) var<storage, read> windows: array<u32>;
@group(0) @binding(4) var<storage, read_write> state: array<LifState>;
@group(0) @binding(5) var<storage, read_write> counts: array<u32>;
@group(0) @binding(6) var<storage, read_write> spike_n: array<u32>;
@group(0) @binding(7) var<storage, read_write> spikes: array<u32>;
@group(0) @binding(8) var<storage, read_write> trace: array<f32>;

// A value the compiler cannot see through (cfg.zero is 0): stops reassociation.
fn keep(x: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) ^ cfg.zero);
}

@compute @workgroup_size(64)
fn lif_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = linear_index(gid, nwg, 64u);
    if (t >= cfg.n_threads) {
        return;
    }
    let neuron = cfg.neuron0 + t;
    let combo = neuron / cfg.per_combo - cfg.combo0;
    let c = coef[combo];
    let seed = vec2<u32>(cfg.seed_lo, cfg.seed_hi);
    let traced = TRACE && t < cfg.rec_trace;
    let recorded = SPIKES && t < cfg.rec_spikes;
    let dt = cfg.dt;
    let gel = (neuron / cfg.pop_size) * cfg.n_groups + (neuron % cfg.pop_size) / cfg.group;

    var s: LifState;
    if (cfg.step0 == 0u) {
        s = LifState(c.u_init, 0.0, 0u, 0.0);
        if (OU) {
            let x0 = philox4x32_10(vec4<u32>(neuron, 0xFFFFFFFFu, PURPOSE_NOISE, 0u), seed);
            s.eta = c.ou0 * box_muller(x0.x, x0.y).x;
        }
        for (var w = 0u; w < NW; w = w + 1u) {
            counts[t * NW + w] = 0u;
        }
        if (traced) {
            trace[t] = c.u_init + c.e_l;
        }
    } else {
        s = state[t];
    }
    var wl: array<u32, 16>;
    var wh: array<u32, 16>;
    var cnt: array<u32, 16>;
    for (var w = 0u; w < NW; w = w + 1u) {
        wl[w] = windows[2u * w];
        wh[w] = windows[2u * w + 1u];
        cnt[w] = counts[t * NW + w];
    }
    var n_rec = 0u;
    let every = cfg.trace_every;
    var rec_next = (cfg.step0 / every + 1u) * every;
    var row = rec_next / every - cfg.trace_sample0;

    for (var j = 0u; j < cfg.n_steps; j = j + 1u) {
        let k = cfg.step0 + j;
        var w = c.w0;
        if (STIM) {
            w = w + keep(c.r_m * stim[j]);
        }
        if (OU) {
            w = w + keep(c.r_m * s.eta);
        }
        var x = vec4<u32>(0u);
        var z = vec2<f32>(0.0);
        if (NOISE || OU) {
            x = philox4x32_10(vec4<u32>(neuron, k, PURPOSE_NOISE, 0u), seed);
            z = box_muller(x.x, x.y);
        }
        var spiked = false;
        var offset = dt;
        if (PRECISE) {
            if (s.ref_steps > 0u) {
                s.ref_steps = s.ref_steps - 1u;
                s.u = c.u_reset;
            } else {
                let a = s.ref_frac;
                var e = c.p;
                if (a > 0.0) {
                    e = npm_exp(-keep(dt - a) * c.inv_tau);
                }
                let ua = s.u;
                let u1 = w + keep((ua - w) * e);
                s.ref_frac = 0.0;
                if (u1 > c.u_th) {
                    spiked = true;
                    offset = a + keep(c.tau_m * npm_log((ua - w) / (c.u_th - w)));
                    offset = min(offset, dt);
                    let end = offset + c.t_ref;
                    if (end < dt) {
                        s.u = w + keep((c.u_reset - w) * npm_exp(-keep(dt - end) * c.inv_tau));
                    } else {
                        let m = floor(end / dt);
                        s.ref_steps = u32(m) - 1u;
                        s.ref_frac = end - keep(m * dt);
                        s.u = c.u_reset;
                    }
                } else {
                    s.u = u1;
                }
            }
        } else {
            if (s.ref_steps > 0u) {
                s.ref_steps = s.ref_steps - 1u;
            } else {
                var u1 = w + keep((s.u - w) * c.p);
                if (NOISE) {
                    var xi = z.x;
                    if (CORR) {
                        let y = philox4x32_10(vec4<u32>(gel, k, PURPOSE_COMMON, 0u), seed);
                        let zc = box_muller(y.x, y.y).x;
                        xi = keep(keep(c.corr_a * zc) + keep(c.corr_b * z.x));
                    }
                    u1 = u1 + keep(c.noise * xi);
                }
                spiked = u1 > c.u_th;
                if (BRIDGE && !spiked) {
                    let arg = keep(keep(c.u_th - s.u) * keep(c.u_th - u1)) * c.bridge;
                    spiked = u32_to_uniform0(x.z) < npm_exp(-arg);
                }
                if (spiked) {
                    s.u = c.u_reset;
                    s.ref_steps = c.ref_steps;
                } else {
                    s.u = u1;
                }
            }
        }
        if (OU) {
            s.eta = keep(s.eta * c.ou_decay) + keep(c.ou_amp * z.y);
        }
        if (spiked) {
            for (var q = 0u; q < NW; q = q + 1u) {
                if (k >= wl[q] && k < wh[q]) {
                    cnt[q] = cnt[q] + 1u;
                }
            }
            if (recorded && n_rec < cfg.spike_cap) {
                let i = (t * cfg.spike_cap + n_rec) * 2u;
                spikes[i] = k;
                spikes[i + 1u] = bitcast<u32>(offset);
                n_rec = n_rec + 1u;
            }
        }
        let k1 = k + 1u;
        if (traced && k1 == rec_next) {
            trace[row * cfg.rec_trace + t] = s.u + c.e_l;
        }
        if (TRACE && k1 == rec_next) {
            rec_next = rec_next + every;
            row = row + 1u;
        }
    }

    state[t] = s;
    for (var w = 0u; w < NW; w = w + 1u) {
        counts[t * NW + w] = cnt[w];
    }
    if (recorded) {
        spike_n[t] = n_rec;
    }
}
