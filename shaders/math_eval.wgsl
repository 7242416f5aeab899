// math_eval: applies one function of shared/math.wgsl to every input, for the GPU-vs-CPU
// identity test of the elementary functions. CPU twin: kernels::math_eval::math_eval.

// #import shared/math.wgsl
// #import shared/grid.wgsl

const FN_EXP: u32 = 0u;
const FN_LOG: u32 = 1u;
const FN_SIN: u32 = 2u;
const FN_COS: u32 = 3u;

// Keep in sync with kernels::math_eval::MathEvalParams.
struct MathEvalParams {
    n: u32,
    func: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: MathEvalParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn math_eval(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_index(gid, nwg, 64u);
    if (i >= params.n) {
        return;
    }
    let v = x[i];
    switch params.func {
        case FN_EXP: {
            y[i] = npm_exp(v);
        }
        case FN_LOG: {
            y[i] = npm_log(v);
        }
        case FN_SIN: {
            y[i] = npm_sincos(v).x;
        }
        default: {
            y[i] = npm_sincos(v).y;
        }
    }
}
