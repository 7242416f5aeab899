// rng_u32: raw Philox streams, for the GPU-vs-CPU identity test and the RNG benchmark.
// CPU twin: kernels::rng_u32::rng_u32. Thread t serves element e = first_element + t and
// writes the Philox blocks first_block .. first_block + blocks of its stream (seed, e, step,
// purpose) at out[4 * blocks * t ..]; mode 1 folds them with xor into out[t] instead, so the
// benchmark measures generation rather than memory traffic. The offsets let any counter be
// reached, e.g. the Random123 known-answer vectors.

// #import shared/rng.wgsl
// #import shared/grid.wgsl

// Keep in sync with kernels::rng_u32::RngU32Params.
struct RngU32Params {
    seed_lo: u32,
    seed_hi: u32,
    step: u32,
    purpose: u32,
    n_elements: u32,
    blocks: u32,
    mode: u32,
    first_element: u32,
    first_block: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: RngU32Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(64)
fn rng_u32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = linear_index(gid, nwg, 64u);
    if (t >= params.n_elements) {
        return;
    }
    let e = params.first_element + t;
    let key = vec2<u32>(params.seed_lo, params.seed_hi);
    if (params.mode == 0u) {
        let base = t * params.blocks * 4u;
        for (var b = 0u; b < params.blocks; b = b + 1u) {
            let x = philox4x32_10(vec4<u32>(e, params.step, params.purpose, params.first_block + b), key);
            out[base + 4u * b] = x.x;
            out[base + 4u * b + 1u] = x.y;
            out[base + 4u * b + 2u] = x.z;
            out[base + 4u * b + 3u] = x.w;
        }
    } else {
        var acc = 0u;
        for (var b = 0u; b < params.blocks; b = b + 1u) {
            let x = philox4x32_10(vec4<u32>(e, params.step, params.purpose, params.first_block + b), key);
            acc = acc ^ x.x ^ x.y ^ x.z ^ x.w;
        }
        out[t] = acc;
    }
}
