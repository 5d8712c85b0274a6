"""What every backend does, and the two that need nothing more: NumPy's parent and array-api-strict.

A backend is a class registered by name (:mod:`portable_dnn.backend`): an array
library and a device, with methods for everything that differs between
libraries: the step's kernels (:meth:`Backend.ops`), how a training step is run
again and again (:meth:`Backend.runner`), the data's layout, matrix-product
precision, float error handling and synchronisation. A subclass overrides only
what its library does differently.

>>> import numpy as np
>>> from portable_dnn.backend import get_backend
>>> be = get_backend("array_api_strict")
>>> be.name, be.to_host(be.asarray(np.ones(2))).tolist()
('array_api_strict', [1.0, 1.0])
"""

from __future__ import annotations

import contextlib
import importlib
import re
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ClassVar

import array_api_compat
import numpy as np

from .ops import Ops


class Backend:
    """An array library and a device to compute on.

    ``xp`` is the Array API namespace; ``device`` is what ``xp.asarray(...,
    device=...)`` takes. Use :func:`~portable_dnn.backend.get_backend` rather
    than building one.

    >>> import numpy as np
    >>> from portable_dnn.backend import get_backend
    >>> get_backend("numpy").asarray(np.ones((2, 1)), dtype="float32").dtype
    dtype('float32')
    """

    name: ClassVar[str]
    namespace: ClassVar[str]  # the Array API namespace's module
    #: Whether the arrays can be written in place (the step's buffers are updated, not rebuilt).
    mutable: ClassVar[bool] = True
    #: Whether the Gram-matrix form of the full-batch step may run here.
    supports_gram: ClassVar[bool] = True
    #: Whether the arrays are host NumPy arrays (data every backend can take as it is).
    is_host: ClassVar[bool] = False
    #: Whether the runner runs a whole epoch of mini-batches as one program (``fit(replay=True)``).
    replays_epochs: ClassVar[bool] = False

    def __init__(self, xp: Any, device: Any) -> None:
        self.xp, self.device = xp, device

    # ---------------------------------------------------------- identity

    @classmethod
    def create(cls, device: str | None) -> Backend:
        xp = importlib.import_module(cls.namespace)
        return cls(xp, cls.default_device(xp) if device is None else device)

    @staticmethod
    def default_device(xp: Any) -> Any:
        return array_api_compat.device(xp.asarray(0.0))

    @property
    def is_gpu(self) -> bool:
        text = str(self.device).lower()
        return "cuda" in text or "gpu" in text

    #: Whether reading a value to the host is cheap (CPU, eager): then the loop checks every step.
    @property
    def sync_is_cheap(self) -> bool:
        return not self.is_gpu

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Backend) and (self.name, str(self.device)) == (other.name, str(other.device))

    def __hash__(self) -> int:
        return hash((self.name, str(self.device)))

    def __repr__(self) -> str:
        return f"Backend(name={self.name!r}, device={self.device!r})"

    # ------------------------------------------------------------ arrays

    def check_dtype(self, dtype: Any, func: str = "portable_dnn", like: Any = None) -> None:
        """Raise ``ValueError`` where this backend cannot compute in floating ``dtype`` as asked.

        ``dtype=None`` means the dtype ``like`` (the data) trains in: its own
        floating dtype, else float64. Every dtype works here; a backend whose
        library would round float64 down (JAX without its 64-bit mode)
        refuses it, so nothing is downcast silently.
        """

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        """Move ``x`` (host data or an array of this backend) here, as ``dtype``.

        Without ``dtype`` the array keeps the dtype its library gives it.
        """
        target = resolve_dtype(self.xp, dtype) if dtype is not None else None
        if target is not None:
            self.check_dtype(target)
        if isinstance(x, np.ndarray) and target is not None:
            # Cast on the host first so every backend sees the same rounded values.
            x = x.astype(np.dtype(dtype_name(target)), copy=False)
        return self.xp.asarray(x, dtype=target, device=self.device)

    def known_sizes(self, x: Any) -> Any:
        """``x`` (an array of this backend) with the size of every axis known, which a lazy library
        may only learn by computing (Dask after boolean indexing); ``x`` itself is not modified."""
        return x

    def zeros(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        target = resolve_dtype(self.xp, dtype)
        self.check_dtype(target)
        return self.xp.zeros(shape, dtype=target, device=self.device)

    def to_host(self, x: Any) -> np.ndarray:
        """``x`` as a NumPy array on the host."""
        return np.from_dlpack(x) if not isinstance(x, np.ndarray) else x

    # ------------------------------------------------------ training step

    def ops(self, dtype: Any) -> Ops:
        """The step's kernels for ``dtype`` arrays of this backend."""
        return Ops(self.xp, dtype, self.device, inplace=self.mutable)

    def prepare_features(self, X: Any) -> Any:
        """X ``(features, m)`` laid out for the products of a loop that reads it every step."""
        return X

    def cast_features(self, X: Any, dtype: Any) -> Any:
        """X ``(features, m)`` of this backend as floating ``dtype`` (a copy), laid out as
        :meth:`prepare_features` would lay it out, so a cast and a layout cost one copy."""
        return self.xp.astype(X, dtype)

    def prepare_examples(self, X: Any, Y: Any, *more: Any) -> tuple[Any, ...]:
        """X, Y and ``more`` per-example arrays (weights) ``(k, m)`` laid out once for a training
        loop (split and kept where the library needs it).

        >>> import numpy as np
        >>> from portable_dnn.backend import get_backend
        >>> X, Y = get_backend("numpy").prepare_examples(np.ones((2, 3)), np.zeros((1, 3)))
        >>> X.shape, Y.shape
        ((2, 3), (1, 3))
        """
        return (X, Y, *more)

    def take_columns(self, A: Any, index: np.ndarray) -> Any:
        """The columns ``index`` (host integers) of ``A``, in that order."""
        xp = self.xp
        return xp.take(A, xp.asarray(index, dtype=index_dtype(xp), device=self.device), axis=A.ndim - 1)

    def mini_batches(self, arrays: Sequence[Any], order: np.ndarray, size: int) -> Iterator[tuple[Any, ...]]:
        """The ``arrays`` (X, Y, ...: one column per example) cut into batches of ``size`` columns
        (the last may be narrower), in the host permutation ``order``, one tuple per batch; each
        gathered when the caller reaches it, so no shuffled copy of the whole data set is held.

        >>> import numpy as np
        >>> from portable_dnn.backend import get_backend
        >>> X = np.arange(5.0).reshape(1, 5)
        >>> [b[0].tolist() for b in get_backend("numpy").mini_batches((X, X), np.array([4, 0, 3, 1, 2]), 2)]
        [[[4.0, 0.0]], [[3.0, 1.0]], [[2.0]]]
        """
        for k in range(0, len(order), size):
            index = order[k : k + size]
            yield tuple(self.take_columns(A, index) for A in arrays)

    def runner(
        self, step: Any, state: list[list[Any]], same_batch: bool = False, cuda_graph: Any = "auto"
    ) -> Any:
        """What runs ``step(state, batch, hyper) -> (state, cost)`` again and again.

        ``same_batch=True`` says every call will get the same batch and
        hyper-parameters (full-batch gradient descent), so a backend may
        capture the step once as a CUDA graph and launch the graph each call
        (``cuda_graph``: ``"auto"``, True to insist, False to refuse).
        """
        if cuda_graph is True:
            raise ValueError(
                f"cuda_graph=True needs the torch backend on a CUDA device, not {self!r} "
                "(CuPy 14 cannot capture cuBLAS calls)"
            )
        return Runner(step, state)

    def matmul_precision(self, precision: str, dtype: Any) -> Any:
        """A context in which float32 products use ``precision`` (``"strict"`` or ``"tf32"``)."""
        if precision == "strict":
            return contextlib.nullcontext()
        raise ValueError(f"matmul_precision='tf32' needs a CUDA GPU (cupy, or torch on cuda), not {self!r}")

    def quiet_float_errors(self) -> Any:
        """Silence overflow/invalid warnings inside a training loop, which checks its results itself."""
        return contextlib.nullcontext()

    def synchronize(self) -> None:
        """Wait until the device has finished its queued work (for timing)."""

    def scheduler(
        self,
        scheduler: Any,
        func: str = "--scheduler",
        *,
        step_timeout: float | None = None,
        worker_timeout: float | None = None,
        lineage: int | None = None,
        quiet: bool = False,
    ) -> Any:
        """A context computing on ``scheduler`` (a cluster's address, a client, a local scheduler's
        name), watched as the other arguments say, where the library has schedulers; it yields
        the cluster's client or None. ``quiet`` leaves the cluster's own notices of lost
        connections unlogged (a caller reporting faults in one line of its own)."""
        raise ValueError(f"a scheduler address needs the dask backend, not {self.name}")

    def open_store(self, path: str, x: str, y: str, func: str) -> tuple[Any, Any]:
        """Arrays over the datasets ``x`` (features, m) and ``y`` of the store at ``path``, read a
        chunk at a time (only where the library reads lazily)."""
        raise ValueError(f"{func}: reading a store a chunk at a time needs the dask backend, not {self.name}")

    def column_chunks(self, A: Any) -> tuple[int, ...]:
        """The widths of ``A``'s chunks along its last axis: one chunk where the library has none."""
        return (int(A.shape[-1]),)

    def column_blocks(self, A: Any, index: Sequence[int]) -> Any:
        """The column chunks ``index`` of ``A`` (an array of this backend), side by side."""
        raise ValueError(f"column chunks need the dask backend, not {self.name}")

    def checked_when_read(self, X: Any, check: Callable[[Any, tuple[int, int] | None], None]) -> Any:
        """``X`` with ``check(part, columns)`` run on each part of it in the task that computes the
        part (``columns``: its first and past-the-last example, None where unknown); an array
        computed already is one part, checked now."""
        check(X, (0, int(X.shape[-1])))
        return X

    def cut_graph(self, *arrays: Any) -> tuple[Any, ...]:
        """``arrays`` with their lazy history cut (persisted on Dask); elsewhere unchanged."""
        return arrays


class ClusterError(RuntimeError):
    """Training on a cluster cannot go on; the message says why and where it stopped.

    Raised when the scheduler cannot be reached, when the cluster has had no
    usable worker (none at all, or every one paused for memory) for
    ``worker_timeout`` seconds, when no step completed for ``step_timeout``
    seconds, or when a task kept killing the workers that ran it. ``address``
    is the scheduler's address, ``step`` the last training step known to be
    complete (counted from 1; None before the first).
    """

    def __init__(self, message: str, address: str | None = None, step: int | None = None) -> None:
        super().__init__(message)
        self.address, self.step = address, step


# Documented (and pickled) under the package that exports them.
Backend.__module__ = ClusterError.__module__ = "portable_dnn.backend"


@typing.runtime_checkable
class EpochPlan(typing.Protocol):
    """What a runner reads of an epoch's mini-batches described whole
    (:class:`portable_dnn.batches.Epoch`, which the training loop builds).

    ``X``, ``Y`` (and ``weights``, or None) are the examples ``(k, m)`` on the
    backend; ``order`` the host permutation of their columns (None: one batch),
    cut into batches of ``size``; ``masks(m_b)`` (or None) draws the next
    batch's host dropout masks; ``replay`` whether the epoch may run as one
    program; ``widths()`` each batch's number of examples. Iterating gives the
    batches one by one, ``((X_b, Y_b, ...), m_b)``.
    """

    X: Any
    Y: Any
    order: np.ndarray | None
    size: int
    dtype: Any
    masks: Callable[[int], list[np.ndarray]] | None
    replay: bool
    weights: Any

    def widths(self) -> list[int]: ...

    def __iter__(self) -> Iterator[tuple[tuple[Any, ...], int]]: ...


class Runner:
    """Runs a training step on an eager backend: ``runner(batch, hyper)`` returns the step's cost.

    ``state`` is the state after the last step, as arrays of the backend.
    """

    def __init__(self, step: Callable[..., tuple[Any, Any]], state: list[list[Any]]) -> None:
        self.step, self.state = step, state

    def __call__(self, batch: Sequence[Any], hyper: tuple[float, ...]) -> Any:
        self.state, cost = self.step(self.state, batch, hyper)
        return cost

    def run_epoch(
        self, batches: Iterable[tuple[tuple[Any, ...], int]], lr: float, t: int
    ) -> tuple[list[tuple[Any, int]], int]:
        """Runs an epoch's batches at learning rate ``lr``; returns ``([(cost, m_b), ...], t)``.

        ``t`` is Adam's step count before the epoch and after it (one more per
        batch). ``cost`` is a batch's cost, or a 1-d array of the costs of
        consecutive batches of ``m_b`` examples each, not yet on the host.
        Here, and wherever ``batches`` is a plain iterable or an
        :class:`EpochPlan` with ``replay=False``, each batch is one call of the
        step from Python. A backend that can run more at once overrides this
        for an :class:`EpochPlan`: JAX compiles the epoch into one XLA program
        (a ``lax.scan`` of the step over the full batches, gathered on the
        device from ``order``, and one step for the narrower last batch). A
        CUDA-graph runner (CuPy, PyTorch on CUDA) would do the same here:
        copy the batch's columns (gathered on the device by ``order``), its
        masks and the step's scalars (``lr``, ``t``, ``m_b``, held as device
        0-d arrays) into fixed-address buffers, then launch one captured
        step's graph per batch (one graph per batch width), leaving the loop, its
        records and its hooks to the :class:`~portable_dnn.engine.Trainer`.
        """
        pending: list[tuple[Any, int]] = []
        for arrays, m_b in batches:
            t += 1
            pending.append((self(arrays, (lr, t, m_b)), m_b))
        return pending, t

    def largest(self, step: Any) -> Any:
        """``max |a|`` over the arrays ``step.watched`` picks from the state, not yet on the host."""
        return step.ops.largest(step.watched(self.state))

    def fetch(self, values: Sequence[Any]) -> list[float]:
        """``values`` (0-d arrays) as host floats."""
        return [float(v) for v in values]


class StrictBackend(Backend):
    """array-api-strict: the standard and nothing more (proves the library uses only ``xp.*``)."""

    name = "array_api_strict"
    namespace = "array_api_strict"

    @classmethod
    def create(cls, device: str | None) -> Backend:
        # Its devices are objects, named here by their str (what backend_of passes on).
        xp = importlib.import_module(cls.namespace)
        if device is None:
            return cls(xp, cls.default_device(xp))
        for known in xp.__array_namespace_info__().devices():
            if str(known) == device or getattr(known, "_device", None) == device:
                return cls(xp, known)
        raise ValueError(f"array_api_strict has no device {device!r}")

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        # array-api-strict keeps a host array's memory order, which the standard cannot see or
        # change, and NumPy's products round differently for C and Fortran operands: host data
        # comes in C order, so one set of values trains to the same bits however it was laid out.
        if isinstance(x, np.ndarray):
            x = np.asarray(x, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        return super().asarray(x, dtype)

    def quiet_float_errors(self) -> Any:
        return np.errstate(over="ignore", invalid="ignore", divide="ignore")


# ------------------------------------------------------------------ dtypes

_DTYPE_NAME = re.compile(
    r"\b(float16|float32|float64|complex64|complex128|u?int8|u?int16|u?int32|u?int64|bool)\b"
)


def dtype_name(dtype: Any) -> str:
    """The standard name of any library's dtype: ``'float64'`` for ``torch.float64``, ``np.float64``, ..."""
    match = _DTYPE_NAME.search(str(dtype))
    if match is None:
        raise ValueError(f"unsupported dtype {dtype!r}")
    return match.group(1)


def index_dtype(xp: Any) -> Any:
    """The default integer dtype of namespace ``xp``, for indices and class labels: int64
    (int32 on JAX without its 64-bit mode, where asking for int64 would be rounded down).

    >>> import array_api_compat.numpy as xp
    >>> index_dtype(xp)
    dtype('int64')
    """
    return xp.__array_namespace_info__().default_dtypes()["indexing"]


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
    try:
        name = dtype if isinstance(dtype, str) else dtype_name(dtype)
    except ValueError:
        name = None
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return getattr(xp, name)
