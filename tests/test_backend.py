"""The backend selector: names, defaults, errors, moving arrays, and what importing pulls in."""

import subprocess
import sys

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn import backend as backend_mod


def test_named_backend_matches_suite(backend):
    assert backend.name in dnn.available_backends()
    assert dnn.get_backend(backend.name) is dnn.get_backend(backend.name)  # resolved once, cached
    x = backend.asarray(np.arange(6.0).reshape(2, 3), dtype="float32")
    assert str(x.dtype).endswith("float32")
    assert dnn.to_numpy(x).tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert backend_mod.backend_of(x).name == backend.name


def test_auto_picks_numpy_without_gpu(monkeypatch):
    monkeypatch.delenv("PORTABLE_DNN_BACKEND", raising=False)
    expected = "cupy" if "cupy" in dnn.available_backends() else "numpy"
    assert dnn.get_backend("auto").name == expected
    assert dnn.get_backend().name == expected


def test_environment_variable_sets_default(monkeypatch):
    monkeypatch.setenv("PORTABLE_DNN_BACKEND", "numpy")
    assert dnn.get_backend().name == "numpy"
    monkeypatch.setenv("PORTABLE_DNN_BACKEND", "no-such-lib")
    with pytest.raises(ValueError, match="unknown backend 'no_such_lib'; valid names: auto, numpy"):
        dnn.get_backend()


def test_use_backend_scopes_the_choice(monkeypatch, backend):
    monkeypatch.setenv("PORTABLE_DNN_BACKEND", "numpy")
    with dnn.use_backend(backend.name) as chosen:
        assert chosen is backend
        assert dnn.get_backend() is backend
        params = dnn.initialize_parameters(2, 2, 1)
        assert backend_mod.backend_of(params["W1"]).name == backend.name
    assert dnn.get_backend().name == "numpy"


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as info:
        dnn.get_backend("tensorflow")
    for name in dnn.BACKEND_NAMES:
        assert name in str(info.value)


def test_backend_type_error():
    with pytest.raises(TypeError, match="backend must be a name or a Backend"):
        dnn.get_backend(3)  # type: ignore[arg-type]


@pytest.mark.skipif("cupy" in dnn.available_backends(), reason="this machine has a CUDA GPU")
def test_cupy_without_gpu_says_why():
    with pytest.raises(ValueError) as info:
        dnn.get_backend("cupy")
    message = str(info.value)
    assert "backend 'cupy' cannot run here" in message
    assert "not installed" in message or "no CUDA device" in message
    assert "backends that can: numpy" in message
    with pytest.raises(ValueError, match="cannot run here"):
        dnn.require_gpu()
    assert dnn.prefer_gpu() is False


def test_missing_library_names_the_extra(monkeypatch):
    monkeypatch.setattr(backend_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match=r"torch is not installed \(pip install 'portable_dnn\[torch\]'\)"):
        dnn.get_backend("torch")


def test_import_pulls_in_no_gpu_or_framework_library():
    code = (
        "import sys, portable_dnn, portable_dnn.training;"
        "print(sorted(m for m in ('cupy', 'torch', 'jax', 'dask') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_to_numpy_of_host_and_lists():
    a = np.ones((2, 2))
    assert dnn.to_numpy(a) is a
    assert dnn.to_numpy([[1, 2]]).tolist() == [[1, 2]]


def test_resolve_dtype_rejects_non_float(xp):
    assert backend_mod.resolve_dtype(xp, None) == xp.float64
    assert backend_mod.resolve_dtype(xp, np.float32) == xp.float32
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64', got 'int32'"):
        backend_mod.resolve_dtype(xp, "int32")


def test_mixed_libraries_are_named(backend, to_backend):
    if backend.name == "numpy":
        other = dnn.get_backend("array_api_strict")
        W = other.asarray(np.ones((1, 3)))
    else:
        W = np.ones((1, 3))
    A = to_backend(np.ones((3, 2))) if backend.name != "numpy" else np.ones((3, 2))
    with pytest.raises(TypeError, match="linear_forward: arrays from different libraries were mixed"):
        dnn.linear_forward(A, W, A[:1, :1])


def test_tf32_needs_a_gpu():
    X, Y = np.ones((2, 3)), np.array([[0, 1, 0]])
    with pytest.raises(ValueError, match="matmul_precision='tf32' needs a CUDA GPU"):
        dnn.L_layer_model(X, Y, [2, 1], num_iterations=1, backend="numpy", matmul_precision="tf32")
    with pytest.raises(ValueError, match="matmul_precision must be one of"):
        dnn.L_layer_model(X, Y, [2, 1], num_iterations=1, backend="numpy", matmul_precision="bf16")


def test_cuda_graph_needs_torch_cuda():
    X, Y = np.ones((2, 3)), np.array([[0, 1, 0]])
    with pytest.raises(ValueError, match="cuda_graph=True needs the torch backend on a CUDA device"):
        dnn.L_layer_model(X, Y, [2, 1], num_iterations=1, backend="numpy", cuda_graph=True)


def test_backends_are_classes_registered_by_name(backend):
    """Each backend is its own class; arrays find theirs through backend_of."""
    from portable_dnn.backend.base import Backend

    assert isinstance(backend, Backend) and type(backend) is not Backend
    assert type(backend).name == backend.name
    assert backend_mod.backend_of(backend.asarray(np.ones(2))) == backend
    assert backend_mod.get_backend(backend.name) is backend  # one object per name and device


def _record_checks(seen):
    def check(part, columns):
        seen.append((columns, dnn.to_numpy(part).tolist()))

    return check


def test_checked_when_read_checks_each_part_where_it_is_computed(backend):
    X = np.arange(10.0).reshape(2, 5)
    seen = []
    data = backend.asarray(X)
    if backend.name == "dask":
        data = data.rechunk((2, 3))
    checked = backend.checked_when_read(data, _record_checks(seen))
    if backend.name == "dask":
        # Lazy: nothing is checked before the parts are computed, then each with its own columns.
        assert seen == []
        assert dnn.to_numpy(checked).tolist() == X.tolist()
        assert sorted(seen) == [((0, 3), X[:, :3].tolist()), ((3, 5), X[:, 3:].tolist())]
    else:
        assert seen == [((0, 5), X.tolist())]
        assert dnn.to_numpy(checked).tolist() == X.tolist()


def test_stores_and_schedulers_are_refused_where_the_library_has_none(backend):
    if backend.name == "dask":
        pytest.skip("the dask backend has stores and schedulers (tests/test_dask.py)")
    with pytest.raises(
        ValueError, match=rf"^a scheduler address needs the dask backend, not {backend.name}$"
    ):
        backend.scheduler("tcp://127.0.0.1:8786")
    store = rf"^f: reading a store a chunk at a time needs the dask backend, not {backend.name}$"
    with pytest.raises(ValueError, match=store):
        backend.open_store("data.zarr", "X", "Y", "f")
    with pytest.raises(ValueError, match=rf"^column chunks need the dask backend, not {backend.name}$"):
        backend.column_blocks(backend.asarray(np.ones((1, 2))), [0])
