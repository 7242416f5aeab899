//! GPU runners of the test kernels (`rng_u32`, `rng_sample`, `math_eval`, `scatter_add`), for
//! tests and benchmarks.

use crate::error::{Error, Result};
use crate::kernels::math_eval::{self, MathEvalParams};
use crate::kernels::rng_sample::{self, RngSampleParams};
use crate::kernels::rng_u32::{self, RngU32Params};
use crate::kernels::scatter_add::{self, ScatterParams};

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

/// `scatter_add` with its targets resident on the device, so repeated runs time the kernel
/// alone.
pub struct ScatterAdd {
    pipeline: std::sync::Arc<super::Pipeline>,
    targets: wgpu::Buffer,
    counts: wgpu::Buffer,
    n_counts: usize,
}

impl ScatterAdd {
    /// Uploads `targets` and zeroed counts for targets `0 .. n_counts`; every target must be
    /// below `n_counts`.
    pub fn new(ctx: &GpuContext, targets: &[u32], n_counts: usize) -> Result<Self> {
        if let Some(&bad) = targets.iter().find(|&&t| t as usize >= n_counts) {
            return Err(Error::InvalidArgument(format!(
                "scatter_add: target {bad} is not below the {n_counts} counts"
            )));
        }
        Ok(Self {
            pipeline: ctx.pipeline(&scatter_add::DESC)?,
            targets: ctx.storage_buffer_init("scatter_add.targets", targets, BufferSpec::Input)?,
            counts: ctx.storage_buffer(
                "scatter_add.counts",
                n_counts.max(1) as u64 * 4,
                BufferSpec::State,
            )?,
            n_counts,
        })
    }

    /// One dispatch over the first `params.n_events` targets; waits for it.
    pub fn run(&self, ctx: &GpuContext, params: &ScatterParams) -> Result<()> {
        let uniform = ctx.uniform_buffer("scatter_add.params", params)?;
        self.pipeline.run_once(
            ctx,
            &[&uniform, &self.targets, &self.counts],
            params.threads(),
        )
    }

    /// The counts so far (all runs added).
    pub fn counts(&self, ctx: &GpuContext) -> Result<Vec<u32>> {
        ctx.read(&self.counts, 0, self.n_counts)
    }
}
