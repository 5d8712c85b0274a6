"""Saving and loading a network's parameters as a plain ``.npz`` file (no pickle).

A model file holds ``W1, b1, ..., WL, bL`` as NumPy arrays beside a few small
metadata arrays: ``format_version`` (1), ``layer_dims``, ``activations`` (one name
per layer), ``dtype`` and ``metadata`` (JSON text for anything else, such as the
CLI's iteration count, costs and learning rate). Saving is atomic: the file is
written beside the target, flushed to disk and renamed over it, so an interrupted
save leaves the old file (or none), never a broken one. Loading checks everything
and raises ``ValueError`` naming the file and what is wrong.

>>> import os, tempfile
>>> import numpy as np
>>> params = {"W1": np.ones((3, 2)), "b1": np.zeros((3, 1)), "W2": np.ones((1, 3)), "b2": np.zeros((1, 1))}
>>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
>>> save_parameters(params, path, metadata={"seed": 1}) == path
True
>>> sorted(load_parameters(path, backend="numpy"))
['W1', 'W2', 'b1', 'b2']
>>> load_metadata(path)["layer_dims"], load_metadata(path)["metadata"]
([2, 3, 1], {'seed': 1})
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._checks import num_layers
from .backend import Backend, get_backend, to_numpy

__all__ = ["FORMAT_VERSION", "save_parameters", "load_parameters", "load_metadata"]

#: The model file format this version writes and reads.
FORMAT_VERSION = 1

ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu")
DTYPES = ("float32", "float64")
_META_KEYS = ("format_version", "layer_dims", "activations", "dtype")
_PARAM_KEY = re.compile(r"^[Wb][1-9][0-9]*$")


# ------------------------------------------------------------------ saving


def save_parameters(
    parameters: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    activations: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> str:
    """Write ``parameters`` (arrays of any backend) to the ``.npz`` file ``path``; return the path.

    ``activations`` names each layer's activation (default ``relu`` for the hidden
    layers and ``sigmoid`` for the last); ``metadata`` is a JSON-serialisable dict
    stored beside them. The file is written exactly at ``path`` (no suffix is
    added), atomically: a temporary file in the same folder, fsync'ed, then
    ``os.replace``'d over ``path``.

    >>> save_parameters({"W1": np.ones((1, 2), dtype=np.int64), "b1": np.zeros((1, 1))}, "m.npz")
    Traceback (most recent call last):
    ...
    TypeError: save_parameters: parameters must be float32 or float64 arrays, got W1: int64
    """
    func = "save_parameters"
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{func}: path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    L = num_layers(func, parameters)
    unexpected = sorted(k for k in parameters if k not in {f"{c}{l}" for l in range(1, L + 1) for c in "Wb"})
    if unexpected:
        raise ValueError(
            f"{func}: parameters has keys {', '.join(map(repr, unexpected))} beyond 'W1', 'b1', ..., "
            f"'W{L}', 'b{L}'"
        )
    arrays: dict[str, np.ndarray] = {}
    for l in range(1, L + 1):
        for key in (f"W{l}", f"b{l}"):
            arrays[key] = np.asarray(to_numpy(parameters[key]))
    dtypes = {str(a.dtype) for a in arrays.values()}
    if not dtypes <= set(DTYPES):
        detail = ", ".join(f"{k}: {a.dtype}" for k, a in arrays.items() if str(a.dtype) not in DTYPES)
        raise TypeError(f"{func}: parameters must be float32 or float64 arrays, got {detail}")
    if len(dtypes) > 1:
        detail = ", ".join(f"{k}: {a.dtype}" for k, a in arrays.items())
        raise TypeError(f"{func}: parameters must share one dtype, got {detail}")
    acts = _check_activations(func, activations, L)
    extra = "{}"
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"{func}: metadata must be a dict, got {type(metadata).__name__}")
        try:
            extra = json.dumps(dict(metadata), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{func}: metadata must be JSON-serialisable ({exc})") from None
    layer_dims = [arrays["W1"].shape[1]] + [arrays[f"W{l}"].shape[0] for l in range(1, L + 1)]
    arrays["format_version"] = np.array(FORMAT_VERSION, dtype=np.int64)
    arrays["layer_dims"] = np.array(layer_dims, dtype=np.int64)
    arrays["activations"] = np.array(acts, dtype=f"<U{max(len(a) for a in acts)}")
    arrays["dtype"] = np.array(dtypes.pop())
    arrays["metadata"] = np.array(extra)
    _atomic_savez(path, arrays)
    return path


def _check_activations(func: str, activations: Sequence[str] | None, L: int) -> list[str]:
    if activations is None:
        return ["relu"] * (L - 1) + ["sigmoid"]
    if isinstance(activations, str) or not isinstance(activations, Sequence):
        raise TypeError(f"{func}: activations must be a list of {L} names, got {activations!r}")
    acts = list(activations)
    if len(acts) != L or any(a not in ACTIVATIONS for a in acts):
        raise ValueError(
            f"{func}: activations must be {L} names (one per layer) from "
            f"{', '.join(map(repr, ACTIVATIONS))}, got {acts!r}"
        )
    return acts


def _atomic_savez(path: str, arrays: dict[str, np.ndarray]) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# ----------------------------------------------------------------- loading


class _Invalid(ValueError):
    """A problem found by the checks (its message is already complete)."""


def _fail(func: str, path: str, what: str) -> _Invalid:
    return _Invalid(f"{func}: {path!r} {what}")


def _open(func: str, path: Any) -> Any:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{func}: path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"{func}: model file {path!r} does not exist")
    if not os.path.isfile(path):
        raise ValueError(f"{func}: model file {path!r} is not a file")
    return path


def _read_meta(func: str, path: str, data: Any) -> dict[str, Any]:
    keys = set(data.files)
    missing = [k for k in _META_KEYS if k not in keys]
    if missing:
        raise _fail(
            func, path, f"is not a portable_dnn model file: it has no {', '.join(map(repr, missing))} array"
        )
    version = data["format_version"]
    if version.shape != () or version.dtype.kind not in "iu":
        raise _fail(func, path, f"has a malformed format_version ({version.dtype}{list(version.shape)})")
    if int(version) != FORMAT_VERSION:
        raise _fail(
            func, path, f"has format version {int(version)}; this portable_dnn reads version {FORMAT_VERSION}"
        )
    dims = data["layer_dims"]
    if dims.ndim != 1 or dims.dtype.kind not in "iu" or dims.shape[0] < 2 or np.any(dims <= 0):
        raise _fail(func, path, f"has malformed layer_dims {dims.tolist()!r} (expected >= 2 positive sizes)")
    layer_dims = [int(n) for n in dims]
    L = len(layer_dims) - 1
    acts = data["activations"]
    if acts.dtype.kind != "U" or acts.shape != (L,) or any(str(a) not in ACTIVATIONS for a in acts):
        raise _fail(
            func,
            path,
            f"has malformed activations {acts.tolist()!r} (expected {L} of {', '.join(ACTIVATIONS)})",
        )
    dtype = data["dtype"]
    if dtype.dtype.kind != "U" or dtype.shape != () or str(dtype) not in DTYPES:
        raise _fail(func, path, f"records dtype {dtype.tolist()!r}; expected one of {', '.join(DTYPES)}")
    extra: dict[str, Any] = {}
    if "metadata" in keys:
        text = data["metadata"]
        if text.dtype.kind != "U" or text.shape != ():
            raise _fail(func, path, "has a malformed metadata array (expected JSON text)")
        try:
            extra = json.loads(str(text))
        except ValueError:
            raise _fail(func, path, "has metadata that is not valid JSON") from None
        if not isinstance(extra, dict):
            raise _fail(func, path, "has metadata that is not a JSON object")
    expected = set(_META_KEYS) | {"metadata"} | {f"{c}{l}" for l in range(1, L + 1) for c in "Wb"}
    unexpected = sorted(keys - expected)
    if unexpected:
        raise _fail(
            func,
            path,
            f"holds arrays {', '.join(map(repr, unexpected))} that its layer_dims {layer_dims} do not cover",
        )
    return {
        "format_version": int(version),
        "layer_dims": layer_dims,
        "activations": [str(a) for a in acts],
        "dtype": str(dtype),
        "metadata": extra,
    }


def _read_weights(func: str, path: str, data: Any, meta: dict[str, Any]) -> dict[str, np.ndarray]:
    dims, dtype = meta["layer_dims"], meta["dtype"]
    out: dict[str, np.ndarray] = {}
    for l in range(1, len(dims)):
        for key, shape in ((f"W{l}", (dims[l], dims[l - 1])), (f"b{l}", (dims[l], 1))):
            if key not in data.files:
                raise _fail(func, path, f"has no {key!r} array although its layer_dims are {dims}")
            arr = data[key]
            if arr.dtype.kind != "f":
                raise _fail(func, path, f"has non-floating {key!r} (dtype {arr.dtype})")
            if str(arr.dtype) != dtype:
                raise _fail(func, path, f"has {key!r} of dtype {arr.dtype}, but records dtype {dtype}")
            if arr.shape != shape:
                raise _fail(
                    func,
                    path,
                    f"has {key!r} of shape {arr.shape}, expected {shape} from its layer_dims {dims}",
                )
            if not np.all(np.isfinite(arr)):
                raise _fail(func, path, f"has NaN or infinite values in {key!r}")
            out[key] = arr
    return out


def _load(func: str, path: Any, weights: bool) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    path = _open(func, path)
    try:
        with open(path, "rb") as fh:  # our own handle: np.load leaks its own on a damaged zip
            data = np.load(fh, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise _fail(func, path, "is a single .npy array, not a portable_dnn model file (.npz)")
            meta = _read_meta(func, path, data)
            arrays = _read_weights(func, path, data, meta) if weights else {}
    except _Invalid:
        raise
    except Exception as exc:  # zipfile, zlib, EOF, header and pickle errors of a damaged file
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise ValueError(
            f"{func}: {path!r} is not a readable model file (truncated or damaged .npz?): {reason}"
        ) from None
    return meta, arrays


def load_parameters(path: str | os.PathLike[str], backend: str | Backend | None = None) -> dict[str, Any]:
    """The parameters saved in ``path``, as arrays of ``backend`` (default: the selected one).

    Every array is checked against the file's recorded layer sizes and dtype and
    must be finite; a missing, damaged or foreign file raises ``ValueError``
    naming the file and what is wrong.

    >>> load_parameters("no_model.npz")
    Traceback (most recent call last):
    ...
    ValueError: load_parameters: model file 'no_model.npz' does not exist
    """
    be = get_backend(backend)
    meta, arrays = _load("load_parameters", path, weights=True)
    return {key: be.asarray(arr, dtype=meta["dtype"]) for key, arr in arrays.items()}


def load_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of the model file ``path``, without loading its weights.

    A dict with ``format_version``, ``layer_dims``, ``activations`` (one per
    layer), ``dtype`` and ``metadata`` (the extra dict given to
    :func:`save_parameters`, ``{}`` when none).
    """
    meta, _ = _load("load_metadata", path, weights=False)
    return meta
