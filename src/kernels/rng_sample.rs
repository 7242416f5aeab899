//! `rng_sample`: draws from one sampler (shaders/rng_sample.wgsl) and its CPU twin.

use super::{Binding, BindingKind, KernelDesc, Layout};
use crate::cpu::par_chunks_mut;
use crate::rng::Rng;

/// Which sampler `rng_sample` draws from (the shader's `DIST_*` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Dist {
    /// Uniform on (0, 1], stored as f32 bits.
    Uniform = 0,
    /// Standard normal, stored as f32 bits (pairs from one Box-Muller step).
    Normal = 1,
    /// Poisson with mean `param_a`.
    Poisson = 2,
    /// Binomial with `param_n` trials and probability `param_a`.
    Binomial = 3,
}

/// Uniform parameters. Keep in sync with `struct RngSampleParams` in shaders/rng_sample.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct RngSampleParams {
    /// Low word of the seed.
    pub seed_lo: u32,
    /// High word of the seed.
    pub seed_hi: u32,
    /// Step (counter word 1).
    pub step: u32,
    /// Purpose (counter word 2).
    pub purpose: u32,
    /// Number of elements (threads).
    pub n_elements: u32,
    /// Samples per element.
    pub draws: u32,
    /// A [`Dist`] as u32.
    pub dist: u32,
    /// Padding to 16 bytes.
    pub _pad: u32,
}

/// Descriptor of the `rng_sample` kernel.
pub const DESC: KernelDesc = KernelDesc {
    name: "rng_sample",
    shader: "rng_sample.wgsl",
    entry: "rng_sample",
    workgroup_size: [64, 1, 1],
    overrides: &[],
    bindings: &[
        Binding::uniform::<RngSampleParams>("params"),
        Binding::new("param_a", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("param_n", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("out", BindingKind::StorageReadWrite, Layout::Array(4)),
    ],
};

/// CPU twin of the `rng_sample` entry point. `param_a` and `param_n` hold one value per
/// element; `out` holds `n_elements * draws` words (floats as bits).
pub fn rng_sample(params: &RngSampleParams, param_a: &[f32], param_n: &[u32], out: &mut [u32]) {
    let draws = params.draws as usize;
    if draws == 0 {
        return;
    }
    par_chunks_mut(out, draws, |first, chunk| {
        for (i, slot) in chunk.chunks_mut(draws).enumerate() {
            let e = first + i;
            let mut r = Rng::new(
                u64::from(params.seed_lo) | (u64::from(params.seed_hi) << 32),
                e as u32,
                params.step,
                params.purpose,
            );
            let a = param_a[e];
            let n = param_n[e];
            let mut j = 0;
            while j < draws {
                match params.dist {
                    0 => {
                        slot[j] = r.uniform().to_bits();
                        j += 1;
                    }
                    1 => {
                        let z = r.normal2();
                        slot[j] = z[0].to_bits();
                        if j + 1 < draws {
                            slot[j + 1] = z[1].to_bits();
                        }
                        j += 2;
                    }
                    2 => {
                        slot[j] = r.poisson(a);
                        j += 1;
                    }
                    _ => {
                        slot[j] = r.binomial(n, a);
                        j += 1;
                    }
                }
            }
        }
    });
}
