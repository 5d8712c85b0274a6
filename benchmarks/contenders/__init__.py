"""The contenders: each registers a name and a ``prepare(workload, dtype, device)`` function.

``prepare`` does everything that is not timed (imports, data moved to the device,
initial weights) and returns ``run()``, one timed run of the workload (its
``steps`` iterations or epochs), which answers an :class:`Outcome`. A contender
marked ``library`` trains with portable_dnn through its public API only, so that
``--ref`` can run it against another commit's package.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..workloads import Workload

MODULES = ("portable_dnn", "course_loop", "gemm_floor", "torch_eager", "sklearn_mlp", "jax_jit",
           "dask_out_of_core", "dask_faults", "inference")  # fmt: skip


@dataclass
class Outcome:
    """What one run trained (or, for inference, predicted with): ``(W, b)`` per layer, W of shape
    (n[l], n[l-1]), in any array library (None where the run ends in an error by design), and any
    figures of its own."""

    params: list[tuple[Any, Any]] | None
    extra: dict[str, Any] = field(default_factory=dict)
    trained: bool = True  # False: params are only shaped like the network's (the GEMM floor)
    loss: float | None = None  # the contender's own figure, where the harness cannot compute it
    predictions: Any = None  # inference: the network's outputs, one row per example


Prepare = Callable[[Workload, str, str], Callable[[], Outcome]]


@dataclass(frozen=True)
class Contender:
    name: str
    prepare: Prepare
    kinds: tuple[str, ...]  # the workload kinds it runs
    needs: tuple[str, ...] = ()  # modules it imports
    library: bool = False  # trains with portable_dnn: timed against --ref too
    sync: str = "numpy"  # the backend whose queue is waited on (the GPU's, on --device gpu)
    devices: tuple[str, ...] = ("cpu", "gpu")
    gpu_needs: tuple[str, ...] = ()  # modules it imports on the GPU only

    def missing(self, device: str) -> str | None:
        """Why this contender cannot run here, or None."""
        if device not in self.devices:
            return f"no {device} version"
        needs = self.needs + (self.gpu_needs if device == "gpu" else ())
        absent = [m for m in needs if importlib.util.find_spec(m) is None]
        return f"{', '.join(absent)} not installed" if absent else None


REGISTRY: dict[str, Contender] = {}


def register(name: str, kinds: tuple[str, ...], **options: Any) -> Callable[[Prepare], Prepare]:
    def add(prepare: Prepare) -> Prepare:
        REGISTRY[name] = Contender(name, prepare, kinds, **options)
        return prepare

    return add


def load() -> dict[str, Contender]:
    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")
    return REGISTRY


def array_module(device: str) -> Any:
    """NumPy on the CPU, CuPy on the GPU: the library the hand-written NumPy contenders use."""
    return importlib.import_module("cupy" if device == "gpu" else "numpy")


def library_backend(name: str, device: str) -> Any:
    """portable_dnn's backend object for ``name`` ("numpy" means CuPy on the GPU) on ``device``."""
    from portable_dnn import get_backend

    if device == "gpu":
        return get_backend("cupy") if name == "numpy" else get_backend(name, device="cuda")
    return get_backend(name)
