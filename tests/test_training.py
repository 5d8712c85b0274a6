"""two_layer_model, L_layer_model and predict: the course's published results, and the loop's contract."""

import signal

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.backend import backend_of

from .published import assert_printed


def _load_cat(paths):
    h5py = pytest.importorskip("h5py")
    with h5py.File(paths[0], "r") as train, h5py.File(paths[1], "r") as test:
        X = np.array(train["train_set_x"]).reshape(209, -1).T / 255.0
        Y = np.array(train["train_set_y"]).reshape(1, -1)
        Xt = np.array(test["test_set_x"]).reshape(50, -1).T / 255.0
        Yt = np.array(test["test_set_y"]).reshape(1, -1)
    return X, Y, Xt, Yt


def _assert_cost(backend, value, printed):
    # NumPy must match every printed digit; other libraries sum in another order,
    # so they get 1e-9 on top.
    slack = 0.0 if backend.name == "numpy" else 1e-9
    decimals = len(printed.split(".")[1])
    assert abs(value - float(printed)) <= 0.5 * 10.0**-decimals + slack + 1e-15, (value, printed)


@pytest.mark.parametrize(
    "model, dims, published",
    [
        ("two_layer_model", (12288, 7, 1), ("0.693049735659989", "0.048554785628770", "1.0", "0.72")),
        (
            "L_layer_model",
            [12288, 20, 7, 5, 1],
            ("0.771749328424", "0.092878215265", "0.985645933014", "0.80"),
        ),
    ],
)
def test_cat_results_as_published(backend, cat_paths, capsys, model, dims, published):
    X, Y, Xt, Yt = _load_cat(cat_paths)
    if not backend.supports_gram:
        # Without the Gram form every iteration multiplies the 12288 features again (100x the
        # work): here the first 300 iterations, held to NumPy's, which holds all 2500 to the course.
        short, reference = (
            getattr(dnn, model)(X, Y, dims, learning_rate=0.0075, num_iterations=300, backend=be)
            for be in (backend, "numpy")
        )
        _assert_cost(backend, short[1][0], published[0])
        np.testing.assert_allclose(np.asarray(short[1], dtype=float), reference[1], rtol=0, atol=1e-9)
        for key, value in short[0].items():
            assert backend_of(value).name == backend.name
            np.testing.assert_allclose(dnn.to_numpy(value), reference[0][key], rtol=0, atol=1e-9)
        return
    params, costs = getattr(dnn, model)(
        X, Y, dims, learning_rate=0.0075, num_iterations=2500, backend=backend
    )
    assert len(costs) == 25
    _assert_cost(backend, costs[0], published[0])
    _assert_cost(backend, costs[24], published[1])
    assert costs[-1] < costs[0] / 7  # not monotonic: the course's L-layer cost rises at 900
    for value in params.values():
        assert backend_of(value).name == backend.name
    capsys.readouterr()
    p_train = dnn.predict(X, Y, params)
    p_test = dnn.predict(Xt, Yt, params)
    printed = capsys.readouterr().out.splitlines()
    assert_printed(dnn.accuracy(p_train, Y), published[2])
    assert_printed(dnn.accuracy(p_test, Yt), published[3])
    assert printed[0].startswith("Accuracy: ") and float(printed[0].split()[1]) == dnn.accuracy(p_train, Y)


def _plain_course_loop(backend, X, Y, dims, lr, n):
    """The course's L_layer_model written with the course's own functions."""
    params = dnn.initialize_parameters_deep(dims, init="xavier", seed=1, backend=backend)
    costs = []
    for i in range(n):
        AL, caches = dnn.L_model_forward(X, params)
        cost = dnn.compute_cost(AL, Y)
        grads = dnn.L_model_backward(AL, Y, caches)
        params = dnn.update_parameters(params, grads, lr)
        # A no-op but on a lazy backend (Dask), where it keeps the graph one iteration deep.
        params = dict(zip(params, backend.cut_graph(*params.values())))
        if i % 100 == 0:
            costs.append(cost)
    return params, costs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_training_loop_equals_course_loop(backend, seed):
    rng = np.random.RandomState(seed)
    dims = [12, 9, 5, 1]
    X = backend.asarray(rng.randn(12, 40))
    Y = backend.asarray((rng.rand(1, 40) > 0.5).astype(np.float64))
    # On Dask every iteration of the plain loop builds and computes a fresh task graph: one seed.
    if backend.name == "dask" and seed:
        pytest.skip("one seed on Dask, whose plain loop computes a task graph per operation")
    n = 101 if backend.name == "dask" else 250
    fast, fast_costs = dnn.L_layer_model(X, Y, dims, learning_rate=0.05, num_iterations=n, backend=backend)
    plain, plain_costs = _plain_course_loop(backend, X, Y, dims, 0.05, n)
    for key in plain:
        np.testing.assert_allclose(dnn.to_numpy(fast[key]), dnn.to_numpy(plain[key]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast_costs, plain_costs, rtol=0, atol=1e-12)


def test_dtype_follows_X_and_integer_X_is_cast(backend):
    rng = np.random.RandomState(3)
    Y = (rng.rand(1, 20) > 0.5).astype(np.int64)
    params32, costs32 = dnn.L_layer_model(
        rng.randn(4, 20).astype(np.float32), Y, [4, 3, 1], num_iterations=101, backend=backend
    )
    assert all(str(v.dtype).endswith("float32") for v in params32.values())
    images = rng.randint(0, 256, size=(4, 20)).astype(np.uint8)
    params_u8, costs_u8 = dnn.L_layer_model(images, Y, [4, 3, 1], num_iterations=2, backend=backend)
    assert all(str(v.dtype).endswith("float64") for v in params_u8.values())
    reference, _ = dnn.L_layer_model(
        images.astype(np.float64), Y, [4, 3, 1], num_iterations=2, backend=backend
    )
    for key in reference:
        np.testing.assert_array_equal(dnn.to_numpy(params_u8[key]), dnn.to_numpy(reference[key]))
    forced, _ = dnn.L_layer_model(images, Y, [4, 3, 1], num_iterations=2, backend=backend, dtype="float32")
    assert str(forced["W1"].dtype).endswith("float32")
    assert len(costs32) == 2 and costs32[1] < costs32[0]


def test_inputs_unchanged_by_training(backend):
    rng = np.random.RandomState(4)
    X = backend.asarray(rng.randn(3, 10))
    Y = backend.asarray((rng.rand(1, 10) > 0.5).astype(np.float64))
    init = dnn.initialize_parameters_deep([3, 2, 1], backend=backend)
    before = {k: dnn.to_numpy(v).copy() for k, v in init.items()}
    X_before = dnn.to_numpy(X).copy()
    dnn.L_layer_model(X, Y, [3, 2, 1], num_iterations=5, initial_parameters=init, backend=backend)
    for key, value in init.items():
        np.testing.assert_array_equal(dnn.to_numpy(value), before[key])
    np.testing.assert_array_equal(dnn.to_numpy(X), X_before)


def test_resume_gives_the_uninterrupted_result(backend):
    rng = np.random.RandomState(5)
    X, Y = rng.randn(5, 30), (rng.rand(1, 30) > 0.5).astype(np.int64)
    dims = [5, 4, 3, 1]
    full, full_costs = dnn.L_layer_model(X, Y, dims, learning_rate=0.1, num_iterations=230, backend=backend)
    first, first_costs = dnn.L_layer_model(X, Y, dims, learning_rate=0.1, num_iterations=117, backend=backend)
    resumed, resumed_costs = dnn.L_layer_model(
        X,
        Y,
        dims,
        learning_rate=0.1,
        num_iterations=230,
        backend=backend,
        initial_parameters=first,
        start_iteration=117,
        costs=first_costs,
    )
    assert resumed_costs == full_costs and len(full_costs) == 3
    for key in full:
        np.testing.assert_array_equal(dnn.to_numpy(resumed[key]), dnn.to_numpy(full[key]))


def test_callback_and_ctrl_c_stop_after_a_whole_iteration(backend, python_sigint):
    rng = np.random.RandomState(6)
    X, Y = rng.randn(4, 16), (rng.rand(1, 16) > 0.5).astype(np.int64)
    seen = []

    def callback(state):
        seen.append((state.iteration, state.last_cost))
        if state.iteration == 7:
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(dnn.TrainingInterrupted) as info:
        dnn.L_layer_model(X, Y, [4, 3, 1], num_iterations=50, backend=backend, callback=callback)
    state = info.value.state
    assert isinstance(info.value, KeyboardInterrupt)
    assert state.iteration == 7 and [i for i, _ in seen] == list(range(1, 8))
    reference, _ = dnn.L_layer_model(X, Y, [4, 3, 1], num_iterations=7, backend=backend)
    snap = state.snapshot()
    for key in reference:
        np.testing.assert_array_equal(dnn.to_numpy(snap[key]), dnn.to_numpy(reference[key]))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_divergence_names_the_iteration(backend):
    rng = np.random.RandomState(8)
    X, Y = rng.randn(3, 20) * 1e150, (rng.rand(1, 20) > 0.5).astype(np.int64)
    # The first step already drives the weights past the dtype's bound (1.16e77 in float64):
    # the check after it names iteration 0, on a GPU too (iteration 0 is a recorded one).
    with pytest.raises(
        dnn.TrainingDiverged,
        match=r"L_layer_model: the parameters became NaN, infinite or larger than 1.16e\+77 by iteration 0 "
        r"\(largest magnitude .*\); try a smaller learning_rate than 10000000000.0",
    ):
        dnn.L_layer_model(
            X, Y, [3, 50, 50, 1], learning_rate=1e10, num_iterations=300, backend=backend, init="he"
        )


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam"])
def test_fit_divergence_names_the_epoch(backend, optimizer):
    """A learning rate far too large: fit stops at the first epoch whose cost or weights blow up."""
    rng = np.random.RandomState(8)
    X, Y = rng.randn(3, 64), (rng.rand(1, 64) > 0.5).astype(np.int64)
    with pytest.raises(dnn.TrainingDiverged, match=r"fit: the (cost|parameters) became .* (at|by) epoch \d+"):
        # Adam moves each weight by about the learning rate per step, whatever the gradient.
        lr = 1e80 if optimizer == "adam" else 1e30
        dnn.fit(X, Y, [3, 20, 20, 1], optimizer=optimizer, learning_rate=lr, batch_size=16,
                num_epochs=50, backend=backend)  # fmt: skip


def test_slow_blow_up_with_a_clipped_cost_is_caught(backend):
    """Weights growing to 1e200 while the clipped cost stays finite: the weights' bound catches it."""
    rng = np.random.RandomState(3)
    X, Y = rng.randn(4, 30), (rng.rand(1, 30) > 0.5).astype(np.int64)
    with pytest.raises(
        dnn.TrainingDiverged,
        match=r"the parameters became NaN, infinite or larger than 1.16e\+77 by iteration 100 "
        r"\(largest magnitude",
    ):
        dnn.L_layer_model(X, Y, [4, 3, 1], learning_rate=1e3, num_iterations=500, backend=backend)


def test_print_cost_prints_course_lines(backend, capsys):
    rng = np.random.RandomState(9)
    X, Y = rng.randn(3, 10), (rng.rand(1, 10) > 0.5).astype(np.int64)
    _, costs = dnn.L_layer_model(X, Y, [3, 2, 1], num_iterations=201, print_cost=True, backend=backend)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Cost after iteration {i}: {c}" for i, c in zip((0, 100, 200), costs)]


def test_predict_returns_backend_array(backend, capsys, to_backend):
    params = to_backend({"W1": np.array([[2.0, -1.0]]), "b1": np.array([[0.5]])})
    p = dnn.predict(np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 5.0]]), np.array([[1, 0, 0]]), params)
    assert backend_of(p).name == backend.name
    assert dnn.to_numpy(p).tolist() == [[1.0, 0.0, 0.0]]
    assert capsys.readouterr().out == "Accuracy: 1.0\n"
    p2 = dnn.predict(np.array([[1.0], [0.0]]), None, params)
    assert dnn.to_numpy(p2).tolist() == [[1.0]] and capsys.readouterr().out == ""


def test_an_ignored_sigint_stays_ignored(backend):
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:

        def callback(state):
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)

        _, costs = dnn.L_layer_model(
            np.ones((2, 3)),
            np.array([[0, 1, 0]]),
            [2, 1],
            num_iterations=3,
            backend=backend,
            callback=callback,
        )
        assert len(costs) == 1
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("dims", [[300, 9, 5, 1], [300, 6, 1]])
def test_gram_step_equals_direct_step(backend, dims):
    if not backend.supports_gram:
        pytest.skip(
            f"no Gram step on {backend.name} (Backend.supports_gram): both runs would take the direct "
            "step, which test_training_loop_equals_course_loop checks against the course loop"
        )
    rng = np.random.RandomState(11)
    X = rng.rand(dims[0], 40)
    Y = (rng.rand(1, 40) > 0.5).astype(np.int64)
    direct, direct_costs = dnn.L_layer_model(
        X, Y, dims, learning_rate=0.05, num_iterations=301, backend=backend, gram=False
    )
    gram, gram_costs = dnn.L_layer_model(X, Y, dims, learning_rate=0.05, num_iterations=301, backend=backend)
    plain, plain_costs = _plain_course_loop(backend, backend.asarray(X), backend.asarray(Y), dims, 0.05, 301)
    for key in plain:
        np.testing.assert_allclose(dnn.to_numpy(gram[key]), dnn.to_numpy(plain[key]), rtol=0, atol=1e-12)
        np.testing.assert_allclose(dnn.to_numpy(direct[key]), dnn.to_numpy(plain[key]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(gram_costs, plain_costs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(direct_costs, plain_costs, rtol=0, atol=1e-12)


def test_gram_snapshots_and_choice(backend):
    from portable_dnn.engine import GramStep

    rng = np.random.RandomState(12)
    X, Y = rng.rand(200, 30), (rng.rand(1, 30) > 0.5).astype(np.int64)
    dims = [200, 4, 1]
    if not backend.supports_gram:
        with pytest.raises(ValueError, match=f"gram=True is not supported on the {backend.name} backend"):
            dnn.L_layer_model(X, Y, dims, num_iterations=1, backend=backend, gram=True)
        pytest.skip(f"no Gram step on {backend.name} (Backend.supports_gram): gram=True is refused there")
    snaps = {}

    def callback(state):
        if state.iteration in (25, 60):
            snaps[state.iteration] = state.snapshot()

    dnn.L_layer_model(
        X, Y, dims, learning_rate=0.1, num_iterations=60, backend=backend, gram=True, callback=callback
    )
    for n in (25, 60):
        ref, _ = dnn.L_layer_model(
            X, Y, dims, learning_rate=0.1, num_iterations=n, backend=backend, gram=False
        )
        for key in ref:
            np.testing.assert_allclose(
                dnn.to_numpy(snaps[n][key]), dnn.to_numpy(ref[key]), rtol=0, atol=1e-12
            )
    assert GramStep.pays_off(np.zeros((200, 30)), 2, 100)
    assert not GramStep.pays_off(np.zeros((200, 150)), 2, 100)  # examples not well below features
    assert not GramStep.pays_off(np.zeros((200, 30)), 2, 10)  # too few iterations to repay X^T X
    assert not GramStep.pays_off(np.zeros((200, 30)), 1, 100)  # no hidden layer to carry
    with pytest.raises(ValueError, match="L_layer_model: gram must be True, False or 'auto', got 'yes'"):
        dnn.L_layer_model(X, Y, dims, num_iterations=1, backend=backend, gram="yes")


@pytest.mark.parametrize("model", ["two_layer_model", "L_layer_model", "fit"])
def test_costs_are_host_numbers_of_the_first_forward_pass(backend, model):
    """The course's models return the course's cost type (a host NumPy 0-d float64 array, what
    its published tests check), fit's history Python floats: on every backend."""
    X, Y, _, _ = dnn.default_dataset()
    if model == "fit":
        params, history = dnn.fit(X, Y, [2, 4, 1], learning_rate=0.3, num_epochs=3, seed=1, backend=backend)
        costs = history["cost"]
        start = dnn.initialize_parameters_deep([2, 4, 1], init="he", seed=1, backend="numpy")
    else:
        dims = (2, 4, 1)
        params, costs = getattr(dnn, model)(X, Y, dims, num_iterations=101, backend=backend)
        with dnn.use_backend("numpy"):
            start = dnn.initialize_parameters(*dims) if model == "two_layer_model" else None
        start = start or dnn.initialize_parameters_deep(list(dims), init="xavier", seed=1, backend="numpy")
    if model == "fit":
        assert all(type(c) is float for c in costs), [type(c) for c in costs]
    else:
        kinds = [(type(c), getattr(c, "shape", None), getattr(c, "dtype", None)) for c in costs]
        assert all(k == (np.ndarray, (), np.float64) for k in kinds), kinds
    costs = [float(c) for c in costs]
    # The first cost is the course's cross-entropy at the starting weights (drawn and computed on
    # NumPy); the backend may sum the m terms in another order, a rounding of at most m ulps.
    with dnn.use_backend("numpy"):
        expected = float(dnn.compute_cost(dnn.L_model_forward(X, start)[0], Y))
    assert abs(costs[0] - expected) <= X.shape[1] * np.finfo(np.float64).eps * expected
