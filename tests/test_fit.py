"""fit(): data handling, history, validation, early stopping, mini-batches, and the digits benchmark."""

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.backend import namespace_of
from portable_dnn.fit import fit, forward_proba, predict_labels
from portable_dnn.minibatch import random_mini_batches

X_HOST = np.random.RandomState(0).randn(3, 40)
Y_HOST = (X_HOST[0] + X_HOST[1] > 0).astype(np.int64).reshape(1, -1)


def test_random_mini_batches_as_the_course(backend, xp):
    X = backend.asarray(np.arange(2 * 148, dtype=np.float64).reshape(2, 148))
    Y = backend.asarray(np.arange(148).reshape(1, 148) % 2)
    batches = random_mini_batches(X, Y, 64, seed=0)
    assert [tuple(b[0].shape) for b in batches] == [(2, 64), (2, 64), (2, 20)]
    assert [tuple(b[1].shape) for b in batches] == [(1, 64), (1, 64), (1, 20)]
    perm = np.random.RandomState(0).permutation(148)
    got = np.concatenate([dnn.to_numpy(b[0]) for b in batches], axis=1)
    np.testing.assert_array_equal(got, np.arange(2 * 148.0).reshape(2, 148)[:, perm])
    assert namespace_of(batches[0][0]) is xp and batches[0][0].dtype == X.dtype
    np.testing.assert_array_equal(dnn.to_numpy(X), np.arange(2 * 148.0).reshape(2, 148))  # untouched
    one_d = random_mini_batches(X, backend.asarray(np.arange(148)), 100, seed=1)
    assert [tuple(b[1].shape) for b in one_d] == [(100,), (48,)]
    with pytest.raises(ValueError, match=r"random_mini_batches: Y has shape \(1, 3\)"):
        random_mini_batches(X, backend.asarray(np.zeros((1, 3))))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fit_kind_and_inputs_untouched(backend, xp, dtype):
    X = backend.asarray(X_HOST, dtype=dtype)
    Y = backend.asarray(Y_HOST)
    params, history = fit(X, Y, [3, 4, 1], optimizer="momentum", num_epochs=5, batch_size=16)
    for v in params.values():
        assert namespace_of(v) is xp and v.dtype == X.dtype
    np.testing.assert_array_equal(dnn.to_numpy(X), X_HOST.astype(dtype))
    np.testing.assert_array_equal(dnn.to_numpy(Y), Y_HOST)
    assert len(history["cost"]) == 5 and all(isinstance(c, float) for c in history["cost"])
    AL = forward_proba(X, params)
    assert namespace_of(AL) is xp and AL.dtype == X.dtype and tuple(AL.shape) == (1, 40)


def test_host_data_and_integer_X_are_moved_and_cast(backend, xp):
    X_int = (X_HOST * 10).astype(np.int64)
    before = X_int.copy()
    params, _ = fit(X_int, Y_HOST.ravel(), [3, 2, 1], num_epochs=3, backend=backend, dtype="float32")
    assert namespace_of(params["W1"]) is xp and params["W1"].dtype == xp.float32
    np.testing.assert_array_equal(X_int, before)
    params64, _ = fit(X_int.astype(bool), Y_HOST, [3, 1], num_epochs=2, backend=backend)
    assert params64["W1"].dtype == xp.float64


def test_validation_and_early_stopping_restore_the_best(backend):
    seen = []
    params, history = fit(
        X_HOST,
        Y_HOST,
        [3, 8, 1],
        optimizer="adam",
        learning_rate=0.05,
        num_epochs=300,
        validation_fraction=0.25,
        early_stopping_patience=5,
        backend=backend,
        lambd=0.01,
        callback=lambda epoch, p, h: seen.append((epoch, p)),
    )
    val = history["val_cost"]
    best = history["best_epoch"]
    assert len(val) == len(history["cost"]) == len(seen) < 300
    assert val[best] == min(val) and len(val) - 1 - best == 5
    for k, v in params.items():
        np.testing.assert_array_equal(dnn.to_numpy(v), dnn.to_numpy(seen[best][1][k]))


def test_validation_data_and_callback_stop(backend):
    _, history = fit(
        X_HOST,
        Y_HOST,
        [3, 1],
        num_epochs=50,
        validation_data=(X_HOST[:, :10], Y_HOST[:, :10]),
        callback=lambda epoch, p, h: epoch == 2,
        backend=backend,
        decay_rate=1.0,
        time_interval=2,
    )
    assert len(history["cost"]) == len(history["val_cost"]) == 3


def test_print_cost(backend, capsys):
    fit(X_HOST, Y_HOST, [3, 1], num_epochs=3, print_cost=2, backend=backend)
    assert capsys.readouterr().out.splitlines()[0].startswith("Cost after epoch 0: ")


def test_errors(backend):
    allowed = "'gd', 'momentum', 'nesterov', 'rmsprop', 'adam', 'adamw', 'nadam'"
    with pytest.raises(ValueError, match=f"fit: optimizer must be one of {allowed}, got 'sgd'"):
        fit(X_HOST, Y_HOST, [3, 1], optimizer="sgd")
    with pytest.raises(ValueError, match=r"fit: X has shape \(3, 40\), expected \(4, any\)"):
        fit(X_HOST, Y_HOST, [4, 1], backend=backend)
    with pytest.raises(ValueError, match="fit: output='sigmoid' needs layers_dims\\[-1\\] == 1"):
        fit(X_HOST, Y_HOST, [3, 2], backend=backend)
    with pytest.raises(ValueError, match="fit: Y must hold labels 0 or 1 only"):
        fit(X_HOST, Y_HOST * 2, [3, 1], backend=backend)
    with pytest.raises(ValueError, match="fit: early_stopping_patience needs validation_data"):
        fit(X_HOST, Y_HOST, [3, 1], early_stopping_patience=3)
    with pytest.raises(ValueError, match=r"fit: keep_prob must be a number in \(0, 1\]"):
        fit(X_HOST, Y_HOST, [3, 1], keep_prob=0)


# ------------------------------------------------------------------ digits, softmax

DIGITS_RUN = dict(
    output="softmax", optimizer="adam", learning_rate=0.003, batch_size=64, num_epochs=20, seed=1
)


@pytest.fixture(scope="module")
def digits():
    sk = pytest.importorskip("sklearn")  # noqa: F841
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
    return Xtr.T, ytr, Xte.T, yte


def test_digits_softmax(backend, digits):
    """A 64-32-10 softmax network: >= 0.95 test accuracy; NumPy's cost curve within 1e-9 on every backend."""
    Xtr, ytr, Xte, yte = digits
    params, history = fit(Xtr, ytr, [64, 32, 10], backend=backend, **DIGITS_RUN)
    _, reference = fit(Xtr, ytr, [64, 32, 10], backend="numpy", **DIGITS_RUN)
    np.testing.assert_allclose(history["cost"], reference["cost"], rtol=0, atol=1e-9)
    predicted = dnn.to_numpy(predict_labels(backend.asarray(Xte), params)).ravel()
    assert np.mean(predicted == yte) >= 0.95  # measured: 0.9689 (450 test digits)
    P = dnn.to_numpy(forward_proba(backend.asarray(Xte), params))
    np.testing.assert_allclose(P.sum(axis=0), 1.0)


def test_softmax_one_hot_labels_match_indices(backend, digits):
    Xtr, ytr, _, _ = digits
    run = dict(DIGITS_RUN, num_epochs=2)
    _, by_index = fit(Xtr, ytr.reshape(1, -1), [64, 10], backend=backend, **run)
    _, by_one_hot = fit(Xtr, np.eye(10)[:, ytr], [64, 10], backend=backend, **run)
    assert by_index["cost"] == by_one_hot["cost"]


@pytest.mark.parametrize(
    "kw",
    [
        dict(optimizer="adam", learning_rate=0.01, batch_size=16, keep_prob=0.8, lambd=0.3, decay_rate=0.2),
        dict(optimizer="momentum", learning_rate=0.05, batch_size=10, output="softmax"),
        dict(optimizer="gd", learning_rate=0.1),
    ],
    ids=["adam-dropout-l2-partial", "momentum-softmax-whole", "gd-full-batch"],
)
def test_replay_off_trains_what_auto_trains(backend, kw):
    """Step by step (replay=False) and the backend's own way of running an epoch (replay="auto":
    one compiled program on JAX, the same steps elsewhere) give the same parameters and costs."""
    Y = Y_HOST[0] if kw.get("output") != "softmax" else (X_HOST[2] > 0).astype(np.int64)
    dims = [3, 4, 1 if kw.get("output") != "softmax" else 2]
    auto, auto_history = fit(X_HOST, Y, dims, num_epochs=5, seed=3, backend=backend, **kw)
    step, step_history = fit(X_HOST, Y, dims, num_epochs=5, seed=3, backend=backend, replay=False, **kw)
    for key in auto:
        diff = np.max(np.abs(dnn.to_numpy(auto[key]) - dnn.to_numpy(step[key])))
        assert diff <= 1e-12, key
    np.testing.assert_allclose(auto_history["cost"], step_history["cost"], rtol=0, atol=1e-12)
    assert len(auto_history["cost"]) == 5


def test_replay_is_checked(backend):
    for bad in ("yes", 1, None, 0.0):
        with pytest.raises(ValueError, match=r"^fit: replay must be 'auto', True or False, got "):
            fit(X_HOST, Y_HOST, [3, 1], num_epochs=1, backend=backend, replay=bad)
    if backend.replays_epochs:
        _, history = fit(X_HOST, Y_HOST, [3, 1], num_epochs=2, batch_size=8, backend=backend, replay=True)
        assert len(history["cost"]) == 2
    else:
        message = (
            rf"^fit: replay=True needs a backend that runs a whole epoch as one program \(jax\), "
            rf"not {backend.name}; use replay='auto' or False$"
        )
        with pytest.raises(ValueError, match=message):
            fit(X_HOST, Y_HOST, [3, 1], num_epochs=1, backend=backend, replay=True)
