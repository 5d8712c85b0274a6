"""The multi-label (independent sigmoid units) and identity (linear, squared error) outputs, on every backend.

Reference costs and forward passes are written here from their formulas, in NumPy on the host:
multilabel ``J = -1/m sum_units sum_examples (Y log AL + (1 - Y) log(1 - AL))``, identity
``J = 1/(2m) sum ||AL - Y||^2``.
"""

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.engine import Network, Step, flatten, unflatten
from portable_dnn.fit import fit, forward_proba, predict_labels
from portable_dnn.gradcheck import gradient_check
from portable_dnn.optim import GD

TOL = 1e-7


def _host(seed, *shape, scale=1.0):
    return np.random.RandomState(seed).randn(*shape) * scale


def _params(seed, dims):
    rng = np.random.RandomState(seed)
    out = {}
    for l in range(1, len(dims)):
        out[f"W{l}"] = rng.randn(dims[l], dims[l - 1]) * 0.7
        out[f"b{l}"] = rng.randn(dims[l], 1) * 0.1
    return out


def _reference_AL(X, p, output):
    """tanh hidden layers, then the output unit's activation, in host NumPy."""
    L = len(p) // 2
    A = X
    for l in range(1, L):
        A = np.tanh(p[f"W{l}"] @ A + p[f"b{l}"])
    Z = p[f"W{L}"] @ A + p[f"b{L}"]
    return Z if output == "identity" else 1 / (1 + np.exp(-Z))


def _reference_cost(AL, Y, output):
    m = Y.shape[1]
    if output == "identity":
        return float(np.sum((AL - Y) ** 2) / (2 * m))
    return float(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m)


def _problem(output, k):
    X = _host(1, 3, 7)
    if output == "identity":
        Y = _host(2, k, 7, scale=2.0)
    else:
        Y = (_host(2, k, 7) > 0).astype(float)
    return X, Y, _params(3, [3, 4, k])


@pytest.mark.parametrize(("output", "k"), [("identity", 1), ("identity", 3), ("multilabel", 3)])
def test_engine_cost_and_output_match_the_formulas(backend, output, k):
    X, Y, p = _problem(output, k)
    step = Step(backend.ops(backend.xp.float64), Network("tanh", output), GD())
    on = {name: backend.asarray(a, dtype="float64") for name, a in p.items()}
    Xb, Yb = backend.asarray(X, dtype="float64"), backend.asarray(Y, dtype="float64")
    cost, _ = step.gradients(flatten(on), Xb, Yb)
    AL = _reference_AL(X, p, output)
    assert float(cost) == pytest.approx(_reference_cost(AL, Y, output), rel=1e-12)
    np.testing.assert_allclose(dnn.to_numpy(step.forward(flatten(on), Xb)), AL, rtol=1e-12)
    np.testing.assert_allclose(
        dnn.to_numpy(forward_proba(Xb, on, hidden_activation="tanh", output=output)), AL, rtol=1e-12
    )


@pytest.mark.parametrize(("output", "k"), [("identity", 1), ("identity", 3), ("multilabel", 3)])
def test_engine_gradients_pass_gradient_check(backend, output, k):
    """The engine's gradients against central differences of the reference cost written above."""
    X, Y, p = _problem(output, k)
    step = Step(backend.ops(backend.xp.float64), Network("tanh", output), GD())
    Xb, Yb = backend.asarray(X, dtype="float64"), backend.asarray(Y, dtype="float64")

    def cost(q):
        host = {name: dnn.to_numpy(a) for name, a in q.items()}
        return _reference_cost(_reference_AL(X, host, output), Y, output)

    def grads(q):
        params = [backend.xp.asarray(a, copy=True) for a in flatten(q)]
        return unflatten(step.gradients(params, Xb, Yb)[1], prefix="d")

    params = {name: backend.asarray(a, dtype="float64") for name, a in p.items()}
    assert gradient_check(cost, grads, params) < TOL


def test_identity_fit_finds_least_squares(backend):
    """A network without hidden layer and a linear output is linear regression: full-batch gradient
    descent converges to the least-squares solution (numpy.linalg.lstsq)."""
    rng = np.random.RandomState(0)
    X = rng.randn(3, 200)
    W, b = np.array([[1.0, -2.0, 0.5], [0.3, 0.0, 2.0]]), np.array([[0.7], [-1.0]])
    Y = W @ X + b + 0.1 * rng.randn(2, 200)
    params, history = fit(X, Y, [3, 2], output="identity", learning_rate=0.9, num_epochs=150, backend=backend)
    design = np.vstack([X, np.ones((1, 200))])
    solution = np.linalg.lstsq(design.T, Y.T, rcond=None)[0].T
    np.testing.assert_allclose(dnn.to_numpy(params["W1"]), solution[:, :3], atol=1e-8)
    np.testing.assert_allclose(dnn.to_numpy(params["b1"]).ravel(), solution[:, 3], atol=1e-8)
    residual = Y - solution @ design
    assert history["cost"][-1] == pytest.approx(np.sum(residual**2) / 400, rel=1e-8)
    predicted = predict_labels(backend.asarray(X), params, output="identity")
    np.testing.assert_allclose(dnn.to_numpy(predicted), solution @ design, atol=1e-7)


def test_identity_one_target_takes_a_flat_Y(backend):
    X = _host(4, 2, 30)
    y = 3 * X[0] - X[1] + 1
    params, _ = fit(X, y, [2, 1], output="identity", learning_rate=0.5, num_epochs=200, backend=backend)
    np.testing.assert_allclose(dnn.to_numpy(params["W1"]), [[3.0, -1.0]], atol=1e-6)


def test_multilabel_fit_learns_independent_labels(backend):
    """Three labels, each a half-plane of the inputs: every unit learns its own."""
    X = _host(5, 2, 300)
    Y = np.vstack([X[0] > 0, X[1] > 0, X[0] + X[1] > 0.5]).astype(np.int64)
    params, history = fit(
        X, Y, [2, 8, 3], output="multilabel", optimizer="adam", learning_rate=0.05, num_epochs=150,
        batch_size=64, backend=backend,
    )  # fmt: skip
    predicted = dnn.to_numpy(predict_labels(backend.asarray(X), params, output="multilabel"))
    assert predicted.shape == (3, 300) and set(np.unique(predicted)) <= {0, 1}
    assert (predicted == Y).mean(axis=1).min() > 0.95
    assert history["cost"][-1] < 0.2 * history["cost"][0]


def test_target_checks(backend):
    X = _host(6, 2, 5)
    with pytest.raises(ValueError, match=r"fit: Y contains NaN or infinity"):
        fit(X, np.array([[0.0, 1.0, np.nan, 2.0, 3.0]]), [2, 1], output="identity", backend=backend)
    with pytest.raises(ValueError, match=r"fit: Y has shape \(5,\), expected \(2, 5\) real targets"):
        fit(X, np.zeros(5), [2, 2], output="identity", backend=backend)
    with pytest.raises(ValueError, match=r"fit: Y has shape \(3, 5\), expected \(2, 5\) labels 0/1"):
        fit(X, np.zeros((3, 5)), [2, 2], output="multilabel", backend=backend)
    with pytest.raises(ValueError, match=r"fit: Y must hold labels 0 or 1|fit: Y .*0 or 1"):
        fit(X, np.full((2, 5), 0.5), [2, 2], output="multilabel", backend=backend)
    with pytest.raises(ValueError, match="output='multilabel' takes several"):
        fit(X, np.zeros((2, 5)), [2, 2], output="sigmoid", backend=backend)
    with pytest.raises(ValueError, match="fit: output must be one of"):
        fit(X, np.zeros((1, 5)), [2, 1], output="linear", backend=backend)
