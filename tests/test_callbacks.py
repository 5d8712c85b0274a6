"""Callbacks: user objects stop a run and see each epoch's logs; fit's keywords are these objects."""

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.callbacks import Checkpoint, EarlyStopping, EpochFunction, Metrics, PrintCost
from portable_dnn.datasets import default_dataset


def _data(to_backend):
    X, Y, _, _ = default_dataset()
    return to_backend(X), to_backend(Y)


def _host(params):
    return {k: dnn.to_numpy(v) for k, v in params.items()}


class Recorder:
    def __init__(self, stop_at=None):
        self.stop_at, self.events, self.logs = stop_at, [], []

    def on_train_begin(self, run):
        self.events.append("begin")

    def on_epoch_end(self, epoch, logs):
        self.events.append(epoch)
        self.logs.append(dict(logs))
        return epoch == self.stop_at

    def on_train_end(self, run):
        self.events.append("end")


def test_a_user_callback_stops_the_run(backend, to_backend):
    X, Y = _data(to_backend)
    rec = Recorder(stop_at=3)
    params, history = dnn.fit(
        X, Y, [2, 3, 1], learning_rate=0.3, num_epochs=50, backend=backend, callbacks=[rec]
    )
    assert rec.events == ["begin", 0, 1, 2, 3, "end"]
    assert len(history["cost"]) == 4
    # The run stopped where it said: the same parameters as a run of 4 epochs.
    four, _ = dnn.fit(X, Y, [2, 3, 1], learning_rate=0.3, num_epochs=4, backend=backend)
    for k, v in _host(four).items():
        np.testing.assert_array_equal(_host(params)[k], v)


def test_logs_hold_the_cost_rate_and_what_earlier_callbacks_added(backend, to_backend):
    X, Y = _data(to_backend)
    rec = Recorder()
    _, history = dnn.fit(X, Y, [2, 3, 1], learning_rate=0.3, num_epochs=3, validation_fraction=0.25,
                         metrics=("accuracy",), backend=backend, callbacks=[rec])  # fmt: skip
    assert [log["cost"] for log in rec.logs] == history["cost"]
    assert [log["val_cost"] for log in rec.logs] == history["val_cost"]
    assert [log["val_accuracy"] for log in rec.logs] == history["val_accuracy"]
    assert [log["lr"] for log in rec.logs] == [0.3, 0.3, 0.3]


def test_an_object_without_on_epoch_end_is_refused(backend, to_backend):
    X, Y = _data(to_backend)
    with pytest.raises(TypeError, match=r"fit: a callback needs an on_epoch_end\(epoch, logs\) method"):
        dnn.fit(X, Y, [2, 1], num_epochs=1, backend=backend, callbacks=[object()])


def test_the_old_keywords_equal_the_objects_bit_for_bit(backend, to_backend, capsys):
    X, Y = _data(to_backend)
    common = dict(learning_rate=0.5, num_epochs=30, optimizer="adam", batch_size=50, validation_fraction=0.3,
                  backend=backend, seed=4)  # fmt: skip
    runs = []
    for mapped in (False, True):
        seen, saved = [], []

        def callback(epoch, params, history, seen=seen):
            seen.append(float(dnn.to_numpy(params["b2"])[0, 0]))

        def checkpoint(state, saved=saved):
            saved.append((state.iteration, state.optimizer_state()["t"]))

        if mapped:
            hooks = [Metrics(("accuracy", "val_accuracy")), PrintCost(7), EpochFunction(callback),
                     Checkpoint(checkpoint), EarlyStopping(2)]  # fmt: skip
            params, history = dnn.fit(X, Y, [2, 4, 1], callbacks=hooks, **common)
        else:
            params, history = dnn.fit(X, Y, [2, 4, 1], metrics=("accuracy",), print_cost=7, callback=callback,
                                      checkpoint=checkpoint, early_stopping_patience=2, **common)  # fmt: skip
        runs.append((_host(params), {k: v for k, v in history.items() if k != "settings"}, seen, saved,
                     capsys.readouterr().out))  # fmt: skip
    (p_old, h_old, seen_old, saved_old, out_old), (p_new, h_new, seen_new, saved_new, out_new) = runs
    assert h_old == h_new and seen_old == seen_new and saved_old == saved_new and out_old == out_new
    assert list(h_old) == list(h_new)  # the same keys, in the same order
    assert "best_epoch" in h_old and len(h_old["cost"]) < 30  # early stopping did stop
    assert out_old.startswith("Cost after epoch 0: ")
    for k in p_old:
        np.testing.assert_array_equal(p_old[k], p_new[k])


def test_early_stopping_returns_the_best_epochs_parameters(backend, to_backend):
    X, Y = _data(to_backend)
    kept = {}

    def keep(epoch, params, history):
        kept[epoch] = _host(params)

    params, history = dnn.fit(X, Y, [2, 4, 1], learning_rate=4.0, num_epochs=40, validation_fraction=0.3,
                              backend=backend, callbacks=[EpochFunction(keep), EarlyStopping(3)])  # fmt: skip
    best = history["best_epoch"]
    assert history["val_cost"][best] == min(history["val_cost"])
    assert len(history["cost"]) == best + 4
    for k, v in _host(params).items():
        np.testing.assert_array_equal(v, kept[best][k])
