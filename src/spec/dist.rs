//! Values drawn per synapse: a projection's `weight` or `delay` is either one number or a
//! distribution in NEST's terms,
//!
//! ```toml
//! weight = { dist = "normal", mean = 87.8, std = 8.78 }
//! delay = { dist = "normal", mean = 1.5, std = 0.75, min = 0.05 }
//! ```
//!
//! `normal` (mean, std), `lognormal` (mean and std of the underlying normal, as NEST's
//! `nest.random.lognormal`), `uniform` (min, max) and `exponential` (beta, the mean). Draws
//! outside `[min, max]` are drawn again (NEST's `nest.math.redraw`). Every distribution is
//! also cut where a tail holds less than about 3e-7 of its mass (5 standard deviations of a
//! normal; `15 beta` of an exponential), so every synapse value has a known range: the ring of
//! delays and the fixed-point resolution of summed weights are sized from it.

use serde::{Deserialize, Serialize};

/// Standard deviations (of the normal, or of the lognormal's underlying normal) kept on each
/// side of the mean.
pub const TAIL_Z: f64 = 5.0;
/// Means (`beta`) kept of an exponential: `e^-15` = 3.1e-7 of the mass lies beyond.
pub const TAIL_EXP: f64 = 15.0;
/// Least fraction of a distribution's mass inside `[min, max]` (draws are repeated at most
/// [`MAX_TRIES`] times, so the chance that a value is clipped stays below 1e-9).
pub const MIN_ACCEPTED: f64 = 0.5;
/// Draws per synapse value before the last one is clipped into `[min, max]` (in
/// shaders/shared/synapse.wgsl too).
pub const MAX_TRIES: u32 = 32;

/// A projection's weight or delay: one value for every synapse, or a distribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// The same value for every synapse.
    Fixed(f64),
    /// A value drawn per synapse.
    Drawn(Dist),
}

impl Value {
    /// The single value, if not drawn.
    pub fn fixed(&self) -> Option<f64> {
        match self {
            Value::Fixed(v) => Some(*v),
            Value::Drawn(_) => None,
        }
    }

    /// The mean of the values drawn (`weight`: with the sign kept, [`Dist::keep_sign`]).
    pub fn mean_drawn(&self, weight: bool) -> f64 {
        match self {
            Value::Fixed(v) => *v,
            Value::Drawn(d) if weight => d.keep_sign().mean_drawn(),
            Value::Drawn(d) => d.mean_drawn(),
        }
    }

    /// The distribution, if drawn.
    pub fn dist(&self) -> Option<&Dist> {
        match self {
            Value::Fixed(_) => None,
            Value::Drawn(d) => Some(d),
        }
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Fixed(v)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a distribution such as { dist = \"normal\", mean = 1.0, std = 0.1 }")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Fixed(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Fixed(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
                Ok(Value::Fixed(v as f64))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, m: A) -> Result<Value, A::Error> {
                Dist::deserialize(serde::de::value::MapAccessDeserializer::new(m)).map(Value::Drawn)
            }
        }
        d.deserialize_any(V)
    }
}

/// A distribution of synapse values (NEST's `nest.random.*` with `nest.math.redraw` bounds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dist {
    /// `normal`, `lognormal`, `uniform` or `exponential`.
    pub dist: String,
    /// normal: the mean; lognormal: the mean of the underlying normal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    /// normal: the standard deviation; lognormal: that of the underlying normal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<f64>,
    /// uniform: the lower end; otherwise draws below are drawn again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// uniform: the upper end; otherwise draws above are drawn again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// exponential: the mean (NEST's `beta`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
}

/// The distribution families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistKind {
    /// Gaussian.
    Normal,
    /// exp of a Gaussian.
    Lognormal,
    /// Uniform on [min, max].
    Uniform,
    /// Exponential with mean beta.
    Exponential,
}

impl DistKind {
    /// The code the kernels use (`SynDist::kind`, shaders/shared/synapse.wgsl; 0: one value).
    pub fn code(self) -> u32 {
        match self {
            DistKind::Normal => 1,
            DistKind::Lognormal => 2,
            DistKind::Uniform => 3,
            DistKind::Exponential => 4,
        }
    }
}

/// A problem with a distribution: the field (`std`, `min`, ...) and what is allowed.
pub type DistError = (String, String);

fn err(field: &str, msg: impl Into<String>) -> DistError {
    (field.to_string(), msg.into())
}

impl Dist {
    /// The family, or an error naming the allowed ones.
    pub fn kind(&self) -> Result<DistKind, DistError> {
        match self.dist.as_str() {
            "normal" => Ok(DistKind::Normal),
            "lognormal" => Ok(DistKind::Lognormal),
            "uniform" => Ok(DistKind::Uniform),
            "exponential" => Ok(DistKind::Exponential),
            other => Err(err(
                "dist",
                format!(
                    "`{other}`: unknown distribution (normal, lognormal, uniform, exponential)"
                ),
            )),
        }
    }

    /// Checks the parameters the family needs and the bounds.
    pub fn validate(&self) -> Result<(), DistError> {
        let kind = self.kind()?;
        for (name, v) in [
            ("mean", self.mean),
            ("std", self.std),
            ("min", self.min),
            ("max", self.max),
            ("beta", self.beta),
        ] {
            if let Some(v) = v {
                if !v.is_finite() {
                    return Err(err(name, format!("{v}: must be a finite number")));
                }
            }
        }
        let (needs, takes): (&[&str], &[&str]) = match kind {
            DistKind::Normal | DistKind::Lognormal => {
                (&["mean", "std"], &["mean", "std", "min", "max"])
            }
            DistKind::Uniform => (&["min", "max"], &["min", "max"]),
            DistKind::Exponential => (&["beta"], &["beta", "min", "max"]),
        };
        let given = [
            ("mean", self.mean.is_some()),
            ("std", self.std.is_some()),
            ("min", self.min.is_some()),
            ("max", self.max.is_some()),
            ("beta", self.beta.is_some()),
        ];
        for (name, is) in given {
            if needs.contains(&name) && !is {
                return Err(err(
                    name,
                    format!("missing: {} takes {}", self.dist, takes.join(", ")),
                ));
            }
            if is && !takes.contains(&name) {
                return Err(err(
                    name,
                    format!(
                        "does not apply to {} (it takes {})",
                        self.dist,
                        takes.join(", ")
                    ),
                ));
            }
        }
        if let Some(s) = self.std {
            if s < 0.0 {
                return Err(err("std", format!("{s}: must be >= 0")));
            }
        }
        if let Some(b) = self.beta {
            if b <= 0.0 {
                return Err(err("beta", format!("{b}: must be > 0")));
            }
        }
        if let (Some(lo), Some(hi)) = (self.min, self.max) {
            if lo >= hi {
                return Err(err("max", format!("{hi}: must be above min ({lo})")));
            }
        }
        if kind != DistKind::Uniform {
            let (lo, hi) = self.support();
            let kept = self.cdf(hi) - self.cdf(lo);
            if kept.is_nan() || kept < MIN_ACCEPTED {
                return Err(err(
                    "min",
                    format!(
                        "[{}, {}] keeps {:.3} of the distribution's mass: at least {MIN_ACCEPTED} (values outside are drawn again)",
                        self.min.map_or("-inf".into(), |v| v.to_string()),
                        self.max.map_or("inf".into(), |v| v.to_string()),
                        kept.max(0.0)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The distribution as a projection's weights: a normal's draws of the sign opposite to
    /// its mean's are drawn again (`min = 0` or `max = 0`, as NEST's microcircuit example
    /// bounds its weights), so every weight of a projection has one sign.
    pub fn keep_sign(&self) -> Dist {
        let mut d = self.clone();
        if self.kind().ok() == Some(DistKind::Normal) {
            let m = self.mean.unwrap_or(0.0);
            if m > 0.0 {
                d.min = Some(d.min.map_or(0.0, |v| v.max(0.0)));
            } else if m < 0.0 {
                d.max = Some(d.max.map_or(0.0, |v| v.min(0.0)));
            }
        }
        d
    }

    /// The range of the values drawn: `[min, max]` cut to the tails kept (see the module doc).
    pub fn support(&self) -> (f64, f64) {
        let m = self.mean.unwrap_or(0.0);
        let s = self.std.unwrap_or(0.0);
        let (tlo, thi) = match self.kind() {
            Ok(DistKind::Normal) => (m - TAIL_Z * s, m + TAIL_Z * s),
            Ok(DistKind::Lognormal) => ((m - TAIL_Z * s).exp(), (m + TAIL_Z * s).exp()),
            Ok(DistKind::Uniform) => (self.min.unwrap_or(0.0), self.max.unwrap_or(0.0)),
            Ok(DistKind::Exponential) => (0.0, TAIL_EXP * self.beta.unwrap_or(0.0)),
            Err(_) => (0.0, 0.0),
        };
        (
            self.min.map_or(tlo, |v| v.max(tlo)),
            self.max.map_or(thi, |v| v.min(thi)),
        )
    }

    /// Cumulative distribution function of the uncut family.
    pub fn cdf(&self, x: f64) -> f64 {
        let m = self.mean.unwrap_or(0.0);
        let s = self.std.unwrap_or(0.0);
        let phi = |z: f64| 0.5 * statrs::function::erf::erfc(-z / std::f64::consts::SQRT_2);
        match self.kind() {
            Ok(DistKind::Normal) if s > 0.0 => phi((x - m) / s),
            Ok(DistKind::Normal) => f64::from(u8::from(x >= m)),
            Ok(DistKind::Lognormal) if x <= 0.0 => 0.0,
            Ok(DistKind::Lognormal) if s > 0.0 => phi((x.ln() - m) / s),
            Ok(DistKind::Lognormal) => f64::from(u8::from(x.ln() >= m)),
            Ok(DistKind::Uniform) => {
                let (a, b) = (self.min.unwrap_or(0.0), self.max.unwrap_or(1.0));
                ((x - a) / (b - a)).clamp(0.0, 1.0)
            }
            Ok(DistKind::Exponential) => {
                if x <= 0.0 {
                    0.0
                } else {
                    1.0 - (-x / self.beta.unwrap_or(1.0)).exp()
                }
            }
            Err(_) => 0.0,
        }
    }

    /// The mean of the values drawn (the family restricted to [`Dist::support`]), by
    /// integrating the quantile function over the mass kept.
    pub fn mean_drawn(&self) -> f64 {
        let (lo, hi) = self.support();
        if hi <= lo {
            return lo;
        }
        // E[X | lo <= X <= hi] = integral of x dF / mass, by the midpoint rule on a fine grid
        // of x (smooth densities, 2e4 cells: far below a synapse's f32 resolution).
        let n = 20_000;
        let h = (hi - lo) / n as f64;
        let (mut mass, mut first) = (0.0, 0.0);
        let mut prev = self.cdf(lo);
        for i in 0..n {
            let x1 = lo + (i + 1) as f64 * h;
            let c = self.cdf(x1);
            let dm = c - prev;
            mass += dm;
            first += dm * (x1 - 0.5 * h);
            prev = c;
        }
        if mass > 0.0 {
            first / mass
        } else {
            0.5 * (lo + hi)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(mean: f64, std: f64) -> Dist {
        Dist {
            dist: "normal".into(),
            mean: Some(mean),
            std: Some(std),
            min: None,
            max: None,
            beta: None,
        }
    }

    #[test]
    fn support_mean_and_checks() {
        let d = normal(1.5, 0.75);
        assert_eq!(d.support(), (1.5 - 3.75, 1.5 + 3.75));
        assert!((d.mean_drawn() - 1.5).abs() < 1e-6);
        // Redrawn below 0.05: the mean rises (truncated normal: mu + sd phi(a) / (1 - Phi(a))).
        let t = Dist {
            min: Some(0.05),
            ..d.clone()
        };
        let a: f64 = (0.05 - 1.5) / 0.75;
        let pdf = (-0.5 * a * a).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let want = 1.5 + 0.75 * pdf / (1.0 - t.cdf(0.05));
        assert!(
            (t.mean_drawn() - want).abs() < 1e-4,
            "{} vs {want}",
            t.mean_drawn()
        );
        assert!(normal(1.0, -1.0).validate().is_err_and(|e| e.0 == "std"));
        let bad = Dist {
            dist: "gauss".into(),
            ..normal(1.0, 1.0)
        };
        assert!(bad.validate().is_err_and(|e| e.0 == "dist"));
        let far = Dist {
            min: Some(3.0),
            ..normal(1.0, 1.0)
        };
        assert!(far.validate().is_err_and(|e| e.1.contains("keeps")));
        let exp = Dist {
            dist: "exponential".into(),
            mean: None,
            std: None,
            min: None,
            max: None,
            beta: Some(2.0),
        };
        exp.validate().expect("valid");
        assert!((exp.mean_drawn() - 2.0).abs() < 1e-3);
    }
}
