"""Training loop: the course's ``model(...)`` with every option of the second course in one place.

:func:`fit` runs [LINEAR -> hidden activation (-> dropout)] x (L-1) -> LINEAR ->
SIGMOID or SOFTMAX, with (mini-batch) gradient descent, momentum or Adam (and
Nesterov momentum, RMSprop, AdamW, gradient clipping by global norm), learning-rate
decay or a schedule, L2 regularization, inverted dropout, a validation set and
early stopping. It is built from the library's layers, costs and optimizers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import array_api_compat
import numpy as np

from ._checks import (
    check_activation,
    check_array,
    check_binary,
    check_count,
    check_examples,
    check_finite,
    check_layer_dims,
    check_one_hot,
    check_positive_float,
    check_real,
    check_seed,
    check_shape,
    first_bad,
    is_array,
    num_layers,
    shape_of,
)
from .backend import (
    Backend,
    backend_of,
    get_backend,
    host_random_state,
    index_dtype,
    namespace_of,
    resolve_dtype,
    to_numpy,
)
from .backend.base import dtype_name
from .batches import Epoch
from .engine import (
    HIDDEN,
    OUTPUTS,
    Network,
    Step,
    Trainer,
    TrainingState,
    flatten,
    new_state,
)
from .initialization import INITS, initialize_parameters_deep
from .optim import GD, Optimizer
from .optim import optimizer as _optimizer
from .optimizers import _check_decay, schedule_lr_decay, update_lr
from .regularization import _check_keep_prob, _check_lambd, host_mask
from .reporting import check_metrics, progress_bar_class, score
from .softmax import _one_hot

PRINT_EVERY = 1000


def forward_proba(
    X: Any, parameters: Mapping[str, Any], *, hidden_activation: str = "relu", output: str | None = None
) -> Any:
    """The network's output ``AL`` for ``X`` (no dropout): ``(units, m)`` probabilities, or values
    for ``output="identity"``.

    ``output=None`` means ``"sigmoid"`` for a one-unit last layer, else ``"softmax"``.

    >>> import numpy as np
    >>> p = {"W1": np.ones((2, 3)), "b1": np.zeros((2, 1))}
    >>> forward_proba(np.zeros((3, 1)), p, output="softmax")
    array([[0.5],
           [0.5]])
    """
    return _forward_proba("forward_proba", X, parameters, hidden_activation, output)[0]


def _forward_proba(
    func: str, X: Any, parameters: Mapping[str, Any], hidden_activation: str, output: str | None
) -> tuple[Any, str]:
    check_activation(func, hidden_activation, HIDDEN)
    L = num_layers(func, parameters)
    if output is None:
        output = "sigmoid" if shape_of(parameters[f"W{L}"])[0] == 1 else "softmax"
    _check_choice(func, "output", output, OUTPUTS)
    check_array(func, "X", X)
    n_x = shape_of(parameters["W1"])[1]
    check_shape(func, "X", X, (n_x, None), f"(features must equal W1's columns, {n_x})")
    xp = namespace_of(X, *parameters.values(), func=func)
    check_real(func, "X", X)
    W1 = parameters["W1"]
    if X.dtype != W1.dtype:
        X = xp.astype(X, W1.dtype)  # the parameters' dtype, as predict does
    check_finite(func, "X", xp, X)
    be = backend_of(W1)
    step = Step(be.ops(X.dtype), Network(hidden_activation, output), GD())
    return step.forward(flatten(parameters), X), output


def predict_labels(
    X: Any, parameters: Mapping[str, Any], *, hidden_activation: str = "relu", output: str | None = None
) -> Any:
    """Predictions, one column per example: the class index ``(1, m)`` (``AL > 0.5`` for sigmoid,
    the column argmax for softmax), 0/1 per unit ``(units, m)`` (``AL > 0.5``, multilabel), or
    the values ``AL`` themselves (identity).

    ``output`` as in :func:`forward_proba`.

    >>> import numpy as np
    >>> p = {"W1": np.array([[1.0], [-1.0]]), "b1": np.zeros((2, 1))}
    >>> predict_labels(np.array([[-2.0, 3.0]]), p)
    array([[1, 0]])
    >>> predict_labels(np.array([[-2.0, 3.0]]), p, output="multilabel")
    array([[0, 1],
           [1, 0]])
    """
    AL, output = _forward_proba("predict_labels", X, parameters, hidden_activation, output)
    return labels_of(namespace_of(AL), AL, output)


def labels_of(xp: Any, AL: Any, output: str) -> Any:
    """The predictions :func:`predict_labels` reads from the network's output ``AL`` ``(units, m)``."""
    if output == "identity":
        return AL
    if output == "softmax":
        return xp.argmax(AL, axis=0, keepdims=True)
    return xp.astype(AL > 0.5, index_dtype(xp))


# ------------------------------------------------------------------ the loop


def fit(
    X: Any,
    Y: Any,
    layers_dims: Sequence[int],
    *,
    sample_weight: Any = None,
    hidden_activation: str = "relu",
    output: str = "sigmoid",
    init: str = "he",
    optimizer: str | Optimizer = "gd",
    learning_rate: float | Callable[[int], float] = 0.0007,
    batch_size: int | None = None,
    num_epochs: int = 5000,
    beta: float | None = None,
    beta1: float | None = None,
    beta2: float | None = None,
    epsilon: float | None = None,
    rho: float | None = None,
    weight_decay: float | None = None,
    clip_norm: float | None = None,
    lambd: float = 0.0,
    keep_prob: float = 1.0,
    scale_dz_first: bool = False,
    decay_rate: float = 0.0,
    time_interval: int | None = None,
    validation_data: tuple[Any, Any] | None = None,
    validation_fraction: float = 0.0,
    early_stopping_patience: int | None = None,
    seed: int = 0,
    init_seed: int | None = None,
    backend: str | Backend | None = None,
    dtype: Any = None,
    print_cost: bool | int = False,
    progress: bool = False,
    metrics: Sequence[str] = (),
    callback: Callable[[int, dict[str, Any], dict[str, Any]], Any] | None = None,
    resume: Mapping[str, Any] | None = None,
    checkpoint: Callable[[TrainingState], None] | None = None,
    signals: Sequence[int] = (),
    replay: bool | str = "auto",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train a network on ``X`` (features, m) and ``Y``; return ``(parameters, history)``.

    Data: ``X`` and ``Y`` may be host NumPy arrays (moved once to ``backend``,
    default: the selected backend) or arrays of any backend (used there when
    ``backend`` is None). Integer or bool ``X`` is cast to the float ``dtype``
    (default: X's own float dtype, else float64). ``output="sigmoid"`` takes 0/1
    labels ``(1, m)``/``(m,)`` and ``layers_dims[-1] == 1``; ``"softmax"`` takes
    class indices or one-hot ``(C, m)`` labels with ``layers_dims[-1] == C``;
    ``"multilabel"`` (independent sigmoid units, cross-entropy summed over them) takes
    0/1 labels ``(k, m)`` with ``layers_dims[-1] == k``; ``"identity"`` (a linear
    output, cost ``J = 1/(2m) sum ||AL - Y||^2``) takes finite real targets ``(k, m)``
    (``(m,)`` also when ``k == 1``).

    Weights: ``sample_weight`` ``(m,)`` or ``(1, m)`` (host NumPy or X's library; finite,
    >= 0, not all zero) multiplies each example's loss by its weight: a mini-batch's cost,
    and so its gradients, is ``sum(w_i * loss_i) / sum(w_i)`` over its examples; a batch
    whose weights are all zero contributes no gradient; the L2 term keeps its form. Integer
    weights train as those examples repeated would (full batch), weight 0 as the example
    left out. ``validation_fraction`` holds out the weights with their examples and weighs
    ``val_cost`` with them; ``validation_data`` is not weighted.

    Training: weights from ``initialize_parameters_deep(layers_dims, init=init,
    seed=init_seed)`` (``init_seed`` defaults to ``seed``; the course's
    "Optimization methods" model is ``init_seed=3, seed=10``); ``batch_size=None``
    is full batch, else the mini-batches of
    ``random_mini_batches(..., seed=seed + epoch + 1)`` (so ``seed + num_epochs``
    may not pass 2**32 - 1, NumPy's largest seed); ``optimizer`` is an optimizer object
    (:mod:`portable_dnn.optim`: ``Adam(beta2=0.99)``) or a name, which means that optimizer
    with its own defaults: ``"gd"``, ``"momentum"`` or ``"nesterov"`` (``beta``),
    ``"rmsprop"`` (``rho``, ``epsilon``), ``"adam"``, ``"adamw"`` (``beta1``, ``beta2``,
    ``epsilon``; AdamW's decoupled ``weight_decay``, on every weight and bias) or
    ``"nadam"``; ``t`` counts mini-batches. The keywords ``beta`` ... ``clip_norm`` set the
    optimizer's hyperparameters one by one (None: its own value); one the optimizer does not
    read is refused. docs/training.md gives each one's formula. ``clip_norm`` scales each step's gradients
    (after the L2 term) by ``min(1, clip_norm / (norm + 1e-6))``, ``norm`` the 2-norm of
    all of them together. ``decay_rate > 0`` decays the rate after each epoch, as the
    course's model does: epoch 0 trains with ``learning_rate``, epoch ``e >= 1`` with
    ``update_lr(learning_rate, e - 1, decay_rate)``, or with
    ``schedule_lr_decay(learning_rate, e - 1, decay_rate, time_interval)`` when
    ``time_interval`` is given; ``learning_rate`` may instead be a callable: epoch ``e``
    (from 0) trains at ``learning_rate(e)``, which must be a positive finite number.
    ``lambd`` adds the L2 term (with m the mini-batch's size) to cost and
    gradients; ``keep_prob < 1`` applies inverted dropout after every hidden layer.
    ``scale_dz_first`` divides the output's ``dZ`` by m before the products
    (``dW = dZ A^T``), as the second course's notebooks do, where the first course
    divides the products (``dW = 1/m dZ A^T``): the same gradients, rounded in the notebooks'
    order (the notebooks' models train with it).

    History: ``history["cost"]`` holds one training cost per epoch: the
    size-weighted mean of the mini-batch costs seen during that epoch (with
    dropout and the L2 term, as the course records it; with ``sample_weight``,
    weighted by each mini-batch's total weight instead).
    ``history["settings"]`` records the network (``hidden_activation``, ``output``) and how it
    was trained (``optimizer`` and its hyper-parameters, ``learning_rate``, ``batch_size``,
    ...), for :func:`~portable_dnn.as_trained` and the model file. With
    ``validation_data=(X_val, Y_val)`` or ``validation_fraction`` (a seeded
    random share of the columns held out), ``history["val_cost"]`` holds the
    cost on it after every epoch (no dropout, no L2).
    ``early_stopping_patience=k`` stops after k epochs without a lower
    ``val_cost`` and returns the best epoch's parameters (``history["best_epoch"]``).
    ``print_cost`` prints every 1000 epochs (or every ``print_cost`` epochs if an
    int); ``callback(epoch, parameters, history)`` runs after every epoch and
    stops training by returning True. ``progress=True`` shows a progress bar over the
    epochs (tqdm's ``tqdm.auto``, which needs ``pip install tqdm``) with the last cost
    (and validation cost) beside it. ``metrics`` names scores recorded after every
    epoch from the network's output without dropout: ``"accuracy"`` (sigmoid, softmax
    and multilabel outputs; multilabel counts an example right when all its labels are,
    scikit-learn's subset accuracy) and ``"r2"`` (identity: ``1 - SS_res / SS_tot``
    averaged over the targets, scikit-learn's ``r2_score``), in ``history[name]`` on
    the training data and ``history["val_" + name]`` on the validation data (``"val_"``
    before a name asks for the validation score alone, saving the training data's forward
    pass); each epoch's scores are read to the host together, and none is computed unless
    asked for.

    Ctrl-C (and the signals in ``signals``, e.g. ``(signal.SIGTERM,)``) ends
    training after the current epoch with :class:`~portable_dnn.TrainingInterrupted`,
    whose ``state`` can be saved; ``resume={"parameters": ..., "v": ..., "s": ...,
    "t": ..., "epoch": ..., "costs": [...]}`` (``state.snapshot()``,
    ``state.optimizer_state()``, ``state.iteration`` and ``state.costs``; the slots are
    those the optimizer keeps: ``v`` for momentum and Nesterov, ``s`` for RMSprop, both
    for Adam and AdamW)
    continues from it, ending where the uninterrupted run would;
    ``checkpoint(state)`` runs after every epoch with that state, to save it.

    ``replay="auto"`` runs each epoch as one compiled program where the backend
    can (JAX: a ``lax.scan`` of the step over the epoch's mini-batches, the same
    batches, masks and results as step by step); ``replay=False`` dispatches
    every mini-batch's step from Python on every backend; ``replay=True``
    requires the compiled epoch and refuses a backend without one.

    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0, 2.0, 3.0]]); Y = np.array([[0, 0, 1, 1]])
    >>> params, history = fit(X, Y, [1, 1], optimizer="adam", learning_rate=0.1, num_epochs=200,
    ...                       backend="numpy")
    >>> len(history["cost"]), history["cost"][-1] < history["cost"][0]
    (200, True)
    >>> predict_labels(X, params).tolist()
    [[0, 0, 1, 1]]
    """
    func = "fit"
    dims = check_layer_dims(func, layers_dims, name="layers_dims")
    check_activation(func, hidden_activation, HIDDEN)
    _check_choice(func, "output", output, OUTPUTS)
    _check_choice(func, "init", init, INITS)
    opt = _optimizer(
        optimizer,
        func,
        beta=beta,
        beta1=beta1,
        beta2=beta2,
        epsilon=epsilon,
        rho=rho,
        weight_decay=weight_decay,
        clip_norm=clip_norm,
    )
    schedule = learning_rate if callable(learning_rate) else None
    lr0 = 0.0 if schedule is not None else check_positive_float(func, "learning_rate", learning_rate)
    num_epochs = check_count(func, "num_epochs", num_epochs, 1)
    if batch_size is not None:
        batch_size = check_count(func, "batch_size", batch_size, 1)
    lambd = _check_lambd(func, lambd)
    keep_prob = _check_keep_prob(func, keep_prob)
    decay_rate = _check_decay(func, decay_rate)
    if time_interval is not None:
        time_interval = check_count(func, "time_interval", time_interval, 1)
    if schedule is not None and (decay_rate != 0 or time_interval is not None):
        raise ValueError(
            f"{func}: decay_rate and time_interval decay a number learning_rate; "
            "a callable learning_rate gives each epoch's rate itself"
        )
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
    if early_stopping_patience is not None:
        early_stopping_patience = check_count(func, "early_stopping_patience", early_stopping_patience, 1)
        if validation_data is None and validation_fraction == 0:
            raise ValueError(
                f"{func}: early_stopping_patience needs validation_data or validation_fraction > 0 to monitor"
            )
    # Epoch e's mini-batches are shuffled with seed + e + 1, which NumPy needs below 2**32.
    seed = check_seed(
        func,
        "seed",
        seed,
        num_epochs,
        f" (epoch e shuffles with seed + e + 1 and NumPy's seeds stop at 2**32 - 1; num_epochs={num_epochs})",
    )
    init_seed = seed if init_seed is None else check_seed(func, "init_seed", init_seed)
    every = _print_every(func, print_cost)
    if not isinstance(progress, bool):
        raise TypeError(f"{func}: progress must be True or False, got {progress!r}")
    bar_class = progress_bar_class(func) if progress else None
    validation = validation_data is not None or validation_fraction > 0
    metric_keys = check_metrics(func, metrics, output, validation)
    if not (isinstance(replay, bool) or (isinstance(replay, str) and replay == "auto")):
        raise ValueError(f"{func}: replay must be 'auto', True or False, got {replay!r}")
    for name, hook in (("callback", callback), ("checkpoint", checkpoint)):
        if hook is not None and not callable(hook):
            raise TypeError(f"{func}: {name} must be callable, got {type(hook).__name__}")

    be = _pick_backend(X, backend)
    if replay is True and not be.replays_epochs:
        raise ValueError(
            f"{func}: replay=True needs a backend that runs a whole epoch as one program (jax), "
            f"not {be.name}; use replay='auto' or False"
        )
    be.check_dtype(dtype, func, like=X)
    X, float_dtype = _move_X(func, be, X, dtype, "X", dims[0])
    Y = _move_Y(func, be, Y, float_dtype, output, dims[-1], shape_of(X)[1], "Y")
    W = None if sample_weight is None else _move_weights(func, be, sample_weight, float_dtype, shape_of(X)[1])
    W_val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError(f"{func}: validation_data must be a pair (X_val, Y_val)")
        X_val, _ = _move_X(func, be, validation_data[0], float_dtype, "validation_data[0]", dims[0])
        Y_val = _move_Y(
            func,
            be,
            validation_data[1],
            float_dtype,
            output,
            dims[-1],
            shape_of(X_val)[1],
            "validation_data[1]",
        )
    elif validation_fraction > 0:
        (X, Y, W), (X_val, Y_val, W_val) = _split(func, be, (X, Y, W), validation_fraction, seed)
        if W is not None:
            _some_weight(func, be.xp, W, "training ")
            _some_weight(func, be.xp, W_val, "held-out ")
    else:
        X_val = Y_val = None

    if W is None:
        X, Y = be.prepare_examples(be.prepare_features(X), Y)
    else:
        X, Y, W = be.prepare_examples(be.prepare_features(X), Y, W)
    if X_val is not None:
        X_val, Y_val = be.prepare_examples(X_val, Y_val)
    if not isinstance(scale_dz_first, bool):
        raise TypeError(f"{func}: scale_dz_first must be True or False, got {scale_dz_first!r}")
    network = Network(hidden_activation, output, keep_prob, lambd, scale_dz_first)
    step = Step(be.ops(float_dtype), network, opt, weighted=W is not None)
    host_W = None if W is None else np.asarray(be.to_host(W), dtype=np.float64).reshape(-1)
    val_weights = None if W_val is None else step.ops.batch_weights(W_val)
    if resume is None:
        parameters = initialize_parameters_deep(
            dims, init=init, seed=init_seed, backend=be, dtype=float_dtype
        )
        state = new_state(step.ops, parameters, opt)
        start, t, costs = 0, 0, []
    else:
        state, start, t, costs = _resume_state(func, be, resume, dims, opt, float_dtype, num_epochs)
        state = [step.ops.pack(group) for group in state]
    L = len(dims) - 1

    def batches(epoch: int) -> Epoch:
        m = shape_of(X)[1]
        order = None if batch_size is None else host_random_state(seed + epoch + 1).permutation(m)
        masks = None
        if keep_prob < 1:
            # Each epoch's masks from their own seeded stream, so a resumed run draws what it would have.
            rng = np.random.RandomState([seed, epoch])

            def masks(m_b: int) -> list[np.ndarray]:
                return [host_mask(rng, (dims[l], m_b), keep_prob) for l in range(1, L)]

        return Epoch(be, X, Y, order, batch_size or m, float_dtype, masks, replay=replay is not False,
                     weights=W, host_weights=host_W)  # fmt: skip

    def learning_rate_of(epoch: int) -> float:
        if schedule is not None:
            return _scheduled(func, schedule, epoch)
        # The course's model() decays after each epoch: epoch 0 trains with lr0, epoch e >= 1 with
        # the rate that decay gives after epoch e - 1.
        if decay_rate == 0 or epoch == 0:
            return lr0
        if time_interval is None:
            return update_lr(lr0, epoch - 1, decay_rate)
        return schedule_lr_decay(lr0, epoch - 1, decay_rate, time_interval)

    trainer = Trainer(
        func,
        be,
        step,
        state,
        batches=batches,
        learning_rate=learning_rate_of,
        # Every call the same: a backend may capture the step once and replay it.
        replay=batch_size is None
        and decay_rate == 0
        and schedule is None
        and keep_prob == 1
        and optimizer not in ("adam", "adamw"),
        t=t,
        signals=signals,
    )
    trainer.costs = costs
    others = {"batch_size": batch_size, "init": init, "seed": seed, "decay_rate": float(decay_rate)}
    settings = _settings(opt, network, lr0 if schedule is None else None, others)
    history: dict[str, Any] = {"cost": trainer.costs, "settings": settings}
    if X_val is not None:
        history["val_cost"] = []
    for key in metric_keys:
        history[key] = []
    best: list[Any] = []  # [val_cost, epoch, parameters] of the best epoch so far

    def on_epoch(epoch: int, cost: float | None) -> bool:
        # Copies: a callback may keep them while training goes on.
        parameters = trainer.parameters(copy=True) if X_val is not None or callback is not None else None
        if X_val is not None:
            AL = step.forward(flatten(parameters), X_val)  # type: ignore[arg-type]
            val_cost = float(step.ops.cost(AL, Y_val, output, val_weights))
            history["val_cost"].append(val_cost)
        if metric_keys:
            val = (AL if X_val is not None else None, Y_val, W_val)
            _record_metrics(metric_keys, step, trainer, (X, Y, W), val, history)
        if bar is not None:
            shown = {"cost": f"{trainer.costs[-1]:.6f}"}
            if X_val is not None:
                shown["val_cost"] = f"{history['val_cost'][-1]:.6f}"
            bar.set_postfix(shown, refresh=False)
            bar.update(1)
        if every and (epoch % every == 0 or epoch == num_epochs - 1):
            extra = f", validation cost {history['val_cost'][-1]:f}" if X_val is not None else ""
            print(f"Cost after epoch {epoch}: {cost:f}{extra}")
        stop = callback is not None and callback(epoch, parameters, history) is True
        if checkpoint is not None:
            checkpoint(TrainingState(epoch + 1, trainer.costs, trainer))
        if early_stopping_patience is not None:
            if not best or val_cost < best[0]:
                best[:] = [val_cost, epoch, parameters]
            elif epoch - best[1] >= early_stopping_patience:
                stop = True
        return stop

    bar = None if bar_class is None else bar_class(total=num_epochs, initial=start, unit="epoch", desc=func)
    try:
        trainer.run(start, num_epochs, on_epoch)
    finally:
        if bar is not None:
            bar.close()
    if best:
        history["best_epoch"] = best[1]
        return best[2], history
    return trainer.parameters(), history


# ------------------------------------------------------------------ helpers


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


def _check_choice(func: str, name: str, value: Any, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{func}: {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def _record_metrics(
    keys: Sequence[str],
    step: Step,
    trainer: Trainer,
    train: tuple[Any, Any, Any],
    val: tuple[Any, Any, Any],
    history: dict[str, Any],
) -> None:
    """The epoch's scores ``keys`` (``name`` on the training data ``(X, Y, weights)``, ``"val_" + name``
    on the validation data's ``(AL, Y, weights)``), appended to ``history`` after one read from the
    device; weighted examples count by their weights, as in the costs."""
    xp, output = step.ops.xp, step.network.output
    AL = None
    values = []
    for key in keys:
        if key.startswith("val_"):
            values.append(score(xp, key[4:], *val[:2], output, val[2]))
            continue
        if AL is None:  # the training data's forward pass, only for a training score
            AL = step.forward(flatten(trainer.parameters()), train[0])
        values.append(score(xp, key, AL, train[1], output, train[2]))
    for key, value in zip(keys, trainer.runner.fetch(values)):
        history[key].append(float(value))


def _scheduled(func: str, schedule: Callable[[int], Any], epoch: int) -> float:
    """``schedule(epoch)`` as a float, checked: a positive finite number."""
    rate = schedule(epoch)
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not (0 < float(rate) < math.inf):
        raise ValueError(
            f"{func}: learning_rate({epoch}) returned {rate!r} for epoch {epoch}; "
            "it must return a positive finite number"
        )
    return float(rate)


def _print_every(func: str, print_cost: Any) -> int:
    if isinstance(print_cost, bool):
        return PRINT_EVERY if print_cost else 0
    return check_count(func, "print_cost", print_cost, 1)


def _pick_backend(X: Any, backend: Any) -> Backend:
    """``backend`` when given; else X's own library and device; else (host data) the selected default."""
    if backend is not None or not is_array(X) or array_api_compat.is_numpy_array(X):
        return get_backend(backend)
    namespace_of(X, func="fit")
    return backend_of(X)


def _resume_state(
    func: str,
    be: Backend,
    resume: Mapping[str, Any],
    dims: list[int],
    opt: Optimizer,
    dtype: Any,
    epochs: int,
) -> tuple[list[list[Any]], int, int, list[float]]:
    """The engine's state, first epoch, Adam's step count and costs of a run to continue, each checked
    against the network and naming the part of ``resume`` at fault."""
    if not isinstance(resume, Mapping) or "parameters" not in resume:
        raise TypeError(f"{func}: resume must be a dict with 'parameters', 'epoch', 't' and 'costs'")
    params = resume["parameters"]
    L = num_layers(func, params, name="resume['parameters']")
    got = [shape_of(params["W1"])[1]] + [shape_of(params[f"W{l}"])[0] for l in range(1, L + 1)]
    if got != dims:
        raise ValueError(f"{func}: resume['parameters'] have layer sizes {got}, expected layers_dims {dims}")
    epoch = check_count(func, "resume['epoch']", resume.get("epoch"))
    t = check_count(func, "resume['t']", resume.get("t", 0))
    if t > MAX_STEPS:
        shown = t if t < 10**20 else f"an integer of {len(str(t))} digits"
        raise ValueError(f"{func}: resume['t'] counts the optimizer's steps, at most 2**53; got {shown}")
    if epoch > epochs:
        raise ValueError(f"{func}: resume['epoch'] {epoch} is past num_epochs {epochs}")
    costs = _resume_costs(func, resume.get("costs", []), epoch)
    names = opt.slots
    for name in names:
        if not isinstance(resume.get(name), Mapping):
            raise ValueError(f"{func}: resume has no {name!r} for the {opt.name} optimizer")
    state = [_resume_group(func, be, "parameters", params, "", params, dtype)]
    state += [
        _resume_group(func, be, name, resume[name], "d", params, dtype, name in opt.scalar_slots)
        for name in names
    ]
    return state, epoch, t, costs


#: The most optimizer steps a resumed state may count: a float64 counts integers exactly up to it.
MAX_STEPS = 2**53


def _resume_group(
    func: str,
    be: Backend,
    name: str,
    group: Mapping[str, Any],
    prefix: str,
    params: Mapping[str, Any],
    dtype: Any,
    scalar: bool = False,
) -> list[Any]:
    """``resume[name]``'s arrays (keys ``prefix + "W1"``, ...) on ``be`` as ``dtype``, in the engine's
    order, each checked: real, finite and shaped as its parameter in ``params`` (shape () for a
    ``scalar`` slot)."""
    keys = [f"{p}{l}" for l in range(1, num_layers(func, params) + 1) for p in ("W", "b")]
    values = []
    for key in keys:
        label, shape = f"resume[{name!r}][{prefix + key!r}]", () if scalar else shape_of(params[key])
        if prefix + key not in group:
            raise ValueError(f"{func}: resume[{name!r}] has no {prefix + key!r}; it needs one array per "
                             f"parameter: {', '.join(repr(prefix + k) for k in keys)}")  # fmt: skip
        value = _host_checked(func, label, group[prefix + key])
        check_array(func, label, value, ndim=None)
        if shape_of(value) != shape:
            raise ValueError(f"{func}: {label} has shape {shape_of(value)}; the parameters need {shape}")
        value = _to(be, value, dtype)
        check_finite(func, label, be.xp, value)
        values.append(value)
    return values


def _resume_costs(func: str, costs: Any, epoch: int) -> list[float]:
    """``resume['costs']``: one finite number per epoch done."""
    if isinstance(costs, (str, bytes)) or not isinstance(costs, Sequence) or len(costs) != epoch:
        raise ValueError(f"{func}: resume['costs'] must hold one cost per epoch done ({epoch})")
    for i, cost in enumerate(costs):
        real = isinstance(cost, numbers.Real) or (is_array(cost) and shape_of(cost) == ())
        if isinstance(cost, bool) or not real or not math.isfinite(float(cost)):
            raise ValueError(f"{func}: resume['costs'][{i}] must be a finite number, got {cost!r}")
    return [float(c) for c in costs]


def _to(be: Backend, a: Any, dtype: Any = None) -> Any:
    """``a`` (host data or an array of any library) on ``be``, as ``dtype`` when given."""
    if is_array(a) and not array_api_compat.is_numpy_array(a):
        try:
            same = namespace_of(a) is be.xp and str(array_api_compat.device(a)) == str(be.device)
        except (TypeError, ValueError):
            same = False
        if same:
            a = be.known_sizes(a)
            return a if dtype is None or a.dtype == dtype else be.xp.astype(a, dtype)
        a = to_numpy(a)
    return be.asarray(a, dtype=dtype)


def _host_checked(func: str, name: str, a: Any) -> Any:
    """``a`` as an array of real numbers, checked where it is (host lists become NumPy arrays first)."""
    if isinstance(a, (list, tuple)):
        a = np.asarray(a)
    if is_array(a):
        check_real(func, name, a)
    return a


def _move_X(func: str, be: Backend, X: Any, dtype: Any, name: str, n_x: int) -> tuple[Any, Any]:
    """X on ``be`` as a floating dtype (``dtype``, else X's own float dtype, else float64), checked:
    real numbers (no complex, string or object arrays, refused before any cast), n_x
    features, at least one example, no NaN or infinity."""
    X = _to(be, _host_checked(func, name, X))
    check_array(func, name, X)
    xp = be.xp
    if dtype is None:
        dtype = X.dtype if X.dtype in (xp.float32, xp.float64) else xp.float64
    target = resolve_dtype(xp, dtype)
    if X.dtype != target:
        X = be.cast_features(X, target)
    check_shape(func, name, X, (n_x, None), f"(features must equal layers_dims[0], {n_x})")
    check_examples(func, name, X)
    check_finite(func, name, xp, X)
    return X, target


def _move_Y(func: str, be: Backend, Y: Any, dtype: Any, output: str, n_y: int, m: int, name: str) -> Any:
    """Y on ``be`` as ``dtype``: ``(1, m)`` labels 0/1 (sigmoid), ``(n_y, m)`` one-hot (softmax),
    ``(n_y, m)`` labels 0/1 (multilabel) or ``(n_y, m)`` finite targets (identity)."""
    xp = be.xp
    Y = _to(be, _host_checked(func, name, Y))
    check_array(func, name, Y, ndim=None)
    shape = shape_of(Y)
    if output == "sigmoid":
        if n_y != 1:
            raise ValueError(
                f"{func}: output='sigmoid' needs layers_dims[-1] == 1, got {n_y}; "
                "output='multilabel' takes several 0/1 labels per example"
            )
        if shape not in ((m,), (1, m)):
            raise ValueError(f"{func}: {name} has shape {shape}, expected (1, {m}) or ({m},) labels 0/1")
        Y = xp.astype(xp.reshape(Y, (1, m)), dtype)
        check_binary(func, name, xp, Y)
        return Y
    if output in ("multilabel", "identity"):
        what = "labels 0/1" if output == "multilabel" else "real targets"
        if shape != (n_y, m) and not (n_y == 1 and shape == (m,)):
            alternative = f" or ({m},)" if n_y == 1 else ""
            raise ValueError(
                f"{func}: {name} has shape {shape}, expected ({n_y}, {m}){alternative} {what} "
                f"(layers_dims[-1] = {n_y} units, {m} examples)"
            )
        Y = xp.astype(xp.reshape(Y, (n_y, m)), dtype)
        if output == "multilabel":
            check_binary(func, name, xp, Y)
        else:
            check_finite(func, name, xp, Y)
        return Y
    if n_y < 2:
        raise ValueError(f"{func}: output='softmax' needs layers_dims[-1] >= 2 classes, got {n_y}")
    if shape == (n_y, m):
        Y = xp.astype(Y, dtype)
        check_one_hot(func, name, xp, Y)
        return Y
    if shape not in ((m,), (1, m)):
        raise ValueError(
            f"{func}: {name} has shape {shape}, expected class indices ({m},) or (1, {m}), "
            f"or one-hot ({n_y}, {m})"
        )
    return _one_hot(func, xp, Y, n_y, dtype, name)


def _split(
    func: str, be: Backend, arrays: Sequence[Any], fraction: float, seed: int
) -> tuple[list[Any], list[Any]]:
    """``arrays`` (X, Y, weights or None) as their training and held-out columns, one permutation."""
    m = shape_of(arrays[0])[1]
    n_val = math.ceil(fraction * m)
    if not 0 < n_val < m:
        raise ValueError(
            f"{func}: validation_fraction={fraction} leaves no training or no validation examples of {m}"
        )
    perm = host_random_state(seed).permutation(m)
    train, held = ([None if A is None else be.take_columns(A, index) for A in arrays]
                   for index in (perm[n_val:], perm[:n_val]))  # fmt: skip
    return train, held


def _move_weights(func: str, be: Backend, w: Any, dtype: Any, m: int) -> Any:
    """``sample_weight`` on ``be`` as ``(1, m)`` of ``dtype``, checked: an array (or list) of real
    numbers, one per example, finite, >= 0 and not all zero; divided by its largest weight (in
    float64, on the host), so that no sum of weights overflows or underflows whatever their scale
    (the weighted means, and so training, do not change)."""
    name = "sample_weight"
    w = _host_checked(func, name, w)
    if not is_array(w):
        raise TypeError(
            f"{func}: {name} must be an array of {m} weights (one per example), got {type(w).__name__}"
        )
    w = np.asarray(to_numpy(w), dtype=np.float64)  # computed where lazy: its sizes become known
    if w.shape not in ((m,), (1, m)):
        raise ValueError(
            f"{func}: {name} has shape {w.shape}, expected ({m},) or (1, {m}): one weight per example"
        )
    w = w.reshape(1, m)
    check_finite(func, name, np, w)
    bad = first_bad(np, w, w >= 0)
    if bad is not None:
        raise ValueError(f"{func}: {name} must be >= 0, found {bad[1]!r} at [{bad[0][1]}]")
    _some_weight(func, np, w, "")
    w = w / w.max()
    _check_weight_range(func, w, dtype)
    return be.asarray(w, dtype=dtype)


def _check_weight_range(func: str, w: np.ndarray, dtype: Any) -> None:
    """Refuse weights (largest 1) so much smaller than the largest that, in ``dtype``, a batch of them
    alone would sum to less than its size over the largest float: its mean weight would overflow."""
    positive = w[w > 0]
    smallest = float(positive.min())
    floor = w.shape[1] / float(np.finfo(dtype_name(dtype)).max)
    if smallest < floor:
        raise ValueError(
            f"{func}: sample_weight spans too wide a range for {dtype_name(dtype)}: its smallest weight "
            f"above zero is {smallest:.3g} times its largest, below {floor:.3g}; "
            "set such weights to 0 or train in float64"
        )


def _some_weight(func: str, xp: Any, w: Any, which: str) -> None:
    """Refuse weights that are all zero (a weighted mean over nothing)."""
    if not bool(xp.max(w) > 0):
        raise ValueError(
            f"{func}: sample_weight is zero for every {which}example; at least one needs a weight > 0"
        )
