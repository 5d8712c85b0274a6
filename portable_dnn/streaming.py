"""Beyond one machine: training on Dask arrays, on a cluster, from data larger than memory.

The ``"dask"`` backend runs the engine's training step (:mod:`portable_dnn.engine`)
on Dask arrays chunked along the examples: each step is one task per chunk of
examples (the same Array API code on the chunk's own arrays) whose gradients
are summed, in the chunks' order, before one update task, and the new state
is persisted, so the task graph does not grow with the steps and a run gives
the same result every time, full batch or mini-batches. Which scheduler
computes is Dask's choice: a ``distributed.Client`` you created, else local
threads; :func:`use_scheduler` names one for a block::

    from distributed import Client
    from portable_dnn import L_layer_model
    from portable_dnn.streaming import use_scheduler

    with Client("tcp://10.0.0.5:8786") as client, use_scheduler(client):
        parameters, costs = L_layer_model(X, Y, [12288, 20, 7, 5, 1], backend="dask")

:func:`~portable_dnn.L_layer_model`, :func:`~portable_dnn.fit` and
:func:`fit_out_of_core` all run that step. :func:`fit_out_of_core` trains by
mini-batch gradient descent on a Zarr or HDF5 store read one chunk at a time,
so the data never has to fit in memory.

What a cluster does to training, and what follows:

* A lost worker (killed, out of memory, its machine gone) is survived, any
  number of times, one after another: the scheduler recomputes what the
  worker held on the workers left, and a worker's nanny starts a new one
  (:func:`use_scheduler` makes the Client current without putting it into
  Dask's configuration, which every new worker process receives). The result
  is the one an undisturbed run gives, bit for bit: the recomputed tasks are
  the same tasks on the same values.
* The recomputation is bounded: every ``lineage`` steps (32 by default) the
  state is brought to the client and sent back as a plain value, so the
  scheduler forgets the tasks behind it. It holds at most that many steps of
  tasks however long training runs, and a lost worker costs at most that many
  steps again.
* What cannot be survived ends in one :class:`ClusterError` (a
  ``RuntimeError``) that says what happened, names the scheduler's address
  and the last step known to be complete (``.step``), never in a hang: the
  scheduler lost or unreachable (raised within a second or two of the loss),
  no usable worker for ``worker_timeout`` seconds (none at all, or every one
  paused for memory: their memory use is named), no step completed for
  ``step_timeout`` seconds, or a task that killed every worker that ran it.
  Every wait in the block has a timeout, the checks of the data included. A
  scheduler is a single point of failure in Dask: training does not outlive
  it; resume from a checkpoint (the command line's ``--checkpoint-every`` and
  ``--resume``, or :func:`~portable_dnn.fit`'s ``checkpoint`` and ``resume``).
* A mini-batch whose chunks cannot fit the workers' memory is refused before
  its first step, with a ``ValueError`` naming the chunk size that would fit:
  each chunk's task needs its arrays and about four values per unit of the
  network and example, a worker runs as many at once as it has threads and
  pauses at ``distributed.worker.memory.pause`` (80%) of its memory limit,
  and a mini-batch's data must fit all the workers together.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from ._checks import check_count, check_layer_dims, check_positive_float, check_store
from .backend import ClusterError, get_backend, host_random_state
from .callbacks import PrintCost
from .data import working_dtype
from .engine import Network, new_state
from .initialization import INITS, initialize_parameters_deep
from .optim import GD
from .prepare import PreparedRun
from .run import train
from .schedules import Constant

__all__ = ["ClusterError", "fit_out_of_core", "use_scheduler"]


@contextlib.contextmanager
def use_scheduler(
    scheduler: Any = None,
    *,
    step_timeout: float | None = None,
    worker_timeout: float | None = None,
    lineage: int | None = None,
) -> Iterator[Any]:
    """Compute Dask arrays with ``scheduler`` inside the block; yields the ``Client`` (or None).

    ``scheduler`` is a ``distributed.Client``, a scheduler address such as
    ``"tcp://10.0.0.5:8786"`` (connected for the block, closed after it),
    ``"threads"`` or ``"synchronous"`` (Dask's local schedulers), or None for
    Dask's default: the ``Client`` created last, else local threads. A Client
    is made current with ``client.as_current()``; it is never put into Dask's
    configuration, which the cluster hands to each worker process it starts.

    On a cluster, inside the block (defaults in brackets):

    * ``step_timeout`` [300 s]: no training step completed for this long
      raises :class:`ClusterError`;
    * ``worker_timeout`` [60 s]: the cluster without a usable worker (none at
      all, or every one paused for memory) for this long raises :class:`ClusterError`;
    * ``lineage`` [32]: every this many steps the state is brought to the
      client and sent back as a plain value, so the scheduler forgets the
      tasks behind it; a lost worker costs at most this many steps of recomputation.

    >>> from portable_dnn.training import L_layer_model
    >>> from portable_dnn.datasets import default_dataset
    >>> X, Y, _, _ = default_dataset()
    >>> with use_scheduler("synchronous"):
    ...     params, costs = L_layer_model(X, Y, [2, 4, 1], num_iterations=2, backend="dask")
    >>> round(float(costs[0]), 6)
    0.778117
    """
    func = "use_scheduler"
    if step_timeout is not None:
        step_timeout = check_positive_float(func, "step_timeout", step_timeout)
    if worker_timeout is not None:
        worker_timeout = check_positive_float(func, "worker_timeout", worker_timeout)
    if lineage is not None:
        lineage = check_count(func, "lineage", lineage, 1)
    with get_backend("dask").scheduler(
        scheduler, func=func, step_timeout=step_timeout, worker_timeout=worker_timeout, lineage=lineage
    ) as client:
        yield client


def fit_out_of_core(
    path: str,
    layers_dims: Sequence[int],
    *,
    x: str = "X",
    y: str = "Y",
    learning_rate: float = 0.0075,
    num_epochs: int = 1,
    batch_chunks: int = 1,
    seed: int = 0,
    init: str = "xavier",
    init_seed: int = 1,
    dtype: Any = None,
    scheduler: Any = None,
    print_cost: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mini-batch gradient descent on a store too large for memory; returns ``(parameters, history)``.

    ``path`` is a Zarr store (a directory) or an HDF5 file (``.h5``/``.hdf5``)
    holding ``x``, the features ``(n_x, m)`` chunked along the examples, and
    ``y``, the 0/1 labels ``(1, m)`` or ``(m,)``. The network is the course's
    [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID (``layers_dims``, weights from
    ``initialize_parameters_deep(layers_dims, init=init, seed=init_seed)``).

    Each epoch visits every chunk once, in the order of
    ``RandomState(seed + epoch).permutation(number of chunks)``; a mini-batch
    is ``batch_chunks`` consecutive chunks of that order (their gradients are
    computed in parallel on a cluster). A chunk is read when its mini-batch
    runs and dropped after it, and at most two mini-batches are in flight, so
    a worker holds a few chunks at a time whatever the size of the store.
    ``scheduler`` is as for :func:`use_scheduler`.

    ``history["cost"]`` holds each epoch's size-weighted mean of the mini-batch
    costs, ``history["examples"]`` the examples seen per epoch. ``parameters``
    are Dask arrays of one chunk each (``to_numpy`` brings them home).

    >>> import numpy as np, zarr, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "data.zarr")
    >>> root = zarr.open_group(path, mode="w")
    >>> X = np.random.RandomState(0).randn(3, 400)
    >>> _ = root.create_array("X", data=X, chunks=(3, 100))  # 4 chunks of 100 examples
    >>> _ = root.create_array("Y", data=(X[:1] > 0) * 1.0, chunks=(1, 100))
    >>> params, history = fit_out_of_core(path, [3, 4, 1], learning_rate=0.5, num_epochs=20)
    >>> history["examples"][0], history["cost"][-1] < history["cost"][0]
    (400, True)
    """
    func = "fit_out_of_core"
    dims = check_layer_dims(func, layers_dims, name="layers_dims")
    if dims[-1] != 1:
        raise ValueError(f"{func}: the sigmoid output needs layers_dims[-1] = 1, got {dims[-1]}")
    if init not in INITS:
        raise ValueError(f"{func}: init must be one of {', '.join(map(repr, INITS))}, got {init!r}")
    lr = check_positive_float(func, "learning_rate", learning_rate)
    num_epochs = check_count(func, "num_epochs", num_epochs, 1)
    batch_chunks = check_count(func, "batch_chunks", batch_chunks, 1)
    seed = check_count(func, "seed", seed)
    be = get_backend("dask")
    xp = be.xp

    with be.scheduler(scheduler, func=func):
        X, Y = be.open_store(path, x, y, func=func)
        if X.shape[0] != dims[0]:
            raise ValueError(
                f"{func}: {x!r} has {X.shape[0]} features but layers_dims[0] is {dims[0]} ({path!r})"
            )
        float_dtype = working_dtype(xp, X, dtype)
        X, Y = xp.astype(X, float_dtype), xp.astype(Y, float_dtype)
        X = check_store(func, xp, X, Y, path, x, y)  # labels 0/1 now; X's values in each chunk's task
        parameters = initialize_parameters_deep(
            dims, init=init, seed=init_seed, backend=be, dtype=float_dtype
        )
        sizes = be.column_chunks(X)
        examples: list[int] = []

        def batches(epoch: int) -> Iterator[tuple[tuple[Any, Any], int]]:
            order = host_random_state(seed + epoch).permutation(len(sizes)).tolist()
            examples.append(0)
            for k in range(0, len(order), batch_chunks):
                index = order[k : k + batch_chunks]
                m_b = sum(sizes[i] for i in index)
                examples[-1] += m_b
                yield (be.column_blocks(X, index), be.column_blocks(Y, index)), m_b

        gd = GD()
        prepared = PreparedRun(
            func, be, float_dtype, dims, Network("relu", "sigmoid"), gd, X, Y, None, None, None, None, None,
            state=new_state(be.ops(float_dtype), parameters, gd), rate=Constant(learning_rate=lr),
            num_epochs=num_epochs, seed=seed,
        )  # fmt: skip
        trained, history = train(prepared, [PrintCost(every=1)] if print_cost else [], batches=batches)
        host = {key: be.to_host(value) for key, value in trained.items()}
    result = {key: be.asarray(value) for key, value in host.items()}
    return result, {"cost": history["cost"], "examples": examples}
