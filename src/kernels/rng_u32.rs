//! `rng_u32`: raw Philox streams (shaders/rng_u32.wgsl) and its CPU twin.

use super::{Binding, BindingKind, KernelDesc, Layout};
use crate::cpu::par_chunks_mut;
use crate::rng::philox4x32_10;

/// Uniform parameters. Keep in sync with `struct RngU32Params` in shaders/rng_u32.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct RngU32Params {
    /// Low word of the seed (Philox key word 0).
    pub seed_lo: u32,
    /// High word of the seed (Philox key word 1).
    pub seed_hi: u32,
    /// Step (counter word 1).
    pub step: u32,
    /// Purpose (counter word 2).
    pub purpose: u32,
    /// Number of elements (threads).
    pub n_elements: u32,
    /// Philox blocks (4 draws each) per element.
    pub blocks: u32,
    /// 0: store every draw; 1: store the xor of each element's draws.
    pub mode: u32,
    /// Element index of thread 0.
    pub first_element: u32,
    /// First Philox block (counter word 3) each element generates.
    pub first_block: u32,
    /// Padding to a multiple of 16 bytes.
    pub _pad: [u32; 3],
}

impl RngU32Params {
    /// Number of u32 the output holds for these parameters.
    pub fn output_len(&self) -> usize {
        if self.mode == 0 {
            self.n_elements as usize * self.blocks as usize * 4
        } else {
            self.n_elements as usize
        }
    }
}

/// Descriptor of the `rng_u32` kernel.
pub const DESC: KernelDesc = KernelDesc {
    name: "rng_u32",
    shader: "rng_u32.wgsl",
    entry: "rng_u32",
    workgroup_size: [64, 1, 1],
    overrides: &[],
    bindings: &[
        Binding::uniform::<RngU32Params>("params"),
        Binding::new("out", BindingKind::StorageReadWrite, Layout::Array(4)),
    ],
};

/// CPU twin of the `rng_u32` entry point; `out` must hold [`RngU32Params::output_len`] words.
pub fn rng_u32(params: &RngU32Params, out: &mut [u32]) {
    let key = [params.seed_lo, params.seed_hi];
    let blocks = params.blocks as usize;
    if params.mode == 0 {
        let per = blocks * 4;
        par_chunks_mut(out, per.max(1), |first, chunk| {
            for (i, elem) in chunk.chunks_mut(per.max(1)).enumerate() {
                let e = params.first_element.wrapping_add((first + i) as u32);
                for b in 0..blocks {
                    let ctr = [
                        e,
                        params.step,
                        params.purpose,
                        params.first_block.wrapping_add(b as u32),
                    ];
                    let x = philox4x32_10(ctr, key);
                    elem[4 * b..4 * b + 4].copy_from_slice(&x);
                }
            }
        });
    } else {
        par_chunks_mut(out, 1, |first, chunk| {
            for (i, slot) in chunk.iter_mut().enumerate() {
                let e = params.first_element.wrapping_add((first + i) as u32);
                let mut acc = 0u32;
                for b in 0..blocks {
                    let ctr = [
                        e,
                        params.step,
                        params.purpose,
                        params.first_block.wrapping_add(b as u32),
                    ];
                    let x = philox4x32_10(ctr, key);
                    acc ^= x[0] ^ x[1] ^ x[2] ^ x[3];
                }
                *slot = acc;
            }
        });
    }
}
