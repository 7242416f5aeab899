//! Kernel descriptors and the CPU twins of the kernels, free of wgpu.
//!
//! A [`KernelDesc`] says everything the runtime needs to build a pipeline (shader file, entry
//! point, workgroup size) and, in order, what each `@binding` of group 0 holds. The GPU runtime
//! builds bind-group layouts from it; the naga test (`tests/shader_validation.rs`) checks it
//! against the parsed shader, including the byte size of every `#[repr(C)]` struct the Rust
//! side uploads. Each kernel module also holds the kernel's CPU twin, a function of the same
//! name as the entry point that mirrors the shader line by line. Model kernels live with their
//! model (e.g. `models::rate::kernel`) and are listed in [`ALL`] too.

pub mod math_eval;
pub mod rng_sample;
pub mod rng_u32;
pub mod scatter_add;

/// How a binding is accessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingKind {
    /// `var<uniform>`: a small parameter struct.
    Uniform,
    /// `var<uniform>` bound with a dynamic offset: one struct per dispatch, many structs in
    /// one buffer at [`UNIFORM_STRIDE`]-byte steps, so a single submit can run many dispatches
    /// with different parameters.
    UniformDynamic,
    /// `var<storage, read>`.
    StorageRead,
    /// `var<storage, read_write>`.
    StorageReadWrite,
}

/// What the Rust side puts in a binding, for the size check against the shader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One struct of this many bytes (`size_of` of the `#[repr(C)]` Rust type).
    Struct(usize),
    /// A runtime-sized array whose elements are this many bytes apart.
    Array(usize),
}

/// One `@group(0) @binding(i)` entry; the index is its position in [`KernelDesc::bindings`].
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// Variable name in the shader.
    pub name: &'static str,
    /// Access mode.
    pub kind: BindingKind,
    /// Size or stride the Rust side assumes.
    pub layout: Layout,
}

impl Binding {
    /// A binding entry, for the descriptors' binding lists.
    pub const fn new(name: &'static str, kind: BindingKind, layout: Layout) -> Self {
        Self { name, kind, layout }
    }

    /// A `var<uniform>` holding one `T`.
    pub const fn uniform<T>(name: &'static str) -> Self {
        Self::new(
            name,
            BindingKind::Uniform,
            Layout::Struct(std::mem::size_of::<T>()),
        )
    }

    /// A `var<uniform>` holding one `T`, bound with a dynamic offset.
    pub const fn uniform_dynamic<T>(name: &'static str) -> Self {
        Self::new(
            name,
            BindingKind::UniformDynamic,
            Layout::Struct(std::mem::size_of::<T>()),
        )
    }

    /// A storage array of `T` with access `kind`.
    pub const fn array<T>(name: &'static str, kind: BindingKind) -> Self {
        Self::new(name, kind, Layout::Array(std::mem::size_of::<T>()))
    }
}

/// Everything needed to build and check one compute kernel.
#[derive(Debug, Clone, Copy)]
pub struct KernelDesc {
    /// Kernel name; also the CPU twin's function name.
    pub name: &'static str,
    /// Shader file under `shaders/`.
    pub shader: &'static str,
    /// Entry point (`@compute fn`).
    pub entry: &'static str,
    /// `@workgroup_size` of the entry point (the default when it is the override `WG`).
    pub workgroup_size: [u32; 3],
    /// Pipeline-overridable constants (`override NAME`) the runtime sets when it builds the
    /// pipeline (one pipeline per distinct set of values).
    pub overrides: &'static [&'static str],
    /// Group-0 bindings in binding-index order.
    pub bindings: &'static [Binding],
}

/// Byte distance between the structs of a [`BindingKind::UniformDynamic`] buffer (WebGPU's
/// `min_uniform_buffer_offset_alignment` is at most 256 on every device).
pub const UNIFORM_STRIDE: u64 = 256;

/// Loop iterations one GPU invocation may run per dispatch. Mesa's llvmpipe (lavapipe) ends
/// every loop of a shader invocation once all its loops together have taken 65535 back edges
/// (`LP_MAX_TGSI_LOOP_ITERATIONS`, one counter per invocation), silently, so kernels that
/// loop over many steps plan their dispatches to stay below this bound, counting every loop
/// as if the compiler had not unrolled it.
pub const GPU_LOOP_BUDGET: u64 = 60_000;

/// Every kernel neuropop ships; the validation test walks this list.
pub const ALL: &[&KernelDesc] = &[
    &rng_u32::DESC,
    &rng_sample::DESC,
    &math_eval::DESC,
    &scatter_add::DESC,
    &crate::models::rate::kernel::DESC,
    &crate::models::gif_pop::kernel::DESC,
    &crate::models::spiking::kernel::NEURON_DESC,
    &crate::models::spiking::kernel::DELIVER_DESC,
    &crate::models::spiking::connect::COUNT_DESC,
    &crate::models::spiking::connect::FILL_DESC,
    &crate::models::moments::kernel::DESC,
    &crate::models::lif::kernel::DESC,
];

/// Dispatch grid `[x, y, 1]` (in workgroups) covering `n_threads` threads of a 1-D kernel with
/// `wg` threads per workgroup, at most `max_per_dim` workgroups per dimension. Shaders recover
/// the linear index with `linear_index` (shaders/shared/grid.wgsl).
pub fn dispatch_grid(n_threads: u64, wg: u32, max_per_dim: u32) -> [u32; 3] {
    let groups = n_threads.div_ceil(u64::from(wg)).max(1);
    let x = groups.min(u64::from(max_per_dim.max(1)));
    let y = groups.div_ceil(x);
    [x as u32, y as u32, 1]
}

/// The linear thread index of `linear_index` in WGSL.
pub fn linear_index(gid: [u32; 3], nwg: [u32; 3], wg: u32) -> u32 {
    gid[0] + gid[1] * nwg[0] * wg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_grid_covers_every_thread_once() {
        for &(n, wg, max) in &[
            (1u64, 64u32, 65535u32),
            (1000, 64, 4),
            (10_000_000, 64, 65535),
            (4_194_304, 256, 65535),
        ] {
            let g = dispatch_grid(n, wg, max);
            assert!(g[0] <= max && g[1] <= max, "{g:?}");
            let threads = u64::from(g[0]) * u64::from(g[1]) * u64::from(wg);
            assert!(
                threads >= n && threads < n + u64::from(g[0]) * u64::from(wg),
                "{n} {g:?}"
            );
            // The last thread index maps inside the grid.
            let last = linear_index([g[0] * wg - 1, g[1] - 1, 0], g, wg);
            assert_eq!(u64::from(last) + 1, threads);
        }
    }
}
