"""The training step on Dask: a task per chunk of the batch, one update task, the state persisted."""

from __future__ import annotations

import functools
import math
import uuid
import weakref
from collections.abc import Sequence
from typing import Any

import array_api_compat
import dask
import dask.array as da
import numpy as np

from .._numpy import NumpyOps
from ..base import Runner
from ..ops import Ops
from .scheduler import compute, current_watch
from .watchdog import Watch, Watchdog, check_memory


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
    the workers' memory (:func:`~.watchdog.check_memory`).
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
