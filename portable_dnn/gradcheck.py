"""Gradient checking, the course's recipe for any dict of arrays on any backend.

Flatten the parameters into one vector (:func:`dictionary_to_vector`), nudge each
entry by ``+-epsilon`` to get the central difference ``gradapprox``, and compare
it with the backward pass's ``grad`` by the relative difference
``||grad - gradapprox|| / (||grad|| + ||gradapprox||)``. Use float64 inputs: in
float32 the differences drown in rounding.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import array_api_compat

from ._checks import check_array, check_positive_float, shape_of
from .backend import namespace_of

Layout = list[tuple[str, tuple[int, ...]]]


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _check_layout(func: str, layout: Any) -> Layout:
    """``layout`` as a list of ``(key, shape)``: distinct string keys, shapes of sizes >= 0."""
    if isinstance(layout, (str, bytes)) or not isinstance(layout, Sequence):
        raise TypeError(f"{func}: layout must be a list of (key, shape) pairs, got {layout!r}")
    out: Layout = []
    for i, entry in enumerate(layout):
        pair = isinstance(entry, (tuple, list)) and len(entry) == 2
        key, shape = entry if pair else (None, ())
        sizes = isinstance(shape, (tuple, list)) and all(
            isinstance(d, numbers.Integral) and not isinstance(d, bool) and int(d) >= 0 for d in shape
        )
        if not (isinstance(key, str) and sizes):
            raise ValueError(
                f"{func}: layout[{i}] must be a (key, shape) pair, a string and a tuple of sizes >= 0, "
                f"got {entry!r}"
            )
        if any(key == k for k, _ in out):
            raise ValueError(f"{func}: layout names {key!r} twice")
        out.append((key, tuple(int(d) for d in shape)))
    return out


def dictionary_to_vector(
    parameters: Mapping[str, Any], keys: Sequence[str] | None = None
) -> tuple[Any, Layout]:
    """``(theta, layout)``: the arrays of ``parameters`` flattened into one ``(n, 1)`` column.

    ``keys`` picks and orders the entries (default: the dict's order); ``layout``
    lists ``(key, shape)`` for :func:`vector_to_dictionary`.

    >>> import numpy as np
    >>> theta, layout = dictionary_to_vector({"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))})
    >>> theta.T, layout
    (array([[1., 1., 0.]]), [('W1', (1, 2)), ('b1', (1, 1))])
    """
    func = "dictionary_to_vector"
    if not isinstance(parameters, Mapping) or len(parameters) == 0:
        raise TypeError(f"{func}: parameters must be a non-empty dict of arrays, got {parameters!r}")
    names = list(parameters) if keys is None else list(keys)
    for k in names:
        if k not in parameters:
            raise ValueError(f"{func}: parameters has no {k!r}")
        check_array(func, f"parameters[{k!r}]", parameters[k], ndim=None)
    xp = namespace_of(*(parameters[k] for k in names), func=func)
    layout = [(k, shape_of(parameters[k])) for k in names]
    theta = xp.concat([xp.reshape(parameters[k], (-1,)) for k in names])
    return xp.reshape(theta, (-1, 1)), layout


def vector_to_dictionary(theta: Any, layout: Layout) -> dict[str, Any]:
    """The inverse of :func:`dictionary_to_vector`: ``{key: array of shape}`` cut from ``theta``.

    >>> import numpy as np
    >>> vector_to_dictionary(np.arange(3.0).reshape(3, 1), [("W1", (1, 2)), ("b1", (1, 1))])
    {'W1': array([[0., 1.]]), 'b1': array([[2.]])}
    """
    func = "vector_to_dictionary"
    layout = _check_layout(func, layout)
    check_array(func, "theta", theta, ndim=None)
    xp = namespace_of(theta, func=func)
    flat = xp.reshape(theta, (-1,))
    total = sum(_size(shape) for _, shape in layout)
    if shape_of(flat)[0] != total:
        raise ValueError(f"{func}: theta has {shape_of(flat)[0]} entries, the layout needs {total}")
    out: dict[str, Any] = {}
    start = 0
    for key, shape in layout:
        n = _size(shape)
        out[key] = xp.reshape(flat[start : start + n], shape)
        start += n
    return out


def gradients_to_vector(grads: Mapping[str, Any], layout: Layout) -> Any:
    """The gradients matching ``layout`` as one ``(n, 1)`` column; ``grads`` holds ``"d" + key`` or ``key``.

    >>> import numpy as np
    >>> layout = [("W1", (1, 2)), ("b1", (1, 1))]
    >>> gradients_to_vector({"dW1": np.ones((1, 2)), "db1": np.zeros((1, 1))}, layout).T
    array([[1., 1., 0.]])
    """
    func = "gradients_to_vector"
    layout = _check_layout(func, layout)
    if not isinstance(grads, Mapping):
        raise TypeError(f"{func}: grads must be a dict of arrays, got {type(grads).__name__}")
    picked: dict[str, Any] = {}
    for key, shape in layout:
        g = grads.get("d" + key, grads.get(key))
        if g is None:
            raise ValueError(f"{func}: grads has neither {'d' + key!r} nor {key!r}")
        check_array(func, f"grads[{'d' + key!r}]", g, ndim=None)
        if shape_of(g) != shape:
            raise ValueError(f"{func}: grads[{'d' + key!r}] has shape {shape_of(g)}, expected {shape}")
        picked[key] = g
    return dictionary_to_vector(picked, [k for k, _ in layout])[0]


def gradient_check(
    cost_fn: Callable[[dict[str, Any]], Any],
    grads_fn: Callable[[dict[str, Any]], Mapping[str, Any]],
    parameters: Mapping[str, Any],
    epsilon: float = 1e-7,
    print_msg: bool = False,
) -> float:
    """Relative difference between ``grads_fn(parameters)`` and central differences of ``cost_fn``.

    ``cost_fn(params)`` returns the scalar cost (a float or 0-d array) for a dict
    shaped like ``parameters``; ``grads_fn(params)`` returns its gradient as a
    dict with ``"d" + key`` (or ``key``) for every key of ``parameters``. Any
    dict of arrays works: network weights, or ``{"Z": Z}`` to check one
    activation. Below about ``1e-7`` (float64) the backward pass is right. NaN or
    infinity in the gradients or the costs gives a NaN difference, a failed check: test
    ``difference < threshold``, which NaN fails (``difference > threshold`` would pass it).

    >>> import numpy as np
    >>> p = {"w": np.array([[1.0, -2.0]])}
    >>> diff = gradient_check(lambda q: float((q["w"] ** 3).sum()), lambda q: {"dw": 3 * q["w"] ** 2}, p)
    >>> diff < 1e-7
    True
    """
    func = "gradient_check"
    epsilon = check_positive_float(func, "epsilon", epsilon)
    theta, layout = dictionary_to_vector(parameters)
    xp = namespace_of(theta, func=func)
    grad = gradients_to_vector(grads_fn(vector_to_dictionary(theta, layout)), layout)
    n = shape_of(theta)[0]
    positions = xp.arange(n, device=array_api_compat.device(theta))
    approx = []
    for i in range(n):
        step = epsilon * xp.reshape(xp.astype(positions == i, theta.dtype), (n, 1))
        J_plus = float(cost_fn(vector_to_dictionary(theta + step, layout)))
        J_minus = float(cost_fn(vector_to_dictionary(theta - step, layout)))
        approx.append((J_plus - J_minus) / (2 * epsilon))
    gradapprox = xp.asarray(approx, dtype=theta.dtype, device=array_api_compat.device(theta))
    gradapprox = xp.reshape(gradapprox, (n, 1))
    numerator = _norm(xp, grad - gradapprox)
    denominator = _norm(xp, grad) + _norm(xp, gradapprox)
    difference = 0.0 if denominator == 0 else numerator / denominator
    if print_msg:
        if not math.isfinite(difference):
            print(
                f"There is a mistake in the backward propagation! difference = {difference} is not "
                "finite: the gradients or the costs hold NaN or infinity"
            )
        elif difference > 2e-7:
            print(f"There is a mistake in the backward propagation! difference = {difference}")
        else:
            print(f"Your backward propagation works perfectly fine! difference = {difference}")
    return difference


def _norm(xp: Any, v: Any) -> float:
    return float(xp.sqrt(xp.sum(v * v)))
