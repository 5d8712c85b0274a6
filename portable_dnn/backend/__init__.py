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
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "Backend",
    "BACKEND_NAMES",
    "available_backends",
    "get_backend",
    "use_backend",
    "prefer_gpu",
    "require_gpu",
    "to_numpy",
    "namespace_of",
    "resolve_dtype",
    "host_random_state",
    "backend_of",
    "training_ops",
    "prepare_features",
    "prepare_examples",
    "step_runner",
    "matmul_precision",
    "synchronize",
    "quiet_float_errors",
    "supports_gram_step",
    "batch_steps",
    "cut_graph",
]

ENV_VAR = "PORTABLE_DNN_BACKEND"


@dataclass(frozen=True)
class _Spec:
    module: str  # what must import for the backend to exist
    namespace: str  # the Array API namespace to use
    needs_cuda: bool = False
    extra: str = ""  # the pip extra that installs it


_SPECS: dict[str, _Spec] = {
    "numpy": _Spec("numpy", "array_api_compat.numpy"),
    "cupy": _Spec("cupy", "array_api_compat.cupy", needs_cuda=True, extra="cupy"),
    "torch": _Spec("torch", "array_api_compat.torch", extra="torch"),
    "array_api_strict": _Spec("array_api_strict", "array_api_strict", extra="strict"),
    "jax": _Spec("jax", "jax.numpy", extra="jax"),
    "dask": _Spec("dask", "array_api_compat.dask.array", extra="dask"),
}

#: Every name :func:`get_backend` understands.
BACKEND_NAMES: tuple[str, ...] = ("auto", *_SPECS)

_selected: contextvars.ContextVar[str | None] = contextvars.ContextVar("portable_dnn_backend", default=None)
_global_default: str | None = None


@dataclass(frozen=True)
class Backend:
    """An array library and a device to compute on.

    ``xp`` is the Array API namespace; ``device`` is what ``xp.asarray(...,
    device=...)`` takes. Use :func:`get_backend` rather than building one.

    >>> import numpy as np
    >>> be = get_backend("numpy")
    >>> be.asarray(np.ones((2, 1)), dtype="float32").dtype
    dtype('float32')
    """

    name: str
    xp: Any
    device: Any

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        """Move ``x`` (host data or an array of this backend) here, as ``dtype``."""
        target = resolve_dtype(self.xp, dtype) if dtype is not None else None
        if self.name != "numpy" and isinstance(x, np.ndarray) and target is not None:
            # Cast on the host first so every backend sees the same rounded values.
            x = x.astype(_numpy_dtype(target), copy=False)
        return self.xp.asarray(x, dtype=target, device=self.device)

    def zeros(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        return self.xp.zeros(shape, dtype=resolve_dtype(self.xp, dtype), device=self.device)

    @property
    def is_gpu(self) -> bool:
        return _device_is_gpu(self.name, self.device)

    def __repr__(self) -> str:
        return f"Backend(name={self.name!r}, device={self.device!r})"


def _numpy_dtype(dtype: Any) -> Any:
    return np.dtype(_dtype_name(dtype))


_DTYPE_NAME = re.compile(r"\b(float16|float32|float64|u?int8|u?int16|u?int32|u?int64|bool)\b")


def _dtype_name(dtype: Any) -> str:
    # str() of a dtype: 'float64', 'torch.float64', "<class 'numpy.float64'>", ...
    match = _DTYPE_NAME.search(str(dtype))
    if match is None:
        raise ValueError(f"unsupported dtype {dtype!r}")
    return match.group(1)


def resolve_dtype(xp: Any, dtype: Any) -> Any:
    """The floating dtype of namespace ``xp`` that ``dtype`` names.

    ``dtype`` may be ``None`` (float64), a string such as ``"float32"``, or a
    dtype object of any library.

    >>> import numpy as np, array_api_compat.numpy as xp
    >>> np.dtype(resolve_dtype(xp, "float32"))
    dtype('float32')
    """
    if dtype is None:
        return xp.float64
    name = dtype if isinstance(dtype, str) else _dtype_name_or_none(dtype)
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return getattr(xp, name)


def _dtype_name_or_none(dtype: Any) -> str | None:
    try:
        return _dtype_name(dtype)
    except ValueError:
        return None


def _device_is_gpu(name: str, device: Any) -> bool:
    if name == "cupy":
        return True
    return "cuda" in str(device).lower() or "gpu" in str(device).lower()


# ---------------------------------------------------------------- discovery


def _unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` cannot run here, or None when it can."""
    spec = _SPECS[name]
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
    return [name for name in _SPECS if _unavailable_reason(name) is None]


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
    if key not in _SPECS:
        raise ValueError(f"unknown backend {key!r}; valid names: {', '.join(BACKEND_NAMES)}")
    reason = _unavailable_reason(key)
    if reason is not None:
        raise ValueError(
            f"backend {key!r} cannot run here: {reason}; backends that can: {', '.join(available_backends())}"
        )
    return _make(key, None if device is None else str(device))


@functools.cache
def _make(name: str, device: str | None) -> Backend:
    xp = importlib.import_module(_SPECS[name].namespace)
    if name == "numpy":
        dev: Any = "cpu"
    elif name == "torch":
        dev = importlib.import_module("torch").device(device or "cpu")
    elif name == "cupy":
        cupy = importlib.import_module("cupy")
        # Accepts "cuda:1", "1" or str(cupy.cuda.Device(1)) == "<CUDA Device 1>".
        found = re.search(r"\d+", device or "")
        dev = cupy.cuda.Device(int(found.group()) if found else 0)
    else:
        dev = array_api_compat.device(xp.asarray(0.0))
    return Backend(name=name, xp=xp, device=dev)


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
    if array_api_compat.is_cupy_array(x):
        return x.get()  # type: ignore[no-any-return]
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()  # type: ignore[no-any-return]
    if array_api_compat.is_dask_array(x):
        return np.asarray(x.compute())
    if array_api_compat.is_array_api_obj(x):
        return np.from_dlpack(x)
    return np.asarray(x)


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


# ------------------------------------------------- training-loop execution
# The training loop asks here how to run its step on a backend: which
# implementation of the step's arithmetic, how to lay out the data, whether to
# replay a captured CUDA graph, and the matrix-product precision.

PRECISIONS = ("strict", "tf32")


def backend_of(x: Any) -> Backend:
    """The backend an array belongs to (NumPy for host data and Python lists).

    >>> import numpy as np
    >>> backend_of(np.ones(2)).name
    'numpy'
    """
    if isinstance(x, np.ndarray) or not array_api_compat.is_array_api_obj(x):
        return get_backend("numpy")
    dev = array_api_compat.device(x)
    for name, test in (
        ("cupy", array_api_compat.is_cupy_array),
        ("torch", array_api_compat.is_torch_array),
        ("jax", array_api_compat.is_jax_array),
        ("dask", array_api_compat.is_dask_array),
    ):
        if test(x):
            return get_backend(name, device=dev if name in ("torch", "cupy") else None)
    if array_api_compat.is_array_api_strict_namespace(array_api_compat.array_namespace(x)):
        return get_backend("array_api_strict")
    raise TypeError(f"unsupported array type {type(x).__module__}.{type(x).__name__}")


def training_ops(backend: Backend, dtype: Any) -> Any:
    """The step arithmetic for ``backend``: fused kernels on CuPy, Array API calls elsewhere."""
    from ..train_step import ArrayAPIOps

    if backend.name == "cupy":
        from ._cupy import CupyOps

        return CupyOps(backend.xp, dtype, backend.device)
    if backend.name == "numpy":
        from ._numpy import NumpyOps

        return NumpyOps(backend.xp, dtype, backend.device)
    # JAX and Dask arrays are immutable: their step rebinds instead of updating.
    inplace = backend.name not in ("jax", "dask")
    return ArrayAPIOps(backend.xp, dtype, backend.device, inplace=inplace)


def prepare_features(backend: Backend, X: Any) -> Any:
    """X laid out for fast products: on NumPy, examples along the slow axis (Fortran order).

    ``W @ X`` and ``dZ @ X.T`` both read X with its examples contiguous per
    feature row in this layout, which OpenBLAS multiplies markedly faster.
    """
    if backend.name == "numpy":
        return np.asfortranarray(X)
    return X


def prepare_examples(backend: Backend, X: Any, Y: Any) -> tuple[Any, Any]:
    """X ``(features, m)`` and Y ``(k, m)`` laid out once for a training loop that reads them every step.

    On Dask: split along the examples only (the caller's column chunks kept;
    on a cluster, one chunk per worker thread when large) and persisted, so each step's tasks
    refer to chunks already on the workers instead of carrying host data in
    their graph. Elsewhere unchanged.

    >>> import numpy as np
    >>> X, Y = prepare_examples(get_backend("numpy"), np.ones((2, 3)), np.zeros((1, 3)))
    >>> X.shape, Y.shape
    ((2, 3), (1, 3))
    """
    if backend.name == "dask":
        from ._dask import split_examples

        return split_examples(X, Y)
    return X, Y


def step_runner(backend: Backend, step: Any, cuda_graph: bool | str = "auto") -> Any:
    """``step`` itself, or a CUDA-graph replay of it where the backend can capture one."""
    capturable = backend.name == "torch" and backend.is_gpu
    if cuda_graph is True and not capturable:
        raise ValueError(
            f"cuda_graph=True needs the torch backend on a CUDA device, not {backend!r} "
            "(CuPy 14 cannot capture cuBLAS calls)"
        )
    if cuda_graph not in (True, False, "auto"):
        raise ValueError(f"cuda_graph must be True, False or 'auto', got {cuda_graph!r}")
    if backend.name == "dask":
        # Persists the parameters after every step, so the task graph does not grow.
        from ._dask import DaskRunner

        return DaskRunner(step)
    if capturable and cuda_graph:
        from ._torch import GraphRunner

        return GraphRunner(step)
    return step


def supports_gram_step(backend: Backend) -> bool:
    """Whether the training loop may carry the first layer through X^T X here.

    Not on Dask, whose runner cuts the graph of the parameters only.
    """
    return backend.name != "dask"


def cut_graph(backend: Backend, *arrays: Any) -> tuple[Any, ...]:
    """``arrays`` with their lazy history cut: on Dask, persisted in one call; elsewhere unchanged.

    A training loop calls it after each update on the parameters and optimizer
    state (and the step's cost) together, so a lazy backend's task graph stays one
    step deep and the shared work of the step is computed once.

    >>> import numpy as np
    >>> a = np.ones(2)
    >>> cut_graph(get_backend("numpy"), a)[0] is a
    True
    """
    if backend.name == "dask":
        from ._dask import persist

        return persist(*arrays)
    return arrays


def batch_steps(backend: Backend, state: list[dict[str, Any]], in_flight: int | None = None) -> Any:
    """A loop's training steps on ``state`` (a list of dicts of arrays, the parameters first).

    ``steps(grads_of, update, batch)`` runs one step on a (mini-)batch:
    ``grads_of(parameters, *batch)`` returns the batch's mean cost (0-d) and
    gradients, ``update(state, cost, grads)`` the new state and the cost to
    record. ``batch`` holds arrays of shape ``(k, m)``, a column per example.
    ``steps.costs()`` returns the costs recorded since the last call as floats
    (one host synchronisation for all of them); ``steps.state`` is the current
    state as arrays of the backend.

    On Dask the state stays on the workers as one value between steps; each
    column chunk of the batch runs ``grads_of`` as one task on the chunk's own
    arrays (NumPy, or CuPy on GPU workers), their results are summed weighted by
    the chunk's share of the columns, and the update is one more task, so the
    task graph is a few tasks per step and does not grow with the steps.
    On a cluster, where a step is queued and not waited for, ``in_flight=k``
    waits after each step until the one ``k - 1`` steps before it is done, so
    the workers read at most ``k`` batches ahead of the finished state.

    >>> import numpy as np
    >>> grads_of = lambda p, X: (np.mean(X), {"dW1": p["W1"]})
    >>> update = lambda state, cost, g: ([{"W1": state[0]["W1"] - g["dW1"] / 2}], cost)
    >>> steps = batch_steps(get_backend("numpy"), [{"W1": np.ones(1)}])
    >>> steps(grads_of, update, (np.ones((1, 4)),)); steps(grads_of, update, (np.zeros((1, 2)),))
    >>> steps.state, steps.costs()
    ([{'W1': array([0.25])}], [1.0, 0.0])
    """
    if backend.name == "dask":
        from ._dask import DaskSteps

        return DaskSteps(state, in_flight)
    return _Steps(state)


class _Steps:
    """:func:`batch_steps` on an eager backend: the step's results are already arrays of the backend."""

    def __init__(self, state: list[dict[str, Any]]) -> None:
        self.state = state
        self._costs: list[Any] = []

    def __call__(self, grads_of: Callable, update: Callable, batch: tuple[Any, ...]) -> None:
        self.state, cost = update(self.state, *grads_of(self.state[0], *batch))
        self._costs.append(cost)

    def costs(self) -> list[float]:
        out = [float(c) for c in self._costs]
        self._costs = []
        return out


def matmul_precision(backend: Backend, precision: str, dtype: Any) -> Any:
    """A context manager in which float32 products use ``precision`` (``"strict"`` or ``"tf32"``)."""
    if precision not in PRECISIONS:
        raise ValueError(f"matmul_precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "strict":
        return contextlib.nullcontext()
    if backend.name == "cupy":
        from ._cupy import matmul_precision as cupy_precision

        return cupy_precision(precision, dtype)
    if backend.name == "torch" and backend.is_gpu:
        from ._torch import matmul_precision as torch_precision

        return torch_precision(precision, dtype)
    raise ValueError(f"matmul_precision='tf32' needs a CUDA GPU (cupy, or torch on cuda), not {backend!r}")


def quiet_float_errors(backend: Backend) -> Any:
    """Silence NumPy's overflow/invalid warnings inside the training loop, which
    checks the cost itself and raises :class:`~portable_dnn.TrainingDiverged`."""
    if backend.name in ("numpy", "array_api_strict"):
        return np.errstate(over="ignore", invalid="ignore", divide="ignore")
    if backend.name == "dask":
        # Dask runs NumPy on its scheduler's threads, which do not inherit np.errstate:
        # silence the warnings themselves (the filters are process-wide) as well.
        return _quiet_everywhere()
    return contextlib.nullcontext()


@contextlib.contextmanager
def _quiet_everywhere() -> Iterator[None]:
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", r"(overflow|invalid value|divide by zero) encountered", RuntimeWarning
        )
        yield


def synchronize(backend: Backend) -> None:
    """Wait until the backend's device has finished its queued work (for timing)."""
    if backend.name == "cupy":
        from ._cupy import synchronize as cupy_sync

        cupy_sync()
    elif backend.name == "torch" and backend.is_gpu:
        from ._torch import synchronize as torch_sync

        torch_sync()
