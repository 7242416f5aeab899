//! The TOML spec: what to simulate, how long, what to record, and which parameters to sweep.
//!
//! ```toml
//! [simulation]
//! dt = 0.1          # ms
//! t_end = 20.0      # ms
//! seed = 42
//! backend = "auto"  # auto | gpu | cpu
//! replicas = 1      # independent copies of the whole network per sweep point
//!
//! [[population]]
//! name = "E"
//! model = "rate"
//! params = { tau = 1.0, a = 1.2, theta = 2.8 }
//!
//! [[projection]]
//! source = "E"
//! target = "E"
//! weight = 5.0
//!
//! [[stimulus]]
//! kind = "step_current"
//! target = "E"
//! times = [0.0, 10.0]        # ms
//! amplitudes = [0.5, 1.0]
//!
//! [record]
//! traces = [{ population = "E", variable = "r", replicas = 10, every = 1 }]
//!
//! [sweep]
//! "E.w" = [0.0, 5.0]
//! "E.I_ext" = { start = 0.0, stop = 1.0, num = 11 }
//! ```
//!
//! Parsing rejects unknown keys; [`Spec::validate`] rejects values out of range. Every error
//! names the file and the key and says what is allowed, on one line.

pub mod dist;
mod sweep;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::backend::BackendChoice;
use crate::error::{Error, Result};

pub use dist::{Dist, DistKind, Value};
pub use sweep::{SweepAxis, SweepGrid, SweepValues};

/// A whole spec file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Time step, duration, seed, backend, replicas.
    pub simulation: Simulation,
    /// The populations, in order.
    #[serde(default, rename = "population")]
    pub populations: Vec<Population>,
    /// Connections between populations.
    #[serde(default, rename = "projection")]
    pub projections: Vec<Projection>,
    /// Time-dependent inputs.
    #[serde(default, rename = "stimulus")]
    pub stimuli: Vec<Stimulus>,
    /// What to record.
    #[serde(default)]
    pub record: Record,
    /// Parameter grids: each combination becomes `replicas` independent replicas.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub sweep: toml::Table,
    /// Down-scaling of a network written at full size (spiking and mesoscopic models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
    /// Where the spec came from (for error messages); not part of the file.
    #[serde(skip)]
    pub source: String,
}

/// `[scale]`: a network written at full size run with fewer neurons and/or smaller
/// in-degrees, as NEST's microcircuit example (`N_scaling`, `K_scaling`) does: population
/// sizes x `neurons`; in-degrees x `indegrees` (`fixed_indegree`'s `indegree`,
/// `fixed_total_number`'s `N` x `neurons` x `indegrees`, `pairwise_bernoulli`'s `p` x
/// `indegrees` / `neurons`, Poisson input rates x `indegrees`). With `indegrees` != 1 every
/// weight is divided by sqrt(`indegrees`) and each population's `I_e` gains the DC current
/// that keeps its mean input: (1 - sqrt(indegrees)) x the mean synaptic current of the full
/// network, computed from `rates` (Hz, each source population's mean rate at full scale,
/// NEST's `full_mean_rates`) and the Poisson inputs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// Factor on population sizes (> 0; sizes are rounded, at least 1).
    #[serde(default = "one_f64")]
    pub neurons: f64,
    /// Factor on in-degrees (> 0).
    #[serde(default = "one_f64")]
    pub indegrees: f64,
    /// Full-scale mean rate (Hz) per population name, for the DC compensation.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub rates: std::collections::BTreeMap<String, f64>,
}

fn one_f64() -> f64 {
    1.0
}

/// `[simulation]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulation {
    /// Time step in ms, > 0.
    pub dt: f64,
    /// Duration in ms, >= dt.
    pub t_end: f64,
    /// Seed of every random stream (Philox key).
    #[serde(default)]
    pub seed: u64,
    /// Backend when the command line does not choose one.
    #[serde(default)]
    pub backend: BackendChoice,
    /// Independent copies of the network per sweep point (>= 1).
    #[serde(default = "one_u32")]
    pub replicas: u32,
}

fn one_u32() -> u32 {
    1
}

fn one_u64() -> u64 {
    1
}

/// `[[population]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// Unique name, used by projections, stimuli, records and sweep keys.
    pub name: String,
    /// Model name, e.g. `rate`.
    pub model: String,
    /// Number of units (neurons for spiking models; 1 for a rate population).
    #[serde(default = "one_u64")]
    pub size: u64,
    /// Model parameters; each model documents its own (NEST names where NEST has the model).
    #[serde(default)]
    pub params: toml::Table,
}

/// Connection rules (NEST's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Every source unit to every target unit.
    #[default]
    AllToAll,
    /// Unit i to unit i (equal sizes).
    OneToOne,
    /// Each target draws `indegree` sources.
    FixedIndegree,
    /// Each pair connected with probability `p`.
    PairwiseBernoulli,
    /// `N` synapses in all, each between a uniformly drawn source and target (multapses and
    /// autapses as allowed).
    FixedTotalNumber,
}

/// `[[projection]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Projection {
    /// Source population name.
    pub source: String,
    /// Target population name.
    pub target: String,
    /// Connection rule.
    #[serde(default)]
    pub rule: Rule,
    /// Connection probability for `pairwise_bernoulli`, in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    /// Number of sources per target for `fixed_indegree`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indegree: Option<u64>,
    /// Number of synapses for `fixed_total_number` (NEST's `N`).
    #[serde(default, rename = "N", skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// Synaptic weight (model units: dimensionless for rate models, pA or mV for spiking):
    /// a number, or for spiking networks a distribution drawn per synapse.
    pub weight: Value,
    /// Transmission delay in ms (at least one step; default one step): a number, or for
    /// spiking networks a distribution drawn per synapse (rounded to steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Value>,
    /// Whether a unit may connect to itself (NEST's `allow_autapses`, default true).
    #[serde(default = "yes")]
    pub autapses: bool,
    /// Whether a pair may be connected more than once (NEST's `allow_multapses`, default true).
    #[serde(default = "yes")]
    pub multapses: bool,
    /// Spiking networks: keep the synapses (`stored`) or regenerate each spike's targets from
    /// the random stream when it is delivered (`procedural`, no synapse memory; for
    /// `pairwise_bernoulli` and `all_to_all`). `auto` (default) stores them unless the
    /// network's synapses would take more than 256 MiB.
    #[serde(default, skip_serializing_if = "is_auto")]
    pub connectivity: Connectivity,
}

/// How a spiking network keeps a projection's synapses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Connectivity {
    /// Stored unless the network would need more than 256 MiB of synapses.
    #[default]
    Auto,
    /// Compressed rows by source, built once.
    Stored,
    /// Targets regenerated from the random stream at each delivery (GeNN's procedural
    /// connectivity).
    Procedural,
}

fn is_auto(c: &Connectivity) -> bool {
    *c == Connectivity::Auto
}

fn yes() -> bool {
    true
}

/// `[[stimulus]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Stimulus {
    /// Piecewise-constant input: `amplitudes[i]` from `times[i]` (ms) until the next time.
    /// Before `times[0]` the stimulus is 0. Units are the target model's input units.
    StepCurrent {
        /// Target population.
        target: String,
        /// Switch times in ms, increasing.
        times: Vec<f64>,
        /// Amplitude from each time on.
        amplitudes: Vec<f64>,
    },
    /// Independent Poisson spike trains into every neuron of a spiking population (NEST's
    /// `poisson_generator` connected to each neuron): `rate` in Hz per neuron, each spike
    /// delivered with `weight` (pA for `*_psc_exp` models, mV for `iaf_psc_delta`).
    Poisson {
        /// Target population.
        target: String,
        /// Rate per neuron in Hz, >= 0.
        rate: f64,
        /// Weight of each input spike (model units).
        weight: f64,
    },
}

impl Stimulus {
    /// The target population.
    pub fn target(&self) -> &str {
        match self {
            Stimulus::StepCurrent { target, .. } | Stimulus::Poisson { target, .. } => target,
        }
    }

    /// Value at time `t` ms.
    pub fn value_at(&self, t: f64) -> f64 {
        match self {
            Stimulus::StepCurrent {
                times, amplitudes, ..
            } => {
                let i = times.partition_point(|&s| s <= t);
                if i == 0 {
                    0.0
                } else {
                    amplitudes[i - 1]
                }
            }
            Stimulus::Poisson { .. } => 0.0,
        }
    }
}

/// `[record]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Bin of population activity in ms (spiking models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_bin: Option<f64>,
    /// Spike times of the first `first` neurons of a population.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spikes: Vec<SpikeRecord>,
    /// Traces of state variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traces: Vec<TraceRecord>,
    /// Per-replica summaries (rate models): `final`, `mean`, `above:<level>`,
    /// `crossings:<low>:<high>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summaries: Vec<String>,
    /// Start of the window of the `mean`/`above`/`crossings` summaries in ms (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_from: Option<f64>,
    /// Replicas whose population activity is recorded bin by bin (population models;
    /// default: up to 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_replicas: Option<u64>,
    /// Windows `[start, end]` in ms for per-replica activity statistics (population models;
    /// default: the whole run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<[f64; 2]>,
    /// Write PNG plots of what was recorded (default true).
    #[serde(default = "yes")]
    pub plots: bool,
}

impl Default for Record {
    fn default() -> Self {
        Self {
            activity_bin: None,
            spikes: Vec::new(),
            traces: Vec::new(),
            summaries: Vec::new(),
            summary_from: None,
            activity_replicas: None,
            windows: Vec::new(),
            plots: true,
        }
    }
}

/// One `[record] spikes` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeRecord {
    /// Population name.
    pub population: String,
    /// Number of neurons from index 0.
    pub first: u64,
}

/// One `[record] traces` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceRecord {
    /// Population name.
    pub population: String,
    /// State variable (model-specific, e.g. `r`, `V_m`).
    pub variable: String,
    /// Number of replicas (rate models) to record, from replica 0; all when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u64>,
    /// Number of neurons (spiking models) from index 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<u64>,
    /// Record every `every` steps (default 1).
    #[serde(default = "one_u32")]
    pub every: u32,
    /// `lif` only: also write each recorded neuron's V as `trace_<pop>_V_m_<i>.wav` (16-bit
    /// PCM mono, sample rate 1 / (every dt), V scaled to the full range).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wav: bool,
}

fn spec_err(source: &str, key: impl std::fmt::Display, message: impl Into<String>) -> Error {
    Error::Spec {
        location: format!("{source}: {key}"),
        message: message.into(),
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

impl Spec {
    /// Reads, parses and validates a spec file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses a spec given as JSON with the TOML file's structure (tables as objects, arrays
    /// of tables as arrays of objects): the Python module's dict specs. The JSON becomes TOML
    /// text first, so every check and message is the file's.
    pub fn parse_json(text: &str, source: &str) -> Result<Self> {
        let bad = |message: String| Error::Spec {
            location: source.to_string(),
            message,
        };
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not a spec: {e}")))?;
        let value = toml::Value::try_from(json).map_err(|e| {
            bad(format!(
                "{e} (a spec holds tables, lists, strings, numbers and booleans; no None)"
            ))
        })?;
        let text = toml::to_string(&value).map_err(|e| bad(e.to_string()))?;
        Self::parse(&text, source)
    }

    /// Parses and validates spec text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let mut spec: Spec = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| {
                let (l, c) = line_col(text, s.start);
                // The whole line names the key even when the span is only the value.
                let line = text.lines().nth(l - 1).unwrap_or_default().trim();
                let key: String = if line.is_empty() {
                    text[s.clone()].chars().take(60).collect()
                } else {
                    line.chars().take(60).collect()
                };
                (format!("line {l}, column {c}"), key)
            });
            let msg = e.message().trim().replace('\n', " ");
            match at {
                Some((pos, key)) => Error::Spec {
                    location: format!("{source}: {pos} (`{}`)", key.trim()),
                    message: msg,
                },
                None => Error::Spec {
                    location: source.to_string(),
                    message: msg,
                },
            }
        })?;
        spec.source = source.to_string();
        spec.validate()?;
        Ok(spec)
    }

    /// Checks every value that does not depend on the model: positive finite times, sizes,
    /// probabilities, references to populations, stimulus shapes, sweep keys.
    pub fn validate(&self) -> Result<()> {
        let src = self.source.as_str();
        let sim = &self.simulation;
        if !(sim.dt.is_finite() && sim.dt > 0.0) {
            return Err(spec_err(
                src,
                "simulation.dt",
                format!("{} ms: must be a finite number > 0", sim.dt),
            ));
        }
        if !(sim.t_end.is_finite() && sim.t_end >= sim.dt) {
            return Err(spec_err(
                src,
                "simulation.t_end",
                format!("{} ms: must be finite and >= dt ({} ms)", sim.t_end, sim.dt),
            ));
        }
        let steps = (sim.t_end / sim.dt).round();
        if steps > f64::from(u32::MAX) {
            return Err(spec_err(
                src,
                "simulation.t_end",
                format!("{steps} steps: at most {} steps per run", u32::MAX),
            ));
        }
        if sim.replicas == 0 {
            return Err(spec_err(src, "simulation.replicas", "0: must be >= 1"));
        }
        if self.populations.is_empty() {
            return Err(spec_err(
                src,
                "population",
                "no [[population]]: a spec needs at least one",
            ));
        }
        for (i, p) in self.populations.iter().enumerate() {
            let key = format!("population[{i}]");
            if p.name.is_empty() || p.name.contains(['.', '>', ' ', '/']) {
                return Err(spec_err(
                    src,
                    format!("{key}.name"),
                    format!(
                        "`{}`: must be non-empty without '.', '>', '/' or spaces",
                        p.name
                    ),
                ));
            }
            if self.populations[..i].iter().any(|q| q.name == p.name) {
                return Err(spec_err(
                    src,
                    format!("{key}.name"),
                    format!("`{}` is used twice", p.name),
                ));
            }
            if p.size == 0 {
                return Err(spec_err(src, format!("{key}.size"), "0: must be >= 1"));
            }
            crate::models::check_model_name(&p.model)
                .map_err(|m| spec_err(src, format!("{key}.model"), m))?;
            for (k, v) in &p.params {
                check_finite(v).map_err(|m| spec_err(src, format!("{key}.params.{k}"), m))?;
            }
        }
        for (i, pr) in self.projections.iter().enumerate() {
            let key = format!("projection[{i}]");
            for (field, name) in [("source", &pr.source), ("target", &pr.target)] {
                if self.population(name).is_none() {
                    return Err(spec_err(
                        src,
                        format!("{key}.{field}"),
                        format!(
                            "`{name}`: no population of that name ({})",
                            self.population_names()
                        ),
                    ));
                }
            }
            match &pr.weight {
                Value::Fixed(w) if !w.is_finite() => {
                    return Err(spec_err(
                        src,
                        format!("{key}.weight"),
                        format!("{w}: must be a finite number"),
                    ));
                }
                Value::Fixed(_) => {}
                Value::Drawn(d) => {
                    if d.kind().ok() == Some(DistKind::Normal) && d.mean == Some(0.0) {
                        return Err(spec_err(
                            src,
                            format!("{key}.weight.mean"),
                            "0: the mean's sign is the sign every weight keeps (excitatory > 0, inhibitory < 0)",
                        ));
                    }
                    d.validate()
                        .map_err(|(f, m)| spec_err(src, format!("{key}.weight.{f}"), m))?;
                    d.keep_sign()
                        .validate()
                        .map_err(|(f, m)| spec_err(src, format!("{key}.weight.{f}"), m))?;
                    let (lo, hi) = d.keep_sign().support();
                    if lo < 0.0 && hi > 0.0 {
                        return Err(spec_err(
                            src,
                            format!("{key}.weight"),
                            format!("[{lo}, {hi}] holds both signs: a projection's weights keep one sign (excitatory or inhibitory)"),
                        ));
                    }
                }
            }
            if let Some(p) = pr.p {
                if !(0.0..=1.0).contains(&p) {
                    return Err(spec_err(
                        src,
                        format!("{key}.p"),
                        format!("{p}: must be in [0, 1]"),
                    ));
                }
            }
            match pr.rule {
                Rule::PairwiseBernoulli if pr.p.is_none() => {
                    return Err(spec_err(
                        src,
                        format!("{key}.p"),
                        "missing: rule pairwise_bernoulli needs p in [0, 1]",
                    ));
                }
                Rule::FixedIndegree if pr.indegree.is_none() => {
                    return Err(spec_err(
                        src,
                        format!("{key}.indegree"),
                        "missing: rule fixed_indegree needs indegree >= 0",
                    ));
                }
                Rule::FixedTotalNumber if pr.n.is_none() => {
                    return Err(spec_err(
                        src,
                        format!("{key}.N"),
                        "missing: rule fixed_total_number needs N >= 0 (synapses in all)",
                    ));
                }
                _ => {}
            }
            match &pr.delay {
                Some(Value::Fixed(d)) if !(d.is_finite() && *d >= sim.dt * (1.0 - 1e-9)) => {
                    return Err(spec_err(
                        src,
                        format!("{key}.delay"),
                        format!("{d} ms: must be at least one time step ({} ms)", sim.dt),
                    ));
                }
                Some(Value::Fixed(_)) => {}
                Some(Value::Drawn(d)) => {
                    d.validate()
                        .map_err(|(f, m)| spec_err(src, format!("{key}.delay.{f}"), m))?;
                    let mean = d.mean_drawn();
                    if mean < sim.dt && d.min.is_none() {
                        return Err(spec_err(
                            src,
                            format!("{key}.delay"),
                            format!("mean {mean} ms is under one time step ({} ms): give `min` (draws below are drawn again; delays are at least one step)", sim.dt),
                        ));
                    }
                    if d.support().0 < 0.0 && d.min.is_none() {
                        return Err(spec_err(
                            src,
                            format!("{key}.delay.min"),
                            format!("missing: the distribution reaches {} ms; give `min` (e.g. half a time step, {} ms)", d.support().0, 0.5 * sim.dt),
                        ));
                    }
                }
                None => {}
            }
        }
        for (i, st) in self.stimuli.iter().enumerate() {
            let key = format!("stimulus[{i}]");
            if self.population(st.target()).is_none() {
                return Err(spec_err(
                    src,
                    format!("{key}.target"),
                    format!(
                        "`{}`: no population of that name ({})",
                        st.target(),
                        self.population_names()
                    ),
                ));
            }
            match st {
                Stimulus::StepCurrent {
                    times, amplitudes, ..
                } => {
                    if times.len() != amplitudes.len() || times.is_empty() {
                        return Err(spec_err(
                            src,
                            format!("{key}.amplitudes"),
                            format!("{} amplitudes for {} times: give one amplitude per time (at least one)", amplitudes.len(), times.len()),
                        ));
                    }
                    if let Some(t) = times.iter().find(|t| !t.is_finite() || **t < 0.0) {
                        return Err(spec_err(
                            src,
                            format!("{key}.times"),
                            format!("{t}: times must be finite and >= 0 ms"),
                        ));
                    }
                    if times.windows(2).any(|w| w[1] <= w[0]) {
                        return Err(spec_err(
                            src,
                            format!("{key}.times"),
                            "must be strictly increasing",
                        ));
                    }
                    if let Some(a) = amplitudes.iter().find(|a| !a.is_finite()) {
                        return Err(spec_err(
                            src,
                            format!("{key}.amplitudes"),
                            format!("{a}: must be finite"),
                        ));
                    }
                }
                Stimulus::Poisson { rate, weight, .. } => {
                    if !(rate.is_finite() && *rate >= 0.0) {
                        return Err(spec_err(
                            src,
                            format!("{key}.rate"),
                            format!("{rate} Hz: must be a finite number >= 0"),
                        ));
                    }
                    if !weight.is_finite() {
                        return Err(spec_err(
                            src,
                            format!("{key}.weight"),
                            format!("{weight}: must be finite"),
                        ));
                    }
                }
            }
        }
        if let Some(sc) = &self.scale {
            for (name, v) in [("neurons", sc.neurons), ("indegrees", sc.indegrees)] {
                if !(v.is_finite() && v > 0.0 && v <= 1e3) {
                    return Err(spec_err(
                        src,
                        format!("scale.{name}"),
                        format!("{v}: must be in (0, 1000]"),
                    ));
                }
            }
            for (name, r) in &sc.rates {
                if self.population(name).is_none() {
                    return Err(spec_err(
                        src,
                        format!("scale.rates.{name}"),
                        format!("no population of that name ({})", self.population_names()),
                    ));
                }
                if !(r.is_finite() && *r >= 0.0) {
                    return Err(spec_err(
                        src,
                        format!("scale.rates.{name}"),
                        format!("{r} Hz: must be a finite rate >= 0"),
                    ));
                }
            }
            if sc.indegrees != 1.0 {
                for pr in &self.projections {
                    if !sc.rates.contains_key(&pr.source) {
                        return Err(spec_err(
                            src,
                            format!("scale.rates.{}", pr.source),
                            "missing: with indegrees != 1 the DC compensation needs the full-scale mean rate (Hz) of every source population",
                        ));
                    }
                }
            }
        }
        let rec = &self.record;
        if let Some(b) = rec.activity_bin {
            if !(b.is_finite() && b >= sim.dt * (1.0 - 1e-9)) {
                return Err(spec_err(
                    src,
                    "record.activity_bin",
                    format!("{b} ms: must be >= dt ({} ms)", sim.dt),
                ));
            }
        }
        if let Some(f) = rec.summary_from {
            if !(f.is_finite() && f >= 0.0 && f < sim.t_end) {
                return Err(spec_err(
                    src,
                    "record.summary_from",
                    format!("{f} ms: must be in [0, t_end)"),
                ));
            }
        }
        for (i, t) in rec.traces.iter().enumerate() {
            if self.population(&t.population).is_none() {
                return Err(spec_err(
                    src,
                    format!("record.traces[{i}].population"),
                    format!(
                        "`{}`: no population of that name ({})",
                        t.population,
                        self.population_names()
                    ),
                ));
            }
            if t.every == 0 {
                return Err(spec_err(
                    src,
                    format!("record.traces[{i}].every"),
                    "0: must be >= 1",
                ));
            }
        }
        for (i, s) in rec.spikes.iter().enumerate() {
            if self.population(&s.population).is_none() {
                return Err(spec_err(
                    src,
                    format!("record.spikes[{i}].population"),
                    format!(
                        "`{}`: no population of that name ({})",
                        s.population,
                        self.population_names()
                    ),
                ));
            }
        }
        self.sweep_grid()?;
        Ok(())
    }

    /// The population named `name`.
    pub fn population(&self, name: &str) -> Option<&Population> {
        self.populations.iter().find(|p| p.name == name)
    }

    /// Index of the population named `name`.
    pub fn population_index(&self, name: &str) -> Option<usize> {
        self.populations.iter().position(|p| p.name == name)
    }

    fn population_names(&self) -> String {
        let names: Vec<_> = self
            .populations
            .iter()
            .map(|p| format!("`{}`", p.name))
            .collect();
        format!("populations: {}", names.join(", "))
    }

    /// Number of time steps, `round(t_end / dt)`.
    pub fn steps(&self) -> u64 {
        (self.simulation.t_end / self.simulation.dt).round() as u64
    }

    /// The expanded `[sweep]` grid (empty grid: one combination).
    pub fn sweep_grid(&self) -> Result<SweepGrid> {
        SweepGrid::from_table(&self.sweep, self)
    }

    /// Total replicas: grid combinations x `simulation.replicas`.
    pub fn total_replicas(&self) -> Result<u64> {
        Ok(self.sweep_grid()?.combinations() * u64::from(self.simulation.replicas))
    }

    /// The error for a problem with `key` of this spec.
    pub fn error(&self, key: impl std::fmt::Display, message: impl Into<String>) -> Error {
        spec_err(&self.source, key, message)
    }
}

/// Rejects NaN and infinities anywhere in a TOML value.
fn check_finite(v: &toml::Value) -> std::result::Result<(), String> {
    match v {
        toml::Value::Float(f) if !f.is_finite() => Err(format!("{f}: must be a finite number")),
        toml::Value::Array(a) => a.iter().try_for_each(check_finite),
        toml::Value::Table(t) => t.values().try_for_each(check_finite),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[simulation]
dt = 0.1
t_end = 20.0
seed = 3

[[population]]
name = "E"
model = "rate"
params = { tau = 1.0 }

[[stimulus]]
kind = "step_current"
target = "E"
times = [0.0, 10.0]
amplitudes = [0.5, 1.0]
"#;

    fn err(text: &str) -> String {
        Spec::parse(text, "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn good_spec_parses() {
        let s = Spec::parse(GOOD, "t.toml").expect("parse");
        assert_eq!(s.steps(), 200);
        assert_eq!(s.stimuli[0].value_at(5.0), 0.5);
        assert_eq!(s.stimuli[0].value_at(10.0), 1.0);
        assert_eq!(s.total_replicas().expect("grid"), 1);
    }

    #[test]
    fn bad_specs_name_the_key() {
        let proj = |extra: &str| {
            format!("{GOOD}\n[[projection]]\nsource = \"E\"\ntarget = \"E\"\nweight = 1.0\n{extra}")
        };
        let cases = [
            (
                GOOD.replace("dt = 0.1", "dt = -0.1"),
                vec!["simulation.dt", "> 0"],
            ),
            (
                GOOD.replace("t_end = 20.0", "t_end = 0.01"),
                vec!["simulation.t_end", ">= dt"],
            ),
            (
                GOOD.replace("dt = 0.1", "dt = 0.1\nbogus = 1"),
                vec!["t.toml", "bogus", "line 4"],
            ),
            (
                GOOD.replace("model = \"rate\"", "model = \"hodgkin\""),
                vec!["population[0].model", "hodgkin"],
            ),
            (
                GOOD.replace("model = \"rate\"", "model = \"rate\"\nsize = 0"),
                vec!["population[0].size"],
            ),
            (
                GOOD.replace("tau = 1.0", "tau = nan"),
                vec!["population[0].params.tau", "finite"],
            ),
            (
                proj("").replace("target = \"E\"\nweight", "target = \"X\"\nweight"),
                vec!["projection[0].target", "`X`"],
            ),
            (
                proj("rule = \"pairwise_bernoulli\"\np = 1.5\n"),
                vec!["projection[0].p", "[0, 1]"],
            ),
            (
                proj("delay = 0.01\n"),
                vec!["projection[0].delay", "one time step"],
            ),
            (
                GOOD.replace("amplitudes = [0.5, 1.0]", "amplitudes = [0.5]"),
                vec!["stimulus[0].amplitudes"],
            ),
            (
                GOOD.replace("times = [0.0, 10.0]", "times = [10.0, 0.0]"),
                vec!["stimulus[0].times", "increasing"],
            ),
        ];
        for (text, wants) in cases {
            let e = err(&text);
            for w in wants {
                assert!(e.contains(w), "`{e}` does not contain `{w}`");
            }
            assert!(!e.contains('\n'), "error is not one line: {e}");
        }
    }
}
