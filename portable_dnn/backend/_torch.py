"""PyTorch CUDA execution: the whole training step captured once as a CUDA graph.

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

import torch


class GraphRunner:
    """Run ``step`` eagerly ``warmup`` times, then capture it and replay it."""

    def __init__(self, step: Callable[[], Any], warmup: int = 2) -> None:
        self.step, self.warmup = step, warmup
        self.graph: Any = None
        self.output: Any = None
        self.eager_calls = 0
        self.stream = torch.cuda.Stream()

    def __call__(self) -> Any:
        if self.graph is not None:
            self.graph.replay()
            return self.output
        if self.eager_calls < self.warmup:
            self.stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.stream):
                out = self.step()
            torch.cuda.current_stream().wait_stream(self.stream)
            self.eager_calls += 1
            return out
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.output = self.step()
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


def synchronize() -> None:
    torch.cuda.synchronize()
