"""Dask: the training step as a task per chunk, the scheduler, on-disk stores, a watch over the cluster.

Imported only for the ``"dask"`` backend. Dask arrays are lazy: every training
step would add the step's tasks to the parameters' graph, so :class:`DaskRunner`
runs a step as a few tasks and persists the new state after each, which keeps
it one already-computed value (a future on a distributed cluster).

The scheduler is Dask's own choice unless :func:`use_scheduler` names one: a
``distributed.Client`` made current for the block (``client.as_current()``,
never put into Dask's configuration, which distributed hands to every worker
process it starts), else Dask's local threaded scheduler.

On a distributed cluster the runner also

* cuts the state's lineage: every ``lineage`` steps (:data:`LINEAGE`) the state
  is brought to the client and sent back as a value with no history, so the
  scheduler keeps at most that many steps of tasks, and a lost worker costs
  at most that many steps of recomputation;
* waits only with timeouts, and raises :class:`ClusterError` when the
  scheduler cannot be reached, when the cluster has had no usable worker (none,
  or all paused for memory) for ``worker_timeout`` seconds, or when no step
  completed for ``step_timeout`` seconds;
* refuses, before its first step, a mini-batch whose chunks cannot fit the
  workers' memory, and names the chunk size that would.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import math
import os
import time
import uuid
import warnings
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import array_api_compat
import dask
import dask.array as da
import numpy as np

from ._numpy import NumpyOps
from .base import Backend, ClusterError, Runner
from .ops import Ops

#: On a cluster, data above this size is split into one chunk per worker thread
#: (below it the per-task overhead outweighs the parallel products).
SPLIT_BYTES = 4 * 2**20

#: Seconds without a completed step before training on a cluster gives up (:func:`use_scheduler`).
STEP_TIMEOUT = 300.0
#: Seconds the cluster may go without a usable worker (none, or all paused for memory).
WORKER_TIMEOUT = 60.0
#: Steps between two cuts of the state's lineage: at most this many are recomputed after a lost worker.
LINEAGE = 32

_POLL = 1.0  # seconds between two looks at the cluster while a step is awaited
_ASK = 5.0  # seconds the scheduler has to answer a question about its workers

_LOCAL = ("threads", "threading", "synchronous", "sync", "single-threaded")


@dataclasses.dataclass(frozen=True)
class Watch:
    """How training watches a cluster: see :func:`use_scheduler`."""

    step_timeout: float = STEP_TIMEOUT
    worker_timeout: float = WORKER_TIMEOUT
    lineage: int = LINEAGE


# Watch is frozen: the default is never changed in place.
_WATCH: contextvars.ContextVar[Watch] = contextvars.ContextVar(
    "portable_dnn_dask_watch",
    default=Watch(),  # noqa: B039
)


def current_watch() -> Watch:
    """The watch settings in force (the innermost :func:`use_scheduler`'s, else the defaults)."""
    return _WATCH.get()


_CLIENT: contextvars.ContextVar[Any] = contextvars.ContextVar("portable_dnn_dask_client", default=None)


class _WatchedScheduler:
    """Dask's scheduler inside :func:`use_scheduler` with a Client: the Client's, with every wait watched.

    What Dask computes in the block (``dask.compute``, ``bool(array)``, the
    checks of the data) is awaited by a :class:`Watchdog`, so a lost
    scheduler, a cluster without workers or a stalled computation ends in a
    :class:`ClusterError`, not a hang. It holds nothing: the Client is this
    thread's (a context variable); elsewhere (another thread, a worker process,
    which receive Dask's configuration) it defers to distributed's own choice.
    """

    @staticmethod
    def _client() -> Any:
        client = _CLIENT.get()
        if client is None:
            from distributed import get_client

            client = get_client()
        return client

    def __call__(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        client = _CLIENT.get()
        if client is None:
            return self._client().get(dsk, keys, **kwargs)
        futures = client.get(dsk, keys, sync=False, **kwargs)
        return Watchdog(client, current_watch()).fetch(futures)

    def persist(self, collections: Any, **kwargs: Any) -> Any:
        return self._client().persist(collections, **kwargs)


_WATCHED = _WatchedScheduler()


def current_client() -> Any:
    """The ``distributed.Client`` Dask computes with now, or None for a local scheduler."""
    try:
        from distributed import Client
    except ImportError:
        return None
    try:
        scheduler = dask.base.get_scheduler()
        if isinstance(scheduler, _WatchedScheduler):
            return scheduler._client()
    except (ValueError, RuntimeError):  # a distributed scheduler named, with no Client in this thread
        return None
    owner = getattr(scheduler, "__self__", None)
    return owner if isinstance(owner, Client) else None


def parallelism() -> int:
    """Worker threads of the current scheduler."""
    client = current_client()
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    return int(dask.config.get("num_workers", None) or os.cpu_count() or 1)


@contextlib.contextmanager
def use_scheduler(
    scheduler: Any = None,
    func: str = "use_scheduler",
    *,
    step_timeout: float | None = None,
    worker_timeout: float | None = None,
    lineage: int | None = None,
) -> Iterator[Any]:
    """Compute with ``scheduler`` inside the block; yield the ``Client`` or None.

    ``scheduler``: None (Dask's default: the current ``Client`` if there is one,
    else local threads), a ``distributed.Client``, a scheduler address such as
    ``"tcp://10.0.0.5:8786"`` (a Client is connected for the block and closed
    after it), or a local scheduler name (``"threads"``, ``"synchronous"``).
    The other arguments, where given, replace the :class:`Watch` settings for
    the block (checked by the public :func:`portable_dnn.streaming.use_scheduler`).
    """
    given: dict[str, Any] = {
        "step_timeout": step_timeout,
        "worker_timeout": worker_timeout,
        "lineage": lineage,
    }
    watch = dataclasses.replace(_WATCH.get(), **{k: v for k, v in given.items() if v is not None})
    token = _WATCH.set(watch)
    try:
        with _selected(scheduler, func) as client:
            yield client
    finally:
        _WATCH.reset(token)


@contextlib.contextmanager
def _selected(scheduler: Any, func: str) -> Iterator[Any]:
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
            with _current(client):
                yield client
        finally:
            _close(client)
        return
    if not (
        hasattr(scheduler, "get") and hasattr(scheduler, "nthreads") and hasattr(scheduler, "as_current")
    ):
        raise TypeError(
            f"{func}: scheduler must be a distributed Client, an address or a scheduler name, "
            f"got {type(scheduler).__name__}"
        )
    with _current(scheduler):
        yield scheduler


@contextlib.contextmanager
def _current(client: Any) -> Iterator[None]:
    """``client`` computes in this thread for the block, watched (:class:`_WatchedScheduler`).

    Not ``dask.config.set(scheduler=client)``: Dask's configuration travels to
    every worker process a nanny starts, and a Client cannot, so no lost
    worker could be restarted; the configuration holds a stateless object.
    """
    token = _CLIENT.set(client)
    try:
        with client.as_current(), dask.config.set(scheduler=_WATCHED):
            yield
    finally:
        _CLIENT.reset(token)


def _close(client: Any) -> None:
    """Closes a Client this module opened, in bounded time; where its scheduler is gone, without
    the traceback distributed logs when its attempts to reconnect are cut short."""
    import logging

    lost = getattr(client, "scheduler_comm", None) is None
    logger = logging.getLogger("distributed.client")
    level = logger.level
    if lost:
        logger.setLevel(logging.CRITICAL)
    try:
        with contextlib.suppress(Exception):
            client.close(timeout=5)
    finally:
        logger.setLevel(level)


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
    """Block until persisted ``arrays`` are computed (they already are on a local scheduler).

    On a cluster the wait is watched (:class:`Watchdog`): it ends in a :class:`ClusterError`, not a hang.
    """
    client = current_client()
    if client is not None:
        from distributed import futures_of

        Watchdog(client, current_watch()).wait(futures_of(list(arrays)))


def compute(*arrays: Any) -> tuple[Any, ...]:
    """``arrays`` as host values, in one round trip (watched on a cluster, as :func:`wait`)."""
    client = current_client()
    if client is None:
        return tuple(dask.compute(*arrays))
    return tuple(Watchdog(client, current_watch()).fetch(client.compute(list(arrays))))


# ------------------------------------------------------------------ the watch


def _is_timeout(exc: BaseException) -> bool:
    from distributed import TimeoutError as DistributedTimeout

    return isinstance(exc, (TimeoutError, asyncio.TimeoutError, DistributedTimeout))


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"


class Watchdog:
    """Waits for a cluster's futures with timeouts and names what keeps them from finishing.

    Every wait is cut into slices of a second; between two, the scheduler is
    asked about its workers. ``done`` is the last training step known to be
    complete, for the messages.
    """

    def __init__(self, client: Any, watch: Watch) -> None:
        self.client, self.watch = client, watch
        self.address = str(getattr(getattr(client, "scheduler", None), "address", None) or "(unknown)")
        self.done: int | None = None

    def error(self, what: str) -> ClusterError:
        where = "before the first step completed" if self.done is None else f"after step {self.done}"
        return ClusterError(
            f"training on the Dask cluster at {self.address} stopped {where}: {what}", self.address, self.done
        )

    def check_connected(self) -> None:
        """Raises at once where the client has lost its scheduler (its futures are gone with it)."""
        client = self.client
        batched = getattr(client, "scheduler_comm", None)
        comm = getattr(batched, "comm", None)
        if client.status in ("closing", "closed") or comm is None or comm.closed():
            raise self.error(
                f"the scheduler at {self.address} is unreachable (the connection to it was lost)"
            )

    def identity(self) -> dict[str, Any]:
        """The scheduler's description of itself and its workers, asked with a timeout."""
        try:
            return dict(self.client.sync(self.client.scheduler.identity, callback_timeout=_ASK))
        except Exception as exc:
            if not (_is_timeout(exc) or isinstance(exc, OSError)):
                raise
            raise self.error(
                f"the scheduler at {self.address} is unreachable ({type(exc).__name__}: {exc})"
            ) from None

    def wait(self, futures: Sequence[Any]) -> None:
        """Until every future is done (finished or failed); a :class:`ClusterError` where none can be."""
        from distributed import wait as wait_for

        futures = list(futures)
        finished, progress, unusable = 0, time.monotonic(), None
        while True:
            self.check_connected()
            try:
                with self.client.as_current():
                    wait_for(futures, timeout=_POLL)
            except Exception as exc:
                if not (_is_timeout(exc) or any(f.cancelled() for f in futures)):
                    raise
            if any(f.cancelled() for f in futures):
                self.check_connected()
                raise self.error("the scheduler dropped the training's tasks (they were cancelled)")
            now_done = sum(f.done() for f in futures)
            if now_done == len(futures):
                return
            now = time.monotonic()
            if now_done > finished:
                finished, progress = now_done, now
            unusable = self._look(progress, unusable, now)

    def _look(self, progress: float, unusable: float | None, now: float) -> float | None:
        """Raises where the cluster cannot finish the step; returns since when it has had no usable worker."""
        workers = list(self.identity().get("workers", {}).values())
        paused = [w for w in workers if str(w.get("status", "")).endswith("paused")]
        if workers and len(paused) < len(workers):
            unusable = None
        elif unusable is None:
            unusable = now
        if unusable is not None and now - unusable >= self.watch.worker_timeout:
            if not workers:
                raise self.error(f"no workers left (none for {now - unusable:.0f} s)")
            raise self.error(
                f"{len(paused)} of {len(workers)} workers paused for memory ({self._memory(paused)})"
            )
        if now - progress >= self.watch.step_timeout:
            state = (
                _count(len(workers), "worker")
                + " up"
                + (f", {len(paused)} paused for memory" if paused else "")
            )
            raise self.error(f"no step completed in {self.watch.step_timeout:g} s ({state})")
        return unusable

    @staticmethod
    def _memory(workers: list[dict[str, Any]]) -> str:
        return ", ".join(
            f"{w.get('name', '?')} at {_mib(w.get('metrics', {}).get('memory', 0))} "
            f"of {_mib(w.get('memory_limit') or 0)}"
            for w in workers
        )

    def fetch(self, futures: Any) -> Any:
        """The values of ``futures`` (a list of them, or any structure Dask's ``gather`` takes), after
        :meth:`wait`; a lost or killed worker is a :class:`ClusterError`."""
        from distributed import KilledWorker, futures_of

        flat = futures_of(futures)
        self.wait(flat)
        try:
            return self.client.sync(self.client._gather, futures, callback_timeout=self.watch.step_timeout)
        except KilledWorker as exc:
            raise self.error(f"a task killed every worker that ran it ({exc})") from None
        except Exception as exc:
            if _is_timeout(exc):
                raise self.error(f"results did not arrive in {self.watch.step_timeout:g} s") from None
            if isinstance(exc, OSError) or any(f.cancelled() for f in flat):
                self.check_connected()
                raise self.error(f"results were lost ({type(exc).__name__}: {exc})") from None
            raise


def check_memory(workers: Sequence[dict[str, Any]], columns: Sequence[int], data: int, work: int) -> None:
    """A ValueError, naming the chunk size that would fit, where a mini-batch cannot fit the workers' memory.

    ``workers`` are the scheduler's descriptions of its workers, ``columns``
    the examples of each of the mini-batch's chunks; an example needs ``data``
    bytes of the chunk's arrays, and ``work`` more while its task runs. A
    worker may use ``distributed.worker.memory.pause`` of its memory limit
    (80%) before it pauses, less what it already uses; it runs as many chunks
    at once as it has threads. The chunks' data together must fit all the
    workers' room together. Workers without a memory limit are not checked.
    """
    limited = [w for w in workers if w.get("memory_limit")]
    if not limited or not columns:
        return
    pause = float(dask.config.get("distributed.worker.memory.pause", 0.8) or 0.95)
    k, widest = len(columns), max(columns)

    def room(w: dict[str, Any]) -> float:
        return max(0.0, pause * w["memory_limit"] - w.get("metrics", {}).get("memory", 0))

    def at_once(w: dict[str, Any]) -> int:
        return max(1, min(int(w.get("nthreads", 1)), k))

    w = min(limited, key=lambda w: room(w) / at_once(w))
    if (data + work) * widest * at_once(w) > room(w):
        fits = int(room(w) / at_once(w) // (data + work))
        advice = (
            f"use chunks of at most {fits} examples (X.rechunk((-1, {fits})), or a store chunked so)"
            if fits >= 1
            else "not one example fits: use a smaller network, or workers with more memory"
        )
        raise ValueError(
            f"a chunk of {widest} examples needs about {_mib((data + work) * widest)} while its gradients "
            f"are computed, and worker {w.get('name', '?')} runs {at_once(w)} at once in the "
            f"{_mib(room(w))} it has before it pauses ({pause:.0%} of its {_mib(w['memory_limit'])} "
            f"memory limit, less {_mib(w.get('metrics', {}).get('memory', 0))} in use): {advice}"
        )
    total = sum(room(w) for w in limited)
    if data * sum(columns) > total:
        raise ValueError(
            f"a mini-batch of {k} chunks ({sum(columns)} examples) holds about {_mib(data * sum(columns))} "
            f"of data, more than the {_mib(total)} that {_count(len(limited), 'worker')} can hold before "
            "pausing: "
            f"use mini-batches of at most {int(total // data)} examples, or more workers"
        )


def split_examples(X: Any, Y: Any, *more: Any) -> tuple[Any, ...]:
    """X (features, m), Y (k, m) and ``more`` such arrays chunked along the examples axis only,
    alike, and persisted.

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
    return persist(X, *(A.rechunk((-1, X.chunks[1])) for A in (Y, *more)))


class DaskBackend(Backend):
    """Dask arrays, split along the examples, on the current scheduler (local threads or a cluster)."""

    name = "dask"
    namespace = "array_api_compat.dask.array"
    mutable = False
    # The runner cuts the graph of the state it carries: a Gram product is no part of it.
    supports_gram = False

    @classmethod
    def create(cls, device: str | None) -> Backend:
        # A Dask array's data lives where its chunks' library keeps it (CuPy chunks on GPU
        # workers); array-api-compat reports such arrays' device as "DASK_DEVICE". The
        # backend itself builds its arrays on the host either way.
        if device not in (None, "cpu", "DASK_DEVICE"):
            raise ValueError(
                f"the dask backend takes no device ({device!r} given): Dask arrays compute where "
                "their chunks live; for a GPU, pass Dask arrays of CuPy chunks"
            )
        return super().create(None)

    @property
    def sync_is_cheap(self) -> bool:
        return False

    def to_host(self, x: Any) -> np.ndarray:
        from . import to_numpy  # the computed value's own library brings it home (CuPy chunks too)

        return to_numpy(compute(x)[0])

    def prepare_examples(self, X: Any, Y: Any, *more: Any) -> tuple[Any, ...]:
        return split_examples(X, Y, *more)

    def known_sizes(self, x: Any) -> Any:
        if any(math.isnan(size) for sizes in x.chunks for size in sizes):
            x = x.copy()  # a new array object: the caller's keeps its unknown sizes
            x.compute_chunk_sizes()
        return x

    def runner(
        self, step: Any, state: list[list[Any]], replay: bool = False, cuda_graph: Any = "auto"
    ) -> Any:
        super().runner(step, state, replay, cuda_graph)  # refuses cuda_graph=True
        client = current_client()
        return DaskRunner(step, state, in_flight=2 if client is not None else None, client=client)

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


class _Cost:
    """A step's cost on a cluster: its future until it is read (or its lineage cut), then a float."""

    __slots__ = ("future", "value", "__weakref__")

    def __init__(self, future: Any) -> None:
        self.future: Any = future
        self.value: float | None = None

    def resolve(self, value: Any) -> float:
        self.value, self.future = float(value), None
        return self.value


class DaskRunner(Runner):
    """A training step on Dask: one task per column chunk of the batch, then one update task.

    Each chunk's task runs the step's ``gradients`` (the same Array API code)
    on the chunk's own arrays, NumPy or CuPy alike; their results are summed,
    weighted by the chunk's share of the columns (the course's ``1/m`` makes
    this the whole batch's mean; with per-example weights, by its share of the
    batch's total weight), in the chunks' order, so a run gives the same
    result every time; one more task runs the step's ``update``.
    Building these few tasks costs far less than tracing the step's hundred
    array operations through ``dask.array``. The state is one persisted value
    between steps (on a cluster, a future on a worker), so no graph grows with
    the steps.

    On a cluster (``client``), where a step is queued and not waited for,
    ``in_flight=k`` waits after each step until the one ``k - 1`` steps before
    it is done, so the workers read at most ``k`` batches ahead; every wait is
    a :class:`Watchdog`'s, and every ``watch.lineage`` steps the state is
    brought to the client and persisted again as a plain value (the costs not
    yet read with it), which releases the tasks behind it: the scheduler holds
    at most that many steps of tasks, and recomputes at most that many after
    losing a worker. Before the first step, the mini-batch is checked against
    the workers' memory (:meth:`Watchdog.check_memory`).
    """

    def __init__(
        self,
        step: Any,
        state: list[list[Any]],
        in_flight: int | None = None,
        client: Any = None,
        watch: Watch | None = None,
    ) -> None:
        # The step travels without its kernels: each task builds them for its chunk's library.
        self._step = step.with_ops(None)
        self._in_flight = in_flight
        self._client = client
        self._watch = current_watch() if watch is None else watch
        self._dog = None if client is None else Watchdog(client, self._watch)
        self._recent: list[tuple[int, Any]] = []
        self._costs: list[weakref.ref[_Cost]] = []  # costs on the cluster since the last cut
        self._since_cut = 0
        self._last = 0
        self._like = [[(a.shape, a.dtype) for a in group] for group in state]
        self._meta = state[0][0]._meta
        (self._value,) = self._persist(dask.delayed(state))
        self._state: list[list[Any]] | None = state
        self._placed = False

    def _persist(self, *values: Any, serial: bool = False) -> tuple[Any, ...]:
        if self._client is not None:
            return tuple(self._client.persist(list(values)))
        return tuple(dask.persist(*values, scheduler="synchronous" if serial else None))

    def __call__(self, batch: Sequence[Any], hyper: tuple[float, ...]) -> Any:
        X = batch[0]
        m, cols = X.shape[1], X.chunks[1]
        if self._dog is not None:
            self._dog.check_connected()
            if not self._placed:
                self._check_memory(batch)
        columns = [a.rechunk((-1, cols)).to_delayed(optimize_graph=False)[0] for a in batch]
        if not self._placed:
            # The state moves once to the data's array library (CuPy chunks on GPU workers).
            (self._value,) = self._persist(dask.delayed(place_like)(self._value, columns[0][0]))
            self._meta, self._placed = X._meta, True
        parts = [dask.delayed(_chunk_grads)(self._step, self._value, *chunk) for chunk in zip(*columns)]
        shares: Any = [n / m for n in cols]
        if self._step.weighted and len(cols) > 1:
            # Each chunk's weighted mean counts by its share of the batch's weight, not of its columns.
            shares = dask.delayed(_weight_shares)(list(columns[2]))
        total = dask.delayed(_weighted_sum)(parts, shares)
        new = dask.delayed(_update, nout=2)(self._step, self._value, total, hyper)
        # State and cost kept apart: recorded costs must not hold every step's state alive.
        self._value, cost = self._persist(*new, serial=len(cols) == 1)
        self._state = None
        if self._dog is None:
            return cost
        from distributed import futures_of

        self._last = int(hyper[1])  # the step's number, from 1 (the engine's count)
        held = _Cost(futures_of(cost)[0])
        self._costs.append(weakref.ref(held))
        self._since_cut += 1
        if self._in_flight:
            self._recent = [*self._recent, (self._last, self._value)][-self._in_flight :]
            if len(self._recent) == self._in_flight:
                t, value = self._recent[0]
                futures = futures_of(value)
                self._dog.wait(futures)
                if any(f.status == "error" for f in futures):
                    self._dog.fetch(futures)  # the task's own error, now rather than at the epoch's end
                self._dog.done = t
        if self._since_cut >= self._watch.lineage:
            self._cut()
        return held

    def _check_memory(self, batch: Sequence[Any]) -> None:
        """The mini-batch against the workers' memory (:func:`check_memory`): each example holds its
        column of the batch's arrays, and, while its task runs, about four values per unit of the
        network (activations, their gradients, dropout)."""
        assert self._dog is not None
        itemsize = int(np.dtype(batch[0].dtype).itemsize)
        widths = [shape[0] for shape, _ in self._like[0][::2]]
        workers = list(self._dog.identity().get("workers", {}).values())
        data = itemsize * sum(a.shape[0] for a in batch)
        check_memory(workers, batch[0].chunks[1], data, itemsize * 4 * sum(widths))

    def _cut(self) -> None:
        """The state (and the costs not yet read) brought to the client; the state sent back as a
        value with no history, so the scheduler forgets the tasks behind it."""
        assert self._dog is not None and self._client is not None
        from distributed import futures_of

        open_costs = [c for c in (ref() for ref in self._costs) if c is not None and c.value is None]
        value, *costs = self._dog.fetch([futures_of(self._value)[0], *(c.future for c in open_costs)])
        for held, c in zip(open_costs, costs):
            held.resolve(c)
        fresh: Any = dask.delayed(value, traverse=False, name=f"portable-dnn-state-{uuid.uuid4().hex}")
        if not _host_arrays(value):  # GPU workers: the value is not the host's own kind of array
            fresh = dask.delayed(place_like)(fresh, self._meta)
        (self._value,) = self._persist(fresh)
        self._dog.done = self._last
        self._recent, self._costs, self._since_cut = [], [], 0

    def largest(self, step: Any) -> Any:
        # One task on the state as it is: no arrays, graphs or persists built around it.
        return dask.delayed(_largest)(step, self._value)

    def fetch(self, values: Sequence[Any]) -> list[float]:
        if self._dog is None:
            return [float(c) for c in compute(*values)]
        assert self._client is not None
        out: list[float] = [math.nan] * len(values)
        ask: list[tuple[int, Any]] = []
        for i, v in enumerate(values):
            if not isinstance(v, _Cost):
                ask.append((i, self._client.compute(v)))
            elif v.value is None:
                ask.append((i, v.future))
            else:
                out[i] = v.value
        for (i, _), got in zip(ask, self._dog.fetch([f for _, f in ask])):
            v = values[i]
            out[i] = v.resolve(got) if isinstance(v, _Cost) else float(got)
        if any(not isinstance(v, _Cost) for v in values):
            self._dog.done = self._last  # a value of the current state: every step is done
        return out

    @property
    def state(self) -> list[list[Any]]:  # type: ignore[override]  # built from the persisted value
        """The state as Dask arrays of one chunk each, persisted."""
        if self._state is None:
            arrays = [
                da.from_delayed(self._value[i][j], shape, dtype=dtype, meta=self._meta)
                for i, group in enumerate(self._like)
                for j, (shape, dtype) in enumerate(group)
            ]
            values = iter(self._persist(*arrays))
            self._state = [[next(values) for _ in group] for group in self._like]
        return self._state


def _host_arrays(state: list[list[Any]]) -> bool:
    return all(isinstance(a, np.ndarray) for group in state for a in group)


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


def _aligned(a: Any) -> Any:
    """``a``, copied to memory its item size divides where it is not.

    Distributed may unpack an array sent from another worker at any byte of
    its message. With such arrays, the same task on the same values gave
    results differing in the last bit, so mini-batch training on 2 workers
    ended differently in 3 of 8 runs; with the copies, in none of 12, and
    equal to NumPy's to the bit.
    """
    if isinstance(a, np.ndarray) and not a.flags.aligned:
        return np.array(a, copy=True)
    return a


def _chunk_grads(step: Any, state: list[list[Any]], X: Any, *rest: Any) -> Any:
    # Masks drawn on the host are NumPy chunks; they join X's library (CuPy on a GPU worker).
    xp = array_api_compat.array_namespace(X)
    params = [_aligned(a) for a in state[0]]
    chunk = [_aligned(X), *(_aligned(_into(xp, a)) for a in rest)]
    return step.with_ops(_ops_for(X, False)).gradients(params, *chunk)


def _update(step: Any, state: list[list[Any]], total: tuple[Any, list[Any]], hyper: tuple[float, ...]) -> Any:
    state = [[_aligned(a) for a in group] for group in state]
    cost, grads = total
    grads = [_aligned(g) for g in grads]
    return step.with_ops(_ops_for(state[0][0], True)).update(state, _aligned(cost), grads, hyper)


def _largest(step: Any, state: list[list[Any]]) -> Any:
    return _ops_for(state[0][0], False).largest(step.watched(state))


def _weight_shares(chunks: list[Any]) -> list[float]:
    """Each chunk's share of the batch's total weight (all 0 where the batch's weights are all zero)."""
    totals = [float(array_api_compat.array_namespace(w).sum(w)) for w in chunks]
    whole = sum(totals)
    return [t / whole if whole > 0 else 0.0 for t in totals]


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
