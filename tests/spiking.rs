//! Spiking networks: GPU-vs-CPU parity, single neurons against NEST and analytic numbers,
//! the Brunel GIF network against NEST 3.10, and bad input.

mod common;

use common::{build_err, example, gpu, values};
use neuropop::backend::Backend;
use neuropop::models::levels::{at_level, Level};
use neuropop::models::spiking::params::{GifParams, NeuronModel, NeuronParams};
use neuropop::output::MemoryRecorder;
use neuropop::progress::Progress;
use neuropop::run::Model;
use neuropop::spec::Spec;

fn run_spec(spec: &Spec, backend: &Backend) -> MemoryRecorder {
    let model = Model::build(spec).expect("model");
    let mut rec = MemoryRecorder::new();
    model
        .run(backend, &mut rec, &Progress::hidden())
        .expect("run");
    rec
}

/// The Brunel GIF network (examples/brunel_gif.toml) at the microscopic level.
fn brunel_gif_micro(replicas: u32, t_end: f64, record: &str) -> Spec {
    let text = example("brunel_gif.toml")
        .replace("replicas = 10", &format!("replicas = {replicas}"))
        .replace(
            "activity_replicas = 10",
            &format!("activity_replicas = {replicas}"),
        )
        .replace("t_end = 2000.0", &format!("t_end = {t_end}"))
        .replace(
            "windows = [[500.0, 1500.0], [1600.0, 2000.0]]",
            &format!("windows = [[0.0, {t_end}]]\n{record}"),
        );
    let spec = Spec::parse(&text, "brunel_gif.toml").expect("spec");
    at_level(&spec, Level::Micro).expect("micro").0
}

fn assert_same(g: &MemoryRecorder, c: &MemoryRecorder, name: &str) -> usize {
    let (a, b) = (values(g, name), values(c, name));
    assert_eq!(a.len(), b.len(), "{name}: lengths");
    let first = a
        .iter()
        .zip(b)
        .position(|(x, y)| x.to_bits() != y.to_bits());
    assert_eq!(first, None, "{name}: first difference at {first:?}");
    a.len()
}

#[test]
fn gif_psc_exp_gpu_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    // All 1000 neurons' spikes and 5 voltage traces, 2 replicas, the full 2000 ms with the
    // step at 1500 ms. Tolerance: none (identical spike trains, bit-identical voltages).
    let spec = brunel_gif_micro(
        2,
        2000.0,
        "spikes = [{ population = \"E\", first = 800 }, { population = \"I\", first = 200 }]\ntraces = [{ population = \"E\", variable = \"V_m\", first = 5 }]",
    );
    let g = run_spec(&spec, &Backend::Gpu(ctx));
    let c = run_spec(&spec, &Backend::Cpu);
    let n = assert_same(&g, &c, "spikes_E_times");
    assert!(n > 800 * 2 * 6, "too few E spikes: {n}");
    assert_same(&g, &c, "spikes_E_senders");
    assert_same(&g, &c, "spikes_I_times");
    assert_same(&g, &c, "activity_E");
    assert_same(&g, &c, "activity_I");
    assert_same(&g, &c, "V_m_E");
}

const LIF_NET: &str = r#"
[simulation]
dt = 0.1
t_end = 300.0
seed = 5
replicas = 2

[[population]]
name = "E"
model = "iaf_psc_exp"
size = 800
params = { E_L = 0.0, V_reset = 10.0, V_th = 20.0, tau_m = 20.0, C_m = 250.0, t_ref = 2.0, tau_syn_ex = 0.5, tau_syn_in = 0.5, V_m = 5.0 }

[[population]]
name = "I"
model = "iaf_psc_exp"
size = 200
params = { E_L = 0.0, V_reset = 10.0, V_th = 20.0, tau_m = 20.0, C_m = 250.0, t_ref = 2.0, tau_syn_ex = 0.5, tau_syn_in = 0.5 }

[[projection]]
source = "E"
target = "E"
rule = "pairwise_bernoulli"
p = 0.1
weight = 40.0
delay = 1.5

[[projection]]
source = "I"
target = "E"
rule = "fixed_indegree"
indegree = 20
weight = -200.0
delay = 1.5

[[projection]]
source = "E"
target = "I"
rule = "all_to_all"
weight = 5.0
delay = 2.0

[[projection]]
source = "I"
target = "I"
rule = "fixed_indegree"
indegree = 20
autapses = false
multapses = false
weight = -200.0
delay = 1.5

[[stimulus]]
kind = "poisson"
target = "E"
rate = 12000.0
weight = 40.0

[[stimulus]]
kind = "poisson"
target = "I"
rate = 12000.0
weight = 40.0

[[stimulus]]
kind = "step_current"
target = "E"
times = [100.0, 200.0]
amplitudes = [50.0, 0.0]

[record]
activity_bin = 1.0
activity_replicas = 2
spikes = [{ population = "E", first = 800 }, { population = "I", first = 200 }]
traces = [{ population = "I", variable = "V_m", first = 3, every = 2 }]
"#;

#[test]
fn iaf_psc_exp_gpu_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    let spec = Spec::parse(LIF_NET, "lif.toml").expect("spec");
    let g = run_spec(&spec, &Backend::Gpu(ctx.clone()));
    let c = run_spec(&spec, &Backend::Cpu);
    let n = assert_same(&g, &c, "spikes_E_times");
    assert!(n > 1000, "too few spikes: {n}");
    assert_same(&g, &c, "spikes_E_senders");
    assert_same(&g, &c, "spikes_I_senders");
    assert_same(&g, &c, "activity_E");
    assert_same(&g, &c, "V_m_I");
    // The same network with delta synapses.
    let delta = LIF_NET
        .replace("iaf_psc_exp", "iaf_psc_delta")
        .replace(", tau_syn_ex = 0.5, tau_syn_in = 0.5", "")
        .replace("weight = 40.0", "weight = 0.1")
        .replace("weight = -200.0", "weight = -0.5")
        .replace("weight = 5.0", "weight = 0.02")
        .replace("amplitudes = [50.0, 0.0]", "amplitudes = [100.0, 0.0]");
    let spec = Spec::parse(&delta, "delta.toml").expect("spec");
    let g = run_spec(&spec, &Backend::Gpu(ctx));
    let c = run_spec(&spec, &Backend::Cpu);
    let n = assert_same(&g, &c, "spikes_E_times");
    assert!(n > 1000, "too few spikes: {n}");
    assert_same(&g, &c, "spikes_I_senders");
    assert_same(&g, &c, "V_m_I");
}

const SINGLE: &str = r#"
[simulation]
dt = 0.1
t_end = 1000.0

[[population]]
name = "n"
model = "MODEL"
size = 1
params = { I_e = 500.0 }

[record]
spikes = [{ population = "n", first = 1 }]
"#;

#[test]
fn iaf_neurons_fire_as_nest_with_constant_input() {
    // NEST 3.10, defaults, I_e = 500 pA, dt 0.1 ms, 1000 ms: 63 spikes, the first at 13.9 ms,
    // then every 15.9 ms (analytic ISI 15.863 ms: exact integration rounds up to the grid).
    for model in ["iaf_psc_delta", "iaf_psc_exp"] {
        let rec = common::run(&SINGLE.replace("MODEL", model), &Backend::Cpu);
        let t = values(&rec, "spikes_n_times");
        assert_eq!(t.len(), 63, "{model}: {} spikes", t.len());
        assert!((t[0] - 13.9).abs() < 1e-9, "{model}: first spike {}", t[0]);
        for w in t.windows(2) {
            assert!(
                (w[1] - w[0] - 15.9).abs() < 1e-6,
                "{model}: ISI {}",
                w[1] - w[0]
            );
        }
    }
}

/// Mean ISI (steps) of a GIF neuron without adaptation under constant input, from the
/// discrete-time hazard: after a spike, `refr` steps at V_reset, then V relaxes with the
/// step's propagators and fires with probability `1 - exp(-lambda(V) h)` each step.
fn renewal_rate_hz(p: &GifParams, h: f64) -> f64 {
    let tau_m = p.C_m / p.g_L;
    let p33 = (-h / tau_m).exp();
    let refr = (p.t_ref / h).round() as usize;
    let mut v = p.V_reset;
    let (mut surv, mut mean) = (1.0f64, 0.0f64);
    // The spike step itself is step 0; V_reset is held for `refr` steps.
    for k in (refr + 1)..2_000_000 {
        v = p33 * v + (1.0 - p33) * (p.E_L + p.I_e / p.g_L);
        let lam = p.lambda_0 / 1000.0 * ((v - p.V_T_star) / p.Delta_V).exp();
        let q = -(-lam * h).exp_m1();
        mean += k as f64 * surv * q;
        surv *= 1.0 - q;
        if surv < 1e-14 {
            break;
        }
    }
    1000.0 / (mean * h)
}

#[test]
fn gif_rate_matches_the_hazard_formula_and_nest() {
    // NEST defaults (g_L 4 nS, C_m 80 pF, V_T_star -35, Delta_V 0.5, lambda_0 1/s), I_e
    // 200 pA, dt 0.1: NEST 3.10 measured 38.64 +- 0.006 Hz (100 neurons x 20 s).
    let p = GifParams {
        I_e: 200.0,
        ..Default::default()
    };
    let theory = renewal_rate_hz(&p, 0.1);
    let text = r#"
[simulation]
dt = 0.1
t_end = 5000.0
seed = 3

[[population]]
name = "n"
model = "gif_psc_exp"
size = 400
params = { I_e = 200.0 }

[record]
activity_bin = 1.0
windows = [[1000.0, 5000.0]]
"#;
    let rec = common::run(text, &Backend::Cpu);
    let sim = values(&rec, "summary_n_mean")[0];
    // Regular firing (CV 0.04): 400 x 4 s x 38.6 Hz spikes, sd of the mean well below 0.05 Hz.
    assert!(
        (sim - theory).abs() < 0.1,
        "simulated {sim} Hz vs renewal theory {theory} Hz"
    );
    assert!(
        (theory - 38.64).abs() < 0.1,
        "renewal theory {theory} Hz vs NEST 38.64 Hz"
    );
    // The Brunel GIF network's E population alone (adaptation, no network): NEST 6.046 +- 0.010 Hz.
    let text = "[simulation]\ndt = 0.5\nt_end = 22000.0\nseed = 9\n[[population]]\nname = \"n\"\nmodel = \"gif_psc_exp\"\nsize = 100\n\
         params = { C_m = 250.0, g_L = 12.5, E_L = 0.0, V_reset = 0.0, V_T_star = 15.0, Delta_V = 2.5, lambda_0 = 10.0, t_ref = 4.0, tau_sfa = [100.0, 1000.0], q_sfa = [10.0, 1.0], I_e = 300.0 }\n\
         [record]\nactivity_bin = 1.0\nwindows = [[2000.0, 22000.0]]\n";
    let rec = common::run(text, &Backend::Cpu);
    let sim = values(&rec, "summary_n_mean")[0];
    assert!(
        (sim - 6.046).abs() < 0.06,
        "seed E neuron {sim} Hz vs NEST 6.046 +- 0.010 Hz"
    );
    let _ = NeuronParams::Gif(p).coef(NeuronModel::GifPscExp, 0.1);
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

#[test]
fn brunel_gif_network_statistics_match_nest() {
    // NEST 3.10, the same network, 20 seeds (network redrawn per seed), mean over seeds of
    // the window mean of A_N (1 ms bins) and its sd across seeds:
    //   E [500,1500) 6.371 +- 0.077, [1600,2000) 15.431 +- 0.225
    //   I [500,1500) 6.386 +- 0.037, [1600,2000) 15.489 +- 0.178
    // and the mean variance of A_N across bins: E 12.54 / 62.03, I 37.03 / 118.21 Hz^2.
    let backend = match gpu() {
        Some(ctx) => Backend::Gpu(ctx),
        None => Backend::Cpu,
    };
    let text = example("brunel_gif.toml");
    let spec = at_level(
        &Spec::parse(&text, "brunel_gif.toml").expect("spec"),
        Level::Micro,
    )
    .expect("micro")
    .0;
    assert_eq!(spec.simulation.replicas, 10);
    let rec = run_spec(&spec, &backend);
    let nest = [
        ("E", [(6.371, 0.077, 12.54), (15.431, 0.225, 62.03)]),
        ("I", [(6.386, 0.037, 37.03), (15.489, 0.178, 118.21)]),
    ];
    for (pop, wins) in nest {
        let means = values(&rec, &format!("summary_{pop}_mean"));
        let vars = values(&rec, &format!("summary_{pop}_var"));
        for (w, (m_nest, sd_nest, var_nest)) in wins.iter().enumerate() {
            let xs: Vec<f64> = means.iter().skip(w).step_by(2).copied().collect();
            let vs: Vec<f64> = vars.iter().skip(w).step_by(2).copied().collect();
            let (m, sd) = mean_sd(&xs);
            let se = (sd * sd / 10.0 + sd_nest * sd_nest / 20.0).sqrt();
            assert!(
                (m - m_nest).abs() < 4.0 * se,
                "{pop} window {w}: {m:.3} +- {sd:.3} Hz vs NEST {m_nest} +- {sd_nest}"
            );
            let (v, _) = mean_sd(&vs);
            assert!(
                (v / var_nest - 1.0).abs() < 0.2,
                "{pop} window {w}: variance {v:.2} vs NEST {var_nest} Hz^2"
            );
        }
    }
}

#[test]
fn bad_network_input_gets_a_clear_message() {
    let base = "[simulation]\ndt = 0.1\nt_end = 10.0\n[[population]]\nname = \"E\"\nmodel = \"iaf_psc_exp\"\nsize = 10\n";
    let proj = |extra: &str| {
        format!("{base}[[projection]]\nsource = \"E\"\ntarget = \"E\"\nweight = 1.0\n{extra}")
    };
    let cases = [
        (proj("").replace("target = \"E\"", "target = \"X\""), vec!["projection[0].target", "`X`"]),
        (
            proj("rule = \"fixed_indegree\"\nindegree = 11\nmultapses = false\n"),
            vec!["projection[0].indegree", "multapses"],
        ),
        (proj("delay = 0.05\n"), vec!["projection[0].delay", "one time step"]),
        (proj("delay = 0.25\n"), vec!["projection[0].delay", "whole number"]),
        (base.replace("size = 10", "size = -5"), vec!["size"]),
        (base.replace("size = 10", "size = 3000000000"), vec!["neurons"]),
        (format!("{base}params = {{ tau_m = -1.0 }}\n"), vec!["tau_m", "> 0"]),
        (format!("{base}params = {{ V_reset = -50.0 }}\n"), vec!["V_reset", "below V_th"]),
        (format!("{base}params = {{ bogus = 1.0 }}\n"), vec!["population[0].params", "bogus"]),
        (
            format!("{base}[[stimulus]]\nkind = \"poisson\"\ntarget = \"E\"\nrate = -1.0\nweight = 1.0\n"),
            vec!["stimulus[0].rate", ">= 0"],
        ),
        (
            format!("{base}[record]\ntraces = [{{ population = \"E\", variable = \"r\" }}]\n"),
            vec!["record.traces[0].variable", "V_m"],
        ),
    ];
    for (text, wants) in cases {
        let e = build_err(&text);
        for w in wants {
            assert!(e.contains(w), "`{e}` does not contain `{w}`");
        }
    }
}

#[test]
fn compare_reports_the_meso_micro_gap_of_the_theory() {
    // NEST's own two models differ on the Brunel GIF network by about -0.3 Hz before the step
    // and +1.5 Hz after it (docs/models.md, section 7: the quasi-renewal approximation, not an
    // implementation detail). Four seeds per level on the CPU path.
    let dir = std::env::temp_dir().join(format!("neuropop_compare_{}", std::process::id()));
    let path = format!("{}/examples/brunel_gif.toml", env!("CARGO_MANIFEST_DIR"));
    let c = neuropop::compare::compare(std::path::Path::new(&path), 4, &Backend::Cpu, Some(&dir))
        .expect("compare");
    let e: Vec<_> = c.windows.iter().filter(|w| w.population == "E").collect();
    assert_eq!(e.len(), 2);
    assert!(
        (e[0].mean_hz.micro - 6.37).abs() < 0.3,
        "{:?}",
        e[0].mean_hz
    );
    assert!(
        e[0].mean_hz.diff < -0.1 && e[0].mean_hz.diff > -0.6,
        "before the step: {:?}",
        e[0].mean_hz
    );
    assert!(
        e[1].mean_hz.diff > 0.7 && e[1].mean_hz.diff < 2.5,
        "after the step: {:?}",
        e[1].mean_hz
    );
    for f in [
        "compare.json",
        "trace_E.npy",
        "spectrum_I.npy",
        "compare_E.png",
        "meta.json",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_example_builds_and_gif_examples_build_at_both_levels() {
    let dir = format!("{}/examples", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let spec = Spec::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Model::build(&spec).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if spec.populations[0].model.starts_with("gif") {
            for level in [Level::Micro, Level::Meso] {
                let (s, _) = at_level(&spec, level).expect("level");
                Model::build(&s).unwrap_or_else(|e| panic!("{} {level:?}: {e}", path.display()));
            }
        }
        n += 1;
    }
    assert!(n >= 8, "{n} examples");
}

#[test]
fn sweeps_expand_to_replicas_with_their_own_parameters() {
    // An F-I curve of iaf_psc_delta in one run: I_e from 400 to 600 pA, 2 copies each.
    let text = SINGLE.replace("MODEL", "iaf_psc_delta").replace("size = 1", "size = 3")
        + "activity_bin = 1.0\nwindows = [[0.0, 1000.0]]\n[sweep]\n\"n.I_e\" = [400.0, 500.0, 600.0]\n";
    let text = text.replace("[simulation]\n", "[simulation]\nreplicas = 2\n");
    let rec = common::run(&text, &Backend::Cpu);
    let m = values(&rec, "summary_n_mean");
    assert_eq!(m.len(), 6, "[combination, copy, window]");
    assert_eq!(values(&rec, "sweep"), &[400.0, 500.0, 600.0]);
    // NEST: 63 spikes in 1000 ms at 500 pA; rates grow with the current.
    assert!(
        (m[2] - 63.0).abs() < 1e-9 && (m[3] - 63.0).abs() < 1e-9,
        "{m:?}"
    );
    assert!(m[0] < m[2] && m[2] < m[4], "{m:?}");
    for pair in m.chunks(2) {
        assert_eq!(pair[0], pair[1], "deterministic copies differ");
    }
    // A network sweep over a weight and a Poisson rate, GPU against CPU.
    let Some(ctx) = gpu() else { return };
    let net = LIF_NET
        .replace("t_end = 300.0", "t_end = 100.0")
        .replace("replicas = 2", "replicas = 1")
        .replace("activity_replicas = 2", "activity_replicas = 4")
        + "[sweep]\n\"E->E.weight\" = [20.0, 40.0]\n\"E.poisson_rate\" = [8000.0, 12000.0]\n";
    let spec = Spec::parse(&net, "sweep.toml").expect("spec");
    let g = run_spec(&spec, &Backend::Gpu(ctx));
    let c = run_spec(&spec, &Backend::Cpu);
    assert_same(&g, &c, "activity_E");
    assert_same(&g, &c, "summary_E_mean");
    let m = values(&c, "summary_E_mean");
    assert_eq!(m.len(), 4);
    // More drive, more spikes: the weight and the Poisson rate both raise E's rate.
    assert!(m[1] > m[0] && m[3] > m[2] && m[3] > m[1], "{m:?}");
    let e = build_err(&format!("{LIF_NET}[sweep]\n\"I.poisson_rate\" = [-1.0]\n"));
    assert!(e.contains("poisson_rate") && e.contains(">= 0"), "{e}");
    let e = build_err(&format!("{LIF_NET}[sweep]\n\"E.tau_m\" = [-1.0]\n"));
    assert!(e.contains("tau_m") && e.contains("> 0"), "{e}");
    let e = build_err(&format!("{LIF_NET}[sweep]\n\"E.bogus\" = [1.0]\n"));
    assert!(e.contains("bogus"), "{e}");
}

#[test]
fn procedural_connectivity_matches_between_paths_and_is_chosen_by_memory() {
    let Some(ctx) = gpu() else { return };
    let net = LIF_NET
        .replace(
            "rule = \"pairwise_bernoulli\"\np = 0.1\n",
            "rule = \"pairwise_bernoulli\"\np = 0.1\nconnectivity = \"procedural\"\n",
        )
        .replace(
            "rule = \"all_to_all\"\n",
            "rule = \"all_to_all\"\nconnectivity = \"procedural\"\n",
        );
    assert_eq!(net.matches("procedural").count(), 2);
    let spec = Spec::parse(&net, "proc.toml").expect("spec");
    let g = run_spec(&spec, &Backend::Gpu(ctx));
    let c = run_spec(&spec, &Backend::Cpu);
    let n = assert_same(&g, &c, "spikes_E_times");
    assert!(n > 1000, "too few spikes: {n}");
    assert_same(&g, &c, "spikes_I_senders");
    assert_same(&g, &c, "V_m_I");
    // Statistically the same network as the stored one: E rates within 10 %.
    let stored = run_spec(
        &Spec::parse(LIF_NET, "lif.toml").expect("spec"),
        &Backend::Cpu,
    );
    let (a, b) = (
        values(&c, "summary_E_mean")[0],
        values(&stored, "summary_E_mean")[0],
    );
    assert!(
        (a / b - 1.0).abs() < 0.1,
        "procedural {a} Hz vs stored {b} Hz"
    );
    // fixed_indegree cannot be procedural.
    let e = build_err(&LIF_NET.replace(
        "indegree = 20\nweight = -200.0",
        "indegree = 20\nconnectivity = \"procedural\"\nweight = -200.0",
    ));
    assert!(
        e.contains("connectivity") && e.contains("fixed_indegree"),
        "{e}"
    );
    // `auto` turns to procedural when the stored synapses would exceed 256 MiB.
    let big = LIF_NET
        .replace("size = 800", "size = 30000")
        .replace("t_end = 300.0", "t_end = 1.0");
    let spec = Spec::parse(&big, "big.toml").expect("spec");
    let net = neuropop::models::spiking::SpikingNetwork::from_spec(&spec).expect("net");
    let kinds: Vec<bool> = net.projections.iter().map(|p| p.conn.procedural).collect();
    assert_eq!(
        kinds,
        vec![true, false, true, false],
        "E->E bernoulli and E->I all_to_all go procedural"
    );
}

#[test]
fn long_spike_lists_take_the_two_dimensional_dispatch() {
    // 70 replicas of 1000 neurons: a block may hold more than 65535 spikes, so the indirect
    // dispatch of deliver_spikes needs its second dimension (BIG_LIST).
    let Some(ctx) = gpu() else { return };
    let text = LIF_NET
        .replace("replicas = 2", "replicas = 70")
        .replace("activity_replicas = 2", "activity_replicas = 70")
        .replace("t_end = 300.0", "t_end = 60.0")
        .replace("weight = 5.0", "weight = 1.0")
        // Every neuron starts above threshold: 70000 spikes in the first block.
        .replace("V_m = 5.0 }", "V_m = 25.0 }")
        .replace("tau_syn_in = 0.5 }", "tau_syn_in = 0.5, V_m = 25.0 }");
    let spec = Spec::parse(&text, "big_list.toml").expect("spec");
    let net = neuropop::models::spiking::SpikingNetwork::from_spec(&spec).expect("net");
    assert!(net.spike_capacity() > 65_535, "{}", net.spike_capacity());
    let g = run_spec(&spec, &Backend::Gpu(ctx));
    let c = run_spec(&spec, &Backend::Cpu);
    assert_same(&g, &c, "activity_E");
    assert_same(&g, &c, "activity_I");
    assert_same(&g, &c, "spikes_E_times");
    // Bin 0 holds the synchronous first spike of all 56000 E neurons (A_N = 1000 Hz).
    let a = values(&c, "activity_E");
    assert!((a[0] - 1000.0).abs() < 1e-3, "{}", a[0]);
}
