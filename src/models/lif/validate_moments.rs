//! `neuropop moments --simulate`: noisy `lif` neurons (the moment-activation tutorial's
//! constants, Brownian-bridge crossing correction) on a grid of input means and stds, all
//! combinations as one sweep of one run, next to the moment activation (f64 reference): rate,
//! Fano factor and, with input correlation, the pairwise output correlation.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::network::LifNetwork;
use super::sim;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::models::moments::MomentParams;
use crate::output::plot::{Figure, HeatMap};
use crate::output::MemoryRecorder;
use crate::progress::Progress;
use crate::spec::Spec;

/// Settings of a simulated grid.
#[derive(Debug, Clone, Serialize)]
pub struct SimulateOptions {
    /// Neurons per (mu_bar, sigma_bar) point.
    pub neurons: u64,
    /// Simulated time, ms (counts from `t_end / 5`, at most 100 ms, to `t_end`).
    pub t_end: f64,
    /// Time step, ms.
    pub dt: f64,
    /// Input correlation (0: independent neurons).
    pub rho: f64,
    /// Neurons per correlation group.
    pub group: u64,
    /// Seed.
    pub seed: u64,
}

/// Theory and simulation over the grid, arrays y-major (`i_sigma * len(mu_bar) + i_mu`).
#[derive(Debug, Clone, Serialize)]
pub struct SimulatedGrid {
    /// Neuron constants (L, V_th, V_res, T_ref).
    pub params: MomentParams,
    /// The settings.
    pub options: SimulateOptions,
    /// Count window, ms.
    pub window: [f64; 2],
    /// Input means, mV/ms.
    pub mu_bar: Vec<f64>,
    /// Input stds, mV/sqrt(ms).
    pub sigma_bar: Vec<f64>,
    /// Moment activation rate, spikes/ms.
    pub rate_theory: Vec<f64>,
    /// Simulated rate, spikes/ms.
    pub rate_sim: Vec<f64>,
    /// Moment activation Fano factor.
    pub fano_theory: Vec<f64>,
    /// Simulated Fano factor (count variance / mean across neurons).
    pub fano_sim: Vec<f64>,
    /// chi^2 rho (empty without `rho`).
    pub corr_theory: Vec<f64>,
    /// Pooled pairwise count correlation within groups (empty without `rho`).
    pub corr_sim: Vec<f64>,
}

/// Relative difference `sim / theory - 1` (NaN when the theory is 0 or not finite).
pub fn rel(sim: f64, theory: f64) -> f64 {
    if theory != 0.0 && theory.is_finite() {
        sim / theory - 1.0
    } else {
        f64::NAN
    }
}

/// Simulates every (mu_bar, sigma_bar) point of the grid with `opt.neurons` neurons, in one
/// `lif` run (a two-axis sweep over `I = mu_bar / L` and `sigma`).
pub fn simulate_grid(
    backend: &Backend,
    mu_bar: &[f64],
    sigma_bar: &[f64],
    opt: &SimulateOptions,
) -> Result<SimulatedGrid> {
    let p = MomentParams::default();
    if let Some(s) = sigma_bar.iter().find(|&&s| !(s.is_finite() && s > 0.0)) {
        return Err(Error::InvalidArgument(format!(
            "--simulate needs sigma_bar > 0 (the neurons are driven by white noise), got {s}"
        )));
    }
    if mu_bar.iter().any(|m| !m.is_finite()) {
        return Err(Error::InvalidArgument("mu_bar must be finite".into()));
    }
    if !(opt.t_end.is_finite() && opt.dt.is_finite() && opt.dt > 0.0 && opt.t_end > 5.0 * opt.dt) {
        return Err(Error::InvalidArgument(format!(
            "--t-end {} and --dt {}: need dt > 0 and t_end > 5 dt",
            opt.t_end, opt.dt
        )));
    }
    let t0 = (opt.t_end / 5.0).min(100.0);
    let corr = opt.rho > 0.0;
    let group = if corr { opt.group.min(opt.neurons) } else { 0 };
    let currents: Vec<f64> = mu_bar.iter().map(|m| m / p.l).collect();
    let text = format!(
        "[simulation]\ndt = {}\nt_end = {}\nseed = {}\n[[population]]\nname = \"N\"\nmodel = \"lif\"\nsize = {}\nparams = {{ tau_m = {}, E_L = 0.0, V_reset = {}, V_th = {}, t_ref = {}, R_m = 1.0, sigma = 1.0, crossing_correction = true, rho = {}, group = {group} }}\n[record]\nplots = false\nwindows = [[{t0}, {}]]\n[sweep]\n\"N.sigma\" = {:?}\n\"N.I\" = {:?}\n",
        opt.dt,
        opt.t_end,
        opt.seed,
        opt.neurons,
        1.0 / p.l,
        p.v_res,
        p.v_th,
        p.t_ref,
        opt.rho,
        opt.t_end,
        sigma_bar,
        currents
    );
    let spec = Spec::parse(&text, "<moments --simulate>")?;
    let net = LifNetwork::from_spec(&spec)?;
    let mut rec = MemoryRecorder::new();
    let report = sim::run(&net, backend, &mut rec, &Progress::hidden())?;
    let axis = |name: &str| {
        net.grid
            .axes
            .iter()
            .position(|a| a.param == name)
            .ok_or_else(|| Error::InvalidArgument(format!("no sweep axis {name}")))
    };
    let (ai, asg) = (axis("I")?, axis("sigma")?);
    let n = mu_bar.len() * sigma_bar.len();
    let mut out = SimulatedGrid {
        params: p,
        options: opt.clone(),
        window: [t0, opt.t_end],
        mu_bar: mu_bar.to_vec(),
        sigma_bar: sigma_bar.to_vec(),
        rate_theory: vec![f64::NAN; n],
        rate_sim: vec![f64::NAN; n],
        fano_theory: vec![f64::NAN; n],
        fano_sim: vec![f64::NAN; n],
        corr_theory: if corr { vec![f64::NAN; n] } else { Vec::new() },
        corr_sim: if corr { vec![f64::NAN; n] } else { Vec::new() },
    };
    for c in 0..net.combinations() {
        let k = net.grid.index(asg, c) * mu_bar.len() + net.grid.index(ai, c);
        let params = net.combo(c);
        if let Some(m) = net.moments(&params) {
            out.rate_theory[k] = m.rate;
            out.fano_theory[k] = m.fano;
        }
        let c = c as usize;
        out.rate_sim[k] = report.rates[c] / 1000.0;
        out.fano_sim[k] = report.fano[c];
        if corr {
            out.corr_theory[k] = report.corr_predicted.get(c).copied().unwrap_or(f64::NAN);
            out.corr_sim[k] = report.corr.get(c).copied().unwrap_or(f64::NAN);
        }
    }
    Ok(out)
}

/// Writes `rate_rel_diff.png`, `fano_theory.png`, `fano_sim.png` (and `corr_theory.png`,
/// `corr_sim.png` with correlated input) into `dir`.
pub fn write_plots(g: &SimulatedGrid, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let rate_rel: Vec<f64> = g
        .rate_sim
        .iter()
        .zip(&g.rate_theory)
        .map(|(&s, &t)| rel(s, t))
        .collect();
    let mut maps: Vec<(&str, &str, &str, &[f64])> = vec![
        (
            "rate_rel_diff",
            "Rate: simulation / moment activation - 1",
            "relative difference",
            &rate_rel,
        ),
        (
            "fano_theory",
            "Fano factor, moment activation",
            "Fano",
            &g.fano_theory,
        ),
        ("fano_sim", "Fano factor, simulation", "Fano", &g.fano_sim),
    ];
    if !g.corr_sim.is_empty() {
        maps.push((
            "corr_theory",
            "Output correlation chi^2 rho",
            "rho_out",
            &g.corr_theory,
        ));
        maps.push((
            "corr_sim",
            "Output correlation, simulation",
            "rho_out",
            &g.corr_sim,
        ));
    }
    let mut files = Vec::new();
    for (name, title, z, data) in maps {
        let png = dir.join(format!("{name}.png"));
        HeatMap {
            title: title.into(),
            x_label: "input mean mu_bar (mV/ms)".into(),
            y_label: "input std sigma_bar (mV/sqrt(ms))".into(),
            z_label: z.into(),
            x: g.mu_bar.clone(),
            y: g.sigma_bar.clone(),
            z: data
                .iter()
                .map(|&v| if v.is_finite() { v } else { 0.0 })
                .collect(),
        }
        .save(&png)?;
        files.push(png);
    }
    Ok(files)
}
