//! A spiking network built from a spec: neuron model and coefficients per population,
//! projections (delays in steps, ports, connectivity), Poisson inputs, step currents, the
//! block length and ring of spike counts, and what to record. Every check happens here,
//! before any output exists.

use super::connect::{self, ConnSpec, Connectivity};
use super::kernel::{poisson_purpose, Pois, PopInfo, Port, Proj};
use super::params::{NeuronCoef, NeuronModel, NeuronParams};
use crate::error::Result;
use crate::models::common::{ActivityRecord, StepStimuli};
use crate::spec::{Connectivity as Storage, Rule, Spec, Stimulus, SweepGrid};

/// Most populations per network (`MAX_POPS` in shaders/shared/network.wgsl).
pub const MAX_POPS: usize = 16;
/// Stored synapses (bytes, all replicas) above which `connectivity = "auto"` projections
/// become procedural.
pub const AUTO_PROCEDURAL_BYTES: f64 = 256.0 * 1024.0 * 1024.0;
/// Most summary windows.
pub const MAX_WIN: usize = 4;
/// Longest block of steps per `neuron_step` dispatch (shorter blocks when the smallest
/// delay is shorter).
pub const MAX_BLOCK: u32 = 32;

/// A projection as the engine uses it.
#[derive(Debug, Clone)]
pub struct ProjectionInfo {
    /// Source population.
    pub src: usize,
    /// Target population.
    pub tgt: usize,
    /// Delay in steps (>= 1).
    pub delay: u32,
    /// Weight per spike (pA, or mV for iaf_psc_delta).
    pub weight: f64,
    /// Connection rule and its numbers.
    pub conn: ConnSpec,
}

/// What a spiking run records.
#[derive(Debug, Clone)]
pub struct SpikingRecord {
    /// Activity bin, replicas, windows.
    pub activity: ActivityRecord,
    /// Neurons (from 0, replica 0) per population whose spikes are recorded.
    pub spikes: Vec<u32>,
    /// Neurons (from 0, replica 0) per population whose V_m is traced.
    pub traces: Vec<u32>,
    /// Trace interval in steps.
    pub trace_every: u32,
    /// Write PNG plots.
    pub plots: bool,
}

/// A network of spiking neurons, `replicas` independent copies of it.
#[derive(Debug, Clone)]
pub struct SpikingNetwork {
    /// The neuron model (one per network).
    pub model: NeuronModel,
    /// Population names.
    pub names: Vec<String>,
    /// Population sizes.
    pub sizes: Vec<u32>,
    /// Parameters per population (as written; sweeps change them per combination).
    pub params: Vec<NeuronParams>,
    /// Coefficients per table entry (sweep combination x population).
    pub coef: Vec<NeuronCoef>,
    /// Projections in spec order.
    pub projections: Vec<ProjectionInfo>,
    /// (population, rate Hz, weight) of every Poisson input.
    pub poisson: Vec<(usize, f64, f64)>,
    /// Step currents (pA).
    pub stimuli: StepStimuli,
    /// Time step, ms.
    pub dt: f64,
    /// Steps.
    pub steps: u64,
    /// Seed.
    pub seed: u64,
    /// Independent copies in all: sweep combinations x `replicas_per_combo`.
    pub replicas: u32,
    /// Copies of each sweep combination (`simulation.replicas`).
    pub replicas_per_combo: u32,
    /// The sweep grid (empty: one combination).
    pub grid: SweepGrid,
    /// Projection weights per combination.
    pub combo_weights: Vec<Vec<f64>>,
    /// Poisson rates (Hz) per combination.
    pub combo_rates: Vec<Vec<f64>>,
    /// Neurons per replica.
    pub n_neurons: u32,
    /// Steps per block (the smallest delay, at most [`MAX_BLOCK`]).
    pub block: u32,
    /// Ring slots (largest delay + 1).
    pub ring_len: u32,
    /// Spike-triggered current and threshold kernels held per neuron (the most any population
    /// uses; 0 for the iaf models).
    pub nk: [u32; 2],
    /// Recordings.
    pub record: SpikingRecord,
}

impl SpikingNetwork {
    /// Builds the network description (not yet the connectivity) from a validated spec.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let first = &spec.populations[0].model;
        let model = NeuronModel::from_name(first).ok_or_else(|| {
            spec.error(
                "population[0].model",
                format!("`{first}` is not a spiking neuron model"),
            )
        })?;
        if spec.populations.len() > MAX_POPS {
            return Err(spec.error(
                "population",
                format!(
                    "{} populations: at most {MAX_POPS} per network",
                    spec.populations.len()
                ),
            ));
        }
        if !spec.record.summaries.is_empty() || spec.record.summary_from.is_some() {
            return Err(spec.error(
                "record.summaries",
                "spiking networks summarise activity per window: use `windows` (mean and variance of A_N are always written)",
            ));
        }
        let dt = spec.simulation.dt;
        let mut names = Vec::new();
        let mut sizes = Vec::new();
        let mut params = Vec::new();
        let mut offset = 0u64;
        for (i, p) in spec.populations.iter().enumerate() {
            let key = format!("population[{i}]");
            let np = NeuronParams::from_table(model, &p.params)
                .map_err(|e| spec.error(format!("{key}.params"), e))?;
            np.validate(model, &format!("\"{}\"", p.name))
                .map_err(|e| spec.error(&key, e.to_string()))?;
            offset += p.size;
            names.push(p.name.clone());
            sizes.push(p.size as u32);
            params.push(np);
        }
        let grid = spec.sweep_grid()?;
        let combos = grid.combinations();
        let rpc = spec.simulation.replicas;
        let total = combos * u64::from(rpc);
        if total > u64::from(u32::MAX / 2) || offset * total > u64::from(u32::MAX / 2) {
            return Err(spec.error(
                "population",
                format!(
                    "{offset} neurons x {total} replicas: at most {} neurons in one run",
                    u32::MAX / 2
                ),
            ));
        }
        let replicas = total as u32;
        if offset * u64::from(replicas) > u64::from(u32::MAX / 2) {
            return Err(spec.error(
                "population",
                format!(
                    "{offset} neurons x {replicas} replicas: at most {} neurons in one run",
                    u32::MAX / 2
                ),
            ));
        }
        let n_neurons = offset as u32;
        let offsets: Vec<u32> = sizes
            .iter()
            .scan(0u32, |acc, &s| {
                let o = *acc;
                *acc += s;
                Some(o)
            })
            .collect();
        let mut projections = Vec::new();
        for (i, pr) in spec.projections.iter().enumerate() {
            let key = format!("projection[{i}]");
            let src = spec.population_index(&pr.source).unwrap_or(0);
            let tgt = spec.population_index(&pr.target).unwrap_or(0);
            let delay_ms = pr.delay.unwrap_or(dt);
            let delay = (delay_ms / dt).round().max(1.0) as u32;
            if ((f64::from(delay)) * dt - delay_ms).abs() > 1e-6 * delay_ms {
                return Err(spec.error(
                    format!("{key}.delay"),
                    format!("{delay_ms} ms: must be a whole number of time steps ({dt} ms)"),
                ));
            }
            let indegree = pr.indegree.unwrap_or(0);
            let same = src == tgt;
            let ns = u64::from(sizes[src]);
            match pr.rule {
                Rule::FixedIndegree => {
                    let avail = if same && !pr.autapses { ns - 1 } else { ns };
                    if !pr.multapses && indegree > avail {
                        return Err(spec.error(
                            format!("{key}.indegree"),
                            format!("{indegree} exceeds the {avail} possible sources of `{}` without multapses", pr.source),
                        ));
                    }
                    if avail == 0 && indegree > 0 {
                        return Err(spec.error(
                            format!("{key}.indegree"),
                            format!("`{}` has no possible source without autapses", pr.source),
                        ));
                    }
                }
                Rule::OneToOne if sizes[src] != sizes[tgt] => {
                    return Err(spec.error(
                        format!("{key}.rule"),
                        format!(
                            "one_to_one needs equal sizes (`{}` has {}, `{}` has {})",
                            pr.source, sizes[src], pr.target, sizes[tgt]
                        ),
                    ));
                }
                _ => {}
            }
            projections.push(ProjectionInfo {
                src,
                tgt,
                delay,
                weight: pr.weight,
                conn: ConnSpec {
                    rule: pr.rule,
                    src: (offsets[src], sizes[src]),
                    tgt: (offsets[tgt], sizes[tgt]),
                    indegree: indegree.min(u64::from(u32::MAX)) as u32,
                    p: pr.p.unwrap_or(0.0),
                    autapses: pr.autapses,
                    multapses: pr.multapses,
                    procedural: false,
                },
            });
            if pr.connectivity == Storage::Procedural {
                if !matches!(
                    pr.rule,
                    Rule::PairwiseBernoulli | Rule::AllToAll | Rule::OneToOne
                ) {
                    return Err(spec.error(
                        format!("{key}.connectivity"),
                        "procedural connectivity regenerates a source's targets, which fixed_indegree (drawn per target) cannot: use pairwise_bernoulli or stored",
                    ));
                }
                if let Some(last) = projections.last_mut() {
                    last.conn.procedural = true;
                }
            }
        }
        // `auto`: stored, unless the stored synapses of all replicas would exceed the budget;
        // then every projection that can be procedural is.
        let total_replicas = f64::from(rpc) * grid.combinations() as f64;
        let stored_bytes: f64 = projections
            .iter()
            .filter(|p| !p.conn.procedural)
            .map(|p| p.conn.expected_synapses())
            .sum::<f64>()
            * total_replicas
            * 4.0;
        if stored_bytes > AUTO_PROCEDURAL_BYTES {
            for (p, pr) in projections.iter_mut().zip(&spec.projections) {
                if pr.connectivity == Storage::Auto
                    && matches!(pr.rule, Rule::PairwiseBernoulli | Rule::AllToAll)
                {
                    p.conn.procedural = true;
                }
            }
        }
        let mut poisson = Vec::new();
        for st in &spec.stimuli {
            if let Stimulus::Poisson {
                target,
                rate,
                weight,
            } = st
            {
                poisson.push((spec.population_index(target).unwrap_or(0), *rate, *weight));
            }
        }
        let block = projections
            .iter()
            .map(|p| p.delay)
            .min()
            .unwrap_or(MAX_BLOCK)
            .min(MAX_BLOCK);
        let ring_len = projections.iter().map(|p| p.delay).max().unwrap_or(1) + 1;
        let record = Self::record_from_spec(spec, &names, &sizes)?;
        // Every combination's parameters, weights and Poisson rates, checked now.
        let mut combo_params = Vec::new();
        let mut combo_weights = Vec::new();
        let mut combo_rates = Vec::new();
        for c in 0..combos {
            let mut ps = params.clone();
            let mut ws: Vec<f64> = projections.iter().map(|p| p.weight).collect();
            let mut rs: Vec<f64> = poisson.iter().map(|p| p.1).collect();
            for (ai, axis) in grid.axes.iter().enumerate() {
                let v = grid.value(ai, c);
                let key = format!("sweep.\"{}\"", axis.key);
                if let Some(pop) = &axis.population {
                    let i = names.iter().position(|n| n == pop).unwrap_or(0);
                    if axis.param == "poisson_rate" {
                        if v < 0.0 {
                            return Err(
                                spec.error(&key, format!("{v} Hz: Poisson rates must be >= 0"))
                            );
                        }
                        let mut any = false;
                        for (r, (tp, _, _)) in rs.iter_mut().zip(&poisson) {
                            if *tp == i {
                                *r = v;
                                any = true;
                            }
                        }
                        if !any {
                            return Err(
                                spec.error(&key, format!("`{pop}` has no Poisson input to sweep"))
                            );
                        }
                    } else {
                        ps[i]
                            .set(model, &axis.param, v)
                            .map_err(|e| spec.error(&key, e))?;
                        ps[i]
                            .validate(model, &format!("\"{pop}\" (combination {c})"))
                            .map_err(|e| spec.error(&key, e.to_string()))?;
                    }
                } else if let Some((src, tgt)) = &axis.projection {
                    for (w, pr) in ws.iter_mut().zip(&projections) {
                        if names[pr.src] == *src && names[pr.tgt] == *tgt {
                            *w = v;
                        }
                    }
                }
            }
            combo_params.push(ps);
            combo_weights.push(ws);
            combo_rates.push(rs);
        }
        let coef: Vec<NeuronCoef> = combo_params
            .iter()
            .flat_map(|ps| ps.iter().map(|p| p.coef(model, dt)))
            .collect();
        let nk = [
            coef.iter().map(|c| c.n_stc).max().unwrap_or(0),
            coef.iter().map(|c| c.n_sfa).max().unwrap_or(0),
        ];
        Ok(Self {
            model,
            names,
            sizes,
            params,
            coef,
            projections,
            poisson,
            stimuli: StepStimuli::from_spec(spec),
            dt,
            steps: spec.steps(),
            seed: spec.simulation.seed,
            replicas,
            replicas_per_combo: rpc,
            grid,
            combo_weights,
            combo_rates,
            n_neurons,
            block,
            ring_len,
            nk,
            record,
        })
    }

    fn record_from_spec(spec: &Spec, names: &[String], sizes: &[u32]) -> Result<SpikingRecord> {
        let rec = &spec.record;
        let activity = ActivityRecord::from_spec(spec, MAX_WIN)?;
        let mut spikes = vec![0u32; names.len()];
        for (i, s) in rec.spikes.iter().enumerate() {
            let p = spec.population_index(&s.population).unwrap_or(0);
            if s.first > u64::from(sizes[p]) {
                return Err(spec.error(
                    format!("record.spikes[{i}].first"),
                    format!("{}: `{}` has {} neurons", s.first, names[p], sizes[p]),
                ));
            }
            spikes[p] = s.first as u32;
        }
        let mut traces = vec![0u32; names.len()];
        let mut every = None;
        for (i, t) in rec.traces.iter().enumerate() {
            let key = format!("record.traces[{i}]");
            let p = spec.population_index(&t.population).unwrap_or(0);
            if t.variable != "V_m" {
                return Err(spec.error(
                    format!("{key}.variable"),
                    format!("`{}`: spiking neurons record `V_m`", t.variable),
                ));
            }
            if t.replicas.is_some() {
                return Err(spec.error(
                    format!("{key}.replicas"),
                    "traces of spiking networks come from replica 0: give `first` neurons",
                ));
            }
            let first = t.first.unwrap_or(1);
            if first > u64::from(sizes[p]) || first > 4096 {
                return Err(spec.error(
                    format!("{key}.first"),
                    format!(
                        "{first}: at most {} (population size, and 4096)",
                        sizes[p].min(4096)
                    ),
                ));
            }
            if every.is_some_and(|e| e != t.every) {
                return Err(spec.error(
                    format!("{key}.every"),
                    "all traces of a run share one `every`",
                ));
            }
            every = Some(t.every);
            traces[p] = first as u32;
        }
        Ok(SpikingRecord {
            activity,
            spikes,
            traces,
            trace_every: every.unwrap_or(1),
            plots: rec.plots,
        })
    }

    /// Populations.
    pub fn pops(&self) -> usize {
        self.names.len()
    }

    /// First neuron of each population within a replica.
    pub fn offsets(&self) -> Vec<u32> {
        self.sizes
            .iter()
            .scan(0u32, |acc, &s| {
                let o = *acc;
                *acc += s;
                Some(o)
            })
            .collect()
    }

    /// Neurons in all replicas.
    pub fn n_total(&self) -> u32 {
        self.n_neurons * self.replicas
    }

    /// Traced neurons (columns of the trace).
    pub fn n_trace(&self) -> u32 {
        self.record.traces.iter().sum()
    }

    /// Smallest refractory period in steps (bounds spikes per neuron and block).
    pub fn min_refractory_steps(&self) -> u32 {
        self.coef.iter().map(|c| c.refr_steps).min().unwrap_or(0)
    }

    /// Spike-list capacity per block: each neuron spikes at most once per `refr + 1` steps.
    pub fn spike_capacity(&self) -> u64 {
        u64::from(self.n_total()) * u64::from(self.block.div_ceil(self.min_refractory_steps() + 1))
    }

    /// Words per ring slot (every projection's counts for every target of every replica).
    pub fn ring_row(&self) -> u32 {
        self.projections
            .iter()
            .map(|p| self.sizes[p.tgt] * self.replicas)
            .sum()
    }

    /// Expected synapses over all replicas (stored and procedural).
    pub fn expected_synapses(&self) -> f64 {
        self.projections
            .iter()
            .map(|p| p.conn.expected_synapses())
            .sum::<f64>()
            * f64::from(self.replicas)
    }

    /// Expected stored synapses over all replicas (procedural projections store none).
    pub fn expected_stored_synapses(&self) -> f64 {
        self.projections
            .iter()
            .filter(|p| !p.conn.procedural)
            .map(|p| p.conn.expected_synapses())
            .sum::<f64>()
            * f64::from(self.replicas)
    }

    /// Builds the connectivity of every projection and replica.
    /// With `device`, the projections the device can build are left to it
    /// ([`connect::device_buildable`]).
    pub fn connect(&self, device: bool) -> Result<Connectivity> {
        let specs: Vec<ConnSpec> = self.projections.iter().map(|p| p.conn).collect();
        let on_device: Vec<bool> = specs
            .iter()
            .map(|c| device && connect::device_buildable(c))
            .collect();
        connect::build(&specs, self.replicas, self.n_neurons, self.seed, &on_device)
    }

    /// The population, port, Poisson and projection tables (`row0` from the connectivity).
    pub fn tables(&self, conn: &Connectivity) -> (Vec<PopInfo>, Vec<Port>, Vec<Pois>, Vec<Proj>) {
        let offsets = self.offsets();
        let np = self.pops();
        let mut port_base = Vec::new();
        let mut acc = 0u32;
        for p in &self.projections {
            port_base.push(acc);
            acc += self.sizes[p.tgt] * self.replicas;
        }
        let mut pops = Vec::new();
        let mut ports = Vec::new();
        let mut pois = Vec::new();
        let mut proj = Vec::new();
        // Outgoing projections are the same for every combination.
        let mut out_range = Vec::new();
        for p in 0..np {
            let out0 = proj.len() as u32;
            for (k, pr) in self.projections.iter().enumerate() {
                if pr.src == p {
                    proj.push(Proj {
                        port_base: port_base[k],
                        tgt_size: self.sizes[pr.tgt],
                        delay: pr.delay,
                        row0: conn.row0.get(k).copied().unwrap_or(0),
                        ..Proj::procedural(&pr.conn, k as u32)
                    });
                }
            }
            out_range.push((out0, proj.len() as u32 - out0));
        }
        for c in 0..self.combinations() as usize {
            let mut trace_base = 0u32;
            for (p, &offset) in offsets.iter().enumerate().take(np) {
                let mut info = PopInfo {
                    offset,
                    size: self.sizes[p],
                    port0: ports.len() as u32,
                    pois0: pois.len() as u32,
                    out0: out_range[p].0,
                    n_out: out_range[p].1,
                    rec_spikes: self.record.spikes[p],
                    trace_first: self.record.traces[p],
                    trace_base,
                    pop: p as u32,
                    combo: c as u32,
                    ..Default::default()
                };
                trace_base += self.record.traces[p];
                for (k, pr) in self.projections.iter().enumerate() {
                    if pr.tgt == p {
                        ports.push(Port {
                            base: port_base[k],
                            weight: self.combo_weights[c][k] as f32,
                        });
                    }
                }
                for (k, &(tp, _, w)) in self.poisson.iter().enumerate() {
                    if tp == p {
                        let lambda = (self.combo_rates[c][k] * self.dt / 1000.0) as f32;
                        pois.push(Pois {
                            lambda,
                            weight: w as f32,
                            purpose: poisson_purpose(k),
                            p0: crate::math::exp(-lambda),
                        });
                    }
                }
                info.n_ports = ports.len() as u32 - info.port0;
                info.n_pois = pois.len() as u32 - info.pois0;
                pops.push(info);
            }
        }
        (pops, ports, pois, proj)
    }

    /// Step currents for steps `k0 .. k0 + n`, `[j * pops + p]`: the value of step `k - 1`
    /// acts at step `k` (NEST sets the stimulus current at the end of a step for the next);
    /// empty without stimuli.
    pub fn stim_table(&self, k0: u64, n: u64) -> Vec<f32> {
        if self.stimuli.is_empty() {
            return Vec::new();
        }
        if k0 == 0 {
            let mut t = vec![0f32; self.pops()];
            t.extend(self.stimuli.table(0, n.saturating_sub(1)));
            t
        } else {
            self.stimuli.table(k0 - 1, n)
        }
    }

    /// Sweep combinations.
    pub fn combinations(&self) -> u64 {
        self.grid.combinations()
    }

    /// Activity bins of the run.
    pub fn bins(&self) -> u64 {
        self.steps / self.record.activity.bin_steps
    }
}
