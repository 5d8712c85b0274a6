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

import portable_dnn as dnn  # noqa: E402
from portable_dnn.backend import get_backend, step_runner, to_numpy, training_ops  # noqa: E402
from portable_dnn.cli import main  # noqa: E402
from portable_dnn.datasets import default_dataset, flatten_images, load_dataset  # noqa: E402
from portable_dnn.streaming import fit_out_of_core, use_scheduler  # noqa: E402
from portable_dnn.train_step import TrainStep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.dask_out_of_core import make_store  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes on loopback, closed after the module."""
    # The workers are new processes: let them import this checkout's package.
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, env=env
        ) as c,
        distributed.Client(c, set_as_default=False) as client,
    ):
        yield client


def _max_diff(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(to_numpy(a[k]) - to_numpy(b[k])))) for k in a)


# ------------------------------------------------------------ full batch


def test_cat_network_100_iterations_equals_numpy(cat_paths):
    train_x, train_y, _, _, _ = load_dataset(*cat_paths)
    X = flatten_images(train_x)
    dims = [12288, 20, 7, 5, 1]
    ref, ref_costs = dnn.L_layer_model(X, train_y, dims, num_iterations=100, backend="numpy")
    got, costs = dnn.L_layer_model(X, train_y, dims, num_iterations=100, backend="dask")
    assert all(type(v).__module__.startswith("dask") for v in got.values())
    assert _max_diff(ref, got) < 1e-10
    assert costs == pytest.approx(ref_costs, abs=1e-12)


def test_graph_of_the_parameters_stays_one_iteration_deep():
    be = get_backend("dask")
    X, Y, _, _ = default_dataset()
    X = np.tile(X, (1, 2000))  # large enough to be split along the examples
    Y = np.tile(Y, (1, 2000))
    params = dnn.initialize_parameters_deep([2, 5, 3, 1], init="xavier", seed=1, backend=be)
    Ws = [params[f"W{l}"] for l in (1, 2, 3)]
    bs = [params[f"b{l}"] for l in (1, 2, 3)]
    step = TrainStep(training_ops(be, be.xp.float64), be.asarray(X), be.asarray(Y), Ws, bs, 0.1)
    run_step = step_runner(be, step)
    assert len(step.X.chunks[1]) > 1 and len(step.X.chunks[0]) == 1
    sizes = []
    for _ in range(6):
        AL = run_step()
        sizes.append([len(W.__dask_graph__()) for W in (*step.Ws, *step.bs, AL)])
    assert all(s == sizes[0] for s in sizes)
    assert sizes[0][:6] == [1] * 6  # one computed chunk per parameter


def test_training_loop_keeps_its_parameters_cut():
    X, Y, _, _ = default_dataset()
    seen = []

    def record(state):
        seen.append(sum(len(W.__dask_graph__()) for W in (*state._Ws, *state._bs)))

    dnn.L_layer_model(X, Y, [2, 4, 1], num_iterations=5, backend="dask", callback=record)
    assert seen == [4] * 5


# ------------------------------------------------------------ distributed


@pytest.mark.parametrize(
    "optimizer, extra", [("gd", {}), ("momentum", {"lambd": 0.1}), ("adam", {"keep_prob": 0.8})]
)
def test_fit_cuts_its_graph_every_mini_batch_and_equals_numpy(optimizer, extra):
    """fit's parameters and optimizer state are persisted after every step (cut_graph)."""
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


def test_distributed_client_gives_the_numpy_result(cluster):
    X, Y, _, _ = default_dataset()
    ref, ref_costs = dnn.L_layer_model(
        X, Y, [2, 5, 1], num_iterations=101, learning_rate=0.3, backend="numpy"
    )
    with use_scheduler(cluster) as client:
        assert client is cluster
        got, costs = dnn.L_layer_model(X, Y, [2, 5, 1], num_iterations=101, learning_rate=0.3, backend="dask")
        assert dask.base.get_scheduler() == cluster.get
        got = {k: to_numpy(v) for k, v in got.items()}  # futures on the cluster: fetch them in the block
    assert _max_diff(ref, got) < 1e-12
    assert costs == pytest.approx(ref_costs, abs=1e-12)


def test_scheduler_address_connects_for_the_block(cluster):
    address = cluster.scheduler.address
    X, Y, _, _ = default_dataset()
    with use_scheduler(address) as client:
        assert client.scheduler.address == address
        got, _ = dnn.L_layer_model(X, Y, [2, 3, 1], num_iterations=3, backend="dask")
        host = {k: to_numpy(v) for k, v in got.items()}
    assert client.status == "closed"
    ref, _ = dnn.L_layer_model(X, Y, [2, 3, 1], num_iterations=3, backend="numpy")
    assert _max_diff(ref, host) < 1e-12


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
    assert "--scheduler needs --backend dask" in capsys.readouterr().err


# ------------------------------------------------------------ out of core


def _reference_minibatch(path, dims, lr, epochs, batch_chunks, seed=0):
    """The same mini-batch descent on NumPy, from the whole store in memory."""
    root = zarr.open_group(str(path), mode="r")
    X, Y = np.asarray(root["X"][...]), np.asarray(root["Y"][...])
    chunk = root["X"].chunks[1]
    be = get_backend("numpy")
    params = dnn.initialize_parameters_deep(dims, init="xavier", seed=1, backend=be)
    L = len(dims) - 1
    Ws = [params[f"W{l}"] for l in range(1, L + 1)]
    bs = [params[f"b{l}"] for l in range(1, L + 1)]
    n = -(-X.shape[1] // chunk)
    for epoch in range(epochs):
        order = np.random.RandomState(seed + epoch).permutation(n).tolist()
        for k in range(0, n, batch_chunks):
            cols = np.concatenate(
                [np.arange(i * chunk, min((i + 1) * chunk, X.shape[1])) for i in order[k : k + batch_chunks]]
            )
            TrainStep(training_ops(be, X.dtype), X[:, cols], Y[:, cols], Ws, bs, lr)()
    return {**{f"W{l + 1}": Ws[l] for l in range(L)}, **{f"b{l + 1}": bs[l] for l in range(L)}}


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
    assert _max_diff(ref, params) < 1e-12
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
    assert _max_diff(ref, zarr_params) < 1e-12
    assert _max_diff(ref, h5_params) < 1e-12


def test_fit_out_of_core_errors(small_store, tmp_path):
    with pytest.raises(ValueError, match=r"fit_out_of_core: 'X' has 16 features but layers_dims\[0\] is 5"):
        fit_out_of_core(small_store, [5, 1])
    with pytest.raises(ValueError, match="fit_out_of_core: cannot open datasets 'A' and 'Y'"):
        fit_out_of_core(small_store, [16, 1], x="A")
    with pytest.raises(ValueError, match="fit_out_of_core: the sigmoid output needs"):
        fit_out_of_core(small_store, [16, 2])
    with pytest.raises(TypeError, match="fit_out_of_core: batch_chunks must be an integer >= 1"):
        fit_out_of_core(small_store, [16, 1], batch_chunks=1.5)
