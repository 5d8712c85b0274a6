"""Data that would give a wrong answer is refused at the public entry point, with a message naming it.

NaN or infinity in the examples, labels other than 0/1, one-hot labels that are
not one-hot, complex, string or object arrays, seeds NumPy cannot take, empty
data, caches that lost a layer: each is a ``ValueError`` or ``TypeError`` naming
the function and the argument. The course-named functions (``compute_cost``,
``L_model_backward``, ``two_layer_model``, ``L_layer_model``) warn on labels
other than 0/1 instead, and compute the course's formula.
"""

import contextlib
import math
import re

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn import cli
from portable_dnn.fit import fit, forward_proba, predict_labels


def _data(m=8, n=3, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(n, m), (np.arange(m) % 2).reshape(1, m).astype(np.float64)


def _with(a, index, value):
    a = np.array(a, dtype=np.result_type(a, np.asarray(value)))
    a[index] = value
    return a


def _fit(backend, X, Y, dims=(3, 2, 1), **kw):
    kw.setdefault("num_epochs", 1)
    return fit(X, Y, list(dims), backend=backend, **kw)


def _params(backend, dims=(3, 2, 1)):
    return dnn.initialize_parameters_deep(list(dims), init="he", backend=backend)


# ------------------------------------------------------------------ examples


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_examples_are_refused_everywhere(backend, value):
    X, Y = _data()
    bad = _with(X, (1, 5), value)
    found = re.escape(f"({float(value)!r} at [1, 5])")
    with pytest.raises(ValueError, match=r"^fit: X contains NaN or infinity " + found):
        _fit(backend, bad, Y)
    with pytest.raises(ValueError, match=r"^fit: validation_data\[0\] contains NaN or infinity " + found):
        _fit(backend, X, Y, validation_data=(bad, Y))
    params = _params(backend)
    with pytest.raises(ValueError, match=r"^predict: X contains NaN or infinity " + found):
        dnn.predict(bad, None, params)
    moved = backend.asarray(bad)
    with pytest.raises(ValueError, match=r"^forward_proba: X contains NaN or infinity " + found):
        forward_proba(moved, params)
    with pytest.raises(ValueError, match=r"^predict_labels: X contains NaN or infinity " + found):
        predict_labels(moved, params)
    for train in (dnn.two_layer_model, dnn.L_layer_model):
        with pytest.raises(ValueError, match=rf"^{train.__name__}: X contains NaN or infinity " + found):
            train(bad, Y, (3, 2, 1), num_iterations=1, backend=backend)


def test_finite_extremes_are_accepted_and_bad_values_found_among_them(backend):
    """The check looks at X's extremes first: the largest finite values pass; a NaN or an
    infinity beside them is still found and named."""
    X, Y = _data()
    big = np.finfo(np.float64).max
    X[0, 0], X[1, 1] = big, -big
    with contextlib.suppress(dnn.TrainingDiverged):  # such inputs overflow the network: data, though
        _fit(backend, X, Y)
    for value in (np.nan, np.inf, -np.inf):
        found = re.escape(f"fit: X contains NaN or infinity ({float(value)!r} at [2, 7])")
        with pytest.raises(ValueError, match=found):
            _fit(backend, _with(X, (2, 7), value), Y)


NOT_NUMERIC = r"X must be a numeric array \(bool, integer or floating\), got dtype "


@pytest.mark.parametrize(
    "X, message",
    [
        (np.ones((3, 4)) + 1j, r"X must hold real numbers, got complex dtype complex128"),
        (np.full((3, 4), "1.5"), NOT_NUMERIC + "<U3"),
        (np.ones((3, 4), dtype=object), NOT_NUMERIC + "object"),
    ],
)
def test_complex_string_and_object_examples_are_refused_before_any_cast(backend, X, message):
    Y = np.array([[0, 1, 0, 1]])
    with pytest.raises(TypeError, match="^fit: " + message):
        _fit(backend, X, Y)
    if X.dtype != object:  # a list of Python floats is numbers
        with pytest.raises(TypeError, match="^fit: " + message):
            _fit(backend, X.tolist(), Y)  # lists too
    with pytest.raises(TypeError, match="^predict: " + message):
        dnn.predict(X, Y, _params(backend))
    with pytest.raises(TypeError, match="^L_layer_model: " + message):
        dnn.L_layer_model(X, Y, (3, 1), num_iterations=1, backend=backend)
    with pytest.raises(TypeError, match="^fit: Y must hold real numbers"):
        _fit(backend, np.ones((3, 4)), Y + 0j)


def test_complex_arrays_of_the_backend_are_refused(backend, xp):
    try:
        Xc = xp.asarray(np.ones((3, 4)) + 1j, device=backend.device)
    except (TypeError, ValueError):  # pragma: no cover - a library without complex arrays
        pytest.skip(f"{backend.name} has no complex arrays")
    with pytest.raises(TypeError, match="^linear_forward: A must hold real numbers, got complex dtype"):
        dnn.linear_forward(Xc, backend.asarray(np.ones((1, 3))), backend.asarray(np.zeros((1, 1))))
    with pytest.raises(TypeError, match="^sigmoid: Z must hold real numbers"):
        dnn.sigmoid(Xc)
    with pytest.raises(TypeError, match="^forward_proba: X must hold real numbers"):
        forward_proba(Xc, _params(backend))
    with pytest.raises(TypeError, match="^fit: X must hold real numbers"):
        _fit(backend, Xc, np.array([[0, 1, 0, 1]]))


# -------------------------------------------------------------------- labels


@pytest.mark.parametrize("label", [2.0, -1.0, np.nan, 0.5])
def test_labels_other_than_0_and_1_are_refused(backend, label):
    X, Y = _data()
    bad = _with(Y, (0, 3), label)
    found = re.escape(f"found {float(label)!r} at [0, 3]")
    with pytest.raises(ValueError, match=r"^fit: Y must hold labels 0 or 1 only, " + found):
        _fit(backend, X, bad)
    with pytest.raises(ValueError, match=r"^fit: Y must hold labels 0 or 1 only, " + found):
        _fit(backend, X, bad.ravel())  # (m,) labels too
    with pytest.raises(
        ValueError, match=r"^fit: validation_data\[1\] must hold labels 0 or 1 only, " + found
    ):
        _fit(backend, X, Y, validation_data=(X, bad))
    params = _params(backend)
    with pytest.raises(ValueError, match=r"^predict: y must hold labels 0 or 1 only, " + found):
        dnn.predict(X, bad, params, print_accuracy=False)
    p = dnn.predict(X, None, params)
    with pytest.raises(ValueError, match=r"^accuracy: y must hold labels 0 or 1 only, " + found):
        dnn.accuracy(p, bad)
    with pytest.raises(ValueError, match=r"^accuracy: predictions must hold labels 0 or 1 only, " + found):
        dnn.accuracy(backend.asarray(bad), Y)


def test_softmax_labels_that_are_not_one_hot_are_refused(backend):
    X, _ = _data()
    Y = np.zeros((3, 8))
    Y[np.arange(8) % 3, np.arange(8)] = 1
    dims = (3, 4, 3)
    _fit(backend, X, Y, dims, output="softmax")  # one-hot: accepted
    with pytest.raises(
        ValueError,
        match=re.escape("fit: Y must be one-hot (0s and 1s, one 1 per column), found 2.0 at [1, 4]"),
    ):
        _fit(backend, X, _with(Y, (1, 4), 2.0), dims, output="softmax")
    three = Y.copy()
    three[:, 5] = 1
    with pytest.raises(
        ValueError, match=re.escape("fit: Y must be one-hot (one 1 per column), but column 5 holds 3 ones")
    ):
        _fit(backend, X, three, dims, output="softmax")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "fit: validation_data[1] must be one-hot (one 1 per column), but column 0 holds 0 ones"
        ),
    ):
        _fit(backend, X, Y, dims, output="softmax", validation_data=(X, _with(Y, (0, 0), 0.0)))
    with pytest.raises(
        ValueError, match=re.escape("fit: Y must hold whole-number class indices, found nan at [2]")
    ):
        _fit(backend, X, _with(np.arange(8) % 3, 2, np.nan), dims, output="softmax")
    with pytest.raises(
        ValueError, match=re.escape("fit: Y must hold whole-number class indices, found inf at [2]")
    ):
        _fit(backend, X, _with(np.arange(8) % 3, 2, np.inf), dims, output="softmax")
    AL = backend.asarray(np.full((3, 8), 1 / 3))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "compute_cost_softmax: Y must be one-hot (one 1 per column), but column 5 holds 3 ones"
        ),
    ):
        dnn.compute_cost_softmax(AL, backend.asarray(three))


@pytest.mark.parametrize("label", [2.0, -1.0])
def test_course_named_functions_warn_and_compute_the_formula(backend, label):
    AL = backend.asarray(np.array([[0.25, 0.5, 0.75]]))
    Y = backend.asarray(np.array([[1.0, label, 0.0]]))
    with pytest.warns(
        UserWarning, match=rf"compute_cost: Y holds labels other than 0 and 1 \(first: {label}\)"
    ):
        cost = dnn.compute_cost(AL, Y)
    a, y = np.array([0.25, 0.5, 0.75]), np.array([1.0, label, 0.0])
    assert cost == pytest.approx(-np.mean(y * np.log(a) + (1 - y) * np.log(1 - a)), rel=1e-14)
    X = backend.asarray(np.ones((2, 3)))
    AL, caches = dnn.L_model_forward(X, _params(backend, (2, 1)))
    with pytest.warns(UserWarning, match=r"L_model_backward: Y holds labels other than 0 and 1"):
        dnn.L_model_backward(AL, Y, caches)
    with pytest.warns(
        UserWarning, match=r"compute_cost_with_regularization: Y holds labels other than 0 and 1"
    ):
        dnn.compute_cost_with_regularization(AL, Y, _params(backend, (2, 1)), 0.1)


# ------------------------------------------------------------------- caches


def test_L_model_backward_refuses_caches_that_lost_layers(backend):
    X = backend.asarray(np.random.RandomState(0).randn(4, 5))
    params = _params(backend, (4, 3, 2, 1))
    AL, caches = dnn.L_model_forward(X, params)
    Y = backend.asarray(np.array([[0.0, 1.0, 1.0, 0.0, 1.0]]))
    grads = dnn.L_model_backward(AL, Y, caches)
    assert [tuple(grads[f"dW{l}"].shape) for l in (1, 2, 3)] == [(3, 4), (2, 3), (1, 2)]
    with pytest.raises(
        ValueError,
        match=re.escape(
            "L_model_backward: caches[0] is the cache of layer 2 of the 3 L_model_forward returned, "
            "but it is at position 0 of 2; pass the whole list, in order"
        ),
    ):
        dnn.L_model_backward(AL, Y, caches[1:])  # would return W2's gradient as dW1
    with pytest.raises(
        ValueError, match=r"L_model_backward: caches\[0\] is the cache of layer 1 of the 3 .* 0 of 2"
    ):
        dnn.L_model_backward(AL, Y, caches[:-1])
    with pytest.raises(ValueError, match=r"L_model_backward: caches\[0\] is the cache of layer 3 of the 3"):
        dnn.L_model_backward(AL, Y, caches[::-1])
    # Hand-built caches (plain tuples) are checked by the shape chain.
    plain = [tuple(c) for c in caches]
    with pytest.raises(
        ValueError,
        match=r"L_model_backward: caches\[1\]'s W has shape \(1, 2\), but caches\[0\]'s W has 3 rows",
    ):
        dnn.L_model_backward(AL, Y, [plain[0], plain[2]])
    with pytest.raises(ValueError, match=r"L_model_backward: AL has shape \(1, 5\), expected \(2, 5\)"):
        dnn.L_model_backward(AL, Y, plain[:-1])
    with pytest.raises(
        ValueError, match=r"L_model_backward: caches\[1\] must be a tuple \(\(A_prev, W, b\), Z\), got str"
    ):
        dnn.L_model_backward(AL, Y, [plain[0], "cache"])


# -------------------------------------------------------- numbers and seeds


@pytest.mark.parametrize("scale", [math.nan, math.inf, -0.01, 0.0])
def test_initialize_parameters_deep_scale_must_be_positive_and_finite(backend, scale):
    with pytest.raises(
        ValueError, match=rf"initialize_parameters_deep: scale must be a positive finite number, got {scale}"
    ):
        dnn.initialize_parameters_deep([3, 2, 1], scale=scale, backend=backend)


def test_seeds_name_the_range_numpy_takes(backend):
    top = 2**32 - 1
    for seed in (-1, 2**32):
        with pytest.raises(
            ValueError,
            match=rf"initialize_parameters_deep: seed must be an integer from 0 to {top} "
            rf"\(NumPy's seeds stop at 2\*\*32 - 1\), got {seed}",
        ):
            dnn.initialize_parameters_deep([3, 1], seed=seed, backend=backend)
    with pytest.raises(TypeError, match=r"initialize_parameters: seed must be an integer from 0 to"):
        dnn.initialize_parameters(3, 2, 1, seed=1.5, backend=backend)  # type: ignore[arg-type]
    assert dnn.initialize_parameters_deep([3, 1], seed=top, backend=backend)
    X, Y = _data()
    with pytest.raises(
        ValueError,
        match=rf"^fit: seed must be an integer from 0 to {top - 3} \(epoch e shuffles with seed \+ e \+ 1 "
        r"and NumPy's seeds stop at 2\*\*32 - 1; num_epochs=3\), got 4294967293",
    ):
        _fit(backend, X, Y, num_epochs=3, batch_size=4, seed=top - 2)
    _fit(backend, X, Y, num_epochs=3, batch_size=4, seed=top - 3)  # the largest that works
    with pytest.raises(ValueError, match=r"^fit: init_seed must be an integer from 0 to"):
        _fit(backend, X, Y, init_seed=2**32)
    with pytest.raises(ValueError, match=r"^random_mini_batches: seed must be an integer from 0 to"):
        dnn.random_mini_batches(backend.asarray(X), backend.asarray(Y), 4, seed=2**32)


def test_layer_sizes_no_array_can_hold(backend):
    with pytest.raises(
        ValueError,
        match=r"initialize_parameters_deep: layer_dims \[3, 100000000000000000000, 1\] asks for W1 of "
        r"100000000000000000000 x 3 = 3e\+20 values, more than an array can hold",
    ):
        dnn.initialize_parameters_deep([3, 10**20, 1], backend=backend)
    with pytest.raises(ValueError, match=r"^fit: layers_dims \[3, 10000000000, 10000000000, 1\] asks for W2"):
        _fit(backend, *_data(), dims=(3, 10**10, 10**10, 1))


def test_empty_inputs_are_named_not_divided_by(backend):
    empty = backend.asarray(np.ones((1, 0)))
    with pytest.raises(ValueError, match=r"^compute_cost: AL has no examples \(shape \(1, 0\)\)"):
        dnn.compute_cost(empty, empty)
    with pytest.raises(
        ValueError, match=r"^linear_backward: cache's A_prev has no examples \(shape \(3, 0\)\)"
    ):
        dnn.linear_backward(empty, (backend.asarray(np.ones((3, 0))), *_params(backend, (3, 1)).values()))
    with pytest.raises(ValueError, match=r"^compute_cost_softmax: AL has no examples"):
        dnn.compute_cost_softmax(backend.asarray(np.ones((2, 0))), backend.asarray(np.ones((2, 0))))
    with pytest.raises(ValueError, match=r"^accuracy: predictions has no examples"):
        dnn.accuracy(empty, empty)
    for print_accuracy in (True, False):
        with pytest.raises(ValueError, match=r"^predict: X has no examples"):
            dnn.predict(np.ones((3, 0)), np.ones((1, 0)), _params(backend), print_accuracy)
    with pytest.raises(ValueError, match=r"^fit: X has no examples \(shape \(3, 0\)\)"):
        _fit(backend, np.ones((3, 0)), np.ones((1, 0)))


def test_gradients_must_be_a_dict_of_real_arrays(backend):
    params = _params(backend, (2, 1))
    with pytest.raises(
        TypeError, match=r"^update_parameters: grads must be a dict of 'dW1', 'db1', \.\.\., got NoneType"
    ):
        dnn.update_parameters(params, None, 0.1)  # type: ignore[arg-type]
    grads = {"dW1": np.ones((1, 2)) * 1j, "db1": np.ones((1, 1))}
    with pytest.raises(
        TypeError, match=r"^update_parameters: grads\['dW1'\] must hold real numbers, got complex"
    ):
        dnn.update_parameters({k: dnn.to_numpy(v) for k, v in params.items()}, grads, 0.1)
    v = dnn.initialize_velocity(params)
    ints = {"dW1": backend.asarray(np.ones((1, 2), dtype=np.int64)), "db1": v["db1"]}
    with pytest.raises(
        TypeError, match=r"^update_parameters_with_momentum: grads\['dW1'\] must be a floating-point"
    ):
        dnn.update_parameters_with_momentum(params, ints, v, 0.9, 0.1)
    with pytest.raises(
        TypeError, match=r"^update_parameters_with_adam: grads\['dW1'\] must be an array, got list"
    ):
        dnn.update_parameters_with_adam(params, {"dW1": [[1.0, 1.0]], "db1": v["db1"]}, v, v, 1)


# -------------------------------------------------------------- DNNClassifier


def test_classifier_checks(backend):
    pytest.importorskip("sklearn")
    from portable_dnn.sklearn import DNNClassifier

    X, y = _data(m=12)
    X, y = X.T, y.ravel().astype(int)
    clf = DNNClassifier(hidden_layer_sizes="20", epochs=1, backend=backend.name)  # sklearn: checked at fit
    with pytest.raises(
        TypeError,
        match=r"^DNNClassifier.fit: hidden_layer_sizes must be a positive integer or a tuple of them, "
        r"such as \(20, 7\), got '20'",
    ):
        clf.fit(X, y)
    with pytest.raises(ValueError, match=r"^DNNClassifier.fit: hidden_layer_sizes must be .*got \(4, 0\)"):
        DNNClassifier(hidden_layer_sizes=(4, 0), epochs=1).fit(X, y)
    with pytest.raises(TypeError, match=r"^DNNClassifier.fit: batch_size must be an integer >= 1, got '8'"):
        DNNClassifier(batch_size="8", epochs=1).fit(X, y)
    with pytest.raises(TypeError, match=r"^DNNClassifier.fit: random_state must be an integer >= 0"):
        DNNClassifier(random_state=np.random.RandomState(0), epochs=1).fit(X, y)
    for value in (np.nan, np.inf):
        with pytest.raises(
            ValueError, match=rf"^DNNClassifier.fit: X contains NaN or infinity \({value} at \[3, 1\]\)"
        ):
            DNNClassifier(epochs=1, backend=backend.name).fit(_with(X, (3, 1), value), y)
    with pytest.raises(TypeError, match=r"^DNNClassifier.fit: X must hold numbers, got dtype <U"):
        DNNClassifier(epochs=1).fit(X.astype(str), y)
    with pytest.raises(TypeError, match=r"^DNNClassifier.fit: X must hold numbers, got dtype <U"):
        DNNClassifier(epochs=1).fit(X.astype(str).tolist(), y)
    with pytest.raises(
        TypeError, match=r"^DNNClassifier.fit: X must hold numbers, got dtype object with strings"
    ):
        DNNClassifier(epochs=1).fit(_with(X.astype(object), (0, 0), "0.5"), y)
    with pytest.raises(ValueError, match=r"^DNNClassifier.fit: y contains NaN or infinity"):
        DNNClassifier(epochs=1).fit(X, _with(y, 2, np.nan))
    # Labels are classes: -1 and 2 are two of them.
    fitted = DNNClassifier(hidden_layer_sizes=(3,), epochs=2, backend=backend.name).fit(
        X, np.where(y == 1, 2, -1)
    )
    assert fitted.classes_.tolist() == [-1, 2]
    with pytest.raises(
        ValueError, match=r"^DNNClassifier.predict: X contains NaN or infinity \(nan at \[0, 2\]\)"
    ):
        fitted.predict(_with(X, (0, 2), np.nan))
    with pytest.raises(ValueError, match=r"^DNNClassifier.predict_proba: X contains NaN or infinity"):
        fitted.predict_proba(_with(X, (0, 2), -np.inf))


# -------------------------------------------------------------- command line


@pytest.mark.default_backend
def test_cli_predict_refuses_non_finite_examples(tmp_path, capsys):
    model = str(tmp_path / "m.npz")
    assert cli.main(["train", "--iterations", "2", "--quiet", "--out", model]) == 0
    X = np.zeros((2, 4))
    X[1, 2] = np.nan
    np.savez(tmp_path / "nan.npz", X=X, Y=np.array([[0, 1, 0, 1]]))
    capsys.readouterr()
    assert cli.main(["predict", model, "--data", str(tmp_path / "nan.npz")]) == 1
    assert capsys.readouterr().err == (
        "portable-dnn: error: the train examples of nan.npz contain NaN or infinity "
        "(nan in feature 1 of example 2)\n"
    )


# ------------------------------------------------------------- out of core


def _store(tmp_path, X, Y, name="d.zarr"):
    zarr = pytest.importorskip("zarr")
    path = str(tmp_path / name)
    root = zarr.open_group(path, mode="w")
    root.create_array("X", data=X, chunks=(X.shape[0], 50))
    root.create_array("Y", data=Y, chunks=(1, 50))
    return path


@pytest.mark.library
@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_out_of_core_store_checks(tmp_path, scheduler):
    pytest.importorskip("dask")
    from portable_dnn.streaming import fit_out_of_core

    X, Y = _data(m=200)
    path = _store(tmp_path, _with(X, (2, 130), np.inf), Y, "inf.zarr")
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"fit_out_of_core: dataset 'X' of {path!r} contains NaN or infinity in examples 100 to 149"
        ),
    ):
        fit_out_of_core(path, [3, 2, 1], num_epochs=1, scheduler=scheduler)
    for label in (2.0, -1.0, np.nan):
        path = _store(tmp_path, X, _with(Y, (0, 77), label), f"y{label}.zarr")
        with pytest.raises(
            ValueError,
            match=re.escape(
                f"fit_out_of_core: dataset 'Y' of {path!r} must hold labels 0 or 1 only, "
                f"found {label!r} at [0, 77]"
            ),
        ):
            fit_out_of_core(path, [3, 2, 1], num_epochs=1, scheduler=scheduler)
    params, history = fit_out_of_core(
        _store(tmp_path, X, Y, "ok.zarr"), [3, 2, 1], num_epochs=2, scheduler=scheduler
    )
    assert len(history["cost"]) == 2 and all(math.isfinite(c) for c in history["cost"])
