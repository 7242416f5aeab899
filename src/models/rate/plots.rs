//! The analysis figures of `neuropop fixed-points --plot DIR`: trajectories from several
//! initial rates, dr/dt against r with the fixed points marked (filled = stable, open =
//! unstable), the F-I curve, a bifurcation map over (w, I_ext), and an OU-driven run.

use std::path::{Path, PathBuf};

use super::analysis::{bifurcation_map, drdt, f, fixed_points};
use super::params::RateParams;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::output::plot::{Figure, HeatMap, LinePlot, Marker, Series};
use crate::output::MemoryRecorder;
use crate::progress::Progress;
use crate::run::Model;
use crate::spec::Spec;

/// Forward Euler in f64 from `r0` for `t_end` ms (the tutorial's `simulate_single`).
pub fn euler_trajectory(p: &RateParams, r0: f64, dt: f64, t_end: f64) -> Vec<(f64, f64)> {
    let n = (t_end / dt).round() as usize;
    let mut r = r0;
    let mut out = Vec::with_capacity(n + 1);
    for k in 0..=n {
        out.push((k as f64 * dt, r));
        r += dt / p.tau * (-r + f(p, p.w * r + p.i_ext));
    }
    out
}

/// Writes the five analysis figures for `p` into `dir`; returns their paths. `map` gives the
/// (w, I_ext) grid of the bifurcation map (default w 0..10, I_ext -2..4).
pub fn analysis_plots(
    p: &RateParams,
    map: Option<&(Vec<f64>, Vec<f64>)>,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    let fps = fixed_points(p, 10_000);

    let path = dir.join("trajectories.png");
    let series = (0..10)
        .map(|i| {
            let r0 = 0.1 * f64::from(i);
            let mut s = Series::new(
                format!("r_init = {r0:.1}"),
                euler_trajectory(p, r0, 0.1 * p.tau.min(1.0), 20.0 * p.tau),
                i as usize,
            );
            s.alpha = 0.9;
            s
        })
        .collect();
    LinePlot {
        title: format!(
            "r(t) from several initial rates (w = {}, I_ext = {})",
            p.w, p.i_ext
        ),
        x_label: "t (ms)".into(),
        y_label: "r".into(),
        series,
        ..Default::default()
    }
    .save(&path)?;
    files.push(path);

    let path = dir.join("drdt.png");
    let (lo, hi) = (
        -0.05f64.min(fps.first().map_or(0.0, |f| f.r - 0.05)),
        1.0f64.max(fps.last().map_or(1.0, |f| f.r + 0.05)),
    );
    let pts = (0..=1000).map(|i| {
        let r = lo + (hi - lo) * f64::from(i) / 1000.0;
        (r, drdt(p, r))
    });
    LinePlot {
        title: "dr/dt against r (filled: stable, open: unstable fixed points)".into(),
        x_label: "r".into(),
        y_label: "dr/dt (1/ms)".into(),
        series: vec![Series::new("", pts.collect(), 0)],
        markers: fps
            .iter()
            .map(|fp| Marker {
                x: fp.r,
                y: 0.0,
                filled: fp.stable,
            })
            .collect(),
        hline: Some(0.0),
        log_y: false,
    }
    .save(&path)?;
    files.push(path);

    let path = dir.join("fi_curve.png");
    LinePlot {
        title: format!(
            "F-I curve ({:?}, a = {}, theta = {})",
            p.transfer, p.a, p.theta
        ),
        x_label: "input x".into(),
        y_label: "F(x)".into(),
        series: vec![Series::new(
            "",
            (0..=1000)
                .map(|i| (f64::from(i) / 100.0, f(p, f64::from(i) / 100.0)))
                .collect(),
            0,
        )],
        ..Default::default()
    }
    .save(&path)?;
    files.push(path);

    let path = dir.join("bifurcation.png");
    let (ws, is) = match map {
        Some((w, i)) => (w.clone(), i.clone()),
        None => (
            (0..=100).map(|i| f64::from(i) * 0.1).collect(),
            (0..=120).map(|i| -2.0 + f64::from(i) * 0.05).collect(),
        ),
    };
    let (stable, _) = bifurcation_map(p, &ws, &is, 2000);
    HeatMap {
        title: "number of stable fixed points".into(),
        x_label: "I_ext".into(),
        y_label: "w".into(),
        z_label: "stable".into(),
        x: is,
        y: ws,
        z: stable.iter().map(|&v| f64::from(v)).collect(),
    }
    .save(&path)?;
    files.push(path);

    let path = dir.join("ou.png");
    let trace = ou_run(p, 0.7, 1.0, 1000.0, 2020)?;
    LinePlot {
        title: format!(
            "OU-driven r(t): sigma = 0.7, tau_ou = 1 ms, w = {}, I_ext = {}",
            p.w, p.i_ext
        ),
        x_label: "t (ms)".into(),
        y_label: "r".into(),
        series: vec![Series::new("", trace, 0)],
        markers: fps
            .iter()
            .map(|fp| Marker {
                x: 0.0,
                y: fp.r,
                filled: fp.stable,
            })
            .collect(),
        ..Default::default()
    }
    .save(&path)?;
    files.push(path);
    Ok(files)
}

/// One OU-driven run of the rate model (CPU path, same kernel as `neuropop run`).
pub fn ou_run(
    p: &RateParams,
    sigma: f64,
    tau_ou: f64,
    t_end: f64,
    seed: u64,
) -> Result<Vec<(f64, f64)>> {
    let text = format!(
        r#"
[simulation]
dt = {dt}
t_end = {t_end}
seed = {seed}
[[population]]
name = "E"
model = "rate"
params = {{ tau = {tau}, a = {a}, theta = {theta}, w = {w}, I_ext = {i}, r_init = {r0}, sigma_ou = {sigma}, tau_ou = {tau_ou}, transfer = "{transfer}" }}
[record]
traces = [{{ population = "E", variable = "r", replicas = 1 }}]
plots = false
"#,
        dt = 0.1 * p.tau.min(1.0),
        tau = p.tau,
        a = p.a,
        theta = p.theta,
        w = p.w,
        i = p.i_ext,
        r0 = p.r_init,
        transfer = serde_json::to_value(p.transfer)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
    );
    let model = Model::build(&Spec::parse(&text, "fixed-points OU run")?)?;
    let mut rec = MemoryRecorder::new();
    model.run(&Backend::Cpu, &mut rec, &Progress::hidden())?;
    let r = rec
        .get("trace_E_r")
        .map(|a| a.values.clone())
        .unwrap_or_default();
    let t = rec
        .get("trace_E_r_t")
        .map(|a| a.values.clone())
        .unwrap_or_default();
    Ok(t.into_iter().zip(r).collect())
}
