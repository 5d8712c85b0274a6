"""Parameter initialization, drawn on the host and moved to the backend.

Weights come from a private ``numpy.random.RandomState(seed)`` (the stream the
course gets from ``np.random.seed``), so a seed gives the same weights on every
backend and NumPy's global random state is never touched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ._checks import check_layer_dims, check_positive_float, check_seed
from .backend import Backend, get_backend, host_random_state

INITS = ("random", "xavier", "he", "zeros")


def initialize_parameters(
    n_x: int,
    n_h: int,
    n_y: int,
    *,
    backend: str | Backend | None = None,
    dtype: Any = None,
    seed: int = 1,
) -> dict[str, Any]:
    """Parameters of a LINEAR -> RELU -> LINEAR -> SIGMOID network, as the course draws them.

    ``W1`` and ``W2`` are ``randn * 0.01`` from ``RandomState(seed)``, biases zeros.

    >>> p = initialize_parameters(3, 2, 1, backend="numpy")
    >>> p["W1"].shape, p["b2"].shape
    ((2, 3), (1, 1))
    >>> round(float(p["W1"][0, 0]), 8)
    0.01624345
    """
    dims = check_layer_dims("initialize_parameters", [n_x, n_h, n_y], name="(n_x, n_h, n_y)")
    return draw_parameters(dims, "random", 0.01, seed, backend, dtype, "initialize_parameters")


def initialize_parameters_deep(
    layer_dims: Sequence[int],
    *,
    init: str = "random",
    scale: float = 0.01,
    seed: int = 3,
    backend: str | Backend | None = None,
    dtype: Any = None,
) -> dict[str, Any]:
    """Parameters ``W1, b1, ..., WL, bL`` for the sizes in ``layer_dims``.

    ``init`` picks the weights' scale: ``"random"`` (``randn * scale``, the
    step-by-step course's default with scale 0.01; ``scale`` must be a positive
    finite number), ``"xavier"`` (``randn / sqrt(n[l-1])``, the course's
    application), ``"he"`` (``randn * sqrt(2 / n[l-1])``) or ``"zeros"``. Biases
    are zeros. ``seed`` is an integer in ``[0, 2**32 - 1]``.

    >>> p = initialize_parameters_deep([5, 4, 3], backend="numpy")
    >>> [p[k].shape for k in ("W1", "b1", "W2", "b2")]
    [(4, 5), (4, 1), (3, 4), (3, 1)]
    """
    func = "initialize_parameters_deep"
    dims = check_layer_dims(func, layer_dims)
    if init not in INITS:
        raise ValueError(f"{func}: init must be one of {', '.join(map(repr, INITS))}, got {init!r}")
    scale = check_positive_float(func, "scale", scale)
    return draw_parameters(dims, init, scale, seed, backend, dtype, func)


def draw_parameters(
    dims: list[int],
    init: str,
    scale: float,
    seed: Any,
    backend: Any = None,
    dtype: Any = None,
    func: str = "draw_parameters",
) -> dict[str, Any]:
    """``W1, b1, ..., WL, bL`` for the layer sizes ``dims`` (checked by the caller) drawn from
    ``RandomState(seed)`` as :func:`initialize_parameters_deep` describes ``init``; ``"random"``
    weights are ``randn * scale``. ``seed`` is checked, and messages name ``func``.

    >>> p = draw_parameters([2, 1], "random", 10.0, 3, backend="numpy")
    >>> p["W1"].round(6), p["b1"]
    (array([[17.886285,  4.365099]]), array([[0.]]))
    """
    seed = check_seed(func, "seed", seed)
    be = get_backend(backend)
    rng = host_random_state(seed)
    parameters: dict[str, Any] = {}
    for l in range(1, len(dims)):
        n, n_prev = dims[l], dims[l - 1]
        try:
            if init == "zeros":
                W = be.zeros((n, n_prev), dtype=dtype)
            else:
                w = rng.randn(n, n_prev)
                if init == "random":
                    w = w * scale
                elif init == "xavier":
                    w = w / math.sqrt(n_prev)
                else:
                    w = w * math.sqrt(2.0 / n_prev)
                W = be.asarray(w, dtype=dtype)
        except MemoryError:
            raise MemoryError(
                f"{func}: not enough memory for W{l} of shape ({n}, {n_prev}) "
                f"({n * n_prev * 8 / 2**30:.3g} GiB in float64) of layer sizes {dims}"
            ) from None
        parameters[f"W{l}"] = W
        parameters[f"b{l}"] = be.zeros((n, 1), dtype=dtype)
    return parameters
