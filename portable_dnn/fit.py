"""The course's ``model(...)`` with every option of the second course in one place, and predictions.

:func:`fit` runs [LINEAR -> hidden activation (-> dropout)] x (L-1) -> LINEAR ->
SIGMOID or SOFTMAX, with (mini-batch) gradient descent, momentum or Adam (and
Nesterov momentum, RMSprop, AdamW, gradient clipping by global norm), learning-rate
decay or a schedule, L2 regularization, inverted dropout, a validation set and
early stopping. It is :func:`portable_dnn.prepare.prepare` (the data and settings checked
and moved once) then :func:`portable_dnn.run.train` (the one assembly of a run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._checks import (
    check_activation,
    check_array,
    check_finite,
    check_real,
    check_shape,
    num_layers,
    shape_of,
)
from .backend import Backend, backend_of, index_dtype, namespace_of
from .callbacks import from_keywords
from .engine import HIDDEN, OUTPUTS, Network, Step, TrainingState, flatten
from .optim import GD, Optimizer
from .prepare import check_choice, prepare
from .run import train

__all__ = ["fit", "forward_proba", "labels_of", "predict_labels"]


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
    check_choice(func, "output", output, OUTPUTS)
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
    xp = namespace_of(AL)
    # A NaN output would read as class 0 (NaN > 0.5 is false): refused, never a silent label.
    check_finite("predict_labels", "the network's output (are the parameters finite?)", xp, AL)
    return labels_of(xp, AL, output)


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
    callbacks: Sequence[Any] = (),
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
    (from 0) trains at ``learning_rate(e)``, which must be a positive finite number, such as a
    schedule object of :mod:`portable_dnn.schedules` (``CosineWarmup(...)``).
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
    stops training by returning True; ``callbacks=[...]`` are objects with
    ``on_epoch_end(epoch, logs)`` (:mod:`portable_dnn.callbacks`; True stops the run), run after
    those the keywords make (``ReduceLROnPlateau`` among them). ``progress=True`` shows a
    progress bar over the epochs (tqdm's ``tqdm.auto``, which needs ``pip install tqdm``) with the last cost
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
    validation = validation_data is not None or validation_fraction > 0
    hooks = from_keywords(
        func, output=output, validation=validation, metrics=metrics, progress=progress,
        print_cost=print_cost, callback=callback, checkpoint=checkpoint,
        early_stopping_patience=early_stopping_patience, callbacks=callbacks,
    )  # fmt: skip
    prepared = prepare(
        func, X, Y, layers_dims, sample_weight=sample_weight, hidden_activation=hidden_activation,
        output=output, init=init, optimizer=optimizer, beta=beta, beta1=beta1, beta2=beta2, epsilon=epsilon,
        rho=rho, weight_decay=weight_decay, clip_norm=clip_norm, learning_rate=learning_rate,
        batch_size=batch_size, num_epochs=num_epochs, lambd=lambd, keep_prob=keep_prob,
        scale_dz_first=scale_dz_first, decay_rate=decay_rate, time_interval=time_interval,
        validation_data=validation_data, validation_fraction=validation_fraction, seed=seed,
        init_seed=init_seed, backend=backend, dtype=dtype, resume=resume, signals=signals, replay=replay,
    )  # fmt: skip
    return train(prepared, hooks)
