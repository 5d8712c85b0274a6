"""NumPy on the CPU: the step's elementwise work written into buffers the step owns.

On the CPU a layer's elementwise passes cost what their memory traffic costs, so
each kernel below writes into an array it was handed as scratch instead of
allocating a new one. Each computes what the :class:`~portable_dnn.backend.ops.Ops`
method of the same name computes, in the same order of roundings (up to the sign
of zeros); tests compare the two.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend
from .ops import LEAKY_SLOPE, Ops


class NumpyOps(Ops):
    """:class:`Ops` with in-place passes."""

    def linear(self, W: Any, A: Any, b: Any) -> Any:
        Z = np.matmul(W, A)
        Z += b
        return Z

    def activation(self, Z: Any, kind: str) -> Any:
        if kind == "relu":
            # maximum() keeps a NaN (where() would hide it as 0).
            return np.maximum(Z, 0.0, out=Z)
        if kind == "tanh":
            return np.tanh(Z, out=Z)
        if kind == "leaky_relu":
            return np.maximum(Z, LEAKY_SLOPE * Z, out=Z)
        np.maximum(Z, self.lower, out=Z)
        np.negative(Z, out=Z)
        np.exp(Z, out=Z)
        Z += 1
        return np.reciprocal(Z, out=Z)

    def probabilities(self, Z: Any, kind: str) -> Any:
        if kind == "sigmoid":
            return self.activation(Z, "sigmoid")
        Z -= Z.max(axis=0, keepdims=True)
        E = np.exp(Z, out=Z)
        E /= E.sum(axis=0, keepdims=True)
        return E

    def back(self, W: Any, dZ: Any) -> Any:
        return np.matmul(W.T, dZ)

    def activation_grad(self, dA: Any, A: Any, kind: str) -> Any:
        if kind == "relu":
            return np.multiply(dA, A > 0, out=dA)
        if kind == "leaky_relu":
            return np.multiply(dA, np.where(A > 0, 1.0, LEAKY_SLOPE).astype(dA.dtype), out=dA)
        return super().activation_grad(dA, A, kind)

    def weight_grads(self, dZ: Any, A_prev: Any) -> tuple[Any, Any]:
        scale = 1 / A_prev.shape[1]
        dW = np.matmul(dZ, A_prev.T)
        dW *= scale
        db = dZ.sum(axis=1, keepdims=True)
        db *= scale
        return dW, db

    def sgd(self, P: Any, G: Any, lr: float) -> Any:
        # The roundings of P - lr * G, with no parameter-sized temporary.
        G *= lr
        P -= G
        return P

    def momentum(self, P: Any, G: Any, v: Any, beta: float, lr: float) -> tuple[Any, Any]:
        v *= beta
        G *= 1 - beta
        v += G
        np.multiply(v, lr, out=G)
        P -= G
        return P, v

    def adam(
        self, P: Any, G: Any, v: Any, s: Any, t: Any, lr: float, beta1: float, beta2: float, eps: float
    ) -> tuple[Any, Any, Any]:
        s *= beta2
        scratch = np.multiply(G, G)
        scratch *= 1 - beta2
        s += scratch
        v *= beta1
        G *= 1 - beta1
        v += G
        np.divide(s, 1 - beta2**t, out=scratch)
        np.sqrt(scratch, out=scratch)
        scratch += eps
        np.divide(v, 1 - beta1**t, out=G)
        G *= lr
        G /= scratch
        P -= G
        return P, v, s


class NumpyBackend(Backend):
    """NumPy on the CPU (the default without a GPU)."""

    name = "numpy"
    is_host = True
    namespace = "array_api_compat.numpy"

    @classmethod
    def create(cls, device: str | None) -> Backend:
        import array_api_compat.numpy as xp

        return cls(xp, "cpu")

    def to_host(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def ops(self, dtype: Any) -> Ops:
        return NumpyOps(self.xp, dtype, self.device)

    def prepare_features(self, X: Any) -> Any:
        # W @ X and dZ @ X.T both read X with its examples contiguous per feature
        # row in Fortran order, which OpenBLAS multiplies markedly faster.
        return np.asfortranarray(X)

    def take_columns(self, A: Any, index: np.ndarray) -> Any:
        return np.take(A, index, axis=A.ndim - 1)

    def quiet_float_errors(self) -> Any:
        return np.errstate(over="ignore", invalid="ignore", divide="ignore")
