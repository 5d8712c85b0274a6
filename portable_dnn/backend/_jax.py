"""JAX: the training step compiled by XLA with ``jax.jit``, once per shape and option set.

A JAX array's step is a pure function of the state, the batch and the
hyper-parameters: ``jax.jit`` compiles it on its first call for each batch
shape, and every later call runs the compiled step, on the CPU or on JAX's
GPU or TPU. The state stays on the device between steps (its buffers are
donated to the next step) and the cost is read only when the loop asks.

float64 needs JAX's 64-bit mode, which JAX keeps off by default: turn it on
with ``jax.config.update("jax_enable_x64", True)`` (or ``JAX_ENABLE_X64=1``)
before creating arrays. Without it the library refuses float64 on JAX rather
than let JAX round it to float32.
"""

from __future__ import annotations

from typing import Any

import jax

from .base import Backend, Runner


class JaxBackend(Backend):
    """JAX arrays on JAX's default device, with the step compiled by ``jax.jit``."""

    name = "jax"
    namespace = "jax.numpy"
    mutable = False
    # The Gram form keeps buffers between steps outside the state a compiled step returns.
    supports_gram = False

    @property
    def sync_is_cheap(self) -> bool:
        return False

    def check_dtype(self, dtype_name: str, func: str) -> None:
        if dtype_name == "float64" and not jax.config.jax_enable_x64:
            raise ValueError(
                f"{func}: float64 on JAX needs its 64-bit mode: call "
                'jax.config.update("jax_enable_x64", True) first (or set JAX_ENABLE_X64=1), '
                "or train in float32 (dtype='float32')"
            )

    def runner(
        self, step: Any, state: list[list[Any]], replay: bool = False, cuda_graph: Any = "auto"
    ) -> Any:
        super().runner(step, state, replay, cuda_graph)  # refuses cuda_graph=True
        return JitRunner(step, state)


class JitRunner(Runner):
    """Runs ``step`` compiled; the state's buffers are handed to each next step."""

    def __init__(self, step: Any, state: list[list[Any]]) -> None:
        super().__init__(step, state)
        self._compiled = jax.jit(step, donate_argnums=0)

    def __call__(self, batch: Any, hyper: tuple[float, ...]) -> Any:
        self.state, cost = self._compiled(self.state, tuple(batch), hyper)
        return cost

    def fetch(self, values: Any) -> list[float]:
        return [float(v) for v in jax.device_get(list(values))]
