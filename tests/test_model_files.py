"""A model file describes its network: output, hidden activation, input shape, classes, training."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.cli import main
from portable_dnn.engine import HIDDEN, OUTPUTS
from portable_dnn.serialization import load_metadata, load_parameters, save_parameters

RNG = np.random.RandomState(0)
X_HOST = RNG.randn(3, 40)
TARGETS = {
    "sigmoid": (X_HOST[:1] > 0).astype(np.float64),
    "softmax": np.argmax(X_HOST, axis=0),
    "multilabel": (X_HOST[:2] > 0).astype(np.float64),
    "identity": X_HOST[:2] * 2.0 - X_HOST[1:],
}
UNITS = {"sigmoid": 1, "softmax": 3, "multilabel": 2, "identity": 2}


def _write_version_1(path, params, activations):
    """A model file as portable_dnn's format version 1 wrote it (no input shape, no classes)."""
    L = len(params) // 2
    dims = [params["W1"].shape[1]] + [params[f"W{l}"].shape[0] for l in range(1, L + 1)]
    with open(path, "wb") as fh:
        np.savez(
            fh,
            **params,
            format_version=np.array(1, dtype=np.int64),
            layer_dims=np.array(dims, dtype=np.int64),
            activations=np.array(activations),
            dtype=np.array(str(params["W1"].dtype)),
            metadata=np.array('{"iterations": 3, "learning_rate": 0.5}'),
        )


def _host_params(dims, dtype="float64"):
    return dnn.initialize_parameters_deep(list(dims), seed=3, backend="numpy", dtype=dtype)


def test_a_version_1_file_still_loads_and_describes_its_network(backend, tmp_path):
    path = tmp_path / "old.npz"
    params = _host_params([3, 4, 1])
    _write_version_1(path, params, ["relu", "sigmoid"])
    loaded = load_parameters(path, backend=backend)
    for key, value in params.items():
        np.testing.assert_array_equal(dnn.to_numpy(loaded[key]), value)
    meta = load_metadata(path)
    assert (meta["format_version"], meta["input_shape"], meta["classes"]) == (1, None, None)
    net = dnn.as_trained(path)
    assert (net.hidden, net.output, net.layer_dims, net.dtype) == ("relu", "sigmoid", [3, 4, 1], "float64")
    assert net.info == {"iterations": 3, "learning_rate": 0.5}


def test_a_version_1_file_with_a_hidden_activation_last_loads_but_is_no_engine_output(tmp_path):
    path = tmp_path / "old.npz"
    _write_version_1(path, _host_params([3, 1]), ["tanh"])
    assert load_metadata(path)["activations"] == ["tanh"]
    with pytest.raises(ValueError, match="as_trained: output must be one of 'sigmoid', .* got 'tanh'"):
        dnn.as_trained(path)


@pytest.mark.thin_grid
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_fit_records_the_network_and_its_training(backend, tmp_path, hidden, output):
    dims = [3, 4, UNITS[output]]
    X = backend.asarray(X_HOST)
    result = dnn.fit(X, TARGETS[output], dims, hidden_activation=hidden, output=output, optimizer="adam",
                     learning_rate=0.01, batch_size=16, num_epochs=3, backend=backend)  # fmt: skip
    path = dnn.as_trained(result).save(tmp_path / "m.npz")
    meta = load_metadata(path)
    assert meta["activations"] == [hidden, output] and meta["layer_dims"] == dims
    net = dnn.as_trained(path)
    assert (net.hidden, net.output) == (hidden, output)
    assert net.info["optimizer"] == "adam" and net.info["learning_rate"] == 0.01
    assert net.info["batch_size"] == 16 and net.info["epochs"] == 3
    assert net.info["costs"] == result[1]["cost"] and net.info["beta2"] == 0.999
    for key, value in result[0].items():
        np.testing.assert_array_equal(net.parameters[key], dnn.to_numpy(value))


@pytest.mark.default_backend
def test_input_shape_and_classes_round_trip_and_are_checked(tmp_path):
    params = _host_params([12, 3])
    path = save_parameters(params, tmp_path / "m.npz", activations=["softmax"], input_shape=(2, 2, 3),
                           classes=np.array(["cat", "dog", "emu"]))  # fmt: skip
    net = dnn.as_trained(path)
    assert net.input_shape == (2, 2, 3) and net.classes.tolist() == ["cat", "dog", "emu"]
    with pytest.raises(ValueError, match=r"input_shape \(5,\) holds 5 values, but the network takes 12"):
        save_parameters(params, path, activations=["softmax"], input_shape=(5,))
    with pytest.raises(TypeError, match="input_shape must be a tuple of sizes"):
        save_parameters(params, path, activations=["softmax"], input_shape=(2.0, 6))
    with pytest.raises(ValueError, match="classes .* must be 3 labels for the network's 3-unit softmax"):
        save_parameters(params, path, activations=["softmax"], classes=[0, 1])
    with pytest.raises(ValueError, match="classes .* must be distinct"):
        save_parameters(params, path, activations=["softmax"], classes=[0, 1, 1])
    with pytest.raises(ValueError, match="cannot label an identity"):
        save_parameters(params, path, activations=["identity"], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="must be strings, numbers or booleans, got dtype object"):
        save_parameters(params, path, activations=["softmax"], classes=np.array([0, "a", None]))
    # A file whose records contradict its weights is refused on load.
    arrays = dict(np.load(path, allow_pickle=False))
    arrays["input_shape"] = np.array([3, 3])
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(ValueError, match=r"has input_shape \[3, 3\] that holds 9 values"):
        load_parameters(path)


def test_as_trained_takes_every_form_and_refuses_others(tmp_path):
    params = _host_params([3, 2, 1])
    net = dnn.as_trained(params, hidden="tanh")
    assert (net.hidden, net.output, net.input_shape, net.classes) == ("tanh", "sigmoid", None, None)
    assert net.info == {}
    again = dnn.as_trained(net)
    assert (again.hidden, again.output) == ("tanh", "sigmoid")
    np.testing.assert_array_equal(again.parameters["W2"], params["W2"])
    assert dnn.as_trained(net, output="identity").output == "identity"
    assert not net.parameters["W1"].flags.writeable and params["W1"].flags.writeable
    assert dnn.as_trained(_host_params([3, 2, 4])).output == "softmax"
    with pytest.raises(TypeError, match="as_trained: model must be a parameters dict"):
        dnn.as_trained(42)
    with pytest.raises(ValueError, match="as_trained: a sigmoid output needs one unit, and W2 has 4"):
        dnn.as_trained(_host_params([3, 2, 4]), output="sigmoid")
    with pytest.raises(ValueError, match="as_trained: activation must be one of"):
        dnn.as_trained(params, hidden="softplus")
    acts = ["relu", "tanh", "sigmoid"]
    path = save_parameters(_host_params([3, 2, 2, 1]), tmp_path / "m.npz", activations=acts)
    with pytest.raises(ValueError, match=r"different activations \['relu', 'tanh', 'sigmoid'\]"):
        dnn.as_trained(path)


def test_estimators_save_their_classes_and_training(tmp_path):
    sklearn = pytest.importorskip("sklearn", reason="the estimators need scikit-learn")
    from portable_dnn.sklearn import DNNClassifier, DNNRegressor

    assert sklearn
    y = np.array(["ant", "bee", "cow"])[np.argmax(X_HOST, axis=0)]
    clf = DNNClassifier(hidden_layer_sizes=(4,), activation="tanh", epochs=2, batch_size=8)
    with pytest.raises(ValueError, match="as_trained: this DNNClassifier is not fitted yet"):
        dnn.as_trained(clf)
    path = clf.fit(X_HOST.T, y.astype(object)).save(str(tmp_path / "clf.npz"))
    net = dnn.as_trained(path)
    assert (net.hidden, net.output, net.classes.tolist()) == ("tanh", "softmax", ["ant", "bee", "cow"])
    assert net.info["epochs"] == 2 and net.info["optimizer"] == "adam" and net.info["batch_size"] == 8
    reg = DNNRegressor(hidden_layer_sizes=(3,), epochs=2).fit(X_HOST.T, TARGETS["identity"].T)
    net = dnn.as_trained(reg.save(str(tmp_path / "reg.npz")))
    assert (net.output, net.classes, net.layer_dims) == ("identity", None, [3, 3, 2])


def test_the_command_line_records_the_images_shape_and_classes(cat_paths, tmp_path, capsys):
    out = tmp_path / "cat.npz"
    status = main(["train", "--data", *map(str, cat_paths), "--layers", "2", "--iterations", "1",
                   "--out", str(out), "--quiet", "--backend", "numpy"])  # fmt: skip
    assert status == 0, capsys.readouterr().err
    net = dnn.as_trained(out)
    assert net.input_shape == (64, 64, 3) and net.classes.tolist() == ["non-cat", "cat"]
    assert (net.hidden, net.output, net.layer_dims) == ("relu", "sigmoid", [12288, 2, 1])
    assert net.info["iterations"] == 1 and net.info["learning_rate"] == 0.0075


def test_summary_lists_layers_parameters_and_training(tmp_path, capsys):
    params, history = dnn.fit(X_HOST, TARGETS["softmax"], [3, 4, 3], output="softmax", optimizer="momentum",
                              learning_rate=0.05, num_epochs=2, backend="numpy")  # fmt: skip
    path = dnn.as_trained((params, history), classes=["a", "b", "c"]).save(tmp_path / "m.npz")
    assert main(["info", path]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Network 3-4-3, float64" and lines[1] == "Input: 3 features"
    assert lines[3].split() == ["1", "4", "relu", "(4,", "3)", "16"]
    assert lines[4].split() == ["2", "3", "softmax", "(3,", "4)", "15"]
    assert lines[5] == f"Total parameters: 31 ({31 * 8} bytes)"
    assert lines[6] == "Classes: 'a' (0), 'b' (1), 'c' (2)"
    last = history["cost"][-1]
    assert lines[7] == f"Trained: momentum, learning rate 0.05, 2 epochs, last cost {last:.6g}"
    assert dnn.summary(path, print_fn=None) == "\n".join(lines)


def test_info_lists_what_every_extra_installs(monkeypatch, capsys):
    requires = [
        "numpy>=1.24",
        'h5py>=3.8; extra == "cli"',
        'h5py>=3.8; extra == "test"',
        'no-such-distribution-here>=1; extra == "onnx"',
        'portable_dnn[cli,onnx]; extra == "docs"',
    ]
    monkeypatch.setattr("importlib.metadata.requires", lambda name: requires)
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    listed = out[out.index("Versions") :].splitlines()[1:]
    h5py = importlib.metadata.version("h5py")
    assert listed == [
        f"  numpy: {np.__version__}",
        f"  h5py: {h5py}  [cli, test]",
        "  no-such-distribution-here: not installed  [onnx]",
    ]
