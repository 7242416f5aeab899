// connect_fill: writes the targets of a fixed_indegree projection built on the device (pass 2
// of 2). Thread t = r * n_tgt + j draws the same sources as connect_count and appends j to the
// row of each: next[r * n_src + s] holds the row's next free synapse position (the row start
// before the pass), positions split over the bindings syn0..syn3 of syn_cap synapses each.
// CPU twin: models::spiking::connect::connect_fill.

// #import shared/connect.wgsl

@group(0) @binding(0) var<uniform> cfg: ConnConfig;
@group(0) @binding(1) var<storage, read_write> next: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> syn0: array<u32>;
@group(0) @binding(3) var<storage, read_write> syn1: array<u32>;
@group(0) @binding(4) var<storage, read_write> syn2: array<u32>;
@group(0) @binding(5) var<storage, read_write> syn3: array<u32>;

@compute @workgroup_size(64)
fn connect_fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = linear_index(gid, nwg, 64u);
    if (t >= cfg.replicas * cfg.n_tgt) {
        return;
    }
    let r = t / cfg.n_tgt;
    let j = t % cfg.n_tgt;
    var rng = connect_stream(cfg, r, j);
    for (var d = 0u; d < cfg.indegree; d = d + 1u) {
        let s = connect_next_source(cfg, &rng, j);
        let pos = atomicAdd(&next[r * cfg.n_src + s], 1u);
        let b = pos / cfg.syn_cap;
        let i = pos % cfg.syn_cap;
        if (b == 0u) {
            syn0[i] = j;
        } else if (b == 1u) {
            syn1[i] = j;
        } else if (b == 2u) {
            syn2[i] = j;
        } else {
            syn3[i] = j;
        }
    }
}
