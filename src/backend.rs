//! Choosing where a run executes: `--backend auto|gpu|cpu`.
//!
//! `auto` takes a hardware GPU adapter when one exists. On a software adapter (a Vulkan
//! driver such as lavapipe that runs the shaders on the same CPU cores, device type `Cpu`)
//! it takes whichever path is faster for the workload, from the measurements in
//! [`SOFTWARE_ADAPTER`]; without an adapter it runs the CPU path with a one-line notice. `gpu`
//! without an adapter is an error that says how to get one. `NEUROPOP_REQUIRE_GPU=1` turns a
//! missing adapter into that error, which is how CI makes sure GPU tests really ran.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The user's choice of backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[derive(clap::ValueEnum)]
pub enum BackendChoice {
    /// A GPU adapter if there is one, else the CPU path.
    #[default]
    Auto,
    /// A GPU adapter; an error if there is none.
    Gpu,
    /// The CPU reference path.
    Cpu,
}

impl std::str::FromStr for BackendChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "gpu" => Ok(Self::Gpu),
            "cpu" => Ok(Self::Cpu),
            other => Err(Error::InvalidArgument(format!(
                "backend `{other}`: expected one of auto, gpu, cpu"
            ))),
        }
    }
}

impl std::fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Gpu => "gpu",
            Self::Cpu => "cpu",
        })
    }
}

/// What a GPU adapter is, in plain strings (for `neuropop devices` and `meta.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterSummary {
    /// Adapter name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
    pub name: String,
    /// Graphics API: Vulkan, Metal, Dx12, Gl.
    pub backend: String,
    /// DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu or Other.
    pub device_type: String,
    /// Driver name, e.g. "llvmpipe".
    pub driver: String,
    /// Driver version string.
    pub driver_info: String,
}

/// Whether `NEUROPOP_REQUIRE_GPU` is set to a true value (1, true, yes).
pub fn gpu_required() -> bool {
    std::env::var("NEUROPOP_REQUIRE_GPU")
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

/// What a run computes, for `--backend auto`'s choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// `rate` populations (`rate_step`).
    Rate,
    /// Independent `lif` neurons (`lif_step`).
    Lif,
    /// Mesoscopic `gif_pop_psc_exp` populations (`gif_pop_step`).
    GifPop,
    /// Spiking networks (`neuron_step`, `deliver_spikes`).
    Spiking,
    /// The LIF moment activation (`moment_activation`).
    Moments,
}

impl Workload {
    /// Every workload, in the order `neuropop devices` lists them.
    pub const ALL: [Workload; 5] = [
        Workload::Rate,
        Workload::Lif,
        Workload::GifPop,
        Workload::Spiking,
        Workload::Moments,
    ];

    /// The model or command name users know it by.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Rate => "rate",
            Workload::Lif => "lif",
            Workload::GifPop => "gif_pop_psc_exp",
            Workload::Spiking => "spiking networks",
            Workload::Moments => "moments",
        }
    }
}

/// One row of [`SOFTWARE_ADAPTER`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SoftwareChoice {
    /// The workload.
    pub workload: Workload,
    /// How many times faster the CPU path ran than lavapipe on the same cores; above 1,
    /// `auto` takes the CPU path on software adapters.
    pub cpu_speedup: f64,
    /// What was measured.
    pub measured: &'static str,
}

/// The CPU path against lavapipe ("llvmpipe (LLVM 15.0.6, 256 bits)", Mesa 22.3.6) on the
/// same 2-core AVX-512 machine, both with every core. Software adapters run the shaders as
/// SIMD code much like the CPU path's, minus what the CPU path can skip (work only some lanes
/// need, a layout made for one core's caches), so these ratios carry over to other CPUs.
pub const SOFTWARE_ADAPTER: [SoftwareChoice; 5] = [
    SoftwareChoice {
        workload: Workload::Rate,
        cpu_speedup: 3.6,
        measured: "neuropop bench rate: 10^6 populations with OU noise, 1.14e9 vs 3.2e8 population-steps/s",
    },
    SoftwareChoice {
        workload: Workload::Lif,
        cpu_speedup: 10.5,
        measured: "10^6 exact LIF neurons, constant drive, 100 ms at 0.1 ms: 0.33 s vs 3.46 s (with white noise and bridge crossings 2.7x)",
    },
    SoftwareChoice {
        workload: Workload::GifPop,
        cpu_speedup: 14.0,
        measured: "examples/brunel_gif.toml, 10 networks x 2000 ms: 0.15 s vs 2.16 s",
    },
    SoftwareChoice {
        workload: Workload::Spiking,
        cpu_speedup: 4.7,
        measured: "examples/brunel_lif.toml: 1.05 s vs 4.96 s; examples/brunel_gif.toml --level micro, 10 networks: 0.26 s vs 1.7 s",
    },
    SoftwareChoice {
        workload: Workload::Moments,
        cpu_speedup: 1.5,
        measured: "neuropop moments on 1001 x 1001 points: 0.9 s vs 1.4 s",
    },
];

/// Whether `auto` runs `w` on the CPU path when the adapter is a software one.
pub fn cpu_faster_on_software_adapters(w: Workload) -> bool {
    SOFTWARE_ADAPTER
        .iter()
        .find(|c| c.workload == w)
        .is_some_and(|c| c.cpu_speedup > 1.0)
}

/// The measured CPU-path speed-up of `w` over a software adapter.
pub fn speedup(w: Workload) -> f64 {
    SOFTWARE_ADAPTER
        .iter()
        .find(|c| c.workload == w)
        .map_or(1.0, |c| c.cpu_speedup)
}

/// What `--backend auto` does for `w`: the backend name and why.
pub fn auto_choice(w: Workload) -> (&'static str, String) {
    #[cfg(feature = "gpu")]
    {
        match crate::gpu::chosen_adapter() {
            Ok(a) if a.device_type == "Cpu" && cpu_faster_on_software_adapters(w) => (
                "cpu",
                format!(
                    "{} is a software adapter on the CPU cores; the CPU path runs {} about {}x \
                     faster",
                    a.name,
                    w.name(),
                    speedup(w)
                ),
            ),
            Ok(a) if a.device_type == "Cpu" => (
                "gpu",
                format!(
                    "{} is a software adapter; it runs {} faster",
                    a.name,
                    w.name()
                ),
            ),
            Ok(a) => ("gpu", format!("GPU adapter {}", a.name)),
            Err(_) => ("cpu", "no GPU adapter".to_string()),
        }
    }
    #[cfg(not(feature = "gpu"))]
    {
        let _ = w;
        ("cpu", "built without the `gpu` feature".to_string())
    }
}

/// What `neuropop devices --json` prints (and the Python module's `devices_info()`): the GPU
/// adapters, best first; where `--backend auto` runs each workload and why; the CPU path's
/// threads and SIMD level.
pub fn devices_report() -> serde_json::Value {
    #[cfg(feature = "gpu")]
    let adapters = serde_json::to_value(crate::gpu::list_adapters())
        .unwrap_or(serde_json::Value::Array(Vec::new()));
    #[cfg(not(feature = "gpu"))]
    let adapters = serde_json::Value::Array(Vec::new());
    let auto: Vec<serde_json::Value> = Workload::ALL
        .iter()
        .map(|w| {
            let (backend, why) = auto_choice(*w);
            serde_json::json!({ "workload": w.name(), "backend": backend, "why": why })
        })
        .collect();
    let simd = crate::simd::level();
    serde_json::json!({
        "adapters": adapters,
        "auto": auto,
        "cpu": { "threads": crate::cpu::threads(), "simd": simd.name(), "lanes": simd.lanes() },
    })
}

/// The backend a run actually uses.
pub enum Backend {
    /// The CPU reference path.
    Cpu,
    /// A GPU device, shared by every run in the process.
    #[cfg(feature = "gpu")]
    Gpu(std::sync::Arc<crate::gpu::GpuContext>),
}

impl Backend {
    /// Resolves a choice to a backend. With `auto`, a missing adapter gives the CPU path and
    /// a notice on stderr, unless `NEUROPOP_REQUIRE_GPU` is set.
    pub fn resolve(choice: BackendChoice) -> Result<Self> {
        match choice {
            BackendChoice::Cpu => Ok(Backend::Cpu),
            BackendChoice::Gpu => Self::gpu(),
            BackendChoice::Auto => match Self::gpu() {
                Ok(b) => Ok(b),
                Err(e)
                    if !gpu_required()
                        && matches!(e, Error::NoAdapter { .. } | Error::GpuNotCompiled) =>
                {
                    eprintln!("neuropop: no GPU adapter found, running on the CPU reference path");
                    Ok(Backend::Cpu)
                }
                Err(e) => Err(e),
            },
        }
    }

    /// Resolves a choice for workload `w`: as [`Backend::resolve`], except that `auto` on a
    /// software adapter takes the faster path for `w` (see [`SOFTWARE_ADAPTER`]), with a
    /// one-line notice. Returns the backend and, for `auto`, why it was chosen.
    pub fn resolve_for(choice: BackendChoice, w: Workload) -> Result<(Self, Option<String>)> {
        if choice != BackendChoice::Auto {
            return Ok((Self::resolve(choice)?, None));
        }
        #[cfg(not(feature = "gpu"))]
        let _ = w;
        #[cfg(feature = "gpu")]
        if let Ok(a) = crate::gpu::chosen_adapter() {
            if a.device_type == "Cpu" && cpu_faster_on_software_adapters(w) {
                let why = auto_choice(w).1;
                eprintln!("neuropop: {why}: running there (--backend gpu to use the adapter)");
                return Ok((Backend::Cpu, Some(why)));
            }
        }
        let b = Self::resolve(choice)?;
        let why = match &b {
            Backend::Cpu => "no GPU adapter".to_string(),
            #[cfg(feature = "gpu")]
            Backend::Gpu(ctx) => format!("GPU adapter {}", ctx.info().name),
        };
        Ok((b, Some(why)))
    }

    #[cfg(feature = "gpu")]
    fn gpu() -> Result<Self> {
        Ok(Backend::Gpu(crate::gpu::GpuContext::shared()?))
    }

    #[cfg(not(feature = "gpu"))]
    fn gpu() -> Result<Self> {
        Err(Error::GpuNotCompiled)
    }

    /// "gpu" or "cpu".
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
            #[cfg(feature = "gpu")]
            Backend::Gpu(_) => "gpu",
        }
    }

    /// The adapter of a GPU backend.
    pub fn adapter(&self) -> Option<AdapterSummary> {
        match self {
            Backend::Cpu => None,
            #[cfg(feature = "gpu")]
            Backend::Gpu(ctx) => Some(ctx.info().clone()),
        }
    }
}
