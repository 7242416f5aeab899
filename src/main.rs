//! The `neuropop` command line: a thin layer over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use neuropop::backend::{Backend, BackendChoice, Workload};
use neuropop::models::rate::analysis;
use neuropop::models::rate::{RateParams, Transfer};
use neuropop::run::{run_spec, validate_spec, Overrides};

#[derive(Parser)]
#[command(
    name = "neuropop",
    version,
    about = "Neural populations on any GPU (wgpu/WGSL), checked against a CPU reference path"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct SpecArgs {
    /// Spec file (TOML).
    spec: PathBuf,
    /// auto: a GPU adapter if there is one, else the CPU path; gpu: fail without an adapter.
    #[arg(long, value_enum)]
    backend: Option<BackendChoice>,
    /// Seed of every random stream (overrides simulation.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Duration in ms (overrides simulation.t_end).
    #[arg(long = "t-end")]
    t_end: Option<f64>,
    /// Run a GIF network as gif_psc_exp neurons (micro) or gif_pop_psc_exp populations (meso).
    #[arg(long, value_enum)]
    level: Option<neuropop::models::levels::Level>,
}

impl SpecArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            backend: self.backend,
            seed: self.seed,
            t_end: self.t_end,
            no_plots: false,
            level: self.level,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a spec and write .npy recordings, PNG plots and meta.json to a directory.
    Run {
        #[command(flatten)]
        args: SpecArgs,
        /// Output directory (default: out/<spec name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Do not write PNG plots.
        #[arg(long)]
        no_plots: bool,
        /// Print a JSON summary instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run a spec on the GPU and on the CPU path with the same seed and compare every recording.
    Validate {
        #[command(flatten)]
        args: SpecArgs,
        /// Absolute tolerance for float recordings (counts must match exactly).
        #[arg(long, default_value_t = 1e-5)]
        tol: f64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List GPU adapters, the CPU path's SIMD level, and where `--backend auto` runs each model.
    Devices {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run every kernel on every GPU adapter and on the CPU path with the same seeds: values
    /// that differ (none on software adapters), the largest difference, and the speed of each
    /// path. Exit status 1 when a check fails.
    Selftest {
        /// Smaller workloads (a few seconds on a CPU-only machine).
        #[arg(long)]
        quick: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Throughput of each kernel on the GPU and the CPU path, and their ratio.
    Bench {
        /// Which kernel: rng, scatter, rate, gif_pop, gif_psc_exp, brunel_lif or all; simd:
        /// the CPU path's building blocks (exp, ln, sincos, division, Philox, memory) on one core;
        /// mpi (built with --features mpi, under mpirun): all-gather latency and bandwidth.
        #[arg(default_value = "all")]
        kernel: String,
        /// Replicas of the gif_pop benchmark on the GPU (the CPU path runs a sixteenth).
        #[arg(long = "meso-replicas", default_value_t = 128)]
        meso_replicas: u64,
        /// Replicas of the rate benchmark.
        #[arg(long, default_value_t = 1_000_000)]
        replicas: u64,
        /// Steps of the rate benchmark on the GPU.
        #[arg(long, default_value_t = 10_000)]
        steps: u64,
        /// Steps of the rate benchmark on the CPU path (as many as the NumPy comparison in
        /// tools/numpy/rate_ou.py, so that the set-up and the first step weigh the same).
        #[arg(long = "cpu-steps", default_value_t = 1000)]
        cpu_steps: u64,
        /// auto, gpu or cpu (cpu: CPU figures only).
        #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Fixed points of one rate population, their eigenvalues and stability.
    FixedPoints(FixedPointArgs),
    /// Run a GIF network spec at the micro and the meso level over K seeds and compare the
    /// statistics of A_N (mean, sd, spectrum): meso minus micro with standard errors.
    Compare {
        /// Spec file (TOML) of a GIF network (gif_psc_exp or gif_pop_psc_exp populations).
        spec: PathBuf,
        /// Seeds per level.
        #[arg(long, default_value_t = 10)]
        seeds: u32,
        /// Duration in ms (overrides simulation.t_end; windows past it are clipped).
        #[arg(long = "t-end")]
        t_end: Option<f64>,
        /// auto, gpu or cpu.
        #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
        backend: BackendChoice,
        /// Output directory for compare.json, traces, spectra and plots.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Moment activation of the LIF neuron: output rate, std, Fano factor and chi over a grid
    /// of input means and stds (docs/models.md, section 3).
    Moments(MomentArgs),
}

#[derive(clap::Args)]
struct MomentArgs {
    /// Input means mu_bar (mV/ms): X, or START:STOP:NUM evenly spaced values.
    #[arg(long, allow_hyphen_values = true, default_value = "-5:5:11")]
    mu: String,
    /// Input stds sigma_bar (mV/sqrt(ms)), all >= 0: X, or START:STOP:NUM.
    #[arg(long, allow_hyphen_values = true, default_value = "0:10:6")]
    sigma: String,
    /// Leak conductance L, 1/ms.
    #[arg(long = "L", default_value_t = 0.05)]
    l: f64,
    /// Threshold V_th, mV.
    #[arg(long = "V-th", default_value_t = 20.0, allow_negative_numbers = true)]
    v_th: f64,
    /// Reset potential V_res, mV.
    #[arg(long = "V-res", default_value_t = 0.0, allow_negative_numbers = true)]
    v_res: f64,
    /// Refractory period T_ref, ms.
    #[arg(long = "T-ref", default_value_t = 5.0)]
    t_ref: f64,
    /// auto: the GPU kernel if an adapter exists, else the CPU twin; gpu; cpu.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Print JSON (arrays y-major: index = i_sigma * len(mu) + i_mu).
    #[arg(long)]
    json: bool,
    /// Write heat maps (rate, std, Fano, chi) and .npy arrays to this directory (with
    /// --simulate: relative rate difference, Fano factors and correlations).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Also simulate noisy `lif` neurons (L = 0.05/ms, V_th = 20 mV, V_res = 0 mV, T_ref = 5 ms;
    /// crossing correction) at every grid point, in one run, and print theory vs simulation
    /// (sigma_bar must be > 0).
    #[arg(long)]
    simulate: bool,
    /// Neurons per grid point (--simulate).
    #[arg(long, default_value_t = 1000)]
    neurons: u64,
    /// Simulated time in ms (--simulate; counts from min(t_end / 5, 100 ms)).
    #[arg(long = "t-end", default_value_t = 1000.0)]
    t_end: f64,
    /// Time step in ms (--simulate).
    #[arg(long, default_value_t = 0.05)]
    dt: f64,
    /// Input correlation in [0, 1] (--simulate): also compare output correlations.
    #[arg(long, default_value_t = 0.0)]
    rho: f64,
    /// Neurons per correlation group (--simulate with --rho).
    #[arg(long, default_value_t = 10)]
    group: u64,
    /// Seed (--simulate).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(clap::Args)]
struct FixedPointArgs {
    /// Self-coupling w.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    w: f64,
    /// External input I_ext.
    #[arg(long = "i-ext", default_value_t = 0.0, allow_negative_numbers = true)]
    i_ext: f64,
    /// Gain a.
    #[arg(long, default_value_t = 1.2)]
    a: f64,
    /// Threshold theta.
    #[arg(long, default_value_t = 2.8, allow_negative_numbers = true)]
    theta: f64,
    /// Time constant tau, ms.
    #[arg(long, default_value_t = 1.0)]
    tau: f64,
    /// Transfer function: sigmoid, relu, threshold_linear, tanh.
    #[arg(long, default_value = "sigmoid")]
    transfer: String,
    /// Grid points for bracketing roots.
    #[arg(long, default_value_t = 10_000)]
    grid: usize,
    /// Analyse combination 0 of this spec instead (one population, or two coupled ones with
    /// their Jacobian eigenvalues); the parameter flags are then ignored.
    #[arg(long)]
    spec: Option<PathBuf>,
    /// Bifurcation map: self-coupling values X or START:STOP:NUM (with --i-range).
    #[arg(long = "w-range", allow_hyphen_values = true)]
    w_range: Option<String>,
    /// Bifurcation map: input values X or START:STOP:NUM (with --w-range).
    #[arg(long = "i-range", allow_hyphen_values = true)]
    i_range: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Write plots (trajectories, dr/dt, F-I curve, bifurcation map, OU run) to this directory.
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// Exit status 2 for the user's mistakes, 1 for everything else.
fn exit_status(e: &anyhow::Error) -> u8 {
    let user = e.chain().any(|c| {
        c.downcast_ref::<neuropop::Error>()
            .is_some_and(|e| e.is_user_error())
    });
    if user {
        2
    } else {
        1
    }
}

/// Reports `e` and returns its exit status.
fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("neuropop: error: {e:#}");
    ExitCode::from(exit_status(e))
}

fn main() -> ExitCode {
    // Vulkan loaders warn on stderr when XDG_RUNTIME_DIR is missing (as in CI containers).
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = std::env::temp_dir().join("neuropop-xdg");
        if std::fs::create_dir_all(&dir).is_ok() {
            // Safe: no other thread exists yet.
            std::env::set_var("XDG_RUNTIME_DIR", &dir);
        }
    }
    // Ctrl-C: remove the staging folder and lock of the run in progress, then exit as an
    // interrupted process does (128 + SIGINT).
    let _ = ctrlc::set_handler(|| {
        neuropop::output::clean_up_interrupted();
        eprintln!("neuropop: interrupted; no output was written");
        std::process::exit(130);
    });
    // Under an MPI launcher (binary built with `--features mpi`): one rank per process;
    // MPI is finalised when `_universe` drops at the end of main.
    #[cfg(feature = "mpi")]
    let _universe = if neuropop::ranks::launched_by_mpi() {
        // Funneled: the spike exchange of a network whose neurons the ranks share is called
        // from the main thread while worker threads wait.
        let u = mpi::initialize_with_threading(mpi::Threading::Funneled).map(|(u, _)| u);
        if let Some(u) = &u {
            use mpi::traits::Communicator;
            let w = u.world();
            neuropop::ranks::init(w.rank() as usize, w.size() as usize);
        }
        u
    } else {
        None
    };
    #[cfg(not(feature = "mpi"))]
    if neuropop::ranks::launched_by_mpi() {
        eprintln!(
            "neuropop: warning: started by an MPI launcher but built without `--features mpi`: \
             every process runs the whole job"
        );
    }
    let cli = Cli::parse();
    // Under several ranks only `run` is shared; every other command runs on rank 0 alone.
    let shared = match &cli.command {
        Command::Run { .. } | Command::Compare { .. } | Command::Validate { .. } => true,
        Command::Bench { kernel, .. } => kernel == "mpi",
        _ => false,
    };
    if neuropop::ranks::world_rank() != 0 && !shared {
        return ExitCode::SUCCESS;
    }
    match dispatch(cli) {
        Ok(code) => code,
        // Every rank gets the same error (and exit status); rank 0 reports it.
        Err(e) if neuropop::ranks::world_rank() != 0 => ExitCode::from(exit_status(&e)),
        Err(e) => fail(&e),
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run {
            args,
            out,
            no_plots,
            json,
        } => {
            let out = out.unwrap_or_else(|| default_out(&args.spec));
            let mut o = args.overrides();
            o.no_plots = no_plots;
            let command: Vec<String> = std::env::args().collect();
            let s = run_spec(&args.spec, &out, &o, command, !json)?;
            if neuropop::ranks::world_rank() != 0 {
                return Ok(ExitCode::SUCCESS);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                for w in &s.warnings {
                    eprintln!("neuropop: warning: {w}");
                }
                println!(
                    "{} replicas x {} steps on {}{} in {:.3} s (simulate {:.3} s)",
                    s.replicas,
                    s.steps,
                    s.backend,
                    s.adapter
                        .as_ref()
                        .map(|a| format!(" ({a})"))
                        .unwrap_or_default(),
                    s.timings.total_s,
                    s.timings.simulate_s
                );
                println!("wrote {} files to {}:", s.files.len() + 1, s.out.display());
                for f in s
                    .files
                    .iter()
                    .chain(std::iter::once(&"meta.json".to_string()))
                {
                    println!("  {f}");
                }
                println!(
                    "load in Python: np.load(\"{}/<name>.npy\")",
                    s.out.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { args, tol, json } => {
            // Every rank takes its share of both runs; rank 0 compares and reports.
            let _shared = neuropop::ranks::share_run();
            let v = validate_spec(&args.spec, &args.overrides(), tol)?;
            if neuropop::ranks::world_rank() != 0 {
                return Ok(ExitCode::SUCCESS);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "GPU ({}) {:.3} s vs CPU {:.3} s, tolerance {tol:e}",
                    v.adapter, v.gpu_s, v.cpu_s
                );
                println!(
                    "{:<28} {:>10} {:>12} {:>10} {:>12} {:>12}",
                    "array", "values", "max |diff|", "differ", "first diff", "first > tol"
                );
                for a in &v.arrays {
                    let row = |r: Option<u64>| r.map_or("-".to_string(), |r| r.to_string());
                    println!(
                        "{:<28} {:>10} {:>12.3e} {:>10} {:>12} {:>12}  {}{}",
                        a.name,
                        a.values,
                        a.max_abs_diff,
                        a.values_differing,
                        row(a.first_row_differing),
                        row(a.first_row_over_tolerance),
                        if a.ok { "ok" } else { "EXCEEDED" },
                        a.first_time_differing_ms
                            .map(|t| format!(" (spike trains first differ at {t} ms)"))
                            .unwrap_or_default()
                    );
                }
                println!(
                    "{}",
                    if v.ok {
                        "GPU and CPU agree within tolerance"
                    } else {
                        "GPU and CPU differ beyond tolerance"
                    }
                );
            }
            Ok(if v.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Devices { json } => {
            devices(json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Selftest { quick, json } => selftest(quick, json),
        Command::Bench {
            kernel,
            meso_replicas,
            replicas,
            steps,
            cpu_steps,
            backend,
            json,
        } => {
            #[cfg(feature = "mpi")]
            if kernel == "mpi" {
                // Every rank takes part; rank 0 reports.
                let _shared = neuropop::ranks::share_run();
                let costs = neuropop::ranks::collective_costs();
                if neuropop::ranks::is_root() {
                    if json {
                        println!("{}", serde_json::to_string_pretty(&costs)?);
                    } else {
                        println!("all-gather among {} ranks:", neuropop::ranks::size());
                        for c in &costs {
                            println!(
                                "  {:>8} B per rank  {:>10.2} us  {:>10.3e} B/s received",
                                c.bytes, c.us, c.received_per_s
                            );
                        }
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            if kernel == "simd" {
                let blocks = neuropop::bench::simd_blocks();
                if json {
                    println!("{}", serde_json::to_string_pretty(&blocks)?);
                } else {
                    println!(
                        "CPU building blocks on one core at {} ({} f32 lanes):",
                        neuropop::simd::level().name(),
                        neuropop::simd::level().lanes()
                    );
                    for b in &blocks {
                        println!("  {:<30} {:>10.3e} /s  {:>8.3} ns", b.block, b.per_s, b.ns);
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            if ![
                "rng",
                "scatter",
                "rate",
                "gif_pop",
                "gif_psc_exp",
                "brunel_lif",
                "all",
            ]
            .contains(&kernel.as_str())
            {
                return Err(neuropop::Error::InvalidArgument(format!(
                    "bench `{kernel}`: expected rng, scatter, rate, gif_pop, gif_psc_exp, \
                     brunel_lif, simd or all"
                ))
                .into());
            }
            let backend = Backend::resolve(backend)?;
            let mut results = Vec::new();
            if kernel == "rng" || kernel == "all" {
                results.push(neuropop::bench::rng(&backend, 30, 26)?);
            }
            if kernel == "scatter" || kernel == "all" {
                results.push(neuropop::bench::scatter(&backend, 24, 20_000, 4)?);
            }
            if kernel == "rate" || kernel == "all" {
                results.push(neuropop::bench::rate(&backend, replicas, steps, cpu_steps)?);
            }
            if kernel == "gif_pop" || kernel == "all" {
                results.push(neuropop::bench::gif_pop(&backend, 1, 1)?);
                results.push(neuropop::bench::gif_pop(
                    &backend,
                    meso_replicas,
                    (meso_replicas / 16).max(2),
                )?);
            }
            if kernel == "gif_psc_exp" || kernel == "all" {
                results.push(neuropop::bench::gif_psc_exp(&backend, 10)?);
            }
            if kernel == "brunel_lif" || kernel == "all" {
                results.push(neuropop::bench::brunel_lif(&backend, 1000.0)?);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&results)?);
            } else {
                for r in &results {
                    println!("{}: {}", r.kernel, r.workload);
                    println!(
                        "  CPU path ({} threads): {:.3e} {}/s",
                        r.cpu_threads, r.cpu_per_s, r.unit
                    );
                    if let (Some(g), Some(ratio)) = (r.gpu_per_s, r.ratio) {
                        println!(
                            "  GPU path ({}): {:.3e} {}/s, {:.1}x the CPU path",
                            r.adapter.as_deref().unwrap_or("?"),
                            g,
                            r.unit,
                            ratio
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::FixedPoints(a) => {
            fixed_points(&a)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare {
            spec,
            seeds,
            t_end,
            backend,
            out,
            json,
        } => {
            // Every rank takes its share of both levels; rank 0 compares and writes.
            let _shared = neuropop::ranks::share_run();
            // Both levels: the micro level is a spiking network, the slower of the two.
            let (backend, _) =
                neuropop::ranks::agree(Backend::resolve_for(backend, Workload::Spiking))?;
            let out = out.unwrap_or_else(|| {
                let mut d = default_out(&spec);
                d.set_file_name(format!(
                    "{}_compare",
                    d.file_name().and_then(|s| s.to_str()).unwrap_or("spec")
                ));
                d
            });
            let mut parsed = neuropop::spec::Spec::load(&spec)?;
            let over = Overrides {
                t_end,
                ..Default::default()
            };
            for w in over.apply(&mut parsed)? {
                if neuropop::ranks::world_rank() == 0 {
                    eprintln!("neuropop: {w}");
                }
            }
            let c = neuropop::compare::compare_spec(&parsed, seeds, &backend, Some(&out))?;
            if neuropop::ranks::world_rank() != 0 {
                return Ok(ExitCode::SUCCESS);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&c)?);
            } else {
                println!(
                    "{} seeds per level on {}: micro {:.2} s, meso {:.2} s",
                    c.seeds, c.backend, c.micro_s, c.meso_s
                );
                println!(
                    "{:<6} {:>16} {:>18} {:>18} {:>16} {:>6}",
                    "pop", "window (ms)", "micro mean (Hz)", "meso mean (Hz)", "meso-micro", "z"
                );
                for w in &c.windows {
                    println!(
                        "{:<6} {:>16} {:>10.3} +- {:<5.3} {:>10.3} +- {:<5.3} {:>8.3} +- {:<5.3} {:>6.1}",
                        w.population,
                        format!("[{}, {})", w.window[0], w.window[1]),
                        w.mean_hz.micro,
                        w.mean_hz.micro_sd,
                        w.mean_hz.meso,
                        w.mean_hz.meso_sd,
                        w.mean_hz.diff,
                        w.mean_hz.se,
                        w.mean_hz.z
                    );
                }
                println!("sd of A_N across bins (Hz):");
                for w in &c.windows {
                    println!(
                        "{:<6} {:>16} {:>10.3} {:>10.3} {:>8.3} +- {:<5.3}",
                        w.population,
                        format!("[{}, {})", w.window[0], w.window[1]),
                        w.sd_hz.micro,
                        w.sd_hz.meso,
                        w.sd_hz.diff,
                        w.sd_hz.se
                    );
                }
                println!("wrote {}", out.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Moments(a) => {
            moments_command(&a)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn moments_command(a: &MomentArgs) -> anyhow::Result<()> {
    use neuropop::models::moments::{moment_activation_grid, plots, MomentParams};
    let p = MomentParams {
        l: a.l,
        v_th: a.v_th,
        v_res: a.v_res,
        t_ref: a.t_ref,
    };
    p.validate()?;
    let mu = parse_range("--mu", &a.mu)?;
    let sigma = parse_range("--sigma", &a.sigma)?;
    for &s in &sigma {
        neuropop::models::moments::params::validate_input(0.0, s)?;
    }
    let workload = if a.simulate {
        Workload::Lif
    } else {
        Workload::Moments
    };
    let (backend, _) = Backend::resolve_for(a.backend, workload)?;
    if a.simulate {
        return moments_simulate(a, &p, &backend, &mu, &sigma);
    }
    let grid = moment_activation_grid(&backend, &p, &mu, &sigma)?;
    if a.json {
        let out = serde_json::json!({
            "params": p,
            "backend": backend.name(),
            "mu_bar": grid.mu_bar,
            "sigma_bar": grid.sigma_bar,
            "rate": grid.rate,
            "std": grid.std,
            "fano": grid.fano,
            "chi": grid.chi,
            "layout": "index = i_sigma * len(mu_bar) + i_mu; rate spikes/ms, std spikes/sqrt(ms)",
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "LIF moment activation: L = {} /ms, V_th = {} mV, V_res = {} mV, T_ref = {} ms ({})",
            p.l,
            p.v_th,
            p.v_res,
            p.t_ref,
            backend.name()
        );
        println!(
            "{:>10} {:>10} {:>14} {:>14} {:>12} {:>12}",
            "mu_bar", "sigma_bar", "rate (1/ms)", "std", "Fano", "chi"
        );
        for (j, s) in grid.sigma_bar.iter().enumerate() {
            for (i, m) in grid.mu_bar.iter().enumerate() {
                let k = j * grid.mu_bar.len() + i;
                println!(
                    "{m:>10.4} {s:>10.4} {:>14.6e} {:>14.6e} {:>12.6} {:>12.6}",
                    grid.rate[k], grid.std[k], grid.fano[k], grid.chi[k]
                );
            }
        }
    }
    if let Some(dir) = &a.plot {
        let files = plots::write_grid(&grid, dir).context("writing plots")?;
        if !a.json {
            for f in files {
                println!("wrote {}", f.display());
            }
        }
    }
    Ok(())
}

fn moments_simulate(
    a: &MomentArgs,
    p: &neuropop::models::moments::MomentParams,
    backend: &Backend,
    mu: &[f64],
    sigma: &[f64],
) -> anyhow::Result<()> {
    use neuropop::models::lif::validate_moments::{
        rel, simulate_grid, write_plots, SimulateOptions,
    };
    use neuropop::models::moments::MomentParams;
    if *p != MomentParams::default() {
        return Err(neuropop::Error::InvalidArgument(
            "--simulate uses the moment-activation tutorial's constants (L = 0.05, V_th = 20, V_res = 0, T_ref = 5): drop --L/--V-th/--V-res/--T-ref".into(),
        )
        .into());
    }
    if !(0.0..=1.0).contains(&a.rho) || a.group == 0 || a.neurons == 0 {
        return Err(neuropop::Error::InvalidArgument(format!(
            "--rho {} must be in [0, 1], --group {} and --neurons {} >= 1",
            a.rho, a.group, a.neurons
        ))
        .into());
    }
    let opt = SimulateOptions {
        neurons: a.neurons,
        t_end: a.t_end,
        dt: a.dt,
        rho: a.rho,
        group: a.group,
        seed: a.seed,
    };
    let t = std::time::Instant::now();
    let g = simulate_grid(backend, mu, sigma, &opt)?;
    let secs = t.elapsed().as_secs_f64();
    let corr = !g.corr_sim.is_empty();
    if a.json {
        let mut v = serde_json::to_value(&g)?;
        v["backend"] = serde_json::json!(backend.name());
        v["seconds"] = serde_json::json!(secs);
        v["layout"] = serde_json::json!(
            "index = i_sigma * len(mu_bar) + i_mu; rates spikes/ms; Fano over the count window"
        );
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "moment activation vs {} lif neurons per point, t = {} ms (counts in [{}, {}] ms), dt = {} ms, crossing correction, rho = {} ({}, {secs:.1} s)",
            g.options.neurons, g.options.t_end, g.window[0], g.window[1], g.options.dt, g.options.rho, backend.name()
        );
        print!(
            "{:>8} {:>8} {:>11} {:>11} {:>8} {:>8} {:>8} {:>8}",
            "mu_bar", "sigma", "rate MA", "rate sim", "rel %", "Fano MA", "Fano sim", "rel %"
        );
        if corr {
            print!(" {:>8} {:>8}", "corr MA", "corr sim");
        }
        println!();
        for (j, s) in g.sigma_bar.iter().enumerate() {
            for (i, m) in g.mu_bar.iter().enumerate() {
                let k = j * g.mu_bar.len() + i;
                print!(
                    "{m:>8.3} {s:>8.3} {:>11.4e} {:>11.4e} {:>8.2} {:>8.4} {:>8.4} {:>8.2}",
                    g.rate_theory[k],
                    g.rate_sim[k],
                    100.0 * rel(g.rate_sim[k], g.rate_theory[k]),
                    g.fano_theory[k],
                    g.fano_sim[k],
                    100.0 * rel(g.fano_sim[k], g.fano_theory[k]),
                );
                if corr {
                    print!(" {:>8.4} {:>8.4}", g.corr_theory[k], g.corr_sim[k]);
                }
                println!();
            }
        }
    }
    if let Some(dir) = &a.plot {
        let files = write_plots(&g, dir).context("writing plots")?;
        if !a.json {
            for f in files {
                println!("wrote {}", f.display());
            }
        }
    }
    Ok(())
}

fn default_out(spec: &Path) -> PathBuf {
    let stem = spec
        .file_stem()
        .map_or("run".into(), |s| s.to_string_lossy().to_string());
    PathBuf::from("out").join(stem)
}

#[cfg(feature = "gpu")]
fn devices(json: bool) -> anyhow::Result<()> {
    let report = neuropop::backend::devices_report();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let list = neuropop::gpu::list_adapters();
    let simd = neuropop::simd::level();
    if list.is_empty() {
        println!("no GPU adapters (install a Vulkan driver, e.g. Debian's mesa-vulkan-drivers); the CPU path is always available");
    } else {
        for (i, a) in list.iter().enumerate() {
            println!(
                "{}{i}: {} ({}, {}, driver {} {})",
                if i == 0 { "* " } else { "  " },
                a.name,
                a.backend,
                a.device_type,
                a.driver,
                a.driver_info
            );
        }
        println!(
            "* = used by --backend gpu (choose another with NEUROPOP_ADAPTER=<name substring>)"
        );
    }
    println!(
        "CPU path: {} threads, {} ({} f32 lanes per register)",
        neuropop::cpu::threads(),
        simd.name(),
        simd.lanes()
    );
    println!("--backend auto runs:");
    for a in report["auto"].as_array().into_iter().flatten() {
        println!(
            "  {:<17} on the {} path ({})",
            a["workload"].as_str().unwrap_or(""),
            a["backend"].as_str().unwrap_or(""),
            a["why"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

#[cfg(not(feature = "gpu"))]
fn devices(json: bool) -> anyhow::Result<()> {
    let simd = neuropop::simd::level();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&neuropop::backend::devices_report())?
        );
    } else {
        println!(
            "built without the `gpu` feature: CPU path only ({} threads, {})",
            neuropop::cpu::threads(),
            simd.name()
        );
    }
    Ok(())
}

fn selftest(quick: bool, json: bool) -> anyhow::Result<ExitCode> {
    let simd = neuropop::simd::level();
    if !json {
        println!(
            "neuropop {} selftest: CPU path {} threads, {}",
            neuropop::VERSION,
            neuropop::cpu::threads(),
            simd.name()
        );
        println!(
            "{:<28} {:<52} {:>9} {:>8} {:>10} {:>10} {:>10} {:>6}  result",
            "kernel", "workload", "values", "differ", "max|diff|", "GPU /s", "CPU /s", "CPU/GPU"
        );
    }
    let mut adapter = String::new();
    let t = neuropop::selftest::run(quick, |c| {
        if json {
            return;
        }
        if c.adapter != adapter {
            adapter = c.adapter.clone();
            println!("adapter {adapter}:");
        }
        println!(
            "{:<28} {:<52} {:>9} {:>8} {:>10.2e} {:>10.2e} {:>10.2e} {:>6.1}  {}",
            c.kernel,
            c.workload,
            c.values,
            c.values_differing,
            c.max_abs_diff,
            c.gpu_rate(),
            c.cpu_rate(),
            c.cpu_rate() / c.gpu_rate().max(1e-30),
            match (c.ok, c.exact) {
                (true, true) => "ok (identical)".to_string(),
                (true, false) => format!("ok (means within {:.0e})", c.mean_tolerance),
                (false, true) => "FAILED: values differ".to_string(),
                (false, false) => format!(
                    "FAILED: means differ by {:.1e} > {:.0e}",
                    c.max_mean_rel_diff, c.mean_tolerance
                ),
            }
        );
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&t)?);
    } else {
        for (a, e) in &t.adapters {
            if let Some(e) = e {
                println!("adapter {} could not be opened: {e}", a.name);
            }
        }
        if t.adapters.is_empty() {
            println!("no GPU adapter: nothing to compare the CPU path with (install a Vulkan driver, e.g. Debian's mesa-vulkan-drivers)");
        }
        println!(
            "{} checks in {:.1} s: {}",
            t.checks.len(),
            t.seconds,
            if t.ok { "all passed" } else { "FAILED" }
        );
    }
    Ok(if t.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `START:STOP:NUM` (NUM evenly spaced values, ends included; NUM = 1 gives START, as numpy's
/// `linspace`) or a single number `X`.
fn parse_range(flag: &str, v: &str) -> anyhow::Result<Vec<f64>> {
    let bad = |why: &str| {
        neuropop::Error::InvalidArgument(format!(
            "{flag} `{v}`: {why} (expected a number X, or START:STOP:NUM with NUM >= 1)"
        ))
    };
    let num = |s: &str| -> anyhow::Result<f64> {
        match s.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(bad(&format!("`{s}` is not a finite number")).into()),
        }
    };
    let parts: Vec<&str> = v.split(':').collect();
    match parts.as_slice() {
        [x] => Ok(vec![num(x)?]),
        [a, b, n] => {
            let (a, b) = (num(a)?, num(b)?);
            let n: usize = n
                .trim()
                .parse()
                .map_err(|_| bad(&format!("NUM `{n}` is not a whole number")))?;
            match n {
                0 => Err(bad("NUM = 0 gives no values").into()),
                // As numpy's linspace: one value is START.
                1 => Ok(vec![a]),
                n if n > 100_000 => Err(bad("at most 100000 values").into()),
                n => Ok((0..n)
                    .map(|i| a + (b - a) * i as f64 / (n - 1) as f64)
                    .collect()),
            }
        }
        _ => Err(bad("wrong number of fields").into()),
    }
}

fn fixed_points(a: &FixedPointArgs) -> anyhow::Result<()> {
    if let Some(path) = &a.spec {
        return fixed_points_of_spec(path, a);
    }
    let transfer: Transfer = serde_json::from_value(serde_json::Value::String(a.transfer.clone()))
        .map_err(|_| {
            neuropop::Error::InvalidArgument(format!(
                "--transfer `{}`: expected sigmoid, relu, threshold_linear or tanh",
                a.transfer
            ))
        })?;
    let p = RateParams {
        tau: a.tau,
        a: a.a,
        theta: a.theta,
        w: a.w,
        i_ext: a.i_ext,
        transfer,
        ..Default::default()
    };
    p.validate(0.0, "(command line)")?;
    let fps = analysis::fixed_points(&p, a.grid);
    let map = match (&a.w_range, &a.i_range) {
        (Some(w), Some(i)) => Some((parse_range("--w-range", w)?, parse_range("--i-range", i)?)),
        (None, None) => None,
        _ => {
            return Err(neuropop::Error::InvalidArgument(
                "give both --w-range and --i-range".into(),
            )
            .into())
        }
    };
    let map_json = map.as_ref().map(|(ws, is)| {
        let (stable, all) = analysis::bifurcation_map(&p, ws, is, 2000);
        let rows = |v: &[u32]| v.chunks(is.len()).map(|r| r.to_vec()).collect::<Vec<_>>();
        serde_json::json!({ "w": ws, "I_ext": is, "stable": rows(&stable), "fixed_points": rows(&all) })
    });
    if a.json {
        let mut out = serde_json::json!({ "params": p, "fixed_points": fps });
        if let Some(m) = &map_json {
            out["bifurcation_map"] = m.clone();
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "w = {}, I_ext = {}, a = {}, theta = {}, tau = {} ms, F = {:?}",
            p.w, p.i_ext, p.a, p.theta, p.tau, p.transfer
        );
        for fp in &fps {
            println!(
                "fixed point r* = {:.3}  eigenvalue = {:.3} /ms  {}",
                fp.r,
                fp.eigenvalue,
                if fp.stable { "stable" } else { "unstable" }
            );
        }
        if let Some(m) = &map_json {
            println!("bifurcation map (stable fixed points; rows: w, columns: I_ext):");
            for (w, row) in m["w"]
                .as_array()
                .into_iter()
                .flatten()
                .zip(m["stable"].as_array().into_iter().flatten())
            {
                let cells: String = row
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| c.to_string())
                    .collect();
                println!("  w = {:>8.3}  {cells}", w.as_f64().unwrap_or(f64::NAN));
            }
        }
    }
    if let Some(dir) = &a.plot {
        let files = neuropop::models::rate::plots::analysis_plots(&p, map.as_ref(), dir)
            .context("writing plots")?;
        if !a.json {
            for f in files {
                println!("wrote {}", f.display());
            }
        }
    }
    Ok(())
}

fn fixed_points_of_spec(path: &Path, a: &FixedPointArgs) -> anyhow::Result<()> {
    let spec = neuropop::spec::Spec::load(path)?;
    let net = neuropop::models::rate::RateNetwork::from_spec(&spec)?;
    let (params, w) = net.combo(0);
    let out = match params.len() {
        1 => {
            let p = RateParams {
                w: w[0],
                ..params[0]
            };
            serde_json::json!({ "populations": net.names, "params": p, "fixed_points": analysis::fixed_points(&p, a.grid) })
        }
        2 => {
            let fps =
                analysis::fixed_points_2d(&[params[0], params[1]], &[w[0], w[1], w[2], w[3]], 60);
            serde_json::json!({ "populations": net.names, "params": params, "coupling": w, "fixed_points": fps })
        }
        n => {
            return Err(neuropop::Error::InvalidArgument(format!(
                "{}: fixed-point analysis takes 1 or 2 populations, the spec has {n}",
                path.display()
            ))
            .into())
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{} (sweep combination 0, stimuli ignored)", path.display());
        for fp in out["fixed_points"].as_array().into_iter().flatten() {
            println!("  {fp}");
        }
    }
    Ok(())
}
