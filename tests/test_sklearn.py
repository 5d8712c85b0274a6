"""DNNClassifier: scikit-learn's estimator checks, Pipeline, GridSearchCV, binary and multiclass."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_iris, make_moons  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from portable_dnn.sklearn import DNNClassifier  # noqa: E402


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")  # pandas, SCIPY_ARRAY_API absent
def test_check_estimator(backend):
    """scikit-learn's own checks; the estimator computes on NumPy by default, so this runs once."""
    if backend.name != "numpy":
        pytest.skip(
            "DNNClassifier() computes on NumPy whatever the suite's backend; checked in the numpy run"
        )
    check_estimator(DNNClassifier())


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
