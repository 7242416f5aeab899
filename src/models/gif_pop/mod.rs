//! Mesoscopic GIF populations (NEST's `gif_pop_psc_exp`; docs/models.md, section 6;
//! Schwalger, Deger & Gerstner 2017, PLoS Comput Biol 13(4): e1005507).
//!
//! A population of N generalised integrate-and-fire neurons with escape noise and spike-
//! frequency adaptation is simulated as one stochastic unit: each step its spike count is
//! drawn from Binomial(N, nbar/N), where nbar comes from the quasi-renewal approximation over
//! a finite history of cohorts (age bins), including the finite-size variance terms.
//! Populations couple through delayed spike counts into exponential synaptic currents.
//!
//! - [`params`]: NEST's parameters with units, defaults and ranges;
//! - [`network`]: a spec turned into coefficient, kernel and projection tables;
//! - [`kernel`]: the `gif_pop_step` kernel's structs, descriptor and CPU twin;
//! - [`engine`]: CPU and GPU execution;
//! - [`sim`]: the run loop, recordings, window statistics, spectra and plots.

pub mod engine;
pub mod kernel;
pub mod network;
pub mod params;
pub mod sim;

pub use network::MesoNetwork;
pub use params::GifPopParams;
