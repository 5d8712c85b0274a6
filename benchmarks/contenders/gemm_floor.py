"""The GEMM floor: only the matrix products of the workload's steps, into preallocated outputs.

Per batch ``Z[l] = W[l] @ A[l-1]`` and ``dW[l] = dZ[l] @ A[l-1].T`` for every layer and
``dA[l-1] = W[l].T @ dZ[l]`` for layers 2..L (no dA0): what no implementation of the
direct algorithm can go below. NumPy on the CPU, CuPy on the GPU.
"""

from __future__ import annotations

from collections.abc import Callable

from ..workloads import Workload, examples, initial_weights
from . import Outcome, array_module, register


@register("gemm_floor", ("full_batch", "minibatch"), gpu_needs=("cupy",))
def prepare(w: Workload, dtype: str, device: str) -> Callable[[], Outcome]:
    xp = array_module(device)
    X, _ = examples(w)
    size = w.batch or w.m
    batches = [xp.asarray(X[k : k + size].astype(dtype)).T for k in range(0, w.m, size)]
    Ws = [xp.asarray(W) for W, _ in initial_weights(w, dtype)]
    widths = {B.shape[1] for B in batches}  # the last batch may be narrower
    acts = {n: [xp.empty((d, n), dtype=dtype) for d in w.dims] for n in widths}
    grads = {n: [xp.empty((d, n), dtype=dtype) for d in w.dims] for n in widths}
    dWs = [xp.empty_like(W) for W in Ws]

    def run() -> Outcome:
        for _ in range(w.steps):
            for B in batches:
                A, dA = acts[B.shape[1]], grads[B.shape[1]]
                A[0] = B
                for l, W in enumerate(Ws):
                    xp.matmul(W, A[l], out=A[l + 1])
                dZ = A[-1]
                for l in reversed(range(len(Ws))):
                    xp.matmul(dZ, A[l].T, out=dWs[l])
                    if l:
                        dZ = xp.matmul(Ws[l].T, dZ, out=dA[l])
        return Outcome([(dW, dW[:, :1]) for dW in dWs], trained=False)

    return run
