"""neuropop: neural populations on any GPU, checked against a bit-identical CPU path.

The same specs as the command line (a TOML file, TOML text, or a dict with the file's
structure), results as NumPy arrays in memory::

    import neuropop
    res = neuropop.run("examples/rate_ou.toml", t_end=200.0)
    res["trace_E_r"]          # [time, replica], as trace_E_r.npy
    res.meta["backend"]       # what meta.json says

Every function mirrors a command of the ``neuropop`` program; see its README and docs/.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Callable, Iterator, Optional, Sequence, Union

import numpy as np

# Vulkan and EGL drivers print "XDG_RUNTIME_DIR is invalid or not set" on every adapter
# query where the variable is missing (containers, CI, ssh sessions); the command line sets
# it to a private folder in that case, and so does the module, before any driver loads.
if not os.environ.get("XDG_RUNTIME_DIR"):
    import tempfile as _tempfile

    _xdg = os.path.join(_tempfile.gettempdir(), f"neuropop-xdg-{os.getuid() if hasattr(os, 'getuid') else 0}")
    try:
        os.makedirs(_xdg, mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = _xdg
    except OSError:
        pass

from . import _neuropop  # noqa: E402
from ._neuropop import BackendError, SpecError  # noqa: E402

__version__: str = _neuropop.__version__

__all__ = [
    "run",
    "compare",
    "validate",
    "fixed_points",
    "moments",
    "devices",
    "devices_info",
    "Result",
    "SpecError",
    "BackendError",
    "__version__",
]

SpecLike = Union[str, "os.PathLike[str]", Mapping[str, Any]]


def _spec(spec: SpecLike) -> tuple[str, str, str]:
    """(kind, text, label) for the native module: a path, TOML text, or a dict as JSON."""
    if isinstance(spec, Mapping):
        try:
            return "json", json.dumps(spec, allow_nan=False), "<dict>"
        except (TypeError, ValueError) as e:
            raise SpecError(f"<dict>: not a spec: {e}") from None
    if isinstance(spec, os.PathLike):
        p = os.fspath(spec)
        return "path", p, p
    if isinstance(spec, str):
        if "\n" in spec or ("=" in spec and not os.path.exists(spec)):
            return "toml", spec, "<string>"
        return "path", spec, spec
    raise TypeError(f"spec must be a path, TOML text or a dict, not {type(spec).__name__}")


def _progress(enabled: bool, label: str) -> tuple[Optional[Callable[[int, int], None]], Any]:
    """A callback drawing a tqdm bar (when tqdm is installed and `enabled`), and the bar."""
    if not enabled:
        return None, None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None, None
    bar = tqdm(total=None, desc=label, unit="unit", leave=False)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar


class Result(Mapping):
    """The recordings of a run: a read-only mapping from the command line's output names
    (without ``.npy``) to NumPy arrays of the same shape and dtype as the files, plus
    ``meta`` (the content of ``meta.json``) and ``warnings``."""

    def __init__(self, arrays: dict, meta: dict, warnings: Sequence[str]):
        self._arrays = dict(arrays)
        for a in self._arrays.values():
            a.flags.writeable = False
        self.meta: dict = meta
        self.warnings: list[str] = list(warnings)

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._arrays[name]
        except KeyError:
            raise KeyError(f"{name!r}: no such recording (recordings: {', '.join(self._arrays)})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        lines = [f"<neuropop.Result: {len(self)} arrays, backend {self.meta.get('backend')}>"]
        for n, a in self._arrays.items():
            lines.append(f"  {n:<28} {str(a.dtype):<8} {tuple(a.shape)}")
        return "\n".join(lines)

    def to_xarray(self):
        """The recordings as an ``xarray.Dataset`` with named dimensions: ``time`` (the
        activity bins or a trace's samples, with the matching ``*_t`` array as coordinate),
        ``replica``, ``combination``, ``copy``, ``window``, ``frequency``. Needs the package
        ``xarray``."""
        try:
            import xarray as xr
        except ImportError:
            raise ImportError(
                "Result.to_xarray needs the package xarray: pip install xarray"
            ) from None
        times = {n: a for n, a in self._arrays.items() if n.endswith("_t") and a.ndim == 1}
        coords: dict = {n: (n, a) for n, a in times.items()}
        data = {}
        for name, a in self._arrays.items():
            if name in times:
                continue
            data[name] = (self._dims(name, a, times), a)
        return xr.Dataset(data, coords=coords, attrs={"meta": json.dumps(self.meta)})

    @staticmethod
    def _dims(name: str, a: np.ndarray, times: dict) -> list[str]:
        t = name + "_t" if name + "_t" in times else None
        if t is None and name.startswith(("activity_", "abar_")) and "activity_t" in times:
            t = "activity_t"
        if t is None and name.startswith("V_m_") and "V_m_t" in times:
            t = "V_m_t"
        known: dict[str, list[str]] = {
            "windows": ["window", "bound"],
            "sweep": ["combination", "axis"],
        }
        if name in known and len(known[name]) == a.ndim:
            return known[name]
        if t is not None and a.ndim >= 1 and len(times.get(t, [])) == a.shape[0]:
            return [t] + ["replica", "neuron"][: a.ndim - 1]
        if name.startswith("summary_"):
            return ["combination", "copy", "window"][: a.ndim]
        if name.startswith("spectrum_"):
            if name.endswith("_replicas"):
                return ["replica", "frequency"][: a.ndim]
            return ["frequency", "column"][: a.ndim]
        if name.startswith(("counts_",)):
            return ["neuron", "window"][: a.ndim]
        if name.startswith(("rate_", "fano_", "corr_")):
            return ["combination", "window"][: a.ndim]
        return [f"{name}_dim{i}" for i in range(a.ndim)]


def run(
    spec: SpecLike,
    *,
    backend: str = "auto",
    seed: Optional[int] = None,
    t_end: Optional[float] = None,
    level: Optional[str] = None,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
    progress: bool = True,
) -> Result:
    """Runs a spec (a path, TOML text, or a dict with the TOML file's structure) and returns
    its recordings in memory. The keywords are the command line's flags: ``backend``
    ("auto", "gpu" or "cpu"), ``seed``, ``t_end`` (ms), ``level`` ("micro" or "meso" for GIF
    networks). Nothing is written to disk unless ``out`` names a directory, which then gets
    the command line's files (arrays, plots, meta.json). ``progress`` shows a tqdm bar when
    tqdm is installed. The GIL is released while the simulation runs; Ctrl-C stops it within
    one chunk of steps (KeyboardInterrupt, and no output directory is left behind).

    Raises SpecError (a ValueError) for a bad spec, FileNotFoundError for a spec file that
    does not exist, BackendError (a RuntimeError) when the backend is not available, and
    RuntimeError when ``out`` is being written by another run."""
    kind, text, label = _spec(spec)
    cb, bar = _progress(progress, label)
    try:
        arrays, meta, warnings = _neuropop.run(
            kind,
            text,
            label,
            backend,
            seed,
            t_end,
            level,
            None if out is None else os.fspath(out),
            cb,
        )
    finally:
        if bar is not None:
            bar.close()
    return Result(arrays, json.loads(meta), warnings)


def compare(
    spec: SpecLike,
    *,
    seeds: int = 10,
    backend: str = "auto",
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
) -> dict:
    """Runs a GIF network at both levels (gif_psc_exp neurons and gif_pop_psc_exp
    populations) over ``seeds`` seeds and compares them, as ``neuropop compare``: the content
    of compare.json (per population and window the mean and sd of A_N at each level, meso
    minus micro with standard errors; spectra in bands), plus ``"arrays"``: the mean traces
    and spectra of both levels as NumPy arrays. ``out`` names a directory for the command
    line's files (compare.json, the arrays as .npy, overlay plots); nothing is written
    without it."""
    kind, text, label = _spec(spec)
    js, arrays = _neuropop.compare(
        kind, text, label, seeds, backend, None if out is None else os.fspath(out)
    )
    out = json.loads(js)
    out["arrays"] = arrays
    return out


def validate(spec: SpecLike, *, tol: Optional[float] = None) -> dict:
    """Runs the spec on the GPU and on the CPU path with the same seed and compares every
    recording, as ``neuropop validate``: per array the largest difference, how many values
    differ and the first row that differs; ``"ok"`` is whether all are within ``tol``
    (absolute, default 1e-5; counts must match exactly)."""
    kind, text, label = _spec(spec)
    return json.loads(_neuropop.validate(kind, text, label, 1e-5 if tol is None else tol))


def fixed_points(
    *,
    w: float = 0.0,
    I_ext: float = 0.0,
    a: float = 1.2,
    theta: float = 2.8,
    tau: float = 1.0,
    transfer: str = "sigmoid",
) -> list:
    """Every fixed point r* of a rate population ``tau dr/dt = -r + F(w r + I_ext)`` with its
    eigenvalue (1/ms) and stability, as ``neuropop fixed-points``: a list of dicts with keys
    ``r``, ``eigenvalue``, ``stable``. ``transfer``: sigmoid, relu, threshold_linear, tanh."""
    return json.loads(_neuropop.fixed_points(w, I_ext, a, theta, tau, transfer))


def moments(
    mu: Any,
    sigma: Any,
    *,
    L: float = 0.05,
    V_th: float = 20.0,
    V_res: float = 0.0,
    T_ref: float = 5.0,
    backend: str = "auto",
) -> dict:
    """The moment activation of the LIF neuron on the grid of input means ``mu`` (mV/ms) and
    stds ``sigma`` (mV/sqrt(ms), >= 0), as ``neuropop moments``: a dict with ``mu``,
    ``sigma`` and 2-D arrays ``[len(sigma), len(mu)]`` of ``rate`` (spikes/ms), ``std``
    (spikes/sqrt(ms)), ``fano`` and ``chi``."""
    mu_l = [float(x) for x in np.atleast_1d(np.asarray(mu, dtype=float))]
    sigma_l = [float(x) for x in np.atleast_1d(np.asarray(sigma, dtype=float))]
    return _neuropop.moments(mu_l, sigma_l, L, V_th, V_res, T_ref, backend)


def devices() -> list:
    """The GPU adapters wgpu sees, best first (dicts with name, backend, device_type, driver,
    driver_info). Where ``backend="auto"`` runs each model and the CPU path's threads and
    SIMD level are in ``devices_info()``."""
    return json.loads(_neuropop.devices())["adapters"]


def devices_info() -> dict:
    """``devices()`` with where ``backend="auto"`` runs each model (``"auto"``) and the CPU
    path's threads and SIMD level (``"cpu"``), as ``neuropop devices --json``."""
    return json.loads(_neuropop.devices())
