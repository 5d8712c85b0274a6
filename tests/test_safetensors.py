"""Model files in the .safetensors format: round trips, interoperability, crafted files."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portable_dnn as dnn
from portable_dnn import _safetensors
from portable_dnn.serialization import load_checkpoint, load_metadata, load_parameters, save_parameters
from portable_dnn.trained import as_trained

# Files load onto the default backend: the session's (PORTABLE_DNN_BACKEND).
pytestmark = pytest.mark.default_backend

MiB = 1 << 20


def _params(backend, dims=(4, 5, 3, 1), dtype="float64"):
    p = dnn.initialize_parameters_deep(list(dims), init="xavier", seed=2, backend=backend, dtype=dtype)
    return {k: (v + 0.25 if k.startswith("b") else v) for k, v in p.items()}


def _safetensors_numpy():
    return pytest.importorskip("safetensors.numpy", reason="the safetensors package is not installed")


def _craft(path, header, data=b"", length=None):
    """Write a .safetensors file from a header dict and data bytes, bypassing every check."""
    text = json.dumps(header).encode()
    n = len(text) if length is None else length
    path.write_bytes(n.to_bytes(8, "little") + text + data)
    return path


def _small_model(tmp_path):
    """The header and data of a valid one-layer model file, to alter."""
    path = save_parameters(
        {"W1": np.arange(6.0).reshape(3, 2), "b1": np.ones((3, 1))}, tmp_path / "ok.safetensors"
    )
    with open(path, "rb") as fh:
        raw = fh.read()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


# ---------------------------------------------------------------- round trip


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_round_trip_is_exact_and_records_what_npz_records(backend, tmp_path, dtype):
    params = _params(backend, dtype=dtype)
    metadata = {"iterations": 7, "costs": [0.7, 0.5], "note": {"nested": ["é", 1]}}
    path = tmp_path / "model.safetensors"
    assert save_parameters(params, path, activations=["tanh", "relu", "sigmoid"], metadata=metadata) == str(
        path
    )
    loaded = load_parameters(path, backend=backend)
    assert sorted(loaded) == sorted(params)
    for k, v in params.items():
        assert type(loaded[k]) is type(v), k
        assert str(loaded[k].dtype) == str(v.dtype)
        np.testing.assert_array_equal(dnn.to_numpy(loaded[k]), dnn.to_numpy(v))
    npz = save_parameters(
        params, tmp_path / "model.npz", activations=["tanh", "relu", "sigmoid"], metadata=metadata
    )
    assert load_metadata(path) == load_metadata(npz)
    assert load_metadata(path)["metadata"] == metadata


def test_the_extension_chooses_the_format(tmp_path):
    params = _params("numpy", dims=(2, 1))
    upper = save_parameters(params, tmp_path / "m.SafeTensors")
    with open(upper, "rb") as fh:
        assert fh.read(9)[8:] == b"{"
    other = save_parameters(params, tmp_path / "m.weights")
    with open(other, "rb") as fh:
        head = fh.read(8)
    assert head[:2] == b"PK"
    os.rename(other, tmp_path / "npz.safetensors")
    length = int.from_bytes(head, "little")
    with pytest.raises(ValueError, match=f"declares a .safetensors header of {length} bytes, more than"):
        load_parameters(tmp_path / "npz.safetensors")


def test_checkpoint_slots_round_trip(tmp_path):
    params = _params("numpy", dims=(3, 2, 1))
    v = {f"d{k}": a * 2 for k, a in params.items()}
    s = {f"d{k}": a * a * 3 for k, a in params.items()}  # an average of squares: >= 0
    path = save_parameters(
        params, tmp_path / "c.safetensors", metadata={"t": 4}, optimizer_state={"v": v, "s": s}
    )
    got, slots, meta = load_checkpoint(path, backend="numpy")
    assert sorted(slots) == ["s", "v"] and meta["metadata"] == {"t": 4}
    for k in params:
        np.testing.assert_array_equal(got[k], params[k])
        np.testing.assert_array_equal(slots["v"][f"d{k}"], v[f"d{k}"])
        np.testing.assert_array_equal(slots["s"][f"d{k}"], s[f"d{k}"])


def test_nadam_scalar_slot_round_trips(tmp_path):
    params = _params("numpy", dims=(3, 2, 1))
    mu = {f"d{k}": np.asarray(0.5, dtype=a.dtype) for k, a in params.items()}
    zeros = {f"d{k}": np.zeros_like(a) for k, a in params.items()}
    for suffix in ("npz", "safetensors"):
        path = save_parameters(
            params, tmp_path / f"n.{suffix}", optimizer_state={"v": zeros, "s": zeros, "mu": mu}
        )
        _, slots, _ = load_checkpoint(path, backend="numpy")
        assert sorted(slots) == ["mu", "s", "v"]
        assert all(slots["mu"][k].shape == () and slots["mu"][k] == 0.5 for k in mu)


def test_an_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_parameters(_params("numpy", dims=(3, 1)), tmp_path / "m.safetensors")
    with open(path, "rb") as fh:
        before = fh.read()

    def broken(fh, arrays):
        fh.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(_safetensors, "write", broken)
    with pytest.raises(KeyboardInterrupt):
        save_parameters(_params("numpy", dims=(6, 1)), path)
    with open(path, "rb") as fh:
        assert fh.read() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_the_same_checks_as_npz_apply(tmp_path):
    header, data = _small_model(tmp_path)
    header["__metadata__"]["layer_dims"] = "[2, 4]"
    with pytest.raises(ValueError, match=r"has 'W1' of shape \(3, 2\), expected \(4, 2\)"):
        load_parameters(_craft(tmp_path / "dims.safetensors", header, data))
    header, data = _small_model(tmp_path)
    nan = bytearray(data)
    nan[0:8] = np.array([np.nan]).tobytes()
    with pytest.raises(ValueError, match="has NaN or infinite values in 'W1'"):
        load_parameters(_craft(tmp_path / "nan.safetensors", header, bytes(nan)))
    header["__metadata__"]["extra"] = "[1]"
    with pytest.raises(ValueError, match="holds arrays 'extra' that its layer_dims"):
        load_metadata(_craft(tmp_path / "extra.safetensors", header, data))


# ------------------------------------------------------------- interoperability


def test_our_files_load_in_the_safetensors_package(tmp_path):
    st_numpy = _safetensors_numpy()
    from safetensors import safe_open

    params = _params("numpy", dtype="float32")
    path = save_parameters(params, tmp_path / "m.safetensors", metadata={"seed": 3})
    loaded = st_numpy.load_file(path)
    assert sorted(loaded) == sorted(params)
    for k in params:
        assert loaded[k].dtype == np.float32
        np.testing.assert_array_equal(loaded[k], params[k])
    with safe_open(path, "np") as fh:
        meta = fh.metadata()
    assert json.loads(meta["metadata"]) == {"seed": 3}
    assert json.loads(meta["layer_dims"]) == [4, 5, 3, 1]
    assert json.loads(meta["activations"]) == ["relu", "relu", "sigmoid"]


def test_files_the_safetensors_package_writes_load(tmp_path):
    st_numpy = _safetensors_numpy()
    params = _params("numpy", dims=(3, 2, 1))
    metadata = {
        "format_version": "1",
        "layer_dims": "[3, 2, 1]",
        "activations": '["leaky_relu", "sigmoid"]',
        "dtype": '"float64"',
        "metadata": '{"data": "theirs"}',
    }
    path = tmp_path / "theirs.safetensors"
    st_numpy.save_file(params, str(path), metadata=metadata)
    loaded = load_parameters(path, backend="numpy")
    for k in params:
        np.testing.assert_array_equal(loaded[k], params[k])
    meta = load_metadata(path)
    assert meta["activations"] == ["leaky_relu", "sigmoid"] and meta["metadata"] == {"data": "theirs"}


# -------------------------------------------------------------- crafted files


def _crafted_cases():
    w = {"dtype": "F64", "shape": [3, 2], "data_offsets": [0, 48]}
    b = {"dtype": "F64", "shape": [3, 1], "data_offsets": [48, 72]}
    return [
        (
            "huge-shape",
            {
                "W1": {**w, "shape": [1 << 20, 1 << 20], "data_offsets": [24, 24 + (8 << 40)]},
                "b1": {**b, "data_offsets": [0, 24]},
            },
            "its tensor 'W1' lies at data_offsets [24, 8796093022232], beyond the 72 bytes",
        ),
        (
            "size-mismatch",
            {"W1": {**w, "shape": [300, 2]}, "b1": b},
            "declares a tensor 'W1' of shape [300, 2]",
        ),
        ("f16", {"W1": {**w, "dtype": "F16"}, "b1": b}, "of dtype 'F16'; a model file holds F32 or F64"),
        ("unknown-dtype", {"W1": {**w, "dtype": "Q7"}, "b1": b}, "of dtype 'Q7'"),
        ("overlap", {"W1": w, "b1": {**b, "data_offsets": [40, 64]}}, "whose data_offsets overlap"),
        (
            "gap",
            {"W1": {**w, "data_offsets": [24, 72]}, "b1": {**b, "shape": [2, 1], "data_offsets": [0, 16]}},
            "has 8 bytes that no tensor covers before 'W1'",
        ),
        (
            "beyond",
            {"W1": {**w, "data_offsets": [48, 96]}, "b1": {**b, "data_offsets": [0, 24]}},
            "is truncated or damaged: its tensor 'W1' lies at data_offsets [48, 96], beyond the 72 bytes",
        ),
        ("negative", {"W1": {**w, "data_offsets": [-48, 0]}, "b1": b}, "malformed data_offsets"),
        ("reversed", {"W1": {**w, "data_offsets": [48, 0]}, "b1": b}, "malformed data_offsets"),
        ("bad-shape", {"W1": {**w, "shape": [3, -2]}, "b1": b}, "malformed shape"),
        ("bool-shape", {"W1": {**w, "shape": [True, 2]}, "b1": b}, "malformed shape"),
        ("many-dims", {"W1": {**w, "shape": [10**18] * 1000}, "b1": b}, "malformed shape"),
        ("bad-entry", {"W1": [1, 2], "b1": b}, "whose entry is not"),
        ("metadata-not-strings", {"__metadata__": {"dtype": 1}, "W1": w, "b1": b}, "not a dict of strings"),
        ("both", {"__metadata__": {"W1": "1"}, "W1": w, "b1": b}, "both as a tensor and in __metadata__"),
    ]


@pytest.mark.parametrize("name,tensors,message", _crafted_cases(), ids=[c[0] for c in _crafted_cases()])
@pytest.mark.parametrize("load", [load_parameters, load_metadata])
def test_crafted_headers_are_refused_naming_the_problem(tmp_path, name, tensors, message, load):
    header, data = _small_model(tmp_path)
    meta = {**header["__metadata__"], **tensors.get("__metadata__", {})}
    tensors = {k: v for k, v in tensors.items() if k != "__metadata__"}
    path = _craft(tmp_path / "x.safetensors", {"__metadata__": meta, **tensors}, data)
    load(tmp_path / "ok.safetensors")  # first-call costs (imports, caches) out of the measure
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as info:
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(info.value).startswith(f"{load.__name__}: {str(path)!r} "), str(info.value)
    assert message in str(info.value)
    assert peak < 4 * MiB, peak


@pytest.mark.parametrize(
    "length,message",
    [(1 << 60, "more than the 33554432 allowed"), (10_000, "but only"), (0, "not valid JSON")],
    ids=["huge", "beyond-file", "empty"],
)
def test_a_header_length_is_bounded_before_reading(tmp_path, length, message):
    header, data = _small_model(tmp_path)
    path = _craft(tmp_path / "len.safetensors", header, data, length=length)
    load_parameters(tmp_path / "ok.safetensors")  # first-call costs (imports, caches) out of the measure
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=message):
            load_parameters(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MiB, peak


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "0 bytes long, too short"),
        (b"\x02\x00\x00\x00\x00\x00\x00\x00[]", "header that is not a JSON object"),
        (b'\x0d\x00\x00\x00\x00\x00\x00\x00{"a":1,"a":1}', "the key 'a' appears twice"),
        (b"\x02\x00\x00\x00\x00\x00\x00\x00\xff\xfe", "not valid JSON"),
    ],
    ids=["empty", "list", "duplicate", "not-utf8"],
)
def test_malformed_headers_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_metadata(path)


def test_truncated_data_is_refused_before_reading(tmp_path):
    header, data = _small_model(tmp_path)
    path = _craft(tmp_path / "t.safetensors", header, data[:-1])
    with pytest.raises(
        ValueError,
        match=r"is truncated or damaged: its tensor 'b1' lies at data_offsets \[48, 72\], beyond the 71 ",
    ):
        load_parameters(path)
    path = _craft(tmp_path / "long.safetensors", header, data + b"\0")
    with pytest.raises(ValueError, match="has 1 bytes after its last tensor"):
        load_parameters(path)


@pytest.mark.parametrize(
    "text,message",
    [("1.5.", "is not JSON"), ("[null]", "is not an array"), ("[[1], [1, 2]]", "is not an array")],
)
def test_malformed_metadata_entries_are_refused(tmp_path, text, message):
    header, data = _small_model(tmp_path)
    header["__metadata__"]["layer_dims"] = text
    with pytest.raises(ValueError, match=f"has a __metadata__ entry 'layer_dims' that {message}"):
        load_metadata(_craft(tmp_path / "m.safetensors", header, data))


@pytest.fixture(scope="module")
def valid_bytes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("valid")
    net = as_trained(_params("numpy", dims=(6, 4, 3)), output="softmax", classes=["a", "b", "c"])
    return Path(net.save(folder / "model.safetensors")).read_bytes()


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.data())
def test_fuzz_damaged_files_load_or_raise_value_error(valid_bytes, tmp_path, data):
    damaged = bytearray(valid_bytes[: data.draw(st.integers(0, len(valid_bytes)), label="length")])
    for offset, mask in data.draw(st.lists(st.tuples(st.integers(0, 4095), st.integers(1, 255)), max_size=6)):
        if offset < len(damaged):
            damaged[offset] ^= mask
    path = tmp_path / "fuzz.safetensors"
    path.write_bytes(bytes(damaged))
    try:
        params = load_parameters(path, backend="numpy")
    except ValueError as exc:
        assert str(exc).startswith(f"load_parameters: {str(path)!r} "), str(exc)
    else:
        assert all(np.all(np.isfinite(v)) for v in params.values())


@pytest.mark.parametrize("classes", [["non-cat", "cat"], [0.5, 2.0], [False, True]])
def test_input_shape_and_classes_round_trip(tmp_path, classes):
    net = as_trained(_params("numpy", dims=(12, 3, 1)), input_shape=(2, 2, 3), classes=classes)
    again = as_trained(net.save(tmp_path / "m.safetensors"))
    assert again.input_shape == (2, 2, 3)
    assert again.classes.tolist() == classes and again.classes.dtype == np.asarray(classes).dtype
    ours, npz = load_metadata(tmp_path / "m.safetensors"), load_metadata(net.save(tmp_path / "m.npz"))
    assert ours.pop("classes").tolist() == npz.pop("classes").tolist()
    assert ours == npz
