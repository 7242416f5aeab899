// connect_count: out-degrees of a fixed_indegree projection built on the device (pass 1 of 2).
// Thread t = r * n_tgt + j draws the sources of target j of replica r (shared/connect.wgsl)
// and counts each in counts[r * n_src + s]; the host turns the counts into row starts.
// CPU twin: models::spiking::connect::connect_count.

// #import shared/connect.wgsl

@group(0) @binding(0) var<uniform> cfg: ConnConfig;
@group(0) @binding(1) var<storage, read_write> counts: array<atomic<u32>>;

@compute @workgroup_size(64)
fn connect_count(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = linear_index(gid, nwg, 64u);
    if (t >= cfg.replicas * cfg.n_tgt) {
        return;
    }
    let r = t / cfg.n_tgt;
    let j = t % cfg.n_tgt;
    var rng = connect_stream(cfg, r, j);
    for (var d = 0u; d < cfg.indegree; d = d + 1u) {
        let s = connect_next_source(cfg, &rng, j);
        atomicAdd(&counts[r * cfg.n_src + s], 1u);
    }
}
