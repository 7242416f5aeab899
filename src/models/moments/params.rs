//! Parameters of the LIF neuron whose moment activation is computed (docs/models.md, section 2).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The leaky integrate-and-fire neuron `dV = -L V dt + mu_bar dt + sigma_bar dW`, spike and
/// reset to `V_res` at `V_th`, refractory for `T_ref`. Defaults are the moment-activation
/// tutorial's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MomentParams {
    /// Leak conductance L, 1/ms (default 0.05, i.e. tau_m = 20 ms); finite, > 0.
    #[serde(rename = "L")]
    pub l: f64,
    /// Threshold V_th, mV (default 20); finite, > V_res.
    #[serde(rename = "V_th")]
    pub v_th: f64,
    /// Reset potential V_res, mV (default 0); finite, < V_th.
    #[serde(rename = "V_res")]
    pub v_res: f64,
    /// Refractory period T_ref, ms (default 5); finite, >= 0.
    #[serde(rename = "T_ref")]
    pub t_ref: f64,
}

impl Default for MomentParams {
    fn default() -> Self {
        Self {
            l: 0.05,
            v_th: 20.0,
            v_res: 0.0,
            t_ref: 5.0,
        }
    }
}

const MODEL: &str = "moment activation (LIF)";

impl MomentParams {
    /// Checks every field, with an error naming the field and its allowed range.
    pub fn validate(&self) -> Result<()> {
        let check = |name: &str, v: f64, ok: bool, allowed: &str| {
            if v.is_finite() && ok {
                Ok(())
            } else {
                Err(Error::param(MODEL, name, v, allowed))
            }
        };
        check(
            "L",
            self.l,
            self.l > 0.0,
            "must be a finite number > 0 (1/ms)",
        )?;
        check(
            "T_ref",
            self.t_ref,
            self.t_ref >= 0.0,
            "must be a finite number >= 0 (ms)",
        )?;
        check("V_res", self.v_res, true, "must be a finite number (mV)")?;
        check(
            "V_th",
            self.v_th,
            self.v_th > self.v_res,
            "must be a finite number > V_res (mV)",
        )?;
        Ok(())
    }

    /// `V_th L`, the input mean at which the noiseless neuron starts to fire.
    pub fn rheobase(&self) -> f64 {
        self.v_th * self.l
    }
}

/// Checks one input point: `mu_bar` finite, `sigma_bar` finite and >= 0.
pub fn validate_input(mu_bar: f64, sigma_bar: f64) -> Result<()> {
    if !mu_bar.is_finite() {
        return Err(Error::param(
            MODEL,
            "mu_bar",
            mu_bar,
            "must be finite (mV/ms)",
        ));
    }
    if !(sigma_bar.is_finite() && sigma_bar >= 0.0) {
        return Err(Error::param(
            MODEL,
            "sigma_bar",
            sigma_bar,
            "must be finite and >= 0 (mV/sqrt(ms))",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_the_field() {
        MomentParams::default().validate().expect("defaults");
        let e = MomentParams {
            l: 0.0,
            ..Default::default()
        }
        .validate()
        .expect_err("L = 0");
        assert!(e.to_string().contains("`L`"), "{e}");
        let e = MomentParams {
            v_th: -1.0,
            ..Default::default()
        }
        .validate()
        .expect_err("V_th < V_res");
        assert!(e.to_string().contains("`V_th`") && e.is_user_error(), "{e}");
        assert!(validate_input(0.0, -1.0).is_err());
        assert!(validate_input(f64::NAN, 1.0).is_err());
    }
}
