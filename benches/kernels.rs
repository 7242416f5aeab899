//! Criterion benchmarks of each kernel on the CPU path and, when an adapter exists, the GPU
//! path: Philox streams (`rng_u32`), the rate model (`rate_step` with OU noise), exact LIF
//! neurons (`lif_step`) and mesoscopic GIF populations (`gif_pop_step`). Run with
//! `cargo bench` (`NEUROPOP_SIMD=avx2` or `baseline` caps the CPU path's SIMD level);
//! `neuropop bench` reports the same kernels at full size.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neuropop::backend::Backend;
use neuropop::kernels::rng_u32::{rng_u32, RngU32Params};
use neuropop::output::MemoryRecorder;
use neuropop::progress::Progress;
use neuropop::run::Model;
use neuropop::spec::Spec;

fn gpu() -> Option<Backend> {
    neuropop::gpu::GpuContext::shared().ok().map(Backend::Gpu)
}

fn rng(c: &mut Criterion) {
    let mut g = c.benchmark_group("rng_u32");
    let p = RngU32Params {
        seed_lo: 1,
        n_elements: 1 << 16,
        blocks: 64,
        mode: 1,
        ..Default::default()
    };
    let draws = u64::from(p.n_elements) * u64::from(p.blocks) * 4;
    g.throughput(Throughput::Elements(draws));
    let mut out = vec![0u32; p.output_len()];
    g.bench_function("cpu", |b| b.iter(|| rng_u32(black_box(&p), &mut out)));
    if let Some(Backend::Gpu(ctx)) = gpu() {
        g.bench_function("gpu", |b| {
            b.iter(|| neuropop::gpu::probes::run_rng_u32(&ctx, black_box(&p)).expect("gpu"))
        });
    }
    g.finish();
}

/// Whole runs of `model` (set-up included) on each path, `elements` units of work per run.
fn model_group(c: &mut Criterion, group: &str, model: &Model, elements: u64) {
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    g.throughput(Throughput::Elements(elements));
    let mut backends = vec![("cpu", Backend::Cpu)];
    if let Some(b) = gpu() {
        backends.push(("gpu", b));
    }
    for (name, backend) in &backends {
        g.bench_function(*name, |b| {
            b.iter(|| {
                let mut rec = MemoryRecorder::new();
                model
                    .run(backend, &mut rec, &Progress::hidden())
                    .expect("run");
                black_box(rec)
            })
        });
    }
    g.finish();
}

fn rate(c: &mut Criterion) {
    let (replicas, steps) = (100_000u64, 200u64);
    let model =
        Model::build(&neuropop::bench::rate_spec(replicas, steps).expect("spec")).expect("model");
    model_group(c, "rate_step_ou", &model, replicas * steps);
}

/// 10^5 exact LIF neurons with a constant drive, 200 steps: neuron-steps.
fn lif(c: &mut Criterion) {
    let text = "[simulation]\ndt = 0.1\nt_end = 20.0\n[[population]]\nname = \"N\"\n\
                model = \"lif\"\nsize = 100000\nparams = { I = 3.0 }\n[record]\nplots = false\n";
    let model = Model::build(&Spec::parse(text, "bench:lif").expect("spec")).expect("model");
    model_group(c, "lif_step_exact", &model, 100_000 * 200);
}

/// Two mesoscopic Brunel GIF networks (examples/brunel_gif.toml), 2000 ms: population-steps.
fn gif_pop(c: &mut Criterion) {
    let text = include_str!("../examples/brunel_gif.toml")
        .replace("replicas = 10", "replicas = 2")
        .replace("activity_replicas = 10", "activity_replicas = 0")
        + "plots = false\n";
    let model = Model::build(&Spec::parse(&text, "bench:gif_pop").expect("spec")).expect("model");
    model_group(c, "gif_pop_step", &model, 2 * 2 * 4000);
}

criterion_group!(benches, rng, rate, lif, gif_pop);
criterion_main!(benches);
