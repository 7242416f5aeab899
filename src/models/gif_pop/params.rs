//! Parameters of one mesoscopic GIF population (NEST's `gif_pop_psc_exp`), as written in a
//! spec's `params` table; the population size N is the population's `size`.
//!
//! | name | unit | default | allowed | meaning |
//! |---|---|---|---|---|
//! | `C_m` | pF | 250 | > 0 | membrane capacitance |
//! | `tau_m` | ms | 20 | > 0 | membrane time constant |
//! | `E_L` | mV | 0 | finite | resting potential |
//! | `V_reset` | mV | 0 | finite | reset potential |
//! | `V_T_star` | mV | 15 | finite | baseline threshold |
//! | `Delta_V` | mV | 2 | > 0 | softness of the escape rate |
//! | `lambda_0` | 1/s | 10 | >= 0 | escape rate at threshold |
//! | `t_ref` | ms | 4 | >= 0 | absolute refractory period |
//! | `tau_sfa` | ms[] | [300] | each > 0 | adaptation time constants |
//! | `q_sfa` | mV[] | [0.5] | finite, same length | adaptation jumps |
//! | `tau_syn_ex` | ms | 3 | > 0 | excitatory PSC time constant |
//! | `tau_syn_in` | ms | 6 | > 0 | inhibitory PSC time constant |
//! | `I_e` | pA | 0 | finite | constant input current |
//! | `len_kernel` | steps | -1 | < 1: automatic; else > t_ref/dt and > delays | history length L |
//! | `BinoRand` | - | true | | binomial (true) or Poisson (false) spike counts |
//!
//! Defaults are NEST 3.10's. The escape rate is `lambda_0 exp((V - theta)/Delta_V)`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Most adaptation kernels per population (`MAX_SFA` in the shader).
pub const MAX_SFA: usize = 4;

/// Parameters of one `gif_pop_psc_exp` population (NEST names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(non_snake_case)]
pub struct GifPopParams {
    /// Membrane capacitance, pF.
    pub C_m: f64,
    /// Membrane time constant, ms.
    pub tau_m: f64,
    /// Resting potential, mV.
    pub E_L: f64,
    /// Reset potential, mV.
    pub V_reset: f64,
    /// Baseline threshold, mV.
    pub V_T_star: f64,
    /// Softness of the exponential escape rate, mV.
    pub Delta_V: f64,
    /// Escape rate at threshold, 1/s.
    pub lambda_0: f64,
    /// Absolute refractory period, ms.
    pub t_ref: f64,
    /// Adaptation time constants, ms.
    pub tau_sfa: Vec<f64>,
    /// Adaptation jumps of the threshold, mV.
    pub q_sfa: Vec<f64>,
    /// Excitatory synaptic time constant, ms.
    pub tau_syn_ex: f64,
    /// Inhibitory synaptic time constant, ms.
    pub tau_syn_in: f64,
    /// Constant input current, pA.
    pub I_e: f64,
    /// History length in steps; < 1 chooses it automatically.
    pub len_kernel: i64,
    /// Binomial (true, NEST's default) or Poisson (false) spike counts.
    pub BinoRand: bool,
}

impl Default for GifPopParams {
    fn default() -> Self {
        Self {
            C_m: 250.0,
            tau_m: 20.0,
            E_L: 0.0,
            V_reset: 0.0,
            V_T_star: 15.0,
            Delta_V: 2.0,
            lambda_0: 10.0,
            t_ref: 4.0,
            tau_sfa: vec![300.0],
            q_sfa: vec![0.5],
            tau_syn_ex: 3.0,
            tau_syn_in: 6.0,
            I_e: 0.0,
            len_kernel: -1,
            BinoRand: true,
        }
    }
}

/// Names a `[sweep]` may vary (scalars; `tau_sfa.0`, `q_sfa.1`, ... address list entries).
pub const SWEEPABLE: &[&str] = &[
    "C_m",
    "tau_m",
    "E_L",
    "V_reset",
    "V_T_star",
    "Delta_V",
    "lambda_0",
    "t_ref",
    "tau_syn_ex",
    "tau_syn_in",
    "I_e",
    "tau_sfa.<i>",
    "q_sfa.<i>",
];

impl GifPopParams {
    /// Parses a spec's `params` table (unknown keys rejected, missing ones defaulted).
    pub fn from_table(table: &toml::Table) -> std::result::Result<Self, String> {
        if table.contains_key("N") {
            return Err("`N` is the population's `size` in a spec".into());
        }
        crate::models::common::parse_params(table)
    }

    /// Sets a numeric parameter by name (for sweeps).
    pub fn set(&mut self, name: &str, value: f64) -> std::result::Result<(), String> {
        let list = |v: &mut Vec<f64>, idx: &str| -> std::result::Result<(), String> {
            let i: usize = idx
                .parse()
                .map_err(|_| format!("`{name}`: index must be a whole number"))?;
            let len = v.len();
            let slot = v.get_mut(i).ok_or_else(|| {
                format!("`{name}`: index {i} out of range (the list has {len} entries)")
            })?;
            *slot = value;
            Ok(())
        };
        match name {
            "C_m" => self.C_m = value,
            "tau_m" => self.tau_m = value,
            "E_L" => self.E_L = value,
            "V_reset" => self.V_reset = value,
            "V_T_star" => self.V_T_star = value,
            "Delta_V" => self.Delta_V = value,
            "lambda_0" => self.lambda_0 = value,
            "t_ref" => self.t_ref = value,
            "tau_syn_ex" => self.tau_syn_ex = value,
            "tau_syn_in" => self.tau_syn_in = value,
            "I_e" => self.I_e = value,
            _ => {
                if let Some(i) = name.strip_prefix("tau_sfa.") {
                    return list(&mut self.tau_sfa, i);
                }
                if let Some(i) = name.strip_prefix("q_sfa.") {
                    return list(&mut self.q_sfa, i);
                }
                return Err(format!(
                    "`{name}` cannot be swept (gif_pop_psc_exp parameters that can: {})",
                    SWEEPABLE.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Checks ranges; `who` names the population in messages.
    pub fn validate(&self, who: &str) -> Result<()> {
        let model = format!("gif_pop_psc_exp population {who}");
        let bad = |name: &str, value: &dyn std::fmt::Display, allowed: &str| {
            Error::param(model.clone(), name, value, allowed)
        };
        let positive = [
            ("C_m", self.C_m, "pF"),
            ("tau_m", self.tau_m, "ms"),
            ("Delta_V", self.Delta_V, "mV"),
            ("tau_syn_ex", self.tau_syn_ex, "ms"),
            ("tau_syn_in", self.tau_syn_in, "ms"),
        ];
        for (name, v, unit) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(name, &v, &format!("must be > 0 {unit}")));
            }
        }
        for (name, v) in [
            ("E_L", self.E_L),
            ("V_reset", self.V_reset),
            ("V_T_star", self.V_T_star),
            ("I_e", self.I_e),
        ] {
            if !v.is_finite() {
                return Err(bad(name, &v, "must be finite"));
            }
        }
        if !(self.lambda_0.is_finite() && self.lambda_0 >= 0.0) {
            return Err(bad("lambda_0", &self.lambda_0, "must be >= 0 (1/s)"));
        }
        if !(self.t_ref.is_finite() && self.t_ref >= 0.0) {
            return Err(bad("t_ref", &self.t_ref, "must be >= 0 ms"));
        }
        if self.tau_sfa.len() != self.q_sfa.len() {
            return Err(bad(
                "q_sfa",
                &format!("{:?}", self.q_sfa),
                &format!(
                    "must have as many entries as tau_sfa ({})",
                    self.tau_sfa.len()
                ),
            ));
        }
        if self.tau_sfa.is_empty() || self.tau_sfa.len() > MAX_SFA {
            return Err(bad(
                "tau_sfa",
                &format!("{:?}", self.tau_sfa),
                &format!("must have 1 to {MAX_SFA} entries (use q_sfa = [0.0] for no adaptation)"),
            ));
        }
        if let Some(t) = self.tau_sfa.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
            return Err(bad("tau_sfa", t, "every entry must be > 0 ms"));
        }
        if let Some(q) = self.q_sfa.iter().find(|q| !q.is_finite()) {
            return Err(bad("q_sfa", q, "every entry must be finite"));
        }
        Ok(())
    }

    /// The adaptation kernel at a lag of `k` steps: `sum_j q_sfa_j exp(-k h / tau_sfa_j)` (mV).
    pub fn adaptation_kernel(&self, k: f64, h: f64) -> f64 {
        self.tau_sfa
            .iter()
            .zip(&self.q_sfa)
            .map(|(t, q)| q * (-k * h / t).exp())
            .sum()
    }

    /// The history length L in steps: `len_kernel` if >= 1, otherwise NEST's automatic choice
    /// (start at 20000 ms / h, shrink while the kernel is below 0.1 Delta_V and L h > 5 tau_m,
    /// keep L h > t_ref), raised so that L exceeds `min_steps`.
    pub fn history_length(&self, h: f64, min_steps: u64) -> u64 {
        if self.len_kernel >= 1 {
            return self.len_kernel as u64;
        }
        let mut k = (20_000.0 / h) as i64;
        let kmin = (5.0 * self.tau_m / h) as i64;
        while self.adaptation_kernel(k as f64, h) / self.Delta_V < 0.1 && k > kmin {
            k -= 1;
        }
        if k as f64 * h <= self.t_ref {
            k = (self.t_ref / h) as i64 + 1;
        }
        (k.max(1) as u64).max(min_steps + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn automatic_history_length_of_the_brunel_gif_network() {
        // tau_sfa [100, 1000] ms, q_sfa [10, 1] mV, Delta_V 2.5: the kernel falls below
        // 0.25 mV after 1000 ms ln 4 = 1386 ms, i.e. 2773 steps of 0.5 ms.
        let p = GifPopParams {
            tau_sfa: vec![100.0, 1000.0],
            q_sfa: vec![10.0, 1.0],
            Delta_V: 2.5,
            ..Default::default()
        };
        let l = p.history_length(0.5, 0);
        assert!((2772..=2774).contains(&l), "{l}");
        assert!(p.adaptation_kernel(l as f64, 0.5) / p.Delta_V >= 0.1);
        assert!(p.adaptation_kernel(l as f64 + 1.0, 0.5) / p.Delta_V < 0.1);
    }

    #[test]
    fn bad_values_are_named() {
        let p = GifPopParams {
            q_sfa: vec![1.0, 2.0],
            ..Default::default()
        };
        let e = p.validate("\"E\"").unwrap_err().to_string();
        assert!(e.contains("q_sfa") && e.contains("as many"), "{e}");
        let p = GifPopParams {
            Delta_V: 0.0,
            ..Default::default()
        };
        assert!(p
            .validate("\"E\"")
            .unwrap_err()
            .to_string()
            .contains("Delta_V"));
        let t: toml::Table = toml::from_str("N = 5").expect("toml");
        assert!(GifPopParams::from_table(&t).unwrap_err().contains("size"));
    }
}
