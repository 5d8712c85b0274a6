"""Gradient-descent update of the parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._checks import check_positive_float, check_shape, num_layers, shape_of


def update_parameters(
    parameters: Mapping[str, Any], grads: Mapping[str, Any], learning_rate: float
) -> dict[str, Any]:
    """One step of gradient descent: ``W - learning_rate * dW`` for every layer.

    Returns new arrays in a new dict; ``parameters`` is left as it was.

    >>> import numpy as np
    >>> p = update_parameters({"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))},
    ...                       {"dW1": np.ones((1, 2)), "db1": np.ones((1, 1))}, 0.5)
    >>> p["W1"], p["b1"]
    (array([[0.5, 0.5]]), array([[-0.5]]))
    """
    func = "update_parameters"
    lr = check_positive_float(func, "learning_rate", learning_rate)
    L = num_layers(func, parameters)
    updated: dict[str, Any] = {}
    for l in range(1, L + 1):
        for p in ("W", "b"):
            value, key = parameters[f"{p}{l}"], f"d{p}{l}"
            if key not in grads:
                raise ValueError(f"{func}: grads has no {key!r} for parameters[{p + str(l)!r}]")
            check_shape(func, f"grads[{key!r}]", grads[key], shape_of(value), f"(the shape of {p}{l})")
            updated[f"{p}{l}"] = value - lr * grads[key]
    return updated
