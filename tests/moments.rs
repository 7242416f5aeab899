//! The LIF moment activation: the f64 reference, the f32 CPU twin and the GPU kernel against
//! 40-digit mpmath values (tests/data/moments_reference.csv, tools/moments_reference.py), no
//! NaN/Inf anywhere on the input range, the sigma_bar = 0 limit, GPU-vs-CPU bit identity and
//! the `moments` command.

mod common;

use neuropop::backend::Backend;
use neuropop::models::moments::engine::moment_activation_points;
use neuropop::models::moments::reference::{deterministic, moments};
use neuropop::models::moments::{output_correlation, MomentParams};

/// (mu_bar, sigma_bar, [rate, std, fano, chi]) rows of the mpmath file.
fn reference_rows() -> Vec<(f64, f64, [f64; 4])> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/moments_reference.csv"
    ))
    .expect("read csv");
    let rows: Vec<_> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("mu_bar"))
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|x| x.parse().expect("number")).collect();
            (v[0], v[1], [v[2], v[3], v[4], v[5]])
        })
        .collect();
    assert!(rows.len() > 300, "{} rows", rows.len());
    rows
}

const NAMES: [&str; 4] = ["rate", "std", "fano", "chi"];

/// Largest relative error per output over rows with rate > 1e-6, and where it occurs.
fn max_rel(rows: &[(f64, f64, [f64; 4])], got: &[[f64; 4]]) -> [(f64, f64, f64); 4] {
    let mut worst = [(0.0, 0.0, 0.0); 4];
    for ((m, s, want), got) in rows.iter().zip(got) {
        if want[0] <= 1e-6 {
            continue;
        }
        for k in 0..4 {
            let rel = ((got[k] - want[k]) / want[k]).abs();
            assert!(!rel.is_nan(), "NaN at mu_bar {m} sigma_bar {s}: {got:?}");
            if rel > worst[k].0 {
                worst[k] = (rel, *m, *s);
            }
        }
    }
    worst
}

fn report(label: &str, worst: &[(f64, f64, f64); 4], tol: f64) {
    for k in 0..4 {
        let (rel, m, s) = worst[k];
        eprintln!(
            "{label}: {} max rel error {rel:.3e} at mu_bar {m}, sigma_bar {s}",
            NAMES[k]
        );
    }
    for k in 0..4 {
        assert!(
            worst[k].0 <= tol,
            "{label}: {} rel error {:.3e} > {tol:e} at mu_bar {}, sigma_bar {}",
            NAMES[k],
            worst[k].0,
            worst[k].1,
            worst[k].2
        );
    }
}

#[test]
fn f64_reference_matches_mpmath_to_1e_8() {
    let p = MomentParams::default();
    let rows = reference_rows();
    let got: Vec<[f64; 4]> = rows
        .iter()
        .map(|&(m, s, _)| {
            let r = moments(&p, m, s);
            [r.rate, r.std, r.fano, r.chi]
        })
        .collect();
    report("f64 reference", &max_rel(&rows, &got), 1e-8);
    // Spot values (mpmath, 12 digits).
    let r = moments(&p, 1.0, 1.0);
    assert!((r.rate - 0.018_236_946_205_8).abs() < 1e-12, "{r:?}");
    assert!((r.fano - 0.160_987_380_834).abs() < 1e-11, "{r:?}");
}

fn f32_rows(backend: &Backend, rows: &[(f64, f64, [f64; 4])]) -> Vec<[f64; 4]> {
    let mu: Vec<f32> = rows.iter().map(|r| r.0 as f32).collect();
    let sg: Vec<f32> = rows.iter().map(|r| r.1 as f32).collect();
    // The CSV inputs are not all exact in f32: compare against the f64 reference at the
    // rounded input, scaled by the mpmath/f64 agreement checked above.
    moment_activation_points(backend, &MomentParams::default(), &mu, &sg)
        .expect("moment activation")
        .iter()
        .map(|v| v.map(f64::from))
        .collect()
}

/// mpmath values moved to the f32-rounded inputs via the f64 reference's ratio.
fn rows_at_f32_inputs(rows: &[(f64, f64, [f64; 4])]) -> Vec<(f64, f64, [f64; 4])> {
    let p = MomentParams::default();
    rows.iter()
        .map(|&(m, s, want)| {
            let (m32, s32) = (f64::from(m as f32), f64::from(s as f32));
            if m32 == m && s32 == s {
                return (m, s, want);
            }
            let a = moments(&p, m, s);
            let b = moments(&p, m32, s32);
            let ra = [a.rate, a.std, a.fano, a.chi];
            let rb = [b.rate, b.std, b.fano, b.chi];
            let mut w = want;
            for k in 0..4 {
                if ra[k] != 0.0 {
                    w[k] = want[k] * rb[k] / ra[k];
                }
            }
            (m32, s32, w)
        })
        .collect()
}

#[test]
fn f32_cpu_twin_matches_mpmath_to_1e_4() {
    let rows = rows_at_f32_inputs(&reference_rows());
    let got = f32_rows(&Backend::Cpu, &rows);
    report("f32 CPU twin", &max_rel(&rows, &got), 1e-4);
}

#[test]
fn f32_gpu_matches_mpmath_to_1e_4() {
    let Some(ctx) = common::gpu() else { return };
    let rows = rows_at_f32_inputs(&reference_rows());
    let got = f32_rows(&Backend::Gpu(ctx), &rows);
    report("f32 GPU", &max_rel(&rows, &got), 1e-4);
}

/// A dense grid over mu_bar in [-10, 10], sigma_bar in [0, 20] plus hard points.
fn dense_grid(n: usize) -> (Vec<f32>, Vec<f32>) {
    let mut mu = Vec::new();
    let mut sg = Vec::new();
    let mut sigmas: Vec<f32> = (0..n).map(|j| 20.0 * j as f32 / (n - 1) as f32).collect();
    sigmas.extend([1e-30, 1e-20, 1e-12, 1e-6, 1e-3, 0.01]);
    let mut mus: Vec<f32> = (0..n)
        .map(|i| -10.0 + 20.0 * i as f32 / (n - 1) as f32)
        .collect();
    mus.extend([
        1.0,
        1.0 + f32::EPSILON,
        1.0 - f32::EPSILON / 2.0,
        0.0,
        -1e-30,
    ]);
    for &s in &sigmas {
        for &m in &mus {
            mu.push(m);
            sg.push(s);
        }
    }
    (mu, sg)
}

fn count_non_finite(v: &[[f32; 4]]) -> usize {
    v.iter().flatten().filter(|x| !x.is_finite()).count()
}

#[test]
fn no_nan_or_inf_on_the_whole_range() {
    let p = MomentParams::default();
    let (mu, sg) = dense_grid(401);
    let cpu = moment_activation_points(&Backend::Cpu, &p, &mu, &sg).expect("cpu");
    let bad = count_non_finite(&cpu);
    for (i, v) in cpu
        .iter()
        .enumerate()
        .filter(|(_, v)| v.iter().any(|x| !x.is_finite()))
        .take(5)
    {
        eprintln!("non-finite at mu_bar {} sigma_bar {}: {v:?}", mu[i], sg[i]);
    }
    eprintln!("CPU twin: {} points, {bad} non-finite values", cpu.len());
    assert_eq!(bad, 0);
    assert!(cpu.iter().flatten().all(|&x| x >= 0.0), "negative output");
    if let Some(ctx) = common::gpu() {
        let gpu = moment_activation_points(&Backend::Gpu(ctx), &p, &mu, &sg).expect("gpu");
        let bad = count_non_finite(&gpu);
        eprintln!("GPU: {} points, {bad} non-finite values", gpu.len());
        assert_eq!(bad, 0);
    }
    // The f64 reference on a coarser grid (it integrates numerically).
    let (mu, sg) = dense_grid(41);
    let mut bad = 0;
    for (&m, &s) in mu.iter().zip(&sg) {
        let r = moments(&p, f64::from(m), f64::from(s));
        for v in [r.rate, r.std, r.fano, r.chi] {
            if !v.is_finite() || v < 0.0 {
                bad += 1;
            }
        }
    }
    eprintln!(
        "f64 reference: {} points, {bad} non-finite values",
        mu.len()
    );
    assert_eq!(bad, 0);
}

#[test]
fn deterministic_limit_at_sigma_zero() {
    let p = MomentParams::default();
    // Above rheobase: 1/(T_ref + ln(mu/(mu - V_th L))/L), std and Fano 0.
    for mu in [1.5, 2.0, 5.0, 10.0] {
        let want = 1.0 / (5.0 + (mu / (mu - 1.0f64)).ln() / 0.05);
        let d = deterministic(&p, mu);
        assert!((d.rate / want - 1.0).abs() < 1e-14);
        assert_eq!((d.std, d.fano), (0.0, 0.0));
        // chi's limit sqrt(2 mu theta / (L (2 mu_bar - theta))) and continuity in sigma_bar.
        let chi = (2.0 * want / (0.05 * (2.0 * mu - 1.0))).sqrt();
        assert!((d.chi / chi - 1.0).abs() < 1e-12, "{} {chi}", d.chi);
        let m = moments(&p, mu, 1e-3);
        assert!((m.rate / d.rate - 1.0).abs() < 1e-5, "{m:?} {d:?}");
        assert!((m.chi / d.chi - 1.0).abs() < 1e-3, "{m:?} {d:?}");
        let f = moment_activation_points(&Backend::Cpu, &p, &[mu as f32], &[0.0]).expect("cpu")[0];
        assert!((f64::from(f[0]) / want - 1.0).abs() < 1e-6, "{f:?}");
        assert!((f64::from(f[3]) / chi - 1.0).abs() < 1e-5, "{f:?}");
        assert_eq!((f[1], f[2]), (0.0, 0.0));
    }
    // At and below rheobase no spikes.
    let d = deterministic(&p, 1.0);
    assert_eq!((d.rate, d.std, d.chi), (0.0, 0.0, 0.0));
    let d = deterministic(&p, 0.5);
    assert_eq!((d.rate, d.fano), (0.0, 1.0));
    // The tutorial's first exercise: input_mean 0.8, std 0 gives no spikes; 1.0 is critical.
    assert_eq!(moments(&p, 0.8, 0.0).rate, 0.0);
    assert_eq!(output_correlation(0.5, 0.4, 0.1), 0.5 * 0.4 * 0.1);
}

#[test]
fn far_subthreshold_tends_to_poisson() {
    let p = MomentParams::default();
    let r = moments(&p, -5.0, 0.5);
    assert!(r.rate < 1e-100 && (r.fano - 1.0).abs() < 1e-6, "{r:?}");
    let f = moment_activation_points(&Backend::Cpu, &p, &[-5.0], &[0.5]).expect("cpu")[0];
    assert_eq!(f[0], 0.0);
    assert!((f[2] - 1.0).abs() < 1e-4, "{f:?}");
}

#[test]
fn moment_activation_gpu_matches_cpu() {
    let Some(ctx) = common::gpu() else { return };
    let p = MomentParams::default();
    let (mu, sg) = dense_grid(1001);
    // Warm up: pipeline compilation and the fit table are not part of the timing.
    let backend = Backend::Gpu(ctx);
    moment_activation_points(&backend, &p, &[1.0], &[1.0]).expect("warm-up");
    let t = std::time::Instant::now();
    let cpu = moment_activation_points(&Backend::Cpu, &p, &mu, &sg).expect("cpu");
    let t_cpu = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let gpu = moment_activation_points(&backend, &p, &mu, &sg).expect("gpu");
    let t_gpu = t.elapsed().as_secs_f64();
    let mut differing = 0usize;
    let mut first = None;
    for (i, (a, b)) in cpu.iter().zip(&gpu).enumerate() {
        for k in 0..4 {
            if a[k].to_bits() != b[k].to_bits() {
                differing += 1;
                first.get_or_insert((i, k, a[k], b[k], mu[i], sg[i]));
            }
        }
    }
    eprintln!(
        "{} points: {differing} values differ in bits (first: {first:?}); CPU {t_cpu:.3} s, GPU {t_gpu:.3} s",
        cpu.len()
    );
    assert_eq!(differing, 0, "first differing: {first:?}");
}

#[test]
fn moments_command_prints_table_json_and_plots() {
    use std::process::Command;
    let bin = env!("CARGO_BIN_EXE_neuropop");
    let out = Command::new(bin)
        .args([
            "moments",
            "--mu",
            "-1:3:5",
            "--sigma",
            "0:2:3",
            "--backend",
            "cpu",
            "--json",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rate = v["rate"].as_array().expect("rate");
    assert_eq!(rate.len(), 15);
    // mu_bar = 3, sigma_bar = 0: the deterministic rate (last of the first row).
    let want = 1.0 / (5.0 + (3.0f64 / 2.0).ln() / 0.05);
    let got = rate[4].as_f64().expect("number");
    assert!((got / want - 1.0).abs() < 1e-6, "{got} {want}");

    let dir = std::env::temp_dir().join(format!("neuropop-moments-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(bin)
        .args([
            "moments",
            "--mu",
            "-2:4:7",
            "--sigma",
            "0:4:5",
            "--backend",
            "cpu",
            "--plot",
        ])
        .arg(&dir)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Fano") && text.contains("chi"), "{text}");
    for f in [
        "rate.png",
        "std.png",
        "fano.png",
        "chi.png",
        "rate.npy",
        "mu_bar.npy",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let _ = std::fs::remove_dir_all(&dir);

    let out = Command::new(bin)
        .args([
            "moments",
            "--mu",
            "0:1:3",
            "--sigma",
            "-1:1:3",
            "--backend",
            "cpu",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sigma_bar"), "{err}");
}
