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

    def runner(
        self, step: Any, state: list[list[Any]], replay: bool = False, cuda_graph: Any = "auto"
    ) -> Any:
        if not self.is_gpu or cuda_graph is False:
            return super().runner(step, state, replay, cuda_graph)
        if not replay:
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
