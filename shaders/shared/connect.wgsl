// Connectivity drawn on the device: the struct and the draw loop shared by connect_count and
// connect_fill. CPU twin: models::spiking::connect (ConnConfig, indegree_draws).
//
// fixed_indegree with multapses: target j of replica r of projection k draws its `indegree`
// sources from the Philox stream (seed; r * n_neurons + tgt0 + j, k, PURPOSE_CONNECT), each a
// multiply-shift of one u32 into [0, n_src), rejecting j itself when autapses are off. The
// host build draws the same streams the same way, so both give the same synapses; only the
// order of targets inside a source's row differs (the GPU appends them in any order), which no
// result depends on: delivery adds integer counts.

// #import shared/rng.wgsl
// #import shared/grid.wgsl

const PURPOSE_CONNECT: u32 = 3u;

// Keep in sync with models::spiking::connect::ConnConfig.
struct ConnConfig {
    replicas: u32,
    n_src: u32,
    n_tgt: u32,
    indegree: u32,
    seed_lo: u32,
    seed_hi: u32,
    proj: u32,
    n_neurons: u32,
    tgt0: u32,
    forbid_self: u32,
    syn_cap: u32,
    _pad: u32,
}

// The random stream of target j of replica r.
fn connect_stream(c: ConnConfig, r: u32, j: u32) -> Rng {
    return rng_init(vec2<u32>(c.seed_lo, c.seed_hi), r * c.n_neurons + c.tgt0 + j, c.proj, PURPOSE_CONNECT);
}

// The next source of target j drawn from `rng` (index within the source population).
fn connect_next_source(c: ConnConfig, rng: ptr<function, Rng>, j: u32) -> u32 {
    var s = mul_hilo(rng_next_u32(rng), c.n_src).x;
    while (c.forbid_self != 0u && s == j) {
        s = mul_hilo(rng_next_u32(rng), c.n_src).x;
    }
    return s;
}
