"""The watch over a Dask cluster: waits with timeouts, and the memory a mini-batch needs.

Training on a cluster waits only through a :class:`Watchdog`, which raises
:class:`~portable_dnn.backend.ClusterError` when the scheduler cannot be
reached, when the cluster has had no usable worker (none, or all paused for
memory) for ``worker_timeout`` seconds, or when no step completed for
``step_timeout`` seconds (:class:`Watch`); :func:`check_memory` refuses, before
the first step, a mini-batch whose chunks cannot fit the workers' memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import dask

from ..base import ClusterError

#: Seconds without a completed step before training on a cluster gives up (:func:`use_scheduler`).
STEP_TIMEOUT = 300.0
#: Seconds the cluster may go without a usable worker (none, or all paused for memory).
WORKER_TIMEOUT = 60.0
#: Steps between two cuts of the state's lineage: at most this many are recomputed after a lost worker.
LINEAGE = 32

_POLL = 1.0  # seconds between two looks at the cluster while a step is awaited
_ASK = 5.0  # seconds the scheduler has to answer a question about its workers


@dataclasses.dataclass(frozen=True)
class Watch:
    """How training watches a cluster: see :func:`use_scheduler`."""

    step_timeout: float = STEP_TIMEOUT
    worker_timeout: float = WORKER_TIMEOUT
    lineage: int = LINEAGE


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
