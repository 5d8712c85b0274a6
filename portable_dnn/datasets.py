"""Data on the host: the course's HDF5 files, ``.npz`` files and an embedded default dataset.

Everything here is file I/O or data generation on the host, so it returns NumPy
arrays; training moves them to the backend once.

>>> X_train, Y_train, X_test, Y_test = default_dataset()
>>> X_train.shape, Y_train.shape, X_test.shape, Y_test.shape
((2, 320), (1, 320), (2, 80), (1, 80))
"""

from __future__ import annotations

import os
import zipfile
from typing import Any

import numpy as np

from ._checks import check_file

__all__ = ["load_dataset", "check_same_features", "flatten_images", "load_npz_dataset", "default_dataset"]

_H5_HINT = "pip install 'portable_dnn[cli]'"


class _Invalid(ValueError):
    """A problem found by the checks (its message is already complete)."""


def _h5_dataset(func: str, path: str, f: Any, key: str, what: str, min_ndim: int) -> np.ndarray:
    """Dataset ``key`` of the open HDF5 file ``f``, once its kind, type and shape fit ``what``."""
    import h5py

    obj = f[key]
    where = f"{func}: {key!r} in {path!r}"
    if not isinstance(obj, h5py.Dataset):
        kind = "a group" if isinstance(obj, h5py.Group) else f"a {type(obj).__name__}"
        raise _Invalid(f"{where} is {kind}, expected a dataset of {what}")
    if obj.shape is None:
        raise _Invalid(f"{where} is an empty dataset with no shape, expected {what}")
    if obj.dtype.kind not in "biuf":
        held = "strings" if obj.dtype.kind in "SUO" else "values"
        raise _Invalid(f"{where} holds {held} of dtype {obj.dtype}, expected numbers ({what})")
    if len(obj.shape) < min_ndim:
        shape = "is a scalar" if obj.shape == () else f"has shape {obj.shape}"
        raise _Invalid(f"{where} {shape}, expected {what}")
    if obj.shape[0] == 0:
        raise _Invalid(f"{where} is empty (shape {obj.shape}), expected {what}")
    try:
        return np.asarray(obj[()])
    except (OSError, RuntimeError, TypeError, ValueError):
        raise _Invalid(f"{where} cannot be read (damaged data or an unsupported storage filter)") from None


def _read_h5(func: str, path: str, x_key: str, y_key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        import h5py
    except ImportError:
        raise ValueError(f"{func}: reading HDF5 files needs h5py: {_H5_HINT}") from None
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in (x_key, y_key, "list_classes") if k not in f]
            if missing:
                raise _Invalid(
                    f"{func}: file {path!r} has no dataset {', '.join(map(repr, missing))} "
                    f"(found {', '.join(map(repr, f.keys())) or 'nothing'})"
                )
            x = _h5_dataset(func, path, f, x_key, "(m, ...) images, one example per row", 2)
            y = _h5_dataset(func, path, f, y_key, "(m,) labels", 1)
            classes_obj = f["list_classes"]
            if not isinstance(classes_obj, h5py.Dataset) or classes_obj.shape is None:
                raise _Invalid(f"{func}: 'list_classes' in {path!r} is not a dataset, expected class names")
            classes = np.asarray(classes_obj[()])
    except _Invalid:
        raise
    except (OSError, KeyError, RuntimeError, TypeError, ValueError) as exc:
        reason = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else "damaged, or not HDF5"
        raise ValueError(f"{func}: file {path!r} is not a readable HDF5 file ({reason})") from None
    m = x.shape[0]
    if not (y.ndim == 1 or (y.ndim == 2 and 1 in y.shape)):
        raise ValueError(f"{func}: {y_key!r} in {path!r} has shape {y.shape}, expected ({m},) labels")
    if y.size != m:
        raise ValueError(f"{func}: {y_key!r} in {path!r} holds {y.size} labels for {m} examples in {x_key!r}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError(f"{func}: {y_key!r} in {path!r} must hold labels 0 or 1 only")
    return x, y.reshape((1, m)), classes


def load_dataset(
    train_path: str | os.PathLike[str], test_path: str | os.PathLike[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The course's ``load_dataset``: ``(train_x_orig, train_y, test_x_orig, test_y, classes)``.

    ``train_x_orig`` is ``train_set_x`` as stored (``(m, 64, 64, 3)`` uint8 for the
    cat data), ``train_y`` is ``train_set_y`` as a ``(1, m)`` row, the same for the
    test file, and ``classes`` is the train file's ``list_classes``. A missing file
    or dataset, or a dataset that is not what the course stores (a group, strings,
    a scalar, no examples, the wrong number of dimensions, labels other than 0/1 or
    not one per image), raises ``ValueError`` naming the file and the dataset.

    >>> load_dataset("no_such_train.h5", "no_such_test.h5")
    Traceback (most recent call last):
    ...
    ValueError: load_dataset: file 'no_such_train.h5' does not exist
    """
    func = "load_dataset"
    train_path = check_file(func, train_path)
    test_path = check_file(func, test_path)
    train_x, train_y, classes = _read_h5(func, train_path, "train_set_x", "train_set_y")
    test_x, test_y, _ = _read_h5(func, test_path, "test_set_x", "test_set_y")
    return train_x, train_y, test_x, test_y, classes


def check_same_features(
    train_x: Any,
    test_x: Any,
    *,
    train_name: str | None = None,
    test_name: str | None = None,
    axis: int = 0,
) -> None:
    """Raise ``ValueError`` unless every example of ``test_x`` has the shape of those of ``train_x``.

    Examples run along ``axis`` of both arrays: 0 for the images
    :func:`load_dataset` returns (``(m, 64, 64, 3)``), 1 for ``(features, m)``
    matrices. ``train_name`` and ``test_name`` (such as the files' paths) are
    named in the message.

    >>> check_same_features(np.zeros((5, 64, 64, 3)), np.zeros((2, 64, 64, 3)))
    >>> check_same_features(np.zeros((5, 64, 64, 3)), np.zeros((2, 8, 8)), test_name="t.h5")
    Traceback (most recent call last):
    ...
    ValueError: check_same_features: test_x ('t.h5') holds (8, 8) examples, expected (64, 64, 3) like train_x
    """
    func = "check_same_features"
    shapes = []
    for arg, a in (("train_x", train_x), ("test_x", test_x)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{func}: {arg} must be a NumPy array, got {type(a).__name__}")
        if isinstance(axis, bool) or not isinstance(axis, int) or not -a.ndim <= axis < a.ndim:
            raise ValueError(f"{func}: axis must be an axis of {arg} (shape {a.shape}), got {axis!r}")
        k = axis % a.ndim
        shapes.append(a.shape[:k] + a.shape[k + 1 :])
    if shapes[0] != shapes[1]:
        test = f"test_x ({test_name!r})" if test_name is not None else "test_x"
        train = f"train_x ({train_name!r})" if train_name is not None else "train_x"
        raise ValueError(f"{func}: {test} holds {shapes[1]} examples, expected {shapes[0]} like {train}")


def flatten_images(x_orig: Any) -> np.ndarray:
    """The course's preprocessing: each image becomes a column, scaled to [0, 1].

    Exactly ``x_orig.reshape(m, -1).T / 255.``: a ``(features, m)`` float64 array
    (Fortran-ordered, which the training loop's matrix products like).

    >>> x = np.full((2, 2, 2, 3), 255, dtype=np.uint8)
    >>> flatten_images(x).shape, float(flatten_images(x).max())
    ((12, 2), 1.0)
    """
    if not isinstance(x_orig, np.ndarray):
        raise TypeError(f"flatten_images: x_orig must be a NumPy array, got {type(x_orig).__name__}")
    if x_orig.ndim < 2:
        raise ValueError(
            f"flatten_images: x_orig must be (m, ...) with one example per row, got {x_orig.shape}"
        )
    m = x_orig.shape[0]
    return x_orig.reshape(m, -1).T / 255.0  # type: ignore[no-any-return]


def _npz_array(func: str, path: str, data: Any, key: str) -> np.ndarray:
    try:
        return np.asarray(data[key])
    except ValueError as exc:  # object arrays need pickle, which stays off
        if "allow_pickle" in str(exc):
            raise ValueError(
                f"{func}: array {key!r} in {path!r} holds Python objects, which cannot be read without pickle"
            ) from None
        raise ValueError(f"{func}: array {key!r} in {path!r} is damaged ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{func}: array {key!r} in {path!r} is damaged ({exc})") from None


def _check_xy(func: str, path: str, X: np.ndarray, Y: np.ndarray, xk: str, yk: str) -> tuple[Any, Any]:
    if X.ndim != 2:
        raise ValueError(f"{func}: {xk!r} in {path!r} has shape {X.shape}, expected (features, examples)")
    if Y.ndim == 1:
        Y = Y.reshape((1, -1))
    if Y.ndim != 2 or Y.shape != (1, X.shape[1]):
        raise ValueError(
            f"{func}: {yk!r} in {path!r} has shape {Y.shape}, expected (1, {X.shape[1]}) "
            f"(one label per column of {xk!r})"
        )
    if not (np.issubdtype(X.dtype, np.number) and np.issubdtype(Y.dtype, np.number)):
        raise ValueError(f"{func}: {xk!r} and {yk!r} in {path!r} must be numeric, got {X.dtype}, {Y.dtype}")
    for key, a in ((xk, X), (yk, Y)):
        if np.issubdtype(a.dtype, np.complexfloating):
            raise ValueError(f"{func}: {key!r} in {path!r} is {a.dtype}; training needs real numbers")
    if not np.all((Y == 0) | (Y == 1)):
        raise ValueError(f"{func}: {yk!r} in {path!r} must hold labels 0 or 1 only")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    return X, Y


def load_npz_dataset(
    path: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(X, Y, X_test, Y_test)`` from an ``.npz`` with ``X`` (features x examples), ``Y`` (1 x examples).

    ``X_test`` and ``Y_test`` are optional (``None`` when absent) but come
    together. Integer features become float64. Pickle stays off.

    >>> load_npz_dataset("missing.npz")
    Traceback (most recent call last):
    ...
    ValueError: load_npz_dataset: file 'missing.npz' does not exist
    """
    func = "load_npz_dataset"
    path = check_file(func, path)
    try:
        with open(path, "rb") as fh:  # our own handle: np.load leaks its own on a damaged zip
            if fh.read(4) not in (b"PK\x03\x04", b"PK\x05\x06", b"\x93NUM"):
                # np.load would try pickle and answer with advice to allow it
                raise ValueError(f"{func}: file {path!r} is not an .npz file, expected an .npz with X and Y")
            fh.seek(0)
            data = np.load(fh, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError(
                    f"{func}: file {path!r} is a single .npy array, expected an .npz with X and Y"
                )
            keys = set(data.files)
            missing = [k for k in ("X", "Y") if k not in keys]
            if missing:
                raise ValueError(
                    f"{func}: file {path!r} has no array {', '.join(map(repr, missing))} "
                    f"(found {', '.join(map(repr, sorted(keys))) or 'nothing'}); expected X (features x "
                    "examples) and Y (1 x examples), optionally X_test and Y_test"
                )
            if ("X_test" in keys) != ("Y_test" in keys):
                raise ValueError(f"{func}: file {path!r} must hold both X_test and Y_test, or neither")
            X, Y = _check_xy(
                func, path, _npz_array(func, path, data, "X"), _npz_array(func, path, data, "Y"), "X", "Y"
            )
            X_test = Y_test = None
            if "X_test" in keys:
                X_test, Y_test = _check_xy(
                    func,
                    path,
                    _npz_array(func, path, data, "X_test"),
                    _npz_array(func, path, data, "Y_test"),
                    "X_test",
                    "Y_test",
                )
                if X_test.shape[0] != X.shape[0]:
                    raise ValueError(
                        f"{func}: 'X_test' in {path!r} has {X_test.shape[0]} features, 'X' has {X.shape[0]}"
                    )
    except Exception as exc:  # zipfile, zlib, EOF and header errors of a damaged file
        if isinstance(exc, ValueError) and str(exc).startswith(func):
            raise
        raise ValueError(
            f"{func}: file {path!r} is not a readable .npz file ({type(exc).__name__}: {exc})"
        ) from None
    return X, Y, X_test, Y_test


def default_dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The course's "planar flower" data (week 3, ``load_planar_dataset``), split 320 / 80.

    Built in code, with no download: m = 400 points in 2-D, 200 per class, on the
    petals of a flower ``r = 4 sin(4t) + noise`` (a = 4, noise 0.2 on both angle and
    radius), drawn from a private ``numpy.random.RandomState(1)`` exactly as the
    course's ``np.random.seed(1)`` version draws them (NumPy's global random state
    is never touched). The same generator then draws a permutation that puts 320
    examples in the training set and 80 in the test set. Returns ``(X_train,
    Y_train, X_test, Y_test)``: X is ``(2, m)`` float64, Y is ``(1, m)`` int64 of 0/1.
    Not linearly separable: logistic regression gets about 47%, a small network with
    one hidden layer about 90%.

    >>> X, Y, Xt, Yt = default_dataset()
    >>> X.dtype, Y.dtype, int(Y.sum() + Yt.sum())
    (dtype('float64'), dtype('int64'), 200)
    """
    rng = np.random.RandomState(1)
    m, D, a = 400, 2, 4
    N = m // 2
    X = np.zeros((m, D))
    Y = np.zeros((m, 1), dtype=np.int64)
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + rng.randn(N) * 0.2  # theta
        r = a * np.sin(4 * t) + rng.randn(N) * 0.2  # radius
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    X, Y = X.T, Y.T
    order = rng.permutation(m)
    train, test = order[:320], order[320:]
    return (
        np.ascontiguousarray(X[:, train]),
        np.ascontiguousarray(Y[:, train]),
        np.ascontiguousarray(X[:, test]),
        np.ascontiguousarray(Y[:, test]),
    )
