//! The two ways to execute `lif_step`: the CPU twin on host vectors, or the shader on device
//! buffers that stay resident for a whole batch (only records and final counts are read).

use super::kernel::{lif_step, LifBuffers, LifCoef, LifConfig, LifState, Specialization};
use crate::error::Result;

/// What one dispatch recorded: spikes per recorded neuron, spike words, trace values.
pub type Records = (Vec<u32>, Vec<u32>, Vec<f32>);

/// Executes `lif_step` chunks for one batch of neurons.
pub trait LifEngine {
    /// Uploads the coefficients of a new batch and the window table.
    fn load(&mut self, coef: &[LifCoef], windows: &[u32]) -> Result<()>;
    /// Advances the batch by `cfg.n_steps` steps with the per-step stimulus table `stim`.
    fn step(&mut self, cfg: &LifConfig, stim: &[f32]) -> Result<()>;
    /// Waits until submitted work is done.
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
    /// Spike counts (`n_rec`), spike words (`n_rec * cap * 2`) and `trace_len` trace values
    /// written by the last step.
    fn records(&mut self, n_rec: usize, cap: usize, trace_len: usize) -> Result<Records>;
    /// State and counts (`n * windows`) of the first `n` neurons.
    fn results(&mut self, n: usize, windows: usize) -> Result<(Vec<LifState>, Vec<u32>)>;
}

/// The CPU reference path.
pub struct CpuEngine {
    spec: Specialization,
    coef: Vec<LifCoef>,
    windows: Vec<u32>,
    state: Vec<LifState>,
    counts: Vec<u32>,
    spike_n: Vec<u32>,
    spikes: Vec<u32>,
    trace: Vec<f32>,
}

impl CpuEngine {
    /// Room for `n` neurons, `spike_words` spike words and `trace_len` trace values.
    pub fn new(
        spec: Specialization,
        n: usize,
        n_rec: usize,
        spike_words: usize,
        trace_len: usize,
    ) -> Self {
        Self {
            spec,
            coef: Vec::new(),
            windows: Vec::new(),
            state: vec![LifState::default(); n],
            counts: vec![0; n * spec.windows as usize],
            spike_n: vec![0; n_rec.max(1)],
            spikes: vec![0; spike_words.max(1)],
            trace: vec![0.0; trace_len.max(1)],
        }
    }
}

impl LifEngine for CpuEngine {
    fn load(&mut self, coef: &[LifCoef], windows: &[u32]) -> Result<()> {
        self.coef = coef.to_vec();
        self.windows = windows.to_vec();
        Ok(())
    }

    fn step(&mut self, cfg: &LifConfig, stim: &[f32]) -> Result<()> {
        let n = cfg.n_threads as usize;
        let nw = self.spec.windows as usize;
        lif_step(
            &self.spec,
            cfg,
            LifBuffers {
                coef: &self.coef,
                stim,
                windows: &self.windows,
                state: &mut self.state[..n],
                counts: &mut self.counts[..n * nw],
                spike_n: &mut self.spike_n,
                spikes: &mut self.spikes,
                trace: &mut self.trace,
            },
        );
        Ok(())
    }

    fn records(&mut self, n_rec: usize, cap: usize, trace_len: usize) -> Result<Records> {
        Ok((
            self.spike_n[..n_rec].to_vec(),
            self.spikes[..n_rec * cap * 2].to_vec(),
            self.trace[..trace_len].to_vec(),
        ))
    }

    fn results(&mut self, n: usize, windows: usize) -> Result<(Vec<LifState>, Vec<u32>)> {
        Ok((
            self.state[..n].to_vec(),
            self.counts[..n * windows].to_vec(),
        ))
    }
}

#[cfg(feature = "gpu")]
pub use gpu::GpuEngine;

#[cfg(feature = "gpu")]
mod gpu {
    use std::sync::Arc;

    use super::super::kernel::{LifCoef, LifConfig, LifState, Specialization, DESC};
    use super::{LifEngine, Records};
    use crate::error::{Error, Result};
    use crate::gpu::{BufferSpec, GpuContext, Pipeline};

    /// The shader path: buffers allocated once per run.
    pub struct GpuEngine {
        ctx: Arc<GpuContext>,
        pipeline: Arc<Pipeline>,
        cfg: wgpu::Buffer,
        coef: wgpu::Buffer,
        stim: wgpu::Buffer,
        windows: wgpu::Buffer,
        state: wgpu::Buffer,
        counts: wgpu::Buffer,
        spike_n: wgpu::Buffer,
        spikes: wgpu::Buffer,
        trace: wgpu::Buffer,
        bind: Option<wgpu::BindGroup>,
    }

    impl GpuEngine {
        /// Pipeline specialised for `spec`; buffers for `n` neurons, `coef_len`
        /// coefficients, `stim_len` stimulus values, `n_rec` recorded neurons with
        /// `spike_words` spike words and `trace_len` trace values.
        #[allow(clippy::too_many_arguments)]
        pub fn new(
            ctx: Arc<GpuContext>,
            spec: &Specialization,
            n: usize,
            coef_len: usize,
            stim_len: usize,
            n_rec: usize,
            spike_words: usize,
            trace_len: usize,
        ) -> Result<Self> {
            let pipeline = ctx.pipeline_with(&DESC, &spec.constants())?;
            let sz = |len: usize, elem: usize| (len.max(1) * elem) as u64;
            let cfg = ctx.uniform_buffer("lif.cfg", &LifConfig::default())?;
            let coef = ctx.storage_buffer(
                "lif.coef",
                sz(coef_len, std::mem::size_of::<LifCoef>()),
                BufferSpec::Input,
            )?;
            let stim = ctx.storage_buffer("lif.stim", sz(stim_len, 4), BufferSpec::Input)?;
            let windows = ctx.storage_buffer(
                "lif.windows",
                sz(2 * spec.windows as usize, 4),
                BufferSpec::Input,
            )?;
            let state = ctx.storage_buffer(
                "lif.state",
                sz(n, std::mem::size_of::<LifState>()),
                BufferSpec::State,
            )?;
            let counts = ctx.storage_buffer(
                "lif.counts",
                sz(n * spec.windows as usize, 4),
                BufferSpec::State,
            )?;
            let spike_n = ctx.storage_buffer("lif.spike_n", sz(n_rec, 4), BufferSpec::State)?;
            let spikes = ctx.storage_buffer("lif.spikes", sz(spike_words, 4), BufferSpec::State)?;
            let trace = ctx.storage_buffer("lif.trace", sz(trace_len, 4), BufferSpec::State)?;
            Ok(Self {
                ctx,
                pipeline,
                cfg,
                coef,
                stim,
                windows,
                state,
                counts,
                spike_n,
                spikes,
                trace,
                bind: None,
            })
        }
    }

    impl LifEngine for GpuEngine {
        fn load(&mut self, coef: &[LifCoef], windows: &[u32]) -> Result<()> {
            self.ctx.write(&self.coef, 0, coef);
            self.ctx.write(&self.windows, 0, windows);
            if self.bind.is_none() {
                self.bind = Some(self.pipeline.bind(
                    &self.ctx,
                    &[
                        &self.cfg,
                        &self.coef,
                        &self.stim,
                        &self.windows,
                        &self.state,
                        &self.counts,
                        &self.spike_n,
                        &self.spikes,
                        &self.trace,
                    ],
                )?);
            }
            Ok(())
        }

        fn step(&mut self, cfg: &LifConfig, stim: &[f32]) -> Result<()> {
            self.ctx.write(&self.cfg, 0, std::slice::from_ref(cfg));
            if !stim.is_empty() {
                self.ctx.write(&self.stim, 0, stim);
            }
            let Some(bind) = &self.bind else {
                return Err(Error::Gpu("lif engine stepped before load".into()));
            };
            self.pipeline
                .submit(&self.ctx, bind, u64::from(cfg.n_threads));
            Ok(())
        }

        fn sync(&mut self) -> Result<()> {
            self.ctx.wait()
        }

        fn records(&mut self, n_rec: usize, cap: usize, trace_len: usize) -> Result<Records> {
            let n = if n_rec > 0 {
                self.ctx.read(&self.spike_n, 0, n_rec)?
            } else {
                Vec::new()
            };
            let s = if n_rec > 0 {
                self.ctx.read(&self.spikes, 0, n_rec * cap * 2)?
            } else {
                Vec::new()
            };
            let t = if trace_len > 0 {
                self.ctx.read(&self.trace, 0, trace_len)?
            } else {
                Vec::new()
            };
            Ok((n, s, t))
        }

        fn results(&mut self, n: usize, windows: usize) -> Result<(Vec<LifState>, Vec<u32>)> {
            Ok((
                self.ctx.read(&self.state, 0, n)?,
                self.ctx.read(&self.counts, 0, n * windows)?,
            ))
        }
    }
}
