"""export_onnx: the ONNX model computes what forward_proba and predict_labels compute."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.cli import main
from portable_dnn.engine import HIDDEN, OUTPUTS

onnx = pytest.importorskip("onnx", reason="exporting needs onnx (pip install 'portable_dnn[onnx]')")
pytest.importorskip("ndonnx", reason="exporting needs ndonnx (pip install 'portable_dnn[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="running the exported model needs onnxruntime")

from portable_dnn.backend._onnx import node_count  # noqa: E402

UNITS = {"sigmoid": 1, "softmax": 4, "multilabel": 3, "identity": 2}
N_X = 6
# Gemm adds the terms of each product in another order than the backends' matmul: each of the
# network's sums of at most 8 terms of size O(1) differs by a few units of eps (2.2e-16, 1.2e-7)
# per layer, and sigmoid, tanh and softmax do not enlarge a difference; 1e-12 and 1e-5 are that
# with a wide margin.
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


def _session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])


def _network(backend, output, dtype):
    dims = [N_X, 8, 5, UNITS[output]]
    params = dnn.initialize_parameters_deep(dims, init="xavier", seed=4, backend=backend, dtype=dtype)
    return {k: v + 0.1 if k.startswith("b") else v for k, v in params.items()}  # biases that matter


def _decided(proba, output, tol):
    """The examples whose label no difference within ``tol`` could change (one per column)."""
    if output == "softmax":
        top = np.sort(proba, axis=0)
        return top[-1] - top[-2] > 2 * tol
    return np.all(np.abs(proba - 0.5) > tol, axis=0)


@pytest.mark.thin_grid
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_the_model_computes_forward_proba_and_predict_labels(
    backend, to_backend, tmp_path, hidden, output, dtype
):
    params = _network(backend, output, dtype)
    path = dnn.export_onnx(dnn.as_trained(params, hidden=hidden, output=output), tmp_path / "net.onnx")
    session = _session(path)
    first = "values" if output == "identity" else "probabilities"
    assert [o.name for o in session.get_outputs()] == [first, "labels"]
    assert session.get_inputs()[0].shape == ["batch", N_X]
    tol = TOLERANCE[dtype]
    rng = np.random.RandomState(5)
    for m in (0, 1, 10_000):
        X = rng.randn(N_X, m).astype(dtype) * 2
        got, labels = session.run(None, {"X": np.ascontiguousarray(X.T)})
        units = UNITS[output]
        assert got.shape == (m, units) and str(got.dtype) == dtype
        label_units = units if output in ("multilabel", "identity") else 1
        assert labels.shape == (m, label_units)
        assert labels.dtype == (np.dtype(dtype) if output == "identity" else np.int64)
        if m == 0:
            continue
        kw = {"hidden_activation": hidden, "output": output}
        expected = dnn.to_numpy(dnn.forward_proba(to_backend(X), params, **kw))
        np.testing.assert_allclose(got.T, expected, rtol=tol, atol=tol)
        expected_labels = dnn.to_numpy(dnn.predict_labels(to_backend(X), params, **kw))
        if output == "identity":
            np.testing.assert_array_equal(labels, got)
            continue
        decided = _decided(expected, output, tol)
        assert decided.mean() > 0.99
        np.testing.assert_array_equal(labels.T[:, decided], expected_labels[:, decided])


def test_a_wrong_dtype_or_feature_count_is_refused_by_onnxruntime(backend, tmp_path):
    session = _session(dnn.export_onnx(_network(backend, "sigmoid", "float64"), tmp_path / "net.onnx"))
    refused = ort.capi.onnxruntime_pybind11_state.InvalidArgument
    with pytest.raises(
        refused,
        match=r"Unexpected input data type. Actual: \(tensor\(float\)\) , expected: \(tensor\(double\)\)",
    ):
        session.run(None, {"X": np.ones((2, N_X), dtype=np.float32)})
    with pytest.raises(refused, match=r"invalid dimensions for input: X .*\n index: 1 Got: 5 Expected: 6"):
        session.run(None, {"X": np.ones((2, N_X - 1))})


def test_the_graph_is_one_gemm_per_layer_without_guards(tmp_path):
    params = dnn.initialize_parameters_deep([784, 128, 64, 10], backend="numpy")
    path = dnn.export_onnx(params, tmp_path / "mnist.onnx", input_name="pixels", batch="n")
    model = onnx.load(path)
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Gemm") == 3 and "If" not in ops and "MatMul" not in ops
    assert "Expand" not in ops and "Shape" not in ops  # no fills built from runtime shapes
    assert node_count(model.SerializeToString()) == (len(ops), len(ops))  # no subgraphs
    assert [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim] == ["n", ""]
    assert model.graph.input[0].name == "pixels"
    onnx.checker.check_model(model, full_check=True)


def test_the_model_carries_the_network_description(tmp_path):
    params = dnn.initialize_parameters_deep([12, 3, 2], backend="numpy")
    net = dnn.as_trained(
        params, hidden="tanh", output="softmax", input_shape=(2, 2, 3), classes=["no", "yes"]
    )
    model = onnx.load(dnn.export_onnx(net, tmp_path / "net.onnx"))
    description = json.loads({p.key: p.value for p in model.metadata_props}["portable_dnn"])
    assert description == {
        "layer_dims": [12, 3, 2],
        "activations": ["tanh", "softmax"],
        "dtype": "float64",
        "input_shape": [2, 2, 3],
        "classes": ["no", "yes"],
    }


def test_export_writes_atomically_and_checks_its_arguments(tmp_path):
    params = dnn.initialize_parameters_deep([3, 1], backend="numpy")
    target = tmp_path / "net.onnx"
    target.write_bytes(b"old")
    target.chmod(0o444)
    if os.access(target, os.W_OK) and os.geteuid() != 0:
        pytest.skip("this file system ignores permission bits")
    with pytest.raises(PermissionError, match="export_onnx: .*net.onnx' is read-only"):
        dnn.export_onnx(params, target)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["net.onnx"]
    with pytest.raises(ValueError, match="export_onnx: batch must be a non-empty string"):
        dnn.export_onnx(params, tmp_path / "b.onnx", batch="")
    with pytest.raises(TypeError, match="export_onnx: path must be a str or os.PathLike"):
        dnn.export_onnx(params, 3)
    with pytest.raises(TypeError, match="as_trained: model must be a parameters dict"):
        dnn.export_onnx([1, 2], tmp_path / "c.onnx")


def test_the_command_line_exports_a_model_file(tmp_path, capsys):
    params = dnn.initialize_parameters_deep([4, 3, 2], backend="numpy")
    model = dnn.as_trained(params, output="multilabel").save(tmp_path / "m.npz")
    assert main(["export", model, str(tmp_path / "m.onnx")]) == 0
    assert "m.onnx" in capsys.readouterr().out
    X = np.random.RandomState(0).rand(5, 4)
    proba, _ = _session(tmp_path / "m.onnx").run(None, {"X": X})
    np.testing.assert_allclose(proba.T, dnn.forward_proba(X.T, params, output="multilabel"), rtol=1e-12)
    assert main(["export", str(tmp_path / "none.npz"), str(tmp_path / "x.onnx")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_importing_the_package_loads_no_onnx_library():
    code = (
        "import sys, portable_dnn; print(sorted(m for m in ('ndonnx', 'onnx', 'spox') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
