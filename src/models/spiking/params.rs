//! Parameters of the spiking neuron models, with NEST's names, units and defaults, and the
//! per-population coefficients (propagators) computed from them on the host in f64.
//!
//! `iaf_psc_delta` (NEST 3.10 defaults):
//!
//! | name | unit | default | allowed | meaning |
//! |---|---|---|---|---|
//! | `E_L` | mV | -70 | finite | resting potential |
//! | `C_m` | pF | 250 | > 0 | membrane capacitance |
//! | `tau_m` | ms | 10 | > 0 | membrane time constant |
//! | `t_ref` | ms | 2 | >= 0 | absolute refractory period (V clamped to V_reset) |
//! | `V_th` | mV | -55 | > V_reset | threshold |
//! | `V_reset` | mV | -70 | finite | reset potential |
//! | `V_min` | mV | -inf | < V_th | lower bound of V |
//! | `I_e` | pA | 0 | finite | constant input current |
//! | `V_m` | mV | E_L | finite | initial membrane potential |
//!
//! Weights are voltage jumps in mV; input arriving during the refractory period is dropped
//! (NEST's `refractory_input = false`).
//!
//! `iaf_psc_exp`: the same table without `V_min`, plus `tau_syn_ex` and `tau_syn_in` (ms,
//! default 2, > 0); weights are PSC amplitudes in pA (positive to the excitatory, negative to
//! the inhibitory current).
//!
//! `gif_psc_exp` (Mensi et al. 2012, Pozzorini et al. 2015; docs/models.md, section 5):
//!
//! | name | unit | default | allowed | meaning |
//! |---|---|---|---|---|
//! | `g_L` | nS | 4 | > 0 | leak conductance |
//! | `E_L` | mV | -70 | finite | resting potential |
//! | `C_m` | pF | 80 | > 0 | membrane capacitance |
//! | `V_reset` | mV | -55 | finite | reset potential |
//! | `Delta_V` | mV | 0.5 | > 0 | softness of the escape rate |
//! | `V_T_star` | mV | -35 | finite | baseline threshold |
//! | `lambda_0` | 1/s | 1 | >= 0 | escape rate at threshold |
//! | `t_ref` | ms | 4 | >= 0 | absolute refractory period |
//! | `tau_stc`, `q_stc` | ms[], pA[] | [] | up to 4, tau > 0 | spike-triggered currents |
//! | `tau_sfa`, `q_sfa` | ms[], mV[] | [] | up to 4, tau > 0 | spike-triggered threshold movement |
//! | `tau_syn_ex`, `tau_syn_in` | ms | 2 | > 0 | PSC time constants |
//! | `I_e` | pA | 0 | finite | constant input current |
//! | `V_m` | mV | E_L | finite | initial membrane potential |
//!
//! `q_stc` is added to the current that is subtracted from `I_e`, so it is in pA as NEST's
//! code uses it (NEST's documentation says nA). The escape rate is
//! `lambda_0 exp((V - theta)/Delta_V)`; `(V - theta)/Delta_V` is clamped at 60 (the spike
//! probability is 1 long before), so no rate overflows.

use bytemuck::{Pod, Zeroable};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::models::common::parse_params as parse;

/// Most spike-triggered current or threshold kernels per neuron (`NK` in the shader).
pub const MAX_KERNELS: usize = 4;

/// The neuron models of the network engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NeuronModel {
    /// NEST `iaf_psc_delta`: LIF with voltage-jump synapses.
    IafPscDelta,
    /// NEST `iaf_psc_exp`: LIF with exponential PSCs.
    IafPscExp,
    /// NEST `gif_psc_exp`: GIF with escape noise and spike-triggered adaptation.
    GifPscExp,
}

impl NeuronModel {
    /// The model of a spec name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "iaf_psc_delta" => Some(Self::IafPscDelta),
            "iaf_psc_exp" => Some(Self::IafPscExp),
            "gif_psc_exp" => Some(Self::GifPscExp),
            _ => None,
        }
    }

    /// The spec name.
    pub fn name(self) -> &'static str {
        match self {
            Self::IafPscDelta => "iaf_psc_delta",
            Self::IafPscExp => "iaf_psc_exp",
            Self::GifPscExp => "gif_psc_exp",
        }
    }

    /// The `MODEL` override of `neuron_step`.
    pub fn code(self) -> u32 {
        match self {
            Self::IafPscDelta => 0,
            Self::IafPscExp => 1,
            Self::GifPscExp => 2,
        }
    }

    /// Unit of a projection weight.
    pub fn weight_unit(self) -> &'static str {
        match self {
            Self::IafPscDelta => "mV",
            _ => "pA",
        }
    }
}

/// Per-population coefficients of `neuron_step`. Keep in sync with `NeuronCoef` in
/// shaders/neuron_step.wgsl. Voltages of the iaf models are relative to `E_L` (as NEST
/// stores them); the GIF model's are absolute.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct NeuronCoef {
    /// Refractory period in steps, `round(t_ref / h)`.
    pub refr_steps: u32,
    /// Spike-triggered current kernels in use.
    pub n_stc: u32,
    /// Spike-triggered threshold kernels in use.
    pub n_sfa: u32,
    /// Padding.
    pub _pad: u32,
    /// `exp(-h / tau_m)`.
    pub p_vv: f32,
    /// `tau_m / C_m (1 - exp(-h / tau_m))`, mV per pA.
    pub p_vi: f32,
    /// GIF: `(1 - exp(-h / tau_m)) E_L`, mV.
    pub p_vl: f32,
    /// `E_L`, mV (added to recorded iaf voltages).
    pub e_l: f32,
    /// iaf: threshold relative to E_L.
    pub v_th: f32,
    /// Reset (iaf: relative to E_L).
    pub v_reset: f32,
    /// iaf_psc_delta: lower bound of V relative to E_L (-f32::MAX for none).
    pub v_min: f32,
    /// Constant input current, pA.
    pub i_e: f32,
    /// `exp(-h / tau_syn_ex)`.
    pub p11_ex: f32,
    /// `exp(-h / tau_syn_in)`.
    pub p11_in: f32,
    /// PSC-to-voltage propagator of the excitatory current, mV per pA.
    pub p21_ex: f32,
    /// Same for the inhibitory current.
    pub p21_in: f32,
    /// GIF baseline threshold, mV.
    pub v_t_star: f32,
    /// `1 / Delta_V`, 1/mV.
    pub inv_delta_v: f32,
    /// Escape rate at threshold times h (`lambda_0 / 1000 * h`).
    pub lambda_h: f32,
    /// Initial V (iaf: relative to E_L).
    pub v_init: f32,
    /// Decay factors `exp(-h / tau_stc)`.
    pub p_stc: [f32; MAX_KERNELS],
    /// Current jumps, pA.
    pub q_stc: [f32; MAX_KERNELS],
    /// Decay factors `exp(-h / tau_sfa)`.
    pub p_sfa: [f32; MAX_KERNELS],
    /// Threshold jumps, mV.
    pub q_sfa: [f32; MAX_KERNELS],
}

/// NEST's `propagator_32`: the voltage response at `h` to a unit exponential current,
/// `tau_s tau_m / (C (tau_m - tau_s)) (exp(-h/tau_m) - exp(-h/tau_s))`, with the limit
/// `h / C exp(-h / tau_m)` when the time constants (nearly) coincide.
pub fn propagator_32(tau_s: f64, tau_m: f64, c_m: f64, h: f64) -> f64 {
    let d = tau_m - tau_s;
    if d.abs() < 1e-9 * tau_m {
        return h / c_m * (-h / tau_m).exp();
    }
    tau_s * tau_m / (c_m * d) * ((-h / tau_m).exp() - (-h / tau_s).exp())
}

fn refractory_steps(t_ref: f64, h: f64) -> u32 {
    (t_ref / h).round() as u32
}

/// Parameters of `iaf_psc_delta` and `iaf_psc_exp` (NEST names; `tau_syn_*` unused by the
/// delta model, `V_min` by the exp model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(non_snake_case)]
pub struct IafParams {
    /// Resting potential, mV.
    pub E_L: f64,
    /// Membrane capacitance, pF.
    pub C_m: f64,
    /// Membrane time constant, ms.
    pub tau_m: f64,
    /// Refractory period, ms.
    pub t_ref: f64,
    /// Threshold, mV.
    pub V_th: f64,
    /// Reset potential, mV.
    pub V_reset: f64,
    /// Lower bound of V, mV (`iaf_psc_delta`; none by default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub V_min: Option<f64>,
    /// Excitatory PSC time constant, ms (`iaf_psc_exp`).
    pub tau_syn_ex: f64,
    /// Inhibitory PSC time constant, ms (`iaf_psc_exp`).
    pub tau_syn_in: f64,
    /// Constant input current, pA.
    pub I_e: f64,
    /// Initial membrane potential, mV (default E_L).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub V_m: Option<f64>,
}

impl Default for IafParams {
    fn default() -> Self {
        Self {
            E_L: -70.0,
            C_m: 250.0,
            tau_m: 10.0,
            t_ref: 2.0,
            V_th: -55.0,
            V_reset: -70.0,
            V_min: None,
            tau_syn_ex: 2.0,
            tau_syn_in: 2.0,
            I_e: 0.0,
            V_m: None,
        }
    }
}

/// Parameters of `gif_psc_exp` (NEST names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(non_snake_case)]
pub struct GifParams {
    /// Leak conductance, nS.
    pub g_L: f64,
    /// Resting potential, mV.
    pub E_L: f64,
    /// Membrane capacitance, pF.
    pub C_m: f64,
    /// Reset potential, mV.
    pub V_reset: f64,
    /// Softness of the escape rate, mV.
    pub Delta_V: f64,
    /// Baseline threshold, mV.
    pub V_T_star: f64,
    /// Escape rate at threshold, 1/s.
    pub lambda_0: f64,
    /// Refractory period, ms.
    pub t_ref: f64,
    /// Spike-triggered current time constants, ms.
    pub tau_stc: Vec<f64>,
    /// Spike-triggered current jumps, pA.
    pub q_stc: Vec<f64>,
    /// Threshold adaptation time constants, ms.
    pub tau_sfa: Vec<f64>,
    /// Threshold jumps, mV.
    pub q_sfa: Vec<f64>,
    /// Excitatory PSC time constant, ms.
    pub tau_syn_ex: f64,
    /// Inhibitory PSC time constant, ms.
    pub tau_syn_in: f64,
    /// Constant input current, pA.
    pub I_e: f64,
    /// Initial membrane potential, mV (default E_L).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub V_m: Option<f64>,
}

impl Default for GifParams {
    fn default() -> Self {
        Self {
            g_L: 4.0,
            E_L: -70.0,
            C_m: 80.0,
            V_reset: -55.0,
            Delta_V: 0.5,
            V_T_star: -35.0,
            lambda_0: 1.0,
            t_ref: 4.0,
            tau_stc: Vec::new(),
            q_stc: Vec::new(),
            tau_sfa: Vec::new(),
            q_sfa: Vec::new(),
            tau_syn_ex: 2.0,
            tau_syn_in: 2.0,
            I_e: 0.0,
            V_m: None,
        }
    }
}

/// The parameters of one population of some neuron model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum NeuronParams {
    /// `iaf_psc_delta` or `iaf_psc_exp`.
    Iaf(IafParams),
    /// `gif_psc_exp`.
    Gif(GifParams),
}

impl NeuronParams {
    /// Parses a spec's `params` table for `model` (unknown keys rejected, missing ones set to
    /// NEST's defaults).
    pub fn from_table(
        model: NeuronModel,
        table: &toml::Table,
    ) -> std::result::Result<Self, String> {
        match model {
            NeuronModel::GifPscExp => Ok(Self::Gif(parse(table)?)),
            NeuronModel::IafPscExp => {
                if table.contains_key("V_min") {
                    return Err("`V_min` belongs to iaf_psc_delta".into());
                }
                Ok(Self::Iaf(parse(table)?))
            }
            NeuronModel::IafPscDelta => {
                for k in ["tau_syn_ex", "tau_syn_in"] {
                    if table.contains_key(k) {
                        return Err(format!(
                            "`{k}`: iaf_psc_delta has no synaptic time constants (use iaf_psc_exp)"
                        ));
                    }
                }
                Ok(Self::Iaf(parse(table)?))
            }
        }
    }

    /// Sets a numeric parameter by its NEST name (`tau_sfa.1` addresses a list entry), for
    /// sweeps; unknown names are an error naming the model.
    pub fn set(
        &mut self,
        model: NeuronModel,
        name: &str,
        value: f64,
    ) -> std::result::Result<(), String> {
        let mut table = match self {
            Self::Iaf(p) => toml::Table::try_from(p.clone()),
            Self::Gif(p) => toml::Table::try_from(p.clone()),
        }
        .map_err(|e| e.to_string())?;
        let (key, index) = match name.split_once('.') {
            Some((k, i)) => (
                k,
                Some(
                    i.parse::<usize>()
                        .map_err(|_| format!("`{name}`: the index must be a whole number"))?,
                ),
            ),
            None => (name, None),
        };
        match index {
            None => {
                table.insert(key.to_string(), toml::Value::Float(value));
            }
            Some(i) => {
                let Some(toml::Value::Array(list)) = table.get_mut(key) else {
                    return Err(format!("`{key}` of {} is not a list", model.name()));
                };
                let len = list.len();
                let slot = list.get_mut(i).ok_or_else(|| {
                    format!("`{name}`: index {i} out of range (the list has {len} entries)")
                })?;
                *slot = toml::Value::Float(value);
            }
        }
        let wrong = match model {
            NeuronModel::IafPscDelta => ["tau_syn_ex", "tau_syn_in"].contains(&key),
            NeuronModel::IafPscExp => key == "V_min",
            NeuronModel::GifPscExp => false,
        };
        let parsed = if wrong {
            Err(format!("`{key}` is not a parameter of {}", model.name()))
        } else {
            match self {
                Self::Iaf(_) => parse::<IafParams>(&table).map(Self::Iaf),
                Self::Gif(_) => parse::<GifParams>(&table).map(Self::Gif),
            }
        };
        *self =
            parsed.map_err(|e| format!("`{name}` cannot be swept for {}: {e}", model.name()))?;
        Ok(())
    }

    /// Checks ranges; `who` names the population in messages.
    pub fn validate(&self, model: NeuronModel, who: &str) -> Result<()> {
        let m = format!("{} population {who}", model.name());
        let bad = |name: &str, value: &dyn std::fmt::Display, allowed: &str| {
            Error::param(m.clone(), name, value, allowed)
        };
        let positive = |list: &[(&str, f64)]| -> Result<()> {
            for (name, v) in list {
                if !(v.is_finite() && *v > 0.0) {
                    return Err(bad(name, v, "must be > 0"));
                }
            }
            Ok(())
        };
        let finite = |list: &[(&str, f64)]| -> Result<()> {
            for (name, v) in list {
                if !v.is_finite() {
                    return Err(bad(name, v, "must be finite"));
                }
            }
            Ok(())
        };
        match self {
            Self::Iaf(p) => {
                positive(&[
                    ("C_m", p.C_m),
                    ("tau_m", p.tau_m),
                    ("tau_syn_ex", p.tau_syn_ex),
                    ("tau_syn_in", p.tau_syn_in),
                ])?;
                finite(&[
                    ("E_L", p.E_L),
                    ("V_th", p.V_th),
                    ("V_reset", p.V_reset),
                    ("I_e", p.I_e),
                    ("V_m", p.V_m.unwrap_or(p.E_L)),
                ])?;
                if !(p.t_ref.is_finite() && p.t_ref >= 0.0) {
                    return Err(bad("t_ref", &p.t_ref, "must be >= 0 ms"));
                }
                if p.V_reset >= p.V_th {
                    return Err(bad(
                        "V_reset",
                        &p.V_reset,
                        &format!("must be below V_th ({} mV)", p.V_th),
                    ));
                }
                if let Some(v) = p.V_min {
                    if !(v.is_finite() && v < p.V_th) {
                        return Err(bad(
                            "V_min",
                            &v,
                            &format!("must be below V_th ({} mV)", p.V_th),
                        ));
                    }
                }
            }
            Self::Gif(p) => {
                positive(&[
                    ("g_L", p.g_L),
                    ("C_m", p.C_m),
                    ("Delta_V", p.Delta_V),
                    ("tau_syn_ex", p.tau_syn_ex),
                    ("tau_syn_in", p.tau_syn_in),
                ])?;
                finite(&[
                    ("E_L", p.E_L),
                    ("V_reset", p.V_reset),
                    ("V_T_star", p.V_T_star),
                    ("I_e", p.I_e),
                    ("V_m", p.V_m.unwrap_or(p.E_L)),
                ])?;
                if !(p.lambda_0.is_finite() && p.lambda_0 >= 0.0) {
                    return Err(bad("lambda_0", &p.lambda_0, "must be >= 0 (1/s)"));
                }
                if !(p.t_ref.is_finite() && p.t_ref >= 0.0) {
                    return Err(bad("t_ref", &p.t_ref, "must be >= 0 ms"));
                }
                for (tn, qn, tau, q) in [
                    ("tau_stc", "q_stc", &p.tau_stc, &p.q_stc),
                    ("tau_sfa", "q_sfa", &p.tau_sfa, &p.q_sfa),
                ] {
                    if tau.len() != q.len() {
                        return Err(bad(
                            qn,
                            &format!("{q:?}"),
                            &format!("must have as many entries as {tn} ({})", tau.len()),
                        ));
                    }
                    if tau.len() > MAX_KERNELS {
                        return Err(bad(
                            tn,
                            &format!("{tau:?}"),
                            &format!("at most {MAX_KERNELS} entries"),
                        ));
                    }
                    if let Some(t) = tau.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
                        return Err(bad(tn, t, "every entry must be > 0 ms"));
                    }
                    if let Some(v) = q.iter().find(|v| !v.is_finite()) {
                        return Err(bad(qn, v, "every entry must be finite"));
                    }
                }
            }
        }
        Ok(())
    }

    /// The refractory period in ms.
    pub fn t_ref(&self) -> f64 {
        match self {
            Self::Iaf(p) => p.t_ref,
            Self::Gif(p) => p.t_ref,
        }
    }

    /// Propagators and constants for time step `h` (ms), in f64 rounded once to f32.
    pub fn coef(&self, model: NeuronModel, h: f64) -> NeuronCoef {
        let mut c = NeuronCoef::default();
        match self {
            Self::Iaf(p) => {
                let p_vv = (-h / p.tau_m).exp();
                c.refr_steps = refractory_steps(p.t_ref, h);
                c.p_vv = p_vv as f32;
                c.p_vi = (-p.tau_m / p.C_m * (-h / p.tau_m).exp_m1()) as f32;
                c.e_l = p.E_L as f32;
                c.v_th = (p.V_th - p.E_L) as f32;
                c.v_reset = (p.V_reset - p.E_L) as f32;
                c.v_min = match (model, p.V_min) {
                    (NeuronModel::IafPscDelta, Some(v)) => (v - p.E_L) as f32,
                    _ => -f32::MAX,
                };
                c.i_e = p.I_e as f32;
                c.p11_ex = (-h / p.tau_syn_ex).exp() as f32;
                c.p11_in = (-h / p.tau_syn_in).exp() as f32;
                c.p21_ex = propagator_32(p.tau_syn_ex, p.tau_m, p.C_m, h) as f32;
                c.p21_in = propagator_32(p.tau_syn_in, p.tau_m, p.C_m, h) as f32;
                c.v_init = (p.V_m.unwrap_or(p.E_L) - p.E_L) as f32;
                c.p_stc = [1.0; MAX_KERNELS];
                c.p_sfa = [1.0; MAX_KERNELS];
            }
            Self::Gif(p) => {
                let tau_m = p.C_m / p.g_L;
                let p33 = (-h / tau_m).exp();
                let p31 = -(-h / tau_m).exp_m1();
                c.refr_steps = refractory_steps(p.t_ref, h);
                c.n_stc = p.tau_stc.len() as u32;
                c.n_sfa = p.tau_sfa.len() as u32;
                c.p_vv = p33 as f32;
                c.p_vi = (1.0 / p.g_L * p31) as f32;
                c.p_vl = (p31 * p.E_L) as f32;
                c.e_l = p.E_L as f32;
                c.v_reset = p.V_reset as f32;
                c.v_min = -f32::MAX;
                c.i_e = p.I_e as f32;
                c.p11_ex = (-h / p.tau_syn_ex).exp() as f32;
                c.p11_in = (-h / p.tau_syn_in).exp() as f32;
                c.p21_ex = propagator_32(p.tau_syn_ex, tau_m, p.C_m, h) as f32;
                c.p21_in = propagator_32(p.tau_syn_in, tau_m, p.C_m, h) as f32;
                c.v_t_star = p.V_T_star as f32;
                c.inv_delta_v = (1.0 / p.Delta_V) as f32;
                c.lambda_h = (p.lambda_0 / 1000.0 * h) as f32;
                c.v_init = p.V_m.unwrap_or(p.E_L) as f32;
                c.p_stc = [1.0; MAX_KERNELS];
                c.p_sfa = [1.0; MAX_KERNELS];
                for (i, (t, q)) in p.tau_stc.iter().zip(&p.q_stc).enumerate() {
                    c.p_stc[i] = (-h / t).exp() as f32;
                    c.q_stc[i] = *q as f32;
                }
                for (i, (t, q)) in p.tau_sfa.iter().zip(&p.q_sfa).enumerate() {
                    c.p_sfa[i] = (-h / t).exp() as f32;
                    c.q_sfa[i] = *q as f32;
                }
            }
        }
        c
    }
}

/// The analytic rate (Hz) of a LIF neuron with constant input in continuous time:
/// `1 / (t_ref + tau_m ln(V_inf - V_reset) / (V_inf - V_th))` with `V_inf = E_L + I_e tau_m / C_m`,
/// 0 when `V_inf <= V_th` (docs/models.md, section 2).
pub fn lif_rate_hz(p: &IafParams) -> f64 {
    let v_inf = p.E_L + p.I_e * p.tau_m / p.C_m;
    if v_inf <= p.V_th {
        return 0.0;
    }
    1000.0 / (p.t_ref + p.tau_m * ((v_inf - p.V_reset) / (v_inf - p.V_th)).ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nest_defaults_and_analytic_rate() {
        let p = IafParams {
            I_e: 500.0,
            ..Default::default()
        };
        // V_inf = 20 mV above rest, threshold 15: T = 10 ln 4 + 2 ms = 15.86 ms.
        assert!(
            (lif_rate_hz(&p) - 63.05).abs() < 0.01,
            "{}",
            lif_rate_hz(&p)
        );
        let c = NeuronParams::Iaf(p).coef(NeuronModel::IafPscDelta, 0.1);
        assert_eq!(c.refr_steps, 20);
        assert!((c.v_th - 15.0).abs() < 1e-6);
    }

    #[test]
    fn propagator_limit_is_continuous() {
        let a = propagator_32(10.0, 10.0, 250.0, 0.1);
        let b = propagator_32(10.0 + 1e-6, 10.0, 250.0, 0.1);
        assert!((a - b).abs() / a < 1e-6, "{a} {b}");
    }

    #[test]
    fn bad_values_are_named() {
        let t: toml::Table = toml::from_str("tau_syn_ex = 3.0").expect("toml");
        let e = NeuronParams::from_table(NeuronModel::IafPscDelta, &t).unwrap_err();
        assert!(e.contains("tau_syn_ex"), "{e}");
        let p = NeuronParams::Gif(GifParams {
            tau_sfa: vec![1.0],
            ..Default::default()
        });
        let e = p
            .validate(NeuronModel::GifPscExp, "E")
            .unwrap_err()
            .to_string();
        assert!(e.contains("q_sfa") && e.contains("as many"), "{e}");
    }
}
