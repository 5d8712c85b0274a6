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

from .activations import LEAKY_SLOPE, Activation
from .base import Backend
from .ops import Ops

#: Below this many values in all, a state's arrays are updated as one buffer: for small
#: networks the per-call cost of a pass, not its arithmetic, is what an update costs.
FLAT_UPDATE_SIZE = 1 << 17


class NumpyOps(Ops):
    """:class:`Ops` with in-place passes; a small network's state lives in one buffer per group."""

    def pack(self, arrays: Any) -> list[Any]:
        arrays = [np.asarray(a) for a in arrays]
        total = sum(a.size for a in arrays)
        if total > FLAT_UPDATE_SIZE:
            return [a.copy() for a in arrays]
        buffer = np.empty(total, dtype=self.dtype)
        views, start = [], 0
        for a in arrays:
            view = buffer[start : start + a.size].reshape(a.shape)
            view[...] = a
            views.append(view)
            start += a.size
        return views

    @staticmethod
    def _buffer(arrays: Any) -> Any:
        """The one buffer ``arrays`` are consecutive views of (as :meth:`pack` made them), or None."""
        base = arrays[0].base
        if base is None or base.ndim != 1 or any(a.base is not base for a in arrays):
            return None
        return base if base.size == sum(a.size for a in arrays) else None

    def __init__(self, xp: Any, dtype: Any, device: Any, inplace: bool | None = None) -> None:
        super().__init__(xp, dtype, device, inplace)
        self._buffers: dict[tuple[Any, ...], Any] = {}

    def _scratch(self, name: str, like: Any) -> Any:
        """A buffer shaped like ``like``, kept for the next step: a fresh one every step costs
        its page faults (1.5% of an MNIST-sized Adam step)."""
        key = (name, like.shape, like.dtype)
        if key not in self._buffers:
            self._buffers[key] = np.empty_like(like)
        return self._buffers[key]

    def _flat(self, Gs: Any, like: Any) -> Any:
        return np.concatenate([g.reshape(-1) for g in Gs], out=self._scratch("grads", like))

    def step_all(self, kernel: str, Ps: Any, Gs: Any, slots: Any, *hyper: Any) -> list[list[Any]]:
        # Only kernels that write in place can step a whole buffer (the course's functions return
        # new arrays and leave the caller's alone).
        P = self._buffer(Ps) if self.inplace else None
        buffers = [self._buffer(group) for group in slots]
        # One pass over the whole buffer where every slot is laid out as the parameters are
        # (a scalar slot, one value per parameter, is not).
        if P is None or any(b is None or b.size != P.size for b in buffers):
            return super().step_all(kernel, Ps, Gs, slots, *hyper)
        getattr(self, kernel)(P, self._flat(Gs, P), *buffers, *hyper)
        return [list(Ps), *(list(group) for group in slots)]

    def linear(self, W: Any, A: Any, b: Any) -> Any:
        Z = np.matmul(W, A)
        Z += b
        return Z

    def activation(self, Z: Any, act: Activation) -> Any:
        inplace = _INPLACE.get(act.name)
        return super().activation(Z, act) if inplace is None else inplace(self, Z)

    def probabilities(self, Z: Any, kind: str) -> Any:
        if kind in ("sigmoid", "multilabel"):
            return _sigmoid(self, Z)
        if kind == "identity":
            return Z
        Z -= Z.max(axis=0, keepdims=True)
        E = np.exp(Z, out=Z)
        E /= E.sum(axis=0, keepdims=True)
        return E

    def weigh(self, dZ: Any, u: Any) -> Any:
        return np.multiply(dZ, u, out=dZ)

    def back(self, W: Any, dZ: Any) -> Any:
        return np.matmul(W.T, dZ)

    def activation_grad(self, dA: Any, Z: Any, A: Any, act: Activation) -> Any:
        if act.name == "relu":
            return np.multiply(dA, A > 0, out=dA)
        if act.name == "leaky_relu":
            return np.multiply(dA, np.where(A > 0, 1.0, LEAKY_SLOPE).astype(dA.dtype), out=dA)
        return super().activation_grad(dA, Z, A, act)

    def weight_grads(self, dZ: Any, A_prev: Any, mean: bool = True) -> tuple[Any, Any]:
        dW = np.matmul(dZ, A_prev.T)
        db = dZ.sum(axis=1, keepdims=True)
        if mean:
            scale = 1 / A_prev.shape[1]
            dW *= scale
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

    def nesterov(self, P: Any, G: Any, v: Any, beta: float, lr: float) -> tuple[Any, Any]:
        v *= beta
        G *= 1 - beta
        v += G
        step = np.multiply(v, beta, out=self._scratch("step", v))
        step += G
        step *= lr
        P -= step
        return P, v

    def rmsprop(self, P: Any, G: Any, s: Any, rho: float, lr: float, eps: float) -> tuple[Any, Any]:
        s *= rho
        scratch = np.multiply(G, G, out=self._scratch("step", G))
        scratch *= 1 - rho
        s += scratch
        np.sqrt(s, out=scratch)
        scratch += eps
        G *= lr
        G /= scratch
        P -= G
        return P, s

    def _scaled(self, name: str, x: Any, factor: float) -> Any:
        return np.multiply(x, factor, out=self._scratch(name, x))

    def adam(
        self, P: Any, G: Any, v: Any, s: Any, t: Any, lr: float, beta1: float, beta2: float, eps: float
    ) -> tuple[Any, Any, Any]:
        s *= beta2
        scratch = np.multiply(G, G, out=self._scratch("adam", G))
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
        # row in Fortran order, which OpenBLAS multiplies markedly faster, and a
        # mini-batch is then gathered as whole runs of memory: from C order each of
        # its values lies on a cache line of its own (25 times the gather's time for
        # MNIST's 60,000 examples). Given C order, this one copy is the layout's cost.
        return np.asfortranarray(X)

    def cast_features(self, X: Any, dtype: Any) -> Any:
        # Cast straight into Fortran order: a C-ordered cast and then its layout copy
        # would hold two converted copies of X at once.
        return np.asarray(X).astype(dtype, order="F")

    def take_columns(self, A: Any, index: np.ndarray) -> Any:
        if A.ndim == 2 and A.flags.f_contiguous and not A.flags.c_contiguous:
            # Each example is a contiguous run in Fortran order: gather whole runs.
            return np.take(A.T, index, axis=0).T
        return np.take(A, index, axis=A.ndim - 1)

    def quiet_float_errors(self) -> Any:
        return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def _sigmoid(ops: Ops, Z: Any) -> Any:
    """:class:`~portable_dnn.backend.activations.Sigmoid`'s forward, written into ``Z``."""
    low = ops.sigmoid_low
    # Rare (Z below about -709 in float64): keep those inputs before Z is overwritten. One
    # reduction (NaN-ignoring, empty-safe) decides, as the mask is needed only then.
    far: Any = None
    if np.fmin.reduce(Z, axis=None, initial=np.inf) < low:
        far = Z < low
        kept = Z[far]
    np.maximum(Z, low, out=Z)
    np.negative(Z, out=Z)
    np.exp(Z, out=Z)
    Z += 1
    A = np.reciprocal(Z, out=Z)
    if far is not None:
        A[far] = np.exp(kept)
    return A


#: The activations NumPy computes in place, over the layer's input: each equals its declaration's
#: forward in the same order of roundings.
_INPLACE = {
    # maximum() keeps a NaN, as the declaration's does.
    "relu": lambda ops, Z: np.maximum(Z, 0.0, out=Z),
    "tanh": lambda ops, Z: np.tanh(Z, out=Z),
    "leaky_relu": lambda ops, Z: np.maximum(Z, LEAKY_SLOPE * Z, out=Z),
    "sigmoid": _sigmoid,
}
