"""Optimizers of the course's "Optimization methods": gradient descent, momentum, Adam, learning-rate decay.

Every update returns new dicts of new arrays; the dicts passed in are left as they were.
The parameters move through the training engine's kernels (``Ops.sgd``, ``Ops.momentum``,
``Ops.adam``), whose roundings are the course's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ._checks import check_count, check_positive_float, num_layers
from .backend import namespace_of
from .engine import parameter_keys
from .linear import kernels
from .regularization import check_non_negative, real_number
from .update import check_gradients, descend


def _check_beta(func: str, name: str, beta: Any) -> float:
    value = real_number(beta)
    if value is None or not (0 <= value < 1):
        raise ValueError(f"{func}: {name} must be a number in [0, 1), got {beta!r}")
    return value


def update_parameters_with_gd(
    parameters: Mapping[str, Any], grads: Mapping[str, Any], learning_rate: float
) -> dict[str, Any]:
    """One step of (mini-batch) gradient descent: ``W - learning_rate * dW`` for every layer.

    >>> import numpy as np
    >>> p = update_parameters_with_gd({"W1": np.ones((1, 1)), "b1": np.zeros((1, 1))},
    ...                               {"dW1": np.ones((1, 1)), "db1": np.ones((1, 1))}, 0.1)
    >>> p["W1"], p["b1"]
    (array([[0.9]]), array([[-0.1]]))
    """
    return descend("update_parameters_with_gd", parameters, grads, learning_rate, chained=False)


def initialize_velocity(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Momentum's velocity: ``{"dW1": zeros like W1, "db1": zeros like b1, ...}``.

    >>> import numpy as np
    >>> v = initialize_velocity({"W1": np.ones((2, 3)), "b1": np.ones((2, 1))})
    >>> v["dW1"].shape, float(v["db1"].sum())
    ((2, 3), 0.0)
    """
    L = num_layers("initialize_velocity", parameters, chained=False)
    return _zeros_like(parameters, L)


def _zeros_like(parameters: Mapping[str, Any], L: int) -> dict[str, Any]:
    return {f"d{k}": namespace_of(parameters[k]).zeros_like(parameters[k]) for k in parameter_keys(L)}


def _step(
    kernel: str, parameters: Mapping[str, Any], grads: Mapping[str, Any], state: Any, L: int, *hyper: Any
) -> list[dict[str, Any]]:
    """The ``Ops`` update ``kernel`` on every parameter, with the dicts of ``state`` as its slots and
    then ``hyper``: new dicts of the parameters and of each slot, the arguments left as they were."""
    keys = parameter_keys(L)
    P, G = [parameters[k] for k in keys], [grads[f"d{k}"] for k in keys]
    slots = [[kept[f"d{k}"] for k in keys] for kept in state]
    new_P, *new_slots = kernels(P[0], inplace=False).step_all(kernel, P, G, slots, *hyper)
    return [dict(zip(keys, new_P)), *({f"d{k}": a for k, a in zip(keys, slot)} for slot in new_slots)]


def update_parameters_with_momentum(
    parameters: Mapping[str, Any],
    grads: Mapping[str, Any],
    v: Mapping[str, Any],
    beta: float,
    learning_rate: float,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One momentum step: ``v = beta v + (1 - beta) dW``; ``W = W - learning_rate * v``.

    Returns ``(parameters, v)``, both new dicts.

    >>> import numpy as np
    >>> p, v = update_parameters_with_momentum({"W1": np.ones((1, 1)), "b1": np.zeros((1, 1))},
    ...     {"dW1": np.ones((1, 1)), "db1": np.ones((1, 1))},
    ...     {"dW1": np.zeros((1, 1)), "db1": np.zeros((1, 1))}, 0.9, 1.0)
    >>> v["dW1"], p["W1"]
    (array([[0.1]]), array([[0.9]]))
    """
    func = "update_parameters_with_momentum"
    beta = _check_beta(func, "beta", beta)
    lr = check_positive_float(func, "learning_rate", learning_rate)
    L = num_layers(func, parameters, chained=False)
    check_gradients(func, "grads", grads, parameters, L)
    check_gradients(func, "v", v, parameters, L)
    new_p, new_v = _step("momentum", parameters, grads, [v], L, beta, lr)
    return new_p, new_v


def initialize_adam(parameters: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Adam's moment estimates ``(v, s)``, both dicts of zeros shaped like the parameters.

    >>> import numpy as np
    >>> v, s = initialize_adam({"W1": np.ones((2, 3)), "b1": np.ones((2, 1))})
    >>> sorted(v), s["dW1"].shape
    (['dW1', 'db1'], (2, 3))
    """
    L = num_layers("initialize_adam", parameters, chained=False)
    return _zeros_like(parameters, L), _zeros_like(parameters, L)


def update_parameters_with_adam(
    parameters: Mapping[str, Any],
    grads: Mapping[str, Any],
    v: Mapping[str, Any],
    s: Mapping[str, Any],
    t: int,
    learning_rate: float = 0.01,
    beta1: float = 0.9,
    beta2: float = 0.999,
    epsilon: float = 1e-8,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """One Adam step with bias correction; ``t`` counts the steps taken, starting at 1.

    ``v = beta1 v + (1 - beta1) dW``, ``s = beta2 s + (1 - beta2) dW**2``,
    ``v_corrected = v / (1 - beta1**t)``, ``s_corrected = s / (1 - beta2**t)``,
    ``W = W - learning_rate * v_corrected / (sqrt(s_corrected) + epsilon)``.
    Returns ``(parameters, v, s, v_corrected, s_corrected)``, all new dicts, as the course does.

    >>> import numpy as np
    >>> p0 = {"W1": np.ones((1, 1)), "b1": np.zeros((1, 1))}
    >>> v, s = initialize_adam(p0)
    >>> p, v, s, vc, sc = update_parameters_with_adam(p0, {"dW1": np.full((1, 1), 2.0),
    ...                                                    "db1": np.ones((1, 1))}, v, s, 1, 0.1)
    >>> vc["dW1"], sc["dW1"], np.round(p["W1"], 6)
    (array([[2.]]), array([[4.]]), array([[0.9]]))
    """
    func = "update_parameters_with_adam"
    t = check_count(func, "t", t, 1)
    lr = check_positive_float(func, "learning_rate", learning_rate)
    beta1 = _check_beta(func, "beta1", beta1)
    beta2 = _check_beta(func, "beta2", beta2)
    epsilon = check_positive_float(func, "epsilon", epsilon)
    L = num_layers(func, parameters, chained=False)
    for name, state in (("grads", grads), ("v", v), ("s", s)):
        check_gradients(func, name, state, parameters, L)
    namespace_of(parameters["W1"], func=func)
    # The kernel's step is the course's lr * v_corrected / (sqrt(s_corrected) + epsilon).
    new_p, new_v, new_s = _step("adam", parameters, grads, [v, s], L, t, lr, beta1, beta2, epsilon)
    v_corrected = {key: new_v[key] / (1 - beta1**t) for key in new_v}
    s_corrected = {key: new_s[key] / (1 - beta2**t) for key in new_s}
    return new_p, new_v, new_s, v_corrected, s_corrected


def update_lr(learning_rate0: float, epoch_num: int, decay_rate: float) -> float:
    """Learning-rate decay ``learning_rate0 / (1 + decay_rate * epoch_num)``.

    >>> update_lr(0.5, 2, 1)
    0.16666666666666666
    """
    func = "update_lr"
    lr0 = check_positive_float(func, "learning_rate0", learning_rate0)
    epoch_num = check_count(func, "epoch_num", epoch_num)
    return lr0 / (1 + check_decay_rate(func, decay_rate) * epoch_num)


def schedule_lr_decay(
    learning_rate0: float, epoch_num: int, decay_rate: float, time_interval: int = 1000
) -> float:
    """Scheduled decay ``learning_rate0 / (1 + decay_rate * floor(epoch_num / time_interval))``.

    >>> schedule_lr_decay(0.5, 100, 1, time_interval=10)
    0.045454545454545456
    """
    func = "schedule_lr_decay"
    lr0 = check_positive_float(func, "learning_rate0", learning_rate0)
    epoch_num = check_count(func, "epoch_num", epoch_num)
    time_interval = check_count(func, "time_interval", time_interval, 1)
    return lr0 / (1 + check_decay_rate(func, decay_rate) * math.floor(epoch_num / time_interval))


def check_decay_rate(func: str, decay_rate: Any) -> float:
    """``decay_rate`` as a float; raises ``ValueError`` naming ``func`` unless it is a finite number >= 0.

    >>> check_decay_rate("update_lr", 1)
    1.0
    """
    return check_non_negative(func, "decay_rate", decay_rate)


#: The former private name, which ``fit`` still imports.
