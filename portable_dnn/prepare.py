"""The one way into training: the user's data and settings, checked once, as a :class:`PreparedRun`.

:func:`prepare` resolves the backend and its namespace once, chooses the float dtype
(:func:`~portable_dnn.data.working_dtype`), moves and lays out X, the labels, the sample weights
and the validation data (given, or a seeded share held out), and builds the starting state, new or
resumed. :func:`portable_dnn.run.train` runs what it returns. :func:`~portable_dnn.fit`, the
estimators and the command line all start here.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from ._checks import (
    check_activation,
    check_array,
    check_count,
    check_examples,
    check_finite,
    check_layer_dims,
    check_positive_float,
    check_seed,
    check_shape,
    num_layers,
    shape_of,
)
from .backend import Backend
from .cost import warn_non_binary
from .data import (
    move_array,
    move_features,
    move_labels,
    move_row,
    move_weights,
    pick_backend,
    some_weight,
    split_columns,
    working_dtype,
)
from .engine import HIDDEN, OUTPUTS, Network, new_state
from .initialization import INITS, initialize_parameters_deep
from .optim import GD, Optimizer
from .optim import optimizer as _optimizer
from .optim import settings as optimizer_settings
from .optimizers import check_decay_rate
from .regularization import check_keep_prob, check_lambd
from .resume import resume_state
from .schedules import Constant, InverseTimeDecay

__all__ = [
    "PRECISIONS",
    "PreparedRun",
    "check_choice",
    "check_initial",
    "prepare",
    "prepare_course",
    "scheduled",
]


@dataclasses.dataclass
class PreparedRun:
    """Everything a training run needs, checked and on its backend.

    ``X`` ``(n_x, m)``, ``Y`` and ``W`` (``(1, m)`` sample weights or None; ``host_W`` the same as
    host float64 ``(m,)``) are laid out for the loop; ``X_val``, ``Y_val``, ``W_val`` the
    validation data (None without). ``state`` is the engine's ``[parameters, *slots]``;
    ``start``, ``t`` and ``costs`` where the run begins (a resumed run continues). ``rate(epoch)``
    gives each epoch's learning rate; ``settings`` is the record ``history["settings"]`` keeps.
    """

    func: str
    backend: Backend
    dtype: Any
    dims: list[int]
    network: Network
    optimizer: Optimizer
    X: Any
    Y: Any
    W: Any
    host_W: np.ndarray | None
    X_val: Any
    Y_val: Any
    W_val: Any
    state: list[list[Any]]
    rate: Callable[[int], float]
    num_epochs: int
    batch_size: int | None = None
    seed: int = 0
    start: int = 0
    t: int = 0
    costs: list[float] = dataclasses.field(default_factory=list)
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: Whether each epoch's step is the same call (full batch, a fixed rate, no dropout, no bias
    #: correction), so a backend may capture it once and replay it.
    same_step: bool = False
    replay: bool | str = "auto"
    signals: Sequence[int] = ()


def check_choice(func: str, name: str, value: Any, allowed: Sequence[str]) -> str:
    """``value`` when it is one of ``allowed``; else a ValueError naming them."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{func}: {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


#: :func:`~portable_dnn.fit`'s keywords that report on a run (its callbacks) rather than shape it.
REPORTS = (
    "early_stopping_patience",
    "print_cost",
    "progress",
    "metrics",
    "callback",
    "checkpoint",
    "callbacks",
)


def run_keywords(given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` over :func:`~portable_dnn.fit`'s defaults for the keywords that shape a run (fit's
    signature is their one declaration); one fit does not take, or one of :data:`REPORTS`, is refused.

    >>> run_keywords({"num_epochs": 3})["num_epochs"], run_keywords({})["optimizer"]
    (3, 'gd')
    """
    from .fit import fit  # fit is prepare, then train

    table = {
        name: p.default
        for name, p in inspect.signature(fit).parameters.items()
        if p.kind is p.KEYWORD_ONLY and name not in REPORTS
    }
    for name in given:
        if name not in table:
            raise TypeError(f"prepare() got an unexpected keyword argument {name!r}")
    return {**table, **given}


def prepare(func: str, X: Any, Y: Any, layers_dims: Sequence[int], **keywords: Any) -> PreparedRun:
    """The run :func:`~portable_dnn.fit` describes, checked, with its data on the backend and its
    starting state. ``keywords`` are fit's, with fit's defaults, but for the :data:`REPORTS`.

    >>> import numpy as np
    >>> run = prepare("fit", np.random.randn(2, 5), np.array([[0, 1, 1, 0, 1]]), [2, 3, 1], num_epochs=3)
    >>> run.X.shape, run.Y.shape, run.rate(2), run.num_epochs
    ((2, 5), (1, 5), 0.0007, 3)
    """
    kw = SimpleNamespace(**run_keywords(keywords))
    dims = check_layer_dims(func, layers_dims, name="layers_dims")
    check_activation(func, kw.hidden_activation, HIDDEN)
    check_choice(func, "output", kw.output, OUTPUTS)
    check_choice(func, "init", kw.init, INITS)
    # The optimizer's hyperparameters, given one by one (None: the optimizer's own value).
    known = optimizer_settings()
    hypers = {name: value for name, value in vars(kw).items() if name in known}
    opt = _optimizer(kw.optimizer, func, **hypers)
    num_epochs = check_count(func, "num_epochs", kw.num_epochs, 1)
    rate, lr0 = _rate(func, kw.learning_rate, kw.decay_rate, kw.time_interval)
    batch_size = None if kw.batch_size is None else check_count(func, "batch_size", kw.batch_size, 1)
    lambd, keep_prob = check_lambd(func, kw.lambd), check_keep_prob(func, kw.keep_prob)
    _check_validation(func, kw.validation_data, kw.validation_fraction)
    # Epoch e's mini-batches are shuffled with seed + e + 1, which NumPy needs below 2**32.
    why = (
        f" (epoch e shuffles with seed + e + 1 and NumPy's seeds stop at 2**32 - 1; num_epochs={num_epochs})"
    )
    seed = check_seed(func, "seed", kw.seed, num_epochs, why)
    init_seed = seed if kw.init_seed is None else check_seed(func, "init_seed", kw.init_seed)
    replay, scale_dz_first = kw.replay, kw.scale_dz_first
    if not (isinstance(replay, bool) or (isinstance(replay, str) and replay == "auto")):
        raise ValueError(f"{func}: replay must be 'auto', True or False, got {replay!r}")
    if not isinstance(scale_dz_first, bool):
        raise TypeError(f"{func}: scale_dz_first must be True or False, got {scale_dz_first!r}")
    be = pick_backend(func, X, kw.backend)
    if replay is True and not be.replays_epochs:
        raise ValueError(
            f"{func}: replay=True needs a backend that runs a whole epoch as one program (jax), "
            f"not {be.name}; use replay='auto' or False"
        )
    be.check_dtype(kw.dtype, func, like=X)
    network = Network(kw.hidden_activation, kw.output, keep_prob, lambd, scale_dz_first)
    data = _move_data(func, be, X, Y, kw.sample_weight, dims, kw.dtype, kw.output, kw.validation_data,
                      kw.validation_fraction, seed)  # fmt: skip
    float_dtype = data["X"].dtype
    ops = be.ops(float_dtype)
    if kw.resume is None:
        parameters = initialize_parameters_deep(
            dims, init=kw.init, seed=init_seed, backend=be, dtype=float_dtype
        )
        costs: list[float] = []
        state, start, t = new_state(ops, parameters, opt), 0, 0
    else:
        state, start, t, costs = resume_state(func, be, kw.resume, dims, opt, float_dtype, num_epochs)
        state = [ops.pack(group) for group in state]
    others = {"batch_size": batch_size, "init": kw.init, "seed": seed, "decay_rate": float(kw.decay_rate)}
    same_step = (batch_size is None and isinstance(rate, Constant) and keep_prob == 1
                 and opt.name not in ("adam", "adamw"))  # fmt: skip
    return PreparedRun(
        func, be, float_dtype, dims, network, opt, **data, state=state, rate=rate, num_epochs=num_epochs,
        batch_size=batch_size, seed=seed, start=start, t=t, costs=costs,
        settings=_settings(opt, network, lr0, others), same_step=same_step, replay=replay, signals=kw.signals,
    )  # fmt: skip


#: Matrix-product precisions: exact float32, or TF32 tensor cores on GPUs.
PRECISIONS = ("strict", "tf32")


def prepare_course(
    func: str,
    X: Any,
    Y: Any,
    dims: list[int],
    start_parameters: Callable[[Backend, Any], Mapping[str, Any]],
    *,
    learning_rate: float,
    num_iterations: int,
    backend: str | Backend | None = None,
    dtype: Any = None,
    start_iteration: int = 0,
    costs: Sequence[float] | None = None,
    signals: Sequence[int] = (),
) -> PreparedRun:
    """The course's models' run: full-batch gradient descent on the sigmoid output, one iteration an
    epoch; labels other than 0/1 are trained on with a warning (the course's own tests draw them
    from a normal distribution). ``start_parameters(backend, dtype)`` gives the first weights.

    >>> import numpy as np
    >>> from portable_dnn.initialization import initialize_parameters_deep as deep
    >>> run = prepare_course("L_layer_model", np.ones((2, 3)), np.array([[0, 1, 1]]), [2, 1],
    ...                      lambda be, dtype: deep([2, 1], backend=be, dtype=dtype),
    ...                      learning_rate=0.1, num_iterations=5)
    >>> run.X.dtype, run.num_epochs, run.rate(4)
    (dtype('float64'), 5, 0.1)
    """
    check_array(func, "X", X)
    be = pick_backend(func, X, backend)
    be.check_dtype(dtype, func, like=X)
    xp = be.xp
    X = move_array(func, "X", be, X, None)
    target = working_dtype(xp, X, dtype)
    # One copy of C-ordered data: cast straight into the loop's layout, or laid out as it is.
    X = be.prepare_features(be.cast_features(X, target) if X.dtype != target else X)
    m = check_examples(func, "X", X)
    check_shape(func, "X", X, (dims[0], None), f"(layers_dims[0] = {dims[0]} features)")
    Y = move_row(func, be, Y, (1, m), X.dtype)
    check_finite(func, "X", xp, X)
    check_finite(func, "Y", xp, Y)
    warn_non_binary(func, xp, Y, stacklevel=4)
    if dims[-1] != 1:
        raise ValueError(f"{func}: the sigmoid output needs layers_dims[-1] = 1, got {dims[-1]}")
    lr = check_positive_float(func, "learning_rate", learning_rate)
    num_iterations = check_count(func, "num_iterations", num_iterations)
    start = check_count(func, "start_iteration", start_iteration)
    if start > num_iterations:
        raise ValueError(f"{func}: start_iteration {start} is past num_iterations {num_iterations}")
    parameters = start_parameters(be, X.dtype)
    opt = GD()
    return PreparedRun(
        func, be, X.dtype, dims, Network("relu", "sigmoid"), opt, X, Y, None, None,
        None, None, None, state=new_state(be.ops(X.dtype), parameters, opt), rate=Constant(learning_rate=lr),
        num_epochs=num_iterations, start=start, costs=[float(c) for c in costs] if costs is not None else [],
        same_step=True, signals=signals,
    )  # fmt: skip


def check_initial(
    func: str, be: Backend, parameters: Mapping[str, Any], dims: list[int], dtype: Any
) -> dict[str, Any]:
    """``initial_parameters`` of the network ``dims`` on ``be`` as ``dtype``, checked: finite."""
    L = num_layers(func, parameters, name="initial_parameters")
    got = [shape_of(parameters["W1"])[1]] + [shape_of(parameters[f"W{l}"])[0] for l in range(1, L + 1)]
    if got != dims:
        raise ValueError(f"{func}: initial_parameters have layer sizes {got}, expected layers_dims {dims}")
    moved = {k: move_array(func, f"initial_parameters[{k!r}]", be, v, dtype) for k, v in parameters.items()}
    xp = be.xp
    for key, value in moved.items():
        if not bool(xp.all(xp.isfinite(value))):
            raise ValueError(f"{func}: initial_parameters[{key!r}] contains NaN or infinity")
    return moved


def _rate(
    func: str, learning_rate: Any, decay_rate: Any, time_interval: Any
) -> tuple[Callable[[int], float], float | None]:
    """Each epoch's rate (a schedule), and the number ``learning_rate`` (None for a callable)."""
    decay_rate = check_decay_rate(func, decay_rate)
    if time_interval is not None:
        time_interval = check_count(func, "time_interval", time_interval, 1)
    if callable(learning_rate):
        if decay_rate != 0 or time_interval is not None:
            raise ValueError(
                f"{func}: decay_rate and time_interval decay a number learning_rate; "
                "a callable learning_rate gives each epoch's rate itself"
            )
        return learning_rate, None
    lr0 = check_positive_float(func, "learning_rate", learning_rate)
    if decay_rate == 0:
        return Constant(learning_rate=lr0), lr0
    return InverseTimeDecay(learning_rate=lr0, decay_rate=decay_rate, time_interval=time_interval), lr0


def scheduled(func: str, schedule: Callable[[int], Any], epoch: int) -> float:
    """``schedule(epoch)`` as a float, checked: a positive finite number."""
    rate = schedule(epoch)
    if type(rate) is float and 0 < rate < math.inf:  # the common case, without the ABC checks below
        return rate
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not (0 < float(rate) < math.inf):
        raise ValueError(
            f"{func}: learning_rate({epoch}) returned {rate!r} for epoch {epoch}; "
            "it must return a positive finite number"
        )
    return float(rate)


def _check_validation(func: str, validation_data: Any, validation_fraction: float) -> None:
    if (
        isinstance(validation_fraction, bool)
        or not isinstance(validation_fraction, numbers.Real)
        or not (0 <= validation_fraction < 1)
    ):
        raise ValueError(
            f"{func}: validation_fraction must be a number in [0, 1), got {validation_fraction!r}"
        )
    if validation_data is not None and validation_fraction > 0:
        raise ValueError(f"{func}: give validation_data or validation_fraction, not both")


def _move_data(
    func: str,
    be: Backend,
    X: Any,
    Y: Any,
    sample_weight: Any,
    dims: list[int],
    dtype: Any,
    output: str,
    validation_data: Any,
    validation_fraction: float,
    seed: int,
) -> dict[str, Any]:
    """X, Y, the weights and the validation data on ``be``, checked and laid out for the loop."""
    X, float_dtype = move_features(func, be, X, dtype, "X", dims[0])
    m = shape_of(X)[1]
    Y = move_labels(func, be, Y, float_dtype, output, dims[-1], m, "Y")
    W = None if sample_weight is None else move_weights(func, be, sample_weight, float_dtype, m)
    W_val = X_val = Y_val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError(f"{func}: validation_data must be a pair (X_val, Y_val)")
        X_val, _ = move_features(func, be, validation_data[0], float_dtype, "validation_data[0]", dims[0])
        m_val = shape_of(X_val)[1]
        Y_val = move_labels(func, be, validation_data[1], float_dtype, output, dims[-1], m_val,
                            "validation_data[1]")  # fmt: skip
    elif validation_fraction > 0:
        (X, Y, W), (X_val, Y_val, W_val) = split_columns(func, be, (X, Y, W), validation_fraction, seed)
        if W is not None:
            some_weight(func, be.xp, W, "training ")
            some_weight(func, be.xp, W_val, "held-out ")
    if W is None:
        X, Y = be.prepare_examples(be.prepare_features(X), Y)
    else:
        X, Y, W = be.prepare_examples(be.prepare_features(X), Y, W)
    if X_val is not None:
        X_val, Y_val = be.prepare_examples(X_val, Y_val)
    host_W = None if W is None else np.asarray(be.to_host(W), dtype=np.float64).reshape(-1)
    return {"X": X, "Y": Y, "W": W, "host_W": host_W, "X_val": X_val, "Y_val": Y_val, "W_val": W_val}


def _settings(
    opt: Optimizer, network: Network, learning_rate: float | None, others: Mapping[str, Any]
) -> dict[str, Any]:
    """What the network is and how it was trained: the record a model file keeps
    (:func:`~portable_dnn.as_trained`). A callable learning rate (None here) is not recorded."""
    return {
        "hidden_activation": network.hidden,
        "output": network.output,
        "optimizer": opt.name,
        **({} if learning_rate is None else {"learning_rate": learning_rate}),
        **opt.get_params(),
        "lambd": network.lambd,
        "keep_prob": network.keep_prob,
        **others,
    }
