"""The whole [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID network, forward beside backward."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._checks import check_activation, check_array, check_shape, num_layers, shape_of
from .activations import sigmoid_backward
from .backend import namespace_of
from .cost import compute_cost_backward
from .layer import LayerCache, linear_activation_backward, linear_activation_forward
from .linear import _unpack, linear_backward

HIDDEN = ("relu", "tanh", "leaky_relu", "sigmoid")


def L_model_forward(
    X: Any, parameters: Mapping[str, Any], hidden_activation: str = "relu"
) -> tuple[Any, list[LayerCache]]:
    """Forward pass: ``(AL, caches)`` with one ``((A_prev, W, b), Z)`` cache per layer.

    >>> import numpy as np
    >>> params = {"W1": np.ones((2, 3)), "b1": np.zeros((2, 1)),
    ...           "W2": np.ones((1, 2)), "b2": np.zeros((1, 1))}
    >>> AL, caches = L_model_forward(np.zeros((3, 4)), params)
    >>> AL.shape, len(caches)
    ((1, 4), 2)
    """
    func = "L_model_forward"
    check_activation(func, hidden_activation, HIDDEN)
    L = num_layers(func, parameters)
    check_array(func, "X", X)
    n_x = shape_of(parameters["W1"])[1]
    check_shape(func, "X", X, (n_x, None), f"(features must equal W1's columns, {n_x})")
    caches = []
    A = X
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters[f"W{l}"], parameters[f"b{l}"], hidden_activation)
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters[f"W{L}"], parameters[f"b{L}"], "sigmoid")
    caches.append(cache)
    return AL, caches


def L_model_backward(
    AL: Any, Y: Any, caches: Sequence[LayerCache], hidden_activation: str = "relu"
) -> dict[str, Any]:
    """Backward pass: ``grads`` with ``dA{l}`` (``dA0`` is for X), ``dW{l}`` and ``db{l}``.

    >>> import numpy as np
    >>> params = {"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))}
    >>> AL, caches = L_model_forward(np.zeros((2, 3)), params)
    >>> sorted(L_model_backward(AL, np.array([[1, 0, 1]]), caches))
    ['dA0', 'dW1', 'db1']
    """
    func = "L_model_backward"
    check_activation(func, hidden_activation, HIDDEN)
    if not isinstance(caches, Sequence) or len(caches) == 0:
        raise ValueError(f"{func}: caches must be the non-empty list L_model_forward returned")
    L = len(caches)
    grads: dict[str, Any] = {}
    dA_prev, dW, db = _output_layer_backward(AL, Y, caches[L - 1])
    grads[f"dA{L - 1}"], grads[f"dW{L}"], grads[f"db{L}"] = dA_prev, dW, db
    for l in reversed(range(L - 1)):
        dA_prev, dW, db = linear_activation_backward(grads[f"dA{l + 1}"], caches[l], hidden_activation)
        grads[f"dA{l}"], grads[f"dW{l + 1}"], grads[f"db{l + 1}"] = dA_prev, dW, db
    return grads


def _output_layer_backward(AL: Any, Y: Any, cache: LayerCache) -> tuple[Any, Any, Any]:
    """The course's ``dAL`` through the sigmoid, finite even where AL saturates.

    Where AL is exactly 0 or 1 (float rounding of a large |Z|), ``dAL * s * (1 - s)``
    is ``inf * 0``; its limit there is ``AL - Y``, which is used instead. Elsewhere
    the course's formula is applied unchanged, whatever caches are handed in.
    """
    func = "L_model_backward"
    xp = namespace_of(AL, Y, func=func)
    check_array(func, "AL", AL)
    saturated = (AL == 0) | (AL == 1)
    safe_AL = xp.where(saturated, xp.full_like(AL, 0.5), AL)
    dAL = compute_cost_backward(safe_AL, Y)
    linear_cache, Z = _unpack(func, cache, 2, "((A_prev, W, b), Z)")
    dZ = sigmoid_backward(dAL, Z)
    Y = xp.reshape(xp.astype(Y, AL.dtype), tuple(AL.shape))
    dZ = xp.where(saturated, AL - Y, dZ)
    return linear_backward(dZ, linear_cache)
