//! GPU runners of the test kernels (`rng_u32`, `rng_sample`, `math_eval`), for tests and
//! benchmarks.

use crate::error::Result;
use crate::kernels::math_eval::{self, MathEvalParams};
use crate::kernels::rng_sample::{self, RngSampleParams};
use crate::kernels::rng_u32::{self, RngU32Params};

use super::{BufferSpec, GpuContext};

/// Runs `rng_u32` and returns its output ([`RngU32Params::output_len`] words).
pub fn run_rng_u32(ctx: &GpuContext, params: &RngU32Params) -> Result<Vec<u32>> {
    let len = params.output_len();
    let pipeline = ctx.pipeline(&rng_u32::DESC)?;
    let uniform = ctx.uniform_buffer("rng_u32.params", params)?;
    let out = ctx.storage_buffer("rng_u32.out", len as u64 * 4, BufferSpec::State)?;
    pipeline.run_once(ctx, &[&uniform, &out], u64::from(params.n_elements))?;
    ctx.read(&out, 0, len)
}

/// Runs `rng_sample` and returns `n_elements * draws` words (floats as bits).
pub fn run_rng_sample(
    ctx: &GpuContext,
    params: &RngSampleParams,
    param_a: &[f32],
    param_n: &[u32],
) -> Result<Vec<u32>> {
    let len = params.n_elements as usize * params.draws as usize;
    let pipeline = ctx.pipeline(&rng_sample::DESC)?;
    let uniform = ctx.uniform_buffer("rng_sample.params", params)?;
    let a = ctx.storage_buffer_init("rng_sample.param_a", param_a, BufferSpec::Input)?;
    let n = ctx.storage_buffer_init("rng_sample.param_n", param_n, BufferSpec::Input)?;
    let out = ctx.storage_buffer("rng_sample.out", len as u64 * 4, BufferSpec::State)?;
    pipeline.run_once(ctx, &[&uniform, &a, &n, &out], u64::from(params.n_elements))?;
    ctx.read(&out, 0, len)
}

/// Runs `math_eval` over `x`.
pub fn run_math_eval(ctx: &GpuContext, func: math_eval::MathFn, x: &[f32]) -> Result<Vec<f32>> {
    let params = MathEvalParams {
        n: x.len() as u32,
        func: func as u32,
        _pad: [0; 2],
    };
    let pipeline = ctx.pipeline(&math_eval::DESC)?;
    let uniform = ctx.uniform_buffer("math_eval.params", &params)?;
    let xb = ctx.storage_buffer_init("math_eval.x", x, BufferSpec::Input)?;
    let yb = ctx.storage_buffer("math_eval.y", x.len() as u64 * 4, BufferSpec::State)?;
    pipeline.run_once(ctx, &[&uniform, &xb, &yb], x.len() as u64)?;
    ctx.read(&yb, 0, x.len())
}
