"""What a model file holds, and the checks of it on saving and on loading, whatever its container.

The members: the weights ``W1, b1, ..., WL, bL``, a checkpoint's optimizer slots
(``v.dW1``, ...), ``format_version``, ``layer_dims``, ``activations``, ``dtype``,
where known ``input_shape`` and ``classes``, and ``metadata`` (JSON text). The
containers (:mod:`portable_dnn._npz`, :mod:`portable_dnn._safetensors`) read
members for the checks here through :class:`Archive`.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from .backend import to_numpy
from .engine import HIDDEN, OUTPUTS
from .optim import OPTIMIZERS

#: The model file format this version writes; it reads this one and those of ``READS``.
FORMAT_VERSION = 2
READS = (1, 2)

DTYPES = ("float32", "float64")
_META_KEYS = ("format_version", "layer_dims", "activations", "dtype")
#: Members a file has where they are known: the input's shape and the outputs' class labels.
_OPTIONAL_KEYS = ("input_shape", "classes")
#: The kinds of array that may hold class labels: strings, integers, floats, booleans (no objects).
_LABEL_KINDS = "Uiufb"

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


def bad_field(extra: Mapping[str, Any]) -> tuple[str, str, bool] | None:
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


def _slot_arrays(
    func: str, optimizer_state: Mapping[str, Mapping[str, Any]], params: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """A checkpoint's optimizer slots as host arrays named ``v.dW1``, ..., checked against ``params``
    (the host parameters ``W1``, ``b1``, ...)."""
    arrays: dict[str, np.ndarray] = {}
    for slot, values in (optimizer_state or {}).items():
        if slot not in SLOTS or not isinstance(values, Mapping):
            raise ValueError(
                f"{func}: optimizer_state must map {' or '.join(map(repr, SLOTS))} to dicts of 'dW1', ..., "
                f"got {slot!r}"
            )
        for key in params:
            grad = f"d{key}"
            if grad not in values:
                raise ValueError(f"{func}: optimizer_state[{slot!r}] has no {grad!r}")
            value = np.asarray(to_numpy(values[grad]))
            shape = _slot_shape(slot, params[key].shape)
            if value.shape != shape or value.dtype != params[key].dtype:
                raise ValueError(
                    f"{func}: optimizer_state[{slot!r}][{grad!r}] is {value.dtype}{list(value.shape)}, "
                    f"expected {params[key].dtype}{list(shape)}"
                )
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{func}: optimizer_state[{slot!r}][{grad!r}] holds NaN or infinite values")
            if slot == "s" and np.any(value < 0):
                raise ValueError(f"{func}: optimizer_state['s'][{grad!r}], an average of squares, is < 0")
            arrays[f"{slot}.{grad}"] = value
    return arrays


def _metadata_text(func: str, metadata: Mapping[str, Any] | None) -> str:
    """``metadata`` as the JSON text a model file stores, its known fields checked."""
    extra = "{}"
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"{func}: metadata must be a dict, got {type(metadata).__name__}")
        try:
            extra = json.dumps(dict(metadata), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{func}: metadata must be JSON-serialisable ({exc})") from None
        bad = bad_field(json.loads(extra))
        if bad is not None:
            field, expected, wrong_type = bad
            raise (TypeError if wrong_type else ValueError)(
                f"{func}: metadata[{field!r}] must be {expected}, got {metadata[field]!r}"
            )
    return extra


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


def input_shape_problem(shape: np.ndarray, n_x: int) -> str | None:
    """What is wrong with ``input_shape`` for ``n_x`` input features (None: nothing)."""
    if shape.ndim != 1 or shape.dtype.kind not in "iu" or shape.size == 0 or np.any(shape <= 0):
        return "must be one or more positive integers"
    if math.prod(int(n) for n in shape) != n_x:
        return f"holds {math.prod(int(n) for n in shape)} values, but the network takes {n_x} features"
    return None


def classes_problem(labels: np.ndarray, units: int, output: str) -> str | None:
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
        problem = input_shape_problem(shape, layer_dims[0])
        if problem:
            raise ValueError(f"{func}: input_shape {tuple(input_shape)!r} {problem}")
        out["input_shape"] = shape
    if classes is not None:
        labels = np.asarray(classes if isinstance(classes, (list, tuple)) else to_numpy(classes))
        problem = classes_problem(labels, layer_dims[-1], output)
        if problem:
            raise ValueError(f"{func}: classes {labels.tolist()!r} {problem}")
        out["classes"] = labels
    return out


#: A member's check, given its shape and dtype before its data is read.
_Check = Callable[[tuple[int, ...], np.dtype], None]


class Archive(Protocol):
    """A model file's members as a container reads them: ``members`` names them, ``read(key, check,
    limit, why, data)`` gives one after ``check(shape, dtype)`` passed and its data is within
    ``limit`` bytes (only its header checked where ``data`` is false, and None returned),
    ``fail(what)`` makes the error naming the file."""

    @property
    def members(self) -> Mapping[str, Any]: ...

    def fail(self, what: str) -> Exception: ...

    def read(self, key: str, check: _Check, limit: int, why: str, data: bool = True) -> np.ndarray | None: ...


def _metadata_array(archive: Archive, key: str) -> np.ndarray:
    arr = archive.read(key, lambda shape, dtype: None, _META_LIMITS[key], "a model file allows for it")
    assert arr is not None
    return arr


def _read_meta(archive: Archive) -> dict[str, Any]:
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
    extra = _read_extra(archive) if "metadata" in keys else {}
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
    archive: Archive, layer_dims: list[int], output: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The file's ``input_shape`` and ``classes`` (None where it has none), checked against its layers."""
    shape = classes = None
    if "input_shape" in archive.members:
        shape = _metadata_array(archive, "input_shape")
        problem = input_shape_problem(shape, layer_dims[0])
        if problem:
            raise archive.fail(f"has input_shape {shape.tolist()!r} that {problem}")
    if "classes" in archive.members:
        classes = _metadata_array(archive, "classes")
        problem = classes_problem(classes, layer_dims[-1], output)
        if problem:
            raise archive.fail(f"has classes {classes.tolist()!r} that {problem}")
    return shape, classes


def _read_weights(archive: Archive, meta: dict[str, Any], data: bool) -> dict[str, np.ndarray]:
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


def _read_extra(archive: Archive) -> dict[str, Any]:
    """The file's ``metadata`` dict, its known fields checked."""
    text = _metadata_array(archive, "metadata")
    if text.dtype.kind != "U" or text.shape != ():
        raise archive.fail("has a malformed metadata array (expected JSON text)")
    try:
        extra: dict[str, Any] = json.loads(str(text))
    except ValueError:
        raise archive.fail("has metadata that is not valid JSON") from None
    if not isinstance(extra, dict):
        raise archive.fail("has metadata that is not a JSON object")
    bad = bad_field(extra)
    if bad is not None:
        field, wanted, _ = bad
        raise archive.fail(f"has metadata field {field!r} = {extra[field]!r}, expected {wanted}")
    return extra
