"""The linear part of a layer, ``Z = W A + b``, beside its backward pass."""

from __future__ import annotations

from typing import Any

from ._checks import check_array, check_examples, check_float, check_same_dtype, check_shape, shape_of
from .backend import namespace_of


def _check_linear(func: str, A: Any, W: Any, b: Any, a_name: str = "A") -> Any:
    for name, x in ((a_name, A), ("W", W), ("b", b)):
        check_array(func, name, x)
    xp = namespace_of(A, W, b, func=func)
    check_float(func, a_name, xp, A)
    check_same_dtype(func, (a_name, "W", "b"), (A, W, b))
    n_prev = shape_of(A)[0]
    check_shape(func, "W", W, (None, n_prev), f"(its columns must equal the rows of {a_name}, {n_prev})")
    check_shape(func, "b", b, (shape_of(W)[0], 1), f"(one bias per row of W {shape_of(W)})")
    return xp


def linear_forward(A: Any, W: Any, b: Any) -> tuple[Any, tuple[Any, Any, Any]]:
    """``Z = W @ A + b`` and the cache ``(A, W, b)`` for :func:`linear_backward`.

    A is (size of previous layer, examples), W is (size of layer, size of previous
    layer), b is (size of layer, 1).

    >>> import numpy as np
    >>> Z, cache = linear_forward(np.ones((3, 2)), np.ones((1, 3)), np.zeros((1, 1)))
    >>> Z
    array([[3., 3.]])
    """
    _check_linear("linear_forward", A, W, b)
    return W @ A + b, (A, W, b)


def linear_backward(dZ: Any, cache: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
    """Gradients ``(dA_prev, dW, db)`` of the linear part, from ``dZ`` and its cache.

    >>> import numpy as np
    >>> cache = (np.ones((3, 2)), np.ones((1, 3)), np.zeros((1, 1)))
    >>> dA_prev, dW, db = linear_backward(np.ones((1, 2)), cache)
    >>> dW, db
    (array([[1., 1., 1.]]), array([[1.]]))
    """
    func = "linear_backward"
    A_prev, W, b = _unpack(func, cache, 3, "(A_prev, W, b)")
    xp = _check_linear(func, A_prev, W, b, a_name="cache's A_prev")
    check_array(func, "dZ", dZ)
    namespace_of(dZ, W, func=func)
    check_same_dtype(func, ("dZ", "W"), (dZ, W))
    check_shape(func, "dZ", dZ, (shape_of(W)[0], shape_of(A_prev)[1]), "(rows of W, examples in A_prev)")
    m = check_examples(func, "cache's A_prev", A_prev)
    dW = 1 / m * (dZ @ A_prev.T)
    db = 1 / m * xp.sum(dZ, axis=1, keepdims=True)
    dA_prev = W.T @ dZ
    return dA_prev, dW, db


def _unpack(func: str, cache: Any, n: int, layout: str) -> tuple[Any, ...]:
    if not isinstance(cache, (tuple, list)) or len(cache) != n:
        raise ValueError(
            f"{func}: cache must be a tuple {layout}, got {type(cache).__name__}"
            + (f" of length {len(cache)}" if isinstance(cache, (tuple, list)) else "")
        )
    return tuple(cache)
