"""A hand-written ``jax.jit`` training step, the ceiling for a compiled step on JAX.

Forward (ReLU hidden layers, sigmoid or softmax output), cross-entropy, backward
(``dZ[L] = AL - Y``), then gradient descent or Adam, one jitted function with the
state donated. Full batch: the workload's iterations; mini-batches: a seeded
permutation per epoch, gathered on the device. Compilation happens in the warm-up.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from ..workloads import Workload, examples, initial_weights
from . import Outcome, register


def _step(jnp: Any, adam: bool, state: Any, X: Any, Y: Any, t: Any, lr: Any) -> Any:
    params, v, s = state
    L = len(params) // 2
    m = X.shape[1]
    inputs, A = [X], X
    for l in range(L - 1):
        A = jnp.maximum(params[2 * l] @ A + params[2 * l + 1], 0)
        inputs.append(A)
    Z = params[-2] @ A + params[-1]
    if Y.shape[0] == 1:
        AL = 1 / (1 + jnp.exp(-Z))
    else:
        E = jnp.exp(Z - jnp.max(Z, axis=0, keepdims=True))
        AL = E / jnp.sum(E, axis=0, keepdims=True)
    dZ = AL - Y
    grads: list[Any] = [None] * (2 * L)
    for l in reversed(range(L)):
        grads[2 * l], grads[2 * l + 1] = dZ @ inputs[l].T / m, jnp.sum(dZ, axis=1, keepdims=True) / m
        if l:
            dZ = jnp.where(inputs[l] > 0, params[2 * l].T @ dZ, 0)
    if not adam:
        return [p - lr * g for p, g in zip(params, grads, strict=True)], v, s
    v = [0.9 * a + 0.1 * g for a, g in zip(v, grads, strict=True)]
    s = [0.999 * a + 0.001 * g * g for a, g in zip(s, grads, strict=True)]
    new = [
        p - lr * (a / (1 - 0.9**t)) / (jnp.sqrt(b / (1 - 0.999**t)) + 1e-8)
        for p, a, b in zip(params, v, s, strict=True)
    ]
    return new, v, s


@register("jax_jit", ("full_batch", "minibatch"), needs=("jax",), devices=("cpu",))
def prepare(w: Workload, dtype: str, device: str) -> Callable[[], Outcome]:
    import jax
    import jax.numpy as jnp

    step = jax.jit(partial(_step, jnp, w.optimizer == "adam"), donate_argnums=0)
    X, y = examples(w)
    Xd = jnp.asarray(X.T.astype(dtype))
    if w.output == "softmax":
        Yd = jax.nn.one_hot(jnp.asarray(y), w.dims[-1], axis=0, dtype=Xd.dtype)
    else:
        Yd = jnp.asarray(y[None, :].astype(dtype))
    start = [a for pair in initial_weights(w, dtype) for a in pair]
    size = w.batch or w.m
    rng = np.random.default_rng(0)

    def run() -> Outcome:
        params = [jnp.asarray(a) for a in start]
        state = (params, [jnp.zeros_like(a) for a in params], [jnp.zeros_like(a) for a in params])
        t = 0
        for _ in range(w.steps):
            order = jnp.asarray(rng.permutation(w.m).astype(np.int32)) if w.batch else None
            for k in range(0, w.m, size):
                t += 1
                if order is None:
                    state = step(state, Xd, Yd, t, w.learning_rate)
                else:
                    idx = order[k : k + size]
                    state = step(state, jnp.take(Xd, idx, axis=1), jnp.take(Yd, idx, axis=1), t,
                                 w.learning_rate)  # fmt: skip
        jax.block_until_ready(state)
        p = state[0]
        return Outcome([(p[2 * l], p[2 * l + 1]) for l in range(len(p) // 2)])

    return run
