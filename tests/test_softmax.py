"""Softmax, its backward pass, and categorical cross-entropy with index or one-hot labels."""

import array_api_compat
import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.backend import namespace_of
from portable_dnn.gradcheck import gradient_check
from portable_dnn.softmax import (
    compute_cost_softmax,
    compute_cost_softmax_backward,
    one_hot,
    softmax,
    softmax_backward,
)

Z_HOST = np.random.RandomState(0).randn(4, 6) * 3
LABELS = np.array([0, 3, 1, 1, 2, 3])


def _same_kind(xp, out, ref):
    assert namespace_of(out) is xp
    assert out.dtype == ref.dtype
    assert str(array_api_compat.device(out)) == str(array_api_compat.device(ref))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_values_and_kind(backend, xp, dtype):
    Z = backend.asarray(Z_HOST, dtype=dtype)
    before = dnn.to_numpy(Z).copy()
    A, cache = softmax(Z)
    _same_kind(xp, A, Z)
    assert cache is Z
    expected = np.exp(Z_HOST - Z_HOST.max(0)) / np.exp(Z_HOST - Z_HOST.max(0)).sum(0)
    np.testing.assert_allclose(dnn.to_numpy(A), expected, rtol=1e-5 if dtype == "float32" else 1e-12)
    np.testing.assert_array_equal(dnn.to_numpy(Z), before)
    dZ = softmax_backward(backend.asarray(Z_HOST, dtype=dtype), Z)
    _same_kind(xp, dZ, Z)


def test_softmax_is_stable(backend):
    A, _ = softmax(backend.asarray(np.array([[1e4, -1e4], [1e4 - 1, 0.0]]), dtype="float64"))
    A = dnn.to_numpy(A)
    assert np.all(np.isfinite(A))
    np.testing.assert_allclose(A.sum(0), 1.0)
    np.testing.assert_allclose(A[:, 0], [1 / (1 + np.exp(-1)), 1 - 1 / (1 + np.exp(-1))])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cost_with_indices_and_one_hot(backend, xp, dtype):
    AL = softmax(backend.asarray(Z_HOST, dtype=dtype))[0]
    P = dnn.to_numpy(AL).astype(np.float64)
    expected = -np.mean(np.log(P[LABELS, np.arange(6)]))
    Y_onehot = np.eye(4)[:, LABELS]
    for Y in (LABELS, LABELS.reshape(1, -1), Y_onehot, LABELS.astype(np.float64)):
        Yb = backend.asarray(Y)
        cost = compute_cost_softmax(AL, Yb)
        assert isinstance(cost, float)
        assert cost == pytest.approx(expected, rel=1e-5 if dtype == "float32" else 1e-12)
        dZ = compute_cost_softmax_backward(AL, Yb)
        _same_kind(xp, dZ, AL)
        np.testing.assert_allclose(dnn.to_numpy(dZ), P - Y_onehot, atol=1e-6)
        np.testing.assert_array_equal(dnn.to_numpy(Yb), Y)  # labels untouched


def test_softmax_cross_entropy_gradient_check(backend, xp):
    """d cost / d(W, b) of LINEAR -> SOFTMAX -> cross-entropy, via compute_cost_softmax_backward."""
    f64 = lambda a: backend.asarray(a, dtype="float64")  # noqa: E731
    rs = np.random.RandomState(1)
    A_prev, Y = f64(rs.randn(3, 6)), backend.asarray(LABELS)
    params = {"W": f64(rs.randn(4, 3)), "b": f64(rs.randn(4, 1))}

    def cost(p):
        return compute_cost_softmax(softmax(dnn.linear_forward(A_prev, p["W"], p["b"])[0])[0], Y)

    def grads(p):
        Z, linear_cache = dnn.linear_forward(A_prev, p["W"], p["b"])
        _, dW, db = dnn.linear_backward(compute_cost_softmax_backward(softmax(Z)[0], Y), linear_cache)
        return {"dW": dW, "db": db}

    assert gradient_check(cost, grads, params) < 1e-7


def test_softmax_backward_gradient_check(backend, xp):
    Z = backend.asarray(Z_HOST, dtype="float64")
    G = backend.asarray(np.random.RandomState(2).randn(4, 6), dtype="float64")
    diff = gradient_check(
        lambda p: float(xp.sum(G * softmax(p["Z"])[0])),
        lambda p: {"dZ": softmax_backward(G, p["Z"])},
        {"Z": Z},
    )
    assert diff < 1e-7


def test_one_hot(backend):
    out = one_hot(backend.asarray(np.array([[2, 0, 1]])), 3, dtype=backend.xp.float32)
    np.testing.assert_array_equal(dnn.to_numpy(out), np.eye(3)[:, [2, 0, 1]])
    assert out.dtype == backend.xp.float32


def test_errors(backend):
    AL = softmax(backend.asarray(Z_HOST))[0]
    with pytest.raises(ValueError, match=r"compute_cost_softmax: Y must hold class indices in \[0, 4\)"):
        compute_cost_softmax(AL, backend.asarray(np.array([0, 1, 2, 3, 4, 0])))
    with pytest.raises(ValueError, match=r"compute_cost_softmax: Y has shape \(2, 6\)"):
        compute_cost_softmax(AL, backend.asarray(np.zeros((2, 6))))
    with pytest.raises(ValueError, match="whole-number"):
        compute_cost_softmax_backward(AL, backend.asarray(np.full(6, 0.5)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        compute_cost_softmax(AL[:1, :], backend.asarray(LABELS))
    with pytest.raises(TypeError, match="softmax: Z must be a floating-point array"):
        softmax(backend.asarray(np.ones((2, 2), dtype=np.int64)))
    with pytest.raises(ValueError, match="softmax: Z must be 2-D"):
        softmax(backend.asarray(np.ones(3)))
