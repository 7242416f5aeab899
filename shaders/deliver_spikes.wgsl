// deliver_spikes: pushes the spikes of one block to their targets. One workgroup per spike
// (indirect dispatch sized by neuron_step), its threads striding over the spike's target
// rows (CSR by source, one row per outgoing projection), each adding 1 to the target's
// count in the ring slot of the arrival step. Integer atomics make the result independent
// of order. CPU twin: models::spiking::kernel::deliver_spikes.

// #import shared/math.wgsl
// #import shared/rng.wgsl
// #import shared/network.wgsl
// #import shared/synapse.wgsl

override WG: u32 = 64u;
// Bindings the synapse array is split over (each at most max_storage_buffer_binding_size).
override NSYN: u32 = 1u;
// As in neuron_step: where the spike count of a block is kept.
override BIG_LIST: bool = false;
// Some projection is procedural (compiled out otherwise: on SIMD CPUs present code costs).
override PROCEDURAL: bool = false;
// Some projection draws weights or delays per synapse.
override DRAWN: bool = false;

// Keep in sync with models::spiking::kernel::Proj.
struct Proj {
    port_base: u32,
    tgt_size: u32,
    delay: u32,
    row0: u32,
    mode: u32,
    seg_len: u32,
    forbid_self: u32,
    index: u32,
    inv_log_q: f32,
    // Words per stored synapse (1: target; 2: target, weight in quanta).
    words: u32,
    // Bits of a stored synapse's first word holding its delay above `delay`.
    dbits: u32,
    // The targets [tgt_lo, tgt_hi) this device delivers to (all unless MPI ranks share the
    // neurons).
    tgt_lo: u32,
    tgt_hi: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    wdist: SynDist,
    ddist: SynDist,
}

// Proj.mode (models::spiking::kernel::proj_mode).
const MODE_STORED: u32 = 0u;
const MODE_BERNOULLI: u32 = 1u;
const MODE_ALL_TO_ALL: u32 = 2u;
const MODE_ONE_TO_ONE: u32 = 3u;
const MODE_FIXED_TOTAL: u32 = 4u;
const PURPOSE_CONNECT: u32 = 3u;

@group(0) @binding(0) var<uniform> cfg: NetConfig;
@group(0) @binding(1) var<storage, read> pops: array<PopInfo>;
@group(0) @binding(2) var<storage, read> proj: array<Proj>;
@group(0) @binding(3) var<storage, read> ctl: array<u32>;
@group(0) @binding(4) var<storage, read> spk: array<u32>;
@group(0) @binding(5) var<storage, read> rowptr: array<u32>;
@group(0) @binding(6) var<storage, read_write> ring: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read> syn0: array<u32>;
@group(0) @binding(8) var<storage, read> syn1: array<u32>;
@group(0) @binding(9) var<storage, read> syn2: array<u32>;
@group(0) @binding(10) var<storage, read> syn3: array<u32>;

// Adds 1 to the ring word of every target in synapses [j0, j1) of binding `b` (indices
// relative to the binding). One loop per binding, so the inner loop has no branch.
fn push(b: u32, j0: u32, j1: u32, lid: u32, base: u32) {
    if (b == 0u || NSYN == 1u) {
        for (var j = j0 + lid; j < j1; j = j + WG) {
            atomicAdd(&ring[base + syn0[j]], 1u);
        }
    } else if (b == 1u) {
        for (var j = j0 + lid; j < j1; j = j + WG) {
            atomicAdd(&ring[base + syn1[j]], 1u);
        }
    } else if (b == 2u) {
        for (var j = j0 + lid; j < j1; j = j + WG) {
            atomicAdd(&ring[base + syn2[j]], 1u);
        }
    } else {
        for (var j = j0 + lid; j < j1; j = j + WG) {
            atomicAdd(&ring[base + syn3[j]], 1u);
        }
    }
}

// Synapses [j0, j1) (word positions relative to binding `b`) of `words` words each, the
// target above `dbits` bits of delay offset, the weight in quanta in the second word.
fn syn_word(b: u32, j: u32) -> u32 {
    if (b == 0u || NSYN == 1u) {
        return syn0[j];
    } else if (b == 1u) {
        return syn1[j];
    } else if (b == 2u) {
        return syn2[j];
    }
    return syn3[j];
}

fn push_drawn(b: u32, j0: u32, j1: u32, lid: u32, pr: Proj, t: u32, r: u32) {
    let dmask = (1u << pr.dbits) - 1u;
    // Ring words of this device's targets only: target j at row_base + j (tgt_lo
    // subtracted, wrapping: the sum is in range).
    let row_base = pr.port_base + r * (pr.tgt_hi - pr.tgt_lo) - pr.tgt_lo;
    for (var j = j0 + lid * pr.words; j < j1; j = j + WG * pr.words) {
        let w0 = syn_word(b, j);
        var q = 1u;
        if (pr.words > 1u) {
            q = syn_word(b, j + 1u);
        }
        let slot = (t + pr.delay + (w0 & dmask)) % cfg.ring_len;
        atomicAdd(&ring[slot * cfg.ring_row + row_base + (w0 >> pr.dbits)], q);
    }
}

// A procedural synapse from global neuron g onto target j with values drawn per synapse
// from the streams keyed (g, key): key = j for the rules drawn per pair, the draw index for
// fixed_total_number. CPU twin: models::spiking::kernel::synapse_target.
fn add_drawn(g: u32, pr: Proj, j: u32, key: u32, t: u32, r: u32) {
    let seed = vec2<u32>(cfg.seed_lo, cfg.seed_hi);
    var q = 1u;
    if (pr.wdist.kind != 0u) {
        q = syn_quantum(pr.wdist, syn_draw(pr.wdist, seed, g, key));
    }
    var d = pr.delay;
    if (pr.ddist.kind != 0u) {
        d = syn_steps(pr.ddist, syn_draw(pr.ddist, seed, g, key));
    }
    let slot = (t + d) % cfg.ring_len;
    atomicAdd(&ring[slot * cfg.ring_row + pr.port_base + r * (pr.tgt_hi - pr.tgt_lo) + j - pr.tgt_lo], q);
}

// One procedural synapse: one spike count, or the values drawn for it.
fn add_keyed(g: u32, pr: Proj, j: u32, key: u32, t: u32, r: u32, base: u32) {
    if (DRAWN && (pr.wdist.kind != 0u || pr.ddist.kind != 0u)) {
        add_drawn(g, pr, j, key, t, r);
    } else {
        atomicAdd(&ring[base + j], 1u);
    }
}

fn add_one(g: u32, pr: Proj, j: u32, t: u32, r: u32, base: u32) {
    add_keyed(g, pr, j, j, t, r, base);
}

// fixed_total_number: the target of a synapse from raw draw x, uniform over the target
// population or over all but the source itself. CPU twin:
// models::spiking::connect::total_number_target.
fn total_number_target(x: u32, nt: u32, forbid_self: bool, local: u32) -> u32 {
    if (forbid_self) {
        let t = mul_hilo(x, nt - 1u).x;
        return t + select(0u, 1u, t >= local);
    }
    return mul_hilo(x, nt).x;
}

// The population of neuron `i` (index within a replica): the last one starting at or
// before i. (Each kernel has its own copy: it reads the kernel's `pops` binding.)
fn population_of(i: u32, n_pops: u32) -> u32 {
    var p = 0u;
    for (var q = 1u; q < n_pops; q = q + 1u) {
        if (i >= pops[q].offset) {
            p = q;
        }
    }
    return p;
}

// Procedural pairwise_bernoulli: the targets of segment `sg` of source neuron g are drawn
// again at every delivery, by geometric gaps from the stream (seed; g, projection,
// 3 + 256 (sg + 1)). CPU twin: models::spiking::kernel::bernoulli_segment.
fn bernoulli_segment(g: u32, pr: Proj, sg: u32, local: u32, base: u32, t: u32, r: u32) {
    var rng = rng_init(vec2<u32>(cfg.seed_lo, cfg.seed_hi), g, pr.index, PURPOSE_CONNECT + 256u * (sg + 1u));
    let hi = min(pr.tgt_size, (sg + 1u) * pr.seg_len);
    var j = sg * pr.seg_len;
    loop {
        let u = rng_uniform(&rng);
        let gap = floor(npm_log(u) * pr.inv_log_q);
        if (gap >= f32(hi - j)) {
            break;
        }
        j = j + u32(gap);
        if (!(pr.forbid_self == 1u && j == local) && j >= pr.tgt_lo && j < pr.tgt_hi) {
            add_one(g, pr, j, t, r, base);
        }
        j = j + 1u;
        if (j >= hi) {
            break;
        }
    }
}

@compute @workgroup_size(WG)
fn deliver_spikes(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let e = wid.x + wid.y * 65535u;
    let count = min(ctl[4u * cfg.parity + select(0u, 3u, BIG_LIST)], cfg.spk_cap);
    if (e >= count) {
        return;
    }
    let g = spk[2u * e];
    let t = spk[2u * e + 1u];
    let r = g / cfg.n_neurons;
    let i = g - r * cfg.n_neurons;
    let pop = pops[population_of(i, cfg.n_pops)];
    let local = i - pop.offset;
    for (var k = 0u; k < pop.n_out; k = k + 1u) {
        let pr = proj[pop.out0 + k];
        let slot = (t + pr.delay) % cfg.ring_len;
        // Ring words of this device's targets only (tgt_lo .. tgt_hi per replica): target j
        // at base + j (tgt_lo subtracted, wrapping: the sum is in range).
        let base = slot * cfg.ring_row + pr.port_base + r * (pr.tgt_hi - pr.tgt_lo) - pr.tgt_lo;
        if (pr.mode == MODE_STORED) {
            let row = pr.row0 + r * pop.size + local;
            let lo = rowptr[row];
            let hi = rowptr[row + 1u];
            // Split the row where it crosses from one synapse binding to the next (two-word
            // synapses never straddle: rows start at even positions, syn_cap is even).
            var j0 = lo;
            while (j0 < hi) {
                let b = j0 / cfg.syn_cap;
                let first = b * cfg.syn_cap;
                let j1 = min(hi, first + cfg.syn_cap);
                if (DRAWN && (pr.words > 1u || pr.dbits > 0u)) {
                    push_drawn(b, j0 - first, j1 - first, lid, pr, t, r);
                } else {
                    push(b, j0 - first, j1 - first, lid, base);
                }
                j0 = j1;
            }
        } else if (!PROCEDURAL) {
            // Unreachable: every projection is stored.
        } else if (pr.mode == MODE_ALL_TO_ALL) {
            for (var j = pr.tgt_lo + lid; j < pr.tgt_hi; j = j + WG) {
                if (!(pr.forbid_self == 1u && j == local)) {
                    add_one(g, pr, j, t, r, base);
                }
            }
        } else if (pr.mode == MODE_ONE_TO_ONE) {
            if (lid == 0u && pr.forbid_self == 0u && local >= pr.tgt_lo && local < pr.tgt_hi) {
                add_one(g, pr, local, t, r, base);
            }
        } else if (pr.mode == MODE_FIXED_TOTAL) {
            // The out-degree from rowptr; synapse d's target is lane d % 4 of Philox block
            // (g, projection, connect, d / 4); each thread takes whole blocks.
            let row = pr.row0 + r * pop.size + local;
            let deg = rowptr[row + 1u] - rowptr[row];
            let key = vec2<u32>(cfg.seed_lo, cfg.seed_hi);
            for (var b = lid; b < (deg + 3u) / 4u; b = b + WG) {
                var x = philox4x32_10(vec4<u32>(g, pr.index, PURPOSE_CONNECT, b), key);
                for (var i = 0u; i < 4u; i = i + 1u) {
                    let d = 4u * b + i;
                    if (d >= deg) {
                        break;
                    }
                    let j = total_number_target(x[i], pr.tgt_size, pr.forbid_self == 1u, local);
                    if (j >= pr.tgt_lo && j < pr.tgt_hi) {
                        add_keyed(g, pr, j, d, t, r, base);
                    }
                }
            }
        } else {
            // The segments that reach into [tgt_lo, tgt_hi).
            let seg_hi = (pr.tgt_hi + pr.seg_len - 1u) / pr.seg_len;
            for (var sg = pr.tgt_lo / pr.seg_len + lid; sg < seg_hi; sg = sg + WG) {
                bernoulli_segment(g, pr, sg, local, base, t, r);
            }
        }
    }
}
