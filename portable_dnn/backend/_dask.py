"""Dask: the training step as a task per chunk, the scheduler, on-disk stores.

Imported only for the ``"dask"`` backend. Dask arrays are lazy: every training
step would add the step's tasks to the parameters' graph, so :class:`DaskRunner`
runs a step as a few tasks and persists the new state after each, which keeps
it one already-computed value (a future on a distributed cluster).

The scheduler is Dask's own choice unless :func:`use_scheduler` names one: a
``distributed.Client`` made current (``Client(...)`` makes itself the default),
else Dask's local threaded scheduler.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import warnings
from collections.abc import Iterator
from typing import Any

import array_api_compat
import dask
import dask.array as da
import numpy as np

from ._numpy import NumpyOps
from .base import Backend
from .ops import Ops

#: On a cluster, data above this size is split into one chunk per worker thread
#: (below it the per-task overhead outweighs the parallel products).
SPLIT_BYTES = 4 * 2**20

_LOCAL = ("threads", "threading", "synchronous", "sync", "single-threaded")


def current_client() -> Any:
    """The ``distributed.Client`` Dask computes with now, or None for a local scheduler."""
    try:
        from distributed import Client
    except ImportError:
        return None
    owner = getattr(dask.base.get_scheduler(), "__self__", None)
    return owner if isinstance(owner, Client) else None


def parallelism() -> int:
    """Worker threads of the current scheduler."""
    client = current_client()
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    return int(dask.config.get("num_workers", None) or os.cpu_count() or 1)


@contextlib.contextmanager
def use_scheduler(scheduler: Any = None, func: str = "use_scheduler") -> Iterator[Any]:
    """Compute with ``scheduler`` inside the block; yield the ``Client`` or None.

    ``scheduler``: None (Dask's default: the current ``Client`` if there is one,
    else local threads), a ``distributed.Client``, a scheduler address such as
    ``"tcp://10.0.0.5:8786"`` (a Client is connected for the block and closed
    after it), or a local scheduler name (``"threads"``, ``"synchronous"``).
    """
    if scheduler is None:
        yield current_client()
        return
    if isinstance(scheduler, str):
        name = scheduler.strip()
        if name in _LOCAL:
            with dask.config.set(scheduler=name):
                yield None
            return
        if "://" not in name and ":" not in name:
            raise ValueError(
                f"{func}: scheduler must be a distributed Client, an address such as "
                f"'tcp://HOST:8786', or one of {', '.join(_LOCAL)}; got {scheduler!r}"
            )
        from distributed import Client

        client = Client(name, set_as_default=False, timeout="10s")
        try:
            with dask.config.set(scheduler=client):
                yield client
        finally:
            client.close()
        return
    if not (hasattr(scheduler, "get") and hasattr(scheduler, "nthreads")):
        raise TypeError(
            f"{func}: scheduler must be a distributed Client, an address or a scheduler name, "
            f"got {type(scheduler).__name__}"
        )
    with dask.config.set(scheduler=scheduler):
        yield scheduler


def persist(*arrays: Any, serial: bool = False) -> tuple[Any, ...]:
    """``arrays`` computed and kept (on the workers of a cluster): their graphs become one task per chunk.

    On a distributed cluster this returns at once, with the work queued.
    ``serial=True`` runs a local scheduler's tasks in this thread: for a graph
    with nothing to run in parallel, the thread pool's hand-offs cost more than the tasks.
    """
    client = current_client()
    if client is not None:  # explicitly: dask.persist keeps futures only on the default Client
        return tuple(client.persist(list(arrays)))
    return tuple(dask.persist(*arrays, scheduler="synchronous" if serial else None))


def wait(*arrays: Any) -> None:
    """Block until persisted ``arrays`` are computed (they already are on a local scheduler)."""
    client = current_client()
    if client is not None:
        from distributed import futures_of
        from distributed import wait as wait_for

        with client.as_current():  # wait_for looks for the default Client; ours may not be it
            wait_for(futures_of(list(arrays)))


def compute(*arrays: Any) -> tuple[Any, ...]:
    """``arrays`` as host values, in one round trip."""
    return tuple(dask.compute(*arrays))


def split_examples(X: Any, Y: Any) -> tuple[Any, Any]:
    """X (features, m) and Y (k, m) chunked along the examples axis only, and persisted.

    Chunks of X already split along the examples alone are kept. Otherwise the
    examples are cut into chunks of at most Dask's ``array.chunk-size``, and, on
    a distributed cluster, into one chunk per worker thread when X is larger
    than ``SPLIT_BYTES``. Local threads get no such split: the BLAS already runs
    each product on every core, and two chunks on 2 cores measured twice as slow
    per iteration on the cat data (25.7 against 13.8 ms).
    """
    m = X.shape[1]
    if len(X.chunks[0]) == 1 and len(X.chunks[1]) > 1:
        per: Any = X.chunks[1]
    else:
        limit = dask.utils.parse_bytes(dask.config.get("array.chunk-size"))
        n = max(1, math.ceil(X.nbytes / limit))
        if X.nbytes > SPLIT_BYTES and current_client() is not None:
            n = max(n, parallelism())
        per = math.ceil(m / min(n, m))
    X = X.rechunk((-1, per))
    Y = Y.rechunk((-1, X.chunks[1]))
    return persist(X, Y)


class DaskBackend(Backend):
    """Dask arrays, split along the examples, on the current scheduler (local threads or a cluster)."""

    name = "dask"
    namespace = "array_api_compat.dask.array"
    mutable = False
    # The runner cuts the graph of the state it carries: a Gram product is no part of it.
    supports_gram = False

    @property
    def sync_is_cheap(self) -> bool:
        return False

    def to_host(self, x: Any) -> np.ndarray:
        return np.asarray(x.compute())

    def prepare_examples(self, X: Any, Y: Any) -> tuple[Any, Any]:
        return split_examples(X, Y)

    def runner(
        self, step: Any, state: list[list[Any]], replay: bool = False, cuda_graph: Any = "auto"
    ) -> Any:
        super().runner(step, state, replay, cuda_graph)  # refuses cuda_graph=True
        return DaskRunner(step, state, in_flight=2 if current_client() is not None else None)

    def quiet_float_errors(self) -> Any:
        return _quiet_everywhere()

    def cut_graph(self, *arrays: Any) -> tuple[Any, ...]:
        return persist(*arrays)

    def scheduler(self, address: str) -> Any:
        return use_scheduler(address, func="--scheduler")


@contextlib.contextmanager
def _quiet_everywhere() -> Iterator[None]:
    # Dask runs NumPy on its scheduler's threads, which do not inherit np.errstate:
    # silence the warnings themselves (the filters are process-wide) as well.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", r"(overflow|invalid value|divide by zero) encountered", RuntimeWarning
        )
        yield


class DaskRunner:
    """A training step on Dask: one task per column chunk of the batch, then one update task.

    Each chunk's task runs the step's ``gradients`` (the same Array API code)
    on the chunk's own arrays, NumPy or CuPy alike; their results are summed,
    weighted by the chunk's share of the columns (the course's ``1/m`` makes
    this the whole batch's mean), and one more task runs the step's ``update``.
    Building these few tasks costs far less than tracing the step's hundred
    array operations through ``dask.array``. The state is one persisted value
    between steps (on a cluster, a future on a worker), so no graph grows with
    the steps. On a cluster, where a step is queued and not waited for,
    ``in_flight=k`` waits after each step until the one ``k - 1`` steps before
    it is done, so the workers read at most ``k`` batches ahead.
    """

    def __init__(self, step: Any, state: list[list[Any]], in_flight: int | None = None) -> None:
        # The step travels without its kernels: each task builds them for its chunk's library.
        self._step = step.with_ops(None)
        self._in_flight = in_flight
        self._recent: list[Any] = []
        self._like = [[(a.shape, a.dtype) for a in group] for group in state]
        self._meta = state[0][0]._meta
        (self._value,) = persist(dask.delayed(state))
        self._state: list[list[Any]] | None = state
        self._placed = False

    def __call__(self, batch: tuple[Any, ...], hyper: tuple[float, ...]) -> Any:
        X = batch[0]
        m, cols = X.shape[1], X.chunks[1]
        columns = [a.rechunk((-1, cols)).to_delayed(optimize_graph=False)[0] for a in batch]
        if not self._placed:
            # The state moves once to the data's array library (CuPy chunks on GPU workers).
            (self._value,) = persist(dask.delayed(place_like)(self._value, columns[0][0]))
            self._meta, self._placed = X._meta, True
        parts = [dask.delayed(_chunk_grads)(self._step, self._value, *chunk) for chunk in zip(*columns)]
        total = dask.delayed(_weighted_sum)(parts, [n / m for n in cols])
        new = dask.delayed(_update, nout=2)(self._step, self._value, total, hyper)
        # State and cost kept apart: recorded costs must not hold every step's state alive.
        self._value, cost = persist(*new, serial=len(cols) == 1)
        self._state = None
        if self._in_flight:
            self._recent = [*self._recent, self._value][-self._in_flight :]
            if len(self._recent) == self._in_flight:
                wait(self._recent[0])
        return cost

    def fetch(self, values: list[Any]) -> list[float]:
        return [float(c) for c in compute(*values)]

    @property
    def state(self) -> list[list[Any]]:
        """The state as Dask arrays of one chunk each, persisted."""
        if self._state is None:
            arrays = [
                da.from_delayed(self._value[i][j], shape, dtype=dtype, meta=self._meta)
                for i, group in enumerate(self._like)
                for j, (shape, dtype) in enumerate(group)
            ]
            values = iter(persist(*arrays))
            self._state = [[next(values) for _ in group] for group in self._like]
        return self._state


def place_like(state: list[list[Any]], chunk: Any) -> list[list[Any]]:
    """``state``'s arrays in ``chunk``'s array library (as they are when it is theirs already)."""
    xp = array_api_compat.array_namespace(chunk)
    return [[_into(xp, a) for a in group] for group in state]


def _into(xp: Any, a: Any) -> Any:
    return a if array_api_compat.array_namespace(a) is xp else xp.asarray(a)


@functools.cache
def _chunk_ops(xp: Any, dtype: Any, numpy_chunks: bool, for_update: bool) -> Ops:
    if numpy_chunks and not for_update:
        # The gradients write only into arrays they create: NumPy's in-place kernels are safe.
        return NumpyOps(xp, dtype, "cpu")
    # The update must leave the persisted state it reads as it was: a lost worker recomputes from it.
    return Ops(xp, dtype, None, inplace=False)


def _ops_for(a: Any, for_update: bool) -> Ops:
    xp = array_api_compat.array_namespace(a)
    return _chunk_ops(xp, a.dtype, isinstance(a, np.ndarray), for_update)


def _chunk_grads(step: Any, state: list[list[Any]], X: Any, *rest: Any) -> Any:
    # Masks drawn on the host are NumPy chunks; they join X's library (CuPy on a GPU worker).
    xp = array_api_compat.array_namespace(X)
    return step.with_ops(_ops_for(X, False)).gradients(state[0], X, *(_into(xp, a) for a in rest))


def _update(step: Any, state: list[list[Any]], total: tuple[Any, list[Any]], hyper: tuple[float, ...]) -> Any:
    return step.with_ops(_ops_for(state[0][0], True)).update(state, *total, hyper)


def _weighted_sum(parts: list[tuple[Any, list[Any]]], weights: list[float]) -> tuple[Any, list[Any]]:
    """The chunks' ``(cost, grads)`` combined into the whole batch's means."""
    if len(parts) == 1:  # the whole batch in one chunk: its results as they are
        return parts[0]
    cost = sum(w * c for w, (c, _) in zip(weights, parts))
    grads = [sum(w * g[i] for w, (_, g) in zip(weights, parts)) for i in range(len(parts[0][1]))]
    return cost, grads


def open_store(path: str, x: str = "X", y: str = "Y", func: str = "open_store") -> tuple[Any, Any]:
    """Dask arrays over the datasets ``x`` (features, m) and ``y`` (1, m) or (m,) of a Zarr or HDF5 store.

    A path ending in ``.h5``/``.hdf5`` is opened with h5py (the file stays open
    for reading while the arrays live), anything else with Zarr. X keeps the
    store's chunks along the examples axis, whole along the features; Y gets
    the same column chunks. Nothing is read until a chunk is computed.
    """
    if str(path).endswith((".h5", ".hdf5")):
        try:
            import h5py
        except ImportError:
            raise ValueError(f"{func}: reading HDF5 stores needs h5py (pip install h5py)") from None
        f = h5py.File(path, "r")
        for name in (x, y):
            if name not in f:
                raise ValueError(f"{func}: {path!r} has no dataset {name!r} (it has {sorted(f)})")
        dx, dy = f[x], f[y]
        X = da.from_array(dx, chunks=dx.chunks or "auto")
        Y = da.from_array(dy, chunks=dy.chunks or "auto")
    else:
        try:
            X = da.from_zarr(str(path), component=x)
            Y = da.from_zarr(str(path), component=y)
        except (KeyError, FileNotFoundError, ValueError) as exc:
            raise ValueError(f"{func}: cannot open datasets {x!r} and {y!r} of {path!r}: {exc}") from None
    if X.ndim != 2:
        raise ValueError(f"{func}: dataset {x!r} must be 2-D (features, examples), got shape {X.shape}")
    m = X.shape[1]
    if Y.shape not in ((m,), (1, m)):
        raise ValueError(f"{func}: dataset {y!r} has shape {Y.shape}, expected (1, {m}) or ({m},)")
    X = X.rechunk((-1, X.chunks[1]))
    Y = Y.reshape((1, m)).rechunk((1, X.chunks[1]))
    return X, Y


def column_blocks(A: Any, index: list[int]) -> Any:
    """The column chunks ``index`` of ``A``, side by side."""
    parts = [A.blocks[0, int(i)] for i in index]
    return parts[0] if len(parts) == 1 else da.concatenate(parts, axis=1)
