"""Random data at every public entry point: corrupted data is refused with its message, clean data is not.

Shapes, dtypes, where a NaN or infinity sits, which label value is wrong and
where: drawn by hypothesis. Each case knows the one message the entry point
must give (function, argument, value and position), or that it must run.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import portable_dnn as dnn
from portable_dnn.fit import fit, forward_proba, predict_labels

SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

EXAMPLE_ENTRIES = [
    "fit",
    "fit validation",
    "predict",
    "predict_labels",
    "forward_proba",
    "L_layer_model",
    "two_layer_model",
    "DNNClassifier.fit",
]
LABEL_ENTRIES = [
    "fit",
    "fit validation",
    "fit 1-D",
    "predict",
    "accuracy",
    "L_layer_model",
    "compute_cost",
    "L_model_backward",
    "DNNClassifier.fit",
]


@st.composite
def examples(draw):
    n, m = draw(st.integers(1, 4)), draw(st.integers(2, 6))
    dtype = draw(st.sampled_from(["float32", "float64", "int64", "bool"]))
    X = np.random.RandomState(draw(st.integers(0, 99))).randn(n, m)
    X = (X > 0) if dtype == "bool" else X.astype(dtype)
    fault = draw(
        st.sampled_from([None, "nonfinite", "complex"] if dtype.startswith("float") else [None, "complex"])
    )
    where, value = (draw(st.integers(0, n - 1)), draw(st.integers(0, m - 1))), None
    if fault == "nonfinite":
        value = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        X[where] = value
    elif fault == "complex":
        X = X + 1j
    return X, fault, where, value


def _run_examples(entry, backend, X, Y):
    n = X.shape[0]
    dims = [n, 2, 1]
    if entry == "fit":
        return fit(X, Y, dims, num_epochs=1, backend=backend)
    if entry == "fit validation":
        return fit(np.ones(X.shape), Y, dims, num_epochs=1, backend=backend, validation_data=(X, Y))
    params = dnn.initialize_parameters_deep(dims, init="he", backend=backend)
    if entry == "predict":
        return dnn.predict(X, None, params)
    if entry in ("predict_labels", "forward_proba"):
        f = predict_labels if entry == "predict_labels" else forward_proba
        return f(backend.xp.asarray(X, device=backend.device), params)
    if entry in ("L_layer_model", "two_layer_model"):
        return getattr(dnn, entry)(X, Y, tuple(dims), num_iterations=1, backend=backend)
    from portable_dnn.sklearn import DNNClassifier

    return DNNClassifier(hidden_layer_sizes=(2,), epochs=1, backend=backend.name).fit(X.T, Y.ravel())


@SETTINGS
@given(case=examples(), entry=st.sampled_from(EXAMPLE_ENTRIES))
def test_examples_are_checked_at_every_entry_point(backend, case, entry):
    if entry.startswith("DNNClassifier"):
        pytest.importorskip("sklearn")
    X, fault, where, value = case
    Y = (np.arange(X.shape[1]) % 2).reshape(1, -1)
    func, name = entry.split()[0], "validation_data[0]" if entry == "fit validation" else "X"
    if fault is None:
        _run_examples(entry, backend, X, Y)
    elif fault == "nonfinite":
        at = f"[{where[1]}, {where[0]}]" if func == "DNNClassifier.fit" else f"[{where[0]}, {where[1]}]"
        message = f"{func}: {name} contains NaN or infinity ({float(value)!r} at {at})"
        with pytest.raises(ValueError, match="^" + re.escape(message)):
            _run_examples(entry, backend, X, Y)
    elif func == "DNNClassifier.fit":  # scikit-learn's own rule for complex data
        with pytest.raises(ValueError, match="Complex data not supported"):
            _run_examples(entry, backend, X, Y)
    else:
        with pytest.raises(TypeError, match="^" + re.escape(f"{func}: {name} must hold real numbers")):
            _run_examples(entry, backend, X, Y)


@st.composite
def labels(draw):
    m = draw(st.integers(2, 7))
    Y = (np.random.RandomState(draw(st.integers(0, 99))).rand(1, m) > 0.5).astype(np.float64)
    Y[0, :2] = [0, 1]  # both classes present
    dtype = draw(st.sampled_from(["float32", "float64", "int64", "bool"]))
    bad = {"float32": [2.0, -1.0, 0.5, np.nan, np.inf], "float64": [2.0, -1.0, 0.5, np.nan, -np.inf]}
    value = draw(st.sampled_from([None, *bad.get(dtype, [2, -1] if dtype == "int64" else [])]))
    j = draw(st.integers(0, m - 1))
    if value is not None:
        Y[0, j] = value
    return (Y > 0.5) if dtype == "bool" else Y.astype(dtype), value, j


def _run_labels(entry, backend, Y):
    m = Y.shape[1]
    X = np.random.RandomState(0).randn(2, m)
    if entry == "fit":
        return fit(X, Y, [2, 1], num_epochs=1, backend=backend)
    if entry == "fit 1-D":
        return fit(X, Y.ravel(), [2, 1], num_epochs=1, backend=backend)
    if entry == "fit validation":
        good = np.arange(m).reshape(1, m) % 2
        return fit(X, good, [2, 1], num_epochs=1, backend=backend, validation_data=(X, Y))
    params = dnn.initialize_parameters_deep([2, 1], init="he", backend=backend)
    if entry == "predict":
        return dnn.predict(X, Y, params, print_accuracy=False)
    if entry == "accuracy":
        return dnn.accuracy(dnn.predict(X, None, params), Y)
    if entry == "L_layer_model":
        return dnn.L_layer_model(X, Y, (2, 1), num_iterations=1, backend=backend)
    AL, caches = dnn.L_model_forward(backend.asarray(X), params)
    Yb = backend.xp.asarray(Y, device=backend.device)
    if entry == "compute_cost":
        return dnn.compute_cost(AL, Yb)
    if entry == "L_model_backward":
        return dnn.L_model_backward(AL, Yb, caches)
    from portable_dnn.sklearn import DNNClassifier

    return DNNClassifier(hidden_layer_sizes=(2,), epochs=1, backend=backend.name).fit(X.T, Y.ravel())


@SETTINGS
@given(case=labels(), entry=st.sampled_from(LABEL_ENTRIES))
def test_labels_are_checked_at_every_entry_point(backend, case, entry):
    if entry.startswith("DNNClassifier"):
        pytest.importorskip("sklearn")
    Y, value, j = case
    func = entry.split()[0]
    name = {"fit validation": "validation_data[1]", "predict": "y", "accuracy": "y"}.get(entry, "Y")
    shown = repr(float(value)) if value is not None else ""
    if value is None:
        _run_labels(entry, backend, Y)
    elif func in ("compute_cost", "L_model_backward", "L_layer_model") and np.isfinite(value):
        # Course-named: a warning, and the course's formula.
        message = f"{func}: Y holds labels other than 0 and 1 (first: {shown})"
        with pytest.warns(UserWarning, match="^" + re.escape(message)):
            _run_labels(entry, backend, Y)
    elif func in ("compute_cost", "L_model_backward", "L_layer_model"):
        with pytest.raises(
            ValueError, match="^" + re.escape(f"{func}: Y contains NaN or infinity ({shown} at [0, {j}])")
        ):
            _run_labels(entry, backend, Y)
    elif func == "DNNClassifier.fit":
        if np.isfinite(value) and value == int(value):  # -1, 2: one more class
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # scikit-learn: few members in a class
                _run_labels(entry, backend, Y)
        elif np.isfinite(value):
            with pytest.raises(ValueError, match="Unknown label type: continuous"):
                _run_labels(entry, backend, Y)
        else:
            with pytest.raises(ValueError, match="^" + re.escape(f"{func}: y contains NaN or infinity")):
                _run_labels(entry, backend, Y)
    else:
        message = f"{func}: {name} must hold labels 0 or 1 only, found {shown} at [0, {j}]"
        with pytest.raises(ValueError, match="^" + re.escape(message)):
            _run_labels(entry, backend, Y)


@SETTINGS
@given(
    C=st.integers(2, 4),
    m=st.integers(1, 6),
    fault=st.sampled_from([None, "value", "extra one", "no one"]),
    value=st.sampled_from([2.0, -1.0, 0.5, np.nan, np.inf]),
    at=st.integers(0, 99),
)
def test_one_hot_labels_are_checked(backend, C, m, fault, value, at):
    X = np.random.RandomState(at).randn(2, m)
    Y = np.zeros((C, m))
    Y[np.arange(m) % C, np.arange(m)] = 1
    row, col = at % C, at % m
    if fault == "value":
        Y[row, col] = value
        message = (
            f"fit: Y must be one-hot (0s and 1s, one 1 per column), found {float(value)!r} at [{row}, {col}]"
        )
    elif fault == "extra one":
        Y[:, col] = 1
        message = f"fit: Y must be one-hot (one 1 per column), but column {col} holds {C} ones"
    elif fault == "no one":
        Y[:, col] = 0
        message = f"fit: Y must be one-hot (one 1 per column), but column {col} holds 0 ones"
    if fault is None:
        fit(X, Y, [2, C], output="softmax", num_epochs=1, backend=backend)
    else:
        with pytest.raises(ValueError, match="^" + re.escape(message)):
            fit(X, Y, [2, C], output="softmax", num_epochs=1, backend=backend)


@SETTINGS
@given(seed=st.one_of(st.integers(-3, 3), st.integers(2**32 - 12, 2**32 + 2)), epochs=st.integers(1, 8))
def test_seeds_are_accepted_exactly_where_numpy_takes_them(backend, seed, epochs):
    X, Y = np.ones((1, 4)), np.array([[0, 1, 0, 1]])
    if 0 <= seed <= 2**32 - 1:
        dnn.initialize_parameters_deep([1, 1], seed=seed, backend=backend)
    else:
        with pytest.raises(
            ValueError, match=r"^initialize_parameters_deep: seed must be an integer from 0 to"
        ):
            dnn.initialize_parameters_deep([1, 1], seed=seed, backend=backend)
    if 0 <= seed <= 2**32 - 1 - epochs:
        fit(X, Y, [1, 1], num_epochs=epochs, batch_size=2, seed=seed, backend=backend)
    else:
        with pytest.raises(
            ValueError, match=rf"^fit: seed must be an integer from 0 to {2**32 - 1 - epochs} "
        ):
            fit(X, Y, [1, 1], num_epochs=epochs, batch_size=2, seed=seed, backend=backend)
