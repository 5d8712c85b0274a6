"""CuPy execution: the training step's elementwise work fused into few kernels.

A CUDA GPU runs the course network's small layers far faster than Python can
launch kernels, so each group of elementwise operations below is one kernel.
Each kernel computes what the matching :class:`~portable_dnn.backend.ops.Ops`
method computes, in the same order; tests compare the two.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import cupy
import cupyx.scipy.special
import numpy as np

from .activations import Activation
from .base import Backend
from .ops import Ops

# A NaN stays NaN, as with the declared relu's maximum().
_relu_bias = cupy.ElementwiseKernel(
    "T z, T b", "T a", "T s = z + b; a = s != s ? s : (s > (T)0 ? s : (T)0)", "portable_dnn_relu_bias"
)
# The course's 1 / (1 + exp(-s)), and exp(s) only below ``low``, where exp(-s) would overflow
# (the declared sigmoid of backend/activations.py).
_sigmoid_minus = cupy.ElementwiseKernel(
    "T z, T b, T y, T low",
    "T al, T dz",
    "T s = z + b; al = s < low ? exp(s) : (T)1 / ((T)1 + exp(-s)); dz = al - y",
    "portable_dnn_sigmoid_minus",
)
_relu_mask = cupy.ElementwiseKernel(
    "T da, T a", "T dz", "dz = a > (T)0 ? da : (T)0", "portable_dnn_relu_mask"
)
_sgd = cupy.ElementwiseKernel("T g, T lr", "T w", "w = w - lr * g", "portable_dnn_sgd")
# The optimizers' scalars come in as the host computes them (1 - beta, 1 - beta**t), as
# in Ops, where Python floats meet the arrays.
_momentum = cupy.ElementwiseKernel(
    "T g, T beta, T rest, T lr",
    "T w, T v",
    "v = beta * v + rest * g; w = w - lr * v",
    "portable_dnn_momentum",
)
_adam = cupy.ElementwiseKernel(
    "T g, T beta1, T rest1, T beta2, T rest2, T fix1, T fix2, T lr, T eps",
    "T w, T v, T s",
    "v = beta1 * v + rest1 * g; s = beta2 * s + rest2 * (g * g);"
    "w = w - lr * (v / fix1) / (sqrt(s / fix2) + eps)",
    "portable_dnn_adam",
)


class CupyOps(Ops):
    """:class:`Ops` with fused kernels; parameters are updated in place.

    ``linear`` leaves the bias to the activation kernel that follows it (one
    pass instead of two), so its result is ``W A`` paired with ``b``.
    """

    def linear(self, W: Any, A: Any, b: Any) -> Any:
        return _Pending(W @ A, b)

    def activation(self, Z: Any, act: Activation) -> Any:
        if isinstance(Z, _Pending):
            if act.name == "relu":
                return _relu_bias(Z.product, Z.bias, Z.product)
            Z = Z.product + Z.bias
        return super().activation(Z, act)

    def erf(self, x: Any) -> Any:
        return cupyx.scipy.special.erf(x)

    def realized(self, Z: Any) -> Any:
        return Z.product + Z.bias if isinstance(Z, _Pending) else Z

    def probabilities(self, Z: Any, kind: str) -> Any:
        if isinstance(Z, _Pending):
            Z = Z.product + Z.bias
        return super().probabilities(Z, kind)

    def output(self, Z: Any, Y: Any, kind: str) -> tuple[Any, Any]:
        if isinstance(Z, _Pending) and kind in ("sigmoid", "multilabel"):
            return _sigmoid_minus(Z.product, Z.bias, Y, self.sigmoid_low)  # type: ignore[no-any-return]
        return super().output(Z, Y, kind)

    def activation_grad(self, dA: Any, Z: Any, A: Any, act: Activation) -> Any:
        if act.name == "relu":
            return _relu_mask(dA, A, dA)
        return super().activation_grad(dA, Z, A, act)

    def sgd(self, P: Any, G: Any, lr: float) -> Any:
        _sgd(G, lr, P)
        return P

    def momentum(self, P: Any, G: Any, v: Any, beta: float, lr: float) -> tuple[Any, Any]:
        _momentum(G, beta, 1 - beta, lr, P, v)
        return P, v

    def adam(
        self, P: Any, G: Any, v: Any, s: Any, t: Any, lr: float, beta1: float, beta2: float, eps: float
    ) -> tuple[Any, Any, Any]:
        _adam(G, beta1, 1 - beta1, beta2, 1 - beta2, 1 - beta1**t, 1 - beta2**t, lr, eps, P, v, s)
        return P, v, s


class _Pending:
    """A product ``W A`` whose bias is added by the kernel that consumes it."""

    def __init__(self, product: Any, bias: Any) -> None:
        self.product, self.bias = product, bias


class CupyBackend(Backend):
    """CuPy on a CUDA GPU, with fused elementwise kernels."""

    name = "cupy"
    namespace = "array_api_compat.cupy"

    @classmethod
    def create(cls, device: str | None) -> Backend:
        import re

        import array_api_compat.cupy as xp

        # Accepts "cuda:1", "1" or str(cupy.cuda.Device(1)) == "<CUDA Device 1>".
        found = re.search(r"\d+", device or "")
        return cls(xp, cupy.cuda.Device(int(found.group()) if found else 0))

    @property
    def is_gpu(self) -> bool:
        return True

    def to_host(self, x: Any) -> np.ndarray:
        return x.get()  # type: ignore[no-any-return]

    def ops(self, dtype: Any) -> Ops:
        return CupyOps(self.xp, dtype, self.device)

    def matmul_precision(self, precision: str, dtype: Any) -> Any:
        if precision == "strict":
            return super().matmul_precision(precision, dtype)
        return matmul_precision(precision, dtype)

    def synchronize(self) -> None:
        cupy.cuda.get_current_stream().synchronize()


@contextlib.contextmanager
def matmul_precision(precision: str, dtype: Any) -> Iterator[None]:
    """Let float32 matrix products use TF32 tensor cores inside the block."""
    if precision != "tf32" or np.dtype(str(dtype).rsplit(".", 1)[-1]) != np.float32:
        yield
        return
    from cupy._core import _routines_linalg as linalg  # CuPy's own switch (CUPY_TF32)

    before = linalg.get_compute_type(np.float32)
    linalg.set_compute_type(np.float32, linalg.COMPUTE_TYPE_TF32)
    try:
        yield
    finally:
        linalg.set_compute_type(np.float32, before)
