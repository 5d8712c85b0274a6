"""The linear part of a layer, ``Z = W A + b``, beside its backward pass.

Both compute through the training engine's kernels (:class:`~portable_dnn.backend.Ops`),
so the course's functions and the engine give the same values.
"""

from __future__ import annotations

from typing import Any

import array_api_compat

from ._checks import check_array, check_examples, check_float, check_same_dtype, check_shape, shape_of
from .backend import Ops, backend_of, namespace_of


def kernels(x: Any, inplace: bool = True) -> Ops:
    """The engine's kernels for arrays of ``x``'s library, device and dtype.

    With ``inplace``, the backend's own (faster) kernels, which may write into the arrays
    they are told are scratch; without it, the plain Array API kernels, which return new
    arrays and leave every argument as it was (what the course's updates need).

    >>> import numpy as np
    >>> kernels(np.ones(2), inplace=False).sgd(np.ones(2), np.ones(2), 0.5)
    array([0.5, 0.5])
    """
    if inplace:
        return backend_of(x).ops(x.dtype)
    return Ops(namespace_of(x), x.dtype, array_api_compat.device(x), inplace=False)


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
    ops = kernels(A)
    return ops.realized(ops.linear(W, A, b)), (A, W, b)


def linear_backward(dZ: Any, cache: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
    """Gradients ``(dA_prev, dW, db)`` of the linear part, from ``dZ`` and its cache.

    >>> import numpy as np
    >>> cache = (np.ones((3, 2)), np.ones((1, 3)), np.zeros((1, 1)))
    >>> dA_prev, dW, db = linear_backward(np.ones((1, 2)), cache)
    >>> dW, db
    (array([[1., 1., 1.]]), array([[1.]]))
    """
    return linear_gradients("linear_backward", dZ, cache)


def linear_gradients(func: str, dZ: Any, cache: Any) -> tuple[Any, Any, Any]:
    """:func:`linear_backward`, its arguments checked and its messages naming ``func``.

    >>> import numpy as np
    >>> cache = (np.ones((3, 2)), np.ones((1, 3)), np.zeros((1, 1)))
    >>> linear_gradients("backward", np.ones((1, 2)), cache)[1]
    array([[1., 1., 1.]])
    """
    A_prev, W, b = unpack_cache(func, cache, 3, "(A_prev, W, b)")
    _check_linear(func, A_prev, W, b, a_name="cache's A_prev")
    check_array(func, "dZ", dZ)
    namespace_of(dZ, W, func=func)
    check_same_dtype(func, ("dZ", "W"), (dZ, W))
    check_shape(func, "dZ", dZ, (shape_of(W)[0], shape_of(A_prev)[1]), "(rows of W, examples in A_prev)")
    check_examples(func, "cache's A_prev", A_prev)
    ops = kernels(dZ)
    dW, db = ops.weight_grads(dZ, A_prev)
    return ops.back(W, dZ), dW, db


def unpack_cache(func: str, cache: Any, n: int, layout: str) -> tuple[Any, ...]:
    if not isinstance(cache, (tuple, list)) or len(cache) != n:
        raise ValueError(
            f"{func}: cache must be a tuple {layout}, got {type(cache).__name__}"
            + (f" of length {len(cache)}" if isinstance(cache, (tuple, list)) else "")
        )
    return tuple(cache)
