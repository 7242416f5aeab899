//! The library's one error type.
//!
//! Every failure a user can cause (a bad spec, a parameter out of range, a request the device
//! cannot hold) gets a variant whose message names the item and the allowed range, so the CLI
//! can print it on one line and exit with status 2. Failures of the machine (I/O, the GPU
//! driver) are separate variants and exit with status 1.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in neuropop.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A spec file could not be parsed, or a key in it is unknown or out of range.
    /// `location` is the file and, where known, the key path (e.g. `population[0].params.tau`).
    #[error("{location}: {message}")]
    Spec {
        /// File and key path of the offending item.
        location: String,
        /// What is wrong and what is allowed.
        message: String,
    },

    /// A model parameter (from a spec, a sweep or the API) is outside its allowed range.
    #[error("{model}: parameter `{name}` = {value}: {allowed}")]
    Param {
        /// Model name, with the population where known (e.g. `rate population \"E\"`).
        model: String,
        /// Parameter name as the user writes it.
        name: String,
        /// The rejected value, formatted.
        value: String,
        /// The allowed range or rule.
        allowed: String,
    },

    /// A command-line or API argument is invalid (not a spec key).
    #[error("{0}")]
    InvalidArgument(String),

    /// `--backend gpu` (or `NEUROPOP_REQUIRE_GPU=1`) but no adapter exists.
    #[error(
        "no GPU adapter found{detail}. Install a Vulkan driver (on Debian/Ubuntu: \
         `apt-get install mesa-vulkan-drivers` gives the lavapipe CPU driver), or run with \
         --backend cpu"
    )]
    NoAdapter {
        /// Extra context (e.g. the adapters seen and why they were skipped); may be empty.
        detail: String,
    },

    /// This build has no GPU runtime (compiled without the `gpu` feature).
    #[error("this neuropop was built without the `gpu` feature; rebuild with default features or use --backend cpu")]
    GpuNotCompiled,

    /// A buffer is larger than the device allows for one binding or one buffer.
    #[error(
        "buffer `{label}` needs {needed} bytes but the device allows {available} bytes ({limit}); \
         reduce the problem size or split it"
    )]
    BufferTooLarge {
        /// Which buffer.
        label: String,
        /// Bytes requested.
        needed: u64,
        /// Bytes the limit allows.
        available: u64,
        /// Name of the wgpu limit that applies.
        limit: &'static str,
    },

    /// The GPU runtime failed (device request, shader compilation, mapping, device lost).
    #[error("GPU error: {0}")]
    Gpu(String),

    /// A shader source could not be composed (missing import) or named a missing file.
    #[error("shader `{shader}`: {message}")]
    Shader {
        /// Shader path under `shaders/`.
        shader: String,
        /// What is wrong.
        message: String,
    },

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Another run is writing the output directory (it holds the directory's lock file).
    #[error(
        "output directory {} is being written by another neuropop run ({holder}); wait for it \
         to finish or choose another --out",
        dir.display()
    )]
    OutputBusy {
        /// The output directory.
        dir: PathBuf,
        /// Who holds it (e.g. `process 1234`).
        holder: String,
    },

    /// The run was stopped before it finished (an interrupt, or a progress callback that
    /// asked to stop); nothing was written.
    #[error("interrupted")]
    Interrupted,

    /// Writing an output (npy, json, png) failed for a reason other than I/O.
    #[error("writing {path}: {message}")]
    Output {
        /// The file being written.
        path: PathBuf,
        /// What failed.
        message: String,
    },

    /// One or more MPI ranks failed; every rank returns this, naming each failed rank and
    /// its error, and nothing is written.
    #[error("{message}")]
    Ranks {
        /// The failed ranks and their errors.
        message: String,
        /// Whether every failure was the user's input (exit status 2).
        user: bool,
    },
}

impl Error {
    /// True when the error is the user's input (spec, parameter, argument, size): the CLI
    /// exits with status 2 for these and 1 for the rest.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            Error::Spec { .. }
                | Error::Param { .. }
                | Error::InvalidArgument(_)
                | Error::BufferTooLarge { .. }
                | Error::OutputBusy { .. }
                | Error::Ranks { user: true, .. }
        )
    }

    /// Shorthand for an [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for an [`Error::Param`].
    pub fn param(
        model: impl Into<String>,
        name: impl Into<String>,
        value: impl std::fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        Error::Param {
            model: model.into(),
            name: name.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}
