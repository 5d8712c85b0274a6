"""What fit reports per epoch beyond the cost: the progress bar and the metrics, and the estimators'
loss_curve_ and validation_scores_ built on them."""

import importlib
import math
import signal
import sys

import numpy as np
import pytest

import portable_dnn as dnn
import portable_dnn.reporting as reporting
from portable_dnn.engine import TrainingDiverged, TrainingInterrupted
from portable_dnn.fit import fit, forward_proba

RNG = np.random.RandomState(7)
X_HOST = RNG.randn(3, 60)
X_VAL = RNG.randn(3, 25)
Y_BINARY = (X_HOST[0] + X_HOST[1] > 0).astype(np.int64).reshape(1, -1)


# ------------------------------------------------------------------ progress bar


@pytest.fixture
def bars(monkeypatch):
    """Every bar fit opens, through tqdm.auto (what fit uses), recording its closes."""
    tqdm_auto = pytest.importorskip("tqdm.auto")
    opened = []

    class Recorded(tqdm_auto.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.closes = 0
            opened.append(self)

        def close(self):
            self.closes += 1
            super().close()

    monkeypatch.setattr(tqdm_auto, "tqdm", Recorded)
    return opened


def test_progress_bar_reaches_num_epochs_with_the_costs(backend, capsys):
    pytest.importorskip("tqdm")
    _, history = fit(
        X_HOST,
        Y_BINARY,
        [3, 4, 1],
        num_epochs=7,
        learning_rate=0.1,
        backend=backend,
        progress=True,
        validation_data=(X_VAL, (X_VAL[:1] > 0).astype(int)),
    )
    err = capsys.readouterr().err
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "7/7" in last and "epoch" in last, err
    assert f"cost={history['cost'][-1]:.6f}" in last and f"val_cost={history['val_cost'][-1]:.6f}" in last


def test_progress_bar_counts_and_closes(backend, bars):
    fit(X_HOST, Y_BINARY, [3, 1], num_epochs=5, backend=backend, progress=True)
    (bar,) = bars
    assert (bar.n, bar.total, bar.closes) == (5, 5, 1)
    assert bar.postfix is not None and bar.postfix.startswith("cost=")


def test_progress_bar_starts_where_a_resumed_run_does(backend, bars):
    states = []
    fit(X_HOST, Y_BINARY, [3, 1], num_epochs=3, backend=backend, checkpoint=states.append)
    state = states[-1]
    resume = {"parameters": state.snapshot(), "epoch": 3, "t": 0, "costs": state.costs}
    fit(X_HOST, Y_BINARY, [3, 1], num_epochs=8, backend=backend, progress=True, resume=resume)
    (bar,) = bars
    assert (bar.n, bar.total, bar.closes) == (8, 8, 1)


def _raise_sigint(epoch, parameters, history):
    if epoch == 2:
        signal.raise_signal(signal.SIGINT)


def _fail(epoch, parameters, history):
    if epoch == 1:
        raise RuntimeError("callback failed")


#: Validation labels unrelated to the examples: the validation cost soon stops falling.
NOISE_VAL = (X_VAL[2:] > 0).astype(np.int64)


@pytest.mark.parametrize(
    "options, error, epochs",
    [
        ({"validation_data": (X_VAL, NOISE_VAL), "early_stopping_patience": 2}, None, None),
        ({"callback": lambda epoch, p, h: epoch == 3}, None, 4),
        ({"callback": _raise_sigint}, TrainingInterrupted, 3),
        ({"callback": _fail}, RuntimeError, 2),
        ({"learning_rate": 1e300}, TrainingDiverged, 0),
    ],
    ids=["early-stopping", "callback-stop", "interrupted", "callback-error", "diverged"],
)
def test_progress_bar_closes_on_every_exit(backend, bars, python_sigint, options, error, epochs):
    kwargs = {"optimizer": "adam", "learning_rate": 0.05, **options}
    if error is None:
        _, history = fit(
            X_HOST, Y_BINARY, [3, 5, 1], num_epochs=200, backend=backend, progress=True, **kwargs
        )
    else:
        with pytest.raises(error):
            fit(X_HOST, Y_BINARY, [3, 5, 1], num_epochs=200, backend=backend, progress=True, **kwargs)
    (bar,) = bars
    assert bar.closes == 1
    if epochs is None:  # early stopping: as many as the history holds, fewer than asked for
        epochs = len(history["cost"])
        assert epochs < 200
    assert bar.n == epochs


def test_progress_needs_tqdm(backend, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(
        ImportError, match=r"fit: progress=True needs tqdm; install it with: pip install tqdm"
    ):
        fit(X_HOST, Y_BINARY, [3, 1], num_epochs=2, backend=backend, progress=True)
    _, history = fit(X_HOST, Y_BINARY, [3, 1], num_epochs=2, backend=backend)  # no bar, no tqdm needed
    assert len(history["cost"]) == 2


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_progress_is_a_bool(value):
    with pytest.raises(TypeError, match=rf"fit: progress must be True or False, got {value!r}"):
        fit(X_HOST, Y_BINARY, [3, 1], num_epochs=2, backend="numpy", progress=value)


# ----------------------------------------------------------------------- metrics


def _run(backend, Y, Y_val, dims, output, metric):
    """fit with ``metrics=(metric,)`` and validation data, and the parameters after every epoch (host)."""
    seen = []
    _, history = fit(
        X_HOST,
        Y,
        dims,
        output=output,
        optimizer="adam",
        learning_rate=0.02,
        num_epochs=6,
        batch_size=16,
        keep_prob=0.8,
        backend=backend,
        metrics=(metric,),
        validation_data=(X_VAL, Y_val),
        callback=lambda epoch, params, h: seen.append({k: dnn.to_numpy(v) for k, v in params.items()}),
    )
    assert len(history[metric]) == len(history[f"val_{metric}"]) == len(seen) == 6
    assert all(type(v) is float for v in history[metric] + history[f"val_{metric}"])
    return history, seen


def _host_output(params, X, output):
    return forward_proba(X, params, output=output)  # NumPy, without dropout


def test_accuracy_of_a_sigmoid_output(backend):
    from sklearn.metrics import accuracy_score

    Y_val = (X_VAL[0] + X_VAL[1] > 0).astype(np.int64).reshape(1, -1)
    history, seen = _run(backend, Y_BINARY, Y_val, [3, 5, 1], "sigmoid", "accuracy")
    for epoch, params in enumerate(seen):
        for key, X, Y in (("accuracy", X_HOST, Y_BINARY), ("val_accuracy", X_VAL, Y_val)):
            predicted = (_host_output(params, X, "sigmoid") > 0.5).ravel()
            assert history[key][epoch] == pytest.approx(accuracy_score(Y.ravel(), predicted), abs=1e-12)


def test_accuracy_of_a_softmax_output(backend):
    from sklearn.metrics import accuracy_score

    classes = lambda X: (np.digitize(X[0] - X[2], [-0.5, 0.5])).astype(np.int64)  # noqa: E731
    y, y_val = classes(X_HOST), classes(X_VAL)
    history, seen = _run(backend, y, y_val, [3, 6, 3], "softmax", "accuracy")
    for epoch, params in enumerate(seen):
        for key, X, labels in (("accuracy", X_HOST, y), ("val_accuracy", X_VAL, y_val)):
            predicted = np.argmax(_host_output(params, X, "softmax"), axis=0)
            assert history[key][epoch] == pytest.approx(accuracy_score(labels, predicted), abs=1e-12)


def test_accuracy_of_a_multilabel_output_is_subset_accuracy(backend):
    from sklearn.metrics import accuracy_score

    tags = lambda X: np.stack([X[0] > 0, X[1] > X[2], X[0] + X[2] > 0.3]).astype(np.int64)  # noqa: E731
    Y, Y_val = tags(X_HOST), tags(X_VAL)
    history, seen = _run(backend, Y, Y_val, [3, 6, 3], "multilabel", "accuracy")
    per_label = []
    for epoch, params in enumerate(seen):
        for key, X, T in (("accuracy", X_HOST, Y), ("val_accuracy", X_VAL, Y_val)):
            predicted = (_host_output(params, X, "multilabel") > 0.5).astype(np.int64)
            assert history[key][epoch] == pytest.approx(accuracy_score(T.T, predicted.T), abs=1e-12)
            per_label.append(np.mean(predicted == T))
    # Not the mean over labels and examples: an example counts only with all its labels right.
    assert any(a != pytest.approx(b) for a, b in zip(history["accuracy"], per_label[::2]))


def test_r2_of_an_identity_output(backend):
    from sklearn.metrics import r2_score

    targets = lambda X: np.stack([X[0] - 2 * X[1], X[2] ** 2 + 0.5 * X[0]])  # noqa: E731
    Y, Y_val = targets(X_HOST), targets(X_VAL)
    history, seen = _run(backend, Y, Y_val, [3, 8, 2], "identity", "r2")
    for epoch, params in enumerate(seen):
        for key, X, T in (("r2", X_HOST, Y), ("val_r2", X_VAL, Y_val)):
            predicted = _host_output(params, X, "identity")
            assert history[key][epoch] == pytest.approx(r2_score(T.T, predicted.T), rel=1e-9, abs=1e-12)
    assert history["r2"][-1] > history["r2"][0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_score_matches_scikit_learn_on_the_device(backend, xp, dtype):
    """reporting.score on the backend's arrays, constant targets included (scikit-learn's force_finite)."""
    from sklearn.metrics import accuracy_score, r2_score

    rng = np.random.RandomState(3)
    Y = rng.randn(3, 20)
    Y[1] = 2.0  # constant: predicted exactly below, so 1
    Y[2] = -1.0  # constant: predicted wrongly, so 0
    AL = Y + 0.3 * rng.randn(3, 20)
    AL[1] = 2.0
    tol = 1e-6 if dtype == "float32" else 1e-12
    got = reporting.score(
        xp, "r2", backend.asarray(AL, dtype=dtype), backend.asarray(Y, dtype=dtype), "identity"
    )
    assert got.dtype == getattr(xp, dtype)
    assert float(dnn.to_numpy(got)) == pytest.approx(r2_score(Y.T, AL.T), abs=tol)
    assert r2_score(Y[1:].T, AL[1:].T) == pytest.approx(0.5)  # the published convention: 1 and 0
    P = rng.rand(4, 30)
    labels = rng.randint(4, size=30)
    onehot = np.eye(4)[labels].T
    got = reporting.score(
        xp, "accuracy", backend.asarray(P, dtype=dtype), backend.asarray(onehot, dtype=dtype), "softmax"
    )
    assert float(dnn.to_numpy(got)) == pytest.approx(accuracy_score(labels, P.argmax(axis=0)), abs=tol)


def test_metrics_are_computed_only_when_asked(backend, monkeypatch):
    def refuse(*args):
        raise AssertionError("a metric was computed")

    # The module whose metrics callback scores each epoch.
    monkeypatch.setattr(importlib.import_module("portable_dnn.callbacks"), "score", refuse)
    _, history = fit(
        X_HOST,
        Y_BINARY,
        [3, 1],
        num_epochs=3,
        backend=backend,
        validation_data=(X_VAL, (X_VAL[:1] > 0).astype(int)),
    )
    assert sorted(history) == ["cost", "settings", "val_cost"]


def test_validation_scores_alone(backend, monkeypatch):
    """``"val_accuracy"`` scores the validation data only: the same values as asking for both, and
    no forward pass over the training data for them."""
    Y_val = (X_VAL[:1] > 0).astype(int)
    options = dict(num_epochs=4, backend=backend, learning_rate=0.1, validation_data=(X_VAL, Y_val))
    _, both = fit(X_HOST, Y_BINARY, [3, 1], metrics=("accuracy",), **options)
    fit_module = importlib.import_module("portable_dnn.fit")
    forwards = []
    monkeypatch.setattr(fit_module.Step, "forward", _counting(fit_module.Step.forward, forwards))
    _, alone = fit(X_HOST, Y_BINARY, [3, 1], metrics=("val_accuracy", "val_accuracy"), **options)
    assert sorted(alone) == ["cost", "settings", "val_accuracy", "val_cost"]
    assert alone["val_accuracy"] == both["val_accuracy"] and alone["cost"] == both["cost"]
    assert len(forwards) == 4  # one per epoch: the validation data's, shared with val_cost
    assert all(shape[1] == X_VAL.shape[1] for shape in forwards)


def _counting(forward, calls):
    def counted(self, params, X):
        calls.append(tuple(X.shape))
        return forward(self, params, X)

    return counted


def test_metrics_without_validation_data(backend):
    _, history = fit(
        X_HOST, Y_BINARY, [3, 1], num_epochs=3, backend=backend, metrics=["accuracy", "accuracy"]
    )
    assert sorted(history) == ["accuracy", "cost", "settings"] and len(history["accuracy"]) == 3


@pytest.mark.parametrize(
    "output, metrics, error, message",
    [
        ("sigmoid", ("r2",), ValueError, r"fit: metric 'r2' needs output 'identity', not 'sigmoid'"),
        (
            "identity",
            ("accuracy",),
            ValueError,
            r"fit: metric 'accuracy' needs output 'sigmoid' or 'softmax' or 'multilabel', not 'identity'",
        ),
        ("sigmoid", ("loss",), ValueError, r"fit: unknown metric 'loss'; the metrics are 'accuracy', 'r2'"),
        ("sigmoid", ("val_loss",), ValueError, r"fit: unknown metric 'val_loss'"),
        ("sigmoid", ("val_r2",), ValueError, r"fit: metric 'r2' needs output 'identity', not 'sigmoid'"),
        (
            "sigmoid",
            ("val_accuracy",),
            ValueError,
            r"fit: metric 'val_accuracy' needs validation_data or validation_fraction > 0",
        ),
        ("sigmoid", (1,), ValueError, r"fit: unknown metric 1;"),
        (
            "sigmoid",
            "accuracy",
            TypeError,
            r"fit: metrics must be a tuple of names from 'accuracy', 'r2', got",
        ),
        ("sigmoid", None, TypeError, r"fit: metrics must be a tuple of names"),
    ],
)
def test_metric_errors(output, metrics, error, message):
    with pytest.raises(error, match=message):
        fit(X_HOST, Y_BINARY, [3, 1], output=output, num_epochs=2, backend="numpy", metrics=metrics)


# ------------------------------------------------------------------- estimators


def _held_out(m: int, fraction: float, seed: int) -> np.ndarray:
    """The columns fit holds out for ``validation_fraction`` (its seeded permutation's first share)."""
    return np.random.RandomState(seed).permutation(m)[: math.ceil(fraction * m)]


def test_classifier_curves(backend):
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris
    from sklearn.metrics import accuracy_score

    from portable_dnn.sklearn import DNNClassifier

    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    clf = DNNClassifier(
        hidden_layer_sizes=(8,),
        epochs=15,
        learning_rate=0.01,
        batch_size=32,
        validation_fraction=0.2,
        random_state=4,
        backend=backend.name,
    ).fit(X, y)
    assert clf.loss_curve_ == clf.history_["cost"] and len(clf.loss_curve_) == clf.n_iter_ == 15
    assert clf.validation_scores_ == clf.history_["val_accuracy"] and len(clf.validation_scores_) == 15
    held = _held_out(len(y), 0.2, 4)
    assert clf.validation_scores_[-1] == pytest.approx(accuracy_score(y[held], clf.predict(X[held])))
    # Only the held-out share is scored: no forward pass over the training share for it.
    assert sorted(clf.history_) == ["cost", "settings", "val_accuracy", "val_cost"]

    plain = DNNClassifier(hidden_layer_sizes=(8,), epochs=3, backend=backend.name).fit(X, y)
    assert plain.validation_scores_ is None and sorted(plain.history_) == ["cost", "settings"]
    assert plain.loss_curve_ == plain.history_["cost"]


def test_multilabel_classifier_scores_subset_accuracy(backend):
    pytest.importorskip("sklearn")
    from sklearn.datasets import make_multilabel_classification
    from sklearn.metrics import accuracy_score

    from portable_dnn.sklearn import DNNClassifier

    X, Y = make_multilabel_classification(n_samples=120, n_features=6, n_classes=3, random_state=0)
    clf = DNNClassifier(
        hidden_layer_sizes=(10,),
        epochs=10,
        learning_rate=0.01,
        batch_size=32,
        validation_fraction=0.25,
        backend=backend.name,
    ).fit(X / X.max(), Y)
    held = _held_out(len(Y), 0.25, 0)
    expected = accuracy_score(Y[held], clf.predict(X[held] / X.max()))
    assert clf.validation_scores_[-1] == pytest.approx(expected)


def test_regressor_curves_and_partial_fit(backend):
    pytest.importorskip("sklearn")
    from sklearn.datasets import make_regression
    from sklearn.metrics import r2_score

    from portable_dnn.sklearn import DNNRegressor

    X, y = make_regression(n_samples=150, n_features=4, n_targets=2, noise=5.0, random_state=1)
    y = y / y.std(axis=0)
    reg = DNNRegressor(
        hidden_layer_sizes=(6,),
        epochs=12,
        learning_rate=0.01,
        batch_size=32,
        validation_fraction=0.2,
        random_state=2,
        backend=backend.name,
    ).fit(X, y)
    assert len(reg.validation_scores_) == 12 and reg.validation_scores_ == reg.history_["val_r2"]
    held = _held_out(len(y), 0.2, 2)
    assert reg.validation_scores_[-1] == pytest.approx(r2_score(y[held], reg.predict(X[held])), rel=1e-9)
    assert reg.loss_curve_ == reg.history_["cost"]

    reg.partial_fit(X, y)  # one more epoch: the losses of every epoch, the scores of this call
    assert len(reg.loss_curve_) == reg.n_iter_ == 13 and len(reg.validation_scores_) == 1


def test_estimators_pass_progress_through(backend, bars):
    pytest.importorskip("sklearn")
    from portable_dnn.sklearn import DNNRegressor

    X = X_HOST.T
    DNNRegressor(hidden_layer_sizes=(), epochs=4, progress=True, backend=backend.name).fit(X, X[:, 0])
    (bar,) = bars
    assert (bar.n, bar.total, bar.closes) == (4, 4, 1)
    with pytest.raises(TypeError, match="fit: progress must be True or False, got 'yes'"):
        DNNRegressor(progress="yes").fit(X, X[:, 0])
