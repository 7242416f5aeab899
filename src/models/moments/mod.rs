//! Moment activation of the leaky integrate-and-fire neuron (the moment-activation tutorial;
//! docs/models.md, section 3): the map from input mean and std (mu_bar, sigma_bar) to output
//! rate, std, Fano factor and linear-response coefficient chi.
//!
//! - [`params`]: the neuron (L, V_th, V_res, T_ref) and input validation;
//! - [`reference`]: the f64 reference (quadrature and asymptotic series);
//! - [`kernel`]: the `moment_activation` WGSL kernel's descriptor, fit tables and CPU twin;
//! - [`engine`]: evaluation over many points on the GPU or the CPU twin;
//! - [`plots`]: heat maps and .npy arrays for `neuropop moments --plot`.

pub mod engine;
pub mod kernel;
pub mod params;
pub mod plots;
pub mod reference;

pub use engine::{moment_activation_grid, MomentGrid};
pub use params::MomentParams;
pub use reference::{moments, output_correlation, Moments};
