//! The command line end to end: bad specs exit 2 with a one-line error and leave no output;
//! `run` writes .npy files, PNGs and meta.json; `fixed-points`, `validate`, `bench`, `devices`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn neuropop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neuropop"))
        .args(args)
        .env("NEUROPOP_THREADS", "2")
        .output()
        .expect("run neuropop")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("neuropop-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

const GOOD: &str = r#"[simulation]
dt = 0.1
t_end = 5.0
seed = 7
replicas = 3

[[population]]
name = "E"
model = "rate"
params = { w = 5.0, I_ext = 0.5 }

[[projection]]
source = "E"
target = "E"
rule = "all_to_all"
weight = 0.0

[record]
traces = [{ population = "E", variable = "r", replicas = 2 }]
summaries = ["final", "mean"]
"#;

fn write_spec(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write spec");
    p
}

#[test]
fn malformed_specs_exit_2_with_one_line_and_no_output() {
    let dir = tmp("bad");
    let cases = [
        (
            "unknown model",
            GOOD.replace("model = \"rate\"", "model = \"hodgkin_huxley\""),
            "population[0].model",
        ),
        (
            "negative dt",
            GOOD.replace("dt = 0.1", "dt = -0.1"),
            "simulation.dt",
        ),
        (
            "t_end < dt",
            GOOD.replace("t_end = 5.0", "t_end = 0.05"),
            "simulation.t_end",
        ),
        (
            "size 0",
            GOOD.replace("params = {", "size = 0\nparams = {"),
            "population[0].size",
        ),
        (
            "p outside [0, 1]",
            GOOD.replace(
                "rule = \"all_to_all\"",
                "rule = \"pairwise_bernoulli\"\np = 1.5",
            ),
            "projection[0].p",
        ),
        (
            "NaN",
            GOOD.replace("I_ext = 0.5", "I_ext = nan"),
            "population[0].params.I_ext",
        ),
        (
            "unknown key",
            GOOD.replace("seed = 7", "seed = 7\nsteps = 10"),
            "steps",
        ),
        ("bad param", GOOD.replace("w = 5.0", "tau = -2.0"), "tau"),
    ];
    for (what, text, key) in cases {
        let spec = write_spec(&dir, "bad.toml", &text);
        let out = dir.join("out");
        let o = neuropop(&[
            "run",
            spec.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
            "--backend",
            "cpu",
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{what}: exit status {:?}, stderr {stderr}",
            o.status.code()
        );
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{what}: expected one line, got {stderr}");
        assert!(
            lines[0].contains(key) && lines[0].contains("bad.toml"),
            "{what}: `{}` does not name {key}",
            lines[0]
        );
        assert!(!out.exists(), "{what}: output directory created");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn npy(path: &Path) -> (Vec<u64>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let f = npyz::NpyFile::new(&bytes[..]).expect("npy header");
    let shape = f.shape().to_vec();
    let values = match f.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 4 => f
            .into_vec::<f32>()
            .expect("f32")
            .into_iter()
            .map(f64::from)
            .collect(),
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float => {
            f.into_vec::<f64>().expect("f64")
        }
        _ => f
            .into_vec::<u32>()
            .expect("u32")
            .into_iter()
            .map(f64::from)
            .collect(),
    };
    (shape, values)
}

#[test]
fn run_writes_npy_png_and_meta() {
    let dir = tmp("run");
    let spec = write_spec(&dir, "good.toml", GOOD);
    let out = dir.join("out");
    let o = neuropop(&[
        "run",
        spec.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
        "--backend",
        "cpu",
        "--seed",
        "9",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json summary");
    assert_eq!(summary["backend"], "cpu");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("meta.json")).expect("meta"))
            .expect("meta json");
    assert_eq!(meta["seed"], 9);
    assert_eq!(meta["backend"], "cpu");
    assert_eq!(meta["steps"], 50);
    assert_eq!(meta["spec"]["simulation"]["seed"], 9);
    assert!(meta["neuropop_version"]
        .as_str()
        .expect("version")
        .starts_with("neuropop "));
    assert!(meta["timings"]["simulate_s"].as_f64().expect("timing") >= 0.0);
    let (shape, r) = npy(&out.join("trace_E_r.npy"));
    assert_eq!(shape, vec![51, 2]);
    assert!((r[0] - 0.2).abs() < 1e-7, "r_init");
    let (shape, t) = npy(&out.join("trace_E_r_t.npy"));
    assert_eq!(shape, vec![51]);
    assert!((t[50] - 5.0).abs() < 1e-12);
    let (shape, fin) = npy(&out.join("summary_E_final.npy"));
    assert_eq!(shape, vec![1, 3]);
    assert!(
        (fin[0] - r[100]).abs() < 1e-7,
        "final equals the last trace sample"
    );
    for f in meta["outputs"].as_array().expect("outputs") {
        assert!(out.join(f["file"].as_str().expect("file")).exists(), "{f}");
    }
    let png = std::fs::read(out.join("trace_E_r.png")).expect("png");
    assert_eq!(&png[1..4], b"PNG");
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "staging folder left behind");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fixed_points_cli_prints_the_tutorial_values() {
    let o = neuropop(&["fixed-points", "--w", "5", "--i-ext", "0.5", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let fps = v["fixed_points"].as_array().expect("array");
    let want = [
        (0.042, -0.583, true),
        (0.447, 0.498, false),
        (0.900, -0.626, true),
    ];
    assert_eq!(fps.len(), 3);
    for (fp, (r, ev, st)) in fps.iter().zip(want) {
        let got_r = fp["r"].as_f64().expect("r");
        let got_ev = fp["eigenvalue"].as_f64().expect("eigenvalue");
        assert_eq!(format!("{got_r:.3}"), format!("{r:.3}"));
        assert_eq!(format!("{got_ev:.3}"), format!("{ev:.3}"));
        assert_eq!(fp["stable"].as_bool(), Some(st));
    }
    let o = neuropop(&["fixed-points", "--tau", "-1"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn fixed_points_plots() {
    let dir = tmp("fp");
    let o = neuropop(&[
        "fixed-points",
        "--w",
        "5",
        "--i-ext",
        "0.56",
        "--plot",
        dir.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "trajectories.png",
        "drdt.png",
        "fi_curve.png",
        "bifurcation.png",
        "ou.png",
    ] {
        assert!(
            std::fs::metadata(dir.join(f))
                .map(|m| m.len() > 5000)
                .unwrap_or(false),
            "{f} missing or empty"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn validate_compares_gpu_and_cpu() {
    if common::gpu().is_none() {
        return;
    }
    let dir = tmp("validate");
    let spec = write_spec(
        &dir,
        "v.toml",
        &GOOD.replace("I_ext = 0.5", "I_ext = 0.56, sigma_ou = 0.7"),
    );
    let o = neuropop(&["validate", spec.to_str().expect("utf8"), "--json"]);
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["ok"], true);
    assert!(v["arrays"]
        .as_array()
        .expect("arrays")
        .iter()
        .any(|a| a["name"] == "trace_E_r"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_reports_rng_throughput_on_both_paths() {
    let backend = if common::gpu().is_some() {
        "auto"
    } else {
        "cpu"
    };
    let o = neuropop(&["bench", "rng", "--json", "--backend", backend]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let r = &v[0];
    assert_eq!(r["unit"], "u32 draws");
    assert!(r["cpu_per_s"].as_f64().expect("cpu") > 1e6);
    if backend == "auto" {
        assert!(r["gpu_per_s"].as_f64().expect("gpu") > 1e6);
        assert!(r["ratio"].as_f64().expect("ratio") > 0.0);
    }
}

#[test]
fn devices_lists_adapters_as_json() {
    let o = neuropop(&["devices", "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let list = v["adapters"].as_array().expect("adapters");
    let auto = v["auto"].as_array().expect("auto");
    assert_eq!(auto.len(), 5, "{v}");
    assert!(["avx512", "avx2", "baseline"].contains(&v["cpu"]["simd"].as_str().expect("simd")));
    if common::gpu().is_some() {
        assert!(!list.is_empty());
        assert!(list[0]["name"].is_string() && list[0]["backend"].is_string());
        // On a software adapter `auto` runs every model where it is faster: the CPU path.
        if list[0]["device_type"] == "Cpu" {
            for a in auto {
                assert_eq!(a["backend"], "cpu", "{a}");
            }
        }
    }
}

#[test]
fn gpu_backend_without_adapter_says_how_to_get_one() {
    // Hide every adapter: wgpu only enumerates the backends named here.
    let o = Command::new(env!("CARGO_BIN_EXE_neuropop"))
        .args(["bench", "rng", "--backend", "gpu"])
        .env("WGPU_BACKEND", "gl")
        .output()
        .expect("run");
    if o.status.success() {
        return; // a GL adapter exists on this machine
    }
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("mesa-vulkan-drivers") && stderr.contains("--backend cpu"),
        "{stderr}"
    );
}

#[test]
fn a_gif_spec_runs_at_both_levels_from_the_command_line() {
    let ex = format!("{}/examples/brunel_gif.toml", env!("CARGO_MANIFEST_DIR"));
    for level in ["micro", "meso"] {
        let out = tmp(&format!("level-{level}"));
        let o = neuropop(&[
            "run",
            &ex,
            "--level",
            level,
            "--backend",
            "cpu",
            "--out",
            out.to_str().expect("path"),
        ]);
        assert!(
            o.status.success(),
            "{level}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        for f in [
            "activity_E.npy",
            "summary_I_mean.npy",
            "meta.json",
            "activity.png",
        ] {
            assert!(out.join(f).exists(), "{level}: {f} missing");
        }
        let meta = std::fs::read_to_string(out.join("meta.json")).expect("meta");
        let model = if level == "micro" {
            "gif_psc_exp"
        } else {
            "gif_pop_psc_exp"
        };
        assert!(meta.contains(&format!("\"model\": \"{model}\"")), "{level}");
        let _ = std::fs::remove_dir_all(&out);
    }
    // A rate spec has no second level.
    let dir = tmp("level-bad");
    let spec = write_spec(&dir, "rate.toml", GOOD);
    let o = neuropop(&["run", spec.to_str().expect("path"), "--level", "micro"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("only GIF networks"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A rate spec long enough (about 10 s on two cores) to be interrupted or collided with.
fn long_spec(dir: &Path) -> PathBuf {
    write_spec(
        dir,
        "long.toml",
        &GOOD
            .replace("t_end = 5.0", "t_end = 200000.0")
            .replace("replicas = 3", "replicas = 4096"),
    )
}

/// Waits until `dir` holds a staging folder (the run is writing), at most 60 s.
fn wait_for_staging(dir: &Path) -> bool {
    for _ in 0..600 {
        let writing = std::fs::read_dir(dir).is_ok_and(|d| {
            d.flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".neuropop-partial-")
            })
        });
        if writing {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

#[cfg(unix)]
#[test]
fn ctrl_c_leaves_no_partial_output_and_a_busy_directory_is_refused() {
    let dir = tmp("interrupt");
    let spec = long_spec(&dir);
    let out = dir.join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_neuropop"))
        .args([
            "run",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--backend", "cpu", "--no-plots"])
        .env("NEUROPOP_THREADS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start neuropop");
    assert!(wait_for_staging(&out), "the run never started writing");

    // A second run into the same folder fails at once, naming the folder and the holder.
    let second = neuropop(&[
        "run",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.contains(out.to_str().unwrap()) && err.contains(&format!("process {}", child.id())),
        "stderr: {err}"
    );

    // Ctrl-C: the run exits with 130 and leaves nothing behind.
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    assert!(
        !out.exists(),
        "an interrupted run leaves no output folder: {:?}",
        std::fs::read_dir(&out).map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn t_end_shorter_than_the_windows_clips_them() {
    let dir = tmp("clip");
    let out = dir.join("out");
    let o = neuropop(&[
        "run",
        "examples/brunel_gif.toml",
        "--t-end",
        "700",
        "--no-plots",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "stderr: {err}");
    assert!(
        err.contains("record.windows[0] [500, 1500] ms clipped to [500, 700] ms"),
        "{err}"
    );
    assert!(
        err.contains("record.windows[1] [1600, 2000] ms dropped"),
        "{err}"
    );
    let (shape, w) = npy(&out.join("windows.npy"));
    assert_eq!(shape, vec![1, 2]);
    assert_eq!(w, vec![500.0, 700.0]);

    // Nothing of any window left: an error naming the key, and no output.
    let o = neuropop(&[
        "run",
        "examples/brunel_gif.toml",
        "--t-end",
        "300",
        "--out",
        dir.join("none").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("record.windows"), "{err}");
    assert!(!dir.join("none").exists());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn moments_takes_single_values() {
    for (mu, sigma) in [("1.5", "2"), ("1.5:9:1", "2:2:1")] {
        let o = neuropop(&[
            "moments",
            "--mu",
            mu,
            "--sigma",
            sigma,
            "--backend",
            "cpu",
            "--json",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        assert_eq!(v["mu_bar"], serde_json::json!([1.5]), "{v}");
        assert_eq!(v["sigma_bar"], serde_json::json!([2.0]), "{v}");
        let rate = v["rate"][0].as_f64().expect("rate");
        assert!(rate > 0.03 && rate < 0.05, "rate {rate}");
    }
    let o = neuropop(&["moments", "--mu", "1:2:0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--mu `1:2:0`"));
}

#[test]
fn selftest_compares_every_kernel_with_the_cpu_path() {
    let Some(_) = common::gpu() else { return };
    let o = neuropop(&["selftest", "--quick", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["ok"], true);
    let checks = v["checks"].as_array().expect("checks");
    let kernels: std::collections::BTreeSet<&str> =
        checks.iter().filter_map(|c| c["kernel"].as_str()).collect();
    for k in [
        "rng_u32",
        "rng_sample",
        "math_eval",
        "scatter_add",
        "moment_activation",
        "rate_step",
        "lif_step",
        "gif_pop_step",
        "neuron_step + deliver_spikes",
    ] {
        assert!(kernels.contains(k), "{k} not checked: {kernels:?}");
    }
    for c in checks {
        assert!(c["values"].as_u64().expect("values") > 100, "{c}");
        // Software adapters (lavapipe) compute the CPU path's bits.
        if c["exact"] == true {
            assert_eq!(c["values_differing"], 0, "{c}");
        }
    }
}
