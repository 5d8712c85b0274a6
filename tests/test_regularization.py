"""L2 regularization and inverted dropout: values, gradients, masks across backends, and their effect."""

import re

import array_api_compat
import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.backend import namespace_of
from portable_dnn.fit import fit, predict_labels
from portable_dnn.gradcheck import gradient_check
from portable_dnn.regularization import (
    add_l2_grads,
    apply_dropout,
    compute_cost_with_regularization,
    dropout_backward,
    dropout_forward,
    dropout_mask,
    l2_cost,
    l2_grads,
)


def _params(backend, dtype="float64"):
    return dnn.initialize_parameters_deep([3, 4, 2], init="he", seed=2, backend=backend, dtype=dtype)


def test_l2_cost_value(backend):
    p = _params(backend)
    host = {k: dnn.to_numpy(v) for k, v in p.items()}
    expected = 0.7 / (2 * 5) * (np.sum(host["W1"] ** 2) + np.sum(host["W2"] ** 2))
    assert l2_cost(p, 0.7, 5) == pytest.approx(expected, rel=1e-12)
    assert l2_cost(p, 0.0, 5) == 0.0


def test_l2_gradient_check(backend):
    p = _params(backend)
    diff = gradient_check(
        lambda q: l2_cost(q, 0.7, 5),
        lambda q: {**l2_grads(q, 0.7, 5), "db1": 0 * q["b1"], "db2": 0 * q["b2"]},
        p,
    )
    assert diff < 1e-7


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_l2_grads_kind_and_no_mutation(backend, xp, dtype):
    p = _params(backend, dtype)
    grads = {
        "dW1": xp.zeros_like(p["W1"]),
        "db1": xp.zeros_like(p["b1"]),
        "dW2": xp.zeros_like(p["W2"]),
        "db2": xp.zeros_like(p["b2"]),
    }
    before = {k: dnn.to_numpy(v).copy() for k, v in grads.items()}
    out = add_l2_grads(grads, p, 0.5, 4)
    assert out is not grads and set(out) == set(grads)
    for k, v in grads.items():
        np.testing.assert_array_equal(dnn.to_numpy(v), before[k])
        assert namespace_of(out[k]) is xp and out[k].dtype == v.dtype
    np.testing.assert_allclose(dnn.to_numpy(out["dW1"]), 0.5 / 4 * dnn.to_numpy(p["W1"]), rtol=1e-6)


def test_cost_with_regularization(backend):
    p = _params(backend)
    AL = backend.asarray(np.array([[0.2, 0.9, 0.6]]))
    Y = backend.asarray(np.array([[0, 1, 1]]))
    assert compute_cost_with_regularization(AL, Y, p, 0.3) == pytest.approx(
        dnn.compute_cost(AL, Y) + l2_cost(p, 0.3, 3), rel=1e-12
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_mask_is_the_host_stream(backend, xp, dtype):
    A = backend.asarray(np.ones((4, 7)), dtype=dtype)
    D = dropout_mask(A, 0.6, 5)
    expected = (np.random.RandomState(5).rand(4, 7) < 0.6).astype(np.float64)
    np.testing.assert_array_equal(dnn.to_numpy(D), expected)
    assert namespace_of(D) is xp and D.dtype == A.dtype
    assert str(array_api_compat.device(D)) == str(array_api_compat.device(A))
    out, D2 = dropout_forward(A, 0.6, dnn.backend.host_random_state(5))
    np.testing.assert_allclose(dnn.to_numpy(out), expected / 0.6, rtol=1e-6)
    np.testing.assert_array_equal(dnn.to_numpy(A), np.ones((4, 7)))  # input untouched
    assert out.dtype == A.dtype


def test_dropout_gradient_check_with_fixed_mask(backend, xp):
    rs = np.random.RandomState(3)
    A = backend.asarray(rs.randn(3, 5), dtype="float64")
    G = backend.asarray(rs.randn(3, 5), dtype="float64")
    D = dropout_mask(A, 0.7, 1)
    diff = gradient_check(
        lambda p: float(xp.sum(G * apply_dropout(p["A"], D, 0.7))),
        lambda p: {"dA": dropout_backward(G, D, 0.7)},
        {"A": A},
    )
    assert diff < 1e-7


def test_dropout_through_a_layer_gradient_check(backend, xp):
    """relu layer -> dropout (fixed mask) -> sum(G * .): fit's backward order, checked numerically."""
    rs = np.random.RandomState(4)
    f64 = lambda a: backend.asarray(a, dtype="float64")  # noqa: E731
    A_prev, G = f64(rs.randn(3, 5)), f64(rs.randn(4, 5))
    params = {"W": f64(rs.randn(4, 3)), "b": f64(rs.randn(4, 1))}
    D = dropout_mask(G, 0.5, 2)

    def cost(p):
        A, _ = dnn.linear_activation_forward(A_prev, p["W"], p["b"], "relu")
        return float(xp.sum(G * apply_dropout(A, D, 0.5))) / 5

    def grads(p):
        _, cache = dnn.linear_activation_forward(A_prev, p["W"], p["b"], "relu")
        _, dW, db = dnn.linear_activation_backward(dropout_backward(G, D, 0.5), cache, "relu")
        return {"dW": dW, "db": db}

    assert gradient_check(cost, grads, params) < 1e-7


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_takes_boolean_and_integer_masks(backend, xp, dtype):
    """The course keeps its masks as booleans (``D1 = D1 < keep_prob``): they, and 0/1 integers,
    give what the 0/1 mask of A's dtype gives, in A's dtype."""
    A = backend.asarray(np.random.RandomState(3).randn(3, 4), dtype=dtype)
    host = np.random.RandomState(1).rand(3, 4) < 0.7
    expected_forward = dnn.to_numpy(apply_dropout(A, backend.asarray(host, dtype=dtype), 0.7))
    expected_backward = dnn.to_numpy(dropout_backward(A, backend.asarray(host, dtype=dtype), 0.7))
    for mask in (host, host.astype(np.int64), host.astype(np.uint8)):
        D = backend.asarray(mask)
        for out, expected in (
            (apply_dropout(A, D, 0.7), expected_forward),
            (dropout_backward(A, D, 0.7), expected_backward),
        ):
            assert namespace_of(out) is xp and out.dtype == A.dtype
            np.testing.assert_array_equal(dnn.to_numpy(out), expected)
    # A float mask must still be of A's own dtype.
    other = "float64" if dtype == "float32" else "float32"
    with pytest.raises(TypeError, match="apply_dropout: arrays must share one floating dtype"):
        apply_dropout(A, backend.asarray(host, dtype=other), 0.7)


@pytest.mark.parametrize("func", [apply_dropout, dropout_backward])
@pytest.mark.parametrize(
    ("mask", "found"),
    [
        # The uniform draws themselves: the course's "D1 = D1 < keep_prob" forgotten.
        (np.random.RandomState(0).rand(2, 3), repr(float(np.random.RandomState(0).rand()))),
        (np.full((2, 3), 2, dtype=np.int64), "2.0"),
        (np.array([[1.0, 0.0, 1.0], [1.0, np.nan, 0.0]]), r"nan at \[1, 1\]"),
        (np.array([[1.0, 0.0, -1.0], [1.0, 1.0, 0.0]]), r"-1.0 at \[0, 2\]"),
    ],
    ids=["uniform", "twos", "nan", "minus-one"],
)
def test_dropout_refuses_a_mask_that_is_not_zero_one(backend, func, mask, found):
    A = backend.asarray(np.ones((2, 3)))
    with pytest.raises(ValueError) as info:
        func(A, backend.asarray(mask), 0.8)
    assert re.fullmatch(
        rf"{func.__name__}: D must be a dropout mask of 0s and 1s \(rand\(\.\.\.\) < keep_prob\), "
        rf"found {found}.*",
        str(info.value),
    ), str(info.value)


def test_errors(backend):
    A = backend.asarray(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"dropout_mask: keep_prob must be a number in \(0, 1\]"):
        dropout_mask(A, 0.0, 1)
    with pytest.raises(TypeError, match="dropout_mask: rng must be an integer seed or a RandomState"):
        dropout_mask(A, 0.5, "x")
    with pytest.raises(ValueError, match=r"dropout_backward: D has shape \(1, 2\)"):
        dropout_backward(A, backend.asarray(np.ones((1, 2))), 0.5)
    with pytest.raises(ValueError, match="l2_cost: lambd must be a finite number >= 0"):
        l2_cost(_params(backend), -1.0, 3)
    with pytest.raises(ValueError, match="l2_grads: m must be an integer >= 1"):
        l2_grads(_params(backend), 1.0, 0)


# --------------------------------------------------- regularization closes the train-test gap

# 80 noisy moons to train on, 320 to test on; a 2-50-50-1 ReLU network fits the training set exactly.


def _overfit_data():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    X, y = sklearn_datasets.make_moons(n_samples=400, noise=0.35, random_state=0)
    return X[:80].T, y[:80], X[80:].T, y[80:]


def _gap(backend, **kw):
    Xtr, ytr, Xte, yte = _overfit_data()
    p, _ = fit(
        Xtr,
        ytr,
        [2, 50, 50, 1],
        optimizer="adam",
        learning_rate=0.01,
        num_epochs=600,
        seed=1,
        backend=backend,
        **kw,
    )
    train = float(np.mean(dnn.to_numpy(predict_labels(backend.asarray(Xtr), p)).ravel() == ytr))
    test = float(np.mean(dnn.to_numpy(predict_labels(backend.asarray(Xte), p)).ravel() == yte))
    return train, test


@pytest.fixture(scope="module")
def unregularized(backend):
    return _gap(backend)


def test_unregularized_overfits(unregularized):
    train, test = unregularized
    assert train == 1.0 and test < 0.82  # measured: 1.000 vs 0.806


def test_l2_reduces_the_gap(backend, unregularized):
    train, test = _gap(backend, lambd=1.0)  # measured: 0.8625 vs 0.8781
    assert train - test < (unregularized[0] - unregularized[1]) - 0.1
    assert test > unregularized[1]


def test_dropout_reduces_the_gap(backend, unregularized):
    train, test = _gap(backend, keep_prob=0.5)  # measured: 0.900 vs 0.819
    assert train - test < (unregularized[0] - unregularized[1]) - 0.05
    assert test > unregularized[1]
