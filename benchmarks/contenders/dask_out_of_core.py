"""Out-of-core training on a memory-limited Dask cluster: peak worker memory and throughput.

Writes a synthetic Zarr store (features x examples, float64, chunked along the
examples; untimed) several times larger than one worker's memory limit, trains the
workload's network on it with :func:`portable_dnn.streaming.fit_out_of_core` on a
loopback ``LocalCluster`` of 1 or 2 worker processes, and reports with the time each
worker's peak resident memory (``ru_maxrss`` read inside the worker), whether any
worker was lost, and the examples per second.
"""

from __future__ import annotations

import atexit
import functools
import math
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..workloads import Workload
from . import Outcome, register


def make_store(path: str, n_x: int, m: int, chunk: int, seed: int = 0) -> str:
    """A Zarr store at ``path``:
    ``X`` (n_x, m) float64 in column chunks of ``chunk``, 0/1 labels ``Y`` (1, m).

    Written one chunk at a time (the store may exceed memory); the labels are a
    noisy linear rule of the features, so the network has something to learn.
    """
    import zarr

    rng = np.random.RandomState(seed)
    w = rng.randn(n_x)
    root = zarr.open_group(path, mode="w")
    X = root.create_array("X", shape=(n_x, m), chunks=(n_x, chunk), dtype="float64", compressors=None)
    Y = root.create_array("Y", shape=(1, m), chunks=(1, chunk), dtype="float64", compressors=None)
    for start in range(0, m, chunk):
        stop = min(start + chunk, m)
        block = rng.randn(n_x, stop - start)
        X[:, start:stop] = block
        Y[:, start:stop] = ((w @ block) / math.sqrt(n_x) + 0.3 * rng.randn(stop - start) > 0)[None, :] * 1.0
    return path


def _peak_rss() -> int:
    """This process's peak resident memory in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run(
    path: str,
    layers_dims: list[int],
    *,
    n_workers: int,
    memory_limit: str,
    num_epochs: int = 1,
    batch_chunks: int | None = None,
    learning_rate: float = 0.05,
) -> dict[str, Any]:
    """Train on ``path`` with a fresh loopback cluster; the figures as a dict."""
    from dask.utils import parse_bytes
    from distributed import Client, LocalCluster

    from portable_dnn.streaming import fit_out_of_core

    limit = parse_bytes(memory_limit)
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: another cluster may hold 8787
            memory_limit=memory_limit,
        ) as cluster,
        Client(cluster) as client,
    ):
        before = sorted(client.scheduler_info()["workers"])
        base = client.run(_peak_rss)
        start = time.perf_counter()
        parameters, history = fit_out_of_core(
            path,
            layers_dims,
            learning_rate=learning_rate,
            num_epochs=num_epochs,
            batch_chunks=batch_chunks or n_workers,
            scheduler=client,
        )
        seconds = time.perf_counter() - start
        peaks = client.run(_peak_rss)
        after = sorted(client.scheduler_info()["workers"])
    examples = sum(history["examples"])
    return {
        "workers": n_workers,
        "memory_limit_bytes": limit,
        "store_bytes": _store_bytes(path),
        "epochs": num_epochs,
        "examples": examples,
        "seconds": seconds,
        "examples_per_s": examples / seconds,
        "cost": history["cost"],
        "base_rss_bytes": sorted(base.values()),
        "peak_rss_bytes": sorted(peaks.values()),
        "workers_lost": before != after,
        "finite": bool(all(np.isfinite(np.asarray(v)).all() for v in parameters.values())),
        "parameters": parameters,
    }


def _store_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def prepare(n_workers: int, w: Workload, dtype: str, device: str) -> Callable[[], Outcome]:
    tmp = tempfile.mkdtemp(prefix="portable-dnn-bench-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    path = make_store(os.path.join(tmp, "data.zarr"), w.dims[0], w.m, w.params["chunk"])

    def train() -> Outcome:
        out = run(path, list(w.dims), n_workers=n_workers, memory_limit=w.params["memory_limit"],
                  num_epochs=w.steps, batch_chunks=w.params["batch_chunks"],
                  learning_rate=w.learning_rate)  # fmt: skip
        params = out.pop("parameters")
        layers = [(params[f"W{l}"], params[f"b{l}"]) for l in range(1, len(w.dims))]
        return Outcome(layers, out, trained=False, loss=out["cost"][-1])

    return train


for _n in (1, 2):
    register(f"dask[{_n} worker{'s' if _n > 1 else ''}]", ("dask_ooc",), needs=("distributed", "zarr"),
             library=True, devices=("cpu",))(functools.partial(prepare, _n))  # fmt: skip
