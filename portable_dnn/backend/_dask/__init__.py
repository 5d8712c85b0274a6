"""Dask: the training step as a task per chunk, the scheduler, on-disk stores, a watch over the cluster.

Imported only for the ``"dask"`` backend. Dask arrays are lazy: every training
step would add the step's tasks to the parameters' graph, so :class:`DaskRunner`
runs a step as a few tasks and persists the new state after each, which keeps
it one already-computed value (a future on a distributed cluster).

Its parts: :mod:`.scheduler` (which scheduler computes: Dask's own choice
unless :func:`~.scheduler.use_scheduler` names one), :mod:`.watchdog` (waits on
a cluster with timeouts), :mod:`.runner` (:class:`DaskRunner`) and
:mod:`.stores` (Zarr and HDF5 stores as Dask arrays).

On a distributed cluster the runner also

* cuts the state's lineage: every ``lineage`` steps (:data:`~.watchdog.LINEAGE`) the state
  is brought to the client and sent back as a value with no history, so the
  scheduler keeps at most that many steps of tasks, and a lost worker costs
  at most that many steps of recomputation;
* waits only with timeouts, and raises :class:`~portable_dnn.backend.ClusterError` when the
  scheduler cannot be reached, when the cluster has had no usable worker (none,
  or all paused for memory) for ``worker_timeout`` seconds, or when no step
  completed for ``step_timeout`` seconds;
* refuses, before its first step, a mini-batch whose chunks cannot fit the
  workers' memory, and names the chunk size that would.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dask
import numpy as np

from ..base import Backend
from .runner import DaskRunner
from .scheduler import compute, current_client, parallelism, persist, use_scheduler
from .stores import column_blocks, open_store

#: On a cluster, data above this size is split into one chunk per worker thread
#: (below it the per-task overhead outweighs the parallel products).
SPLIT_BYTES = 4 * 2**20


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
        from .. import to_numpy  # the computed value's own library brings it home (CuPy chunks too)

        return to_numpy(compute(x)[0])

    def prepare_examples(self, X: Any, Y: Any, *more: Any) -> tuple[Any, ...]:
        return split_examples(X, Y, *more)

    def known_sizes(self, x: Any) -> Any:
        if any(math.isnan(size) for sizes in x.chunks for size in sizes):
            x = x.copy()  # a new array object: the caller's keeps its unknown sizes
            x.compute_chunk_sizes()
        return x

    def runner(
        self, step: Any, state: list[list[Any]], same_batch: bool = False, cuda_graph: Any = "auto"
    ) -> Any:
        super().runner(step, state, same_batch, cuda_graph)  # refuses cuda_graph=True
        client = current_client()
        return DaskRunner(step, state, in_flight=2 if client is not None else None, client=client)

    def quiet_float_errors(self) -> Any:
        return _quiet_everywhere()

    def cut_graph(self, *arrays: Any) -> tuple[Any, ...]:
        return persist(*arrays)

    def scheduler(self, scheduler: Any, func: str = "--scheduler", **watch: Any) -> Any:
        return use_scheduler(scheduler, func, **watch)

    def open_store(self, path: str, x: str, y: str, func: str) -> tuple[Any, Any]:
        return open_store(path, x, y, func)

    def column_chunks(self, A: Any) -> tuple[int, ...]:
        return tuple(A.chunks[-1])

    def column_blocks(self, A: Any, index: Sequence[int]) -> Any:
        return column_blocks(A, index)

    def checked_when_read(self, X: Any, check: Callable[[Any, tuple[int, int] | None], None]) -> Any:
        return X.map_blocks(_checked_block, check, dtype=X.dtype, meta=X._meta)


@contextlib.contextmanager
def _quiet_everywhere() -> Iterator[None]:
    # Dask runs NumPy on its scheduler's threads, which do not inherit np.errstate:
    # silence the warnings themselves (the filters are process-wide) as well.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", r"(overflow|invalid value|divide by zero) encountered", RuntimeWarning
        )
        yield


def _checked_block(
    chunk: Any, check: Callable[[Any, tuple[int, int] | None], None], block_info: Any = None
) -> Any:
    columns = None
    if block_info and None in block_info:
        columns = block_info[None]["array-location"][-1]
    check(chunk, columns)
    return chunk
