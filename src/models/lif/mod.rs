//! Independent leaky integrate-and-fire neurons at scale (docs/models.md, section 2; the
//! Neuromatch Academy "Differential Equations" tutorial and the moment-activation tutorial):
//! one thread per neuron, many steps per dispatch, sweeps over any parameter
//! (an F-I curve is one dispatch), exact integration without noise, Euler-Maruyama noise with
//! an optional Brownian-bridge crossing correction, OU input, step currents.
//!
//! - [`params`]: the parameter table (names, units, defaults, ranges, tutorial mappings);
//! - [`network`]: a spec turned into coefficient tables and records;
//! - [`kernel`]: the `lif_step` kernel's structs, descriptor and CPU twin;
//! - [`engine`]: CPU and GPU execution of `lif_step`;
//! - [`sim`]: the run loop (batches, chunks, records, rates, Fano factors, plots);
//! - [`validate_moments`]: simulated grids against the moment activation
//!   (`neuropop moments --simulate`).

pub mod engine;
pub mod kernel;
pub mod network;
pub mod params;
pub mod sim;
pub mod validate_moments;

pub use network::LifNetwork;
pub use params::{LifParams, Scheme};
