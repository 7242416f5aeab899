//! `[sweep]`: parameter grids expanded into independent replicas.
//!
//! Keys name what varies: `"POP.param"` for a population parameter, `"SRC->TGT.weight"` for
//! a projection weight. Values are a list (`[0.0, 0.5, 1.0]`) or a linear range
//! (`{ start = 0.0, stop = 1.0, num = 11 }`, both ends included, as `numpy.linspace`).
//! Combinations are ordered like `itertools.product` over the keys in file order (the last key
//! varies fastest), and each combination is run `simulation.replicas` times: replica index
//! `combination * replicas + copy`.

use serde::{Deserialize, Serialize};

use super::{spec_err, Spec};
use crate::error::Result;

/// Values of one sweep key as written in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum SweepValues {
    /// Explicit values.
    List(Vec<f64>),
    /// `num` evenly spaced values from `start` to `stop` inclusive.
    Range {
        /// First value.
        start: f64,
        /// Last value.
        stop: f64,
        /// Number of values (>= 1).
        num: u32,
    },
}

impl SweepValues {
    /// The values, expanded.
    pub fn expand(&self) -> Vec<f64> {
        match self {
            SweepValues::List(v) => v.clone(),
            SweepValues::Range { start, stop, num } => {
                if *num == 1 {
                    return vec![*start];
                }
                let n = f64::from(*num - 1);
                (0..*num)
                    .map(|i| start + (stop - start) * f64::from(i) / n)
                    .collect()
            }
        }
    }
}

/// One swept key with its expanded values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepAxis {
    /// The key as written (`E.w`, `E->I.weight`).
    pub key: String,
    /// Population name (for `POP.param`) or `None` (for a projection).
    pub population: Option<String>,
    /// Projection `(source, target)` for `SRC->TGT.weight`.
    pub projection: Option<(String, String)>,
    /// Parameter name (`w`, `weight`, ...).
    pub param: String,
    /// Values in grid order.
    pub values: Vec<f64>,
}

/// The whole grid.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SweepGrid {
    /// Axes in file order; the last varies fastest.
    pub axes: Vec<SweepAxis>,
}

/// Largest number of replicas a run may hold: replica indices are u32 RNG element words.
pub const MAX_REPLICAS: u64 = u32::MAX as u64;

impl SweepGrid {
    pub(super) fn from_table(table: &toml::Table, spec: &Spec) -> Result<Self> {
        let src = spec.source.as_str();
        let mut axes = Vec::new();
        for (key, value) in table {
            let where_ = format!("sweep.\"{key}\"");
            let parsed: SweepValues = value.clone().try_into().map_err(|_| {
                spec_err(
                    src,
                    &where_,
                    "must be a list of numbers or { start, stop, num }",
                )
            })?;
            let values = parsed.expand();
            if values.is_empty() {
                return Err(spec_err(src, &where_, "no values: give at least one"));
            }
            if let Some(v) = values.iter().find(|v| !v.is_finite()) {
                return Err(spec_err(
                    src,
                    &where_,
                    format!("{v}: values must be finite"),
                ));
            }
            // Population names hold no '.', parameters may (`E.tau_sfa.1`: an entry of a list).
            let Some((target, param)) = key.split_once('.') else {
                return Err(spec_err(
                    src,
                    &where_,
                    "key must be `POP.param` or `SRC->TGT.weight`",
                ));
            };
            let (population, projection) = if let Some((s, t)) = target.split_once("->") {
                if !spec
                    .projections
                    .iter()
                    .any(|p| p.source == s && p.target == t)
                {
                    return Err(spec_err(
                        src,
                        &where_,
                        format!("no projection from `{s}` to `{t}`"),
                    ));
                }
                if param != "weight" {
                    return Err(spec_err(
                        src,
                        &where_,
                        format!("`{param}`: only `weight` of a projection can be swept"),
                    ));
                }
                (None, Some((s.to_string(), t.to_string())))
            } else {
                if spec.population(target).is_none() {
                    return Err(spec_err(
                        src,
                        &where_,
                        format!(
                            "`{target}`: no population of that name ({})",
                            spec.population_names()
                        ),
                    ));
                }
                (Some(target.to_string()), None)
            };
            axes.push(SweepAxis {
                key: key.clone(),
                population,
                projection,
                param: param.to_string(),
                values,
            });
        }
        let grid = SweepGrid { axes };
        let total = grid
            .axes
            .iter()
            .try_fold(1u64, |acc, a| acc.checked_mul(a.values.len() as u64))
            .and_then(|c| c.checked_mul(u64::from(spec.simulation.replicas)));
        match total {
            Some(t) if t <= MAX_REPLICAS => Ok(grid),
            _ => Err(spec_err(
                src,
                "sweep",
                format!("combinations x replicas exceeds {MAX_REPLICAS} replicas per run"),
            )),
        }
    }

    /// Number of combinations (1 for an empty grid).
    pub fn combinations(&self) -> u64 {
        self.axes.iter().map(|a| a.values.len() as u64).product()
    }

    /// Index along `axis` of combination `combo`.
    pub fn index(&self, axis: usize, combo: u64) -> usize {
        let stride: u64 = self.axes[axis + 1..]
            .iter()
            .map(|a| a.values.len() as u64)
            .product();
        ((combo / stride) % self.axes[axis].values.len() as u64) as usize
    }

    /// Value of `axis` in combination `combo`.
    pub fn value(&self, axis: usize, combo: u64) -> f64 {
        self.axes[axis].values[self.index(axis, combo)]
    }

    /// The grid as rows `[combination][axis]`, for `sweep.npy`.
    pub fn table(&self) -> Vec<f64> {
        let n = self.combinations();
        let mut out = Vec::with_capacity(n as usize * self.axes.len());
        for c in 0..n {
            for a in 0..self.axes.len() {
                out.push(self.value(a, c));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_is_ordered_like_itertools_product() {
        let text = r#"
[simulation]
dt = 0.1
t_end = 1.0
replicas = 2
[[population]]
name = "E"
model = "rate"
[sweep]
"E.w" = [0.0, 5.0]
"E.I_ext" = { start = 0.0, stop = 1.0, num = 3 }
"#;
        let spec = Spec::parse(text, "t.toml").expect("parse");
        let g = spec.sweep_grid().expect("grid");
        assert_eq!(g.combinations(), 6);
        assert_eq!(spec.total_replicas().expect("n"), 12);
        assert_eq!(
            g.table(),
            vec![0.0, 0.0, 0.0, 0.5, 0.0, 1.0, 5.0, 0.0, 5.0, 0.5, 5.0, 1.0]
        );
    }

    #[test]
    fn list_entries_and_projections_split_at_the_population() {
        let text = r#"
[simulation]
dt = 0.5
t_end = 10.0
[[population]]
name = "E"
model = "gif_psc_exp"
size = 10
params = { tau_sfa = [100.0, 1000.0], q_sfa = [1.0, 1.0] }
[[projection]]
source = "E"
target = "E"
weight = 1.0
[sweep]
"E.tau_sfa.1" = [500.0, 2000.0]
"E->E.weight" = [1.0, 2.0]
"#;
        let spec = Spec::parse(text, "t.toml").expect("parse");
        let g = spec.sweep_grid().expect("grid");
        assert_eq!(g.axes[0].population.as_deref(), Some("E"));
        assert_eq!(g.axes[0].param, "tau_sfa.1");
        assert_eq!(
            g.axes[1].projection,
            Some(("E".to_string(), "E".to_string()))
        );
        assert_eq!(g.axes[1].param, "weight");
        // The model accepts the entry: the network builds for every combination.
        crate::models::spiking::SpikingNetwork::from_spec(&spec).expect("sweep over a list entry");
    }

    #[test]
    fn bad_sweep_keys_are_rejected() {
        let base = "[simulation]\ndt = 0.1\nt_end = 1.0\n[[population]]\nname = \"E\"\nmodel = \"rate\"\n[sweep]\n";
        let e = Spec::parse(&format!("{base}\"X.w\" = [1.0]\n"), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sweep.\"X.w\"") && e.contains("`X`"), "{e}");
        let e = Spec::parse(&format!("{base}\"E.w\" = \"a\"\n"), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("list of numbers"), "{e}");
        let e = Spec::parse(
            &format!("{base}\"E.w\" = {{ start = 0.0, stop = 1.0, num = 3, step = 0.5 }}\n"),
            "t.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("start, stop, num"), "{e}");
        let e = Spec::parse(&format!("{base}\"E->E.weight\" = [1.0]\n"), "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no projection"), "{e}");
    }
}
