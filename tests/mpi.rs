//! MPI ranks (`--features mpi`): `mpirun -n K neuropop run` writes the files a single
//! process writes, byte for byte (the arrays and the plots), for K = 2 and 3, for a rate
//! sweep, mesoscopic replicas, independent LIF neurons, spiking-network replicas and one
//! spiking network whose neurons the ranks share (CPU path and GPU adapters); a failing
//! spec fails every rank with one message and no output; `validate` and `compare` share
//! their runs and report once. Needs `mpirun` (Open MPI: `--allow-run-as-root --oversubscribe`).
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("neuropop_mpi_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// `neuropop run SPEC --out OUT --backend cpu` on `ranks` ranks (1: without mpirun).
fn run(spec: &Path, out: &Path, ranks: usize) -> std::process::Output {
    run_on(spec, out, ranks, "cpu")
}

/// As [`run`] on `backend`.
fn run_on(spec: &Path, out: &Path, ranks: usize, backend: &str) -> std::process::Output {
    let bin = env!("CARGO_BIN_EXE_neuropop");
    let mut cmd = if ranks == 1 {
        Command::new(bin)
    } else {
        let mut c = Command::new("mpirun");
        c.args([
            "--allow-run-as-root",
            "--oversubscribe",
            "-n",
            &ranks.to_string(),
            bin,
        ]);
        c
    };
    cmd.args(["run"])
        .arg(spec)
        .args(["--backend", backend, "--out"])
        .arg(out)
        .env("NEUROPOP_THREADS", "1")
        .output()
        .expect("mpirun runs (install Open MPI: openmpi-bin)")
}

/// Every file of `a` except meta.json, with its bytes.
fn files(a: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(a)
        .expect("output dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "meta.json")
        .map(|n| {
            let b = std::fs::read(a.join(&n)).expect("read");
            (n, b)
        })
        .collect();
    v.sort();
    v
}

fn meta(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("meta.json")).expect("meta")).expect("json")
}

const RATE: &str = r#"
[simulation]
dt = 0.1
t_end = 200.0
seed = 7
replicas = 50
[[population]]
name = "E"
model = "rate"
params = { w = 5.0, I_ext = 0.56, sigma_ou = 0.7, tau_ou = 1.0 }
[record]
traces = [{ population = "E", variable = "r", replicas = 3 }]
summaries = ["final", "mean", "above:0.5", "crossings:0.2:0.7"]
[sweep]
"E.w" = [4.0, 5.0, 6.0]
"#;

#[test]
fn rate_sweep_on_ranks_writes_a_single_process_files() {
    let spec = tmp("rate.toml");
    std::fs::write(&spec, RATE).expect("spec");
    let one = tmp("rate1");
    assert!(run(&spec, &one, 1).status.success());
    let want = files(&one);
    assert!(want.iter().any(|(n, _)| n == "summary_E_crossings.npy"));
    for k in [2, 3] {
        let out = tmp(&format!("rate{k}"));
        let o = run(&spec, &out, k);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let got = files(&out);
        assert_eq!(
            got.iter().map(|f| &f.0).collect::<Vec<_>>(),
            want.iter().map(|f| &f.0).collect::<Vec<_>>()
        );
        for ((n, a), (_, b)) in got.iter().zip(&want) {
            assert!(a == b, "{n} differs on {k} ranks");
        }
        let m = meta(&out);
        assert_eq!(m["ranks"].as_array().map(Vec::len), Some(k));
        // Each rank prints nothing but rank 0's summary.
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(stdout.matches("replicas x").count(), 1, "{stdout}");
    }
}

#[test]
fn mesoscopic_replicas_on_ranks_write_a_single_process_files() {
    // 10 replicas of the mesoscopic Brunel GIF network, 3 of them recorded bin by bin.
    let text = include_str!("../examples/brunel_gif.toml")
        .replace("t_end = 2000.0", "t_end = 600.0")
        .replace("times = [1500.0]", "times = [300.0]")
        .replace("activity_replicas = 10", "activity_replicas = 3")
        .replace(
            "windows = [[500.0, 1500.0], [1600.0, 2000.0]]",
            "windows = [[100.0, 300.0], [350.0, 600.0]]",
        );
    let spec = tmp("meso.toml");
    std::fs::write(&spec, text).expect("spec");
    let one = tmp("meso1");
    assert!(run(&spec, &one, 1).status.success());
    for k in [2, 3] {
        let out = tmp(&format!("meso{k}"));
        let o = run(&spec, &out, k);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(
            files(&one) == files(&out),
            "meso output differs on {k} ranks"
        );
        assert_eq!(meta(&out)["ranks"][1]["runs"], "its share");
    }
}

#[test]
fn lif_neurons_on_ranks_write_a_single_process_files() {
    // Correlated noise in groups of 20 (the pooled count correlation sums run across the
    // ranks' shares in neuron order), a sweep, counts, spikes and traces of the first neurons.
    let text = "[simulation]\ndt = 0.1\nt_end = 300.0\nseed = 5\nreplicas = 2\n[[population]]\nname = \"N\"\nmodel = \"lif\"\nsize = 300\nparams = { tau_m = 20.0, E_L = 0.0, V_reset = 0.0, V_th = 20.0, t_ref = 5.0, R_m = 1.0, I = 20.0, sigma = 2.0, crossing_correction = true, group = 20, rho = 0.3 }\n[record]\nwindows = [[100.0, 300.0]]\nspikes = [{ population = \"N\", first = 50 }]\ntraces = [{ population = \"N\", variable = \"V_m\", first = 3 }]\n[sweep]\n\"N.I\" = [18.0, 22.0]\n";
    let spec = tmp("lif.toml");
    std::fs::write(&spec, text).expect("spec");
    let one = tmp("lif1");
    let o = run(&spec, &one, 1);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(one.join("corr_N.npy").exists());
    for k in [2, 3] {
        let out = tmp(&format!("lif{k}"));
        let o = run(&spec, &out, k);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(
            files(&one) == files(&out),
            "lif output differs on {k} ranks"
        );
    }
}

#[test]
fn spiking_replicas_on_ranks_write_a_single_process_files() {
    // 3 replicas of a network with drawn weights and delays (stored and procedural rows):
    // each rank builds and simulates only its replicas on the CPU path.
    let text =
        include_str!("data/drawn_synapses.toml").replace("seed = 3", "seed = 3\nreplicas = 3");
    let spec = tmp("spk.toml");
    std::fs::write(&spec, text).expect("spec");
    let one = tmp("spk1");
    assert!(run(&spec, &one, 1).status.success());
    for k in [2, 3] {
        let out = tmp(&format!("spk{k}"));
        let o = run(&spec, &out, k);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(
            files(&one) == files(&out),
            "spiking output differs on {k} ranks"
        );
        assert_eq!(
            meta(&out)["model"]["synapses_stored"],
            meta(&one)["model"]["synapses_stored"]
        );
    }
}

#[test]
fn one_spiking_network_on_ranks_writes_a_single_process_files() {
    // One network (drawn weights and delays; stored fixed_total_number, fixed_indegree and
    // pairwise_bernoulli rows, procedural pairwise_bernoulli and fixed_total_number rows)
    // with V_m traces: the ranks share its neurons and exchange spikes every block.
    let text = include_str!("data/drawn_synapses.toml").replace(
        "spikes = [",
        "traces = [{ population = \"E\", variable = \"V_m\", first = 3 }, { population = \"I\", variable = \"V_m\", first = 2 }]\nspikes = [",
    );
    let spec = tmp("net.toml");
    std::fs::write(&spec, text).expect("spec");
    let one = tmp("net1");
    assert!(run(&spec, &one, 1).status.success());
    assert!(files(&one).iter().any(|(n, _)| n == "V_m_I.npy"));
    for k in [2, 3] {
        let out = tmp(&format!("net{k}"));
        let o = run(&spec, &out, k);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(
            files(&one) == files(&out),
            "spiking output differs on {k} ranks sharing the neurons"
        );
        let m = meta(&out);
        assert_eq!(
            m["model"]["synapses_stored"],
            meta(&one)["model"]["synapses_stored"]
        );
        assert!(m["model"]["ranks_divide"]
            .as_str()
            .is_some_and(|s| s.starts_with("the neurons")));
    }
}

#[test]
fn replicas_split_by_neurons_with_threads_write_the_same_files() {
    // Two replicas on two ranks told to share the neurons, two threads each: the spikes
    // exchanged carry both replicas, the threads split each rank's part again.
    let text =
        include_str!("data/drawn_synapses.toml").replace("seed = 3", "seed = 3\nreplicas = 2");
    let spec = tmp("netr.toml");
    std::fs::write(&spec, text).expect("spec");
    let one = tmp("netr1");
    assert!(run(&spec, &one, 1).status.success());
    let out = tmp("netr2");
    let bin = env!("CARGO_BIN_EXE_neuropop");
    let o = Command::new("mpirun")
        .args([
            "--allow-run-as-root",
            "--oversubscribe",
            "-n",
            "2",
            bin,
            "run",
        ])
        .arg(&spec)
        .args(["--backend", "cpu", "--out"])
        .arg(&out)
        .env("NEUROPOP_THREADS", "2")
        .env("NEUROPOP_MPI_SPLIT", "neurons")
        .output()
        .expect("mpirun");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(files(&one) == files(&out), "output differs");
    assert!(meta(&out)["model"]["ranks_divide"]
        .as_str()
        .is_some_and(|s| s.starts_with("the neurons")));
}

#[test]
fn one_spiking_network_on_gpu_ranks_writes_a_single_process_files() {
    // Every rank on its GPU adapter (lavapipe here): the ranks share the neurons, each
    // block's spikes read back, all-gathered and delivered on each device; the files are
    // the single CPU process's.
    if std::env::var_os("NEUROPOP_REQUIRE_GPU").is_none()
        && Command::new(env!("CARGO_BIN_EXE_neuropop"))
            .args(["devices"])
            .output()
            .map(|o| !String::from_utf8_lossy(&o.stdout).contains("Vulkan"))
            .unwrap_or(true)
    {
        eprintln!("skipping: no GPU adapter");
        return;
    }
    let text = include_str!("data/drawn_synapses.toml")
        .replace("t_end = 200.0", "t_end = 100.0")
        .replace("windows = [[50.0, 200.0]]", "windows = [[50.0, 100.0]]")
        .replace(
            "spikes = [",
            "traces = [{ population = \"I\", variable = \"V_m\", first = 2 }]\nspikes = [",
        );
    let spec = tmp("gpunet.toml");
    std::fs::write(&spec, text).expect("spec");
    let (one, two) = (tmp("gpu1"), tmp("gpu2"));
    assert!(run(&spec, &one, 1).status.success());
    let o = run_on(&spec, &two, 2, "gpu");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        files(&one) == files(&two),
        "spiking output differs on 2 GPU ranks"
    );
    let m = meta(&two);
    assert_eq!(m["ranks"][1]["runs"], "its share");
    assert_eq!(m["ranks"][1]["backend"], "gpu");
    assert!(m["model"]["ranks_divide"]
        .as_str()
        .is_some_and(|s| s.starts_with("the neurons")));
}

#[test]
fn a_network_too_large_for_the_ranks_devices_says_how_many_would_hold_it() {
    // 4e8 stored synapse words on two ranks of lavapipe, whose synapse bindings hold 2^27
    // words (4 x its 128 MiB binding limit): refused before anything is built, naming how
    // many ranks would hold it (GPUs with larger limits would run it: not tested there).
    let devices = Command::new(env!("CARGO_BIN_EXE_neuropop"))
        .args(["devices"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        std::env::var_os("NEUROPOP_REQUIRE_GPU").is_none() || devices.contains("Vulkan"),
        "NEUROPOP_REQUIRE_GPU is set but there is no GPU adapter: {devices}"
    );
    if !devices.contains("* 0: llvmpipe") {
        eprintln!("skipping: the adapter is not lavapipe");
        return;
    }
    let text = "[simulation]\ndt = 0.1\nt_end = 10.0\nseed = 1\n[[population]]\nname = \"E\"\nmodel = \"iaf_psc_delta\"\nsize = 200000\nparams = { C_m = 250.0, tau_m = 20.0, t_ref = 2.0, E_L = 0.0, V_reset = 10.0, V_m = 0.0, V_th = 20.0 }\n[[projection]]\nsource = \"E\"\ntarget = \"E\"\nrule = \"fixed_indegree\"\nindegree = 2000\nweight = 0.1\ndelay = 1.5\nconnectivity = \"stored\"\n";
    let spec = tmp("huge.toml");
    std::fs::write(&spec, text).expect("spec");
    let out = tmp("huge");
    let o = run_on(&spec, &out, 2, "gpu");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("neuropop: error:").count(), 1, "{err}");
    assert!(err.contains("ranks 0, 1:"), "{err}");
    assert!(err.contains("needs at least 3 ranks"), "{err}");
    assert!(!out.exists(), "output left behind");
}

#[test]
fn a_bad_spec_fails_every_rank_with_one_message() {
    let spec = tmp("bad.toml");
    std::fs::write(&spec, RATE.replace("replicas = 50", "replicas = 0")).expect("spec");
    let out = tmp("bad");
    let o = run(&spec, &out, 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "a user error: {err}");
    assert_eq!(err.matches("neuropop: error:").count(), 1, "{err}");
    assert!(err.contains("simulation.replicas"), "{err}");
    assert!(!out.exists(), "output left behind");
}

#[test]
fn validate_and_compare_on_ranks_report_once_as_one_process() {
    // `validate` and `compare` share their runs among the ranks; rank 0 reports once, with
    // the single process's numbers.
    let bin = env!("CARGO_BIN_EXE_neuropop");
    let spec = tmp("val.toml");
    std::fs::write(&spec, RATE).expect("spec");
    let validate = |ranks: &str| {
        let o = Command::new("mpirun")
            .args(["--allow-run-as-root", "--oversubscribe", "-n", ranks, bin])
            .arg("validate")
            .arg(&spec)
            .args(["--json"])
            .env("NEUROPOP_THREADS", "1")
            .output()
            .expect("mpirun");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON report");
        assert_eq!(v["ok"], true);
        v["arrays"].clone()
    };
    assert_eq!(validate("1"), validate("2"));
    let gif = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/brunel_gif.toml");
    let compare = |ranks: &str, out: &Path| {
        let o = Command::new("mpirun")
            .args(["--allow-run-as-root", "--oversubscribe", "-n", ranks, bin])
            .arg("compare")
            .arg(&gif)
            .args([
                "--seeds",
                "3",
                "--t-end",
                "800",
                "--backend",
                "cpu",
                "--out",
            ])
            .arg(out)
            .env("NEUROPOP_THREADS", "1")
            .output()
            .expect("mpirun");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.matches("clipped").count(), 1, "warnings once: {err}");
        let c: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("compare.json")).expect("compare.json"))
                .expect("json");
        (c["windows"].clone(), c["spectra"].clone())
    };
    let (one, two) = (tmp("cmp1"), tmp("cmp2"));
    assert_eq!(compare("1", &one), compare("2", &two));
    assert_eq!(meta(&two)["ranks"], 2);
}

#[test]
fn a_failure_on_rank_zero_alone_stops_every_rank() {
    // The output directory is busy (this test holds its lock): only rank 0 opens it, fails,
    // and the other rank must learn it at the next agreement instead of waiting forever.
    let spec = tmp("busy.toml");
    std::fs::write(&spec, RATE).expect("spec");
    let out = tmp("busy");
    std::fs::create_dir_all(&out).expect("dir");
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(out.join(".neuropop.lock"))
        .expect("lock file");
    lock.try_lock().expect("hold the lock");
    let o = Command::new("timeout")
        .arg("60")
        .args([
            "mpirun",
            "--allow-run-as-root",
            "--oversubscribe",
            "-n",
            "2",
        ])
        .arg(env!("CARGO_BIN_EXE_neuropop"))
        .arg("run")
        .arg(&spec)
        .args(["--backend", "cpu", "--out"])
        .arg(&out)
        .output()
        .expect("timeout + mpirun");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_ne!(o.status.code(), Some(124), "the ranks hung: {err}");
    assert_eq!(err.matches("neuropop: error:").count(), 1, "{err}");
    assert!(
        err.contains("being written by another neuropop run"),
        "{err}"
    );
    drop(lock);
}
