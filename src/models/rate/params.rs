//! Parameters of one rate population, as written in a spec's `params` table.
//!
//! | name | unit | default | allowed | meaning |
//! |---|---|---|---|---|
//! | `tau` | ms | 1.0 | > 0 | time constant |
//! | `a` | 1/input | 1.2 | > 0 | gain of F |
//! | `theta` | input | 2.8 | finite | threshold of F |
//! | `w` | - | 0.0 | finite | self-coupling (added to projections onto itself) |
//! | `I_ext` | input | 0.0 | finite | constant external input |
//! | `r_init` | rate | 0.2 | finite | initial rate |
//! | `sigma_ou` | input | 0.0 | >= 0 | stationary std of the OU input |
//! | `tau_ou` | ms | 1.0 | > 0 | OU time constant |
//! | `ou_scheme` | - | `euler` | `euler`, `exact` | OU discretisation |
//! | `transfer` | - | `sigmoid` | `sigmoid`, `relu`, `threshold_linear`, `tanh` | F |
//!
//! Defaults are the tutorial's (`default_pars_single`). `transfer`: `sigmoid` is the tutorial's
//! `1/(1+exp(-a(x-theta))) - 1/(1+exp(a theta))` (F(0) = 0); `relu` is `max(x, 0)`;
//! `threshold_linear` is `a max(x - theta, 0)`; `tanh` is `tanh(a (x - theta))` (set `a` and
//! `theta`, whose defaults are the sigmoid's). `ou_scheme = "euler"` is the tutorial's `my_OU`
//! (stationary variance `sigma^2 / (1 - dt/(2 tau_ou))`); `exact` is the exact update
//! `eta e^(-dt/tau_ou) + sigma sqrt(1 - e^(-2dt/tau_ou)) xi` (stationary variance `sigma^2`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Transfer function F.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Transfer {
    /// The tutorial's sigmoid, shifted so that F(0) = 0.
    #[default]
    Sigmoid,
    /// max(x, 0).
    Relu,
    /// a max(x - theta, 0).
    ThresholdLinear,
    /// tanh(a (x - theta)).
    Tanh,
}

/// OU discretisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OuScheme {
    /// The tutorial's Euler-Maruyama update (`my_OU`).
    #[default]
    Euler,
    /// Exact update of the OU process over one step.
    Exact,
}

/// Parameters of one rate population. See the module docs for units and ranges.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateParams {
    /// Time constant in ms.
    pub tau: f64,
    /// Gain of F.
    pub a: f64,
    /// Threshold of F.
    pub theta: f64,
    /// Self-coupling.
    pub w: f64,
    /// Constant external input.
    #[serde(rename = "I_ext")]
    pub i_ext: f64,
    /// Initial rate.
    pub r_init: f64,
    /// Stationary standard deviation of the OU input.
    pub sigma_ou: f64,
    /// OU time constant in ms.
    pub tau_ou: f64,
    /// OU discretisation.
    pub ou_scheme: OuScheme,
    /// Transfer function.
    pub transfer: Transfer,
}

impl Default for RateParams {
    fn default() -> Self {
        Self {
            tau: 1.0,
            a: 1.2,
            theta: 2.8,
            w: 0.0,
            i_ext: 0.0,
            r_init: 0.2,
            sigma_ou: 0.0,
            tau_ou: 1.0,
            ou_scheme: OuScheme::Euler,
            transfer: Transfer::Sigmoid,
        }
    }
}

/// Names that a `[sweep]` may vary.
pub const SWEEPABLE: &[&str] = &[
    "tau", "a", "theta", "w", "I_ext", "r_init", "sigma_ou", "tau_ou",
];

impl RateParams {
    /// Parses a spec's `params` table (unknown keys rejected, missing ones defaulted).
    pub fn from_table(table: &toml::Table) -> std::result::Result<Self, String> {
        crate::models::common::parse_params(table)
    }

    /// Sets a numeric parameter by name (for sweeps).
    pub fn set(&mut self, name: &str, value: f64) -> std::result::Result<(), String> {
        match name {
            "tau" => self.tau = value,
            "a" => self.a = value,
            "theta" => self.theta = value,
            "w" => self.w = value,
            "I_ext" => self.i_ext = value,
            "r_init" => self.r_init = value,
            "sigma_ou" => self.sigma_ou = value,
            "tau_ou" => self.tau_ou = value,
            _ => {
                return Err(format!(
                    "`{name}` cannot be swept (rate parameters that can: {})",
                    SWEEPABLE.join(", ")
                ))
            }
        }
        Ok(())
    }

    /// Checks ranges for time step `dt` (ms). Returns warnings (e.g. a coarse time step);
    /// `who` names the population in messages.
    pub fn validate(&self, dt: f64, who: &str) -> Result<Vec<String>> {
        let bad = |name: &str, value: f64, allowed: &str| {
            Error::param(format!("rate population {who}"), name, value, allowed)
        };
        let finite = |name: &str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(bad(name, v, "must be finite"))
            }
        };
        if !(self.tau.is_finite() && self.tau > 0.0) {
            return Err(bad("tau", self.tau, "must be > 0 ms"));
        }
        if !(self.a.is_finite() && self.a > 0.0) && self.transfer != Transfer::Relu {
            return Err(bad("a", self.a, "must be > 0"));
        }
        finite("theta", self.theta)?;
        finite("w", self.w)?;
        finite("I_ext", self.i_ext)?;
        finite("r_init", self.r_init)?;
        if !(self.sigma_ou.is_finite() && self.sigma_ou >= 0.0) {
            return Err(bad("sigma_ou", self.sigma_ou, "must be >= 0"));
        }
        if !(self.tau_ou.is_finite() && self.tau_ou > 0.0) {
            return Err(bad("tau_ou", self.tau_ou, "must be > 0 ms"));
        }
        let mut warnings = Vec::new();
        if dt >= 2.0 * self.tau {
            return Err(bad(
                "tau",
                self.tau,
                &format!("forward Euler is unstable for dt >= 2 tau (dt = {dt} ms): use tau > {} ms or a smaller dt", dt / 2.0),
            ));
        }
        if dt > 0.5 * self.tau {
            warnings.push(format!(
                "rate population {who}: dt = {dt} ms is more than tau/2 = {} ms; forward Euler will be inaccurate (the tutorial uses dt = tau/10)",
                self.tau / 2.0
            ));
        }
        if self.sigma_ou > 0.0 && self.ou_scheme == OuScheme::Euler && dt >= 2.0 * self.tau_ou {
            return Err(bad(
                "tau_ou",
                self.tau_ou,
                &format!("the Euler OU update is unstable for dt >= 2 tau_ou (dt = {dt} ms): use ou_scheme = \"exact\""),
            ));
        }
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_tutorials() {
        let p = RateParams::from_table(&toml::Table::new()).expect("defaults");
        assert_eq!(
            (p.tau, p.a, p.theta, p.w, p.i_ext, p.r_init),
            (1.0, 1.2, 2.8, 0.0, 0.0, 0.2)
        );
    }

    #[test]
    fn unknown_and_bad_values_are_named() {
        let t: toml::Table = toml::from_str("taux = 1.0").expect("toml");
        let e = RateParams::from_table(&t).unwrap_err();
        assert!(e.contains("taux") && e.contains("tau"), "{e}");
        let p = RateParams {
            tau: -1.0,
            ..Default::default()
        };
        let e = p.validate(0.1, "\"E\"").unwrap_err().to_string();
        assert!(e.contains("tau") && e.contains("> 0"), "{e}");
        let p = RateParams {
            tau: 0.1,
            ..Default::default()
        };
        let e = p.validate(0.5, "\"E\"").unwrap_err().to_string();
        assert!(e.contains("unstable"), "{e}");
        let p = RateParams {
            tau: 0.15,
            ..Default::default()
        };
        assert_eq!(p.validate(0.1, "\"E\"").expect("ok").len(), 1);
    }
}
