"""The data's way in: host or device arrays checked once and moved once to the training backend.

What counts as host data, which float dtype training uses, and how labels, sample weights and a
held-out share are laid out are each decided here, for :func:`~portable_dnn.fit`, the course's
models, the estimators and the command line (through :func:`portable_dnn.prepare.prepare`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import array_api_compat
import numpy as np

from ._checks import (
    check_array,
    check_binary,
    check_examples,
    check_finite,
    check_one_hot,
    check_real,
    check_shape,
    first_bad,
    is_array,
    shape_of,
)
from .backend import (
    Backend,
    backend_of,
    get_backend,
    host_random_state,
    namespace_of,
    resolve_dtype,
    to_numpy,
)
from .backend.base import dtype_name
from .softmax import indices_to_one_hot


def is_host(a: Any) -> bool:
    """Whether ``a`` is host data (a NumPy array, a list, a number) rather than another library's array."""
    return not is_array(a) or array_api_compat.is_numpy_array(a)


def pick_backend(func: str, X: Any, backend: Any) -> Backend:
    """``backend`` when given; else X's own library and device; else (host data) the selected default."""
    if backend is not None or is_host(X):
        return get_backend(backend)
    namespace_of(X, func=func)
    return backend_of(X)


def working_dtype(xp: Any, X: Any, dtype: Any = None) -> Any:
    """The float dtype training uses: ``dtype`` when given, else X's own float32 or float64, else
    float64 (integer, boolean or half-precision X is cast).

    >>> import numpy as np
    >>> working_dtype(np, np.zeros(2, dtype=np.uint8)), working_dtype(np, np.zeros(2, dtype=np.float32))
    (<class 'numpy.float64'>, <class 'numpy.float32'>)
    """
    if dtype is None:
        name = str(X.dtype).rsplit(".", 1)[-1]
        dtype = name if name in ("float32", "float64") else "float64"
    return resolve_dtype(xp, dtype)


def to_backend(be: Backend, a: Any, dtype: Any = None) -> Any:
    """``a`` (host data or an array of any library) on ``be``, as ``dtype`` when given."""
    if not is_host(a):
        try:
            same = namespace_of(a) is be.xp and str(array_api_compat.device(a)) == str(be.device)
        except (TypeError, ValueError):
            same = False
        if same:
            a = be.known_sizes(a)
            return a if dtype is None or a.dtype == dtype else be.xp.astype(a, dtype)
        a = to_numpy(a)
    return be.asarray(a, dtype=dtype)


def host_checked(func: str, name: str, a: Any) -> Any:
    """``a`` as an array of real numbers, checked where it is (host lists become NumPy arrays first)."""
    if isinstance(a, (list, tuple)):
        a = np.asarray(a)
    if is_array(a):
        check_real(func, name, a)
    return a


def move_features(func: str, be: Backend, X: Any, dtype: Any, name: str, n_x: int) -> tuple[Any, Any]:
    """X on ``be`` as a floating dtype (``dtype``, else X's own float dtype, else float64), checked:
    real numbers (no complex, string or object arrays, refused before any cast), n_x
    features, at least one example, no NaN or infinity."""
    X = to_backend(be, host_checked(func, name, X))
    check_array(func, name, X)
    xp = be.xp
    target = working_dtype(xp, X, dtype)
    if X.dtype != target:
        X = be.cast_features(X, target)
    check_shape(func, name, X, (n_x, None), f"(features must equal layers_dims[0], {n_x})")
    check_examples(func, name, X)
    check_finite(func, name, xp, X)
    return X, target


def move_labels(func: str, be: Backend, Y: Any, dtype: Any, output: str, n_y: int, m: int, name: str) -> Any:
    """Y on ``be`` as ``dtype``: ``(1, m)`` labels 0/1 (sigmoid), ``(n_y, m)`` one-hot (softmax),
    ``(n_y, m)`` labels 0/1 (multilabel) or ``(n_y, m)`` finite targets (identity)."""
    xp = be.xp
    Y = to_backend(be, host_checked(func, name, Y))
    check_array(func, name, Y, ndim=None)
    shape = shape_of(Y)
    if output == "sigmoid":
        if n_y != 1:
            raise ValueError(
                f"{func}: output='sigmoid' needs layers_dims[-1] == 1, got {n_y}; "
                "output='multilabel' takes several 0/1 labels per example"
            )
        if shape not in ((m,), (1, m)):
            raise ValueError(f"{func}: {name} has shape {shape}, expected (1, {m}) or ({m},) labels 0/1")
        Y = xp.astype(xp.reshape(Y, (1, m)), dtype)
        check_binary(func, name, xp, Y)
        return Y
    if output in ("multilabel", "identity"):
        what = "labels 0/1" if output == "multilabel" else "real targets"
        if shape != (n_y, m) and not (n_y == 1 and shape == (m,)):
            alternative = f" or ({m},)" if n_y == 1 else ""
            raise ValueError(
                f"{func}: {name} has shape {shape}, expected ({n_y}, {m}){alternative} {what} "
                f"(layers_dims[-1] = {n_y} units, {m} examples)"
            )
        Y = xp.astype(xp.reshape(Y, (n_y, m)), dtype)
        if output == "multilabel":
            check_binary(func, name, xp, Y)
        else:
            check_finite(func, name, xp, Y)
        return Y
    if n_y < 2:
        raise ValueError(f"{func}: output='softmax' needs layers_dims[-1] >= 2 classes, got {n_y}")
    if shape == (n_y, m):
        Y = xp.astype(Y, dtype)
        check_one_hot(func, name, xp, Y)
        return Y
    if shape not in ((m,), (1, m)):
        raise ValueError(
            f"{func}: {name} has shape {shape}, expected class indices ({m},) or (1, {m}), "
            f"or one-hot ({n_y}, {m})"
        )
    return indices_to_one_hot(func, xp, Y, n_y, dtype, name)


def split_columns(
    func: str, be: Backend, arrays: Sequence[Any], fraction: float, seed: int
) -> tuple[list[Any], list[Any]]:
    """``arrays`` (X, Y, weights or None) as their training and held-out columns, one permutation."""
    m = shape_of(arrays[0])[1]
    n_val = math.ceil(fraction * m)
    if not 0 < n_val < m:
        raise ValueError(
            f"{func}: validation_fraction={fraction} leaves no training or no validation examples of {m}"
        )
    perm = host_random_state(seed).permutation(m)
    train, held = ([None if A is None else be.take_columns(A, index) for A in arrays]
                   for index in (perm[n_val:], perm[:n_val]))  # fmt: skip
    return train, held


def move_weights(func: str, be: Backend, w: Any, dtype: Any, m: int) -> Any:
    """``sample_weight`` on ``be`` as ``(1, m)`` of ``dtype``, checked: an array (or list) of real
    numbers, one per example, finite, >= 0 and not all zero; divided by its largest weight (in
    float64, on the host), so that no sum of weights overflows or underflows whatever their scale
    (the weighted means, and so training, do not change)."""
    name = "sample_weight"
    w = host_checked(func, name, w)
    if not is_array(w):
        raise TypeError(
            f"{func}: {name} must be an array of {m} weights (one per example), got {type(w).__name__}"
        )
    w = np.asarray(to_numpy(w), dtype=np.float64)  # computed where lazy: its sizes become known
    if w.shape not in ((m,), (1, m)):
        raise ValueError(
            f"{func}: {name} has shape {w.shape}, expected ({m},) or (1, {m}): one weight per example"
        )
    w = w.reshape(1, m)
    check_finite(func, name, np, w)
    bad = first_bad(np, w, w >= 0)
    if bad is not None:
        raise ValueError(f"{func}: {name} must be >= 0, found {bad[1]!r} at [{bad[0][1]}]")
    some_weight(func, np, w, "")
    w = w / w.max()
    check_weight_range(func, w, dtype)
    return be.asarray(w, dtype=dtype)


def check_weight_range(func: str, w: np.ndarray, dtype: Any) -> None:
    """Refuse weights (largest 1) so much smaller than the largest that, in ``dtype``, a batch of them
    alone would sum to less than its size over the largest float: its mean weight would overflow."""
    positive = w[w > 0]
    smallest = float(positive.min())
    floor = w.shape[1] / float(np.finfo(dtype_name(dtype)).max)
    if smallest < floor:
        raise ValueError(
            f"{func}: sample_weight spans too wide a range for {dtype_name(dtype)}: its smallest weight "
            f"above zero is {smallest:.3g} times its largest, below {floor:.3g}; "
            "set such weights to 0 or train in float64"
        )


def some_weight(func: str, xp: Any, w: Any, which: str) -> None:
    """Refuse weights that are all zero (a weighted mean over nothing)."""
    if not bool(xp.max(w) > 0):
        raise ValueError(
            f"{func}: sample_weight is zero for every {which}example; at least one needs a weight > 0"
        )


def move_array(func: str, name: str, be: Backend, x: Any, dtype: Any) -> Any:
    """``x`` on ``be`` as floating ``dtype`` (None: its own dtype): host data is copied there once;
    an array of another library is refused (the course's functions compute where their arrays
    are). x must hold real numbers: complex, string or object arrays are refused before any cast."""
    host = is_host(x)
    if not host and type(backend_of(x)) is not type(be):
        raise TypeError(
            f"{func}: {name} is a {backend_of(x).name} array but training runs on {be.name}; "
            f"pass host (NumPy) data or arrays of {be.name}"
        )
    check_array(func, name, x)
    check_real(func, name, x)
    if host:
        return be.asarray(x, dtype=dtype)
    xp = be.xp
    namespace_of(x, xp.asarray(0.0, device=be.device), func=func)
    return x if dtype is None or x.dtype == dtype else xp.astype(x, dtype)


def move_row(func: str, be: Backend, y: Any, shape: tuple[int, ...], dtype: Any, name: str = "Y") -> Any:
    """Labels ``y`` (``(1, m)``, or ``(m,)`` made a row) moved as :func:`move_array` moves them, of
    ``shape``."""
    if getattr(y, "ndim", 0) != 2:
        if not hasattr(y, "shape") or len(y.shape) != 1:
            raise ValueError(
                f"{func}: {name} must be a 1 x m array of labels, got {getattr(y, 'shape', type(y).__name__)}"
            )
        y = backend_of(y).xp.reshape(y, (1, shape_of(y)[0]))
    y = move_array(func, name, be, y, dtype)
    if shape_of(y) != shape:
        raise ValueError(f"{func}: {name} has shape {shape_of(y)}, expected {shape} (one label per example)")
    return y
