//! neuropop: neural populations simulated by WGSL compute kernels through wgpu, every kernel
//! checked against an independent CPU reference path.
//!
//! Layout (see ARCHITECTURE.md):
//! - [`rng`]: Philox4x32-10 and its samplers, the CPU twin of `shaders/shared/rng.wgsl`;
//! - [`kernels`]: one descriptor per WGSL kernel plus its CPU twin (no wgpu);
//! - [`gpu`]: the wgpu runtime (feature `gpu`, on by default);
//! - [`backend`]: `auto|gpu|cpu` resolution;
//! - [`spec`]: the TOML spec and its validation; [`output`]: `.npy`, `meta.json`, PNG;
//! - [`models`]: the neuron and population models.

pub mod backend;
pub mod bench;
pub mod compare;
pub mod cpu;
pub mod error;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod kernels;
pub mod math;
pub mod models;
pub mod output;
pub mod progress;
pub mod ranks;
pub mod rng;
pub mod run;
pub mod selftest;
pub mod shaders;
pub mod simd;
pub mod spec;
pub mod stats;

pub use backend::{AdapterSummary, Backend, BackendChoice};
pub use error::{Error, Result};

/// Crate version, written into every `meta.json`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
