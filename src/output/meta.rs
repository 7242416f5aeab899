//! `meta.json`: what was run, where, with which seed, and how long it took.

use serde::Serialize;

use super::dir::OutputFile;
use crate::backend::AdapterSummary;

/// Wall-clock times of a run in seconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timings {
    /// Parsing, validation, building the model and its buffers or pipelines.
    pub build_s: f64,
    /// The simulation itself (device work and read-back included).
    pub simulate_s: f64,
    /// Everything from start to the moment `meta.json` is written.
    pub total_s: f64,
}

/// Contents of `meta.json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Meta {
    /// `neuropop` and its version.
    pub neuropop_version: String,
    /// The command line.
    pub command: Vec<String>,
    /// The spec file.
    pub spec_file: String,
    /// The spec as run (after command-line overrides), as JSON.
    pub spec: serde_json::Value,
    /// Seed of every random stream.
    pub seed: u64,
    /// "gpu" or "cpu".
    pub backend: String,
    /// Why `--backend auto` chose it (absent when the backend was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_reason: Option<String>,
    /// The CPU path's SIMD level (`avx512`, `avx2`, `baseline`).
    pub cpu_simd: String,
    /// The GPU adapter (absent on the CPU path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterSummary>,
    /// Worker threads of the CPU path.
    pub cpu_threads: usize,
    /// Total replicas (sweep combinations x replicas).
    pub replicas: u64,
    /// Time steps simulated.
    pub steps: u64,
    /// Wall-clock times.
    pub timings: Timings,
    /// Files written, with shapes and descriptions.
    pub outputs: Vec<OutputFile>,
    /// Seconds since the Unix epoch when the run finished.
    pub finished_unix_s: u64,
    /// Model-specific facts (e.g. coefficients, conventions followed).
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub model: serde_json::Value,
    /// With several MPI ranks: each rank's device and share (absent for one process).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranks: Option<Vec<serde_json::Value>>,
}
