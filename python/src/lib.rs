//! `neuropop._neuropop`: the Python module's native part, a thin layer over the neuropop
//! library (`run.rs`, `compare.rs`, the analysis functions). Specs arrive as a file path, TOML
//! text or JSON text (dicts, serialised by the Python side); results leave as NumPy arrays and
//! JSON text that the Python side turns into dicts. Long runs release the GIL and check for
//! Ctrl-C after every chunk.

use std::path::PathBuf;

use numpy::{PyArray1, PyArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use neuropop::backend::{Backend, BackendChoice, Workload};
use neuropop::models::levels::Level;
use neuropop::output::{TypedRecorder, Values};
use neuropop::run::{Overrides, ProgressChoice};
use neuropop::spec::Spec;
use neuropop::Error;

create_exception!(
    _neuropop,
    SpecError,
    PyValueError,
    "A spec, parameter or argument is invalid; the message names the key and the allowed range."
);
create_exception!(
    _neuropop,
    BackendError,
    PyRuntimeError,
    "The requested backend is not available (e.g. backend=\"gpu\" without a GPU adapter)."
);

/// The Python exception for a library error.
fn py_err(e: Error) -> PyErr {
    match e {
        Error::Interrupted => PyKeyboardInterrupt::new_err("interrupted"),
        Error::NoAdapter { .. } | Error::GpuNotCompiled => BackendError::new_err(e.to_string()),
        Error::OutputBusy { .. } => PyRuntimeError::new_err(e.to_string()),
        Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(e.to_string())
        }
        Error::Io { .. } => PyOSError::new_err(e.to_string()),
        e if e.is_user_error() => SpecError::new_err(e.to_string()),
        e => PyRuntimeError::new_err(e.to_string()),
    }
}

/// A spec from the Python side: `kind` is "path", "toml" or "json".
fn load_spec(kind: &str, text: &str, label: &str) -> Result<Spec, Error> {
    match kind {
        "path" => Spec::load(std::path::Path::new(text)),
        "toml" => Spec::parse(text, label),
        "json" => Spec::parse_json(text, label),
        other => Err(Error::InvalidArgument(format!(
            "spec kind `{other}`: expected path, toml or json"
        ))),
    }
}

fn backend_choice(b: Option<&str>) -> Result<Option<BackendChoice>, Error> {
    b.map(str::parse).transpose()
}

fn level(l: Option<&str>) -> Result<Option<Level>, Error> {
    match l {
        None => Ok(None),
        Some("micro") => Ok(Some(Level::Micro)),
        Some("meso") => Ok(Some(Level::Meso)),
        Some(other) => Err(Error::InvalidArgument(format!(
            "level `{other}`: expected \"micro\" or \"meso\""
        ))),
    }
}

/// Progress after every chunk: the Python callable (if any), then a check for Ctrl-C; a
/// raised exception stops the run.
fn progress_fn(callback: Option<Py<PyAny>>) -> ProgressChoice {
    ProgressChoice::Callback(Box::new(move |done, total| {
        Python::attach(|py| {
            if let Some(cb) = &callback {
                if let Err(e) = cb.call1(py, (done, total)) {
                    e.restore(py);
                    return false;
                }
            }
            py.check_signals().is_ok()
        })
    }))
}

/// The recorded arrays as a dict of NumPy arrays of their own shape and dtype.
/// Each vector becomes the array's buffer (NumPy owns it from then on): no copy.
fn arrays_dict<'py>(py: Python<'py>, rec: TypedRecorder) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for a in rec.arrays {
        let shape: Vec<usize> = a.info.shape.iter().map(|&n| n as usize).collect();
        let arr = match a.values {
            Values::F64(v) => PyArray1::from_vec(py, v).reshape(shape)?.into_any(),
            Values::F32(v) => PyArray1::from_vec(py, v).reshape(shape)?.into_any(),
            Values::U32(v) => PyArray1::from_vec(py, v).reshape(shape)?.into_any(),
        };
        d.set_item(a.info.name, arr)?;
    }
    Ok(d)
}

/// Runs a spec; returns (arrays, meta as JSON, warnings).
#[pyfunction]
#[pyo3(signature = (kind, text, label, backend=None, seed=None, t_end=None, level_=None, out=None, progress=None))]
#[allow(clippy::too_many_arguments)]
fn run<'py>(
    py: Python<'py>,
    kind: &str,
    text: &str,
    label: &str,
    backend: Option<&str>,
    seed: Option<u64>,
    t_end: Option<f64>,
    level_: Option<&str>,
    out: Option<PathBuf>,
    progress: Option<Py<PyAny>>,
) -> PyResult<(Bound<'py, PyDict>, String, Vec<String>)> {
    let spec = load_spec(kind, text, label).map_err(py_err)?;
    let overrides = Overrides {
        backend: backend_choice(backend).map_err(py_err)?,
        seed,
        t_end,
        no_plots: false,
        level: level(level_).map_err(py_err)?,
    };
    let label = label.to_string();
    let command = vec!["neuropop.run".to_string(), label.clone()];
    let choice = progress_fn(progress);
    let result = py.detach(move || {
        neuropop::run::run_spec_value(
            spec,
            &label,
            out.as_deref(),
            true,
            &overrides,
            command,
            choice,
        )
    });
    let r = match result {
        Ok(r) => r,
        // A Python exception raised by the progress callback (Ctrl-C included) wins.
        Err(Error::Interrupted) => {
            return Err(PyErr::take(py).unwrap_or_else(|| py_err(Error::Interrupted)))
        }
        Err(e) => return Err(py_err(e)),
    };
    let meta =
        serde_json::to_string(&r.meta).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let arrays = arrays_dict(py, r.arrays.unwrap_or_default())?;
    Ok((arrays, meta, r.summary.warnings))
}

/// Compares both levels of a GIF network; returns (compare.json content as JSON, arrays).
#[pyfunction]
#[pyo3(signature = (kind, text, label, seeds, backend=None, out=None))]
fn compare<'py>(
    py: Python<'py>,
    kind: &str,
    text: &str,
    label: &str,
    seeds: u32,
    backend: Option<&str>,
    out: Option<PathBuf>,
) -> PyResult<(String, Bound<'py, PyDict>)> {
    let spec = load_spec(kind, text, label).map_err(py_err)?;
    let choice = backend_choice(backend).map_err(py_err)?.unwrap_or_default();
    let c = py
        .detach(move || {
            let (b, _) = Backend::resolve_for(choice, Workload::Spiking)?;
            neuropop::compare::compare_spec(&spec, seeds, &b, out.as_deref())
        })
        .map_err(py_err)?;
    let json = serde_json::to_string(&c).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let d = PyDict::new(py);
    for (name, shape, values) in c.arrays {
        let shape: Vec<usize> = shape.iter().map(|&n| n as usize).collect();
        d.set_item(name, PyArray1::from_vec(py, values).reshape(shape)?)?;
    }
    Ok((json, d))
}

/// Runs a spec on the GPU and the CPU path and compares every recording; JSON.
#[pyfunction]
#[pyo3(signature = (kind, text, label, tol))]
fn validate(py: Python<'_>, kind: &str, text: &str, label: &str, tol: f64) -> PyResult<String> {
    let spec = load_spec(kind, text, label).map_err(py_err)?;
    let v = py
        .detach(move || neuropop::run::validate_spec_value(spec, &Overrides::default(), tol))
        .map_err(py_err)?;
    serde_json::to_string(&v).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Fixed points of a rate population; JSON list of {r, eigenvalue, stable}.
#[pyfunction]
#[pyo3(signature = (w, i_ext, a, theta, tau, transfer))]
fn fixed_points(
    w: f64,
    i_ext: f64,
    a: f64,
    theta: f64,
    tau: f64,
    transfer: &str,
) -> PyResult<String> {
    use neuropop::models::rate::{RateParams, Transfer};
    let transfer: Transfer = serde_json::from_value(serde_json::Value::String(transfer.into()))
        .map_err(|_| {
            py_err(Error::InvalidArgument(format!(
                "transfer `{transfer}`: expected sigmoid, relu, threshold_linear or tanh"
            )))
        })?;
    let p = RateParams {
        tau,
        a,
        theta,
        w,
        i_ext,
        transfer,
        ..RateParams::default()
    };
    p.validate(0.1, "\"fixed_points\"").map_err(py_err)?;
    let fps = neuropop::models::rate::analysis::fixed_points(&p, 10_000);
    serde_json::to_string(&fps).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// The LIF moment activation on the grid `sigma x mu`: 2-D arrays `[sigma, mu]`.
#[pyfunction]
#[pyo3(signature = (mu, sigma, l, v_th, v_res, t_ref, backend=None))]
#[allow(clippy::too_many_arguments)]
fn moments<'py>(
    py: Python<'py>,
    mu: Vec<f64>,
    sigma: Vec<f64>,
    l: f64,
    v_th: f64,
    v_res: f64,
    t_ref: f64,
    backend: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    use neuropop::models::moments::engine::moment_activation_grid;
    use neuropop::models::moments::params::MomentParams;
    let p = MomentParams {
        l,
        v_th,
        v_res,
        t_ref,
    };
    let choice = backend_choice(backend).map_err(py_err)?.unwrap_or_default();
    let (nm, ns) = (mu.len(), sigma.len());
    let g = py
        .detach(move || {
            let (b, _) = Backend::resolve_for(choice, Workload::Moments)?;
            moment_activation_grid(&b, &p, &mu, &sigma)
        })
        .map_err(py_err)?;
    let d = PyDict::new(py);
    d.set_item("mu", PyArray1::from_vec(py, g.mu_bar))?;
    d.set_item("sigma", PyArray1::from_vec(py, g.sigma_bar))?;
    for (name, v) in [
        ("rate", g.rate),
        ("std", g.std),
        ("fano", g.fano),
        ("chi", g.chi),
    ] {
        d.set_item(name, PyArray1::from_vec(py, v).reshape([ns, nm])?)?;
    }
    Ok(d)
}

/// The GPU adapters, the CPU path, and what `backend="auto"` does per model; JSON.
#[pyfunction]
fn devices() -> PyResult<String> {
    serde_json::to_string(&neuropop::backend::devices_report())
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// The native module.
#[pymodule]
fn _neuropop(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", neuropop::VERSION)?;
    m.add("SpecError", m.py().get_type::<SpecError>())?;
    m.add("BackendError", m.py().get_type::<BackendError>())?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(fixed_points, m)?)?;
    m.add_function(wrap_pyfunction!(moments, m)?)?;
    m.add_function(wrap_pyfunction!(devices, m)?)?;
    Ok(())
}
