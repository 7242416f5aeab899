//! A spiking network built from a spec: neuron model and coefficients per population,
//! projections (delays in steps, ports, connectivity), Poisson inputs, step currents, the
//! block length and ring of spike counts, and what to record. Every check happens here,
//! before any output exists.

use super::connect::{self, ConnSpec, Connectivity};
use super::kernel::{poisson_purpose, rank_part, Pois, PopInfo, Port, Proj};
use super::params::{NeuronCoef, NeuronModel, NeuronParams};
use super::synapse::{weight_resolution, SynDist};
use crate::error::Result;
use crate::models::common::{ActivityRecord, StepStimuli};
use crate::rng::Purpose;
use crate::spec::{Connectivity as Storage, Rule, Spec, Stimulus, SweepGrid, Value};

/// Most populations per network (`MAX_POPS` in shaders/shared/network.wgsl).
pub const MAX_POPS: usize = 16;
/// Stored synapses (bytes, all replicas) above which `connectivity = "auto"` projections
/// become procedural.
pub const AUTO_PROCEDURAL_BYTES: f64 = 256.0 * 1024.0 * 1024.0;
/// Stored synapses (bytes) above which `connectivity = "auto"` `fixed_total_number`
/// projections become procedural on the CPU path (on a GPU: above what its synapse bindings
/// hold). Stored and procedural rows of that rule are the same synapses, so the choice
/// changes speed and memory, never a result.
pub const AUTO_STORED_CPU_BYTES: f64 = 8.0 * 1024.0 * 1024.0 * 1024.0;
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
    /// Delay in steps (>= 1); delays drawn per synapse: the shortest.
    pub delay: u32,
    /// The longest delay in steps (`delay` unless drawn).
    pub delay_max: u32,
    /// Weight per spike (pA, or mV for iaf_psc_delta); weights drawn per synapse: their mean.
    pub weight: f64,
    /// Weights drawn per synapse: the resolution of their integer sums (0 otherwise).
    pub resolution: f64,
    /// Connection rule and its numbers (and the distributions drawn per synapse).
    pub conn: ConnSpec,
    /// `connectivity = "auto"` in the spec.
    pub storage_auto: bool,
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
    /// Initial V_m drawn per neuron, per population (kind 0: the population's `V_m`), and
    /// the offset of the state's V (E_L for the iaf models, whose state is V - E_L).
    pub v_dist: Vec<(SynDist, f32)>,
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
        let mut v_dists = Vec::new();
        for (i, p) in spec.populations.iter().enumerate() {
            let key = format!("population[{i}]");
            // `V_m` may be a distribution: each neuron starts from its own draw.
            let mut table = p.params.clone();
            let mut v_dist = None;
            if let Some(v @ toml::Value::Table(_)) = p.params.get("V_m") {
                let d: crate::spec::Dist = v.clone().try_into().map_err(|e| {
                    spec.error(
                        format!("{key}.params.V_m"),
                        format!("a number or a distribution: {e}"),
                    )
                })?;
                d.validate()
                    .map_err(|(f, m)| spec.error(format!("{key}.params.V_m.{f}"), m))?;
                table.insert("V_m".into(), toml::Value::Float(d.mean_drawn()));
                v_dist = Some(d);
            }
            let np = NeuronParams::from_table(model, &table)
                .map_err(|e| spec.error(format!("{key}.params"), e))?;
            v_dists.push(v_dist);
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
            let (delay, delay_max, ddist) = match &pr.delay {
                Some(Value::Drawn(d)) => {
                    let mut sd = SynDist::new(d, 1.0 / dt, Purpose::Delay.word() + 256 * i as u32);
                    let (lo, hi) = (sd.steps(sd.lo), sd.steps(sd.hi));
                    sd.base = lo;
                    if lo == hi {
                        (lo, lo, SynDist::default())
                    } else {
                        (lo, hi, sd)
                    }
                }
                other => {
                    let delay_ms = other.as_ref().and_then(Value::fixed).unwrap_or(dt);
                    let delay = (delay_ms / dt).round().max(1.0) as u32;
                    if ((f64::from(delay)) * dt - delay_ms).abs() > 1e-6 * delay_ms {
                        return Err(spec.error(
                            format!("{key}.delay"),
                            format!(
                                "{delay_ms} ms: must be a whole number of time steps ({dt} ms)"
                            ),
                        ));
                    }
                    (delay, delay, SynDist::default())
                }
            };
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
            let mut conn = ConnSpec {
                rule: pr.rule,
                src: (offsets[src], sizes[src]),
                tgt: (offsets[tgt], sizes[tgt]),
                indegree: indegree.min(u64::from(u32::MAX)) as u32,
                n_total: pr.n.unwrap_or(0),
                p: pr.p.unwrap_or(0.0),
                autapses: pr.autapses,
                multapses: pr.multapses,
                procedural: false,
                words: 1,
                dbits: 0,
                wdist: SynDist::default(),
                ddist,
            };
            if pr.rule == Rule::FixedTotalNumber {
                let pairs = u64::from(sizes[src]) * u64::from(sizes[tgt]);
                if conn.n_total > 0 && (pairs == 0 || (!pr.multapses && conn.n_total > pairs)) {
                    return Err(spec.error(
                        format!("{key}.N"),
                        format!(
                            "{}: more than the {pairs} pairs without multapses",
                            conn.n_total
                        ),
                    ));
                }
                if !pr.autapses && src == tgt && sizes[src] < 2 && conn.n_total > 0 {
                    return Err(spec.error(
                        format!("{key}.N"),
                        "a population of one neuron has no pair without autapses",
                    ));
                }
                if !pr.multapses {
                    return Err(spec.error(
                        format!("{key}.multapses"),
                        "false: fixed_total_number draws pairs with multapses (as NEST's microcircuit example); use pairwise_bernoulli for at most one synapse per pair",
                    ));
                }
            }
            if ddist.kind != 0 {
                let span = delay_max - delay;
                let dbits = 32 - span.leading_zeros();
                let tbits = 32 - sizes[tgt].saturating_sub(1).leading_zeros();
                if dbits + tbits > 32 {
                    return Err(spec.error(
                        format!("{key}.delay"),
                        format!(
                            "delays of {delay} to {delay_max} steps onto {} neurons: a synapse keeps its target and delay in 32 bits ({tbits} + {dbits}); narrow `min`/`max`",
                            sizes[tgt]
                        ),
                    ));
                }
                conn.dbits = dbits;
            }
            let mut resolution = 0.0;
            let weight = pr.weight.mean_drawn(true);
            if let Value::Drawn(d) = &pr.weight {
                let d = d.keep_sign();
                let k_max = conn.max_indegree(spec.simulation.seed, i as u32, replicas, n_neurons);
                let mut wd = SynDist::new(&d, 1.0, Purpose::Weight.word() + 256 * i as u32);
                resolution = weight_resolution(f64::from(wd.max_abs()), k_max, weight.abs())
                    .map_err(|m| spec.error(format!("{key}.weight"), m))?;
                wd.scale = (1.0 / resolution) as f32;
                conn.wdist = wd;
                conn.words = 2;
            }
            projections.push(ProjectionInfo {
                src,
                tgt,
                delay,
                delay_max,
                weight,
                resolution,
                conn,
                storage_auto: pr.connectivity == Storage::Auto,
            });
            if pr.connectivity == Storage::Procedural {
                if !matches!(
                    pr.rule,
                    Rule::PairwiseBernoulli
                        | Rule::AllToAll
                        | Rule::OneToOne
                        | Rule::FixedTotalNumber
                ) {
                    return Err(spec.error(
                        format!("{key}.connectivity"),
                        "procedural connectivity regenerates a source's targets, which fixed_indegree (drawn per target) cannot: use pairwise_bernoulli, fixed_total_number or stored",
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
            .map(|p| p.conn.expected_synapses() * f64::from(p.conn.words))
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
        let ring_len = projections.iter().map(|p| p.delay_max).max().unwrap_or(1) + 1;
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
                            if pr.conn.wdist.kind != 0 {
                                return Err(spec.error(
                                    &key,
                                    "this projection's weights are drawn per synapse: sweep a population parameter or a Poisson rate instead",
                                ));
                            }
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
        let v_dist = v_dists
            .iter()
            .enumerate()
            .map(|(p, d)| match d {
                Some(d) => {
                    let sd = SynDist::new(d, 1.0, Purpose::Init.word());
                    // The state's V is V_m - (V_m - v_init): E_L for iaf, 0 for gif.
                    let off = (d.mean_drawn() - f64::from(coef[p].v_init)) as f32;
                    (sd, off)
                }
                None => (SynDist::default(), 0.0),
            })
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
            v_dist,
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

    /// Words per ring slot (every projection's counts for every target of every replica that
    /// rank `split.0` of `split.1` updates; all of them on one process).
    pub fn ring_row(&self, split: (u32, u32)) -> u32 {
        self.projections
            .iter()
            .map(|p| {
                let (lo, hi) = rank_part(self.sizes[p.tgt], split);
                (hi - lo) * self.replicas
            })
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

    /// Expected stored synapse words over all replicas (procedural projections store none;
    /// synapses with a drawn weight take two words).
    pub fn expected_stored_words(&self) -> f64 {
        self.projections
            .iter()
            .filter(|p| !p.conn.procedural)
            .map(|p| p.conn.expected_synapses() * f64::from(p.conn.words))
            .sum::<f64>()
            * f64::from(self.replicas)
    }

    /// The network with its `auto` `fixed_total_number` projections made procedural when the
    /// stored synapse words would take more than `budget` bytes (their stored and procedural
    /// rows are the same synapses, so only speed and memory change).
    pub fn with_storage_budget(&self, budget: f64) -> SpikingNetwork {
        let mut net = self.clone();
        if net.expected_stored_words() * 4.0 > budget {
            for p in &mut net.projections {
                if p.storage_auto && p.conn.rule == Rule::FixedTotalNumber {
                    p.conn.procedural = true;
                }
            }
        }
        net
    }

    /// Builds the connectivity of every projection and replica.
    /// With `device`, the projections the device can build are left to it
    /// ([`connect::device_buildable`]).
    pub fn connect(&self, device: bool) -> Result<Connectivity> {
        self.connect_replicas(device, (0, self.replicas), (0, 1), (0, 1))
    }

    /// [`SpikingNetwork::connect`] with synapses only in replicas `own.0 .. own.1` (an MPI
    /// rank's share; the other replicas' rows are empty), and only those onto the targets
    /// that worker part `part.0` of `part.1` of rank `split.0` of `split.1` delivers to
    /// ([`super::kernel::part_range`]).
    pub fn connect_replicas(
        &self,
        device: bool,
        own: (u32, u32),
        split: (u32, u32),
        part: (u32, u32),
    ) -> Result<Connectivity> {
        let specs: Vec<ConnSpec> = self.projections.iter().map(|p| p.conn).collect();
        let on_device: Vec<bool> = specs
            .iter()
            .map(|c| device && connect::device_buildable(c))
            .collect();
        connect::build_range(
            &specs,
            self.replicas,
            own,
            split,
            part,
            self.n_neurons,
            self.seed,
            &on_device,
        )
    }

    /// The population, port, Poisson and projection tables (`row0` from the connectivity),
    /// for rank `split.0` of `split.1` sharing the neurons ((0, 1): one process).
    pub fn tables(
        &self,
        conn: &Connectivity,
        split: (u32, u32),
    ) -> (Vec<PopInfo>, Vec<Port>, Vec<Pois>, Vec<Proj>) {
        let offsets = self.offsets();
        let np = self.pops();
        let mut port_base = Vec::new();
        let mut acc = 0u32;
        for p in &self.projections {
            port_base.push(acc);
            let (lo, hi) = rank_part(self.sizes[p.tgt], split);
            acc += (hi - lo) * self.replicas;
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
                    let (tgt_lo, tgt_hi) = rank_part(self.sizes[pr.tgt], split);
                    proj.push(Proj {
                        port_base: port_base[k],
                        tgt_size: self.sizes[pr.tgt],
                        tgt_lo,
                        tgt_hi,
                        delay: pr.delay,
                        row0: conn.row0.get(k).copied().unwrap_or(0),
                        words: pr.conn.words,
                        dbits: pr.conn.dbits,
                        wdist: pr.conn.wdist,
                        ddist: pr.conn.ddist,
                        ..Proj::procedural(&pr.conn, k as u32)
                    });
                }
            }
            out_range.push((out0, proj.len() as u32 - out0));
        }
        // This process's neurons of each population, and where they start among those it
        // holds state for (one replica's worth after another).
        let own: Vec<(u32, u32)> = (0..np).map(|p| rank_part(self.sizes[p], split)).collect();
        let own_stride: u32 = own.iter().map(|&(lo, hi)| hi - lo).sum();
        let own_base: Vec<u32> = own
            .iter()
            .scan(0u32, |acc, &(lo, hi)| {
                let at = *acc;
                *acc += hi - lo;
                Some(at)
            })
            .collect();
        for c in 0..self.combinations() as usize {
            let mut trace_base = 0u32;
            for (p, &offset) in offsets.iter().enumerate().take(np) {
                let (own_lo, own_hi) = own[p];
                let mut info = PopInfo {
                    offset,
                    size: self.sizes[p],
                    own_lo,
                    own_hi,
                    own_base: own_base[p],
                    own_stride,
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
                        // Drawn weights arrive as sums of quanta of the resolution, with
                        // the projection's sign.
                        let weight = if pr.conn.wdist.kind != 0 {
                            (pr.resolution * pr.weight.signum()) as f32
                        } else {
                            self.combo_weights[c][k] as f32
                        };
                        ports.push(Port {
                            base: port_base[k],
                            weight,
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
