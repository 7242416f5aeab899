//! Microscopic spiking networks: NEST's `iaf_psc_delta`, `iaf_psc_exp` and `gif_psc_exp`
//! neurons (docs/models.md, sections 4 and 5) in populations connected by projections with
//! `fixed_indegree`, `pairwise_bernoulli`, `all_to_all` or `one_to_one` rules, per-projection
//! weights and delays, Poisson inputs and step currents.
//!
//! The engine advances all neurons of all replicas through blocks of steps no longer than
//! the smallest delay (so no spike is due inside the block that emits it), then delivers the
//! block's spikes along compressed rows by source into a ring of per-projection spike counts.
//!
//! - [`params`]: NEST parameters, defaults, validation, propagators;
//! - [`connect`]: connectivity from the counter-based RNG;
//! - [`network`]: a spec turned into tables;
//! - [`kernel`]: `neuron_step` and `deliver_spikes` structs, descriptors and CPU twins;
//! - [`engine`]: CPU and GPU execution;
//! - [`sim`]: the run loop, recordings, statistics and plots.

pub mod connect;
pub mod engine;
pub mod kernel;
pub mod network;
pub mod params;
pub mod sim;
pub mod synapse;

pub use network::SpikingNetwork;
pub use params::NeuronModel;
