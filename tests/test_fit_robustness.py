"""fit and the estimators at their boundary: weights of any scale, warm starts that cannot go on,
resumed states that do not fit, weighted scores, and estimators left as they were by a refused call.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn import fit, forward_proba, predict_labels

RNG = np.random.RandomState(0)
M = 40
X_HOST = RNG.randn(3, M)
Y_HOST = (X_HOST[:1] + 0.5 * RNG.randn(1, M) > 0).astype(np.float64)
BASE = RNG.randint(1, 4, M).astype(np.float64)  # weights 1 to 3


def _fit(backend, to_backend, weights, dtype="float64", **kw):
    kw = {"num_epochs": 3, "learning_rate": 0.1, "batch_size": 8, "optimizer": "adam", **kw}
    return fit(to_backend(X_HOST), to_backend(Y_HOST), [3, 4, 1], sample_weight=weights, backend=backend,
               dtype=dtype, **kw)  # fmt: skip


# ------------------------------------------------------------------ weights of any scale


@pytest.mark.parametrize(
    ("dtype", "weight_dtype", "scale"),
    [
        ("float64", np.float64, 2.0**1020),  # their sum overflows float64
        ("float64", np.float64, 2.0**-1070),  # subnormal: size / sum overflows
        ("float32", np.float32, 2.0**125),  # their sum overflows float32
        ("float32", np.float32, 2.0**-140),  # subnormal in float32
        ("float32", np.float64, 2.0**-1070),  # float64 weights below float32's range
    ],
)
def test_weight_scale_changes_nothing(backend, to_backend, dtype, weight_dtype, scale):
    # Powers of two scale exactly: the weights divided by their largest are the same bits.
    want_params, want = _fit(backend, to_backend, BASE, dtype)
    got_params, got = _fit(backend, to_backend, (BASE * scale).astype(weight_dtype), dtype)
    assert got["cost"] == want["cost"]
    for key in want_params:
        np.testing.assert_array_equal(dnn.to_numpy(got_params[key]), dnn.to_numpy(want_params[key]))


def test_class_weight_scale_changes_nothing(backend):
    from portable_dnn.sklearn import DNNClassifier

    y = Y_HOST.ravel().astype(int)
    kw = {"hidden_layer_sizes": (4,), "epochs": 3, "batch_size": 8, "backend": backend.name}
    want = DNNClassifier(class_weight={0: 1.0, 1: 2.0}, **kw).fit(X_HOST.T, y)
    got = DNNClassifier(class_weight={0: 2.0**1020, 1: 2.0**1021}, **kw).fit(X_HOST.T, y)
    assert got.loss_curve_ == want.loss_curve_


def test_weights_beyond_the_dtype_range_are_refused(backend, to_backend):
    # A mini-batch of the smallest weight alone would divide its size by a sum below
    # size / finfo(float32).max: the mean weight would be infinite.
    w = np.ones(M, dtype=np.float32)
    w[5] = 1e-40
    with pytest.raises(ValueError, match=r"sample_weight spans too wide a range for float32"):
        _fit(backend, to_backend, w, "float32", batch_size=1)


# ------------------------------------------------------------------ weighted scores


def _held_out(fraction, seed=0):
    perm = np.random.RandomState(seed).permutation(M)
    n_val = math.ceil(fraction * M)
    return perm[n_val:], perm[:n_val]


@pytest.mark.parametrize("output", ["sigmoid", "identity"])
def test_scores_weigh_the_examples_as_the_costs_do(backend, to_backend, output):
    from sklearn.metrics import accuracy_score, r2_score

    Y = Y_HOST if output == "sigmoid" else X_HOST[:1] * 2 + 0.3 * RNG.randn(1, M)
    name = "accuracy" if output == "sigmoid" else "r2"
    kept = []
    _, history = fit(to_backend(X_HOST), to_backend(Y), [3, 4, 1], output=output, sample_weight=BASE,
                     validation_fraction=0.5, metrics=(name,), num_epochs=2, learning_rate=0.05,
                     backend=backend, callback=lambda e, p, h: kept.append(p))  # fmt: skip
    params = {k: dnn.to_numpy(v) for k, v in kept[-1].items()}
    for key, index in ((name, _held_out(0.5)[0]), (f"val_{name}", _held_out(0.5)[1])):
        if output == "sigmoid":
            predicted = predict_labels(X_HOST[:, index], params).ravel()
            want = accuracy_score(Y[0, index], predicted, sample_weight=BASE[index])
        else:
            predicted = forward_proba(X_HOST[:, index], params, output="identity").ravel()
            want = r2_score(Y[0, index], predicted, sample_weight=BASE[index])
        # A weighted sum of at most M terms, each rounded once.
        assert history[key][-1] == pytest.approx(want, rel=M * np.finfo(np.float64).eps, abs=1e-15)


# ------------------------------------------------------------------ resume


def _state(backend, to_backend):
    kept = []
    _fit(backend, to_backend, None, num_epochs=2, checkpoint=kept.append)
    s = kept[-1]
    host = {k: {kk: dnn.to_numpy(a) for kk, a in v.items()} if isinstance(v, dict) else v
            for k, v in s.optimizer_state().items()}  # fmt: skip
    params = {k: dnn.to_numpy(v) for k, v in s.snapshot().items()}
    return {"parameters": params, **host, "epoch": s.iteration, "costs": list(s.costs)}


def _with(state, slot, key, value):
    changed = dict(state)
    changed[slot] = {**state[slot], key: value}
    return changed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: _with(s, "v", "dW1", s["v"]["dW1"].T.copy()),
         r"resume\['v'\]\['dW1'\] has shape \(3, 4\); the parameters need \(4, 3\)"),
        (lambda s: _with(s, "s", "dW2", s["s"]["dW2"].T.copy()),
         r"resume\['s'\]\['dW2'\] has shape \(4, 1\); the parameters need \(1, 4\)"),
        (lambda s: _with(s, "v", "db1", s["v"]["db1"] + 1j),
         r"resume\['v'\]\['db1'\] must hold real numbers"),
        (lambda s: _with(s, "v", "dW1", s["v"]["dW1"].astype(object)),
         r"resume\['v'\]\['dW1'\] must be a numeric array"),
        (lambda s: {**s, "v": {k: a for k, a in s["v"].items() if k != "db2"}},
         r"resume\['v'\] has no 'db2'"),
        (lambda s: _with(s, "s", "dW1", np.full((4, 3), np.nan)),
         r"resume\['s'\]\['dW1'\] contains NaN or infinity"),
        (lambda s: {**s, "t": 10**400}, r"resume\['t'\] counts the optimizer's steps, at most 2\*\*53"),
        (lambda s: {**s, "costs": ["a", "b"]}, r"resume\['costs'\]\[0\] must be a finite number, got 'a'"),
        (lambda s: {**s, "costs": [0.5, math.inf]}, r"resume\['costs'\]\[1\] must be a finite number"),
    ],
    ids=["v-T", "s-T", "complex", "object", "missing", "nan", "huge-t", "str-cost", "inf-cost"],
)  # fmt: skip
def test_resume_is_checked_slot_by_slot(backend, to_backend, change, message):
    bad = change(_state(backend, to_backend))
    with pytest.raises((ValueError, TypeError), match=message):
        _fit(backend, to_backend, None, num_epochs=4, resume=bad)


# ------------------------------------------------------------------ argument messages


def test_decay_rate_is_checked_before_training(backend, to_backend):
    with pytest.raises(ValueError, match=r"fit: decay_rate must be a finite number >= 0, got inf"):
        _fit(backend, to_backend, None, decay_rate=math.inf, callback=lambda *a: pytest.fail("trained"))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"decay_rate": math.inf}, r"model: decay_rate must be a finite number >= 0, got inf"),
        ({"decay_rate": -1.0, "decay": None}, r"model: decay_rate must be a finite number >= 0"),
        ({"mini_batch_size": 0}, r"model: mini_batch_size must be an integer >= 1, got 0"),
    ],
)
def test_course_model_names_its_own_arguments(backend, kw, message):
    from portable_dnn.course2.optimization import model, update_lr

    kw = {"decay": update_lr, **kw}
    with pytest.raises(ValueError, match=message):
        model(X_HOST, Y_HOST, [3, 1], "gd", num_epochs=2, print_cost=False, backend=backend, **kw)


# ------------------------------------------------------------------ estimators


def _frozen(value):
    """A deep copy of an estimator attribute that compares by value (arrays as host lists)."""
    if isinstance(value, dict):
        return {k: _frozen(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_frozen(v) for v in value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return ("array", str(value.dtype), np.array(dnn.to_numpy(value), copy=True).tolist())
    return value


def _snapshot(est):
    return {k: _frozen(v) for k, v in vars(est).items()}


def _refused(est, call, match):
    before = _snapshot(est)
    with pytest.raises((ValueError, TypeError), match=match):
        call()
    assert _snapshot(est) == before


Y01 = Y_HOST.ravel().astype(int)
Y3 = np.arange(M) % 3
YML = np.stack([Y01, 1 - Y01, Y3 == 0], axis=1).astype(int)


def _clf(backend, **kw):
    from portable_dnn.sklearn import DNNClassifier

    kw = {"hidden_layer_sizes": (4,), "epochs": 2, "batch_size": 16, **kw}
    return DNNClassifier(backend=backend.name, **kw)


def _reg(backend, **kw):
    from portable_dnn.sklearn import DNNRegressor

    kw = {"hidden_layer_sizes": (4,), "epochs": 2, "batch_size": 16, **kw}
    return DNNRegressor(backend=backend.name, **kw)


def test_warm_start_refuses_another_class_set(backend):
    clf = _clf(backend, warm_start=True).fit(X_HOST.T, Y01)
    _refused(clf, lambda: clf.fit(X_HOST.T, Y01 + 1),
             r"y has the classes \[1, 2\], but the fitted network's classes_ are \[0, 1\]")  # fmt: skip
    _refused(clf, lambda: clf.fit(X_HOST.T, Y3), r"classes_ are \[0, 1\]")


@pytest.mark.parametrize("method", ["partial_fit", "warm_start"])
def test_label_kind_cannot_change(backend, method):
    single, multi = "single-label", "multi-label"
    for first, then, kinds in ((YML, Y3, (single, multi)), (Y3, YML, (multi, single))):
        clf = _clf(backend, warm_start=method == "warm_start").fit(X_HOST.T, first)
        call = clf.partial_fit if method == "partial_fit" else clf.fit
        match = f"y is {kinds[0]}, but the network was fitted on {kinds[1]} y"
        _refused(clf, lambda call=call, then=then: call(X_HOST.T, then), match)


@pytest.mark.parametrize("method", ["partial_fit", "warm_start"])
def test_warm_refusals_name_the_estimators_terms_and_change_nothing(backend, method):
    clf = _clf(backend, warm_start=method == "warm_start").fit(X_HOST.T, Y01)
    call = clf.partial_fit if method == "partial_fit" else clf.fit
    _refused(clf, lambda: call(X_HOST[:2].T, Y01), r"X has 2 features, but DNNClassifier is expecting 3 "
             r"features as input: n_features_in_")  # fmt: skip
    clf.set_params(hidden_layer_sizes=(5,))
    _refused(
        clf, lambda: call(X_HOST.T, Y01), r"hidden_layer_sizes \(5,\) differ from the fitted network's \(4,\)"
    )
    clf.set_params(hidden_layer_sizes=(4,), class_weight={0: -1.0})
    _refused(clf, lambda: call(X_HOST.T, Y01), r"class_weight\[0\] must be a finite number >= 0")
    predicted = clf.predict(X_HOST.T)
    assert predicted.shape == (M,) and set(np.unique(predicted)) <= {0, 1}


def test_a_refused_fresh_fit_leaves_the_fitted_estimator(backend):
    clf = _clf(backend).fit(X_HOST.T, Y01)
    clf.set_params(class_weight={0: -1.0})
    _refused(clf, lambda: clf.fit(X_HOST[:2].T, Y01), r"class_weight\[0\] must be a finite number")
    clf.set_params(class_weight=None)
    assert clf.n_features_in_ == 3 and clf.classes_.tolist() == [0, 1]
    reg = _reg(backend).fit(X_HOST.T, X_HOST[0])
    _refused(
        reg, lambda: reg.fit(X_HOST[:2].T, np.stack([X_HOST[0], np.nan * X_HOST[1]], 1)), "y contains NaN"
    )
    assert reg.predict(X_HOST.T).shape == (M,)


def test_regressor_warm_start_keeps_its_targets(backend):
    reg = _reg(backend, warm_start=True).fit(X_HOST.T, X_HOST[0])
    _refused(
        reg, lambda: reg.fit(X_HOST.T, X_HOST[:2].T), r"y has 2 targets, but the fitted network predicts 1"
    )


@pytest.mark.parametrize(
    ("y", "error", "match"),
    [
        (np.array(["1.5"] * M), TypeError, r"DNNRegressor.fit: y must hold numbers, got dtype <U3"),
        (
            np.array(["1.5"] * M, dtype=object),
            TypeError,
            r"y must hold numbers, got dtype object with strings",
        ),
        (np.r_[np.nan, np.ones(M - 1)], ValueError, r"DNNRegressor.fit: y contains NaN or infinity \(nan at"),
    ],
)
def test_regressor_targets_are_numbers(backend, y, error, match):
    with pytest.raises(error, match=match):
        _reg(backend).fit(X_HOST.T, y)


def test_partial_fit_classes(backend):
    with pytest.raises(ValueError, match=r"classes must be an array-like of all the class labels"):
        _clf(backend).partial_fit(X_HOST.T, Y01, classes=1)
    with pytest.raises(ValueError, match=r"classes contains NaN"):
        _clf(backend).partial_fit(X_HOST.T, Y01, classes=[0.0, 1.0, np.nan])
    clf = _clf(backend).partial_fit(X_HOST.T, Y01, classes=[0, 1, 2])
    clf.partial_fit(X_HOST.T, Y01, classes=[2, 1, 0])  # the same labels again
    _refused(clf, lambda: clf.partial_fit(X_HOST.T, Y01, classes=[0, 1]),
             r"classes=\[0, 1\] differ from classes_ \[0, 1, 2\] of the earlier calls")  # fmt: skip


def test_validation_scores_are_weighted(backend):
    """validation_scores_ weighs the held-out samples as val_cost does (here: weight 0 on the wrong ones)."""
    clf = _clf(backend, validation_fraction=0.5, epochs=1).fit(X_HOST.T, Y01)
    held = _held_out(0.5)[1]
    wrong = clf.predict(X_HOST.T)[held] != Y01[held]
    assert wrong.any(), "the test needs a wrong prediction to weigh out"
    w = np.ones(M)
    w[held[wrong]] = 0.0
    weighted = _clf(backend, validation_fraction=0.5, epochs=1).fit(X_HOST.T, Y01, sample_weight=w)
    # The same network (a zero weight moves no gradient of a held-out sample), every counted sample right.
    assert weighted.validation_scores_ == [1.0]


# ------------------------------------------------------------------ dask


def test_dask_arrays_of_unknown_chunk_sizes(backend):
    if backend.name != "dask":
        pytest.skip("Dask arrays' unknown chunk sizes: run with --backend dask")
    import dask.array as da

    keep = np.arange(M) % 4 != 1
    X = da.from_array(X_HOST, chunks=(3, 10))[:, da.from_array(keep, chunks=10)]
    Y = da.from_array(Y_HOST, chunks=(1, 10))[:, da.from_array(keep, chunks=10)]
    w = da.from_array(BASE, chunks=10)[da.from_array(keep, chunks=10)]
    assert math.isnan(X.chunks[1][0])
    sizes = tuple(int(keep[k : k + 10].sum()) for k in range(0, M, 10))
    X_known = da.from_array(X_HOST[:, keep], chunks=(3, sizes))
    Y_known = da.from_array(Y_HOST[:, keep], chunks=(1, sizes))
    want = fit(X_known, Y_known, [3, 1], sample_weight=BASE[keep], num_epochs=2, learning_rate=0.1)[1]
    got = fit(X, Y, [3, 1], sample_weight=w, num_epochs=2, learning_rate=0.1)[1]
    assert got["cost"] == want["cost"]
    assert math.isnan(X.chunks[1][0])  # the caller's array is left as it was
