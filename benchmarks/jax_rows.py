"""JAX rows: portable_dnn on the jax backend beside a hand-written ``jax.jit`` step of the same math.

``python -m benchmarks.jax_rows`` (``--quick`` for a smoke run) times two workloads:

* *course*: ``L_layer_model`` 12288-20-7-5-1 on the 209 cat training images
  (``gram=False``), float64 and float32, against a jitted full-batch gradient-descent
  step written out by hand (forward, cross-entropy, backward, update), the cost
  read every 100 iterations as ``L_layer_model`` records it;
* *mnist*: one epoch of ``fit`` 784-128-64-10 softmax, Adam, mini-batches of 128,
  on 60,000 random float32 examples, against a hand-written jitted Adam step run
  over the same shuffled mini-batches.

Both sides start from host NumPy data and include moving it to the device; each
is run once untimed first, so compilation is outside the timings (the library
keeps its compiled step for the next run, the hand-written loop keeps its
``jax.jit`` function). The two run in turn; figures are the medians of the
repeats, and the ratio the median of each turn's portable_dnn time over the
hand-written one's. float64 needs JAX's 64-bit
mode: this module turns it on before creating arrays.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import portable_dnn as dnn

from .workloads import DEFAULT_DATA_DIR, LEARNING_RATE

jax.config.update("jax_enable_x64", True)


# ------------------------------------------------------------------ course


def _course_step(params: list[Any], X: Any, Y: Any, lr: Any) -> tuple[list[Any], Any]:
    L = len(params) // 2
    m = X.shape[1]
    inputs, A = [X], X
    for l in range(L - 1):
        A = jnp.maximum(params[2 * l] @ A + params[2 * l + 1], 0)
        inputs.append(A)
    AL = 1 / (1 + jnp.exp(-(params[-2] @ A + params[-1])))
    cost = -jnp.sum(Y * jnp.log(AL) + (1 - Y) * jnp.log(1 - AL)) / m
    dZ = AL - Y
    new = list(params)
    for l in reversed(range(L)):
        dW, db = dZ @ inputs[l].T / m, jnp.sum(dZ, axis=1, keepdims=True) / m
        if l:
            dZ = jnp.where(inputs[l] > 0, params[2 * l].T @ dZ, 0)
        new[2 * l], new[2 * l + 1] = params[2 * l] - lr * dW, params[2 * l + 1] - lr * db
    return new, cost


_course_step_donated = jax.jit(_course_step, donate_argnums=0)


def course_by_hand(X: np.ndarray, Y: np.ndarray, dims: list[int], iterations: int, dtype: str) -> float:
    params = dnn.initialize_parameters_deep(dims, init="xavier", seed=1, backend="numpy")
    flat = [jnp.asarray(params[f"{p}{l}"], dtype=dtype) for l in range(1, len(dims)) for p in "Wb"]
    Xd, Yd = jnp.asarray(X, dtype=dtype), jnp.asarray(Y, dtype=dtype)
    costs = []
    for i in range(iterations):
        flat, cost = _course_step_donated(flat, Xd, Yd, LEARNING_RATE)
        if i % 100 == 0:
            costs.append(float(cost))
    jax.block_until_ready(flat)
    return costs[0]


def course_library(X: np.ndarray, Y: np.ndarray, dims: list[int], iterations: int, dtype: str) -> float:
    _, costs = dnn.L_layer_model(
        X, Y, dims, LEARNING_RATE, iterations, backend="jax", dtype=dtype, gram=False
    )
    return float(costs[0])


# ------------------------------------------------------------------- mnist


def _adam(P: Any, G: Any, v: Any, s: Any, t: Any, lr: Any) -> tuple[Any, Any, Any]:
    v = 0.9 * v + 0.1 * G
    s = 0.999 * s + 0.001 * (G * G)
    return P - lr * (v / (1 - 0.9**t)) / (jnp.sqrt(s / (1 - 0.999**t)) + 1e-8), v, s


def _mnist_step(state: list[list[Any]], X: Any, Y: Any, t: Any, lr: Any) -> tuple[list[list[Any]], Any]:
    params, vs, ss = state
    m = X.shape[1]
    A1 = jnp.maximum(params[0] @ X + params[1], 0)
    A2 = jnp.maximum(params[2] @ A1 + params[3], 0)
    Z = params[4] @ A2 + params[5]
    E = jnp.exp(Z - jnp.max(Z, axis=0, keepdims=True))
    AL = E / jnp.sum(E, axis=0, keepdims=True)
    cost = -jnp.sum(Y * jnp.log(AL)) / m
    dZ3 = AL - Y
    dZ2 = jnp.where(A2 > 0, params[4].T @ dZ3, 0)
    dZ1 = jnp.where(A1 > 0, params[2].T @ dZ2, 0)
    grads = []
    for dZ, A in ((dZ1, X), (dZ2, A1), (dZ3, A2)):
        grads += [dZ @ A.T / m, jnp.sum(dZ, axis=1, keepdims=True) / m]
    stepped = [_adam(P, G, v, s, t, lr) for P, G, v, s in zip(params, grads, vs, ss)]
    return [[p for p, _, _ in stepped], [v for _, v, _ in stepped], [s for _, _, s in stepped]], cost


_mnist_step_donated = jax.jit(_mnist_step, donate_argnums=0)


def mnist_by_hand(X: np.ndarray, y: np.ndarray, dims: list[int], batch: int, lr: float) -> float:
    params = dnn.initialize_parameters_deep(dims, init="he", seed=0, backend="numpy", dtype="float32")
    flat = [jnp.asarray(params[f"{p}{l}"]) for l in range(1, len(dims)) for p in "Wb"]
    state = [flat, [jnp.zeros_like(a) for a in flat], [jnp.zeros_like(a) for a in flat]]
    Xd = jnp.asarray(X)
    Yd = jax.nn.one_hot(jnp.asarray(y), dims[-1], axis=0, dtype=Xd.dtype)
    m = X.shape[1]
    perm = jnp.asarray(np.random.RandomState(1).permutation(m).astype(np.int32))
    Xs, Ys = jnp.take(Xd, perm, axis=1), jnp.take(Yd, perm, axis=1)
    costs = []
    for t, k in enumerate(range(0, m, batch), start=1):
        state, cost = _mnist_step_donated(state, Xs[:, k : k + batch], Ys[:, k : k + batch], t, lr)
        costs.append(cost)
    return float(np.mean(jax.device_get(costs)))


def mnist_library(X: np.ndarray, y: np.ndarray, dims: list[int], batch: int, lr: float) -> float:
    _, history = dnn.fit(
        X, y, dims, output="softmax", optimizer="adam", learning_rate=lr, batch_size=batch,
        num_epochs=1, backend="jax",
    )  # fmt: skip
    return float(history["cost"][0])


# ------------------------------------------------------------------ timing


def timed(lib: Callable[[], Any], ref: Callable[[], Any], repeats: int) -> tuple[float, float, float]:
    """Median seconds of ``lib`` and ``ref`` and the median of their ratios, the two run in turn
    ``repeats`` times after one untimed call each (so a change of load hits both)."""
    lib(), ref()
    pairs = []
    for _ in range(repeats):
        times = []
        for fn in (lib, ref):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        pairs.append(times)
    return (
        statistics.median(a for a, _ in pairs),
        statistics.median(b for _, b in pairs),
        statistics.median(a / b for a, b in pairs),
    )


def load_cat(quick: bool) -> tuple[np.ndarray, np.ndarray, list[int]]:
    train = DEFAULT_DATA_DIR / "train_catvnoncat.h5"
    if quick or not train.is_file():
        rng = np.random.RandomState(0)
        return rng.rand(192, 48), (rng.rand(1, 48) > 0.5).astype(np.int64), [192, 20, 7, 5, 1]
    x, Y, _, _, _ = dnn.load_dataset(train, DEFAULT_DATA_DIR / "test_catvnoncat.h5")
    return dnn.flatten_images(x), Y, [12288, 20, 7, 5, 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.jax_rows", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes, one repeat: a smoke run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=300, help="course iterations per timed run")
    parser.add_argument("--workload", choices=("all", "course", "mnist"), default="all")
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    iterations = 3 if args.quick else args.iterations

    print(f"JAX rows, {datetime.date.today()}: jax {jax.__version__}, portable_dnn {dnn.__version__}, "
          f"python {sys.version.split()[0]}, device {jax.devices()[0]}, {os.cpu_count()} CPUs")  # fmt: skip
    print(f"load average before: {[round(x, 2) for x in os.getloadavg()]}")
    rows = []

    X, Y, dims = load_cat(args.quick)
    shape = "-".join(map(str, dims))
    for dtype in ("float64", "float32") if args.workload in ("all", "course") else ():
        lib, ref, ratio = timed(
            functools.partial(course_library, X, Y, dims, iterations, dtype),
            functools.partial(course_by_hand, X, Y, dims, iterations, dtype),
            repeats,
        )
        c_lib, c_ref = course_library(X, Y, dims, 1, dtype), course_by_hand(X, Y, dims, 1, dtype)
        assert abs(c_lib - c_ref) <= 1e-4, (c_lib, c_ref)
        name = f"course {shape}, m={X.shape[1]}, {dtype}"
        rows.append((name, "ms / iteration", lib / iterations * 1e3, ref / iterations * 1e3, ratio))

    m = 512 if args.quick else 60000
    mdims = [784, 128, 64, 10]
    rng = np.random.RandomState(0)
    Xm = rng.rand(mdims[0], m).astype(np.float32)
    ym = rng.randint(0, mdims[-1], size=m)
    if args.workload in ("all", "mnist"):
        lib, ref, ratio = timed(
            functools.partial(mnist_library, Xm, ym, mdims, 128, 0.001),
            functools.partial(mnist_by_hand, Xm, ym, mdims, 128, 0.001),
            repeats,
        )
        name = f"mnist fit {'-'.join(map(str, mdims))}, adam, batch 128, m={m}, float32"
        rows.append((name, "s / epoch", lib, ref, ratio))

    print(f"load average after: {[round(x, 2) for x in os.getloadavg()]}")
    print(f"\n{'workload':<58} {'unit':<15} {'portable_dnn':>12} {'jax.jit':>9} {'ratio':>6}")
    for name, unit, lib, ref, ratio in rows:
        print(f"{name:<58} {unit:<15} {lib:>12.4g} {ref:>9.4g} {ratio:>6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
