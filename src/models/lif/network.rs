//! A LIF population built from a spec: parameters, the sweep, stimuli, what to record, and
//! the per-combination coefficients uploaded to both paths.

use super::kernel::{LifCoef, Specialization, MAX_WINDOWS};
use super::params::{LifParams, Scheme};
use crate::error::{Error, Result};
use crate::models::common::StepStimuli;
use crate::spec::{Spec, SweepGrid};

/// What a LIF run records.
#[derive(Debug, Clone)]
pub struct LifRecord {
    /// Count windows as step ranges `[lo, hi)` (a spike during step k counts when
    /// lo <= k < hi), with their times in ms.
    pub windows: Vec<(u64, u64, f64, f64)>,
    /// Spike times of neurons 0..spikes (global index).
    pub spikes: u32,
    /// V traces of neurons 0..trace_neurons.
    pub trace_neurons: u32,
    /// Trace every this many steps.
    pub trace_every: u32,
    /// Write per-neuron counts (`counts_<pop>.npy`).
    pub counts: bool,
    /// Also write each traced neuron's V as a WAV file.
    pub wav: bool,
    /// PNG plots.
    pub plots: bool,
}

/// A population of independent LIF neurons, replicated over the sweep.
#[derive(Debug, Clone)]
pub struct LifNetwork {
    /// Population name.
    pub name: String,
    /// Neurons per replica (the population's size).
    pub size: u64,
    /// Parameters before sweep overrides.
    pub base: LifParams,
    /// Time step, ms.
    pub dt: f64,
    /// Steps.
    pub steps: u64,
    /// Seed.
    pub seed: u64,
    /// Sweep grid.
    pub grid: SweepGrid,
    /// Replicas per combination.
    pub replicas_per_combo: u32,
    /// Step currents (nA).
    pub stimuli: StepStimuli,
    /// What to record.
    pub record: LifRecord,
    /// Neurons per correlation group (consecutive neurons of one replica; the last group of a
    /// replica may be smaller).
    pub group: u64,
    /// Warnings.
    pub warnings: Vec<String>,
    spec: Specialization,
}

/// Per-neuron counts are written when there are at most this many values.
const MAX_COUNT_VALUES: u64 = 1 << 28;

impl LifNetwork {
    /// Builds and validates a LIF population from a spec whose populations are all `lif`.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        if spec.populations.len() != 1 {
            return Err(spec.error(
                "population",
                format!(
                    "{} lif populations: give one population (neurons are independent; use `size`, `replicas` and [sweep] for more)",
                    spec.populations.len()
                ),
            ));
        }
        if !spec.projections.is_empty() {
            return Err(spec.error(
                "projection[0]",
                "lif neurons are independent: no projections",
            ));
        }
        let pop = &spec.populations[0];
        let dt = spec.simulation.dt;
        let base = LifParams::from_table(&pop.params)
            .map_err(|e| spec.error("population[0].params", e))?;
        let who = format!("\"{}\"", pop.name);
        base.validate(dt, &who)
            .map_err(|e| spec.error("population[0]", e.to_string()))?;
        crate::models::common::only_step_currents(spec, "lif")?;
        let stimuli = StepStimuli::from_spec(spec);
        let grid = spec.sweep_grid()?;
        for axis in &grid.axes {
            let key = format!("sweep.\"{}\"", axis.key);
            if axis.population.is_none() {
                return Err(spec.error(key, "lif populations have no projections to sweep"));
            }
            let mut probe = base;
            probe
                .set(&axis.param, axis.values[0])
                .map_err(|e| spec.error(&key, e))?;
        }
        let steps = spec.steps();
        if steps >= u64::from(u32::MAX) {
            return Err(spec.error(
                "simulation.t_end",
                format!("{steps} steps: at most 2^32 - 1"),
            ));
        }
        let per_combo = pop.size * u64::from(spec.simulation.replicas);
        let total = grid.combinations() * per_combo;
        if total > u64::from(u32::MAX) {
            return Err(spec.error(
                "population[0].size",
                format!("{total} neurons in all (size x replicas x sweep combinations): at most 2^32 - 1"),
            ));
        }
        let record = Self::record_from_spec(spec, total, steps)?;
        let group = if base.group == 0 {
            pop.size
        } else {
            base.group
        };
        if group > pop.size {
            return Err(spec.error(
                "population[0].params.group",
                format!(
                    "{group} neurons per group: at most size = {} (0: the whole population)",
                    pop.size
                ),
            ));
        }
        let mut net = Self {
            name: pop.name.clone(),
            size: pop.size,
            base,
            dt,
            steps,
            seed: spec.simulation.seed,
            grid,
            replicas_per_combo: spec.simulation.replicas,
            stimuli,
            record,
            group,
            warnings: Vec::new(),
            spec: Specialization::default(),
        };
        let (mut any_noise, mut all_noise, mut ou, mut bridge, mut grid_round, mut corr) =
            (false, true, false, false, false, false);
        for c in 0..net.combinations() {
            let p = net.combo(c);
            p.validate(dt, &who).map_err(|e| Error::Spec {
                location: format!("{}: sweep combination {c}", spec.source),
                message: e.to_string(),
            })?;
            any_noise |= p.noisy();
            all_noise &= p.noisy();
            ou |= p.sigma_ou > 0.0;
            bridge |= p.crossing_correction;
            grid_round |= p.grid_rounding;
            corr |= p.rho > 0.0;
            if p.crossing_correction && p.sigma <= 0.0 {
                return Err(spec.error(
                    "population[0].params.crossing_correction",
                    "needs white noise (sigma > 0)",
                ));
            }
        }
        if any_noise && !all_noise {
            return Err(spec.error(
                "sweep",
                "a sweep mixes noisy and noise-free combinations: keep sigma (or sigma_ou) > 0 in all of them, or 0 in all",
            ));
        }
        let precise = !any_noise && !grid_round;
        if !precise {
            let p = net.base;
            if ((p.t_ref / dt).round() * dt - p.t_ref).abs() > 1e-9 * p.t_ref.max(dt) {
                net.warnings.push(format!(
                    "lif population {who}: t_ref = {} ms is rounded to {} steps of {dt} ms (spikes are on the grid)",
                    p.t_ref,
                    (p.t_ref / dt).round()
                ));
            }
        }
        net.spec = Specialization {
            precise,
            noise: net.base.sigma > 0.0 || net.grid.axes.iter().any(|a| a.param == "sigma"),
            ou,
            bridge,
            stim: !net.stimuli.is_empty(),
            windows: net.record.windows.len() as u32,
            trace: net.record.trace_neurons > 0,
            spikes: net.record.spikes > 0,
            corr,
        };
        Ok(net)
    }

    fn record_from_spec(spec: &Spec, total: u64, steps: u64) -> Result<LifRecord> {
        let rec = &spec.record;
        let dt = spec.simulation.dt;
        if rec.activity_bin.is_some() || rec.activity_replicas.is_some() {
            return Err(spec.error(
                "record.activity_bin",
                "lif populations record per-neuron spike counts in `windows`, spike times (`spikes`) and V traces",
            ));
        }
        if !rec.summaries.is_empty() || rec.summary_from.is_some() {
            return Err(spec.error(
                "record.summaries",
                "lif populations summarise spike counts per window: use `windows`",
            ));
        }
        let t_end = steps as f64 * dt;
        let mut windows = Vec::new();
        for (i, [t0, t1]) in crate::models::common::window_pairs(spec, MAX_WINDOWS, t_end)?
            .into_iter()
            .enumerate()
        {
            let lo = (t0 / dt).round() as u64;
            let hi = ((t1 / dt).round() as u64).min(steps);
            if hi <= lo {
                return Err(spec.error(
                    format!("record.windows[{i}]"),
                    format!("[{t0}, {t1}] holds no whole step of {dt} ms"),
                ));
            }
            windows.push((lo, hi, lo as f64 * dt, hi as f64 * dt));
        }
        let mut spikes = 0u64;
        for (i, s) in rec.spikes.iter().enumerate() {
            if s.first == 0 || s.first > total {
                return Err(spec.error(
                    format!("record.spikes[{i}].first"),
                    format!("{}: must be in [1, {total}] (the run's neurons)", s.first),
                ));
            }
            spikes = spikes.max(s.first);
        }
        let mut trace_neurons = 0u64;
        let mut trace_every = 1u32;
        let mut wav = false;
        for (i, t) in rec.traces.iter().enumerate() {
            let key = format!("record.traces[{i}]");
            if t.variable != "V_m" {
                return Err(spec.error(
                    format!("{key}.variable"),
                    format!("`{}`: lif populations record `V_m`", t.variable),
                ));
            }
            if t.replicas.is_some() {
                return Err(spec.error(
                    format!("{key}.replicas"),
                    "lif traces select neurons with `first` (global neuron index from 0)",
                ));
            }
            if i > 0 {
                return Err(spec.error(key, "one V_m trace entry per lif run"));
            }
            let first = t.first.unwrap_or(total.min(10));
            if first == 0 || first > total {
                return Err(spec.error(
                    format!("{key}.first"),
                    format!("{first}: must be in [1, {total}] (the run's neurons)"),
                ));
            }
            if t.every == 0 {
                return Err(spec.error(format!("{key}.every"), "must be >= 1"));
            }
            trace_neurons = first;
            trace_every = t.every;
            wav = t.wav;
            let samples = steps / u64::from(t.every) + 1;
            if wav && (first > 64 || samples > 1 << 28) {
                return Err(spec.error(
                    format!("{key}.wav"),
                    format!("{first} neurons x {samples} samples: WAV traces are for at most 64 neurons and 2^28 samples each (raise `every` or lower `first`)"),
                ));
            }
        }
        if spikes > 100_000 || trace_neurons > 100_000 {
            return Err(spec.error(
                "record",
                "spike and trace records are for at most 100000 neurons; counts cover all",
            ));
        }
        let counts = total * windows.len() as u64 <= MAX_COUNT_VALUES;
        Ok(LifRecord {
            windows,
            spikes: spikes as u32,
            trace_neurons: trace_neurons as u32,
            trace_every,
            counts,
            wav,
            plots: rec.plots,
        })
    }

    /// Whether the run reports spike-count correlations (correlated input or an explicit
    /// `group`, and groups of at least two neurons).
    pub fn wants_correlation(&self) -> bool {
        (self.spec.corr || self.base.group > 0) && self.group > 1
    }

    /// Output correlation `chi^2 rho` that the moment activation predicts for parameter set
    /// `p` (docs/models.md, section 3, with `L = 1/tau_m`, voltages relative to E_L,
    /// `mu_bar = R_m I / tau_m`, `sigma_bar = sigma`); NaN where it does not apply (OU input,
    /// step currents, no white noise).
    pub fn predicted_correlation(&self, p: &LifParams) -> f64 {
        match self.moments(p) {
            Some(m) => m.chi * m.chi * p.rho,
            None => f64::NAN,
        }
    }

    /// The moment activation of parameter set `p` (see [`Self::predicted_correlation`]).
    pub fn moments(&self, p: &LifParams) -> Option<crate::models::moments::reference::Moments> {
        if p.sigma <= 0.0 || p.sigma_ou > 0.0 || !self.stimuli.is_empty() {
            return None;
        }
        let mp = crate::models::moments::MomentParams {
            l: 1.0 / p.tau_m,
            v_th: p.v_th - p.e_l,
            v_res: p.v_reset - p.e_l,
            t_ref: p.t_ref,
        };
        mp.validate().ok()?;
        Some(crate::models::moments::reference::moments(
            &mp,
            p.r_m * p.i / p.tau_m,
            p.sigma,
        ))
    }

    /// Correlation groups per replica.
    pub fn groups_per_replica(&self) -> u64 {
        self.size.div_ceil(self.group)
    }

    /// Sweep combinations.
    pub fn combinations(&self) -> u64 {
        self.grid.combinations()
    }

    /// Neurons per combination.
    pub fn per_combo(&self) -> u64 {
        self.size * u64::from(self.replicas_per_combo)
    }

    /// Total neurons.
    pub fn neurons(&self) -> u64 {
        self.combinations() * self.per_combo()
    }

    /// Parameters of combination `c`.
    pub fn combo(&self, c: u64) -> LifParams {
        let mut p = self.base;
        for (ai, axis) in self.grid.axes.iter().enumerate() {
            // Names were checked when the network was built.
            let _ = p.set(&axis.param, self.grid.value(ai, c));
        }
        p
    }

    /// The kernel specialisation.
    pub fn specialization(&self) -> Specialization {
        self.spec
    }

    /// Coefficients of one parameter set, computed in f64 and rounded once.
    pub fn coef(&self, p: &LifParams) -> LifCoef {
        let dt = self.dt;
        let (pp, q) = match p.scheme {
            Scheme::Exact => ((-dt / p.tau_m).exp(), -(-dt / p.tau_m).exp_m1()),
            Scheme::Euler => (1.0 - dt / p.tau_m, dt / p.tau_m),
        };
        // Std of the noise over one step: the exact transition of the free membrane
        // (`exact`) or Euler-Maruyama's sigma sqrt(dt) (`euler`, the moment-activation
        // tutorial's update).
        let noise = match p.scheme {
            Scheme::Exact => p.sigma * (-0.5 * p.tau_m * (-2.0 * dt / p.tau_m).exp_m1()).sqrt(),
            Scheme::Euler => p.sigma * dt.sqrt(),
        };
        let bridge = if p.crossing_correction && p.sigma > 0.0 {
            2.0 / (noise * noise)
        } else {
            0.0
        };
        LifCoef {
            p: pp as f32,
            q: q as f32,
            w0: (p.r_m * p.i) as f32,
            r_m: p.r_m as f32,
            u_th: (p.v_th - p.e_l) as f32,
            u_reset: (p.v_reset - p.e_l) as f32,
            u_init: (p.v0() - p.e_l) as f32,
            e_l: p.e_l as f32,
            noise: noise as f32,
            bridge: bridge as f32,
            ou_decay: (-dt / p.tau_ou).exp() as f32,
            ou_amp: (p.sigma_ou * (-(-2.0 * dt / p.tau_ou).exp_m1()).sqrt()) as f32,
            ou0: p.sigma_ou as f32,
            tau_m: p.tau_m as f32,
            inv_tau: (1.0 / p.tau_m) as f32,
            t_ref: p.t_ref as f32,
            ref_steps: (p.t_ref / dt).round() as u32,
            corr_a: p.rho.sqrt() as f32,
            corr_b: (1.0 - p.rho).sqrt() as f32,
            ..Default::default()
        }
    }

    /// Coefficients of combinations `c0 .. c1`.
    pub fn tables(&self, c0: u64, c1: u64) -> Vec<LifCoef> {
        (c0..c1).map(|c| self.coef(&self.combo(c))).collect()
    }

    /// Window step pairs for the kernel.
    pub fn window_words(&self) -> Vec<u32> {
        self.record
            .windows
            .iter()
            .flat_map(|&(lo, hi, _, _)| [lo as u32, hi as u32])
            .collect()
    }

    /// The analytic noise-free ISI of parameter set `p` with constant input (docs/models.md,
    /// section 2), ms, or infinity below rheobase.
    pub fn analytic_isi(p: &LifParams) -> f64 {
        let v_inf = p.e_l + p.r_m * p.i;
        if v_inf <= p.v_th {
            return f64::INFINITY;
        }
        p.t_ref + p.tau_m * ((p.v_reset - v_inf) / (p.v_th - v_inf)).ln()
    }
}
