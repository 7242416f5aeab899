//! Statistical tests of the samplers at fixed seeds, on the CPU path and (when an adapter
//! exists) the GPU path: mean and variance within 6 standard errors, and a chi-square
//! (discrete) or Kolmogorov-Smirnov (normal) goodness-of-fit p-value above 1e-4.
//!
//! The seeds are fixed, so each test is deterministic; a p-value threshold of 1e-4 over the
//! ~60 fits here has a 0.6 % chance of rejecting a correct sampler at a given seed.

mod common;

use neuropop::kernels::rng_sample::{rng_sample, Dist, RngSampleParams};
use statrs::distribution::{Binomial, Discrete, Normal, Poisson};
use statrs::stats_tests::chisquare::chisquare;
use statrs::stats_tests::ks_test::{ks_onesample, KSOneSampleAlternativeMethod};
use statrs::stats_tests::NaNPolicy;

const ELEMENTS: u32 = 4096;
const DRAWS: u32 = 256; // 2^20 samples per case

#[derive(Clone, Copy, Debug)]
enum Path {
    Cpu,
    Gpu,
}

fn params(dist: Dist, seed: u64) -> RngSampleParams {
    RngSampleParams {
        seed_lo: seed as u32,
        seed_hi: (seed >> 32) as u32,
        step: 1,
        purpose: 0,
        n_elements: ELEMENTS,
        draws: DRAWS,
        dist: dist as u32,
        _pad: 0,
    }
}

/// 2^20 samples: every element has the same parameters, its own stream.
fn draw(path: Path, dist: Dist, a: f32, n: u32, seed: u64) -> Option<Vec<u32>> {
    let p = params(dist, seed);
    let pa = vec![a; ELEMENTS as usize];
    let pn = vec![n; ELEMENTS as usize];
    match path {
        Path::Cpu => {
            let mut out = vec![0u32; (ELEMENTS * DRAWS) as usize];
            rng_sample(&p, &pa, &pn, &mut out);
            Some(out)
        }
        Path::Gpu => {
            let ctx = common::gpu()?;
            Some(neuropop::gpu::probes::run_rng_sample(&ctx, &p, &pa, &pn).expect("GPU sampling"))
        }
    }
}

fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, v)
}

/// Mean, variance (with the fourth central moment for its standard error) and a chi-square
/// fit of integer samples against `pmf`, bins merged until each expects at least 50.
fn check_discrete(name: &str, s: &[u32], pmf: impl Fn(u64) -> f64, mean: f64, var: f64, mu4: f64) {
    let n = s.len() as f64;
    let xs: Vec<f64> = s.iter().map(|&v| f64::from(v)).collect();
    let (m, v) = mean_var(&xs);
    let se_m = (var / n).sqrt();
    // Var(s^2) = (mu4 - (n-3)/(n-1) sigma^4) / n, plus an O(1/n) slack for the estimated mean.
    let se_v = ((mu4 - (n - 3.0) / (n - 1.0) * var * var) / n)
        .max(0.0)
        .sqrt()
        + 4.0 * var / n;
    assert!(
        (m - mean).abs() < 6.0 * se_m + 1e-12,
        "{name}: mean {m} vs {mean} (se {se_m:e})"
    );
    assert!(
        (v - var).abs() < 6.0 * se_v + 1e-12,
        "{name}: variance {v} vs {var} (se {se_v:e})"
    );

    let sd = var.sqrt();
    let lo = (mean - 8.0 * sd - 2.0).max(0.0).floor() as u64;
    let hi = (mean + 8.0 * sd + 2.0).ceil() as u64;
    let mut counts = std::collections::HashMap::<u64, usize>::new();
    for &k in s {
        *counts.entry(u64::from(k)).or_default() += 1;
    }
    let outside: usize = counts
        .iter()
        .filter(|(&k, _)| k < lo || k > hi)
        .map(|(_, c)| c)
        .sum();
    assert!(outside <= 2, "{name}: {outside} samples beyond 8 sd");
    let (mut obs, mut exp) = (Vec::new(), Vec::new());
    let (mut o, mut e) = (0usize, 0.0f64);
    for k in lo..=hi {
        o += counts.get(&k).copied().unwrap_or(0);
        e += n * pmf(k);
        if e >= 50.0 {
            obs.push(o);
            exp.push(e);
            o = 0;
            e = 0.0;
        }
    }
    // Merge the remainder (and the mass beyond the range) into the last bin, then rescale
    // the expected counts to the observed total, as the chi-square test requires.
    if let (Some(lo_), Some(le)) = (obs.last_mut(), exp.last_mut()) {
        *lo_ += o + outside;
        *le += e;
    }
    let total_e: f64 = exp.iter().sum();
    for x in &mut exp {
        *x *= n / total_e;
    }
    assert!(
        obs.len() >= 2 || mean < 0.05,
        "{name}: only {} bins",
        obs.len()
    );
    if obs.len() >= 2 {
        let (stat, pval) = chisquare(&obs, Some(&exp), None).expect("chi-square");
        assert!(
            pval > 1e-4,
            "{name}: chi-square {stat:.1} on {} bins, p = {pval:e}",
            obs.len()
        );
    }
}

fn poisson_case(path: Path, lam: f32, seed: u64) {
    let Some(s) = draw(path, Dist::Poisson, lam, 0, seed) else {
        return;
    };
    let l = f64::from(lam);
    let d = Poisson::new(l).expect("poisson");
    check_discrete(
        &format!("{path:?} Poisson({lam})"),
        &s,
        |k| d.pmf(k),
        l,
        l,
        l * (1.0 + 3.0 * l),
    );
}

fn binomial_case(path: Path, n: u32, p: f32, seed: u64) {
    let Some(s) = draw(path, Dist::Binomial, p, n, seed) else {
        return;
    };
    assert!(s.iter().all(|&k| k <= n), "sample above n");
    let pf = f64::from(p);
    let nf = f64::from(n);
    let d = Binomial::new(pf, u64::from(n)).expect("binomial");
    let var = nf * pf * (1.0 - pf);
    let mu4 = var * (1.0 + 3.0 * (nf - 2.0) * pf * (1.0 - pf));
    check_discrete(
        &format!("{path:?} Binomial({n}, {p})"),
        &s,
        |k| d.pmf(k),
        nf * pf,
        var,
        mu4,
    );
}

const POISSON: [f32; 10] = [0.01, 0.7, 3.0, 9.99, 10.0, 25.0, 300.0, 1e5, 5e6, 1.6e7];
const BINOMIAL: [(u32, f32); 14] = [
    (1, 0.5),
    (20, 0.3),
    (9, 0.9),
    (100, 0.099),
    (1000, 0.003),
    (500, 0.02),
    (50, 0.2),
    (5000, 0.9),
    (10_000, 0.0009),
    (100_000, 0.3),
    (10_000_000, 0.3),
    (10_000_000, 5e-7),
    (10_000_000, 0.999),
    (1 << 24, 0.5),
];

#[test]
fn poisson_statistics_cpu() {
    for (i, &lam) in POISSON.iter().enumerate() {
        poisson_case(Path::Cpu, lam, 100 + i as u64);
    }
}

#[test]
fn poisson_statistics_gpu() {
    for (i, &lam) in POISSON.iter().enumerate() {
        poisson_case(Path::Gpu, lam, 200 + i as u64);
    }
}

#[test]
fn binomial_statistics_cpu() {
    for (i, &(n, p)) in BINOMIAL.iter().enumerate() {
        binomial_case(Path::Cpu, n, p, 300 + i as u64);
    }
}

#[test]
fn binomial_statistics_gpu() {
    for (i, &(n, p)) in BINOMIAL.iter().enumerate() {
        binomial_case(Path::Gpu, n, p, 400 + i as u64);
    }
}

fn normal_case(path: Path, seed: u64) {
    let Some(s) = draw(path, Dist::Normal, 0.0, 0, seed) else {
        return;
    };
    let xs: Vec<f64> = s.iter().map(|&b| f64::from(f32::from_bits(b))).collect();
    assert!(xs.iter().all(|x| x.is_finite()));
    let (m, v) = mean_var(&xs);
    let n = xs.len() as f64;
    assert!(m.abs() < 6.0 / n.sqrt(), "{path:?} normal mean {m}");
    assert!(
        (v - 1.0).abs() < 6.0 * (2.0 / n).sqrt(),
        "{path:?} normal variance {v}"
    );
    let (stat, pval) = ks_onesample(
        xs,
        &Normal::new(0.0, 1.0).expect("normal"),
        KSOneSampleAlternativeMethod::TwoSidedAsymptotic,
        NaNPolicy::Error,
    )
    .expect("ks test");
    assert!(pval > 1e-4, "{path:?} normal KS D = {stat:e}, p = {pval:e}");
}

#[test]
fn normal_statistics_cpu() {
    normal_case(Path::Cpu, 7);
}

#[test]
fn normal_statistics_gpu() {
    normal_case(Path::Gpu, 8);
}

fn uniform_case(path: Path, seed: u64) {
    let Some(s) = draw(path, Dist::Uniform, 0.0, 0, seed) else {
        return;
    };
    let mut obs = vec![0usize; 1024];
    for &b in &s {
        let u = f32::from_bits(b);
        assert!(u > 0.0 && u <= 1.0, "uniform {u} outside (0, 1]");
        obs[((u * 1024.0).ceil() as usize).clamp(1, 1024) - 1] += 1;
    }
    let (stat, pval) = chisquare(&obs, None, None).expect("chi-square");
    assert!(
        pval > 1e-4,
        "{path:?} uniform chi-square {stat} p = {pval:e}"
    );
}

#[test]
fn uniform_statistics_cpu() {
    uniform_case(Path::Cpu, 9);
}

#[test]
fn uniform_statistics_gpu() {
    uniform_case(Path::Gpu, 10);
}

/// Two-sample chi-square test of homogeneity on equal-size samples of whole numbers: bins
/// with at least 20 expected counts (tails pooled); returns the p-value.
fn two_sample_p(a: &[u32], b: &[u32]) -> f64 {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    assert_eq!(a.len(), b.len());
    let hi = a.iter().chain(b).copied().max().unwrap_or(0) as usize;
    let (mut ca, mut cb) = (vec![0f64; hi + 1], vec![0f64; hi + 1]);
    a.iter().for_each(|&x| ca[x as usize] += 1.0);
    b.iter().for_each(|&x| cb[x as usize] += 1.0);
    // Pool neighbouring values until each bin holds at least 40 draws of both samples.
    let (mut bins, mut acc) = (Vec::new(), (0.0, 0.0));
    for k in 0..=hi {
        acc = (acc.0 + ca[k], acc.1 + cb[k]);
        if acc.0 + acc.1 >= 40.0 {
            bins.push(acc);
            acc = (0.0, 0.0);
        }
    }
    if let Some(last) = bins.last_mut() {
        *last = (last.0 + acc.0, last.1 + acc.1);
    }
    let stat: f64 = bins.iter().map(|(x, y)| (x - y) * (x - y) / (x + y)).sum();
    let df = (bins.len() - 1) as f64;
    1.0 - ChiSquared::new(df).expect("df").cdf(stat)
}

/// neuropop's samplers against `rand_distr`'s, both drawing from neuropop streams (through
/// the `rand_core` traits): the two samples come from the same distribution.
#[test]
fn samplers_agree_with_rand_distr() {
    use neuropop::rng::Rng;
    use rand_distr::{Binomial as RBinomial, Distribution, Poisson as RPoisson};
    const N: usize = 200_000;
    let ours = |f: &dyn Fn(&mut Rng) -> u32| -> Vec<u32> {
        (0..N as u32)
            .map(|i| f(&mut Rng::new(11, i, 1, 0)))
            .collect()
    };
    let theirs = |f: &dyn Fn(&mut Rng) -> u32| -> Vec<u32> {
        (0..N as u32)
            .map(|i| f(&mut Rng::new(12, i, 1, 0)))
            .collect()
    };
    for lam in [3.5f32, 30.0, 400.0] {
        let d = RPoisson::new(f64::from(lam)).expect("poisson");
        let a = ours(&|r| r.poisson(lam));
        let b = theirs(&|r| d.sample(r) as u32);
        let p = two_sample_p(&a, &b);
        assert!(p > 1e-4, "Poisson({lam}): p = {p:e}");
    }
    for (n, prob) in [(20u32, 0.3f32), (1000, 0.3), (100_000, 0.02)] {
        let d = RBinomial::new(u64::from(n), f64::from(prob)).expect("binomial");
        let a = ours(&|r| r.binomial(n, prob));
        let b = theirs(&|r| d.sample(r) as u32);
        let p = two_sample_p(&a, &b);
        assert!(p > 1e-4, "Binomial({n}, {prob}): p = {p:e}");
    }
}
