"""Argument checks shared by the public functions.

Each check raises ``ValueError`` or ``TypeError`` with a message that names the
function, the argument and what was expected, so that a mistake surfaces at the
call that made it instead of as a broadcasting error deep inside a library.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

HIDDEN_ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu")


def shape_of(x: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in x.shape)


def is_array(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (str, bytes))


def check_array(func: str, name: str, x: Any, ndim: int | None = 2) -> None:
    if not is_array(x):
        raise TypeError(f"{func}: {name} must be an array, got {type(x).__name__}")
    if ndim is not None and len(x.shape) != ndim:
        raise ValueError(f"{func}: {name} must be {ndim}-D, got shape {shape_of(x)}")


def check_float(func: str, name: str, xp: Any, x: Any) -> None:
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(
            f"{func}: {name} must be a floating-point array (float32 or float64), "
            f"got dtype {x.dtype}; cast it first (e.g. X.astype('float64') / 255 for images)"
        )


def check_shape(func: str, name: str, x: Any, expected: tuple[int | None, ...], why: str) -> None:
    got = shape_of(x)
    if len(got) != len(expected) or any(e is not None and g != e for g, e in zip(got, expected)):
        want = "(" + ", ".join("any" if e is None else str(e) for e in expected) + ")"
        raise ValueError(f"{func}: {name} has shape {got}, expected {want} {why}")


def check_same_dtype(func: str, names: Sequence[str], arrays: Sequence[Any]) -> None:
    dtypes = {str(a.dtype) for a in arrays}
    if len(dtypes) > 1:
        detail = ", ".join(f"{n}: {a.dtype}" for n, a in zip(names, arrays))
        raise TypeError(f"{func}: arrays must share one floating dtype, got {detail}")


def check_activation(func: str, activation: Any, allowed: Sequence[str]) -> str:
    if not isinstance(activation, str) or activation not in allowed:
        raise ValueError(
            f"{func}: activation must be one of {', '.join(repr(a) for a in allowed)}, got {activation!r}"
        )
    return activation


def check_positive_float(func: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{func}: {name} must be a positive number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{func}: {name} must be a positive finite number, got {value!r}")
    return value


def check_count(func: str, name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{func}: {name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{func}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_layer_dims(func: str, layer_dims: Any, name: str = "layer_dims") -> list[int]:
    if isinstance(layer_dims, (str, bytes)) or not isinstance(layer_dims, Sequence):
        raise TypeError(f"{func}: {name} must be a list of layer sizes, got {layer_dims!r}")
    if len(layer_dims) < 2:
        raise ValueError(
            f"{func}: {name} needs at least an input and an output size, got {list(layer_dims)!r}"
        )
    dims = []
    for i, n in enumerate(layer_dims):
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n <= 0:
            raise ValueError(
                f"{func}: {name}[{i}] must be a positive integer, got {n!r} in {list(layer_dims)!r}"
            )
        dims.append(int(n))
    return dims


def num_layers(func: str, parameters: Any, name: str = "parameters") -> int:
    """Number of layers L in a ``{"W1", "b1", ..., "WL", "bL"}`` dict, checked for shape."""
    if not isinstance(parameters, Mapping):
        raise TypeError(f"{func}: {name} must be a dict of 'W1', 'b1', ..., got {type(parameters).__name__}")
    L = 0
    while f"W{L + 1}" in parameters:
        L += 1
    if L == 0:
        raise ValueError(f"{func}: {name} has no 'W1'; expected keys 'W1', 'b1', ..., 'WL', 'bL'")
    for l in range(1, L + 1):
        W, b = parameters.get(f"W{l}"), parameters.get(f"b{l}")
        if b is None:
            raise ValueError(f"{func}: {name} has 'W{l}' but no 'b{l}'")
        check_array(func, f"{name}['W{l}']", W)
        check_array(func, f"{name}['b{l}']", b)
        check_shape(func, f"{name}['b{l}']", b, (shape_of(W)[0], 1), f"to match W{l} {shape_of(W)}")
        if l > 1:
            prev = shape_of(parameters[f"W{l - 1}"])[0]
            check_shape(
                func,
                f"{name}['W{l}']",
                W,
                (None, prev),
                f"(its columns must equal the rows of W{l - 1}, {prev})",
            )
    return L
