"""The one assembly of a training run: a :class:`~portable_dnn.prepare.PreparedRun` and its
callbacks in, the trained parameters and the history out.

:func:`train` builds the step (:class:`~portable_dnn.engine.Step`), each epoch's batches (shuffled
mini-batches and dropout masks, from the run's seed), each epoch's learning rate (the run's
schedule, adjusted by any callback with ``adjust_rate``), the history, and the
:class:`~portable_dnn.engine.Trainer` that runs them, calling the callbacks after every epoch.
:func:`~portable_dnn.fit`, the course's models, :func:`~portable_dnn.streaming.fit_out_of_core`,
the estimators and the command line all train through it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ._checks import shape_of
from .backend import host_random_state
from .callbacks import ValidationCost
from .engine import Batch, Epoch, GramStep, Step, Trainer
from .prepare import PreparedRun, scheduled
from .regularization import host_mask

__all__ = ["Run", "train"]


class Run:
    """A run in progress, as callbacks see it: ``prepared``, ``step``, ``trainer``, ``history``
    (``"cost"``, ``"settings"``, and what callbacks add), :meth:`snapshot` and :meth:`rate`."""

    def __init__(self, prepared: PreparedRun, step: Step, callbacks: Sequence[Any]) -> None:
        self.prepared, self.step, self.callbacks = prepared, step, list(callbacks)
        self.adjusters = [cb for cb in self.callbacks if hasattr(cb, "adjust_rate")]
        self.history: dict[str, Any] = {"cost": list(prepared.costs), "settings": prepared.settings}
        self.trainer: Trainer
        #: The parameters to return, where a callback chose other than the last (early stopping).
        self.result: dict[str, Any] | None = None
        self.val_output: Any = None
        self._snapshot: dict[str, Any] | None = None
        self._rate: tuple[int, float] = (-1, 0.0)

    def rate(self, epoch: int) -> float:
        """Epoch ``epoch``'s learning rate: the schedule's, then each adjusting callback's (asked once
        per epoch; the rate an epoch trained at stays its rate)."""
        if self._rate[0] != epoch:
            lr = scheduled(self.prepared.func, self.prepared.rate, epoch)
            for cb in self.adjusters:
                lr = cb.adjust_rate(epoch, lr)
            self._rate = (epoch, lr)
        return self._rate[1]

    def snapshot(self) -> dict[str, Any]:
        """A copy of the parameters after the current epoch (one per epoch, shared by the callbacks,
        which may keep it while training goes on)."""
        if self._snapshot is None:
            self._snapshot = self.trainer.parameters(copy=True)
        return self._snapshot

    def close(self) -> None:
        """Let go of the data, the trainer and the callbacks (they refer to the run: without this the
        cycle would keep the run's copy of the data until the garbage collector found it)."""
        del self.trainer, self.prepared, self.step
        self.callbacks = self.adjusters = []

    def on_epoch(self, epoch: int, cost: float | None) -> bool:
        """Every callback's ``on_epoch_end``, in order; True (stop) when any returned True."""
        self._snapshot = None
        logs: dict[str, Any] = {"cost": cost, "lr": self.rate(epoch)}
        stop = False
        for cb in self.callbacks:
            stop = cb.on_epoch_end(epoch, logs) is True or stop
        return stop


def train(
    prepared: PreparedRun,
    callbacks: Sequence[Any] = (),
    *,
    batches: Callable[[int], Iterable[Batch]] | None = None,
    record_every: int = 1,
    unit: str = "epoch",
    gram: bool = False,
    cuda_graph: bool | str = "auto",
    matmul_precision: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train ``prepared`` (from :func:`~portable_dnn.prepare.prepare`); return ``(parameters, history)``.

    ``callbacks`` (:mod:`portable_dnn.callbacks`) run after every epoch, in order. ``batches(epoch)``
    replaces the run's own plan (shuffled mini-batches of ``prepared.X``); ``record_every`` records
    the cost every that many epochs, ``unit`` names an epoch in messages (``"iteration"`` for the
    course's loops), ``gram`` carries the first layer through the Gram matrix
    (:class:`~portable_dnn.engine.GramStep`), ``cuda_graph`` and ``matmul_precision`` as in
    :func:`~portable_dnn.L_layer_model`. A prepared run is trained once: its state is the
    training's own (updated in place where the backend can).

    >>> import numpy as np
    >>> from portable_dnn.prepare import prepare
    >>> from portable_dnn.callbacks import PrintCost
    >>> run = prepare("fit", np.array([[0.0, 1, 2, 3]]), np.array([[0, 0, 1, 1]]), [1, 1],
    ...               optimizer="adam", learning_rate=0.1, num_epochs=2)
    >>> params, history = train(run, [PrintCost(every=1)])
    Cost after epoch 0: 0.818633
    Cost after epoch 1: 0.761289
    >>> sorted(params)
    ['W1', 'b1']
    """
    p, be = prepared, prepared.backend
    ops = be.ops(p.dtype)
    if gram:
        step: Step = GramStep(ops, p.network, p.X, p.state[0])
    else:
        step = Step(ops, p.network, p.optimizer, weighted=p.W is not None)
    if p.X_val is not None and not any(isinstance(cb, ValidationCost) for cb in callbacks):
        callbacks = [ValidationCost(), *callbacks]
    run = Run(p, step, callbacks)
    run.trainer = trainer = Trainer(
        p.func, be, step, p.state,
        batches=batches or _plan(p), learning_rate=run.rate, record_every=record_every,
        replay=p.same_step and not run.adjusters, cuda_graph=cuda_graph, t=p.t, unit=unit, signals=p.signals,
    )  # fmt: skip
    trainer.costs = run.history["cost"]  # one list: the costs recorded are the history's
    precision = (
        contextlib.nullcontext()
        if matmul_precision is None
        else be.matmul_precision(matmul_precision, p.dtype)
    )
    with precision:
        try:
            for cb in run.callbacks:
                if hasattr(cb, "on_train_begin"):
                    cb.on_train_begin(run)
            trainer.run(p.start, p.num_epochs, run.on_epoch if run.callbacks else None)
        finally:
            for cb in run.callbacks:
                if hasattr(cb, "on_train_end"):
                    cb.on_train_end(run)
    result = trainer.parameters() if run.result is None else run.result
    run.close()
    return result, run.history


def _plan(p: PreparedRun) -> Callable[[int], Epoch]:
    """Each epoch's batches: ``p.X`` whole, or shuffled with ``seed + epoch + 1`` into mini-batches;
    dropout masks from the epoch's own seeded stream."""
    L = len(p.dims) - 1
    keep_prob = p.network.keep_prob
    m = shape_of(p.X)[1]

    def batches(epoch: int) -> Epoch:
        order = None if p.batch_size is None else host_random_state(p.seed + epoch + 1).permutation(m)
        masks = None
        if keep_prob < 1:
            # Each epoch's masks from their own seeded stream, so a resumed run draws what it would have.
            rng = np.random.RandomState([p.seed, epoch])

            def masks(m_b: int) -> list[np.ndarray]:
                return [host_mask(rng, (p.dims[l], m_b), keep_prob) for l in range(1, L)]

        return Epoch(p.backend, p.X, p.Y, order, p.batch_size or m, p.dtype, masks,
                     replay=p.replay is not False, weights=p.W, host_weights=p.host_W)  # fmt: skip

    if p.batch_size is None and keep_prob == 1:
        # Every epoch the same whole batch: one plan, which iterating leaves as it was.
        same = batches(0)
        return lambda epoch: same
    return batches
