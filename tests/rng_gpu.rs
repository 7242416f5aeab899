//! The GPU and the CPU draw the same random numbers: Philox known answers on the device,
//! 10^6 raw draws bit-identical, and the samplers agreeing draw by draw. Also the other test
//! kernels: elementary functions, and the delivery primitive (`scatter_add`) counting exactly.

mod common;

use neuropop::gpu::probes::{run_rng_sample, run_rng_u32};
use neuropop::kernels::rng_sample::{rng_sample, Dist, RngSampleParams};
use neuropop::kernels::rng_u32::{rng_u32, RngU32Params};

const SEED: u64 = 0x5eed_0000_2026_1122;

fn u32_params(n_elements: u32, blocks: u32) -> RngU32Params {
    RngU32Params {
        seed_lo: SEED as u32,
        seed_hi: (SEED >> 32) as u32,
        step: 17,
        purpose: 1,
        n_elements,
        blocks,
        ..Default::default()
    }
}

#[test]
fn philox_known_answers_on_gpu() {
    let Some(ctx) = common::gpu() else { return };
    // (counter; key) -> output, Random123's kat_vectors (docs/models.md, section 9).
    let cases: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
        (
            [0, 0, 0, 0],
            [0, 0],
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
        ),
        (
            [u32::MAX; 4],
            [u32::MAX; 2],
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
        ),
        (
            [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
            [0xa4093822, 0x299f31d0],
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
        ),
    ];
    for (ctr, key, want) in cases {
        let p = RngU32Params {
            seed_lo: key[0],
            seed_hi: key[1],
            step: ctr[1],
            purpose: ctr[2],
            n_elements: 1,
            blocks: 1,
            mode: 0,
            first_element: ctr[0],
            first_block: ctr[3],
            _pad: [0; 3],
        };
        let got = run_rng_u32(&ctx, &p).expect("rng_u32 on GPU");
        assert_eq!(got, want, "counter {ctr:08x?} key {key:08x?}");
    }
}

#[test]
fn rng_u32_gpu_matches_cpu_bitwise_for_a_million_draws() {
    let Some(ctx) = common::gpu() else { return };
    let p = u32_params(4096, 64); // 4096 elements x 256 draws = 1,048,576 draws
    let gpu = run_rng_u32(&ctx, &p).expect("rng_u32 on GPU");
    let mut cpu = vec![0u32; p.output_len()];
    rng_u32(&p, &mut cpu);
    assert_eq!(gpu.len(), 1 << 20);
    let first_diff = gpu.iter().zip(&cpu).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "GPU and CPU streams differ");
    // Not a constant stream: about half the bits set.
    let ones: u64 = gpu.iter().map(|x| u64::from(x.count_ones())).sum();
    let frac = ones as f64 / (32.0 * gpu.len() as f64);
    assert!((frac - 0.5).abs() < 1e-3, "bit balance {frac}");
}

#[test]
fn draws_do_not_depend_on_dispatch_layout() {
    let Some(ctx) = common::gpu() else { return };
    // The same draws computed as one launch of 1000 elements, as two launches of 500 with an
    // element offset, and as two block ranges: all must agree.
    let whole = run_rng_u32(&ctx, &u32_params(1000, 4)).expect("gpu");
    let lo = run_rng_u32(&ctx, &u32_params(500, 4)).expect("gpu");
    let hi = run_rng_u32(
        &ctx,
        &RngU32Params {
            first_element: 500,
            ..u32_params(500, 4)
        },
    )
    .expect("gpu");
    assert_eq!(whole.len(), 1000 * 16);
    assert!(whole[..8000] == lo[..], "first half differs");
    assert!(whole[8000..] == hi[..], "second half differs");
    let tail = run_rng_u32(
        &ctx,
        &RngU32Params {
            first_block: 2,
            ..u32_params(1000, 2)
        },
    )
    .expect("gpu");
    for e in 0..1000 {
        assert!(
            whole[e * 16 + 8..e * 16 + 16] == tail[e * 8..e * 8 + 8],
            "element {e}"
        );
    }
}

fn sample_params(dist: Dist, n_elements: u32, draws: u32) -> RngSampleParams {
    RngSampleParams {
        seed_lo: SEED as u32,
        seed_hi: (SEED >> 32) as u32,
        step: 3,
        purpose: 2,
        n_elements,
        draws,
        dist: dist as u32,
        _pad: 0,
    }
}

fn both(dist: Dist, a: &[f32], n: &[u32], draws: u32) -> Option<(Vec<u32>, Vec<u32>)> {
    let ctx = common::gpu()?;
    let p = sample_params(dist, a.len() as u32, draws);
    let gpu = run_rng_sample(&ctx, &p, a, n).expect("rng_sample on GPU");
    let mut cpu = vec![0u32; gpu.len()];
    rng_sample(&p, a, n, &mut cpu);
    Some((gpu, cpu))
}

#[test]
fn uniforms_are_bit_identical_on_gpu_and_cpu() {
    let a = vec![0.0f32; 1024];
    let n = vec![0u32; 1024];
    let Some((gpu, cpu)) = both(Dist::Uniform, &a, &n, 64) else {
        return;
    };
    assert_eq!(gpu, cpu);
    let u: Vec<f32> = gpu.iter().map(|&b| f32::from_bits(b)).collect();
    assert!(u.iter().all(|&x| x > 0.0 && x <= 1.0));
}

#[test]
fn normals_are_bit_identical_on_gpu_and_cpu() {
    let a = vec![0.0f32; 1024];
    let n = vec![0u32; 1024];
    let Some((gpu, cpu)) = both(Dist::Normal, &a, &n, 64) else {
        return;
    };
    // Box-Muller uses shared/math.wgsl (basic IEEE operations only), so the bits agree unless
    // the device fuses multiply-adds; then the difference stays at the last few bits.
    let mut worst = 0.0f32;
    let mut differ = 0usize;
    for (g, c) in gpu.iter().zip(&cpu) {
        let (gf, cf) = (f32::from_bits(*g), f32::from_bits(*c));
        assert!(gf.is_finite());
        worst = worst.max((gf - cf).abs());
        differ += usize::from(g != c);
    }
    eprintln!(
        "normals: {differ} of {} differ in bits, largest |gpu - cpu| = {worst:e}",
        gpu.len()
    );
    assert!(worst <= 4e-6, "largest normal difference {worst}");
}

fn assert_counts_agree(name: &str, gpu: &[u32], cpu: &[u32]) {
    let differ = gpu.iter().zip(cpu).filter(|(g, c)| g != c).count();
    eprintln!(
        "{name}: {differ} of {} draws differ between GPU and CPU",
        gpu.len()
    );
    // Differences can only come from a transcendental rounded differently at an accept/reject
    // boundary: allow one in ten thousand.
    assert!(
        differ * 10_000 <= gpu.len(),
        "{name}: {differ} of {} differ",
        gpu.len()
    );
}

#[test]
fn poisson_draws_agree_on_gpu_and_cpu() {
    let lams = [0.1f32, 1.0, 4.5, 9.99, 10.0, 37.0, 1e3, 1e6];
    let a: Vec<f32> = (0..1024).map(|i| lams[i % lams.len()]).collect();
    let n = vec![0u32; a.len()];
    let Some((gpu, cpu)) = both(Dist::Poisson, &a, &n, 64) else {
        return;
    };
    assert_counts_agree("poisson", &gpu, &cpu);
}

#[test]
fn binomial_draws_agree_on_gpu_and_cpu() {
    let cases = [
        (10u32, 0.3f32),
        (1000, 0.005),
        (200, 0.5),
        (5000, 0.9),
        (100_000, 0.3),
        (10_000_000, 0.3),
        (10_000_000, 2e-7),
        (1 << 24, 0.5),
    ];
    let a: Vec<f32> = (0..1024).map(|i| cases[i % cases.len()].1).collect();
    let n: Vec<u32> = (0..1024).map(|i| cases[i % cases.len()].0).collect();
    let Some((gpu, cpu)) = both(Dist::Binomial, &a, &n, 64) else {
        return;
    };
    assert_counts_agree("binomial", &gpu, &cpu);
}

#[test]
fn elementary_functions_match_cpu() {
    use neuropop::gpu::probes::run_math_eval;
    use neuropop::kernels::math_eval::{math_eval, MathEvalParams, MathFn};
    let Some(ctx) = common::gpu() else { return };
    let n = 1 << 16;
    let cases: [(MathFn, f32, f32); 4] = [
        (MathFn::Exp, -87.0, 88.0),
        (MathFn::Log, 1e-7, 1e6),
        (MathFn::Sin, -3.1415925, 3.1415925),
        (MathFn::Cos, -3.1415925, 3.1415925),
    ];
    for (f, lo, hi) in cases {
        let x: Vec<f32> = (0..n)
            .map(|i| lo + (hi - lo) * (i as f32 / n as f32))
            .collect();
        let gpu = run_math_eval(&ctx, f, &x).expect("gpu");
        let mut cpu = vec![0f32; n];
        math_eval(
            &MathEvalParams {
                n: n as u32,
                func: f as u32,
                _pad: [0; 2],
            },
            &x,
            &mut cpu,
        );
        let differ = gpu
            .iter()
            .zip(&cpu)
            .filter(|(g, c)| g.to_bits() != c.to_bits())
            .count();
        let worst = gpu
            .iter()
            .zip(&cpu)
            .map(|(g, c)| ((g - c) / c.abs().max(1e-30)).abs())
            .fold(0f32, f32::max);
        eprintln!("{f:?}: {differ} of {n} differ in bits, worst relative difference {worst:e}");
        assert!(worst < 1e-6, "{f:?}: relative difference {worst}");
    }
}

/// Concurrent increments on the adapter lose nothing: 2^20 events over 1000 targets (about
/// 1000 per target, many threads hitting the same count at once), two runs, identical to the
/// CPU twin and summing to the number of events.
#[test]
fn scatter_add_gpu_matches_cpu() {
    use neuropop::bench::scatter_targets;
    use neuropop::gpu::probes::ScatterAdd;
    use neuropop::kernels::scatter_add::{scatter_add, ScatterParams};

    let Some(ctx) = common::gpu() else { return };
    let n = 1usize << 20;
    let n_targets = 1000u32;
    let targets = scatter_targets(n, n_targets);
    // Uneven per-thread ranges: the last thread takes a partial range.
    let params = ScatterParams::new(n as u32 - 5, 7);
    let s = ScatterAdd::new(&ctx, &targets, n_targets as usize).expect("upload");
    s.run(&ctx, &params).expect("run 1");
    s.run(&ctx, &params).expect("run 2");
    let gpu = s.counts(&ctx).expect("read");
    let mut cpu = vec![0u32; n_targets as usize];
    scatter_add(&params, &targets, &mut cpu);
    scatter_add(&params, &targets, &mut cpu);
    assert_eq!(
        gpu.iter().map(|&c| u64::from(c)).sum::<u64>(),
        2 * (n as u64 - 5)
    );
    assert_eq!(gpu, cpu);
    let (lo, hi) = (cpu.iter().min().copied(), cpu.iter().max().copied());
    assert!(lo > Some(1700) && hi < Some(2500), "counts {lo:?}..{hi:?}");
    // A target outside the counts is refused before anything runs.
    assert!(ScatterAdd::new(&ctx, &[0, 1000], 1000).is_err());
}

/// `kernel_buffers` sizes each buffer from the descriptor (uniform: its struct; arrays:
/// elements x element size, at least one) and refuses a length list that does not match the
/// bindings; `KernelRunner` refuses a binding index the kernel does not have.
#[test]
fn kernel_buffers_follow_the_descriptor() {
    use neuropop::gpu::KernelRunner;
    use neuropop::kernels::math_eval::DESC;

    let Some(ctx) = common::gpu() else { return };
    let b = ctx.kernel_buffers(&DESC, &[1, 10, 0]).expect("buffers");
    let sizes: Vec<u64> = b.iter().map(|x| x.size()).collect();
    assert_eq!(sizes, vec![16, 40, 4]);
    let err = ctx
        .kernel_buffers(&DESC, &[1, 10])
        .expect_err("two lengths for three bindings");
    assert!(err.to_string().contains("math_eval"), "{err}");
    let runner = KernelRunner::new(ctx.clone(), &DESC, &[], &[1, 4, 4]).expect("runner");
    assert!(runner.write(3, &[1.0f32]).is_err());
    assert!(runner.read::<f32>(3, 1).is_err());
    assert_eq!(runner.read::<f32>(2, 4).expect("read"), vec![0.0; 4]);
}
