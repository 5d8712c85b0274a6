"""Shapes, dtypes and libraries preserved; inputs never modified; same seed, same weights everywhere."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portable_dnn as dnn
from portable_dnn.backend import backend_of

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

layer_dims = st.lists(st.integers(1, 7), min_size=2, max_size=5).map(lambda dims: [*dims, 1])
batch = st.integers(1, 9)
dtypes = st.sampled_from(["float32", "float64"])


def _snapshot(obj):
    if isinstance(obj, dict):
        return {k: _snapshot(v) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return [_snapshot(o) for o in obj]
    return dnn.to_numpy(obj).copy()


def _assert_unchanged(before, after):
    if isinstance(before, dict):
        for k in before:
            _assert_unchanged(before[k], after[k])
    elif isinstance(before, list):
        for b, a in zip(before, after):
            _assert_unchanged(b, a)
    else:
        np.testing.assert_array_equal(before, dnn.to_numpy(after))


def _same_kind(x, backend, dtype):
    assert backend_of(x).name == backend.name
    assert str(x.dtype).endswith(dtype)


@SETTINGS
@given(dims=layer_dims, m=batch, dtype=dtypes, seed=st.integers(0, 2**16))
def test_forward_backward_update_shapes_dtypes_and_inputs(backend, dims, m, dtype, seed):
    rng = np.random.RandomState(seed)
    params = dnn.initialize_parameters_deep(dims, init="he", seed=seed, backend=backend, dtype=dtype)
    X = backend.asarray(rng.randn(dims[0], m), dtype=dtype)
    Y = backend.asarray((rng.rand(1, m) > 0.5).astype(np.float64), dtype=dtype)
    before = _snapshot({"params": params, "X": X, "Y": Y})

    AL, caches = dnn.L_model_forward(X, params)
    assert tuple(AL.shape) == (1, m) and len(caches) == len(dims) - 1
    _same_kind(AL, backend, dtype)
    cost = dnn.compute_cost(AL, Y)
    assert isinstance(cost, float) and np.isfinite(cost)

    caches_before = _snapshot(caches)
    grads = dnn.L_model_backward(AL, Y, caches)
    for l in range(1, len(dims)):
        assert tuple(grads[f"dW{l}"].shape) == (dims[l], dims[l - 1])
        assert tuple(grads[f"db{l}"].shape) == (dims[l], 1)
        assert tuple(grads[f"dA{l - 1}"].shape) == (dims[l - 1], m)
        _same_kind(grads[f"dW{l}"], backend, dtype)
    updated = dnn.update_parameters(params, grads, 0.1)
    for key, value in updated.items():
        assert tuple(value.shape) == tuple(params[key].shape)
        _same_kind(value, backend, dtype)

    _assert_unchanged(before, {"params": params, "X": X, "Y": Y})
    _assert_unchanged(caches_before, caches)


@SETTINGS
@given(shape=st.tuples(st.integers(1, 5), st.integers(1, 5)), dtype=dtypes, seed=st.integers(0, 2**16))
def test_activations_keep_shape_dtype_and_inputs(backend, shape, dtype, seed):
    rng = np.random.RandomState(seed)
    Z = backend.asarray(rng.randn(*shape) * 5, dtype=dtype)
    dA = backend.asarray(rng.randn(*shape), dtype=dtype)
    before = _snapshot([Z, dA])
    for name in ("sigmoid", "relu", "tanh", "leaky_relu"):
        A, cache = getattr(dnn, name)(Z)
        assert cache is Z
        dZ = getattr(dnn, f"{name}_backward")(dA, cache)
        for out in (A, dZ):
            assert tuple(out.shape) == shape
            _same_kind(out, backend, dtype)
    _assert_unchanged(before, [Z, dA])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_seed_same_weights_on_every_backend(backend, dtype):
    reference = dnn.initialize_parameters_deep(
        [6, 4, 3, 1], init="xavier", seed=11, backend="numpy", dtype=dtype
    )
    here = dnn.initialize_parameters_deep([6, 4, 3, 1], init="xavier", seed=11, backend=backend, dtype=dtype)
    for key in reference:
        np.testing.assert_array_equal(dnn.to_numpy(here[key]), reference[key])
        _same_kind(here[key], backend, dtype)


def test_initialization_options(backend):
    dims = [50, 20, 1]
    host = np.random.RandomState(5)
    draw = host.randn(20, 50)
    cases = {
        "random": draw * 0.5,
        "xavier": draw / np.sqrt(50),
        "he": draw * np.sqrt(2 / 50),
        "zeros": np.zeros((20, 50)),
    }
    for init, expected in cases.items():
        params = dnn.initialize_parameters_deep(dims, init=init, scale=0.5, seed=5, backend=backend)
        np.testing.assert_array_equal(dnn.to_numpy(params["W1"]), expected)
        np.testing.assert_array_equal(dnn.to_numpy(params["b1"]), np.zeros((20, 1)))


def test_global_numpy_random_state_untouched(backend):
    np.random.seed(1234)
    state = np.random.get_state()
    dnn.initialize_parameters(4, 3, 1, backend=backend)
    dnn.initialize_parameters_deep([4, 3, 1], backend=backend, init="he")
    X = backend.asarray(np.ones((4, 5)))
    dnn.L_layer_model(X, np.array([[0, 1, 0, 1, 1]]), [4, 3, 1], num_iterations=3, backend=backend)
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]
