//! The run loop of a spiking network: connectivity, engine, chunks of blocks, recordings
//! (population activity, spike times, V_m traces), window statistics, spectra and plots.

use std::time::Instant;

use super::engine::{CpuEngine, EngineSetup, OwnedTables, SpikingEngine};
use super::kernel::NetConfig;
use super::network::SpikingNetwork;
use crate::backend::Backend;
use crate::error::Result;
use crate::models::common::{record_activity_times, record_spectrum, record_windows};
use crate::output::plot::{BarPlot, Figure, LinePlot, Series};
use crate::output::{ArrayInfo, Data, Dtype, Recorder};
use crate::progress::Progress;
use crate::ranks::Wire;

/// What a run reports.
#[derive(Debug, Clone)]
pub struct SpikingReport {
    /// Replicas.
    pub replicas: u64,
    /// Steps.
    pub steps: u64,
    /// Model facts for `meta.json`.
    pub meta: serde_json::Value,
    /// Seconds spent building the connectivity and uploading it.
    pub connect_s: f64,
    /// Seconds spent simulating (chunks and recordings).
    pub simulate_s: f64,
    /// Synapses over all replicas.
    pub synapses: u64,
}

/// Steps per chunk: a multiple of the block and the trace interval, about 1000 steps, less
/// when the recordings of a chunk would exceed 32 MiB.
fn chunk_steps(net: &SpikingNetwork) -> u64 {
    let unit = u64::from(net.block) * u64::from(net.record.trace_every);
    let per_step_bytes = (u64::from(net.replicas) * net.pops() as u64
        + u64::from(net.n_trace()) / u64::from(net.record.trace_every).max(1))
        * 4;
    let by_mem = (32 << 20) / per_step_bytes.max(1);
    let want = 1000u64.min(by_mem).max(unit);
    (want / unit).max(1) * unit
}

/// Runs `net` on `backend`, recording into `rec`.
pub fn run(
    net: &SpikingNetwork,
    backend: &Backend,
    rec: &mut dyn Recorder,
    progress: &Progress,
) -> Result<SpikingReport> {
    let t0 = Instant::now();
    // MPI ranks sharing the run: with at least as many replicas as ranks, all on the CPU
    // path, each simulates a contiguous share of the replicas, rank 0 the first (with
    // replica 0, whose spikes and V_m are recorded); otherwise every rank updates its part
    // of each population of every replica and the ranks exchange spikes once per block.
    // `NEUROPOP_MPI_SPLIT=neurons` or `replicas` overrides the choice on the CPU path.
    let dividing = crate::ranks::dividing();
    let (rank, ranks) = if dividing {
        (crate::ranks::rank(), crate::ranks::size())
    } else {
        (0, 1)
    };
    let all_cpu = if dividing {
        crate::ranks::all_true(matches!(backend, Backend::Cpu))
    } else {
        matches!(backend, Backend::Cpu)
    };
    let by_neurons = ranks > 1
        && (!all_cpu
            || match std::env::var("NEUROPOP_MPI_SPLIT").as_deref() {
                Ok("neurons") => true,
                Ok("replicas") => false,
                _ => u64::from(net.replicas) < ranks as u64,
            });
    let (own, split) = if by_neurons {
        ((0, net.replicas), (rank as u32, ranks as u32))
    } else {
        let (r_lo, r_hi) = crate::ranks::share(u64::from(net.replicas), 1, rank, ranks);
        ((r_lo as u32, r_hi as u32), (0, 1))
    };
    let budget = match backend {
        Backend::Cpu => super::network::AUTO_STORED_CPU_BYTES,
        #[cfg(feature = "gpu")]
        Backend::Gpu(ctx) => super::engine::synapse_capacity_bytes(ctx) as f64,
    };
    // Ranks sharing the neurons each store a part of the synapses; which projections are
    // stored must be the same on every rank: the smallest rank's budget, times the ranks.
    let budget = if by_neurons {
        let b = budget as u64;
        let all = crate::ranks::all_gather_words(&[b as u32, (b >> 32) as u32]);
        let least = all
            .chunks_exact(2)
            .map(|w| u64::from(w[0]) | (u64::from(w[1]) << 32))
            .min()
            .unwrap_or(b);
        least as f64 * ranks as f64
    } else {
        budget
    };
    let net = &net.with_storage_budget(budget);
    // What can fail on one rank only (its device) is agreed on before the next collective.
    #[cfg(feature = "gpu")]
    let agree = |r: Result<()>| if dividing { crate::ranks::agree(r) } else { r };
    #[cfg(feature = "gpu")]
    agree(match backend {
        Backend::Gpu(ctx) => {
            let words = net.expected_stored_words();
            let share = words / f64::from(split.1);
            super::engine::check_synapses(ctx, share).map_err(|e| {
                if by_neurons {
                    let per_device = super::engine::synapse_capacity_bytes(ctx) as f64 / 4.0;
                    crate::Error::InvalidArgument(format!(
                        "{e}: each of {} ranks sharing the neurons stores about 1/{} of the network's {words:.3e} synapse words; with devices like this one it needs at least {} ranks",
                        split.1,
                        split.1,
                        (words / per_device).ceil() as u64
                    ))
                } else {
                    e
                }
            })
        }
        Backend::Cpu => Ok(()),
    })?;
    // Ranks sharing the neurons build their synapses on the host (the device builds a
    // whole projection).
    let on_device = match backend {
        Backend::Cpu => false,
        #[cfg(feature = "gpu")]
        Backend::Gpu(ctx) => !by_neurons && super::engine::connect_on_device(ctx),
    };
    // On the CPU path each worker thread delivers to its own part of the targets and stores
    // only the synapses onto them: one connectivity per part, built in parallel (each part
    // on one thread). The GPU holds one.
    let n_own: u64 = if by_neurons {
        (0..net.pops())
            .map(|p| {
                let (lo, hi) = super::kernel::rank_part(net.sizes[p], split);
                u64::from(hi - lo)
            })
            .sum::<u64>()
            * u64::from(net.replicas)
    } else {
        u64::from(own.1 - own.0) * u64::from(net.n_neurons)
    };
    let parts = match backend {
        Backend::Cpu => crate::cpu::threads().clamp(1, n_own.div_ceil(64).max(1) as usize),
        #[cfg(feature = "gpu")]
        Backend::Gpu(_) => 1,
    };
    // The CPU path reads 16-bit targets where they fit (`Connectivity::narrow`).
    let specs: Vec<super::connect::ConnSpec> = net.projections.iter().map(|p| p.conn).collect();
    let cpu = matches!(backend, Backend::Cpu);
    let narrow = |mut c: super::connect::Connectivity| {
        if cpu {
            c.narrow(&specs);
        }
        c
    };
    let conns: Vec<super::connect::Connectivity> = if parts > 1 {
        let built: Vec<Result<super::connect::Connectivity>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..parts as u32)
                .map(|t| {
                    s.spawn(move || {
                        crate::cpu::with_threads(1, || {
                            net.connect_replicas(false, own, split, (t, parts as u32))
                                .map(narrow)
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                // A worker's panic is this thread's (a bug, not an input error).
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        built.into_iter().collect::<Result<_>>()?
    } else {
        vec![narrow(net.connect_replicas(
            on_device,
            own,
            split,
            (0, 1),
        )?)]
    };
    let synapses: u64 = conns.iter().map(|c| c.synapses()).sum();
    // Every part has the same rows (its own synapses in them): one table serves all.
    let (pops, ports, pois, proj) = match conns.first() {
        Some(c) => net.tables(c, split),
        None => net.tables(&super::connect::Connectivity::default(), split),
    };
    let chunk = chunk_steps(net);
    let np = net.pops() as u64;
    let n_rep_pops = u64::from(net.replicas) * np;
    let n_trace = net.n_trace();
    let every = u64::from(net.record.trace_every);
    let rec_neurons: u64 = net.record.spikes.iter().map(|&k| u64::from(k)).sum();
    let refr1 = u64::from(net.min_refractory_steps()) + 1;
    let mut setup = EngineSetup {
        model: net.model.code(),
        nk: net.nk,
        n_total: net.n_total(),
        v_init: net.coef.iter().map(|c| c.v_init).collect(),
        v_dist: net.v_dist.clone(),
        seed: net.seed,
        own: (own.0 * net.n_neurons, own.1 * net.n_neurons),
        split,
        n_neurons: net.n_neurons,
        n_pops: np as u32,
        replicas_per_combo: net.replicas_per_combo,
        ring_words: u64::from(net.ring_len) * u64::from(net.ring_row(split)),
        act_words: chunk * n_rep_pops,
        spk_cap: net.spike_capacity().min(u64::from(u32::MAX / 2)) as u32,
        rec_cap: (rec_neurons * chunk.div_ceil(refr1)).min(u64::from(u32::MAX / 2)) as u32,
        trace_words: if n_trace > 0 {
            chunk / every * u64::from(n_trace)
        } else {
            0
        },
        stim_words: if net.stimuli.is_empty() {
            0
        } else {
            chunk * np
        },
        max_blocks: chunk.div_ceil(u64::from(net.block)) as usize,
        pois: if net.poisson.is_empty() {
            0
        } else if net
            .poisson
            .iter()
            .all(|&(_, rate, _)| ((rate * net.dt / 1000.0) as f32) < 10.0)
        {
            1
        } else {
            2
        },
        loop_iters_per_neuron: 0,
    };
    let max_ports = pops.iter().map(|p| u64::from(p.n_ports)).max().unwrap_or(0);
    let max_pois = pops.iter().map(|p| u64::from(p.n_pois)).max().unwrap_or(0);
    let max_lambda = pois.iter().map(|p| f64::from(p.lambda)).fold(0.0, f64::max);
    // Inversion takes about lambda + 1 iterations (+ 6 sd of slack); PTRS a handful.
    let pois_iters = (max_lambda.min(10.0) + 6.0 * max_lambda.min(10.0).sqrt() + 2.0) as u64;
    let nk = u64::from(net.nk[0] + net.nk[1]);
    setup.loop_iters_per_neuron =
        2 * nk + u64::from(net.block) * (2 + max_ports + max_pois * (pois_iters + 1) + nk);
    // Neurons whose state this process holds (the state arrays' length and stride).
    let held = setup.held(&pops);
    let tab = OwnedTables {
        pops,
        coef: net.coef.clone(),
        ports,
        pois,
        proj,
        conn: conns,
    };
    let engine: Result<Box<dyn SpikingEngine>> = match backend {
        Backend::Cpu => Ok(Box::new(CpuEngine::new(setup.clone(), tab))),
        #[cfg(feature = "gpu")]
        Backend::Gpu(ctx) => super::engine::GpuEngine::new(ctx.clone(), &setup, tab)
            .map(|e| Box::new(e) as Box<dyn SpikingEngine>),
    };
    let mut engine = if dividing {
        crate::ranks::agree(engine)?
    } else {
        engine?
    };
    let connect_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let (out, spike_stats) = drive(net, engine.as_mut(), &setup, held, chunk, rec, progress)?;
    // With MPI ranks sharing the replicas, the synapses of every rank's share.
    let synapses = if crate::ranks::dividing() {
        crate::ranks::gather_bytes(&synapses.to_le_bytes())
            .iter()
            .flat_map(|b| u64::take(b))
            .sum()
    } else {
        synapses
    };
    let simulate_s = t1.elapsed().as_secs_f64();
    let meta = serde_json::json!({
        "model": net.model.name(),
        "populations": net.names,
        "sizes": net.sizes,
        "params": net.params,
        "replicas": net.replicas,
        "synapses_stored": synapses,
        "synapses_expected": net.expected_synapses(),
        "block_steps": net.block,
        "projections": net.projections.iter().map(|p| serde_json::json!({
            "source": net.names[p.src], "target": net.names[p.tgt], "delay_steps": p.delay,
            "delay_steps_max": p.delay_max, "delays_drawn": p.conn.ddist.kind != 0,
            "weight": p.weight, "weight_unit": net.model.weight_unit(),
            "weights_drawn": p.conn.wdist.kind != 0,
            "weight_resolution": p.resolution,
            "rule": format!("{:?}", p.conn.rule), "indegree": p.conn.indegree, "p": p.conn.p,
            "N": p.conn.n_total,
            "autapses": p.conn.autapses, "multapses": p.conn.multapses,
            "connectivity": if p.conn.procedural { "procedural" } else { "stored" },
            "built_on": if p.conn.procedural {
                "none (regenerated at delivery)"
            } else if on_device && super::connect::device_buildable(&p.conn) {
                "device (connect_count, connect_fill)"
            } else {
                "host"
            },
        })).collect::<Vec<_>>(),
        "timings_s": {"connect": connect_s, "simulate": simulate_s},
        "ranks_divide": match (ranks > 1, by_neurons) {
            (false, _) => "nothing (one process)",
            (true, true) => "the neurons of every population (spikes exchanged every block)",
            (true, false) => "the replicas",
        },
        "mean_rates_hz": out,
        "spike_statistics": spike_stats,
        "conventions": {
            "update": "NEST 3.10's update order for each model (docs/models.md, sections 4 and 5)",
            "stimulus": "a step current switching at step k acts from step k + 1 on, as NEST's I_stim",
            "random_numbers": "GIF spike of neuron g at step k: uniform [0,1) from the Philox stream (seed; g, k, 2); Poisson input j: (seed; g, k, 4 + 256 j); connectivity of projection m: (seed; target or source neuron, m, 3); drawn weight and delay of a synapse of projection m: (seed; global source, target, 7 + 256 m) and (.., 8 + 256 m) for rules drawn per pair, (seed; global source, draw index, ..) for fixed_total_number, (seed; global target, draw index, ..) for fixed_indegree; fixed_total_number: out-degrees from (seed; replica, m, 3 + 256 (2^24 - 1)), target of synapse d of source g: lane d % 4 of the Philox block (g, m, 3, d / 4)",
            "drawn_weights": "summed per target and step as integers (weight / resolution, rounded), times the projection's resolution (a power of two): exact and independent of delivery order",
            "hazard_clamp": "(V - theta)/Delta_V is clamped at 60 (spike probability already 1)",
            "refractory_input": "iaf_psc_delta drops input arriving while refractory (NEST's default)",
            "precision": "f32 state on both paths, propagators from f64",
        },
    });
    Ok(SpikingReport {
        replicas: u64::from(net.replicas),
        steps: net.steps,
        meta,
        connect_s,
        simulate_s,
        synapses,
    })
}

/// Runs every chunk and writes the recordings; returns mean rates (Hz) per population over
/// all replicas and the whole run.
#[allow(clippy::too_many_arguments)]
fn drive(
    net: &SpikingNetwork,
    engine: &mut dyn SpikingEngine,
    setup: &EngineSetup,
    held: u32,
    chunk: u64,
    rec: &mut dyn Recorder,
    progress: &Progress,
) -> Result<(Vec<f64>, Vec<serde_json::Value>)> {
    let np = net.pops();
    let reps = net.replicas as usize;
    let n_rep_pops = reps * np;
    let bs = net.record.activity.bin_steps;
    let bins = net.bins();
    let bin_ms = bs as f64 * net.dt;
    let every = u64::from(net.record.trace_every);
    let n_trace = net.n_trace() as usize;
    let seed = crate::rng::seed_key(net.seed);
    let offsets = net.offsets();

    crate::models::common::record_sweep(rec, &net.grid, u64::from(net.replicas_per_combo))?;
    // Traces stream chunk by chunk.
    let samples = net.steps.div_ceil(every);
    let trace_ids = if n_trace > 0 {
        let t: Vec<f64> = (0..samples).map(|k| (k * every) as f64 * net.dt).collect();
        rec.whole(
            ArrayInfo::new(
                "V_m_t",
                vec![samples],
                Dtype::F64,
                "time of each V_m sample, ms (the value after the step's update)",
            ),
            Data::F64(&t),
        )?;
        let mut ids = Vec::new();
        for (p, &k) in net.record.traces.iter().enumerate() {
            if k == 0 {
                continue;
            }
            let id = rec.array(ArrayInfo::new(
                format!("V_m_{}", net.names[p]),
                vec![samples, u64::from(k)],
                Dtype::F32,
                format!("membrane potential V_m (mV) of neurons 0..{k} of {}, replica 0, every {every} steps, shape [sample, neuron]", net.names[p]),
            ))?;
            ids.push((p, id));
        }
        ids
    } else {
        Vec::new()
    };
    let mut kept_trace: Vec<Vec<f32>> = vec![Vec::new(); np];
    let mut counts = vec![0u32; bins as usize * n_rep_pops];
    let mut total_spikes = vec![0u64; np];
    let mut spikes: Vec<Vec<[u32; 2]>> = vec![Vec::new(); np];

    let dividing = crate::ranks::dividing();
    let split = setup.split.1 > 1;
    let mut mine = || -> Result<()> {
        let mut k = 0u64;
        let mut parity = 0u32;
        while k < net.steps {
            let n = chunk.min(net.steps - k);
            let mut cfgs = Vec::new();
            let mut s = 0u64;
            while s < n {
                let m = u64::from(net.block).min(n - s);
                cfgs.push(NetConfig {
                    seed_lo: seed[0],
                    seed_hi: seed[1],
                    n_neurons: net.n_neurons,
                    n_total: held,
                    n_pops: np as u32,
                    step0: (k + s) as u32,
                    n_steps: m as u32,
                    chunk_step0: k as u32,
                    ring_len: net.ring_len,
                    ring_row: net.ring_row(setup.split),
                    parity,
                    n_trace: n_trace as u32,
                    trace_every: every as u32,
                    spk_cap: setup.spk_cap,
                    rec_cap: setup.rec_cap,
                    syn_cap: engine.syn_cap(),
                    zero: 0,
                    n_rep_pops: n_rep_pops as u32,
                    replicas_per_combo: net.replicas_per_combo,
                    n_entries: (net.combinations() * np as u64) as u32,
                });
                parity ^= 1;
                s += m;
            }
            engine.run_chunk(&cfgs, &net.stim_table(k, n))?;
            let act = engine.activity(n as usize * n_rep_pops)?;
            for (j, row) in act.chunks_exact(n_rep_pops).enumerate() {
                let b = (k + j as u64) / bs;
                if b >= bins {
                    break;
                }
                let dst = &mut counts[b as usize * n_rep_pops..(b as usize + 1) * n_rep_pops];
                for (d, &c) in dst.iter_mut().zip(row) {
                    *d += c;
                }
            }
            for row in act.chunks_exact(n_rep_pops) {
                for (i, &c) in row.iter().enumerate() {
                    total_spikes[i % np] += u64::from(c);
                }
            }
            let rows = n.div_ceil(every) as usize;
            let mut recorded = engine.recorded_spikes()?;
            let mut data = if n_trace > 0 {
                engine.trace(rows * n_trace)?
            } else {
                Vec::new()
            };
            if split {
                // Ranks sharing the neurons: rank 0 joins every rank's recorded spikes and
                // V_m samples of the chunk (a rank leaves the samples of neurons it does not
                // update at zero bits, so OR takes the owner's bits).
                (recorded, data) = join_records(recorded, data);
            }
            // What fails here fails on rank 0 only (its output): with shared neurons, every
            // rank learns of it before the next block's exchange.
            let written = (|| -> Result<()> {
                write_chunk(
                    net,
                    rec,
                    &trace_ids,
                    &offsets,
                    &recorded,
                    &data,
                    rows,
                    &mut spikes,
                    &mut kept_trace,
                )?;
                progress.inc(n * u64::from(net.replicas))
            })();
            if split {
                crate::ranks::agree(written)?;
            } else {
                written?;
            }
            k += n;
        }
        Ok(())
    };
    if dividing {
        // MPI ranks each simulated a share of the replicas: the activity counts and spike
        // totals of the others join rank 0's (disjoint replicas: plain sums).
        crate::ranks::agree(mine())?;
        let mut mine_bytes = Vec::new();
        u32::put(&counts, &mut mine_bytes);
        u64::put(&total_spikes, &mut mine_bytes);
        for bytes in crate::ranks::gather_bytes(&mine_bytes).iter().skip(1) {
            let (c_bytes, t_bytes) = bytes.split_at((4 * counts.len()).min(bytes.len()));
            for (c, x) in counts.iter_mut().zip(u32::take(c_bytes)) {
                *c += x;
            }
            for (t, x) in total_spikes.iter_mut().zip(u64::take(t_bytes)) {
                *t += x;
            }
        }
    } else {
        mine()?;
    }
    for (_, id) in &trace_ids {
        rec.close(*id)?;
    }

    // Spike times.
    let mut spike_stats = Vec::new();
    for (p, list) in spikes.iter().enumerate() {
        if net.record.spikes[p] == 0 {
            continue;
        }
        let times: Vec<f64> = list.iter().map(|s| f64::from(s[0] + 1) * net.dt).collect();
        let senders: Vec<u32> = list.iter().map(|s| s[1]).collect();
        rec.whole(
            ArrayInfo::new(format!("spikes_{}_times", net.names[p]), vec![times.len() as u64], Dtype::F64,
                format!("spike times (ms; NEST's convention: the end of the step) of neurons 0..{} of {}, replica 0, sorted", net.record.spikes[p], net.names[p])),
            Data::F64(&times),
        )?;
        rec.whole(
            ArrayInfo::new(
                format!("spikes_{}_senders", net.names[p]),
                vec![senders.len() as u64],
                Dtype::U32,
                format!(
                    "neuron index (within {}) of each spike in spikes_{}_times",
                    net.names[p], net.names[p]
                ),
            ),
            Data::U32(&senders),
        )?;
        // Firing rate and irregularity of the recorded neurons in each window.
        let n_rec = net.record.spikes[p];
        let mut rates = Vec::new();
        let mut cvs = Vec::new();
        for w in &net.record.activity.windows {
            let (lo, hi) = (w.lo as f64 * bin_ms, w.hi.min(bins) as f64 * bin_ms);
            let (rate, cv) = spike_statistics(&times, &senders, n_rec, lo, hi);
            rates.push(rate);
            cvs.push(cv);
        }
        rec.whole(
            ArrayInfo::new(format!("rate_{}", net.names[p]), vec![rates.len() as u64], Dtype::F64,
                format!("mean firing rate (Hz) of the recorded neurons 0..{n_rec} of {}, replica 0, in each window (silent neurons included)", net.names[p])),
            Data::F64(&rates),
        )?;
        rec.whole(
            ArrayInfo::new(format!("cv_{}", net.names[p]), vec![cvs.len() as u64], Dtype::F64,
                format!("mean coefficient of variation of the inter-spike intervals of the recorded neurons of {} with at least 3 spikes in each window (NaN when none)", net.names[p])),
            Data::F64(&cvs),
        )?;
        spike_stats.push(serde_json::json!({
            "population": net.names[p], "recorded_neurons": n_rec,
            "rate_hz": rates, "cv_isi": cvs.iter().map(|c| if c.is_finite() { Some(*c) } else { None }).collect::<Vec<_>>(),
        }));
    }

    // Activity, window statistics, spectra.
    let k_rec = (net.record.activity.replicas as usize).min(reps);
    let wins = &net.record.activity.windows;
    record_windows(rec, wins, bin_ms)?;
    let times = record_activity_times(rec, bins, bin_ms)?;
    let a_of = |b: usize, r: usize, p: usize| -> f64 {
        f64::from(counts[b * n_rep_pops + r * np + p]) * 1000.0 / (f64::from(net.sizes[p]) * bin_ms)
    };
    let mut kept: Vec<Vec<Vec<f64>>> = Vec::new();
    for p in 0..np {
        let mut series = vec![Vec::with_capacity(bins as usize); k_rec];
        let mut flat = Vec::with_capacity(bins as usize * k_rec);
        for b in 0..bins as usize {
            for (r, s) in series.iter_mut().enumerate() {
                let a = a_of(b, r, p);
                flat.push(a as f32);
                s.push(a);
            }
        }
        if k_rec > 0 {
            rec.whole(
                ArrayInfo::new(format!("activity_{}", net.names[p]), vec![bins, k_rec as u64], Dtype::F32,
                    format!("population activity A_N = spikes / (N bin) of {} in Hz, bins of {bin_ms} ms, shape [bin, replica] for replicas 0..{k_rec}", net.names[p])),
                Data::F32(&flat),
            )?;
        }
        let mut means = Vec::new();
        let mut vars = Vec::new();
        for r in 0..reps {
            for w in wins {
                let xs: Vec<f64> = (w.lo..w.hi.min(bins))
                    .map(|b| a_of(b as usize, r, p))
                    .collect();
                let n = xs.len().max(1) as f64;
                let m = xs.iter().sum::<f64>() / n;
                let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0).max(1.0);
                means.push(m);
                vars.push(v);
            }
        }
        rec.whole(
            ArrayInfo::new(format!("summary_{}_mean", net.names[p]), vec![net.combinations(), u64::from(net.replicas_per_combo), wins.len() as u64], Dtype::F64,
                format!("mean of A_N of {} in each window, Hz, shape [combination, replica copy, window]", net.names[p])),
            Data::F64(&means),
        )?;
        rec.whole(
            ArrayInfo::new(format!("summary_{}_var", net.names[p]), vec![net.combinations(), u64::from(net.replicas_per_combo), wins.len() as u64], Dtype::F64,
                format!("variance of A_N of {} over the {bin_ms} ms bins of each window, Hz^2, shape [combination, replica copy, window]", net.names[p])),
            Data::F64(&vars),
        )?;
        kept.push(series);
    }
    let mut spectra = Vec::new();
    let from = wins.first().map_or(0, |w| w.lo as usize);
    for (p, series) in kept.iter().enumerate() {
        if let Some((f, pw)) = record_spectrum(rec, &net.names[p], series, from, bin_ms)? {
            spectra.push((p, f, pw));
        }
    }
    if net.record.plots {
        if let Some(dir) = rec.plot_dir() {
            plots(
                net,
                &dir,
                rec,
                &kept,
                &times,
                &spikes,
                &kept_trace,
                &spectra,
            )?;
        }
    }
    let t_s = net.steps as f64 * net.dt / 1000.0;
    let rates = total_spikes
        .iter()
        .enumerate()
        .map(|(p, &s)| s as f64 / (f64::from(net.sizes[p]) * f64::from(net.replicas) * t_s))
        .collect();
    Ok((rates, spike_stats))
}

/// Rank 0's recorded (step, neuron) spikes and V_m samples of a chunk, from every rank's
/// (ranks sharing the neurons; the others get theirs back).
fn join_records(recorded: Vec<[u32; 2]>, data: Vec<f32>) -> (Vec<[u32; 2]>, Vec<f32>) {
    let mut sent = Vec::new();
    u32::put(&[recorded.len() as u32], &mut sent);
    u32::put(
        &recorded.iter().flatten().copied().collect::<Vec<_>>(),
        &mut sent,
    );
    u32::put(
        &data.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        &mut sent,
    );
    let all = crate::ranks::gather_bytes(&sent);
    if all.is_empty() {
        return (recorded, data);
    }
    let mut spikes = Vec::new();
    let mut bits = vec![0u32; data.len()];
    for bytes in &all {
        let words = u32::take(bytes);
        let n = words.first().map_or(0, |&n| n as usize);
        let body = words.get(1..).unwrap_or(&[]);
        let (pairs, rest) = body.split_at((2 * n).min(body.len()));
        spikes.extend(pairs.chunks_exact(2).map(|w| [w[0], w[1]]));
        for (b, x) in bits.iter_mut().zip(rest) {
            *b |= x;
        }
    }
    spikes.sort_unstable();
    (spikes, bits.into_iter().map(f32::from_bits).collect())
}

/// Writes a chunk's recorded spikes (kept per population) and V_m samples (`rows` rows of
/// every traced neuron, streamed; the first kept for the plots).
#[allow(clippy::too_many_arguments)]
fn write_chunk(
    net: &SpikingNetwork,
    rec: &mut dyn Recorder,
    trace_ids: &[(usize, crate::output::ArrayId)],
    offsets: &[u32],
    recorded: &[[u32; 2]],
    data: &[f32],
    rows: usize,
    spikes: &mut [Vec<[u32; 2]>],
    kept_trace: &mut [Vec<f32>],
) -> Result<()> {
    for &[t, i] in recorded {
        let p = offsets.iter().rposition(|&o| i >= o).unwrap_or(0);
        spikes[p].push([t, i - offsets[p]]);
    }
    if data.is_empty() {
        return Ok(());
    }
    let n_trace = net.n_trace() as usize;
    let mut base = 0usize;
    for (p, &kk) in net.record.traces.iter().enumerate() {
        let kk = kk as usize;
        if kk == 0 {
            continue;
        }
        let e_l = if net.model == super::params::NeuronModel::GifPscExp {
            0.0
        } else {
            net.coef[p].e_l
        };
        let mut col = Vec::with_capacity(rows * kk);
        for r in 0..rows {
            for c in 0..kk {
                col.push(data[r * n_trace + base + c] + e_l);
            }
        }
        if let Some((_, id)) = trace_ids.iter().find(|(q, _)| *q == p) {
            rec.write(*id, Data::F32(&col))?;
        }
        if kept_trace[p].len() < 200_000 {
            kept_trace[p].extend_from_slice(&col);
        }
        base += kk;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn plots(
    net: &SpikingNetwork,
    dir: &std::path::Path,
    rec: &mut dyn Recorder,
    kept: &[Vec<Vec<f64>>],
    times: &[f64],
    spikes: &[Vec<[u32; 2]>],
    traces: &[Vec<f32>],
    spectra: &[(usize, Vec<f64>, Vec<f64>)],
) -> Result<()> {
    let bin_ms = net.record.activity.bin_steps as f64 * net.dt;
    if kept.iter().all(|s| !s.is_empty()) {
        let series = kept
            .iter()
            .enumerate()
            .map(|(p, s)| {
                let mut s = Series::new(
                    net.names[p].clone(),
                    times.iter().copied().zip(s[0].iter().copied()).collect(),
                    p,
                );
                s.width = 1;
                s
            })
            .collect();
        LinePlot {
            title: format!("population activity A_N, replica 0 (bins of {bin_ms} ms)"),
            x_label: "t (ms)".into(),
            y_label: "A_N (Hz)".into(),
            series,
            ..Default::default()
        }
        .write_to(
            rec,
            dir,
            "activity.png",
            "population activity A_N of every population against time, replica 0",
        )?;
    }
    if spikes.iter().any(|s| !s.is_empty()) {
        // Raster: one dot per spike, populations stacked.
        let mut base = 0u32;
        let mut series = Vec::new();
        for (p, list) in spikes.iter().enumerate() {
            if net.record.spikes[p] == 0 {
                continue;
            }
            let pts = list
                .iter()
                .map(|s| (f64::from(s[0] + 1) * net.dt, f64::from(base + s[1])))
                .collect();
            let mut s = Series::new(net.names[p].clone(), pts, p);
            s.dots = true;
            series.push(s);
            base += net.record.spikes[p];
        }
        LinePlot {
            title: "spike raster, replica 0".into(),
            x_label: "t (ms)".into(),
            y_label: "neuron".into(),
            series,
            ..Default::default()
        }
        .write_to(
            rec,
            dir,
            "raster.png",
            "spike times of the recorded neurons, populations stacked",
        )?;
    }
    // Mean rate and CV of ISIs per population in the first window (NEST's microcircuit
    // example shows the rates so).
    let recorded: Vec<usize> = (0..net.pops())
        .filter(|&p| net.record.spikes[p] > 0)
        .collect();
    if recorded.len() > 1 {
        if let Some(w) = net.record.activity.windows.first() {
            let (lo, hi) = (w.lo as f64 * bin_ms, w.hi.min(net.bins()) as f64 * bin_ms);
            let mut rates = Vec::new();
            let mut cvs = Vec::new();
            for &p in &recorded {
                let times: Vec<f64> = spikes[p]
                    .iter()
                    .map(|s| f64::from(s[0] + 1) * net.dt)
                    .collect();
                let senders: Vec<u32> = spikes[p].iter().map(|s| s[1]).collect();
                let (r, c) = spike_statistics(&times, &senders, net.record.spikes[p], lo, hi);
                rates.push(r);
                cvs.push(c);
            }
            let labels: Vec<String> = recorded.iter().map(|&p| net.names[p].clone()).collect();
            BarPlot {
                title: format!("mean firing rate of the recorded neurons, [{lo}, {hi}) ms"),
                y_label: "rate (Hz)".into(),
                labels: labels.clone(),
                values: rates,
            }
            .write_to(
                rec,
                dir,
                "rates.png",
                "mean firing rate per population in the first window (recorded neurons, replica 0)",
            )?;
            BarPlot {
                title: format!("mean CV of inter-spike intervals, [{lo}, {hi}) ms"),
                y_label: "CV of ISIs".into(),
                labels,
                values: cvs,
            }
            .write_to(rec, dir, "cv.png", "mean CV of the inter-spike intervals per population in the first window (recorded neurons with at least 3 spikes)")?;
        }
    }
    if traces.iter().any(|t| !t.is_empty()) {
        let every = f64::from(net.record.trace_every) * net.dt;
        let mut series = Vec::new();
        for (p, t) in traces.iter().enumerate() {
            let k = net.record.traces[p] as usize;
            if k == 0 || t.is_empty() {
                continue;
            }
            for c in 0..k.min(5) {
                let pts = t
                    .chunks_exact(k)
                    .enumerate()
                    .map(|(i, row)| (i as f64 * every, f64::from(row[c])))
                    .collect();
                let mut s = Series::new(format!("{} {c}", net.names[p]), pts, p * 5 + c);
                s.width = 1;
                series.push(s);
            }
        }
        LinePlot {
            title: "membrane potential, replica 0".into(),
            x_label: "t (ms)".into(),
            y_label: "V_m (mV)".into(),
            series,
            ..Default::default()
        }
        .write_to(
            rec,
            dir,
            "V_m.png",
            "membrane potential of up to 5 traced neurons per population",
        )?;
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
            title: "power spectrum of A_N".into(),
            x_label: "f (Hz)".into(),
            y_label: "PSD (Hz^2/Hz)".into(),
            series,
            log_y: true,
            ..Default::default()
        }
        .write_to(
            rec,
            dir,
            "spectrum.png",
            "power spectral density of A_N per population",
        )?;
    }
    Ok(())
}

/// Mean firing rate (Hz) of `n` neurons and the mean CV of their inter-spike intervals
/// (standard deviation over mean, over the neurons with at least three spikes) from the
/// spikes (times in ms, senders) with `lo <= t < hi`; NaN CV when no neuron has three.
pub fn spike_statistics(times: &[f64], senders: &[u32], n: u32, lo: f64, hi: f64) -> (f64, f64) {
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); n as usize];
    for (&t, &s) in times.iter().zip(senders) {
        if t >= lo && t < hi && (s as usize) < per.len() {
            per[s as usize].push(t);
        }
    }
    let count: usize = per.iter().map(Vec::len).sum();
    let rate = count as f64 * 1000.0 / (f64::from(n.max(1)) * (hi - lo).max(f64::MIN_POSITIVE));
    let (mut sum, mut k) = (0.0, 0u32);
    for ts in &mut per {
        if ts.len() < 3 {
            continue;
        }
        ts.sort_by(f64::total_cmp);
        let isi: Vec<f64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
        let m = isi.iter().sum::<f64>() / isi.len() as f64;
        let v = isi.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / isi.len() as f64;
        if m > 0.0 {
            sum += v.sqrt() / m;
            k += 1;
        }
    }
    (rate, if k > 0 { sum / f64::from(k) } else { f64::NAN })
}
