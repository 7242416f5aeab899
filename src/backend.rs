//! Choosing where a run executes: `--backend auto|gpu|cpu`.
//!
//! `auto` takes a GPU adapter when one exists (a software Vulkan driver such as lavapipe
//! counts) and otherwise falls back to the CPU reference path with a one-line notice; `gpu`
//! without an adapter is an error that says how to get one. `NEUROPOP_REQUIRE_GPU=1` turns
//! every fallback into that error, which is how CI makes sure GPU tests really ran.

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
