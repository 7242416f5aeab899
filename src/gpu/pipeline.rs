//! Compute pipelines built from [`KernelDesc`]s.

use crate::error::{Error, Result};
use crate::kernels::{dispatch_grid, BindingKind, KernelDesc, Layout};
use crate::shaders;

use super::GpuContext;

/// A kernel's compiled pipeline and its group-0 layout.
pub struct Pipeline {
    desc: &'static KernelDesc,
    workgroup: u32,
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
}

impl Pipeline {
    /// Composes the shader, builds the bind-group layout from the descriptor's ordered
    /// bindings, and compiles the pipeline. Use [`GpuContext::pipeline`], which caches.
    pub(crate) fn new(
        ctx: &GpuContext,
        desc: &'static KernelDesc,
        constants: &[(&str, f64)],
    ) -> Result<Self> {
        let source = shaders::compose(desc.shader)?;
        let entries: Vec<wgpu::BindGroupLayoutEntry> = desc
            .bindings
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match b.kind {
                        BindingKind::Uniform | BindingKind::UniformDynamic => {
                            wgpu::BufferBindingType::Uniform
                        }
                        BindingKind::StorageRead => {
                            wgpu::BufferBindingType::Storage { read_only: true }
                        }
                        BindingKind::StorageReadWrite => {
                            wgpu::BufferBindingType::Storage { read_only: false }
                        }
                    },
                    has_dynamic_offset: b.kind == BindingKind::UniformDynamic,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        ctx.scoped(&format!("building kernel `{}`", desc.name), || {
            let device = &ctx.device;
            // Checked module (bounds checks, loop bounding): the unchecked variant was only
            // ~12 % faster on lavapipe, not worth unchecked indexing on a real GPU.
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(desc.shader),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(desc.name),
                entries: &entries,
            });
            let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(desc.name),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
            let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(desc.name),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(desc.entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants,
                    ..Default::default()
                },
                cache: None,
            });
            Self {
                desc,
                workgroup: constants
                    .iter()
                    .find(|(n, _)| *n == "WG")
                    .map_or(desc.workgroup_size[0], |(_, v)| *v as u32),
                layout,
                pipeline,
            }
        })
    }

    /// The descriptor this pipeline was built from.
    pub fn desc(&self) -> &'static KernelDesc {
        self.desc
    }

    /// A bind group over `buffers`, one per descriptor binding, in order.
    pub fn bind(&self, ctx: &GpuContext, buffers: &[&wgpu::Buffer]) -> Result<wgpu::BindGroup> {
        if buffers.len() != self.desc.bindings.len() {
            return Err(Error::Gpu(format!(
                "kernel `{}` takes {} bindings ({}), got {} buffers",
                self.desc.name,
                self.desc.bindings.len(),
                self.desc
                    .bindings
                    .iter()
                    .map(|b| b.name)
                    .collect::<Vec<_>>()
                    .join(", "),
                buffers.len()
            )));
        }
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .zip(self.desc.bindings)
            .map(|((i, b), d)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: match (d.kind, d.layout) {
                    // A dynamic uniform binds one struct; the offset picks which.
                    (BindingKind::UniformDynamic, Layout::Struct(size)) => {
                        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: b,
                            offset: 0,
                            size: std::num::NonZeroU64::new(size as u64),
                        })
                    }
                    _ => b.as_entire_binding(),
                },
            })
            .collect();
        ctx.scoped(
            &format!("binding buffers of kernel `{}`", self.desc.name),
            || {
                ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(self.desc.name),
                    layout: &self.layout,
                    entries: &entries,
                })
            },
        )
    }

    /// A bind group over the buffers of [`GpuContext::kernel_buffers`] (all bindings, in
    /// order).
    pub fn bind_all(&self, ctx: &GpuContext, buffers: &[wgpu::Buffer]) -> Result<wgpu::BindGroup> {
        let refs: Vec<&wgpu::Buffer> = buffers.iter().collect();
        self.bind(ctx, &refs)
    }

    /// Records one dispatch covering `n_threads` threads (a 2-D grid when one dimension
    /// would exceed the device limit; shaders use `linear_index`).
    pub fn dispatch(
        &self,
        ctx: &GpuContext,
        pass: &mut wgpu::ComputePass<'_>,
        bind_group: &wgpu::BindGroup,
        n_threads: u64,
    ) {
        let grid = dispatch_grid(
            n_threads,
            self.workgroup,
            ctx.limits().max_compute_workgroups_per_dimension,
        );
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
    }

    /// Records one dispatch of `grid` workgroups with dynamic offsets for the bind group.
    pub fn dispatch_grid_with(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        bind_group: &wgpu::BindGroup,
        offsets: &[u32],
        grid: [u32; 3],
    ) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, bind_group, offsets);
        pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
    }

    /// Records one indirect dispatch (workgroup counts read from `args` at byte `offset`)
    /// with dynamic offsets for the bind group.
    pub fn dispatch_indirect_with(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        bind_group: &wgpu::BindGroup,
        offsets: &[u32],
        args: &wgpu::Buffer,
        offset: u64,
    ) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, bind_group, offsets);
        pass.dispatch_workgroups_indirect(args, offset);
    }

    /// The workgroup size this pipeline was built with.
    pub fn workgroup(&self) -> u32 {
        self.workgroup
    }

    /// Records one dispatch covering `n_threads` threads in a command buffer of its own and
    /// submits it without waiting: buffer writes queued before are applied first, and a later
    /// read waits for it. The engines' per-chunk call.
    pub fn submit(&self, ctx: &GpuContext, bind_group: &wgpu::BindGroup, n_threads: u64) {
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some(self.desc.name),
            });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(self.desc.name),
                timestamp_writes: None,
            });
            self.dispatch(ctx, &mut pass, bind_group, n_threads);
        }
        ctx.queue.submit([encoder.finish()]);
    }

    /// Binds `buffers`, submits a single dispatch and waits for it: for tests and one-off
    /// kernels.
    pub fn run_once(
        &self,
        ctx: &GpuContext,
        buffers: &[&wgpu::Buffer],
        n_threads: u64,
    ) -> Result<()> {
        let bg = self.bind(ctx, buffers)?;
        self.submit(ctx, &bg, n_threads);
        ctx.wait()
    }
}
