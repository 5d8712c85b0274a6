"""The second course's "Optimization methods" notebook: its graded functions, ``model``, ``predict``, data.

``from portable_dnn.course2.optimization import *`` gives the notebook's names with the
notebook's signatures. The optimizers are the package's own (``portable_dnn.update_parameters_with_adam``
is this module's ``update_parameters_with_adam``); ``model`` trains through :func:`portable_dnn.fit`.

>>> import numpy as np
>>> v, s = initialize_adam({"W1": np.ones((2, 3)), "b1": np.ones((2, 1))})
>>> v["dW1"].shape, s["db1"].shape
((2, 3), (2, 1))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from portable_dnn._checks import check_count
from portable_dnn.course2._costs import print_costs
from portable_dnn.course2._data import course_points
from portable_dnn.course2._predict import predict
from portable_dnn.fit import fit
from portable_dnn.minibatch import random_mini_batches
from portable_dnn.optim import optimizer as _optimizer
from portable_dnn.optimizers import (
    check_decay_rate,
    initialize_adam,
    initialize_velocity,
    schedule_lr_decay,
    update_lr,
    update_parameters_with_adam,
    update_parameters_with_gd,
    update_parameters_with_momentum,
)

__all__ = [
    "update_parameters_with_gd",
    "random_mini_batches",
    "initialize_velocity",
    "update_parameters_with_momentum",
    "initialize_adam",
    "update_parameters_with_adam",
    "update_lr",
    "schedule_lr_decay",
    "model",
    "predict",
    "load_dataset",
]

_DECAYS: dict[Callable[..., float], int | None] = {update_lr: None, schedule_lr_decay: 1000}


def model(
    X: Any,
    Y: Any,
    layers_dims: Sequence[int],
    optimizer: str,
    learning_rate: float = 0.0007,
    mini_batch_size: int = 64,
    beta: float = 0.9,
    beta1: float = 0.9,
    beta2: float = 0.999,
    epsilon: float = 1e-8,
    num_epochs: int = 5000,
    print_cost: bool = True,
    decay: Callable[..., float] | None = None,
    decay_rate: float = 1,
    *,
    backend: Any = None,
) -> dict[str, Any]:
    """The notebook's network (ReLU hidden layers, sigmoid output) trained by ``optimizer``: its parameters.

    As the notebook: He initialization seeded 3, the mini-batches of
    ``random_mini_batches(X, Y, mini_batch_size, seed)`` with ``seed = 11, 12, ...`` per
    epoch, ``optimizer`` one of ``"gd"``, ``"momentum"``, ``"adam"``; ``decay`` (``update_lr``
    or ``schedule_lr_decay``) sets the rate after epoch ``i`` to
    ``decay(learning_rate, i, decay_rate)``. ``print_cost`` prints the cost every 1000
    epochs (and the decayed rate). The cost curve is not plotted: train with
    :func:`portable_dnn.fit` for it (``history["cost"]``). ``backend`` picks where to
    train host data, as in ``fit``.

    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0, 2.0, 3.0]]); Y = np.array([[0, 0, 1, 1]])
    >>> p = model(X, Y, [1, 1], "adam", learning_rate=0.1, num_epochs=2, backend="numpy")
    Cost after epoch 0: 0.826542
    >>> sorted(p)
    ['W1', 'b1']
    """
    func = "model"
    if decay is not None and decay not in _DECAYS:
        raise TypeError(f"{func}: decay must be None, update_lr or schedule_lr_decay, got {decay!r}")
    num_epochs = check_count(func, "num_epochs", num_epochs, 1)
    mini_batch_size = check_count(func, "mini_batch_size", mini_batch_size, 1)
    decay_rate = check_decay_rate(func, decay_rate)
    # The notebook passes every optimizer all four settings; each reads its own.
    chosen = _optimizer(optimizer, func)
    given = {"beta": beta, "beta1": beta1, "beta2": beta2, "epsilon": epsilon}
    chosen = _optimizer(chosen, func, **{k: v for k, v in given.items() if k in chosen.hyperparameters()})
    parameters, history = fit(
        X,
        Y,
        layers_dims,
        init="he",
        init_seed=3,
        seed=10,
        optimizer=chosen,
        learning_rate=learning_rate,
        batch_size=mini_batch_size,
        num_epochs=num_epochs,
        scale_dz_first=True,
        decay_rate=0.0 if decay is None else decay_rate,
        time_interval=None if decay is None else _DECAYS[decay],
        backend=backend,
    )
    if print_cost:
        rate = None if decay is None else lambda i: decay(learning_rate, i, decay_rate)
        print_costs(history["cost"], 1000, "epoch", "f", rate)
    return parameters


def load_dataset() -> tuple[np.ndarray, np.ndarray]:
    """The notebook's "moons": 300 points, noise 0.2, drawn with seed 3; ``X`` is (2, 300), ``Y`` (1, 300).

    Needs scikit-learn (``pip install scikit-learn``).

    >>> train_X, train_Y = load_dataset()
    >>> train_X.shape, train_Y.shape
    ((2, 300), (1, 300))
    """
    return course_points("make_moons", 300, 0.2, 3)
