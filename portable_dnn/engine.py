"""The training engine: the one definition of a training step, and the one loop that runs it.

:class:`Step` computes a (mini-)batch's forward pass, cost and gradients for
every option (any declared hidden activation, :mod:`portable_dnn.backend.activations`; a
sigmoid, softmax, multi-label sigmoid or linear (identity) output, dropout masks,
L2) and applies any declared optimizer (:mod:`portable_dnn.optim`; gradients optionally
clipped by their global norm) to one representation of the state: a list
``[parameters, *slots]`` of flat lists ``[W1, b1, ..., WL, bL]`` (the optimizer's
``slots``, one array per parameter). Its
arithmetic is the backend's kernels (:class:`~portable_dnn.backend.Ops`), and
the course's public functions (``L_model_forward`` ... ``update_parameters_with_adam``)
compute the same values; tests hold the two together.

:class:`Trainer` is the loop: epochs of batches, the learning rate of each
epoch, costs read from the device only where they are recorded, divergence
checks, Ctrl-C, callbacks. ``two_layer_model``, ``L_layer_model``, ``fit``,
``fit_out_of_core``, ``DNNClassifier`` and the command line all train through it.
How a step is run again and again (in place, replayed as a CUDA graph, compiled
by XLA, a task per chunk) is the backend's :meth:`~portable_dnn.backend.Backend.runner`.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from . import optim
from .backend import Backend
from .backend.activations import ACTIVATIONS
from .batches import Epoch
from .optim import Optimizer

#: The hidden activations' names (declared in :mod:`portable_dnn.backend.activations`).
HIDDEN = tuple(ACTIVATIONS)
#: The output layers: one sigmoid unit (binary labels), softmax (one class of C), independent
#: sigmoid units (several 0/1 labels per example), identity (real targets, squared error).
OUTPUTS = ("sigmoid", "softmax", "multilabel", "identity")
#: The optimizers' names, and the slots each keeps (declared in :mod:`portable_dnn.optim`).
OPTIMIZERS = tuple(optim.OPTIMIZERS)
SLOT_NAMES: dict[str, tuple[str, ...]] = {name: cls.slots for name, cls in optim.OPTIMIZERS.items()}


class TrainingDiverged(FloatingPointError):
    """The cost became NaN or infinite, or the parameters grew without bound; the message names when."""


@dataclasses.dataclass(frozen=True)
class Network:
    """What the network computes: hidden activation, output, dropout and L2."""

    hidden: str = "relu"
    output: str = "sigmoid"
    keep_prob: float = 1.0
    lambd: float = 0.0
    #: Divide the output's ``dZ`` by m before the products (``dW = dZ A^T``), as the second
    #: course's notebooks do, rather than the products (``dW = 1/m dZ A^T``), as the first
    #: course does. The same gradients, rounded in another order.
    dz_first: bool = False


# ------------------------------------------------------------------ state


def parameter_keys(L: int, prefix: str = "") -> list[str]:
    """The keys of an L-layer network's parameters in their order: ``W1, b1, ..., WL, bL``
    (``prefix="d"`` for their gradients, ``dW1, db1, ...``).

    >>> parameter_keys(2, prefix="d")
    ['dW1', 'db1', 'dW2', 'db2']
    """
    return [f"{prefix}{p}{l}" for l in range(1, L + 1) for p in ("W", "b")]


def flatten(parameters: Mapping[str, Any], prefix: str = "") -> list[Any]:
    """``{"W1": .., "b1": .., ...}`` as ``[W1, b1, ...]`` (``prefix="d"`` for ``dW1``, ``db1``, ...)."""
    return [parameters[key] for key in parameter_keys(len(parameters) // 2, prefix)]


def unflatten(values: Sequence[Any], prefix: str = "") -> dict[str, Any]:
    """The inverse of :func:`flatten`."""
    return {f"{prefix}{'Wb'[i % 2]}{i // 2 + 1}": v for i, v in enumerate(values)}


def new_state(ops: Any, parameters: Mapping[str, Any], optimizer: Optimizer) -> list[list[Any]]:
    """The engine's state for ``parameters``: copies it owns (laid out by ``ops``), and zeroed slots."""
    params = ops.pack(flatten(parameters))
    slots = [ops.pack(group) for group in optimizer.initial_slots(ops.xp, params)]
    return [params, *slots]


# ------------------------------------------------------------------- step


@dataclasses.dataclass(frozen=True)
class Step:
    """One training step: ``step(state, (X, Y, *masks), (lr, t, m)) -> (state, cost)``.

    ``X`` is ``(features, m_b)``, ``Y`` ``(output units, m_b)`` in X's dtype, ``masks``
    one 0/1 array per hidden layer when dropping out. ``lr`` is the step's
    learning rate, ``t`` Adam's step count (from 1), ``m`` the batch's examples
    for the L2 term. A ``weighted`` step's batch is ``(X, Y, w, *masks)``: ``w``
    ``(1, m_b)`` in X's dtype, each example's weight, and the cost is the weighted mean
    ``sum(w_i loss_i) / sum(w_i)`` (:meth:`~portable_dnn.backend.Ops.batch_weights`).
    Nothing is checked here: the public functions check once.
    """

    ops: Any
    network: Network
    optimizer: Optimizer
    weighted: bool = False

    def with_ops(self, ops: Any) -> Step:
        return dataclasses.replace(self, ops=ops)

    def __call__(self, state: list[list[Any]], batch: Sequence[Any], hyper: Sequence[Any]) -> Any:
        cost, grads = self.gradients(state[0], *batch)
        return self.update(state, cost, grads, hyper)

    def gradients(self, params: list[Any], X: Any, Y: Any, *rest: Any) -> tuple[Any, list[Any]]:
        """The batch's mean cost (0-d, without the L2 term) and its gradients ``[dW1, db1, ...]``;
        ``rest`` is ``(*masks)``, or ``(w, *masks)`` for a ``weighted`` step (the weighted mean)."""
        if self.weighted:
            cost, grads, _ = self._pass(params, X, Y, rest[1:], weights=rest[0])
        else:
            cost, grads, _ = self._pass(params, X, Y, rest)
        return cost, grads

    def forward(self, params: list[Any], X: Any) -> Any:
        """The network's output ``AL`` for ``X`` (no dropout)."""
        return self.ops.probabilities(self._forward(params, X)[2], self.network.output)

    def _forward(
        self, params: list[Any], X: Any, masks: Sequence[Any] = (), Z1: Any = None
    ) -> tuple[list[Any], list[Any], Any]:
        """Each layer's input, each hidden layer's ``(Z, A)`` (``Z`` None unless the activation's
        backward reads it; ``A`` before dropout), and the last ``Z``."""
        ops, net = self.ops, self.network
        act = ACTIVATIONS[net.hidden]
        L = len(params) // 2
        inputs, outputs = [X], []
        A = X
        for l in range(L - 1):
            Z = Z1 if l == 0 and Z1 is not None else ops.linear(params[2 * l], A, params[2 * l + 1])
            if act.needs_input:
                Z = ops.realized(Z)
            A = ops.activation(Z, act)
            outputs.append((Z if act.needs_input else None, A))
            if masks:
                A = ops.dropout(A, masks[l], net.keep_prob)
            inputs.append(A)
        Z = Z1 if L == 1 and Z1 is not None else ops.linear(params[-2], A, params[-1])
        return inputs, outputs, Z

    def _pass(
        self, params: list[Any], X: Any, Y: Any, masks: Sequence[Any], Z1: Any = None, weights: Any = None
    ) -> tuple[Any, list[Any], Any]:
        # With Z1 given (the Gram form), the first layer's product is not formed here
        # and its gradients are left to the caller, which gets dZ1.
        ops, net = self.ops, self.network
        L = len(params) // 2
        inputs, outputs, Z = self._forward(params, X, masks, Z1)
        AL, dZ = ops.output(Z, Y, net.output)
        if weights is None:
            cost = ops.cost(AL, Y, net.output)
        else:
            # Weights of mean 1 scale each example's column of dZ; every 1/m below stays.
            u = ops.batch_weights(weights)
            cost = ops.cost(AL, Y, net.output, u)
            dZ = ops.weigh(dZ, u)
        if net.dz_first:
            dZ = ops.weigh(dZ, 1 / int(Y.shape[1]))
        grads: list[Any] = [None] * (2 * L)
        for l in reversed(range(L)):
            if l == 0 and Z1 is not None:
                break
            grads[2 * l], grads[2 * l + 1] = ops.weight_grads(dZ, inputs[l], mean=not net.dz_first)
            if l == 0:
                break
            dA = ops.back(params[2 * l], dZ)
            if masks:
                dA = ops.dropout(dA, masks[l - 1], net.keep_prob)
            dZ = ops.activation_grad(dA, *outputs[l - 1], ACTIVATIONS[net.hidden])
        return cost, grads, dZ

    def update(
        self, state: list[list[Any]], cost: Any, grads: list[Any], hyper: Sequence[Any]
    ) -> tuple[list[list[Any]], Any]:
        """The L2 term (cost and gradients), the clipping by global norm, then the optimizer's step."""
        ops, net, opt = self.ops, self.network, self.optimizer
        lr, t, m = hyper
        params = list(state[0])
        if net.lambd > 0:
            total = None
            for i in range(0, len(params), 2):
                term, dW = ops.l2(params[i], net.lambd, m)
                total = term if total is None else total + term
                grads[i] = grads[i] + dW
            cost = cost + total
        if opt.clip_norm is not None:
            grads = ops.clip_by_norm(grads, opt.clip_norm)
        return opt.update(ops, params, grads, state[1:], t, lr), cost

    def current(self, state: list[list[Any]]) -> list[list[Any]]:
        """``state`` with every parameter formed (see :class:`GramStep`)."""
        return state

    def watched(self, state: list[list[Any]]) -> list[Any]:
        """The arrays whose size tells whether training diverged."""
        return state[0]

    def rebase(self, state: list[list[Any]]) -> None:
        """Restart from ``current(state)`` as a new step would (see :class:`GramStep`); here nothing."""


class GramStep(Step):
    """Full-batch gradient descent with the first layer carried through the examples' Gram matrix.

    With full-batch gradient descent the first layer's update is
    ``W1 <- W1 - c dZ1 X^T`` (``c = lr / m``), so its product with the fixed X
    evolves as ``W1 X <- W1 X - c dZ1 (X^T X)``. When there are fewer examples
    than features (the course: 209 images of 12288 values) this replaces the
    two products with X per step, the step's largest by far, by one m x m
    product; W1 itself is ``W1(0) - (sum of c dZ1) X^T``, formed only when asked
    for (:meth:`current`). The result equals the direct step up to rounding
    (tests hold it to 1e-12 in float64), not bit for bit.
    """

    def __init__(self, ops: Any, network: Network, X: Any, params: list[Any]) -> None:
        super().__init__(ops, network, optim.GD())
        xp = ops.xp
        object.__setattr__(self, "buffers", {
            "X": X,
            "gram": X.T @ X,
            "W1": xp.asarray(params[0], copy=True),
            "product": params[0] @ X,
            "applied": xp.zeros((params[0].shape[0], X.shape[1]), dtype=X.dtype, device=ops.device),
        })  # fmt: skip

    @staticmethod
    def pays_off(X: Any, layers: int, iterations: int) -> bool:
        """Whether the Gram form is cheaper for ``layers`` weight layers: examples well below
        features, m x m small, a hidden layer to carry."""
        n_x, m = (int(d) for d in X.shape)
        return layers > 1 and 2 * m <= n_x and m <= 4096 and iterations >= 20

    def __call__(self, state: list[list[Any]], batch: Sequence[Any], hyper: Sequence[Any]) -> Any:
        ops, buf = self.ops, self.buffers  # type: ignore[attr-defined]
        lr = hyper[0]
        params = list(state[0])
        cost, grads, dZ1 = self._pass(params, buf["X"], batch[1], (), Z1=buf["product"] + params[1])
        for i in range(2, len(params)):
            params[i] = ops.sgd(params[i], grads[i], lr)
        m = int(buf["X"].shape[1])
        scale = 1 if self.network.dz_first else 1 / m  # dz_first: dZ1 is already divided by m
        step = lr * (scale * dZ1)
        db = lr * (scale * ops.xp.sum(dZ1, axis=1, keepdims=True))
        if ops.inplace:  # fixed addresses, for CUDA-graph replay
            buf["applied"] += step
            buf["product"] -= step @ buf["gram"]
            params[1] -= db
        else:
            buf["applied"] = buf["applied"] + step
            buf["product"] = buf["product"] - step @ buf["gram"]
            params[1] = params[1] - db
        return [params], cost

    def current(self, state: list[list[Any]]) -> list[list[Any]]:
        buf = self.buffers  # type: ignore[attr-defined]
        params = list(state[0])
        params[0] = buf["W1"] - buf["applied"] @ buf["X"].T
        return [params]

    def watched(self, state: list[list[Any]]) -> list[Any]:
        return [self.buffers["product"], *state[0][1:]]  # type: ignore[attr-defined]

    def rebase(self, state: list[list[Any]]) -> None:
        """Form W1 and restart the buffers from it (``product = W1 X``, nothing applied yet), as a
        step built on ``current(state)`` starts: a run rebased where it saves its parameters goes
        on bit for bit as one resumed from them."""
        ops, buf = self.ops, self.buffers  # type: ignore[attr-defined]
        W1 = self.current(state)[0][0]
        buf["W1"] = ops._set(buf["W1"], W1)
        buf["product"] = ops._set(buf["product"], W1 @ buf["X"])
        buf["applied"] = ops._set(buf["applied"], ops.xp.zeros_like(buf["applied"]))


# ------------------------------------------------------------------- loop


Batch = tuple[tuple[Any, ...], int]  # the step's arrays and the batch's examples


@dataclasses.dataclass
class TrainingState:
    """Where a training run stands, as handed to ``callback`` after each iteration (epoch)."""

    iteration: int
    costs: list[Any]
    _trainer: Any = dataclasses.field(repr=False)

    @property
    def last_cost(self) -> float | None:
        return float(self.costs[-1]) if self.costs else None

    def snapshot(self) -> dict[str, Any]:
        """The current parameters as new arrays, safe to keep while training goes on."""
        return self._trainer.parameters(copy=True)

    def optimizer_state(self) -> dict[str, Any]:
        """The optimizer's slots (those of ``SLOT_NAMES``: ``v``, ``s`` as dicts of ``dW1``, ...)
        and the step count ``t``."""
        return self._trainer.optimizer_state()

    def rebase(self) -> None:
        """Let the step go on from :meth:`snapshot` exactly as a run resumed from it would
        (:meth:`GramStep.rebase`); call it where the snapshot is saved, in every run."""
        self._trainer.step.rebase(self._trainer.runner.state)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, where the program asked for it) during training.

    ``.state`` is the :class:`TrainingState` after the last completed iteration.
    """

    def __init__(self, state: TrainingState, unit: str = "iterations", signum: int = signal.SIGINT) -> None:
        super().__init__(f"training interrupted after {state.iteration} {unit}")
        self.state, self.signum = state, signum


class _Interrupts:
    """Defers Ctrl-C (and the signals in ``extra``) to the end of the current step.

    Only where Ctrl-C would raise KeyboardInterrupt: a program that ignores
    SIGINT (nohup) or handles it itself keeps its choice.
    """

    def __init__(self, extra: Sequence[int] = ()) -> None:
        self.signum: int | None = None
        self.previous: dict[int, Any] = {}
        self.extra = extra

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                self.previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._handle)
            for signum in self.extra:
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum

    def __exit__(self, *exc: Any) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


class Trainer:
    """Runs a :class:`Step` over epochs of batches on a backend, and keeps what a caller needs.

    ``batches(epoch)`` gives the epoch's ``[((X_b, Y_b, *masks), m_b), ...]``, or
    an :class:`~portable_dnn.batches.Epoch` describing them whole, which
    the runner's :meth:`~portable_dnn.backend.base.Runner.run_epoch` may run as
    one program (JAX); ``learning_rate(epoch)`` its rate. The cost of an epoch (the mean of its
    batches' costs weighted by their sizes, or, with per-example weights, by their total weights)
    is read from the device every
    ``record_every`` epochs and kept in ``costs``; divergence (a non-finite
    cost, or parameters past a bound of the dtype) is checked there too, and
    on a CPU after every epoch, so no GPU waits on the host between steps.
    ``unit`` names an epoch in messages ("iteration" for the course's loops).
    """

    def __init__(
        self,
        func: str,
        backend: Backend,
        step: Step,
        state: list[list[Any]],
        *,
        batches: Callable[[int], Iterable[Batch]],
        learning_rate: Callable[[int], float],
        record_every: int = 1,
        replay: bool = False,
        cuda_graph: Any = "auto",
        t: int = 0,
        unit: str = "epoch",
        signals: Sequence[int] = (),
    ) -> None:
        self.func, self.backend, self.step, self.unit = func, backend, step, unit
        self.batches, self.learning_rate, self.record_every = batches, learning_rate, record_every
        self.signals = signals
        self.t = t
        self.dtype = state[0][0].dtype
        self.ops = backend.ops(self.dtype)
        self.runner = backend.runner(step, state, same_batch=replay, cuda_graph=cuda_graph)
        # Past this, a float32 or float64 network has diverged whatever its cost says.
        self.bound = float(backend.xp.finfo(self.dtype).max) ** 0.25
        self.costs: list[float] = []
        self.epoch = 0

    def parameters(self, copy: bool = False) -> dict[str, Any]:
        params = self.step.current(self.runner.state)[0]
        if copy:
            params = [self.backend.xp.asarray(p, copy=True) for p in params]
        return unflatten(params)

    def optimizer_state(self) -> dict[str, Any]:
        slots = self.runner.state[1:]
        out: dict[str, Any] = {"t": self.t}
        for name, values in zip(self.step.optimizer.slots, slots):
            out[name] = unflatten([self.backend.xp.asarray(a, copy=True) for a in values], prefix="d")
        return out

    def run(
        self,
        start: int,
        stop: int,
        on_epoch: Callable[[int, float | None], bool | None] | None = None,
    ) -> None:
        """Epochs ``start .. stop - 1``; ``on_epoch(epoch, cost)`` after each (cost None where not
        recorded) stops the loop by returning True."""
        cheap = self.backend.sync_is_cheap
        with self.backend.quiet_float_errors(), _Interrupts(self.signals) as interrupts:
            for epoch in range(start, stop):
                lr = self.learning_rate(epoch)
                plan = self.batches(epoch)
                pending, self.t = self.runner.run_epoch(plan, lr, self.t)
                totals = plan.totals() if isinstance(plan, Epoch) else None
                self.epoch = epoch + 1
                recorded = epoch % self.record_every == 0
                cost = None
                if recorded or cheap or epoch == stop - 1:
                    cost = self._check(epoch, pending, recorded or epoch == stop - 1, totals)
                if recorded:
                    self.costs.append(cost)  # type: ignore[arg-type]
                else:
                    cost = None
                stop_now = on_epoch is not None and on_epoch(epoch, cost) is True
                if interrupts.signum is not None:
                    state = TrainingState(self.epoch, self.costs, self)
                    raise TrainingInterrupted(state, f"{self.unit}s", interrupts.signum)
                if stop_now:
                    break

    def _check(
        self, epoch: int, pending: list[tuple[Any, int]], with_parameters: bool, totals: Any = None
    ) -> float:
        """The epoch's cost as a host float, one synchronisation; raises where training diverged.

        ``totals`` (host, one per batch, in order), where given, weigh the batches' costs instead
        of their sizes."""
        values = [c for c, _ in pending]
        if with_parameters:
            values.append(self.runner.largest(self.step))
        host = self.runner.fetch(values)
        costs = host[: len(pending)]
        if len(costs) == 1 and np.ndim(costs[0]) == 0:
            cost = float(costs[0])
        elif totals is not None:
            each = np.concatenate([np.ravel(np.asarray(c, dtype=np.float64)) for c in costs])
            cost = float(np.dot(each, totals) / np.sum(totals))
        else:
            # An entry may be a run of batches of m examples each (a compiled epoch's costs).
            total = sum(np.size(c) * m for c, (_, m) in zip(costs, pending))
            cost = sum(float(np.sum(c)) * m for c, (_, m) in zip(costs, pending)) / total
        where = f"{self.unit} {epoch}"
        if not math.isfinite(cost):
            raise TrainingDiverged(
                f"{self.func}: the cost became NaN or infinite at {where}; "
                f"try a smaller learning_rate than {self.learning_rate(epoch)}"
            )
        if with_parameters and not host[-1] <= self.bound:
            raise TrainingDiverged(
                f"{self.func}: the parameters became NaN, infinite or larger than {self.bound:.3g} "
                f"by {where} (largest magnitude {host[-1]:.3g}); "
                f"try a smaller learning_rate than {self.learning_rate(epoch)}"
            )
        return cost


def host_costs(costs: Iterable[Any]) -> list[np.ndarray]:
    """Recorded costs as host NumPy 0-d float64 arrays, on every backend: the type of the
    course's ``compute_cost`` (``np.squeeze`` of a 1x1 product), which the course's published
    tests of ``two_layer_model`` and ``L_layer_model`` check; ``float(c)`` gives the number."""
    return [np.asarray(float(c)) for c in costs]
