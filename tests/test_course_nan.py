"""NaN in, NaN out: the course's functions never turn a NaN weight into a number."""

from __future__ import annotations

import math

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.course2 import gradient_checking as gc
from portable_dnn.course2 import regularization as reg


def _network(to_backend, nan_at):
    """A 3-4-2-1 network on 5 examples whose parameter ``nan_at`` holds one NaN."""
    rng = np.random.RandomState(0)
    dims = [3, 4, 2, 1]
    p = {}
    for l in range(1, len(dims)):
        p[f"W{l}"], p[f"b{l}"] = rng.randn(dims[l], dims[l - 1]), rng.randn(dims[l], 1)
    p[nan_at] = p[nan_at].copy()
    p[nan_at][0, 0] = np.nan
    X, Y = rng.randn(3, 5), np.array([[1, 0, 1, 1, 0]])
    return to_backend(X), to_backend(Y), to_backend(p)


def _host(x):
    return np.asarray(dnn.to_numpy(x), dtype=np.float64)


NAN_AT = ["W1", "b2", "W3"]


@pytest.mark.parametrize("nan_at", NAN_AT)
def test_L_model_forward_keeps_a_nan_weight(to_backend, nan_at):
    X, Y, p = _network(to_backend, nan_at)
    AL, caches = dnn.L_model_forward(X, p)
    assert np.isnan(_host(AL)).any()
    assert math.isnan(dnn.compute_cost(AL, Y))
    grads = dnn.L_model_backward(AL, Y, caches)
    assert np.isnan(_host(grads["dW3"])).any()


@pytest.mark.parametrize("nan_at", NAN_AT)
def test_course2_forward_passes_keep_a_nan_weight(to_backend, nan_at):
    X, Y, p = _network(to_backend, nan_at)
    for AL, _ in (reg.forward_propagation(X, p), reg.forward_propagation_with_dropout(X, p, 0.9)):
        assert np.isnan(_host(AL)).any()
        assert math.isnan(float(reg.compute_cost(AL, Y)))
        assert math.isnan(float(reg.compute_cost_with_regularization(AL, Y, p, 0.7)))
    cost, cache = gc.forward_propagation_n(X, Y, p)
    assert math.isnan(cost)
    assert np.isnan(_host(cache[9])).any()  # A3


def test_l2_terms_and_updates_keep_a_nan_weight(to_backend):
    X, Y, p = _network(to_backend, "W2")
    assert math.isnan(dnn.l2_cost(p, 0.7, 5))
    assert np.isnan(_host(dnn.l2_grads(p, 0.7, 5)["dW2"])).any()
    grads = {f"d{k}": v * 0 + 1 for k, v in p.items() if not k.startswith("W2")}
    grads["dW2"] = to_backend(np.ones((2, 4)))
    for new in (
        dnn.update_parameters(p, grads, 0.1),
        dnn.update_parameters_with_momentum(p, grads, dnn.initialize_velocity(p), 0.9, 0.1)[0],
        dnn.update_parameters_with_adam(p, grads, *dnn.initialize_adam(p), 1)[0],
    ):
        assert np.isnan(_host(new["W2"])[0, 0]) and np.isfinite(_host(new["W2"])[1:, :]).all()
