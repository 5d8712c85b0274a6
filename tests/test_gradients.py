"""L_model_backward against central finite differences of compute_cost, on random small networks."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portable_dnn as dnn


def _cost(backend, X, Y, host_params, hidden):
    params = {k: backend.asarray(v) for k, v in host_params.items()}
    AL, _ = dnn.L_model_forward(X, params, hidden_activation=hidden)
    return dnn.compute_cost(AL, Y)


def _relative_difference(backend, rng, dims, m, hidden, eps=1e-6):
    """||analytic - numeric|| / (||analytic|| + ||numeric||) on a random network of sizes ``dims``."""
    host = {}
    for l in range(1, len(dims)):
        host[f"W{l}"] = rng.randn(dims[l], dims[l - 1])
        host[f"b{l}"] = rng.randn(dims[l], 1) * 0.1
    X = backend.asarray(rng.randn(dims[0], m))
    Y = backend.asarray((rng.rand(1, m) > 0.5).astype(np.float64))
    params = {k: backend.asarray(v) for k, v in host.items()}
    AL, caches = dnn.L_model_forward(X, params, hidden_activation=hidden)
    grads = dnn.L_model_backward(AL, Y, caches, hidden_activation=hidden)

    analytic, numeric = [], []
    for key in sorted(host):
        g = dnn.to_numpy(grads["d" + key])
        assert g.shape == host[key].shape
        for idx in np.ndindex(host[key].shape):
            plus = {k: v.copy() for k, v in host.items()}
            minus = {k: v.copy() for k, v in host.items()}
            plus[key][idx] += eps
            minus[key][idx] -= eps
            numeric.append(
                (_cost(backend, X, Y, plus, hidden) - _cost(backend, X, Y, minus, hidden)) / (2 * eps)
            )
            analytic.append(g[idx])
    analytic, numeric = np.array(analytic), np.array(numeric)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if scale == 0 else float(np.linalg.norm(analytic - numeric) / scale)


@pytest.mark.thin_grid
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("hidden", ["relu", "tanh", "leaky_relu"])
def test_backward_matches_finite_differences(backend, seed, hidden):
    rng = np.random.RandomState(100 + seed)
    dims = [int(n) for n in rng.randint(1, 6, size=rng.randint(2, 5))] + [1]
    m = int(rng.randint(1, 7))
    difference = _relative_difference(backend, rng, dims, m, hidden)
    assert difference < 1e-7, f"dims {dims}, m {m}: relative difference {difference:.2e}"


def test_dA0_is_gradient_with_respect_to_X(backend):
    rng = np.random.RandomState(7)
    host = {"W1": rng.randn(3, 4), "b1": rng.randn(3, 1), "W2": rng.randn(1, 3), "b2": rng.randn(1, 1)}
    params = {k: backend.asarray(v) for k, v in host.items()}
    Xh = rng.randn(4, 3)
    Y = backend.asarray(np.array([[1.0, 0.0, 1.0]]))
    AL, caches = dnn.L_model_forward(backend.asarray(Xh), params)
    dA0 = dnn.to_numpy(dnn.L_model_backward(AL, Y, caches)["dA0"])
    # The course's dA0 is the gradient of m * cost (the 1/m enters at dW), so scale by m.
    m, eps = Xh.shape[1], 1e-6
    for idx in np.ndindex(Xh.shape):
        plus, minus = Xh.copy(), Xh.copy()
        plus[idx] += eps
        minus[idx] -= eps
        fd = (
            dnn.compute_cost(dnn.L_model_forward(backend.asarray(plus), params)[0], Y)
            - dnn.compute_cost(dnn.L_model_forward(backend.asarray(minus), params)[0], Y)
        ) / (2 * eps)
        assert dA0[idx] == pytest.approx(m * fd, rel=1e-5, abs=1e-8)


@settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    dims=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(lambda d: [*d, 1]),
    m=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_backward_matches_finite_differences_property(backend, dims, m, seed):
    """The same check over hypothesis-drawn layer sizes and batch sizes (float64)."""
    difference = _relative_difference(backend, np.random.RandomState(seed), dims, m, "tanh")
    assert difference < 1e-7, f"dims {dims}, m {m}: relative difference {difference:.2e}"
