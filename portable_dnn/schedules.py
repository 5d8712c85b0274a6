"""Learning-rate schedules, each declared once with its parameters' defaults and valid ranges.

A schedule gives the rate of each epoch, counted from 0: ``schedule(epoch) -> float``. Pass it as
:func:`~portable_dnn.fit`'s ``learning_rate``; it holds its own starting (peak) rate.
:class:`ReduceLROnPlateau` instead watches the run: it is a callback
(:mod:`portable_dnn.callbacks`), passed in ``fit(callbacks=[...])``, that scales whatever rate
the run would use once the monitored cost stops improving.

>>> InverseTimeDecay(learning_rate=0.5, decay_rate=1.0)(3)  # the course's update_lr(0.5, 2, 1)
0.16666666666666666
>>> [round(r, 4) for r in map(CosineWarmup(learning_rate=0.1, total_epochs=4, warmup_epochs=2), range(4))]
[0.05, 0.1, 0.1, 0.05]
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

from ._checks import check_count
from .optim import NON_NEGATIVE, POSITIVE, Range, hyper
from .optimizers import schedule_lr_decay, update_lr

__all__ = ["Constant", "CosineWarmup", "InverseTimeDecay", "ReduceLROnPlateau", "Schedule"]

#: A factor that shrinks: (0, 1).
SHRINK = Range(0.0, 1.0, low_in=False)


class Declared:
    """A dataclass whose float fields are declared with :func:`~portable_dnn.optim.hyper` (default,
    valid range, one line of docs) and checked when it is made."""

    @classmethod
    def hyperparameters(cls) -> dict[str, dataclasses.Field[Any]]:
        """The declared (float) fields."""
        return {f.name: f for f in dataclasses.fields(cls) if "range" in f.metadata}  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        func = type(self).__name__
        for name, field in self.hyperparameters().items():
            value, valid = getattr(self, name), field.metadata["range"]
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{func}: {name} must be {valid}, got {value!r}")
            if not valid.holds(float(value)):
                raise ValueError(f"{func}: {name} must be {valid}, got {value!r}")


class Schedule(Declared):
    """A learning rate per epoch: ``schedule(epoch) -> float``."""

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True, kw_only=True)
class Constant(Schedule):
    """The same rate every epoch."""

    learning_rate: float = hyper(0.0007, POSITIVE, "the rate")

    def __call__(self, epoch: int) -> float:
        return self.learning_rate


@dataclasses.dataclass(frozen=True, kw_only=True)
class InverseTimeDecay(Schedule):
    """The course's decay after each epoch: epoch 0 trains at ``learning_rate``, epoch ``e >= 1`` at
    ``update_lr(learning_rate, e - 1, decay_rate)`` (``lr / (1 + decay_rate (e - 1))``), or, with
    ``time_interval``, at ``schedule_lr_decay(learning_rate, e - 1, decay_rate, time_interval)``
    (the decay steps every ``time_interval`` epochs).

    >>> [InverseTimeDecay(learning_rate=1.0, decay_rate=1.0, time_interval=2)(e) for e in range(5)]
    [1.0, 1.0, 1.0, 0.5, 0.5]
    """

    learning_rate: float = hyper(0.0007, POSITIVE, "the rate of epoch 0")
    decay_rate: float = hyper(1.0, NON_NEGATIVE, "how fast the rate falls")
    time_interval: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.time_interval is not None:
            check_count("InverseTimeDecay", "time_interval", self.time_interval, 1)

    def __call__(self, epoch: int) -> float:
        if self.decay_rate == 0 or epoch == 0:
            return self.learning_rate
        if self.time_interval is None:
            return update_lr(self.learning_rate, epoch - 1, self.decay_rate)
        return schedule_lr_decay(self.learning_rate, epoch - 1, self.decay_rate, self.time_interval)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CosineWarmup(Schedule):
    """A linear warm-up then a cosine decay: epoch ``e < warmup_epochs`` trains at
    ``learning_rate (e + 1) / warmup_epochs``; later epochs at
    ``min_lr + (learning_rate - min_lr) (1 + cos(pi p)) / 2`` with
    ``p = (e - warmup_epochs) / (total_epochs - warmup_epochs)``, so the rate falls from
    ``learning_rate`` toward ``min_lr`` over the run's ``total_epochs`` (train at most that many:
    past it the rate stays ``min_lr``, which must then be positive).

    >>> CosineWarmup(learning_rate=0.1, total_epochs=10, warmup_epochs=0)(5)
    0.05
    """

    learning_rate: float = hyper(0.001, POSITIVE, "the peak rate, reached at the warm-up's end")
    total_epochs: int = 100
    warmup_epochs: int = 0
    min_lr: float = hyper(0.0, NON_NEGATIVE, "the rate the decay falls toward")

    def __post_init__(self) -> None:
        super().__post_init__()
        func = "CosineWarmup"
        check_count(func, "total_epochs", self.total_epochs, 1)
        check_count(func, "warmup_epochs", self.warmup_epochs, 0)
        if self.warmup_epochs >= self.total_epochs:
            raise ValueError(
                f"{func}: warmup_epochs ({self.warmup_epochs}) must be below "
                f"total_epochs ({self.total_epochs})"
            )

    def __call__(self, epoch: int) -> float:
        if epoch < self.warmup_epochs:
            return self.learning_rate * (epoch + 1) / self.warmup_epochs
        p = min(1.0, (epoch - self.warmup_epochs) / (self.total_epochs - self.warmup_epochs))
        return self.min_lr + (self.learning_rate - self.min_lr) * (1 + math.cos(math.pi * p)) / 2


MONITORS = ("val_cost", "cost")


@dataclasses.dataclass(kw_only=True)
class ReduceLROnPlateau(Declared):
    """A callback that multiplies the run's rate by ``factor`` each time the ``monitor``ed cost
    (``"val_cost"`` or ``"cost"``) has gone ``patience`` epochs without a new lowest value; the
    rate never falls below ``min_lr`` (Keras's ``ReduceLROnPlateau``). Epoch ``e + 1`` trains at
    ``max(rate(e + 1) * factor**k, min_lr)`` after ``k`` reductions by the end of epoch ``e``.

    >>> r = ReduceLROnPlateau(monitor="cost", factor=0.5, patience=1)
    >>> for epoch, cost in enumerate([1.0, 0.9, 0.95]):
    ...     _ = r.on_epoch_end(epoch, {"cost": cost})
    >>> r.adjust_rate(3, 0.1)
    0.05
    """

    monitor: str = "val_cost"
    factor: float = hyper(0.1, SHRINK, "the rate's multiplier at each reduction")
    patience: int = 10
    min_lr: float = hyper(0.0, NON_NEGATIVE, "the lowest rate")

    def __post_init__(self) -> None:
        super().__post_init__()
        func = "ReduceLROnPlateau"
        if self.monitor not in MONITORS:
            raise ValueError(f"{func}: monitor must be one of {MONITORS}, got {self.monitor!r}")
        check_count(func, "patience", self.patience, 1)
        self.on_train_begin(None)

    def on_train_begin(self, run: Any) -> None:
        """Start afresh: no reduction, no best value yet; refuse a ``val_cost`` the run lacks."""
        if run is not None and self.monitor == "val_cost" and run.prepared.X_val is None:
            raise ValueError(
                f"{run.prepared.func}: ReduceLROnPlateau(monitor='val_cost') needs validation_data "
                "or validation_fraction > 0; monitor='cost' watches the training cost"
            )
        self.scale, self.best, self.wait = 1.0, math.inf, 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        value = logs.get(self.monitor)
        if value is None:  # not recorded this epoch
            return
        if value < self.best:
            self.best, self.wait = float(value), 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.scale *= self.factor
            self.wait = 0

    def adjust_rate(self, epoch: int, rate: float) -> float:
        """The rate epoch ``epoch`` trains at, given the rate the run would use."""
        return rate if self.scale == 1.0 else max(rate * self.scale, self.min_lr)
