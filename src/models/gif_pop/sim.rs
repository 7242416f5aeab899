//! Running a [`MesoNetwork`]: replicas in batches that fit the device, chunks of many steps
//! per dispatch, binned activity streamed after each chunk, window statistics after each
//! batch, spectra and plots at the end.

use super::engine::{bytes_per_replica, CpuEngine, MesoEngine};
use super::kernel::{MesoConfig, GROUPS, MAX_WIN};
use super::network::MesoNetwork;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::kernels::GPU_LOOP_BUDGET;
use crate::models::common::{record_activity_times, record_spectrum, record_sweep, record_windows};
use crate::output::plot::{Figure, LinePlot, Series};
use crate::output::{ArrayId, ArrayInfo, Data, Dtype, Recorder};
use crate::progress::Progress;
use crate::ranks::Wire;

/// Age-bin updates (replicas x populations x L x steps) per dispatch.
const WORK_PER_CHUNK: u64 = 1 << 27;
/// Largest recording buffer per chunk in bytes.
const REC_BYTES: u64 = 32 << 20;
/// Host memory for one CPU batch.
const CPU_BATCH_BYTES: u64 = 1 << 30;

/// What a run reports besides its recordings.
#[derive(Debug, Clone)]
pub struct MesoReport {
    /// Total replicas.
    pub replicas: u64,
    /// Steps.
    pub steps: u64,
    /// Facts for `meta.json`.
    pub meta: serde_json::Value,
}

/// Runs the network on `backend`, writing recordings to `rec`.
pub fn run(
    net: &MesoNetwork,
    backend: &Backend,
    rec: &mut dyn Recorder,
    progress: &Progress,
) -> Result<MesoReport> {
    let np = net.pops();
    let total = net.replicas();
    let per = bytes_per_replica(np, net.l_max as usize, net.d_len as usize);
    let rec_replicas = u64::from(net.record.replicas);
    match backend {
        Backend::Cpu => {
            let batch = (CPU_BATCH_BYTES / per).clamp(1, total);
            let (chunk, rec_len) = plan(net, batch, rec_replicas, None)?;
            let mut engine = CpuEngine::new(
                np,
                batch as usize,
                net.l_max as usize,
                net.d_len as usize,
                rec_len,
                rec_replicas.min(batch) as usize,
            );
            drive(net, &mut engine, batch, chunk, rec, progress)
        }
        #[cfg(feature = "gpu")]
        Backend::Gpu(ctx) => {
            let limits = ctx.limits();
            let max_binding = limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size);
            // The largest per-replica buffer is `hist`: l_max x NP x (m, v, u, lam).
            let hist_per_replica = net.l_max * np as u64 * 16;
            let mut batch = (max_binding / hist_per_replica).clamp(1, total);
            if ctx.info().device_type == "Cpu" {
                // A CPU adapter (lavapipe) runs one workgroup (replica) per core at a time:
                // larger batches only lengthen each dispatch.
                batch = batch.min(CPU_ADAPTER_BATCH.max(rec_replicas)).min(total);
            }
            if hist_per_replica > max_binding {
                return Err(Error::BufferTooLarge {
                    label: "gif_pop_step.hist".into(),
                    needed: hist_per_replica,
                    available: max_binding,
                    limit: "max_storage_buffer_binding_size",
                });
            }
            let wg = super::engine::workgroup(ctx);
            let (chunk, rec_len) = plan(net, batch, rec_replicas, Some(wg))?;
            let rows = if net.per_combo {
                batch.div_ceil(u64::from(net.replicas_per_combo)) + 1
            } else {
                1
            };
            let rows = rows.min(net.combinations()) as usize;
            let sizes = super::engine::GpuSizes {
                np,
                replicas: batch as usize,
                l_max: net.l_max as usize,
                d_len: net.d_len as usize,
                coef: rows * np,
                proj: rows * net.projections.len(),
                stim: if net.stimuli.is_empty() {
                    1
                } else {
                    chunk as usize * np
                },
                rec: rec_len,
            };
            let mut engine = super::engine::GpuEngine::new(ctx.clone(), sizes)?;
            drive(net, &mut engine, batch, chunk, rec, progress)
        }
    }
}

/// Replicas per dispatch on CPU adapters.
#[cfg(feature = "gpu")]
const CPU_ADAPTER_BATCH: u64 = 32;

/// Loop iterations of one population-step besides the age walk, as an upper bound: the
/// projection and adaptation loops, and the sampler's loops (Philox rounds and the
/// inversion or rejection loop).
const LOOPS_PER_POP_STEP: u64 = 160;

/// Steps per chunk and recording buffer length for batches of `batch` replicas; on the GPU
/// (`gpu_wg`: its workgroup size) a chunk also keeps every invocation within
/// [`GPU_LOOP_BUDGET`] loop iterations.
fn plan(
    net: &MesoNetwork,
    batch: u64,
    rec_replicas: u64,
    gpu_wg: Option<u32>,
) -> Result<(u64, usize)> {
    let np = net.pops() as u64;
    let rec_replicas = rec_replicas.min(batch);
    if u64::from(net.record.replicas) > batch {
        return Err(Error::InvalidArgument(format!(
            "activity of {} replicas does not fit one batch of {batch} replicas: record fewer",
            net.record.replicas
        )));
    }
    let mut chunk = (WORK_PER_CHUNK / (batch * np * net.l_max)).clamp(1, net.steps.max(1));
    if let Some(wg) = gpu_wg {
        // Each invocation walks GROUPS / wg chunks of ceil(L / GROUPS) ages per step (and once
        // more at the first step for the threshold totals), and sums up to GROUPS chunk
        // values twice.
        let groups = GROUPS as u64;
        let ages = net.l_max.div_ceil(groups) * (groups / u64::from(wg.max(1)));
        let init = np * (net.l_max + net.d_len + ages + 8);
        let per_step = np * (ages + 2 * groups + net.projections.len() as u64 + LOOPS_PER_POP_STEP);
        let steps = GPU_LOOP_BUDGET.saturating_sub(init) / per_step;
        if steps == 0 {
            return Err(Error::InvalidArgument(format!(
                "a history of {} steps x {np} populations is too long for one GPU dispatch on this driver \
                 (loop limit {GPU_LOOP_BUDGET}); use a larger dt, a shorter len_kernel, or --backend cpu",
                net.l_max
            )));
        }
        chunk = chunk.min(steps);
    }
    if rec_replicas > 0 {
        let row_bytes = rec_replicas * np * 2 * 4;
        let rows = (REC_BYTES / row_bytes).max(2);
        chunk = chunk.min((rows - 1) * net.record.bin_steps).max(1);
    }
    let rows = chunk / net.record.bin_steps + 1;
    Ok((chunk, (rows * rec_replicas * np * 2) as usize))
}

struct ActivityOut {
    an: ArrayId,
    abar: ArrayId,
    /// A_N (Hz) of the recorded replicas, per replica, kept for spectra and plots.
    kept: Vec<Vec<f64>>,
    kept_bar: Vec<f64>,
}

fn drive(
    net: &MesoNetwork,
    engine: &mut dyn MesoEngine,
    batch: u64,
    chunk: u64,
    rec: &mut dyn Recorder,
    progress: &Progress,
) -> Result<MesoReport> {
    let np = net.pops();
    let total = net.replicas();
    let rpc = u64::from(net.replicas_per_combo);
    let bs = net.record.bin_steps;
    let bin_ms = bs as f64 * net.dt;
    let bins = net.bins();
    let k_rec = u64::from(net.record.replicas);
    let wins = &net.record.windows;

    record_sweep(rec, &net.grid, rpc)?;
    record_windows(rec, wins, bin_ms)?;
    let mut acts = Vec::new();
    if k_rec > 0 {
        record_activity_times(rec, bins, bin_ms)?;
        for name in &net.names {
            let an = rec.array(ArrayInfo::new(
                format!("activity_{name}"),
                vec![bins, k_rec],
                Dtype::F32,
                format!("population activity A_N = n / (N bin) of {name} in Hz, bins of {bin_ms} ms, shape [bin, replica] for replicas 0..{k_rec}"),
            ))?;
            let abar = rec.array(ArrayInfo::new(
                format!("abar_{name}"),
                vec![bins, k_rec],
                Dtype::F32,
                format!("expected activity Abar = nbar / (N h) of {name} averaged over each bin, Hz, shape [bin, replica]"),
            ))?;
            acts.push(ActivityOut {
                an,
                abar,
                kept: vec![Vec::with_capacity(bins as usize); k_rec as usize],
                kept_bar: Vec::new(),
            });
        }
    }
    let mut summ = Vec::new();
    for name in &net.names {
        let mean = rec.array(ArrayInfo::new(
            format!("summary_{name}_mean"),
            vec![net.combinations(), rpc, wins.len() as u64],
            Dtype::F64,
            format!("mean of A_N of {name} in each window, Hz, shape [combination, replica copy, window]"),
        ))?;
        let var = rec.array(ArrayInfo::new(
            format!("summary_{name}_var"),
            vec![net.combinations(), rpc, wins.len() as u64],
            Dtype::F64,
            format!("variance of A_N of {name} over the {bin_ms} ms bins of each window, Hz^2, shape [combination, replica copy, window]"),
        ))?;
        summ.push((mean, var));
    }

    let seed = crate::rng::seed_key(net.seed);
    let mut win_lo = [0u32; 4];
    let mut win_hi = [0u32; 4];
    for (i, w) in wins.iter().enumerate() {
        win_lo[i] = w.lo as u32;
        win_hi[i] = w.hi as u32;
    }
    // With MPI ranks each takes a contiguous share of the replicas (rank 0 the first, with
    // every recorded one); rank 0 writes the others' window statistics after its own, in
    // rank order, so the files are a single process's.
    let (rank, ranks) = (crate::ranks::rank(), crate::ranks::size());
    let (r_lo, r_hi) = crate::ranks::share(total, k_rec, rank, ranks);
    // Other ranks: each population's means, then its variances, in replica order.
    let mut sent: Vec<Vec<u8>> = vec![Vec::new(); 2 * np];
    let mut mine = || -> Result<()> {
        let mut b0 = r_lo;
        while b0 < r_hi {
            let nb = batch.min(r_hi - b0);
            let (c0, c1) = (b0 / rpc, (b0 + nb - 1) / rpc + 1);
            let (coef, tk, tt, proj) = net.tables(c0, c1);
            let theta: Vec<[f32; 2]> = tk.iter().zip(&tt).map(|(a, b)| [*a, *b]).collect();
            engine.load(&coef, &theta, &proj)?;
            let rec_here = if b0 == 0 { k_rec.min(nb) } else { 0 };
            let mut k = 0u64;
            while k < net.steps {
                let n = chunk.min(net.steps - k);
                let bin0 = k / bs;
                let rows = (k + n) / bs - bin0;
                let cfg = MesoConfig {
                    n_replicas: nb as u32,
                    replicas_per_combo: rpc as u32,
                    replica0: b0 as u32,
                    combo0: c0 as u32,
                    step0: k as u32,
                    n_steps: n as u32,
                    seed_lo: seed[0],
                    seed_hi: seed[1],
                    l_max: net.l_max as u32,
                    d_len: net.d_len as u32,
                    n_proj: net.projections.len() as u32,
                    per_combo: u32::from(net.per_combo),
                    bin_steps: bs as u32,
                    rec_replicas: rec_here as u32,
                    rec_bin0: bin0 as u32,
                    n_win: wins.len() as u32,
                    win_lo,
                    win_hi,
                    has_stim: u32::from(!net.stimuli.is_empty()),
                    zero: 0,
                    _pad: [0; 2],
                };
                engine.step(&cfg, &net.stimuli.table(k, n))?;
                if rec_here > 0 && rows > 0 {
                    let data = engine.rec((rows * rec_here * np as u64 * 2) as usize)?;
                    for (p, out) in acts.iter_mut().enumerate() {
                        let scale = 1000.0 / (net.sizes[p] as f64 * bin_ms);
                        let bar_scale = 1000.0 / (net.sizes[p] as f64 * bin_ms);
                        let mut an = Vec::with_capacity((rows * rec_here) as usize);
                        let mut abar = Vec::with_capacity((rows * rec_here) as usize);
                        for row in 0..rows {
                            for r in 0..rec_here {
                                let i =
                                    (((row * rec_here + r) * np as u64 + p as u64) * 2) as usize;
                                let a = f64::from(data[i]) * scale;
                                an.push(a as f32);
                                abar.push((f64::from(data[i + 1]) * bar_scale) as f32);
                                out.kept[r as usize].push(a);
                                if r == 0 {
                                    out.kept_bar.push(f64::from(data[i + 1]) * bar_scale);
                                }
                            }
                        }
                        rec.write(out.an, Data::F32(&an))?;
                        rec.write(out.abar, Data::F32(&abar))?;
                    }
                }
                progress.inc(n * nb)?;
                k += n;
            }
            let ws = engine.wsum(nb as usize)?;
            for (p, (mean_id, var_id)) in summ.iter().enumerate() {
                let nn = net.sizes[p] as f64;
                let mut means = Vec::with_capacity(nb as usize * wins.len());
                let mut vars = Vec::with_capacity(nb as usize * wins.len());
                for r in 0..nb as usize {
                    for (w, win) in wins.iter().enumerate() {
                        let e = ws[(r * np + p) * MAX_WIN + w];
                        let s = f64::from(e[0]) + f64::from(e[1]) * 4_294_967_296.0;
                        let q = f64::from(e[2]) + f64::from(e[3]) * 4_294_967_296.0;
                        let nbins = (win.hi - win.lo) as f64;
                        let scale = 1000.0 / (nn * bin_ms);
                        let m = s / nbins;
                        means.push(m * scale);
                        vars.push(
                            ((q / nbins - m * m) * nbins / (nbins - 1.0).max(1.0)) * scale * scale,
                        );
                    }
                }
                if rank == 0 {
                    rec.write(*mean_id, Data::F64(&means))?;
                    rec.write(*var_id, Data::F64(&vars))?;
                } else {
                    f64::put(&means, &mut sent[2 * p]);
                    f64::put(&vars, &mut sent[2 * p + 1]);
                }
            }
            b0 += nb;
        }
        Ok(())
    };
    crate::ranks::agree(mine())?;
    if ranks > 1 {
        let all = crate::ranks::gather_bytes(&sent.concat());
        for (k, bytes) in all.iter().enumerate().skip(1) {
            let (klo, khi) = crate::ranks::share(total, k_rec, k, ranks);
            let len = 8 * (khi - klo) as usize * wins.len();
            let mut at = 0usize;
            for (mean_id, var_id) in &summ {
                for id in [mean_id, var_id] {
                    let v = f64::take(bytes.get(at..at + len).unwrap_or_default());
                    at += len;
                    rec.write(*id, Data::F64(&v))?;
                }
            }
            progress.inc((khi - klo) * net.steps)?;
        }
    }
    for out in &acts {
        rec.close(out.an)?;
        rec.close(out.abar)?;
    }
    for (m, v) in &summ {
        rec.close(*m)?;
        rec.close(*v)?;
    }
    let mut spectra = Vec::new();
    // Mean spectrum over the recorded replicas, from the first window's start.
    let from = wins.first().map_or(0, |w| w.lo as usize);
    for (p, out) in acts.iter().enumerate() {
        if let Some((f, pw)) = record_spectrum(rec, &net.names[p], &out.kept, from, bin_ms)? {
            spectra.push((p, f, pw));
        }
    }
    if net.record.plots {
        if let Some(dir) = rec.plot_dir() {
            if !acts.is_empty() {
                // As the NEST example draws them: A_N (spike counts) and Abar (expected
                // activity) of every population, replica 0, in two figures.
                let t: Vec<f64> = (0..bins).map(|b| b as f64 * bin_ms).collect();
                let figures: [(&str, &str, &str); 2] = [
                    ("activity.png", "A_N", "population activity A_N"),
                    ("abar.png", "Abar", "expected activity Abar"),
                ];
                for (file, short, what) in figures {
                    let series = acts
                        .iter()
                        .enumerate()
                        .map(|(p, out)| {
                            let ys: &[f64] = if short == "A_N" {
                                &out.kept[0]
                            } else {
                                &out.kept_bar
                            };
                            let mut s = Series::new(
                                net.names[p].clone(),
                                t.iter().copied().zip(ys.iter().copied()).collect(),
                                p,
                            );
                            s.width = 1;
                            s
                        })
                        .collect();
                    LinePlot {
                        title: format!("{what}, replica 0 (bins of {bin_ms} ms)"),
                        x_label: "t (ms)".into(),
                        y_label: format!("{short} (Hz)"),
                        series,
                        ..Default::default()
                    }
                    .write_to(
                        rec,
                        &dir,
                        file,
                        &format!("{what} of every population against time, replica 0"),
                    )?;
                }
            }
            if !spectra.is_empty() {
                let series = spectra
                    .iter()
                    .map(|(p, f, pw)| {
                        Series::new(
                            net.names[*p].clone(),
                            f.iter().zip(pw).skip(1).map(|(a, b)| (*a, *b)).collect(),
                            *p,
                        )
                    })
                    .collect();
                LinePlot {
                    title: "power spectrum of A_N (mean over recorded replicas)".into(),
                    x_label: "f (Hz)".into(),
                    y_label: "PSD (Hz^2/Hz)".into(),
                    series,
                    log_y: true,
                    ..Default::default()
                }
                .write_to(
                    rec,
                    &dir,
                    "spectrum.png",
                    "power spectral density of A_N per population",
                )?;
            }
        }
    }
    Ok(MesoReport {
        replicas: total,
        steps: net.steps,
        meta: meta(net),
    })
}

fn meta(net: &MesoNetwork) -> serde_json::Value {
    let (params, proj) = net.combo(0);
    serde_json::json!({
        "model": "gif_pop_psc_exp",
        "populations": net.names,
        "sizes": net.sizes,
        "params_of_combination_0": params,
        "projections_of_combination_0": proj.iter().map(|p| serde_json::json!({"source": net.names[p.src as usize], "target": net.names[p.tgt as usize], "delay_steps": p.delay, "weight_pA_per_spike": p.weight})).collect::<Vec<_>>(),
        "history_length_steps": params.iter().map(|p| p.history_length(net.dt, 0)).collect::<Vec<_>>(),
        "conventions": {
            "update": "docs/models.md, section 6 (Schwalger, Deger & Gerstner 2017, Figs. 11-12), as NEST's gif_pop_psc_exp",
            "oldest_cohort": "theta_hat -= n[k0] theta_tilde[0] with k0 the rotating oldest slot (the paper); NEST 3.10 uses n[0]",
            "initial_state": "all N neurons fired at t = 0 (newest slot), V = u = 0 as NEST",
            "stimulus": "the step current of step k acts from step k + 1 on, as NEST's y0",
            "hazard_clamp": "(V - theta)/Delta_V is clamped at 60 (spike probability already 1)",
            "random_numbers": "spike count of population p at step k: Binomial(N, nbar/N) from the Philox stream (seed; replica, k, 2 + 256 p)",
            "precision": "f32 on both paths",
        },
    })
}
