"""Out-of-core training on a memory-limited Dask cluster: peak worker memory and throughput.

Writes a synthetic Zarr store (features x examples, float64, chunked along the
examples) several times larger than one worker's memory limit, trains the
course's network on it with :func:`portable_dnn.streaming.fit_out_of_core` on a
loopback ``LocalCluster`` of 1 and 2 worker processes, and reports each worker's
peak resident memory (``ru_maxrss`` read inside the worker), whether any worker
was lost, and the examples per second::

    python -m benchmarks.dask_out_of_core                     # 1 GiB store, 200 MiB workers
    python -m benchmarks.dask_out_of_core --gib 0.25 --workers 2 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import tempfile
import time
from typing import Any

import numpy as np


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
        "finite": bool(all(np.isfinite(np.asarray(v)).all() for v in _host(parameters))),
    }


def _host(parameters: dict[str, Any]) -> list[Any]:
    from portable_dnn.backend import to_numpy

    return [to_numpy(v) for v in parameters.values()]


def _store_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dask_out_of_core", description=__doc__)
    parser.add_argument("--gib", type=float, default=1.0, help="size of X in GiB (default 1)")
    parser.add_argument("--features", type=int, default=512)
    parser.add_argument("--chunk", type=int, default=4096, help="examples per chunk (default 4096: 16 MiB)")
    parser.add_argument("--memory-limit", default="200MiB", help="per worker (default 200MiB)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument(
        "--batch-chunks",
        type=int,
        help="chunks per mini-batch (default: one per worker); fix it to compare worker counts on one job",
    )
    parser.add_argument("--dir", help="where to write the store (default: a temporary folder)")
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    m = int(args.gib * 2**30 / (8 * args.features))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = os.path.join(tmp, "data.zarr")
        t = time.perf_counter()
        make_store(path, args.features, m, args.chunk)
        print(
            f"store: {_store_bytes(path) / 2**30:.2f} GiB, {m} examples, "
            f"written in {time.perf_counter() - t:.1f} s"
        )
        results = []
        for n in args.workers:
            r = run(
                path,
                [args.features, 20, 7, 5, 1],
                n_workers=n,
                memory_limit=args.memory_limit,
                num_epochs=args.epochs,
                batch_chunks=args.batch_chunks,
            )
            results.append(r)
            peaks = ", ".join(f"{p / 2**20:.0f}" for p in r["peak_rss_bytes"])
            print(
                f"{n} worker(s), limit {r['memory_limit_bytes'] / 2**20:.0f} MiB "
                f"(store {r['store_bytes'] / r['memory_limit_bytes']:.1f}x): peak RSS {peaks} MiB, "
                f"(base {[round(b / 2**20) for b in r['base_rss_bytes']]}), "
                f"lost workers: {r['workers_lost']}, {r['examples_per_s']:.0f} examples/s "
                f"({r['seconds']:.1f} s), costs {[round(c, 4) for c in r['cost']]}"
            )
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
