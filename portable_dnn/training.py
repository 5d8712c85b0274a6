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
    check_count,
    check_examples,
    check_finite,
    check_layer_dims,
    check_positive_float,
    check_real,
    check_shape,
    num_layers,
    shape_of,
)
from .backend import Backend, backend_of, get_backend, namespace_of, resolve_dtype
from .cost import warn_non_binary
from .engine import (
    GramStep,
    Network,
    Step,
    Trainer,
    TrainingDiverged,
    TrainingInterrupted,
    TrainingState,
    host_costs,
    new_state,
)
from .initialization import initialize_parameters, initialize_parameters_deep
from .model import L_model_forward
from .optim import GD

__all__ = [
    "L_layer_model",
    "TrainingDiverged",
    "TrainingInterrupted",
    "TrainingState",
    "accuracy",
    "predict",
    "two_layer_model",
]

#: Matrix-product precisions: exact float32, or TF32 tensor cores on GPUs.
PRECISIONS = ("strict", "tf32")

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
) -> tuple[dict[str, Any], list[float]]:
    """The course's LINEAR -> RELU -> LINEAR -> SIGMOID model, trained by gradient descent.

    ``layers_dims`` is ``(n_x, n_h, n_y)``; weights start as
    :func:`~portable_dnn.initialize_parameters` draws them (seed 1, ``randn * 0.01``).
    Returns ``(parameters, costs)`` with the cost at iterations 0, 100, 200, ... as
    Python floats.

    >>> from portable_dnn.datasets import default_dataset
    >>> X, Y, _, _ = default_dataset()
    >>> params, costs = two_layer_model(X, Y, (2, 4, 1), num_iterations=1, backend="numpy")
    >>> round(costs[0], 6)
    0.693132
    """
    func = "two_layer_model"
    dims = check_layer_dims(func, layers_dims, name="layers_dims")
    if len(dims) != 3:
        raise ValueError(f"{func}: layers_dims must be (n_x, n_h, n_y), got {list(layers_dims)!r}")
    be, X, Y = _prepare_data(func, X, Y, dims, backend, dtype)
    parameters = initialize_parameters(*dims, backend=be, dtype=X.dtype)
    return _train(
        func,
        be,
        X,
        Y,
        parameters,
        learning_rate,
        num_iterations,
        print_cost,
        start_iteration=0,
        costs=None,
        callback=callback,
        cuda_graph=cuda_graph,
        precision=matmul_precision,
        gram=gram,
        signals=signals,
    )


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
) -> tuple[dict[str, Any], list[float]]:
    """The course's [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID model, trained by gradient descent.

    Weights start as the course's application draws them: ``RandomState(seed)``
    with ``randn / sqrt(n[l-1])`` (``init="xavier"``, seed 1). Host data is moved
    to ``backend`` once and training runs there, in X's floating dtype (or
    ``dtype``); integer or boolean X (e.g. uint8 images) is cast to float64.
    Returns ``(parameters, costs)``: arrays of the backend (``to_numpy`` brings them
    home) and the cost at iterations 0, 100, 200, ... as Python floats.

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
    be, X, Y = _prepare_data(func, X, Y, dims, backend, dtype)
    if initial_parameters is None:
        parameters = initialize_parameters_deep(dims, init=init, seed=seed, backend=be, dtype=X.dtype)
    else:
        parameters = _check_initial(func, be, initial_parameters, dims, X.dtype)
    return _train(
        func,
        be,
        X,
        Y,
        parameters,
        learning_rate,
        num_iterations,
        print_cost,
        start_iteration=start_iteration,
        costs=costs,
        callback=callback,
        cuda_graph=cuda_graph,
        precision=matmul_precision,
        gram=gram,
        signals=signals,
    )


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
    X = _move(func, "X", be, X, W1.dtype)
    check_finite(func, "X", xp, X)
    probas, _ = L_model_forward(X, parameters)
    p = xp.astype(probas > 0.5, probas.dtype)
    if y is not None:
        y = _labels(func, be, y, shape_of(p), p.dtype, "y")  # checked even when not printed
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
    y = _labels(func, be, y, shape_of(predictions), predictions.dtype, "y")
    check_binary(func, "y", xp, y)
    hits = float(xp.sum(xp.astype(predictions == y, predictions.dtype)))
    return hits / math.prod(shape_of(predictions))


# ---------------------------------------------------------------- internals


def _move(func: str, name: str, be: Backend, x: Any, dtype: Any) -> Any:
    """``x`` on backend ``be`` as floating ``dtype``; host data is copied there once.

    x must hold real numbers: complex, string or object arrays are refused before any cast.
    """
    src = backend_of(x)
    if not src.is_host and type(src) is not type(be):
        raise TypeError(
            f"{func}: {name} is a {src.name} array but training runs on {be.name}; "
            f"pass host (NumPy) data or arrays of {be.name}"
        )
    check_array(func, name, x)
    check_real(func, name, x)
    if src.is_host:
        return be.asarray(x, dtype=dtype)
    xp = be.xp
    namespace_of(x, xp.asarray(0.0, device=be.device), func=func)
    return x if x.dtype == dtype else xp.astype(x, dtype)


def _labels(func: str, be: Backend, y: Any, shape: tuple[int, ...], dtype: Any, name: str = "Y") -> Any:
    if getattr(y, "ndim", 0) == 2:
        y = _move(func, name, be, y, dtype)
    else:
        y = _move_1d(func, be, y, dtype, name)
    if shape_of(y) != shape:
        raise ValueError(f"{func}: {name} has shape {shape_of(y)}, expected {shape} (one label per example)")
    return y


def _move_1d(func: str, be: Backend, y: Any, dtype: Any, name: str = "Y") -> Any:
    if not hasattr(y, "shape") or len(y.shape) != 1:
        raise ValueError(
            f"{func}: {name} must be a 1 x m array of labels, got {getattr(y, 'shape', type(y).__name__)}"
        )
    src = backend_of(y)
    xp = src.xp
    return _move(func, name, be, xp.reshape(y, (1, shape_of(y)[0])), dtype)


def _working_dtype(xp: Any, X: Any, dtype: Any) -> Any:
    if dtype is not None:
        return resolve_dtype(xp, dtype)
    name = str(X.dtype).rsplit(".", 1)[-1]
    return resolve_dtype(xp, name if name in ("float32", "float64") else "float64")


def _prepare_data(
    func: str, X: Any, Y: Any, dims: list[int], backend: Any, dtype: Any
) -> tuple[Backend, Any, Any]:
    check_array(func, "X", X)
    src = backend_of(X)
    be = get_backend(backend) if backend is not None or src.is_host else src
    be.check_dtype(dtype, func, like=X)
    xp = be.xp
    X = _move(func, "X", be, X, _working_dtype(xp, X, dtype))
    m = check_examples(func, "X", X)
    check_shape(func, "X", X, (dims[0], None), f"(layers_dims[0] = {dims[0]} features)")
    Y = _labels(func, be, Y, (1, m), X.dtype)
    check_finite(func, "X", xp, X)
    check_finite(func, "Y", xp, Y)
    # The course's own tests train on labels drawn from a normal distribution:
    # the course-named models compute its formula on them, and say so.
    warn_non_binary(func, xp, Y, stacklevel=4)
    if dims[-1] != 1:
        raise ValueError(f"{func}: the sigmoid output needs layers_dims[-1] = 1, got {dims[-1]}")
    return be, be.prepare_features(X), Y


def _check_initial(
    func: str, be: Backend, parameters: Mapping[str, Any], dims: list[int], dtype: Any
) -> dict[str, Any]:
    L = num_layers(func, parameters, name="initial_parameters")
    got = [shape_of(parameters["W1"])[1]] + [shape_of(parameters[f"W{l}"])[0] for l in range(1, L + 1)]
    if got != dims:
        raise ValueError(f"{func}: initial_parameters have layer sizes {got}, expected layers_dims {dims}")
    moved = {k: _move(func, f"initial_parameters[{k!r}]", be, v, dtype) for k, v in parameters.items()}
    xp = be.xp
    for key, value in moved.items():
        if not bool(xp.all(xp.isfinite(value))):
            raise ValueError(f"{func}: initial_parameters[{key!r}] contains NaN or infinity")
    return moved


def _train(
    func: str,
    be: Backend,
    X: Any,
    Y: Any,
    parameters: Mapping[str, Any],
    learning_rate: float,
    num_iterations: int,
    print_cost: bool,
    *,
    start_iteration: int,
    costs: Sequence[float] | None,
    callback: Callable[[TrainingState], None] | None,
    cuda_graph: bool | str,
    precision: str,
    gram: bool | str,
    signals: Sequence[int],
) -> tuple[dict[str, Any], list[float]]:
    lr = check_positive_float(func, "learning_rate", learning_rate)
    num_iterations = check_count(func, "num_iterations", num_iterations)
    start = check_count(func, "start_iteration", start_iteration)
    if start > num_iterations:
        raise ValueError(f"{func}: start_iteration {start} is past num_iterations {num_iterations}")
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
    network, L = Network("relu", "sigmoid"), len(parameters) // 2
    state = new_state(be.ops(X.dtype), parameters, GD())
    ops = be.ops(X.dtype)
    use_gram = gram is True or (
        gram == "auto" and be.supports_gram and GramStep.pays_off(X, L, num_iterations - start)
    )
    step = GramStep(ops, network, X, state[0]) if use_gram else Step(ops, network, GD())
    batch = ((X, Y), shape_of(X)[1])
    trainer = Trainer(
        func,
        be,
        step,
        state,
        batches=lambda epoch: (batch,),
        learning_rate=lambda epoch: lr,
        record_every=COST_EVERY,
        replay=True,
        cuda_graph=cuda_graph,
        unit="iteration",
        signals=signals,
    )
    trainer.costs = [float(c) for c in costs] if costs is not None else []

    def on_iteration(i: int, cost: float | None) -> None:
        if print_cost and cost is not None:
            print(f"Cost after iteration {i}: {cost}")
        if callback is not None:
            callback(TrainingState(i + 1, trainer.costs, trainer))

    with be.matmul_precision(precision, X.dtype):
        trainer.run(start, num_iterations, on_iteration)
    return trainer.parameters(), host_costs(trainer.costs)
