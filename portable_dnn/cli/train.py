"""``portable-dnn train``: every run, whatever its optimizer and batch size, trains as ``fit`` does.

The run is the library's (:func:`~portable_dnn.prepare.prepare`, :func:`~portable_dnn.run.train`),
on the step ``L_layer_model`` takes: the Gram form of full-batch gradient descent where the
examples are fewer than half the features (:class:`~portable_dnn.engine.GramStep`). A run
restarts that step from the parameters it saves at each periodic checkpoint
(:meth:`~portable_dnn.engine.TrainingState.rebase`), so a run resumed from the checkpoint ends bit
for bit where the uninterrupted one ends.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import shlex
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import Backend, ClusterError, get_backend
from ..engine import TrainingInterrupted, TrainingState
from ..optim import Optimizer
from ..trained import as_trained
from . import checkpoints
from .common import PROG, CLIError, Data, accuracy, check_writable, fingerprint, load_data, predict
from .parser import optimizer_of, parse_layers

#: Defaults per data source: (hidden layer sizes, learning rate, iterations).
DEFAULTS = {
    "default": ((10, 5), 0.3, 10000),
    "file": ((20, 7, 5), 0.0075, 2500),
}

#: The course's run records (and prints) the cost every this many iterations.
COURSE_COST_EVERY = 100


@dataclass
class Run:
    """One ``train`` command's settings, checked."""

    args: argparse.Namespace
    data: Data
    dims: list[int]
    lr: float
    iterations: int
    opt: Optimizer
    options: dict[str, Any]
    ckpt: str
    fingerprint: str
    be: Backend

    @property
    def course(self) -> bool:
        """The course's full-batch gradient descent: its costs every 100 iterations, as it prints them."""
        a = self.args
        return a.optimizer == "gd" and a.batch_size is None and a.clip_norm is None

    @property
    def unit(self) -> str:
        return "iteration" if self.course else "epoch"

    @property
    def cost_every(self) -> int:
        return COURSE_COST_EVERY if self.course else 1

    @property
    def steps(self) -> int:
        """Optimizer steps per epoch."""
        m = int(self.data.X.shape[1])
        return -(-m // (self.args.batch_size or m))

    def recorded(self, costs: Sequence[Any]) -> list[float]:
        """The costs the run keeps, of fit's one per epoch."""
        return [float(c) for c in costs[:: self.cost_every]]


def plan(args: argparse.Namespace) -> Run:
    """The run ``args`` ask for, every setting and output path checked before anything trains."""
    data = load_data(args.data)
    defaults = DEFAULTS["default" if data.source == "default" else "file"]
    hidden = parse_layers(args.layers) if args.layers is not None else defaults[0]
    lr = args.learning_rate if args.learning_rate is not None else defaults[1]
    iterations = args.iterations if args.iterations is not None else defaults[2]
    if not (lr > 0 and np.isfinite(lr)):
        raise CLIError(f"--learning-rate must be a positive number, got {lr!r}")
    if iterations < 1:
        raise CLIError(f"--iterations must be a positive integer, got {iterations}")
    if args.checkpoint_every is not None and args.checkpoint_every < 1:
        raise CLIError(f"--checkpoint-every must be a positive integer, got {args.checkpoint_every}")
    if args.batch_size is not None and args.batch_size < 1:
        raise CLIError(f"--batch-size must be a positive integer, got {args.batch_size}")
    if data.Y is None:
        raise CLIError("training needs labels Y")
    opt = optimizer_of(args)
    options = opt.get_params()
    ckpt = checkpoints.checkpoint_path(args.out)
    checkpoints.check_start(args, ckpt, lr, options)
    # Every file the run will write is checked now, not after training.
    for option, path in (("--out", args.out), ("--plot", args.plot), ("checkpoint", ckpt)):
        if path is not None:
            check_writable(option, path)
    dims = [int(data.X.shape[0]), *hidden, 1]
    be = get_backend(args.backend)
    return Run(args, data, dims, lr, iterations, opt, options, ckpt, fingerprint(data), be)


def cmd_train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    run = plan(args)
    start, resume = checkpoints.resume(run) if args.resume else (0, None)
    if not args.quiet:
        _header(run)
    bar = _progress(args.quiet, run.iterations, start)
    try:
        parameters, history = _fit(run, resume, bar)
    except TrainingInterrupted as exc:
        if bar is not None:
            bar.close()
        checkpoints.save(run, exc.state, last=True)
        return _interrupted(run, exc, argv)
    except ClusterError as exc:
        kept = args.checkpoint_every or args.resume
        note = f"; the last checkpoint is kept in {run.ckpt}" if kept and os.path.exists(run.ckpt) else ""
        raise CLIError(f"{exc}{note}") from None
    finally:
        if bar is not None:
            bar.close()
    _finish(run, parameters, run.recorded(history["cost"]))
    return 0


def _fit(run: Run, resume: dict[str, Any] | None, bar: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The one training call: the library's run (:func:`~portable_dnn.prepare.prepare` and
    :func:`~portable_dnn.run.train`, as ``fit``), on the Gram step where ``L_layer_model`` takes it."""
    from ..callbacks import Checkpoint
    from ..engine import GramStep
    from ..prepare import prepare
    from ..run import train

    prepared = prepare(
        "fit",
        run.data.X,
        run.data.Y,
        run.dims,
        init="xavier",
        optimizer=run.opt,
        learning_rate=run.lr,
        batch_size=run.args.batch_size,
        num_epochs=run.iterations,
        seed=run.args.seed,
        backend=run.be,
        dtype=run.args.dtype,
        resume=resume,
        signals=(signal.SIGTERM,),
    )
    # Decided on the whole run, not the iterations left, so that a resumed run takes the same step.
    gram = (
        run.course
        and run.be.supports_gram
        and GramStep.pays_off(prepared.X, len(run.dims) - 1, run.iterations)
    )
    return train(prepared, [Checkpoint(lambda state: after_epoch(run, bar, state))], gram=gram)


def after_epoch(run: Run, bar: Any, state: TrainingState) -> None:
    """The progress bar, and the periodic checkpoint, after which the step goes on as a run
    resumed from it will."""
    if bar is not None:
        bar.update(1)
        if state.last_cost is not None:
            bar.set_postfix(cost=f"{state.last_cost:.6f}", refresh=False)
    every = run.args.checkpoint_every
    if every and state.iteration % every == 0 and state.iteration < run.iterations:
        checkpoints.save(run, state)
        state.rebase()


def _header(run: Run) -> None:
    args = run.args
    how = ""
    if not run.course:
        batches = "full batch" if args.batch_size is None else f"mini-batches of {args.batch_size}"
        how = f", {args.optimizer}, {batches}"
    print(
        f"Training {'-'.join(map(str, run.dims))} on {run.data.source} ({run.data.X.shape[1]} examples) "
        f"with {run.be.name} ({run.be.device}), {args.dtype}{how}, learning rate {run.lr}, "
        f"{run.iterations} {run.unit}s"
    )


def _interrupted(run: Run, exc: Any, argv: Sequence[str]) -> int:
    """Say where training stopped and the command that resumes it; the exit status."""
    # Resuming continues this run: the flag that let it replace an older checkpoint goes.
    again = [a for a in argv if not (a.startswith("--ov") and "--overwrite-checkpoint".startswith(a))]
    again = again if "--resume" in again else [*again, "--resume"]
    what = "terminated" if exc.signum == signal.SIGTERM else "interrupted"
    print(
        f"{PROG}: {what} after {exc.state.iteration} of {run.iterations} {run.unit}s; checkpoint saved to "
        f"{run.ckpt}; resume with: {shlex.join([PROG, *again])}",
        file=sys.stderr,
    )
    return 128 + int(exc.signum)


def _finish(run: Run, parameters: dict[str, Any], costs: list[float]) -> None:
    """Write the model, remove the checkpoint it supersedes, print the last cost and the accuracies."""
    data, args = run.data, run.args
    info = checkpoints.metadata(run, run.iterations, costs, 0)
    as_trained(parameters, input_shape=data.input_shape, classes=data.classes, info=info).save(args.out)
    if os.path.exists(run.ckpt):
        os.remove(run.ckpt)
    if costs:
        print(f"Cost after {run.unit} {run.cost_every * (len(costs) - 1)}: {costs[-1]:.6f}")
    dtype = str(parameters["W1"].dtype).rsplit(".", 1)[-1]  # 'float32' from numpy's or torch's name
    print(f"Train accuracy: {accuracy(predict(run.be, data.X, parameters, dtype), data.Y):.4f}")  # type: ignore[arg-type]
    if data.X_test is not None and data.Y_test is not None:
        print(f"Test accuracy: {accuracy(predict(run.be, data.X_test, parameters, dtype), data.Y_test):.4f}")
    print(f"Model written to {args.out}")
    if args.plot:
        _plot(costs, run.lr, args.plot, every=run.cost_every, label=run.unit)
        print(f"Cost curve written to {args.plot}")


def scheduler(args: argparse.Namespace) -> Any:
    """The Dask scheduler named by ``--scheduler`` for the whole command (training and predictions)."""
    if args.scheduler is None:
        return contextlib.nullcontext()
    try:
        return get_backend(args.backend).scheduler(args.scheduler, quiet=True)
    except ValueError as exc:
        raise CLIError(f"--scheduler: {exc}") from None


def _progress(quiet: bool, total: int, initial: int) -> Any:
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="it", desc="training", mininterval=0.2)


def _plot(costs: Sequence[float], lr: float, path: str, every: int = 100, label: str = "iteration") -> None:
    if importlib.util.find_spec("matplotlib") is None:
        raise CLIError("--plot needs matplotlib: pip install 'portable_dnn[plot]'")
    from ..plotting import plot_costs

    plot_costs(costs, learning_rate=lr, every=every, xlabel=label, path=path)
