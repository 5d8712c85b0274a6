"""Dask arrays of CuPy chunks: training on GPU chunks, on local threads and on a dask-cuda cluster.

Runs where CuPy sees a CUDA device and dask and distributed are installed (the
cluster test also needs dask-cuda); elsewhere it is skipped with the reason.
Both tests hold the GPU run to NumPy's in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
pytest.importorskip("distributed")
cupy = pytest.importorskip("cupy")

pytestmark = pytest.mark.library

import portable_dnn as dnn  # noqa: E402
from portable_dnn.backend import to_numpy  # noqa: E402
from portable_dnn.datasets import default_dataset  # noqa: E402
from portable_dnn.streaming import use_scheduler  # noqa: E402

from .compare import largest_difference  # noqa: E402

if "cupy" not in dnn.available_backends():
    pytest.skip("CuPy is installed but sees no CUDA device", allow_module_level=True)


def _on_gpu(chunks: int) -> tuple:
    """The embedded dataset on the host, and as Dask arrays of CuPy column chunks."""
    X, Y, _, _ = default_dataset()
    to_gpu = [da.from_array(cupy.asarray(a), chunks=(a.shape[0], chunks)) for a in (X, Y)]
    return X, Y, *to_gpu


def _held_on_gpu(params: dict) -> dict[str, np.ndarray]:
    """Each parameter's computed value, checked to be CuPy's, brought to the host."""
    host = {}
    for key, value in params.items():
        assert isinstance(value._meta, cupy.ndarray), key
        computed = value.compute()
        assert isinstance(computed, cupy.ndarray), key
        host[key] = to_numpy(computed)
    return host


def test_course_model_on_gpu_chunks_equals_numpy():
    X, Y, Xd, Yd = _on_gpu(chunks=80)
    run = dict(num_iterations=101, learning_rate=0.3)
    got, costs = dnn.L_layer_model(Xd, Yd, [2, 5, 3, 1], **run)
    reference, expected = dnn.L_layer_model(X, Y, [2, 5, 3, 1], backend="numpy", **run)
    assert largest_difference(reference, _held_on_gpu(got)) < 1e-10
    assert len(costs) == len(expected) == 2
    np.testing.assert_allclose(np.array(costs, float), np.array(expected, float), rtol=0, atol=1e-10)


def test_fit_on_a_dask_cuda_cluster_equals_numpy():
    dask_cuda = pytest.importorskip("dask_cuda")
    from distributed import Client

    X, Y, Xd, Yd = _on_gpu(chunks=80)
    # 320 examples in batches of 64: 5 steps an epoch, 100 steps in all.
    run = dict(optimizer="adam", learning_rate=0.01, batch_size=64, num_epochs=20, seed=3, keep_prob=0.9)
    with (
        dask_cuda.LocalCUDACluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster, set_as_default=False) as client,
        use_scheduler(client),
    ):
        params, history = dnn.fit(Xd, Yd, [2, 8, 4, 1], **run)
        host = _held_on_gpu(params)  # the state lives on the cluster: fetch it inside the block
    reference, expected = dnn.fit(X, Y, [2, 8, 4, 1], backend="numpy", **run)
    assert len(history["cost"]) == len(expected["cost"]) == 20
    assert largest_difference(reference, host) < 1e-10
    np.testing.assert_allclose(history["cost"], expected["cost"], rtol=0, atol=1e-10)
