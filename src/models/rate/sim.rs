//! Running a [`RateNetwork`]: replicas in batches that fit the device, time in chunks of
//! many steps per dispatch, traces streamed to the recorder after each chunk, summaries at
//! the end of each batch, plots at the end.

use super::engine::{CpuEngine, RateEngine};
use super::kernel::{PopState, PopSummary, RateConfig};
use super::network::{RateNetwork, Summary, Trace, Variable};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::kernels::GPU_LOOP_BUDGET;
use crate::models::common::record_sweep;
use crate::output::plot::{Figure, HeatMap, LinePlot, Series};
use crate::output::{ArrayId, ArrayInfo, Data, Dtype, Recorder};
use crate::progress::Progress;
use crate::ranks::Wire;

/// Replica-population steps per dispatch: enough to amortise a submit, small enough for a
/// responsive progress bar.
const WORK_PER_CHUNK: u64 = 1 << 26;
/// Largest trace buffer per chunk in bytes.
const TRACE_BYTES: u64 = 64 << 20;
/// Replica-populations per batch on the CPU path (bounds host memory).
const CPU_BATCH: u64 = 1 << 24;
/// Lines per trace plot.
const PLOT_LINES: usize = 20;
/// Points per plotted line.
const PLOT_POINTS: u64 = 4000;
/// Summaries kept in memory for plots, at most this many values.
const PLOT_SUMMARY_VALUES: u64 = 1 << 24;

/// What a run reports besides its recordings.
#[derive(Debug, Clone)]
pub struct RateReport {
    /// Total replicas.
    pub replicas: u64,
    /// Steps.
    pub steps: u64,
    /// Warnings of the model.
    pub warnings: Vec<String>,
    /// Facts for `meta.json`.
    pub meta: serde_json::Value,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

struct TraceOut {
    trace: Trace,
    id: ArrayId,
    plot: Vec<Vec<(f64, f64)>>,
    plot_stride: u64,
}

/// Runs the network on `backend`, writing recordings to `rec`.
pub fn run(
    net: &RateNetwork,
    backend: &Backend,
    rec: &mut dyn Recorder,
    progress: &Progress,
) -> Result<RateReport> {
    let m = net.pops() as u64;
    let total = net.replicas();
    match backend {
        Backend::Cpu => {
            let batch = (CPU_BATCH / m).min(total).max(1);
            let (chunk, trace_len) = plan(net, batch, false)?;
            let mut engine = CpuEngine::new((batch * m) as usize, trace_len);
            drive(net, &mut engine, batch, chunk, rec, progress)
        }
        #[cfg(feature = "gpu")]
        Backend::Gpu(ctx) => {
            let max_binding = ctx
                .limits()
                .max_storage_buffer_binding_size
                .min(ctx.limits().max_buffer_size);
            // The largest per-replica-population buffers: summaries (24 B) and, when every
            // replica is its own combination, coefficients (40 B).
            let per = if net.replicas_per_combo == 1 { 40 } else { 24 };
            let batch = (max_binding / (per * m)).min(total).max(1);
            let (chunk, trace_len) = plan(net, batch, true)?;
            let combos_per_batch = batch.div_ceil(u64::from(net.replicas_per_combo)) + 1;
            let w_len = if net.w_swept {
                combos_per_batch * m * m
            } else {
                m * m
            };
            let stim_len = if net.stimuli.is_empty() { 1 } else { chunk * m };
            let mut engine = super::engine::GpuEngine::new(
                ctx.clone(),
                &net.specialization(),
                (batch * m) as usize,
                (combos_per_batch.min(net.combinations()) * m) as usize,
                w_len as usize,
                stim_len as usize,
                trace_len,
            )?;
            drive(net, &mut engine, batch, chunk, rec, progress)
        }
    }
}

/// Steps per chunk and trace buffer length for batches of `batch` replicas; on the GPU a
/// chunk also keeps every invocation within [`GPU_LOOP_BUDGET`] loop iterations.
fn plan(net: &RateNetwork, batch: u64, gpu: bool) -> Result<(u64, usize)> {
    let m = net.pops() as u64;
    let rec_max = net
        .record
        .traces
        .iter()
        .map(|t| u64::from(t.replicas))
        .max()
        .unwrap_or(0);
    if rec_max > batch {
        return Err(Error::InvalidArgument(format!(
            "traces of {rec_max} replicas do not fit one batch of {batch} replicas on this device: trace fewer replicas"
        )));
    }
    let every = net
        .record
        .traces
        .iter()
        .fold(0, |g, t| gcd(g, u64::from(t.every)))
        .max(1);
    let mut chunk = (WORK_PER_CHUNK / (batch * m)).clamp(1, net.steps.max(1));
    if rec_max > 0 {
        let row_bytes = rec_max * m * 2 * 4;
        let rows = TRACE_BYTES / row_bytes;
        if rows < 3 {
            return Err(Error::InvalidArgument(format!(
                "traces of {rec_max} replicas x {m} populations are too wide for one chunk: trace fewer replicas"
            )));
        }
        chunk = chunk.min((rows - 2) * every).max(1);
    }
    if gpu {
        // Per group of 4 steps, if no loop were unrolled: the group loop, the noise loop with
        // Philox's 9 rounds per population, the 4-step loop, and per step the input loops
        // (NP + NP^2) and the update loop (NP); plus the start-up loops.
        let per_group = 5 + 10 * m + 4 * (2 * m + m * m);
        let groups = (GPU_LOOP_BUDGET - 8 * m) / per_group;
        chunk = chunk.min((4 * groups).max(4));
    }
    // Chunks start at multiples of 4: the kernel advances steps in groups of four.
    let chunk = chunk.next_multiple_of(4);
    let rows = if rec_max > 0 { chunk / every + 2 } else { 0 };
    Ok((chunk, (rows * rec_max * m * 2) as usize))
}

fn drive(
    net: &RateNetwork,
    engine: &mut dyn RateEngine,
    batch: u64,
    chunk: u64,
    rec: &mut dyn Recorder,
    progress: &Progress,
) -> Result<RateReport> {
    let m = net.pops();
    let total = net.replicas();
    let rpc = u64::from(net.replicas_per_combo);
    let steps = net.steps;
    let every = net
        .record
        .traces
        .iter()
        .fold(0, |g, t| gcd(g, u64::from(t.every)))
        .max(1);
    let rec_max = net
        .record
        .traces
        .iter()
        .map(|t| u64::from(t.replicas))
        .max()
        .unwrap_or(0);

    record_sweep(rec, &net.grid, rpc)?;
    let mut traces = Vec::new();
    for t in &net.record.traces {
        let name = format!("trace_{}_{}", net.names[t.pop], t.var.name());
        let samples = t.samples(steps);
        let times: Vec<f64> = (0..samples)
            .map(|s| (s * u64::from(t.every)) as f64 * net.dt)
            .collect();
        rec.whole(
            ArrayInfo::new(
                format!("{name}_t"),
                vec![samples],
                Dtype::F64,
                format!("time of each row of {name}.npy, ms"),
            ),
            Data::F64(&times),
        )?;
        let id = rec.array(ArrayInfo::new(
            &name,
            vec![samples, u64::from(t.replicas)],
            Dtype::F32,
            format!(
                "{} of population {} every {} step(s) from t = 0, shape [time, replica] for replicas 0..{}",
                t.var.name(),
                net.names[t.pop],
                t.every,
                t.replicas
            ),
        ))?;
        traces.push(TraceOut {
            trace: t.clone(),
            id,
            plot: vec![Vec::new(); (t.replicas as usize).min(PLOT_LINES)],
            plot_stride: samples.div_ceil(PLOT_POINTS).max(1),
        });
    }
    let count = (steps - net.record.summary_from + 1) as f64;
    let mut summaries = Vec::new();
    for s in &net.record.summaries {
        for (pop, name) in net.names.iter().enumerate() {
            let (dtype, what) = match s {
                Summary::Final => (Dtype::F32, "r at t_end".to_string()),
                Summary::Mean => (
                    Dtype::F32,
                    "time average of r over the summary window".to_string(),
                ),
                Summary::Above(l) => (
                    Dtype::F32,
                    format!("fraction of the summary window with r > {l}"),
                ),
                Summary::Crossings(a, b) => (
                    Dtype::U32,
                    format!("passages of r between {a} and {b} (either direction)"),
                ),
            };
            let id = rec.array(ArrayInfo::new(
                format!("summary_{name}_{}", s.tag()),
                vec![net.combinations(), rpc],
                dtype,
                format!("{what} of population {name}, shape [combination, replica copy]"),
            ))?;
            summaries.push((*s, pop, id, Vec::<f64>::new()));
        }
    }
    let keep_summaries =
        total * m as u64 * net.record.summaries.len() as u64 <= PLOT_SUMMARY_VALUES;

    let (mut above, mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY, f32::INFINITY);
    for s in &net.record.summaries {
        match *s {
            Summary::Above(l) => above = l as f32,
            Summary::Crossings(a, b) => (lo, hi) = (a as f32, b as f32),
            _ => {}
        }
    }
    let seed = crate::rng::seed_key(net.seed);
    let spec = net.specialization();
    // With MPI ranks each takes a contiguous share of the replicas (rank 0 the first, with
    // every traced one); rank 0 writes its summaries as it goes and then the others', in
    // rank order, so the files are a single process's.
    let (rank, ranks) = (crate::ranks::rank(), crate::ranks::size());
    let (r_lo, r_hi) = crate::ranks::share(total, rec_max, rank, ranks);
    // Other ranks: each summary's values, in replica order (independent of batch sizes,
    // which may differ between ranks with different devices).
    let mut sent: Vec<Vec<u8>> = vec![Vec::new(); summaries.len()];
    let mut mine = || -> Result<()> {
        let mut b0 = r_lo;
        while b0 < r_hi {
            let nb = batch.min(r_hi - b0);
            let (c0, c1) = (b0 / rpc, (b0 + nb - 1) / rpc + 1);
            let (coef, weights) = net.tables(c0, c1);
            engine.load(&coef, &weights)?;
            let rec_here = if b0 == 0 { rec_max.min(nb) } else { 0 };
            let mut k = 0u64;
            while k < steps {
                let n = chunk.min(steps - k);
                let s0 = if k == 0 { 0 } else { k / every + 1 };
                let s1 = (k + n) / every;
                let cfg = RateConfig {
                    n_replicas: nb as u32,
                    n_pops: m as u32,
                    replicas_per_combo: rpc as u32,
                    replica0: b0 as u32,
                    combo0: c0 as u32,
                    step0: k as u32,
                    n_steps: n as u32,
                    seed_lo: seed[0],
                    seed_hi: seed[1],
                    w_per_combo: u32::from(net.w_swept),
                    has_noise: u32::from(spec.noise),
                    has_stim: u32::from(spec.stim),
                    rec_replicas: rec_here as u32,
                    rec_every: every as u32,
                    rec_sample0: s0 as u32,
                    summary_from: net.record.summary_from as u32,
                    above,
                    cross_low: lo,
                    cross_high: hi,
                    summary_mask: spec.summary,
                };
                engine.step(&cfg, &net.stimuli.table(k, n))?;
                engine.sync()?;
                if rec_here > 0 && s1 + 1 > s0 {
                    let rows = s1 + 1 - s0;
                    let data = engine.trace((rows * rec_here * m as u64 * 2) as usize)?;
                    for row in 0..rows {
                        let state_k = (s0 + row) * every;
                        for out in &mut traces {
                            let t = &out.trace;
                            if state_k % u64::from(t.every) != 0 {
                                continue;
                            }
                            let var = usize::from(t.var == Variable::Eta);
                            let vals: Vec<f32> = (0..t.replicas as u64)
                                .map(|r| {
                                    data[(((row * rec_here + r) * m as u64 + t.pop as u64) * 2)
                                        as usize
                                        + var]
                                })
                                .collect();
                            rec.write(out.id, Data::F32(&vals))?;
                            let sample = state_k / u64::from(t.every);
                            if sample % out.plot_stride == 0 || state_k == steps {
                                for (line, v) in out.plot.iter_mut().zip(&vals) {
                                    line.push((state_k as f64 * net.dt, f64::from(*v)));
                                }
                            }
                        }
                    }
                }
                progress.inc(n * nb)?;
                k += n;
            }
            let (state, summary) = engine.results((nb * m as u64) as usize)?;
            for (si, (kind, pop, id, kept)) in summaries.iter_mut().enumerate() {
                let values = (0..nb as usize).map(|r| {
                    summary_value(kind, &state[r * m + *pop], &summary[r * m + *pop], count)
                });
                match kind {
                    Summary::Crossings(..) => {
                        let v: Vec<u32> = (0..nb as usize)
                            .map(|r| summary[r * m + *pop].crossings)
                            .collect();
                        if rank == 0 {
                            write_crossings(rec, *id, kept, &v, keep_summaries)?;
                        } else {
                            u32::put(&v, &mut sent[si]);
                        }
                    }
                    _ => {
                        let v: Vec<f64> = values.collect();
                        if rank == 0 {
                            write_values(rec, *id, kept, v, keep_summaries)?;
                        } else {
                            // f64: the values rank 0's plots keep (the file holds them as f32).
                            f64::put(&v, &mut sent[si]);
                        }
                    }
                }
            }
            b0 += nb;
        }
        Ok(())
    };
    crate::ranks::agree(mine())?;
    if ranks > 1 {
        // Each other rank sent its batches' summaries in batch order, each batch's in the
        // order of `summaries`; rank 0 writes them replica by replica in the same order.
        let all = crate::ranks::gather_bytes(&sent.concat());
        for (k, bytes) in all.iter().enumerate().skip(1) {
            let (klo, khi) = crate::ranks::share(total, rec_max, k, ranks);
            let nk = (khi - klo) as usize;
            let mut at = 0usize;
            for (kind, _, id, kept) in &mut summaries {
                let width = if let Summary::Crossings(..) = kind {
                    4
                } else {
                    8
                };
                let part = bytes.get(at..at + width * nk).unwrap_or_default();
                at += width * nk;
                if width == 4 {
                    write_crossings(rec, *id, kept, &u32::take(part), keep_summaries)?;
                } else {
                    write_values(rec, *id, kept, f64::take(part), keep_summaries)?;
                }
            }
            progress.inc((khi - klo) * steps)?;
        }
    }
    for out in &traces {
        rec.close(out.id)?;
    }
    for (_, _, id, _) in &summaries {
        rec.close(*id)?;
    }
    if net.record.plots {
        plots(net, &traces, &summaries, rec)?;
    }
    Ok(RateReport {
        replicas: total,
        steps,
        warnings: net.warnings.clone(),
        meta: meta(net),
    })
}

/// Writes crossing counts of some replicas (and keeps them for the plots).
fn write_crossings(
    rec: &mut dyn Recorder,
    id: ArrayId,
    kept: &mut Vec<f64>,
    v: &[u32],
    keep: bool,
) -> Result<()> {
    rec.write(id, Data::U32(v))?;
    if keep {
        kept.extend(v.iter().map(|&x| f64::from(x)));
    }
    Ok(())
}

/// Writes a summary of some replicas as f32 (and keeps the f64 values for the plots).
fn write_values(
    rec: &mut dyn Recorder,
    id: ArrayId,
    kept: &mut Vec<f64>,
    v: Vec<f64>,
    keep: bool,
) -> Result<()> {
    let v32: Vec<f32> = v.iter().map(|&x| x as f32).collect();
    rec.write(id, Data::F32(&v32))?;
    if keep {
        kept.extend(v);
    }
    Ok(())
}

fn summary_value(kind: &Summary, state: &PopState, s: &PopSummary, count: f64) -> f64 {
    match kind {
        Summary::Final => f64::from(state.r),
        Summary::Mean => (f64::from(s.sum) + f64::from(s.sblock) + f64::from(s.block)) / count,
        Summary::Above(_) => f64::from(s.above) / count,
        Summary::Crossings(..) => f64::from(s.crossings),
    }
}

/// Label of replica `r` in plots: the swept values of its combination.
fn label(net: &RateNetwork, r: u64) -> String {
    let c = r / u64::from(net.replicas_per_combo);
    let parts: Vec<String> = net
        .grid
        .axes
        .iter()
        .enumerate()
        .map(|(a, ax)| format!("{}={:.3}", ax.key, net.grid.value(a, c)))
        .collect();
    parts.join(", ")
}

fn plots(
    net: &RateNetwork,
    traces: &[TraceOut],
    summaries: &[(Summary, usize, ArrayId, Vec<f64>)],
    rec: &mut dyn Recorder,
) -> Result<()> {
    let Some(dir) = rec.plot_dir() else {
        return Ok(());
    };
    for out in traces {
        let t = &out.trace;
        let name = format!("trace_{}_{}.png", net.names[t.pop], t.var.name());
        let legend = out.plot.len() <= 10 && !net.grid.axes.is_empty();
        let series = out
            .plot
            .iter()
            .enumerate()
            .map(|(r, pts)| {
                let mut s = Series::new(
                    if legend {
                        label(net, r as u64)
                    } else {
                        String::new()
                    },
                    pts.clone(),
                    r,
                );
                s.width = if out.plot.len() > 5 { 1 } else { 2 };
                s
            })
            .collect();
        LinePlot {
            title: format!(
                "{} of population {} ({} replica{})",
                t.var.name(),
                net.names[t.pop],
                out.plot.len(),
                if out.plot.len() == 1 { "" } else { "s" }
            ),
            x_label: "t (ms)".into(),
            y_label: t.var.name().into(),
            series,
            ..Default::default()
        }
        .write_to(
            rec,
            &dir,
            &name,
            &format!(
                "{} of population {} against time",
                t.var.name(),
                net.names[t.pop]
            ),
        )?;
    }
    let rpc = net.replicas_per_combo as usize;
    let mean_over_copies = |v: &[f64]| -> Vec<f64> {
        v.chunks(rpc)
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .collect()
    };
    match net.grid.axes.len() {
        1 => {
            let axis = &net.grid.axes[0];
            for kind in &net.record.summaries {
                let series: Vec<Series> = summaries
                    .iter()
                    .filter(|(k, _, _, v)| k.tag() == kind.tag() && !v.is_empty())
                    .map(|(_, pop, _, v)| {
                        let ys = mean_over_copies(v);
                        Series::new(
                            net.names[*pop].clone(),
                            axis.values.iter().copied().zip(ys).collect(),
                            *pop,
                        )
                    })
                    .collect();
                if series.is_empty() {
                    continue;
                }
                let name = format!("summary_{}.png", kind.tag());
                LinePlot {
                    title: format!("{} of r against {}", kind.tag(), axis.key),
                    x_label: axis.key.clone(),
                    y_label: kind.tag(),
                    series,
                    ..Default::default()
                }
                .write_to(
                    rec,
                    &dir,
                    &name,
                    &format!("summary `{}` against the swept {}", kind.tag(), axis.key),
                )?;
            }
        }
        2 => {
            let (ay, ax) = (&net.grid.axes[0], &net.grid.axes[1]);
            for (kind, pop, _, v) in summaries {
                if v.is_empty() {
                    continue;
                }
                // Grid order: the first axis varies slowest, so z is y-major already.
                let z = mean_over_copies(v);
                let name = format!("summary_{}_{}.png", net.names[*pop], kind.tag());
                HeatMap {
                    title: format!("{} of r_{}", kind.tag(), net.names[*pop]),
                    x_label: ax.key.clone(),
                    y_label: ay.key.clone(),
                    z_label: kind.tag(),
                    x: ax.values.clone(),
                    y: ay.values.clone(),
                    z,
                }
                .write_to(
                    rec,
                    &dir,
                    &name,
                    &format!(
                        "summary `{}` of {} over the sweep grid",
                        kind.tag(),
                        net.names[*pop]
                    ),
                )?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn meta(net: &RateNetwork) -> serde_json::Value {
    let (params, w) = net.combo(0);
    serde_json::json!({
        "model": "rate",
        "populations": net.names,
        "params_of_combination_0": params,
        "coupling_of_combination_0": w,
        "conventions": {
            "integration": "forward Euler as the tutorial: r[k+1] = r[k] + dt/tau (-r[k] + F(sum_j W r_j[k] + I_ext + I_stim[k] + eta[k]))",
            "time": "state k is at t = k dt, k = 0..steps; traces hold k = 0, every, 2 every, ...",
            "noise": "xi(0, m) = first normal of Philox block (seed; replica, 0, purpose 1, m); xi(k, m) = normal (k-1) % 4 of block (seed; replica, (k-1)/4 + 1, purpose 1, m) for k >= 1, a block's normals being the Box-Muller pairs of its words (x0, x1), (x2, x3)",
            "summary_window": format!("states k >= {}", net.record.summary_from),
        },
    })
}
