//! A rate network built from a spec: populations, the coupling matrix, stimuli, the sweep,
//! what to record, and the per-combination coefficients uploaded to both paths.

use super::kernel::{summary_bit, transfer_code, PopCoef, Specialization, MAX_POPS};
use super::params::{OuScheme, RateParams, Transfer};
use crate::error::{Error, Result};
use crate::models::common::StepStimuli;
use crate::spec::{Rule, Spec, SweepGrid};

/// A state variable a trace can record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variable {
    /// The rate r.
    R,
    /// The OU input eta.
    Eta,
}

impl Variable {
    /// Spec name.
    pub fn name(self) -> &'static str {
        match self {
            Variable::R => "r",
            Variable::Eta => "eta",
        }
    }
}

/// One requested trace.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Population index.
    pub pop: usize,
    /// Variable.
    pub var: Variable,
    /// Replicas 0..replicas.
    pub replicas: u32,
    /// Every `every` steps.
    pub every: u32,
}

impl Trace {
    /// Samples: states k = 0, every, ..., <= steps.
    pub fn samples(&self, steps: u64) -> u64 {
        steps / u64::from(self.every) + 1
    }
}

/// Per-replica summaries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Summary {
    /// r at t_end.
    Final,
    /// Time average of r over the window.
    Mean,
    /// Fraction of the window with r above a level.
    Above(f64),
    /// Passages between two levels (either direction).
    Crossings(f64, f64),
}

impl Summary {
    /// File-name part.
    pub fn tag(&self) -> String {
        match self {
            Summary::Final => "final".into(),
            Summary::Mean => "mean".into(),
            Summary::Above(_) => "above".into(),
            Summary::Crossings(..) => "crossings".into(),
        }
    }

    fn parse(s: &str) -> std::result::Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let num = |x: &str| x.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        match parts.as_slice() {
            ["final"] => Ok(Summary::Final),
            ["mean"] => Ok(Summary::Mean),
            ["above", l] => num(l)
                .map(Summary::Above)
                .ok_or_else(|| format!("`{s}`: level must be a finite number")),
            ["crossings", a, b] => match (num(a), num(b)) {
                (Some(a), Some(b)) if a < b => Ok(Summary::Crossings(a, b)),
                _ => Err(format!("`{s}`: give two finite levels low < high")),
            },
            _ => Err(format!(
                "`{s}`: expected final, mean, above:<level> or crossings:<low>:<high>"
            )),
        }
    }
}

/// What a rate run records.
#[derive(Debug, Clone)]
pub struct RateRecord {
    /// Traces.
    pub traces: Vec<Trace>,
    /// Summaries.
    pub summaries: Vec<Summary>,
    /// First step of the summary window.
    pub summary_from: u64,
    /// PNG plots wanted.
    pub plots: bool,
}

/// A rate network ready to run.
#[derive(Debug, Clone)]
pub struct RateNetwork {
    /// Population names.
    pub names: Vec<String>,
    /// Parameters per population before sweep overrides.
    pub base: Vec<RateParams>,
    /// Coupling from projections, `w_proj[target * M + source]` (self `w` not included).
    pub w_proj: Vec<f64>,
    /// Time step in ms.
    pub dt: f64,
    /// Steps to run.
    pub steps: u64,
    /// Seed.
    pub seed: u64,
    /// Sweep grid.
    pub grid: SweepGrid,
    /// Replicas per combination.
    pub replicas_per_combo: u32,
    /// Step stimuli per population: (first step, amplitude) switch points, one list per
    /// stimulus.
    pub stimuli: StepStimuli,
    /// What to record.
    pub record: RateRecord,
    /// Whether the coupling varies with the sweep.
    pub w_swept: bool,
    /// Warnings (coarse dt and the like).
    pub warnings: Vec<String>,
}

/// Traces larger than this (bytes on disk) must be asked for explicitly with `replicas`.
const MAX_DEFAULT_TRACE_BYTES: u64 = 1 << 32;

impl RateNetwork {
    /// Builds and validates a rate network from a spec whose populations are all `rate`.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let m = spec.populations.len();
        if m > MAX_POPS {
            return Err(spec.error(
                "population",
                format!("{m} rate populations: at most {MAX_POPS} per replica"),
            ));
        }
        let dt = spec.simulation.dt;
        let mut warnings = Vec::new();
        let mut base = Vec::with_capacity(m);
        for (i, p) in spec.populations.iter().enumerate() {
            if p.size != 1 {
                return Err(spec.error(
                    format!("population[{i}].size"),
                    format!("{}: a rate population is one unit; use simulation.replicas or [sweep] for many", p.size),
                ));
            }
            let params = RateParams::from_table(&p.params)
                .map_err(|e| spec.error(format!("population[{i}].params"), e))?;
            warnings.extend(
                params
                    .validate(dt, &format!("\"{}\"", p.name))
                    .map_err(|e| spec.error(format!("population[{i}]"), e.to_string()))?,
            );
            base.push(params);
        }
        let mut w_proj = vec![0.0; m * m];
        for (i, pr) in spec.projections.iter().enumerate() {
            if !matches!(pr.rule, Rule::AllToAll | Rule::OneToOne) {
                return Err(spec.error(
                    format!("projection[{i}].rule"),
                    "rate populations couple through one weight: use all_to_all (the default)",
                ));
            }
            if pr.delay.is_some() {
                return Err(spec.error(
                    format!("projection[{i}].delay"),
                    "rate models have no transmission delays",
                ));
            }
            let (s, t) = (
                spec.population_index(&pr.source).unwrap_or(0),
                spec.population_index(&pr.target).unwrap_or(0),
            );
            if spec.projections[..i]
                .iter()
                .any(|q| q.source == pr.source && q.target == pr.target)
            {
                return Err(spec.error(
                    format!("projection[{i}]"),
                    format!(
                        "a second projection from `{}` to `{}`: give one weight per pair",
                        pr.source, pr.target
                    ),
                ));
            }
            w_proj[t * m + s] = pr.weight.fixed().ok_or_else(|| {
                spec.error(
                    format!("projection[{i}].weight"),
                    "rate populations couple through one weight: give a number (distributions are drawn per synapse of spiking networks)",
                )
            })?;
        }
        let steps = spec.steps();
        crate::models::common::only_step_currents(spec, "rate")?;
        let stimuli = StepStimuli::from_spec(spec);
        let grid = spec.sweep_grid()?;
        let mut w_swept = false;
        for (ai, axis) in grid.axes.iter().enumerate() {
            let key = format!("sweep.\"{}\"", axis.key);
            if let Some(pop) = &axis.population {
                let idx = spec.population_index(pop).unwrap_or(0);
                let mut probe = base[idx];
                probe
                    .set(&axis.param, axis.values[0])
                    .map_err(|e| spec.error(&key, e))?;
                w_swept |= axis.param == "w";
            } else {
                w_swept = true;
            }
            let _ = ai;
        }
        let total = spec.total_replicas()?;
        let record = Self::record_from_spec(spec, total, steps)?;
        let net = Self {
            names: spec.populations.iter().map(|p| p.name.clone()).collect(),
            base,
            w_proj,
            dt,
            steps,
            seed: spec.simulation.seed,
            grid,
            replicas_per_combo: spec.simulation.replicas,
            stimuli,
            record,
            w_swept,
            warnings,
        };
        // Every combination must be valid, not just the base.
        for c in 0..net.combinations() {
            let (params, _) = net.combo(c);
            for (i, p) in params.iter().enumerate() {
                p.validate(dt, &format!("\"{}\"", net.names[i]))
                    .map_err(|e| Error::Spec {
                        location: format!("{}: sweep combination {c}", spec.source),
                        message: e.to_string(),
                    })?;
            }
        }
        Ok(net)
    }

    fn record_from_spec(spec: &Spec, total: u64, steps: u64) -> Result<RateRecord> {
        let rec = &spec.record;
        if rec.activity_bin.is_some() {
            return Err(spec.error(
                "record.activity_bin",
                "rate models have no spikes: record traces or summaries",
            ));
        }
        if !rec.spikes.is_empty() {
            return Err(spec.error(
                "record.spikes",
                "rate models have no spikes: record traces or summaries",
            ));
        }
        if rec.activity_replicas.is_some() || !rec.windows.is_empty() {
            return Err(spec.error(
                "record.windows",
                "activity_replicas and windows are for population models (gif_pop_psc_exp); rate models record traces and summaries",
            ));
        }
        let mut traces = Vec::new();
        for (i, t) in rec.traces.iter().enumerate() {
            let key = format!("record.traces[{i}]");
            let var = match t.variable.as_str() {
                "r" => Variable::R,
                "eta" => Variable::Eta,
                other => {
                    return Err(spec.error(
                        format!("{key}.variable"),
                        format!("`{other}`: rate populations record `r` or `eta`"),
                    ))
                }
            };
            if t.first.is_some() {
                return Err(spec.error(
                    format!("{key}.first"),
                    "`first` selects neurons of spiking models; for rate models use `replicas`",
                ));
            }
            let replicas = t.replicas.unwrap_or(total);
            if replicas == 0 || replicas > total {
                return Err(spec.error(
                    format!("{key}.replicas"),
                    format!("{replicas}: must be in [1, {total}] (the run's replicas)"),
                ));
            }
            let trace = Trace {
                pop: spec.population_index(&t.population).unwrap_or(0),
                var,
                replicas: replicas as u32,
                every: t.every,
            };
            let bytes = trace.samples(steps) * replicas * 4;
            if t.replicas.is_none() && bytes > MAX_DEFAULT_TRACE_BYTES {
                return Err(spec.error(
                    format!("{key}.replicas"),
                    format!("recording all {total} replicas would write {bytes} bytes: set `replicas` (and/or `every`) explicitly"),
                ));
            }
            traces.push(trace);
        }
        let mut summaries = Vec::new();
        for (i, s) in rec.summaries.iter().enumerate() {
            let parsed =
                Summary::parse(s).map_err(|e| spec.error(format!("record.summaries[{i}]"), e))?;
            if summaries.iter().any(|q: &Summary| q.tag() == parsed.tag()) {
                return Err(spec.error(
                    format!("record.summaries[{i}]"),
                    format!("`{s}`: each summary kind at most once"),
                ));
            }
            summaries.push(parsed);
        }
        if traces.is_empty() && summaries.is_empty() {
            // Nothing asked for: trace r of every population for the first replicas, and the
            // final and mean rate of every replica.
            for pop in 0..spec.populations.len() {
                traces.push(Trace {
                    pop,
                    var: Variable::R,
                    replicas: total.min(20) as u32,
                    every: 1,
                });
            }
            summaries = vec![Summary::Final, Summary::Mean];
        }
        let summary_from = rec
            .summary_from
            .map_or(0, |f| (f / spec.simulation.dt).round() as u64);
        Ok(RateRecord {
            traces,
            summaries,
            summary_from,
            plots: rec.plots,
        })
    }

    /// Populations per replica.
    pub fn pops(&self) -> usize {
        self.names.len()
    }

    /// Sweep combinations.
    pub fn combinations(&self) -> u64 {
        self.grid.combinations()
    }

    /// Total replicas.
    pub fn replicas(&self) -> u64 {
        self.combinations() * u64::from(self.replicas_per_combo)
    }

    /// Parameters and coupling matrix (`W[target * M + source]`) of combination `c`.
    pub fn combo(&self, c: u64) -> (Vec<RateParams>, Vec<f64>) {
        let mut params = self.base.clone();
        let mut w = self.w_proj.clone();
        let m = self.pops();
        for (ai, axis) in self.grid.axes.iter().enumerate() {
            let v = self.grid.value(ai, c);
            if let Some(pop) = &axis.population {
                if let Some(i) = self.names.iter().position(|n| n == pop) {
                    // Names were checked when the network was built.
                    let _ = params[i].set(&axis.param, v);
                }
            } else if let Some((s, t)) = &axis.projection {
                let si = self.names.iter().position(|n| n == s).unwrap_or(0);
                let ti = self.names.iter().position(|n| n == t).unwrap_or(0);
                w[ti * m + si] = v;
            }
        }
        for (i, p) in params.iter().enumerate() {
            w[i * m + i] += p.w;
        }
        (params, w)
    }

    /// Coefficients of one population for the kernels, computed in f64 and rounded once.
    pub fn coef(&self, p: &RateParams) -> PopCoef {
        let dt = self.dt;
        let (decay, amp) = match p.ou_scheme {
            OuScheme::Euler => (
                1.0 - dt / p.tau_ou,
                (2.0 * dt / p.tau_ou).sqrt() * p.sigma_ou,
            ),
            OuScheme::Exact => (
                (-dt / p.tau_ou).exp(),
                p.sigma_ou * (-(-2.0 * dt / p.tau_ou).exp_m1()).sqrt(),
            ),
        };
        PopCoef {
            dt_over_tau: (dt / p.tau) as f32,
            a: p.a as f32,
            theta: p.theta as f32,
            f_offset: if p.transfer == Transfer::Sigmoid {
                (1.0 / (1.0 + (p.a * p.theta).exp())) as f32
            } else {
                0.0
            },
            i_ext: p.i_ext as f32,
            r_init: p.r_init as f32,
            ou_decay: decay as f32,
            ou_amp: amp as f32,
            eta0_amp: p.sigma_ou as f32,
            transfer: match p.transfer {
                Transfer::Sigmoid => transfer_code::SIGMOID,
                Transfer::Relu => transfer_code::RELU,
                Transfer::ThresholdLinear => transfer_code::THRESHOLD_LINEAR,
                Transfer::Tanh => transfer_code::TANH,
            },
        }
    }

    /// Coefficients and coupling (f32) of combinations `c0 .. c1`: `coef[(c - c0) * M + m]`,
    /// `weights` per combination when the sweep varies it, else one shared matrix.
    pub fn tables(&self, c0: u64, c1: u64) -> (Vec<PopCoef>, Vec<f32>) {
        let m = self.pops();
        let mut coef = Vec::with_capacity((c1 - c0) as usize * m);
        let mut weights = Vec::new();
        for c in c0..c1 {
            let (params, w) = self.combo(c);
            coef.extend(params.iter().map(|p| self.coef(p)));
            if self.w_swept || c == c0 {
                weights.extend(w.iter().map(|&x| x as f32));
            }
        }
        (coef, weights)
    }

    /// Whether any population of any combination has OU noise.
    pub fn has_noise(&self) -> bool {
        let swept_sigma = self
            .grid
            .axes
            .iter()
            .any(|a| a.param == "sigma_ou" && a.values.iter().any(|&v| v > 0.0));
        swept_sigma || self.base.iter().any(|p| p.sigma_ou > 0.0)
    }

    /// The kernel specialisation of this network (see `kernel::Specialization`).
    pub fn specialization(&self) -> Specialization {
        let codes: Vec<u32> = self.base.iter().map(|p| self.coef(p).transfer).collect();
        let transfer = if codes.iter().all(|&c| c == codes[0]) {
            codes[0]
        } else {
            4
        };
        Specialization {
            pops: self.pops() as u32,
            noise: self.has_noise(),
            stim: !self.stimuli.is_empty(),
            trace: !self.record.traces.is_empty(),
            summary: self.record.summaries.iter().fold(0, |mask, s| {
                mask | match s {
                    Summary::Final => 0,
                    Summary::Mean => summary_bit::MEAN,
                    Summary::Above(_) => summary_bit::ABOVE,
                    Summary::Crossings(..) => summary_bit::CROSSINGS,
                }
            }),
            transfer,
        }
    }
}
