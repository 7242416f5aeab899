"""The Python module against the command line and the published numbers.

Run after `pip install .` (tests/python.rs does that in a private venv as part of
`cargo test --release`). Comparisons with the command line use the `neuropop` binary named by
NEUROPOP_BIN, else target/release/neuropop of this checkout.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import neuropop

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# A small bistable rate population with OU noise (the shape of examples/rate_ou.toml).
RATE_TOML = """
[simulation]
dt = 0.1
t_end = 100.0
seed = 7
replicas = 64

[[population]]
name = "E"
model = "rate"
params = { w = 5.0, I_ext = 0.56, sigma_ou = 0.7, tau_ou = 1.0 }

[record]
traces = [{ population = "E", variable = "r", replicas = 2 }]
summaries = ["mean", "above:0.5", "crossings:0.2:0.7"]
"""

RATE_DICT = {
    "simulation": {"dt": 0.1, "t_end": 100.0, "seed": 7, "replicas": 64},
    "population": [
        {
            "name": "E",
            "model": "rate",
            "params": {"w": 5.0, "I_ext": 0.56, "sigma_ou": 0.7, "tau_ou": 1.0},
        }
    ],
    "record": {
        "traces": [{"population": "E", "variable": "r", "replicas": 2}],
        "summaries": ["mean", "above:0.5", "crossings:0.2:0.7"],
    },
}

# A small LIF network with spikes recorded (exact iaf_psc_delta, the CPU path's engine).
NET_TOML = """
[simulation]
dt = 0.1
t_end = 200.0
seed = 3

[[population]]
name = "E"
model = "iaf_psc_delta"
size = 400

[[projection]]
source = "E"
target = "E"
rule = "fixed_indegree"
indegree = 40
weight = 0.1
delay = 1.5

[[stimulus]]
kind = "poisson"
target = "E"
rate = 20000.0
weight = 0.2

[record]
activity_bin = 1.0
windows = [[50.0, 200.0]]
spikes = [{ population = "E", first = 50 }]
"""


def cli() -> str:
    exe = os.environ.get("NEUROPOP_BIN") or str(ROOT / "target" / "release" / "neuropop")
    if not os.path.exists(exe):
        if os.environ.get("NEUROPOP_BIN"):
            pytest.fail(f"NEUROPOP_BIN={exe} does not exist")
        pytest.skip("no neuropop binary (cargo build --release, or set NEUROPOP_BIN)")
    return exe


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([cli(), *args], capture_output=True, text=True, check=True)


def need_gpu() -> None:
    """Skips a GPU test where no adapter exists, unless NEUROPOP_REQUIRE_GPU=1 (CI): then fails."""
    if not neuropop.devices():
        if os.environ.get("NEUROPOP_REQUIRE_GPU") == "1":
            pytest.fail("NEUROPOP_REQUIRE_GPU=1 and no GPU adapter")
        pytest.skip("no GPU adapter")


def load_dir(d: pathlib.Path) -> dict[str, np.ndarray]:
    return {p.stem: np.load(p) for p in sorted(d.glob("*.npy"))}


def assert_same_arrays(a, b) -> None:
    assert sorted(a.keys()) == sorted(b.keys())
    for k in a.keys():
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.dtype == y.dtype, k
        assert x.shape == y.shape, k
        assert x.tobytes() == y.tobytes(), f"{k} differs"


def test_version_is_the_crate_version():
    cargo = (ROOT / "Cargo.toml").read_text()
    line = next(l for l in cargo.splitlines() if l.startswith("version"))
    assert neuropop.__version__ == line.split('"')[1]


def test_dict_toml_text_and_path_give_the_same_bits(tmp_path):
    path = tmp_path / "rate.toml"
    path.write_text(RATE_TOML)
    a = neuropop.run(RATE_DICT, backend="cpu", progress=False)
    b = neuropop.run(RATE_TOML, backend="cpu", progress=False)
    c = neuropop.run(path, backend="cpu", progress=False)
    d = neuropop.run(str(path), backend="cpu", progress=False)
    assert_same_arrays(a, b)
    assert_same_arrays(a, c)
    assert_same_arrays(a, d)
    assert a.meta["seed"] == 7 and a.meta["backend"] == "cpu"
    assert a.meta["spec_file"] == "<dict>" and c.meta["spec_file"] == str(path)


def test_result_dtypes_shapes_and_mapping():
    r = neuropop.run(RATE_DICT, backend="cpu", progress=False)
    assert set(r.keys()) == {
        "trace_E_r_t",
        "trace_E_r",
        "summary_E_mean",
        "summary_E_above",
        "summary_E_crossings",
    }
    assert r["trace_E_r"].dtype == np.float32 and r["trace_E_r"].shape == (1001, 2)
    assert r["trace_E_r_t"].dtype == np.float64 and r["trace_E_r_t"][-1] == pytest.approx(100.0)
    assert r["summary_E_crossings"].dtype == np.uint32
    assert r["summary_E_mean"].shape == (1, 64)
    # the values are rates of a bistable population: between the two stable states
    assert 0.0 < float(r["summary_E_mean"].mean()) < 1.0
    # read-only, as the files
    with pytest.raises(ValueError):
        r["trace_E_r"][0, 0] = 1.0
    with pytest.raises(TypeError):
        r["x"] = np.zeros(1)  # type: ignore[index]
    with pytest.raises(KeyError, match="no such recording"):
        r["activity_E"]
    text = repr(r)
    assert "trace_E_r" in text and "(1001, 2)" in text and "uint32" in text
    # meta lists every array as meta.json does
    files = [o["file"] for o in r.meta["outputs"]]
    assert files == [k + ".npy" for k in r.keys()]
    assert r.meta["replicas"] == 64 and r.meta["steps"] == 1000


@pytest.mark.parametrize("level", [None, "micro"])
def test_arrays_equal_the_cli_files(tmp_path, level):
    spec = EXAMPLES / "brunel_gif.toml" if level else tmp_path / "rate.toml"
    if not level:
        spec.write_text(RATE_TOML)
    args = ["run", str(spec), "--backend", "cpu", "--seed", "11", "--t-end", "600"]
    if level:
        args += ["--level", level]
    run_cli(*args, "--out", str(tmp_path / "cli"), "--no-plots")
    files = load_dir(tmp_path / "cli")
    r = neuropop.run(spec, backend="cpu", seed=11, t_end=600.0, level=level, progress=False)
    assert_same_arrays(files, r)
    meta = json.loads((tmp_path / "cli" / "meta.json").read_text())
    assert r.meta["spec"] == meta["spec"]
    assert r.meta["outputs"] == meta["outputs"]


def test_spikes_and_activity_of_a_network():
    r = neuropop.run(NET_TOML, backend="cpu", progress=False)
    t, s = r["spikes_E_times"], r["spikes_E_senders"]
    assert t.shape == s.shape and t.ndim == 1 and len(t) > 100
    assert np.all(np.diff(t) >= 0) and t.min() > 0 and t.max() <= 200.0
    assert s.min() >= 0 and s.max() < 50
    assert r["activity_E"].shape == (200, 1)
    # the activity counts every neuron's spikes; the first 50 are an eighth of them
    n_all = r["activity_E"].sum() * 400 * 1e-3
    assert abs(len(t) / n_all - 50 / 400) < 0.05


def test_out_writes_the_cli_files(tmp_path):
    spec = tmp_path / "rate.toml"
    spec.write_text(RATE_TOML)
    run_cli("run", str(spec), "--backend", "cpu", "--out", str(tmp_path / "cli"))
    r = neuropop.run(spec, backend="cpu", out=tmp_path / "py", progress=False)
    cli_files = sorted(p.name for p in (tmp_path / "cli").iterdir())
    py_files = sorted(p.name for p in (tmp_path / "py").iterdir())
    assert py_files == cli_files
    assert any(f.endswith(".png") for f in py_files)
    assert_same_arrays(load_dir(tmp_path / "cli"), load_dir(tmp_path / "py"))
    assert_same_arrays(load_dir(tmp_path / "py"), r)
    meta = json.loads((tmp_path / "py" / "meta.json").read_text())
    assert meta["outputs"] == r.meta["outputs"]


def test_gpu_matches_cpu_through_the_module():
    need_gpu()
    a = neuropop.run(RATE_DICT, backend="gpu", progress=False)
    b = neuropop.run(RATE_DICT, backend="cpu", progress=False)
    assert a.meta["backend"] == "gpu" and a.meta["adapter"]
    for k in b:
        np.testing.assert_allclose(a[k], b[k], atol=1e-5, rtol=0, err_msg=k)


def test_spec_errors_name_the_key_and_range(tmp_path):
    bad = json.loads(json.dumps(RATE_DICT))
    bad["population"][0]["params"]["tau"] = -1.0
    with pytest.raises(neuropop.SpecError, match=r"tau.*-1") as e:
        neuropop.run(bad, progress=False)
    assert isinstance(e.value, ValueError)
    # the command line says the same
    spec = tmp_path / "bad.toml"
    spec.write_text(RATE_TOML.replace("tau_ou = 1.0", "tau_ou = 1.0, tau = -1.0"))
    p = subprocess.run([cli(), "run", str(spec)], capture_output=True, text=True)
    assert p.returncode == 2 and str(e.value).split(": ", 1)[1] in p.stderr

    with pytest.raises(neuropop.SpecError, match="unknown field `replica`"):
        neuropop.run({**RATE_DICT, "simulation": {"replica": 3}}, progress=False)
    with pytest.raises(neuropop.SpecError, match="no None"):
        neuropop.run({**RATE_DICT, "simulation": {"seed": None}}, progress=False)
    with pytest.raises(neuropop.SpecError, match="level"):
        neuropop.run(RATE_DICT, level="mesa", progress=False)
    with pytest.raises(neuropop.SpecError, match="backend"):
        neuropop.run(RATE_DICT, backend="tpu", progress=False)
    with pytest.raises(neuropop.SpecError, match="t_end"):
        neuropop.run(RATE_DICT, t_end=-5.0, progress=False)
    with pytest.raises(FileNotFoundError, match="no_such_file.toml"):
        neuropop.run("no_such_file.toml", progress=False)
    with pytest.raises(TypeError):
        neuropop.run(42, progress=False)  # type: ignore[arg-type]
    with pytest.raises(neuropop.SpecError, match="transfer"):
        neuropop.fixed_points(w=5.0, transfer="softplus")
    with pytest.raises(neuropop.SpecError, match="tau"):
        neuropop.fixed_points(w=5.0, tau=0.0)


def test_a_missing_gpu_raises_backend_error():
    # A fresh interpreter, since the process keeps the adapter it opened first.
    code = (
        "import neuropop\n"
        "try:\n"
        "    neuropop.run(%r, backend='gpu', progress=False)\n"
        "except neuropop.BackendError as e:\n"
        "    assert isinstance(e, RuntimeError)\n"
        "    print('BackendError:', e)\n" % RATE_TOML
    )
    env = {**os.environ, "NEUROPOP_ADAPTER": "no-such-adapter"}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert "BackendError:" in p.stdout and "no-such-adapter" in p.stdout


def test_fixed_points_of_the_tutorial():
    fps = neuropop.fixed_points(w=5.0, I_ext=0.5)
    assert [round(f["r"], 4) for f in fps] == [0.0415, 0.4471, 0.8997]
    assert [f["stable"] for f in fps] == [True, False, True]
    assert fps[1]["eigenvalue"] > 0 > fps[0]["eigenvalue"]
    # one fixed point without recurrence
    assert len(neuropop.fixed_points(w=0.0, I_ext=0.5)) == 1


def test_moments_grid():
    m = neuropop.moments(mu=[0.5, 1.0, 1.5], sigma=[0.5, 1.0], backend="cpu")
    assert m["rate"].shape == (2, 3) and m["rate"].dtype == np.float64
    assert set(m) == {"mu", "sigma", "rate", "std", "fano", "chi"}
    # more drive, more output; the mean-driven (mu = 1.5 > V_th L) rate of the deterministic
    # neuron is 1 / (T_ref + tau ln(mu / (mu - V_th L))) with tau = 1/L = 20 ms
    assert np.all(np.diff(m["rate"], axis=1) > 0)
    det = 1.0 / (5.0 + 20.0 * np.log(1.5 / (1.5 - 1.0)))
    assert m["rate"][0, 2] == pytest.approx(det, rel=0.1)
    # a scalar works as a grid of one
    assert neuropop.moments(mu=1.0, sigma=1.0, backend="cpu")["rate"].shape == (1, 1)


def test_compare_of_the_gif_network_at_two_seeds(tmp_path):
    spec = EXAMPLES / "brunel_gif.toml"
    c = neuropop.compare(spec, seeds=2, backend="cpu")
    out = tmp_path / "cmp"
    js = json.loads(
        run_cli("compare", str(spec), "--seeds", "2", "--backend", "cpu", "--json", "--out", str(out)).stdout
    )
    arrays = c.pop("arrays")
    for d in (c, js):  # how long each level took, and where the CLI wrote
        for k in ("meso_s", "micro_s", "out"):
            d.pop(k, None)
    assert c == js
    for name, a in arrays.items():
        np.testing.assert_array_equal(a, np.load(out / f"{name}.npy"), err_msg=name)
    assert {"trace_E", "trace_I", "spectrum_E", "spectrum_I"} <= set(arrays)
    assert arrays["trace_E"].ndim == 2
    assert c["seeds"] == 2


def test_validate_agrees():
    need_gpu()
    v = neuropop.validate(RATE_DICT)
    assert v["ok"] is True
    assert {a["name"] for a in v["arrays"]} >= {"trace_E_r", "summary_E_mean"}


def test_devices():
    d = neuropop.devices()
    assert isinstance(d, list)
    for a in d:
        assert {"name", "backend", "device_type"} <= set(a)
    info = neuropop.devices_info()
    assert info["cpu"]["threads"] >= 1 and info["cpu"]["simd"]
    assert {a["workload"] for a in info["auto"]} >= {"rate", "lif", "gif_pop_psc_exp", "moments"}
    assert all(a["backend"] in ("gpu", "cpu") and a["why"] for a in info["auto"])
    if os.environ.get("NEUROPOP_REQUIRE_GPU") == "1":
        assert d, "NEUROPOP_REQUIRE_GPU=1 and no adapter"


def test_progress_reaches_the_end_and_a_raising_callback_stops_the_run():
    from neuropop import _neuropop

    calls = []
    _neuropop.run("toml", RATE_TOML, "<t>", "cpu", None, None, None, None,
                  lambda d, t: calls.append((d, t)))
    assert calls and calls[-1][0] == calls[-1][1] > 0
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))

    def stop(done, total):
        raise ZeroDivisionError("stop here")

    with pytest.raises(ZeroDivisionError, match="stop here"):
        _neuropop.run("toml", RATE_TOML, "<t>", "cpu", None, None, None, None, stop)


def test_tqdm_bar(capsys):
    pytest.importorskip("tqdm")
    neuropop.run(RATE_DICT, backend="cpu", progress=True)
    assert "<dict>" in capsys.readouterr().err
    neuropop.run(RATE_DICT, backend="cpu", progress=False)
    assert capsys.readouterr().err == ""


def test_ctrl_c_stops_a_long_run_and_leaves_no_output(tmp_path):
    long = {
        "simulation": {"dt": 0.1, "t_end": 1.0e6, "seed": 1, "replicas": 4096},
        "population": [{"name": "E", "model": "rate", "params": {"w": 5.0, "sigma_ou": 0.7}}],
        "record": {"summaries": ["mean"]},
    }
    out = tmp_path / "long"
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        neuropop.run(long, backend="cpu", out=out, progress=False)
    elapsed = time.monotonic() - t0
    timer.join()
    assert elapsed < 10.0, f"took {elapsed:.1f} s to stop"
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())
    # the module still works afterwards
    assert len(neuropop.run(RATE_DICT, backend="cpu", progress=False)) == 5


def test_to_xarray():
    xr = pytest.importorskip("xarray")
    r = neuropop.run(RATE_DICT, backend="cpu", progress=False)
    ds = r.to_xarray()
    assert isinstance(ds, xr.Dataset)
    assert ds["trace_E_r"].dims == ("trace_E_r_t", "replica")
    assert ds["summary_E_mean"].dims == ("combination", "copy")


def test_to_xarray_without_xarray_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "xarray", None)
    r = neuropop.run(RATE_DICT, backend="cpu", progress=False)
    with pytest.raises(ImportError, match="pip install xarray"):
        r.to_xarray()


def test_help_and_stubs():
    for f in (neuropop.run, neuropop.compare, neuropop.validate, neuropop.fixed_points,
              neuropop.moments, neuropop.devices, neuropop.Result):
        assert f.__doc__ and len(f.__doc__) > 80, f
    pkg = pathlib.Path(neuropop.__file__).parent
    assert (pkg / "py.typed").exists()
    assert (pkg / "__init__.pyi").exists() or (pkg / "_neuropop.pyi").exists()
