"""Bad input gives one clear error naming the function and the argument; numerics never go silently wrong."""

import math

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.backend import namespace_of


@pytest.fixture
def arrays(backend):
    def make(*shapes, dtype="float64", fill=1.0):
        return [backend.asarray(np.full(shape, fill), dtype=dtype) for shape in shapes]

    return make


def test_linear_forward_shape_mismatch(arrays):
    A, W, b = arrays((3, 2), (1, 4), (1, 1))
    with pytest.raises(
        ValueError, match=r"linear_forward: W has shape \(1, 4\), expected \(any, 3\).*rows of A, 3"
    ):
        dnn.linear_forward(A, W, b)
    A, W, b = arrays((3, 2), (2, 3), (3, 1))
    with pytest.raises(ValueError, match=r"linear_forward: b has shape \(3, 1\), expected \(2, 1\)"):
        dnn.linear_forward(A, W, b)
    (A,) = arrays((3,))
    with pytest.raises(ValueError, match=r"linear_forward: A must be 2-D, got shape \(3,\)"):
        dnn.linear_forward(A, W, b)
    with pytest.raises(TypeError, match="linear_forward: A must be an array, got list"):
        dnn.linear_forward([[1.0]], W, b)


def test_integer_inputs_to_building_blocks_are_refused_with_the_rule(backend):
    A = backend.asarray(np.ones((3, 2), dtype=np.int64))
    W = backend.asarray(np.ones((1, 3)))
    b = backend.asarray(np.ones((1, 1)))
    with pytest.raises(TypeError, match=r"linear_forward: A must be a floating-point array .* cast it first"):
        dnn.linear_forward(A, W, b)
    with pytest.raises(TypeError, match="sigmoid: Z must be a floating-point array"):
        dnn.sigmoid(A)


def test_mixed_dtypes_are_named(arrays):
    (A,) = arrays((3, 2), dtype="float32")
    W, b = arrays((1, 3), (1, 1))
    with pytest.raises(
        TypeError, match=r"linear_forward: arrays must share one floating dtype, got A: .*float32"
    ):
        dnn.linear_forward(A, W, b)


def test_linear_backward_cache_that_does_not_fit(arrays):
    dZ, A, W, b = arrays((2, 2), (3, 2), (1, 3), (1, 1))
    with pytest.raises(ValueError, match=r"linear_backward: dZ has shape \(2, 2\), expected \(1, 2\)"):
        dnn.linear_backward(dZ, (A, W, b))
    with pytest.raises(
        ValueError, match=r"linear_backward: cache must be a tuple \(A_prev, W, b\), got tuple of length 2"
    ):
        dnn.linear_backward(dZ, (A, W))


def test_L_model_backward_caches_that_do_not_fit(arrays):
    X, W1, b1, W2, b2 = arrays((4, 3), (3, 4), (3, 1), (1, 3), (1, 1))
    AL, caches = dnn.L_model_forward(X, {"W1": W1, "b1": b1, "W2": W2, "b2": b2})
    Y = arrays((1, 3))[0]
    with pytest.raises(ValueError, match="L_model_backward: caches must be the non-empty list"):
        dnn.L_model_backward(AL, Y, [])
    (wrong_Z,) = arrays((1, 5))
    bad = [caches[0], (caches[1][0], wrong_Z)]
    with pytest.raises(
        ValueError, match=r"L_model_backward: caches\[1\]'s Z has shape \(1, 5\), expected \(1, 3\)"
    ):
        dnn.L_model_backward(AL, Y, bad)
    (Y5,) = arrays((1, 5))
    with pytest.raises(ValueError, match=r"L_model_backward: Y has shape \(1, 5\), expected \(1, 3\)"):
        dnn.L_model_backward(AL, Y5, caches)


def test_parameters_dict_missing_or_misshaped(arrays):
    X, W1, b1, W2, b2 = arrays((4, 3), (3, 4), (3, 1), (1, 3), (1, 1))
    with pytest.raises(ValueError, match="L_model_forward: parameters has 'W2' but no 'b2'"):
        dnn.L_model_forward(X, {"W1": W1, "b1": b1, "W2": W2})
    with pytest.raises(ValueError, match="L_model_forward: parameters has no 'W1'"):
        dnn.L_model_forward(X, {"W2": W2, "b2": b2})
    (W2_bad,) = arrays((1, 2))
    with pytest.raises(ValueError, match=r"parameters\['W2'\] has shape \(1, 2\), expected \(any, 3\)"):
        dnn.L_model_forward(X, {"W1": W1, "b1": b1, "W2": W2_bad, "b2": b2})
    with pytest.raises(TypeError, match="L_model_forward: parameters must be a dict"):
        dnn.L_model_forward(X, [W1, b1])  # type: ignore[arg-type]
    (X5,) = arrays((5, 3))
    with pytest.raises(ValueError, match=r"L_model_forward: X has shape \(5, 3\), expected \(4, any\)"):
        dnn.L_model_forward(X5, {"W1": W1, "b1": b1, "W2": W2, "b2": b2})
    with pytest.raises(ValueError, match=r"update_parameters: grads has no 'db2'"):
        dnn.update_parameters(
            {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, {"dW1": W1, "db1": b1, "dW2": W2}, 0.1
        )


@pytest.mark.parametrize("activation", ["softplus", "RELU", None])
def test_unknown_activation_lists_supported(arrays, activation):
    A, W, b = arrays((3, 2), (1, 3), (1, 1))
    with pytest.raises(
        ValueError, match=r"linear_activation_forward: activation must be one of 'relu', 'sigmoid', 'tanh'"
    ):
        dnn.linear_activation_forward(A, W, b, activation)
    with pytest.raises(ValueError, match="L_model_forward: activation must be one of"):
        dnn.L_model_forward(A, {"W1": W, "b1": b}, hidden_activation=activation)


def _data(backend, m=6):
    rng = np.random.RandomState(0)
    return rng.randn(3, m), (rng.rand(1, m) > 0.5).astype(np.int64)


def test_training_data_errors(backend):
    X, Y = _data(backend)
    train = dnn.L_layer_model
    with pytest.raises(
        ValueError, match=r"L_layer_model: X has shape \(3, 6\), expected \(4, any\) \(layers_dims\[0\] = 4"
    ):
        train(X, Y, [4, 2, 1], num_iterations=1, backend=backend)
    with pytest.raises(ValueError, match=r"L_layer_model: Y has shape \(1, 5\), expected \(1, 6\)"):
        train(X, Y[:, :5], [3, 2, 1], num_iterations=1, backend=backend)
    # Labels outside {0, 1}: the course-named models warn and compute the course's formula.
    with pytest.warns(UserWarning, match=r"L_layer_model: Y holds labels other than 0 and 1 \(first: 2.0\)"):
        _, costs = train(X, Y + 1, [3, 2, 1], num_iterations=1, backend=backend)
    assert np.isfinite(float(costs[0]))
    bad = X.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="L_layer_model: X contains NaN or infinity"):
        train(bad, Y, [3, 2, 1], num_iterations=1, backend=backend)
    bad[1, 2] = np.inf
    with pytest.raises(ValueError, match="L_layer_model: X contains NaN or infinity"):
        train(bad, Y, [3, 2, 1], num_iterations=1, backend=backend)
    with pytest.raises(ValueError, match="L_layer_model: Y contains NaN or infinity"):
        train(X, np.where(Y == 1, np.nan, 0.0), [3, 2, 1], num_iterations=1, backend=backend)
    with pytest.raises(ValueError, match=r"L_layer_model: X has no examples \(shape \(3, 0\)\)"):
        train(X[:, :0], Y[:, :0], [3, 2, 1], num_iterations=1, backend=backend)
    with pytest.raises(ValueError, match=r"the sigmoid output needs layers_dims\[-1\] = 1, got 2"):
        train(X, Y, [3, 2], num_iterations=1, backend=backend)


@pytest.mark.parametrize(
    "value, error, message",
    [
        (0, ValueError, "learning_rate must be a positive finite number, got 0.0"),
        (-0.1, ValueError, "learning_rate must be a positive finite number, got -0.1"),
        (math.nan, ValueError, "learning_rate must be a positive finite number, got nan"),
        (math.inf, ValueError, "learning_rate must be a positive finite number, got inf"),
        ("0.1", TypeError, "learning_rate must be a positive number, got '0.1'"),
    ],
)
def test_learning_rate_errors(backend, value, error, message):
    X, Y = _data(backend)
    with pytest.raises(error, match="L_layer_model: " + message):
        dnn.L_layer_model(X, Y, [3, 2, 1], learning_rate=value, num_iterations=1, backend=backend)


@pytest.mark.parametrize(
    "value, error", [(-1, ValueError), (2.5, TypeError), (True, TypeError), ("10", TypeError)]
)
def test_iteration_count_errors(backend, value, error):
    X, Y = _data(backend)
    with pytest.raises(error, match="L_layer_model: num_iterations must be an integer >= 0"):
        dnn.L_layer_model(X, Y, [3, 2, 1], num_iterations=value, backend=backend)


@pytest.mark.parametrize(
    "dims, message",
    [
        ([3, 0, 1], r"layers_dims\[1\] must be a positive integer, got 0"),
        ([3, 2.5, 1], r"layers_dims\[1\] must be a positive integer, got 2.5"),
        ([3, -2, 1], r"layers_dims\[1\] must be a positive integer, got -2"),
        ([3], "layers_dims needs at least an input and an output size"),
    ],
)
def test_layer_size_errors(backend, dims, message):
    X, Y = _data(backend)
    with pytest.raises(ValueError, match="L_layer_model: " + message):
        dnn.L_layer_model(X, Y, dims, num_iterations=1, backend=backend)
    if len(dims) > 1:
        with pytest.raises(
            ValueError, match="initialize_parameters_deep: " + message.replace("layers_", "layer_")
        ):
            dnn.initialize_parameters_deep(dims, backend=backend)
    with pytest.raises(TypeError, match="layers_dims must be a list of layer sizes, got 'abc'"):
        dnn.L_layer_model(X, Y, "abc", num_iterations=1, backend=backend)


def test_init_and_seed_errors(backend):
    with pytest.raises(
        ValueError, match="initialize_parameters_deep: init must be one of 'random', 'xavier'"
    ):
        dnn.initialize_parameters_deep([3, 1], init="glorot", backend=backend)
    with pytest.raises(
        ValueError,
        match=r"initialize_parameters_deep: seed must be an integer from 0 to 4294967295 "
        r"\(NumPy's seeds stop at 2\*\*32 - 1\), got -3",
    ):
        dnn.initialize_parameters_deep([3, 1], seed=-3, backend=backend)
    with pytest.raises(
        ValueError, match=r"initialize_parameters: \(n_x, n_h, n_y\)\[1\] must be a positive integer"
    ):
        dnn.initialize_parameters(3, 0, 1, backend=backend)


def test_mixed_libraries_in_training(backend):
    X, Y = _data(backend)
    other = "array_api_strict" if backend.name != "array_api_strict" else "numpy"
    X_other = dnn.get_backend(other).asarray(X)
    if other == "numpy":
        pytest.skip("host NumPy data is always accepted and moved")
    with pytest.raises(
        TypeError, match=f"L_layer_model: X is a {other} array but training runs on {backend.name}"
    ):
        dnn.L_layer_model(X_other, Y, [3, 2, 1], num_iterations=1, backend=backend)


def test_mixed_devices_are_named():
    strict = pytest.importorskip("array_api_strict")
    a = strict.asarray([[1.0]], device=strict.Device("CPU_DEVICE"))
    b = strict.asarray([[1.0]], device=strict.Device("device1"))
    with pytest.raises(
        ValueError, match=r"linear_forward: arrays on different devices were mixed \(.*CPU_DEVICE.*device1"
    ):
        namespace_of(a, b, func="linear_forward")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_finite_and_silent_for_large_inputs(backend, dtype):
    Z = backend.asarray(np.array([[-1e4, -1000.0, -100.0, 0.0, 100.0, 1000.0, 1e4]]), dtype=dtype)
    A, _ = dnn.sigmoid(Z)  # pytest turns any warning into an error
    A = dnn.to_numpy(A)
    assert np.all(np.isfinite(A)) and np.all((A >= 0) & (A <= 1))
    assert A[0, 3] == 0.5 and A[0, -1] == 1.0 and A[0, 0] < 1e-30
    dZ = dnn.to_numpy(dnn.sigmoid_backward(backend.asarray(np.ones((1, 7)), dtype=dtype), Z))
    assert np.all(np.isfinite(dZ)) and dZ[0, 3] == 0.25


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compute_cost_at_exact_zero_and_one(backend, dtype):
    AL = backend.asarray(np.array([[0.0, 1.0, 1.0, 0.0]]), dtype=dtype)
    Y = backend.asarray(np.array([[1, 0, 1, 0]]))
    cost = dnn.compute_cost(AL, Y)
    eps = float(np.finfo(dtype).eps)
    assert math.isfinite(cost)
    assert cost == pytest.approx(-2 * math.log(eps) / 4, rel=1e-3)
    perfect = dnn.compute_cost(AL, backend.asarray(np.array([[0, 1, 1, 0]])))
    assert 0 <= perfect < 1e-6


def test_saturated_output_gives_finite_exact_gradient(backend):
    # A huge Z makes AL exactly 1.0; the course's dAL would be inf and dZ nan.
    X = backend.asarray(np.array([[1.0, -1.0]]))
    params = {"W1": backend.asarray(np.array([[800.0]])), "b1": backend.asarray(np.array([[0.0]]))}
    AL, caches = dnn.L_model_forward(X, params)
    grads = dnn.L_model_backward(AL, backend.asarray(np.array([[0.0, 0.0]])), caches)
    # dZ = AL - Y = [1, ~0]; dW = dZ X^T / m = 0.5
    assert dnn.to_numpy(grads["dW1"])[0, 0] == pytest.approx(0.5)
    assert dnn.to_numpy(grads["db1"])[0, 0] == pytest.approx(0.5)


def test_compute_cost_label_errors(backend):
    AL = backend.asarray(np.array([[0.5, 0.5]]))
    # A course-named function: other labels warn and give the course's formula.
    with pytest.warns(UserWarning, match=r"compute_cost: Y holds labels other than 0 and 1 \(first: 3.0\)"):
        cost = dnn.compute_cost(AL, backend.asarray(np.array([[1.0, 3.0]])))
    assert cost == pytest.approx(-(math.log(0.5) + 3 * math.log(0.5) + (1 - 3) * math.log(0.5)) / 2)
    with pytest.raises(ValueError, match=r"compute_cost: Y has shape \(1, 3\), expected \(1, 2\)"):
        dnn.compute_cost(AL, backend.asarray(np.array([[1.0, 0.0, 1.0]])))


def test_one_dimensional_labels_of_a_one_unit_output(backend):
    """The course writes a one-unit output's labels ``np.array([1, 1, 0])``: they count as (1, m)."""
    X = backend.asarray(np.array([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]]))
    params = {"W1": backend.asarray(np.array([[0.7, -1.3]])), "b1": backend.asarray(np.array([[0.2]]))}
    AL, caches = dnn.L_model_forward(X, params)
    row, flat = backend.asarray(np.array([[1, 1, 0]])), backend.asarray(np.array([1, 1, 0]))
    assert dnn.compute_cost(AL, flat) == dnn.compute_cost(AL, row)
    np.testing.assert_array_equal(
        dnn.to_numpy(dnn.compute_cost_backward(AL, flat)), dnn.to_numpy(dnn.compute_cost_backward(AL, row))
    )
    by_row, by_flat = dnn.L_model_backward(AL, row, caches), dnn.L_model_backward(AL, flat, caches)
    assert sorted(by_flat) == sorted(by_row)
    for key in by_row:
        np.testing.assert_array_equal(dnn.to_numpy(by_flat[key]), dnn.to_numpy(by_row[key]))
    with pytest.raises(ValueError, match=r"compute_cost: Y has shape \(2,\), expected \(1, 3\)"):
        dnn.compute_cost(AL, backend.asarray(np.array([1, 0])))
    with pytest.raises(ValueError, match=r"L_model_backward: Y has shape \(4,\), expected \(1, 3\)"):
        dnn.L_model_backward(AL, backend.asarray(np.array([1, 0, 1, 1])), caches)
    with pytest.raises(ValueError, match=r"compute_cost: Y must be 2-D, or 1-D for a one-unit AL, got shape"):
        dnn.compute_cost(AL, backend.asarray(np.ones((1, 1, 3))))
    two_units = backend.asarray(np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"compute_cost: Y has shape \(6,\), expected \(2, 3\)"):
        dnn.compute_cost(two_units, backend.asarray(np.ones(6)))


@pytest.mark.parametrize("dtype, low", [("float32", -103.0), ("float64", -744.0)])
def test_sigmoid_is_the_course_formula_where_finite(backend, dtype, low):
    # Down to where the result underflows to 0: no clipping moves a value in range.
    Z = np.concatenate([np.linspace(low, 40.0, 2001), [-88.0, -87.5, -87.0, -708.5, -709.0, 0.0]])
    Z = Z.astype(dtype)
    A = dnn.to_numpy(dnn.sigmoid(backend.asarray(Z))[0]).astype(np.longdouble)
    z = Z.astype(np.longdouble)
    exact = 1 / (1 + np.exp(-z))
    info = np.finfo(dtype)
    normal = exact >= info.smallest_normal
    np.testing.assert_allclose(A[normal], exact[normal], rtol=2 * float(info.eps), atol=0)
    # Subnormal results: within two steps of the smallest subnormal, or 0 where the
    # library flushes subnormals to zero (XLA on the CPU does).
    tiny = backend.asarray(np.array([4 * info.smallest_subnormal], dtype=dtype))
    flushes = float(dnn.to_numpy(tiny * 0.5)[0]) == 0
    close = np.abs(A[~normal] - exact[~normal]) <= 2 * float(info.smallest_subnormal)
    assert np.all(close | (flushes & (A[~normal] == 0)))
    if dtype == "float32" and not flushes:
        assert float(A[Z == -88.0][0]) == pytest.approx(6.0546e-39, rel=1e-4)
    # The backward is the course's dA * s * (1 - s): |error| <= |ds| |1 - 2s| <= 2 eps s, s's own rounding.
    dZ = dnn.to_numpy(dnn.sigmoid_backward(backend.asarray(np.ones_like(Z)), backend.asarray(Z)))
    with np.errstate(over="ignore"):
        s = 1 / (1 + np.exp(-Z))
        finite = np.isfinite(np.exp(-Z))
    course = s * (1 - s)
    # Subnormal results: two steps of the smallest, or flushed to 0 where the library does (XLA).
    tiny = float(info.smallest_normal) if flushes else 2 * float(info.smallest_subnormal)
    assert np.all(np.abs(dZ - course)[finite] <= 4 * float(info.eps) * s[finite] + tiny)
    # Where exp(-Z) overflows, s (1 - s) is exp(Z) (the course's formula gives 0 there).
    e = np.exp(-np.abs(z[~finite]))
    assert np.all(np.abs(dZ[~finite] - e / (1 + e) ** 2) <= 4 * float(info.eps) * e + tiny)
    if backend.name == "numpy":
        # The course's formula to the bit, wherever exp(-Z) is finite.
        np.testing.assert_array_equal(A[finite].astype(dtype), s[finite])
        np.testing.assert_array_equal(dZ[finite], course[finite])
