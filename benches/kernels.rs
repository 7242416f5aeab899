//! Criterion benchmarks of each kernel on the CPU path and, when an adapter exists, the GPU
//! path: Philox streams (`rng_u32`) and the rate model (`rate_step` with OU noise).
//! Run with `cargo bench`; `neuropop bench` reports the same kernels at full size.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neuropop::backend::Backend;
use neuropop::kernels::rng_u32::{rng_u32, RngU32Params};
use neuropop::output::MemoryRecorder;
use neuropop::progress::Progress;
use neuropop::run::Model;

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

fn rate(c: &mut Criterion) {
    let mut g = c.benchmark_group("rate_step_ou");
    g.sample_size(10);
    let (replicas, steps) = (100_000u64, 200u64);
    let model =
        Model::build(&neuropop::bench::rate_spec(replicas, steps).expect("spec")).expect("model");
    g.throughput(Throughput::Elements(replicas * steps));
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

criterion_group!(benches, rng, rate);
criterion_main!(benches);
