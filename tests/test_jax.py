"""JAX: the compiled step (once per shape), float64 only in JAX's 64-bit mode, results equal to NumPy's.

Runs wherever jax is installed, whatever backend the suite runs on (it builds its own JAX backend);
skipped elsewhere.
"""

import collections
import importlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn import engine, optim
from portable_dnn.backend import backend_of
from portable_dnn.fit import fit

jax = pytest.importorskip("jax")

pytestmark = pytest.mark.library

from portable_dnn.backend import _jax  # noqa: E402  (imports jax)

from .compare import largest_difference  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

RNG = np.random.RandomState(5)
X_HOST = RNG.randn(6, 90)
Y_HOST = (X_HOST[0] - X_HOST[2] + 0.3 * RNG.randn(90) > 0).astype(np.int64).reshape(1, -1)
Y_CLASSES = (np.digitize(X_HOST[1] + X_HOST[3], [-0.5, 0.5])).astype(np.int64)  # 3 classes


@pytest.fixture
def x64():
    """JAX's 64-bit mode for the test (tests-jax turns it on for the whole suite through JAX_ENABLE_X64)."""
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


CALL = engine.Step.__call__


@pytest.fixture
def traces(monkeypatch):
    """How often the training step is traced (each trace is one compilation), from empty caches."""
    monkeypatch.setattr(_jax, "_compiled", collections.OrderedDict())
    monkeypatch.setattr(_jax, "_compiled_epochs", collections.OrderedDict())
    jax.clear_caches()  # an equal step traced by an earlier test would be found there
    counts = collections.Counter()
    call = CALL

    def counted(self, state, batch, hyper):
        counts[tuple(tuple(b.shape) for b in batch)] += 1
        return call(self, state, batch, hyper)

    monkeypatch.setattr(engine.Step, "__call__", counted)
    return counts


def test_fit_compiles_one_epoch_program_once(x64, traces, monkeypatch):
    # 90 examples in batches of 32: the epoch is one program, traced once (a scan over the two
    # full batches, then the last 26) for every epoch: the decaying learning rate and Adam's
    # step count are traced scalars.
    kw = dict(optimizer="adam", batch_size=32, num_epochs=6, decay_rate=0.5, learning_rate=0.01)
    fit(X_HOST, Y_HOST, [6, 5, 1], backend="jax", **kw)
    assert traces == {((6, 32), (1, 32)): 1, ((6, 26), (1, 26)): 1}
    (epoch,) = _jax._compiled_epochs.values()
    assert epoch._cache_size() == 1
    # A second run of the same network and options reuses the compiled epoch.
    fit(X_HOST, Y_HOST, [6, 5, 1], backend="jax", seed=3, **kw)
    assert sum(traces.values()) == 2 and epoch._cache_size() == 1
    # Another batch size is another shape: one more compilation, and the result still NumPy's.
    got, got_history = fit(X_HOST, Y_HOST, [6, 5, 1], backend="jax", **{**kw, "batch_size": 20})
    assert sum(traces.values()) == 4 and epoch._cache_size() == 2
    with monkeypatch.context() as uncounted:
        uncounted.setattr(engine.Step, "__call__", CALL)
        want, want_history = fit(X_HOST, Y_HOST, [6, 5, 1], backend="numpy", **{**kw, "batch_size": 20})
    assert largest_difference(want, got) < 1e-12
    np.testing.assert_allclose(got_history["cost"], want_history["cost"], rtol=0, atol=1e-12)
    # Fewer examples (a new data shape) compile again; the same shapes later do not.
    for _ in range(2):
        fit(X_HOST[:, :70], Y_HOST[:, :70], [6, 5, 1], backend="jax", **kw)
    assert sum(traces.values()) == 6 and epoch._cache_size() == 3


def test_compiled_epoch_without_a_last_partial_batch_is_one_scan(x64, traces):
    fit(X_HOST, Y_HOST, [6, 5, 1], backend="jax", batch_size=30, num_epochs=4, optimizer="momentum")
    assert traces == {((6, 30), (1, 30)): 1}


def test_fit_step_by_step_compiles_once_per_batch_shape(x64, traces):
    # replay=False: one compiled step per mini-batch, dispatched from Python, once per shape.
    kw = dict(optimizer="adam", batch_size=32, num_epochs=6, decay_rate=0.5, learning_rate=0.01,
              replay=False)  # fmt: skip
    fit(X_HOST, Y_HOST, [6, 5, 1], backend="jax", **kw)
    assert not _jax._compiled_epochs
    assert traces == {((6, 32), (1, 32)): 1, ((6, 26), (1, 26)): 1}
    (jitted,) = _jax._compiled.values()
    assert jitted._cache_size() == 2
    # A second run of the same network and options reuses the compiled step.
    fit(X_HOST, Y_HOST, [6, 5, 1], backend="jax", seed=3, **kw)
    assert sum(traces.values()) == 2 and jitted._cache_size() == 2
    # Another option set is another step.
    fit(X_HOST, Y_HOST, [6, 5, 1], backend="jax", **{**kw, "optimizer": "momentum"})
    assert sum(traces.values()) == 4 and len(_jax._compiled) == 2


@pytest.mark.parametrize("replay", ["auto", False])
def test_dropout_masks_and_float32_compile_once(x64, traces, replay):
    kw = dict(keep_prob=0.8, replay=replay)
    fit(X_HOST, Y_HOST, [6, 5, 4, 1], backend="jax", batch_size=45, num_epochs=4, **kw)
    assert traces == {((6, 45), (1, 45), (5, 45), (4, 45)): 1}
    fit(X_HOST, Y_HOST, [6, 5, 4, 1], backend="jax", num_epochs=3, dtype="float32", **kw)
    assert sum(traces.values()) == 2


@pytest.mark.parametrize("model", ["L_layer_model", "two_layer_model"])
def test_course_models_compile_once(x64, traces, model):
    params, costs = getattr(dnn, model)(X_HOST, Y_HOST, [6, 4, 1], num_iterations=250, backend="jax")
    assert traces == {((6, 90), (1, 90)): 1} and len(costs) == 3
    assert backend_of(params["W1"]).name == "jax"


def test_hyper_parameters_of_any_scalar_type_share_a_compilation(x64, traces):
    be = dnn.get_backend("jax")
    state = engine.new_state(
        be.ops(be.xp.float64), dnn.initialize_parameters_deep([6, 3, 1], backend=be), optim.GD()
    )
    step = engine.Step(be.ops(be.xp.float64), engine.Network(), optim.GD())
    runner = be.runner(step, state)
    batch = (be.asarray(X_HOST), be.asarray(Y_HOST, dtype="float64"))
    for lr, t, m in [(0.1, 1, 90), (np.float64(0.05), np.int64(2), 90), (np.float32(0.01), 3, np.int32(90))]:
        runner(batch, (lr, t, m))
    assert sum(traces.values()) == 1
    assert all(a.dtype == be.xp.float64 for group in runner.state for a in group)


def test_a_resumed_run_leaves_the_callers_arrays_usable(x64):
    be = dnn.get_backend("jax")
    first, history = fit(X_HOST, Y_HOST, [6, 3, 1], backend=be, num_epochs=2, optimizer="momentum")
    v = {f"d{key}": be.xp.zeros_like(value) for key, value in first.items()}
    resume = {"parameters": first, "v": v, "t": 0, "epoch": 2, "costs": history["cost"]}
    fit(X_HOST, Y_HOST, [6, 3, 1], backend=be, num_epochs=4, optimizer="momentum", resume=resume)
    for value in [*first.values(), *resume["v"].values()]:
        assert np.all(np.isfinite(dnn.to_numpy(value)))  # not donated away


CASES = {
    "gd": dict(optimizer="gd", learning_rate=0.1),
    "momentum": dict(optimizer="momentum", learning_rate=0.05, batch_size=32),
    "adam": dict(optimizer="adam", learning_rate=0.01, batch_size=32),
    "adam-decay": dict(optimizer="adam", learning_rate=0.01, batch_size=32, decay_rate=0.3),
    "dropout": dict(optimizer="adam", learning_rate=0.01, keep_prob=0.7, batch_size=45),
    "l2": dict(optimizer="momentum", learning_rate=0.05, lambd=0.7, batch_size=32),
    "tanh-l2-dropout": dict(hidden_activation="tanh", learning_rate=0.1, lambd=0.3, keep_prob=0.8),
    "softmax": dict(output="softmax", optimizer="adam", learning_rate=0.01, batch_size=32),
    # Batches that divide the 90 examples (no last partial batch), and one wider than them all.
    "gd-whole-batches": dict(optimizer="gd", learning_rate=0.1, batch_size=30, decay_rate=0.2),
    "momentum-dropout-l2-whole": dict(
        optimizer="momentum", learning_rate=0.05, keep_prob=0.8, lambd=0.5, batch_size=45
    ),
    "adam-softmax-dropout-decay": dict(
        output="softmax",
        optimizer="adam",
        learning_rate=0.01,
        keep_prob=0.75,
        lambd=0.2,
        batch_size=25,
        decay_rate=0.5,
        time_interval=3,
    ),  # fmt: skip
    "sigmoid-hidden-softmax-whole": dict(
        output="softmax", hidden_activation="sigmoid", optimizer="adam", learning_rate=0.02, batch_size=18
    ),
    "one-wide-batch": dict(optimizer="adam", learning_rate=0.01, batch_size=128, keep_prob=0.9),
}


def _case(case):
    kw = dict(CASES[case], num_epochs=30, seed=2)
    out = 3 if kw.get("output") == "softmax" else 1
    return kw, (Y_CLASSES if out == 3 else Y_HOST), [6, 5, 4, out]


@pytest.mark.parametrize("replay", ["auto", False])
@pytest.mark.parametrize("case", CASES)
def test_fit_equals_numpy_in_float64(x64, case, replay):
    kw, Y, dims = _case(case)
    want, want_history = fit(X_HOST, Y, dims, backend="numpy", **kw)
    got, got_history = fit(X_HOST, Y, dims, backend="jax", replay=replay, **kw)
    assert backend_of(got["W1"]).name == "jax" and got["W1"].dtype == np.float64
    for key in want:
        np.testing.assert_allclose(dnn.to_numpy(got[key]), want[key], rtol=0, atol=1e-12, err_msg=key)
    np.testing.assert_allclose(got_history["cost"], want_history["cost"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", ["adam", "dropout", "l2", "softmax", "momentum-dropout-l2-whole"])
def test_fit_equals_numpy_in_float32(x64, case):
    """In float32 the compiled epoch and the step-by-step path agree with NumPy's float32 run to
    float32 rounding (XLA may fuse and order a product's sums differently)."""
    kw, Y, dims = _case(case)
    kw.update(num_epochs=10, dtype="float32")
    want, want_history = fit(X_HOST, Y, dims, backend="numpy", **kw)
    for replay in ("auto", False):
        got, got_history = fit(X_HOST, Y, dims, backend="jax", replay=replay, **kw)
        assert got["W1"].dtype == np.float32
        for key in want:
            np.testing.assert_allclose(dnn.to_numpy(got[key]), want[key], rtol=1e-4, atol=2e-5, err_msg=key)
        np.testing.assert_allclose(got_history["cost"], want_history["cost"], rtol=1e-5, atol=0)


def test_compiled_epochs_resume_where_the_uninterrupted_run_is(x64):
    kw = dict(optimizer="adam", learning_rate=0.01, keep_prob=0.8, lambd=0.3, batch_size=32,
              decay_rate=0.4, seed=4)  # fmt: skip
    full, full_history = fit(X_HOST, Y_HOST, [6, 5, 4, 1], backend="jax", num_epochs=7, **kw)
    states = []
    fit(X_HOST, Y_HOST, [6, 5, 4, 1], backend="jax", num_epochs=3, checkpoint=states.append, **kw)
    state = states[-1]
    resume = {"parameters": state.snapshot(), **state.optimizer_state(), "epoch": state.iteration,
              "costs": list(state.costs)}  # fmt: skip
    assert resume["t"] == 3 * 3  # three batches an epoch (32, 32, 26)
    got, history = fit(X_HOST, Y_HOST, [6, 5, 4, 1], backend="jax", num_epochs=7, resume=resume, **kw)
    assert largest_difference(full, got) == 0
    assert history["cost"] == full_history["cost"]
    want, _ = fit(X_HOST, Y_HOST, [6, 5, 4, 1], backend="numpy", num_epochs=7, **kw)
    assert largest_difference(want, got) < 1e-12


def test_compiled_epochs_stop_early_at_the_best_epoch(x64):
    kw = dict(optimizer="adam", learning_rate=0.05, batch_size=16, validation_fraction=0.3,
              early_stopping_patience=3, num_epochs=200, seed=1)  # fmt: skip
    want, want_history = fit(X_HOST, Y_HOST, [6, 8, 1], backend="numpy", **kw)
    got, got_history = fit(X_HOST, Y_HOST, [6, 8, 1], backend="jax", **kw)
    assert got_history["best_epoch"] == want_history["best_epoch"] < 196  # it stopped early
    assert len(got_history["cost"]) == len(want_history["cost"]) == want_history["best_epoch"] + 4
    np.testing.assert_allclose(got_history["val_cost"], want_history["val_cost"], rtol=0, atol=1e-12)
    assert largest_difference(want, got) < 1e-12


def test_ctrl_c_during_a_compiled_epoch_stops_at_its_end(x64, python_sigint, monkeypatch):
    """SIGINT while an epoch is being prepared (its masks drawn) ends training once that epoch,
    run as one program, is done: the state is the run's after three whole epochs."""
    kw = dict(optimizer="momentum", learning_rate=0.05, keep_prob=0.8, batch_size=32)
    calls = [0]
    run_module = importlib.import_module("portable_dnn.run")  # where each epoch's masks are drawn
    draw = run_module.host_mask

    def drawing(*args):
        calls[0] += 1
        if calls[0] == 2 * 3 * 2 + 1:  # the first mask of the third epoch (3 batches, 2 layers)
            signal.raise_signal(signal.SIGINT)
        return draw(*args)

    monkeypatch.setattr(run_module, "host_mask", drawing)
    with pytest.raises(dnn.TrainingInterrupted) as info:
        fit(X_HOST, Y_HOST, [6, 5, 4, 1], backend="jax", num_epochs=50, **kw)
    state = info.value.state
    assert state.iteration == 3 and len(state.costs) == 3
    monkeypatch.setattr(run_module, "host_mask", draw)
    want, want_history = fit(X_HOST, Y_HOST, [6, 5, 4, 1], backend="numpy", num_epochs=3, **kw)
    assert largest_difference(want, state.snapshot()) < 1e-12
    np.testing.assert_allclose(state.costs, want_history["cost"], rtol=0, atol=1e-12)


def test_L_layer_model_equals_numpy_in_float64(x64):
    kw = dict(learning_rate=0.05, num_iterations=301, gram=False)
    want, want_costs = dnn.L_layer_model(X_HOST, Y_HOST, [6, 5, 3, 1], backend="numpy", **kw)
    got, got_costs = dnn.L_layer_model(X_HOST, Y_HOST, [6, 5, 3, 1], backend="jax", **kw)
    for key in want:
        np.testing.assert_allclose(dnn.to_numpy(got[key]), want[key], rtol=0, atol=1e-12, err_msg=key)
    got_costs, want_costs = np.asarray(got_costs, float), np.asarray(want_costs, float)
    np.testing.assert_allclose(got_costs, want_costs, rtol=0, atol=1e-12)


REFUSAL = """
import warnings
import numpy as np
import portable_dnn as dnn
from portable_dnn.fit import fit, predict_labels

warnings.simplefilter("error")
X = np.random.RandomState(0).randn(3, 50)
Y = (X[0] > 0).astype(np.int64).reshape(1, -1)
calls = {
    "fit": lambda: fit(X, Y, [3, 2, 1], num_epochs=2, backend="jax"),
    "fit-float64": lambda: fit(X.astype(np.float32), Y, [3, 1], num_epochs=2, backend="jax", dtype="float64"),
    "L_layer_model": lambda: dnn.L_layer_model(X, Y, [3, 2, 1], num_iterations=2, backend="jax"),
    "uint8": lambda: dnn.two_layer_model((X > 0).astype(np.uint8), Y, (3, 2, 1), num_iterations=2,
                                         backend="jax"),
    "asarray": lambda: dnn.get_backend("jax").asarray(X, dtype="float64"),
    "initialize": lambda: dnn.initialize_parameters_deep([3, 2, 1], backend="jax"),
}
for name, call in calls.items():
    try:
        call()
    except ValueError as exc:
        print(name, "|", exc)
    else:
        print(name, "| no error")
# float32 trains without 64-bit mode, and without a warning (mini-batch indices included).
params, history = fit(X, Y, [3, 2, 1], num_epochs=3, batch_size=16, optimizer="adam", backend="jax",
                      dtype="float32")
print("float32 |", params["W1"].dtype, len(history["cost"]))
# Labels, indices and predictions in the default integer dtype (int32 here), without a warning.
be = dnn.get_backend("jax")
X32 = be.asarray(X, dtype="float32")
for labels in (Y[0] > 0, Y[0].astype(np.float32)):
    params, _ = fit(X32, be.asarray(labels), [3, 2], output="softmax", num_epochs=1, backend="jax")
    print("softmax", labels.dtype, "|", predict_labels(X32, params).dtype)
print("sigmoid |", predict_labels(X32, fit(X32, Y, [3, 1], num_epochs=1)[0]).dtype)
print("mini-batches |", len(dnn.random_mini_batches(X32, be.asarray(Y, dtype="float32"), 16)))
"""


def test_float64_is_refused_without_x64_mode():
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    out = subprocess.run(
        [sys.executable, "-c", REFUSAL], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(" | ", 1) for line in out.stdout.splitlines())
    how = (
        "float64 on JAX needs its 64-bit mode, which is off: call "
        'jax.config.update("jax_enable_x64", True) first (or set JAX_ENABLE_X64=1), '
        "or train in float32 (dtype='float32')"
    )
    assert lines.pop("float32") == "float32 3"
    assert lines.pop("softmax bool") == lines.pop("softmax float32") == "int32"
    assert lines.pop("sigmoid") == "int32" and lines.pop("mini-batches") == "4"
    assert lines == {
        "fit": f"fit: {how}",
        "fit-float64": f"fit: {how}",
        "L_layer_model": f"L_layer_model: {how}",
        "uint8": f"two_layer_model: {how}",
        "asarray": f"portable_dnn: {how}",
        "initialize": f"portable_dnn: {how}",
    }
