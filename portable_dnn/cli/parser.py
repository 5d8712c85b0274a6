"""The command line's parser, and the checked values it leaves to the commands."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from ..backend import ENV_VAR
from ..optim import OPTIMIZERS, Optimizer, optimizer, settings
from .common import PROG, CLIError

DATA_HELP = (
    "FILE.npz (X: features x examples, Y: 1 x examples, optional X_test/Y_test) or the course's "
    "TRAIN.h5 TEST.h5; default: the embedded planar flower data (portable_dnn.datasets.default_dataset)"
)
BACKEND_HELP = f"array backend (auto, numpy, cupy, torch, ...); default: ${ENV_VAR} or auto"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CLIError(f"{message} (see '{self.prog} --help')", status=2)


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser (``portable-dnn --help``)."""
    from .. import __version__

    parser = _Parser(prog=PROG, description="Train and run the course's deep networks on any array backend.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    _add_train(sub)
    _add_predict(sub)
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


def _add_train(sub: Any) -> None:
    train = sub.add_parser(
        "train",
        help="train an L-layer network and save it",
        description="Train [LINEAR->RELU]x(L-1)->LINEAR->SIGMOID (by default the course's full-batch "
        "gradient descent) with portable_dnn.fit; --layers gives the hidden sizes, the input size comes "
        "from the data and the output is one unit.",
    )
    train.add_argument("--data", nargs="+", metavar="FILE", help=DATA_HELP)
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
    train.add_argument("--backend", help=BACKEND_HELP)
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
        + "; with --batch-size, --clip-norm or another optimizer, --iterations counts epochs",
    )
    _add_optimizer_settings(train)
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


def _add_optimizer_settings(train: argparse.ArgumentParser) -> None:
    """A flag per optimizer hyperparameter, its help naming the optimizers that read it."""
    for name, fields in settings().items():
        readers = ", ".join(fields)
        values = {k: default(k, name) for k in fields}
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


def _add_predict(sub: Any) -> None:
    pred = sub.add_parser("predict", help="predict with a saved model")
    pred.add_argument("model", metavar="MODEL.npz")
    pred.add_argument(
        "--data",
        nargs="+",
        metavar="FILE",
        help=DATA_HELP + "; or one of the course's .h5 files alone (TEST.h5 scores the test set)",
    )
    pred.add_argument(
        "--split", choices=("train", "test"), help="which set (default: test when there is one)"
    )
    pred.add_argument("--backend", help=BACKEND_HELP)
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


def parse_layers(text: str) -> tuple[int, ...]:
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


def optimizer_of(args: argparse.Namespace) -> Optimizer:
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


def default(name: str, setting: str) -> Any:
    """Optimizer ``name``'s own default for ``setting`` (what a checkpoint without it was made with)."""
    return getattr(OPTIMIZERS[name](), setting)
