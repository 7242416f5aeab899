//! The rate model (rate populations): GPU-vs-CPU parity, the tutorial's numbers,
//! first-order convergence of Euler, OU statistics, and bad input.

mod common;

use common::{build_err, run, values};

use neuropop::backend::Backend;
use neuropop::models::rate::analysis::{self, f};
use neuropop::models::rate::RateParams;
use neuropop::run::{compare, Model};
use neuropop::spec::Spec;

fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Cpu];
    if let Some(ctx) = common::gpu() {
        v.push(Backend::Gpu(ctx));
    }
    v
}

/// 10^4 replicas with mixed parameters (w, I_ext, sigma_ou, tau swept) and OU noise for 10^4
/// steps: every trace and summary within 1e-5 of the CPU path. On lavapipe the two paths are
/// bit-identical; the tolerance allows for devices that fuse multiply-adds.
#[test]
fn rate_gpu_matches_cpu() {
    let Some(ctx) = common::gpu() else { return };
    let text = r#"
[simulation]
dt = 0.1
t_end = 1000.0
seed = 11
replicas = 25
[[population]]
name = "E"
model = "rate"
params = { tau_ou = 1.0 }
[record]
traces = [{ population = "E", variable = "r", replicas = 16, every = 5 }, { population = "E", variable = "eta", replicas = 4 }]
summaries = ["final", "mean", "above:0.5", "crossings:0.2:0.7"]
plots = false
[sweep]
"E.w" = { start = 3.0, stop = 6.0, num = 4 }
"E.I_ext" = { start = 0.3, stop = 0.8, num = 5 }
"E.sigma_ou" = [0.0, 0.3, 0.7, 1.0]
"E.tau" = [1.0, 2.0, 5.0, 10.0, 20.0]
"#;
    let gpu = run(text, &Backend::Gpu(ctx));
    let cpu = run(text, &Backend::Cpu);
    assert_eq!(values(&cpu, "summary_E_final").len(), 10_000);
    let cmp = compare(&gpu, &cpu, 1e-5);
    for c in &cmp {
        eprintln!(
            "{}: max |diff| {:e}, {} of {} values differ in bits",
            c.name, c.max_abs_diff, c.values_differing, c.values
        );
    }
    assert!(cmp.iter().all(|c| c.ok), "{cmp:#?}");
    // The runs are not trivial: replicas switch between the two states.
    let crossings: f64 = values(&cpu, "summary_E_crossings").iter().sum();
    assert!(crossings > 10_000.0, "only {crossings} crossings");
}

/// A Wilson-Cowan E-I pair (two coupled populations) with a step stimulus and noise in E.
#[test]
fn coupled_rate_gpu_matches_cpu() {
    let Some(ctx) = common::gpu() else { return };
    let text = r#"
[simulation]
dt = 0.1
t_end = 200.0
seed = 5
replicas = 50
[[population]]
name = "E"
model = "rate"
params = { tau = 1.0, a = 1.2, theta = 2.8, sigma_ou = 0.2, tau_ou = 2.0, ou_scheme = "exact" }
[[population]]
name = "I"
model = "rate"
params = { tau = 2.0, a = 1.0, theta = 4.0, transfer = "sigmoid" }
[[projection]]
source = "E"
target = "E"
weight = 9.0
[[projection]]
source = "I"
target = "E"
weight = -4.0
[[projection]]
source = "E"
target = "I"
weight = 13.0
[[projection]]
source = "I"
target = "I"
weight = -11.0
[[stimulus]]
kind = "step_current"
target = "E"
times = [50.0, 150.0]
amplitudes = [1.0, 0.0]
[record]
traces = [{ population = "E", variable = "r", replicas = 3 }, { population = "I", variable = "r", replicas = 3 }]
summaries = ["final", "mean"]
plots = false
[sweep]
"E->I.weight" = [10.0, 13.0, 16.0]
"#;
    let gpu = run(text, &Backend::Gpu(ctx));
    let cpu = run(text, &Backend::Cpu);
    let cmp = compare(&gpu, &cpu, 1e-5);
    assert!(cmp.iter().all(|c| c.ok), "{cmp:#?}");
    // The stimulus acts: E is higher during [50, 150) ms than before.
    let e = values(&cpu, "trace_E_r");
    let (before, during) = (e[3 * 400], e[3 * 1000]);
    assert!(
        during > before,
        "E before {before}, during stimulus {during}"
    );
}

/// The tutorial's trajectories (w = 5, I_ext = 0.5, r_init = 0.0 .. 0.9) settle on its stable
/// fixed points 0.042 and 0.900, on both paths.
#[test]
fn tutorial_trajectories_settle_on_the_stable_fixed_points() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/rate_trajectories.toml"
    ))
    .expect("example");
    let text = text.replace("t_end = 20.0", "t_end = 60.0");
    let p = RateParams {
        w: 5.0,
        i_ext: 0.5,
        ..Default::default()
    };
    let fps = analysis::fixed_points(&p, 10_000);
    for b in backends() {
        let rec = run(&text, &b);
        let fin = values(&rec, "summary_E_final");
        for (i, r) in fin.iter().enumerate() {
            let want = if i < 5 { fps[0].r } else { fps[2].r };
            assert!(
                (r - want).abs() < 1e-5,
                "{} r_init {}: {r} vs {want}",
                b.name(),
                i as f64 * 0.1
            );
        }
        assert!((fps[0].r - 0.042).abs() < 5e-4 && (fps[2].r - 0.900).abs() < 5e-4);
    }
}

/// With w = 0 the F-I curve example converges to F(I_ext) exactly (Euler's fixed point).
#[test]
fn fi_curve_equals_the_transfer_function() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/rate_fi_curve.toml"
    ))
    .expect("example");
    let p = RateParams::default();
    for b in backends() {
        let rec = run(&text, &b);
        let fin = values(&rec, "summary_E_final");
        let grid = values(&rec, "sweep");
        assert_eq!(fin.len(), 101);
        for (r, i) in fin.iter().zip(grid) {
            assert!(
                (r - f(&p, *i)).abs() < 2e-6,
                "{}: F({i}) = {} but simulated {r}",
                b.name(),
                f(&p, *i)
            );
        }
    }
}

/// Forward Euler against the exact solution for w = 0: the error halves with dt (first order).
#[test]
fn euler_converges_at_first_order() {
    let p = RateParams {
        w: 0.0,
        i_ext: 3.0,
        r_init: 0.1,
        tau: 1.0,
        ..Default::default()
    };
    let t_end = 2.0;
    let exact = analysis::exact_w0(&p, p.r_init, t_end);
    let err = |dt: f64| {
        let text = format!(
            "[simulation]\ndt = {dt}\nt_end = {t_end}\n[[population]]\nname = \"E\"\nmodel = \"rate\"\nparams = {{ w = 0.0, I_ext = 3.0, r_init = 0.1 }}\n[record]\nsummaries = [\"final\"]\nplots = false\n"
        );
        let rec = run(&text, &Backend::Cpu);
        (values(&rec, "summary_E_final")[0] - exact).abs()
    };
    let (e1, e2) = (err(0.02), err(0.01));
    let order = (e1 / e2).log2();
    eprintln!("Euler error {e1:e} at dt 0.02, {e2:e} at dt 0.01: order {order:.3}");
    assert!((order - 1.0).abs() < 0.1, "observed order {order}");
    assert!(
        e1 > 1e-4,
        "error {e1} too small to measure the order in f32"
    );
}

/// Stationary OU statistics across 10^5 replicas after 30 tau_ou: mean 0 and variance sigma^2
/// (exact scheme) or the tutorial's Euler value sigma^2 / (1 - dt / (2 tau_ou)).
#[test]
fn ou_input_has_the_stationary_statistics() {
    for b in backends() {
        for (scheme, factor) in [("exact", 1.0), ("euler", 1.0 / (1.0 - 0.1 / 2.0))] {
            let text = format!(
                r#"
[simulation]
dt = 0.1
t_end = 30.0
seed = 99
replicas = 100000
[[population]]
name = "E"
model = "rate"
params = {{ sigma_ou = 0.7, tau_ou = 1.0, ou_scheme = "{scheme}" }}
[record]
traces = [{{ population = "E", variable = "eta", replicas = 100000, every = 300 }}]
plots = false
"#
            );
            let rec = run(&text, &b);
            let eta = values(&rec, "trace_E_eta");
            assert_eq!(eta.len(), 200_000);
            for (when, x) in [("t = 0", &eta[..100_000]), ("t = 30 ms", &eta[100_000..])] {
                let n = x.len() as f64;
                let mean = x.iter().sum::<f64>() / n;
                let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
                let want = if when == "t = 0" { 0.49 } else { 0.49 * factor };
                eprintln!(
                    "{} {scheme} {when}: mean {mean:.5}, variance {var:.5} (want {want:.5})",
                    b.name()
                );
                assert!(
                    mean.abs() < 5.0 * (want / n).sqrt(),
                    "{scheme} {when}: mean {mean}"
                );
                assert!(
                    (var - want).abs() < 5.0 * want * (2.0 / n).sqrt(),
                    "{scheme} {when}: variance {var} vs {want}"
                );
            }
        }
    }
}

const BASE: &str =
    "[simulation]\ndt = 0.1\nt_end = 10.0\n[[population]]\nname = \"E\"\nmodel = \"rate\"\n";

#[test]
fn bad_rate_input_gets_a_clear_message() {
    let e = build_err(&format!("{BASE}params = {{ tau = 0.0 }}\n"));
    assert!(e.contains("tau") && e.contains("> 0"), "{e}");
    let e = build_err(&format!("{BASE}params = {{ tau = 0.04 }}\n"));
    assert!(e.contains("unstable") && e.contains("dt"), "{e}");
    let e = build_err(&format!("{BASE}params = {{ sigma_ou = -1.0 }}\n"));
    assert!(e.contains("sigma_ou") && e.contains(">= 0"), "{e}");
    let e = build_err(&format!("{BASE}params = {{ theta = nan }}\n"));
    assert!(e.contains("theta") && e.contains("finite"), "{e}");
    let e = build_err(&format!("{BASE}params = {{ transfer = \"softplus\" }}\n"));
    assert!(e.contains("softplus") && e.contains("sigmoid"), "{e}");
    let many: String = (0..17)
        .map(|i| format!("[[population]]\nname = \"P{i}\"\nmodel = \"rate\"\n"))
        .collect();
    let e = build_err(&format!("[simulation]\ndt = 0.1\nt_end = 1.0\n{many}"));
    assert!(e.contains("17") && e.contains("16"), "{e}");
    let e = build_err(&format!(
        "{BASE}[record]\ntraces = [{{ population = \"E\", variable = \"V_m\" }}]\n"
    ));
    assert!(e.contains("V_m") && e.contains("`r`"), "{e}");
    let e = build_err(&format!("{BASE}[sweep]\n\"E.transfer\" = [1.0]\n"));
    assert!(e.contains("cannot be swept"), "{e}");
    let e = build_err(&format!("{BASE}[sweep]\n\"E.tau\" = [1.0, -1.0]\n"));
    assert!(
        e.contains("sweep combination 1") && e.contains("tau"),
        "{e}"
    );
    let e = build_err(&format!("{BASE}size = 10\n"));
    assert!(
        e.contains("population[0].size") && e.contains("replicas"),
        "{e}"
    );
}

#[test]
fn coarse_time_step_warns() {
    let spec = Spec::parse(&format!("{BASE}params = {{ tau = 0.15 }}\n"), "w.toml").expect("spec");
    let model = Model::build(&spec).expect("model");
    assert_eq!(model.warnings().len(), 1, "{:?}", model.warnings());
}
