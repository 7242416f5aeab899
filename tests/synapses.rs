//! Weights and delays drawn per synapse and `fixed_total_number`: the drawn values against
//! their distributions (means, variances, KS and chi-square), the in-degrees of
//! `fixed_total_number`, GPU-vs-CPU parity with drawn values (stored and procedural), and
//! the errors for bad distributions.

mod common;

use common::{build_err, gpu, run, values};
use neuropop::backend::Backend;
use neuropop::models::spiking::connect::Connectivity;
use neuropop::models::spiking::network::{ProjectionInfo, SpikingNetwork};
use neuropop::output::MemoryRecorder;
use neuropop::spec::{Dist, Spec};

const SPEC: &str = include_str!("data/drawn_synapses.toml");

/// (weight, delay in steps, target) of every stored synapse of projection `k`, replica 0.
fn synapses(net: &SpikingNetwork, conn: &Connectivity, k: usize) -> Vec<(f64, u32, u32)> {
    let p: &ProjectionInfo = &net.projections[k];
    let c = &p.conn;
    let words = c.words as usize;
    let mask = (1u32 << c.dbits) - 1;
    let mut out = Vec::new();
    for s in 0..c.src.1 {
        let row = (conn.row0[k] + s) as usize;
        let syn = &conn.syn[conn.rowptr[row] as usize..conn.rowptr[row + 1] as usize];
        for w in syn.chunks_exact(words) {
            let weight = if words > 1 {
                f64::from(w[1]) * p.resolution * p.weight.signum()
            } else {
                p.weight
            };
            out.push((weight, p.delay + (w[0] & mask), w[0] >> c.dbits));
        }
    }
    out
}

/// Recording `name` holds the same values, bit for bit, in both runs.
fn assert_same_bits(a: &MemoryRecorder, b: &MemoryRecorder, name: &str) {
    let (x, y) = (values(a, name), values(b, name));
    assert_eq!(x.len(), y.len(), "{name}");
    assert!(
        x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()),
        "{name} differs"
    );
}

fn dist(text: &str) -> Dist {
    toml::from_str(text).expect("dist")
}

/// Kolmogorov-Smirnov distance of `x` from `d` cut to its support (values drawn again
/// outside it).
fn ks(x: &mut [f64], d: &Dist) -> f64 {
    let (lo, hi) = d.support();
    let (flo, fhi) = (d.cdf(lo), d.cdf(hi));
    x.sort_by(f64::total_cmp);
    let n = x.len() as f64;
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let f = (d.cdf(v.clamp(lo, hi)) - flo) / (fhi - flo);
            (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
        })
        .fold(0.0, f64::max)
}

fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (
        m,
        x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0),
    )
}

/// Variance of `d` cut to its support, by the same midpoint rule as `mean_drawn`.
fn var_drawn(d: &Dist) -> f64 {
    let (lo, hi) = d.support();
    let m = d.mean_drawn();
    let n = 20_000;
    let h = (hi - lo) / n as f64;
    let (mut mass, mut second) = (0.0, 0.0);
    for i in 0..n {
        let x = lo + (i as f64 + 0.5) * h;
        let dm = d.cdf(lo + (i + 1) as f64 * h) - d.cdf(lo + i as f64 * h);
        mass += dm;
        second += dm * (x - m).powi(2);
    }
    second / mass
}

#[test]
fn drawn_weights_and_delays_follow_their_distributions() {
    let spec = Spec::parse(SPEC, "drawn.toml").expect("spec");
    let net = SpikingNetwork::from_spec(&spec).expect("net");
    let conn = net.connect(false).expect("connect");
    // E -> E: fixed_total_number, normal weights (87.8 +- 8.78 pA, kept > 0), normal delays
    // (1.5 +- 0.75 ms, drawn again below 0.05 ms) rounded to 0.1 ms steps.
    let ee = synapses(&net, &conn, 0);
    assert_eq!(
        ee.len(),
        64_000,
        "fixed_total_number gives exactly N synapses"
    );
    let wd = dist("dist = \"normal\"\nmean = 87.8\nstd = 8.78\nmin = 0.0");
    let mut w: Vec<f64> = ee.iter().map(|s| s.0).collect();
    let (m, v) = mean_var(&w);
    // sd of the mean 0.035 pA; of the variance about 0.43 pA^2.
    assert!((m - wd.mean_drawn()).abs() < 0.15, "weight mean {m}");
    assert!(
        (v / var_drawn(&wd) - 1.0).abs() < 0.03,
        "weight variance {v}"
    );
    // KS: 1.95 / sqrt(n) is the 0.1 % point; quantisation (resolution) is far finer.
    let d = ks(&mut w, &wd);
    assert!(d * (w.len() as f64).sqrt() < 1.95, "weight KS {d}");
    assert!(net.projections[0].resolution < 87.8 / 1024.0);
    // Delays: chi-square of the step counts against the probabilities of the rounded cut
    // normal.
    let dd = dist("dist = \"normal\"\nmean = 1.5\nstd = 0.75\nmin = 0.05");
    let (lo, hi) = dd.support();
    let mass = dd.cdf(hi) - dd.cdf(lo);
    let p = &net.projections[0];
    assert_eq!((p.delay, p.delay_max), (1, 52));
    let mut counts = vec![0f64; p.delay_max as usize + 1];
    for s in &ee {
        counts[s.1 as usize] += 1.0;
    }
    let (mut chi2, mut dof) = (0.0, 0);
    for (k, &c) in counts.iter().enumerate().skip(1) {
        let a = ((k as f64 - 0.5) * 0.1).max(lo);
        let b = ((k as f64 + 0.5) * 0.1).min(hi);
        let e = 64_000.0 * (dd.cdf(b) - dd.cdf(a)) / mass;
        if e >= 5.0 {
            chi2 += (c - e).powi(2) / e;
            dof += 1;
        }
    }
    // About 30 bins: the 0.1 % point of chi-square(30) is 59.7.
    assert!(
        dof > 25 && chi2 < 60.0,
        "delay chi-square {chi2} over {dof} bins"
    );
    // In-degrees: multinomial (mean 80, variance 80 (1 - 1/800)); sources uniform.
    let mut indeg = vec![0f64; 800];
    let mut outdeg = vec![0f64; 800];
    for s in 0..800u32 {
        let row = (conn.row0[0] + s) as usize;
        outdeg[s as usize] = f64::from(conn.rowptr[row + 1] - conn.rowptr[row]) / 2.0;
    }
    for s in &ee {
        indeg[s.2 as usize] += 1.0;
    }
    let (mi, vi) = mean_var(&indeg);
    assert_eq!(mi, 80.0);
    assert!((vi / 79.9 - 1.0).abs() < 0.15, "in-degree variance {vi}");
    let (mo, vo) = mean_var(&outdeg);
    assert_eq!(mo, 80.0);
    assert!((vo / 79.9 - 1.0).abs() < 0.15, "out-degree variance {vo}");
    // E -> I: fixed in-degree, drawn weights, one delay.
    let ei = synapses(&net, &conn, 1);
    assert_eq!(ei.len(), 200 * 80);
    assert!(ei.iter().all(|s| s.1 == 15));
    // I -> I: stored pairwise_bernoulli, lognormal weights (mu 5, sigma 0.5), uniform
    // delays on [0.5, 1.0] ms: steps 5 and 10 take half a bin each.
    let ii = synapses(&net, &conn, 3);
    let wl = dist("dist = \"lognormal\"\nmean = 5.0\nstd = 0.5");
    let mut w: Vec<f64> = ii.iter().map(|s| s.0).collect();
    let d = ks(&mut w, &wl);
    assert!(
        d * (w.len() as f64).sqrt() < 1.95,
        "lognormal KS {d} (n = {})",
        w.len()
    );
    let n = ii.len() as f64;
    for (k, want) in [
        (5u32, 0.1),
        (6, 0.2),
        (7, 0.2),
        (8, 0.2),
        (9, 0.2),
        (10, 0.1),
    ] {
        let got = ii.iter().filter(|s| s.1 == k).count() as f64 / n;
        // Binomial sd at n ~ 4000: below 0.007.
        assert!(
            (got - want).abs() < 0.025,
            "uniform delay {k}: {got} vs {want}"
        );
    }
}

#[test]
fn drawn_synapses_gpu_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    // Stored rows of two-word synapses with drawn delays, procedural rows that draw weights
    // and delays at every delivery. Tolerance: none (identical spike trains).
    let g = run(SPEC, &Backend::Gpu(ctx));
    let c = run(SPEC, &Backend::Cpu);
    for name in [
        "spikes_E_times",
        "spikes_E_senders",
        "spikes_I_times",
        "activity_E",
        "activity_I",
    ] {
        assert_same_bits(&g, &c, name);
    }
    // The network is active (the drawn weights reach their targets).
    let spikes = values(&c, "spikes_E_times").len();
    assert!(spikes > 200, "{spikes} spikes");
}

#[test]
fn procedural_fixed_total_number_regenerates_the_stored_synapses() {
    // fixed_total_number draws rows by source, so the procedural projection (out-degrees
    // only, targets and values drawn again at each delivery) is the stored one: the same
    // spikes to the bit, on the CPU path with its threads splitting delivery by target.
    let stored = SPEC.replace(
        "N = 8000\nconnectivity = \"procedural\"",
        "N = 8000\nconnectivity = \"stored\"",
    );
    assert_ne!(stored, SPEC);
    let procedural = SPEC.replace("N = 64000\n", "N = 64000\nconnectivity = \"procedural\"\n");
    assert_ne!(procedural, SPEC);
    let a = run(&stored, &Backend::Cpu);
    let b = run(&procedural, &Backend::Cpu);
    for name in [
        "spikes_E_times",
        "spikes_E_senders",
        "spikes_I_times",
        "activity_I",
    ] {
        assert_same_bits(&a, &b, name);
    }
}

#[test]
fn bad_distributions_are_named() {
    let with = |proj: &str| {
        SPEC.replacen(
        "weight = { dist = \"normal\", mean = 87.8, std = 8.78 }\ndelay = { dist = \"normal\", mean = 1.5, std = 0.75, min = 0.05 }",
        proj,
        1,
    )
    };
    let cases = [
        (
            "weight = { dist = \"gauss\", mean = 1.0, std = 0.1 }",
            vec!["projection[0].weight.dist", "unknown distribution"],
        ),
        (
            "weight = { dist = \"normal\", mean = 1.0, std = -0.1 }",
            vec!["projection[0].weight.std", ">= 0"],
        ),
        (
            "weight = { dist = \"normal\", mean = 1.0 }",
            vec!["projection[0].weight.std", "missing"],
        ),
        (
            "weight = { dist = \"normal\", mean = 1.0, std = 0.1, beta = 2.0 }",
            vec!["projection[0].weight.beta", "does not apply"],
        ),
        (
            "weight = { dist = \"uniform\", min = -1.0, max = 1.0 }",
            vec!["projection[0].weight", "one sign"],
        ),
        (
            "weight = 10.0\ndelay = { dist = \"normal\", mean = 0.05, std = 0.01 }",
            vec!["projection[0].delay", "under one time step"],
        ),
        (
            "weight = 10.0\ndelay = { dist = \"normal\", mean = 1.0, std = 1.0 }",
            vec!["projection[0].delay.min", "missing"],
        ),
        (
            "weight = { dist = \"lognormal\", mean = 0.0, std = 4.0 }",
            vec!["projection[0].weight", "overflow"],
        ),
        (
            "weight = { dist = \"normal\", mean = 1.0, std = 0.1, min = 3.0 }",
            vec!["projection[0].weight.min", "keeps"],
        ),
    ];
    for (proj, want) in cases {
        let e = build_err(&with(proj));
        for w in want {
            assert!(e.contains(w), "`{proj}`: `{w}` not in: {e}");
        }
    }
    // A sweep of a drawn weight.
    let e = build_err(&format!("{SPEC}\n[sweep]\n\"E->I.weight\" = [1.0, 2.0]\n"));
    assert!(e.contains("drawn per synapse"), "{e}");
}

#[test]
fn microcircuit_gpu_matches_cpu() {
    let Some(ctx) = gpu() else { return };
    // examples/microcircuit.toml at 2 % of the neurons with full in-degrees, 300 ms: stored
    // fixed_total_number rows of drawn weights and delays, Poisson drive, initial V_m drawn
    // per neuron. Tolerance: none (identical spike trains of every neuron).
    let text = include_str!("../examples/microcircuit.toml")
        .replace("neurons = 0.1", "neurons = 0.02")
        .replace("t_end = 1500.0", "t_end = 300.0")
        .replace("windows = [[500.0, 1500.0]]", "windows = [[100.0, 300.0]]");
    let g = run(&text, &Backend::Gpu(ctx));
    let c = run(&text, &Backend::Cpu);
    let mut spikes = 0;
    for p in ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"] {
        for kind in ["times", "senders"] {
            assert_same_bits(&g, &c, &format!("spikes_{p}_{kind}"));
        }
        spikes += values(&c, &format!("spikes_{p}_times")).len();
    }
    // About 1543 neurons at a few Hz for 0.3 s.
    assert!(spikes > 500, "{spikes} spikes");
}

#[test]
fn microcircuit_rates_and_irregularity_match_nest() {
    // examples/microcircuit.toml as written (0.1 of the neurons, full in-degrees, 500 ms
    // transient, 1000 ms recorded), seeds 1-3, against NEST 3.10 running the same network
    // (tools/nest/microcircuit.py, seeds 1-5: mean and sd over seeds of the per-population
    // mean rate and mean CV of ISIs). Tolerance: the targets (rates within 10 %, CV within
    // 0.05) plus twice the sampling error of the difference of the two means (NEST's
    // across-seed sd x sqrt(1/3 + 1/5)).
    const NEST: [(&str, f64, f64, f64, f64); 8] = [
        ("L23E", 1.646, 0.189, 0.578, 0.026),
        ("L23I", 4.353, 0.412, 0.692, 0.031),
        ("L4E", 4.194, 0.090, 0.605, 0.009),
        ("L4I", 6.393, 0.144, 0.688, 0.012),
        ("L5E", 9.986, 0.875, 0.688, 0.018),
        ("L5I", 9.694, 0.233, 0.663, 0.025),
        ("L6E", 1.090, 0.084, 0.577, 0.007),
        ("L6I", 8.588, 0.197, 0.639, 0.010),
    ];
    let text = include_str!("../examples/microcircuit.toml");
    let runs: Vec<_> = [1, 2, 3]
        .iter()
        .map(|s| {
            run(
                &text.replace("seed = 1", &format!("seed = {s}")),
                &Backend::Cpu,
            )
        })
        .collect();
    let err = (1.0f64 / 3.0 + 1.0 / 5.0).sqrt();
    for (p, rate, sd, cv, cv_sd) in NEST {
        let mean = |name: String| runs.iter().map(|g| values(g, &name)[0]).sum::<f64>() / 3.0;
        let (r, c) = (mean(format!("rate_{p}")), mean(format!("cv_{p}")));
        let tol = 0.1 * rate + 2.0 * sd * err;
        assert!(
            (r - rate).abs() < tol,
            "{p}: rate {r:.3} Hz vs NEST {rate} +- {sd}"
        );
        let tol = 0.05 + 2.0 * cv_sd * err;
        assert!(
            (c - cv).abs() < tol,
            "{p}: CV {c:.3} vs NEST {cv} +- {cv_sd}"
        );
    }
}
