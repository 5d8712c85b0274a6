"""The cross-entropy cost of a sigmoid output, beside its gradient."""

from __future__ import annotations

import warnings
from typing import Any

from ._checks import (
    binary_label_error,
    check_array,
    check_examples,
    check_finite,
    check_float,
    check_real,
    first_bad,
    shape_of,
)
from .backend import namespace_of
from .linear import kernels


def check_labels(func: str, xp: Any, AL: Any, Y: Any) -> Any:
    """Y as AL's dtype and shape; raises ``ValueError`` naming ``func`` unless Y holds as many
    finite real labels as AL.

    The course writes labels as a 1 x m row or, for one output unit, as a 1-D ``(m,)``
    array (``np.array([1, 1, 0])``); both are taken as AL's ``(1, m)``.

    >>> import array_api_compat.numpy as xp
    >>> check_labels("compute_cost", xp, xp.asarray([[0.2, 0.7]]), xp.asarray([1, 0]))
    array([[1., 0.]])
    """
    check_array(func, "AL", AL)
    check_array(func, "Y", Y, ndim=None)
    if len(Y.shape) not in (1, 2):
        raise ValueError(f"{func}: Y must be 2-D, or 1-D for a one-unit AL, got shape {shape_of(Y)}")
    check_float(func, "AL", xp, AL)
    check_real(func, "Y", Y)
    if shape_of(Y) != shape_of(AL):
        if xp_size(Y) != xp_size(AL) or shape_of(AL)[0] != 1:
            raise ValueError(
                f"{func}: Y has shape {shape_of(Y)}, expected {shape_of(AL)} (one label per column of AL)"
            )
        Y = xp.reshape(Y, shape_of(AL))
    check_examples(func, "AL", AL)
    if Y.dtype != AL.dtype:
        Y = xp.astype(Y, AL.dtype)
    check_finite(func, "Y", xp, Y)
    return Y


def xp_size(x: Any) -> int:
    n = 1
    for d in x.shape:
        n *= int(d)
    return n


def first_non_binary(xp: Any, Y: Any) -> tuple[tuple[int, ...], float] | None:
    """Where Y first holds a label other than 0 or 1 (NaN included), and that label; or None.

    One host synchronisation when every label is 0 or 1.
    """
    return first_bad(xp, Y, (Y == 0) | (Y == 1))


def check_binary_labels(func: str, xp: Any, Y: Any, name: str = "Y") -> None:
    """Raise ``ValueError`` unless every label is 0 or 1 (one host synchronisation)."""
    bad = first_non_binary(xp, Y)
    if bad is not None:
        raise ValueError(binary_label_error(func, name, bad))


def warn_non_binary(func: str, xp: Any, Y: Any, stacklevel: int = 3) -> None:
    """Warn (``UserWarning``) when Y holds labels other than 0 and 1; the course's formulas still apply.

    The course's own tests call its functions on labels drawn from a normal
    distribution, so the course-named functions compute on them, and say so.
    """
    bad = first_non_binary(xp, Y)
    if bad is not None:
        warnings.warn(
            f"{func}: Y holds labels other than 0 and 1 (first: {bad[1]!r}); "
            "the cross-entropy is computed as the course writes it",
            UserWarning,
            stacklevel=stacklevel,
        )


def compute_cost(AL: Any, Y: Any) -> float:
    """Cross-entropy ``-1/m * sum(Y log AL + (1 - Y) log(1 - AL))`` as a Python float.

    ``AL`` is clipped to ``[eps, 1 - eps]`` (eps of its dtype) before the logs, so
    an output that saturates at exactly 0 or 1 gives a large finite cost instead
    of ``inf`` or ``nan``; outputs inside that range are untouched. Finite labels
    other than 0 and 1 give a ``UserWarning`` and the formula's value, as in the
    course; NaN or infinite labels raise ``ValueError``. ``Y`` is ``(1, m)`` like ``AL``,
    or the course's 1-D ``(m,)`` when AL has one row.

    >>> import numpy as np
    >>> round(compute_cost(np.array([[0.8, 0.9, 0.4]]), np.array([[1, 1, 1]])), 6)
    0.414932
    >>> round(compute_cost(np.array([[0.8, 0.9, 0.4]]), np.array([1, 1, 1])), 6)  # 1-D labels
    0.414932
    """
    return binary_cost("compute_cost", AL, Y)


def binary_cost(func: str, AL: Any, Y: Any) -> float:
    """:func:`compute_cost` with ``func`` named in its messages."""
    return float(checked_cross_entropy(func, AL, Y, stacklevel=5))


def checked_cross_entropy(func: str, AL: Any, Y: Any, stacklevel: int = 4) -> Any:
    """:func:`compute_cost` as a 0-d array of AL's library (a NumPy scalar for NumPy) with no host
    synchronisation beyond the checks; ``func`` is named in its messages and ``stacklevel`` points
    its warning at the caller's caller."""
    xp = namespace_of(AL, Y, func=func)
    Y = check_labels(func, xp, AL, Y)
    warn_non_binary(func, xp, Y, stacklevel=stacklevel)
    return cross_entropy(xp, AL, Y)


def cross_entropy(xp: Any, AL: Any, Y: Any) -> Any:
    """The cost as a 0-d array, unchecked (Y already of AL's dtype and shape): the engine's
    ``Ops.cost`` of a sigmoid output."""
    return kernels(AL).cost(AL, Y, "sigmoid")


def compute_cost_backward(AL: Any, Y: Any) -> Any:
    """Gradient of :func:`compute_cost` with respect to AL: ``-(Y/AL - (1-Y)/(1-AL))``.

    This is the course's ``dAL``; it is not clipped, so it is exact for any AL.
    Labels are checked as in :func:`compute_cost`.

    >>> import numpy as np
    >>> compute_cost_backward(np.array([[0.5]]), np.array([[1]]))
    array([[-2.]])
    """
    func = "compute_cost_backward"
    xp = namespace_of(AL, Y, func=func)
    Y = check_labels(func, xp, AL, Y)
    warn_non_binary(func, xp, Y)
    return cost_backward(AL, Y)


def cost_backward(AL: Any, Y: Any) -> Any:
    """The course's ``dAL``, unchecked (Y already of AL's dtype and shape)."""
    return -(Y / AL - (1 - Y) / (1 - AL))
