"""L2 regularization and inverted dropout, forward beside backward (course "Regularization").

Dropout masks are drawn on the host from a seeded ``RandomState`` (see
:func:`~portable_dnn.backend.host_random_state`) and then moved, so a seed gives
the same mask on every backend.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import array_api_compat

from ._checks import (
    check_array,
    check_count,
    check_float,
    check_real,
    check_same_dtype,
    check_seed,
    check_shape,
    dtype_kind,
    first_bad,
    num_layers,
    shape_of,
)
from .backend import host_random_state, namespace_of
from .cost import binary_cost
from .linear import kernels


def real_number(value: Any) -> float | None:
    """``value`` as a float when it is a real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)


def check_lambd(func: str, lambd: Any) -> float:
    """``lambd`` as a float; raises ``ValueError`` naming ``func`` unless it is a finite number >= 0.

    >>> check_lambd("l2_cost", 0.7)
    0.7
    """
    return check_non_negative(func, "lambd", lambd)


def check_non_negative(func: str, name: str, value: Any) -> float:
    """``value`` as a float; raises ``ValueError`` naming ``func`` and ``name`` unless it is a finite
    number >= 0 (a rate or a penalty's weight).

    >>> check_non_negative("update_lr", "decay_rate", 1)
    1.0
    """
    number = real_number(value)
    if number is None or not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{func}: {name} must be a finite number >= 0, got {value!r}")
    return number


def check_keep_prob(func: str, keep_prob: Any) -> float:
    """``keep_prob`` as a float; raises ``ValueError`` naming ``func`` unless it is in ``(0, 1]``.

    >>> check_keep_prob("dropout_mask", 1)
    1.0
    """
    value = real_number(keep_prob)
    if value is None or not (0 < value <= 1):
        raise ValueError(f"{func}: keep_prob must be a number in (0, 1], got {keep_prob!r}")
    return value


#: The former private names, which ``fit`` still imports.


def l2_cost(parameters: Mapping[str, Any], lambd: float, m: int) -> float:
    """The L2 cost term ``lambd / (2 m) * sum_l ||W_l||^2`` (Frobenius norms; biases excluded).

    >>> import numpy as np
    >>> l2_cost({"W1": np.ones((2, 2)), "b1": np.ones((2, 1))}, 0.5, 2)
    0.5
    """
    func = "l2_cost"
    return float(l2_terms(parameters, check_lambd(func, lambd), check_count(func, "m", m, 1), func)[0])


def l2_terms(
    parameters: Mapping[str, Any], lambd: float, m: int, func: str = "l2_terms"
) -> tuple[Any, dict[str, Any]]:
    """The L2 term's cost (a 0-d array: no host synchronisation) and gradients ``{"dW1": ..., ...}``,
    each layer's from the engine's ``Ops.l2``; ``lambd`` and ``m`` as the caller checked them.

    >>> import numpy as np
    >>> cost, grads = l2_terms({"W1": np.ones((1, 2)), "b1": np.ones((1, 1))}, 0.5, 2)
    >>> float(cost), grads
    (0.25, {'dW1': array([[0.25, 0.25]])})
    """
    L = num_layers(func, parameters)
    weights = [parameters[f"W{l}"] for l in range(1, L + 1)]
    ops = kernels(weights[0])
    namespace_of(*weights, func=func)
    total, grads = None, {}
    for l, W in enumerate(weights, start=1):
        term, grads[f"dW{l}"] = ops.l2(W, lambd, m)
        total = term if total is None else total + term
    return total, grads


def l2_grads(parameters: Mapping[str, Any], lambd: float, m: int) -> dict[str, Any]:
    """The L2 gradient terms ``{"dW1": lambd / m * W1, ...}``, to add to the cost's ``dW``.

    >>> import numpy as np
    >>> l2_grads({"W1": np.ones((1, 2)), "b1": np.ones((1, 1))}, 0.5, 2)
    {'dW1': array([[0.25, 0.25]])}
    """
    func = "l2_grads"
    return l2_terms(parameters, check_lambd(func, lambd), check_count(func, "m", m, 1), func)[1]


def add_l2_grads(
    grads: Mapping[str, Any], parameters: Mapping[str, Any], lambd: float, m: int
) -> dict[str, Any]:
    """A new ``grads`` dict with ``lambd / m * W`` added to every ``dW``; other entries are kept.

    >>> import numpy as np
    >>> g = add_l2_grads({"dW1": np.zeros((1, 1)), "db1": np.zeros((1, 1))}, {"W1": np.ones((1, 1)),
    ...                  "b1": np.zeros((1, 1))}, 1.0, 4)
    >>> g["dW1"], g["db1"]
    (array([[0.25]]), array([[0.]]))
    """
    out = dict(grads)
    for key, term in l2_grads(parameters, lambd, m).items():
        if key not in grads:
            raise ValueError(f"add_l2_grads: grads has no {key!r}")
        out[key] = grads[key] + term
    return out


def compute_cost_with_regularization(AL: Any, Y: Any, parameters: Mapping[str, Any], lambd: float) -> float:
    """The course's regularized cost: sigmoid cross-entropy plus :func:`l2_cost`, as a Python float.

    >>> import numpy as np
    >>> p = {"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))}
    >>> round(compute_cost_with_regularization(np.array([[0.5, 0.5]]), np.array([[1, 0]]), p, 0.1), 6)
    0.743147
    """
    cost = binary_cost("compute_cost_with_regularization", AL, Y)  # checks AL is (1, m)
    return cost + l2_cost(parameters, lambd, shape_of(AL)[1])


def dropout_mask(A: Any, keep_prob: float, rng: Any) -> Any:
    """A 0/1 mask of A's shape, dtype and device: ``rand(*A.shape) < keep_prob`` on the host.

    ``rng`` is an integer seed or a ``RandomState`` from
    :func:`~portable_dnn.backend.host_random_state` (the course's ``np.random.rand``
    stream); the mask is identical on every backend.

    >>> import numpy as np
    >>> dropout_mask(np.zeros((2, 3)), 0.5, 1)
    array([[1., 0., 1.],
           [1., 1., 1.]])
    """
    func = "dropout_mask"
    check_array(func, "A", A, ndim=None)
    xp = namespace_of(A, func=func)
    check_float(func, "A", xp, A)
    keep_prob = check_keep_prob(func, keep_prob)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        rng = host_random_state(check_seed(func, "rng", rng))
    if not hasattr(rng, "rand"):
        raise TypeError(f"{func}: rng must be an integer seed or a RandomState, got {type(rng).__name__}")
    return xp.asarray(
        host_mask(rng, shape_of(A), keep_prob), dtype=A.dtype, device=array_api_compat.device(A)
    )


def host_mask(rng: Any, shape: tuple[int, ...], keep_prob: float) -> Any:
    """The host (NumPy) bool mask ``rng.rand(*shape) < keep_prob``, unchecked: one draw of the stream.

    A training loop draws a mini-batch's masks here, layer by layer, before the
    step runs, so a step split across workers sees the same masks as one run whole.
    """
    return rng.rand(*shape) < keep_prob


def dropout_forward(A: Any, keep_prob: float, rng: Any) -> tuple[Any, Any]:
    """Inverted dropout: ``(A * D / keep_prob, D)`` with a fresh mask ``D`` from :func:`dropout_mask`.

    >>> import numpy as np
    >>> A, D = dropout_forward(np.ones((2, 3)), 0.5, 1)
    >>> A
    array([[2., 0., 2.],
           [2., 2., 2.]])
    """
    D = dropout_mask(A, keep_prob, rng)
    return apply_dropout(A, D, keep_prob), D


def apply_dropout(A: Any, D: Any, keep_prob: float) -> Any:
    """``A * D / keep_prob`` for a given mask ``D`` (forward with a fixed mask).

    ``D`` holds 0s and 1s of A's dtype, or is a boolean or integer mask (the
    course's ``D1 = D1 < keep_prob``), cast to A's dtype. Any other value (the
    uniform draws themselves, before ``< keep_prob``; NaN) raises ``ValueError``.

    >>> import numpy as np
    >>> apply_dropout(np.ones((1, 2)), np.array([[1.0, 0.0]]), 0.8)
    array([[1.25, 0.  ]])
    >>> apply_dropout(np.ones((1, 2)), np.array([[True, False]]), 0.8)
    array([[1.25, 0.  ]])
    """
    return checked_dropout("apply_dropout", "A", A, D, keep_prob)


def dropout_backward(dA: Any, D: Any, keep_prob: float) -> Any:
    """Gradient through inverted dropout: ``dA * D / keep_prob`` with the forward pass's mask ``D``.

    ``D`` as in :func:`apply_dropout`: of dA's dtype, boolean or integer.

    >>> import numpy as np
    >>> dropout_backward(np.ones((1, 2)), np.array([[0.0, 1.0]]), 0.5)
    array([[0., 2.]])
    """
    return checked_dropout("dropout_backward", "dA", dA, D, keep_prob)


def checked_dropout(func: str, name: str, A: Any, D: Any, keep_prob: float, mask: str = "D") -> Any:
    """The engine's ``Ops.dropout``, ``A * D / keep_prob``, every argument checked as :func:`apply_dropout`
    checks them; messages name ``func``, ``name`` for ``A`` and ``mask`` for ``D``.

    >>> import numpy as np
    >>> checked_dropout("backward", "dA2", np.ones((1, 2)), np.array([[1, 0]]), 0.5)
    array([[2., 0.]])
    """
    check_array(func, name, A, ndim=None)
    check_array(func, mask, D, ndim=None)
    xp = namespace_of(A, D, func=func)
    check_float(func, name, xp, A)
    check_real(func, mask, D)
    kind = dtype_kind(D)
    if kind in ("bool", "integer"):
        # The course keeps its masks as booleans (D1 < keep_prob); some libraries refuse
        # to multiply them with floats, so they are cast here.
        D = xp.astype(D, A.dtype)
    check_same_dtype(func, (name, mask), (A, D))
    check_shape(func, mask, D, shape_of(A), f"(the shape of {name})")
    keep_prob = check_keep_prob(func, keep_prob)
    # A boolean mask (the course's D1 < keep_prob, every mask this package draws) is 0/1 by
    # its dtype; others are searched, which catches a forgotten "< keep_prob".
    bad = None if kind == "bool" else first_bad(xp, D, (D == 0) | (D == 1))
    if bad is not None:
        raise ValueError(
            f"{func}: {mask} must be a dropout mask of 0s and 1s (rand(...) < keep_prob), "
            f"found {bad[1]!r} at {list(bad[0])}"
        )
    return kernels(A).dropout(A, D, keep_prob)
