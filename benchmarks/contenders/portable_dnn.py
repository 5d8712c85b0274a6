"""portable_dnn itself, through its public API: ``L_layer_model`` for full-batch workloads, ``fit``
for mini-batch ones, ``DNNRegressor.partial_fit`` for regression; on the NumPy (CuPy on the GPU),
torch and jax backends."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..workloads import Workload, as_parameters, examples, initial_weights
from . import Outcome, library_backend, register


def _layers(params: dict[str, Any]) -> list[tuple[Any, Any]]:
    return [(params[f"W{l}"], params[f"b{l}"]) for l in range(1, len(params) // 2 + 1)]


def _full_batch(w: Workload, dtype: str, be: Any, gram: bool | str) -> Callable[[], Outcome]:
    import portable_dnn as dnn

    X, y = examples(w)
    Xd = be.asarray(X.T.astype(dtype), dtype=dtype)
    Yd = be.asarray(y[None, :].astype(dtype), dtype=dtype)
    start = {k: be.asarray(v, dtype=dtype) for k, v in as_parameters(initial_weights(w, dtype)).items()}
    options: dict[str, Any] = {"backend": be, "dtype": dtype, "initial_parameters": start}
    if gram != "auto":
        options["gram"] = gram

    def run() -> Outcome:
        params, _ = dnn.L_layer_model(Xd, Yd, list(w.dims), w.learning_rate, w.steps, **options)
        return Outcome(_layers(params))

    return run


def _minibatch(w: Workload, dtype: str, be: Any, c_order: bool = False) -> Callable[[], Outcome]:
    import numpy as np

    import portable_dnn as dnn

    X, y = examples(w)
    # fit's fastest layout: (features, m) in Fortran order, the bytes of examples-major data;
    # with c_order, the C-ordered (features, m) that np.random.randn(features, m) gives.
    host = np.ascontiguousarray(X.astype(dtype).T) if c_order else X.astype(dtype).T
    Xd = be.asarray(host, dtype=dtype)
    yd = be.asarray(y)
    options = dict(output=w.output, optimizer=w.optimizer, learning_rate=w.learning_rate, batch_size=w.batch,
                   num_epochs=w.steps, init=w.init, backend=be, dtype=dtype)  # fmt: skip

    def run() -> Outcome:
        params, _ = dnn.fit(Xd, yd, list(w.dims), **options)
        return Outcome(_layers(params))

    return run


def _regression(w: Workload, dtype: str, be: Any) -> Callable[[], Outcome]:
    from portable_dnn.sklearn import DNNRegressor

    X, y = examples(w)
    X, y = X.astype(dtype), y.astype(dtype)
    hidden = tuple(w.dims[1:-1])
    reg = DNNRegressor(hidden_layer_sizes=hidden, learning_rate=w.learning_rate, batch_size=w.batch,
                       init=w.init, backend=be.name, dtype=dtype, random_state=0)  # fmt: skip

    def run() -> Outcome:
        for _ in range(w.steps):
            reg.partial_fit(X, y)
        return Outcome(_layers(reg.parameters_))

    return run


def prepare(
    backend: str, w: Workload, dtype: str, device: str, c_order: bool = False
) -> Callable[[], Outcome]:
    be = library_backend(backend, device)
    if c_order:
        return _minibatch(w, dtype, be, c_order=True)
    if w.kind == "full_batch":
        # On JAX the hand-written jax.jit step is the direct algorithm: compare like with like.
        run = _full_batch(w, dtype, be, False if backend == "jax" else "auto")
    elif w.kind == "minibatch":
        run = _minibatch(w, dtype, be)
    else:
        run = _regression(w, dtype, be)
    if backend != "jax":
        return run
    import jax

    def blocked() -> Outcome:  # JAX dispatches asynchronously and its backend has no queue to wait on
        out = run()
        jax.block_until_ready(out.params)
        return out

    return blocked


_KINDS = ("full_batch", "minibatch", "regression")
register("portable_dnn", _KINDS, library=True, gpu_needs=("cupy",))(functools.partial(prepare, "numpy"))
register("portable_dnn[torch]", _KINDS, needs=("torch",), library=True, sync="torch")(
    functools.partial(prepare, "torch")
)
register("portable_dnn[C-order]", ("minibatch",), library=True, devices=("cpu",))(
    functools.partial(prepare, "numpy", c_order=True)
)
register("portable_dnn[jax]", _KINDS, needs=("jax",), library=True, devices=("cpu",))(
    functools.partial(prepare, "jax")
)
