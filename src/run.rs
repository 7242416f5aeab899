//! Running a spec end to end (what `neuropop run` and `neuropop validate` do), so the CLI
//! stays a thin layer: build the model from the spec (all validation before any output),
//! resolve the backend, stream recordings into an [`OutputDir`], write `meta.json` last.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::backend::{Backend, BackendChoice};
use crate::error::{Error, Result};
use crate::models::gif_pop::{sim as meso_sim, MesoNetwork};
use crate::models::lif::{sim as lif_sim, LifNetwork};
use crate::models::rate::{sim as rate_sim, RateNetwork};
use crate::models::spiking::{sim as spiking_sim, SpikingNetwork};
use crate::output::{MemoryRecorder, Meta, OutputDir, Recorder, Timings, TypedRecorder};
use crate::progress::Progress;
use crate::spec::Spec;

/// A spec turned into a runnable model.
pub enum Model {
    /// A network of rate populations.
    Rate(Box<RateNetwork>),
    /// A network of mesoscopic GIF populations.
    Meso(Box<MesoNetwork>),
    /// A network of spiking neurons.
    Spiking(Box<SpikingNetwork>),
    /// A population of independent LIF neurons.
    Lif(Box<LifNetwork>),
}

/// What a model run reports besides its recordings.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Total replicas.
    pub replicas: u64,
    /// Steps.
    pub steps: u64,
    /// Warnings worth showing the user.
    pub warnings: Vec<String>,
    /// Model facts for `meta.json`.
    pub meta: serde_json::Value,
}

impl Model {
    /// Builds the model of a validated spec; every model-specific check happens here, before
    /// any output exists.
    pub fn build(spec: &Spec) -> Result<Self> {
        let scaled;
        let spec = if spec.scale.is_some() {
            scaled = crate::models::scale::apply(spec)?;
            &scaled
        } else {
            spec
        };
        let first = &spec.populations[0].model;
        if let Some((i, p)) = spec
            .populations
            .iter()
            .enumerate()
            .find(|(_, p)| &p.model != first)
        {
            return Err(spec.error(
                format!("population[{i}].model"),
                format!(
                    "`{}` mixed with `{first}`: all populations of a spec use one model family",
                    p.model
                ),
            ));
        }
        if first != "lif" {
            if let Some(i) = spec.record.traces.iter().position(|t| t.wav) {
                return Err(spec.error(
                    format!("record.traces[{i}].wav"),
                    "WAV traces are written for `lif` populations only",
                ));
            }
        }
        match first.as_str() {
            "rate" => Ok(Model::Rate(Box::new(RateNetwork::from_spec(spec)?))),
            "lif" => Ok(Model::Lif(Box::new(LifNetwork::from_spec(spec)?))),
            "gif_pop_psc_exp" => Ok(Model::Meso(Box::new(MesoNetwork::from_spec(spec)?))),
            "gif_psc_exp" | "iaf_psc_exp" | "iaf_psc_delta" => {
                Ok(Model::Spiking(Box::new(SpikingNetwork::from_spec(spec)?)))
            }
            other => Err(spec.error(
                "population[0].model",
                format!("`{other}` cannot be run yet"),
            )),
        }
    }

    /// Units of work for a progress bar (replica-steps).
    pub fn work(&self) -> u64 {
        match self {
            Model::Rate(n) => n.replicas() * n.steps,
            Model::Meso(n) => n.replicas() * n.steps,
            Model::Spiking(n) => u64::from(n.replicas) * n.steps,
            Model::Lif(n) => n.neurons() * n.steps,
        }
    }

    /// What it computes, for `--backend auto`.
    pub fn workload(&self) -> crate::backend::Workload {
        use crate::backend::Workload;
        match self {
            Model::Rate(_) => Workload::Rate,
            Model::Meso(_) => Workload::GifPop,
            Model::Spiking(_) => Workload::Spiking,
            Model::Lif(_) => Workload::Lif,
        }
    }

    /// Runs on `backend`, recording into `rec`.
    pub fn run(
        &self,
        backend: &Backend,
        rec: &mut dyn Recorder,
        progress: &Progress,
    ) -> Result<Report> {
        match self {
            Model::Rate(n) => {
                let r = rate_sim::run(n, backend, rec, progress)?;
                Ok(Report {
                    replicas: r.replicas,
                    steps: r.steps,
                    warnings: r.warnings,
                    meta: r.meta,
                })
            }
            Model::Meso(n) => {
                let r = meso_sim::run(n, backend, rec, progress)?;
                Ok(Report {
                    replicas: r.replicas,
                    steps: r.steps,
                    warnings: Vec::new(),
                    meta: r.meta,
                })
            }
            Model::Spiking(n) => {
                let r = spiking_sim::run(n, backend, rec, progress)?;
                Ok(Report {
                    replicas: r.replicas,
                    steps: r.steps,
                    warnings: Vec::new(),
                    meta: r.meta,
                })
            }
            Model::Lif(n) => {
                let r = lif_sim::run(n, backend, rec, progress)?;
                Ok(Report {
                    replicas: r.neurons,
                    steps: r.steps,
                    warnings: n.warnings.clone(),
                    meta: r.meta,
                })
            }
        }
    }

    /// Warnings known before running.
    pub fn warnings(&self) -> &[String] {
        match self {
            Model::Rate(n) => &n.warnings,
            Model::Lif(n) => &n.warnings,
            Model::Meso(_) | Model::Spiking(_) => &[],
        }
    }
}

/// Command-line overrides of a spec.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Backend instead of `simulation.backend`.
    pub backend: Option<BackendChoice>,
    /// Seed instead of `simulation.seed`.
    pub seed: Option<u64>,
    /// Duration instead of `simulation.t_end`, ms.
    pub t_end: Option<f64>,
    /// Turn plots off.
    pub no_plots: bool,
    /// Run a GIF network at this level (micro: gif_psc_exp neurons, meso: gif_pop_psc_exp).
    pub level: Option<crate::models::levels::Level>,
}

impl Overrides {
    /// Applies the overrides and re-validates; returns warnings (e.g. records dropped by a
    /// level change).
    pub fn apply(&self, spec: &mut Spec) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        if let Some(level) = self.level {
            let (s, w) = crate::models::levels::at_level(spec, level)?;
            *spec = s;
            warnings = w;
        }
        if let Some(s) = self.seed {
            spec.simulation.seed = s;
        }
        if let Some(t) = self.t_end {
            spec.simulation.t_end = t;
            warnings.extend(clip_windows(spec)?);
        }
        if let Some(b) = self.backend {
            spec.simulation.backend = b;
        }
        if self.no_plots {
            spec.record.plots = false;
        }
        spec.validate()?;
        Ok(warnings)
    }
}

/// Fits `[record] windows` to a run that `--t-end` shortened, with a notice each: a window
/// that reaches past the end is clipped to it, one that starts at or after the end is
/// dropped; an error only when no window is left.
fn clip_windows(spec: &mut Spec) -> Result<Vec<String>> {
    let t_end = spec.simulation.t_end;
    if spec.record.windows.is_empty() || !(t_end.is_finite() && spec.simulation.dt > 0.0) {
        return Ok(Vec::new()); // `validate` reports a bad t_end
    }
    // The run ends at the last whole step.
    let end = spec.steps() as f64 * spec.simulation.dt;
    let mut notices = Vec::new();
    let mut kept = Vec::new();
    for (i, &[t0, t1]) in spec.record.windows.iter().enumerate() {
        if t1 <= end + 1e-9 {
            kept.push([t0, t1]);
        } else if t0 < end {
            kept.push([t0, end]);
            notices.push(format!(
                "record.windows[{i}] [{t0}, {t1}] ms clipped to [{t0}, {end}] ms (--t-end {t_end})"
            ));
        } else {
            notices.push(format!(
                "record.windows[{i}] [{t0}, {t1}] ms dropped: it starts after the run ends \
                 ({end} ms, --t-end {t_end})"
            ));
        }
    }
    if kept.is_empty() {
        return Err(spec.error(
            "record.windows",
            format!(
                "every window starts at or after the end of the run ({end} ms with --t-end \
                 {t_end}): run longer or give a window inside the run"
            ),
        ));
    }
    spec.record.windows = kept;
    Ok(notices)
}

/// Summary of a finished `run`.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Output directory.
    pub out: PathBuf,
    /// "gpu" or "cpu".
    pub backend: String,
    /// Adapter name on the GPU path.
    pub adapter: Option<String>,
    /// Replicas.
    pub replicas: u64,
    /// Steps.
    pub steps: u64,
    /// Wall-clock times.
    pub timings: Timings,
    /// Files written.
    pub files: Vec<String>,
    /// Warnings.
    pub warnings: Vec<String>,
}

/// `neuropop run`: loads `spec_path`, applies `overrides`, runs, writes `out`.
pub fn run_spec(
    spec_path: &Path,
    out: &Path,
    overrides: &Overrides,
    command: Vec<String>,
    show_progress: bool,
) -> Result<RunSummary> {
    let spec = Spec::load(spec_path)?;
    let label = spec_path.display().to_string();
    let progress = if show_progress {
        ProgressChoice::Bar
    } else {
        ProgressChoice::Hidden
    };
    // Every MPI rank runs the CLI's `run`: they share it.
    let r = run_spec_shared(
        spec,
        &label,
        Some(out),
        false,
        overrides,
        command,
        progress,
        true,
    )?;
    Ok(r.summary)
}

/// How a run shows its progress.
pub enum ProgressChoice {
    /// Nothing.
    Hidden,
    /// A bar on stderr.
    Bar,
    /// A callback (see [`Progress::callback`]), which may stop the run.
    Callback(crate::progress::ProgressFn),
}

/// What [`run_spec_value`] returns.
pub struct RunOutput {
    /// What the CLI prints.
    pub summary: RunSummary,
    /// Every recording in its own type, when asked to keep them in memory.
    pub arrays: Option<TypedRecorder>,
    /// `meta.json`'s content.
    pub meta: Meta,
}

/// Runs a parsed spec (`label` names it in messages and `meta.json`) after `overrides`:
/// into the output directory `out` when given (the CLI's files, plots included), and into
/// memory when `keep` is set (or when there is no `out`: the Python module's `run`).
pub fn run_spec_value(
    spec: Spec,
    label: &str,
    out: Option<&Path>,
    keep: bool,
    overrides: &Overrides,
    command: Vec<String>,
    progress: ProgressChoice,
) -> Result<RunOutput> {
    run_spec_shared(spec, label, out, keep, overrides, command, progress, false)
}

/// [`run_spec_value`], shared by the MPI ranks when `shared_run` (every rank must call it
/// for the same spec): each takes its share of the work and rank 0 writes the output.
#[allow(clippy::too_many_arguments)]
pub fn run_spec_shared(
    mut spec: Spec,
    label: &str,
    out: Option<&Path>,
    keep: bool,
    overrides: &Overrides,
    command: Vec<String>,
    progress: ProgressChoice,
    shared_run: bool,
) -> Result<RunOutput> {
    let t0 = Instant::now();
    let mut o = overrides.clone();
    o.no_plots |= out.is_none();
    let level_warnings = o.apply(&mut spec)?;
    let model = Model::build(&spec)?;
    // Once, under MPI ranks (rank 0).
    if crate::ranks::world_rank() == 0 {
        for w in level_warnings.iter().chain(model.warnings()) {
            eprintln!("neuropop: warning: {w}");
        }
    }
    // Every rank must get past each step that can fail on some ranks only (a device, the
    // output directory) before the first collective: `agree` turns one rank's failure into
    // every rank's.
    let _shared = shared_run.then(crate::ranks::share_run);
    let (backend, backend_reason) = crate::ranks::agree(Backend::resolve_for(
        spec.simulation.backend,
        model.workload(),
    ))?;
    // With MPI ranks (the CLI's `run` on every rank), rank 0 writes everything; the others
    // send it their results.
    let root = crate::ranks::is_root();
    let mut dir = crate::ranks::agree(match out {
        Some(d) if root => OutputDir::create(d, spec.record.plots).map(Some),
        _ => Ok(None),
    })?;
    let mut memory = (root && (keep || out.is_none())).then(TypedRecorder::new);
    let build_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let progress = match progress {
        _ if !root => Progress::hidden(),
        ProgressChoice::Hidden => Progress::hidden(),
        ProgressChoice::Bar => {
            Progress::bar(&format!("{label} ({})", backend.name()), model.work())
        }
        ProgressChoice::Callback(f) => Progress::callback(model.work(), f),
    };
    // Rank 0's recorder (the other ranks record nothing).
    let (mut tee, mut scratch);
    let rec: &mut dyn Recorder = match (dir.as_mut(), memory.as_mut()) {
        (Some(d), Some(m)) => {
            tee = crate::output::Tee::new(d, m);
            &mut tee
        }
        (Some(d), None) => d,
        (None, Some(m)) => m,
        (None, None) => {
            scratch = TypedRecorder::new();
            &mut scratch
        }
    };
    let report = run_on_ranks(&model, &backend, rec, &progress)?;
    // Each rank's device, on rank 0.
    let ranks = (crate::ranks::size() > 1).then(|| {
        let mine = serde_json::json!({
            "rank": crate::ranks::rank(),
            "backend": backend.name(),
            "adapter": backend.adapter().map(|a| a.name),
            "cpu_threads": crate::cpu::threads(),
            "runs": "its share",
        });
        crate::ranks::gather_bytes(mine.to_string().as_bytes())
            .iter()
            .filter_map(|b| serde_json::from_slice(b).ok())
            .collect::<Vec<serde_json::Value>>()
    });
    if !root {
        return Ok(RunOutput {
            summary: RunSummary {
                out: PathBuf::new(),
                backend: backend.name().to_string(),
                adapter: None,
                replicas: report.replicas,
                steps: report.steps,
                timings: Timings::default(),
                files: Vec::new(),
                warnings: Vec::new(),
            },
            arrays: None,
            meta: Meta::default(),
        });
    }
    progress.finish();
    let simulate_s = t1.elapsed().as_secs_f64();
    let timings = Timings {
        build_s,
        simulate_s,
        total_s: t0.elapsed().as_secs_f64(),
    };
    let outputs: Vec<crate::output::OutputFile> = match (&dir, &memory) {
        (Some(d), _) => d.files().to_vec(),
        (None, Some(m)) => m
            .arrays
            .iter()
            .map(|a| crate::output::OutputFile {
                file: format!("{}.npy", a.info.name),
                shape: Some(a.info.shape.clone()),
                dtype: Some(a.info.dtype),
                description: a.info.description.clone(),
            })
            .collect(),
        (None, None) => Vec::new(),
    };
    let files: Vec<String> = outputs.iter().map(|f| f.file.clone()).collect();
    let meta = Meta {
        neuropop_version: format!("neuropop {}", crate::VERSION),
        command,
        spec_file: label.to_string(),
        spec: serde_json::to_value(&spec).map_err(|e| Error::Output {
            path: PathBuf::from("meta.json"),
            message: e.to_string(),
        })?,
        seed: spec.simulation.seed,
        backend: backend.name().to_string(),
        backend_reason,
        cpu_simd: crate::simd::level().name().to_string(),
        adapter: backend.adapter(),
        cpu_threads: crate::cpu::threads(),
        replicas: report.replicas,
        steps: report.steps,
        timings,
        outputs,
        finished_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        model: report.meta.clone(),
        ranks,
    };
    let out_dir = match dir {
        Some(d) => d.commit(&meta)?,
        None => PathBuf::new(),
    };
    Ok(RunOutput {
        summary: RunSummary {
            out: out_dir,
            backend: backend.name().to_string(),
            adapter: backend.adapter().map(|a| a.name),
            replicas: report.replicas,
            steps: report.steps,
            timings,
            files,
            warnings: report.warnings,
        },
        arrays: memory,
        meta,
    })
}

/// Comparison of one recorded array between the GPU and the CPU path.
#[derive(Debug, Clone, Serialize)]
pub struct ArrayComparison {
    /// Array name.
    pub name: String,
    /// Number of values.
    pub values: usize,
    /// Largest |gpu - cpu|.
    pub max_abs_diff: f64,
    /// Number of values whose bits differ.
    pub values_differing: usize,
    /// First row (index along the first axis, e.g. trace sample) whose values differ at all.
    pub first_row_differing: Option<u64>,
    /// First row with a difference above the tolerance.
    pub first_row_over_tolerance: Option<u64>,
    /// Spike-time arrays (`spikes_*_times`, `spikes_*_t`): the earliest time (ms) at which the two spike trains
    /// differ, so a divergence reads as a moment of the simulation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_time_differing_ms: Option<f64>,
    /// Tolerance applied (absolute; 0 for counts).
    pub tolerance: f64,
    /// Within tolerance everywhere.
    pub ok: bool,
}

/// Result of `neuropop validate` (empty on MPI ranks other than 0).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Validation {
    /// GPU adapter used.
    pub adapter: String,
    /// Per array.
    pub arrays: Vec<ArrayComparison>,
    /// All arrays within tolerance.
    pub ok: bool,
    /// Wall time of the GPU path, s.
    pub gpu_s: f64,
    /// Wall time of the CPU path, s.
    pub cpu_s: f64,
}

/// Runs `model` on `backend` into `rec` (rank 0's); with MPI ranks sharing the command in
/// progress ([`crate::ranks::share_run`]), every rank takes its share of the model's work
/// (every model divides its replicas, sweep combinations or neurons) and the others record
/// nothing, and a failure on any rank fails all. Every rank calls it.
pub fn run_on_ranks(
    model: &Model,
    backend: &Backend,
    rec: &mut dyn Recorder,
    progress: &Progress,
) -> Result<Report> {
    crate::ranks::set_dividing(true);
    let r = if crate::ranks::is_root() {
        model.run(backend, rec, progress)
    } else {
        model.run(
            backend,
            &mut crate::output::NullRecorder::default(),
            progress,
        )
    };
    let r = crate::ranks::agree(r);
    crate::ranks::set_dividing(false);
    r
}

/// `neuropop validate`: runs the spec on the GPU and on the CPU path with the same seed and
/// compares every recording. `tolerance` applies to float arrays (absolute); integer arrays
/// (counts) must match exactly.
pub fn validate_spec(
    spec_path: &Path,
    overrides: &Overrides,
    tolerance: f64,
) -> Result<Validation> {
    validate_spec_value(Spec::load(spec_path)?, overrides, tolerance)
}

/// [`validate_spec`] of a parsed spec.
pub fn validate_spec_value(
    mut spec: Spec,
    overrides: &Overrides,
    tolerance: f64,
) -> Result<Validation> {
    let mut o = overrides.clone();
    o.no_plots = true;
    o.apply(&mut spec)?;
    let model = Model::build(&spec)?;
    // With MPI ranks sharing the command, each rank its device (by local rank) and its share
    // of both runs; rank 0 compares.
    let gpu = crate::ranks::agree(Backend::resolve(BackendChoice::Gpu))?;
    let mut g = MemoryRecorder::new();
    let t = Instant::now();
    run_on_ranks(&model, &gpu, &mut g, &Progress::hidden())?;
    let gpu_s = t.elapsed().as_secs_f64();
    let mut c = MemoryRecorder::new();
    let t = Instant::now();
    run_on_ranks(&model, &Backend::Cpu, &mut c, &Progress::hidden())?;
    let cpu_s = t.elapsed().as_secs_f64();
    if !crate::ranks::is_root() {
        return Ok(Validation::default());
    }
    let arrays = compare(&g, &c, tolerance);
    Ok(Validation {
        adapter: gpu.adapter().map(|a| a.name).unwrap_or_default(),
        ok: arrays.iter().all(|a| a.ok),
        arrays,
        gpu_s,
        cpu_s,
    })
}

/// Compares the arrays of two recorders by name.
pub fn compare(gpu: &MemoryRecorder, cpu: &MemoryRecorder, tolerance: f64) -> Vec<ArrayComparison> {
    let mut out = Vec::new();
    for a in &cpu.arrays {
        let Some(b) = gpu.get(&a.info.name) else {
            out.push(ArrayComparison {
                name: a.info.name.clone(),
                values: a.values.len(),
                max_abs_diff: f64::INFINITY,
                values_differing: a.values.len(),
                first_row_differing: Some(0),
                first_row_over_tolerance: Some(0),
                first_time_differing_ms: None,
                tolerance,
                ok: false,
            });
            continue;
        };
        let tol = if a.info.dtype == crate::output::Dtype::U32 {
            0.0
        } else {
            tolerance
        };
        let row_len = a.info.shape.iter().skip(1).product::<u64>().max(1) as usize;
        let (mut max, mut differing, mut first_diff, mut first_over) = (0f64, 0usize, None, None);
        for (i, (x, y)) in a.values.iter().zip(&b.values).enumerate() {
            let d = (x - y).abs();
            // NaN in both paths (e.g. an undefined Fano factor) is agreement.
            let d = if x.is_nan() && y.is_nan() {
                0.0
            } else if d.is_nan() {
                f64::INFINITY
            } else {
                d
            };
            if x.to_bits() != y.to_bits() {
                differing += 1;
                first_diff = first_diff.or(Some((i / row_len) as u64));
            }
            if d > tol {
                first_over = first_over.or(Some((i / row_len) as u64));
            }
            max = max.max(d);
        }
        let same_len = a.values.len() == b.values.len();
        let spike_times = a.info.name.starts_with("spikes_")
            && (a.info.name.ends_with("_times") || a.info.name.ends_with("_t"));
        let first_time_differing_ms = if spike_times {
            let n = a.values.len().min(b.values.len());
            let i = (0..n)
                .find(|&i| a.values[i].to_bits() != b.values[i].to_bits())
                .unwrap_or(n);
            match (a.values.get(i), b.values.get(i)) {
                (Some(x), Some(y)) => Some(x.min(*y)),
                (Some(x), None) | (None, Some(x)) => Some(*x),
                (None, None) => None,
            }
        } else {
            None
        };
        out.push(ArrayComparison {
            name: a.info.name.clone(),
            values: a.values.len(),
            max_abs_diff: if same_len { max } else { f64::INFINITY },
            values_differing: differing,
            first_row_differing: first_diff,
            first_row_over_tolerance: first_over,
            first_time_differing_ms,
            tolerance: tol,
            ok: same_len && first_over.is_none(),
        });
    }
    out
}
