"""The course's activation functions, each beside its backward pass.

Forward functions return ``(A, cache)`` with ``cache = Z``, as the course's
``dnn_utils`` does; backward functions take ``(dA, cache)`` and return ``dZ``.
Each computes through the training engine's kernels for its activation (declared
once in :mod:`portable_dnn.backend.activations`), on a copy of its input, so the
course's functions and the engine give the same values.
"""

from __future__ import annotations

from typing import Any

from ._checks import check_array, check_float, check_same_dtype, check_shape, shape_of
from .backend import backend_of, namespace_of
from .backend.activations import ACTIVATIONS, LEAKY_SLOPE, Activation, activation

__all__ = [
    "ACTIVATIONS",
    "LEAKY_SLOPE",
    "activation_forward",
    "activation_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "relu",
    "relu_backward",
    "sigmoid",
    "sigmoid_backward",
    "tanh",
    "tanh_backward",
]


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


def _forward(xp: Any, act: Activation, Z: Any) -> Any:
    # The engine's kernels may write into their input: they get a copy.
    ops = backend_of(Z).ops(Z.dtype)
    return ops.activation(xp.asarray(Z, copy=True), act)


def activation_forward(Z: Any, name: str | Activation, func: str = "activation_forward") -> tuple[Any, Any]:
    """``(g(Z), Z)`` for any declared activation ``name`` (``"relu"``, ``"gelu"``, ...).

    >>> import numpy as np
    >>> A, cache = activation_forward(np.array([[0.0, 1.0]]), "silu")
    >>> A.round(6)
    array([[0.      , 0.731059]])
    """
    act = activation(name, func)
    xp = _input(func, Z)
    return _forward(xp, act, Z), Z


def activation_backward(
    dA: Any, cache: Any, name: str | Activation, func: str = "activation_backward"
) -> Any:
    """``dZ = dA * g'(Z)`` for any declared activation ``name``, ``cache`` being ``Z``.

    >>> import numpy as np
    >>> activation_backward(np.array([[1.0]]), np.array([[0.0]]), "gelu")
    array([[0.5]])
    """
    act = activation(name, func)
    xp = _grad_inputs(func, dA, cache)
    ops = backend_of(cache).ops(cache.dtype)
    A = _forward(xp, act, cache)
    return ops.activation_grad(xp.asarray(dA, copy=True), cache if act.needs_input else None, A, act)


def sigmoid(Z: Any) -> tuple[Any, Any]:
    """Sigmoid ``1 / (1 + exp(-Z))``, the course's formula to the bit; finite and warning-free
    for any ``Z``.

    Only where ``exp(-Z)`` would overflow (Z below about -709.78 in float64, -88.72 in
    float32) is it computed as ``exp(Z)``, the value the formula tends to there.

    >>> import numpy as np
    >>> A, cache = sigmoid(np.array([[0.0, 1e4, -1e4]]))
    >>> A.round(6)
    array([[0.5, 1. , 0. ]])
    """
    return activation_forward(Z, "sigmoid", "sigmoid")


def sigmoid_backward(dA: Any, cache: Any) -> Any:
    """Gradient through the sigmoid: ``dA * s * (1 - s)`` with ``s = sigmoid(Z)``, as the course.

    >>> import numpy as np
    >>> sigmoid_backward(np.array([[1.0]]), np.array([[0.0]]))
    array([[0.25]])
    """
    return activation_backward(dA, cache, "sigmoid", "sigmoid_backward")


def relu(Z: Any) -> tuple[Any, Any]:
    """Rectified linear unit ``max(0, Z)``, as the course's ``np.maximum(0, Z)`` (NaN stays NaN).

    >>> import numpy as np
    >>> relu(np.array([[-1.0, 2.0]]))[0]
    array([[0., 2.]])
    """
    return activation_forward(Z, "relu", "relu")


def relu_backward(dA: Any, cache: Any) -> Any:
    """Gradient through ReLU: ``dA`` where ``Z > 0``, else 0.

    >>> import numpy as np
    >>> relu_backward(np.array([[5.0, 5.0]]), np.array([[-1.0, 2.0]]))
    array([[0., 5.]])
    """
    return activation_backward(dA, cache, "relu", "relu_backward")


def tanh(Z: Any) -> tuple[Any, Any]:
    """Hyperbolic tangent.

    >>> import numpy as np
    >>> tanh(np.array([[0.0]]))[0]
    array([[0.]])
    """
    return activation_forward(Z, "tanh", "tanh")


def tanh_backward(dA: Any, cache: Any) -> Any:
    """Gradient through tanh: ``dA * (1 - tanh(Z)**2)``.

    >>> import numpy as np
    >>> tanh_backward(np.array([[2.0]]), np.array([[0.0]]))
    array([[2.]])
    """
    return activation_backward(dA, cache, "tanh", "tanh_backward")


def leaky_relu(Z: Any) -> tuple[Any, Any]:
    """Leaky ReLU: ``Z`` where positive, ``0.01 * Z`` elsewhere.

    >>> import numpy as np
    >>> leaky_relu(np.array([[-100.0, 3.0]]))[0]
    array([[-1.,  3.]])
    """
    return activation_forward(Z, "leaky_relu", "leaky_relu")


def leaky_relu_backward(dA: Any, cache: Any) -> Any:
    """Gradient through leaky ReLU.

    >>> import numpy as np
    >>> leaky_relu_backward(np.array([[1.0, 1.0]]), np.array([[-1.0, 1.0]]))
    array([[0.01, 1.  ]])
    """
    return activation_backward(dA, cache, "leaky_relu", "leaky_relu_backward")
