//! One kernel with its pipeline, one buffer per binding and the bind group over them: what
//! the engines of the models that drive a single kernel (rate, lif, gif_pop) share.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::kernels::KernelDesc;

use super::{GpuContext, Pipeline};

/// A kernel ready to run chunk after chunk: buffers allocated once (sized from the
/// descriptor, see [`GpuContext::kernel_buffers`]), the bind group built at the first
/// dispatch, each dispatch submitted without waiting.
pub struct KernelRunner {
    ctx: Arc<GpuContext>,
    pipeline: Arc<Pipeline>,
    buffers: Vec<wgpu::Buffer>,
    bind: Option<wgpu::BindGroup>,
}

impl KernelRunner {
    /// The pipeline of `desc` with values for its `override` constants, and one zeroed
    /// buffer per binding with `lens[i]` elements (as [`GpuContext::kernel_buffers`]), each
    /// checked against the device's limits before anything runs.
    pub fn new(
        ctx: Arc<GpuContext>,
        desc: &'static KernelDesc,
        constants: &[(&'static str, f64)],
        lens: &[usize],
    ) -> Result<Self> {
        let pipeline = ctx.pipeline_with(desc, constants)?;
        let buffers = ctx.kernel_buffers(desc, lens)?;
        Ok(Self {
            ctx,
            pipeline,
            buffers,
            bind: None,
        })
    }

    /// The pipeline's workgroup size.
    pub fn workgroup(&self) -> u32 {
        self.pipeline.workgroup()
    }

    /// Binding `i`'s buffer.
    fn buffer(&self, i: usize) -> Result<&wgpu::Buffer> {
        self.buffers.get(i).ok_or_else(|| {
            Error::Gpu(format!(
                "kernel `{}` has no binding {i}",
                self.pipeline.desc().name
            ))
        })
    }

    /// Queues a write of `data` at the start of binding `i`'s buffer (applied before the
    /// next dispatch); empty data writes nothing.
    pub fn write<T: bytemuck::Pod>(&self, i: usize, data: &[T]) -> Result<()> {
        if !data.is_empty() {
            self.ctx.write(self.buffer(i)?, 0, data);
        }
        Ok(())
    }

    /// Submits one dispatch of `n_threads` threads without waiting.
    pub fn submit(&mut self, n_threads: u64) -> Result<()> {
        if self.bind.is_none() {
            self.bind = Some(self.pipeline.bind_all(&self.ctx, &self.buffers)?);
        }
        if let Some(bind) = &self.bind {
            self.pipeline.submit(&self.ctx, bind, n_threads);
        }
        Ok(())
    }

    /// Waits for every submitted dispatch.
    pub fn wait(&self) -> Result<()> {
        self.ctx.wait()
    }

    /// `len` elements from the start of binding `i`'s buffer (waits for submitted work).
    pub fn read<T: bytemuck::Pod>(&self, i: usize, len: usize) -> Result<Vec<T>> {
        self.ctx.read(self.buffer(i)?, 0, len)
    }
}
