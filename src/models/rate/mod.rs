//! Rate populations (docs/models.md, section 1; the rate-model tutorial, Neuromatch Academy,
//! "Neural Rate Models").
//!
//! `tau dr/dt = -r + F(w r + I_ext(t))`, and its generalisation to M <= 16 coupled
//! populations per replica, `tau_i dr_i/dt = -r_i + F_i(sum_j W_ij r_j + I_i(t))` (a
//! Wilson-Cowan E-I pair is one replica), integrated by forward Euler as the tutorial does,
//! with optional Ornstein-Uhlenbeck input. Thousands to millions of independent replicas run
//! per dispatch, each from a `[sweep]` combination or a seed copy.
//!
//! - [`params`]: the parameter table (names, units, defaults, ranges);
//! - [`network`]: a spec turned into coefficient tables and records;
//! - [`kernel`]: the `rate_step` kernel's structs, descriptor and CPU twin;
//! - [`engine`]: CPU and GPU execution of `rate_step`;
//! - [`sim`]: the run loop (batches, chunks, streaming, plots);
//! - [`analysis`]: F, F', exact solution, fixed points, stability, bifurcation maps.

pub mod analysis;
pub mod engine;
pub mod kernel;
pub mod network;
pub mod params;
pub mod plots;
pub mod sim;

pub use network::RateNetwork;
pub use params::{OuScheme, RateParams, Transfer};
