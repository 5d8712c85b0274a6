"""The training command's checkpoints: one format for every optimizer, written and resumed.

A checkpoint is a model file (:func:`~portable_dnn.serialization.save_parameters`) with the
optimizer's slots, whose metadata records the run (its settings, the data's digest), how far it
got (``iterations``, the step count ``t``) and the costs in the run's rhythm: every 100th
iteration's for the course's full-batch gradient descent, every epoch's otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._checks import check_decay_per_step
from ..optim import OPTIMIZERS
from ..serialization import load_checkpoint
from .common import PROG, CLIError
from .parser import default

if TYPE_CHECKING:
    from ..engine import TrainingState
    from .train import Run


def checkpoint_path(out: str) -> str:
    return (out[: -len(".npz")] if out.endswith(".npz") else out) + ".ckpt.npz"


def check_start(args: argparse.Namespace, ckpt: str, lr: float, options: dict[str, Any]) -> None:
    """Refuse a run that would replace an unfinished run's checkpoint, or decay the weights past zero."""
    if os.path.exists(ckpt) and not (args.resume or args.overwrite_checkpoint):
        raise CLIError(
            f"{ckpt!r} holds the checkpoint of an unfinished run: continue it with --resume, or start "
            "over with --overwrite-checkpoint (which replaces it)"
        )
    if args.optimizer == "adamw":
        check_decay_per_step("--weight-decay", lr, options["weight_decay"])


def metadata(run: Run, done: int, costs: Sequence[float], t: int) -> dict[str, Any]:
    """What the model file and the checkpoint record of the run, after ``done`` iterations (epochs)."""
    return {
        "iterations": done,
        "num_iterations": run.iterations,
        "costs": [float(c) for c in costs],
        "learning_rate": run.lr,
        "seed": run.args.seed,
        "init": "xavier",
        "optimizer": run.args.optimizer,
        **run.options,
        "batch_size": run.args.batch_size,
        "t": t,
        "data": run.data.source,
        "data_sha256": run.fingerprint,
    }


def save(run: Run, state: TrainingState, last: bool = False) -> None:
    """Write ``state`` to the run's checkpoint; Ctrl-C or SIGTERM during the write waits for it."""
    from .. import cli  # looked up at each write: tests replace cli.save_parameters

    opt = state.optimizer_state()
    slots = {k: v for k, v in opt.items() if k != "t"}
    meta = metadata(run, state.iteration, run.recorded(state.costs), opt["t"])
    with _signals_deferred() as came:
        cli.save_parameters(state.snapshot(), run.ckpt, metadata=meta, optimizer_state=slots)
    if came and last:
        print(f"{PROG}: a second interrupt came during the checkpoint write; it was finished first",
              file=sys.stderr)  # fmt: skip
    elif came:
        signal.raise_signal(came[0])  # now the training loop takes it, after this step


@contextlib.contextmanager
def _signals_deferred() -> Any:
    """Ctrl-C and SIGTERM wait until the block (a checkpoint write) is done; yields whether one came."""
    came: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield came
        return
    previous = {
        s: signal.signal(s, lambda signum, frame: came.append(signum))
        for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield came
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def resume(run: Run) -> tuple[int, dict[str, Any]]:
    """The iteration (epoch) to start from and fit's ``resume`` dict, from the run's checkpoint
    (written by this command, in this format or in the course loop's and fit's of earlier versions,
    which are this one's)."""
    args, ckpt = run.args, run.ckpt
    if not os.path.exists(ckpt):
        raise CLIError(f"--resume: no checkpoint {ckpt!r} to resume from")
    parameters, slots, meta = load_checkpoint(ckpt, backend="numpy")  # host arrays: moved once
    extra = meta["metadata"]
    checks = [
        ("layer sizes", meta["layer_dims"], run.dims),
        ("learning rate", extra.get("learning_rate"), run.lr),
        ("seed", extra.get("seed"), args.seed),
        ("optimizer", extra.get("optimizer", "gd"), args.optimizer),
        # A checkpoint without them was made when the defaults were the only choice.
        *(
            (name.replace("_", " "), _recorded_number(ckpt, extra, name, args.optimizer), value)
            for name, value in run.options.items()
        ),
        ("batch size", extra.get("batch_size"), args.batch_size),
        ("data", extra.get("data_sha256"), run.fingerprint),
        ("dtype", meta["dtype"], args.dtype),
    ]
    for what, saved, now in checks:
        if saved != now:
            shown = "a different data set" if what == "data" else f"{what} {saved}"
            raise CLIError(
                f"--resume: checkpoint {ckpt!r} was made with {shown}, "
                f"this command uses {'other data' if what == 'data' else now}"
            )
    start = int(extra.get("iterations", 0))
    if start >= run.iterations:
        raise CLIError(f"--resume: checkpoint {ckpt!r} already has {start} of {run.iterations} iterations")
    t, costs = _check_progress(run, extra, slots, start)
    if not args.quiet:
        print(f"Resuming from {ckpt} at {start}")
    # fit keeps a cost per epoch: each recorded one stands for the epochs up to the next, and
    # run.recorded picks the recorded ones back.
    every = run.cost_every
    costs = [costs[i // every] for i in range(start)]
    return start, {"parameters": parameters, **slots, "t": t, "epoch": start, "costs": costs}


def _malformed(ckpt: str, field: str, value: Any, expected: str) -> CLIError:
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return CLIError(
        f"--resume: checkpoint {ckpt!r} has a malformed field {field!r} ({shown}; expected {expected})"
    )


def _finite(value: Any) -> float:
    """``value`` as a finite float; NaN for anything else (strings, lists, integers past float's range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    try:
        return float(value)
    except OverflowError:
        return math.nan


def _recorded_number(ckpt: str, extra: dict[str, Any], name: str, optimizer_name: str) -> float | None:
    """The checkpoint's optimizer option ``name`` as a float (``clip_norm`` may be None), checked."""
    value = extra.get(name, default(optimizer_name, name))
    if value is None and name == "clip_norm":
        return None
    number = _finite(value)
    if not math.isfinite(number):
        raise _malformed(ckpt, name, value, "a finite number" + (" or null" if name == "clip_norm" else ""))
    return number


def _check_progress(
    run: Run, extra: dict[str, Any], slots: dict[str, Any], start: int
) -> tuple[int, list[float]]:
    """The step count ``t`` and the costs, once they and the slots agree with ``start`` iterations."""
    ckpt, optimizer, steps, every = run.ckpt, run.args.optimizer, run.steps, run.cost_every
    if sorted(slots) != sorted(OPTIMIZERS[optimizer].slots):
        held = ", ".join(sorted(slots)) or "none"
        raise CLIError(
            f"--resume: checkpoint {ckpt!r} holds the optimizer slots {held}; the {optimizer} optimizer "
            f"keeps {', '.join(OPTIMIZERS[optimizer].slots) or 'none'}"
        )
    # Gradient descent reads no step count (the course loop of earlier versions counted it from
    # each resumed start): its run is at step ``start``.
    t = start * steps if optimizer == "gd" else int(extra.get("t", start * steps))
    if t != start * steps:
        raise _malformed(ckpt, "t", t, f"{start} epochs of {steps} steps, {start * steps}")
    recorded = extra.get("costs", [])
    costs = [_finite(c) for c in recorded]
    if not all(map(math.isfinite, costs)):
        raise _malformed(ckpt, "costs", recorded, "finite numbers")
    expected = -(-start // every)
    if len(costs) != expected:
        unit = "epochs" if every == 1 else f"iterations, one every {every}"
        raise _malformed(ckpt, "costs", recorded, f"{expected} costs for {start} {unit}")
    return t, costs
