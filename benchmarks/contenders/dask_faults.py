"""Training through cluster faults on a loopback Dask cluster: what each fault costs and how it ends.

Trains a small network on the embedded data (4 chunks of 100 examples,
mini-batches of one chunk: 4 steps an epoch) on a ``LocalCluster`` of 2
single-threaded worker processes on 127.0.0.1. Contenders:

* ``lineage[32]`` / ``lineage[none]``: the default ``lineage`` cut and no cut at
  all, undisturbed: seconds per step and the scheduler's task count at the end;
  ``[.., killed]``: both workers killed at once after an epoch: how many steps
  were computed again and whether the result still equals NumPy's;
* faults that training cannot outlive, the error each ends in and the seconds
  from the fault to the error: ``scheduler_killed`` (a ``dask scheduler``
  process), ``no_workers`` (``worker_timeout=2``), ``thread_taken`` (the only
  worker thread busy, ``step_timeout=3``).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..workloads import WORKLOADS, Workload
from . import Outcome, register


def worker_env() -> dict[str, str]:
    """Worker processes import the package this process imports (under ``--ref``, the other
    commit's): the parent of its folder, not resolved, is the tree the harness put first."""
    import portable_dnn

    tree = str(Path(portable_dnn.__file__).parent.parent)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [tree, os.environ.get("PYTHONPATH")]))}


_W = WORKLOADS["dask_faults"]
RUN: dict[str, Any] = dict(
    optimizer=_W.optimizer, learning_rate=_W.learning_rate, batch_size=_W.batch, seed=3
)


@contextlib.contextmanager
def local_cluster(n_workers: int = 2, **kwargs: Any) -> Any:
    """A loopback LocalCluster of single-threaded worker processes, each under a nanny that
    restarts it, and a Client of it (not the default one): yields ``(cluster, client)``."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            env=worker_env(),
            **kwargs,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        yield cluster, client


@contextlib.contextmanager
def process_cluster(directory: str | Path, n_workers: int = 2) -> Iterator[tuple[str, subprocess.Popen]]:
    """``dask scheduler`` and ``n_workers`` ``dask worker`` processes (one thread and 1 GiB each)
    on 127.0.0.1, with no nanny: a killed one stays dead. Yields ``(address, scheduler process)``
    and stops every process on the way out."""
    file = Path(directory) / "scheduler.json"
    py = sys.executable
    quiet: dict[str, Any] = dict(
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **worker_env()}
    )
    scheduler = subprocess.Popen(
        [py, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0"]
        + ["--no-dashboard", "--scheduler-file", str(file)],
        **quiet,
    )
    procs = [scheduler]
    try:
        deadline = time.monotonic() + 30
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        for _ in range(n_workers):
            procs.append(
                subprocess.Popen(
                    [py, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1"]
                    + ["--host", "127.0.0.1", "--no-dashboard", "--memory-limit", "1GiB"],
                    **quiet,
                )
            )
        yield address, scheduler
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=15)


def _data() -> tuple[Any, ...]:
    import dask.array as da

    from portable_dnn.datasets import default_dataset

    X, Y, _, _ = default_dataset()
    return X, Y, da.from_array(X, chunks=(2, 100)), da.from_array(Y, chunks=(1, 100))


def lineage_row(lineage: int, kill_at_epoch: int | None, epochs: int) -> tuple[dict[str, Any], Any]:
    """One run of ``epochs`` epochs (4 steps each); with ``kill_at_epoch``, both workers killed after
    that epoch. The figures, and the parameters trained."""
    from distributed.diagnostics.plugin import SchedulerPlugin
    from distributed.utils import key_split

    import portable_dnn as dnn
    from portable_dnn.backend import to_numpy
    from portable_dnn.streaming import use_scheduler

    class Updates(SchedulerPlugin):
        def __init__(self) -> None:
            self.runs: dict[Any, int] = {}

        def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
            if finish == "memory" and key_split(key) == "update":
                self.runs[key] = self.runs.get(key, 0) + 1

    X, Y, Xd, Yd = _data()
    updates = Updates()
    with local_cluster() as (cluster, client):
        cluster.scheduler.add_plugin(updates, name="updates")

        def callback(epoch: int, params: Any, history: Any) -> None:
            if epoch == kill_at_epoch:
                for pid in client.run(os.getpid).values():
                    os.kill(pid, signal.SIGKILL)

        start = time.perf_counter()
        with use_scheduler(client, lineage=lineage):
            params, _ = dnn.fit(Xd, Yd, list(_W.dims), callback=callback, num_epochs=epochs, **RUN)
            host = {k: to_numpy(v) for k, v in params.items()}
        seconds = time.perf_counter() - start
        time.sleep(0.5)
        tasks = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
    reference, _ = dnn.fit(X, Y, list(_W.dims), backend="numpy", num_epochs=epochs, **RUN)
    steps = 4 * epochs
    row = {
        "killed_after_step": None if kill_at_epoch is None else 4 * (kill_at_epoch + 1),
        "steps": steps,
        "seconds": round(seconds, 2),
        "seconds_per_step": round(seconds / steps, 4),
        "tasks_at_end": tasks,
        "steps_computed_again": sum(n - 1 for n in updates.runs.values()),
        "max_abs_diff_from_numpy": max(float(np.max(np.abs(reference[k] - host[k]))) for k in host),
    }
    return row, host


def _expect_cluster_error(train: Any, fault_at: list[float]) -> tuple[str, float]:
    from portable_dnn.streaming import ClusterError

    try:
        train()
    except ClusterError as exc:
        return str(exc), time.monotonic() - fault_at[0]
    return "no error", float("nan")


def _until_error(
    target: Any, fault: Callable[[], Any], at: int, workers: int, **options: Any
) -> dict[str, Any]:
    """Train on the cluster at ``target`` until it fails, ``fault()`` called at iteration ``at``:
    the error training ends in, and the seconds from the fault to it."""
    import portable_dnn as dnn
    from portable_dnn.streaming import use_scheduler

    _, _, Xd, Yd = _data()
    when: list[float] = []

    def callback(state: Any) -> None:
        if state.iteration == at:
            fault()
            when.append(time.monotonic())

    def train() -> None:
        with use_scheduler(target, **options) as client:
            client.wait_for_workers(workers, timeout=60)
            dnn.L_layer_model(Xd, Yd, [2, 5, 1], num_iterations=10**6, callback=callback)

    message, seconds = _expect_cluster_error(train, when)
    return {"seconds_to_error": round(seconds, 2), "error": message}


def scheduler_row() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, process_cluster(tmp) as (address, scheduler):
        return _until_error(address, scheduler.kill, 20, 2)


def no_workers_row() -> dict[str, Any]:
    with local_cluster(1) as (cluster, client):
        return _until_error(client, lambda: cluster.scale(0), 3, 1, worker_timeout=2)


def stalled_row() -> dict[str, Any]:
    import portable_dnn as dnn
    from portable_dnn.streaming import use_scheduler

    _, _, Xd, Yd = _data()
    with local_cluster(1) as (_, client):
        busy = client.submit(time.sleep, 30, pure=False)
        start = [time.monotonic()]

        def train() -> None:
            with use_scheduler(client, step_timeout=3):
                dnn.L_layer_model(Xd, Yd, [2, 5, 1], num_iterations=10)

        message, seconds = _expect_cluster_error(train, start)
        del busy
    return {"seconds_to_error": round(seconds, 2), "error": message}


def _lineage(lineage: int, killed: bool, w: Workload, dtype: str, device: str) -> Callable[[], Outcome]:
    def run() -> Outcome:
        kill = w.params["kill_after_epoch"] if killed else None
        row, params = lineage_row(lineage, kill, w.params["epochs"])
        layers = [(params[f"W{l}"], params[f"b{l}"]) for l in range(1, len(w.dims))]
        return Outcome(layers, row, trained=False)

    return run


def _fault(row: Callable[[], dict[str, Any]], w: Workload, dtype: str, device: str) -> Callable[[], Outcome]:
    return lambda: Outcome(None, row())


_OPTIONS: dict[str, Any] = dict(needs=("distributed",), library=True, devices=("cpu",))
for _name, _lineage_value in (("32", 32), ("none", 10**9)):
    register(f"lineage[{_name}]", ("dask_faults",), **_OPTIONS)(
        functools.partial(_lineage, _lineage_value, False)
    )
    register(f"lineage[{_name}, killed]", ("dask_faults",), **_OPTIONS)(
        functools.partial(_lineage, _lineage_value, True)
    )
for _name, _row in (("scheduler_killed", scheduler_row), ("no_workers", no_workers_row),
                    ("thread_taken", stalled_row)):  # fmt: skip
    register(_name, ("dask_faults",), **_OPTIONS)(functools.partial(_fault, _row))
