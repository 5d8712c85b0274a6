"""The cross-entropy cost of a sigmoid output, beside its gradient."""

from __future__ import annotations

from typing import Any

from ._checks import check_array, check_float, shape_of
from .backend import namespace_of


def _check_labels(func: str, xp: Any, AL: Any, Y: Any) -> Any:
    """Y as AL's dtype and shape; raises unless Y holds as many labels as AL."""
    check_array(func, "AL", AL)
    check_array(func, "Y", Y)
    check_float(func, "AL", xp, AL)
    if shape_of(Y) != shape_of(AL):
        if xp_size(Y) != xp_size(AL) or shape_of(AL)[0] != 1:
            raise ValueError(
                f"{func}: Y has shape {shape_of(Y)}, expected {shape_of(AL)} (one label per column of AL)"
            )
        Y = xp.reshape(Y, shape_of(AL))
    if Y.dtype != AL.dtype:
        Y = xp.astype(Y, AL.dtype)
    return Y


def xp_size(x: Any) -> int:
    n = 1
    for d in x.shape:
        n *= int(d)
    return n


def first_non_binary(xp: Any, Y: Any) -> float | None:
    """The first label of Y that is neither 0 nor 1, or None (one host synchronisation)."""
    if bool(xp.all((Y == 0) | (Y == 1))):
        return None
    # By position: no boolean-mask indexing, whose result has a data-dependent
    # size (unknown chunk sizes on Dask).
    flat = xp.reshape(Y, (-1,))
    first = int(xp.argmax(xp.astype(~((flat == 0) | (flat == 1)), xp.int8)))
    return float(flat[first])


def check_binary_labels(func: str, xp: Any, Y: Any, name: str = "Y") -> None:
    """Raise unless every label is 0 or 1 (one host synchronisation)."""
    bad = first_non_binary(xp, Y)
    if bad is not None:
        raise ValueError(f"{func}: {name} must hold labels 0 or 1 only, found {bad!r}")


def compute_cost(AL: Any, Y: Any) -> float:
    """Cross-entropy ``-1/m * sum(Y log AL + (1 - Y) log(1 - AL))`` as a Python float.

    ``AL`` is clipped to ``[eps, 1 - eps]`` (eps of its dtype) before the logs, so
    an output that saturates at exactly 0 or 1 gives a large finite cost instead
    of ``inf`` or ``nan``; outputs inside that range are untouched.

    >>> import numpy as np
    >>> round(compute_cost(np.array([[0.8, 0.9, 0.4]]), np.array([[1, 1, 1]])), 6)
    0.414932
    """
    func = "compute_cost"
    xp = namespace_of(AL, Y, func=func)
    Y = _check_labels(func, xp, AL, Y)
    check_binary_labels(func, xp, Y)
    return float(cross_entropy(xp, AL, Y))


def cross_entropy(xp: Any, AL: Any, Y: Any) -> Any:
    """The cost as a 0-d array, unchecked (Y already of AL's dtype and shape)."""
    m = shape_of(Y)[1]
    eps = float(xp.finfo(AL.dtype).eps)
    AL = xp.clip(AL, eps, 1 - eps)
    return -1 / m * xp.sum(Y * xp.log(AL) + (1 - Y) * xp.log(1 - AL))


def compute_cost_backward(AL: Any, Y: Any) -> Any:
    """Gradient of :func:`compute_cost` with respect to AL: ``-(Y/AL - (1-Y)/(1-AL))``.

    This is the course's ``dAL``; it is not clipped, so it is exact for any AL.

    >>> import numpy as np
    >>> compute_cost_backward(np.array([[0.5]]), np.array([[1]]))
    array([[-2.]])
    """
    func = "compute_cost_backward"
    xp = namespace_of(AL, Y, func=func)
    Y = _check_labels(func, xp, AL, Y)
    return -(Y / AL - (1 - Y) / (1 - AL))
