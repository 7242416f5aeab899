//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use neuropop::backend::{gpu_required, Backend};
use neuropop::gpu::GpuContext;
use neuropop::output::MemoryRecorder;
use neuropop::progress::Progress;
use neuropop::run::Model;
use neuropop::spec::Spec;

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

/// Parses, builds and runs spec text on `backend`, keeping every recording in memory.
pub fn run(text: &str, backend: &Backend) -> MemoryRecorder {
    let spec = Spec::parse(text, "test.toml").expect("spec");
    let model = Model::build(&spec).expect("model");
    let mut rec = MemoryRecorder::new();
    model
        .run(backend, &mut rec, &Progress::hidden())
        .expect("run");
    rec
}

/// The values of recording `name`.
pub fn values<'a>(rec: &'a MemoryRecorder, name: &str) -> &'a [f64] {
    &rec.get(name)
        .unwrap_or_else(|| panic!("no array {name}"))
        .values
}

/// The text of `examples/<name>`.
pub fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR")))
        .expect("example")
}

/// The one-line error of a spec that must be rejected (parse or model build).
pub fn build_err(text: &str) -> String {
    match Spec::parse(text, "bad.toml").and_then(|s| Model::build(&s)) {
        Ok(_) => panic!("accepted a bad spec:\n{text}"),
        Err(e) => {
            let e = e.to_string();
            assert!(!e.contains('\n'), "not one line: {e}");
            e
        }
    }
}
