//! A network of mesoscopic GIF populations built from a spec: per-combination coefficient
//! and kernel tables computed on the host in f64, projections with effective weights and
//! delays in steps, stimuli, the sweep, and what to record.

use super::kernel::{MesoPopCoef, Projection, GROUPS, MAX_POPS};
use super::params::{GifPopParams, MAX_SFA};
use crate::error::{Error, Result};
use crate::models::common::StepStimuli;
use crate::rng::MAX_EXACT_COUNT;
use crate::spec::{Rule, Spec, SweepGrid};

pub use crate::models::common::Window;

/// Most summary windows (`MAX_WIN` in the shader).
pub const MAX_WIN: usize = 4;

/// What a meso run records.
#[derive(Debug, Clone)]
pub struct MesoRecord {
    /// Steps per recording bin.
    pub bin_steps: u64,
    /// Replicas whose activity is recorded bin by bin.
    pub replicas: u32,
    /// Summary windows.
    pub windows: Vec<Window>,
    /// PNG plots wanted.
    pub plots: bool,
}

/// A network of `gif_pop_psc_exp` populations, ready to run.
#[derive(Debug, Clone)]
pub struct MesoNetwork {
    /// Population names.
    pub names: Vec<String>,
    /// Population sizes N.
    pub sizes: Vec<u64>,
    /// Parameters before sweep overrides.
    pub base: Vec<GifPopParams>,
    /// Projections as specified: (source, target, delay in steps, weight in pA, pconn); the
    /// effective weight per source spike is weight x pconn.
    pub projections: Vec<(u32, u32, u32, f64, f64)>,
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
    /// Step-current switch points per stimulus: (population, [(first step, pA)]).
    pub stimuli: StepStimuli,
    /// Largest history length over populations and combinations, rounded up to a multiple
    /// of the walk's chunk count (the stride of every history array).
    pub l_max: u64,
    /// Delay ring length (largest delay + 1).
    pub d_len: u64,
    /// Whether coefficient tables differ between combinations.
    pub per_combo: bool,
    /// What to record.
    pub record: MesoRecord,
}

impl MesoNetwork {
    /// Builds and validates a meso network from a spec whose populations are all
    /// `gif_pop_psc_exp`.
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let m = spec.populations.len();
        if m > MAX_POPS {
            return Err(spec.error(
                "population",
                format!("{m} gif_pop_psc_exp populations: at most {MAX_POPS} per replica"),
            ));
        }
        let dt = spec.simulation.dt;
        let mut base = Vec::new();
        let mut sizes = Vec::new();
        for (i, p) in spec.populations.iter().enumerate() {
            let key = format!("population[{i}]");
            if p.size > u64::from(MAX_EXACT_COUNT) {
                return Err(spec.error(format!("{key}.size"), format!("{}: at most {MAX_EXACT_COUNT} neurons per population (exact binomial draws in f32)", p.size)));
            }
            let params = GifPopParams::from_table(&p.params)
                .map_err(|e| spec.error(format!("{key}.params"), e))?;
            params
                .validate(&format!("\"{}\"", p.name))
                .map_err(|e| spec.error(&key, e.to_string()))?;
            base.push(params);
            sizes.push(p.size);
        }
        let mut projections = Vec::new();
        for (i, pr) in spec.projections.iter().enumerate() {
            let key = format!("projection[{i}]");
            let src = spec.population_index(&pr.source).unwrap_or(0);
            let tgt = spec.population_index(&pr.target).unwrap_or(0);
            // A spike count n of the source reaches the target as one event of weight
            // w x pconn x n (docs/models.md, section 7), pconn the expected fraction of sources
            // each target neuron receives.
            let pconn = match pr.rule {
                Rule::AllToAll => 1.0,
                Rule::PairwiseBernoulli => pr.p.unwrap_or(1.0),
                Rule::FixedIndegree => {
                    let k = pr.indegree.unwrap_or(0);
                    if k > sizes[src] && !pr.multapses {
                        return Err(spec.error(
                            format!("{key}.indegree"),
                            format!(
                                "{k} exceeds the source size {} without multapses",
                                sizes[src]
                            ),
                        ));
                    }
                    k as f64 / sizes[src] as f64
                }
                Rule::FixedTotalNumber => {
                    pr.n.unwrap_or(0) as f64 / (sizes[src] as f64 * sizes[tgt] as f64)
                }
                Rule::OneToOne => {
                    return Err(spec.error(format!("{key}.rule"), "one_to_one has no population-level meaning: use all_to_all, fixed_indegree or pairwise_bernoulli"));
                }
            };
            // Weights and delays drawn per synapse enter with their means (of the values
            // drawn: bounds and the weight's sign included).
            let delay_ms = pr.delay.as_ref().map_or(dt, |d| d.mean_drawn(false));
            let delay = (delay_ms / dt).round().max(1.0) as u32;
            projections.push((
                src as u32,
                tgt as u32,
                delay,
                pr.weight.mean_drawn(true),
                pconn,
            ));
        }
        let max_delay = projections
            .iter()
            .map(|p| u64::from(p.2))
            .max()
            .unwrap_or(1);
        crate::models::common::only_step_currents(spec, "gif_pop_psc_exp")?;
        let stimuli = StepStimuli::from_spec(spec);
        let grid = spec.sweep_grid()?;
        for axis in &grid.axes {
            let key = format!("sweep.\"{}\"", axis.key);
            if let Some(pop) = &axis.population {
                let i = spec.population_index(pop).unwrap_or(0);
                let mut probe = base[i].clone();
                probe
                    .set(&axis.param, axis.values[0])
                    .map_err(|e| spec.error(&key, e))?;
            }
        }
        let record = Self::record_from_spec(spec)?;
        let mut net = Self {
            names: spec.populations.iter().map(|p| p.name.clone()).collect(),
            sizes,
            base,
            projections,
            dt,
            steps: spec.steps(),
            seed: spec.simulation.seed,
            per_combo: !grid.axes.is_empty(),
            grid,
            replicas_per_combo: spec.simulation.replicas,
            stimuli,
            l_max: 0,
            d_len: max_delay + 1,
            record,
        };
        // Validate every combination and find the longest history.
        let mut l_max = 0;
        for c in 0..net.combinations() {
            let (params, _) = net.combo(c);
            for (i, p) in params.iter().enumerate() {
                let who = format!("\"{}\"", net.names[i]);
                p.validate(&who).map_err(|e| Error::Spec {
                    location: format!("{}: sweep combination {c}", spec.source),
                    message: e.to_string(),
                })?;
                let l = p.history_length(dt, 0);
                let k_ref = (p.t_ref / dt).round() as u64;
                if l <= k_ref {
                    return Err(spec.error(
                        format!("population[{i}].params.len_kernel"),
                        format!("{l} steps: must exceed the refractory period ({k_ref} steps)"),
                    ));
                }
                if l <= max_delay {
                    return Err(spec.error(
                        format!("population[{i}].params.len_kernel"),
                        format!("{l} steps: must exceed the longest delay ({max_delay} steps)"),
                    ));
                }
                l_max = l_max.max(l);
            }
        }
        // The storage stride: whole rows of GROUPS chunks, so that the shader can lay each
        // population's history out chunk-interleaved (see shaders/gif_pop_step.wgsl).
        net.l_max = l_max.div_ceil(GROUPS as u64) * GROUPS as u64;
        Ok(net)
    }

    fn record_from_spec(spec: &Spec) -> Result<MesoRecord> {
        let rec = &spec.record;
        if !rec.traces.is_empty() {
            return Err(spec.error("record.traces", "gif_pop_psc_exp records population activity: use activity_bin, activity_replicas and windows"));
        }
        if !rec.spikes.is_empty() {
            return Err(spec.error(
                "record.spikes",
                "a mesoscopic population has no individual spikes: record its activity",
            ));
        }
        if !rec.summaries.is_empty() || rec.summary_from.is_some() {
            return Err(spec.error(
                "record.summaries",
                "gif_pop_psc_exp summarises activity per window: use `windows` (mean and variance of A_N are always written)",
            ));
        }
        let a = crate::models::common::ActivityRecord::from_spec(spec, MAX_WIN)?;
        let (bin_steps, replicas, windows) = (a.bin_steps, a.replicas, a.windows);
        Ok(MesoRecord {
            bin_steps,
            replicas,
            windows,
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

    /// Recording bins in the run.
    pub fn bins(&self) -> u64 {
        self.steps / self.record.bin_steps
    }

    /// Parameters and projections (effective weights) of combination `c`.
    pub fn combo(&self, c: u64) -> (Vec<GifPopParams>, Vec<Projection>) {
        let mut params = self.base.clone();
        let mut weights: Vec<f64> = self.projections.iter().map(|p| p.3).collect();
        for (ai, axis) in self.grid.axes.iter().enumerate() {
            let v = self.grid.value(ai, c);
            if let Some(pop) = &axis.population {
                if let Some(i) = self.names.iter().position(|n| n == pop) {
                    // Checked when the network was built.
                    let _ = params[i].set(&axis.param, v);
                }
            } else if let Some((s, t)) = &axis.projection {
                let si = self.names.iter().position(|n| n == s).unwrap_or(0) as u32;
                let ti = self.names.iter().position(|n| n == t).unwrap_or(0) as u32;
                for (w, p) in weights.iter_mut().zip(&self.projections) {
                    if p.0 == si && p.1 == ti {
                        *w = v;
                    }
                }
            }
        }
        let proj = self
            .projections
            .iter()
            .zip(weights)
            .map(|(p, w)| Projection {
                src: p.0,
                tgt: p.1,
                delay: p.2,
                weight: (w * p.4) as f32,
            })
            .collect();
        (params, proj)
    }

    /// Coefficients of one population, computed in f64 and rounded once.
    pub fn coef(&self, p: &GifPopParams, n: u64) -> MesoPopCoef {
        let h = self.dt;
        let l = p.history_length(h, 0);
        let p22 = (-h / p.tau_m).exp();
        // Synaptic input over one step, exact for exponential currents with the arriving
        // input held constant: h_x = A_x JA_x + K_x (Jy_x - JA_x).
        // h_x = a JA + k (Jy - JA) = (a - k) JA + k Jy.
        let syn = |tau_s: f64| -> (f64, f64, f64, f64, f64) {
            let p11 = (-h / tau_s).exp();
            let a = p.tau_m * (1.0 - p22);
            let k = if ((tau_s - p.tau_m) / p.tau_m).abs() < 1e-9 {
                h * p22
            } else {
                p.tau_m * tau_s * (p11 - p22) / (tau_s - p.tau_m)
            };
            (p11, -(-h / tau_s).exp_m1(), a - k, k, tau_s / (p.C_m * h))
        };
        let (p11_ex, q11_ex, b_ex, k_ex, js_ex) = syn(p.tau_syn_ex);
        let (p11_in, q11_in, b_in, k_in, js_in) = syn(p.tau_syn_in);
        let nf = n as f64;
        let mut q = [0f32; MAX_SFA];
        let mut qn = [0f32; MAX_SFA];
        let mut qk = [0f32; MAX_SFA];
        for (j, (tau, qs)) in p.tau_sfa.iter().zip(&p.q_sfa).enumerate() {
            let qj = (-h / tau).exp();
            q[j] = qj as f32;
            qn[j] = ((1.0 - qj) / (nf * h)) as f32;
            qk[j] = (qs * tau * (-h * l as f64 / tau).exp()) as f32;
        }
        MesoPopCoef {
            n: nf as f32,
            p22: p22 as f32,
            p20: (p.tau_m / p.C_m * (1.0 - p22)) as f32,
            v_reset_rel: (p.V_reset - p.E_L) as f32,
            v_t_star_rel: (p.V_T_star - p.E_L) as f32,
            v_init_rel: -p.E_L as f32,
            lambda_0: p.lambda_0 as f32,
            inv_delta_v: (1.0 / p.Delta_V) as f32,
            half_h_ms: (0.0005 * h) as f32,
            i_e: p.I_e as f32,
            p11_ex: p11_ex as f32,
            q11_ex: q11_ex as f32,
            b_ex: b_ex as f32,
            k_ex: k_ex as f32,
            jscale_ex: js_ex as f32,
            p11_in: p11_in as f32,
            q11_in: q11_in as f32,
            b_in: b_in as f32,
            k_in: k_in as f32,
            jscale_in: js_in as f32,
            q,
            qn,
            qk,
            n_sfa: p.tau_sfa.len() as u32,
            k_ref: (p.t_ref / h).round() as u32,
            len: l as u32,
            bino: u32::from(p.BinoRand),
        }
    }

    /// The quasi-renewal kernels of one population over `l_max` ages (oldest first):
    /// `theta_kernel[k] = sum_j q_j exp(-(L - k) h / tau_j)` and
    /// `theta_tilde[k] = Delta_V (1 - exp(-theta_kernel[k] / Delta_V)) / N`; zero beyond L.
    pub fn kernels(&self, p: &GifPopParams, n: u64) -> (Vec<f32>, Vec<f32>) {
        let l = p.history_length(self.dt, 0);
        let mut tk = vec![0f32; self.l_max as usize];
        let mut tt = vec![0f32; self.l_max as usize];
        for k in 0..l as usize {
            let th = p.adaptation_kernel((l as usize - k) as f64, self.dt);
            tk[k] = th as f32;
            tt[k] = (p.Delta_V * (1.0 - (-th / p.Delta_V).exp()) / n as f64) as f32;
        }
        (tk, tt)
    }

    /// Coefficients, kernels and projections of combinations `c0 .. c1` (one shared set when
    /// nothing is swept): `coef[(c - c0) * M + p]`, `theta_*[((c - c0) * M + p) * l_max + k]`,
    /// `proj[(c - c0) * P + q]`.
    pub fn tables(
        &self,
        c0: u64,
        c1: u64,
    ) -> (Vec<MesoPopCoef>, Vec<f32>, Vec<f32>, Vec<Projection>) {
        let c1 = if self.per_combo { c1 } else { c0 + 1 };
        let (mut coef, mut tk, mut tt, mut proj) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for c in c0..c1 {
            let (params, pr) = self.combo(c);
            for (i, p) in params.iter().enumerate() {
                coef.push(self.coef(p, self.sizes[i]));
                let (a, b) = self.kernels(p, self.sizes[i]);
                tk.extend(a);
                tt.extend(b);
            }
            proj.extend(pr);
        }
        (coef, tk, tt, proj)
    }
}
