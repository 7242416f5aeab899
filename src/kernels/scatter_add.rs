//! `scatter_add`: one increment per event at the event's target (shaders/scatter_add.wgsl),
//! the inner operation of spike delivery, and its CPU twin. `neuropop bench scatter` times it
//! alone: on a software adapter it bounds what any delivery scheme that pushes counts can
//! reach.

use super::{Binding, BindingKind, KernelDesc, Layout, GPU_LOOP_BUDGET};

/// Uniform parameters. Keep in sync with `struct ScatterParams` in shaders/scatter_add.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ScatterParams {
    /// Number of events (entries of `targets`).
    pub n_events: u32,
    /// Consecutive events per thread (at most [`GPU_LOOP_BUDGET`]).
    pub per_thread: u32,
    /// Padding to 16 bytes.
    pub _pad: [u32; 2],
}

impl ScatterParams {
    /// Parameters for `n_events` events, `per_thread` to a thread (clamped to 1 ..=
    /// [`GPU_LOOP_BUDGET`]).
    pub fn new(n_events: u32, per_thread: u32) -> Self {
        Self {
            n_events,
            per_thread: per_thread.clamp(1, GPU_LOOP_BUDGET as u32),
            _pad: [0; 2],
        }
    }

    /// Threads one dispatch needs.
    pub fn threads(&self) -> u64 {
        u64::from(self.n_events).div_ceil(u64::from(self.per_thread))
    }
}

/// Descriptor of the `scatter_add` kernel.
pub const DESC: KernelDesc = KernelDesc {
    name: "scatter_add",
    shader: "scatter_add.wgsl",
    entry: "scatter_add",
    workgroup_size: [64, 1, 1],
    overrides: &[],
    bindings: &[
        Binding::uniform::<ScatterParams>("params"),
        Binding::new("targets", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("counts", BindingKind::StorageReadWrite, Layout::Array(4)),
    ],
};

/// CPU twin of the `scatter_add` entry point: the threads' event ranges one after another.
/// Targets at or beyond `counts.len()` are skipped (the GPU runner refuses them).
pub fn scatter_add(params: &ScatterParams, targets: &[u32], counts: &mut [u32]) {
    let n = (params.n_events as usize).min(targets.len());
    for &tgt in &targets[..n] {
        if let Some(c) = counts.get_mut(tgt as usize) {
            *c = c.wrapping_add(1);
        }
    }
}
