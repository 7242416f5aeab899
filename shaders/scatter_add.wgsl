// scatter_add: the delivery primitive of the spiking networks on its own, for the benchmark
// and the adapter test. Thread t takes events t * per_thread .. (t + 1) * per_thread - 1 and
// adds 1 to the count of each event's target (read from `targets`, as deliver_spikes reads a
// CSR row), with an integer atomic, so the counts do not depend on the order. CPU twin:
// kernels::scatter_add::scatter_add.

// #import shared/grid.wgsl

// Keep in sync with kernels::scatter_add::ScatterParams.
struct ScatterParams {
    n_events: u32,
    per_thread: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: ScatterParams;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>;

@compute @workgroup_size(64)
fn scatter_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = linear_index(gid, nwg, 64u);
    let e0 = t * params.per_thread;
    let e1 = min(e0 + params.per_thread, params.n_events);
    for (var e = e0; e < e1; e = e + 1u) {
        atomicAdd(&counts[targets[e]], 1u);
    }
}
