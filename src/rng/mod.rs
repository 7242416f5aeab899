//! Counter-based random numbers, the CPU twin of `shaders/shared/rng.wgsl`.
//!
//! Philox4x32-10 (Salmon et al. 2011, Random123) turns a 128-bit counter and a 64-bit key into
//! four u32. neuropop lays the counter out as `(element, step, purpose, block)` and the key as
//! the 64-bit seed, so every draw is a pure function of
//! `(seed, element, step, purpose, draw index)`: results never depend on dispatch layout,
//! thread count or device, and the GPU and CPU paths read the same u32 streams bit for bit.
//!
//! The samplers ([`Rng::uniform`], [`Rng::normal2`], [`Rng::poisson`], [`Rng::binomial`])
//! mirror the WGSL functions of the same names (`rng_uniform`, ...) operation by operation in
//! f32, so the two paths agree except where the driver rounds a transcendental function
//! differently from Rust's `f32` functions.

pub mod lanes;
mod philox;
mod purpose;
mod samplers;
mod special;
mod stream;

pub use philox::{philox4x32_10, PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1};
pub use purpose::Purpose;
pub use samplers::{box_muller, u32_to_uniform, u32_to_uniform0};
pub use special::{bd0, log1p_f32, log_binomial_pmf, log_poisson_pmf, stirlerr};
pub use stream::{seed_key, Rng};

/// Largest `n` for which [`Rng::binomial`] (and the mean of [`Rng::poisson`]) is exact up to
/// f32 rounding: every whole number up to 2^24 is representable in f32.
pub const MAX_EXACT_COUNT: u32 = 1 << 24;
