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

import sys
from collections.abc import Sequence

from ..backend import ClusterError
from ..serialization import save_parameters
from .common import PROG, CLIError, Data
from .common import fingerprint as _fingerprint
from .info import cmd_export, cmd_info
from .parser import build_parser
from .parser import optimizer_of as _optimizer
from .predict import cmd_predict, predict_images
from .train import DEFAULTS, cmd_train, scheduler

#: What the tests and tools reach here: the entry point, the parser, the writer a test replaces, and
#: the checks a crafted checkpoint is made with.
__all__ = [
    "DEFAULTS",
    "PROG",
    "CLIError",
    "Data",
    "_fingerprint",
    "_optimizer",
    "build_parser",
    "main",
    "save_parameters",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.command == "train":
            with scheduler(args):
                return cmd_train(args, argv)
        if args.command == "predict":
            return predict_images(args) if args.image else cmd_predict(args)
        if args.command == "export":
            return cmd_export(args)
        return cmd_info(args)
    except CLIError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.status
    except (ValueError, TypeError, OSError, ArithmeticError) as exc:
        message = (
            f"{exc.strerror}: {exc.filename!r}" if isinstance(exc, OSError) and exc.filename else str(exc)
        )
        print(f"{PROG}: error: {message or type(exc).__name__}", file=sys.stderr)
        return 1
    except (ImportError, ClusterError) as exc:  # ClusterError: the Dask cluster failed after training
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{PROG}: error: not enough memory for this network and data (try smaller --layers, "
              "--batch-size or --dtype float32)", file=sys.stderr)  # fmt: skip
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
