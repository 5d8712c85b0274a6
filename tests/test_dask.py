"""The Dask backend: graph cutting, a distributed cluster, out-of-core training, the CLI.

Runs in every session (it builds its own Dask backend); skipped where dask,
distributed or zarr are not installed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

pytestmark = pytest.mark.library

import portable_dnn as dnn  # noqa: E402
from portable_dnn.backend import get_backend, to_numpy  # noqa: E402
from portable_dnn.backend._dask.scheduler import current_client  # noqa: E402
from portable_dnn.cli import main  # noqa: E402
from portable_dnn.datasets import default_dataset, flatten_images, load_dataset  # noqa: E402
from portable_dnn.engine import Network, Step, new_state  # noqa: E402
from portable_dnn.optim import GD  # noqa: E402
from portable_dnn.streaming import fit_out_of_core, use_scheduler  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.contenders.dask_out_of_core import make_store  # noqa: E402

from .compare import largest_difference  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes on loopback, closed after the module."""
    # The workers are new processes: let them import this checkout's package.
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0", env=env
        ) as c,
        distributed.Client(c, set_as_default=False) as client,
    ):
        yield client


# ------------------------------------------------------------ full batch


def test_cat_network_100_iterations_equals_numpy(cat_paths):
    train_x, train_y, _, _, _ = load_dataset(*cat_paths)
    X = flatten_images(train_x)
    dims = [12288, 20, 7, 5, 1]
    ref, ref_costs = dnn.L_layer_model(X, train_y, dims, num_iterations=100, backend="numpy")
    got, costs = dnn.L_layer_model(X, train_y, dims, num_iterations=100, backend="dask")
    assert all(type(v).__module__.startswith("dask") for v in got.values())
    assert largest_difference(ref, got) < 1e-10
    np.testing.assert_allclose(costs, ref_costs, rtol=0, atol=1e-12)


def test_backend_takes_the_device_dask_reports_for_gpu_chunks():
    """array-api-compat reports Dask arrays of CuPy chunks as on "DASK_DEVICE": the backend found
    for them builds its arrays on the host, as for NumPy chunks; a device of its own is refused."""
    be = get_backend("dask", device="DASK_DEVICE")
    assert be == get_backend("dask") and str(be.device) == "cpu"
    assert float(be.xp.asarray(2.0, device=be.device).compute()) == 2.0
    with pytest.raises(ValueError, match=r"the dask backend takes no device \('cuda:0' given\)"):
        get_backend("dask", device="cuda:0")


def test_graph_of_the_state_stays_one_step_deep():
    be = get_backend("dask")
    X, Y, _, _ = default_dataset()
    X = dask.array.from_array(np.tile(X, (1, 2000)), chunks=(2, 160_000))  # 4 chunks of examples
    Y = dask.array.from_array(np.tile(Y, (1, 2000)), chunks=(1, 160_000))
    params = dnn.initialize_parameters_deep([2, 5, 3, 1], init="xavier", seed=1, backend=be)
    gd = GD()
    runner = be.runner(
        Step(be.ops(be.xp.float64), Network(), gd), new_state(be.ops(be.xp.float64), params, gd)
    )
    X, Y = be.prepare_examples(X, Y)
    assert len(X.chunks[1]) > 1 and len(X.chunks[0]) == 1
    sizes = []
    for t in range(1, 7):
        runner((X, Y), (0.1, t, X.shape[1]))
        sizes.append([len(a.__dask_graph__()) for a in runner.state[0]])
        assert len(dict(runner._value.__dask_graph__())) == 1
    assert sizes == [[1] * 6] * 6  # one computed chunk per parameter, at every step


def test_training_loop_keeps_its_state_cut():
    X, Y, _, _ = default_dataset()
    seen = []

    def record(state):
        seen.append(sum(len(a.__dask_graph__()) for a in state.snapshot().values()))

    dnn.L_layer_model(X, Y, [2, 4, 1], num_iterations=5, backend="dask", callback=record)
    assert seen == [4] * 5


# ------------------------------------------------------------ distributed


@pytest.mark.parametrize(
    "optimizer, extra", [("gd", {}), ("momentum", {"lambd": 0.1}), ("adam", {"keep_prob": 0.8})]
)
def test_fit_cuts_its_graph_every_mini_batch_and_equals_numpy(optimizer, extra):
    """fit's parameters, as the callback sees them, are one computed chunk each, every epoch."""
    X, Y, _, _ = default_dataset()
    run = dict(optimizer=optimizer, learning_rate=0.01, batch_size=64, num_epochs=4, seed=1, **extra)
    depths = []

    def callback(epoch, params, history):
        depths.append(max(len(dict(p.__dask_graph__())) for p in params.values()))

    params, history = dnn.fit(X, Y, [2, 10, 5, 1], backend="dask", callback=callback, **run)
    reference, expected = dnn.fit(X, Y, [2, 10, 5, 1], backend="numpy", **run)
    assert depths == [1] * 4  # one computed chunk per parameter, whatever the epoch
    np.testing.assert_allclose(history["cost"], expected["cost"], rtol=0, atol=1e-12)
    for key in reference:
        np.testing.assert_allclose(to_numpy(params[key]), reference[key], rtol=0, atol=1e-12)


FIT_RUNS = [
    ("gd", {}),
    ("momentum", {"lambd": 0.1}),
    ("adam", {"keep_prob": 0.8}),
    ("adam", {"output": "softmax", "keep_prob": 0.7, "lambd": 0.05}),
]


def _chunked_moons():
    """The embedded dataset as Dask arrays of 5 column chunks (70, 70, 70, 70, 40 examples)."""
    X, Y, _, _ = default_dataset()
    return X, Y, dask.array.from_array(X, chunks=(2, 70)), dask.array.from_array(Y, chunks=(1, 70))


@pytest.fixture
def step_spy(monkeypatch):
    """Records, per training step on Dask, the batch's chunk count and the size of the kept state's graph."""
    from portable_dnn.backend._dask.runner import DaskRunner

    seen = []
    call = DaskRunner.__call__

    def spy(self, batch, hyper):
        cost = call(self, batch, hyper)
        seen.append((len(batch[0].chunks[1]), len(dict(self._value.__dask_graph__()))))
        return cost

    monkeypatch.setattr(DaskRunner, "__call__", spy)
    return seen


@pytest.mark.parametrize("batch_size", [None, 100])
@pytest.mark.parametrize("optimizer, extra", FIT_RUNS)
def test_fit_splits_each_batch_by_chunks_and_equals_numpy(step_spy, optimizer, extra, batch_size):
    """Each chunk's gradients are one task; their weighted sum is NumPy's whole-batch step (dropout too)."""
    X, Y, Xd, Yd = _chunked_moons()
    dims = [2, 8, 5, 2 if extra.get("output") == "softmax" else 1]
    run = dict(optimizer=optimizer, learning_rate=0.05, batch_size=batch_size, num_epochs=3, seed=2, **extra)
    params, history = dnn.fit(Xd, Yd, dims, **run)
    reference, expected = dnn.fit(X, Y, dims, backend="numpy", **run)
    assert all(type(p).__module__.startswith("dask") for p in params.values())
    if batch_size is None:
        assert {chunks for chunks, _ in step_spy} == {5}  # the chunks' weighted sum is exercised
    assert len(step_spy) == 3 * (1 if batch_size is None else 4)
    # The kept state is one computed value at every step: no graph grows.
    assert {size for _, size in step_spy} == {1}
    np.testing.assert_allclose(history["cost"], expected["cost"], rtol=0, atol=1e-12)
    for key in reference:
        np.testing.assert_allclose(to_numpy(params[key]), reference[key], rtol=0, atol=1e-12)


def test_fit_on_a_cluster_equals_numpy(cluster):
    X, Y, Xd, Yd = _chunked_moons()
    run = dict(optimizer="adam", keep_prob=0.8, learning_rate=0.01, batch_size=100, num_epochs=3, seed=1)
    with use_scheduler(cluster):
        params, history = dnn.fit(Xd, Yd, [2, 6, 1], **run)
        host = {k: to_numpy(v) for k, v in params.items()}  # futures on the cluster: fetch them in the block
    reference, expected = dnn.fit(X, Y, [2, 6, 1], backend="numpy", **run)
    assert largest_difference(reference, host) < 1e-12
    np.testing.assert_allclose(history["cost"], expected["cost"], rtol=0, atol=1e-12)


def test_state_moves_to_the_data_chunks_library():
    """GPU workers hold CuPy chunks: the state follows the chunk's library (array-api-strict stands in)."""
    xs = pytest.importorskip("array_api_strict")
    from portable_dnn.backend._dask.runner import _chunk_grads, place_like

    state = [[np.ones((2, 2)), np.zeros((2, 1))], [np.full((2, 2), 0.5), np.zeros((2, 1))]]
    moved = place_like(state, xs.zeros(3, dtype=xs.float64))
    assert all(
        type(v).__module__.startswith("array_api_strict") and v.dtype == xs.float64
        for group in moved
        for v in group
    )
    np.testing.assert_array_equal(np.asarray(moved[1][0]), [[0.5, 0.5], [0.5, 0.5]])
    same = place_like(state, np.zeros(3))
    assert same[0][0] is state[0][0]  # already NumPy: no copy

    class Echo:
        def with_ops(self, ops):
            return self

        def gradients(self, params, *chunk):
            return chunk

    # A chunk's host-drawn dropout mask (NumPy) joins the chunk's library too.
    seen = _chunk_grads(Echo(), moved, xs.ones((1, 2)), np.ones((1, 2)))
    assert all(type(a).__module__.startswith("array_api_strict") for a in seen)


def test_distributed_client_gives_the_numpy_result(cluster):
    X, Y, _, _ = default_dataset()
    ref, ref_costs = dnn.L_layer_model(
        X, Y, [2, 5, 1], num_iterations=101, learning_rate=0.3, backend="numpy"
    )
    with use_scheduler(cluster) as client:
        assert client is cluster
        got, costs = dnn.L_layer_model(X, Y, [2, 5, 1], num_iterations=101, learning_rate=0.3, backend="dask")
        assert current_client() is cluster
        got = {k: to_numpy(v) for k, v in got.items()}  # futures on the cluster: fetch them in the block
    assert largest_difference(ref, got) < 1e-12
    np.testing.assert_allclose(costs, ref_costs, rtol=0, atol=1e-12)


def test_scheduler_address_connects_for_the_block(cluster):
    address = cluster.scheduler.address
    X, Y, _, _ = default_dataset()
    with use_scheduler(address) as client:
        assert client.scheduler.address == address
        got, _ = dnn.L_layer_model(X, Y, [2, 3, 1], num_iterations=3, backend="dask")
        host = {k: to_numpy(v) for k, v in got.items()}
    assert client.status == "closed"
    ref, _ = dnn.L_layer_model(X, Y, [2, 3, 1], num_iterations=3, backend="numpy")
    assert largest_difference(ref, host) < 1e-12


def test_scheduler_errors_name_the_function():
    with pytest.raises(ValueError, match="use_scheduler: scheduler must be a distributed Client"):
        with use_scheduler("nowhere"):
            pass
    with pytest.raises(TypeError, match="use_scheduler: scheduler must be .* got int"):
        with use_scheduler(3):
            pass


def test_cli_trains_on_a_scheduler_address(cluster, tmp_path, capsys):
    out = tmp_path / "m.npz"
    args = ["train", "--backend", "dask", "--scheduler", cluster.scheduler.address]
    assert main([*args, "--iterations", "3", "--out", str(out), "--quiet"]) == 0
    assert out.exists() and "Train accuracy" in capsys.readouterr().out
    assert main(["train", "--backend", "numpy", "--scheduler", "tcp://127.0.0.1:1", "--quiet"]) == 1
    assert "--scheduler: a scheduler address needs the dask backend, not numpy" in capsys.readouterr().err


# ------------------------------------------------------------ out of core


def _reference_minibatch(path, dims, lr, epochs, batch_chunks, seed=0):
    """The same mini-batch descent on NumPy, from the whole store in memory."""
    root = zarr.open_group(str(path), mode="r")
    X, Y = np.asarray(root["X"][...]), np.asarray(root["Y"][...])
    chunk = root["X"].chunks[1]
    params = dnn.initialize_parameters_deep(dims, init="xavier", seed=1, backend="numpy")
    n = -(-X.shape[1] // chunk)
    for epoch in range(epochs):
        order = np.random.RandomState(seed + epoch).permutation(n).tolist()
        for k in range(0, n, batch_chunks):
            cols = np.concatenate(
                [np.arange(i * chunk, min((i + 1) * chunk, X.shape[1])) for i in order[k : k + batch_chunks]]
            )
            # The course's own functions, one mini-batch step.
            AL, caches = dnn.L_model_forward(X[:, cols], params)
            params = dnn.update_parameters(params, dnn.L_model_backward(AL, Y[:, cols], caches), lr)
    return params


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    return make_store(str(tmp_path_factory.mktemp("store") / "d.zarr"), 16, 1000, 96)


@pytest.mark.parametrize("batch_chunks", [1, 3])
def test_fit_out_of_core_equals_in_memory_minibatches(small_store, batch_chunks):
    dims = [16, 6, 1]
    params, history = fit_out_of_core(
        small_store, dims, learning_rate=0.3, num_epochs=3, batch_chunks=batch_chunks, scheduler="threads"
    )
    ref = _reference_minibatch(small_store, dims, 0.3, 3, batch_chunks)
    assert largest_difference(ref, params) < 1e-12
    assert history["examples"] == [1000] * 3  # every example once per epoch
    assert history["cost"][-1] < history["cost"][0]


def test_fit_out_of_core_on_a_cluster_and_from_hdf5(small_store, cluster, tmp_path):
    h5py = pytest.importorskip("h5py")
    root = zarr.open_group(small_store, mode="r")
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=root["X"][...], chunks=(16, 96))
        f.create_dataset("Y", data=root["Y"][...].reshape(-1), chunks=(96,))
    ref = _reference_minibatch(small_store, [16, 6, 1], 0.3, 2, 2)
    zarr_params, _ = fit_out_of_core(
        small_store, [16, 6, 1], learning_rate=0.3, num_epochs=2, batch_chunks=2, scheduler=cluster
    )
    h5_params, _ = fit_out_of_core(path, [16, 6, 1], learning_rate=0.3, num_epochs=2, batch_chunks=2)
    assert largest_difference(ref, zarr_params) < 1e-12
    assert largest_difference(ref, h5_params) < 1e-12


def test_fit_out_of_core_errors(small_store, tmp_path):
    with pytest.raises(ValueError, match=r"fit_out_of_core: 'X' has 16 features but layers_dims\[0\] is 5"):
        fit_out_of_core(small_store, [5, 1])
    with pytest.raises(ValueError, match="fit_out_of_core: cannot open datasets 'A' and 'Y'"):
        fit_out_of_core(small_store, [16, 1], x="A")
    with pytest.raises(ValueError, match="fit_out_of_core: the sigmoid output needs"):
        fit_out_of_core(small_store, [16, 2])
    with pytest.raises(TypeError, match="fit_out_of_core: batch_chunks must be an integer >= 1"):
        fit_out_of_core(small_store, [16, 1], batch_chunks=1.5)


def test_store_four_times_a_workers_memory_trains_on_two_workers(tmp_path):
    """0.81 GiB of data through 2 workers limited to 200 MiB each: none is lost, each peak stays under.

    Run as its own process: spawned workers re-import their parent's main module,
    and what this test process has imported would count against them.
    """
    import json
    import subprocess

    out = tmp_path / "ooc.json"
    cmd = [sys.executable, "-m", "benchmarks", "--workload", "dask_out_of_core",
           "--contender", "dask[2 workers]", "--repeats", "1", "--json", str(out)]  # fmt: skip
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = json.loads(out.read_text())["rows"]
    r = row["extra"]
    assert r["store_bytes"] >= 4 * r["memory_limit_bytes"]
    assert not r["workers_lost"] and len(r["peak_rss_bytes"]) == 2
    assert max(r["peak_rss_bytes"]) < r["memory_limit_bytes"]  # measured: 149 and 170 MiB
    assert r["examples"] == 209_715 and r["finite"]
    assert r["cost"][0] == pytest.approx(0.6954, abs=5e-4)  # the benchmark's run, same seed
