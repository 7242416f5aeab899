// neuron_step: advances every neuron of a spiking network (all replicas) through one block
// of steps shorter than the smallest delay, so no spike emitted inside the block is due
// inside it. Models (override MODEL, NEST's update order): 0 iaf_psc_delta, 1 iaf_psc_exp,
// 2 gif_psc_exp (docs/models.md, sections 4 and 5). Input arrives as integer spike counts per
// incoming projection in a ring of slots (written by deliver_spikes), multiplied by the
// projection's weight here in a fixed order, so the sum does not depend on delivery order.
// Spikes go to a list for deliver_spikes, to per-step population counts, and (first neurons
// of replica 0) to a spike record. CPU twin: models::spiking::kernel::neuron_step.

// #import shared/math.wgsl
// #import shared/rng.wgsl
// #import shared/network.wgsl

override MODEL: u32 = 2u;
// Spike-triggered current and threshold kernels held in state (gif_psc_exp: the most any
// population uses; 0 for the iaf models). State traffic per block scales with them.
override NSTC: u32 = 0u;
override NSFA: u32 = 0u;
override WG: u32 = 64u;
override STIM: bool = false;
override TRACE: bool = false;
// Poisson inputs: 0 none, 1 all means below 10 (inversion only), 2 any mean. Code that is
// present but never runs still costs on SIMD CPUs (lavapipe), so it is compiled out.
override POIS: u32 = 0u;
// Spike lists longer than 65535 entries per block: the indirect dispatch of deliver_spikes
// then needs a second dimension, kept with two more atomics per spike.
override BIG_LIST: bool = false;
// Neurons per invocation.
override NPT: u32 = 1u;

const MAX_KERNELS: u32 = 4u;
const PURPOSE_SPIKE: u32 = 2u;
const HAZARD_CLAMP: f32 = 60.0;

// Keep in sync with models::spiking::params::NeuronCoef.
struct NeuronCoef {
    refr_steps: u32,
    n_stc: u32,
    n_sfa: u32,
    _pad: u32,
    p_vv: f32,
    p_vi: f32,
    p_vl: f32,
    e_l: f32,
    v_th: f32,
    v_reset: f32,
    v_min: f32,
    i_e: f32,
    p11_ex: f32,
    p11_in: f32,
    p21_ex: f32,
    p21_in: f32,
    v_t_star: f32,
    inv_delta_v: f32,
    lambda_h: f32,
    v_init: f32,
    p_stc: array<f32, 4>,
    q_stc: array<f32, 4>,
    p_sfa: array<f32, 4>,
    q_sfa: array<f32, 4>,
}

// Keep in sync with models::spiking::kernel::Port.
struct Port {
    base: u32,
    weight: f32,
}

// Keep in sync with models::spiking::kernel::Pois.
struct Pois {
    lambda: f32,
    weight: f32,
    purpose: u32,
    p0: f32,
}

@group(0) @binding(0) var<uniform> cfg: NetConfig;
@group(0) @binding(1) var<storage, read> pops: array<PopInfo>;
@group(0) @binding(2) var<storage, read> coef: array<NeuronCoef>;
@group(0) @binding(3) var<storage, read> ports: array<Port>;
@group(0) @binding(4) var<storage, read> pois: array<Pois>;
@group(0) @binding(5) var<storage, read> stim: array<f32>;
@group(0) @binding(6) var<storage, read_write> v_m: array<f32>;
@group(0) @binding(7) var<storage, read_write> i_syn: array<vec2<f32>>;
@group(0) @binding(8) var<storage, read_write> refr: array<u32>;
@group(0) @binding(9) var<storage, read_write> adapt: array<f32>;
@group(0) @binding(10) var<storage, read_write> ring: array<u32>;
@group(0) @binding(11) var<storage, read_write> ctl: array<atomic<u32>>;
@group(0) @binding(12) var<storage, read_write> spk: array<u32>;
@group(0) @binding(13) var<storage, read_write> act: array<atomic<u32>>;
@group(0) @binding(14) var<storage, read_write> rec: array<u32>;
@group(0) @binding(15) var<storage, read_write> trace: array<f32>;

fn keep(x: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) ^ cfg.zero);
}

// -expm1(-x) for x >= 0: a two-term series where 1 - exp(-x) would lose digits.
fn spike_probability(x: f32) -> f32 {
    if (x < 1e-3) {
        return keep(x - keep(0.5 * x) * x);
    }
    return 1.0 - npm_exp(-x);
}

// Workgroups are assigned to table entries (a population of one sweep combination;
// pops[e].wg0 is its first workgroup), so the population, its coefficients and its ports
// are uniform across a workgroup: on
// SIMD hardware (lavapipe included) they are scalar loads instead of per-lane gathers.
// Each invocation advances NPT neurons (WG apart): 1 on GPUs; more on CPU adapters, where
// every invocation has a fixed cost that would otherwise dominate short blocks.
@compute @workgroup_size(WG)
fn neuron_step(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let w = wid.x + wid.y * nwg.x;
    if (w == 0u && lid == 0u) {
        // The other counter set is the next block's; its dispatch finished long ago.
        let other = 4u * (1u - cfg.parity);
        atomicStore(&ctl[other], 0u);
        atomicStore(&ctl[other + 1u], select(1u, 0u, BIG_LIST));
        atomicStore(&ctl[other + 2u], 1u);
        atomicStore(&ctl[other + 3u], 0u);
    }
    // The table entry (combination, population) of this workgroup: the last whose first
    // workgroup is at most w (first workgroups increase), by binary search, so large sweeps
    // cost every workgroup a few loads rather than one per entry.
    var lo = 0u;
    var hi = cfg.n_entries;
    loop {
        if (hi - lo <= 1u) {
            break;
        }
        let mid = (lo + hi) / 2u;
        if (pops[mid].wg0 <= w) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let e = lo;
    let pop = pops[e];
    let c = coef[e];
    // This device's neurons of the population (all unless MPI ranks share the neurons).
    let n_pop = (pop.own_hi - pop.own_lo) * cfg.replicas_per_combo;
    let first = (w - pop.wg0) * WG * NPT + lid;
    for (var kk = 0u; kk < NPT; kk = kk + 1u) {
        let j = first + kk * WG;
        if (j >= n_pop) {
            break;
        }
        step_neuron(pop, c, j);
    }
}

// Advances neuron j (index over this device's neurons of the replicas of one population and
// sweep combination) through the block.
fn step_neuron(pop: PopInfo, c: NeuronCoef, j: u32) {
    let p = pop.pop;
    let own = pop.own_hi - pop.own_lo;
    let rr = j / own;
    let r = pop.combo * cfg.replicas_per_combo + rr;
    let local = pop.own_lo + j - rr * own;
    let i = pop.offset + local;
    let g = r * cfg.n_neurons + i;
    // This neuron's entry in the state arrays (which hold this device's neurons only).
    let sx = r * pop.own_stride + pop.own_base + local - pop.own_lo;
    let cset = 4u * cfg.parity;
    let seed = vec2<u32>(cfg.seed_lo, cfg.seed_hi);

    var v = v_m[sx];
    // iaf_psc_delta has no synaptic currents: no memory traffic for them.
    var cur = vec2<f32>(0.0);
    if (MODEL != 0u) {
        cur = i_syn[sx];
    }
    var rc = refr[sx];
    var stc: array<f32, 4>;
    var sfa: array<f32, 4>;
    for (var k = 0u; k < NSTC; k = k + 1u) {
        stc[k] = adapt[k * cfg.n_total + sx];
    }
    for (var k = 0u; k < NSFA; k = k + 1u) {
        sfa[k] = adapt[(MAX_KERNELS + k) * cfg.n_total + sx];
    }

    var slot = cfg.step0 % cfg.ring_len;
    for (var s = 0u; s < cfg.n_steps; s = s + 1u) {
        let t = cfg.step0 + s;
        // Input of this step: counts x weights, excitatory and inhibitory apart.
        var in_ex = 0.0;
        var in_in = 0.0;
        for (var k = 0u; k < pop.n_ports; k = k + 1u) {
            let port = ports[pop.port0 + k];
            // The ring holds this device's neurons only: own_hi - own_lo per replica.
            let idx = slot * cfg.ring_row + port.base + r * (pop.own_hi - pop.own_lo) + local - pop.own_lo;
            let n = ring[idx];
            ring[idx] = 0u;
            // The port's sign is uniform across the workgroup; adding 0 changes nothing.
            let w = port.weight * f32(n);
            if (port.weight >= 0.0) {
                in_ex = keep(in_ex + w);
            } else {
                in_in = keep(in_in + w);
            }
        }
        if (POIS != 0u) {
            for (var k = 0u; k < pop.n_pois; k = k + 1u) {
                let ps = pois[pop.pois0 + k];
                var rng = rng_init(seed, g, t, ps.purpose);
                var n = 0u;
                if (POIS == 1u || ps.lambda < 10.0) {
                    n = poisson_inversion_p0(&rng, ps.lambda, ps.p0);
                } else {
                    n = rng_poisson(&rng, ps.lambda);
                }
                let w = ps.weight * f32(n);
                if (ps.weight >= 0.0) {
                    in_ex = keep(in_ex + w);
                } else {
                    in_in = keep(in_in + w);
                }
            }
        }
        var i_stim = 0.0;
        if (STIM) {
            i_stim = stim[(t - cfg.chunk_step0) * cfg.n_pops + p];
        }
        var spiked = false;
        if (MODEL == 0u) {
            // iaf_psc_delta: jumps of V; input during the refractory period is dropped.
            if (rc == 0u) {
                v = keep(keep(c.p_vi * keep(i_stim + c.i_e)) + keep(c.p_vv * v)) + keep(in_ex + in_in);
                v = max(v, c.v_min);
            } else {
                rc = rc - 1u;
            }
            if (v >= c.v_th) {
                rc = c.refr_steps;
                v = c.v_reset;
                spiked = true;
            }
        } else if (MODEL == 1u) {
            // iaf_psc_exp: V from the currents before this step's input.
            if (rc == 0u) {
                v = keep(keep(keep(v * c.p_vv) + keep(cur.x * c.p21_ex)) + keep(cur.y * c.p21_in)) + keep(keep(c.i_e + i_stim) * c.p_vi);
            } else {
                rc = rc - 1u;
            }
            cur = vec2<f32>(keep(keep(cur.x * c.p11_ex) + in_ex), keep(keep(cur.y * c.p11_in) + in_in));
            if (v >= c.v_th) {
                rc = c.refr_steps;
                v = c.v_reset;
                spiked = true;
            }
        } else {
            // gif_psc_exp: kernels read then decay, currents decay then take this step's
            // input, V from the new currents, escape noise.
            var stc_sum = 0.0;
            var theta = c.v_t_star;
            for (var k = 0u; k < NSTC; k = k + 1u) {
                stc_sum = keep(stc_sum + stc[k]);
                stc[k] = stc[k] * c.p_stc[k];
            }
            for (var k = 0u; k < NSFA; k = k + 1u) {
                theta = keep(theta + sfa[k]);
                sfa[k] = sfa[k] * c.p_sfa[k];
            }
            cur = vec2<f32>(keep(keep(cur.x * c.p11_ex) + in_ex), keep(keep(cur.y * c.p11_in) + in_in));
            if (rc == 0u) {
                let drive = keep(keep(i_stim + c.i_e) - stc_sum);
                v = keep(keep(keep(keep(c.p_vi * drive) + keep(c.p_vv * v)) + c.p_vl) + keep(cur.x * c.p21_ex)) + keep(cur.y * c.p21_in);
                let e = min(keep(v - theta) * c.inv_delta_v, HAZARD_CLAMP);
                let x = c.lambda_h * npm_exp(e);
                var rng = rng_init(seed, g, t, PURPOSE_SPIKE);
                if (x > 0.0 && rng_uniform0(&rng) < spike_probability(x)) {
                    for (var k = 0u; k < NSTC; k = k + 1u) {
                        stc[k] = stc[k] + c.q_stc[k];
                    }
                    for (var k = 0u; k < NSFA; k = k + 1u) {
                        sfa[k] = sfa[k] + c.q_sfa[k];
                    }
                    rc = c.refr_steps;
                    spiked = true;
                }
            } else {
                rc = rc - 1u;
                v = c.v_reset;
            }
        }
        if (spiked) {
            var e = 0u;
            if (BIG_LIST) {
                e = atomicAdd(&ctl[cset + 3u], 1u);
                // Indirect dispatch of deliver_spikes: x = min(count, 65535) workgroups,
                // y = ceil(count / 65535) rows.
                atomicMax(&ctl[cset], min(e + 1u, 65535u));
                if (e % 65535u == 0u) {
                    atomicAdd(&ctl[cset + 1u], 1u);
                }
            } else {
                // The count is the x dimension of the indirect dispatch itself.
                e = atomicAdd(&ctl[cset], 1u);
            }
            if (e < cfg.spk_cap) {
                spk[2u * e] = g;
                spk[2u * e + 1u] = t;
            }
            atomicAdd(&act[(t - cfg.chunk_step0) * cfg.n_rep_pops + r * cfg.n_pops + p], 1u);
            if (r == 0u && local < pop.rec_spikes) {
                let jr = atomicAdd(&ctl[8u], 1u);
                if (jr < cfg.rec_cap) {
                    rec[2u * jr] = t;
                    rec[2u * jr + 1u] = i;
                }
            }
        }
        if (TRACE) {
            if (r == 0u && local < pop.trace_first && t % cfg.trace_every == 0u) {
                trace[((t - cfg.chunk_step0) / cfg.trace_every) * cfg.n_trace + pop.trace_base + local] = v;
            }
        }
        slot = slot + 1u;
        if (slot == cfg.ring_len) {
            slot = 0u;
        }
    }

    v_m[sx] = v;
    if (MODEL != 0u) {
        i_syn[sx] = cur;
    }
    refr[sx] = rc;
    for (var k = 0u; k < NSTC; k = k + 1u) {
        adapt[k * cfg.n_total + sx] = stc[k];
    }
    for (var k = 0u; k < NSFA; k = k + 1u) {
        adapt[(MAX_KERNELS + k) * cfg.n_total + sx] = sfa[k];
    }
}
