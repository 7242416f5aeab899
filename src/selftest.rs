//! `neuropop selftest`: every kernel on every GPU adapter wgpu finds and on the CPU path,
//! with the same seeds, so a user with a new GPU (or driver) learns in a minute whether the
//! shaders compute what the CPU reference computes, and how fast each path is.
//!
//! Every check runs one workload on the adapter and on the CPU path and compares every value.
//! On a software adapter (lavapipe: device type `Cpu`) the two paths must agree bit for bit.
//! Elsewhere the GPU may fuse multiply-adds, so floating-point values may differ in the last
//! bits, and stochastic networks then follow other (equally valid) trajectories: the check
//! reports how many values differ and the largest difference, and passes when integer
//! streams match exactly and every recording's mean agrees within the check's relative
//! tolerance.

use std::time::Instant;

use serde::Serialize;

use crate::backend::AdapterSummary;
#[cfg(feature = "gpu")]
use crate::backend::Backend;
use crate::error::Result;
#[cfg(feature = "gpu")]
use crate::output::MemoryRecorder;
#[cfg(feature = "gpu")]
use crate::progress::Progress;
#[cfg(feature = "gpu")]
use crate::run::Model;
#[cfg(feature = "gpu")]
use crate::spec::Spec;

/// One kernel on one adapter against the CPU path.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The kernel(s) exercised.
    pub kernel: &'static str,
    /// The workload.
    pub workload: String,
    /// The adapter.
    pub adapter: String,
    /// Values compared.
    pub values: usize,
    /// Values whose bits differ.
    pub values_differing: usize,
    /// Largest absolute difference.
    pub max_abs_diff: f64,
    /// Bit-identical results required (software adapters).
    pub exact: bool,
    /// Relative tolerance of the recordings' means (devices that may differ in the last bits).
    pub mean_tolerance: f64,
    /// Largest relative difference of a recording's mean.
    pub max_mean_rel_diff: f64,
    /// The check passed.
    pub ok: bool,
    /// GPU path wall time, s.
    pub gpu_s: f64,
    /// CPU path wall time, s.
    pub cpu_s: f64,
    /// Units of work done (see `unit`).
    pub work: f64,
    /// What one unit of work is.
    pub unit: &'static str,
}

impl Check {
    /// GPU throughput, units per second.
    pub fn gpu_rate(&self) -> f64 {
        self.work / self.gpu_s.max(1e-9)
    }

    /// CPU throughput, units per second.
    pub fn cpu_rate(&self) -> f64 {
        self.work / self.cpu_s.max(1e-9)
    }
}

/// The result of a self-test.
#[derive(Debug, Clone, Serialize)]
pub struct SelfTest {
    /// neuropop's version.
    pub version: String,
    /// CPU path: threads and SIMD level.
    pub cpu_threads: usize,
    /// CPU path SIMD level.
    pub cpu_simd: String,
    /// Adapters found, with why one could not be opened.
    pub adapters: Vec<(AdapterSummary, Option<String>)>,
    /// Every check.
    pub checks: Vec<Check>,
    /// Every check passed.
    pub ok: bool,
    /// Wall time, s.
    pub seconds: f64,
}

#[cfg(feature = "gpu")]
/// Compares two lists of values (GPU first) into the fields of a [`Check`]:
/// (values, differing, max |diff|, largest relative difference of the means).
fn compare_values(gpu: &[f64], cpu: &[f64]) -> (usize, usize, f64, f64) {
    let n = gpu.len().min(cpu.len());
    let mut differing = gpu.len().abs_diff(cpu.len());
    let mut max = if gpu.len() == cpu.len() {
        0f64
    } else {
        f64::INFINITY
    };
    for (a, b) in gpu.iter().zip(cpu) {
        if a.to_bits() != b.to_bits() && !(a.is_nan() && b.is_nan()) {
            differing += 1;
            let d = (a - b).abs();
            max = max.max(if d.is_nan() { f64::INFINITY } else { d });
        }
    }
    let mean = |v: &[f64]| {
        let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        f.iter().sum::<f64>() / f.len().max(1) as f64
    };
    let (ma, mb) = (mean(&gpu[..n]), mean(&cpu[..n]));
    let rel = (ma - mb).abs() / (mb.abs() + 1e-12);
    (gpu.len(), differing, max, if ma == mb { 0.0 } else { rel })
}

#[cfg(feature = "gpu")]
/// A spec-driven check: one model built from `text`, run on both paths.
struct SpecCheck {
    kernel: &'static str,
    workload: &'static str,
    text: String,
    /// Units of work and their name.
    work: f64,
    unit: &'static str,
    mean_tolerance: f64,
}

#[cfg(feature = "gpu")]
/// The spec checks; `quick` shrinks them.
fn spec_checks(quick: bool) -> Vec<SpecCheck> {
    let f = if quick { 0.25 } else { 1.0 };
    let rate_reps = (65536.0 * f) as u64;
    let rate_ms = 400.0 * f;
    let lif_n = (100_000.0 * f) as u64;
    let gif_ms = 2000.0 * f;
    let gif_reps = if quick { 2 } else { 10 };
    // One network at either level: gif_pop_psc_exp takes tau_m where gif_psc_exp takes g_L.
    let meso_text = |level: &str| {
        let leak = if level == "gif_pop_psc_exp" {
            "tau_m = 20.0"
        } else {
            "g_L = 12.5"
        };
        format!(
            "[simulation]\ndt = 0.5\nt_end = {gif_ms}\nseed = 1\nreplicas = {gif_reps}\n\
             [[population]]\nname = \"E\"\nmodel = \"{level}\"\nsize = 800\n\
             params = {{ C_m = 250.0, {leak}, E_L = 0.0, V_reset = 0.0, V_T_star = 15.0, Delta_V = 2.5, lambda_0 = 10.0, t_ref = 4.0, tau_sfa = [100.0, 1000.0], q_sfa = [10.0, 1.0], tau_syn_ex = 3.0, tau_syn_in = 6.0, I_e = 300.0 }}\n\
             [[population]]\nname = \"I\"\nmodel = \"{level}\"\nsize = 200\n\
             params = {{ C_m = 250.0, {leak}, E_L = 0.0, V_reset = 0.0, V_T_star = 15.0, Delta_V = 2.5, lambda_0 = 10.0, t_ref = 4.0, tau_sfa = [100.0, 1000.0], q_sfa = [10.0, 1.0], tau_syn_ex = 3.0, tau_syn_in = 6.0, I_e = 300.0 }}\n\
             [[projection]]\nsource = \"E\"\ntarget = \"E\"\nrule = \"fixed_indegree\"\nindegree = 160\nweight = 25.0\ndelay = 1.0\n\
             [[projection]]\nsource = \"E\"\ntarget = \"I\"\nrule = \"fixed_indegree\"\nindegree = 160\nweight = 25.0\ndelay = 1.0\n\
             [[projection]]\nsource = \"I\"\ntarget = \"E\"\nrule = \"fixed_indegree\"\nindegree = 40\nweight = -62.5\ndelay = 1.0\n\
             [[projection]]\nsource = \"I\"\ntarget = \"I\"\nrule = \"fixed_indegree\"\nindegree = 40\nweight = -62.5\ndelay = 1.0\n\
             [record]\nactivity_bin = 1.0\nactivity_replicas = {gif_reps}\nplots = false\n"
        )
    };
    let pops = |level: &str| {
        if level == "gif_pop_psc_exp" {
            2.0
        } else {
            1000.0
        }
    };
    vec![
        SpecCheck {
            kernel: "rate_step",
            workload: "rate populations, OU noise, traces, summaries",
            text: format!(
                "[simulation]\ndt = 0.1\nt_end = {rate_ms}\nseed = 1\nreplicas = {rate_reps}\n\
                 [[population]]\nname = \"E\"\nmodel = \"rate\"\n\
                 params = {{ w = 5.0, I_ext = 0.56, sigma_ou = 0.7, tau_ou = 1.0 }}\n\
                 [record]\ntraces = [{{ population = \"E\", variable = \"r\", replicas = 4 }}]\n\
                 summaries = [\"final\", \"mean\", \"above:0.5\", \"crossings:0.2:0.7\"]\nplots = false\n"
            ),
            work: rate_reps as f64 * rate_ms * 10.0,
            unit: "population-steps",
            mean_tolerance: 0.05,
        },
        SpecCheck {
            kernel: "lif_step",
            workload: "LIF neurons, exact integration, an F-I sweep",
            text: format!(
                "[simulation]\ndt = 0.1\nt_end = 100.0\nseed = 1\n\
                 [[population]]\nname = \"N\"\nmodel = \"lif\"\nsize = {}\n\
                 [record]\nwindows = [[0.0, 100.0]]\nspikes = [{{ population = \"N\", first = 20 }}]\nplots = false\n\
                 [sweep]\n\"N.I\" = {{ start = 2.0, stop = 6.0, num = 10 }}\n",
                lif_n / 10
            ),
            work: lif_n as f64 * 1000.0,
            unit: "neuron-steps",
            mean_tolerance: 0.01,
        },
        SpecCheck {
            kernel: "lif_step",
            workload: "LIF neurons, correlated noise, OU input, bridge",
            text: format!(
                "[simulation]\ndt = 0.1\nt_end = 100.0\nseed = 1\n\
                 [[population]]\nname = \"N\"\nmodel = \"lif\"\nsize = {}\n\
                 params = {{ tau_m = 20.0, E_L = 0.0, V_reset = 0.0, V_th = 20.0, t_ref = 2.0, R_m = 1.0, I = 18.0, sigma = 2.0, sigma_ou = 0.5, crossing_correction = true, rho = 0.3, group = 64 }}\n\
                 [record]\nwindows = [[0.0, 100.0]]\nplots = false\n",
                lif_n / 4
            ),
            work: lif_n as f64 / 4.0 * 1000.0,
            unit: "neuron-steps",
            mean_tolerance: 0.02,
        },
        SpecCheck {
            kernel: "gif_pop_step",
            workload: "mesoscopic Brunel GIF network (gif_pop_psc_exp)",
            text: meso_text("gif_pop_psc_exp"),
            work: gif_reps as f64 * pops("gif_pop_psc_exp") * gif_ms * 2.0,
            unit: "population-steps",
            mean_tolerance: 0.05,
        },
        SpecCheck {
            kernel: "neuron_step + deliver_spikes",
            workload: "microscopic Brunel GIF network (gif_psc_exp)",
            text: meso_text("gif_psc_exp"),
            work: gif_reps as f64 * pops("gif_psc_exp") * gif_ms * 2.0,
            unit: "neuron-steps",
            mean_tolerance: 0.05,
        },
        SpecCheck {
            kernel: "neuron_step + deliver_spikes",
            workload: "iaf_psc_delta network with Poisson input",
            text: format!(
                "[simulation]\ndt = 0.1\nt_end = {}\nseed = 1\n\
                 [[population]]\nname = \"E\"\nmodel = \"iaf_psc_delta\"\nsize = 2000\nparams = {{ C_m = 1.0, tau_m = 20.0, t_ref = 2.0, V_th = 20.0, V_reset = 10.0, E_L = 0.0 }}\n\
                 [[projection]]\nsource = \"E\"\ntarget = \"E\"\nrule = \"fixed_indegree\"\nindegree = 200\nweight = 0.1\ndelay = 1.5\n\
                 [[stimulus]]\nkind = \"poisson\"\ntarget = \"E\"\nrate = 20000.0\nweight = 0.1\n\
                 [record]\nactivity_bin = 1.0\nplots = false\n",
                400.0 * f
            ),
            work: 2000.0 * 4000.0 * f,
            unit: "neuron-steps",
            mean_tolerance: 0.05,
        },
    ]
}

#[cfg(feature = "gpu")]
/// Runs a model on a backend into memory; returns the recordings and the wall time.
fn run_model(model: &Model, backend: &Backend) -> Result<(MemoryRecorder, f64)> {
    let mut rec = MemoryRecorder::new();
    let t = Instant::now();
    model.run(backend, &mut rec, &Progress::hidden())?;
    Ok((rec, t.elapsed().as_secs_f64()))
}

#[cfg(feature = "gpu")]
/// Every value of every recording, in the CPU recorder's order (the GPU's by name).
fn all_values(gpu: &MemoryRecorder, cpu: &MemoryRecorder) -> (Vec<f64>, Vec<f64>, f64) {
    let (mut g, mut c) = (Vec::new(), Vec::new());
    let mut worst_mean = 0f64;
    for a in &cpu.arrays {
        let b = gpu.get(&a.info.name).map_or(&[][..], |b| &b.values[..]);
        let (_, _, _, rel) = compare_values(b, &a.values);
        worst_mean = worst_mean.max(rel);
        g.extend_from_slice(b);
        c.extend_from_slice(&a.values);
    }
    (g, c, worst_mean)
}

/// Runs every check on every adapter; `report` sees each check as it finishes.
pub fn run(quick: bool, mut report: impl FnMut(&Check)) -> Result<SelfTest> {
    let t0 = Instant::now();
    #[allow(unused_mut)]
    let mut checks: Vec<Check> = Vec::new();
    #[allow(unused_mut)]
    let mut adapters: Vec<(AdapterSummary, Option<String>)> = Vec::new();
    #[cfg(feature = "gpu")]
    let cpu_cache: std::cell::RefCell<Vec<Option<(MemoryRecorder, f64)>>> =
        std::cell::RefCell::new(Vec::new());
    #[cfg(feature = "gpu")]
    for (info, ctx) in crate::gpu::open_all() {
        let ctx = match ctx {
            Ok(c) => {
                adapters.push((info.clone(), None));
                c
            }
            Err(e) => {
                adapters.push((info.clone(), Some(e.to_string())));
                continue;
            }
        };
        let exact = info.device_type == "Cpu";
        let adapter = format!("{} ({})", info.name, info.backend);
        for c in probe_checks(&ctx, &adapter, exact, quick)? {
            report(&c);
            checks.push(c);
        }
        let gpu = Backend::Gpu(ctx);
        for (i, sc) in spec_checks(quick).into_iter().enumerate() {
            let spec = Spec::parse(&sc.text, "selftest.toml")?;
            let model = Model::build(&spec)?;
            let (g, gpu_s) = run_model(&model, &gpu)?;
            // The CPU path's results are the same for every adapter: run it once.
            let mut cache = cpu_cache.borrow_mut();
            if cache.len() <= i {
                cache.resize_with(i + 1, || None);
            }
            if cache[i].is_none() {
                cache[i] = Some(run_model(&model, &Backend::Cpu)?);
            }
            let Some((c, cpu_s)) = &cache[i] else {
                continue;
            };
            let (gv, cv, worst_mean) = all_values(&g, c);
            let (values, differing, max, _) = compare_values(&gv, &cv);
            let ok = if exact {
                differing == 0
            } else {
                worst_mean <= sc.mean_tolerance
            };
            let check = Check {
                kernel: sc.kernel,
                workload: sc.workload.to_string(),
                adapter: adapter.clone(),
                values,
                values_differing: differing,
                max_abs_diff: max,
                exact,
                mean_tolerance: sc.mean_tolerance,
                max_mean_rel_diff: worst_mean,
                ok,
                gpu_s,
                cpu_s: *cpu_s,
                work: sc.work,
                unit: sc.unit,
            };
            report(&check);
            checks.push(check);
        }
    }
    #[cfg(not(feature = "gpu"))]
    let _ = (&mut report, quick);
    if crate::backend::gpu_required() && !adapters.iter().any(|(_, e)| e.is_none()) {
        return Err(crate::error::Error::NoAdapter {
            detail: " (NEUROPOP_REQUIRE_GPU is set)".into(),
        });
    }
    Ok(SelfTest {
        version: crate::VERSION.to_string(),
        cpu_threads: crate::cpu::threads(),
        cpu_simd: crate::simd::level().name().to_string(),
        ok: checks.iter().all(|c| c.ok),
        adapters,
        checks,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// The test kernels (random numbers, elementary functions, the delivery primitive) and the
/// moment activation on one adapter.
#[cfg(feature = "gpu")]
fn probe_checks(
    ctx: &std::sync::Arc<crate::gpu::GpuContext>,
    adapter: &str,
    exact: bool,
    quick: bool,
) -> Result<Vec<Check>> {
    use crate::kernels::math_eval::{self, MathEvalParams, MathFn};
    use crate::kernels::rng_sample::{rng_sample, Dist, RngSampleParams};
    use crate::kernels::rng_u32::{rng_u32, RngU32Params};
    use crate::kernels::scatter_add::{scatter_add, ScatterParams};
    use crate::models::moments::engine::moment_activation_points;
    use crate::models::moments::params::MomentParams;

    let scale = if quick { 1 } else { 4 };
    let mut out = Vec::new();
    let mut push = |kernel: &'static str,
                    workload: String,
                    g: Vec<f64>,
                    c: Vec<f64>,
                    must_match: bool,
                    tol: f64,
                    (gpu_s, cpu_s, work, unit): (f64, f64, f64, &'static str)| {
        let (values, differing, max, rel) = compare_values(&g, &c);
        let ok = if exact || must_match {
            differing == 0
        } else {
            rel <= tol
        };
        out.push(Check {
            kernel,
            workload,
            adapter: adapter.to_string(),
            values,
            values_differing: differing,
            max_abs_diff: max,
            exact: exact || must_match,
            mean_tolerance: tol,
            max_mean_rel_diff: rel,
            ok,
            gpu_s,
            cpu_s,
            work,
            unit,
        });
    };
    // Twice, the second timed: the first compiles the pipeline.
    let timed = |f: &mut dyn FnMut() -> Result<Vec<f64>>| -> Result<(Vec<f64>, f64)> {
        f()?;
        let t = Instant::now();
        let v = f()?;
        Ok((v, t.elapsed().as_secs_f64()))
    };

    // Philox: integer arithmetic only, identical on every device.
    let p = RngU32Params {
        seed_lo: 0x1234_5678,
        seed_hi: 0x9abc_def0,
        step: 3,
        purpose: 0,
        n_elements: 1 << 16,
        blocks: 16 * scale,
        mode: 0,
        first_element: 0,
        first_block: 0,
        _pad: [0; 3],
    };
    let (g, gs) = timed(&mut || {
        Ok(crate::gpu::probes::run_rng_u32(ctx, &p)?
            .into_iter()
            .map(f64::from)
            .collect())
    })?;
    let (c, cs) = timed(&mut || {
        let mut o = vec![0u32; p.output_len()];
        rng_u32(&p, &mut o);
        Ok(o.into_iter().map(f64::from).collect())
    })?;
    let words = g.len() as f64;
    push(
        "rng_u32",
        "Philox4x32-10 streams".into(),
        g,
        c,
        true,
        0.0,
        (gs, cs, words, "draws"),
    );

    // The samplers.
    for (dist, a, n, name) in [
        (Dist::Uniform, 0.0f32, 0u32, "uniform"),
        (Dist::Normal, 0.0, 0, "normal (Box-Muller)"),
        (Dist::Poisson, 30.0, 0, "Poisson, mean 30"),
        (Dist::Binomial, 0.3, 1000, "binomial, n 1000, p 0.3"),
    ] {
        let elements = 1u32 << 14;
        let sp = RngSampleParams {
            seed_lo: 7,
            seed_hi: 0,
            step: 1,
            purpose: 0,
            n_elements: elements,
            draws: 16 * scale,
            dist: dist as u32,
            _pad: 0,
        };
        let pa = vec![a; elements as usize];
        let pn = vec![n; elements as usize];
        let as_f = |v: Vec<u32>| -> Vec<f64> {
            v.into_iter()
                .map(|x| {
                    if matches!(dist, Dist::Uniform | Dist::Normal) {
                        f64::from(f32::from_bits(x))
                    } else {
                        f64::from(x)
                    }
                })
                .collect()
        };
        let (g, gs) = timed(&mut || {
            Ok(as_f(crate::gpu::probes::run_rng_sample(
                ctx, &sp, &pa, &pn,
            )?))
        })?;
        let (c, cs) = timed(&mut || {
            let mut o = vec![0u32; (sp.n_elements * sp.draws) as usize];
            rng_sample(&sp, &pa, &pn, &mut o);
            Ok(as_f(o))
        })?;
        let draws = g.len() as f64;
        push(
            "rng_sample",
            format!("{name} samples"),
            g,
            c,
            matches!(dist, Dist::Uniform),
            1e-3,
            (gs, cs, draws, "draws"),
        );
    }

    // The elementary functions every kernel builds on.
    for (f, lo, hi, name) in [
        (MathFn::Exp, -80.0f32, 80.0f32, "exp"),
        (MathFn::Log, 1e-30, 1e30, "log"),
        (
            MathFn::Sin,
            -std::f32::consts::TAU,
            std::f32::consts::TAU,
            "sin",
        ),
    ] {
        let n = 1usize << 16;
        let x: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f32 / (n - 1) as f32;
                if matches!(f, MathFn::Log) {
                    (lo.ln() + t * (hi.ln() - lo.ln())).exp()
                } else {
                    lo + t * (hi - lo)
                }
            })
            .collect();
        let (g, gs) = timed(&mut || {
            Ok(crate::gpu::probes::run_math_eval(ctx, f, &x)?
                .into_iter()
                .map(f64::from)
                .collect())
        })?;
        let (c, cs) = timed(&mut || {
            let mp = MathEvalParams {
                n: x.len() as u32,
                func: f as u32,
                _pad: [0; 2],
            };
            let mut y = vec![0f32; x.len()];
            math_eval::math_eval(&mp, &x, &mut y);
            Ok(y.into_iter().map(f64::from).collect())
        })?;
        push(
            "math_eval",
            format!("{name} over its range"),
            g,
            c,
            false,
            1e-5,
            (gs, cs, n as f64, "values"),
        );
    }

    // Delivery: +1 at stored random targets (integer atomics, identical everywhere).
    {
        let targets: Vec<u32> = (0..1u32 << 20)
            .map(|i| crate::rng::philox4x32_10([i, 0, 0, 0], [1, 2])[0] % 20_000)
            .collect();
        let sp = ScatterParams::new(targets.len() as u32, 64);
        let (g, gs) = timed(&mut || {
            let s = crate::gpu::probes::ScatterAdd::new(ctx, &targets, 20_000)?;
            s.run(ctx, &sp)?;
            Ok(s.counts(ctx)?.into_iter().map(f64::from).collect())
        })?;
        let (c, cs) = timed(&mut || {
            let mut counts = vec![0u32; 20_000];
            scatter_add(&sp, &targets, &mut counts);
            Ok(counts.into_iter().map(f64::from).collect())
        })?;
        push(
            "scatter_add",
            "2^20 events over 20,000 targets".into(),
            g,
            c,
            true,
            0.0,
            (gs, cs, targets.len() as f64, "events"),
        );
    }

    // The moment activation on a grid.
    {
        let n = 256 * scale as usize;
        let (mut mu, mut sg) = (Vec::new(), Vec::new());
        for i in 0..n {
            for j in 0..n {
                mu.push(-5.0 + 10.0 * i as f32 / (n - 1) as f32);
                sg.push(10.0 * j as f32 / (n - 1) as f32);
            }
        }
        let mp = MomentParams::default();
        let gb = Backend::Gpu(ctx.clone());
        let flat = |v: Vec<[f32; 4]>| -> Vec<f64> {
            v.into_iter().flat_map(|x| x.map(f64::from)).collect()
        };
        let (g, gs) = timed(&mut || Ok(flat(moment_activation_points(&gb, &mp, &mu, &sg)?)))?;
        let (c, cs) = timed(&mut || {
            Ok(flat(moment_activation_points(
                &Backend::Cpu,
                &mp,
                &mu,
                &sg,
            )?))
        })?;
        push(
            "moment_activation",
            format!("{n} x {n} (mu_bar, sigma_bar) points"),
            g,
            c,
            false,
            1e-4,
            (gs, cs, (n * n) as f64, "points"),
        );
    }
    Ok(out)
}
