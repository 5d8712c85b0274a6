"""CuPy execution: the training step's elementwise work fused into few kernels.

A CUDA GPU runs the course network's small layers far faster than Python can
launch kernels, so each group of elementwise operations below is one kernel.
Each kernel computes what the matching :class:`~portable_dnn.train_step.ArrayAPIOps`
method computes, in the same order; tests compare the two.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import cupy
import numpy as np

from ..train_step import ArrayAPIOps

_relu_bias = cupy.ElementwiseKernel(
    "T z, T b", "T a", "T s = z + b; a = s > (T)0 ? s : (T)0", "portable_dnn_relu_bias"
)
_sigmoid_minus = cupy.ElementwiseKernel(
    "T z, T b, T y, T lower",
    "T al, T dz",
    "T s = z + b; s = s < lower ? lower : s; al = (T)1 / ((T)1 + exp(-s)); dz = al - y",
    "portable_dnn_sigmoid_minus",
)
_relu_mask = cupy.ElementwiseKernel(
    "T da, T a", "T dz", "dz = a > (T)0 ? da : (T)0", "portable_dnn_relu_mask"
)
_sgd = cupy.ElementwiseKernel("T g, T scale, T lr", "T w", "w = w - lr * (scale * g)", "portable_dnn_sgd")


class CupyOps(ArrayAPIOps):
    """:class:`ArrayAPIOps` with fused kernels; parameters are updated in place."""

    def __init__(self, xp: Any, dtype: Any, device: Any) -> None:
        super().__init__(xp, dtype, device)
        self.lower_scalar = float(self.lower)

    def linear_relu(self, W: Any, A: Any, b: Any) -> Any:
        Z = W @ A
        return _relu_bias(Z, b, Z)

    def linear_sigmoid(self, W: Any, A: Any, b: Any, Y: Any) -> tuple[Any, Any]:
        Z = W @ A
        return _sigmoid_minus(Z, b, Y, self.lower_scalar)  # type: ignore[no-any-return]

    def relu_grad(self, W: Any, dZ: Any, A_prev: Any) -> Any:
        dA = W.T @ dZ
        return _relu_mask(dA, A_prev, dA)

    def sgd(self, W: Any, b: Any, dZ: Any, A_prev: Any, lr: float) -> tuple[Any, Any]:
        scale = 1 / A_prev.shape[1]
        _sgd(dZ @ A_prev.T, scale, lr, W)
        _sgd(cupy.sum(dZ, axis=1, keepdims=True), scale, lr, b)
        return W, b


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


def synchronize() -> None:
    cupy.cuda.get_current_stream().synchronize()
