//! Parameters of a population of independent leaky integrate-and-fire neurons, as written in
//! a spec's `params` table (docs/models.md, section 2).
//!
//! `tau_m dV/dt = -(V - E_L) + R_m (I + I_stim(t) + eta(t)) + tau_m sigma xi(t)`: spike when V
//! exceeds `V_th`, then V is held at `V_reset` for `t_ref`.
//!
//! | name | unit | default | allowed | meaning |
//! |---|---|---|---|---|
//! | `tau_m` | ms | 10.0 | > 0, > dt | membrane time constant |
//! | `E_L` | mV | -75.0 | finite | leak (resting) potential |
//! | `V_th` | mV | -50.0 | finite, > V_reset | threshold |
//! | `V_reset` | mV | -75.0 | finite | reset potential |
//! | `V_init` | mV | `V_reset` | finite, <= V_th | V at t = 0 |
//! | `R_m` | MOhm | 10.0 | finite, > 0 | membrane resistance (R_m x nA = mV) |
//! | `I` | nA | 0.0 | finite | constant input current |
//! | `t_ref` | ms | 0.0 | >= 0 | absolute refractory period |
//! | `sigma` | mV/sqrt(ms) | 0.0 | >= 0 | white-noise amplitude: `dV = ... + sigma dW` (`sigma sqrt(dt) xi` per Euler step) |
//! | `sigma_ou` | nA | 0.0 | >= 0 | stationary std of an Ornstein-Uhlenbeck input current eta |
//! | `tau_ou` | ms | 1.0 | > 0 | OU time constant |
//! | `scheme` | - | `exact` | `exact`, `euler` | propagator of the free membrane (and its noise) |
//! | `crossing_correction` | - | false | bool | Brownian-bridge threshold crossings within a step (needs `sigma > 0`) |
//! | `grid_rounding` | - | false | bool | without noise: spikes on the grid (the Differential Equations tutorial's convention) |
//! | `rho` | - | 0.0 | [0, 1] | input correlation: the white noise of neuron i is `sqrt(rho) c + sqrt(1 - rho) e_i`, `c` shared within its group (needs `sigma > 0`) |
//! | `group` | neurons | 0 (= `size`) | >= 0 | neurons per group sharing `c` (groups are consecutive neurons of one replica; not sweepable) |
//!
//! Defaults are the values of the Neuromatch Academy tutorial "Differential Equations"
//! (W0D4 T2: `E_L = V_reset = -75 mV, tau_m = 10 ms, R_m = 10 MOhm, V_th = -50 mV`).
//!
//! **Integration.** The deterministic part uses the exponential propagator
//! `V(t + dt) = V_inf + (V - V_inf) e^{-dt/tau_m}`, `V_inf = E_L + R_m (I + I_stim + eta)`,
//! computed on the host in f64 (`scheme = "euler"` uses `1 - dt/tau_m` instead, the
//! moment-activation tutorial's update). Without noise (`sigma = sigma_ou = 0`) and without
//! `grid_rounding`, the threshold crossing time inside a step is solved exactly
//! (`s = tau_m ln((V - V_inf)/(V_th - V_inf))`), the neuron resets at that time, stays
//! refractory for exactly `t_ref` and evolves exactly for the rest of the step, so a constant
//! or piecewise-constant input has no time-discretisation error at all (at most one spike per
//! step: the ISI must exceed dt). With `grid_rounding = true`, V is the exact solution on the
//! grid and the neuron resets at the first grid point above threshold (the Differential
//! Equations tutorial's `Exact_Integrate_and_Fire`), so every ISI is the exact one rounded up
//! to a multiple of dt; `t_ref` is then rounded to whole steps. With noise, spikes are on the
//! grid and each step adds `s_dt xi` to V: with `scheme = "exact"`
//! `s_dt = sigma sqrt(tau_m (1 - e^{-2 dt/tau_m}) / 2)`, the exact transition of the free
//! membrane (an Ornstein-Uhlenbeck process), so the only time-step error left is in threshold
//! detection; with `scheme = "euler"` it is Euler-Maruyama's `sigma sqrt(dt)` (the
//! moment-activation tutorial's update, exactly). Then `crossing_correction = true`
//! additionally fires, after a step from V_0 to V_1 that stays below threshold, with the
//! Brownian-bridge probability `exp(-2 (V_th - V_0)(V_th - V_1) / s_dt^2)` (= `sigma^2 dt`
//! for `euler`).
//!
//! **Moment-activation tutorial form.** `dV = -L V dt + mu_bar dt + sigma_bar sqrt(dt) xi`
//! with `V_th = 20`, `V_res = 0`, `T_ref = 5` is this model with `tau_m = 1/L`, `E_L = 0`,
//! `V_reset = 0`, `V_th = 20`, `t_ref = 5`, `R_m I = mu_bar / L` (e.g. `R_m = 1`,
//! `I = mu_bar / L`) and `sigma = sigma_bar`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Propagator of the deterministic part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// `e^{-dt/tau_m}`: exact for piecewise-constant input.
    #[default]
    Exact,
    /// `1 - dt/tau_m`: forward Euler, as the moment-activation tutorial.
    Euler,
}

/// Parameters of one LIF population. See the module docs for units and ranges.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifParams {
    /// Membrane time constant, ms.
    pub tau_m: f64,
    /// Leak potential, mV.
    #[serde(rename = "E_L")]
    pub e_l: f64,
    /// Threshold, mV.
    #[serde(rename = "V_th")]
    pub v_th: f64,
    /// Reset potential, mV.
    #[serde(rename = "V_reset")]
    pub v_reset: f64,
    /// Initial potential, mV (NaN: V_reset).
    #[serde(rename = "V_init", skip_serializing_if = "Option::is_none")]
    pub v_init: Option<f64>,
    /// Membrane resistance, MOhm.
    #[serde(rename = "R_m")]
    pub r_m: f64,
    /// Constant input current, nA.
    #[serde(rename = "I")]
    pub i: f64,
    /// Refractory period, ms.
    pub t_ref: f64,
    /// White-noise amplitude, mV/sqrt(ms).
    pub sigma: f64,
    /// Stationary std of the OU input current, nA.
    pub sigma_ou: f64,
    /// OU time constant, ms.
    pub tau_ou: f64,
    /// Propagator.
    pub scheme: Scheme,
    /// Brownian-bridge crossing correction.
    pub crossing_correction: bool,
    /// Spikes on the grid without noise (the Differential Equations tutorial's convention).
    pub grid_rounding: bool,
    /// Input correlation of the white noise within a group, [0, 1].
    pub rho: f64,
    /// Neurons per correlation group (0: the whole population).
    pub group: u64,
}

impl Default for LifParams {
    fn default() -> Self {
        Self {
            tau_m: 10.0,
            e_l: -75.0,
            v_th: -50.0,
            v_reset: -75.0,
            v_init: None,
            r_m: 10.0,
            i: 0.0,
            t_ref: 0.0,
            sigma: 0.0,
            sigma_ou: 0.0,
            tau_ou: 1.0,
            scheme: Scheme::Exact,
            crossing_correction: false,
            grid_rounding: false,
            rho: 0.0,
            group: 0,
        }
    }
}

/// Names that a `[sweep]` may vary.
pub const SWEEPABLE: &[&str] = &[
    "tau_m", "E_L", "V_th", "V_reset", "V_init", "R_m", "I", "t_ref", "sigma", "sigma_ou",
    "tau_ou", "rho",
];

impl LifParams {
    /// Parses a spec's `params` table (unknown keys rejected, missing ones defaulted).
    pub fn from_table(table: &toml::Table) -> std::result::Result<Self, String> {
        crate::models::common::parse_params(table)
    }

    /// Sets a numeric parameter by name (for sweeps).
    pub fn set(&mut self, name: &str, value: f64) -> std::result::Result<(), String> {
        match name {
            "tau_m" => self.tau_m = value,
            "E_L" => self.e_l = value,
            "V_th" => self.v_th = value,
            "V_reset" => self.v_reset = value,
            "V_init" => self.v_init = Some(value),
            "R_m" => self.r_m = value,
            "I" => self.i = value,
            "t_ref" => self.t_ref = value,
            "sigma" => self.sigma = value,
            "sigma_ou" => self.sigma_ou = value,
            "tau_ou" => self.tau_ou = value,
            "rho" => self.rho = value,
            _ => {
                return Err(format!(
                    "`{name}` cannot be swept (lif parameters that can: {})",
                    SWEEPABLE.join(", ")
                ))
            }
        }
        Ok(())
    }

    /// The initial potential, mV.
    pub fn v0(&self) -> f64 {
        self.v_init.unwrap_or(self.v_reset)
    }

    /// Whether this parameter set has any noise.
    pub fn noisy(&self) -> bool {
        self.sigma > 0.0 || self.sigma_ou > 0.0
    }

    /// Checks ranges for time step `dt` (ms); `who` names the population in messages.
    pub fn validate(&self, dt: f64, who: &str) -> Result<()> {
        let bad = |name: &str, value: f64, allowed: &str| {
            Error::param(format!("lif population {who}"), name, value, allowed)
        };
        let finite = |name: &str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(bad(name, v, "must be finite"))
            }
        };
        if !(self.tau_m.is_finite() && self.tau_m > 0.0) {
            return Err(bad("tau_m", self.tau_m, "must be > 0 ms"));
        }
        if dt >= self.tau_m {
            return Err(bad(
                "tau_m",
                self.tau_m,
                &format!("must be > dt = {dt} ms (the time step must resolve the membrane)"),
            ));
        }
        finite("E_L", self.e_l)?;
        finite("V_th", self.v_th)?;
        finite("V_reset", self.v_reset)?;
        finite("I", self.i)?;
        if self.v_reset >= self.v_th {
            return Err(bad("V_reset", self.v_reset, "must be < V_th"));
        }
        let v0 = self.v0();
        if !(v0.is_finite() && v0 <= self.v_th) {
            return Err(bad("V_init", v0, "must be finite and <= V_th"));
        }
        if !(self.r_m.is_finite() && self.r_m > 0.0) {
            return Err(bad("R_m", self.r_m, "must be > 0 MOhm"));
        }
        if !(self.t_ref.is_finite() && self.t_ref >= 0.0) {
            return Err(bad("t_ref", self.t_ref, "must be >= 0 ms"));
        }
        if !(self.sigma.is_finite() && self.sigma >= 0.0) {
            return Err(bad("sigma", self.sigma, "must be >= 0 mV/sqrt(ms)"));
        }
        if !(self.sigma_ou.is_finite() && self.sigma_ou >= 0.0) {
            return Err(bad("sigma_ou", self.sigma_ou, "must be >= 0 nA"));
        }
        if !(self.tau_ou.is_finite() && self.tau_ou > 0.0) {
            return Err(bad("tau_ou", self.tau_ou, "must be > 0 ms"));
        }
        if !(self.rho.is_finite() && (0.0..=1.0).contains(&self.rho)) {
            return Err(bad("rho", self.rho, "must be in [0, 1]"));
        }
        if self.rho > 0.0 && self.sigma <= 0.0 {
            return Err(bad(
                "rho",
                self.rho,
                "correlates the white noise: needs sigma > 0",
            ));
        }
        if self.t_ref / dt > f64::from(u32::MAX / 2) {
            return Err(bad("t_ref", self.t_ref, "must be < 2^31 time steps"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_tutorials() {
        let p = LifParams::from_table(&toml::Table::new()).expect("defaults");
        assert_eq!(
            (p.tau_m, p.e_l, p.v_th, p.v_reset, p.r_m),
            (10.0, -75.0, -50.0, -75.0, 10.0)
        );
        assert_eq!(p.v0(), -75.0);
    }

    #[test]
    fn bad_values_are_named() {
        let p = LifParams {
            tau_m: 0.0,
            ..Default::default()
        };
        let e = p.validate(0.1, "\"N\"").unwrap_err().to_string();
        assert!(e.contains("tau_m") && e.contains("> 0"), "{e}");
        let p = LifParams {
            tau_m: 0.1,
            ..Default::default()
        };
        let e = p.validate(0.1, "\"N\"").unwrap_err().to_string();
        assert!(e.contains("tau_m") && e.contains("dt"), "{e}");
        let p = LifParams {
            i: f64::NAN,
            ..Default::default()
        };
        let e = p.validate(0.1, "\"N\"").unwrap_err().to_string();
        assert!(e.contains("I") && e.contains("finite"), "{e}");
    }
}
