// rng_sample: draws from one sampler of shared/rng.wgsl, for the sampler tests and benchmark.
// CPU twin: kernels::rng_sample::rng_sample. Element e draws `draws` samples in sequence from
// its stream (seed, e, step, purpose) with its own parameters (param_a[e], param_n[e]) and
// stores them (floats as their bit patterns) at out[e * draws + j].

// #import shared/rng.wgsl
// #import shared/grid.wgsl

const DIST_UNIFORM: u32 = 0u;
const DIST_NORMAL: u32 = 1u;
const DIST_POISSON: u32 = 2u;
const DIST_BINOMIAL: u32 = 3u;

// Keep in sync with kernels::rng_sample::RngSampleParams.
struct RngSampleParams {
    seed_lo: u32,
    seed_hi: u32,
    step: u32,
    purpose: u32,
    n_elements: u32,
    draws: u32,
    dist: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: RngSampleParams;
@group(0) @binding(1) var<storage, read> param_a: array<f32>;
@group(0) @binding(2) var<storage, read> param_n: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(64)
fn rng_sample(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear_index(gid, nwg, 64u);
    if (e >= params.n_elements) {
        return;
    }
    var r = rng_init(vec2<u32>(params.seed_lo, params.seed_hi), e, params.step, params.purpose);
    let a = param_a[e];
    let n = param_n[e];
    let base = e * params.draws;
    var j = 0u;
    loop {
        if (j >= params.draws) {
            break;
        }
        switch params.dist {
            case DIST_UNIFORM: {
                out[base + j] = bitcast<u32>(rng_uniform(&r));
                j = j + 1u;
            }
            case DIST_NORMAL: {
                let z = rng_normal2(&r);
                out[base + j] = bitcast<u32>(z.x);
                if (j + 1u < params.draws) {
                    out[base + j + 1u] = bitcast<u32>(z.y);
                }
                j = j + 2u;
            }
            case DIST_POISSON: {
                out[base + j] = rng_poisson(&r, a);
                j = j + 1u;
            }
            default: {
                out[base + j] = rng_binomial(&r, n, a);
                j = j + 1u;
            }
        }
    }
}
