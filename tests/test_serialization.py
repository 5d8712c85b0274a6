"""portable_dnn.serialization: exact round trips, atomic saves, and loads that fail only with ValueError."""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portable_dnn as dnn
from portable_dnn.serialization import (
    FORMAT_VERSION,
    load_checkpoint,
    load_metadata,
    load_parameters,
    save_parameters,
)

# Files load onto the default backend: the session's (PORTABLE_DNN_BACKEND).
pytestmark = pytest.mark.default_backend

FUZZ_EXAMPLES = 200


def _params(backend, dims=(4, 5, 3, 1), dtype="float64"):
    p = dnn.initialize_parameters_deep(list(dims), init="xavier", seed=2, backend=backend, dtype=dtype)
    # Non-zero biases, so that b's values are checked too.
    return {k: (v + 0.25 if k.startswith("b") else v) for k, v in p.items()}


def _host(params):
    return {k: dnn.to_numpy(v) for k, v in params.items()}


def _contents(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _rewrite(path, **changes):
    """Rewrite model file ``path`` with some arrays replaced (None removes one), bypassing the checks."""
    arrays = _contents(path)
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


# ---------------------------------------------------------------- round trip


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_round_trip_is_exact_on_the_backend(backend, tmp_path, dtype):
    params = _params(backend, dtype=dtype)
    path = tmp_path / "model.npz"
    assert save_parameters(params, path, metadata={"iterations": 7, "costs": [0.7, 0.5]}) == str(path)
    loaded = load_parameters(path, backend=backend)
    assert sorted(loaded) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    for k, v in params.items():
        got = loaded[k]
        assert type(got) is type(v), k  # an array of the backend under test
        assert str(got.dtype) == str(v.dtype)
        np.testing.assert_array_equal(dnn.to_numpy(got), dnn.to_numpy(v))
    meta = load_metadata(path)
    assert meta == {
        "format_version": FORMAT_VERSION,
        "layer_dims": [4, 5, 3, 1],
        "activations": ["relu", "relu", "sigmoid"],
        "dtype": dtype,
        "input_shape": None,
        "classes": None,
        "metadata": {"costs": [0.7, 0.5], "iterations": 7},
        "slots": [],
    }


def test_file_layout_is_plain_arrays_without_pickle(backend, tmp_path):
    path = tmp_path / "model.npz"
    save_parameters(_params(backend, dims=(2, 1)), path, activations=["tanh"])
    arrays = _contents(path)
    assert sorted(arrays) == ["W1", "activations", "b1", "dtype", "format_version", "layer_dims", "metadata"]
    assert all(a.dtype != object for a in arrays.values())
    assert int(arrays["format_version"]) == FORMAT_VERSION == 2
    assert arrays["layer_dims"].tolist() == [2, 1]
    assert arrays["activations"].dtype.kind == "U" and arrays["activations"].tolist() == ["tanh"]
    assert str(arrays["dtype"]) == "float64"
    assert json.loads(str(arrays["metadata"])) == {}


def test_load_defaults_to_the_selected_backend(backend, tmp_path):
    path = tmp_path / "m.npz"
    save_parameters(_params(backend), path)
    with dnn.use_backend(backend.name):
        loaded = load_parameters(path)
    assert type(loaded["W1"]) is type(backend.asarray(np.zeros((1, 1))))
    numpy_loaded = load_parameters(path, backend="numpy")
    assert isinstance(numpy_loaded["W1"], np.ndarray)
    np.testing.assert_array_equal(numpy_loaded["W2"], dnn.to_numpy(loaded["W2"]))


def test_save_writes_exactly_the_path_given(backend, tmp_path):
    path = tmp_path / "model"
    save_parameters(_params(backend), path)
    assert os.listdir(tmp_path) == ["model"]
    assert load_metadata(path)["layer_dims"] == [4, 5, 3, 1]


def test_save_overwrites_an_existing_file(backend, tmp_path):
    path = tmp_path / "model.npz"
    save_parameters(_params(backend, dims=(3, 1)), path)
    save_parameters(_params(backend, dims=(6, 2, 1)), path)
    assert load_metadata(path)["layer_dims"] == [6, 2, 1]
    assert os.listdir(tmp_path) == ["model.npz"]


# ----------------------------------------------------------- save's checks


def test_save_rejects_bad_arguments(tmp_path):
    good = {"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))}
    path = tmp_path / "m.npz"
    with pytest.raises(
        TypeError, match="save_parameters: parameters must be float32 or float64 arrays, got W1: int64"
    ):
        save_parameters({"W1": np.ones((1, 2), dtype=np.int64), "b1": np.zeros((1, 1))}, path)
    with pytest.raises(TypeError, match="save_parameters: parameters must share one dtype"):
        save_parameters({"W1": np.ones((1, 2), dtype=np.float32), "b1": np.zeros((1, 1))}, path)
    with pytest.raises(ValueError, match="save_parameters: parameters has no 'W1'"):
        save_parameters({}, path)
    with pytest.raises(ValueError, match=r"save_parameters: parameters\['b1'\] has shape \(2, 1\)"):
        save_parameters({"W1": np.ones((1, 2)), "b1": np.zeros((2, 1))}, path)
    with pytest.raises(ValueError, match="save_parameters: parameters has keys 'extra' beyond"):
        save_parameters({**good, "extra": np.ones(1)}, path)
    with pytest.raises(ValueError, match="save_parameters: activations must be 1 names"):
        save_parameters(good, path, activations=["relu", "sigmoid"])
    with pytest.raises(ValueError, match="save_parameters: activations must be 1 names"):
        save_parameters(good, path, activations=["softplus"])
    with pytest.raises(TypeError, match="save_parameters: activations must be a list"):
        save_parameters(good, path, activations="sigmoid")
    with pytest.raises(TypeError, match="save_parameters: metadata must be JSON-serialisable"):
        save_parameters(good, path, metadata={"when": object()})
    with pytest.raises(TypeError, match="save_parameters: metadata must be a dict"):
        save_parameters(good, path, metadata=[1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="save_parameters: path must be a str or os.PathLike"):
        save_parameters(good, 3)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------- atomicity


@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()])
def test_interrupted_save_keeps_the_old_file(backend, tmp_path, monkeypatch, error):
    path = tmp_path / "model.npz"
    old = _params(backend, dims=(3, 2, 1))
    save_parameters(old, path)
    before = path.read_bytes()
    real_savez = np.savez

    def failing_savez(file, **arrays):
        buf = io.BytesIO()
        real_savez(buf, **arrays)
        file.write(buf.getvalue()[: len(buf.getvalue()) // 2])  # half a file, then the failure
        raise error

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(type(error)):
        save_parameters(_params(backend, dims=(5, 4, 1)), path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
    assert path.read_bytes() == before
    loaded = load_parameters(path, backend="numpy")
    for k, v in _host(old).items():
        np.testing.assert_array_equal(loaded[k], v)


def test_failing_fsync_keeps_the_old_file(backend, tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save_parameters(_params(backend, dims=(3, 1)), path)
    before = path.read_bytes()

    def failing_fsync(fd):
        raise OSError("I/O error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="I/O error"):
        save_parameters(_params(backend, dims=(7, 1)), path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.npz"] and path.read_bytes() == before


# ------------------------------------------------------------ load's checks


@pytest.fixture
def model_file(backend, tmp_path):
    path = tmp_path / "model.npz"
    save_parameters(_params(backend), path, metadata={"seed": 2})
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format_version": np.array(3)}, "has format version 3; this portable_dnn reads versions 1, 2"),
        ({"format_version": np.array([1, 1])}, "has a malformed format_version"),
        ({"format_version": None}, "is not a portable_dnn model file: it has no 'format_version' array"),
        (
            {"layer_dims": None, "dtype": None},
            "is not a portable_dnn model file: it has no 'layer_dims', 'dtype' array",
        ),
        ({"layer_dims": np.array([4, 5, 3, 2])}, r"has 'W3' of shape \(1, 3\), expected \(2, 3\)"),
        ({"layer_dims": np.array([4, 0, 3, 1])}, "has malformed layer_dims"),
        ({"layer_dims": np.array([4.0, 5.0, 3.0, 1.0])}, "has malformed layer_dims"),
        (
            {"layer_dims": np.array([4, 5, 1]), "activations": np.array(["relu", "sigmoid"])},
            "holds arrays 'W3', 'b3' that its layer_dims",
        ),
        ({"layer_dims": np.array([4, 5, 3, 1, 1])}, "has malformed activations"),
        ({"b2": np.zeros((3, 2))}, r"has 'b2' of shape \(3, 2\), expected \(3, 1\)"),
        ({"W1": np.zeros((5, 4), dtype=np.float32)}, "has 'W1' of dtype float32, but records dtype float64"),
        ({"W2": np.zeros((3, 5), dtype=np.int64)}, "has non-floating 'W2' \\(dtype int64\\)"),
        ({"dtype": np.array("int64")}, "records dtype 'int64'"),
        ({"W2": np.full((3, 5), np.nan)}, "has NaN or infinite values in 'W2'"),
        ({"b3": np.array([[np.inf]])}, "has NaN or infinite values in 'b3'"),
        ({"b2": None}, "has no 'b2' array although its layer_dims are"),
        ({"W4": np.zeros((1, 1))}, "holds arrays 'W4'"),
        ({"activations": np.array(["relu", "relu", "softplus"])}, "has malformed activations"),
        ({"activations": np.array([1, 2, 3])}, "has malformed activations"),
        ({"metadata": np.array("{not json")}, "has metadata that is not valid JSON"),
        ({"metadata": np.array("[1, 2]")}, "has metadata that is not a JSON object"),
        ({"metadata": np.array([1.0])}, "has a malformed metadata array"),
    ],
)
def test_load_rejects_inconsistent_files(model_file, changes, message):
    _rewrite(model_file, **changes)
    with pytest.raises(ValueError, match=r"load_parameters: '.*model\.npz' " + message):
        load_parameters(model_file, backend="numpy")


def test_load_metadata_checks_the_metadata_only(model_file):
    _rewrite(model_file, W2=np.full((3, 5), np.nan))
    assert load_metadata(model_file)["metadata"] == {"seed": 2}  # weights are not read
    _rewrite(model_file, format_version=np.array(9))
    with pytest.raises(ValueError, match="load_metadata: .* has format version 9"):
        load_metadata(model_file)


def test_load_rejects_missing_and_foreign_files(tmp_path):
    with pytest.raises(ValueError, match=r"load_parameters: model file '.*absent\.npz' does not exist"):
        load_parameters(tmp_path / "absent.npz")
    with pytest.raises(ValueError, match="load_parameters: model file .* is not a file"):
        load_parameters(tmp_path)
    with pytest.raises(TypeError, match="load_parameters: path must be a str or os.PathLike"):
        load_parameters(None)  # type: ignore[arg-type]
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.ones(3))
    with pytest.raises(
        ValueError, match="is not a portable_dnn model file: it has no 'format_version', 'layer_dims'"
    ):
        load_parameters(foreign)
    npy = tmp_path / "single.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(ValueError, match="is a single .npy array, not a portable_dnn model file"):
        load_parameters(npy)
    objects = tmp_path / "objects.npz"
    np.savez(
        objects,
        format_version=np.array([{"a": 1}], dtype=object),
        layer_dims=np.array([1, 1]),
        activations=np.array(["sigmoid"]),
        dtype=np.array("float64"),
    )
    with pytest.raises(
        ValueError, match="is not a portable_dnn model file: its 'format_version' array holds Python objects"
    ):
        load_parameters(objects)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(
        ValueError, match=r"load_parameters: '.*empty\.npz' is empty, not a portable_dnn model file"
    ):
        load_parameters(empty)


@pytest.mark.parametrize(
    "content",
    [
        b"W1,b1\n1,2\n",
        pickle.dumps({"W1": [[1.0]]}),
        bytes(range(256)) * 4,
        b"PK\x03\x04" + bytes(100),  # a zip's magic, then nothing of a zip
    ],
    ids=["text", "pickle", "bytes", "zip-magic"],
)
@pytest.mark.parametrize("load", [load_parameters, load_metadata])
def test_load_says_a_foreign_file_is_not_a_model_file(tmp_path, content, load):
    path = tmp_path / "foreign.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{load.__name__}: {str(path)!r} is not a ")
    if content.startswith(b"PK"):
        assert "is not a readable model file (truncated or damaged .npz?)" in message
    else:
        assert message.endswith("is not a portable_dnn model file (it is not an .npz archive)")
    assert "pickle" not in message


def test_load_rejects_a_truncated_file(model_file):
    data = model_file.read_bytes()
    model_file.write_bytes(data[: len(data) - 40])
    with pytest.raises(
        ValueError, match=r"'.*model\.npz' is not a readable model file \(truncated or damaged"
    ):
        load_parameters(model_file)


def test_load_rejects_a_corrupted_weight(model_file):
    # Flip one byte inside W1's data: the zip member's CRC no longer matches.
    with zipfile.ZipFile(model_file) as zf:
        info = zf.getinfo("W1.npy")
    data = bytearray(model_file.read_bytes())
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size - 3
    data[offset] ^= 0x40
    model_file.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="is not a readable model file .*BadZipFile.*CRC"):
        load_parameters(model_file)


def test_load_rejects_an_unknown_backend(model_file):
    with pytest.raises(ValueError, match="unknown backend 'fortran'"):
        load_parameters(model_file, backend="fortran")


# ------------------------------------------------------------------ fuzzing


@pytest.fixture(scope="module")
def valid_model_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("valid") / "model.npz"
    params = dnn.initialize_parameters_deep([6, 4, 3, 1], init="xavier", seed=5, backend="numpy")
    save_parameters(params, path, metadata={"iterations": 100, "costs": [0.69, 0.5]})
    return path.read_bytes()


@pytest.fixture(scope="module")
def fuzz_path(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "fuzzed.npz"


def _load_or_value_error(path):
    """Loading a damaged file may succeed (a byte nobody reads) or raise ValueError; nothing else."""
    try:
        params = load_parameters(path, backend="numpy")
    except ValueError as exc:
        assert str(exc).startswith("load_parameters: "), str(exc)
        assert repr(str(path)) in str(exc), str(exc)
        assert "allow_pickle" not in str(exc), str(exc)
        return None
    for v in params.values():
        assert np.all(np.isfinite(v))
    return params


_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@_SETTINGS
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(fuzz_path, data):
    fuzz_path.write_bytes(data)
    assert _load_or_value_error(fuzz_path) is None


@_SETTINGS
@given(st.data())
def test_fuzz_truncations(valid_model_bytes, fuzz_path, data):
    n = data.draw(st.integers(0, len(valid_model_bytes) - 1), label="length")
    fuzz_path.write_bytes(valid_model_bytes[:n])
    assert _load_or_value_error(fuzz_path) is None


@_SETTINGS
@given(st.data())
def test_fuzz_flipped_bytes(valid_model_bytes, fuzz_path, data):
    damaged = bytearray(valid_model_bytes)
    flips = data.draw(
        st.lists(st.tuples(st.integers(0, len(damaged) - 1), st.integers(1, 255)), min_size=1, max_size=8),
        label="flips",
    )
    for offset, mask in flips:
        damaged[offset] ^= mask
    fuzz_path.write_bytes(bytes(damaged))
    _load_or_value_error(fuzz_path)
    try:  # load_metadata too, with the same contract
        load_metadata(fuzz_path)
    except ValueError as exc:
        assert str(exc).startswith("load_metadata: "), str(exc)


# ------------------------------------------------------- decompression bombs

GiB = 1 << 30
MiB = 1 << 20


def _npy(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array)
    return buf.getvalue()


def _write_zip(path, members):
    """A zip written by hand from (name, payload, declared size, crc, method), declaring what it is told."""
    out, central = bytearray(), bytearray()
    for name, payload, size, crc, method in members:
        offset, n = len(out), name.encode()
        sizes = (crc, len(payload), size, len(n), 0)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, *sizes) + n + payload
        central += struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, *sizes, 0, 0, 0, 0, offset
        )
        central += n
    start = len(out)
    out += central + struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), start, 0
    )
    path.write_bytes(bytes(out))


def _bomb(header):
    """A deflate stream of ``header`` then 4095 MiB of zeros (about 4 MB), and its inflated size."""
    npy_header = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy_header, header)
    head = npy_header.getvalue()
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = co.compress(head) + co.flush(zlib.Z_FULL_FLUSH)
    # After a full flush a block refers to nothing before it, so one block of
    # compressed zeros can be repeated.
    block = co.compress(bytes(MiB)) + co.flush(zlib.Z_FULL_FLUSH)
    return start + block * 4095 + co.flush(), len(head) + 4095 * MiB


_SMALL_MODEL = {
    "format_version": np.array(1),
    "layer_dims": np.array([2, 3, 1]),
    "activations": np.array(["relu", "sigmoid"]),
    "dtype": np.array("float64"),
    "metadata": np.array("{}"),
    "W1": np.ones((3, 2)),
    "b1": np.zeros((3, 1)),
    "W2": np.ones((1, 3)),
    "b2": np.zeros((1, 1)),
}
_ZEROS = 4095 * MiB


@pytest.mark.parametrize(
    ("member", "header"),
    [
        ("W1", {"descr": "<f8", "fortran_order": False, "shape": (_ZEROS // 8,)}),
        ("W1", {"descr": "<f8", "fortran_order": False, "shape": (3, 2)}),  # the right shape, a huge member
        ("b2", {"descr": "<f8", "fortran_order": False, "shape": (1, _ZEROS // 8)}),
        ("layer_dims", {"descr": "<i8", "fortran_order": False, "shape": (_ZEROS // 8,)}),
        ("metadata", {"descr": "<U256", "fortran_order": False, "shape": (_ZEROS // 1024,)}),
    ],
    ids=["W1-shape", "W1-size", "b2-shape", "layer_dims", "metadata"],
)
@pytest.mark.parametrize("load", [load_parameters, load_metadata])
def test_load_refuses_a_decompression_bomb_before_inflating_it(tmp_path, member, header, load):
    payload, size = _bomb(header)
    members = [(f"{k}.npy", _npy(v), len(_npy(v)), zlib.crc32(_npy(v)), 0) for k, v in _SMALL_MODEL.items()]
    members = [m if m[0] != f"{member}.npy" else (m[0], payload, size, 0, 8) for m in members]
    path = tmp_path / "bomb.npz"
    _write_zip(path, members)
    # It is a real bomb: about 4 MB on disk, 4 GiB of zeros declared, and it inflates to them.
    assert path.stat().st_size < 5 * MiB and size > 4 * GiB - 2 * MiB
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo(f"{member}.npy").file_size == size
        with zf.open(f"{member}.npy") as fh:
            assert np.lib.format.read_magic(fh) == (1, 0)
            assert np.lib.format.read_array_header_1_0(fh)[0] == header["shape"]
            assert fh.read(8 * MiB) == bytes(8 * MiB)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError) as info:
            load(path)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert message.startswith(
        f"{load.__name__}: {str(path)!r} has a {member!r} member of {size} bytes, more than"
    )
    assert elapsed < 1.0, elapsed
    assert peak < 100 * MiB, peak


def test_load_checks_each_header_before_reading(model_file):
    # A member whose header is fine but whose declared size disagrees with it.
    arrays = _contents(model_file)
    members = [(f"{k}.npy", _npy(v), len(_npy(v)), zlib.crc32(_npy(v)), 0) for k, v in arrays.items()]
    members = [m if m[0] != "W2.npy" else (m[0], m[1] + bytes(8), m[2] + 8, zlib.crc32(m[1] + bytes(8)), 0)
               for m in members]  # fmt: skip
    _write_zip(model_file, members)
    with pytest.raises(ValueError, match=r"has a 'W2' member of 256 bytes, but its header declares 248"):
        load_parameters(model_file)
    with pytest.raises(ValueError, match=r"load_metadata: .* has a 'W2' member of 256 bytes"):
        load_metadata(model_file)


def test_load_metadata_checks_the_weights_headers(model_file):
    _rewrite(model_file, W2=np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"load_metadata: .* has 'W2' of shape \(3, 4\), expected \(3, 5\)"):
        load_metadata(model_file)


def test_fortran_ordered_files_load(tmp_path):
    params = _host(_params("numpy"))
    params["W2"] = np.asfortranarray(params["W2"])
    path = tmp_path / "model.npz"
    save_parameters(params, path)
    with zipfile.ZipFile(path) as zf, zf.open("W2.npy") as fh:
        np.lib.format.read_magic(fh)
        assert np.lib.format.read_array_header_1_0(fh)[1]  # stored in Fortran order
    loaded = load_parameters(path, backend="numpy")
    for k, v in params.items():
        np.testing.assert_array_equal(loaded[k], v)


@pytest.fixture(scope="module")
def squeezed_model(tmp_path_factory):
    """A model file of 2000-2000-1 whose zero weights are deflated: 32 MB of W1 in about 30 kB.

    Every member is consistent with its layer_dims, so only the compression itself says that
    loading would need a thousand times the file's size in memory."""
    n = 2000
    arrays = {
        "format_version": np.array(1),
        "layer_dims": np.array([n, n, 1]),
        "activations": np.array(["relu", "sigmoid"]),
        "dtype": np.array("float64"),
        "metadata": np.array("{}"),
        "W1": np.zeros((n, n)),
        "b1": np.zeros((n, 1)),
        "W2": np.zeros((1, n)),
        "b2": np.zeros((1, 1)),
        "s.dW1": np.zeros((n, n)),
        "s.db1": np.zeros((n, 1)),
        "s.dW2": np.zeros((1, n)),
        "s.db2": np.zeros((1, 1)),
    }
    path = tmp_path_factory.mktemp("squeezed") / "squeezed.npz"
    np.savez_compressed(path, **arrays)
    assert path.stat().st_size < 1 * MiB
    return path


@pytest.mark.parametrize("load", [load_parameters, load_checkpoint, load_metadata])
def test_compressed_members_are_refused_before_inflating(squeezed_model, load):
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            load(squeezed_model)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(info.value) == (
        f"{load.__name__}: {str(squeezed_model)!r} stores 'format_version' compressed (deflate); model "
        "files and checkpoints hold their arrays uncompressed, as save_parameters writes them "
        "(numpy.savez, not savez_compressed)"
    )
    assert peak < MiB, peak  # W1 alone would be 32 MB


def test_a_compressed_weight_is_named(model_file):
    arrays = _contents(model_file)
    members = [(f"{k}.npy", _npy(v), len(_npy(v)), zlib.crc32(_npy(v)), 0) for k, v in arrays.items()]
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    members = [m if m[0] != "W2.npy" else (m[0], co.compress(m[1]) + co.flush(), *m[2:4], 8) for m in members]
    _write_zip(model_file, members)
    with zipfile.ZipFile(model_file) as zf:  # a valid archive: zipfile inflates it
        assert np.lib.format.read_array(zf.open("W2.npy")).shape == arrays["W2"].shape
    with pytest.raises(ValueError, match=r"^load_parameters: .* stores 'W2' compressed \(deflate\);"):
        load_parameters(model_file)


def test_a_negative_s_slot_is_refused(tmp_path):
    params = _host(_params("numpy"))
    slots = {k: {f"d{name}": np.zeros_like(v) for name, v in params.items()} for k in ("v", "s")}
    path = tmp_path / "ckpt.npz"
    save_parameters(params, path, metadata={"t": 3}, optimizer_state=slots)
    _rewrite(path, **{"s.db3": np.full((1, 1), -1e-3), "v.db3": np.full((1, 1), -1e-3)})
    with pytest.raises(ValueError) as info:
        load_checkpoint(path, backend="numpy")
    assert str(info.value) == (
        f"load_checkpoint: {str(path)!r} has negative values in 's.db3', an average of squared gradients"
    )
    slots["s"]["dW1"] = np.full_like(params["W1"], -1.0)
    with pytest.raises(ValueError, match=r"optimizer_state\['s'\]\['dW1'\], an average of squares, is < 0"):
        save_parameters(params, path, optimizer_state=slots)


# ------------------------------------------------------ permissions on save


@pytest.fixture
def umask():
    """Set the process umask for one test (restored after it)."""
    saved = os.umask(0o022)
    yield os.umask
    os.umask(saved)


@pytest.mark.parametrize(
    ("mask", "mode"),
    [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664), (0o077, 0o600)],
    ids=["022", "027", "002", "077"],
)
def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path, umask, mask, mode):
    umask(mask)
    path = tmp_path / "model.npz"
    save_parameters(_host(_params("numpy")), path)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_an_existing_file_keeps_its_mode_and_owner(tmp_path, umask):
    umask(0o077)
    path = tmp_path / "model.npz"
    save_parameters(_host(_params("numpy", dims=(3, 1))), path)
    os.chmod(path, 0o604)
    if os.geteuid() == 0:
        os.chown(path, 4242, 4343)
    save_parameters(_host(_params("numpy", dims=(6, 2, 1))), path)
    assert load_metadata(path)["layer_dims"] == [6, 2, 1]
    st = path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o604
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (4242, 4343)


@pytest.mark.parametrize("mode", [0o444, 0o400, 0o044], ids=["444", "400", "044"])
def test_save_refuses_to_replace_a_read_only_file(tmp_path, mode):
    path = tmp_path / "model.npz"
    save_parameters(_host(_params("numpy", dims=(3, 1))), path)
    before = path.read_bytes()
    os.chmod(path, mode)
    with pytest.raises(
        PermissionError,
        match=rf"save_parameters: '.*model\.npz' is read-only \(mode {oct(mode)}\), so it was not replaced",
    ):
        save_parameters(_host(_params("numpy", dims=(6, 2, 1))), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.npz"]


def test_save_names_a_bad_target(tmp_path, monkeypatch):
    params = _host(_params("numpy", dims=(3, 1)))
    with pytest.raises(ValueError, match=r"save_parameters: '.*' is a folder, expected a model file path"):
        save_parameters(params, tmp_path)
    with pytest.raises(FileNotFoundError, match=r"save_parameters: cannot write '.*absent/m\.npz'"):
        save_parameters(params, tmp_path / "absent" / "m.npz")
    with pytest.raises(
        OSError, match=r"save_parameters: cannot write '.*/m{256}\.npz' \(File name too long\)"
    ):
        save_parameters(params, tmp_path / ("m" * 256 + ".npz"))
    assert os.listdir(tmp_path) == []

    def failing_replace(src, dst):
        raise OSError(18, "Invalid cross-device link", src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(
        OSError, match=r"^save_parameters: cannot write '.*/m\.npz' \(Invalid cross-device link\)$"
    ):
        save_parameters(params, tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


# --------------------------------------------------- the temporary file


def test_a_name_near_name_max_saves(tmp_path):
    assert os.pathconf(tmp_path, "PC_NAME_MAX") == 255
    path = tmp_path / ("m" * 246 + ".npz")
    assert len(path.name) == 250
    params = _host(_params("numpy"))
    save_parameters(params, path)
    save_parameters(params, path)  # and replaces itself
    assert os.listdir(tmp_path) == [path.name]
    np.testing.assert_array_equal(load_parameters(path, backend="numpy")["W3"], params["W3"])


def test_the_temporary_file_is_hidden_short_and_beside_the_target(tmp_path, monkeypatch):
    seen = []
    real_fsync = os.fsync

    def spying_fsync(fd):
        seen.append(sorted(os.listdir(tmp_path)))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spying_fsync)
    name = "é" * 100 + ".npz"
    save_parameters(_host(_params("numpy")), tmp_path / name)
    temps = [n for n in seen[0] if n != name]
    assert len(temps) == 1
    assert re.fullmatch(r"\.é{32}\.[0-9a-f]{8}\.tmp", temps[0]), temps
    assert len(os.fsencode(temps[0])) == 78
    assert os.listdir(tmp_path) == [name]


_CHILD = r"""
import os, sys, time, zipfile
import numpy as np
from portable_dnn.serialization import save_parameters

path, hook = sys.argv[1], sys.argv[2]
save_parameters({"W1": np.ones((2, 3)), "b1": np.zeros((2, 1))}, path)  # the old model
paused = []

def pause():
    if not paused:
        paused.append(1)
        print("saving", flush=True)
        if hook == "crash":
            os._exit(3)
        time.sleep(60)

if hook == "close":
    real_close = zipfile.ZipFile.close
    def close(self):
        pause()
        real_close(self)
    zipfile.ZipFile.close = close
else:
    real_fsync = os.fsync
    def fsync(fd):
        pause()
        real_fsync(fd)
    os.fsync = fsync
save_parameters({"W1": np.full((2000, 3000), 0.5), "b1": np.zeros((2000, 1))}, path)
print("finished", flush=True)
"""


def _save_in_child(tmp_path, hook):
    """A child saving a 48 MB model over model.npz, paused mid-save: (child, path, first line, temp files)."""
    path = tmp_path / "model.npz"
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), hook],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = child.stdout.readline()
    temps = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    return child, path, line, temps


@pytest.mark.parametrize("hook", ["close", "fsync"])
def test_sigterm_during_a_save_removes_the_temporary_file(tmp_path, hook):
    child, path, line, temps = _save_in_child(tmp_path, hook)
    try:
        assert line == "saving\n", child.stderr.read() if not line else line
        assert len(temps) == 1 and (tmp_path / temps[0]).stat().st_size > 40 * MiB  # mid-save
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGTERM, err  # ended by the signal, as without the save
    assert out == "" and err == ""
    assert os.listdir(tmp_path) == ["model.npz"]
    np.testing.assert_array_equal(load_parameters(path, backend="numpy")["W1"], np.ones((2, 3)))


def test_a_stale_temporary_file_is_not_a_model(tmp_path):
    child, path, line, temps = _save_in_child(tmp_path, "crash")  # killed without any cleanup
    child.communicate(timeout=60)
    assert child.returncode == 3 and line == "saving\n"
    assert sorted(os.listdir(tmp_path)) == sorted(["model.npz", *temps]) and len(temps) == 1
    assert re.fullmatch(r"\.model\.npz\.[0-9a-f]{8}\.tmp", temps[0])
    assert [p.name for p in tmp_path.glob("*.npz")] == ["model.npz"]
    for load in (load_parameters, load_metadata):
        with pytest.raises(
            ValueError,
            match=rf"{load.__name__}: '.*{re.escape(temps[0])}' is the temporary file of an unfinished save, "
            r"not a model file \(it is safe to delete\)",
        ):
            load(tmp_path / temps[0])
    np.testing.assert_array_equal(load_parameters(path, backend="numpy")["W1"], np.ones((2, 3)))


def test_sigterm_is_armed_only_while_writing(tmp_path, monkeypatch):
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        pytest.skip("the test runner handles SIGTERM itself")
    seen = []
    real_fsync = os.fsync

    def spying_fsync(fd):
        seen.append(signal.getsignal(signal.SIGTERM))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spying_fsync)
    params = _host(_params("numpy"))
    save_parameters(params, tmp_path / "a.npz")
    # The file's fsync ran with a handler in place, the folder's after it was restored.
    assert callable(seen[0]) and seen[1] is signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    def own_handler(signum, frame):
        pass

    seen.clear()
    signal.signal(signal.SIGTERM, own_handler)
    try:
        save_parameters(params, tmp_path / "b.npz")
        assert seen == [own_handler, own_handler]  # a program's own handler stays in charge
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    seen.clear()
    errors = []
    thread = threading.Thread(target=lambda: _save_or_record(params, tmp_path / "c.npz", errors))
    thread.start()
    thread.join()
    assert errors == [] and seen == [signal.SIG_DFL, signal.SIG_DFL]
    assert sorted(os.listdir(tmp_path)) == ["a.npz", "b.npz", "c.npz"]


def _save_or_record(params, path, errors):
    try:
        save_parameters(params, path)
    except BaseException as exc:  # the test reads it in the main thread
        errors.append(exc)


# ------------------------------------------------ non-finite parameters


@pytest.mark.parametrize(("key", "value"), [("W2", np.nan), ("b1", np.inf), ("W3", -np.inf)])
def test_save_refuses_non_finite_parameters(tmp_path, key, value):
    path = tmp_path / "model.npz"
    good = _host(_params("numpy"))
    save_parameters(good, path)
    before = path.read_bytes()
    bad = dict(good)
    bad[key] = good[key].copy()
    bad[key][0, 0] = value
    with pytest.raises(
        ValueError,
        match=rf"save_parameters: parameters\['{key}'\] holds NaN or infinite values, which a model file",
    ):
        save_parameters(bad, path, metadata={"iterations": 3})
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.npz"]


# ------------------------------------------------------ metadata fields

_BAD_FIELDS = [
    ("iterations", 1.7, "a non-negative integer", TypeError),
    ("iterations", "12", "a non-negative integer", TypeError),
    ("iterations", True, "a non-negative integer", TypeError),
    ("iterations", -1, "a non-negative integer", ValueError),
    ("num_iterations", 0, "a positive integer", ValueError),
    ("batch_size", 0, "a positive integer or null", ValueError),
    ("batch_size", 64.0, "a positive integer or null", TypeError),
    ("seed", 1.5, "an integer or null", TypeError),
    ("seed", False, "an integer or null", TypeError),
    ("learning_rate", "0.01", "a positive finite number", TypeError),
    ("learning_rate", -0.01, "a positive finite number", ValueError),
    ("learning_rate", float("inf"), "a positive finite number", ValueError),
    ("costs", "0.69", "a list of numbers", TypeError),
    ("costs", [0.69, "0.5"], "a list of numbers", ValueError),
    ("costs", [0.69, True], "a list of numbers", ValueError),
    ("init", 3, "a string", TypeError),
    ("data_sha256", None, "a string", TypeError),
]


@pytest.mark.parametrize(("field", "value", "expected", "error"), _BAD_FIELDS)
def test_load_refuses_mistyped_metadata_fields(model_file, field, value, expected, error):
    _rewrite(model_file, metadata=np.array(json.dumps({"seed": 2, field: value})))
    for load in (load_parameters, load_metadata):
        with pytest.raises(ValueError) as info:
            load(model_file)
        where = f"{load.__name__}: {str(model_file)!r}"
        assert str(info.value) == f"{where} has metadata field {field!r} = {value!r}, expected {expected}"


@pytest.mark.parametrize(("field", "value", "expected", "error"), _BAD_FIELDS)
def test_save_refuses_mistyped_metadata_fields(tmp_path, field, value, expected, error):
    with pytest.raises(error) as info:
        save_parameters(_host(_params("numpy")), tmp_path / "m.npz", metadata={field: value})
    assert str(info.value) == f"save_parameters: metadata[{field!r}] must be {expected}, got {value!r}"
    assert os.listdir(tmp_path) == []


def test_well_typed_metadata_fields_round_trip(tmp_path):
    metadata = {
        "iterations": 0,
        "num_iterations": 2500,
        "batch_size": None,
        "seed": None,
        "learning_rate": 1,
        "costs": [0.69, 1, float("inf")],
        "init": "xavier",
        "optimizer": "adam",
        "data": "train.h5 test.h5",
        "data_sha256": "0" * 64,
        "anything": {"else": [1.7, "x", True]},
    }
    path = tmp_path / "m.npz"
    save_parameters(_host(_params("numpy")), path, metadata=metadata)
    assert load_metadata(path)["metadata"] == metadata
