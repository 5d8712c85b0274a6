"""Training on a Dask cluster through what clusters do: lost workers, a lost scheduler, no workers,
a stalled step, too little memory; the state's lineage stays bounded.

Every cluster here listens on 127.0.0.1 only. Each test is bounded in time
(``bounded``); the code under test waits only with timeouts, so a fault ends
in an error, not a hang. Skipped where dask, distributed or zarr are missing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

pytestmark = pytest.mark.library

import portable_dnn as dnn  # noqa: E402
from portable_dnn.backend import to_numpy  # noqa: E402
from portable_dnn.backend._dask.scheduler import current_client  # noqa: E402
from portable_dnn.backend._dask.watchdog import Watch, Watchdog, check_memory  # noqa: E402
from portable_dnn.cli import main  # noqa: E402
from portable_dnn.datasets import default_dataset  # noqa: E402
from portable_dnn.streaming import ClusterError, fit_out_of_core, use_scheduler  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.contenders.dask_faults import local_cluster, process_cluster  # noqa: E402

from .compare import largest_difference  # noqa: E402

LIMIT_S = 150  # no test here may run longer


@pytest.fixture(autouse=True)
def bounded():
    """Fails a test that runs past LIMIT_S instead of letting it hang the session."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"the test ran past {LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(LIMIT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _chunked_moons(chunk=100):
    """The embedded dataset, and as Dask arrays of column chunks (4 of 100 examples)."""
    X, Y, _, _ = default_dataset()
    return X, Y, dask.array.from_array(X, chunks=(2, chunk)), dask.array.from_array(Y, chunks=(1, chunk))


def _worker_pids(client):
    """{worker address: pid} of the worker processes (the nannies' children)."""
    return client.run(os.getpid)


def _tasks(client):
    """The scheduler's task count, once the client's releases have reached it."""
    time.sleep(0.5)
    return client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))


# ------------------------------------------------------------ lost workers


def test_two_workers_lost_one_after_the_other_fit_equals_numpy():
    """Both workers killed in turn during fit; their nannies restart them and training ends as on NumPy."""
    X, Y, Xd, Yd = _chunked_moons()
    run = dict(optimizer="adam", learning_rate=0.01, batch_size=100, num_epochs=24, seed=1)
    with local_cluster(2) as (_, client):
        first = _worker_pids(client)
        killed, times = [], []

        def callback(epoch, params, history):
            if epoch in (4, 12):
                pid = next(p for p in sorted(first.values()) if p not in killed)
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                times.append(time.monotonic())

        start = time.monotonic()
        with use_scheduler(client):
            params, history = dnn.fit(Xd, Yd, [2, 6, 1], callback=callback, **run)
            host = {k: to_numpy(v) for k, v in params.items()}
        elapsed = time.monotonic() - start
        client.wait_for_workers(2, timeout=30)  # both back, restarted by their nannies
        assert not set(first.values()) & set(_worker_pids(client).values())
    assert len(killed) == 2
    reference, expected = dnn.fit(X, Y, [2, 6, 1], backend="numpy", **run)
    assert largest_difference(reference, host) < 1e-12
    np.testing.assert_allclose(history["cost"], expected["cost"], rtol=0, atol=1e-12)
    assert elapsed < 120, f"training took {elapsed:.1f} s"


def test_lost_worker_of_separate_processes_is_survived(tmp_path):
    """``dask worker`` processes of a ``dask scheduler`` process: one killed, training ends as on NumPy."""
    X, Y, Xd, Yd = _chunked_moons()
    run = dict(num_iterations=40, learning_rate=0.3)
    with process_cluster(tmp_path) as (address, _), use_scheduler(address) as client:
        client.wait_for_workers(2, timeout=60)
        pids = _worker_pids(client)
        killed = []

        def callback(state):
            if state.iteration == 10:
                os.kill(min(pids.values()), signal.SIGKILL)
                killed.append(time.monotonic())

        got, costs = dnn.L_layer_model(Xd, Yd, [2, 5, 1], backend="dask", callback=callback, **run)
        host = {k: to_numpy(v) for k, v in got.items()}
        after = time.monotonic() - killed[0]
    ref, ref_costs = dnn.L_layer_model(X, Y, [2, 5, 1], backend="numpy", **run)
    assert largest_difference(ref, host) < 1e-12
    np.testing.assert_allclose(costs, ref_costs, rtol=0, atol=1e-12)
    assert after < 90


def test_a_cluster_scaled_inside_the_block_starts_its_workers():
    """The Client is made current, not put into Dask's configuration, which new worker processes receive."""
    with local_cluster(1) as (cluster, client), use_scheduler(client):
        assert current_client() is client
        assert "Client" not in type(dask.config.get("scheduler", None)).__name__
        cluster.scale(2)
        client.wait_for_workers(2, timeout=60)


# ------------------------------------------------------------ the scheduler


def test_lost_scheduler_raises_naming_it_within_seconds(tmp_path):
    X, Y, Xd, Yd = _chunked_moons()
    with process_cluster(tmp_path) as (address, scheduler):
        killed = []

        def callback(state):
            if state.iteration == 5:
                scheduler.kill()
                killed.append(time.monotonic())

        with pytest.raises(ClusterError) as info, use_scheduler(address) as client:
            client.wait_for_workers(2, timeout=60)
            dnn.L_layer_model(Xd, Yd, [2, 5, 1], num_iterations=100_000, backend="dask", callback=callback)
        after = time.monotonic() - killed[0]
    assert after < 20, f"the error came {after:.1f} s after the scheduler was lost"
    message = str(info.value)
    assert f"the scheduler at {address} is unreachable" in message
    assert "stopped after step " in message and info.value.address == address
    assert info.value.step is not None and 3 <= info.value.step <= 6


def test_cli_reports_a_lost_scheduler_in_one_line_and_keeps_its_checkpoint(tmp_path, capfd):
    out, ckpt = tmp_path / "m.npz", tmp_path / "m.ckpt.npz"
    with process_cluster(tmp_path) as (address, scheduler):
        done = []

        def kill_after_a_checkpoint():
            deadline = time.monotonic() + 90
            while not ckpt.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            scheduler.kill()
            done.append(time.monotonic())

        killer = threading.Thread(target=kill_after_a_checkpoint, daemon=True)
        killer.start()
        args = ["train", "--backend", "dask", "--scheduler", address, "--iterations", "100000"]
        status = main([*args, "--checkpoint-every", "10", "--out", str(out), "--quiet"])
        after = time.monotonic() - done[0]
        killer.join(timeout=5)
    assert status == 1 and after < 20
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"portable-dnn: error: training on the Dask cluster at {address} stopped after")
    assert f"the scheduler at {address} is unreachable" in err[0]
    assert f"the last checkpoint is kept in {ckpt}" in err[0]
    assert ckpt.exists() and not out.exists()
    assert dnn.load_metadata(str(ckpt))["metadata"]["iterations"] % 10 == 0


# ------------------------------------------------------------ no progress


def test_no_workers_left_raises_instead_of_hanging():
    X, Y, Xd, Yd = _chunked_moons()
    with local_cluster(1) as (cluster, client):
        gone = []

        def callback(state):
            if state.iteration == 3:
                cluster.scale(0)
                gone.append(time.monotonic())

        with pytest.raises(ClusterError, match=r"after step \d+: no workers left") as info:
            with use_scheduler(client, worker_timeout=2):
                dnn.L_layer_model(Xd, Yd, [2, 5, 1], num_iterations=1000, backend="dask", callback=callback)
        after = time.monotonic() - gone[0]
    assert info.value.step is not None and after < 20


def test_a_stalled_step_raises_after_step_timeout():
    """The only worker thread is busy elsewhere: no step can complete."""
    X, Y, Xd, Yd = _chunked_moons()
    with local_cluster(1) as (_, client):
        busy = client.submit(time.sleep, 60, pure=False)
        start = time.monotonic()
        with pytest.raises(ClusterError, match=r"before the first step completed: no step completed in 3 s"):
            with use_scheduler(client, step_timeout=3):
                dnn.L_layer_model(Xd, Yd, [2, 5, 1], num_iterations=10, backend="dask")
        assert time.monotonic() - start < 20
        del busy


def test_paused_workers_are_named():
    class Client:
        class scheduler:
            address = "tcp://127.0.0.1:8786"

    dog = Watchdog(Client(), Watch(worker_timeout=10))
    worker = {"status": "paused", "memory_limit": 2**30, "metrics": {"memory": 900 * 2**20}}
    dog.identity = lambda: {"workers": {"a": {**worker, "name": "a"}, "b": {**worker, "name": "b"}}}
    dog.done = 7
    now = time.monotonic()
    assert dog._look(now, None, now) == now  # paused since now: not yet an error
    with pytest.raises(
        ClusterError, match=r"after step 7: 2 of 2 workers paused for memory \(a at 900 MiB of"
    ):
        dog._look(now, now - 11, now)


def test_watch_settings_are_checked():
    with pytest.raises(ValueError, match="use_scheduler: step_timeout must be a positive finite number"):
        with use_scheduler("synchronous", step_timeout=0):
            pass
    with pytest.raises(TypeError, match="use_scheduler: lineage must be an integer >= 1"):
        with use_scheduler("synchronous", lineage=2.5):
            pass


# ------------------------------------------------------------ bounded lineage


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded workers of 400 MiB each, kept for the module."""
    with local_cluster(2, memory_limit="400MiB") as (_, client):
        yield client


def _task_counts(client, **watch):
    _, _, Xd, Yd = _chunked_moons()
    counts = []

    def callback(epoch, params, history):
        counts.append(_tasks(client))

    with use_scheduler(client, **watch):
        dnn.fit(Xd, Yd, [2, 6, 1], optimizer="adam", batch_size=100, num_epochs=8, callback=callback)
    return counts


def test_scheduler_task_count_stays_flat_over_a_long_run(cluster):
    """Cut every epoch (4 steps): the tasks the scheduler keeps do not grow with the steps."""
    counts = _task_counts(cluster, lineage=4)
    assert counts[-1] <= 1.5 * counts[0], counts
    uncut = _task_counts(cluster, lineage=10**6)
    assert uncut[-1] >= 3 * uncut[0], uncut  # what the cuts prevent: every step's tasks kept


def test_full_batch_on_a_cluster_is_reproducible(cluster):
    _, _, Xd, Yd = _chunked_moons(chunk=70)  # 6 chunks over 2 workers
    runs = []
    with use_scheduler(cluster):
        for _ in range(2):
            params, costs = dnn.L_layer_model(Xd, Yd, [2, 7, 1], num_iterations=60, learning_rate=0.3)
            runs.append(({k: to_numpy(v) for k, v in params.items()}, costs))
    (a, costs_a), (b, costs_b) = runs
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert [float(c) for c in costs_a] == [float(c) for c in costs_b]


# ------------------------------------------------------------ memory


def _empty_store(path, n_x, m, chunk):
    """A Zarr store of zeros that holds no chunk: nothing is written, reads give the fill value."""
    root = zarr.open_group(str(path), mode="w")
    root.create_array("X", shape=(n_x, m), chunks=(n_x, chunk), dtype="float64", fill_value=0.0)
    root.create_array("Y", shape=(1, m), chunks=(1, chunk), dtype="float64", fill_value=0.0)
    return str(path)


def test_mini_batch_too_large_for_the_workers_is_refused_before_training(cluster, tmp_path, monkeypatch):
    from portable_dnn.backend._dask.runner import DaskRunner

    steps = []
    call = DaskRunner.__call__

    def spy(self, batch, hyper):
        steps.append(hyper)
        return call(self, batch, hyper)

    monkeypatch.setattr(DaskRunner, "__call__", spy)
    store = _empty_store(tmp_path / "z.zarr", 100, 800_000, 100_000)  # 8 chunks of 81 MB of data
    with pytest.raises(
        ValueError,
        match=r"a chunk of 100000 examples needs about \d+ MiB .* use chunks of at most (\d+) examples",
    ):  # noqa: E501
        fit_out_of_core(store, [100, 2000, 1], scheduler=cluster)  # 6.5 GB of activations a chunk
    with pytest.raises(
        ValueError, match=r"a mini-batch of 8 chunks \(800000 examples\) holds about 616 MiB of data"
    ):  # noqa: E501
        fit_out_of_core(store, [100, 1], batch_chunks=8, scheduler=cluster)
    assert len(steps) == 2  # each refused at its first step, before any task of it ran


def test_memory_check_names_the_chunk_size_that_fits():
    worker = {"name": "w", "memory_limit": 1000 * 2**20, "nthreads": 2, "metrics": {"memory": 100 * 2**20}}
    # Room before pausing: 80% of 1000 MiB, less 100 MiB: 700 MiB, for 2 chunks at once.
    check_memory([worker], [1000] * 4, 2**10, 2**10)  # 2 MiB a chunk: fits
    with pytest.raises(ValueError, match=r"worker w runs 2 at once in the 700 MiB .* at most 175 examples"):
        check_memory([worker], [1000] * 4, 2**20, 2**20)
    with pytest.raises(
        ValueError, match="holds about 800 MiB of data, more than the 700 MiB that 1 worker can hold"
    ):
        check_memory([worker], [100] * 8, 2**20, 0)
    check_memory([{**worker, "memory_limit": 0}], [10**9], 2**20, 2**20)  # no limit: nothing to check


def test_a_lost_cluster_recomputes_at_most_lineage_steps():
    """Both workers lost at once after step 36, last cut at step 32: at most 8 steps run again."""
    from distributed.diagnostics.plugin import SchedulerPlugin
    from distributed.utils import key_split

    class Updates(SchedulerPlugin):
        """How many times each update task was computed."""

        def __init__(self):
            self.runs = {}

        def transition(self, key, start, finish, *args, **kwargs):
            if finish == "memory" and key_split(key) == "update":  # _update tasks
                self.runs[key] = self.runs.get(key, 0) + 1

    X, Y, Xd, Yd = _chunked_moons()
    run = dict(optimizer="momentum", learning_rate=0.05, batch_size=100, num_epochs=12, seed=3)
    updates = Updates()
    with local_cluster(2) as (cluster, client):
        cluster.scheduler.add_plugin(updates, name="updates")

        def callback(epoch, params, history):
            if epoch == 8:  # 36 steps done, 4 per epoch
                for pid in _worker_pids(client).values():
                    os.kill(pid, signal.SIGKILL)

        with use_scheduler(client, lineage=8):
            params, history = dnn.fit(Xd, Yd, [2, 6, 1], callback=callback, **run)
            host = {k: to_numpy(v) for k, v in params.items()}
    assert len(updates.runs) == 48
    again = sum(n - 1 for n in updates.runs.values())
    assert 1 <= again <= 8, updates.runs
    reference, _ = dnn.fit(X, Y, [2, 6, 1], backend="numpy", **run)
    assert largest_difference(reference, host) < 1e-12


def test_mini_batch_fit_on_a_cluster_is_reproducible(cluster):
    """Arrays sent between workers can arrive misaligned; each task realigns them, so runs agree bitwise."""
    X, Y, Xd, Yd = _chunked_moons()
    run = dict(optimizer="momentum", learning_rate=0.05, batch_size=100, num_epochs=8, seed=3)
    runs = []
    with use_scheduler(cluster):
        for _ in range(3):
            params, history = dnn.fit(Xd, Yd, [2, 6, 1], **run)
            runs.append(({k: to_numpy(v) for k, v in params.items()}, history["cost"]))
    first, costs = runs[0]
    for other, other_costs in runs[1:]:
        assert all(np.array_equal(first[k], other[k]) for k in first)
        assert other_costs == costs
    reference, _ = dnn.fit(X, Y, [2, 6, 1], backend="numpy", **run)
    assert largest_difference(reference, first) < 1e-12


def test_misaligned_arrays_are_realigned_before_a_task_computes():
    from portable_dnn.backend._dask.runner import _aligned

    buffer = bytearray(8 * 12 + 3)
    a = np.frombuffer(memoryview(buffer)[3 : 3 + 8 * 12], dtype=np.float64).reshape(3, 4)
    assert not a.flags.aligned
    b = _aligned(a)
    assert b.flags.aligned and np.array_equal(a, b)
    c = np.ones((3, 4))
    assert _aligned(c) is c  # aligned already: no copy
