"""Training and prediction: the course application's ``two_layer_model``, ``L_layer_model`` and ``predict``.

The loop runs the step of :mod:`portable_dnn.train_step` on parameter buffers it
owns, on the backend chosen once at the start; host data is moved there once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._checks import (
    check_array,
    check_count,
    check_layer_dims,
    check_positive_float,
    check_shape,
    num_layers,
    shape_of,
)
from .backend import (
    Backend,
    backend_of,
    get_backend,
    matmul_precision,
    namespace_of,
    prepare_features,
    quiet_float_errors,
    resolve_dtype,
    step_runner,
    supports_gram_step,
    training_ops,
)
from .cost import check_binary_labels, cross_entropy
from .initialization import initialize_parameters, initialize_parameters_deep
from .model import L_model_forward
from .train_step import GramStep, TrainStep

#: The cost is recorded (and printed) every this many iterations, as in the course.
COST_EVERY = 100


class TrainingDiverged(FloatingPointError):
    """The cost became NaN or infinite; the message names the iteration."""


@dataclass
class TrainingState:
    """Where a training run stands, as handed to ``callback`` after each iteration."""

    iteration: int
    costs: list[float]
    _Ws: list[Any] = field(repr=False)
    _bs: list[Any] = field(repr=False)
    _xp: Any = field(repr=False)
    _sync: Callable[[], None] = field(repr=False, default=lambda: None)

    @property
    def last_cost(self) -> float | None:
        return self.costs[-1] if self.costs else None

    def snapshot(self) -> dict[str, Any]:
        """The current parameters as new arrays, safe to keep while training goes on."""
        self._sync()
        params: dict[str, Any] = {}
        for l, (W, b) in enumerate(zip(self._Ws, self._bs), start=1):
            params[f"W{l}"] = self._xp.asarray(W, copy=True)
            params[f"b{l}"] = self._xp.asarray(b, copy=True)
        return params


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; ``.state`` is the state after the last completed iteration."""

    def __init__(self, state: TrainingState) -> None:
        super().__init__(f"training interrupted after {state.iteration} iterations")
        self.state = state


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
) -> tuple[dict[str, Any], list[float]]:
    """The course's LINEAR -> RELU -> LINEAR -> SIGMOID model, trained by gradient descent.

    ``layers_dims`` is ``(n_x, n_h, n_y)``; weights start as
    :func:`~portable_dnn.initialize_parameters` draws them (seed 1, ``randn * 0.01``).
    Returns ``(parameters, costs)`` with the cost at iterations 0, 100, 200, ...

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
) -> tuple[dict[str, Any], list[float]]:
    """The course's [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID model, trained by gradient descent.

    Weights start as the course's application draws them: ``RandomState(seed)``
    with ``randn / sqrt(n[l-1])`` (``init="xavier"``, seed 1). Host data is moved
    to ``backend`` once and training runs there, in X's floating dtype (or
    ``dtype``); integer or boolean X (e.g. uint8 images) is cast to float64.
    Returns ``(parameters, costs)``: arrays of the backend (``to_numpy`` brings them
    home) and the cost at iterations 0, 100, 200, ...

    To resume, pass ``initial_parameters``, ``start_iteration`` and the ``costs``
    recorded so far: iterations ``start_iteration .. num_iterations - 1`` then run
    exactly as they would have without the interruption. ``callback(state)`` runs
    after every iteration. Ctrl-C raises :class:`TrainingInterrupted` holding the
    state after the last completed iteration. On the torch backend on a CUDA GPU
    the step is captured once and replayed as a CUDA graph (``cuda_graph``);
    ``matmul_precision="tf32"`` lets float32 products use TF32 tensor cores on GPUs.

    >>> from portable_dnn.datasets import default_dataset
    >>> X, Y, _, _ = default_dataset()
    >>> params, costs = L_layer_model(X, Y, [2, 5, 3, 1], num_iterations=201, backend="numpy")
    >>> len(costs), costs[-1] < costs[0]
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
    )


def predict(X: Any, y: Any, parameters: Mapping[str, Any], print_accuracy: bool = True) -> Any:
    """0/1 predictions (a 1 x m array) of the network; prints ``Accuracy: ...`` when ``y`` is given.

    X may be host data; it is moved to the parameters' backend.

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
    X = _move(func, "X", be, X, W1.dtype)
    probas, _ = L_model_forward(X, parameters)
    xp = be.xp
    p = xp.astype(probas > 0.5, probas.dtype)
    if y is not None:
        y = _labels(func, be, y, shape_of(p), p.dtype)  # checked even when not printed
        if print_accuracy:
            print("Accuracy: " + str(float(xp.sum(xp.astype(p == y, p.dtype)) / shape_of(p)[1])))
    return p


def accuracy(predictions: Any, y: Any) -> float:
    """Fraction of predictions equal to the labels ``y``.

    >>> import numpy as np
    >>> accuracy(np.array([[1.0, 0.0]]), np.array([[1, 1]]))
    0.5
    """
    be = backend_of(predictions)
    y = _labels("accuracy", be, y, shape_of(predictions), predictions.dtype)
    xp = be.xp
    return float(xp.mean(xp.astype(predictions == y, predictions.dtype)))


# ---------------------------------------------------------------- internals


def _move(func: str, name: str, be: Backend, x: Any, dtype: Any) -> Any:
    """``x`` on backend ``be`` as floating ``dtype``; host data is copied there once."""
    src = backend_of(x)
    if src.name != be.name and src.name != "numpy":
        raise TypeError(
            f"{func}: {name} is a {src.name} array but training runs on {be.name}; "
            f"pass host (NumPy) data or arrays of {be.name}"
        )
    check_array(func, name, x)
    if src.name == "numpy":
        return be.asarray(x, dtype=dtype)
    xp = be.xp
    namespace_of(x, xp.asarray(0.0, device=be.device), func=func)
    return x if x.dtype == dtype else xp.astype(x, dtype)


def _labels(func: str, be: Backend, y: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    y = _move(func, "Y", be, y, dtype) if getattr(y, "ndim", 0) == 2 else _move_1d(func, be, y, dtype)
    if shape_of(y) != shape:
        raise ValueError(f"{func}: Y has shape {shape_of(y)}, expected {shape} (one label per example)")
    return y


def _move_1d(func: str, be: Backend, y: Any, dtype: Any) -> Any:
    if not hasattr(y, "shape") or len(y.shape) != 1:
        raise ValueError(
            f"{func}: Y must be a 1 x m array of labels, got {getattr(y, 'shape', type(y).__name__)}"
        )
    src = backend_of(y)
    xp = src.xp
    return _move(func, "Y", be, xp.reshape(y, (1, shape_of(y)[0])), dtype)


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
    be = get_backend(backend) if backend is not None or src.name == "numpy" else src
    xp = be.xp
    X = _move(func, "X", be, X, _working_dtype(xp, X, dtype))
    n_x, m = shape_of(X)
    if m == 0:
        raise ValueError(f"{func}: X has no examples (shape {shape_of(X)})")
    check_shape(func, "X", X, (dims[0], None), f"(layers_dims[0] = {dims[0]} features)")
    Y = _labels(func, be, Y, (1, m), X.dtype)
    if not bool(xp.all(xp.isfinite(X))):
        raise ValueError(f"{func}: X contains NaN or infinity")
    check_binary_labels(func, xp, Y)
    if dims[-1] != 1:
        raise ValueError(f"{func}: the sigmoid output needs layers_dims[-1] = 1, got {dims[-1]}")
    return be, prepare_features(be, X), Y


def _check_initial(
    func: str, be: Backend, parameters: Mapping[str, Any], dims: list[int], dtype: Any
) -> dict[str, Any]:
    L = num_layers(func, parameters, name="initial_parameters")
    got = [shape_of(parameters["W1"])[1]] + [shape_of(parameters[f"W{l}"])[0] for l in range(1, L + 1)]
    if got != dims:
        raise ValueError(f"{func}: initial_parameters have layer sizes {got}, expected layers_dims {dims}")
    return {k: _move(func, f"initial_parameters[{k!r}]", be, v, dtype) for k, v in parameters.items()}


class _InterruptFlag:
    """Defers Ctrl-C to the end of the current iteration, so parameters are never half-updated."""

    def __init__(self) -> None:
        self.pressed = False
        self.previous: Any = None

    def __enter__(self) -> _InterruptFlag:
        # Only where Ctrl-C would raise KeyboardInterrupt: a program that ignores
        # SIGINT (nohup) or handles it itself keeps its choice.
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.pressed = True

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


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
) -> tuple[dict[str, Any], list[float]]:
    lr = check_positive_float(func, "learning_rate", learning_rate)
    num_iterations = check_count(func, "num_iterations", num_iterations)
    start = check_count(func, "start_iteration", start_iteration)
    if start > num_iterations:
        raise ValueError(f"{func}: start_iteration {start} is past num_iterations {num_iterations}")
    if callback is not None and not callable(callback):
        raise TypeError(f"{func}: callback must be callable, got {type(callback).__name__}")
    xp = be.xp
    L = len(parameters) // 2
    # The loop updates its own copies in place; the caller's arrays stay as they were.
    Ws = [xp.asarray(parameters[f"W{l}"], copy=True) for l in range(1, L + 1)]
    bs = [xp.asarray(parameters[f"b{l}"], copy=True) for l in range(1, L + 1)]
    history = [float(c) for c in costs] if costs is not None else []
    if gram not in (True, False, "auto"):
        raise ValueError(f"{func}: gram must be True, False or 'auto', got {gram!r}")
    if gram is True and not supports_gram_step(be):
        raise ValueError(f"{func}: gram=True is not supported on the {be.name} backend")
    use_gram = gram is True or (
        gram == "auto" and supports_gram_step(be) and GramStep.pays_off(X, Ws, num_iterations - start)
    )
    step = (GramStep if use_gram else TrainStep)(training_ops(be, X.dtype), X, Y, Ws, bs, lr)
    state = TrainingState(start, history, Ws, bs, xp, step.sync)
    run = step_runner(be, step, cuda_graph)
    check_every = COST_EVERY if be.is_gpu else 1
    with matmul_precision(be, precision, X.dtype), quiet_float_errors(be), _InterruptFlag() as interrupt:
        for i in range(start, num_iterations):
            AL = run()
            # On the CPU the check is cheap enough to name the exact iteration; on a
            # GPU it would synchronise every step, so it waits for the recorded ones.
            if i % check_every == 0 and not bool(xp.all(xp.isfinite(AL))):
                raise TrainingDiverged(
                    f"{func}: the cost became NaN or infinite at iteration {i}"
                    + (f" (it was finite at iteration {i - check_every})" if check_every > 1 and i else "")
                    + f"; try a smaller learning_rate than {lr}"
                )
            if i % COST_EVERY == 0:
                cost = float(cross_entropy(xp, AL, Y))
                history.append(cost)
                if print_cost:
                    print(f"Cost after iteration {i}: {cost}")
            state.iteration = i + 1
            if callback is not None:
                callback(state)
            if interrupt.pressed:
                raise TrainingInterrupted(state)
    step.sync()
    if num_iterations > start and not all(bool(xp.all(xp.isfinite(W))) for W in Ws):
        raise TrainingDiverged(
            f"{func}: the parameters became NaN or infinite by iteration {num_iterations - 1}; "
            f"try a smaller learning_rate than {lr}"
        )
    result: dict[str, Any] = {}
    for l in range(L):
        result[f"W{l + 1}"], result[f"b{l + 1}"] = step.Ws[l], step.bs[l]
    return result, history
