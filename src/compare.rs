//! `neuropop compare`: one GIF network spec run at the microscopic and the mesoscopic level
//! over the same K seeds, and the difference of their population-activity statistics with
//! standard errors: per population and window the mean and variance of A_N, and the power
//! spectrum of A_N. This makes the NEST example's by-eye comparison quantitative.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::backend::Backend;
use crate::error::Result;
use crate::models::levels::{at_level, Level};
use crate::output::plot::{Figure, LinePlot, Series};
use crate::output::{ArrayInfo, Data, Dtype, MemoryRecorder, OutputDir, Recorder};
use crate::run::Model;
use crate::spec::Spec;

/// A statistic at both levels across seeds.
#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// Mean across seeds, microscopic.
    pub micro: f64,
    /// Standard deviation across seeds, microscopic.
    pub micro_sd: f64,
    /// Mean across seeds, mesoscopic.
    pub meso: f64,
    /// Standard deviation across seeds, mesoscopic.
    pub meso_sd: f64,
    /// meso - micro.
    pub diff: f64,
    /// Standard error of the difference.
    pub se: f64,
    /// diff / se.
    pub z: f64,
}

impl Diff {
    fn of(micro: &[f64], meso: &[f64]) -> Self {
        let (m1, s1) = mean_sd(micro);
        let (m2, s2) = mean_sd(meso);
        let se = (s1 * s1 / micro.len() as f64 + s2 * s2 / meso.len() as f64).sqrt();
        Self {
            micro: m1,
            micro_sd: s1,
            meso: m2,
            meso_sd: s2,
            diff: m2 - m1,
            se,
            z: if se > 0.0 { (m2 - m1) / se } else { 0.0 },
        }
    }
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len().max(1) as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, v.sqrt())
}

/// One population in one window.
#[derive(Debug, Clone, Serialize)]
pub struct WindowComparison {
    /// Population.
    pub population: String,
    /// Window [start, end) in ms.
    pub window: [f64; 2],
    /// Mean of A_N in the window, Hz.
    pub mean_hz: Diff,
    /// Standard deviation of A_N across the window's bins, Hz.
    pub sd_hz: Diff,
}

/// The spectrum of one population, summarised in frequency bands.
#[derive(Debug, Clone, Serialize)]
pub struct BandComparison {
    /// Population.
    pub population: String,
    /// Band [low, high) in Hz.
    pub band_hz: [f64; 2],
    /// Mean power spectral density in the band, Hz^2/Hz.
    pub psd: Diff,
}

/// Result of `neuropop compare` (empty on MPI ranks other than 0).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Comparison {
    /// Seeds (replicas) per level.
    pub seeds: u32,
    /// Backend.
    pub backend: String,
    /// Per population and window.
    pub windows: Vec<WindowComparison>,
    /// Spectra per population and band (from the first window's start to the end).
    pub spectra: Vec<BandComparison>,
    /// Wall time of the microscopic run, s.
    pub micro_s: f64,
    /// Wall time of the mesoscopic run, s.
    pub meso_s: f64,
    /// Output directory.
    pub out: Option<PathBuf>,
    /// The arrays the output directory gets: (name, shape, values), e.g. `trace_E`
    /// (mean and sd of A_N per bin at both levels) and `spectrum_E`.
    #[serde(skip)]
    pub arrays: Vec<(String, Vec<u64>, Vec<f64>)>,
}

fn run_level(
    spec: &Spec,
    level: Level,
    seeds: u32,
    backend: &Backend,
) -> Result<(MemoryRecorder, f64)> {
    let (mut s, _) = at_level(spec, level)?;
    s.simulation.replicas = seeds;
    s.record.activity_replicas = Some(u64::from(seeds));
    s.record.spikes.clear();
    s.record.traces.clear();
    s.record.plots = false;
    s.validate()?;
    let model = Model::build(&s)?;
    let mut rec = MemoryRecorder::new();
    let t = Instant::now();
    crate::run::run_on_ranks(
        &model,
        backend,
        &mut rec,
        &crate::progress::Progress::hidden(),
    )?;
    Ok((rec, t.elapsed().as_secs_f64()))
}

fn get<'a>(rec: &'a MemoryRecorder, name: &str) -> Result<&'a [f64]> {
    rec.get(name).map(|a| a.values.as_slice()).ok_or_else(|| {
        crate::Error::InvalidArgument(format!("comparison: the run wrote no `{name}`"))
    })
}

/// Runs `spec_path` at both levels with `seeds` seeds each and compares them; writes
/// `compare.json`, mean traces, spectra and overlay plots to `out` when given.
pub fn compare(
    spec_path: &Path,
    seeds: u32,
    backend: &Backend,
    out: Option<&Path>,
) -> Result<Comparison> {
    compare_spec(&Spec::load(spec_path)?, seeds, backend, out)
}

/// [`compare`] of a parsed spec.
pub fn compare_spec(
    spec: &Spec,
    seeds: u32,
    backend: &Backend,
    out: Option<&Path>,
) -> Result<Comparison> {
    if seeds < 2 {
        return Err(crate::Error::InvalidArgument(format!(
            "--seeds {seeds}: at least 2 seeds are needed for standard errors"
        )));
    }
    let (micro, micro_s) = run_level(spec, Level::Micro, seeds, backend)?;
    let (meso, meso_s) = run_level(spec, Level::Meso, seeds, backend)?;
    // With MPI ranks sharing the command, rank 0 holds the results and writes them.
    if !crate::ranks::is_root() {
        return Ok(Comparison::default());
    }
    let names: Vec<String> = spec.populations.iter().map(|p| p.name.clone()).collect();
    let wins = get(&micro, "windows")?.to_vec();
    let n_win = wins.len() / 2;
    let times = get(&micro, "activity_t")?.to_vec();
    let bins = times.len();
    let bin_s = if bins > 1 {
        (times[1] - times[0]) / 1000.0
    } else {
        1e-3
    };
    let k = seeds as usize;
    let mut windows = Vec::new();
    let mut spectra = Vec::new();
    let mut arrays: Vec<(ArrayInfo, Vec<f64>)> = Vec::new();
    let mut plots = Vec::new();
    for name in &names {
        let per_seed = |rec: &MemoryRecorder| -> Result<Vec<Vec<f64>>> {
            let a = get(rec, &format!("activity_{name}"))?;
            Ok((0..k)
                .map(|r| (0..bins).map(|b| a[b * k + r]).collect())
                .collect())
        };
        let (xa, xb) = (per_seed(&micro)?, per_seed(&meso)?);
        for w in 0..n_win {
            let (lo, hi) = (wins[2 * w], wins[2 * w + 1]);
            let sel = |x: &Vec<f64>| -> Vec<f64> {
                x.iter()
                    .zip(&times)
                    .filter(|(_, t)| **t >= lo - 1e-9 && **t < hi - 1e-9)
                    .map(|(v, _)| *v)
                    .collect()
            };
            let stats = |xs: &[Vec<f64>]| -> (Vec<f64>, Vec<f64>) {
                xs.iter().map(|x| mean_sd(&sel(x))).unzip()
            };
            let (ma, sa) = stats(&xa);
            let (mb, sb) = stats(&xb);
            windows.push(WindowComparison {
                population: name.clone(),
                window: [lo, hi],
                mean_hz: Diff::of(&ma, &mb),
                sd_hz: Diff::of(&sa, &sb),
            });
        }
        // Spectra per seed from the first window's start.
        let from = times.iter().position(|t| *t >= wins[0] - 1e-9).unwrap_or(0);
        let seg = 256.min((bins - from).next_power_of_two() / 2).max(4);
        let spec_of = |xs: &[Vec<f64>]| -> (Vec<f64>, Vec<Vec<f64>>) {
            let mut f = Vec::new();
            let mut all = Vec::new();
            for x in xs {
                let (ff, p) = crate::stats::welch(&x[from..], bin_s, seg);
                f = ff;
                all.push(p);
            }
            (f, all)
        };
        let (f, pa) = spec_of(&xa);
        let (_, pb) = spec_of(&xb);
        let nyq = 0.5 / bin_s;
        let mut edges = vec![1.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0];
        edges.retain(|e| *e < nyq);
        edges.push(nyq);
        for band in edges.windows(2) {
            let band_mean = |ps: &[Vec<f64>]| -> Vec<f64> {
                ps.iter()
                    .map(|p| {
                        let v: Vec<f64> = f
                            .iter()
                            .zip(p)
                            .filter(|(fr, _)| **fr >= band[0] && **fr < band[1])
                            .map(|(_, v)| *v)
                            .collect();
                        v.iter().sum::<f64>() / v.len().max(1) as f64
                    })
                    .collect()
            };
            spectra.push(BandComparison {
                population: name.clone(),
                band_hz: [band[0], band[1]],
                psd: Diff::of(&band_mean(&pa), &band_mean(&pb)),
            });
        }
        // Mean traces and spectra for files and plots.
        let mean_of = |xs: &[Vec<f64>], i: usize| xs.iter().map(|x| x[i]).sum::<f64>() / k as f64;
        let sd_of =
            |xs: &[Vec<f64>], i: usize| mean_sd(&xs.iter().map(|x| x[i]).collect::<Vec<_>>()).1;
        let mut trace = Vec::with_capacity(bins * 4);
        for b in 0..bins {
            trace.extend([
                mean_of(&xa, b),
                sd_of(&xa, b),
                mean_of(&xb, b),
                sd_of(&xb, b),
            ]);
        }
        arrays.push((
            ArrayInfo::new(format!("trace_{name}"), vec![bins as u64, 4], Dtype::F64,
                format!("A_N of {name} (Hz) per bin across {k} seeds: columns micro mean, micro sd, meso mean, meso sd")),
            trace.clone(),
        ));
        let mut sp = Vec::with_capacity(f.len() * 3);
        for (i, fr) in f.iter().enumerate() {
            sp.extend([*fr, mean_of(&pa, i), mean_of(&pb, i)]);
        }
        arrays.push((
            ArrayInfo::new(format!("spectrum_{name}"), vec![f.len() as u64, 3], Dtype::F64,
                format!("power spectral density of A_N of {name} (Welch, {seg}-bin segments, mean over seeds): columns frequency (Hz), micro, meso (Hz^2/Hz)")),
            sp,
        ));
        plots.push((name.clone(), trace, f, pa, pb));
    }
    let mut result = Comparison {
        seeds,
        backend: backend.name().to_string(),
        windows,
        spectra,
        micro_s,
        meso_s,
        out: None,
        arrays: arrays
            .iter()
            .map(|(info, v)| (info.name.clone(), info.shape.clone(), v.clone()))
            .collect(),
    };
    if let Some(dir) = out {
        let mut d = OutputDir::create(dir, true)?;
        for (info, v) in &arrays {
            d.whole(info.clone(), Data::F64(v))?;
        }
        if let Some(pdir) = d.plot_dir() {
            for (name, trace, f, pa, pb) in &plots {
                let line = |col: usize, off: f64, c: usize, label: &str, alpha: f64, width: u32| {
                    let mut s = Series::new(
                        label,
                        times
                            .iter()
                            .enumerate()
                            .map(|(b, t)| (*t, trace[b * 4 + col] + off * trace[b * 4 + col + 1]))
                            .collect(),
                        c,
                    );
                    s.alpha = alpha;
                    s.width = width;
                    s
                };
                LinePlot {
                    title: format!("A_N of {name}: mean and mean ± sd over {k} seeds"),
                    x_label: "t (ms)".into(),
                    y_label: "A_N (Hz)".into(),
                    series: vec![
                        line(0, 1.0, 0, "", 0.3, 1),
                        line(0, -1.0, 0, "", 0.3, 1),
                        line(2, 1.0, 1, "", 0.3, 1),
                        line(2, -1.0, 1, "", 0.3, 1),
                        line(0, 0.0, 0, "micro (gif_psc_exp)", 1.0, 2),
                        line(2, 0.0, 1, "meso (gif_pop_psc_exp)", 1.0, 2),
                    ],
                    ..Default::default()
                }
                .save(&pdir.join(format!("compare_{name}.png")))?;
                d.plot_written(
                    &format!("compare_{name}.png"),
                    &format!("A_N of {name} at both levels, mean and spread across seeds"),
                );
                let mean_sp = |ps: &[Vec<f64>]| -> Vec<(f64, f64)> {
                    f.iter()
                        .enumerate()
                        .skip(1)
                        .map(|(i, fr)| {
                            (*fr, ps.iter().map(|p| p[i]).sum::<f64>() / ps.len() as f64)
                        })
                        .collect()
                };
                LinePlot {
                    title: format!("power spectrum of A_N of {name}, mean over {k} seeds"),
                    x_label: "f (Hz)".into(),
                    y_label: "PSD (Hz^2/Hz)".into(),
                    series: vec![
                        Series::new("micro", mean_sp(pa), 0),
                        Series::new("meso", mean_sp(pb), 1),
                    ],
                    log_y: true,
                    ..Default::default()
                }
                .save(&pdir.join(format!("spectrum_{name}.png")))?;
                d.plot_written(
                    &format!("spectrum_{name}.png"),
                    &format!("power spectra of A_N of {name} at both levels"),
                );
            }
        }
        result.out = Some(dir.to_path_buf());
        d.write_json(
            "compare.json",
            &result,
            "the comparison: per population and window, meso minus micro with standard errors",
        )?;
        d.commit(&serde_json::json!({
            "neuropop_version": format!("neuropop {}", crate::VERSION),
            "command": std::env::args().collect::<Vec<_>>(),
            "spec_file": spec.source.clone(),
            "spec": spec,
            "seeds": seeds,
            "backend": backend.name(),
            "adapter": backend.adapter(),
            "ranks": crate::ranks::size(),
            "timings": {"micro_s": micro_s, "meso_s": meso_s},
        }))?;
    }
    Ok(result)
}
