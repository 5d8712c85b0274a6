"""The whole [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID network, forward beside backward."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._checks import check_activation, check_array, check_shape, num_layers, shape_of
from .activations import sigmoid_backward
from .backend import namespace_of
from .cost import check_labels, cost_backward, warn_non_binary
from .engine import HIDDEN
from .layer import LayerCache, linear_activation_backward, linear_activation_forward
from .linear import linear_backward


class _PlacedCache(tuple):  # type: ignore[type-arg]
    """One layer's cache ``((A_prev, W, b), Z)`` as :func:`L_model_forward` makes it.

    A tuple like any other (the course's code unpacks it) that also knows its
    place: ``layer`` (1 to ``layers``) of the ``layers`` caches of one forward
    pass, so that :func:`L_model_backward` can tell a list that lost some.
    """

    layer: int
    layers: int

    def __new__(cls, items: Any, layer: int = 0, layers: int = 0) -> _PlacedCache:
        self = super().__new__(cls, items)
        self.layer, self.layers = layer, layers
        return self


def L_model_forward(
    X: Any, parameters: Mapping[str, Any], hidden_activation: str = "relu"
) -> tuple[Any, list[LayerCache]]:
    """Forward pass: ``(AL, caches)`` with one ``((A_prev, W, b), Z)`` cache per layer.

    Each cache is a tuple that also records its layer and the number of layers,
    which :func:`L_model_backward` checks.

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
    caches: list[LayerCache] = []
    A = X
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters[f"W{l}"], parameters[f"b{l}"], hidden_activation)
        caches.append(_PlacedCache(cache, l, L))
    AL, cache = linear_activation_forward(A, parameters[f"W{L}"], parameters[f"b{L}"], "sigmoid")
    caches.append(_PlacedCache(cache, L, L))
    return AL, caches


def L_model_backward(
    AL: Any, Y: Any, caches: Sequence[LayerCache], hidden_activation: str = "relu"
) -> dict[str, Any]:
    """Backward pass: ``grads`` with ``dA{l}`` (``dA0`` is for X), ``dW{l}`` and ``db{l}``.

    ``caches[l - 1]`` is layer l's cache, so the whole list is needed, in order.
    It is checked before anything is computed: every cache is ``((A_prev, W,
    b), Z)`` with ``A_prev`` of W's columns by AL's examples and ``Z`` of W's
    rows by them, each W takes the previous layer's outputs, the last Z has AL's
    shape, and caches that :func:`L_model_forward` made are at the position it
    gave them in a list of the length it returned (a list missing its first
    caches would otherwise have the gradient of W2 returned as ``dW1``). Caches
    built by hand (plain tuples) are checked by shape only. Finite labels other
    than 0 and 1 give a ``UserWarning`` and the course's formula, NaN or
    infinite ones a ``ValueError``, as in :func:`~portable_dnn.compute_cost`, which
    also takes the course's 1-D ``(m,)`` labels for a one-unit AL.

    >>> import numpy as np
    >>> params = {"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))}
    >>> AL, caches = L_model_forward(np.zeros((2, 3)), params)
    >>> sorted(L_model_backward(AL, np.array([[1, 0, 1]]), caches))
    ['dA0', 'dW1', 'db1']
    >>> L_model_backward(AL, np.array([1, 0, 1]), caches)["db1"]  # 1-D labels
    array([[-0.16666667]])
    """
    func = "L_model_backward"
    check_activation(func, hidden_activation, HIDDEN)
    xp = namespace_of(AL, Y, func=func)
    Y = check_labels(func, xp, AL, Y)
    _check_caches(func, AL, caches)
    warn_non_binary(func, xp, Y)
    L = len(caches)
    grads: dict[str, Any] = {}
    dA_prev, dW, db = _output_layer_backward(xp, AL, Y, caches[L - 1])
    grads[f"dA{L - 1}"], grads[f"dW{L}"], grads[f"db{L}"] = dA_prev, dW, db
    for l in reversed(range(L - 1)):
        dA_prev, dW, db = linear_activation_backward(grads[f"dA{l + 1}"], caches[l], hidden_activation)
        grads[f"dA{l}"], grads[f"dW{l + 1}"], grads[f"db{l + 1}"] = dA_prev, dW, db
    return grads


def _check_caches(func: str, AL: Any, caches: Any) -> None:
    """Raise unless ``caches`` is a whole, ordered list of layer caches that ends in AL (see above)."""
    if isinstance(caches, (str, bytes)) or not isinstance(caches, Sequence) or len(caches) == 0:
        raise ValueError(f"{func}: caches must be the non-empty list L_model_forward returned")
    L, m = len(caches), shape_of(AL)[1]
    previous = None
    for i, cache in enumerate(caches):
        if (
            not isinstance(cache, (tuple, list))
            or len(cache) != 2
            or not isinstance(cache[0], (tuple, list))
            or len(cache[0]) != 3
        ):
            raise ValueError(
                f"{func}: caches[{i}] must be a tuple ((A_prev, W, b), Z), got {type(cache).__name__}"
            )
        layer = getattr(cache, "layer", None)
        if layer is not None and (layer != i + 1 or cache.layers != L):  # type: ignore[union-attr]
            raise ValueError(
                f"{func}: caches[{i}] is the cache of layer {layer} of the {cache.layers} "  # type: ignore[union-attr]
                f"L_model_forward returned, but it is at position {i} of {L}; pass the whole list, in order"
            )
        (A_prev, W, b), Z = cache
        for name, x in (("A_prev", A_prev), ("W", W), ("b", b), ("Z", Z)):
            check_array(func, f"caches[{i}]'s {name}", x)
        n, n_prev = shape_of(W)
        if previous is not None and n_prev != previous:
            raise ValueError(
                f"{func}: caches[{i}]'s W has shape {shape_of(W)}, but caches[{i - 1}]'s W has {previous} "
                f"rows: each layer takes the previous layer's {previous} outputs (caches out of order?)"
            )
        check_shape(
            func, f"caches[{i}]'s A_prev", A_prev, (n_prev, m), f"(W's {n_prev} columns by AL's {m} examples)"
        )
        check_shape(func, f"caches[{i}]'s Z", Z, (n, m), f"(W's {n} rows by AL's {m} examples)")
        previous = n
    check_shape(func, "AL", AL, (previous, m), f"(the last cache's Z: one output row per W{L} row)")


def _output_layer_backward(xp: Any, AL: Any, Y: Any, cache: LayerCache) -> tuple[Any, Any, Any]:
    """The course's ``dAL`` through the sigmoid, finite even where AL saturates.

    Where AL is exactly 0 or 1 (float rounding of a large |Z|), ``dAL * s * (1 - s)``
    is ``inf * 0``; its limit there is ``AL - Y``, which is used instead. Elsewhere
    the course's formula is applied unchanged, whatever caches are handed in.
    """
    saturated = (AL == 0) | (AL == 1)
    safe_AL = xp.where(saturated, xp.full_like(AL, 0.5), AL)
    dAL = cost_backward(safe_AL, Y)
    linear_cache, Z = cache
    dZ = sigmoid_backward(dAL, Z)
    dZ = xp.where(saturated, AL - Y, dZ)
    return linear_backward(dZ, linear_cache)
