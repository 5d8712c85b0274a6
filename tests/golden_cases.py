"""The golden matrix's registry and its course-function cases (tests/golden.py gathers every case).

A case is a small function ``case(be) -> {name: host NumPy array}``: its inputs are drawn on the
host from a seeded generator, moved to the backend ``be``, and what the library answers comes
back to the host. A case that cannot run on a backend raises :class:`Skip` with the reason.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import portable_dnn as dnn
from portable_dnn.course2 import gradient_checking as gc2
from portable_dnn.course2 import regularization as reg2

Result = dict[str, np.ndarray]

#: ``training``: bit for bit on NumPy (float64); ``course``: a function of the course, checked to 1e-13.
GROUPS = ("training", "course")


class Skip(Exception):
    """The case does not run on this backend; the message says why."""


@dataclass(frozen=True)
class Case:
    name: str
    run: Callable[[dnn.Backend], Result]
    group: str
    dtype: str = "float64"


CASES: dict[str, Case] = {}


def register(name: str, run: Callable[[dnn.Backend], Result], group: str, dtype: str = "float64") -> None:
    assert name not in CASES and group in GROUPS and dtype in ("float32", "float64"), name
    CASES[name] = Case(name, run, group, dtype)


def course(func: Callable[[dnn.Backend], Result]) -> Callable[[dnn.Backend], Result]:
    """Register ``func`` as the float64 course case named after it."""
    register(func.__name__, func, "course")
    return func


# ------------------------------------------------------------ helpers


def host(value: Any, prefix: str = "") -> Result:
    """``{prefix + key: host array}`` for a dict of arrays, or ``{prefix: array}`` for one value."""
    if isinstance(value, Mapping):
        return {prefix + str(k): np.asarray(dnn.to_numpy(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and value and not isinstance(value[0], (int, float)):
        out: Result = {}
        for i, v in enumerate(value):
            out.update(host(v, f"{prefix}{i}_"))
        return out
    return {prefix.rstrip("_"): np.asarray(dnn.to_numpy(value))}


def draw(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def labels(seed: int, m: int, classes: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, classes, (1, m))


def quiet(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` with what it prints swallowed."""
    with contextlib.redirect_stdout(io.StringIO()):
        return func(*args, **kwargs)


def params(be: dnn.Backend, dims: list[int], seed: int = 3, dtype: str = "float64") -> dict[str, Any]:
    """Xavier weights and small nonzero biases (so that every bias term is exercised)."""
    p = dnn.initialize_parameters_deep(dims, init="xavier", seed=seed, backend="numpy")
    for l in range(1, len(dims)):
        p[f"b{l}"] = 0.1 * draw(seed + l, dims[l], 1)
    return {k: be.asarray(v, dtype=dtype) for k, v in p.items()}


# ------------------------------------------------------------ course 1, step by step


@course
def course_initialize(be: dnn.Backend) -> Result:
    out = host(dnn.initialize_parameters(3, 4, 1, backend=be), "shallow_")
    for init in ("random", "xavier", "he", "zeros"):
        out.update(host(dnn.initialize_parameters_deep([5, 4, 3, 1], init=init, seed=3, backend=be), init))
    return out


@course
def course_linear(be: dnn.Backend) -> Result:
    A, W, b, dZ = (be.asarray(draw(s, *shape)) for s, shape in enumerate([(3, 4), (2, 3), (2, 1), (2, 4)]))
    Z, cache = dnn.linear_forward(A, W, b)
    return {**host(Z, "Z"), **host(dnn.linear_backward(dZ, cache), "back_")}


def _layer(activation: str) -> Callable[[dnn.Backend], Result]:
    def run(be: dnn.Backend) -> Result:
        A, W, b, dA = (
            be.asarray(draw(s, *shape)) for s, shape in enumerate([(3, 5), (2, 3), (2, 1), (2, 5)])
        )
        out, cache = dnn.linear_activation_forward(A, W, b, activation)
        return {**host(out, "A"), **host(cache[1], "Z"),
                **host(dnn.linear_activation_backward(dA, cache, activation), "back_")}  # fmt: skip

    return run


for _activation in ("relu", "sigmoid", "tanh", "leaky_relu"):
    register(f"course_layer_{_activation}", _layer(_activation), "course")


@course
def course_activations(be: dnn.Backend) -> Result:
    Z, dA = be.asarray(2 * draw(10, 3, 6)), be.asarray(draw(11, 3, 6))
    out: Result = {}
    for name in ("sigmoid", "relu", "tanh", "leaky_relu"):
        A, cache = getattr(dnn, name)(Z)
        out.update(host(A, name))
        out.update(host(getattr(dnn, f"{name}_backward")(dA, cache), f"{name}_backward"))
    return out


def _L_model(hidden: str, dtype: str) -> Callable[[dnn.Backend], Result]:
    def run(be: dnn.Backend) -> Result:
        p = params(be, [5, 4, 3, 1], dtype=dtype)
        X, Y = be.asarray(draw(20, 5, 7), dtype=dtype), be.asarray(labels(21, 7), dtype=dtype)
        AL, caches = dnn.L_model_forward(X, p, hidden)
        grads = dnn.L_model_backward(AL, Y, caches, hidden)
        return {**host(AL, "AL"), "cost": np.asarray(dnn.compute_cost(AL, Y)),
                **host(dnn.compute_cost_backward(AL, Y), "dAL"), **host(grads, "grad_"),
                **host(dnn.update_parameters(p, grads, 0.1), "updated_")}  # fmt: skip

    return run


register("course_L_model_relu", _L_model("relu", "float64"), "course")
register("course_L_model_tanh", _L_model("tanh", "float64"), "course")
register("course_L_model_float32", _L_model("relu", "float32"), "course", "float32")


def _grads(be: dnn.Backend, p: Mapping[str, Any], seed: int) -> dict[str, Any]:
    return {f"d{k}": be.asarray(draw(seed + i, *v.shape)) for i, (k, v) in enumerate(p.items())}


@course
def course_optimizers(be: dnn.Backend) -> Result:
    p = params(be, [3, 4, 2])
    out = host(dnn.update_parameters_with_gd(p, _grads(be, p, 30), 0.1), "gd_")
    v = dnn.initialize_velocity(p)
    out.update(host(v, "v0_"))
    pm = p
    for step in (1, 2):
        pm, v = dnn.update_parameters_with_momentum(pm, _grads(be, p, 30 + 10 * step), v, 0.9, 0.1)
    out.update({**host(pm, "momentum_"), **host(v, "momentum_v_")})
    v, s = dnn.initialize_adam(p)
    pa = p
    for t in (1, 2):
        pa, v, s, vc, sc = dnn.update_parameters_with_adam(pa, _grads(be, p, 60 + 10 * t), v, s, t, 0.01)
    out.update({**host(pa, "adam_"), **host(v, "adam_v_"), **host(s, "adam_s_")})
    out.update({**host(vc, "adam_vc_"), **host(sc, "adam_sc_")})
    out["lr"] = np.array([dnn.update_lr(0.5, 3, 1.0), dnn.schedule_lr_decay(0.5, 2500, 0.3, 1000)])
    return out


@course
def course_mini_batches(be: dnn.Backend) -> Result:
    X, Y = be.asarray(draw(40, 3, 10)), be.asarray(labels(41, 10), dtype="float64")
    return host(dnn.random_mini_batches(X, Y, mini_batch_size=4, seed=2), "batch")


@course
def course_dropout_l2(be: dnn.Backend) -> Result:
    A, dA = be.asarray(draw(50, 4, 6)), be.asarray(draw(51, 4, 6))
    D = dnn.dropout_mask(A, 0.7, 3)
    dropped, D2 = dnn.dropout_forward(A, 0.7, 4)
    out = {**host(D, "mask"), **host(dropped, "forward"), **host(D2, "forward_mask")}
    out.update(
        {**host(dnn.apply_dropout(A, D, 0.7), "apply"), **host(dnn.dropout_backward(dA, D, 0.7), "back")}
    )
    p = params(be, [4, 3, 1])
    grads = _grads(be, p, 52)
    AL, Y = be.asarray(np.linspace(0.1, 0.9, 6)[None, :]), be.asarray(labels(53, 6), dtype="float64")
    out.update(
        {**host(dnn.l2_grads(p, 0.7, 6), "l2_grad_"), **host(dnn.add_l2_grads(grads, p, 0.7, 6), "l2_add_")}
    )
    out["l2_costs"] = np.array([dnn.l2_cost(p, 0.7, 6), dnn.compute_cost_with_regularization(AL, Y, p, 0.7)])
    return out


@course
def course_softmax(be: dnn.Backend) -> Result:
    Z, dA = be.asarray(draw(60, 3, 5)), be.asarray(draw(61, 3, 5))
    A, cache = dnn.softmax(Z)
    Y = dnn.one_hot(be.asarray(labels(62, 5, 3)), 3, dtype=A.dtype)
    return {**host(A, "A"), **host(dnn.softmax_backward(dA, cache), "dZ"), **host(Y, "one_hot"),
            "cost": np.asarray(dnn.compute_cost_softmax(A, Y)),
            **host(dnn.compute_cost_softmax_backward(A, Y), "dAL")}  # fmt: skip


@course
def course_predict(be: dnn.Backend) -> Result:
    p, X, y = params(be, [4, 3, 1]), be.asarray(draw(70, 4, 9)), labels(71, 9)
    pred = quiet(dnn.predict, X, y, p)
    p3 = params(be, [4, 3, 3], seed=4)
    return {**host(pred, "predict"), "accuracy": np.asarray(dnn.accuracy(pred, y)),
            **host(dnn.forward_proba(X, p), "proba"), **host(dnn.predict_labels(X, p3), "labels3"),
            **host(dnn.forward_proba(X, p3), "proba3")}  # fmt: skip


# ------------------------------------------------------------ course 2's functions


@course
def course2_regularization(be: dnn.Backend) -> Result:
    p, X, Y = params(be, [3, 5, 3, 1]), be.asarray(draw(80, 3, 8)), be.asarray(labels(81, 8))
    A3, cache = reg2.forward_propagation(X, p)
    A3d, cache_d = reg2.forward_propagation_with_dropout(X, p, 0.8)
    # The caches without the parameters they repeat: (Z, A, W, b) per layer, (Z, D, A, W, b) with dropout.
    kept = [cache[i] for i in range(len(cache)) if i % 4 < 2]
    kept_d = [cache_d[i] for i in (0, 1, 2, 5, 6, 7, 10, 11)]
    return {**host(A3, "A3"), **host(kept, "cache"), **host(A3d, "A3_dropout"),
            **host(kept_d, "cache_dropout"), **host(reg2.backward_propagation(X, Y, cache), "back_"),
            **host(reg2.backward_propagation_with_regularization(X, Y, cache, 0.7), "back_l2_"),
            **host(reg2.backward_propagation_with_dropout(X, Y, cache_d, 0.8), "back_dropout_"),
            "costs": np.array([float(reg2.compute_cost(A3, Y)),
                               float(reg2.compute_cost_with_regularization(A3, Y, p, 0.7))]),
            **host(quiet(reg2.predict, X, Y, p), "predict")}  # fmt: skip


@course
def course2_gradient_checking(be: dnn.Backend) -> Result:
    p, X, Y = params(be, [4, 3, 2, 1]), be.asarray(draw(90, 4, 6)), be.asarray(labels(91, 6))
    cost, cache = gc2.forward_propagation_n(X, Y, p)
    grads = gc2.backward_propagation_n(X, Y, cache)
    theta, _ = gc2.dictionary_to_vector(p)
    layout = dnn.dictionary_to_vector(p)[1]
    return {"cost": np.asarray(cost), **host(cache, "cache"), **host(grads, "grad_"), **host(theta, "theta"),
            **host(gc2.vector_to_dictionary(theta, layout), "back_"),
            **host(gc2.gradients_to_vector(grads), "grad_vector"),
            **host(gc2.predict(p, X), "predict")}  # fmt: skip
