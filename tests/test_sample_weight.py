"""Per-example weights through the one training step: fit(sample_weight=...), every backend.

A weighted mini-batch's cost is ``sum(w_i loss_i) / sum(w_i)``; these tests hold it to the
arithmetic it stands for: weights of one are no weights, integer weights are repeated examples,
weight zero is an example left out, and the cost is the formula written here in NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.backend.ops import Ops
from portable_dnn.engine import Network, Step, flatten, new_state
from portable_dnn.optim import GD

OUTPUTS = ["sigmoid", "softmax", "multilabel", "identity"]
RNG = np.random.RandomState(0)
X_HOST = RNG.randn(4, 30)
WEIGHTS = RNG.randint(0, 4, 30).astype(np.float64)  # integer weights, zeros among them
WEIGHTS[:2] = [0.0, 3.0]


def _labels(output, m=30, seed=1):
    rng = np.random.RandomState(seed)
    if output == "sigmoid":
        return (rng.rand(1, m) > 0.5).astype(np.float64)
    if output == "softmax":
        return np.eye(3)[:, rng.randint(0, 3, m)]
    if output == "multilabel":
        return (rng.rand(3, m) > 0.5).astype(np.float64)
    return rng.randn(3, m)


def _dims(output):
    return [4, 5, 1 if output == "sigmoid" else 3]


def _host(params):
    return {k: dnn.to_numpy(v) for k, v in params.items()}


def _assert_close(got, want, tol, what=""):
    for key in want:
        diff = float(np.max(np.abs(dnn.to_numpy(got[key]) - dnn.to_numpy(want[key]))))
        assert diff <= tol, f"{what}{key} differs by {diff}"


def _losses(params, X, Y, output):
    """Each example's loss under ``params`` (ReLU hidden layers), written in NumPy."""
    p = _host(params)
    L = len(p) // 2
    A = X
    for l in range(1, L):
        A = np.maximum(p[f"W{l}"] @ A + p[f"b{l}"], 0)
    Z = p[f"W{L}"] @ A + p[f"b{L}"]
    if output == "identity":
        return 0.5 * np.sum((Z - Y) ** 2, axis=0)
    if output == "softmax":
        P = np.exp(Z - Z.max(axis=0)) / np.exp(Z - Z.max(axis=0)).sum(axis=0)
        return -np.sum(Y * np.log(P), axis=0)
    P = 1 / (1 + np.exp(-Z))
    return -np.sum(Y * np.log(P) + (1 - Y) * np.log(1 - P), axis=0)


# ------------------------------------------------------------------ fit


@pytest.mark.parametrize("batch_size", [None, 8], ids=["full-batch", "mini-batch"])
@pytest.mark.parametrize("optimizer", ["gd", "adam"])
def test_weights_of_one_are_no_weights(backend, to_backend, batch_size, optimizer):
    Y = _labels("softmax")
    kw = dict(output="softmax", optimizer=optimizer, batch_size=batch_size, learning_rate=0.05,
              num_epochs=6, keep_prob=0.8, backend=backend)  # fmt: skip
    plain, h_plain = dnn.fit(to_backend(X_HOST), Y, _dims("softmax"), **kw)
    for ones in (np.ones(30), to_backend(np.ones((1, 30)))):
        weighted, h_weighted = dnn.fit(to_backend(X_HOST), Y, _dims("softmax"), sample_weight=ones, **kw)
        _assert_close(weighted, plain, 1e-12)
        np.testing.assert_allclose(h_weighted["cost"], h_plain["cost"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("output", OUTPUTS)
def test_integer_weights_train_as_repeated_examples(backend, output):
    """Full-batch gradient descent: the weighted mean's gradient is the mean over the examples
    repeated as often as their weights say (weight 0: left out)."""
    Y = _labels(output)
    repeats = WEIGHTS.astype(np.int64)
    kw = dict(output=output, learning_rate=0.1, num_epochs=15, backend=backend)
    weighted, h_weighted = dnn.fit(X_HOST, Y, _dims(output), sample_weight=WEIGHTS, **kw)
    repeated, h_repeated = dnn.fit(
        np.repeat(X_HOST, repeats, axis=1), np.repeat(Y, repeats, axis=1), _dims(output), **kw
    )
    _assert_close(weighted, repeated, 1e-10)
    np.testing.assert_allclose(h_weighted["cost"], h_repeated["cost"], rtol=0, atol=1e-10)


def test_zero_weight_leaves_the_example_out(backend):
    Y = _labels("sigmoid")
    w = np.ones(30)
    w[[3, 17, 29]] = 0
    kw = dict(optimizer="momentum", learning_rate=0.1, num_epochs=10, backend=backend)
    weighted, h_weighted = dnn.fit(X_HOST, Y, _dims("sigmoid"), sample_weight=w, **kw)
    kept = w > 0
    dropped, h_dropped = dnn.fit(X_HOST[:, kept], Y[:, kept], _dims("sigmoid"), **kw)
    _assert_close(weighted, dropped, 1e-12)
    np.testing.assert_allclose(h_weighted["cost"], h_dropped["cost"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("output", OUTPUTS)
def test_weighted_cost_is_the_formula(backend, output):
    """The first epoch's cost is ``sum(w_i loss_i) / sum(w_i)`` at the initial parameters: in one
    batch, and over mini-batches too (a rate too small to move the parameters), where the epoch's
    cost weighs each batch by its total weight. The batch of 8 all-zero weights costs nothing."""
    Y = _labels(output)
    dims = _dims(output)
    w = WEIGHTS.copy()
    w[np.random.RandomState(1).permutation(30)[:8]] = 0  # epoch 0's first mini-batch (seed 0 + 0 + 1)
    initial = dnn.initialize_parameters_deep(dims, init="he", seed=0)
    expected = float(np.sum(w * _losses(initial, X_HOST, Y, output)) / np.sum(w))
    for batch_size, lr in ((None, 0.1), (8, 1e-300)):
        _, history = dnn.fit(X_HOST, Y, dims, output=output, sample_weight=w, batch_size=batch_size,
                             learning_rate=lr, num_epochs=2, backend=backend)  # fmt: skip
        assert history["cost"][0] == pytest.approx(expected, rel=1e-12, abs=0)
        assert np.all(np.isfinite(history["cost"]))


def test_validation_fraction_holds_out_the_weights_with_their_examples(backend):
    """val_cost is the weighted mean over the held-out columns (the seed's permutation), with
    the weights that came with them."""
    Y = _labels("sigmoid")
    seen = []
    _, history = dnn.fit(X_HOST, Y, _dims("sigmoid"), sample_weight=WEIGHTS, validation_fraction=0.3,
                         num_epochs=3, learning_rate=0.1, seed=4, backend=backend,
                         callback=lambda epoch, p, h: seen.append(_host(p)))  # fmt: skip
    held = np.random.RandomState(4).permutation(30)[:9]
    for params, val_cost in zip(seen, history["val_cost"]):
        losses = _losses(params, X_HOST[:, held], Y[:, held], "sigmoid")
        assert val_cost == pytest.approx(np.sum(WEIGHTS[held] * losses) / np.sum(WEIGHTS[held]), rel=1e-12)


@pytest.mark.parametrize("replay", ["auto", False])
@pytest.mark.parametrize("optimizer", ["gd", "adam"])
def test_weighted_mini_batches_equal_numpy(backend, to_backend, replay, optimizer):
    """Mini-batches with dropout: the same results on every backend, compiled epochs (JAX) or
    step by step, as on NumPy; float32 too."""
    Y = _labels("softmax")
    kw = dict(output="softmax", optimizer=optimizer, batch_size=7, learning_rate=0.05, num_epochs=4,
              keep_prob=0.8, sample_weight=WEIGHTS)  # fmt: skip
    ref, h_ref = dnn.fit(X_HOST, Y, _dims("softmax"), backend="numpy", **kw)
    got, h_got = dnn.fit(to_backend(X_HOST), Y, _dims("softmax"), replay=replay, **kw)
    _assert_close(got, ref, 1e-12)
    np.testing.assert_allclose(h_got["cost"], h_ref["cost"], rtol=0, atol=1e-12)
    w32 = to_backend(WEIGHTS.astype(np.float32))
    got32, _ = dnn.fit(to_backend(X_HOST.astype(np.float32)), Y, _dims("softmax"), replay=replay,
                       **{**kw, "sample_weight": w32})  # fmt: skip
    assert got32["W1"].dtype == backend.xp.float32
    _assert_close(got32, ref, 1e-4)


def test_compiled_epoch_equals_step_by_step_with_weights(backend):
    """JAX runs a weighted mini-batch epoch as one program: the step scanned over the batches,
    each gathering its weights with its labels. It gives what the per-step path gives."""
    if not backend.replays_epochs:
        pytest.skip(f"{backend.name} runs every epoch step by step")
    Y = _labels("multilabel")
    kw = dict(output="multilabel", optimizer="adam", batch_size=8, learning_rate=0.05, num_epochs=5,
              keep_prob=0.9, sample_weight=WEIGHTS, backend=backend)  # fmt: skip
    compiled, h_compiled = dnn.fit(X_HOST, Y, _dims("multilabel"), replay=True, **kw)
    stepped, h_stepped = dnn.fit(X_HOST, Y, _dims("multilabel"), replay=False, **kw)
    _assert_close(compiled, stepped, 1e-12)
    np.testing.assert_allclose(h_compiled["cost"], h_stepped["cost"], rtol=0, atol=1e-12)


def test_dask_chunks_count_by_their_share_of_the_weight(backend):
    """On Dask a batch's chunks each compute their own weighted mean; combined by their shares of
    the batch's weight they give the batch's (one chunk here holds only zero weights)."""
    if backend.name != "dask":
        pytest.skip("Dask's chunked step")
    import dask.array as da

    Y = _labels("sigmoid")
    w = WEIGHTS.copy()
    w[10:20] = 0
    X = da.from_array(X_HOST, chunks=(4, 10))
    for batch_size in (None, 12):
        kw = dict(optimizer="adam", batch_size=batch_size, learning_rate=0.05, num_epochs=4, sample_weight=w)
        got, h_got = dnn.fit(X, Y, _dims("sigmoid"), **kw)
        ref, h_ref = dnn.fit(X_HOST, Y, _dims("sigmoid"), backend="numpy", **kw)
        _assert_close(got, ref, 1e-12)
        np.testing.assert_allclose(h_got["cost"], h_ref["cost"], rtol=0, atol=1e-12)


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("weights", "error", "match"),
    [
        (np.ones(29), ValueError, r"sample_weight has shape \(29,\), expected \(30,\) or \(1, 30\)"),
        (np.ones((30, 1)), ValueError, r"sample_weight has shape \(30, 1\)"),
        (np.ones((2, 30)), ValueError, r"sample_weight has shape \(2, 30\)"),
        (np.float64(1.0), ValueError, r"sample_weight has shape \(\)"),
        (np.r_[np.ones(29), -0.5], ValueError, r"sample_weight must be >= 0, found -0.5 at \[29\]"),
        (np.r_[np.ones(5), np.nan, np.ones(24)], ValueError, r"sample_weight contains NaN or infinity"),
        (np.r_[np.inf, np.ones(29)], ValueError, r"sample_weight contains NaN or infinity"),
        (np.zeros(30), ValueError, r"sample_weight is zero for every example"),
        (np.array(["1"] * 30), TypeError, r"sample_weight must be a numeric array"),
        (np.ones(30, dtype=complex), TypeError, r"sample_weight must hold real numbers"),
        ({"a": 1}, TypeError, r"sample_weight must be an array of 30 weights"),
        (2.0, TypeError, r"sample_weight must be an array of 30 weights"),
    ],
)
def test_bad_weights_are_refused(backend, to_backend, weights, error, match):
    Y = _labels("sigmoid")
    given = to_backend(weights) if isinstance(weights, np.ndarray) and weights.dtype.kind == "f" else weights
    with pytest.raises(error, match="fit: " + match):
        dnn.fit(X_HOST, Y, _dims("sigmoid"), sample_weight=given, num_epochs=1, backend=backend)


def test_a_held_out_share_without_weight_is_refused(backend):
    w = np.zeros(30)
    w[np.random.RandomState(0).permutation(30)[10:]] = 1  # only the training columns weigh
    with pytest.raises(ValueError, match="fit: sample_weight is zero for every held-out example"):
        dnn.fit(X_HOST, _labels("sigmoid"), _dims("sigmoid"), sample_weight=w, validation_fraction=0.3,
                num_epochs=1, backend=backend)  # fmt: skip


# ------------------------------------------------------------------ the step and its kernels


@pytest.mark.parametrize("output", OUTPUTS)
def test_weighted_step_is_the_step_over_repeated_columns(backend, output):
    """Step.gradients on (X, Y, w, *masks) equals it on the columns repeated by w (masks too)."""
    rng = np.random.RandomState(2)
    Y = _labels(output, 12, seed=3)
    X = rng.randn(4, 12)
    masks = [(rng.rand(5, 12) < 0.8).astype(np.float64)]
    w = rng.randint(0, 3, 12)
    w[0] = 2
    dims = _dims(output)
    params = flatten(dnn.initialize_parameters_deep(dims, init="he", seed=1, backend=backend))
    ops = backend.ops(backend.xp.float64)
    network = Network("tanh", output, keep_prob=0.8)
    weighted = Step(ops, network, GD(), weighted=True)
    plain = Step(ops, network, GD())
    cost, grads = weighted.gradients(params, *(backend.asarray(a) for a in (X, Y, w[None, :] * 1.0, *masks)))
    rep = [backend.asarray(np.repeat(a, w, axis=1)) for a in (X, Y, *masks)]
    cost_rep, grads_rep = plain.gradients(params, *rep)
    assert float(cost) == pytest.approx(float(cost_rep), rel=1e-12)
    for g, r in zip(grads, grads_rep):
        np.testing.assert_allclose(dnn.to_numpy(g), dnn.to_numpy(r), rtol=0, atol=1e-12)


def test_a_batch_of_zero_weights_moves_nothing(backend):
    rng = np.random.RandomState(3)
    X, Y = backend.asarray(rng.randn(4, 6)), backend.asarray((rng.rand(1, 6) > 0.5) * 1.0)
    params = dnn.initialize_parameters_deep(_dims("sigmoid"), seed=2, backend=backend)
    step = Step(backend.ops(backend.xp.float64), Network(), GD(), weighted=True)
    state = new_state(step.ops, params, GD())
    (moved,), cost = step(state, (X, Y, backend.asarray(np.zeros((1, 6)))), (0.5, 1, 6))
    assert float(cost) == 0.0
    for before, after in zip(flatten(params), moved):
        np.testing.assert_array_equal(dnn.to_numpy(after), dnn.to_numpy(before))


@pytest.mark.parametrize("output", OUTPUTS)
def test_backend_weight_kernels_equal_the_array_api_kernels(backend, output):
    """A backend's own kernels (in place, fused) weigh as the plain Array API kernels do."""
    rng = np.random.RandomState(4)
    xp = backend.xp
    fast = backend.ops(xp.float64)
    plain = Ops(xp, xp.float64, backend.device, inplace=False)
    k = 1 if output == "sigmoid" else 3
    Z = backend.asarray(rng.randn(k, 9))
    Y = backend.asarray(_labels(output, 9, seed=5)[:k])
    w = backend.asarray(rng.rand(1, 9) * 3)
    zeros = backend.asarray(np.zeros((1, 9)))
    for name, args in [
        ("batch_weights", lambda: (w,)),
        ("batch_weights", lambda: (zeros,)),
        ("weigh", lambda: (xp.asarray(Z, copy=True), plain.batch_weights(w))),
        (
            "cost",
            lambda: (
                plain.probabilities(xp.asarray(Z, copy=True), output),
                Y,
                output,
                plain.batch_weights(w),
            ),
        ),
    ]:
        got, want = getattr(fast, name)(*args()), getattr(plain, name)(*args())
        np.testing.assert_allclose(dnn.to_numpy(got), dnn.to_numpy(want), rtol=0, atol=1e-12, err_msg=name)
    u = dnn.to_numpy(fast.batch_weights(w))
    np.testing.assert_allclose(u, dnn.to_numpy(w) * 9 / dnn.to_numpy(w).sum(), rtol=1e-14)
    assert not np.any(dnn.to_numpy(fast.batch_weights(zeros)))
    # The gradients of a weighted step with the backend's kernels, against the plain kernels'.
    params = flatten(dnn.initialize_parameters_deep([9, 4, k], seed=3, backend=backend))
    X = backend.asarray(rng.randn(9, 9))
    got = Step(fast, Network("relu", output), GD(), weighted=True).gradients(params, X, Y, w)
    want = Step(plain, Network("relu", output), GD(), weighted=True).gradients(params, X, Y, w)
    for g, r in zip([got[0], *got[1]], [want[0], *want[1]]):
        np.testing.assert_allclose(dnn.to_numpy(g), dnn.to_numpy(r), rtol=0, atol=1e-12)


# ------------------------------------------------------------------ scikit-learn


def _iris():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("labels", ["ints", "strings"])
def test_class_weight_is_compute_class_weight(backend, labels):
    """class_weight="balanced" and a dict train as the sample weights scikit-learn's
    compute_class_weight gives (balanced counts weighted by sample_weight, as there)."""
    pytest.importorskip("sklearn")
    from sklearn.utils.class_weight import compute_class_weight

    from portable_dnn.sklearn import DNNClassifier

    X, y = _iris()
    keep = np.r_[0:50, 50:70, 100:150]  # unbalanced: 50, 20, 50
    X, y = X[keep], y[keep]
    if labels == "strings":
        y = np.array(["setosa", "versicolor", "virginica"])[y]
    classes = np.unique(y)
    index = np.searchsorted(classes, y)
    sw = np.random.RandomState(0).rand(len(y)) * 2
    kw = dict(hidden_layer_sizes=(5,), epochs=5, batch_size=32, backend=backend.name)

    def params(est):
        return _host(est.parameters_)

    for class_weight, sample_weight in [("balanced", None), ("balanced", sw), ({classes[1]: 4.0}, sw)]:
        per_class = compute_class_weight(class_weight, classes=classes, y=y, sample_weight=sample_weight)
        expected = per_class[index] * (1 if sample_weight is None else sample_weight)
        got = DNNClassifier(class_weight=class_weight, **kw).fit(X, y, sample_weight=sample_weight)
        want = DNNClassifier(**kw).fit(X, y, sample_weight=expected)
        _assert_close(params(got), params(want), 1e-12, f"{class_weight}: ")
    balanced = compute_class_weight("balanced", classes=classes, y=y)
    np.testing.assert_allclose(balanced, len(y) / (3 * np.bincount(index)))
    unweighted = DNNClassifier(**kw).fit(X, y)
    assert np.max(np.abs(params(unweighted)["W1"] - params(got)["W1"])) > 1e-3  # the weights matter


def test_class_weight_errors():
    from portable_dnn.sklearn import DNNClassifier

    X, y = _iris()
    with pytest.raises(ValueError, match=r"class_weight names labels that are not classes: \[7\]"):
        DNNClassifier(class_weight={0: 2.0, 7: 1.0}, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"class_weight\[1\] must be a finite number >= 0, got -1"):
        DNNClassifier(class_weight={1: -1}, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="class_weight must be None, 'balanced' or a dict"):
        DNNClassifier(class_weight="even", epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="partial_fit: class_weight='balanced' would balance each call"):
        DNNClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="leave every sample with weight zero"):
        DNNClassifier(class_weight={0: 0, 1: 0, 2: 0}, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="y is multi-label"):
        DNNClassifier(class_weight={0: 2.0}, epochs=1).fit(X, np.eye(3)[y].astype(int))
    with pytest.raises(ValueError, match=r"DNNClassifier.fit: sample_weight has shape \(3,\)"):
        DNNClassifier(epochs=1).fit(X, y, sample_weight=[1, 2, 3])
    with pytest.raises(ValueError, match="DNNClassifier.fit: sample_weight is zero for every example"):
        DNNClassifier(epochs=1).fit(X, y, sample_weight=np.zeros(150))


@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_estimators_weigh_samples(backend, estimator):
    """fit and partial_fit take sample_weight: integer weights train as repeated rows (full batch),
    n calls of partial_fit equal fit with epochs=n, and score weighs as scikit-learn's metrics."""
    pytest.importorskip("sklearn")
    from sklearn.metrics import accuracy_score, r2_score

    from portable_dnn.sklearn import DNNClassifier, DNNRegressor

    X, y = _iris()
    Estimator = DNNClassifier if estimator == "classifier" else DNNRegressor
    if Estimator is DNNRegressor:
        y = X[:, 0] - 2 * X[:, 3]
    w = np.random.RandomState(1).randint(0, 3, len(y))
    kw = dict(hidden_layer_sizes=(6,), epochs=4, batch_size=None, optimizer="gd", learning_rate=0.1,
              backend=backend.name)  # fmt: skip
    weighted = Estimator(**kw).fit(X, y, sample_weight=w)
    repeated = Estimator(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    _assert_close(_host(weighted.parameters_), _host(repeated.parameters_), 1e-10)
    parts = Estimator(**{**kw, "batch_size": 32, "optimizer": "adam"})
    for _ in range(4):
        parts.partial_fit(
            X, y, sample_weight=w, **({"classes": [0, 1, 2]} if estimator == "classifier" else {})
        )
    whole = Estimator(**{**kw, "batch_size": 32, "optimizer": "adam"}).fit(X, y, sample_weight=w)
    assert parts.history_["cost"] == whole.history_["cost"]
    _assert_close(_host(parts.parameters_), _host(whole.parameters_), 0.0)
    metric = accuracy_score if estimator == "classifier" else r2_score
    score = weighted.score(X, y, sample_weight=w)
    assert score == pytest.approx(
        metric(np.repeat(y, w), weighted.predict(np.repeat(X, w, axis=0))), rel=1e-12
    )


def test_weights_in_X_namespace_with_dispatch(backend, to_backend, monkeypatch):
    """With array_api_dispatch, weights of X's library train on X's backend as host weights do."""
    if backend.name in ("numpy", "jax", "dask"):
        pytest.skip("scikit-learn's array-API validation is checked with torch and array-api-strict arrays")
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    sklearn = pytest.importorskip("sklearn")

    from portable_dnn.backend import namespace_of
    from portable_dnn.sklearn import DNNClassifier

    X, y = _iris()
    w = np.random.RandomState(2).rand(len(y))
    kw = dict(hidden_layer_sizes=(6,), epochs=3, class_weight="balanced")
    with sklearn.config_context(array_api_dispatch=True):
        clf = DNNClassifier(**kw).fit(to_backend(X), to_backend(y), sample_weight=to_backend(w))
        assert namespace_of(clf.parameters_["W1"]) is backend.xp
    ref = DNNClassifier(**kw).fit(X, y, sample_weight=w)
    _assert_close(_host(clf.parameters_), _host(ref.parameters_), 1e-9)
