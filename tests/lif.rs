//! The `lif` model: GPU/CPU parity, exact integration against the analytic ISI, the F-I counts
//! of the Differential Equations tutorial (Neuromatch Academy), noisy rates against the moment
//! activation (the moment-activation tutorial's neuron), bad input.

mod common;

use neuropop::backend::Backend;
use neuropop::models::moments::{reference, MomentParams};
use std::time::Instant;

fn u32s(rec: &neuropop::output::MemoryRecorder, name: &str) -> Vec<u64> {
    common::values(rec, name)
        .iter()
        .map(|&x| x as u64)
        .collect()
}

/// The backend the slow statistical tests use: the GPU when there is one (faster here).
fn fast_backend() -> Backend {
    match common::gpu() {
        Some(ctx) => Backend::Gpu(ctx),
        None => Backend::Cpu,
    }
}

#[test]
fn lif_gpu_matches_cpu() {
    let Some(ctx) = common::gpu() else { return };
    // 10^4 neurons x 10^4 steps with correlated white noise (rho = 0.3 in groups of 64), OU
    // input, a step current and the crossing correction: every spike count, spike time and V
    // sample identical.
    let text = r#"
[simulation]
dt = 0.01
t_end = 100.0
seed = 7
[[population]]
name = "N"
model = "lif"
size = 10000
params = { tau_m = 20.0, E_L = 0.0, V_reset = 0.0, V_th = 20.0, t_ref = 5.0, R_m = 1.0, I = 20.0, sigma = 1.0, crossing_correction = true, sigma_ou = 0.5, tau_ou = 2.0, rho = 0.3, group = 64 }
[[stimulus]]
kind = "step_current"
target = "N"
times = [30.0, 60.0]
amplitudes = [5.0, -3.0]
[record]
windows = [[0.0, 50.0], [50.0, 100.0]]
spikes = [{ population = "N", first = 200 }]
traces = [{ population = "N", variable = "V_m", first = 5 }]
"#;
    let t = Instant::now();
    let g = common::run(text, &Backend::Gpu(ctx));
    let tg = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let c = common::run(text, &Backend::Cpu);
    let tc = t.elapsed().as_secs_f64();
    let mut differing = 0;
    for name in [
        "counts_N",
        "spikes_N_t",
        "spikes_N_neuron",
        "trace_N_V_m",
        "rate_N",
        "corr_N",
    ] {
        let (a, b) = (common::values(&g, name), common::values(&c, name));
        assert_eq!(a.len(), b.len(), "{name} lengths");
        differing += a
            .iter()
            .zip(b)
            .filter(|(x, y)| x.to_bits() != y.to_bits())
            .count();
    }
    let spikes: u64 = u32s(&c, "counts_N").iter().sum();
    eprintln!(
        "lif_gpu_matches_cpu: {spikes} spikes of 10^4 neurons in 10^4 steps, {differing} differing values (GPU {tg:.2} s, CPU {tc:.2} s)"
    );
    assert!(spikes > 10_000);
    assert_eq!(differing, 0);
}

/// The Differential Equations tutorial's `Exact_Integrate_and_Fire` in f64: spike count over
/// t = 0, dt, ..., < 1000 ms.
fn exact_integrate_and_fire_count(i: f64) -> u64 {
    let (tau, r, el, v_reset, vth) = (10.0, 10.0, -75.0, -75.0, -50.0);
    let (mut n, mut t_isi) = (0, 0.0);
    for k in 0..2000 {
        let t = k as f64 * 0.5;
        let v = el + r * i + (v_reset - el - r * i) * (-(t - t_isi) / tau).exp();
        if v > vth {
            t_isi = t;
            n += 1;
        }
    }
    n
}

#[test]
fn lif_tutorial_fi_counts() {
    let text = common::example("lif_fi_curve.toml");
    let expected: Vec<u64> = (0..20)
        .map(|i| exact_integrate_and_fire_count(2.0 + 1.9 * i as f64 / 19.0))
        .collect();
    let mut backends = vec![Backend::Cpu];
    if let Some(ctx) = common::gpu() {
        backends.push(Backend::Gpu(ctx));
    }
    for b in &backends {
        let rec = common::run(&text, b);
        assert_eq!(u32s(&rec, "counts_N"), expected);
    }
    assert_eq!(expected[6..9], [30, 37, 44]);
}

#[test]
fn lif_grid_rounding_counts_over_a_long_run() {
    // With grid rounding every ISI is K steps, K the first grid point above threshold.
    let (dt, tau, steps) = (0.1f64, 10.0f64, 200_000u64);
    let currents = [2.6, 3.0, 3.7, 5.0];
    let text = format!(
        "[simulation]\ndt = {dt}\nt_end = {}\n[[population]]\nname = \"N\"\nmodel = \"lif\"\nparams = {{ grid_rounding = true }}\n[record]\nplots = false\n[sweep]\n\"N.I\" = {currents:?}\n",
        steps as f64 * dt
    );
    let rec = common::run(&text, &Backend::Cpu);
    let counts = u32s(&rec, "counts_N");
    for (c, &i) in currents.iter().enumerate() {
        let w = 10.0 * i;
        let k = (1..)
            .find(|&k: &u64| w + (0.0 - w) * (-(k as f64) * dt / tau).exp() > 25.0)
            .unwrap_or(0);
        assert_eq!(counts[c], steps / k, "I = {i}: K = {k}");
    }
}

#[test]
fn lif_exact_isi_matches_the_analytic_one() {
    // Exact integration with crossing times solved within the step: ISIs from spike times.
    let currents = [2.6, 3.0, 3.9, 6.0];
    for t_ref in [0.0, 2.0] {
        let text = format!(
            "[simulation]\ndt = 0.1\nt_end = 5000.0\n[[population]]\nname = \"N\"\nmodel = \"lif\"\nparams = {{ t_ref = {t_ref} }}\n[record]\nplots = false\nspikes = [{{ population = \"N\", first = 4 }}]\n[sweep]\n\"N.I\" = {currents:?}\n"
        );
        let mut backends = vec![Backend::Cpu];
        if let Some(ctx) = common::gpu() {
            backends.push(Backend::Gpu(ctx));
        }
        for b in &backends {
            let rec = common::run(&text, b);
            let t = common::values(&rec, "spikes_N_t");
            let n = u32s(&rec, "spikes_N_neuron");
            for (c, &i) in currents.iter().enumerate() {
                let p = neuropop::models::lif::LifParams {
                    i,
                    t_ref,
                    ..Default::default()
                };
                let isi = neuropop::models::lif::LifNetwork::analytic_isi(&p);
                let times: Vec<f64> = t
                    .iter()
                    .zip(&n)
                    .filter(|(_, &j)| j == c as u64)
                    .map(|(&x, _)| x)
                    .collect();
                let m = times.len();
                assert!(m > 50, "I = {i}: {m} spikes");
                let first = (times[0] - isi + t_ref).abs() / isi;
                let mean = (times[m - 1] - times[0]) / (m - 1) as f64;
                let rel = (mean - isi).abs() / isi;
                let worst = times
                    .windows(2)
                    .map(|w| ((w[1] - w[0]) - isi).abs() / isi)
                    .fold(0.0, f64::max);
                eprintln!(
                    "I = {i} nA, t_ref = {t_ref} ms: analytic ISI {isi:.6} ms, mean simulated {mean:.6} ms ({m} spikes), relative error mean {rel:.2e}, worst single ISI {worst:.2e}, first spike {first:.2e}"
                );
                assert!(rel < 1e-6, "I = {i}: mean ISI {mean} vs {isi}");
                assert!(worst < 1e-5, "I = {i}: worst ISI error {worst}");
            }
        }
    }
}

#[test]
fn lif_rates_match_the_moment_activation() {
    // The moment-activation tutorial's neuron (tau_m = 1/L = 20 ms, V_th = 20, V_reset = 0,
    // t_ref = 5) driven by white noise with the crossing correction: stationary rates over many
    // neurons within 1 % of the moment activation.
    let backend = fast_backend();
    let mp = MomentParams::default();
    let t0 = Instant::now();
    // The low-rate point (0, 2) (0.37 spikes/s) needs the most neuron time: dt = 0.1 there.
    for (mu, sigma, size, t_end, dt) in [
        (1.0, 1.0, 20_000u64, 600.0, 0.05),
        (0.0, 2.0, 60_000, 3100.0, 0.1),
        (2.0, 1.0, 10_000, 600.0, 0.05),
        (0.5, 5.0, 10_000, 600.0, 0.05),
    ] {
        let theory = reference::moments(&mp, mu, sigma).rate;
        let text = format!(
            "[simulation]\ndt = {dt}\nt_end = {t_end}\nseed = 11\n[[population]]\nname = \"N\"\nmodel = \"lif\"\nsize = {size}\nparams = {{ tau_m = 20.0, E_L = 0.0, V_reset = 0.0, V_th = 20.0, t_ref = 5.0, R_m = 1.0, I = {}, sigma = {sigma}, crossing_correction = true }}\n[record]\nplots = false\nwindows = [[100.0, {t_end}]]\n",
            mu / 0.05
        );
        let rec = common::run(&text, &backend);
        let counts = u32s(&rec, "counts_N");
        let total: u64 = counts.iter().sum();
        let rate = common::values(&rec, "rate_N")[0] / 1000.0;
        let fano = common::values(&rec, "fano_N")[0];
        let rel = rate / theory - 1.0;
        // Standard error of the rate from the count variance across neurons.
        let se = (fano / total as f64).sqrt();
        eprintln!(
            "(mu_bar, sigma_bar) = ({mu}, {sigma}): simulated {rate:.6}/ms, moment activation {theory:.6}/ms, relative {:+.3} % (SE {:.3} %, {total} spikes), Fano {fano:.3}, {:.1} s",
            100.0 * rel,
            100.0 * se,
            t0.elapsed().as_secs_f64()
        );
        assert!(rel.abs() < 0.01, "({mu}, {sigma}): {rate} vs {theory}");
    }
}

#[test]
fn lif_correlated_input_matches_chi_squared_rho() {
    // The moment-activation tutorial's neuron at (mu_bar, sigma_bar) = (1, 2), input
    // correlation rho in groups of 20: the pooled pairwise count correlation against the
    // moment activation's chi^2 rho.
    let backend = fast_backend();
    let t0 = Instant::now();
    let rhos = [0.0, 0.1, 0.3, 0.6];
    let text = format!(
        "[simulation]\ndt = 0.05\nt_end = 1100.0\nseed = 5\n[[population]]\nname = \"N\"\nmodel = \"lif\"\nsize = 2000\nparams = {{ tau_m = 20.0, E_L = 0.0, V_reset = 0.0, V_th = 20.0, t_ref = 5.0, R_m = 1.0, I = 20.0, sigma = 2.0, crossing_correction = true, group = 20 }}\n[record]\nplots = false\nwindows = [[100.0, 1100.0]]\n[sweep]\n\"N.rho\" = {rhos:?}\n"
    );
    let rec = common::run(&text, &backend);
    let corr = common::values(&rec, "corr_N");
    let pred = common::values(&rec, "corr_N_predicted");
    let rate = common::values(&rec, "rate_N");
    for (c, &rho) in rhos.iter().enumerate() {
        eprintln!(
            "rho = {rho}: count correlation {:.4}, chi^2 rho {:.4}, rate {:.2} Hz",
            corr[c], pred[c], rate[c]
        );
        assert!(
            (corr[c] - pred[c]).abs() < 0.05 + 0.25 * pred[c],
            "rho = {rho}: {} vs {}",
            corr[c],
            pred[c]
        );
    }
    assert!(corr[3] > corr[2] && corr[2] > corr[1] && corr[1] > corr[0]);
    eprintln!("{:.1} s", t0.elapsed().as_secs_f64());
}

#[test]
fn lif_bad_input_is_named() {
    let spec = |params: &str, dt: &str| {
        format!("[simulation]\ndt = {dt}\nt_end = 10.0\n[[population]]\nname = \"N\"\nmodel = \"lif\"\nparams = {{ {params} }}\n")
    };
    for (params, dt, needles) in [
        ("tau_m = 0.0", "0.1", vec!["tau_m", "> 0"]),
        ("tau_m = -1.0", "0.1", vec!["tau_m", "> 0"]),
        ("tau_m = 0.5", "0.5", vec!["tau_m", "dt"]),
        ("I = nan", "0.1", vec!["I", "finite"]),
        ("sigma = -1.0", "0.1", vec!["sigma", ">= 0"]),
        ("V_reset = -40.0", "0.1", vec!["V_reset", "V_th"]),
        (
            "crossing_correction = true",
            "0.1",
            vec!["crossing_correction", "sigma"],
        ),
        ("taum = 1.0", "0.1", vec!["taum"]),
        ("sigma = 1.0, rho = 1.5", "0.1", vec!["rho", "[0, 1]"]),
        ("rho = 0.5", "0.1", vec!["rho", "sigma"]),
        ("sigma = 1.0, group = 5", "0.1", vec!["group", "size"]),
    ] {
        let e = common::build_err(&spec(params, dt));
        for n in needles {
            assert!(e.contains(n), "`{params}`: {e}");
        }
    }
}

#[test]
fn lif_moments_simulate_cli() {
    // `neuropop moments --simulate` on a 2 x 2 grid with correlated input: JSON with theory
    // and simulation side by side, rates within 10 % at 4 x 400 neurons.
    let dir = std::env::temp_dir().join(format!("neuropop-msim-{}", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_neuropop"))
        .args([
            "moments",
            "--simulate",
            "--mu",
            "1:2:2",
            "--sigma",
            "1:2:2",
            "--neurons",
            "400",
            "--t-end",
            "400",
            "--rho",
            "0.3",
            "--backend",
            "cpu",
            "--json",
            "--plot",
        ])
        .arg(&dir)
        .output()
        .expect("neuropop runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let nums = |k: &str| -> Vec<f64> {
        v[k].as_array()
            .unwrap_or_else(|| panic!("no {k}"))
            .iter()
            .map(|x| x.as_f64().unwrap_or(f64::NAN))
            .collect()
    };
    let (th, sim) = (nums("rate_theory"), nums("rate_sim"));
    assert_eq!(th.len(), 4);
    for (t, s) in th.iter().zip(&sim) {
        assert!((s / t - 1.0).abs() < 0.1, "rate {s} vs {t}");
    }
    assert_eq!(nums("corr_sim").len(), 4);
    assert_eq!(nums("fano_theory").len(), 4);
    for f in ["rate_rel_diff.png", "fano_sim.png", "corr_sim.png"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_neuropop"))
        .args([
            "moments",
            "--simulate",
            "--sigma",
            "0:1:2",
            "--backend",
            "cpu",
        ])
        .output()
        .expect("neuropop runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("sigma_bar > 0"));
}

#[test]
fn lif_wav_traces_parse() {
    // `wav = true`: one 16-bit PCM mono file per traced neuron, sample rate 1 / (every dt),
    // one sample per trace row, V over the full range.
    let dir = std::env::temp_dir().join(format!("neuropop-wav-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let spec = dir.join("wav.toml");
    std::fs::write(
        &spec,
        "[simulation]\ndt = 0.05\nt_end = 200.0\n[[population]]\nname = \"N\"\nmodel = \"lif\"\nsize = 4\nparams = { tau_m = 20.0, E_L = 0.0, V_reset = 0.0, V_th = 20.0, t_ref = 5.0, R_m = 1.0, I = 30.0, sigma = 2.0 }\n[record]\nplots = false\ntraces = [{ population = \"N\", variable = \"V_m\", first = 2, every = 2, wav = true }]\n",
    )
    .expect("spec");
    let out = dir.join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_neuropop"))
        .args([
            "run",
            spec.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
            "--backend",
            "cpu",
        ])
        .output()
        .expect("neuropop runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for i in 0..2 {
        let b = std::fs::read(out.join(format!("trace_N_V_m_{i}.wav"))).expect("wav");
        let u16at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
        let u32at = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        assert_eq!(&b[0..4], b"RIFF");
        assert_eq!(u32at(4) as usize, b.len() - 8);
        assert_eq!(&b[8..16], b"WAVEfmt ");
        assert_eq!(
            (u16at(20), u16at(22), u16at(34)),
            (1, 1, 16),
            "PCM mono 16 bit"
        );
        assert_eq!(u32at(24), 10_000, "1 / (2 x 0.05 ms)");
        assert_eq!(&b[36..40], b"data");
        let n = u32at(40) as usize / 2;
        assert_eq!(n, 2000 + 1, "samples t = 0, 0.1, ..., 200 ms");
        assert_eq!(b.len(), 44 + 2 * n);
        let s: Vec<i16> = (0..n).map(|k| u16at(44 + 2 * k) as i16).collect();
        assert_eq!(s.iter().max(), Some(&32767));
        assert_eq!(s.iter().min(), Some(&-32767));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
