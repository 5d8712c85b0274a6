"""The second course's "Gradient Checking" notebook: its published differences, on every backend.

The N-D case is the one the notebook's tests build (``np.random.seed(1)``, then ``x`` (4, 3),
``W1`` (5, 4), ``b1``, ``W2`` (3, 5), ``b2``, ``W3`` (1, 3), ``b3`` drawn in that order, and
the 1-D labels ``[1, 1, 0]``); the expected values are the differences the notebook prints.
"""

from __future__ import annotations

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.course2 import gradient_checking as gc
from portable_dnn.course2.regularization import forward_propagation_with_dropout

SHAPES = {"W1": (5, 4), "b1": (5, 1), "W2": (3, 5), "b2": (3, 1), "W3": (1, 3), "b3": (1, 1)}
#: What the notebook prints for a correct backward pass, and for its exercise's planted
#: mistakes (dW2 doubled, db1 four times too large).
CORRECT, PLANTED = 1.1890913024229996e-07, 0.2850931567761623


def _case():
    rng = np.random.RandomState(1)
    X = rng.randn(4, 3)
    return X, np.array([1, 1, 0]), {k: rng.randn(*shape) for k, shape in SHAPES.items()}


def _notebook_net(X, Y, p):
    """The notebook's forward and correct backward in plain NumPy: the reference for the values."""
    m = X.shape[1]
    Z1 = p["W1"] @ X + p["b1"]
    A1 = np.maximum(Z1, 0)
    Z2 = p["W2"] @ A1 + p["b2"]
    A2 = np.maximum(Z2, 0)
    Z3 = p["W3"] @ A2 + p["b3"]
    A3 = 1 / (1 + np.exp(-Z3))
    # The notebook's expressions, to its rounding: a gradient check divides the cost's last bits by 2e-7.
    logprobs = np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y)
    cost = 1.0 / m * np.sum(logprobs)
    dZ3 = A3 - Y
    dA2 = p["W3"].T @ dZ3
    dZ2 = dA2 * (Z2 > 0)
    dA1 = p["W2"].T @ dZ2
    dZ1 = dA1 * (Z1 > 0)
    grads = {"dZ3": dZ3, "dA2": dA2, "dZ2": dZ2, "dA1": dA1, "dZ1": dZ1}
    for l, (dZ, A_prev) in enumerate(((dZ1, X), (dZ2, A1), (dZ3, A2)), start=1):
        grads[f"dW{l}"] = dZ @ A_prev.T / m
        grads[f"db{l}"] = dZ.sum(axis=1, keepdims=True) / m
    return cost, (Z1, A1, Z2, A2, Z3, A3), grads


@pytest.fixture
def case(to_backend):
    X, Y, parameters = _case()
    return to_backend(X), to_backend(Y), to_backend(parameters)


# ------------------------------------------------------------------ 1-D


def test_one_dimensional_forward_and_backward(to_backend):
    assert gc.forward_propagation(2, 4) == 8
    assert gc.backward_propagation(2, 4) == 2
    assert gc.backward_propagation(3, 4) == 3
    x, theta = to_backend(np.array(2.0)), to_backend(np.array(4.0))
    assert float(dnn.to_numpy(gc.forward_propagation(x, theta))) == 8.0
    assert float(dnn.to_numpy(gc.backward_propagation(x, theta))) == 2.0


@pytest.mark.parametrize("x, printed", [(2, 2.919335883291695e-10), (3, 7.814075313343006e-11)])
def test_one_dimensional_gradient_check(to_backend, capsys, x, printed):
    """The notebook's x = 2 (and an earlier edition's x = 3) with theta = 4, digit for digit."""
    assert gc.gradient_check(x, 4) == printed
    assert capsys.readouterr().out == ""
    difference = gc.gradient_check(to_backend(np.array(float(x))), to_backend(np.array(4.0)), print_msg=True)
    assert isinstance(difference, float) and difference == printed
    assert (
        capsys.readouterr().out == f"Your backward propagation works perfectly fine! difference = {printed}\n"
    )


@pytest.mark.parametrize("x, theta", [(2, np.nan), (np.inf, 4), (2, np.inf)])
def test_one_dimensional_check_of_non_finite_numbers_fails(capsys, x, theta):
    difference = gc.gradient_check(x, theta, print_msg=True)
    assert np.isnan(difference)
    assert capsys.readouterr().out.startswith(
        "There is a mistake in the backward propagation! difference = nan is not finite"
    )


# ------------------------------------------------------------------ N-D


def test_forward_propagation_n(case):
    X, Y, parameters = case
    cost, cache = gc.forward_propagation_n(X, Y, parameters)
    ref_cost, ref, _ = _notebook_net(*_case())
    assert isinstance(cost, float) and cost == pytest.approx(ref_cost, rel=1e-14)
    assert len(cache) == 12
    Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3 = cache
    for got, want in zip((Z1, A1, Z2, A2, Z3, A3), ref):
        np.testing.assert_allclose(dnn.to_numpy(got), want, rtol=1e-13, atol=1e-15)
    for got, key in zip((W1, b1, W2, b2, W3, b3), SHAPES):
        np.testing.assert_array_equal(dnn.to_numpy(got), dnn.to_numpy(parameters[key]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_gradient_check_n_fails_non_finite_gradients(to_backend, case, capsys, bad):
    X, Y, parameters = case
    grads = gc.backward_propagation_n(X, Y, gc.forward_propagation_n(X, Y, parameters)[1])
    db2 = dnn.to_numpy(grads["db2"]).copy()
    db2[1, 0] = bad
    difference = gc.gradient_check_n(parameters, dict(grads, db2=to_backend(db2)), X, Y, print_msg=True)
    assert np.isnan(difference)
    assert capsys.readouterr().out == (
        "There is a mistake in the backward propagation! difference = nan is not finite: "
        "the gradients or the costs hold NaN or infinity\n"
    )


def test_backward_propagation_n(case):
    X, Y, parameters = case
    grads = gc.backward_propagation_n(X, Y, gc.forward_propagation_n(X, Y, parameters)[1])
    order = ["dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"]
    assert list(grads) == order
    _, _, ref = _notebook_net(*_case())
    for key in order:
        np.testing.assert_allclose(dnn.to_numpy(grads[key]), ref[key], rtol=1e-12, atol=1e-15, err_msg=key)


def _notebook_gradient_check(X, Y, p, grads, epsilon=1e-7):
    """The notebook's gradient_check_n in plain NumPy (its vectors, its cost's expressions, its
    loop), on this machine: the difference and the bound on how far rounding can move it."""
    keys = list(SHAPES)
    theta = np.concatenate([p[k].reshape(-1, 1) for k in keys])
    grad = np.concatenate([dnn.to_numpy(grads["d" + k]).reshape(-1, 1) for k in keys])

    sizes = np.cumsum([np.prod(SHAPES[k]) for k in keys])[:-1]

    def cost(th):
        q = {k: v.reshape(SHAPES[k]) for k, v in zip(keys, np.split(th, sizes))}
        return _notebook_net(X, Y, q)[0]

    gradapprox = np.zeros_like(theta)
    for i in range(len(theta)):
        plus, minus = theta.copy(), theta.copy()
        plus[i] += epsilon
        minus[i] -= epsilon
        gradapprox[i] = (cost(plus) - cost(minus)) / (2 * epsilon)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = np.linalg.norm(grad - gradapprox) / denominator
    # Each cost is a sum of a few dozen rounded terms; another order of the same arithmetic
    # (another BLAS kernel, processor or library) moves it by up to 8 ulps. Each entry's
    # central difference takes two costs over 2 epsilon; len(theta) entries enter the norm.
    ulps = 8 * np.spacing(cost(theta))
    bound = np.sqrt(len(theta)) * ulps / epsilon / denominator
    return difference, bound


def test_gradient_check_n_reproduces_the_notebook(backend, case, capsys):
    """A correct backward pass gives the notebook's 1.19e-07; its exercise's mistakes its 0.285.

    On NumPy the difference is the notebook's own computation on this machine to the last
    digits; the published figures, computed elsewhere, and the libraries whose products round
    differently (PyTorch, XLA) are held to it within what rounding can move a central difference.
    """
    X, Y, parameters = case
    grads = gc.backward_propagation_n(X, Y, gc.forward_propagation_n(X, Y, parameters)[1])
    difference = gc.gradient_check_n(parameters, grads, X, Y, 1e-7, True)
    assert isinstance(difference, float)
    X0, Y0, p0 = _case()
    notebook, bound = _notebook_gradient_check(X0, Y0, p0, grads)
    assert abs(CORRECT - notebook) <= bound
    if backend.name == "numpy":
        assert difference == pytest.approx(notebook, rel=1e-12, abs=0)
    else:
        assert abs(difference - notebook) <= bound
    assert capsys.readouterr().out == (
        f"Your backward propagation works perfectly fine! difference = {difference}\n"
    )
    planted = dict(grads, dW2=grads["dW2"] * 2, db1=grads["db1"] * 4)
    wrong = gc.gradient_check_n(parameters, planted, X, Y, print_msg=True)
    notebook, bound = _notebook_gradient_check(X0, Y0, p0, planted)
    assert abs(PLANTED - notebook) <= bound
    assert abs(wrong - notebook) <= (1e-15 * notebook if backend.name == "numpy" else bound)
    assert (
        capsys.readouterr().out == f"There is a mistake in the backward propagation! difference = {wrong}\n"
    )


def test_any_depth(backend, to_backend):
    """Four layers (ReLU, ReLU, ReLU, sigmoid) and two-dimensional labels: the backward pass checks."""
    dims = [3, 4, 3, 2, 1]
    rng = np.random.RandomState(7)
    parameters = {}
    for l in range(1, len(dims)):
        parameters[f"W{l}"] = rng.randn(dims[l], dims[l - 1])
        parameters[f"b{l}"] = rng.randn(dims[l], 1) * 0.1
    X, Y = to_backend(rng.randn(3, 5)), to_backend(np.array([[1.0, 0.0, 0.0, 1.0, 1.0]]))
    parameters = to_backend(parameters)
    cost, cache = gc.forward_propagation_n(X, Y, parameters)
    assert len(cache) == 16 and cost > 0
    grads = gc.backward_propagation_n(X, Y, cache)
    assert list(grads)[:4] == ["dZ4", "dW4", "db4", "dA3"] and "dA0" not in grads
    assert gc.gradient_check_n(parameters, grads, X, Y) < 2e-7


# ------------------------------------------------------------ gc_utils


def test_dictionary_to_vector_and_back(case):
    _, _, parameters = case
    theta, keys = gc.dictionary_to_vector(parameters)
    assert tuple(theta.shape) == (47, 1)
    assert keys == ["W1"] * 20 + ["b1"] * 5 + ["W2"] * 15 + ["b2"] * 3 + ["W3"] * 3 + ["b3"]
    host = dnn.to_numpy(theta)
    assert host[0, 0] == dnn.to_numpy(parameters["W1"])[0, 0] and host[46, 0] == dnn.to_numpy(
        parameters["b3"]
    )
    back = gc.vector_to_dictionary(theta)
    assert list(back) == list(SHAPES)
    for key in SHAPES:
        np.testing.assert_array_equal(dnn.to_numpy(back[key]), dnn.to_numpy(parameters[key]))
    # The keys follow W1, b1, W2, ... whatever the dict's order.
    shuffled = {k: parameters[k] for k in reversed(list(parameters))}
    np.testing.assert_array_equal(dnn.to_numpy(gc.dictionary_to_vector(shuffled)[0]), host)


def test_vector_to_dictionary_takes_a_layout(to_backend):
    layout = [("W1", (2, 3)), ("b1", (2, 1))]
    p = gc.vector_to_dictionary(to_backend(np.arange(8.0).reshape(8, 1)), layout)
    np.testing.assert_array_equal(dnn.to_numpy(p["W1"]), [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(dnn.to_numpy(p["b1"]), [[6], [7]])


def test_gradients_to_vector_takes_the_parameter_gradients_only(case):
    X, Y, parameters = case
    grads = gc.backward_propagation_n(X, Y, gc.forward_propagation_n(X, Y, parameters)[1])
    vector = dnn.to_numpy(gc.gradients_to_vector(grads))
    assert vector.shape == (47, 1)
    expected = np.concatenate([dnn.to_numpy(grads["d" + k]).reshape(-1) for k in SHAPES])
    np.testing.assert_array_equal(vector[:, 0], expected)


def test_gc_utils_activations(to_backend):
    Z = to_backend(np.array([[-2.0, 0.0, 3.0]]))
    np.testing.assert_array_equal(dnn.to_numpy(gc.relu(Z)), [[0.0, 0.0, 3.0]])
    np.testing.assert_allclose(dnn.to_numpy(gc.sigmoid(Z)), 1 / (1 + np.exp([[2.0, 0.0, -3.0]])), rtol=1e-15)
    assert gc.sigmoid(0) == 0.5 and gc.relu(-1) == 0.0


def test_package_names_keep_their_layout_api():
    """The package's dictionary_to_vector returns a layout; this module's, the notebook's keys."""
    _, _, parameters = _case()
    assert dnn.dictionary_to_vector(parameters)[1][0] == ("W1", (5, 4))
    assert gc.dictionary_to_vector(parameters)[1][0] == "W1"


def test_errors(case):
    X, Y, parameters = case
    _, cache = gc.forward_propagation_n(X, Y, parameters)
    grads = gc.backward_propagation_n(X, Y, cache)
    theta, _ = gc.dictionary_to_vector(parameters)
    with pytest.raises(
        ValueError, match=r"vector_to_dictionary: theta has 46 entries, the notebook's network 47"
    ):
        gc.vector_to_dictionary(theta[:46, :])
    with pytest.raises(ValueError, match="dictionary_to_vector: has W2 but no 'b2'"):
        gc.dictionary_to_vector({k: v for k, v in parameters.items() if k != "b2"})
    with pytest.raises(ValueError, match="gradients_to_vector: no 'dW1'"):
        gc.gradients_to_vector(parameters)
    with pytest.raises(ValueError, match="gradient_check_n: gradients has no 'db3'"):
        gc.gradient_check_n(parameters, {k: v for k, v in grads.items() if k != "db3"}, X, Y)
    with pytest.raises(ValueError, match=r"gradient_check_n: gradients\['dW1'\] has shape \(4, 5\)"):
        gc.gradient_check_n(parameters, dict(grads, dW1=grads["dW1"].T), X, Y)
    with pytest.raises(ValueError, match="gradient_check_n: epsilon must be a positive finite number"):
        gc.gradient_check_n(parameters, grads, X, Y, epsilon=0.0)
    with pytest.raises(ValueError, match=r"forward_propagation_n: Y has shape \(2,\), expected \(1, 3\)"):
        gc.forward_propagation_n(X, Y[:2], parameters)
    with pytest.raises(
        ValueError,
        match=r"backward_propagation_n: cache must be a tuple \(Z1, A1, W1, b1, \.\.\., ZL, AL, WL, bL\), "
        "got a tuple of length 11",
    ):
        gc.backward_propagation_n(X, Y, cache[:-1])
    with pytest.raises(ValueError, match=r"gradient_check: x must be one number, got shape \(2,\)"):
        gc.gradient_check(np.ones(2), 4)
    with pytest.raises(
        TypeError, match="forward_propagation: theta must be a real number or an array, got str"
    ):
        gc.forward_propagation(2, "4")


def test_cache_errors_name_the_cache(case, to_backend):
    """A reversed cache, or a dropout cache whose length happens to fit, is blamed on the cache."""
    X, Y, parameters = case
    _, cache = gc.forward_propagation_n(X, Y, parameters)
    with pytest.raises(ValueError) as info:
        gc.backward_propagation_n(X, Y, cache[::-1])
    assert str(info.value) == (
        "backward_propagation_n: cache[2] (W1) has shape (1, 3), expected (1, 4) "
        "(its columns must equal the rows of X, 4)"
    )
    dims = [4, 3, 3, 3, 3, 1]  # four hidden layers: 4 * 5 + 4 = 24 entries, a multiple of 4
    rng = np.random.RandomState(2)
    deep = {f"{p}{l}": rng.randn(dims[l], dims[l - 1] if p == "W" else 1) for l in range(1, 6) for p in "Wb"}
    _, dropped = forward_propagation_with_dropout(X, to_backend(deep), 0.7)
    assert len(dropped) == 24
    with pytest.raises(ValueError) as info:
        gc.backward_propagation_n(X, Y, dropped)
    assert str(info.value) == (
        "backward_propagation_n: cache[1] is a boolean array, a dropout mask: backward_propagation_n "
        "takes the cache (Z1, A1, W1, b1, ..., ZL, AL, WL, bL), without masks"
    )


@pytest.mark.parametrize(
    "layout",
    [[("W1", 47)], [("W1", (-47, -1))], [("W1", (47, 1.5))], [("W1", "47")], [(1, (47, 1))], [("W1",)]],
    ids=["int-shape", "negative", "float-size", "str-shape", "int-key", "no-shape"],
)
@pytest.mark.parametrize("vector_to_dictionary", [gc.vector_to_dictionary, dnn.vector_to_dictionary])
def test_a_malformed_layout_is_named(to_backend, vector_to_dictionary, layout):
    with pytest.raises(ValueError) as info:
        vector_to_dictionary(to_backend(np.zeros((47, 1))), layout)
    assert str(info.value) == (
        "vector_to_dictionary: layout[0] must be a (key, shape) pair, a string and a tuple of sizes >= 0, "
        f"got {layout[0]!r}"
    )
    with pytest.raises(ValueError, match=r"^gradients_to_vector: layout\[0\] must be a \(key, shape\) pair"):
        dnn.gradients_to_vector({"dW1": to_backend(np.zeros((47, 1)))}, layout)


def test_a_layout_naming_a_key_twice_is_refused(to_backend):
    with pytest.raises(ValueError, match="^vector_to_dictionary: layout names 'W1' twice$"):
        gc.vector_to_dictionary(to_backend(np.zeros((47, 1))), [("W1", (47,)), ("W1", (0,))])
    with pytest.raises(TypeError, match="^vector_to_dictionary: layout must be a list of"):
        gc.vector_to_dictionary(to_backend(np.zeros((47, 1))), "W1")


def test_predict_gives_the_published_decisions(to_backend):
    """The published ``predict_test``: a 2-4-1 network's decisions on ``randn(2, 3)`` seeded 1."""
    X = np.random.RandomState(1).randn(2, 3)
    parameters = {
        "W1": np.array([[-0.00615039, 0.0169021], [-0.02311792, 0.03137121],
                        [-0.0169217, -0.01752545], [0.00935436, -0.05018221]]),
        "b1": np.array([[-8.97523455e-07], [8.15562092e-06], [6.04810633e-07], [-2.54560700e-06]]),
        "W2": np.array([[-0.0104319, -0.04019007, 0.01607211, 0.04440255]]),
        "b2": np.array([[9.14954378e-05]]),
    }  # fmt: skip
    predictions = gc.predict(to_backend(parameters), to_backend(X))
    assert dnn.to_numpy(predictions).dtype == np.bool_
    np.testing.assert_array_equal(dnn.to_numpy(predictions), [[True, False, True]])
