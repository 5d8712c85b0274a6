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
holds the same content in that format instead (see ``_safetensors``), with the
same checks.

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
import io
import json
import math
import numbers
import os
import re
import secrets
import signal
import stat
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from . import _safetensors
from ._checks import num_layers
from .backend import Backend, get_backend, to_numpy
from .engine import HIDDEN, OUTPUTS
from .optim import OPTIMIZERS

__all__ = ["FORMAT_VERSION", "save_parameters", "load_parameters", "load_metadata", "load_checkpoint"]

#: The model file format this version writes; it reads this one and those of ``READS``.
FORMAT_VERSION = 2
READS = (1, 2)

DTYPES = ("float32", "float64")
_META_KEYS = ("format_version", "layer_dims", "activations", "dtype")
#: Members a file has where they are known: the input's shape and the outputs' class labels.
_OPTIONAL_KEYS = ("input_shape", "classes")
#: The kinds of array that may hold class labels: strings, integers, floats, booleans (no objects).
_LABEL_KINDS = "Uiufb"
_PARAM_KEY = re.compile(r"^[Wb][1-9][0-9]*$")

# The most each metadata array may hold, in bytes of array data: checked against
# the zip directory before anything is inflated. The JSON text is the large one
# (the cost history); 16 MiB is four million characters.
_META_LIMITS = {
    "format_version": 64,
    "dtype": 256,
    "layer_dims": 1 << 20,
    "activations": 4 << 20,
    "input_shape": 1 << 10,
    "classes": 16 << 20,
    "metadata": 16 << 20,
}
_MAX_HEADER = 10_000  # numpy's own limit on a .npy header
# Typed loosely: numpy's stubs before 2.3 omit ``max_header_size``, which numpy accepts since 1.24.
_HEADER_READERS: dict[tuple[int, int], Callable[..., tuple[Any, bool, np.dtype]]] = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}
_READ_CHUNK = 1 << 24
_COMPRESSIONS = {zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}

# The temporary file of a save: a hidden name that stays short whatever the
# target's length (a name near NAME_MAX still saves), ending in ".tmp" so that no
# "*.npz" pattern picks it up after a crash.
_TMP_STEM = 32
_TMP_NAME = re.compile(r"^\..*\.[0-9a-f]{8}\.tmp$", re.DOTALL)


# -------------------------------------------------------- metadata fields

# The fields the CLI writes into ``metadata``, checked on save and on load so that
# a file always reads back as it was written: (what is expected, accepted types,
# range check). Other keys are free-form JSON.
_FIELDS: dict[str, tuple[str, tuple[type, ...], Callable[[Any], bool]]] = {
    "iterations": ("a non-negative integer", (int,), lambda v: v >= 0),
    "epochs": ("a non-negative integer", (int,), lambda v: v >= 0),
    "num_iterations": ("a positive integer", (int,), lambda v: v >= 1),
    "batch_size": ("a positive integer or null", (int, type(None)), lambda v: v is None or v >= 1),
    "seed": ("an integer or null", (int, type(None)), lambda v: True),
    "learning_rate": ("a positive finite number", (int, float), lambda v: v > 0 and math.isfinite(v)),
    "costs": (
        "a list of numbers",
        (list,),
        lambda v: all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in v),
    ),
    "init": ("a string", (str,), lambda v: True),
    "optimizer": ("a string", (str,), lambda v: True),
    "data": ("a string", (str,), lambda v: True),
    "data_sha256": ("a string", (str,), lambda v: True),
    "t": ("a non-negative integer", (int,), lambda v: v >= 0),
}

#: Optimizer slots a checkpoint may hold beside the parameters (stored as ``v.dW1``, ``s.db2``,
#: ...): every declared optimizer's, each shaped like the parameters, or () for a scalar slot
#: (NAdam's ``mu``).
SLOTS = tuple(dict.fromkeys(slot for cls in OPTIMIZERS.values() for slot in cls.slots))
_SCALAR_SLOTS = {slot for cls in OPTIMIZERS.values() for slot in cls.scalar_slots}


def _slot_shape(slot: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    return () if slot in _SCALAR_SLOTS else shape


def _bad_field(extra: Mapping[str, Any]) -> tuple[str, str, bool] | None:
    """The first known field of ``extra`` with a wrong value: (field, expected, type is wrong)."""
    for field, (expected, types, ok) in _FIELDS.items():
        if field not in extra:
            continue
        value = extra[field]
        if isinstance(value, bool) or not isinstance(value, types):
            return field, expected, True
        if not ok(value):
            return field, expected, False
    return None


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
    for key, a in arrays.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(
                f"{func}: parameters[{key!r}] holds NaN or infinite values, which a model file cannot hold"
            )
    for slot, values in (optimizer_state or {}).items():
        if slot not in SLOTS or not isinstance(values, Mapping):
            raise ValueError(
                f"{func}: optimizer_state must map {' or '.join(map(repr, SLOTS))} to dicts of 'dW1', ..., "
                f"got {slot!r}"
            )
        for key in list(arrays)[: 2 * L]:
            grad = f"d{key}"
            if grad not in values:
                raise ValueError(f"{func}: optimizer_state[{slot!r}] has no {grad!r}")
            value = np.asarray(to_numpy(values[grad]))
            shape = _slot_shape(slot, arrays[key].shape)
            if value.shape != shape or value.dtype != arrays[key].dtype:
                raise ValueError(
                    f"{func}: optimizer_state[{slot!r}][{grad!r}] is {value.dtype}{list(value.shape)}, "
                    f"expected {arrays[key].dtype}{list(shape)}"
                )
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{func}: optimizer_state[{slot!r}][{grad!r}] holds NaN or infinite values")
            if slot == "s" and np.any(value < 0):
                raise ValueError(f"{func}: optimizer_state['s'][{grad!r}], an average of squares, is < 0")
            arrays[f"{slot}.{grad}"] = value
    acts = _check_activations(func, activations, L)
    extra = "{}"
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"{func}: metadata must be a dict, got {type(metadata).__name__}")
        try:
            extra = json.dumps(dict(metadata), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{func}: metadata must be JSON-serialisable ({exc})") from None
        bad = _bad_field(json.loads(extra))
        if bad is not None:
            field, expected, wrong_type = bad
            raise (TypeError if wrong_type else ValueError)(
                f"{func}: metadata[{field!r}] must be {expected}, got {metadata[field]!r}"
            )
    layer_dims = [arrays["W1"].shape[1]] + [arrays[f"W{l}"].shape[0] for l in range(1, L + 1)]
    arrays["format_version"] = np.array(FORMAT_VERSION, dtype=np.int64)
    arrays["layer_dims"] = np.array(layer_dims, dtype=np.int64)
    arrays["activations"] = np.array(acts, dtype=f"<U{max(len(a) for a in acts)}")
    arrays["dtype"] = np.array(dtypes.pop())
    arrays["metadata"] = np.array(extra)
    arrays.update(_records(func, input_shape, classes, layer_dims, acts[-1]))
    if _safetensors.is_safetensors(path):
        _atomic_write(func, path, lambda fh: _safetensors.write(fh, arrays))
    else:
        _atomic_write(func, path, lambda fh: np.savez(fh, **arrays))  # type: ignore[arg-type]
    return path


def _activations_valid(acts: Sequence[Any]) -> bool:
    """Every hidden layer's name one of the engine's hidden activations, the last layer's an output
    (or, as version 1 files may have it, a hidden activation)."""
    return all(a in HIDDEN for a in acts[:-1]) and (acts[-1] in OUTPUTS or acts[-1] in HIDDEN)


def _activations_wanted(L: int) -> str:
    return (
        f"{L} names (one per layer): the hidden layers' from {', '.join(map(repr, HIDDEN))}, "
        f"the last the output, from {', '.join(map(repr, OUTPUTS))}"
    )


def _check_activations(func: str, activations: Sequence[str] | None, L: int) -> list[str]:
    if activations is None:
        return ["relu"] * (L - 1) + ["sigmoid"]
    if isinstance(activations, str) or not isinstance(activations, Sequence):
        raise TypeError(f"{func}: activations must be a list of {L} names, got {activations!r}")
    acts = list(activations)
    if len(acts) != L or not all(isinstance(a, str) for a in acts) or not _activations_valid(acts):
        raise ValueError(f"{func}: activations must be {_activations_wanted(L)}, got {acts!r}")
    return acts


def _input_shape_problem(shape: np.ndarray, n_x: int) -> str | None:
    """What is wrong with ``input_shape`` for ``n_x`` input features (None: nothing)."""
    if shape.ndim != 1 or shape.dtype.kind not in "iu" or shape.size == 0 or np.any(shape <= 0):
        return "must be one or more positive integers"
    if math.prod(int(n) for n in shape) != n_x:
        return f"holds {math.prod(int(n) for n in shape)} values, but the network takes {n_x} features"
    return None


def _classes_problem(labels: np.ndarray, units: int, output: str) -> str | None:
    """What is wrong with the class labels ``labels`` of an output of ``units`` units (None: nothing)."""
    if output == "identity":
        return "cannot label an identity (regression) output"
    if labels.dtype.kind not in _LABEL_KINDS:
        return f"must be strings, numbers or booleans, got dtype {labels.dtype}"
    expected = 2 if units == 1 else units
    if labels.shape != (expected,):
        return f"must be {expected} labels for the network's {units}-unit {output} output"
    if len(np.unique(labels)) != expected:
        return "must be distinct"
    return None


def _records(
    func: str, input_shape: Sequence[int] | None, classes: Any, layer_dims: list[int], output: str
) -> dict[str, np.ndarray]:
    """The ``input_shape`` and ``classes`` members of a file (those given), checked against its layers."""
    out: dict[str, np.ndarray] = {}
    if input_shape is not None:
        if (
            isinstance(input_shape, (str, bytes))
            or not isinstance(input_shape, Sequence)
            or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in input_shape)
        ):
            raise TypeError(f"{func}: input_shape must be a tuple of sizes, got {input_shape!r}")
        shape = np.array(input_shape, dtype=np.int64).reshape(-1)
        problem = _input_shape_problem(shape, layer_dims[0])
        if problem:
            raise ValueError(f"{func}: input_shape {tuple(input_shape)!r} {problem}")
        out["input_shape"] = shape
    if classes is not None:
        labels = np.asarray(classes if isinstance(classes, (list, tuple)) else to_numpy(classes))
        problem = _classes_problem(labels, layer_dims[-1], output)
        if problem:
            raise ValueError(f"{func}: classes {labels.tolist()!r} {problem}")
        out["classes"] = labels
    return out


def _replaceable(func: str, path: str) -> os.stat_result | None:
    """The status of the file a save will replace (None when there is none), after refusing read-only ones."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _cannot_write(func, path, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{func}: {path!r} is a folder, expected a model file path")
    euid = os.geteuid() if hasattr(os, "geteuid") else None
    # os.access answers yes to root for any file: the owner's write bit is what
    # says "do not overwrite" there (and for the owner, whatever os.access says).
    owner_says_no = euid in (0, st.st_uid) and not st.st_mode & stat.S_IWUSR
    if owner_says_no or not os.access(path, os.W_OK):
        raise PermissionError(
            f"{func}: {path!r} is read-only (mode {oct(stat.S_IMODE(st.st_mode))}), so it was not replaced"
        )
    return st


def _cannot_write(func: str, path: str, exc: OSError) -> OSError:
    """``exc`` (same class) with a message naming the target rather than the temporary file."""
    return type(exc)(f"{func}: cannot write {path!r} ({exc.strerror or exc})")


class _Terminated(BaseException):
    """SIGTERM during a save: unwinds it, so that the temporary file is removed, before the process ends."""


class _SigtermUnwinds:
    """In the main thread, a SIGTERM unwinds the code within (running ``finally``), then ends the process.

    Only a default SIGTERM disposition is replaced: an ignored SIGTERM stays
    ignored, and a Python handler already runs between bytecodes (whatever it
    raises unwinds the save too). Another thread cannot install handlers, so
    there a SIGTERM still ends the process at once.
    """

    def __init__(self) -> None:
        self.active = False
        self.pending = False
        self.previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.active:
            self.active = False  # a second SIGTERM must not interrupt the cleanup
            raise _Terminated(signum)
        self.pending = True

    def __enter__(self) -> _SigtermUnwinds:
        if threading.current_thread() is not threading.main_thread():
            return self
        with contextlib.suppress(ValueError, OSError, AttributeError):
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                self.previous = signal.signal(signal.SIGTERM, self._handler)
                self.active = True
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.previous is None:
            return
        self.active = False
        signal.signal(signal.SIGTERM, self.previous)
        self.previous = None
        if exc_type is _Terminated or self.pending:
            signal.raise_signal(signal.SIGTERM)  # the default action: the process ends as it would have


def _create_temp(func: str, path: str, folder: str) -> tuple[int, str]:
    # O_CREAT with 0o666 lets the kernel apply the umask, as for any new file
    # (mkstemp would give 0o600 whatever the umask).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    stem = os.path.basename(path)[:_TMP_STEM]
    for _ in range(100):
        tmp = os.path.join(folder, f".{stem}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as exc:
            raise _cannot_write(func, path, exc) from None
    raise FileExistsError(f"{func}: cannot create a temporary file beside {path!r}")


def _atomic_write(func: str, path: str, write: Callable[[Any], None]) -> None:
    """``write(fh)`` into a temporary file beside ``path``, flushed to disk, then renamed over ``path``:
    an interrupted write leaves the old file (or none), never a broken one."""
    old = _replaceable(func, path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    with _SigtermUnwinds():
        try:
            fd, tmp = _create_temp(func, path, folder)
            with os.fdopen(fd, "wb") as fh:
                if old is not None:
                    if hasattr(os, "fchown") and (old.st_uid, old.st_gid) != os.fstat(fd)[4:6]:
                        with contextlib.suppress(OSError):  # only root may give a file away
                            os.fchown(fd, old.st_uid, old.st_gid)
                    os.chmod(tmp, stat.S_IMODE(old.st_mode))
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.replace(tmp, path)
            except OSError as exc:  # its own message names the temporary file, not the target
                raise _cannot_write(func, path, exc) from None
        except BaseException:
            if tmp is not None:
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
    if _TMP_NAME.match(os.path.basename(path)):
        raise ValueError(
            f"{func}: {path!r} is the temporary file of an unfinished save, not a model file "
            "(it is safe to delete)"
        )
    return path


class _Archive:
    """An ``.npz``'s members, read header first: no array is inflated before its size is checked."""

    def __init__(self, func: str, path: str, zf: zipfile.ZipFile) -> None:
        self.func, self.path, self.zf = func, path, zf
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            name = info.filename
            self.members[name[:-4] if name.endswith(".npy") else name] = info

    def fail(self, what: str) -> _Invalid:
        return _fail(self.func, self.path, what)

    def read(
        self,
        key: str,
        check: Callable[[tuple[int, ...], np.dtype], None],
        limit: int,
        why: str,
        data: bool = True,
    ) -> np.ndarray | None:
        """Member ``key``, once ``check(shape, dtype)`` passed and its data is within ``limit`` bytes.

        With ``data`` false only the header and the member's size are checked (and None returned).
        """
        info = self.members[key]
        if info.file_size > limit + _MAX_HEADER + 16:
            raise self.fail(f"has a {key!r} member of {info.file_size} bytes, more than the {limit} {why}")
        if info.compress_type != zipfile.ZIP_STORED:
            # A stored member costs no more memory than its bytes on disk; a compressed one, even
            # one its layer sizes allow, can inflate a small file into gigabytes.
            method = _COMPRESSIONS.get(info.compress_type, f"zip method {info.compress_type}")
            raise self.fail(
                f"stores {key!r} compressed ({method}); model files and checkpoints hold their arrays "
                "uncompressed, as save_parameters writes them (numpy.savez, not savez_compressed)"
            )
        with self.zf.open(info) as member:
            version = np.lib.format.read_magic(member)
            read_header = _HEADER_READERS.get(version)
            if read_header is None:
                raise self.fail(
                    f"stores {key!r} in .npy format {version[0]}.{version[1]}, expected 1.0 or 2.0"
                )
            shape, fortran, dtype = read_header(member, max_header_size=_MAX_HEADER)
            if dtype.hasobject:
                raise self.fail(f"is not a portable_dnn model file: its {key!r} array holds Python objects")
            check(shape, dtype)
            count = math.prod(shape)
            nbytes = count * dtype.itemsize
            if nbytes > limit:
                raise self.fail(f"declares a {key!r} array of {nbytes} bytes, more than the {limit} {why}")
            if info.file_size != member.tell() + nbytes:
                raise self.fail(
                    f"has a {key!r} member of {info.file_size} bytes, but its header declares "
                    f"{member.tell() + nbytes}"
                )
            if not data:
                return None
            out = np.empty(count, dtype=dtype)
            if nbytes:
                raw = out.view(np.uint8)
                done = 0
                while done < nbytes:
                    chunk = member.read(min(_READ_CHUNK, nbytes - done))
                    if not chunk:
                        raise self.fail(
                            f"is truncated: its {key!r} array ends after {done} of {nbytes} bytes"
                        )
                    raw[done : done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                    done += len(chunk)
            member.read(1)  # at the member's end: zipfile checks its CRC
        return out.reshape(shape, order="F" if fortran else "C")


def _metadata_array(archive: _Members, key: str) -> np.ndarray:
    arr = archive.read(key, lambda shape, dtype: None, _META_LIMITS[key], "a model file allows for it")
    assert arr is not None
    return arr


def _read_meta(archive: _Members) -> dict[str, Any]:
    keys = set(archive.members)
    missing = [k for k in _META_KEYS if k not in keys]
    if missing:
        raise archive.fail(
            f"is not a portable_dnn model file: it has no {', '.join(map(repr, missing))} array"
        )
    version = _metadata_array(archive, "format_version")
    if version.shape != () or version.dtype.kind not in "iu":
        raise archive.fail(f"has a malformed format_version ({version.dtype}{list(version.shape)})")
    if int(version) not in READS:
        raise archive.fail(
            f"has format version {int(version)}; this portable_dnn reads versions "
            f"{', '.join(map(str, READS))}"
        )
    dims = _metadata_array(archive, "layer_dims")
    if dims.ndim != 1 or dims.dtype.kind not in "iu" or dims.shape[0] < 2 or np.any(dims <= 0):
        raise archive.fail(f"has malformed layer_dims {dims.tolist()!r} (expected >= 2 positive sizes)")
    layer_dims = [int(n) for n in dims]
    L = len(layer_dims) - 1
    acts = _metadata_array(archive, "activations")
    if acts.dtype.kind != "U" or acts.shape != (L,) or not _activations_valid([str(a) for a in acts]):
        raise archive.fail(f"has malformed activations {acts.tolist()!r} (expected {_activations_wanted(L)})")
    dtype = _metadata_array(archive, "dtype")
    if dtype.dtype.kind != "U" or dtype.shape != () or str(dtype) not in DTYPES:
        raise archive.fail(f"records dtype {dtype.tolist()!r}; expected one of {', '.join(DTYPES)}")
    extra: dict[str, Any] = {}
    if "metadata" in keys:
        text = _metadata_array(archive, "metadata")
        if text.dtype.kind != "U" or text.shape != ():
            raise archive.fail("has a malformed metadata array (expected JSON text)")
        try:
            extra = json.loads(str(text))
        except ValueError:
            raise archive.fail("has metadata that is not valid JSON") from None
        if not isinstance(extra, dict):
            raise archive.fail("has metadata that is not a JSON object")
        bad = _bad_field(extra)
        if bad is not None:
            field, wanted, _ = bad
            raise archive.fail(f"has metadata field {field!r} = {extra[field]!r}, expected {wanted}")
    shape, classes = _read_records(archive, layer_dims, str(acts[-1]))
    weights = {f"{c}{l}" for l in range(1, L + 1) for c in "Wb"}
    slots = [slot for slot in SLOTS if any(k.startswith(f"{slot}.") for k in keys)]
    expected = set(_META_KEYS) | {"metadata", *_OPTIONAL_KEYS} | weights
    expected |= {f"{s}.d{k}" for s in slots for k in weights}
    unexpected = sorted(keys - expected)
    if unexpected:
        raise archive.fail(
            f"holds arrays {', '.join(map(repr, unexpected))} that its layer_dims {layer_dims} do not cover"
        )
    return {
        "format_version": int(version),
        "layer_dims": layer_dims,
        "activations": [str(a) for a in acts],
        "dtype": str(dtype),
        "input_shape": None if shape is None else tuple(int(n) for n in shape),
        "classes": classes,
        "metadata": extra,
        "slots": slots,
    }


def _read_records(
    archive: _Members, layer_dims: list[int], output: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The file's ``input_shape`` and ``classes`` (None where it has none), checked against its layers."""
    shape = classes = None
    if "input_shape" in archive.members:
        shape = _metadata_array(archive, "input_shape")
        problem = _input_shape_problem(shape, layer_dims[0])
        if problem:
            raise archive.fail(f"has input_shape {shape.tolist()!r} that {problem}")
    if "classes" in archive.members:
        classes = _metadata_array(archive, "classes")
        problem = _classes_problem(classes, layer_dims[-1], output)
        if problem:
            raise archive.fail(f"has classes {classes.tolist()!r} that {problem}")
    return shape, classes


def _read_weights(archive: _Members, meta: dict[str, Any], data: bool) -> dict[str, np.ndarray]:
    """The weights (only their headers checked when ``data`` is false: then the result is empty)."""
    dims, dtype = meta["layer_dims"], meta["dtype"]
    out: dict[str, np.ndarray] = {}
    prefixes = [("", ""), *((f"{slot}.d", slot) for slot in meta["slots"])]
    for (prefix, slot), l in ((p, l) for p in prefixes for l in range(1, len(dims))):
        shapes = ((dims[l], dims[l - 1]), (dims[l], 1))
        for key, expected in zip((f"{prefix}W{l}", f"{prefix}b{l}"), (_slot_shape(slot, s) for s in shapes)):
            if key not in archive.members:
                raise archive.fail(f"has no {key!r} array although its layer_dims are {dims}")

            def check(shape: tuple[int, ...], dt: np.dtype, key: str = key, expected: Any = expected) -> None:
                if dt.kind != "f":
                    raise archive.fail(f"has non-floating {key!r} (dtype {dt})")
                if str(dt) != dtype:
                    raise archive.fail(f"has {key!r} of dtype {dt}, but records dtype {dtype}")
                if shape != expected:
                    raise archive.fail(
                        f"has {key!r} of shape {shape}, expected {expected} from its layer_dims {dims}"
                    )

            nbytes = math.prod(expected) * np.dtype(dtype).itemsize
            arr = archive.read(key, check, nbytes, f"its layer_dims {dims} and dtype {dtype} allow", data)
            if arr is None:
                continue
            if not np.all(np.isfinite(arr)):
                raise archive.fail(f"has NaN or infinite values in {key!r}")
            if prefix == "s.d" and np.any(arr < 0):
                raise archive.fail(f"has negative values in {key!r}, an average of squared gradients")
            out[key] = arr
    return out


_Members = _Archive | _safetensors.SafetensorsArchive


@contextlib.contextmanager
def _members(func: str, path: str, fh: io.BufferedReader) -> Iterator[_Members]:
    """The arrays of the model file open as ``fh``, in the container its extension names."""
    if _safetensors.is_safetensors(path):
        yield _safetensors.SafetensorsArchive(fh, lambda what: _fail(func, path, what))
        return
    magic = fh.read(6)
    if not magic:
        raise _fail(func, path, "is empty, not a portable_dnn model file")
    if magic == np.lib.format.MAGIC_PREFIX:
        raise _fail(func, path, "is a single .npy array, not a portable_dnn model file (.npz)")
    if magic[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise _fail(func, path, "is not a portable_dnn model file (it is not an .npz archive)")
    fh.seek(0)
    with zipfile.ZipFile(fh) as zf:
        yield _Archive(func, path, zf)


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
