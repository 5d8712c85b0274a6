"""``portable-dnn predict``: a saved model's 0/1 predictions on a data set, or labels of pictures."""

from __future__ import annotations

import argparse
import importlib.util
import os
from typing import Any

import numpy as np

from ..backend import get_backend
from ..datasets import flatten_images
from ..serialization import load_metadata, load_parameters
from .common import CLIError, Data, accuracy, load_data, predict


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


def predict_images(args: argparse.Namespace) -> int:
    """``predict MODEL --image FILE...``: each picture's label and the network's probability of it."""
    if args.data or args.out or args.show_mislabeled or args.split:
        raise CLIError(
            "--image labels pictures alone: leave out --data, --split, --out and --show-mislabeled"
        )
    from ..images import predict_image

    for answer in predict_image(args.model, args.image):
        print(f"{answer.path}: {answer.label} (probability {answer.probability:.4f})")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    meta = load_metadata(args.model)
    be = get_backend(args.backend)
    parameters = load_parameters(args.model, backend=be)
    hidden = set(meta["activations"][:-1])
    if meta["activations"][-1] != "sigmoid" or len(hidden) > 1:
        raise CLIError(
            f"model {args.model!r} has activations {meta['activations']}; predict needs one "
            "hidden activation and a sigmoid output"
        )
    data = _data(args)
    use_test = args.split == "test" or (args.split is None and data.X_test is not None)
    X, Y = (data.X_test, data.Y_test) if use_test else (data.X, data.Y)
    assert X is not None
    split = "test" if use_test else "train"
    _check_examples(args, meta, data, X, split)
    p = predict(be, X, parameters, meta["dtype"], (hidden or {"relu"}).pop())
    name = "the embedded flower data" if data.source == "default" else data.source
    print(
        f"Predicted {p.shape[1]} {split} examples of {name}: {int(p.sum())} as 1, {int((1 - p).sum())} as 0"
    )
    if Y is not None:
        print(f"Accuracy: {accuracy(p, Y):.4f}")
    if args.out:
        _write(args.out, p)
    if args.show_mislabeled:
        if importlib.util.find_spec("matplotlib") is None:
            raise CLIError("--show-mislabeled needs matplotlib: pip install 'portable_dnn[plot]'")
        from ..plotting import plot_mislabeled

        assert Y is not None  # image data always has labels
        plot_mislabeled(X, Y, p, classes=data.classes, path=args.show_mislabeled)
        print(f"Mislabeled images written to {args.show_mislabeled}")
    return 0


def _data(args: argparse.Namespace) -> Data:
    """The data of ``--data`` (one course HDF5 file alone too), checked against ``--split`` and
    ``--show-mislabeled``."""
    if args.data and len(args.data) == 1 and args.data[0].endswith((".h5", ".hdf5")):
        data, only = _load_h5_split(args.data[0])  # scoring one file needs no other
        if args.split is not None and args.split != only:
            raise CLIError(f"--split {args.split}: {data.source} holds the {only} set only")
    else:
        data = load_data(args.data)
    if args.split == "test" and data.X_test is None:
        raise CLIError(f"--split test: the data {data.source} has no test set")
    if args.show_mislabeled and data.classes is None:
        raise CLIError(
            f"--show-mislabeled needs image data (the course's .h5 files); {data.source} holds "
            f"{data.X.shape[0]} features per example, not images"
        )
    return data


def _check_examples(args: argparse.Namespace, meta: dict[str, Any], data: Data, X: Any, split: str) -> None:
    """Refuse examples the model cannot take: other features, not real numbers, NaN or infinity."""
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


def _write(out: str, p: np.ndarray) -> None:
    if out.endswith(".csv"):
        np.savetxt(out, p.reshape(-1), fmt="%d")
    elif out.endswith(".npy"):
        np.save(out, p)
    else:
        raise CLIError(f"--out must end with .npy or .csv, got {out!r}")
    print(f"Predictions written to {out}")
