"""What every command shares: the program's name, its one-line errors, the data it reads."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..datasets import check_same_features, default_dataset, flatten_images, load_dataset, load_npz_dataset

PROG = "portable-dnn"


class CLIError(Exception):
    """A problem to report as one line, with the exit status to use."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Data:
    source: str  # what the data is called in messages and checkpoints
    X: np.ndarray
    Y: np.ndarray | None
    X_test: np.ndarray | None
    Y_test: np.ndarray | None
    classes: np.ndarray | None = None  # the course's list_classes: set for image data only
    input_shape: tuple[int, ...] | None = None  # one image's (height, width, channels)


def load_data(paths: Sequence[str] | None) -> Data:
    """The data of ``--data``: nothing (the embedded flower data), FILE.npz, or TRAIN.h5 TEST.h5."""
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


def fingerprint(data: Data) -> str:
    """The training examples' digest, which a checkpoint keeps so that --resume refuses other data."""
    h = hashlib.sha256()
    for a in (data.X, data.Y):
        if a is not None:
            h.update(str((a.shape, a.dtype.str)).encode())
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def accuracy(predictions: Any, Y: np.ndarray) -> float:
    p = to_numpy(predictions).reshape(-1)
    return float(np.mean(p == Y.reshape(-1)))


def predict(be: Any, X: np.ndarray, parameters: Any, dtype: str, hidden: str = "relu") -> np.ndarray:
    """The course's ``predict``: 1 where the network's output is above 0.5, as a 1 x m host int64 array."""
    from ..model import L_model_forward

    AL, _ = L_model_forward(be.asarray(X, dtype=dtype), parameters, hidden)
    return (to_numpy(AL) > 0.5).astype(np.int64)


def check_writable(option: str, path: str) -> None:
    """Raise unless ``path`` can be written: its folder exists and is writable, and it is no folder."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{option} {path!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise CLIError(f"{option} {path!r}: folder {folder!r} is not writable")
    if os.path.isdir(path):
        raise CLIError(f"{option} {path!r} is a folder")
