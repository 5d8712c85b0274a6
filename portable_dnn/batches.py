"""An epoch's mini-batches described whole: the training loop's batch plan.

:func:`~portable_dnn.fit.fit` describes each epoch as an :class:`Epoch` and the
:class:`~portable_dnn.engine.Trainer` hands it to the backend's runner, which
either iterates it (one step per batch, dispatched from Python) or, where it
can, runs the whole epoch as one program (JAX). The runners know it only by
the attributes of :class:`~portable_dnn.backend.base.EpochPlan`.

>>> import numpy as np
>>> from portable_dnn.backend import get_backend
>>> X = np.arange(10.0).reshape(2, 5)
>>> plan = Epoch(get_backend("numpy"), X, X[:1], np.array([4, 0, 3, 1, 2]), 2, np.float64)
>>> plan.widths(), [batch[0][0].tolist() for batch, m_b in plan]
([2, 2, 1], [[4.0, 0.0], [3.0, 1.0], [2.0]])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from .backend import Backend


@dataclasses.dataclass
class Epoch:
    """One epoch's mini-batches described whole, for the runner's ``run_epoch``.

    ``X``, ``Y`` are the examples ``(k, m)`` on ``backend`` (as
    :meth:`~portable_dnn.backend.Backend.prepare_examples` laid them out); ``order`` the host
    permutation of the columns (``None``: one batch, the data as it is),
    cut into batches of ``size`` columns, the last one narrower when ``size``
    does not divide m. ``masks(m_b)``, where dropout is on, draws the next
    batch's host masks (one 0/1 array per hidden layer) from the epoch's own
    stream: called batch after batch, in order, it gives the values every
    backend uses. ``replay`` says whether the runner may run the epoch as one
    program (``fit(replay=...)``). ``weights``, where examples are weighted, is ``(1, m)`` on
    ``backend`` in X's dtype, gathered with Y into each batch (the step is
    ``weighted``), and ``host_weights`` the same values on the host ``(m,)``,
    for :meth:`totals`. Iterating gives the per-step path's
    ``((X_b, Y_b, *masks), m_b)``, or ``((X_b, Y_b, w_b, *masks), m_b)`` (an
    epoch is iterated, or run whole, once).
    """

    backend: Backend
    X: Any
    Y: Any
    order: np.ndarray | None
    size: int
    dtype: Any
    masks: Callable[[int], list[np.ndarray]] | None = None
    replay: bool = True
    weights: Any = None
    host_weights: np.ndarray | None = None

    def widths(self) -> list[int]:
        """Each batch's number of examples, in order."""
        m = len(self.order) if self.order is not None else int(self.X.shape[1])
        return [min(self.size, m - k) for k in range(0, m, self.size)]

    def totals(self) -> np.ndarray | None:
        """Each batch's total weight, in order, on the host (None where examples are not weighted)."""
        if self.host_weights is None:
            return None
        w = self.host_weights if self.order is None else self.host_weights[self.order]
        return np.add.reduceat(w, np.arange(0, len(w), self.size))

    def __iter__(self) -> Iterator[tuple[tuple[Any, ...], int]]:
        arrays = (self.X, self.Y) if self.weights is None else (self.X, self.Y, self.weights)
        if self.order is None and self.masks is None:
            # The whole data as one batch, nothing drawn: the course's loops take this path every
            # iteration, where a generator's cost shows.
            return iter(((arrays, int(self.X.shape[1])),))
        return self._batches(arrays)

    def _batches(self, arrays: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], int]]:
        be = self.backend
        parts: Iterable[tuple[Any, ...]]
        if self.order is None:
            parts = [arrays]
        else:
            parts = be.mini_batches(arrays, self.order, self.size)
        for batch, m_b in zip(parts, self.widths()):
            masks = [be.asarray(D, dtype=self.dtype) for D in self.masks(m_b)] if self.masks else []
            yield (*batch, *masks), m_b
