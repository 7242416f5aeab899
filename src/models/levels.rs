//! One spec, two levels (docs/models.md, section 7): a network of GIF populations runs either as
//! `gif_psc_exp` neurons (microscopic) or as one `gif_pop_psc_exp` unit per population
//! (mesoscopic). The conversion keeps every parameter value (defaults of the source model
//! written out, since the two NEST models have different defaults), sets `g_L = C_m / tau_m`
//! or back, and leaves projections as they are: the mesoscopic model turns a projection's
//! per-synapse weight into `weight x pconn` per spike of multiplicity n itself.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::models::gif_pop::GifPopParams;
use crate::models::spiking::params::GifParams;
use crate::spec::Spec;

/// The level a GIF network runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `gif_psc_exp` neurons, connected by the projections' rules.
    Micro,
    /// One `gif_pop_psc_exp` unit per population.
    Meso,
}

fn to_table<T: Serialize>(spec: &Spec, key: &str, v: &T) -> Result<toml::Table> {
    toml::Table::try_from(v).map_err(|e| spec.error(key, e.to_string()))
}

/// `spec` at `level`; warnings say what did not carry over (e.g. spike records at the
/// mesoscopic level). A spec already at that level is returned unchanged.
pub fn at_level(spec: &Spec, level: Level) -> Result<(Spec, Vec<String>)> {
    let mut out = spec.clone();
    let mut warnings = Vec::new();
    for (i, p) in out.populations.iter_mut().enumerate() {
        let key = format!("population[{i}]");
        match (p.model.as_str(), level) {
            ("gif_pop_psc_exp", Level::Micro) => {
                let m = GifPopParams::from_table(&p.params)
                    .map_err(|e| spec.error(format!("{key}.params"), e))?;
                let g = GifParams {
                    g_L: m.C_m / m.tau_m,
                    E_L: m.E_L,
                    C_m: m.C_m,
                    V_reset: m.V_reset,
                    Delta_V: m.Delta_V,
                    V_T_star: m.V_T_star,
                    lambda_0: m.lambda_0,
                    t_ref: m.t_ref,
                    tau_stc: Vec::new(),
                    q_stc: Vec::new(),
                    tau_sfa: m.tau_sfa.clone(),
                    q_sfa: m.q_sfa.clone(),
                    tau_syn_ex: m.tau_syn_ex,
                    tau_syn_in: m.tau_syn_in,
                    I_e: m.I_e,
                    V_m: None,
                };
                p.params = to_table(spec, &key, &g)?;
                p.model = "gif_psc_exp".into();
            }
            ("gif_psc_exp", Level::Meso) => {
                let g: GifParams = toml::Value::Table(p.params.clone()).try_into().map_err(
                    |e: toml::de::Error| spec.error(format!("{key}.params"), e.message().trim()),
                )?;
                if g.q_stc.iter().any(|q| *q != 0.0) {
                    return Err(spec.error(
                        format!("{key}.params.q_stc"),
                        "spike-triggered currents have no mesoscopic counterpart in gif_pop_psc_exp: the population cannot run at the meso level",
                    ));
                }
                let (tau_sfa, q_sfa) = if g.tau_sfa.is_empty() {
                    (vec![1.0], vec![0.0])
                } else {
                    (g.tau_sfa.clone(), g.q_sfa.clone())
                };
                let m = GifPopParams {
                    C_m: g.C_m,
                    tau_m: g.C_m / g.g_L,
                    E_L: g.E_L,
                    V_reset: g.V_reset,
                    V_T_star: g.V_T_star,
                    Delta_V: g.Delta_V,
                    lambda_0: g.lambda_0,
                    t_ref: g.t_ref,
                    tau_sfa,
                    q_sfa,
                    tau_syn_ex: g.tau_syn_ex,
                    tau_syn_in: g.tau_syn_in,
                    I_e: g.I_e,
                    ..Default::default()
                };
                p.params = to_table(spec, &key, &m)?;
                p.model = "gif_pop_psc_exp".into();
            }
            ("gif_pop_psc_exp", Level::Meso) | ("gif_psc_exp", Level::Micro) => {}
            (other, _) => {
                return Err(spec.error(
                    format!("{key}.model"),
                    format!("`{other}`: only GIF networks (gif_psc_exp or gif_pop_psc_exp) run at both levels"),
                ));
            }
        }
    }
    if level == Level::Meso && (!out.record.spikes.is_empty() || !out.record.traces.is_empty()) {
        {
            warnings.push(
                "spike and V_m records have no mesoscopic counterpart and were dropped".into(),
            );
            out.record.spikes.clear();
            out.record.traces.clear();
        }
    }
    out.validate()?;
    Ok((out, warnings))
}
