# Types of the native module (python/src/lib.rs); the documented API is neuropop/__init__.py.
from typing import Any, Callable, Optional

import numpy as np

__version__: str

class SpecError(ValueError): ...
class BackendError(RuntimeError): ...

def run(
    kind: str,
    text: str,
    label: str,
    backend: Optional[str] = None,
    seed: Optional[int] = None,
    t_end: Optional[float] = None,
    level_: Optional[str] = None,
    out: Optional[str] = None,
    progress: Optional[Callable[[int, int], Any]] = None,
) -> tuple[dict[str, np.ndarray], str, list[str]]: ...
def compare(
    kind: str,
    text: str,
    label: str,
    seeds: int,
    backend: Optional[str] = None,
    out: Optional[str] = None,
) -> tuple[str, dict[str, np.ndarray]]: ...
def validate(kind: str, text: str, label: str, tol: float) -> str: ...
def fixed_points(w: float, i_ext: float, a: float, theta: float, tau: float, transfer: str) -> str: ...
def moments(
    mu: list[float],
    sigma: list[float],
    l: float,
    v_th: float,
    v_res: float,
    t_ref: float,
    backend: Optional[str] = None,
) -> dict[str, np.ndarray]: ...
def devices() -> str: ...
