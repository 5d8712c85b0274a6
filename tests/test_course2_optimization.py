"""The second course's "Optimization methods" notebook: its exercises' published values and model figures.

The inputs are the ones the notebook's tests build (``np.random.seed(1)`` then ``randn`` in a
fixed order); the expected values are the numbers the notebook and its tests print.
"""

from __future__ import annotations

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.course2 import optimization as opt

from .published import assert_printed


def _draws(*shapes):
    """``np.random.seed(1)`` then one ``randn(*shape)`` per shape, as the notebook's test cases draw."""
    rng = np.random.RandomState(1)
    return [rng.randn(*shape) for shape in shapes]


def _params_and_grads(w2):
    """The notebook's gd/momentum case: W1 (2, 3), b1, W2 ``w2``, b2 (3, 1), then their gradients."""
    shapes = [(2, 3), (2, 1), w2, (3, 1)]
    W1, b1, W2, b2, dW1, db1, dW2, db2 = _draws(*shapes, *shapes)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def _zeros(params):
    return {"d" + k: np.zeros_like(v) for k, v in params.items()}


def test_one_definition():
    for name in opt.__all__:
        if hasattr(dnn, name) and name not in ("predict", "load_dataset", "model"):
            assert getattr(opt, name) is getattr(dnn, name), name


def test_update_parameters_with_gd(to_backend):
    params, grads = _params_and_grads((3, 2))
    out = opt.update_parameters_with_gd(to_backend(params), to_backend(grads), 0.01)
    assert_printed(out["W1"], "[[ 1.63312395 -0.61217855 -0.5339999 ] [-1.06196243  0.85396039 -2.3105546 ]]")
    assert_printed(out["b1"], "[[ 1.73978682] [-0.77021546]]")
    W2 = "[[ 0.32587637 -0.24814147] [ 1.47146563 -2.05746183] [-0.32772076 -0.37713775]]"
    assert_printed(out["W2"], W2)
    assert_printed(out["b2"], "[[ 1.13773698] [-1.09301954] [-0.16397615]]")


def test_updates_take_layers_that_do_not_chain(to_backend):
    """An earlier edition of the notebook's tests uses W2 (3, 3) after W1 (2, 3): each entry updates alone."""
    params, grads = _params_and_grads((3, 3))
    out = opt.update_parameters_with_gd(to_backend(params), to_backend(grads), 0.01)
    assert_printed(out["W1"], "[[ 1.63535156 -0.62320365 -0.53718766] [-1.07799357  0.85639907 -2.29470142]]")
    assert_printed(out["b2"], "[[-0.88020257] [ 0.02561572] [ 0.57539477]]")
    assert_printed(
        out["W2"],
        "[[ 0.32171798 -0.25467393  1.46902454] [-2.05617317 -0.31554548 -0.3756023 ]"
        " [ 1.1404819  -1.09976462 -0.1612551 ]]",
    )
    p, v = opt.update_parameters_with_momentum(
        to_backend(params), to_backend(grads), to_backend(_zeros(params)), 0.9, 0.01
    )
    assert_printed(p["W1"], "[[ 1.62544598 -0.61290114 -0.52907334] [-1.07347112  0.86450677 -2.30085497]]")
    assert_printed(p["b2"], "[[-0.87809283] [ 0.04055394] [ 0.58207317]]")
    assert_printed(
        v["dW2"],
        "[[-0.02678881  0.05303555 -0.06916608] [-0.03967535 -0.06871727 -0.08452056]"
        " [-0.06712461 -0.00126646 -0.11173103]]",
    )
    assert_printed(v["db1"], "[[-0.01228902] [-0.09357694]]")
    v0, s0 = opt.initialize_adam(to_backend(params))
    assert dnn.to_numpy(v0["dW2"]).shape == dnn.to_numpy(s0["dW2"]).shape == (3, 3)
    assert dnn.to_numpy(opt.initialize_velocity(to_backend(params))["dW1"]).shape == (2, 3)


def test_random_mini_batches(backend, to_backend):
    rng = np.random.RandomState(1)
    X = rng.randn(5, 7)
    Y = (rng.randn(1, 7) < 0.5).astype(np.float64)
    batches = opt.random_mini_batches(to_backend(X), to_backend(Y), 2)
    printed = [
        (
            "[[ 1.74481176 -0.52817175] [-0.38405435 -0.24937038] [-1.10061918 -0.17242821]"
            " [-0.93576943  0.50249434] [-0.67124613 -0.69166075]]",
            [1, 1],
        ),
        (
            "[[-0.61175641 -1.07296862] [ 0.3190391   1.46210794] [-1.09989127 -0.87785842]"
            " [ 0.90159072  0.90085595] [ 0.53035547 -0.39675353]]",
            [1, 0],
        ),
        (
            "[[ 1.62434536 -2.3015387 ] [-0.7612069  -0.3224172 ] [ 1.13376944  0.58281521]"
            " [ 1.14472371 -0.12289023] [-0.26788808 -0.84520564]]",
            [1, 1],
        ),
        ("[[ 0.86540763] [-2.06014071] [ 0.04221375] [-0.68372786] [-0.6871727 ]]", [0]),
    ]
    assert len(batches) == len(printed)
    for (bx, by), (x_text, y_labels) in zip(batches, printed):
        assert_printed(bx, x_text)
        assert dnn.to_numpy(by).tolist() == [y_labels]


def test_random_mini_batches_shapes(to_backend):
    """The notebook's 148 examples in batches of 64: 64, 64, 20."""
    rng = np.random.RandomState(1)
    X = rng.randn(12288, 148)
    Y = (rng.randn(1, 148) < 0.5).astype(np.float64)
    batches = opt.random_mini_batches(to_backend(X), to_backend(Y), 64)
    assert [tuple(b[0].shape) for b in batches] == [(12288, 64), (12288, 64), (12288, 20)]
    assert [tuple(b[1].shape) for b in batches] == [(1, 64), (1, 64), (1, 20)]


def test_initialize_velocity(to_backend):
    W1, b1, W2, b2 = _draws((3, 2), (3, 1), (3, 3), (3, 1))
    v = opt.initialize_velocity(to_backend({"W1": W1, "b1": b1, "W2": W2, "b2": b2}))
    assert sorted(v) == ["dW1", "dW2", "db1", "db2"]
    for key, shape in {"dW1": (3, 2), "db1": (3, 1), "dW2": (3, 3), "db2": (3, 1)}.items():
        np.testing.assert_array_equal(dnn.to_numpy(v[key]), np.zeros(shape))


def test_update_parameters_with_momentum(to_backend):
    params, grads = _params_and_grads((3, 2))
    p, v = opt.update_parameters_with_momentum(
        to_backend(params), to_backend(grads), to_backend(_zeros(params)), 0.9, 0.01
    )
    assert_printed(p["W1"], "[[ 1.62522322 -0.61179863 -0.52875457] [-1.071868    0.86426291 -2.30244029]]")
    assert_printed(p["b1"], "[[ 1.74430927] [-0.76210776]]")
    assert_printed(p["W2"], "[[ 0.31972282 -0.24924749] [ 1.46304371 -2.05987282] [-0.32294756 -0.38336269]]")
    assert_printed(p["b2"], "[[ 1.1341662 ] [-1.09920409] [-0.171583  ]]")
    assert_printed(v["dW1"], "[[-0.08778584  0.00422137  0.05828152] [-0.11006192  0.11447237  0.09015907]]")
    dW2 = "[[-0.06837279 -0.01228902] [-0.09357694 -0.02678881] [ 0.05303555 -0.06916608]]"
    assert_printed(v["dW2"], dW2)
    assert_printed(v["db1"], "[[0.05024943] [0.09008559]]")
    assert_printed(v["db2"], "[[-0.03967535] [-0.06871727] [-0.08452056]]")


def test_initialize_adam(to_backend):
    W1, b1, W2, b2 = _draws((2, 3), (2, 1), (3, 2), (3, 1))
    v, s = opt.initialize_adam(to_backend({"W1": W1, "b1": b1, "W2": W2, "b2": b2}))
    for state in (v, s):
        for key, shape in {"dW1": (2, 3), "db1": (2, 1), "dW2": (3, 2), "db2": (3, 1)}.items():
            np.testing.assert_array_equal(dnn.to_numpy(state[key]), np.zeros(shape))


def test_update_parameters_with_adam(to_backend):
    params, grads = _params_and_grads((3, 2))
    t, beta1, beta2 = 2, 0.8, 0.888
    p, v, s, vc, sc = opt.update_parameters_with_adam(
        to_backend(params),
        to_backend(grads),
        to_backend(_zeros(params)),
        to_backend(_zeros(params)),
        t,
        0.02,
        beta1,
        beta2,
        1e-2,
    )
    first_v = {
        "dW1": "[-0.17557168  0.00844275  0.11656304]",
        "dW2": "[-0.13674557 -0.02457805]",
        "db1": "[0.10049887]",
        "db2": "[-0.07935071]",
    }
    first_s = {
        "dW1": "[0.08631117 0.00019958 0.03804344]",
        "dW2": "[0.05235818 0.00169142]",
        "db1": "[0.02828006]",
        "db2": "[0.0176303 ]",
    }
    first_p = {
        "W1": "[ 1.63937725 -0.62327448 -0.54308727]",
        "W2": "[ 0.33400549 -0.23563857]",
        "b1": "[ 1.72995096]",
        "b2": "[ 1.14852557]",
    }
    for key, text in first_v.items():
        assert_printed(dnn.to_numpy(v[key])[0], text)
        np.testing.assert_allclose(dnn.to_numpy(vc[key]), dnn.to_numpy(v[key]) / (1 - beta1**t), rtol=1e-14)
    for key, text in first_s.items():
        assert_printed(dnn.to_numpy(s[key])[0], text)
        np.testing.assert_allclose(dnn.to_numpy(sc[key]), dnn.to_numpy(s[key]) / (1 - beta2**t), rtol=1e-14)
    for key, text in first_p.items():
        assert_printed(dnn.to_numpy(p[key])[0], text)
        assert tuple(p[key].shape) == params[key].shape


def test_learning_rate_decay():
    assert opt.update_lr(0.5, 2, 1) == 0.16666666666666666
    assert opt.schedule_lr_decay(0.5, 10, 0.3, 100) == 0.5
    assert opt.schedule_lr_decay(0.5, 100, 0.3, 100) == 0.3846153846153846
    assert opt.schedule_lr_decay(0.5, 100, 1, 100) == 0.25
    assert opt.schedule_lr_decay(0.3, 1000, 0.25, 100) == pytest.approx(0.085714285, abs=1e-9)
    assert opt.schedule_lr_decay(0.3, 100, 0.25, 100) == pytest.approx(0.24, rel=1e-15)


def test_load_dataset():
    pytest.importorskip("sklearn")
    X, Y = opt.load_dataset()
    assert X.shape == (2, 300) and Y.shape == (1, 300) and set(np.unique(Y)) == {0, 1}
    assert int(Y.sum()) == 150  # make_moons splits the 300 points evenly between the two moons


# ------------------------------------------------ the notebook's model on the moons

# (optimizer, learning_rate, decay, what the notebook prints every 1000 epochs)
RUNS = {
    "gd": ("gd", 0.0007, None, [0.702405, 0.668101, 0.635288, 0.600491, 0.573367]),
    "momentum": ("momentum", 0.0007, None, [0.702413, 0.668167, 0.635388, 0.600591, 0.573444]),
    "adam": ("adam", 0.0007, None, [0.702166, 0.167845, 0.141316, 0.138788, 0.136066]),
    "gd-update_lr": ("gd", 0.1, "update_lr", [0.701091, 0.661884, 0.658620, 0.656765, 0.655486]),
    "gd-schedule": ("gd", 0.1, "schedule_lr_decay", [0.701091, 0.127161, 0.120304, 0.117033, 0.117512]),
    "momentum-schedule": (
        "momentum",
        0.1,
        "schedule_lr_decay",
        [0.702226, 0.128974, 0.125965, 0.123375, 0.123218],
    ),
    "adam-schedule": ("adam", 0.01, "schedule_lr_decay", [0.699346, 0.130074, 0.129826, 0.129282, 0.128361]),
}
# The accuracies ``predict(train_X, train_Y, parameters)`` prints after the 5000 epochs.
ACCURACY = {
    "gd": "0.7166666666666667",
    "momentum": "0.7166666666666667",
    "adam": "0.9433333333333334",
    "gd-update_lr": "0.6533333333333333",
    "gd-schedule": "0.9433333333333334",
    "momentum-schedule": "0.9533333333333334",
    "adam-schedule": "0.94",
}


@pytest.fixture(scope="module")
def moons():
    pytest.importorskip("sklearn")
    return opt.load_dataset()


def _expected_print(name, num_epochs):
    optimizer, lr, decay, costs = RUNS[name]
    lines = []
    for i, cost in zip(range(0, num_epochs, 1000), costs):
        lines.append(f"Cost after epoch {i}: {cost:f}")
        if decay == "update_lr":
            lines.append(f"learning rate after epoch {i}: {lr / (1 + i):f}")
        elif decay == "schedule_lr_decay":
            lines.append(f"learning rate after epoch {i}: {lr / (1 + i // 1000):f}")
    return lines


def _model(name, X, Y, num_epochs, backend):
    optimizer, lr, decay, _ = RUNS[name]
    decay_fn = None if decay is None else getattr(opt, decay)
    return opt.model(
        X,
        Y,
        [X.shape[0], 5, 2, 1],
        optimizer,
        learning_rate=lr,
        num_epochs=num_epochs,
        decay=decay_fn,
        backend=backend,
    )


@pytest.mark.parametrize("name", sorted(RUNS))
def test_model_prints_the_notebooks_costs_and_accuracy(backend, moons, name, capsys):
    """The full 5000 epochs on NumPy (a few seconds each); the first epoch elsewhere, where a small
    network's steps are slower (PyTorch on the CPU, a Dask task graph per step). The decay's
    timing is checked on every backend by test_decay_applies_after_each_epoch."""
    X, Y = moons
    num_epochs = 5000 if backend.name == "numpy" else 1
    parameters = _model(name, X, Y, num_epochs, backend)
    assert capsys.readouterr().out.splitlines() == _expected_print(name, num_epochs)
    opt.predict(X, Y, parameters)
    if num_epochs == 5000:
        assert capsys.readouterr().out == f"Accuracy: {ACCURACY[name]}\n"


def test_decay_applies_after_each_epoch(backend, moons):
    """The notebook sets the rate after epoch i to decay(lr0, i): epochs 0 and 1 both train with lr0."""
    X, Y = moons
    kw = dict(optimizer="gd", learning_rate=0.1, batch_size=64, init_seed=3, seed=10, backend=backend)
    _, decayed = dnn.fit(X, Y, [2, 5, 2, 1], num_epochs=3, decay_rate=1.0, **kw)
    _, plain = dnn.fit(X, Y, [2, 5, 2, 1], num_epochs=3, **kw)
    assert decayed["cost"][:2] == plain["cost"][:2]  # update_lr(lr0, 0, 1) == lr0 for epoch 1
    assert decayed["cost"][2] != plain["cost"][2]  # epoch 2 trains with lr0 / 2


def test_model_errors():
    X, Y = np.zeros((2, 4)), np.zeros((1, 4))
    with pytest.raises(TypeError, match="model: decay must be None, update_lr or schedule_lr_decay"):
        opt.model(X, Y, [2, 1], "gd", decay=lambda lr, e, r: lr)
    with pytest.raises(ValueError, match="model: optimizer must be one of"):
        opt.model(X, Y, [2, 1], "sgd", print_cost=False)
