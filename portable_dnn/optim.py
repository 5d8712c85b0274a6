"""The optimizers, each declared once: its name, hyperparameters (defaults and valid ranges),
state slots, and its step on the engine's kernels.

An optimizer is a small object, as in Keras, Thinc or optax: ``Adam(beta2=0.99)``.
``fit``, the estimators and the command line take one (or its name, which means that
optimizer with its own defaults); their checks, flags, checkpoint slots and error
messages all come from the declarations below.

>>> opt = Adam(beta2=0.99)
>>> opt.name, opt.beta1, opt.beta2, opt.slots
('adam', 0.9, 0.99, ('v', 's'))
>>> optimizer("momentum")
Momentum(beta=0.9, clip_norm=None)
>>> Adam(beta2=1.5).checked()
Traceback (most recent call last):
...
ValueError: portable_dnn: beta2 must be a number in [0, 1), got 1.5
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any, ClassVar

from array_api_compat import device

__all__ = [
    "GD",
    "Adam",
    "AdamW",
    "Momentum",
    "NAdam",
    "Nesterov",
    "OPTIMIZERS",
    "Optimizer",
    "RMSprop",
    "optimizer",
]


@dataclasses.dataclass(frozen=True)
class Range:
    """Where a hyperparameter's value may lie: ``low`` to ``high``, each end in or out."""

    low: float = -math.inf
    high: float = math.inf
    low_in: bool = True
    high_in: bool = False

    def holds(self, value: float) -> bool:
        above = value >= self.low if self.low_in else value > self.low
        below = value <= self.high if self.high_in else value < self.high
        return math.isfinite(value) and above and below

    def __str__(self) -> str:
        if self.high == math.inf and self.low == 0:
            return "a positive finite number" if not self.low_in else "a finite number >= 0"
        if self.high == math.inf:
            return f"a finite number {'>=' if self.low_in else '>'} {self.low:g}"
        ends = ("[" if self.low_in else "(", "]" if self.high_in else ")")
        return f"a number in {ends[0]}{self.low:g}, {self.high:g}{ends[1]}"


#: The ranges the declarations use.
UNIT = Range(0.0, 1.0)  # [0, 1): a decay factor
POSITIVE = Range(0.0, low_in=False)
NON_NEGATIVE = Range(0.0)


def hyper(default: float | None, valid: Range, doc: str) -> Any:
    """A hyperparameter field: its default, its valid range and one line for the docs."""
    return dataclasses.field(default=default, metadata={"range": valid, "doc": doc})


# Every optimizer class is a dataclass of keyword-only fields (none is positional, so none can be
# passed to the wrong place), equal and hashable by value (a compiled step is kept per value).

Slots = list[list[Any]]


@dataclasses.dataclass(unsafe_hash=True, kw_only=True, repr=False)
class Optimizer:
    """An optimizer's settings and its step. Subclasses declare ``name``, ``slots`` (the state
    arrays kept per parameter: ``"v"`` the first moment, ``"s"`` the running mean of squared
    gradients) and their hyperparameters as fields (:func:`hyper`); :meth:`update` is the step.

    ``clip_norm`` (every optimizer; None: off) first scales the gradients by
    ``min(1, clip_norm / (global norm + 1e-6))``, as PyTorch's ``clip_grad_norm_``.
    """

    name: ClassVar[str] = ""
    slots: ClassVar[tuple[str, ...]] = ()
    #: Slots holding one value per parameter (shape ()), starting at 1; the others are shaped
    #: like the parameters and start at 0.
    scalar_slots: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""
    #: The update kernel's arguments after a parameter's slots (see :meth:`update`).
    kernel_args: ClassVar[tuple[str, ...]] = ()

    clip_norm: float | None = hyper(None, POSITIVE, "clip the gradients to this global 2-norm")

    @classmethod
    def hyperparameters(cls) -> dict[str, dataclasses.Field[Any]]:
        """The fields this optimizer reads, its own first and ``clip_norm`` last."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        clip = fields.pop("clip_norm")
        return {**fields, "clip_norm": clip}

    def __repr__(self) -> str:
        values = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.hyperparameters())
        return f"{type(self).__name__}({values})"

    def checked(self, func: str = "portable_dnn", owner: str = "") -> Optimizer:
        """A copy with every hyperparameter checked against its range and made a plain float."""
        values: dict[str, Any] = {}
        for name, field in self.hyperparameters().items():
            value = getattr(self, name)
            if value is None and field.default is None:
                values[name] = None
                continue
            valid: Range = field.metadata["range"]
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{func}: {owner}{name} must be {valid}, got {value!r}")
            if not valid.holds(float(value)):
                raise ValueError(f"{func}: {owner}{name} must be {valid}, got {value!r}")
            values[name] = float(value)
        return dataclasses.replace(self, **values)

    # scikit-learn's protocol, so that clone() and GridSearchCV (optimizer__beta1) reach the fields.

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.hyperparameters()}

    def set_params(self, **params: Any) -> Optimizer:
        for name, value in params.items():
            if name not in self.hyperparameters():
                raise ValueError(f"{type(self).__name__} has no hyperparameter {name!r}")
            setattr(self, name, value)
        return self

    def initial_slots(self, xp: Any, params: list[Any]) -> Slots:
        """The slots' starting values, one list per slot of one array per parameter."""
        made = []
        for slot in self.slots:
            if slot in self.scalar_slots:
                made.append([xp.ones((), dtype=p.dtype, device=device(p)) for p in params])
            else:
                made.append([xp.zeros_like(p) for p in params])
        return made

    def update(self, ops: Any, params: list[Any], grads: list[Any], slots: Slots, t: Any, lr: Any) -> Slots:
        """``[params, *slots]`` after one step (``t`` counts the steps from 1); ``grads`` are scratch.

        The step is the ``Ops`` method named ``name`` on every parameter, given the parameter, its
        gradient, its slots and then the values ``kernel_args`` names: ``"t"``, ``"lr"`` or a field."""
        given = {"t": t, "lr": lr}
        args = [given[a] if a in given else getattr(self, a) for a in self.kernel_args]
        return ops.step_all(self.name, params, grads, slots, *args)  # type: ignore[no-any-return]


@dataclasses.dataclass(unsafe_hash=True, kw_only=True, repr=False)
class GD(Optimizer):
    """Gradient descent: ``W = W - lr dW``."""

    name: ClassVar[str] = "gd"
    summary: ClassVar[str] = "(mini-batch) gradient descent"

    def update(self, ops: Any, params: list[Any], grads: list[Any], slots: Slots, t: Any, lr: Any) -> Slots:
        return [[ops.sgd(P, G, lr) for P, G in zip(params, grads)]]


@dataclasses.dataclass(unsafe_hash=True, kw_only=True, repr=False)
class Momentum(Optimizer):
    """Momentum, as the course: ``v = beta v + (1 - beta) dW``, ``W = W - lr v``."""

    name: ClassVar[str] = "momentum"
    slots: ClassVar[tuple[str, ...]] = ("v",)
    summary: ClassVar[str] = "gradient descent with momentum (the course's)"
    beta: float = hyper(0.9, UNIT, "the velocity's decay")
    kernel_args: ClassVar[tuple[str, ...]] = ("beta", "lr")


@dataclasses.dataclass(unsafe_hash=True, kw_only=True, repr=False)
class Nesterov(Momentum):
    """Nesterov momentum (look-ahead form): ``v`` as momentum, ``W = W - lr (beta v + (1 - beta) dW)``."""

    name: ClassVar[str] = "nesterov"
    summary: ClassVar[str] = "Nesterov's accelerated momentum"


@dataclasses.dataclass(unsafe_hash=True, kw_only=True, repr=False)
class RMSprop(Optimizer):
    """RMSprop: ``s = rho s + (1 - rho) dW^2``, ``W = W - lr dW / (sqrt(s) + epsilon)``."""

    name: ClassVar[str] = "rmsprop"
    slots: ClassVar[tuple[str, ...]] = ("s",)
    summary: ClassVar[str] = "RMSprop"
    rho: float = hyper(0.9, UNIT, "the squared gradients' decay")
    epsilon: float = hyper(1e-8, POSITIVE, "added to the denominator")
    kernel_args: ClassVar[tuple[str, ...]] = ("rho", "lr", "epsilon")


@dataclasses.dataclass(unsafe_hash=True, kw_only=True, repr=False)
class Adam(Optimizer):
    """Adam with the course's bias correction."""

    name: ClassVar[str] = "adam"
    slots: ClassVar[tuple[str, ...]] = ("v", "s")
    summary: ClassVar[str] = "Adam (the course's)"
    beta1: float = hyper(0.9, UNIT, "the first moment's decay")
    beta2: float = hyper(0.999, UNIT, "the second moment's decay")
    epsilon: float = hyper(1e-8, POSITIVE, "added to the denominator")
    kernel_args: ClassVar[tuple[str, ...]] = ("t", "lr", "beta1", "beta2", "epsilon")


@dataclasses.dataclass(unsafe_hash=True, kw_only=True, repr=False)
class AdamW(Adam):
    """Adam, then decoupled weight decay ``W = W - lr weight_decay W0`` (``W0`` before the step)."""

    name: ClassVar[str] = "adamw"
    summary: ClassVar[str] = "Adam with decoupled weight decay (PyTorch's AdamW)"
    weight_decay: float = hyper(0.01, NON_NEGATIVE, "the decoupled weight decay")
    kernel_args: ClassVar[tuple[str, ...]] = ("t", "lr", "beta1", "beta2", "epsilon", "weight_decay")


@dataclasses.dataclass(unsafe_hash=True, kw_only=True, repr=False)
class NAdam(Adam):
    """NAdam (Adam with Nesterov momentum), as PyTorch's ``torch.optim.NAdam`` with its defaults.

    ``mu_t = beta1 (1 - 0.5 * 0.96^(t momentum_decay))``; each parameter keeps the running
    product of the ``mu`` (slot ``"mu"``), and its step is
    ``lr (1 - mu_t) / (1 - prod mu) dW / d + lr mu_(t+1) / (1 - prod mu * mu_(t+1)) v / d``
    with ``d = sqrt(s / (1 - beta2^t)) + epsilon``.
    """

    name: ClassVar[str] = "nadam"
    slots: ClassVar[tuple[str, ...]] = ("v", "s", "mu")
    scalar_slots: ClassVar[tuple[str, ...]] = ("mu",)
    summary: ClassVar[str] = "Adam with Nesterov momentum (PyTorch's NAdam)"
    momentum_decay: float = hyper(0.004, NON_NEGATIVE, "how fast mu_t approaches beta1")
    kernel_args: ClassVar[tuple[str, ...]] = ("t", "lr", "beta1", "beta2", "epsilon", "momentum_decay")


#: Every optimizer by name, in the order the docs list them.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (GD, Momentum, Nesterov, RMSprop, Adam, AdamW, NAdam)
}


def optimizer(spec: Any, func: str = "portable_dnn", **settings: Any) -> Optimizer:
    """The checked optimizer ``spec`` (a name or an :class:`Optimizer`), with ``settings``
    (hyperparameters given one by one; None: not given) applied.

    A setting the optimizer does not read is refused, so a value is never silently unused.

    >>> optimizer("adam", beta2=0.99)
    Adam(beta1=0.9, beta2=0.99, epsilon=1e-08, clip_norm=None)
    >>> optimizer("adam", weight_decay=0.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: portable_dnn: weight_decay is not a setting of the 'adam' optimizer (...); 'adamw' read it
    """
    if isinstance(spec, Optimizer):
        opt = spec
    elif isinstance(spec, str) and spec in OPTIMIZERS:
        opt = OPTIMIZERS[spec]()
    else:
        choices = ", ".join(repr(n) for n in OPTIMIZERS)
        raise ValueError(f"{func}: optimizer must be one of {choices}, got {spec!r} (or an optimizer object)")
    given = {k: v for k, v in settings.items() if v is not None}
    fields = opt.hyperparameters()
    for name in given:
        if name not in fields:
            readers = [repr(n) for n, c in OPTIMIZERS.items() if name in c.hyperparameters()]
            raise ValueError(
                f"{func}: {name} is not a setting of the {opt.name!r} optimizer "
                f"(its settings: {', '.join(fields)}); {' and '.join(readers) or 'no optimizer'} read it"
            )
    return dataclasses.replace(opt, **given).checked(func)


def settings() -> dict[str, dict[str, dataclasses.Field[Any]]]:
    """Every hyperparameter name, with the field of each optimizer that reads it
    (shared names keep each optimizer's own default), ``clip_norm`` last.

    >>> sorted(settings()["beta1"])
    ['adam', 'adamw', 'nadam']
    """
    found: dict[str, dict[str, dataclasses.Field[Any]]] = {}
    for name, cls in OPTIMIZERS.items():
        for setting, field in cls.hyperparameters().items():
            found.setdefault(setting, {})[name] = field
    return {**{k: v for k, v in found.items() if k != "clip_norm"}, "clip_norm": found["clip_norm"]}


def slot_names() -> Mapping[str, tuple[str, ...]]:
    """Each optimizer's slots by name (what checkpoints and ``resume`` dicts hold)."""
    return {name: cls.slots for name, cls in OPTIMIZERS.items()}
