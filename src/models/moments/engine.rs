//! Evaluating the moment activation over many points on the GPU (`moment_activation`
//! kernel) or on the CPU twin (threads via `cpu::par_chunks_mut`), chosen by [`Backend`].

use serde::Serialize;

use crate::backend::Backend;
use crate::error::{Error, Result};

use super::kernel::{self, MomentKernelParams};
use super::params::{validate_input, MomentParams};

/// Points per GPU dispatch (16 MiB of output per chunk).
#[cfg(feature = "gpu")]
const GPU_CHUNK: usize = 1 << 20;

/// `[rate, std, fano, chi]` in f32 for every point `(mu_bar[i], sigma_bar[i])`, on the
/// given backend. Inputs are checked first (finite, sigma_bar >= 0).
pub fn moment_activation_points(
    backend: &Backend,
    p: &MomentParams,
    mu_bar: &[f32],
    sigma_bar: &[f32],
) -> Result<Vec<[f32; 4]>> {
    p.validate()?;
    if mu_bar.len() != sigma_bar.len() {
        return Err(Error::InvalidArgument(format!(
            "moment activation: {} mu_bar values but {} sigma_bar values",
            mu_bar.len(),
            sigma_bar.len()
        )));
    }
    for (&m, &s) in mu_bar.iter().zip(sigma_bar) {
        validate_input(f64::from(m), f64::from(s))?;
    }
    let coef = kernel::coefficient_table();
    match backend {
        Backend::Cpu => {
            let kp = MomentKernelParams::new(p, mu_bar.len() as u32);
            let mut out = vec![0.0f32; 4 * mu_bar.len()];
            crate::cpu::par_chunks_mut(&mut out, 4, |first, chunk| {
                let n = chunk.len() / 4;
                let kp = MomentKernelParams { n: n as u32, ..kp };
                kernel::moment_activation(
                    &kp,
                    coef,
                    &mu_bar[first..first + n],
                    &sigma_bar[first..first + n],
                    chunk,
                );
            });
            Ok(out
                .chunks_exact(4)
                .map(|c| [c[0], c[1], c[2], c[3]])
                .collect())
        }
        #[cfg(feature = "gpu")]
        Backend::Gpu(ctx) => {
            use crate::gpu::BufferSpec;
            let pipeline = ctx.pipeline(&kernel::DESC)?;
            let coef_buf = ctx.storage_buffer_init("moments.coef", coef, BufferSpec::Input)?;
            let mut all = Vec::with_capacity(mu_bar.len());
            for (mu, sigma) in mu_bar.chunks(GPU_CHUNK).zip(sigma_bar.chunks(GPU_CHUNK)) {
                let n = mu.len();
                let kp = MomentKernelParams::new(p, n as u32);
                let uniform = ctx.uniform_buffer("moments.params", &kp)?;
                let mb = ctx.storage_buffer_init("moments.mu_bar", mu, BufferSpec::Input)?;
                let sb = ctx.storage_buffer_init("moments.sigma_bar", sigma, BufferSpec::Input)?;
                let ob = ctx.storage_buffer("moments.out", 16 * n as u64, BufferSpec::State)?;
                pipeline.run_once(ctx, &[&uniform, &coef_buf, &mb, &sb, &ob], n as u64)?;
                let v: Vec<f32> = ctx.read(&ob, 0, 4 * n)?;
                all.extend(v.chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]));
            }
            Ok(all)
        }
    }
}

/// The moment activation over the grid `mu_bar x sigma_bar`, each output y-major
/// (`z[i_sigma * mu.len() + i_mu]`, the layout of `output::plot::HeatMap`).
#[derive(Debug, Clone, Serialize)]
pub struct MomentGrid {
    /// Input means, mV/ms.
    pub mu_bar: Vec<f64>,
    /// Input stds, mV/sqrt(ms).
    pub sigma_bar: Vec<f64>,
    /// Mean rate, spikes/ms.
    pub rate: Vec<f64>,
    /// Output std, spikes/sqrt(ms).
    pub std: Vec<f64>,
    /// Fano factor.
    pub fano: Vec<f64>,
    /// Linear perturbation coefficient.
    pub chi: Vec<f64>,
}

/// Evaluates the grid on `backend` (f32 kernel or its CPU twin).
pub fn moment_activation_grid(
    backend: &Backend,
    p: &MomentParams,
    mu_bar: &[f64],
    sigma_bar: &[f64],
) -> Result<MomentGrid> {
    let mut mu = Vec::with_capacity(mu_bar.len() * sigma_bar.len());
    let mut sg = Vec::with_capacity(mu.capacity());
    for &s in sigma_bar {
        for &m in mu_bar {
            mu.push(m as f32);
            sg.push(s as f32);
        }
    }
    let r = moment_activation_points(backend, p, &mu, &sg)?;
    let col = |k: usize| r.iter().map(|v| f64::from(v[k])).collect::<Vec<f64>>();
    Ok(MomentGrid {
        mu_bar: mu_bar.to_vec(),
        sigma_bar: sigma_bar.to_vec(),
        rate: col(0),
        std: col(1),
        fano: col(2),
        chi: col(3),
    })
}
