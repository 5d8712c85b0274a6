"""Dask execution: cut each iteration's task graph, pick the scheduler, open on-disk stores.

Imported only for the ``"dask"`` backend. Dask arrays are lazy: every training
step adds the step's tasks to the parameters' graph, so without a cut the graph
(and the memory holding it) grows with every iteration. :class:`DaskRunner`
persists the new parameters after each step, which replaces their graph by one
already-computed chunk each (a future on a distributed cluster).

The scheduler is Dask's own choice unless :func:`use_scheduler` names one: a
``distributed.Client`` made current (``Client(...)`` makes itself the default),
else Dask's local threaded scheduler.
"""

from __future__ import annotations

import contextlib
import math
import os
import uuid
from collections.abc import Iterator
from typing import Any

import array_api_compat
import dask
import dask.array as da
from dask.threaded import get as threaded_get

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


class DaskRunner:
    """Runs a :class:`~portable_dnn.train_step.TrainStep` on Dask arrays with its graph cut every call.

    The data is chunked along the examples (:func:`split_examples`) and kept.
    Each call leaves the new ``Ws`` and ``bs`` in the step's lists as computed
    arrays of one chunk, and returns the step's ``AL``, computed too, so no
    graph grows with the iterations.

    On a local scheduler the step's task graph is built once, on the first
    call, and replayed with the current parameters substituted: building a
    Dask graph costs far more than running this one. Single-chunk data
    replays synchronously (nothing to run in parallel). On a distributed
    cluster each call builds the step and persists its results on the workers.
    """

    def __init__(self, step: Any) -> None:
        self.step = step
        step.X, step.Y = split_examples(step.X, step.Y)
        self._client = current_client()
        self._cut()
        self._graph: dict[Any, Any] | None = None
        self._arrays: list[Any] = []
        self._values: list[Any] = []

    def _cut(self, *extra: Any) -> tuple[Any, ...]:
        s = self.step
        L = len(s.Ws)
        out = persist(*s.Ws, *s.bs, *extra)
        s.Ws[:] = out[:L]
        s.bs[:] = out[L : 2 * L]
        return out[2 * L :]

    def __call__(self) -> Any:
        if self._client is not None:
            return self._cut(self.step())[0]
        s = self.step
        L = len(s.Ws)
        params = [*s.Ws, *s.bs]
        if self._graph is None:
            self._inputs = [_only_key(p) for p in params]
            AL = s()
            outs = [*s.Ws, *s.bs, AL]
            self._graph = {k: v for o in outs for k, v in dict(o.__dask_graph__()).items()}
            self._outs = [(o.name, o.chunks, o.dtype, list(_flat_keys(o))) for o in outs]
            self._keys = [k for _, _, _, keys in self._outs for k in keys]
            self._get = dask.get if len(s.X.chunks[1]) == 1 else dask.base.get_scheduler() or threaded_get
        if not (len(self._arrays) == len(params) and all(a is b for a, b in zip(self._arrays, params))):
            self._values = [_only_value(p) for p in params]
        for key, value in zip(self._inputs, self._values):
            self._graph[key] = _data(key, value)
        results = iter(self._get(self._graph, self._keys))
        arrays = []
        for name, chunks, dtype, keys in self._outs:
            new = f"{name.split('-')[0]}-step-{uuid.uuid4().hex}"
            blocks = {(new, *key[1:]): next(results) for key in keys}
            arrays.append(da.Array(blocks, new, chunks=chunks, dtype=dtype))
        s.Ws[:], s.bs[:] = arrays[:L], arrays[L : 2 * L]
        self._arrays = arrays[: 2 * L]
        self._values = [next(iter(dict(a.__dask_graph__()).values())) for a in self._arrays]
        return arrays[-1]


class DaskSteps:
    """:func:`portable_dnn.backend.batch_steps` on Dask: one task per column chunk, then one update task.

    Building a few tasks per step costs far less than tracing the step's
    hundred array operations through ``dask.array`` (measured on the moons
    network's mini-batches: 100 ms a step that way), and each task runs the
    Array API code on its chunk's own arrays, NumPy or CuPy alike. The state
    is one persisted value (on a cluster, a future on a worker) between steps.
    """

    def __init__(self, state: list[dict[str, Any]], in_flight: int | None = None) -> None:
        self._in_flight = in_flight
        self._recent: list[Any] = []
        self._like = [{k: (a.shape, a.dtype) for k, a in d.items()} for d in state]
        self._meta = next(iter(state[0].values()))._meta
        (self._value,) = persist(dask.delayed(state))
        self._state: list[dict[str, Any]] | None = state
        self._costs: list[Any] = []
        self._placed = False

    def __call__(self, grads_of: Any, update: Any, batch: tuple[Any, ...]) -> None:
        X = batch[0]
        m, cols = X.shape[1], X.chunks[1]
        columns = [a.rechunk((-1, cols)).to_delayed(optimize_graph=False)[0] for a in batch]
        if not self._placed:
            # The state moves once to the data's array library (CuPy chunks on GPU workers).
            (self._value,) = persist(dask.delayed(place_like)(self._value, columns[0][0]))
            self._meta, self._placed = X._meta, True
        parts = [dask.delayed(_chunk_grads)(grads_of, self._value, *chunk) for chunk in zip(*columns)]
        total = dask.delayed(_weighted_sum)(parts, [n / m for n in cols])
        new = dask.delayed(_update, nout=2)(update, self._value, total)
        # State and cost kept apart: the epoch's costs must not hold every step's state alive.
        self._value, cost = persist(*new, serial=len(cols) == 1)
        self._costs.append(cost)
        self._state = None
        if self._in_flight:
            self._recent = [*self._recent, self._value][-self._in_flight :]
            if len(self._recent) == self._in_flight:
                wait(self._recent[0])

    def costs(self) -> list[float]:
        out = [float(c) for c in compute(*self._costs)]
        self._costs = []
        return out

    @property
    def state(self) -> list[dict[str, Any]]:
        """The state as Dask arrays of one chunk each, persisted."""
        if self._state is None:
            arrays = [
                da.from_delayed(self._value[i][k], shape, dtype=dtype, meta=self._meta)
                for i, d in enumerate(self._like)
                for k, (shape, dtype) in d.items()
            ]
            values = iter(persist(*arrays))
            self._state = [{k: next(values) for k in d} for d in self._like]
        return self._state


def place_like(state: list[dict[str, Any]], chunk: Any) -> list[dict[str, Any]]:
    """``state``'s arrays in ``chunk``'s array library (as they are when it is theirs already)."""
    xp = array_api_compat.array_namespace(chunk)
    return [{k: _into(xp, v) for k, v in d.items()} for d in state]


def _into(xp: Any, a: Any) -> Any:
    return a if array_api_compat.array_namespace(a) is xp else xp.asarray(a)


def _chunk_grads(grads_of: Any, state: list[dict[str, Any]], X: Any, *rest: Any) -> Any:
    # Masks drawn on the host are NumPy chunks; they join X's library (CuPy on a GPU worker).
    xp = array_api_compat.array_namespace(X)
    return grads_of(state[0], X, *(_into(xp, a) for a in rest))


def _update(update: Any, state: list[dict[str, Any]], total: tuple[Any, dict[str, Any]]) -> Any:
    return update(state, *total)


def _weighted_sum(
    parts: list[tuple[Any, dict[str, Any]]], weights: list[float]
) -> tuple[Any, dict[str, Any]]:
    """The chunks' ``(cost, grads)`` combined into the whole batch's means."""
    if len(parts) == 1:  # the whole batch in one chunk: its results as they are
        return parts[0]
    cost = sum(w * c for w, (c, _) in zip(weights, parts))
    grads = {key: sum(w * g[key] for w, (_, g) in zip(weights, parts)) for key in parts[0][1]}
    return cost, grads


def _flat_keys(a: Any) -> Iterator[Any]:
    def walk(keys: Any) -> Iterator[Any]:
        if isinstance(keys, list):
            for k in keys:
                yield from walk(k)
        else:
            yield keys

    return walk(a.__dask_keys__())


def _only_key(a: Any) -> Any:
    keys = list(_flat_keys(a))
    if len(keys) != 1:
        raise ValueError(f"DaskRunner: parameters must be one chunk each, got chunks {a.chunks}")
    return keys[0]


def _only_value(a: Any) -> Any:
    """The computed value of a one-chunk array (persisting it first if it is still a graph)."""
    graph = dict(a.__dask_graph__())
    if len(graph) != 1:
        (a,) = persist(a)
        graph = dict(a.__dask_graph__())
    value = graph[_only_key(a)]
    return getattr(value, "value", value)  # a DataNode holds its value


def _data(key: Any, value: Any) -> Any:
    try:
        from dask._task_spec import DataNode
    except ImportError:  # older Dask: a raw value is data
        return value
    return DataNode(key, value)


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
