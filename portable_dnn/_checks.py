"""Argument checks shared by the public functions.

Each check raises ``ValueError`` or ``TypeError`` with a message that names the
function, the argument and what was expected, so that a mistake surfaces at the
call that made it instead of as a broadcasting error deep inside a library.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

import array_api_compat

from .backend import backend_of

#: NumPy's seeds (``RandomState(seed)``) run from 0 to this.
MAX_SEED = 2**32 - 1


def shape_of(x: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in x.shape)


def is_array(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (str, bytes))


def check_array(func: str, name: str, x: Any, ndim: int | None = 2) -> None:
    if not is_array(x):
        raise TypeError(f"{func}: {name} must be an array, got {type(x).__name__}")
    if ndim is not None and len(x.shape) != ndim:
        raise ValueError(f"{func}: {name} must be {ndim}-D, got shape {shape_of(x)}")


def dtype_kind(x: Any) -> str:
    """``"bool"``, ``"integer"``, ``"floating"``, ``"complex"`` or ``"other"`` (strings, objects, dates)."""
    kind = getattr(x.dtype, "kind", None)
    if isinstance(kind, str):  # NumPy dtypes (also those of CuPy, Dask and JAX arrays)
        return {"b": "bool", "i": "integer", "u": "integer", "f": "floating", "c": "complex"}.get(
            kind, "other"
        )
    xp = array_api_compat.array_namespace(x)
    for name, kinds in (
        ("bool", "bool"),
        ("integer", "integral"),
        ("floating", "real floating"),
        ("complex", "complex floating"),
    ):
        if xp.isdtype(x.dtype, kinds):
            return name
    return "other"


def check_real(func: str, name: str, x: Any) -> None:
    """Raise ``TypeError`` unless x holds real numbers (bool, integer or floating), before any cast.

    Casting would drop a complex array's imaginary part, or parse strings into numbers.
    """
    kind = dtype_kind(x)
    if kind == "complex":
        raise TypeError(
            f"{func}: {name} must hold real numbers, got complex dtype {x.dtype}; "
            "take its real part or magnitude explicitly if that is what is meant"
        )
    if kind == "other":
        raise TypeError(
            f"{func}: {name} must be a numeric array (bool, integer or floating), got dtype {x.dtype}; "
            "convert it to numbers first"
        )


def check_float(func: str, name: str, xp: Any, x: Any) -> None:
    if not xp.isdtype(x.dtype, "real floating"):
        check_real(func, name, x)
        raise TypeError(
            f"{func}: {name} must be a floating-point array (float32 or float64), "
            f"got dtype {x.dtype}; cast it first (e.g. X.astype('float64') / 255 for images)"
        )


def first_bad(xp: Any, x: Any, good: Any) -> tuple[tuple[int, ...], float] | None:
    """The index and value of x's first element where the boolean array ``good`` is False, or None.

    One host synchronisation when all is well, a second to locate a bad element.
    """
    if bool(xp.all(good)):
        return None
    # By position: no boolean-mask indexing, whose result has a data-dependent
    # size (unknown chunk sizes on Dask).
    flat = xp.reshape(x, (-1,))
    at = int(xp.argmax(xp.astype(~xp.reshape(good, (-1,)), xp.int8)))
    index, rest = [], at
    for d in reversed(shape_of(x)):
        index.append(rest % d)
        rest //= d
    return tuple(reversed(index)), float(flat[at])


def _where(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, index)) + "]"


def check_finite(func: str, name: str, xp: Any, x: Any) -> None:
    """Raise ``ValueError`` naming the first NaN or infinity of the floating array x."""
    # NaN propagates through max and min, and an infinity is an extreme, so finite extremes
    # clear x with no boolean copy and nothing to overflow (on PyTorch's CPU 15x faster than
    # isfinite's copy); only otherwise is x searched.
    if math.prod(shape_of(x)) == 0 or bool(xp.isfinite(xp.max(x)) & xp.isfinite(xp.min(x))):
        return
    bad = first_bad(xp, x, xp.isfinite(x))
    if bad is not None:
        raise ValueError(f"{func}: {name} contains NaN or infinity ({bad[1]!r} at {_where(bad[0])})")


def binary_label_error(func: str, name: str, bad: tuple[tuple[int, ...], float]) -> str:
    return f"{func}: {name} must hold labels 0 or 1 only, found {bad[1]!r} at {_where(bad[0])}"


def check_binary(func: str, name: str, xp: Any, y: Any) -> None:
    """Raise ``ValueError`` unless every element of y is 0 or 1 (NaN included)."""
    bad = first_bad(xp, y, (y == 0) | (y == 1))
    if bad is not None:
        raise ValueError(binary_label_error(func, name, bad))


def check_one_hot(func: str, name: str, xp: Any, Y: Any) -> None:
    """Raise ``ValueError`` unless Y ``(C, m)`` is one-hot: 0s and 1s with one 1 per column."""
    bad = first_bad(xp, Y, (Y == 0) | (Y == 1))
    if bad is not None:
        raise ValueError(
            f"{func}: {name} must be one-hot (0s and 1s, one 1 per column), found {bad[1]!r} at "
            f"{_where(bad[0])}"
        )
    sums = xp.sum(Y, axis=0)
    bad = first_bad(xp, sums, sums == 1)
    if bad is not None:
        raise ValueError(
            f"{func}: {name} must be one-hot (one 1 per column), but column {bad[0][0]} holds "
            f"{int(bad[1])} ones"
        )


def check_store(func: str, xp: Any, X: Any, Y: Any, path: str, x: str, y: str) -> Any:
    """The data checks of an out-of-core store: the labels Y now, X's values in the tasks that read X.

    Y (one label per example) is read once here and must hold 0s and 1s. X is
    too large to read twice: it is returned with every chunk checked in the
    task that reads it, each time it is read, so a NaN or infinity raises
    ``ValueError`` naming the store, the dataset and the examples from the
    first training step that reads the chunk. The check is an elementwise
    ``isfinite`` over data already in memory, with no extra read and no extra
    synchronisation: 0.6 ms for a 2000 x 1000 float32 chunk, against 12 ms for
    its two products with a 20-unit first layer and 14 ms to read it from Zarr
    (about 2% of a step).
    """
    check_binary(func, f"dataset {y!r} of {path!r}", xp, Y)
    return backend_of(X).checked_when_read(
        X, functools.partial(_finite_part, func, f"dataset {x!r} of {path!r}")
    )


def _finite_part(func: str, name: str, part: Any, columns: tuple[int, int] | None) -> None:
    xp = array_api_compat.array_namespace(part)
    if not bool(xp.all(xp.isfinite(part))):
        where = "" if columns is None else f" in examples {columns[0]} to {columns[1] - 1}"
        raise ValueError(f"{func}: {name} contains NaN or infinity{where}")


def check_examples(func: str, name: str, x: Any) -> int:
    """x's number of examples (its last axis), raising ``ValueError`` when there are none."""
    m = shape_of(x)[-1]
    if m == 0:
        raise ValueError(f"{func}: {name} has no examples (shape {shape_of(x)})")
    return m


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


def check_decay_per_step(func: str, learning_rate: float, weight_decay: float) -> None:
    """Raise ``ValueError`` unless ``learning_rate * weight_decay < 1``.

    Decoupled weight decay scales every parameter by ``1 - learning_rate * weight_decay``
    at each step: from 1 on it zeroes or flips the parameters instead of shrinking them,
    and training diverges whatever the learning rate.
    """
    decay = learning_rate * weight_decay
    if not decay < 1:
        raise ValueError(
            f"{func}: learning_rate * weight_decay = {decay:.3g} must be below 1 (decoupled weight "
            "decay scales every parameter by 1 - learning_rate * weight_decay at each step)"
        )


def check_path(func: str, path: Any) -> str:
    """``path`` (a str or ``os.PathLike``) as a str; a ``TypeError`` naming ``func`` for anything else.

    >>> import pathlib
    >>> check_path("save_parameters", pathlib.Path("m.npz"))
    'm.npz'
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{func}: path must be a str or os.PathLike, got {type(path).__name__}")
    return os.fspath(path)


def check_file(func: str, path: Any, what: str = "file") -> str:
    """``path`` as a str naming an existing file (``what`` names it in the errors).

    >>> check_file("load_parameters", "no_model.npz", "model file")
    Traceback (most recent call last):
    ...
    ValueError: load_parameters: model file 'no_model.npz' does not exist
    """
    path = check_path(func, path)
    if not os.path.exists(path):
        raise ValueError(f"{func}: {what} {path!r} does not exist")
    if not os.path.isfile(path):
        raise ValueError(f"{func}: {what} {path!r} is not a file")
    return path


def check_count(func: str, name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{func}: {name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{func}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_seed(
    func: str, name: str, value: Any, used_up_to: int = 0, why: str = " (NumPy's seeds stop at 2**32 - 1)"
) -> int:
    """A seed NumPy accepts: an integer from 0 to ``2**32 - 1 - used_up_to``.

    ``used_up_to`` is how far above the seed the function seeds streams itself
    (``seed + epoch + 1``), explained by ``why``.
    """
    top = MAX_SEED - used_up_to
    integral = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not integral or not 0 <= value <= top:
        error = ValueError if integral else TypeError
        raise error(f"{func}: {name} must be an integer from 0 to {top}{why}, got {value!r}")
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
    for l in range(1, len(dims)):
        if dims[l] * dims[l - 1] > MAX_ELEMENTS:
            raise ValueError(
                f"{func}: {name} {dims} asks for W{l} of {dims[l]} x {dims[l - 1]} = "
                f"{dims[l] * dims[l - 1]:.3g} values, more than an array can hold ({MAX_ELEMENTS:.3g})"
            )
    return dims


#: The most elements one array may hold: NumPy's limit for float64 (2**63 bytes).
MAX_ELEMENTS = 2**63 // 8


def count_layers(func: str, parameters: Any, name: str = "", prefix: str = "") -> int:
    """How many ``{prefix}W1, {prefix}W2, ...`` the dict ``parameters`` holds (at least one);
    ``name`` names the dict in the errors.

    >>> count_layers("f", {"dW1": 0, "db1": 0, "dW2": 0}, prefix="d")
    2
    """
    if not isinstance(parameters, Mapping):
        wanted = f"{name} must be" if name else "expected"
        raise TypeError(
            f"{func}: {wanted} a dict of '{prefix}W1', '{prefix}b1', ..., got {type(parameters).__name__}"
        )
    L = 0
    while f"{prefix}W{L + 1}" in parameters:
        L += 1
    if L == 0:
        missing = f"{name} has no" if name else "no"
        keys = f"'{prefix}W1', '{prefix}b1', ..., '{prefix}WL', '{prefix}bL'"
        raise ValueError(f"{func}: {missing} '{prefix}W1'; expected keys {keys}")
    return L


def num_layers(func: str, parameters: Any, name: str = "parameters", chained: bool = True) -> int:
    """Number of layers L in a ``{"W1", "b1", ..., "WL", "bL"}`` dict, checked for shape.

    ``chained=False`` checks only that each entry is an array: an update that treats every
    parameter on its own (the optimizers) needs no layer to fit the next.
    """
    L = count_layers(func, parameters, name)
    for l in range(1, L + 1):
        W, b = parameters.get(f"W{l}"), parameters.get(f"b{l}")
        if b is None:
            raise ValueError(f"{func}: {name} has 'W{l}' but no 'b{l}'")
        check_array(func, f"{name}['W{l}']", W)
        check_array(func, f"{name}['b{l}']", b)
        if not chained:
            continue
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
