"""The course's own training loop, written as the course writes it, on NumPy (or CuPy).

This is the baseline portable_dnn is compared with: ``np.dot``, a forward pass that
keeps ``((A_prev, W, b), Z)`` caches, ``dAL = -(Y/AL - (1-Y)/(1-AL))``, the course's
``sigmoid_backward`` / ``relu_backward`` / ``linear_backward`` (``dA_prev`` for every
layer, ``dA0`` included), a new-array update and the cost every iteration.
``xp`` is the ``numpy`` or ``cupy`` module itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..workloads import Workload, as_parameters, examples, initial_weights
from . import Outcome, array_module, register


def sigmoid(xp: Any, Z: Any) -> tuple[Any, Any]:
    A = 1 / (1 + xp.exp(-Z))
    return A, Z


def relu(xp: Any, Z: Any) -> tuple[Any, Any]:
    A = xp.maximum(0, Z)
    return A, Z


def relu_backward(xp: Any, dA: Any, cache: Any) -> Any:
    Z = cache
    dZ = xp.array(dA, copy=True)
    dZ[Z <= 0] = 0
    return dZ


def sigmoid_backward(xp: Any, dA: Any, cache: Any) -> Any:
    Z = cache
    s = 1 / (1 + xp.exp(-Z))
    dZ = dA * s * (1 - s)
    return dZ


def linear_forward(xp: Any, A: Any, W: Any, b: Any) -> tuple[Any, Any]:
    Z = xp.dot(W, A) + b
    cache = (A, W, b)
    return Z, cache


def linear_activation_forward(xp: Any, A_prev: Any, W: Any, b: Any, activation: str) -> tuple[Any, Any]:
    Z, linear_cache = linear_forward(xp, A_prev, W, b)
    if activation == "sigmoid":
        A, activation_cache = sigmoid(xp, Z)
    else:
        A, activation_cache = relu(xp, Z)
    return A, (linear_cache, activation_cache)


def L_model_forward(xp: Any, X: Any, parameters: dict[str, Any]) -> tuple[Any, list[Any]]:
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A_prev = A
        A, cache = linear_activation_forward(
            xp, A_prev, parameters["W" + str(l)], parameters["b" + str(l)], "relu"
        )
        caches.append(cache)
    AL, cache = linear_activation_forward(
        xp, A, parameters["W" + str(L)], parameters["b" + str(L)], "sigmoid"
    )
    caches.append(cache)
    return AL, caches


def compute_cost(xp: Any, AL: Any, Y: Any) -> Any:
    m = Y.shape[1]
    cost = (-1 / m) * xp.sum(xp.multiply(Y, xp.log(AL)) + xp.multiply(1 - Y, xp.log(1 - AL)))
    return xp.squeeze(cost)


def linear_backward(xp: Any, dZ: Any, cache: Any) -> tuple[Any, Any, Any]:
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = 1 / m * xp.dot(dZ, A_prev.T)
    db = 1 / m * xp.sum(dZ, axis=1, keepdims=True)
    dA_prev = xp.dot(W.T, dZ)
    return dA_prev, dW, db


def linear_activation_backward(xp: Any, dA: Any, cache: Any, activation: str) -> tuple[Any, Any, Any]:
    linear_cache, activation_cache = cache
    if activation == "relu":
        dZ = relu_backward(xp, dA, activation_cache)
    else:
        dZ = sigmoid_backward(xp, dA, activation_cache)
    return linear_backward(xp, dZ, linear_cache)


def L_model_backward(xp: Any, AL: Any, Y: Any, caches: list[Any]) -> dict[str, Any]:
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)
    dAL = -(xp.divide(Y, AL) - xp.divide(1 - Y, 1 - AL))
    current_cache = caches[L - 1]
    grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = linear_activation_backward(
        xp, dAL, current_cache, "sigmoid"
    )
    for l in reversed(range(L - 1)):
        current_cache = caches[l]
        dA_prev_temp, dW_temp, db_temp = linear_activation_backward(
            xp, grads["dA" + str(l + 1)], current_cache, "relu"
        )
        grads["dA" + str(l)] = dA_prev_temp
        grads["dW" + str(l + 1)] = dW_temp
        grads["db" + str(l + 1)] = db_temp
    return grads


def update_parameters(
    parameters: dict[str, Any], grads: dict[str, Any], learning_rate: float
) -> dict[str, Any]:
    parameters = dict(parameters)
    L = len(parameters) // 2
    for l in range(L):
        parameters["W" + str(l + 1)] = parameters["W" + str(l + 1)] - learning_rate * grads["dW" + str(l + 1)]
        parameters["b" + str(l + 1)] = parameters["b" + str(l + 1)] - learning_rate * grads["db" + str(l + 1)]
    return parameters


def L_layer_model(
    xp: Any, X: Any, Y: Any, parameters: dict[str, Any], learning_rate: float, num_iterations: int
) -> tuple[dict[str, Any], list[Any]]:
    """``num_iterations`` of full-batch gradient descent from ``parameters``; the cost is
    computed every iteration and kept (on the device) every 100, as the course does."""
    costs = []
    for i in range(num_iterations):
        AL, caches = L_model_forward(xp, X, parameters)
        cost = compute_cost(xp, AL, Y)
        grads = L_model_backward(xp, AL, Y, caches)
        parameters = update_parameters(parameters, grads, learning_rate)
        if i % 100 == 0:
            costs.append(cost)
    return parameters, costs


@register("course_loop", ("full_batch",), gpu_needs=("cupy",))
def prepare(w: Workload, dtype: str, device: str) -> Callable[[], Outcome]:
    xp = array_module(device)
    X, y = examples(w)
    Xd, Yd = xp.asarray(X.T.astype(dtype)), xp.asarray(y[None, :].astype(dtype))
    start = {k: xp.asarray(v) for k, v in as_parameters(initial_weights(w, dtype)).items()}

    def run() -> Outcome:
        params, _ = L_layer_model(xp, Xd, Yd, start, w.learning_rate, w.steps)
        return Outcome([(params[f"W{l}"], params[f"b{l}"]) for l in range(1, len(w.dims))])

    return run
