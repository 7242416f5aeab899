//! The GPU runtime: one device per process, pipelines built once from kernel descriptors,
//! buffers checked against the adapter's own limits, and read-back helpers.
//!
//! Models drive kernels through [`GpuContext`]: they create their buffers once, record many
//! dispatches (many time steps each) into one command encoder, submit, and read back only what
//! they record. Nothing here runs per time step on the host.

mod buffers;
mod context;
mod pipeline;
pub mod probes;
mod runner;

pub use buffers::BufferSpec;
pub use context::{chosen_adapter, list_adapters, open_all, GpuContext};
pub use pipeline::Pipeline;
pub use runner::KernelRunner;
