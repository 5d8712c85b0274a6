"""A trained network to and from PyTorch and scikit-learn: the same weights, the same answers."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.convert import (
    SKLEARN_ACTIVATIONS,
    TORCH_ACTIVATIONS,
    from_sklearn,
    from_torch,
    to_sklearn,
    to_torch,
)
from portable_dnn.engine import HIDDEN, OUTPUTS
from portable_dnn.trained import as_trained

# The same sums in another order (rows against columns): a few ulps per layer of values near
# 1, far below this in float64.
TOL = 1e-12

# PyTorch's half runs in the torch session, where PyTorch is installed.
pytestmark = pytest.mark.library


def _torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed")


def _sklearn():
    return pytest.importorskip("sklearn.neural_network", reason="scikit-learn is not installed")


def _net(backend, hidden, output, dims=(4, 5, 3, 3), dtype="float64"):
    units = dims[-1] if output != "sigmoid" else 1
    p = dnn.initialize_parameters_deep(
        [*dims[:-1], units], init="xavier", seed=4, backend=backend, dtype=dtype
    )
    p = {k: (v + 0.125 if k.startswith("b") else v) for k, v in p.items()}
    return p, as_trained(p, hidden=hidden, output=output)


def _X(backend, n=4, m=9, dtype="float64"):
    X = np.random.RandomState(3).randn(n, m).astype(dtype)
    return X, backend.asarray(X)


def _same_bits(a, b):
    assert sorted(a.parameters) == sorted(b.parameters)
    for k in a.parameters:
        assert a.parameters[k].dtype == b.parameters[k].dtype, k
        np.testing.assert_array_equal(a.parameters[k], b.parameters[k], err_msg=k)


def test_import_portable_dnn_imports_neither_torch_nor_sklearn():
    code = (
        "import sys, portable_dnn, portable_dnn.convert; "
        "print('torch' in sys.modules, 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_every_hidden_activation_has_a_torch_module():
    torch = _torch()
    assert set(HIDDEN) <= set(TORCH_ACTIVATIONS)
    for name in HIDDEN:
        cls, kwargs = TORCH_ACTIVATIONS[name]
        getattr(torch.nn, cls)(**kwargs)


# ------------------------------------------------------------------- PyTorch


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_torch_round_trip_and_answers(backend, hidden, output):
    torch = _torch()
    params, net = _net(backend, hidden, output)
    module = to_torch(params if output == "sigmoid" and hidden == "relu" else net)
    back = from_torch(module)
    assert (back.hidden, back.output) == (hidden, output)
    _same_bits(back, net)
    X, Xb = _X(backend)
    with torch.no_grad():
        theirs = module(torch.from_numpy(X.T)).numpy().T
    ours = dnn.to_numpy(dnn.forward_proba(Xb, params, hidden_activation=hidden, output=output))
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=TOL)


def test_torch_keeps_float32_and_can_leave_the_output_out(backend):
    torch = _torch()
    params, net = _net(backend, "tanh", "softmax", dtype="float32")
    module = to_torch(net, output=False)
    assert module[0].weight.dtype == torch.float32
    assert type(module[-1]).__name__ == "Linear"
    assert from_torch(module).output == "identity"
    back = from_torch(module, output="softmax")
    assert back.output == "softmax" and back.dtype == "float32"
    _same_bits(back, net)
    X, _ = _X(backend, dtype="float32")
    with torch.no_grad():
        logits = module(torch.from_numpy(X.T)).numpy().T
    ours = dnn.forward_proba(X, net.parameters, hidden_activation="tanh", output="identity")
    # float32: each layer's sums and tanh round differently in PyTorch, a few ulps of values near 1.
    np.testing.assert_allclose(logits, ours, rtol=0, atol=8 * np.finfo(np.float32).eps * net.num_layers)


def test_a_network_trained_in_torch_predicts_the_same_here():
    torch = _torch()
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch.nn.LeakyReLU(0.01), torch.nn.Dropout(0.2),
        torch.nn.Sequential(torch.nn.Linear(6, 3), torch.nn.LeakyReLU(0.01)), torch.nn.Linear(3, 1),
        torch.nn.Sigmoid(),
    ).double()  # fmt: skip
    X = torch.randn(32, 4, dtype=torch.float64)
    y = (X[:, :1] > 0).double()
    opt = torch.optim.SGD(module.parameters(), lr=0.5)
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy(module(X), y).backward()
        opt.step()
    module.eval()
    net = from_torch(module)
    assert (net.layer_dims, net.hidden, net.output) == ([4, 6, 3, 1], "leaky_relu", "sigmoid")
    with torch.no_grad():
        theirs = module(X).numpy().T
    np.testing.assert_allclose(
        dnn.forward_proba(X.numpy().T, net.parameters, hidden_activation="leaky_relu"),
        theirs,
        rtol=0,
        atol=TOL,
    )


@pytest.mark.parametrize(
    "layers,message",
    [
        (lambda nn: [nn.Conv2d(3, 8, 3)], "Conv2d is not a layer portable_dnn can express"),
        (lambda nn: [nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1)], "BatchNorm1d is not a layer"),
        (
            lambda nn: [nn.Linear(2, 3), nn.LeakyReLU(0.2), nn.Linear(3, 1)],
            "LeakyReLU(negative_slope=0.2) is not",
        ),
        (
            lambda nn: [nn.Linear(2, 3), nn.GELU("tanh"), nn.Linear(3, 1)],
            "GELU(approximate='tanh') is not" if "gelu" in HIDDEN else "GELU is not a layer",
        ),
        (
            lambda nn: [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1)],
            "use ['relu', 'tanh']",
        ),
        (lambda nn: [nn.Linear(2, 3), nn.Linear(3, 1)], "need one activation between them"),
        (lambda nn: [nn.ReLU(), nn.Linear(2, 1)], "must start with a Linear layer, got ReLU"),
        (lambda nn: [nn.Linear(2, 3), nn.ReLU()], "ReLU() after the last Linear is not an output"),
        (lambda nn: [nn.Linear(2, 3), nn.Softmax(dim=0)], "Softmax(dim=0) after the last Linear"),
        (lambda nn: [nn.Linear(2, 3), nn.Sigmoid(), nn.Sigmoid()], "followed by 2 layers"),
    ],
)
def test_from_torch_refuses_what_it_cannot_express(layers, message):
    nn = _torch().nn
    with pytest.raises(ValueError) as info:
        from_torch(nn.Sequential(*layers(nn)))
    assert message in str(info.value)


def test_from_torch_refuses_a_module_that_is_not_sequential_and_a_contradicting_output():
    nn = _torch().nn
    with pytest.raises(TypeError, match="must be a torch.nn.Sequential, got Linear"):
        from_torch(nn.Linear(2, 1))
    with pytest.raises(ValueError, match="ends in a softmax output, but output='identity' was given"):
        from_torch(nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=1)), output="identity")


# --------------------------------------------------------------- scikit-learn


def _sk_answers(est, X):
    return est.predict(X.T), (est.predict_proba(X.T).T if hasattr(est, "predict_proba") else None)


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_sklearn_round_trip_and_answers(backend, hidden, output):
    _sklearn()
    params, net = _net(backend, hidden, output)
    if hidden not in SKLEARN_ACTIVATIONS:
        with pytest.raises(ValueError, match=f"scikit-learn's MLP has no {hidden} activation"):
            to_sklearn(net)
        return
    est = to_sklearn(net)
    assert type(est).__name__ == ("MLPRegressor" if output == "identity" else "MLPClassifier")
    _same_bits(from_sklearn(est), net)
    X, Xb = _X(backend)
    AL = dnn.to_numpy(dnn.forward_proba(Xb, params, hidden_activation=hidden, output=output))
    labels = dnn.to_numpy(dnn.predict_labels(Xb, params, hidden_activation=hidden, output=output))
    predicted, proba = _sk_answers(est, X)
    if output == "identity":
        np.testing.assert_allclose(predicted.T, AL, rtol=0, atol=TOL)
        return
    if output == "sigmoid":
        np.testing.assert_allclose(proba, np.vstack([1 - AL, AL]), rtol=0, atol=TOL)
        np.testing.assert_array_equal(predicted, labels[0])
    elif output == "softmax":
        np.testing.assert_allclose(proba, AL, rtol=0, atol=TOL)
        np.testing.assert_array_equal(predicted, labels[0])
    else:
        np.testing.assert_allclose(proba, AL, rtol=0, atol=TOL)
        np.testing.assert_array_equal(predicted.T, labels)


@pytest.mark.parametrize("labels", [["cat", "dog"], ["dog", "cat"]])
def test_a_two_unit_softmax_folds_into_one_logistic_unit(backend, labels):
    _sklearn()
    params, _ = _net(backend, "relu", "softmax", dims=(4, 5, 2))
    net = as_trained(params, output="softmax", classes=labels)
    est = to_sklearn(net)
    assert est.n_outputs_ == 1 and est.out_activation_ == "logistic"
    assert est.classes_.tolist() == ["cat", "dog"]  # sorted, as scikit-learn keeps them
    W, b = net.parameters["W2"], net.parameters["b2"]
    dog, cat = (1, 0) if labels == ["cat", "dog"] else (0, 1)
    np.testing.assert_array_equal(est.coefs_[-1][:, 0], W[dog] - W[cat])
    np.testing.assert_array_equal(est.intercepts_[-1], b[dog] - b[cat])
    X, Xb = _X(backend)
    AL = dnn.to_numpy(dnn.forward_proba(Xb, params, output="softmax"))
    np.testing.assert_allclose(est.predict_proba(X.T).T, AL[[cat, dog]], rtol=0, atol=TOL)
    expected = np.array(labels)[dnn.to_numpy(dnn.predict_labels(Xb, params, output="softmax"))[0]]
    np.testing.assert_array_equal(est.predict(X.T), expected)


@pytest.mark.parametrize("labels", [["no", "yes"], ["yes", "no"]])
def test_labels_out_of_order_keep_their_units(backend, labels):
    _sklearn()
    for output, dims in (("sigmoid", (4, 5, 1)), ("softmax", (4, 5, 3))):
        params, _ = _net(backend, "tanh", output, dims=dims)
        classes = labels if output == "sigmoid" else [labels[0], "maybe", labels[1]]
        net = as_trained(params, hidden="tanh", output=output, classes=classes)
        est = to_sklearn(net)
        assert est.classes_.tolist() == sorted(classes)
        X, Xb = _X(backend)
        AL = dnn.to_numpy(dnn.forward_proba(Xb, params, hidden_activation="tanh", output=output))
        proba = AL if output == "softmax" else np.vstack([1 - AL, AL])
        order = np.argsort(classes)
        np.testing.assert_allclose(est.predict_proba(X.T).T, proba[order], rtol=0, atol=TOL)
        picked = dnn.to_numpy(dnn.predict_labels(Xb, params, hidden_activation="tanh", output=output))[0]
        np.testing.assert_array_equal(est.predict(X.T), np.array(classes)[picked])
        back = from_sklearn(est)  # the same network, its labels sorted
        assert back.classes.tolist() == sorted(classes)
        np.testing.assert_allclose(
            dnn.forward_proba(X, back.parameters, hidden_activation="tanh", output=output),
            AL[order] if output == "softmax" else (AL if order[0] == 0 else 1 - AL),
            rtol=0,
            atol=TOL,
        )


def _fitted(kind):
    neural = _sklearn()
    X = np.random.RandomState(5).randn(40, 3)
    common = {"hidden_layer_sizes": (5, 4), "solver": "lbfgs", "max_iter": 15, "random_state": 0}
    if kind == "regression":
        return X, neural.MLPRegressor(activation="tanh", **common), X @ [[1.0, 0.5], [2.0, 0.0], [0.0, -1.0]]
    est = neural.MLPClassifier(activation="logistic" if kind == "multilabel" else "relu", **common)
    if kind == "binary":
        return X, est, np.where(X[:, 0] > 0, "yes", "no")
    if kind == "multiclass":
        return X, est, np.digitize(X[:, 0], [-0.5, 0.5]) * 10
    return X, est, (X[:, :3] > 0).astype(int)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel", "regression"])
def test_a_fitted_sklearn_mlp_reads_back_with_the_same_answers(kind):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    X, est, y = _fitted(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a few iterations are all this needs
        est.fit(X, y)
    net = from_sklearn(est)
    expected_output = {"binary": "sigmoid", "multiclass": "softmax", "multilabel": "multilabel"}
    assert net.output == expected_output.get(kind, "identity")
    assert net.hidden == {"binary": "relu", "multiclass": "relu", "multilabel": "sigmoid"}.get(kind, "tanh")
    again = to_sklearn(net)
    for theirs, ours in zip(est.coefs_ + est.intercepts_, again.coefs_ + again.intercepts_):
        np.testing.assert_array_equal(theirs, ours)
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    AL = dnn.forward_proba(X.T, net.parameters, hidden_activation=net.hidden, output=net.output)
    if kind == "regression":
        np.testing.assert_allclose(est.predict(X), AL.T, rtol=0, atol=TOL)
        return
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1:] if kind == "binary" else proba, AL.T, rtol=0, atol=TOL)
    if kind != "multilabel":
        assert net.classes.tolist() == est.classes_.tolist()
        labels = dnn.predict_labels(X.T, net.parameters, hidden_activation=net.hidden, output=net.output)
        np.testing.assert_array_equal(net.classes[labels[0]], est.predict(X))


def test_from_sklearn_refuses_what_portable_dnn_lacks():
    neural = _sklearn()
    from sklearn.exceptions import ConvergenceWarning

    X, y = np.random.RandomState(1).randn(20, 2), np.arange(20.0)
    with pytest.raises(TypeError, match="must be a fitted MLPClassifier or MLPRegressor, got MLPRegressor"):
        from_sklearn(neural.MLPRegressor())
    # How well these fit does not matter here: a few seeded iterations, their warning silenced.
    quiet = {"solver": "lbfgs", "max_iter": 5, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        identity = neural.MLPRegressor(hidden_layer_sizes=(3,), activation="identity", **quiet).fit(X, y)
        poisson = neural.MLPRegressor(hidden_layer_sizes=(3,), loss="poisson", **quiet).fit(X, y)
    with pytest.raises(ValueError, match="portable_dnn has no 'identity' hidden activation"):
        from_sklearn(identity)
    est = poisson
    with pytest.raises(ValueError, match="portable_dnn has no 'exp' output"):
        from_sklearn(est)


def test_a_model_file_converts_with_its_labels(tmp_path):
    _sklearn()
    params, _ = _net("numpy", "tanh", "softmax")
    path = as_trained(params, hidden="tanh", output="softmax", classes=["a", "b", "c"]).save(
        tmp_path / "m.npz"
    )
    est = to_sklearn(str(path))
    assert est.classes_.tolist() == ["a", "b", "c"] and est.activation == "tanh"
    X, _ = _X(dnn.get_backend("numpy"))
    expected = np.array(["a", "b", "c"])[
        dnn.predict_labels(X, params, hidden_activation="tanh", output="softmax")[0]
    ]
    np.testing.assert_array_equal(est.predict(X.T), expected)
