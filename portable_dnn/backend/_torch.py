"""PyTorch: on a CUDA device, the whole training step captured once as a CUDA graph.

After a couple of eager iterations (which warm up the caching allocator and
are real training iterations), one iteration is captured with
``torch.cuda.CUDAGraph`` and every later iteration replays it: one launch instead
of dozens. The step writes its parameters in place, so the replayed graph keeps
updating the same buffers, and its output ``AL`` stays at a fixed address that
the loop reads when it records the cost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from .base import Backend, Runner
from .ops import Ops


class TorchOps(Ops):
    """:class:`Ops` with PyTorch's fused and in-place kernels (``addcmul_``, ``addcdiv_``, ``mul_``).

    Each computes what the :class:`Ops` method of the same name computes, up to
    the rounding of a fused multiply-add; tests compare the two.
    """

    def linear(self, W: Any, A: Any, b: Any) -> Any:
        return torch.matmul(W, A).add_(b)

    def erf(self, x: Any) -> Any:
        return torch.special.erf(x)

    def weigh(self, dZ: Any, u: Any) -> Any:
        return dZ.mul_(u)

    def weight_grads(self, dZ: Any, A_prev: Any, mean: bool = True) -> tuple[Any, Any]:
        dW, db = torch.matmul(dZ, A_prev.T), dZ.sum(dim=1, keepdim=True)
        if not mean:
            return dW, db
        scale = 1 / A_prev.shape[1]
        return dW.mul_(scale), db.mul_(scale)

    def sgd(self, P: Any, G: Any, lr: float) -> Any:
        return P.sub_(G, alpha=lr)

    def momentum(self, P: Any, G: Any, v: Any, beta: float, lr: float) -> tuple[Any, Any]:
        v.mul_(beta).add_(G, alpha=1 - beta)
        return P.sub_(v, alpha=lr), v

    def adam(
        self, P: Any, G: Any, v: Any, s: Any, t: Any, lr: float, beta1: float, beta2: float, eps: float
    ) -> tuple[Any, Any, Any]:
        v.mul_(beta1).add_(G, alpha=1 - beta1)
        s.mul_(beta2).addcmul_(G, G, value=1 - beta2)
        denominator = torch.div(s, 1 - beta2**t).sqrt_().add_(eps)
        return P.addcdiv_(v, denominator, value=-lr / (1 - beta1**t)), v, s


class TorchBackend(Backend):
    """PyTorch tensors, on the CPU or ``get_backend("torch", device="cuda")``."""

    name = "torch"
    namespace = "array_api_compat.torch"

    @classmethod
    def create(cls, device: str | None) -> Backend:
        import array_api_compat.torch as xp

        return cls(xp, torch.device(device or "cpu"))

    def to_host(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy()  # type: ignore[no-any-return]

    def ops(self, dtype: Any) -> Ops:
        return TorchOps(self.xp, dtype, self.device)

    def prepare_features(self, X: Any) -> Any:
        # Each example's features contiguous (NumPy's Fortran order): a mini-batch is
        # gathered as whole runs, and the products read it as a transposed operand.
        if X.T.is_contiguous() or X.device.type != "cpu":
            return X.T.contiguous().T
        # On a CPU, copied a block of examples at a time: one transposing copy of the whole
        # array leaves the cache between its reads and writes (102 against 69 ms for
        # 784 x 60000 float32).
        out = torch.empty((X.shape[1], X.shape[0]), dtype=X.dtype)
        for k in range(0, X.shape[1], 1024):
            out[k : k + 1024] = X[:, k : k + 1024].T
        return out.T

    def prepare_examples(self, X: Any, Y: Any, *more: Any) -> tuple[Any, ...]:
        # One layout for the labels (and weights), whatever they came in: results do not depend on it.
        return (X, Y.contiguous(), *(A.contiguous() for A in more))

    def take_columns(self, A: Any, index: np.ndarray) -> Any:
        idx = torch.as_tensor(index, device=A.device)
        if A.ndim == 2 and A.T.is_contiguous():
            return A.T.index_select(0, idx).T
        return A.index_select(A.ndim - 1, idx)

    def runner(
        self, step: Any, state: list[list[Any]], same_batch: bool = False, cuda_graph: Any = "auto"
    ) -> Any:
        if not self.is_gpu or cuda_graph is False:
            return super().runner(step, state, same_batch, cuda_graph)
        if not same_batch:
            if cuda_graph is True:
                raise ValueError(
                    "cuda_graph=True needs full-batch gradient descent with a fixed learning rate"
                )
            return Runner(step, state)
        return GraphRunner(step, state)

    def matmul_precision(self, precision: str, dtype: Any) -> Any:
        if precision == "tf32" and self.is_gpu:
            return matmul_precision(precision, dtype)
        return super().matmul_precision(precision, dtype)

    def synchronize(self) -> None:
        if self.is_gpu:
            torch.cuda.synchronize()


class GraphRunner(Runner):
    """Run ``step`` eagerly ``warmup`` times, then capture it and replay it.

    Every call gets the same batch and hyper-parameters, and the step updates
    the state in place, so the replayed graph keeps updating the same buffers.
    """

    def __init__(self, step: Callable[..., Any], state: list[list[Any]], warmup: int = 2) -> None:
        super().__init__(step, state)
        self.warmup = warmup
        self.graph: Any = None
        self.output: Any = None
        self.eager_calls = 0
        self.stream = torch.cuda.Stream()

    def __call__(self, batch: Any, hyper: tuple[float, ...]) -> Any:
        if self.graph is not None:
            self.graph.replay()
            return self.output
        if self.eager_calls < self.warmup:
            self.stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.stream):
                self.state, out = self.step(self.state, batch, hyper)
            torch.cuda.current_stream().wait_stream(self.stream)
            self.eager_calls += 1
            return out
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.state, self.output = self.step(self.state, batch, hyper)
        self.graph = graph
        graph.replay()  # capture records without running: this is the iteration
        return self.output


@contextlib.contextmanager
def matmul_precision(precision: str, dtype: Any) -> Iterator[None]:
    """Let float32 matrix products use TF32 tensor cores inside the block."""
    if precision != "tf32":
        yield
        return
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before
