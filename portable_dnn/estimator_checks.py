"""The estimators' checks of their inputs (scikit-learn's conventions) and their class weights."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import array_api_compat
import numpy as np

from .backend import get_backend, to_numpy
from .data import move_weights

#: The float dtypes scikit-learn's validation keeps.
FLOATS = (np.float64, np.float32)


def continues(func: str) -> str:
    """How the training call ``func`` came to continue the fitted network, for its refusals."""
    if func.endswith("partial_fit"):
        return "partial_fit continues"
    return "warm_start=True continues (warm_start=False fits a new network)"


def input_shape(x: Any) -> tuple[int, ...]:
    """x's shape where it has one (arrays, DataFrames, sparse matrices, rectangular lists), else ()."""
    if hasattr(x, "shape"):
        return tuple(x.shape)
    if not isinstance(x, (list, tuple)):
        return ()
    try:
        return np.shape(x)
    except ValueError:  # ragged: scikit-learn says what is wrong
        return ()


def is_device_array(x: Any) -> bool:
    """An array of an array library other than NumPy."""
    return array_api_compat.is_array_api_obj(x) and not isinstance(x, np.ndarray)


def checked_sample_weight(func: str, sample_weight: Any, m: int) -> np.ndarray | None:
    """``sample_weight`` checked, as host float64 ``(m,)`` (None stays None); :func:`fit` moves it
    to X's backend."""
    if sample_weight is None:
        return None
    w = to_numpy(sample_weight) if is_device_array(sample_weight) else np.asarray(sample_weight)
    return np.asarray(move_weights(func, get_backend("numpy"), w, np.float64, m)).reshape(m)


def hidden_sizes(func: str, hidden: Any) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a tuple of positive ints: an int, or a list or tuple of them."""
    sizes = (hidden,) if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool) else hidden
    message = (
        f"{func}: hidden_layer_sizes must be a positive integer or a tuple of them, such as (20, 7), "
        f"got {hidden!r}"
    )
    if not isinstance(sizes, (tuple, list)) or not all(
        isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in sizes
    ):
        raise TypeError(message)
    if not all(n > 0 for n in sizes):
        raise ValueError(message)
    return tuple(int(n) for n in sizes)


def refuse_strings(func: str, X: Any, name: str = "X") -> None:
    """Strings in X (a string array, or strings among objects) would be parsed as numbers: refuse them."""
    if isinstance(X, (list, tuple)) or hasattr(X, "dtypes"):  # lists, DataFrames
        try:
            X = np.asarray(X)
        except (ValueError, TypeError):  # ragged: scikit-learn says what is wrong
            return
    if not isinstance(X, np.ndarray):  # sparse matrices: scikit-learn decides
        return
    dtype = X.dtype
    if dtype.kind in "USV" or (dtype.kind == "O" and any(isinstance(v, (str, bytes)) for v in X.flat)):
        raise TypeError(
            f"{func}: {name} must hold numbers, got dtype {dtype}"
            + (" with strings" if dtype.kind == "O" else "")
            + "; convert it to numbers first"
        )


def refuse_nan_labels(func: str, y: Any, name: str = "y") -> None:
    try:
        labels = np.asarray(y)
    except (ValueError, TypeError):  # ragged: scikit-learn says what is wrong
        return
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        raise ValueError(f"{func}: {name} contains NaN or infinity, which is no class label")


def check_finite_host(func: str, X: np.ndarray, name: str = "X") -> None:
    if not np.all(np.isfinite(X)):
        row, col = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(
            f"{func}: {name} contains NaN or infinity ({float(X[row, col])!r} at [{row}, {col}])"
        )


def class_weighted(
    func: str, method: str, given: Any, classes: np.ndarray, y_idx: np.ndarray, weights: np.ndarray | None
) -> np.ndarray:
    """The samples' weights times their classes' (``class_weight`` ``given``), on the host."""
    k = len(classes)
    if isinstance(given, str) and given == "balanced":
        if method == "partial_fit":
            raise ValueError(
                f"{func}: class_weight='balanced' would balance each call's y alone; compute the "
                "weights once over all the data with sklearn.utils.class_weight.compute_class_weight"
                "('balanced', classes=classes, y=y) and pass them as a dict"
            )
        counts = np.bincount(y_idx, weights=weights, minlength=k)
        present = np.count_nonzero(np.bincount(y_idx, minlength=k))
        # A class whose samples all weigh 0 gets weight 0, not infinity (times 0: NaN).
        per_class = np.divide(counts.sum(), present * counts, out=np.zeros(k), where=counts > 0)
    elif isinstance(given, Mapping):
        known = set(classes.tolist())
        unknown = [label for label in given if label not in known]
        if unknown:
            raise ValueError(
                f"{func}: class_weight names labels that are not classes: {unknown} "
                f"(classes_ are {classes.tolist()})"
            )
        per_class = np.ones(k)
        for i, label in enumerate(classes.tolist()):
            if label in given:
                value = given[label]
                if (
                    isinstance(value, bool)
                    or not isinstance(value, numbers.Real)
                    or not (math.isfinite(value) and float(value) >= 0)
                ):
                    raise ValueError(
                        f"{func}: class_weight[{label!r}] must be a finite number >= 0, got {value!r}"
                    )
                per_class[i] = float(value)
    else:
        raise ValueError(
            f"{func}: class_weight must be None, 'balanced' or a dict of class label -> weight, got {given!r}"
        )
    if per_class.max() > 0:  # scaled as sample_weight is, so the product stays in range
        per_class = per_class / per_class.max()
    weighted = per_class[y_idx] if weights is None else weights * per_class[y_idx]
    if not np.any(weighted > 0):
        raise ValueError(f"{func}: class_weight and sample_weight leave every sample with weight zero")
    return weighted
