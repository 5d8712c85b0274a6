"""Saving and loading a network's parameters as a plain ``.npz`` file (no pickle), or ``.safetensors``.

A model file holds ``W1, b1, ..., WL, bL`` as NumPy arrays beside a few small
metadata arrays: ``format_version`` (2; files of version 1 load too), ``layer_dims``,
``activations`` (the hidden layers' activation, then the output: ``sigmoid``,
``softmax``, ``multilabel`` or ``identity``), ``dtype``, where known ``input_shape``
(an image's height, width and channels) and ``classes`` (the label of each output),
and ``metadata`` (JSON text: how the network was trained, such as its optimizer,
learning rate, epochs and costs). Saving is atomic: the file is
written beside the target, flushed to disk and renamed over it, so an interrupted
save leaves the old file (or none), never a broken one. Loading checks everything
and raises ``ValueError`` naming the file and what is wrong; it reads no array
larger than the file's metadata declares, and no compressed member, so a
crafted file cannot make it inflate gigabytes. A path ending in ``.safetensors``
holds the same content in that format instead, with the same checks. The
containers are read and written by ``_npz`` and ``_safetensors``, the members
are declared and checked by ``_schema``, and ``_atomic`` writes the file.

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
import functools
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from . import _npz, _safetensors
from ._atomic import TMP_NAME, atomic_write
from ._checks import check_file, check_path, num_layers
from ._schema import (
    DTYPES,
    FORMAT_VERSION,
    Archive,
    _check_activations,
    _metadata_text,
    _read_meta,
    _read_weights,
    _records,
    _slot_arrays,
)
from .backend import Backend, get_backend, to_numpy
from .engine import parameter_keys

__all__ = ["FORMAT_VERSION", "save_parameters", "load_parameters", "load_metadata", "load_checkpoint"]

# ------------------------------------------------------------------ saving


def save_parameters(
    parameters: Mapping[str, Any],
    path: str | os.PathLike[str],
    *,
    activations: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    optimizer_state: Mapping[str, Mapping[str, Any]] | None = None,
    input_shape: Sequence[int] | None = None,
    classes: Any = None,
) -> str:
    """Write ``parameters`` (arrays of any backend) to the model file ``path``; return the path.

    A ``path`` ending in ``.safetensors`` is written in that format, any other as ``.npz``.

    ``activations`` names each layer's activation (default ``relu`` for the hidden
    layers and ``sigmoid`` for the last): the hidden layers' from the engine's hidden
    activations, the last one the output (``sigmoid``, ``softmax``, ``multilabel`` or
    ``identity``). ``input_shape`` (the shape of one example before it was flattened,
    e.g. ``(64, 64, 3)``; its product is the input size) and ``classes`` (a 1-D array of
    labels: two for a one-unit sigmoid output, one per unit for softmax and multilabel)
    are stored where given. ``metadata`` is a JSON-serialisable dict
    stored beside them (its fields ``iterations``, ``epochs``, ``num_iterations``, ``costs``,
    ``learning_rate``, ``seed``, ``batch_size``, ``init``, ``optimizer``, ``data``
    and ``data_sha256``, where given, must have the types the CLI writes).
    ``optimizer_state`` (a checkpoint's ``{"v": {"dW1": ...}, "s": ...}``,
    shaped like the parameters) is stored beside them for :func:`load_checkpoint`.
    Parameters or slots holding NaN or infinity, and a negative ``s`` (an average of
    squared gradients), are refused with ``ValueError``, since :func:`load_parameters`
    and :func:`load_checkpoint` would refuse the file.

    The file is written exactly at ``path`` (no suffix is added), atomically: a
    temporary ``.NAME.XXXXXXXX.tmp`` in the same folder, fsync'ed, then
    ``os.replace``'d over ``path``. An error, Ctrl-C or (in the main thread) a
    SIGTERM during the save removes the temporary file. An existing file keeps
    its permission mode; a new one gets the mode the umask leaves of ``0o666``;
    a file without write permission is not replaced (``PermissionError``).

    >>> save_parameters({"W1": np.full((1, 2), np.nan), "b1": np.zeros((1, 1))}, "m.npz")
    Traceback (most recent call last):
    ...
    ValueError: save_parameters: parameters['W1'] holds NaN or infinite values, which a model file cannot hold
    """
    func = "save_parameters"
    path = check_path(func, path)
    L = num_layers(func, parameters)
    unexpected = sorted(set(parameters) - set(parameter_keys(L)))
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
    for key, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(
                f"{func}: parameters[{key!r}] holds NaN or infinite values, which a model file cannot hold"
            )
    arrays.update(_slot_arrays(func, optimizer_state or {}, dict(arrays)))
    acts = _check_activations(func, activations, L)
    extra = _metadata_text(func, metadata)
    layer_dims = [arrays["W1"].shape[1]] + [arrays[f"W{l}"].shape[0] for l in range(1, L + 1)]
    arrays["format_version"] = np.array(FORMAT_VERSION, dtype=np.int64)
    arrays["layer_dims"] = np.array(layer_dims, dtype=np.int64)
    arrays["activations"] = np.array(acts, dtype=f"<U{max(len(a) for a in acts)}")
    arrays["dtype"] = np.array(dtypes.pop())
    arrays["metadata"] = np.array(extra)
    arrays.update(_records(func, input_shape, classes, layer_dims, acts[-1]))
    if _safetensors.is_safetensors(path):
        atomic_write(func, path, lambda fh: _safetensors.write(fh, arrays))
    else:
        atomic_write(func, path, lambda fh: _npz.write(fh, arrays))
    return path


# ----------------------------------------------------------------- loading


class _Invalid(ValueError):
    """A problem found by the checks (its message is already complete)."""


def _fail(func: str, path: str, what: str) -> _Invalid:
    return _Invalid(f"{func}: {path!r} {what}")


def _open(func: str, path: Any) -> Any:
    path = check_file(func, path, "model file")
    if TMP_NAME.match(os.path.basename(path)):
        raise ValueError(
            f"{func}: {path!r} is the temporary file of an unfinished save, not a model file "
            "(it is safe to delete)"
        )
    return path


@contextlib.contextmanager
def _members(func: str, path: str, fh: io.BufferedReader) -> Iterator[Archive]:
    """The arrays of the model file open as ``fh``, in the container its extension names."""
    fail = functools.partial(_fail, func, path)
    if _safetensors.is_safetensors(path):
        yield _safetensors.SafetensorsArchive(fh, fail)
        return
    with _npz.archive(fh, fail) as archive:
        yield archive


def _load(func: str, path: Any, weights: bool) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    path = _open(func, path)
    try:
        with open(path, "rb") as fh, _members(func, path, fh) as archive:
            meta = _read_meta(archive)
            arrays = _read_weights(archive, meta, data=weights)
    except _Invalid:
        raise
    except Exception as exc:  # zipfile, zlib, EOF and header errors of a damaged file
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        kind = "safetensors" if _safetensors.is_safetensors(path) else "npz"
        raise ValueError(
            f"{func}: {path!r} is not a readable model file (truncated or damaged .{kind}?): {reason}"
        ) from None
    return meta, arrays


def load_parameters(path: str | os.PathLike[str], backend: str | Backend | None = None) -> dict[str, Any]:
    """The parameters saved in ``path``, as arrays of ``backend`` (default: the selected one).

    Every array is checked against the file's recorded layer sizes and dtype and
    must be finite; a member is only read after its declared size has been
    checked against those layer sizes, and compressed members are refused. A
    missing, damaged or foreign file, or the temporary file of an unfinished
    save, raises ``ValueError`` naming the file and what is wrong.

    >>> load_parameters("no_model.npz")
    Traceback (most recent call last):
    ...
    ValueError: load_parameters: model file 'no_model.npz' does not exist
    """
    be = get_backend(backend)
    meta, arrays = _load("load_parameters", path, weights=True)
    return {key: be.asarray(arr, dtype=meta["dtype"]) for key, arr in arrays.items() if "." not in key}


def load_checkpoint(
    path: str | os.PathLike[str], backend: str | Backend | None = None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]]:
    """``(parameters, optimizer_state, metadata)`` of a file written with ``optimizer_state``.

    ``optimizer_state`` maps ``"v"`` (and ``"s"``) to dicts of ``dW1``, ``db1``,
    ... (empty for plain gradient descent); ``metadata`` is as
    :func:`load_metadata` returns it. Checked as :func:`load_parameters` checks.

    >>> import numpy as np, tempfile, os
    >>> p = {"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))}
    >>> path = save_parameters(p, os.path.join(tempfile.mkdtemp(), "ckpt.npz"), metadata={"t": 3},
    ...                        optimizer_state={"v": {"dW1": np.ones((1, 2)), "db1": np.ones((1, 1))}})
    >>> params, slots, meta = load_checkpoint(path, backend="numpy")
    >>> sorted(slots), slots["v"]["db1"].tolist(), meta["metadata"]["t"]
    (['v'], [[1.0]], 3)
    """
    be = get_backend(backend)
    meta, arrays = _load("load_checkpoint", path, weights=True)
    moved = {key: be.asarray(arr, dtype=meta["dtype"]) for key, arr in arrays.items()}
    params = {k: v for k, v in moved.items() if "." not in k}
    slots = {
        s: {k.split(".", 1)[1]: v for k, v in moved.items() if k.startswith(f"{s}.")} for s in meta["slots"]
    }
    return params, slots, meta


def load_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of the model file ``path``, without loading its weights.

    A dict with ``format_version``, ``layer_dims``, ``activations`` (one per
    layer, the last the output), ``dtype``, ``input_shape`` (a tuple, or None where the
    file does not record it), ``classes`` (a NumPy array of labels, or None) and
    ``metadata`` (the extra dict given to :func:`save_parameters`, ``{}`` when none). The
    weights' headers are checked against the layer sizes; their values are not read.

    >>> load_metadata("no_model.npz")
    Traceback (most recent call last):
    ...
    ValueError: load_metadata: model file 'no_model.npz' does not exist
    """
    meta, _ = _load("load_metadata", path, weights=False)
    return meta
