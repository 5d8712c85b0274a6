"""gradient_check itself, and the backward pass of every layer checked with it (float64, any backend)."""

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.gradcheck import (
    dictionary_to_vector,
    gradient_check,
    gradients_to_vector,
    vector_to_dictionary,
)

TOL = 1e-7


def _host(seed, *shape, scale=1.0):
    return np.random.RandomState(seed).randn(*shape) * scale


@pytest.fixture
def f64(backend):
    return lambda a: backend.asarray(a, dtype="float64")


@pytest.mark.parametrize("activation", ["relu", "tanh", "leaky_relu", "sigmoid"])
def test_layer_gradients(backend, xp, f64, activation):
    """d/d(W, b, A_prev) of sum(G * g(W A_prev + b)) matches linear_activation_backward."""
    A_prev, G = f64(_host(1, 4, 6)), f64(_host(2, 3, 6))
    params = {"W": f64(_host(3, 3, 4)), "b": f64(_host(4, 3, 1)), "A_prev": A_prev}
    m = 6

    def cost(p):
        A, _ = dnn.linear_activation_forward(p["A_prev"], p["W"], p["b"], activation)
        return float(xp.sum(G * A)) / m  # linear_backward's 1/m makes dW the gradient of the mean

    def grads(p):
        _, cache = dnn.linear_activation_forward(p["A_prev"], p["W"], p["b"], activation)
        dA_prev, dW, db = dnn.linear_activation_backward(G, cache, activation)
        return {"dW": dW, "db": db, "dA_prev": dA_prev / m}

    assert gradient_check(cost, grads, params) < TOL


@pytest.mark.thin_grid
@pytest.mark.parametrize("activation", list(dnn.activations.ACTIVATIONS))
def test_activation_gradients(xp, f64, activation):
    from portable_dnn.activations import activation_backward, activation_forward

    Z, G = f64(_host(5, 3, 4, scale=2.0)), f64(_host(6, 3, 4))
    diff = gradient_check(
        lambda p: float(xp.sum(G * activation_forward(p["Z"], activation)[0])),
        lambda p: {"dZ": activation_backward(G, p["Z"], activation)},
        {"Z": Z},
    )
    assert diff < TOL


@pytest.mark.thin_grid
@pytest.mark.parametrize("hidden", ["tanh", "relu", "leaky_relu", "sigmoid"])
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_engine_step_with_l2(backend, xp, f64, hidden, output):
    """A 3-layer network, cost + L2, through the engine's step (the one training loops run)."""
    from portable_dnn.engine import Network, Step, flatten, unflatten
    from portable_dnn.optim import GD

    X = f64(_host(7, 3, 5))
    n_y = 1 if output == "sigmoid" else 3
    labels = _host(8, 1, 5) > 0 if output == "sigmoid" else np.eye(3)[:, [0, 2, 1, 1, 0]]
    Y = f64(labels.astype(float))
    params = dnn.initialize_parameters_deep(
        [3, 4, 2, n_y], init="he", seed=1, backend=backend, dtype="float64"
    )
    lambd = 0.7
    step = Step(backend.ops(X.dtype), Network(hidden, output, lambd=lambd), GD())

    def cost(p):
        state = [[xp.asarray(a, copy=True) for a in flatten(p)]]
        return float(step.update(state, *step.gradients(state[0], X, Y), (1e-300, 1, 5))[1])

    def grads(p):
        state = [[xp.asarray(a, copy=True) for a in flatten(p)]]
        cost, g = step.gradients(state[0], X, Y)
        g = [xp.asarray(a, copy=True) for a in g]
        for i in range(0, len(g), 2):
            g[i] = g[i] + lambd / 5 * state[0][i]
        return unflatten(g, prefix="d")

    assert gradient_check(cost, grads, params) < TOL


def test_detects_a_wrong_gradient(xp, f64, capsys):
    Z = f64(_host(9, 2, 3))
    diff = gradient_check(
        lambda p: float(xp.sum(p["Z"] ** 2)), lambda p: {"dZ": 2.2 * p["Z"]}, {"Z": Z}, print_msg=True
    )
    assert diff > 1e-2
    assert "There is a mistake" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["gradient", "cost"])
def test_a_non_finite_difference_is_a_failed_check(f64, xp, capsys, bad, where):
    """NaN or infinity in a gradient or a cost never passes: ``nan > 2e-7`` is False."""
    Z = f64(_host(9, 2, 3))

    def cost(p):
        value = float(xp.sum(p["Z"] ** 2))
        return bad if where == "cost" else value

    def grads(p):
        dZ = 2 * p["Z"]
        return {"dZ": dZ * f64(np.array([[1.0, bad, 1.0], [1.0, 1.0, 1.0]])) if where == "gradient" else dZ}

    diff = gradient_check(cost, grads, {"Z": Z}, print_msg=True)
    assert np.isnan(diff) and not diff < TOL
    assert capsys.readouterr().out == (
        "There is a mistake in the backward propagation! difference = nan is not finite: "
        "the gradients or the costs hold NaN or infinity\n"
    )


def test_vector_round_trip(f64, xp):
    params = {"W1": f64(_host(1, 2, 3)), "b1": f64(_host(2, 2, 1))}
    theta, layout = dictionary_to_vector(params)
    assert tuple(theta.shape) == (8, 1) and layout == [("W1", (2, 3)), ("b1", (2, 1))]
    back = vector_to_dictionary(theta, layout)
    for k in params:
        np.testing.assert_array_equal(dnn.to_numpy(back[k]), dnn.to_numpy(params[k]))
    grads = gradients_to_vector({"dW1": params["W1"], "db1": params["b1"]}, layout)
    np.testing.assert_array_equal(dnn.to_numpy(grads), dnn.to_numpy(theta))


def test_errors(f64):
    with pytest.raises(ValueError, match="gradients_to_vector: grads has neither 'dW1'"):
        gradients_to_vector({}, [("W1", (1, 1))])
    with pytest.raises(ValueError, match="vector_to_dictionary: theta has 2 entries"):
        vector_to_dictionary(f64(np.zeros((2, 1))), [("W1", (1, 3))])
    with pytest.raises(ValueError, match="gradient_check: epsilon"):
        gradient_check(lambda p: 0.0, lambda p: p, {"W": f64(np.zeros((1, 1)))}, epsilon=-1.0)
