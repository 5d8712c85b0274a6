"""One LINEAR -> ACTIVATION layer, forward beside backward."""

from __future__ import annotations

from typing import Any

from .activations import activation_backward, activation_forward
from .backend.activations import activation as _declared
from .linear import linear_backward, linear_forward, unpack_cache

LinearCache = tuple[Any, Any, Any]
LayerCache = tuple[LinearCache, Any]


def linear_activation_forward(A_prev: Any, W: Any, b: Any, activation: str) -> tuple[Any, LayerCache]:
    """``A = g(W @ A_prev + b)`` and the cache ``((A_prev, W, b), Z)``.

    ``activation`` is any declared activation: ``"relu"``, ``"sigmoid"``, ``"tanh"``,
    ``"leaky_relu"``, ``"gelu"`` or ``"silu"``.

    >>> import numpy as np
    >>> A, cache = linear_activation_forward(np.ones((2, 1)), np.ones((1, 2)), np.zeros((1, 1)), "relu")
    >>> A
    array([[2.]])
    """
    func = "linear_activation_forward"
    act = _declared(activation, func)
    Z, linear_cache = linear_forward(A_prev, W, b)
    A, activation_cache = activation_forward(Z, act, func)
    return A, (linear_cache, activation_cache)


def linear_activation_backward(dA: Any, cache: LayerCache, activation: str) -> tuple[Any, Any, Any]:
    """Gradients ``(dA_prev, dW, db)`` of one LINEAR -> ACTIVATION layer.

    >>> import numpy as np
    >>> cache = ((np.ones((2, 1)), np.ones((1, 2)), np.zeros((1, 1))), np.array([[2.0]]))
    >>> linear_activation_backward(np.array([[1.0]]), cache, "relu")[1]
    array([[1., 1.]])
    """
    func = "linear_activation_backward"
    act = _declared(activation, func)
    linear_cache, activation_cache = unpack_cache(func, cache, 2, "((A_prev, W, b), Z)")
    dZ = activation_backward(dA, activation_cache, act, func)
    return linear_backward(dZ, linear_cache)
