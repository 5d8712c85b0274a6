"""The declared activations and optimizers: GELU, SiLU and NAdam against PyTorch, the objects'
checks, and the declarations reaching fit, the estimators and the command line."""

from __future__ import annotations

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn import optim
from portable_dnn.backend.activations import ACTIVATIONS

DIMS = [4, 6, 5, 1]


def _data(m=40, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(DIMS[0], m)
    Y = (X[0:1] * X[1:2] + 0.3 * X[2:3] > 0).astype(np.float64)
    return X, Y


def _torch_network(torch, params, hidden):
    layers = []
    L = len(params) // 2
    for l in range(1, L + 1):
        W = params[f"W{l}"]
        linear = torch.nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(params[f"b{l}"].reshape(-1)))
        layers.append(linear)
        if l < L:
            layers.append({"gelu": torch.nn.GELU(), "silu": torch.nn.SiLU(), "tanh": torch.nn.Tanh()}[hidden])
    return torch.nn.Sequential(*layers)


def _torch_train(torch, params, X, Y, hidden, make_optimizer, epochs):
    """Full-batch training in PyTorch from the same start: BCE on the logits is the course's cost."""
    net = _torch_network(torch, params, hidden)
    opt = make_optimizer(net.parameters())
    Xt, Yt = torch.from_numpy(X.T.copy()), torch.from_numpy(Y.T.copy())
    for _ in range(epochs):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(net(Xt), Yt).backward()
        opt.step()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    out = {}
    for l, m in enumerate(linears, start=1):
        out[f"W{l}"] = m.weight.detach().numpy()
        out[f"b{l}"] = m.bias.detach().numpy().reshape(-1, 1)
    return out


def _largest_difference(a, b):
    return max(float(np.max(np.abs(dnn.to_numpy(a[k]) - b[k]))) for k in b)


@pytest.mark.parametrize("hidden", ["gelu", "silu"])
def test_gelu_and_silu_networks_equal_pytorch(backend, hidden):
    torch = pytest.importorskip("torch")
    X, Y = _data()
    start = dnn.initialize_parameters_deep(DIMS, init="he", seed=3, backend="numpy")
    ours, _ = dnn.fit(X, Y, DIMS, hidden_activation=hidden, learning_rate=0.1, num_epochs=30, init_seed=3,
                      backend=backend)  # fmt: skip
    theirs = _torch_train(torch, start, X, Y, hidden, lambda p: torch.optim.SGD(p, lr=0.1), 30)
    # 30 steps of double-precision arithmetic in two orders: rounding, far below 1e-10.
    assert _largest_difference(ours, theirs) < 1e-10


@pytest.mark.parametrize("momentum_decay", [0.004, 0.05])
def test_nadam_equals_pytorch(backend, momentum_decay):
    torch = pytest.importorskip("torch")
    X, Y = _data()
    start = dnn.initialize_parameters_deep(DIMS, init="he", seed=3, backend="numpy")
    opt = optim.NAdam(momentum_decay=momentum_decay)
    ours, _ = dnn.fit(X, Y, DIMS, optimizer=opt, learning_rate=0.01, num_epochs=25, init_seed=3,
                      hidden_activation="tanh", backend=backend)  # fmt: skip
    nadam = lambda p: torch.optim.NAdam(p, lr=0.01, momentum_decay=momentum_decay)  # noqa: E731
    # PyTorch keeps NAdam's running product of mu in its default dtype: float64 here, as ours.
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        theirs = _torch_train(torch, start, X, Y, "tanh", nadam, 25)
    finally:
        torch.set_default_dtype(previous)
    assert _largest_difference(ours, theirs) < 1e-10


@pytest.mark.library
def test_nadam_defaults_are_pytorchs():
    torch = pytest.importorskip("torch")
    defaults = torch.optim.NAdam([torch.zeros(1)]).defaults
    opt = optim.NAdam()
    assert (opt.beta1, opt.beta2) == defaults["betas"]
    assert (opt.epsilon, opt.momentum_decay) == (defaults["eps"], defaults["momentum_decay"])


@pytest.mark.parametrize("hidden", list(ACTIVATIONS))
def test_every_activation_trains_in_linear_activation_forward_and_fit(backend, hidden):
    """A declared activation works in the course's layer functions and in fit, on every backend."""
    X, Y = _data(m=20)
    A, cache = dnn.linear_activation_forward(backend.asarray(X), backend.asarray(np.ones((3, 4))),
                                             backend.asarray(np.zeros((3, 1))), hidden)  # fmt: skip
    Z = X.sum(axis=0, keepdims=True).repeat(3, axis=0)
    ops = dnn.get_backend("numpy").ops(np.float64)
    expected = ops.activation(np.array(Z, copy=True), ACTIVATIONS[hidden])
    np.testing.assert_allclose(dnn.to_numpy(A), expected, rtol=1e-13, atol=1e-15)
    params, history = dnn.fit(X, Y, DIMS, hidden_activation=hidden, learning_rate=0.05, num_epochs=5,
                              backend=backend)  # fmt: skip
    assert len(history["cost"]) == 5 and all(np.isfinite(history["cost"]))


def test_relu_keeps_nan_on_every_path(backend):
    Z = backend.asarray(np.array([[np.nan, -1.0, 2.0]]))
    A = dnn.to_numpy(dnn.relu(Z)[0])
    assert np.isnan(A[0, 0]) and A[0, 1] == 0 and A[0, 2] == 2
    params = dnn.initialize_parameters_deep([3, 2, 1], seed=1, backend=backend)
    params["W1"] = backend.asarray(np.array([[np.nan, 1.0, 1.0], [1.0, 1.0, 1.0]]))
    AL, _ = dnn.L_model_forward(backend.asarray(np.ones((3, 4))), params)
    assert np.all(np.isnan(dnn.to_numpy(AL)))  # not 0.5 everywhere, as where(Z > 0, Z, 0) gave
    # The checked boundaries that read labels from AL refuse it, rather than report class 0.
    with pytest.raises(ValueError, match=r"predict: the network's output .* contains NaN"):
        dnn.predict(np.ones((3, 4)), np.array([[1, 0, 1, 0]]), params)
    with pytest.raises(ValueError, match=r"predict_labels: the network's output .* contains NaN"):
        dnn.predict_labels(backend.asarray(np.ones((3, 4))), params)


def test_gelu_is_the_erf_form():
    """GELU is Z Phi(Z) with the exact normal CDF (math.erf), not the tanh approximation."""
    import math

    Z = np.linspace(-9, 9, 2001).reshape(1, -1)
    A, _ = dnn.activations.activation_forward(Z, "gelu")
    exact = np.array([z * 0.5 * (1 + math.erf(z / math.sqrt(2))) for z in Z[0]])
    # erf to double precision times |Z| <= 9: a few units of the last place of the largest value.
    np.testing.assert_allclose(A[0], exact, rtol=0, atol=8 * np.finfo(np.float64).eps * 9)


# ---------------------------------------------------------------- optimizer objects


def test_an_unused_setting_is_refused_everywhere():
    X, Y = _data()
    with pytest.raises(ValueError, match=r"fit: weight_decay is not a setting of the 'adam' optimizer"):
        dnn.fit(X, Y, DIMS, optimizer="adam", weight_decay=0.5, num_epochs=1)
    pytest.importorskip("sklearn")
    from portable_dnn.sklearn import DNNClassifier

    with pytest.raises(ValueError, match=r"weight_decay is not a setting of the 'adam' optimizer"):
        DNNClassifier(optimizer="adam", weight_decay=0.5, epochs=1).fit(X.T, Y.ravel())


def test_each_optimizer_keeps_its_own_defaults():
    for name, cls in optim.OPTIMIZERS.items():
        made = optim.optimizer(name)
        assert made == cls() and made.name == name
        for setting, field in cls.hyperparameters().items():
            assert getattr(made, setting) == field.default
    assert optim.Adam(beta2=0.99).checked().beta2 == 0.99
    with pytest.raises(TypeError, match="positional"):
        optim.Adam(0.9)  # keyword-only: a value cannot land in the wrong field


def test_optimizer_object_trains_as_its_name_and_settings(backend):
    X, Y = _data()
    a, _ = dnn.fit(X, Y, DIMS, optimizer=optim.Adam(beta2=0.99), learning_rate=0.01, num_epochs=4,
                   backend=backend)  # fmt: skip
    b, _ = dnn.fit(X, Y, DIMS, optimizer="adam", beta2=0.99, learning_rate=0.01, num_epochs=4,
                   backend=backend)  # fmt: skip
    for k in a:
        np.testing.assert_array_equal(dnn.to_numpy(a[k]), dnn.to_numpy(b[k]))


def test_estimators_clone_and_tune_optimizer_fields():
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    from portable_dnn.sklearn import DNNClassifier

    X, Y = _data(m=60)
    est = DNNClassifier(hidden_layer_sizes=(5,), optimizer=optim.Adam(beta1=0.8), epochs=3)
    copy = clone(est)
    assert copy.optimizer == est.optimizer and copy.optimizer is not est.optimizer
    assert est.get_params()["optimizer__beta1"] == 0.8
    search = GridSearchCV(est, {"optimizer__beta1": [0.5, 0.8]}, cv=2).fit(X.T, Y.ravel())
    assert search.best_params_["optimizer__beta1"] in (0.5, 0.8)
    assert est.optimizer.beta1 == 0.8  # the search tuned clones, not this one
