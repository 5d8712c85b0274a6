"""Shuffled mini-batches, as the course's ``random_mini_batches`` builds them."""

from __future__ import annotations

import math
from typing import Any

import array_api_compat

from ._checks import check_array, check_count, check_seed, shape_of
from .backend import host_random_state, index_dtype, namespace_of


def random_mini_batches(X: Any, Y: Any, mini_batch_size: int = 64, seed: int = 0) -> list[tuple[Any, Any]]:
    """Shuffle the columns of ``(X, Y)`` and cut them into ``[(mini_batch_X, mini_batch_Y), ...]``.

    The permutation is ``RandomState(seed).permutation(m)`` (the course's
    ``np.random.seed(seed); np.random.permutation(m)``), drawn on the host and
    moved to X's device, so a seed gives the same batches on every backend. The
    last batch holds the remaining ``m % mini_batch_size`` examples when there
    are any. ``Y`` is ``(k, m)`` (labels or one-hot) or ``(m,)``.

    >>> import numpy as np
    >>> batches = random_mini_batches(np.ones((2, 5)), np.zeros((1, 5)), mini_batch_size=2)
    >>> [tuple(b[0].shape) for b in batches]
    [(2, 2), (2, 2), (2, 1)]
    """
    func = "random_mini_batches"
    check_array(func, "X", X)
    check_array(func, "Y", Y, ndim=None)
    xp = namespace_of(X, Y, func=func)
    size = check_count(func, "mini_batch_size", mini_batch_size, 1)
    seed = check_seed(func, "seed", seed)
    m = shape_of(X)[1]
    if len(Y.shape) not in (1, 2) or shape_of(Y)[-1] != m:
        raise ValueError(
            f"{func}: Y has shape {shape_of(Y)}, expected (k, {m}) or ({m},) (one label per column of X)"
        )
    perm = host_random_state(seed).permutation(m)
    idx = xp.asarray(perm, dtype=index_dtype(xp), device=array_api_compat.device(X))
    shuffled_X = xp.take(X, idx, axis=1)
    shuffled_Y = xp.take(Y, idx, axis=len(Y.shape) - 1)
    batches = []
    for k in range(math.ceil(m / size)):
        cols = slice(k * size, min((k + 1) * size, m))
        batches.append((shuffled_X[:, cols], shuffled_Y[..., cols]))
    return batches
