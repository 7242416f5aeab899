//! The CPU path gives the same bits whatever its SIMD level and thread count: each spec runs
//! through the command line (`NEUROPOP_SIMD` and `NEUROPOP_THREADS` are read once per
//! process) at every level this CPU has and at 1, 2 and 3 threads, and every recording is
//! compared byte for byte.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::example;
use neuropop::simd::Level;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("neuropop-inv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

/// Runs `spec` on the CPU path with `level` and `threads` (and `extra` arguments); returns the
/// output directory.
fn run(spec: &Path, out: &Path, level: Level, threads: usize, extra: &[&str]) -> PathBuf {
    let o = Command::new(env!("CARGO_BIN_EXE_neuropop"))
        .args([
            "run",
            spec.to_str().unwrap(),
            "--backend",
            "cpu",
            "--no-plots",
        ])
        .args(extra)
        .args(["--out", out.to_str().unwrap()])
        .env("NEUROPOP_SIMD", level.name())
        .env("NEUROPOP_THREADS", threads.to_string())
        .output()
        .expect("run neuropop");
    assert!(
        o.status.success(),
        "{level} x {threads}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out.to_path_buf()
}

/// The `.npy` files of a run, by name.
fn arrays(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("out")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".npy"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).expect("npy"),
            )
        })
        .collect();
    v.sort();
    v
}

/// Runs `text` at every level and thread count and compares every array with the first run.
fn same_bits_everywhere(name: &str, text: &str) {
    same_bits_everywhere_with(name, text, &[]);
}

/// [`same_bits_everywhere`] with extra `neuropop run` arguments.
fn same_bits_everywhere_with(name: &str, text: &str, extra: &[&str]) {
    let dir = tmp(name);
    let spec = dir.join("spec.toml");
    std::fs::write(&spec, text).expect("spec");
    let mut runs = Vec::new();
    for (i, level) in Level::available().into_iter().rev().enumerate() {
        for threads in [2, 1, 3] {
            let out = run(
                &spec,
                &dir.join(format!("out{i}{threads}")),
                level,
                threads,
                extra,
            );
            runs.push((format!("{level} x {threads}"), arrays(&out)));
        }
    }
    let (first, reference) = &runs[0];
    assert!(reference.len() >= 4, "{name}: {reference:?}");
    for (label, got) in &runs[1..] {
        assert_eq!(got.len(), reference.len(), "{name}: {label}");
        for ((n, a), (_, b)) in got.iter().zip(reference) {
            assert!(a == b, "{name}: {n} differs between {label} and {first}");
        }
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// The Brunel GIF network at the mesoscopic level, shortened; `replicas` = 1 splits its two
/// populations over the threads, more replicas run side by side.
fn meso(replicas: u32, t_ref: &str) -> String {
    example("brunel_gif.toml")
        .replace("replicas = 10", &format!("replicas = {replicas}"))
        .replace(
            "activity_replicas = 10",
            &format!("activity_replicas = {replicas}"),
        )
        .replace("t_end = 2000.0", "t_end = 600.0")
        .replace("times = [1500.0]", "times = [300.0]")
        .replace("t_ref = 4.0", &format!("t_ref = {t_ref}"))
        .replace(
            "windows = [[500.0, 1500.0], [1600.0, 2000.0]]",
            "windows = [[100.0, 300.0], [350.0, 600.0]]",
        )
}

#[test]
fn gif_pop_bits_do_not_depend_on_simd_level_or_threads() {
    same_bits_everywhere("meso1", &meso(1, "4.0"));
    same_bits_everywhere("meso3", &meso(3, "0.0"));
}

#[test]
fn rate_bits_do_not_depend_on_simd_level_or_threads() {
    // Replicas that fill no whole number of registers, traces, every summary.
    let ou = example("rate_ou.toml")
        .replace("replicas = 4096", "replicas = 4099")
        .replace("t_end = 1000.0", "t_end = 300.0");
    same_bits_everywhere("rate_ou", &ou);
    // A sweep: neighbouring lanes hold different combinations (coefficients and weights).
    same_bits_everywhere("wilson_cowan", &example("wilson_cowan.toml"));
}

#[test]
fn lif_bits_do_not_depend_on_simd_level_or_threads() {
    // Exact integration, a sweep over the input, spike times and V traces.
    same_bits_everywhere("lif_fi", &example("lif_fi_curve.toml"));
    // White noise with correlated groups, OU input, bridge crossings, a step current, and a
    // neuron count that fills no whole register.
    let noisy = r#"
[simulation]
dt = 0.1
t_end = 200.0
seed = 11
[[population]]
name = "N"
model = "lif"
size = 1003
params = { tau_m = 20.0, E_L = 0.0, V_reset = 0.0, V_th = 20.0, t_ref = 2.0, R_m = 1.0, I = 18.0, sigma = 2.0, sigma_ou = 0.5, crossing_correction = true, rho = 0.3, group = 64 }
[[stimulus]]
kind = "step_current"
target = "N"
times = [0.0, 100.0]
amplitudes = [0.0, 2.0]
[record]
windows = [[0.0, 100.0], [100.0, 200.0]]
spikes = [{ population = "N", first = 40 }]
traces = [{ population = "N", variable = "V_m", first = 3, every = 2 }]
plots = false
"#;
    same_bits_everywhere("lif_noisy", noisy);
}

#[test]
fn spiking_bits_do_not_depend_on_simd_level_or_threads() {
    // gif_psc_exp with adaptation, stored fixed in-degree rows, several replicas; a neuron
    // count per population that fills no whole register.
    let micro = example("brunel_gif.toml")
        .replace("replicas = 10", "replicas = 3")
        .replace("activity_replicas = 10", "activity_replicas = 3")
        .replace("size = 800", "size = 803")
        .replace("size = 200", "size = 197")
        .replace("t_end = 2000.0", "t_end = 400.0")
        .replace("times = [1500.0]", "times = [200.0]")
        .replace(
            "windows = [[500.0, 1500.0], [1600.0, 2000.0]]",
            "windows = [[100.0, 200.0], [250.0, 400.0]]",
        );
    same_bits_everywhere_with("gif_micro", &micro, &["--level", "micro"]);
    // iaf_psc_delta with Poisson drive and procedural all-pairs rows next to stored ones,
    // spike and V_m recordings.
    let lif = r#"
[simulation]
dt = 0.1
t_end = 200.0
seed = 3
[[population]]
name = "E"
model = "iaf_psc_delta"
size = 1001
params = { C_m = 250.0, tau_m = 20.0, t_ref = 2.0, E_L = 0.0, V_reset = 10.0, V_m = 0.0, V_th = 20.0 }
[[population]]
name = "I"
model = "iaf_psc_delta"
size = 251
params = { C_m = 250.0, tau_m = 20.0, t_ref = 2.0, E_L = 0.0, V_reset = 10.0, V_m = 0.0, V_th = 20.0 }
[[projection]]
source = "E"
target = "E"
rule = "fixed_indegree"
indegree = 100
weight = 0.1
delay = 1.5
[[projection]]
source = "E"
target = "I"
rule = "pairwise_bernoulli"
p = 0.1
weight = 0.1
delay = 1.5
connectivity = "procedural"
[[projection]]
source = "I"
target = "E"
rule = "fixed_indegree"
indegree = 25
weight = -0.5
delay = 1.5
[[projection]]
source = "I"
target = "I"
rule = "all_to_all"
weight = -0.05
delay = 1.5
[[stimulus]]
kind = "poisson"
target = "E"
rate = 15000.0
weight = 0.1
[[stimulus]]
kind = "poisson"
target = "I"
rate = 15000.0
weight = 0.1
[record]
activity_bin = 1.0
spikes = [{ population = "E", first = 50 }]
traces = [{ population = "I", variable = "V_m", first = 3 }]
plots = false
"#;
    same_bits_everywhere("iaf_net", lif);
}

#[test]
fn drawn_synapse_bits_do_not_depend_on_simd_level_or_threads() {
    // Two-word synapses with drawn delays split over delivery threads by target range, and
    // procedural rows drawing weights and delays at delivery.
    same_bits_everywhere("drawn", include_str!("data/drawn_synapses.toml"));
}
