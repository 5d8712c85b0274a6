"""One full-batch gradient-descent iteration of the course network, written for speed.

The course's functions (``L_model_forward`` ... ``update_parameters``) are kept
exactly as the course writes them; this module is the training loop's version of
the same math, which differs only where the result is the same:

- the output layer's gradient is ``dZ[L] = AL - Y`` (sigmoid with cross-entropy),
  instead of dividing by ``AL`` and ``1 - AL`` and multiplying back;
- ``dA0``, the gradient with respect to X, is never computed: no parameter needs it;
- the ReLU mask is read from ``A > 0`` (equal to ``Z > 0``), so Z is not kept;
- the parameters are buffers the loop owns, updated in place where the library
  allows it (CUDA-graph replay needs fixed addresses).

:class:`ArrayAPIOps` is the definition of the math, in Array API calls only.
A backend may substitute fused kernels with the same semantics
(:func:`portable_dnn.backend.training_ops`); tests check they agree.
"""

from __future__ import annotations

import math
from typing import Any


class ArrayAPIOps:
    """The step's arithmetic, on any Array API namespace ``xp``."""

    def __init__(self, xp: Any, dtype: Any, device: Any, inplace: bool = True) -> None:
        self.xp = xp
        bound = math.floor(math.log(float(xp.finfo(dtype).max))) - 1.0
        # A 0-d array, not xp.clip: some wrapped libraries implement clip with
        # boolean indexing, which synchronises a GPU.
        self.lower = xp.asarray(-bound, dtype=dtype, device=device)
        self.inplace = inplace

    def linear_relu(self, W: Any, A: Any, b: Any) -> Any:
        Z = W @ A + b
        return self.xp.where(Z > 0, Z, self.xp.zeros_like(Z))

    def bias_relu(self, P: Any, b: Any) -> Any:
        """``relu(P + b)`` for a product ``P = W A`` computed elsewhere (kept unchanged)."""
        Z = P + b
        return self.xp.where(Z > 0, Z, self.xp.zeros_like(Z))

    def linear_sigmoid(self, W: Any, A: Any, b: Any, Y: Any) -> tuple[Any, Any]:
        """``AL = sigmoid(W A + b)`` and the output gradient ``dZ = AL - Y``."""
        Z = self.xp.maximum(W @ A + b, self.lower)
        AL = 1 / (1 + self.xp.exp(-Z))
        return AL, AL - Y

    def relu_grad(self, W: Any, dZ: Any, A_prev: Any) -> Any:
        """``dZ`` of the layer below: ``W.T dZ`` where that layer's ReLU was active."""
        dA = W.T @ dZ
        return self.xp.where(A_prev > 0, dA, self.xp.zeros_like(dA))

    def sgd(self, W: Any, b: Any, dZ: Any, A_prev: Any, lr: float) -> tuple[Any, Any]:
        """``W - lr dW`` and ``b - lr db`` with the course's ``dW = 1/m dZ A_prev.T``."""
        m = A_prev.shape[1]
        dW = dZ @ A_prev.T
        db = self.xp.sum(dZ, axis=1, keepdims=True)
        if self.inplace:
            # The same roundings as W - lr * (1/m * dW), with no weight-sized temporaries.
            for P, dP in ((W, dW), (b, db)):
                dP *= 1 / m
                dP *= lr
                P -= dP
            return W, b
        return W - lr * (1 / m * dW), b - lr * (1 / m * db)


class TrainStep:
    """A callable that runs one iteration on parameter buffers it owns.

    ``step()`` updates ``self.Ws`` and ``self.bs`` and returns ``AL``, the output
    of that iteration's forward pass (before the update), from which the cost of
    the iteration is computed when it is recorded. ``sync()`` makes ``Ws`` and
    ``bs`` current (a no-op here; see :class:`GramStep`).
    """

    def __init__(self, ops: Any, X: Any, Y: Any, Ws: list[Any], bs: list[Any], lr: float) -> None:
        self.ops, self.X, self.Y, self.Ws, self.bs, self.lr = ops, X, Y, Ws, bs, lr

    def first_layer(self) -> Any:
        return self.ops.linear_relu(self.Ws[0], self.X, self.bs[0])

    def update_first_layer(self, dZ: Any) -> None:
        self.Ws[0], self.bs[0] = self.ops.sgd(self.Ws[0], self.bs[0], dZ, self.X, self.lr)

    def sync(self) -> None:
        pass

    def __call__(self) -> Any:
        ops, Ws, bs = self.ops, self.Ws, self.bs
        L = len(Ws)
        activations = [self.X]
        if L > 1:
            activations.append(self.first_layer())
        for l in range(1, L - 1):
            activations.append(ops.linear_relu(Ws[l], activations[-1], bs[l]))
        AL, dZ = ops.linear_sigmoid(Ws[-1], activations[-1], bs[-1], self.Y)
        for l in reversed(range(1, L)):
            A_prev = activations[l]
            dZ_prev = ops.relu_grad(Ws[l], dZ, A_prev)
            Ws[l], bs[l] = ops.sgd(Ws[l], bs[l], dZ, A_prev, self.lr)
            dZ = dZ_prev
        if L > 1:
            self.update_first_layer(dZ)
        else:
            Ws[0], bs[0] = ops.sgd(Ws[0], bs[0], dZ, self.X, self.lr)
        return AL


class GramStep(TrainStep):
    """The same iteration with the first layer carried through the examples' Gram matrix.

    With full-batch gradient descent the first layer's update is
    ``W1 <- W1 - c dZ1 X^T`` (``c = lr / m``), so its product with the fixed X
    evolves as ``W1 X <- W1 X - c dZ1 (X^T X)``. When there are fewer examples than
    features (the course: 209 images of 12288 values) this replaces the two
    products with X per iteration, the step's largest by far, by one m x m
    product; W1 itself is ``W1(0) - (sum of c dZ1) X^T``, formed only when asked
    for (:meth:`sync`). The result equals the direct step up to rounding (tests
    hold it to 1e-12 in float64), not bit for bit: resuming from a snapshot
    therefore matches an uninterrupted run only to rounding.
    """

    def __init__(self, ops: Any, X: Any, Y: Any, Ws: list[Any], bs: list[Any], lr: float) -> None:
        super().__init__(ops, X, Y, Ws, bs, lr)
        xp = ops.xp
        self.gram = X.T @ X
        self.W1_start = xp.asarray(Ws[0], copy=True)
        self.product = Ws[0] @ X
        self.applied = xp.zeros_like(self.product)  # sum of c dZ1 so far
        self.stale = False

    def first_layer(self) -> Any:
        return self.ops.bias_relu(self.product, self.bs[0])

    def update_first_layer(self, dZ: Any) -> None:
        xp, lr = self.ops.xp, self.lr
        m = int(self.X.shape[1])
        step = lr * (1 / m * dZ)
        db = lr * (1 / m * xp.sum(dZ, axis=1, keepdims=True))
        if self.ops.inplace:  # fixed addresses, for CUDA-graph replay
            self.applied += step
            self.product -= step @ self.gram
            self.bs[0] -= db
        else:
            self.applied = self.applied + step
            self.product = self.product - step @ self.gram
            self.bs[0] = self.bs[0] - db
        self.stale = True

    def sync(self) -> None:
        if self.stale:
            self.Ws[0] = self.W1_start - self.applied @ self.X.T
            self.stale = False

    @staticmethod
    def pays_off(X: Any, Ws: list[Any], iterations: int) -> bool:
        """Whether the Gram form is cheaper: examples well below features, m x m small."""
        n_x, m = (int(d) for d in X.shape)
        return len(Ws) > 1 and 2 * m <= n_x and m <= 4096 and iterations >= 20
