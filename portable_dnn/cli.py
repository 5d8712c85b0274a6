"""The ``portable-dnn`` command: train a network, predict with a saved one, show the backends.

::

    portable-dnn train                                   # the embedded flower data, a few seconds
    portable-dnn train --data train_catvnoncat.h5 test_catvnoncat.h5 --out cat.npz --plot cost.png
    portable-dnn predict cat.npz --data train_catvnoncat.h5 test_catvnoncat.h5
    portable-dnn predict cat.npz --data test_catvnoncat.h5 --show-mislabeled mislabeled.png
    portable-dnn export cat.npz cat.onnx
    portable-dnn info
    portable-dnn info cat.npz
    portable-dnn --version

``--layers`` gives the HIDDEN layer sizes only (``20,7,5``); the input size comes
from the data's features and the output layer is one sigmoid unit, so
``--layers 20,7,5`` on the cat data is the course's 12288-20-7-5-1 network.
Errors print one line ``portable-dnn: error: ...`` on stderr and exit with 1
(2 for a malformed command line); Ctrl-C during training saves a checkpoint
and exits with 130, SIGTERM likewise with 143, for every optimizer and batch size.

>>> main(["predict", "no_such_model.npz"])  # prints the one-line error on stderr
1
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import logging
import math
import os
import platform
import re
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from ._checks import check_decay_per_step
from .backend import ENV_VAR, ClusterError, available_backends, get_backend, to_numpy
from .datasets import check_same_features, default_dataset, flatten_images, load_dataset, load_npz_dataset
from .optim import OPTIMIZERS, Optimizer, optimizer, settings
from .serialization import load_checkpoint, load_metadata, load_parameters, save_parameters
from .trained import as_trained

PROG = "portable-dnn"

#: Defaults per data source: (hidden layer sizes, learning rate, iterations).
DEFAULTS = {
    "default": ((10, 5), 0.3, 10000),
    "file": ((20, 7, 5), 0.0075, 2500),
}


class CLIError(Exception):
    """A problem to report as one line, with the exit status to use."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CLIError(f"{message} (see '{self.prog} --help')", status=2)


@dataclass
class Data:
    source: str  # what the data is called in messages and checkpoints
    X: np.ndarray
    Y: np.ndarray | None
    X_test: np.ndarray | None
    Y_test: np.ndarray | None
    classes: np.ndarray | None = None  # the course's list_classes: set for image data only
    input_shape: tuple[int, ...] | None = None  # one image's (height, width, channels)


# -------------------------------------------------------------------- data


def _load_data(paths: Sequence[str] | None) -> Data:
    if not paths:
        X, Y, Xt, Yt = default_dataset()
        return Data("default", X, Y, Xt, Yt)
    if len(paths) == 1:
        if paths[0].endswith((".h5", ".hdf5")):
            raise CLIError("--data needs both HDF5 files of the course: --data TRAIN.h5 TEST.h5")
        X, Y, X_test, Y_test = load_npz_dataset(paths[0])
        return Data(os.path.basename(paths[0]), X, Y, X_test, Y_test)
    if len(paths) == 2:
        train_x, train_y, test_x, test_y, classes = load_dataset(paths[0], paths[1])
        check_same_features(train_x, test_x, train_name=paths[0], test_name=paths[1])
        name = f"{os.path.basename(paths[0])} {os.path.basename(paths[1])}"
        X, X_test = flatten_images(train_x), flatten_images(test_x)
        return Data(name, X, train_y, X_test, test_y, classes, tuple(train_x.shape[1:]))
    raise CLIError(f"--data takes FILE.npz or TRAIN.h5 TEST.h5, got {len(paths)} files")


def _fingerprint(data: Data) -> str:
    h = hashlib.sha256()
    for a in (data.X, data.Y):
        if a is not None:
            h.update(str((a.shape, a.dtype.str)).encode())
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _parse_layers(text: str) -> tuple[int, ...]:
    text = text.strip()
    if text in ("", "none"):
        return ()
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        sizes = (0,)
    if any(s <= 0 for s in sizes):
        raise CLIError(
            f"--layers must be comma-separated positive integers (hidden layer sizes), got {text!r}"
        )
    return sizes


def _optimizer(args: argparse.Namespace) -> Optimizer:
    """The optimizer of ``--optimizer`` with its flags applied (its own defaults elsewhere), checked;
    a flag the optimizer does not read is an error, not ignored."""
    reads = OPTIMIZERS[args.optimizer].hyperparameters()
    given: dict[str, Any] = {}
    for name, fields in settings().items():
        value = getattr(args, name)
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if name not in reads:
            raise CLIError(f"{flag} applies to --optimizer {' or '.join(fields)}, not {args.optimizer}")
        valid = reads[name].metadata["range"]
        if not valid.holds(value):
            raise CLIError(f"{flag} must be {valid}, got {value!r}")
        given[name] = value
    return optimizer(args.optimizer, PROG, **given)


def _default(name: str, setting: str) -> Any:
    """Optimizer ``name``'s own default for ``setting`` (what a checkpoint without it was made with)."""
    return getattr(OPTIMIZERS[name](), setting)


def _accuracy(predictions: Any, Y: np.ndarray) -> float:
    p = to_numpy(predictions).reshape(-1)
    return float(np.mean(p == Y.reshape(-1)))


def _checkpoint_path(out: str) -> str:
    return (out[: -len(".npz")] if out.endswith(".npz") else out) + ".ckpt.npz"


# ------------------------------------------------------------------- train


def _cmd_train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .fit import fit
    from .training import L_layer_model, TrainingInterrupted, TrainingState

    data = _load_data(args.data)
    defaults = DEFAULTS["default" if data.source == "default" else "file"]
    hidden = _parse_layers(args.layers) if args.layers is not None else defaults[0]
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
    opt = _optimizer(args)
    options = opt.get_params()
    out = args.out
    ckpt = _checkpoint_path(out)
    _check_start(args, ckpt, lr, options)
    # Every file the run will write is checked now, not after training.
    for option, path in (("--out", out), ("--plot", args.plot), ("checkpoint", ckpt)):
        if path is not None:
            _check_writable(option, path)
    be = get_backend(args.backend)
    layers_dims = [int(data.X.shape[0]), *hidden, 1]
    # The course's loop (full-batch gradient descent, costs every 100 iterations),
    # or fit's epochs of mini-batches, other optimizers or clipping: both through the engine.
    course = args.optimizer == "gd" and args.batch_size is None and args.clip_norm is None
    unit = "iteration" if course else "epoch"
    fingerprint = _fingerprint(data)

    def metadata(done: int, costs: Sequence[float], t: int) -> dict[str, Any]:
        return {
            "iterations": done,
            "num_iterations": iterations,
            "costs": [float(c) for c in costs],
            "learning_rate": lr,
            "seed": args.seed,
            "init": "xavier",
            "optimizer": args.optimizer,
            **options,
            "batch_size": args.batch_size,
            "t": t,
            "data": data.source,
            "data_sha256": fingerprint,
        }

    def save_checkpoint(state: TrainingState, last: bool = False) -> None:
        opt = state.optimizer_state()
        slots = {k: v for k, v in opt.items() if k != "t"}
        meta = metadata(state.iteration, state.costs, opt["t"])
        with _signals_deferred() as came:
            save_parameters(state.snapshot(), ckpt, metadata=meta, optimizer_state=slots)
        if came and last:
            print(f"{PROG}: a second interrupt came during the checkpoint write; it was finished first",
                  file=sys.stderr)  # fmt: skip
        elif came:
            signal.raise_signal(came[0])  # now the training loop takes it, after this step

    start, resume = 0, None
    if args.resume:
        steps = None if course else -(-int(data.X.shape[1]) // (args.batch_size or data.X.shape[1]))
        start, resume = _resume(args, ckpt, layers_dims, lr, fingerprint, iterations, options, steps)
    if not args.quiet:
        how = (
            ""
            if course
            else f", {args.optimizer}, "
            + ("full batch" if args.batch_size is None else f"mini-batches of {args.batch_size}")
        )
        print(
            f"Training {'-'.join(map(str, layers_dims))} on {data.source} ({data.X.shape[1]} examples) "
            f"with {be.name} ({be.device}), {args.dtype}{how}, learning rate {lr}, {iterations} {unit}s"
        )
    bar = _progress(args.quiet, iterations, start)
    every = args.checkpoint_every

    def progress(state: TrainingState) -> None:
        if bar is not None:
            bar.update(1)
            if state.last_cost is not None:
                bar.set_postfix(cost=f"{state.last_cost:.6f}", refresh=False)
        if every and state.iteration % every == 0 and state.iteration < iterations:
            save_checkpoint(state)

    try:
        if course:
            parameters, costs = L_layer_model(
                data.X,
                data.Y,
                layers_dims,
                learning_rate=lr,
                num_iterations=iterations,
                backend=be,
                seed=args.seed,
                init="xavier",
                initial_parameters=None if resume is None else resume["parameters"],
                start_iteration=start,
                costs=None if resume is None else resume["costs"],
                callback=progress,
                dtype=args.dtype,
                # The direct step, so that a run resumed after Ctrl-C ends bit for bit
                # where an uninterrupted one would (the Gram step agrees only to rounding).
                gram=False,
                signals=(signal.SIGTERM,),
            )
        else:
            parameters, history = fit(
                data.X,
                data.Y,
                layers_dims,
                init="xavier",
                optimizer=opt,
                learning_rate=lr,
                batch_size=args.batch_size,
                num_epochs=iterations,
                seed=args.seed,
                backend=be,
                dtype=args.dtype,
                resume=resume,
                checkpoint=progress,
                signals=(signal.SIGTERM,),
            )
            costs = history["cost"]
    except TrainingInterrupted as exc:
        if bar is not None:
            bar.close()
        save_checkpoint(exc.state, last=True)
        # Resuming continues this run: the flag that let it replace an older checkpoint goes.
        again = [a for a in argv if not (a.startswith("--ov") and "--overwrite-checkpoint".startswith(a))]
        again = again if "--resume" in again else [*again, "--resume"]
        what = "terminated" if exc.signum == signal.SIGTERM else "interrupted"
        print(
            f"{PROG}: {what} after {exc.state.iteration} of {iterations} {unit}s; checkpoint saved to "
            f"{ckpt}; resume with: {shlex.join([PROG, *again])}",
            file=sys.stderr,
        )
        return 128 + int(exc.signum)
    except ClusterError as exc:
        kept = every or args.resume
        note = f"; the last checkpoint is kept in {ckpt}" if kept and os.path.exists(ckpt) else ""
        raise CLIError(f"{exc}{note}") from None
    finally:
        if bar is not None:
            bar.close()

    as_trained(
        parameters, input_shape=data.input_shape, classes=data.classes, info=metadata(iterations, costs, 0)
    ).save(out)
    if os.path.exists(ckpt):
        os.remove(ckpt)  # the finished model supersedes it
    if len(costs):
        done = 100 * (len(costs) - 1) if course else len(costs) - 1
        print(f"Cost after {unit} {done}: {float(costs[-1]):.6f}")
    dtype = str(parameters["W1"].dtype).rsplit(".", 1)[-1]  # 'float32' from numpy's or torch's name
    print(f"Train accuracy: {_accuracy(_predict(be, data.X, parameters, dtype), data.Y):.4f}")
    if data.X_test is not None and data.Y_test is not None:
        print(f"Test accuracy: {_accuracy(_predict(be, data.X_test, parameters, dtype), data.Y_test):.4f}")
    print(f"Model written to {out}")
    if args.plot:
        _plot([float(c) for c in costs], lr, args.plot, every=100 if course else 1, label=unit)
        print(f"Cost curve written to {args.plot}")
    return 0


def _check_start(args: argparse.Namespace, ckpt: str, lr: float, options: dict[str, Any]) -> None:
    """Refuse a run that would replace an unfinished run's checkpoint, or decay the weights past zero."""
    if os.path.exists(ckpt) and not (args.resume or args.overwrite_checkpoint):
        raise CLIError(
            f"{ckpt!r} holds the checkpoint of an unfinished run: continue it with --resume, or start "
            "over with --overwrite-checkpoint (which replaces it)"
        )
    if args.optimizer == "adamw":
        check_decay_per_step("--weight-decay", lr, options["weight_decay"])


def _resume(
    args: argparse.Namespace,
    ckpt: str,
    layers_dims: list[int],
    lr: float,
    fingerprint: str,
    iterations: int,
    options: dict[str, Any],
    steps: int | None,
) -> tuple[int, dict[str, Any]]:
    """The iteration (epoch) to start from and fit's ``resume`` dict, from this command's checkpoint.

    ``steps`` is the number of steps per epoch (None for the course's loop, which keeps no step count).
    """
    if not os.path.exists(ckpt):
        raise CLIError(f"--resume: no checkpoint {ckpt!r} to resume from")
    parameters, slots, meta = load_checkpoint(ckpt, backend="numpy")  # host arrays: moved once
    extra = meta["metadata"]
    checks = [
        ("layer sizes", meta["layer_dims"], layers_dims),
        ("learning rate", extra.get("learning_rate"), lr),
        ("seed", extra.get("seed"), args.seed),
        ("optimizer", extra.get("optimizer", "gd"), args.optimizer),
        # A checkpoint without them was made when the defaults were the only choice.
        *(
            (name.replace("_", " "), _recorded_number(ckpt, extra, name, args.optimizer), value)
            for name, value in options.items()
        ),
        ("batch size", extra.get("batch_size"), args.batch_size),
        ("data", extra.get("data_sha256"), fingerprint),
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
    if start >= iterations:
        raise CLIError(f"--resume: checkpoint {ckpt!r} already has {start} of {iterations} iterations")
    t, costs = _check_progress(ckpt, extra, slots, args.optimizer, start, steps)
    if not args.quiet:
        print(f"Resuming from {ckpt} at {start}")
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
    value = extra.get(name, _default(optimizer_name, name))
    if value is None and name == "clip_norm":
        return None
    number = _finite(value)
    if not math.isfinite(number):
        raise _malformed(ckpt, name, value, "a finite number" + (" or null" if name == "clip_norm" else ""))
    return number


def _check_progress(
    ckpt: str, extra: dict[str, Any], slots: dict[str, Any], optimizer: str, start: int, steps: int | None
) -> tuple[int, list[float]]:
    """The step count ``t`` and the costs, once they and the slots agree with ``start`` iterations."""
    from .training import COST_EVERY

    if sorted(slots) != sorted(OPTIMIZERS[optimizer].slots):
        held = ", ".join(sorted(slots)) or "none"
        raise CLIError(
            f"--resume: checkpoint {ckpt!r} holds the optimizer slots {held}; the {optimizer} optimizer "
            f"keeps {', '.join(OPTIMIZERS[optimizer].slots) or 'none'}"
        )
    t = int(extra.get("t", 0))
    if steps is not None and t != start * steps:
        raise _malformed(ckpt, "t", t, f"{start} epochs of {steps} steps, {start * steps}")
    recorded = extra.get("costs", [])
    costs = [_finite(c) for c in recorded]
    if not all(map(math.isfinite, costs)):
        raise _malformed(ckpt, "costs", recorded, "finite numbers")
    expected = start if steps is not None else -(-start // COST_EVERY)
    if len(costs) != expected:
        unit = "epochs" if steps is not None else f"iterations, one every {COST_EVERY}"
        raise _malformed(ckpt, "costs", recorded, f"{expected} costs for {start} {unit}")
    return t, costs


def _check_writable(option: str, path: str) -> None:
    """Raise unless ``path`` can be written: its folder exists and is writable, and it is no folder."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{option} {path!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise CLIError(f"{option} {path!r}: folder {folder!r} is not writable")
    if os.path.isdir(path):
        raise CLIError(f"{option} {path!r} is a folder")


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


def _scheduler(args: argparse.Namespace) -> Any:
    """The Dask scheduler named by ``--scheduler`` for the whole command (training and predictions)."""
    if args.scheduler is None:
        return contextlib.nullcontext()
    try:
        return _quietly(get_backend(args.backend).scheduler(args.scheduler))
    except ValueError as exc:
        raise CLIError(f"--scheduler: {exc}") from None


@contextlib.contextmanager
def _quietly(block: Any) -> Any:
    """``block`` with distributed's notices of lost connections unshown: a fault is reported as one line."""
    logger = logging.getLogger("distributed")
    previous = logger.level
    logger.setLevel(max(logging.ERROR, logger.getEffectiveLevel()))
    try:
        with block as value:
            yield value
    finally:
        logger.setLevel(previous)


def _predict(be: Any, X: np.ndarray, parameters: Any, dtype: str, hidden: str = "relu") -> np.ndarray:
    """The course's ``predict``: 1 where the network's output is above 0.5, as a 1 x m host int64 array."""
    from .model import L_model_forward

    AL, _ = L_model_forward(be.asarray(X, dtype=dtype), parameters, hidden)
    return (to_numpy(AL) > 0.5).astype(np.int64)


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
    from .plotting import plot_costs

    plot_costs(costs, learning_rate=lr, every=every, xlabel=label, path=path)


# ----------------------------------------------------------------- predict


def _load_h5_split(path: str) -> tuple[Data, str]:
    """One of the course's HDF5 files on its own (the test file, say) and the split it holds."""
    try:
        import h5py
    except ImportError:
        raise CLIError("reading HDF5 files needs h5py: pip install 'portable_dnn[cli]'") from None
    if not os.path.isfile(path):
        raise CLIError(f"file {path!r} does not exist")
    try:
        with h5py.File(path, "r") as f:
            split = next((s for s in ("test", "train") if f"{s}_set_x" in f and f"{s}_set_y" in f), None)
            if split is None:
                found = ", ".join(map(repr, f.keys())) or "nothing"
                raise CLIError(
                    f"{path!r} has neither test_set_x/test_set_y nor train_set_x/train_set_y (found {found})"
                )
            x = np.array(f[f"{split}_set_x"][:])
            y = np.array(f[f"{split}_set_y"][:]).reshape(1, -1)
            classes = np.array(f["list_classes"][:]) if "list_classes" in f else None
    except OSError as exc:
        raise CLIError(f"{path!r} is not a readable HDF5 file ({exc})") from None
    if x.ndim < 2 or y.shape[1] != x.shape[0]:
        raise CLIError(f"{path!r}: {split}_set_y holds {y.shape[1]} labels for {x.shape[0]} examples")
    X = flatten_images(x)
    name = os.path.basename(path)
    data = Data(name, X, y, None, None, classes) if split == "train" else Data(name, X, None, X, y, classes)
    return data, split


def _predict_images(args: argparse.Namespace) -> int:
    """``predict MODEL --image FILE...``: each picture's label and the network's probability of it."""
    if args.data or args.out or args.show_mislabeled or args.split:
        raise CLIError(
            "--image labels pictures alone: leave out --data, --split, --out and --show-mislabeled"
        )
    from .images import predict_image

    for answer in predict_image(args.model, args.image):
        print(f"{answer.path}: {answer.label} (probability {answer.probability:.4f})")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    meta = load_metadata(args.model)
    be = get_backend(args.backend)
    parameters = load_parameters(args.model, backend=be)
    hidden = set(meta["activations"][:-1])
    if meta["activations"][-1] != "sigmoid" or len(hidden) > 1:
        raise CLIError(
            f"model {args.model!r} has activations {meta['activations']}; predict needs one "
            "hidden activation and a sigmoid output"
        )
    if args.data and len(args.data) == 1 and args.data[0].endswith((".h5", ".hdf5")):
        data, only = _load_h5_split(args.data[0])  # scoring one file needs no other
        if args.split is not None and args.split != only:
            raise CLIError(f"--split {args.split}: {data.source} holds the {only} set only")
    else:
        data = _load_data(args.data)
    if args.split == "test" and data.X_test is None:
        raise CLIError(f"--split test: the data {data.source} has no test set")
    if args.show_mislabeled and data.classes is None:
        raise CLIError(
            f"--show-mislabeled needs image data (the course's .h5 files); {data.source} holds "
            f"{data.X.shape[0]} features per example, not images"
        )
    use_test = args.split == "test" or (args.split is None and data.X_test is not None)
    X, Y = (data.X_test, data.Y_test) if use_test else (data.X, data.Y)
    assert X is not None
    split = "test" if use_test else "train"
    n_x = meta["layer_dims"][0]
    if X.shape[0] != n_x:
        raise CLIError(
            f"model {args.model!r} expects {n_x} features per example (layers "
            f"{'-'.join(map(str, meta['layer_dims']))}), but the data {data.source} has {X.shape[0]}"
        )
    if X.dtype.kind not in "biuf":
        raise CLIError(f"the {split} examples of {data.source} are {X.dtype}; predict needs real numbers")
    if not np.all(np.isfinite(X)):
        feature, example = np.argwhere(~np.isfinite(X))[0]
        raise CLIError(
            f"the {split} examples of {data.source} contain NaN or infinity "
            f"({float(X[feature, example])!r} in feature {feature} of example {example})"
        )
    p = _predict(be, X, parameters, meta["dtype"], (hidden or {"relu"}).pop())
    name = "the embedded flower data" if data.source == "default" else data.source
    print(
        f"Predicted {p.shape[1]} {split} examples of {name}: {int(p.sum())} as 1, {int((1 - p).sum())} as 0"
    )
    if Y is not None:
        print(f"Accuracy: {_accuracy(p, Y):.4f}")
    if args.out:
        if args.out.endswith(".csv"):
            np.savetxt(args.out, p.reshape(-1), fmt="%d")
        elif args.out.endswith(".npy"):
            np.save(args.out, p)
        else:
            raise CLIError(f"--out must end with .npy or .csv, got {args.out!r}")
        print(f"Predictions written to {args.out}")
    if args.show_mislabeled:
        if importlib.util.find_spec("matplotlib") is None:
            raise CLIError("--show-mislabeled needs matplotlib: pip install 'portable_dnn[plot]'")
        from .plotting import plot_mislabeled

        assert Y is not None  # image data always has labels
        plot_mislabeled(X, Y, p, classes=data.classes, path=args.show_mislabeled)
        print(f"Mislabeled images written to {args.show_mislabeled}")
    return 0


# -------------------------------------------------------------------- info


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_onnx

    print(f"ONNX model written to {export_onnx(args.model, args.out)}")
    return 0


def _extras() -> dict[str, list[str]] | None:
    """Each distribution portable_dnn requires and the extras that install it (``[]``: always),
    read from the installed distribution's ``Requires-Dist``; None where it is not installed."""
    try:
        requires = importlib.metadata.requires("portable_dnn") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found: dict[str, list[str]] = {}
    for line in requires:
        name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if name is None or name.group(1).lower().replace("_", "-") == "portable-dnn":
            continue  # an extra that names other extras: their requirements are listed themselves
        extra = re.search(r"extra\s*==\s*[\"']([^\"']+)[\"']", line)
        extras = found.setdefault(name.group(1), [])
        if extra and extra.group(1) not in extras:
            extras.append(extra.group(1))
    return found


def _cmd_info(args: argparse.Namespace) -> int:
    from . import __version__

    if args.model is not None:
        from .trained import summary

        summary(args.model)
        return 0
    auto = get_backend("auto")
    print(f"portable_dnn {__version__} on Python {platform.python_version()} ({platform.platform()})")
    print(f"Backends that can run here: {', '.join(available_backends())}")
    print(f"'auto' picks: {auto.name} on {auto.device}{' (GPU)' if auto.is_gpu else ''}")
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        print(f"{ENV_VAR}={chosen}")
    extras = _extras()
    if extras is None:
        print("Versions (portable_dnn is not installed, so its optional dependencies are unknown):")
        extras = {"numpy": [], "array-api-compat": []}
    else:
        print("Versions (optional dependencies with the extras that install them):")
    for dist, names in extras.items():
        print(f"  {dist}: {_version(dist)}" + (f"  [{', '.join(names)}]" if names else ""))
    return 0


# -------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser (``portable-dnn --help``)."""
    from . import __version__

    parser = _Parser(prog=PROG, description="Train and run the course's deep networks on any array backend.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    data_help = (
        "FILE.npz (X: features x examples, Y: 1 x examples, optional X_test/Y_test) or the course's "
        "TRAIN.h5 TEST.h5; default: the embedded planar flower data (portable_dnn.datasets.default_dataset)"
    )
    backend_help = f"array backend (auto, numpy, cupy, torch, ...); default: ${ENV_VAR} or auto"

    train = sub.add_parser(
        "train",
        help="train an L-layer network and save it",
        description="Train [LINEAR->RELU]x(L-1)->LINEAR->SIGMOID by full-batch gradient descent; "
        "--layers gives the hidden sizes, the input size comes from the data and the output is one unit.",
    )
    train.add_argument("--data", nargs="+", metavar="FILE", help=data_help)
    train.add_argument(
        "--layers",
        metavar="SIZES",
        help="hidden layer sizes, comma-separated (input and output sizes come from the data); "
        "default 10,5 on the embedded data, 20,7,5 on files",
    )
    train.add_argument(
        "--learning-rate", type=float, metavar="RATE", help="default 0.3 embedded, 0.0075 files"
    )
    train.add_argument("--iterations", type=int, metavar="N", help="default 10000 embedded, 2500 files")
    train.add_argument("--backend", help=backend_help)
    train.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --backend dask: a distributed scheduler's address (tcp://HOST:8786), or threads or "
        "synchronous; default: Dask's local threaded scheduler",
    )
    train.add_argument(
        "--optimizer",
        default="gd",
        choices=list(OPTIMIZERS),
        help="gd (default: the course's full-batch gradient descent), "
        + ", ".join(list(OPTIMIZERS)[1:])
        + "; with --batch-size, --clip-norm or another optimizer, training runs portable_dnn.fit "
        "and --iterations counts epochs",
    )
    for name, fields in settings().items():
        readers = ", ".join(fields)
        values = {k: _default(k, name) for k in fields}
        same = len(set(values.values())) == 1
        defaults = (
            str(values[readers.split(", ")[0]])
            if same
            else ", ".join(f"{v} for {k}" for k, v in values.items())
        )
        doc = next(iter(fields.values())).metadata["doc"]
        if name == "clip_norm":
            readers, defaults = "any optimizer", "off"
        train.add_argument(
            "--" + name.replace("_", "-"),
            type=float,
            metavar="X",
            help=f"{readers}: {doc} (default {defaults})",
        )
    train.add_argument(
        "--batch-size", type=int, metavar="N", help="mini-batch size (default: the full batch)"
    )
    train.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    train.add_argument("--seed", type=int, default=1, help="seed of the weights' initialization (default 1)")
    train.add_argument("--out", default="model.npz", help="model file to write (default model.npz)")
    train.add_argument("--plot", metavar="FILE.png", help="also draw the cost curve")
    train.add_argument(
        "--checkpoint-every", type=int, metavar="N", help="save OUT.ckpt.npz every N iterations"
    )
    again = train.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue from OUT.ckpt.npz")
    again.add_argument(
        "--overwrite-checkpoint",
        action="store_true",
        help="start over although OUT.ckpt.npz of an unfinished run exists (it is replaced); "
        "without this or --resume such a checkpoint stops the command",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar or header")

    pred = sub.add_parser("predict", help="predict with a saved model")
    pred.add_argument("model", metavar="MODEL.npz")
    pred.add_argument(
        "--data",
        nargs="+",
        metavar="FILE",
        help=data_help + "; or one of the course's .h5 files alone (TEST.h5 scores the test set)",
    )
    pred.add_argument(
        "--split", choices=("train", "test"), help="which set (default: test when there is one)"
    )
    pred.add_argument("--backend", help=backend_help)
    pred.add_argument(
        "--image",
        nargs="+",
        metavar="FILE",
        help="label your own pictures (JPEG, PNG, ...), each resized to the model's input image",
    )
    pred.add_argument("--out", metavar="FILE", help="write the 0/1 predictions to FILE.npy or FILE.csv")
    pred.add_argument(
        "--show-mislabeled",
        metavar="FILE.png",
        help="draw the mislabeled images with their predicted and true classes (image data only)",
    )

    export = sub.add_parser(
        "export",
        help="write a saved model as an ONNX model",
        description="Write MODEL.npz as an ONNX model: input X (batch, features), outputs "
        "probabilities (or values) and labels (needs pip install 'portable_dnn[onnx]').",
    )
    export.add_argument("model", metavar="MODEL.npz")
    export.add_argument("out", metavar="MODEL.onnx")

    info = sub.add_parser(
        "info",
        help="show the backends this machine can run and the versions, or describe a saved model",
    )
    info.add_argument(
        "model", nargs="?", metavar="MODEL.npz", help="describe this model: layers, shapes, training"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.command == "train":
            with _scheduler(args):
                return _cmd_train(args, argv)
        if args.command == "predict":
            return _predict_images(args) if args.image else _cmd_predict(args)
        if args.command == "export":
            return _cmd_export(args)
        return _cmd_info(args)
    except CLIError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.status
    except (ValueError, TypeError, OSError, ArithmeticError) as exc:
        message = (
            f"{exc.strerror}: {exc.filename!r}" if isinstance(exc, OSError) and exc.filename else str(exc)
        )
        print(f"{PROG}: error: {message or type(exc).__name__}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except ClusterError as exc:  # the Dask cluster failed after training, under predictions
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{PROG}: error: not enough memory for this network and data (try smaller --layers, "
              "--batch-size or --dtype float32)", file=sys.stderr)  # fmt: skip
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
