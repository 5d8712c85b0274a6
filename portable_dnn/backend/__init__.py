"""The backend selector: the one place that knows which array libraries exist.

Every other module of portable_dnn works on an Array API namespace ``xp`` it is
handed or infers from its arguments. This package is the only one that imports
numpy, cupy, torch, jax or dask by name: it picks a namespace and a device, moves
host (NumPy) arrays there and brings them back.

>>> from portable_dnn import get_backend
>>> be = get_backend("numpy")
>>> be.name, be.device
('numpy', 'cpu')
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import importlib.util
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from .base import Backend, ClusterError, index_dtype, resolve_dtype
from .ops import Ops

__all__ = [
    "Backend",
    "ClusterError",
    "BACKEND_NAMES",
    "Ops",
    "available_backends",
    "get_backend",
    "register_backend",
    "unregister_backend",
    "use_backend",
    "prefer_gpu",
    "require_gpu",
    "to_numpy",
    "namespace_of",
    "resolve_dtype",
    "index_dtype",
    "host_random_state",
    "backend_of",
]

ENV_VAR = "PORTABLE_DNN_BACKEND"


@dataclass(frozen=True)
class _Entry:
    """A registered backend: where its class lives and what it needs, known without importing it."""

    cls: str  # "module:Class", imported when the backend is first used
    module: str  # what must import for the backend to exist
    is_array: Callable[[Any], bool]  # whether an array belongs to it (imports nothing)
    extra: str = ""  # the pip extra that installs it
    needs_cuda: bool = False


def _is_strict_array(x: Any) -> bool:
    return type(x).__module__.startswith("array_api_strict")


_REGISTRY: dict[str, _Entry] = {
    "numpy": _Entry("portable_dnn.backend._numpy:NumpyBackend", "numpy", array_api_compat.is_numpy_array),
    "cupy": _Entry(
        "portable_dnn.backend._cupy:CupyBackend", "cupy", array_api_compat.is_cupy_array, "cupy", True
    ),
    "torch": _Entry(
        "portable_dnn.backend._torch:TorchBackend", "torch", array_api_compat.is_torch_array, "torch"
    ),
    "array_api_strict": _Entry(
        "portable_dnn.backend.base:StrictBackend", "array_api_strict", _is_strict_array, "strict"
    ),
    "jax": _Entry("portable_dnn.backend._jax:JaxBackend", "jax", array_api_compat.is_jax_array, "jax"),
    "dask": _Entry("portable_dnn.backend._dask:DaskBackend", "dask", array_api_compat.is_dask_array, "dask"),
}

#: Every name :func:`get_backend` understands.
BACKEND_NAMES: tuple[str, ...] = ("auto", *_REGISTRY)

_selected: contextvars.ContextVar[str | None] = contextvars.ContextVar("portable_dnn_backend", default=None)
_global_default: str | None = None


def register_backend(
    name: str, cls: str, module: str, is_array: Callable[[Any], bool], extra: str = ""
) -> None:
    """Make a :class:`Backend` subclass available as ``get_backend(name)``.

    ``cls`` is ``"package.module:Class"`` (imported on first use), ``module``
    the array library that must be installed, and ``is_array(x)`` tells its
    arrays apart without importing anything.

    >>> register_backend("numpy_again", "portable_dnn.backend._numpy:NumpyBackend", "numpy",
    ...                  lambda x: False)
    >>> get_backend("numpy_again").xp.__name__
    'array_api_compat.numpy'
    >>> unregister_backend("numpy_again")
    """
    global BACKEND_NAMES
    _REGISTRY[name] = _Entry(cls, module, is_array, extra)
    BACKEND_NAMES = ("auto", *_REGISTRY)


def unregister_backend(name: str) -> None:
    """Forget a backend made available by :func:`register_backend`."""
    global BACKEND_NAMES
    if name not in _REGISTRY:
        raise ValueError(f"unregister_backend: no backend {name!r}; registered: {', '.join(_REGISTRY)}")
    del _REGISTRY[name]
    BACKEND_NAMES = ("auto", *_REGISTRY)


# ---------------------------------------------------------------- discovery


def _unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` cannot run here, or None when it can."""
    spec = _REGISTRY[name]
    if importlib.util.find_spec(spec.module) is None:
        hint = f" (pip install 'portable_dnn[{spec.extra}]')" if spec.extra else ""
        return f"{spec.module} is not installed{hint}"
    if spec.needs_cuda and not _cuda_device_present():
        return "no CUDA device is visible to CuPy"
    return None


@functools.cache
def _cuda_device_present() -> bool:
    try:
        cupy = importlib.import_module("cupy")
        return bool(cupy.cuda.runtime.getDeviceCount() > 0)
    except Exception:  # an import or driver error both mean: no usable GPU
        return False


def available_backends() -> list[str]:
    """Names of the backends that can run on this machine.

    >>> "numpy" in available_backends()
    True
    """
    return [name for name in _REGISTRY if _unavailable_reason(name) is None]


def _auto_name() -> str:
    return "cupy" if _unavailable_reason("cupy") is None else "numpy"


def _default_name() -> str:
    chosen = _selected.get() or _global_default or os.environ.get(ENV_VAR) or "auto"
    return chosen.strip().lower().replace("-", "_")


def get_backend(name: str | Backend | None = None, device: Any = None) -> Backend:
    """The backend called ``name``, ready to use.

    ``None`` means the selected default: the innermost :func:`use_backend`, then
    :func:`prefer_gpu`/:func:`require_gpu`, then the ``PORTABLE_DNN_BACKEND``
    environment variable, then ``"auto"`` (CuPy when it imports and sees a CUDA
    device, else NumPy). ``device`` picks a device where the library has several
    (``get_backend("torch", device="cuda")``).

    >>> get_backend("numpy").name
    'numpy'
    >>> get_backend("fortran")
    Traceback (most recent call last):
    ...
    ValueError: unknown backend 'fortran'; valid names: auto, numpy, cupy, torch, array_api_strict, jax, dask
    """
    if isinstance(name, Backend):
        return name if device is None else _make(name.name, str(device))
    if name is not None and not isinstance(name, str):
        raise TypeError(f"backend must be a name or a Backend, got {type(name).__name__}")
    key = _default_name() if name is None else name.strip().lower().replace("-", "_")
    if key == "auto":
        key = _auto_name()
    if key not in _REGISTRY:
        raise ValueError(f"unknown backend {key!r}; valid names: {', '.join(BACKEND_NAMES)}")
    reason = _unavailable_reason(key)
    if reason is not None:
        raise ValueError(
            f"backend {key!r} cannot run here: {reason}; backends that can: {', '.join(available_backends())}"
        )
    return _make(key, None if device is None else str(device))


@functools.cache
def _make(name: str, device: str | None) -> Backend:
    module, _, cls = _REGISTRY[name].cls.partition(":")
    backend: Backend = getattr(importlib.import_module(module), cls).create(device)
    return backend


@contextlib.contextmanager
def use_backend(name: str | Backend) -> Iterator[Backend]:
    """Make ``name`` the default backend inside a ``with`` block.

    >>> with use_backend("numpy") as be:
    ...     get_backend().name
    'numpy'
    """
    backend = get_backend(name)
    token = _selected.set(backend.name)
    try:
        yield backend
    finally:
        _selected.reset(token)


def prefer_gpu() -> bool:
    """Use CuPy by default when a CUDA GPU is usable; return whether one is.

    >>> isinstance(prefer_gpu(), bool)
    True
    """
    global _global_default
    if _unavailable_reason("cupy") is None:
        _global_default = "cupy"
        return True
    return False


def require_gpu() -> Backend:
    """Use CuPy by default, or raise ``ValueError`` saying why it cannot run."""
    global _global_default
    backend = get_backend("cupy")
    _global_default = "cupy"
    return backend


# ----------------------------------------------------------- array helpers


def to_numpy(x: Any) -> np.ndarray:
    """Bring an array of any supported library to the host as a NumPy array.

    >>> to_numpy(get_backend("numpy").asarray([[1.0, 2.0]]))
    array([[1., 2.]])
    """
    if isinstance(x, np.ndarray):
        return x
    if not array_api_compat.is_array_api_obj(x):
        return np.asarray(x)
    return backend_of(x).to_host(x)


def backend_of(x: Any) -> Backend:
    """The backend an array belongs to (NumPy for host data and Python lists).

    >>> import numpy as np
    >>> backend_of(np.ones(2)).name
    'numpy'
    """
    if isinstance(x, np.ndarray) or not array_api_compat.is_array_api_obj(x):
        return get_backend("numpy")
    for name, entry in _REGISTRY.items():
        if entry.is_array(x):
            backend = get_backend(name)
            device = array_api_compat.device(x)
            return backend if str(device) == str(backend.device) else get_backend(name, device=device)
    raise TypeError(f"unsupported array type {type(x).__module__}.{type(x).__name__}")


def namespace_of(*arrays: Any, func: str = "portable_dnn") -> Any:
    """The Array API namespace of ``arrays``, all of which must share one library and device.

    Raises ``TypeError`` naming the libraries (or ``ValueError`` naming the
    devices) when they are mixed.

    >>> import numpy as np
    >>> namespace_of(np.ones(2), np.zeros(2)).__name__
    'array_api_compat.numpy'
    """
    arrays = tuple(a for a in arrays if a is not None)
    try:
        xp = array_api_compat.array_namespace(*arrays)
    except TypeError:
        libs = sorted({_library_name(a) for a in arrays})
        raise TypeError(
            f"{func}: arrays from different libraries were mixed ({', '.join(libs)}); "
            "move them to one backend first (Backend.asarray or to_numpy)"
        ) from None
    devices = {str(array_api_compat.device(a)) for a in arrays if not _is_scalar(a)}
    if len(devices) > 1:
        raise ValueError(
            f"{func}: arrays on different devices were mixed ({', '.join(sorted(devices))}); "
            "move them to one device first"
        )
    return xp


def _is_scalar(a: Any) -> bool:
    return isinstance(a, (int, float, bool, complex))


def _library_name(a: Any) -> str:
    module = type(a).__module__.split(".")[0]
    return f"{module}.{type(a).__name__}"


def host_random_state(seed: int) -> np.random.RandomState:
    """A private legacy NumPy generator: the stream ``numpy.random.seed(seed)`` gives,
    without touching NumPy's global random state."""
    return np.random.RandomState(seed)
