"""Gradient-descent update of the parameters, through the training engine's ``sgd`` kernel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._checks import check_array, check_float, check_positive_float, check_shape, num_layers, shape_of
from .backend import namespace_of
from .linear import kernels


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
    return descend("update_parameters", parameters, grads, learning_rate)


def descend(
    func: str,
    parameters: Mapping[str, Any],
    grads: Mapping[str, Any],
    learning_rate: float,
    chained: bool = True,
) -> dict[str, Any]:
    """``W - learning_rate * dW`` for every parameter, checked as ``func`` would (see ``num_layers``)."""
    lr = check_positive_float(func, "learning_rate", learning_rate)
    L = num_layers(func, parameters, chained=chained)
    check_gradients(func, "grads", grads, parameters, L)
    ops = kernels(parameters["W1"], inplace=False)
    return {
        f"{p}{l}": ops.sgd(parameters[f"{p}{l}"], grads[f"d{p}{l}"], lr)
        for l in range(1, L + 1)
        for p in ("W", "b")
    }


def check_gradients(func: str, name: str, grads: Any, parameters: Mapping[str, Any], L: int) -> None:
    """Raise unless ``grads`` has a real floating ``dW{l}``/``db{l}`` of each parameter's shape and library.

    Complex or integer arrays are refused: subtracting them would turn the
    parameters complex, or silently round.
    """
    if not isinstance(grads, Mapping):
        raise TypeError(f"{func}: {name} must be a dict of 'dW1', 'db1', ..., got {type(grads).__name__}")
    for l in range(1, L + 1):
        for p in ("W", "b"):
            value, key = parameters[f"{p}{l}"], f"d{p}{l}"
            if key not in grads:
                raise ValueError(f"{func}: {name} has no {key!r} for parameters[{p + str(l)!r}]")
            g = grads[key]
            check_array(func, f"{name}[{key!r}]", g)
            check_shape(func, f"{name}[{key!r}]", g, shape_of(value), f"(the shape of {p}{l})")
            xp = namespace_of(value, g, func=func)
            check_float(func, f"parameters[{p + str(l)!r}]", xp, value)
            check_float(func, f"{name}[{key!r}]", xp, g)
