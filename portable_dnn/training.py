"""Training and prediction: the course application's ``two_layer_model``, ``L_layer_model`` and ``predict``.

Both models train through the engine (:mod:`portable_dnn.engine`): full-batch
gradient descent on the backend chosen once at the start; host data is moved
there once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._checks import (
    check_array,
    check_binary,
    check_examples,
    check_finite,
    check_layer_dims,
    check_real,
    num_layers,
    shape_of,
)
from .backend import Backend, backend_of
from .callbacks import Checkpoint, PrintCost
from .data import move_array, move_row
from .engine import GramStep, TrainingDiverged, TrainingInterrupted, TrainingState, host_costs
from .initialization import initialize_parameters, initialize_parameters_deep
from .model import L_model_forward
from .prepare import PRECISIONS, PreparedRun, check_initial, prepare_course
from .run import train

__all__ = [
    "L_layer_model",
    "TrainingDiverged",
    "TrainingInterrupted",
    "TrainingState",
    "accuracy",
    "predict",
    "two_layer_model",
]

#: The cost is recorded (and printed) every this many iterations, as in the course.
COST_EVERY = 100


def two_layer_model(
    X: Any,
    Y: Any,
    layers_dims: Sequence[int],
    learning_rate: float = 0.0075,
    num_iterations: int = 3000,
    print_cost: bool = False,
    *,
    backend: str | Backend | None = None,
    dtype: Any = None,
    callback: Callable[[TrainingState], None] | None = None,
    cuda_graph: bool | str = "auto",
    matmul_precision: str = "strict",
    gram: bool | str = "auto",
    signals: Sequence[int] = (),
) -> tuple[dict[str, Any], list[Any]]:
    """The course's LINEAR -> RELU -> LINEAR -> SIGMOID model, trained by gradient descent.

    ``layers_dims`` is ``(n_x, n_h, n_y)``; weights start as
    :func:`~portable_dnn.initialize_parameters` draws them (seed 1, ``randn * 0.01``).
    Returns ``(parameters, costs)`` with the cost at iterations 0, 100, 200, ... as
    host NumPy 0-d arrays, the course's type, on every backend.

    >>> from portable_dnn.datasets import default_dataset
    >>> X, Y, _, _ = default_dataset()
    >>> params, costs = two_layer_model(X, Y, (2, 4, 1), num_iterations=1, backend="numpy")
    >>> round(float(costs[0]), 6)
    0.693132
    """
    func = "two_layer_model"
    dims = check_layer_dims(func, layers_dims, name="layers_dims")
    if len(dims) != 3:
        raise ValueError(f"{func}: layers_dims must be (n_x, n_h, n_y), got {list(layers_dims)!r}")
    prepared = prepare_course(
        func, X, Y, dims, lambda be, dtype: initialize_parameters(*dims, backend=be, dtype=dtype),
        learning_rate=learning_rate, num_iterations=num_iterations, backend=backend, dtype=dtype,
        signals=signals,
    )  # fmt: skip
    return _course_loop(prepared, print_cost, callback, cuda_graph, matmul_precision, gram)


def L_layer_model(
    X: Any,
    Y: Any,
    layers_dims: Sequence[int],
    learning_rate: float = 0.0075,
    num_iterations: int = 3000,
    print_cost: bool = False,
    *,
    backend: str | Backend | None = None,
    dtype: Any = None,
    seed: int = 1,
    init: str = "xavier",
    initial_parameters: Mapping[str, Any] | None = None,
    start_iteration: int = 0,
    costs: Sequence[float] | None = None,
    callback: Callable[[TrainingState], None] | None = None,
    cuda_graph: bool | str = "auto",
    matmul_precision: str = "strict",
    gram: bool | str = "auto",
    signals: Sequence[int] = (),
) -> tuple[dict[str, Any], list[Any]]:
    """The course's [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID model, trained by gradient descent.

    Weights start as the course's application draws them: ``RandomState(seed)``
    with ``randn / sqrt(n[l-1])`` (``init="xavier"``, seed 1). Host data is moved
    to ``backend`` once and training runs there, in X's floating dtype (or
    ``dtype``); integer or boolean X (e.g. uint8 images) is cast to float64.
    Returns ``(parameters, costs)``: arrays of the backend (``to_numpy`` brings them
    home) and the cost at iterations 0, 100, 200, ... as host NumPy 0-d arrays, the course's
    type, on every backend.

    To resume, pass ``initial_parameters``, ``start_iteration`` and the ``costs``
    recorded so far: iterations ``start_iteration .. num_iterations - 1`` then run
    exactly as they would have without the interruption. ``callback(state)`` runs
    after every iteration. Ctrl-C raises :class:`TrainingInterrupted` holding the
    state after the last completed iteration (so do the signals in ``signals``,
    e.g. ``(signal.SIGTERM,)``). On the torch backend on a CUDA GPU
    the step is captured once and replayed as a CUDA graph (``cuda_graph``);
    ``matmul_precision="tf32"`` lets float32 products use TF32 tensor cores on GPUs.

    >>> from portable_dnn.datasets import default_dataset
    >>> X, Y, _, _ = default_dataset()
    >>> params, costs = L_layer_model(X, Y, [2, 5, 3, 1], num_iterations=201, backend="numpy")
    >>> len(costs), bool(costs[-1] < costs[0])
    (3, True)
    """
    func = "L_layer_model"
    dims = check_layer_dims(func, layers_dims, name="layers_dims")

    def start(be: Backend, dtype: Any) -> dict[str, Any]:
        if initial_parameters is None:
            return initialize_parameters_deep(dims, init=init, seed=seed, backend=be, dtype=dtype)
        return check_initial(func, be, initial_parameters, dims, dtype)

    prepared = prepare_course(
        func, X, Y, dims, start, learning_rate=learning_rate, num_iterations=num_iterations,
        backend=backend, dtype=dtype, start_iteration=start_iteration, costs=costs, signals=signals,
    )  # fmt: skip
    return _course_loop(prepared, print_cost, callback, cuda_graph, matmul_precision, gram)


def predict(X: Any, y: Any, parameters: Mapping[str, Any], print_accuracy: bool = True) -> Any:
    """0/1 predictions (a 1 x m array) of the network; prints ``Accuracy: ...`` when ``y`` is given.

    X may be host data; it is moved to the parameters' backend. X must be real
    and finite, ``y`` (when given) must hold one label 0 or 1 per column of X.

    >>> import numpy as np
    >>> params = {"W1": np.array([[1.0]]), "b1": np.array([[0.0]])}
    >>> predict(np.array([[-2.0, 3.0]]), np.array([[0, 1]]), params)
    Accuracy: 1.0
    array([[0., 1.]])
    """
    func = "predict"
    num_layers(func, parameters)  # checks the dict before anything is moved
    W1 = parameters["W1"]
    be = backend_of(W1)
    xp = be.xp
    X = move_array(func, "X", be, X, W1.dtype)
    check_finite(func, "X", xp, X)
    probas, _ = L_model_forward(X, parameters)
    # A NaN output would read as 0 (NaN > 0.5 is false) and give an accuracy: refused instead.
    check_finite(func, "the network's output (are the parameters finite?)", xp, probas)
    p = xp.astype(probas > 0.5, probas.dtype)
    if y is not None:
        y = move_row(func, be, y, shape_of(p), p.dtype, "y")  # checked even when not printed
        check_binary(func, "y", xp, y)
        m = check_examples(func, "X", X)
        if print_accuracy:
            # The count divided on the host: correctly rounded whatever the library's division.
            print("Accuracy: " + str(float(xp.sum(xp.astype(p == y, p.dtype))) / m))
    return p


def accuracy(predictions: Any, y: Any) -> float:
    """Fraction of predictions equal to the labels ``y``; both hold 0 or 1 for each of m > 0 examples.

    >>> import numpy as np
    >>> accuracy(np.array([[1.0, 0.0]]), np.array([[1, 1]]))
    0.5
    """
    func = "accuracy"
    check_array(func, "predictions", predictions, ndim=None)
    check_real(func, "predictions", predictions)
    be = backend_of(predictions)
    xp = be.xp
    if not xp.isdtype(predictions.dtype, "real floating"):
        predictions = xp.astype(predictions, xp.float64)
    check_binary(func, "predictions", xp, predictions)
    check_examples(func, "predictions", predictions)
    y = move_row(func, be, y, shape_of(predictions), predictions.dtype, "y")
    check_binary(func, "y", xp, y)
    hits = float(xp.sum(xp.astype(predictions == y, predictions.dtype)))
    return hits / math.prod(shape_of(predictions))


# ---------------------------------------------------------------- internals


def _course_loop(
    prepared: PreparedRun,
    print_cost: bool,
    callback: Callable[[TrainingState], None] | None,
    cuda_graph: bool | str,
    precision: str,
    gram: bool | str,
) -> tuple[dict[str, Any], list[Any]]:
    """The course's loop: full-batch gradient descent, the cost recorded every ``COST_EVERY``
    iterations (printed with ``print_cost``), ``callback(state)`` after every iteration."""
    func, be, X = prepared.func, prepared.backend, prepared.X
    if callback is not None and not callable(callback):
        raise TypeError(f"{func}: callback must be callable, got {type(callback).__name__}")
    if cuda_graph not in (True, False, "auto"):
        raise ValueError(f"{func}: cuda_graph must be True, False or 'auto', got {cuda_graph!r}")
    if gram not in (True, False, "auto"):
        raise ValueError(f"{func}: gram must be True, False or 'auto', got {gram!r}")
    if gram is True and not be.supports_gram:
        raise ValueError(f"{func}: gram=True is not supported on the {be.name} backend")
    if precision not in PRECISIONS:
        raise ValueError(f"{func}: matmul_precision must be one of {PRECISIONS}, got {precision!r}")
    iterations, L = prepared.num_epochs - prepared.start, len(prepared.dims) - 1
    use_gram = gram is True or (gram == "auto" and be.supports_gram and GramStep.pays_off(X, L, iterations))
    callbacks = ([PrintCost(None)] if print_cost else []) + ([Checkpoint(callback)] if callback else [])
    parameters, history = train(
        prepared, callbacks, record_every=COST_EVERY, unit="iteration", gram=use_gram,
        cuda_graph=cuda_graph, matmul_precision=precision,
    )  # fmt: skip
    return parameters, host_costs(history["cost"])
