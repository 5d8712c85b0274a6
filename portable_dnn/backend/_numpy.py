"""NumPy execution: the training step's elementwise work done in place.

On the CPU the wide layers' elementwise passes cost as much as memory traffic
allows, so each one below writes into the array it reads instead of allocating
a new one. Each computes what the matching
:class:`~portable_dnn.train_step.ArrayAPIOps` method computes (up to the sign
of zeros); tests compare the two.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..train_step import ArrayAPIOps


class NumpyOps(ArrayAPIOps):
    """:class:`ArrayAPIOps` with in-place elementwise passes."""

    def linear_relu(self, W: Any, A: Any, b: Any) -> Any:
        Z = np.matmul(W, A)
        Z += b
        return np.maximum(Z, 0.0, out=Z)

    def relu_grad(self, W: Any, dZ: Any, A_prev: Any) -> Any:
        dA = np.matmul(W.T, dZ)
        return np.multiply(dA, A_prev > 0, out=dA)
