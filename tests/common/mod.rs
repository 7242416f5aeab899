//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use neuropop::backend::gpu_required;
use neuropop::gpu::GpuContext;

/// The shared GPU context, or `None` (with a message) when no adapter exists. With
/// `NEUROPOP_REQUIRE_GPU=1` a missing adapter fails the test instead of skipping it.
pub fn gpu() -> Option<Arc<GpuContext>> {
    match GpuContext::shared() {
        Ok(ctx) => Some(ctx),
        Err(e) => {
            if gpu_required() {
                panic!("NEUROPOP_REQUIRE_GPU is set but no GPU is usable: {e}");
            }
            eprintln!("skipping GPU test: {e}");
            None
        }
    }
}
