"""DNNClassifier and DNNRegressor: scikit-learn's estimator checks (array-API ones included), Pipeline,
GridSearchCV, binary, multiclass and multi-label, regression against MLPRegressor, array_api_dispatch,
warm_start and partial_fit."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

import sklearn  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_diabetes,
    load_iris,
    make_friedman1,
    make_moons,
    make_multilabel_classification,
)
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import (  # noqa: E402
    check_array_api_input,
    check_array_api_mixed_inputs,
    check_array_api_same_namespace,
    check_class_weight_classifiers,
    check_estimator,
)

import portable_dnn as dnn  # noqa: E402
from portable_dnn.backend import namespace_of  # noqa: E402
from portable_dnn.sklearn import DNNClassifier, DNNRegressor  # noqa: E402

CLASSIFIER_XFAIL = {
    "check_class_weight_classifiers": (
        "the check's blobs are unscaled (std 20): at the default learning_rate=0.001 a 3-class "
        "softmax (even with no hidden layer) barely moves from its initial logits in 200 epochs, "
        "class weights or not; at learning_rate=0.01 the check passes"
    )
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")  # pandas, SCIPY_ARRAY_API absent
def test_check_estimator(backend):
    """scikit-learn's own checks; the estimator computes on NumPy by default, so this runs once."""
    if backend.name != "numpy":
        pytest.skip(
            "DNNClassifier() computes on NumPy whatever the suite's backend; checked in the numpy run"
        )
    results = check_estimator(DNNClassifier(), expected_failed_checks=CLASSIFIER_XFAIL)
    assert [r["status"] for r in results if r["check_name"] == "check_class_weight_classifiers"] == ["xfail"]
    check_estimator(DNNRegressor())
    # The same check passes once the learning rate can move the network in 200 epochs.
    check_class_weight_classifiers("DNNClassifier", DNNClassifier(learning_rate=0.01))


def test_binary_string_labels(backend):
    X, y = make_moons(n_samples=200, noise=0.1, random_state=0)
    labels = np.array(["no", "yes"])[y]
    clf = DNNClassifier(hidden_layer_sizes=(10,), epochs=60, learning_rate=0.01, backend=backend.name).fit(
        X, labels
    )
    assert clf.classes_.tolist() == ["no", "yes"] and clf.n_features_in_ == 2
    assert clf.predict(X).dtype == labels.dtype
    P = clf.predict_proba(X)
    assert P.shape == (200, 2) and isinstance(P, np.ndarray)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert clf.score(X, labels) > 0.9
    assert len(clf.history_["cost"]) == clf.n_iter_ == 60


def test_multiclass_pipeline_and_grid_search(backend):
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(),
        DNNClassifier(
            hidden_layer_sizes=(8,), epochs=40, batch_size=32, learning_rate=0.01, backend=backend.name
        ),
    )
    search = GridSearchCV(pipe, {"dnnclassifier__lambd": [0.0, 0.1]}, cv=3)
    search.fit(X, y)
    clf = search.best_estimator_[-1]
    assert clf._output == "softmax" and clf.classes_.tolist() == [0, 1, 2]
    assert search.best_estimator_.predict_proba(X).shape == (150, 3)
    assert search.best_score_ > 0.85


def test_same_predictions_on_every_backend(backend):
    X, y = load_iris(return_X_y=True)
    kw = dict(hidden_layer_sizes=(6,), epochs=10, keep_prob=0.8, random_state=3)
    P = DNNClassifier(backend=backend.name, **kw).fit(X, y).predict_proba(X)
    ref = DNNClassifier(backend="numpy", **kw).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(P, ref, rtol=0, atol=1e-9)


def test_errors():
    with pytest.raises(ValueError, match="at least 2 classes"):
        DNNClassifier(epochs=1).fit(np.ones((3, 2)), [1, 1, 1])
    with pytest.raises(ValueError, match="fit: optimizer must be one of"):
        DNNClassifier(optimizer="adagrad", epochs=1).fit(np.ones((4, 2)), [0, 1, 0, 1])


# ------------------------------------------------------------------ regression


def _scaled(X, y, seed=0):
    """Train/test split with inputs and targets standardized on the training part, as a user would."""
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=seed)
    sx, sy = StandardScaler().fit(Xtr), StandardScaler().fit(ytr[:, None])
    scale = lambda v: sy.transform(v[:, None]).ravel()  # noqa: E731
    return sx.transform(Xtr), sx.transform(Xte), scale(ytr), scale(yte)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    ("data", "hidden", "learning_rate", "epochs", "lambd"),
    [
        ("diabetes", (16,), 0.001, 100, 1.0),
        ("friedman1", (32,), 0.003, 200, 0.0),
    ],
)
def test_regressor_matches_mlp_regressor(backend, data, hidden, learning_rate, epochs, lambd):
    """The same network, optimizer, batches, epochs and L2 (MLPRegressor's alpha / (2 n_batch) sum W^2 is
    lambd's term; its loss is also half the squared error): held-out R^2 within 0.02 of scikit-learn's."""
    if backend.name != "numpy":
        pytest.skip("DNNRegressor() computes on NumPy whatever the suite's backend; checked in the numpy run")
    if data == "diabetes":
        X, y = load_diabetes(return_X_y=True)
    else:
        X, y = make_friedman1(n_samples=1000, noise=1.0, random_state=0)
    Xtr, Xte, ytr, yte = _scaled(X, y)
    ours = DNNRegressor(
        hidden_layer_sizes=hidden, learning_rate=learning_rate, batch_size=32, epochs=epochs, lambd=lambd
    ).fit(Xtr, ytr)
    theirs = MLPRegressor(
        hidden_layer_sizes=hidden, learning_rate_init=learning_rate, batch_size=32, max_iter=epochs,
        alpha=lambd, random_state=0, n_iter_no_change=epochs, tol=0,
    ).fit(Xtr, ytr)  # fmt: skip
    r2 = ours.score(Xte, yte)
    assert r2 > (0.3 if data == "diabetes" else 0.85)
    assert abs(r2 - theirs.score(Xte, yte)) < 0.02
    assert ours.predict(Xte).shape == yte.shape and ours.n_iter_ == epochs


def test_regressor_several_targets_and_formula(backend):
    """Two targets: predict is the network's linear output, written here from parameters_."""
    rng = np.random.RandomState(0)
    X = rng.randn(120, 3)
    Y = np.column_stack([X @ [1.0, -1.0, 0.5], np.sin(X[:, 0])])
    reg = DNNRegressor(hidden_layer_sizes=(8,), epochs=30, learning_rate=0.01, backend=backend.name).fit(X, Y)
    p = {k: dnn.to_numpy(v) for k, v in reg.parameters_.items()}
    expected = (p["W2"] @ np.maximum(p["W1"] @ X.T + p["b1"], 0) + p["b2"]).T
    predicted = reg.predict(X)
    assert isinstance(predicted, np.ndarray) and predicted.shape == (120, 2)
    np.testing.assert_allclose(predicted, expected, rtol=1e-10, atol=1e-12)
    residual = ((Y - expected) ** 2).sum(axis=0) / ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
    assert reg.score(X, Y) == pytest.approx(1 - residual.mean(), rel=1e-10)
    with pytest.raises(ValueError, match="DNNRegressor.fit: X contains NaN"):
        DNNRegressor(epochs=1).fit(np.full((4, 2), np.nan), np.zeros(4))


# ------------------------------------------------------------------ multi-label


def test_multilabel_classifier(backend):
    """y (n_samples, n_labels) of 0/1: independent sigmoid units, probabilities from the formula."""
    X, Y = make_multilabel_classification(n_samples=200, n_features=6, n_classes=3, random_state=0)
    X = StandardScaler().fit_transform(X)
    clf = DNNClassifier(hidden_layer_sizes=(16,), epochs=80, learning_rate=0.01, backend=backend.name)
    clf.fit(X, Y)
    assert clf._output == "multilabel" and clf.classes_.tolist() == [0, 1, 2]
    p = {k: dnn.to_numpy(v) for k, v in clf.parameters_.items()}
    expected = 1 / (1 + np.exp(-(p["W2"] @ np.maximum(p["W1"] @ X.T + p["b1"], 0) + p["b2"]))).T
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-10)
    predicted = clf.predict(X)
    assert predicted.shape == (200, 3)
    np.testing.assert_array_equal(predicted, (expected > 0.5).astype(int))
    assert (predicted == Y).mean() > 0.85


# ------------------------------------------------------------ array_api_dispatch


@pytest.fixture
def array_api(monkeypatch):
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")  # scikit-learn's array-API mode asks for it


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize("Estimator", [DNNClassifier, DNNRegressor])
def test_array_api_checks(array_api, backend, Estimator):
    """scikit-learn's own array-API checks on array-api-strict (two devices) and PyTorch on the CPU."""
    if backend.name not in ("numpy", "torch"):
        pytest.skip("the checks pick their own libraries whatever the suite's backend: numpy and torch run")
    est = Estimator(epochs=3)
    name = Estimator.__name__
    assert est.__sklearn_tags__().array_api_support
    check_array_api_input(name, est, "array_api_strict", None, "float64", check_values=True)
    check_array_api_input(name, est, "array_api_strict", "device1", "float32")
    check_array_api_same_namespace(name, est, "array_api_strict")
    pytest.importorskip("torch")
    for dtype in ("float64", "float32"):
        check_array_api_input(name, est, "torch", "cpu", dtype)
    check_array_api_input(name, est, "torch", "cpu", "float64", check_values=True)
    from sklearn.utils._array_api import NamespaceAndDevice

    check_array_api_mixed_inputs(
        name, est, NamespaceAndDevice("torch", "cpu"), NamespaceAndDevice("array_api_strict", "device1")
    )


def test_dispatch_keeps_X_where_it_is(array_api, backend, to_backend):
    """With dispatch, X of the suite's backend is trained on there, and results come back there,
    equal to the NumPy run's; without it, NumPy as ever."""
    if backend.name == "numpy":
        pytest.skip("NumPy inputs take the default path, the other tests' own")
    if backend.name in ("jax", "dask"):
        pytest.skip(f"scikit-learn's array-API validation is not checked here with {backend.name} arrays")
    X, y = load_iris(return_X_y=True)
    Y = np.column_stack([X[:, 0] * 2, X[:, 1]])
    kw = dict(hidden_layer_sizes=(6,), epochs=5, random_state=1)
    Xb = to_backend(X)
    with sklearn.config_context(array_api_dispatch=True):
        clf = DNNClassifier(**kw).fit(Xb, to_backend(y))
        reg = DNNRegressor(**kw).fit(Xb, to_backend(Y))
        P, labels, values = clf.predict_proba(Xb), clf.predict(Xb), reg.predict(Xb)
        r2 = reg.score(Xb, to_backend(Y))
        for a in (clf.parameters_["W1"], reg.parameters_["b2"], P, labels, values):
            assert namespace_of(a) is backend.xp
        with pytest.raises(ValueError, match=r"DNNClassifier.predict\(\) must use the same namespace"):
            clf.predict(X)
    ref_clf, ref_reg = DNNClassifier(**kw).fit(X, y), DNNRegressor(**kw).fit(X, Y)
    np.testing.assert_allclose(dnn.to_numpy(P), ref_clf.predict_proba(X), atol=1e-9)
    np.testing.assert_array_equal(dnn.to_numpy(labels), ref_clf.predict(X))
    np.testing.assert_allclose(dnn.to_numpy(values), ref_reg.predict(X), atol=1e-9)
    assert r2 == pytest.approx(ref_reg.score(X, Y), abs=1e-9)
    # dispatch off: the backend-fitted estimator still answers NumPy
    assert isinstance(reg.predict(X), np.ndarray)


# ------------------------------------------------------------ warm_start, partial_fit


@pytest.mark.parametrize("Estimator", [DNNClassifier, DNNRegressor])
def test_partial_fit_equals_fit_bit_for_bit(backend, Estimator):
    """n calls of partial_fit (one epoch each) and fit of n epochs: the same shuffles (seed + e + 1),
    dropout masks, decayed rates and Adam state, so the same parameters to the bit; warm_start too."""
    X, y = load_iris(return_X_y=True)
    if Estimator is DNNRegressor:
        y = X[:, 0] - 2 * X[:, 3]
    kw = dict(
        hidden_layer_sizes=(7, 5), epochs=4, batch_size=32, keep_prob=0.8, decay_rate=0.3,
        learning_rate=0.01, random_state=5, backend=backend.name,
    )  # fmt: skip
    whole = Estimator(**kw).fit(X, y)
    parts = Estimator(**kw)
    for _ in range(4):
        parts.partial_fit(X, y, **({"classes": [0, 1, 2]} if Estimator is DNNClassifier else {}))
    warm = Estimator(**{**kw, "epochs": 2, "warm_start": True}).fit(X, y).fit(X, y)
    cold = Estimator(**{**kw, "epochs": 2}).fit(X, y).fit(X, y)
    for est in (parts, warm):
        assert est.n_iter_ == 4 and est.history_["cost"] == whole.history_["cost"]
        for k, v in whole.parameters_.items():
            assert np.array_equal(dnn.to_numpy(est.parameters_[k]), dnn.to_numpy(v)), k
    assert cold.n_iter_ == 2
    assert not np.array_equal(dnn.to_numpy(cold.parameters_["W1"]), dnn.to_numpy(whole.parameters_["W1"]))


def test_partial_fit_checks_labels():
    clf = DNNClassifier(epochs=1).partial_fit(np.ones((4, 2)), [0, 1, 0, 1], classes=[0, 1, 2])
    assert clf.classes_.tolist() == [0, 1, 2] and clf._output == "softmax"
    with pytest.raises(ValueError, match="partial_fit: y holds 5, not among classes_"):
        clf.partial_fit(np.ones((2, 2)), [0, 5])
