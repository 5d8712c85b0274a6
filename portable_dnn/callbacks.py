"""What runs after each epoch of training, as small objects the trainer composes (Keras-style).

A callback is any object with ``on_epoch_end(epoch, logs) -> bool | None``: returning True stops
the run after that epoch. It may also have ``on_train_begin(run)`` and ``on_train_end(run)``,
given the :class:`~portable_dnn.run.Run` (its ``prepared`` data and settings, ``trainer``,
``history``, and ``snapshot()``, a copy of the current parameters). ``logs`` holds the epoch's
``"cost"`` (None where the loop does not record it), its learning rate ``"lr"``, and what the
callbacks before it added (``"val_cost"``, the metrics).

:func:`~portable_dnn.fit` maps its keywords onto the objects below (``metrics`` ->
:class:`Metrics`, ``early_stopping_patience`` -> :class:`EarlyStopping`, ...) and runs the
objects given in ``callbacks=[...]`` after them, in order; a learning-rate callback
(:class:`~portable_dnn.schedules.ReduceLROnPlateau`) is one of those.

>>> from portable_dnn import fit
>>> from portable_dnn.datasets import default_dataset
>>> X, Y, _, _ = default_dataset()
>>> class StopAt:
...     def on_epoch_end(self, epoch, logs):
...         return logs["cost"] < 0.69
>>> _, history = fit(X, Y, [2, 4, 1], learning_rate=0.5, num_epochs=100, callbacks=[StopAt()])
>>> len(history["cost"]) < 100
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._checks import check_count
from .engine import TrainingState, flatten
from .reporting import check_metrics, progress_bar_class, score

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "EpochFunction",
    "Metrics",
    "PrintCost",
    "ProgressBar",
    "ValidationCost",
    "from_keywords",
]

#: fit's ``print_cost=True`` prints every this many epochs.
PRINT_EVERY = 1000


class Callback:
    """A base with nothing to do at each hook; ``on_train_begin`` keeps the run as ``self.run``."""

    run: Any = None

    def on_train_begin(self, run: Any) -> None:
        self.run = run

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> bool | None:
        return None

    def on_train_end(self, run: Any) -> None:
        return None


class ValidationCost(Callback):
    """The cost on the validation data after every epoch (no dropout, no L2; weighted by the held-out
    weights), in ``history["val_cost"]`` and ``logs["val_cost"]``; the run keeps the network's output
    on it (``run.val_output``) for :class:`Metrics`."""

    def on_train_begin(self, run: Any) -> None:
        super().on_train_begin(run)
        run.history["val_cost"] = []
        W_val = run.prepared.W_val
        self.weights = None if W_val is None else run.step.ops.batch_weights(W_val)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        run, prepared = self.run, self.run.prepared
        AL = run.step.forward(flatten(run.snapshot()), prepared.X_val)
        run.val_output = AL
        value = float(run.step.ops.cost(AL, prepared.Y_val, prepared.network.output, self.weights))
        run.history["val_cost"].append(value)
        logs["val_cost"] = value


class Metrics(Callback):
    """The scores ``keys`` (:func:`~portable_dnn.reporting.check_metrics`'s history keys) after every
    epoch: ``name`` on the training data, ``"val_" + name`` on the validation data's output (from
    :class:`ValidationCost`, which must come first); one read from the device per epoch."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(keys)

    def on_train_begin(self, run: Any) -> None:
        super().on_train_begin(run)
        for key in self.keys:
            run.history[key] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        run, prepared = self.run, self.run.prepared
        xp, output = run.step.ops.xp, prepared.network.output
        AL = None
        values = []
        for key in self.keys:
            if key.startswith("val_"):
                values.append(score(xp, key[4:], run.val_output, prepared.Y_val, output, prepared.W_val))
                continue
            if AL is None:  # the training data's forward pass, only for a training score
                AL = run.step.forward(flatten(run.trainer.parameters()), prepared.X)
            values.append(score(xp, key, AL, prepared.Y, output, prepared.W))
        for key, value in zip(self.keys, run.trainer.runner.fetch(values)):
            run.history[key].append(float(value))
            logs[key] = float(value)


class ProgressBar(Callback):
    """A progress bar over the epochs (tqdm's ``tqdm.auto``) with the last cost and validation cost."""

    def __init__(self, func: str = "fit") -> None:
        self.bar_class = progress_bar_class(func)  # refused now, not after training, without tqdm
        self.bar: Any = None

    def on_train_begin(self, run: Any) -> None:
        super().on_train_begin(run)
        p = run.prepared
        self.bar = self.bar_class(total=p.num_epochs, initial=p.start, unit="epoch", desc=p.func)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        shown = {"cost": f"{self.run.trainer.costs[-1]:.6f}"}
        if "val_cost" in logs:
            shown["val_cost"] = f"{logs['val_cost']:.6f}"
        self.bar.set_postfix(shown, refresh=False)
        self.bar.update(1)

    def on_train_end(self, run: Any) -> None:
        if self.bar is not None:
            self.bar.close()


class PrintCost(Callback):
    """Prints ``Cost after epoch e: c`` (and the validation cost) every ``every`` epochs and after the
    last; ``every=None`` prints every recorded cost in full, as the course's loops do
    (``Cost after iteration i: c``)."""

    def __init__(self, every: int | None = PRINT_EVERY) -> None:
        self.every = None if every is None else check_count("PrintCost", "every", every, 1)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        cost, unit = logs["cost"], self.run.trainer.unit
        if self.every is None:
            if cost is not None:
                print(f"Cost after {unit} {epoch}: {cost}")
            return
        if epoch % self.every == 0 or epoch == self.run.prepared.num_epochs - 1:
            extra = f", validation cost {logs['val_cost']:f}" if "val_cost" in logs else ""
            print(f"Cost after {unit} {epoch}: {cost:f}{extra}")


class EpochFunction(Callback):
    """``function(epoch, parameters, history)`` after every epoch (the parameters a copy it may keep);
    returning True stops the run. :func:`~portable_dnn.fit`'s ``callback``."""

    def __init__(self, function: Callable[[int, dict[str, Any], dict[str, Any]], Any]) -> None:
        self.function = function

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> bool:
        return self.function(epoch, self.run.snapshot(), self.run.history) is True


class Checkpoint(Callback):
    """``save(state)`` after every epoch with the :class:`~portable_dnn.TrainingState` (``snapshot()``,
    ``optimizer_state()``, ``iteration``, ``costs``) a run resumes from."""

    def __init__(self, save: Callable[[TrainingState], Any]) -> None:
        self.save = save

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        trainer = self.run.trainer
        self.save(TrainingState(epoch + 1, trainer.costs, trainer))


class EarlyStopping(Callback):
    """Stops after ``patience`` epochs without a lower ``val_cost``; the run then returns the best
    epoch's parameters and records ``history["best_epoch"]``."""

    def __init__(self, patience: int) -> None:
        self.patience = check_count("EarlyStopping", "patience", patience, 1)
        self.best: list[Any] = []  # [val_cost, epoch, parameters] of the best epoch so far

    def on_train_begin(self, run: Any) -> None:
        super().on_train_begin(run)
        self.best = []
        if run.prepared.X_val is None:
            raise ValueError(
                f"{run.prepared.func}: early_stopping_patience needs validation_data or "
                "validation_fraction > 0 to monitor"
            )

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> bool:
        value = logs["val_cost"]
        if not self.best or value < self.best[0]:
            self.best = [value, epoch, self.run.snapshot()]
        return epoch - self.best[1] >= self.patience

    def on_train_end(self, run: Any) -> None:
        if self.best:
            run.history["best_epoch"] = self.best[1]
            run.result = self.best[2]


def from_keywords(
    func: str,
    *,
    output: str,
    validation: bool,
    metrics: Sequence[str] = (),
    progress: bool = False,
    print_cost: bool | int = False,
    callback: Callable[..., Any] | None = None,
    checkpoint: Callable[[TrainingState], Any] | None = None,
    early_stopping_patience: int | None = None,
    callbacks: Sequence[Any] = (),
) -> list[Any]:
    """:func:`~portable_dnn.fit`'s reporting keywords as callbacks, checked, then ``callbacks``."""
    keys = check_metrics(func, metrics, output, validation)
    if not isinstance(progress, bool):
        raise TypeError(f"{func}: progress must be True or False, got {progress!r}")
    for name, hook in (("callback", callback), ("checkpoint", checkpoint)):
        if hook is not None and not callable(hook):
            raise TypeError(f"{func}: {name} must be callable, got {type(hook).__name__}")
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Sequence):
        raise TypeError(f"{func}: callbacks must be a list of callback objects, got {callbacks!r}")
    for cb in callbacks:
        if not callable(getattr(cb, "on_epoch_end", None)):
            raise TypeError(f"{func}: a callback needs an on_epoch_end(epoch, logs) method, got {cb!r}")
    made: list[Any] = [Metrics(keys)] if keys else []
    if progress:
        made.append(ProgressBar(func))
    every = (
        PRINT_EVERY
        if print_cost is True
        else 0
        if print_cost is False
        else check_count(func, "print_cost", print_cost, 1)
    )
    if every:
        made.append(PrintCost(every))
    if callback is not None:
        made.append(EpochFunction(callback))
    if checkpoint is not None:
        made.append(Checkpoint(checkpoint))
    if early_stopping_patience is not None:
        early_stopping_patience = check_count(func, "early_stopping_patience", early_stopping_patience, 1)
        if not validation:
            raise ValueError(
                f"{func}: early_stopping_patience needs validation_data or validation_fraction > 0 to monitor"
            )
        made.append(EarlyStopping(early_stopping_patience))
    return made + list(callbacks)
