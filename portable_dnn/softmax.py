"""The softmax output layer and its categorical cross-entropy cost, forward beside backward.

Labels ``Y`` may be integer class indices, shape ``(1, m)`` or ``(m,)``, or a
one-hot matrix of AL's shape ``(C, m)``; :func:`one_hot` turns the first into the
second with Array API calls only.
"""

from __future__ import annotations

from typing import Any

import array_api_compat

from ._checks import (
    check_array,
    check_examples,
    check_float,
    check_one_hot,
    check_real,
    check_same_dtype,
    check_shape,
    first_bad,
    shape_of,
)
from .backend import index_dtype, namespace_of
from .linear import kernels


def softmax(Z: Any) -> tuple[Any, Any]:
    """Column-wise softmax ``exp(Z) / sum(exp(Z), axis=0)`` and the cache ``Z``.

    The column maximum is subtracted first, so large logits neither overflow nor
    lose precision.

    >>> import numpy as np
    >>> A, cache = softmax(np.array([[1000.0, 0.0], [1000.0, 0.0]]))
    >>> A
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """
    func = "softmax"
    check_array(func, "Z", Z)
    xp = namespace_of(Z, func=func)
    check_float(func, "Z", xp, Z)
    return _softmax(xp, Z), Z


def _softmax(xp: Any, Z: Any) -> Any:
    # The engine's kernel may write into its input: it gets a copy.
    return kernels(Z).probabilities(xp.asarray(Z, copy=True), "softmax")


def softmax_backward(dA: Any, cache: Any) -> Any:
    """Gradient through the softmax: ``dZ = A * (dA - sum(dA * A, axis=0))`` with ``A = softmax(Z)``.

    This is the Jacobian-vector product of the softmax alone; after a
    cross-entropy cost use :func:`compute_cost_softmax_backward`, which gives
    ``dZ`` directly.

    >>> import numpy as np
    >>> softmax_backward(np.array([[1.0], [0.0]]), np.array([[0.0], [0.0]]))
    array([[ 0.25],
           [-0.25]])
    """
    func = "softmax_backward"
    check_array(func, "dA", dA)
    check_array(func, "cache", cache)
    xp = namespace_of(dA, cache, func=func)
    check_float(func, "dA", xp, dA)
    check_same_dtype(func, ("dA", "cache"), (dA, cache))
    check_shape(func, "dA", dA, shape_of(cache), "(the shape of the cached Z)")
    A = _softmax(xp, cache)
    return A * (dA - xp.sum(dA * A, axis=0, keepdims=True))


def one_hot(Y: Any, num_classes: int, dtype: Any = None) -> Any:
    """Integer class indices ``Y`` (shape ``(m,)`` or ``(1, m)``) as a ``(num_classes, m)`` one-hot matrix.

    ``dtype`` defaults to float64; float labels must hold whole numbers.

    >>> import numpy as np
    >>> one_hot(np.array([2, 0]), 3)
    array([[0., 1.],
           [0., 0.],
           [1., 0.]])
    """
    func = "one_hot"
    check_array(func, "Y", Y, ndim=None)
    xp = namespace_of(Y, func=func)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{func}: num_classes must be a positive integer, got {num_classes!r}")
    target = xp.float64 if dtype is None else dtype
    return indices_to_one_hot(func, xp, Y, num_classes, target)


def indices_to_one_hot(func: str, xp: Any, Y: Any, C: int, dtype: Any, name: str = "Y") -> Any:
    shape = shape_of(Y)
    if len(shape) == 2 and shape[0] == 1:
        Y = xp.reshape(Y, (shape[1],))
    elif len(shape) != 1:
        raise ValueError(f"{func}: {name} has shape {shape}, expected class indices of shape (m,) or (1, m)")
    check_real(func, name, Y)
    if xp.isdtype(Y.dtype, "bool"):
        Y = xp.astype(Y, index_dtype(xp))
    elif xp.isdtype(Y.dtype, "real floating"):
        bad = first_bad(xp, Y, xp.isfinite(Y) & (Y == xp.round(Y)))
        if bad is not None:
            raise ValueError(
                f"{func}: {name} must hold whole-number class indices, found {bad[1]!r} at [{bad[0][0]}]"
            )
        Y = xp.astype(Y, index_dtype(xp))
    elif not xp.isdtype(Y.dtype, "integral"):
        raise TypeError(f"{func}: {name} must hold integer class indices, got dtype {Y.dtype}")
    if shape_of(Y)[0] > 0 and not bool(xp.all((Y >= 0) & (Y < C))):
        raise ValueError(
            f"{func}: {name} must hold class indices in [0, {C}), found {int(xp.min(Y))}..{int(xp.max(Y))}"
        )
    classes = xp.arange(C, dtype=Y.dtype, device=array_api_compat.device(Y))
    return xp.astype(classes[:, None] == Y[None, :], dtype)


def _labels(func: str, xp: Any, AL: Any, Y: Any) -> Any:
    """Y as a one-hot matrix of AL's shape and dtype (checked to be one-hot)."""
    check_array(func, "AL", AL)
    check_array(func, "Y", Y, ndim=None)
    check_float(func, "AL", xp, AL)
    check_real(func, "Y", Y)
    C, m = shape_of(AL)
    if C < 2:
        raise ValueError(
            f"{func}: AL has shape {shape_of(AL)}; a softmax output needs at least 2 rows (classes)"
        )
    check_examples(func, "AL", AL)
    if shape_of(Y) == (C, m):
        Y = Y if Y.dtype == AL.dtype else xp.astype(Y, AL.dtype)
        check_one_hot(func, "Y", xp, Y)
        return Y
    if shape_of(Y) not in ((m,), (1, m)):
        raise ValueError(
            f"{func}: Y has shape {shape_of(Y)}, expected class indices of shape ({m},) or (1, {m}) "
            f"or one-hot labels of shape ({C}, {m})"
        )
    return indices_to_one_hot(func, xp, Y, C, AL.dtype)


def compute_cost_softmax(AL: Any, Y: Any) -> float:
    """Categorical cross-entropy ``-1/m * sum(Y_onehot * log(AL))`` as a Python float.

    ``AL`` is the softmax output ``(C, m)``; ``Y`` holds class indices or is
    one-hot. AL is clipped below at the eps of its dtype before the log.

    >>> import numpy as np
    >>> round(compute_cost_softmax(np.array([[0.5, 0.25], [0.5, 0.75]]), np.array([0, 1])), 6)
    0.490415
    """
    func = "compute_cost_softmax"
    xp = namespace_of(AL, Y, func=func)
    Y = _labels(func, xp, AL, Y)
    return float(_cost_softmax(xp, AL, Y))


def _cost_softmax(xp: Any, AL: Any, Y: Any) -> Any:
    """The cost as a 0-d array (no host synchronisation); Y is one-hot: the engine's ``Ops.cost``."""
    return kernels(AL).cost(AL, Y, "softmax")


def compute_cost_softmax_backward(AL: Any, Y: Any) -> Any:
    """``dZ = AL - Y_onehot``: the gradient of softmax followed by cross-entropy with respect to Z.

    As with the course's ``dAL``, the ``1/m`` is left to :func:`~portable_dnn.linear_backward`.

    >>> import numpy as np
    >>> compute_cost_softmax_backward(np.array([[0.5, 0.25], [0.5, 0.75]]), np.array([0, 1]))
    array([[-0.5 ,  0.25],
           [ 0.5 , -0.25]])
    """
    func = "compute_cost_softmax_backward"
    xp = namespace_of(AL, Y, func=func)
    return AL - _labels(func, xp, AL, Y)
