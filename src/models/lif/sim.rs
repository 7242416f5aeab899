//! Running a [`LifNetwork`]: neurons in batches that fit the device, time in chunks of many
//! steps per dispatch, spike times and V traces of the first neurons collected after each
//! chunk, counts per window at the end of each batch, rates and Fano factors per sweep
//! combination, plots at the end.

use super::engine::{CpuEngine, LifEngine};
use super::kernel::LifConfig;
use super::network::LifNetwork;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::kernels::GPU_LOOP_BUDGET;
use crate::models::common::record_sweep;
use crate::output::plot::{Figure, LinePlot, Series};
use crate::output::{ArrayInfo, Data, Dtype, Recorder};
use crate::progress::Progress;
use crate::ranks::Wire;

/// Neuron steps per dispatch.
const WORK_PER_CHUNK: u64 = 1 << 26;
/// Neurons per batch on the CPU path.
const CPU_BATCH: u64 = 1 << 24;
/// Largest trace buffer per chunk in bytes.
const TRACE_BYTES: u64 = 64 << 20;
/// Largest spike buffer per chunk in bytes.
const SPIKE_BYTES: u64 = 64 << 20;
/// Lines per trace plot.
const PLOT_LINES: usize = 10;

/// What a run reports besides its recordings.
#[derive(Debug, Clone)]
pub struct LifReport {
    /// Total neurons.
    pub neurons: u64,
    /// Steps.
    pub steps: u64,
    /// Rate (Hz) per combination and window, `[c * windows + w]`.
    pub rates: Vec<f64>,
    /// Fano factor of the counts per combination and window.
    pub fano: Vec<f64>,
    /// Mean pairwise Pearson correlation of the counts within groups, per combination and
    /// window (empty unless the run has correlated input or an explicit `group`).
    pub corr: Vec<f64>,
    /// Output correlation predicted by the moment activation (chi^2 rho) per combination
    /// (NaN where the moment activation does not apply: OU input, step currents, no noise).
    pub corr_predicted: Vec<f64>,
    /// Facts for `meta.json`.
    pub meta: serde_json::Value,
}

/// Runs the population on `backend`, writing recordings to `rec`.
pub fn run(
    net: &LifNetwork,
    backend: &Backend,
    rec: &mut dyn Recorder,
    progress: &Progress,
) -> Result<LifReport> {
    let total = net.neurons();
    let sp = net.specialization();
    match backend {
        Backend::Cpu => {
            let batch = CPU_BATCH.min(total).max(1);
            let (chunk, n_rec, cap, trace_len) = plan(net, batch, false)?;
            let mut engine = CpuEngine::new(sp, batch as usize, n_rec, n_rec * cap * 2, trace_len);
            drive(net, &mut engine, batch, chunk, cap, rec, progress)
        }
        #[cfg(feature = "gpu")]
        Backend::Gpu(ctx) => {
            let max_binding = ctx
                .limits()
                .max_storage_buffer_binding_size
                .min(ctx.limits().max_buffer_size);
            let per = (16u64).max(4 * u64::from(sp.windows));
            let batch = (max_binding / per).min(total).max(1);
            let (chunk, n_rec, cap, trace_len) = plan(net, batch, true)?;
            let combos = (batch.div_ceil(net.per_combo()) + 1).min(net.combinations());
            let stim_len = if net.stimuli.is_empty() { 1 } else { chunk };
            let mut engine = super::engine::GpuEngine::new(
                ctx.clone(),
                &sp,
                batch as usize,
                combos as usize,
                stim_len as usize,
                n_rec,
                n_rec * cap * 2,
                trace_len,
            )?;
            drive(net, &mut engine, batch, chunk, cap, rec, progress)
        }
    }
}

/// Steps per chunk, recorded neurons, spike slots per recorded neuron and trace length.
fn plan(net: &LifNetwork, batch: u64, gpu: bool) -> Result<(u64, usize, usize, usize)> {
    let r = &net.record;
    let n_rec = u64::from(r.spikes);
    let n_tr = u64::from(r.trace_neurons);
    if n_rec.max(n_tr) > batch {
        return Err(Error::InvalidArgument(format!(
            "records of {} neurons do not fit one batch of {batch} neurons on this device: record fewer",
            n_rec.max(n_tr)
        )));
    }
    let mut chunk = (WORK_PER_CHUNK / batch).clamp(1, net.steps.max(1));
    if n_rec > 0 {
        chunk = chunk.min((SPIKE_BYTES / (8 * n_rec)).max(1));
    }
    let every = u64::from(r.trace_every);
    if n_tr > 0 {
        let rows = (TRACE_BYTES / (4 * n_tr)).max(3);
        chunk = chunk.min((rows - 2) * every).max(1);
    }
    if gpu {
        // Per step, if no loop were unrolled: the step loop, Philox's 9 rounds, the window
        // loop; plus the start-up and final loops over the windows.
        let sp = net.specialization();
        let nw = u64::from(sp.windows);
        let per_step =
            2 + nw + if sp.noise || sp.ou { 10 } else { 0 } + if sp.corr { 10 } else { 0 };
        chunk = chunk.min(((GPU_LOOP_BUDGET - 4 * nw - 20) / per_step).max(1));
    }
    let rows = if n_tr > 0 { chunk / every + 2 } else { 0 };
    Ok((
        chunk,
        n_rec as usize,
        if n_rec > 0 { chunk as usize } else { 0 },
        (rows * n_tr) as usize,
    ))
}

fn drive(
    net: &LifNetwork,
    engine: &mut dyn LifEngine,
    batch: u64,
    chunk: u64,
    cap: usize,
    rec: &mut dyn Recorder,
    progress: &Progress,
) -> Result<LifReport> {
    let total = net.neurons();
    let steps = net.steps;
    let per_combo = net.per_combo();
    let nw = net.record.windows.len();
    let n_rec = net.record.spikes as u64;
    let n_tr = u64::from(net.record.trace_neurons);
    let every = u64::from(net.record.trace_every);
    let sp = net.specialization();
    let pop = &net.name;

    record_sweep(rec, &net.grid, per_combo)?;
    let trace_id = if n_tr > 0 {
        let samples = steps / every + 1;
        let times: Vec<f64> = (0..samples).map(|s| (s * every) as f64 * net.dt).collect();
        rec.whole(
            ArrayInfo::new(
                format!("trace_{pop}_V_m_t"),
                vec![samples],
                Dtype::F64,
                format!("time of each row of trace_{pop}_V_m.npy, ms"),
            ),
            Data::F64(&times),
        )?;
        Some(rec.array(ArrayInfo::new(
            format!("trace_{pop}_V_m"),
            vec![samples, n_tr],
            Dtype::F32,
            format!("V_m (mV) of neurons 0..{n_tr} every {every} step(s) from t = 0, shape [time, neuron]"),
        ))?)
    } else {
        None
    };
    let counts_id = if net.record.counts {
        Some(rec.array(ArrayInfo::new(
            format!("counts_{pop}"),
            vec![total, nw as u64],
            Dtype::U32,
            "spike count of every neuron in each window, shape [neuron, window]; neuron i belongs to sweep combination i / (size x replicas)".to_string(),
        ))?)
    } else {
        None
    };

    // Per combination and window: sum of counts and of squared counts.
    let combos = net.combinations() as usize;
    let mut s1 = vec![0f64; combos * nw];
    let mut s2 = vec![0f64; combos * nw];
    // Within-group statistics: per combination and window the sum over groups of (group sum)^2
    // and of n_g x group sum; per combination the sums of n_g^2 and of n_g (n_g - 1).
    let want_corr = net.wants_correlation();
    let mut ga = vec![0f64; combos * nw];
    let mut gc = vec![0f64; combos * nw];
    let mut gd = vec![0f64; combos];
    let mut gp = vec![0f64; combos];
    let mut gsum = vec![0f64; nw];
    let (mut gkey, mut gn) = (u64::MAX, 0u64);
    let ngroups = net.groups_per_replica();
    let mut flush = |key: u64, n: u64, sums: &mut [f64]| {
        if n == 0 {
            return;
        }
        let c = ((key / ngroups) / u64::from(net.replicas_per_combo)) as usize;
        let nf = n as f64;
        for w in 0..nw {
            ga[c * nw + w] += sums[w] * sums[w];
            gc[c * nw + w] += nf * sums[w];
            sums[w] = 0.0;
        }
        gd[c] += nf * nf;
        gp[c] += nf * (nf - 1.0);
    };
    let mut spikes: Vec<(f64, u32)> = Vec::new();
    let mut trace_plot: Vec<Vec<(f64, f64)>> = vec![Vec::new(); (n_tr as usize).min(PLOT_LINES)];
    let mut wav: Vec<Vec<f32>> = if net.record.wav {
        vec![Vec::new(); n_tr as usize]
    } else {
        Vec::new()
    };
    let windows = net.window_words();
    let seed = crate::rng::seed_key(net.seed);
    // Spike counts of neurons gi0.. (nw per neuron) into the sums, in neuron order.
    let mut absorb = |gi0: u64, counts: &[u32], rec: &mut dyn Recorder| -> Result<()> {
        for (i, c) in counts.chunks_exact(nw.max(1)).enumerate() {
            let gi = gi0 + i as u64;
            let combo = (gi / per_combo) as usize;
            for (w, &x) in c.iter().enumerate().take(nw) {
                let x = f64::from(x);
                s1[combo * nw + w] += x;
                s2[combo * nw + w] += x * x;
            }
            if want_corr {
                let key = (gi / net.size) * ngroups + (gi % net.size) / net.group;
                if key != gkey {
                    flush(gkey, gn, &mut gsum);
                    gkey = key;
                    gn = 0;
                }
                gn += 1;
                for (w, &x) in c.iter().enumerate().take(nw) {
                    gsum[w] += f64::from(x);
                }
            }
        }
        if let Some(id) = counts_id {
            rec.write(id, Data::U32(counts))?;
        }
        Ok(())
    };
    // With MPI ranks each takes a contiguous share of the neurons (rank 0 the first, with
    // every recorded one); rank 0 absorbs the others' counts after its own, in rank order,
    // so every sum runs in a single process's order.
    let (rank, ranks) = (crate::ranks::rank(), crate::ranks::size());
    let (n_lo, n_hi) = crate::ranks::share(total, n_rec.max(n_tr), rank, ranks);
    let mut sent: Vec<u8> = Vec::new();
    let mut mine = || -> Result<()> {
        let mut b0 = n_lo;
        while b0 < n_hi {
            let nb = batch.min(n_hi - b0);
            let (c0, c1) = (b0 / per_combo, (b0 + nb - 1) / per_combo + 1);
            engine.load(&net.tables(c0, c1), &windows)?;
            let (rec_s, rec_t) = if b0 == 0 { (n_rec, n_tr) } else { (0, 0) };
            let mut k = 0u64;
            while k < steps {
                let n = chunk.min(steps - k);
                let t0 = if k == 0 { 0 } else { k / every + 1 };
                let t1 = (k + n) / every;
                let cfg = LifConfig {
                    n_threads: nb as u32,
                    neuron0: b0 as u32,
                    per_combo: per_combo as u32,
                    combo0: c0 as u32,
                    step0: k as u32,
                    n_steps: n as u32,
                    seed_lo: seed[0],
                    seed_hi: seed[1],
                    rec_spikes: rec_s as u32,
                    spike_cap: cap as u32,
                    rec_trace: rec_t as u32,
                    trace_every: every as u32,
                    trace_sample0: t0 as u32,
                    zero: 0,
                    dt: net.dt as f32,
                    pop_size: net.size as u32,
                    group: net.group as u32,
                    n_groups: net.groups_per_replica() as u32,
                    pad0: 0,
                    pad1: 0,
                };
                engine.step(&cfg, &net.stimuli.table(k, n))?;
                engine.sync()?;
                let rows = if rec_t > 0 && t1 + 1 > t0 {
                    t1 + 1 - t0
                } else {
                    0
                };
                if rec_s > 0 || rows > 0 {
                    let (sn, sw, tr) =
                        engine.records(rec_s as usize, cap, (rows * rec_t) as usize)?;
                    let first = spikes.len();
                    for (i, &m) in sn.iter().enumerate() {
                        for j in 0..m as usize {
                            let w = (i * cap + j) * 2;
                            let t =
                                f64::from(sw[w]) * net.dt + f64::from(f32::from_bits(sw[w + 1]));
                            spikes.push((t, i as u32));
                        }
                    }
                    spikes[first..].sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    if let Some(id) = trace_id {
                        rec.write(id, Data::F32(&tr))?;
                        for (l, line) in wav.iter_mut().enumerate() {
                            line.extend((0..rows).map(|row| tr[(row * rec_t) as usize + l]));
                        }
                        for row in 0..rows {
                            let tk = (t0 + row) * every;
                            for (l, line) in trace_plot.iter_mut().enumerate() {
                                line.push((
                                    tk as f64 * net.dt,
                                    f64::from(tr[(row * rec_t) as usize + l]),
                                ));
                            }
                        }
                    }
                }
                progress.inc(n * nb)?;
                k += n;
            }
            let (_, counts) = engine.results(nb as usize, nw)?;
            if rank == 0 {
                absorb(b0, &counts[..nb as usize * nw], rec)?;
            } else {
                u32::put(&counts[..nb as usize * nw], &mut sent);
            }
            b0 += nb;
        }
        Ok(())
    };
    crate::ranks::agree(mine())?;
    if ranks > 1 {
        let all = crate::ranks::gather_bytes(&sent);
        for (k, bytes) in all.iter().enumerate().skip(1) {
            let (klo, khi) = crate::ranks::share(total, n_rec.max(n_tr), k, ranks);
            let counts = u32::take(bytes);
            absorb(klo, &counts, rec)?;
            progress.inc((khi - klo) * steps)?;
        }
    }
    if want_corr {
        flush(gkey, gn, &mut gsum);
    }
    if let Some(id) = trace_id {
        rec.close(id)?;
    }
    if let Some(id) = counts_id {
        rec.close(id)?;
    }
    let nn = per_combo as f64;
    let mut rates = vec![0f64; combos * nw];
    let mut fano = vec![f64::NAN; combos * nw];
    for c in 0..combos {
        for (w, &(_, _, ta, tb)) in net.record.windows.iter().enumerate() {
            let i = c * nw + w;
            let mean = s1[i] / nn;
            rates[i] = mean / (tb - ta) * 1000.0;
            if mean > 0.0 && per_combo > 1 {
                let var = (s2[i] - s1[i] * mean) / (nn - 1.0);
                fano[i] = var / mean;
            }
        }
    }
    rec.whole(
        ArrayInfo::new(
            format!("rate_{pop}"),
            vec![combos as u64, nw as u64],
            Dtype::F64,
            "mean firing rate (Hz) over the neurons of each sweep combination in each window, shape [combination, window]".to_string(),
        ),
        Data::F64(&rates),
    )?;
    rec.whole(
        ArrayInfo::new(
            format!("fano_{pop}"),
            vec![combos as u64, nw as u64],
            Dtype::F64,
            "Fano factor (variance / mean across neurons) of the spike counts of each combination in each window, NaN without spikes, shape [combination, window]".to_string(),
        ),
        Data::F64(&fano),
    )?;
    let (mut corr, mut corr_predicted) = (Vec::new(), Vec::new());
    if want_corr {
        corr = vec![f64::NAN; combos * nw];
        for c in 0..combos {
            for w in 0..nw {
                let i = c * nw + w;
                let m = s1[i] / nn;
                let q = s2[i] - s1[i] * m;
                let pairs = ga[i] - 2.0 * m * gc[i] + m * m * gd[c] - q;
                if gp[c] > 0.0 && q > 0.0 {
                    corr[i] = (pairs / gp[c]) / (q / nn);
                }
            }
        }
        corr_predicted = (0..combos as u64)
            .map(|c| net.predicted_correlation(&net.combo(c)))
            .collect();
        rec.whole(
            ArrayInfo::new(
                format!("corr_{pop}"),
                vec![combos as u64, nw as u64],
                Dtype::F64,
                format!("mean Pearson correlation of the spike counts over pairs of neurons in the same group ({} neurons), pooled over the groups and replicas of each sweep combination (combination mean), NaN without pairs or variance, shape [combination, window]", net.group),
            ),
            Data::F64(&corr),
        )?;
        rec.whole(
            ArrayInfo::new(
                format!("corr_{pop}_predicted"),
                vec![combos as u64],
                Dtype::F64,
                "output correlation chi^2 rho predicted by the moment activation (docs/models.md, section 3, f64 reference) for each sweep combination; NaN with OU input, step currents or without white noise".to_string(),
            ),
            Data::F64(&corr_predicted),
        )?;
    }
    let win: Vec<f64> = net
        .record
        .windows
        .iter()
        .flat_map(|&(_, _, a, b)| [a, b])
        .collect();
    rec.whole(
        ArrayInfo::new(
            "windows",
            vec![nw as u64, 2],
            Dtype::F64,
            "count windows [start, end) in ms (a spike counts when its time lies in (start, end], on the step grid)".to_string(),
        ),
        Data::F64(&win),
    )?;
    if n_rec > 0 {
        let t: Vec<f64> = spikes.iter().map(|s| s.0).collect();
        let i: Vec<u32> = spikes.iter().map(|s| s.1).collect();
        rec.whole(
            ArrayInfo::new(
                format!("spikes_{pop}_t"),
                vec![t.len() as u64],
                Dtype::F64,
                format!("spike times (ms) of neurons 0..{n_rec}, sorted by time"),
            ),
            Data::F64(&t),
        )?;
        rec.whole(
            ArrayInfo::new(
                format!("spikes_{pop}_neuron"),
                vec![i.len() as u64],
                Dtype::U32,
                format!("neuron index of each entry of spikes_{pop}_t.npy"),
            ),
            Data::U32(&i),
        )?;
    }
    if net.record.plots {
        plots(net, &spikes, &trace_plot, &rates, rec)?;
    }
    if !wav.is_empty() {
        if let Some(dir) = rec.file_dir() {
            let rate = (1000.0 / (every as f64 * net.dt))
                .round()
                .clamp(1.0, f64::from(u32::MAX)) as u32;
            for (i, v) in wav.iter().enumerate() {
                let name = format!("trace_{pop}_V_m_{i}.wav");
                crate::output::wav::write_wav_i16(
                    &dir.join(&name),
                    rate,
                    &crate::output::wav::scale_to_i16(v),
                )?;
                rec.plot_written(&name, &format!("V_m of neuron {i} as 16-bit PCM mono, {rate} Hz (1 / (every dt)), min..max mapped to -32767..32767"));
            }
        }
    }
    Ok(LifReport {
        neurons: total,
        steps,
        rates,
        fano,
        corr,
        corr_predicted,
        meta: meta(net, sp.precise),
    })
}

fn plots(
    net: &LifNetwork,
    spikes: &[(f64, u32)],
    trace: &[Vec<(f64, f64)>],
    rates: &[f64],
    rec: &mut dyn Recorder,
) -> Result<()> {
    let Some(dir) = rec.plot_dir() else {
        return Ok(());
    };
    let pop = &net.name;
    if !spikes.is_empty() {
        let pts = spikes.iter().map(|s| (s.0, f64::from(s.1))).collect();
        let mut s = Series::new(pop.clone(), pts, 0);
        s.dots = true;
        LinePlot {
            title: format!("spike raster, neurons 0..{} of {pop}", net.record.spikes),
            x_label: "t (ms)".into(),
            y_label: "neuron".into(),
            series: vec![s],
            ..Default::default()
        }
        .write_to(
            rec,
            &dir,
            "raster.png",
            "spike times of the recorded neurons",
        )?;
    }
    if trace.iter().any(|l| !l.is_empty()) {
        let series = trace
            .iter()
            .enumerate()
            .map(|(i, l)| Series::new(format!("neuron {i}"), l.clone(), i))
            .collect();
        LinePlot {
            title: format!("V_m of {pop}"),
            x_label: "t (ms)".into(),
            y_label: "V_m (mV)".into(),
            series,
            hline: Some(net.base.v_th),
            ..Default::default()
        }
        .write_to(
            rec,
            &dir,
            &format!("trace_{pop}_V_m.png"),
            "membrane potential of the first recorded neurons against time",
        )?;
    }
    if net.grid.axes.len() == 1 {
        let axis = &net.grid.axes[0];
        let nw = net.record.windows.len();
        let series = (0..nw)
            .map(|w| {
                let (_, _, a, b) = net.record.windows[w];
                Series::new(
                    format!("window [{a}, {b}) ms"),
                    axis.values
                        .iter()
                        .enumerate()
                        .map(|(c, &x)| (x, rates[c * nw + w]))
                        .collect(),
                    w,
                )
            })
            .collect();
        let fi = axis.param == "I";
        let mut series: Vec<Series> = series;
        if fi {
            // Without noise, the analytic rate of docs/models.md, section 2 next to the simulated
            // one (the tutorial's grid rounding makes the simulated ISI a whole number of steps).
            let analytic: Vec<(f64, f64)> = (0..axis.values.len() as u64)
                .map(|c| net.combo(c))
                .filter(|p| p.sigma == 0.0 && p.sigma_ou == 0.0)
                .map(|p| {
                    let drive = p.e_l + p.r_m * p.i;
                    let rate = if drive <= p.v_th {
                        0.0
                    } else {
                        1000.0 / (p.t_ref + p.tau_m * ((p.v_reset - drive) / (p.v_th - drive)).ln())
                    };
                    (p.i, rate)
                })
                .filter(|(_, r)| r.is_finite())
                .collect();
            if !analytic.is_empty() {
                let mut s = Series::new("analytic (docs/models.md, section 2)", analytic, nw + 1);
                s.width = 1;
                series.push(s);
            }
        }
        let name = if fi { "fi_curve.png" } else { "rate_sweep.png" };
        LinePlot {
            title: if fi {
                format!("F-I curve of {pop}")
            } else {
                format!("rate of {pop} against {}", axis.key)
            },
            x_label: if fi {
                "I (nA)".into()
            } else {
                axis.key.clone()
            },
            y_label: "rate (Hz)".into(),
            series,
            ..Default::default()
        }
        .write_to(
            rec,
            &dir,
            name,
            "mean firing rate against the swept parameter",
        )?;
    }
    Ok(())
}

fn meta(net: &LifNetwork, precise: bool) -> serde_json::Value {
    serde_json::json!({
        "model": "lif",
        "population": net.name,
        "size": net.size,
        "params_of_combination_0": net.combo(0),
        "conventions": {
            "integration": if precise {
                "exact: exponential propagator on the grid, threshold crossings solved within the step, reset at the crossing time, refractory for exactly t_ref"
            } else {
                "grid: V[k+1] = V_inf + (V[k] - V_inf) p (+ sigma sqrt(dt) xi), spike at t_(k+1) when V[k+1] > V_th (or by the Brownian-bridge probability), V held at V_reset for round(t_ref/dt) steps"
            },
            "noise": "one Philox block (seed; neuron, k, purpose 1, 0) per neuron and step k: Box-Muller of words (0, 1) gives xi for V and for the OU input, word 2 the bridge's uniform [0, 1); the OU start uses step 0xFFFFFFFF",
            "correlated_input": "with rho > 0 the V noise is sqrt(rho) c + sqrt(1 - rho) xi, c the first Box-Muller normal of the block (seed; g, k, purpose 6, 0) with g = (i / size) * ceil(size / group) + (i % size) / group for global neuron i",
            "group": net.group,
            "neurons": "neuron i (global) is neuron i % size of replica i / size; sweep combination i / (size x replicas)",
            "time": "traces hold V at t = k dt; spike times are exact (precise mode) or grid times (k + 1) dt",
        },
    })
}
