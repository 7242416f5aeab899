//! Buffer creation with limit checks, and read-back.

use wgpu::util::DeviceExt;

use crate::error::{Error, Result};
use crate::kernels::{BindingKind, KernelDesc, Layout, UNIFORM_STRIDE};

use super::GpuContext;

/// What a storage buffer is for, which decides its usages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferSpec {
    /// Written by the host once, read by kernels.
    Input,
    /// Read and written by kernels, read back by the host.
    State,
}

impl GpuContext {
    /// Checks that one storage binding of `bytes` fits the device, with an error that states
    /// needed vs available bytes and the limit's name.
    pub fn check_storage_binding(&self, label: &str, bytes: u64) -> Result<()> {
        let l = self.limits();
        let max_binding = l.max_storage_buffer_binding_size;
        if bytes > l.max_buffer_size {
            return Err(Error::BufferTooLarge {
                label: label.to_string(),
                needed: bytes,
                available: l.max_buffer_size,
                limit: "max_buffer_size",
            });
        }
        if bytes > max_binding {
            return Err(Error::BufferTooLarge {
                label: label.to_string(),
                needed: bytes,
                available: max_binding,
                limit: "max_storage_buffer_binding_size",
            });
        }
        Ok(())
    }

    /// A storage buffer of `bytes` bytes (zeroed), checked against the limits.
    pub fn storage_buffer(
        &self,
        label: &str,
        bytes: u64,
        spec: BufferSpec,
    ) -> Result<wgpu::Buffer> {
        let bytes = bytes.max(4).next_multiple_of(4);
        self.check_storage_binding(label, bytes)?;
        let usage = match spec {
            BufferSpec::Input => wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            BufferSpec::State => {
                wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST
            }
        };
        self.scoped(
            &format!("allocating buffer `{label}` ({bytes} bytes)"),
            || {
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size: bytes,
                    usage,
                    mapped_at_creation: false,
                })
            },
        )
    }

    /// A storage buffer holding `data`, checked against the limits.
    pub fn storage_buffer_init<T: bytemuck::Pod>(
        &self,
        label: &str,
        data: &[T],
        spec: BufferSpec,
    ) -> Result<wgpu::Buffer> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        if bytes.is_empty() {
            // Zero-sized bindings are invalid; bind one zero word instead.
            return self.storage_buffer(label, 4, spec);
        }
        self.check_storage_binding(label, bytes.len() as u64)?;
        let usage = match spec {
            BufferSpec::Input => wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            BufferSpec::State => {
                wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST
            }
        };
        self.scoped(
            &format!("allocating buffer `{label}` ({} bytes)", bytes.len()),
            || {
                self.device
                    .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some(label),
                        contents: bytes,
                        usage,
                    })
            },
        )
    }

    /// One zeroed buffer per binding of `desc`, in binding order, labelled `kernel.binding`,
    /// each checked against the limits. `lens[i]` counts binding i's elements (at least one
    /// is allocated): structs for a storage array or a dynamic uniform (one per
    /// [`UNIFORM_STRIDE`] bytes), ignored for a plain uniform, which holds one struct. Element
    /// sizes come from the descriptor, which the naga test checks against the shader, so a
    /// buffer cannot be sized for another element than the kernel reads. Arrays the kernel
    /// only reads are inputs, the others state.
    pub fn kernel_buffers(&self, desc: &KernelDesc, lens: &[usize]) -> Result<Vec<wgpu::Buffer>> {
        if lens.len() != desc.bindings.len() {
            return Err(Error::Gpu(format!(
                "kernel `{}` has {} bindings, got {} buffer lengths",
                desc.name,
                desc.bindings.len(),
                lens.len()
            )));
        }
        desc.bindings
            .iter()
            .zip(lens)
            .map(|(b, &len)| {
                let label = format!("{}.{}", desc.name, b.name);
                let (Layout::Struct(elem) | Layout::Array(elem)) = b.layout;
                let n = len.max(1) as u64;
                match b.kind {
                    BindingKind::Uniform => self.uniform_zeroed(&label, elem as u64),
                    BindingKind::UniformDynamic => self.uniform_zeroed(&label, n * UNIFORM_STRIDE),
                    BindingKind::StorageRead => {
                        self.storage_buffer(&label, n * elem as u64, BufferSpec::Input)
                    }
                    BindingKind::StorageReadWrite => {
                        self.storage_buffer(&label, n * elem as u64, BufferSpec::State)
                    }
                }
            })
            .collect()
    }

    /// A zeroed uniform buffer of `bytes` (rounded up to 16).
    fn uniform_zeroed(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer> {
        let size = bytes.max(16).next_multiple_of(16);
        self.scoped(&format!("allocating uniform `{label}`"), || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })
    }

    /// A uniform buffer holding one `#[repr(C)]` parameter struct; rewrite it with
    /// [`GpuContext::write`].
    pub fn uniform_buffer<T: bytemuck::Pod>(&self, label: &str, value: &T) -> Result<wgpu::Buffer> {
        self.scoped(&format!("allocating uniform `{label}`"), || {
            self.device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: bytemuck::bytes_of(value),
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                })
        })
    }

    /// Queues a write of `data` at byte `offset` of `buffer` (applied before the next submit).
    pub fn write<T: bytemuck::Pod>(&self, buffer: &wgpu::Buffer, offset: u64, data: &[T]) {
        self.queue
            .write_buffer(buffer, offset, bytemuck::cast_slice(data));
    }

    /// Copies `count` elements starting at element `first` of `buffer` back to the host.
    /// Waits for all submitted work first.
    pub fn read<T: bytemuck::Pod>(
        &self,
        buffer: &wgpu::Buffer,
        first: u64,
        count: usize,
    ) -> Result<Vec<T>> {
        let elem = std::mem::size_of::<T>() as u64;
        let bytes = count as u64 * elem;
        if count == 0 {
            return Ok(Vec::new());
        }
        let padded = bytes.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        if first * elem + padded > buffer.size() {
            return Err(Error::Gpu(format!(
                "reading {bytes} bytes at byte {} of a {}-byte buffer",
                first * elem,
                buffer.size()
            )));
        }
        let staging = self.scoped("allocating a read-back buffer", || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("readback"),
                size: padded,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })?;
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("readback"),
            });
        encoder.copy_buffer_to_buffer(buffer, first * elem, &staging, 0, padded);
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        rx.recv()
            .map_err(|_| Error::Gpu("read-back callback never ran".into()))?
            .map_err(|e| Error::Gpu(format!("mapping a read-back buffer: {e}")))?;
        let view = staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| Error::Gpu(format!("reading a mapped buffer: {e}")))?;
        let out = bytemuck::cast_slice::<u8, T>(&view[..bytes as usize]).to_vec();
        drop(view);
        staging.unmap();
        Ok(out)
    }
}
