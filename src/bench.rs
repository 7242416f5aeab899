//! Throughput of each kernel on both paths, measured in one process so the ratio compares
//! like with like (`neuropop bench`; criterion benches in `benches/` cover the same kernels).

use std::time::Instant;

use serde::Serialize;

use crate::backend::Backend;
use crate::error::Result;
use crate::kernels::rng_u32::{rng_u32, RngU32Params};
use crate::kernels::scatter_add::{scatter_add, ScatterParams};
use crate::output::MemoryRecorder;
use crate::progress::Progress;
use crate::rng::philox4x32_10;
use crate::run::Model;
use crate::spec::Spec;

/// One kernel's figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// Kernel measured.
    pub kernel: String,
    /// What one unit of work is (e.g. "u32 draws", "population-steps").
    pub unit: String,
    /// Units per second on the CPU path.
    pub cpu_per_s: f64,
    /// Units per second on the GPU path.
    pub gpu_per_s: Option<f64>,
    /// GPU / CPU.
    pub ratio: Option<f64>,
    /// Units done on the CPU path.
    pub cpu_work: f64,
    /// Units done on the GPU path.
    pub gpu_work: f64,
    /// CPU seconds.
    pub cpu_s: f64,
    /// GPU seconds.
    pub gpu_s: Option<f64>,
    /// CPU worker threads.
    pub cpu_threads: usize,
    /// GPU adapter.
    pub adapter: Option<String>,
    /// Workload description.
    pub workload: String,
}

fn finish(
    kernel: &str,
    unit: &str,
    workload: String,
    cpu: (f64, f64),
    gpu: Option<(f64, f64)>,
    adapter: Option<String>,
) -> BenchResult {
    let cpu_per_s = cpu.0 / cpu.1;
    let gpu_per_s = gpu.map(|(w, s)| w / s);
    BenchResult {
        kernel: kernel.into(),
        unit: unit.into(),
        cpu_per_s,
        gpu_per_s,
        ratio: gpu_per_s.map(|g| g / cpu_per_s),
        cpu_work: cpu.0,
        gpu_work: gpu.map_or(0.0, |g| g.0),
        cpu_s: cpu.1,
        gpu_s: gpu.map(|g| g.1),
        cpu_threads: crate::cpu::threads(),
        adapter,
        workload,
    }
}

/// Philox throughput: `rng_u32` in xor-fold mode (generation without memory traffic).
pub fn rng(backend: &Backend, gpu_draws_log2: u32, cpu_draws_log2: u32) -> Result<BenchResult> {
    let params = |log2: u32| RngU32Params {
        seed_lo: 1,
        n_elements: 1 << 20,
        blocks: 1 << (log2 - 22),
        mode: 1,
        ..Default::default()
    };
    let p = params(cpu_draws_log2);
    let mut out = vec![0u32; p.output_len()];
    let t = Instant::now();
    rng_u32(&p, &mut out);
    let cpu = ((1u64 << cpu_draws_log2) as f64, t.elapsed().as_secs_f64());
    let (gpu, adapter) = match backend {
        Backend::Cpu => (None, None),
        #[cfg(feature = "gpu")]
        Backend::Gpu(ctx) => {
            let p = params(gpu_draws_log2);
            crate::gpu::probes::run_rng_u32(ctx, &RngU32Params { blocks: 1, ..p })?; // warm-up: build the pipeline
            let t = Instant::now();
            crate::gpu::probes::run_rng_u32(ctx, &p)?;
            (
                Some(((1u64 << gpu_draws_log2) as f64, t.elapsed().as_secs_f64())),
                Some(ctx.info().name.clone()),
            )
        }
    };
    Ok(finish(
        "rng_u32 (Philox4x32-10)",
        "u32 draws",
        format!("2^20 streams, 2^{gpu_draws_log2} draws on the GPU, 2^{cpu_draws_log2} on the CPU, xor-folded"),
        cpu,
        gpu,
        adapter,
    ))
}

/// Targets of the scatter benchmark: `n` events over `n_targets` targets, uniform from
/// Philox (seed 1, event e: counter (e, 0, 0, 0)), as unordered as synapses of many sources.
pub fn scatter_targets(n: usize, n_targets: u32) -> Vec<u32> {
    (0..n)
        .map(|e| philox4x32_10([e as u32, 0, 0, 0], [1, 0])[0] % n_targets)
        .collect()
}

/// The delivery primitive alone (`scatter_add`): `2^events_log2` events, each adding 1 at a
/// random one of `n_targets` counts (20,000: the neurons of the Brunel GIF network x20),
/// `rounds` times over on the GPU. Unit: synapse events. On a software adapter this is the
/// floor of every delivery scheme that pushes counts to targets.
pub fn scatter(
    backend: &Backend,
    events_log2: u32,
    n_targets: u32,
    rounds: u32,
) -> Result<BenchResult> {
    let n = 1usize << events_log2;
    let targets = scatter_targets(n, n_targets);
    let params = ScatterParams::new(n as u32, 256);
    let mut counts = vec![0u32; n_targets as usize];
    let t = Instant::now();
    scatter_add(&params, &targets, &mut counts);
    let cpu = (n as f64, t.elapsed().as_secs_f64());
    let (gpu, adapter) = match backend {
        Backend::Cpu => (None, None),
        #[cfg(feature = "gpu")]
        Backend::Gpu(ctx) => {
            let s = crate::gpu::probes::ScatterAdd::new(ctx, &targets, n_targets as usize)?;
            s.run(ctx, &ScatterParams::new(64, 1))?; // warm-up: build the pipeline
            let t = Instant::now();
            for _ in 0..rounds {
                s.run(ctx, &params)?;
            }
            (
                Some((
                    (n as u64 * u64::from(rounds)) as f64,
                    t.elapsed().as_secs_f64(),
                )),
                Some(ctx.info().name.clone()),
            )
        }
    };
    let mut r = finish(
        "scatter_add (delivery primitive)",
        "synapse events",
        format!(
            "2^{events_log2} events at random targets among {n_targets}, 256 per thread, \
             {rounds} rounds on the GPU; the CPU twin runs on one thread"
        ),
        cpu,
        gpu,
        adapter,
    );
    r.cpu_threads = 1;
    Ok(r)
}

/// The spec of the rate benchmark: the tutorial's OU-driven bistable population (w = 5,
/// I_ext = 0.56, sigma = 0.7, tau_ou = 1 ms, dt = 0.1 ms), summaries only.
pub fn rate_spec(replicas: u64, steps: u64) -> Result<Spec> {
    let text = format!(
        r#"
[simulation]
dt = 0.1
t_end = {t}
seed = 1
replicas = {replicas}

[[population]]
name = "E"
model = "rate"
params = {{ w = 5.0, I_ext = 0.56, sigma_ou = 0.7, tau_ou = 1.0 }}

[record]
summaries = ["mean"]
plots = false
"#,
        t = steps as f64 * 0.1
    );
    Spec::parse(&text, "bench:rate")
}

fn time_rate(backend: &Backend, replicas: u64, steps: u64) -> Result<f64> {
    let model = Model::build(&rate_spec(replicas, steps)?)?;
    let mut rec = MemoryRecorder::new();
    let t = Instant::now();
    model.run(backend, &mut rec, &Progress::hidden())?;
    Ok(t.elapsed().as_secs_f64())
}

/// `rate_step` with OU noise: `replicas` x `gpu_steps` on the GPU, `replicas` x `cpu_steps`
/// on the CPU.
pub fn rate(
    backend: &Backend,
    replicas: u64,
    gpu_steps: u64,
    cpu_steps: u64,
) -> Result<BenchResult> {
    let cpu_s = time_rate(&Backend::Cpu, replicas, cpu_steps)?;
    let cpu = ((replicas * cpu_steps) as f64, cpu_s);
    let (gpu, adapter) = match backend {
        Backend::Cpu => (None, None),
        #[cfg(feature = "gpu")]
        Backend::Gpu(ctx) => {
            time_rate(backend, 1024, 4)?; // warm-up: build the pipeline
            let s = time_rate(backend, replicas, gpu_steps)?;
            (
                Some(((replicas * gpu_steps) as f64, s)),
                Some(ctx.info().name.clone()),
            )
        }
    };
    Ok(finish(
        "rate_step (forward Euler + OU noise)",
        "population-steps",
        format!("{replicas} replicas, {gpu_steps} steps on the GPU and {cpu_steps} on the CPU, summaries only"),
        cpu,
        gpu,
        adapter,
    ))
}

/// The Brunel GIF network (examples/brunel_gif.toml) at the mesoscopic level, 2000 ms each:
/// `gpu_replicas` independent replicas on the GPU and `cpu_replicas` on the CPU path, in
/// replicas per second. With one replica on each path this is the single-network latency
/// (NEST's figure of merit: one network at a time).
pub fn gif_pop(backend: &Backend, gpu_replicas: u64, cpu_replicas: u64) -> Result<BenchResult> {
    let text = |n: u64| {
        include_str!("../examples/brunel_gif.toml")
            .replace("replicas = 10", &format!("replicas = {n}"))
            .replace("activity_replicas = 10", "activity_replicas = 0")
            + "plots = false\n"
    };
    let time = |b: &Backend, n: u64| -> Result<f64> {
        let model = Model::build(&Spec::parse(&text(n), "bench:gif_pop")?)?;
        let mut rec = MemoryRecorder::new();
        let t = Instant::now();
        model.run(b, &mut rec, &Progress::hidden())?;
        Ok(t.elapsed().as_secs_f64())
    };
    let cpu = (cpu_replicas as f64, time(&Backend::Cpu, cpu_replicas)?);
    let (gpu, adapter) = match backend {
        Backend::Cpu => (None, None),
        #[cfg(feature = "gpu")]
        Backend::Gpu(ctx) => {
            time(backend, 1)?; // warm-up: build the pipeline
            (
                Some((gpu_replicas as f64, time(backend, gpu_replicas)?)),
                Some(ctx.info().name.clone()),
            )
        }
    };
    let (name, workload) = if gpu_replicas == 1 && cpu_replicas == 1 {
        (
            "gif_pop_step, one network (Brunel GIF network, 2 populations, 2000 ms)",
            "one replica per run on each path (latency); NEST 3.10 (1 thread, the development machine) needs 0.30-0.58 s".to_string(),
        )
    } else {
        (
            "gif_pop_step (Brunel GIF network, 2 populations, 2000 ms)",
            format!(
                "{gpu_replicas} replicas on the GPU, {cpu_replicas} on the CPU, window statistics only"
            ),
        )
    };
    Ok(finish(name, "replicas", workload, cpu, gpu, adapter))
}

/// Times one run of `spec` text on `backend` (after a short warm-up run on the GPU that
/// builds the pipelines), returning seconds.
fn time_spec(backend: &Backend, text: &str, warm_up: Option<&str>) -> Result<f64> {
    if let (Some(w), false) = (warm_up, matches!(backend, Backend::Cpu)) {
        let model = Model::build(&Spec::parse(w, "bench:warm-up")?)?;
        model.run(backend, &mut MemoryRecorder::new(), &Progress::hidden())?;
    }
    let model = Model::build(&Spec::parse(text, "bench")?)?;
    let mut rec = MemoryRecorder::new();
    let t = Instant::now();
    model.run(backend, &mut rec, &Progress::hidden())?;
    Ok(t.elapsed().as_secs_f64())
}

/// The Brunel GIF network at the microscopic level (1000 `gif_psc_exp` neurons, 200 k synapses,
/// 2000 ms), `replicas` independent networks in one run, connectivity build included.
pub fn gif_psc_exp(backend: &Backend, replicas: u64) -> Result<BenchResult> {
    let spec = |n: u64, t_end: f64| -> Result<String> {
        let text = include_str!("../examples/brunel_gif.toml")
            .replace("replicas = 10", &format!("replicas = {n}"))
            .replace("activity_replicas = 10", "activity_replicas = 0")
            .replace("t_end = 2000.0", &format!("t_end = {t_end}"))
            .replace("windows = [[500.0, 1500.0], [1600.0, 2000.0]]", "")
            + "plots = false\n";
        let s = Spec::parse(&text, "bench:gif_psc_exp")?;
        let (micro, _) = crate::models::levels::at_level(&s, crate::models::levels::Level::Micro)?;
        toml::to_string(&micro).map_err(|e| crate::Error::InvalidArgument(e.to_string()))
    };
    let main = spec(replicas, 2000.0)?;
    let cpu = (replicas as f64, time_spec(&Backend::Cpu, &main, None)?);
    let (gpu, adapter) = match backend {
        Backend::Cpu => (None, None),
        #[cfg(feature = "gpu")]
        Backend::Gpu(ctx) => (
            Some((
                replicas as f64,
                time_spec(backend, &main, Some(&spec(1, 10.0)?))?,
            )),
            Some(ctx.info().name.clone()),
        ),
    };
    Ok(finish(
        "neuron_step + deliver_spikes, gif_psc_exp (Brunel GIF network, 1000 neurons, 2000 ms)",
        "networks",
        format!(
            "{replicas} independent networks per run on each path, connectivity included; NEST 3.10 (1 thread, the development machine) needs 0.25-0.45 s per network"
        ),
        cpu,
        gpu,
        adapter,
    ))
}

/// The Brunel (2000) LIF network of `examples/brunel_lif.toml` (12500 `iaf_psc_delta`
/// neurons, 15.6 M synapses, Poisson drive, dt 0.1 ms, `t_end` ms).
pub fn brunel_lif(backend: &Backend, t_end: f64) -> Result<BenchResult> {
    let text = include_str!("../examples/brunel_lif.toml")
        .replace("t_end = 1000.0", &format!("t_end = {t_end}"))
        .replace("windows = [[100.0, 1000.0]]", "")
        .replace(
            "traces = [{ population = \"E\", variable = \"V_m\", first = 3 }]",
            "plots = false",
        );
    let steps = t_end / 0.1;
    let work = 12_500.0 * steps;
    let cpu = (work, time_spec(&Backend::Cpu, &text, None)?);
    let (gpu, adapter) = match backend {
        Backend::Cpu => (None, None),
        #[cfg(feature = "gpu")]
        Backend::Gpu(ctx) => (
            Some((work, time_spec(backend, &text, Some(&brunel_warm_up()))?)),
            Some(ctx.info().name.clone()),
        ),
    };
    Ok(finish(
        "neuron_step + deliver_spikes, iaf_psc_delta (Brunel 2000, 12500 neurons)",
        "neuron-steps",
        format!(
            "{t_end} ms at dt 0.1 ms, connectivity included; NEST 3.10 (2 threads, the development machine) needs 1.7-3.6 s build + 5.0-11.5 s simulate for 1000 ms"
        ),
        cpu,
        gpu,
        adapter,
    ))
}

/// A small Brunel network that builds the pipelines before timing.
#[cfg(feature = "gpu")]
fn brunel_warm_up() -> String {
    include_str!("../examples/brunel_lif.toml")
        .replace("size = 10000", "size = 100")
        .replace("size = 2500", "size = 25")
        .replace("indegree = 1000", "indegree = 10")
        .replace("indegree = 250", "indegree = 2")
        .replace("t_end = 1000.0", "t_end = 5.0")
        .replace("first = 50", "first = 5")
        .replace("windows = [[100.0, 1000.0]]", "")
}

/// The building blocks of the CPU path at its SIMD level, on one thread: the elementary
/// functions, a division, Philox blocks, and memory bandwidth. Each is the limit of the
/// kernels built on it; the performance documentation divides kernel figures by them.
#[derive(Debug, Clone, Serialize)]
pub struct BlockRate {
    /// What was measured.
    pub block: &'static str,
    /// Results per second on one core.
    pub per_s: f64,
    /// Nanoseconds per result on one core.
    pub ns: f64,
}

/// Runs `f` over an L1-resident array until about 0.2 s have passed; results per second.
/// Inlined, so `f` is compiled with the SIMD level of the caller.
#[inline(always)]
fn per_second(len: usize, mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed().as_secs_f64() < 0.2 {
        for _ in 0..64 {
            f();
        }
        n += 64;
    }
    (n as f64 * len as f64) / t.elapsed().as_secs_f64()
}

struct Blocks;

impl crate::simd::Lanes for Blocks {
    type Output = Vec<BlockRate>;

    #[inline(always)]
    fn run<const W: usize>(self) -> Vec<BlockRate> {
        use crate::math;
        const N: usize = 4096;
        let x: Vec<f32> = (0..N).map(|i| (i as f32 / N as f32) * 4.0 - 2.0).collect();
        let pos: Vec<f32> = (0..N).map(|i| (i as f32 + 1.0) / N as f32).collect();
        let mut y = vec![0f32; N];
        let mut out = Vec::new();
        let mut rate = |block: &'static str, per_s: f64| {
            out.push(BlockRate {
                block,
                per_s,
                ns: 1e9 / per_s,
            })
        };
        rate(
            "exp",
            per_second(N, || {
                for (o, v) in y.iter_mut().zip(&x) {
                    *o = math::exp(*v);
                }
                std::hint::black_box(&y);
            }),
        );
        rate(
            "ln",
            per_second(N, || {
                for (o, v) in y.iter_mut().zip(&pos) {
                    *o = math::ln(*v);
                }
                std::hint::black_box(&y);
            }),
        );
        rate(
            "sincos",
            per_second(N, || {
                for (o, v) in y.iter_mut().zip(&x) {
                    let (s, c) = math::sincos(*v);
                    *o = s + c;
                }
                std::hint::black_box(&y);
            }),
        );
        rate(
            "division 1 / (1 + x)",
            per_second(N, || {
                for (o, v) in y.iter_mut().zip(&pos) {
                    *o = 1.0 / (1.0 + *v);
                }
                std::hint::black_box(&y);
            }),
        );
        let mut words = vec![0u32; N];
        rate(
            "Philox4x32-10 block",
            per_second(N, || {
                for (i, o) in words.iter_mut().enumerate() {
                    let b = philox4x32_10([i as u32, 7, 1, 0], [3, 4]);
                    *o = b[0] ^ b[1] ^ b[2] ^ b[3];
                }
                std::hint::black_box(&words);
            }),
        );
        // Memory: one read and one write per f32 of arrays far larger than the caches.
        let big = 1usize << 25;
        let src = vec![1f32; big];
        let mut dst = vec![0f32; big];
        let copies = per_second(big, || {
            for (d, s) in dst.iter_mut().zip(&src) {
                *d = *s * 1.5;
            }
            std::hint::black_box(&dst);
        });
        rate("memory: bytes read + written", copies * 8.0);
        let _ = W;
        out
    }
}

/// [`BlockRate`]s at the CPU path's SIMD level.
pub fn simd_blocks() -> Vec<BlockRate> {
    crate::simd::dispatch(Blocks)
}
