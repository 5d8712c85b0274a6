"""The ``.safetensors`` container of a model file, read and written on its raw bytes.

The layout (https://github.com/huggingface/safetensors): an 8-byte little-endian
header length ``N``, ``N`` bytes of JSON text, then the tensors' bytes
(little-endian, C order, packed without gaps). The JSON maps each tensor's name
to ``{"dtype", "shape", "data_offsets"}`` and ``"__metadata__"`` to a dict of
strings.

A model file keeps the weights (and a checkpoint's optimizer slots), its only
floating matrices, as F32 or F64 tensors, and its other arrays
(``format_version``, ``layer_dims``, ``activations``, ``dtype``, ``input_shape``,
``classes``, ``metadata``) as ``__metadata__`` entries: the JSON text of each
value, except text that is itself a JSON object (the ``metadata`` dict), which is
stored as it is. Numbers read back as int64 or float64 (the same values). Reading bounds everything before
allocating: the header's length against a cap and the file's size, each tensor's
shape against its offsets, the offsets against each other and the file's size.
The model file's own checks (layer sizes, dtype, finiteness) are
``serialization``'s, the same for both containers.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Callable
from typing import IO, Any

import numpy as np

SUFFIX = ".safetensors"
#: The largest header read: well above a model file's metadata allowance (about 21 MiB,
#: see _schema._META_LIMITS) and below the safetensors library's own 100 MB.
MAX_HEADER = 32 << 20
# The tensor dtypes a model file may hold, as the format names them.
_DTYPES: dict[str, np.dtype] = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
_NAMES = {dtype: name for name, dtype in _DTYPES.items()}
_ENTRY_KEYS = {"dtype", "shape", "data_offsets"}
_READ_CHUNK = 1 << 24
_MAX_NDIM = 32
#: What the model file's checks call with an array's shape and dtype before it is read.
Check = Callable[[tuple[int, ...], np.dtype], None]


def is_safetensors(path: str) -> bool:
    """Whether ``path`` names a ``.safetensors`` file (by its extension, in any case)."""
    return path.lower().endswith(SUFFIX)


def _metadata_text(array: np.ndarray) -> str:
    if array.dtype.kind == "U" and array.ndim == 0:
        text = str(array)
        try:
            if isinstance(json.loads(text), dict):
                return text  # already JSON: kept readable rather than quoted a second time
        except ValueError:
            pass
    return json.dumps(array.tolist())


def write(fh: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``fh``: the floating matrices as tensors, the others in ``__metadata__``."""
    header: dict[str, Any] = {"__metadata__": {}}
    tensors = []
    offset = 0
    for key, array in arrays.items():
        if array.dtype.kind != "f" or array.ndim != 2:
            header["__metadata__"][key] = _metadata_text(array)
            continue
        data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        header[key] = {
            "dtype": _NAMES[data.dtype],
            "shape": list(data.shape),
            "data_offsets": [offset, offset + data.nbytes],
        }
        offset += data.nbytes
        tensors.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the tensors start 8-byte aligned, as the reference writer keeps them
    fh.write(len(text).to_bytes(8, "little"))
    fh.write(text)
    for data in tensors:
        fh.write(data.data)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice")
        out[key] = value
    return out


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class SafetensorsArchive:
    """A ``.safetensors`` file's tensors and metadata, with the members interface ``serialization`` reads.

    Opening reads and checks the header only; ``read`` reads one array, after
    ``check(shape, dtype)`` and its size against ``limit`` passed.
    """

    def __init__(self, fh: io.BufferedReader, fail: Callable[[str], Exception]) -> None:
        self.fh, self.fail = fh, fail
        size = os.fstat(fh.fileno()).st_size
        if size < 8:
            raise fail(f"is {size} bytes long, too short for a .safetensors file")
        n = int.from_bytes(fh.read(8), "little")
        if n > MAX_HEADER:
            raise fail(f"declares a .safetensors header of {n} bytes, more than the {MAX_HEADER} allowed")
        if n > size - 8:
            raise fail(f"declares a .safetensors header of {n} bytes, but only {size - 8} follow its length")
        try:
            header = json.loads(fh.read(n).decode("utf-8"), object_pairs_hook=_unique)
        except ValueError as exc:  # UnicodeDecodeError is one
            raise fail(f"has a .safetensors header that is not valid JSON ({exc})") from None
        if not isinstance(header, dict):
            raise fail("has a .safetensors header that is not a JSON object")
        text = header.pop("__metadata__", {})
        if not isinstance(text, dict) or not all(isinstance(v, str) for v in text.values()):
            raise fail("has a .safetensors __metadata__ that is not a dict of strings")
        self.text: dict[str, str] = text
        self.start = 8 + n
        self.tensors = self._tensors(header, size - self.start)
        both = sorted(set(text) & set(self.tensors))
        if both:
            raise fail(f"names {', '.join(map(repr, both))} both as a tensor and in __metadata__")
        self.members = {**dict.fromkeys(text), **dict.fromkeys(self.tensors)}

    def _tensors(self, header: dict[str, Any], size: int) -> dict[str, tuple[np.dtype, tuple[int, ...], int]]:
        """Each tensor's dtype, shape and offset, once the offsets tile the ``size`` data bytes exactly."""
        fail = self.fail
        spans = []
        out = {}
        for name, entry in header.items():
            if not isinstance(entry, dict) or set(entry) != _ENTRY_KEYS:
                raise fail(f"has a tensor {name!r} whose entry is not {{dtype, shape, data_offsets}}")
            dtype = _DTYPES.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
            if dtype is None:
                raise fail(
                    f"has a tensor {name!r} of dtype {entry['dtype']!r}; a model file holds "
                    f"{' or '.join(_DTYPES)} tensors"
                )
            shape, offsets = entry["shape"], entry["data_offsets"]
            # A model file's tensors are matrices; the cap keeps math.prod cheap on a crafted header.
            if not isinstance(shape, list) or len(shape) > _MAX_NDIM or not all(_is_count(d) for d in shape):
                raise fail(f"has a tensor {name!r} of malformed shape {shape!r}")
            if (
                not isinstance(offsets, list)
                or len(offsets) != 2
                or not all(_is_count(o) for o in offsets)
                or offsets[0] > offsets[1]
            ):
                raise fail(f"has a tensor {name!r} with malformed data_offsets {offsets!r}")
            nbytes = math.prod(shape) * dtype.itemsize
            if offsets[1] - offsets[0] != nbytes:
                raise fail(
                    f"declares a tensor {name!r} of shape {shape} ({nbytes} bytes) in data_offsets "
                    f"{offsets} ({offsets[1] - offsets[0]} bytes)"
                )
            if offsets[1] > size:
                raise fail(
                    f"is truncated or damaged: its tensor {name!r} lies at data_offsets {offsets}, beyond "
                    f"the {size} bytes of data that follow its header"
                )
            spans.append((offsets[0], offsets[1], name))
            out[name] = (dtype, tuple(shape), offsets[0])
        end, last = 0, None
        for begin, stop, name in sorted(spans):
            if begin < end:
                raise fail(f"has tensors {last!r} and {name!r} whose data_offsets overlap")
            if begin > end:
                raise fail(f"has {begin - end} bytes that no tensor covers before {name!r}")
            end, last = stop, name
        if end < size:
            raise fail(f"has {size - end} bytes after its last tensor that no tensor covers")
        return out

    def _metadata(self, key: str) -> np.ndarray:
        text = self.text[key]
        try:
            value = json.loads(text)
        except ValueError:
            raise self.fail(f"has a __metadata__ entry {key!r} that is not JSON: {text[:80]!r}") from None
        if isinstance(value, dict):
            return np.array(text)
        try:
            array = np.array(value)
        except ValueError:  # ragged lists
            array = np.array(None)
        if array.dtype.hasobject:
            raise self.fail(f"has a __metadata__ entry {key!r} that is not an array: {text[:80]!r}")
        return array

    def read(self, key: str, check: Check, limit: int, why: str, data: bool = True) -> np.ndarray | None:
        """The array ``key`` (None when ``data`` is false), after ``check(shape, dtype)`` and its size
        against ``limit`` bytes, as the ``.npz`` reader's ``read``."""
        if key in self.text:
            array = self._metadata(key)
            check(array.shape, array.dtype)
            if array.nbytes > limit:
                raise self.fail(
                    f"declares a {key!r} array of {array.nbytes} bytes, more than the {limit} {why}"
                )
            return array if data else None
        dtype, shape, begin = self.tensors[key]
        native = dtype.newbyteorder("=")
        check(shape, native)
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if nbytes > limit:
            raise self.fail(f"declares a {key!r} array of {nbytes} bytes, more than the {limit} {why}")
        if not data:
            return None
        out = np.empty(count, dtype=dtype)
        raw = out.view(np.uint8)
        self.fh.seek(self.start + begin)
        done = 0
        while done < nbytes:  # the size was checked against the file's, so a short read is a file changing
            got = self.fh.readinto(raw.data[done : done + _READ_CHUNK])
            if not got:
                raise self.fail(f"is truncated: its {key!r} array ends after {done} of {nbytes} bytes")
            done += got
        return out.astype(native, copy=False).reshape(shape)
