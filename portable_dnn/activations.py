"""Activation functions, each beside its backward pass.

Forward functions return ``(A, cache)`` with ``cache = Z``, as the course's
``dnn_utils`` does; backward functions take ``(dA, cache)`` and return ``dZ``.
"""

from __future__ import annotations

from typing import Any

from ._checks import check_array, check_float, check_same_dtype, check_shape, shape_of
from .backend import namespace_of


def _input(func: str, Z: Any) -> Any:
    check_array(func, "Z", Z, ndim=None)
    xp = namespace_of(Z, func=func)
    check_float(func, "Z", xp, Z)
    return xp


def _grad_inputs(func: str, dA: Any, Z: Any) -> Any:
    check_array(func, "dA", dA, ndim=None)
    check_array(func, "cache", Z, ndim=None)
    xp = namespace_of(dA, Z, func=func)
    check_float(func, "dA", xp, dA)
    check_same_dtype(func, ("dA", "cache"), (dA, Z))
    check_shape(func, "dA", dA, shape_of(Z), "(the shape of the cached Z)")
    return xp


def _sigmoid(xp: Any, Z: Any) -> Any:
    # Two branches sharing E = exp(-|Z|), whose argument is never positive: exp
    # cannot overflow, and each branch is the plain formula for its sign
    # (1 / (1 + exp(-Z)) for Z >= 0, exp(Z) / (1 + exp(Z)) below), so no finite
    # value changes beyond rounding and tiny outputs keep their precision.
    E = xp.exp(-xp.abs(Z))
    return xp.where(Z >= 0, 1 / (1 + E), E / (1 + E))


def sigmoid(Z: Any) -> tuple[Any, Any]:
    """Sigmoid ``1 / (1 + exp(-Z))``; finite and warning-free for any finite ``Z``.

    It is computed as ``where(Z >= 0, 1 / (1 + E), E / (1 + E))`` with ``E =
    exp(-|Z|)``: exp's argument is never positive, so nothing overflows and every
    value is the formula's, correctly rounded (``sigmoid(-88)`` in float32 is 6.1e-39).

    >>> import numpy as np
    >>> A, cache = sigmoid(np.array([[0.0, 1e4, -1e4]]))
    >>> A.round(6)
    array([[0.5, 1. , 0. ]])
    """
    xp = _input("sigmoid", Z)
    return _sigmoid(xp, Z), Z


def sigmoid_backward(dA: Any, cache: Any) -> Any:
    """Gradient through the sigmoid: ``dA * s * (1 - s)`` with ``s = sigmoid(Z)``.

    ``s * (1 - s)`` is computed as ``E / (1 + E)**2`` with ``E = exp(-|Z|)`` (the
    same value, since it is even in Z), which keeps its precision where ``1 - s``
    would round to 0.

    >>> import numpy as np
    >>> sigmoid_backward(np.array([[1.0]]), np.array([[0.0]]))
    array([[0.25]])
    """
    xp = _grad_inputs("sigmoid_backward", dA, cache)
    E = xp.exp(-xp.abs(cache))
    D = 1 + E
    return dA * (E / (D * D))


def relu(Z: Any) -> tuple[Any, Any]:
    """Rectified linear unit ``max(0, Z)``.

    >>> import numpy as np
    >>> relu(np.array([[-1.0, 2.0]]))[0]
    array([[0., 2.]])
    """
    xp = _input("relu", Z)
    return xp.where(Z > 0, Z, xp.zeros_like(Z)), Z


def relu_backward(dA: Any, cache: Any) -> Any:
    """Gradient through ReLU: ``dA`` where ``Z > 0``, else 0.

    >>> import numpy as np
    >>> relu_backward(np.array([[5.0, 5.0]]), np.array([[-1.0, 2.0]]))
    array([[0., 5.]])
    """
    xp = _grad_inputs("relu_backward", dA, cache)
    return xp.where(cache <= 0, xp.zeros_like(dA), dA)


def tanh(Z: Any) -> tuple[Any, Any]:
    """Hyperbolic tangent.

    >>> import numpy as np
    >>> tanh(np.array([[0.0]]))[0]
    array([[0.]])
    """
    xp = _input("tanh", Z)
    return xp.tanh(Z), Z


def tanh_backward(dA: Any, cache: Any) -> Any:
    """Gradient through tanh: ``dA * (1 - tanh(Z)**2)``.

    >>> import numpy as np
    >>> tanh_backward(np.array([[2.0]]), np.array([[0.0]]))
    array([[2.]])
    """
    xp = _grad_inputs("tanh_backward", dA, cache)
    t = xp.tanh(cache)
    return dA * (1 - t * t)


LEAKY_SLOPE = 0.01


def leaky_relu(Z: Any) -> tuple[Any, Any]:
    """Leaky ReLU: ``Z`` where positive, ``0.01 * Z`` elsewhere.

    >>> import numpy as np
    >>> leaky_relu(np.array([[-100.0, 3.0]]))[0]
    array([[-1.,  3.]])
    """
    xp = _input("leaky_relu", Z)
    return xp.where(Z > 0, Z, LEAKY_SLOPE * Z), Z


def leaky_relu_backward(dA: Any, cache: Any) -> Any:
    """Gradient through leaky ReLU.

    >>> import numpy as np
    >>> leaky_relu_backward(np.array([[1.0, 1.0]]), np.array([[-1.0, 1.0]]))
    array([[0.01, 1.  ]])
    """
    xp = _grad_inputs("leaky_relu_backward", dA, cache)
    return xp.where(cache > 0, dA, LEAKY_SLOPE * dA)


#: Activation name -> (forward, backward).
ACTIVATIONS = {
    "relu": (relu, relu_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "tanh": (tanh, tanh_backward),
    "leaky_relu": (leaky_relu, leaky_relu_backward),
}
