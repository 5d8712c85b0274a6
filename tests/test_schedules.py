"""Learning-rate schedules: each rate equals its formula, and fit trains at exactly those rates."""

import math

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.datasets import default_dataset
from portable_dnn.optimizers import schedule_lr_decay, update_lr
from portable_dnn.schedules import Constant, CosineWarmup, InverseTimeDecay, ReduceLROnPlateau


class Rates:
    """A callback recording each epoch's rate and cost."""

    def __init__(self):
        self.rates, self.costs = [], []

    def on_epoch_end(self, epoch, logs):
        self.rates.append(logs["lr"])
        self.costs.append(logs.get("val_cost", logs["cost"]))


def _fit(backend, to_backend, epochs=8, **kw):
    X, Y, _, _ = default_dataset()
    seen = Rates()
    params, history = dnn.fit(to_backend(X), to_backend(Y), [2, 3, 1], num_epochs=epochs, backend=backend,
                              callbacks=[*kw.pop("callbacks", []), seen], **kw)  # fmt: skip
    return seen, {k: dnn.to_numpy(v) for k, v in params.items()}, history


def test_cosine_warmup_rates_are_the_formula(backend, to_backend):
    lr, total, warm, floor = 0.2, 8, 3, 0.01
    schedule = CosineWarmup(learning_rate=lr, total_epochs=total, warmup_epochs=warm, min_lr=floor)
    seen, _, _ = _fit(backend, to_backend, epochs=total, learning_rate=schedule)
    expected = [lr * ((e + 1) / warm) for e in range(warm)]
    expected += [floor + (lr - floor) * (1 + math.cos(math.pi * (e - warm) / (total - warm))) / 2
                 for e in range(warm, total)]  # fmt: skip
    assert seen.rates == expected
    assert seen.rates[warm - 1] == lr and seen.rates[-1] > floor


def test_inverse_time_decay_is_the_course_decay_and_fit_decay_rate(backend, to_backend):
    decay = InverseTimeDecay(learning_rate=0.5, decay_rate=0.3, time_interval=2)
    assert [decay(e) for e in range(6)] == [0.5] + [
        schedule_lr_decay(0.5, e - 1, 0.3, 2) for e in range(1, 6)
    ]
    every = InverseTimeDecay(learning_rate=0.5, decay_rate=0.3)
    assert [every(e) for e in range(4)] == [0.5] + [update_lr(0.5, e - 1, 0.3) for e in range(1, 4)]
    by_object, p_obj, h_obj = _fit(
        backend, to_backend, learning_rate=decay, optimizer="momentum", batch_size=64
    )
    by_keywords, p_kw, h_kw = _fit(
        backend,
        to_backend,
        learning_rate=0.5,
        decay_rate=0.3,
        time_interval=2,
        optimizer="momentum",
        batch_size=64,
    )
    assert by_object.rates == by_keywords.rates == [decay(e) for e in range(8)]
    assert h_obj["cost"] == h_kw["cost"]
    for k in p_kw:
        np.testing.assert_array_equal(p_obj[k], p_kw[k])


def test_reduce_on_plateau_reduces_after_patience_epochs_without_improvement():
    plateau = ReduceLROnPlateau(monitor="cost", factor=0.5, patience=2, min_lr=0.02)
    costs = [1.0, 0.9, 0.95, 0.97, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9]
    rates = []
    for epoch, cost in enumerate(costs):
        rates.append(plateau.adjust_rate(epoch, 0.1))
        plateau.on_epoch_end(epoch, {"cost": cost})
    # Epochs 2 and 3 do not beat 0.9: epoch 4 trains at half; 5 and 6 do not beat 0.8: epoch 7 at a
    # quarter; 7 and 8 do not: epoch 9 at an eighth, floored at min_lr.
    assert rates == [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02]


def test_reduce_on_plateau_in_fit_trains_at_its_rates(backend, to_backend):
    seen, _, history = _fit(backend, to_backend, epochs=12, learning_rate=3.0, validation_fraction=0.3,
                            callbacks=[ReduceLROnPlateau(factor=0.5, patience=1)])  # fmt: skip
    replay = ReduceLROnPlateau(factor=0.5, patience=1)
    expected = []
    for epoch, cost in enumerate(history["val_cost"]):
        expected.append(replay.adjust_rate(epoch, 3.0))
        replay.on_epoch_end(epoch, {"val_cost": cost})
    assert seen.rates == expected
    assert seen.rates[-1] < 3.0  # a rate this large oscillates: the plateau is met


def test_reduce_on_plateau_needs_what_it_monitors(backend, to_backend):
    with pytest.raises(
        ValueError, match=r"fit: ReduceLROnPlateau\(monitor='val_cost'\) needs validation_data"
    ):
        _fit(backend, to_backend, epochs=2, learning_rate=0.1, callbacks=[ReduceLROnPlateau()])


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: Constant(learning_rate=0.0),
            ValueError,
            "Constant: learning_rate must be a positive finite",
        ),
        (
            lambda: CosineWarmup(total_epochs=5, warmup_epochs=5),
            ValueError,
            "warmup_epochs \\(5\\) must be below",
        ),
        (lambda: CosineWarmup(min_lr=-1.0), ValueError, "CosineWarmup: min_lr must be a finite number >= 0"),
        (lambda: InverseTimeDecay(decay_rate="x"), TypeError, "InverseTimeDecay: decay_rate must be"),
        (
            lambda: ReduceLROnPlateau(factor=1.0),
            ValueError,
            r"ReduceLROnPlateau: factor must be a number in \(0, 1\)",
        ),
        (lambda: ReduceLROnPlateau(monitor="loss"), ValueError, "monitor must be one of"),
        (lambda: ReduceLROnPlateau(patience=0), ValueError, "patience must be an integer >= 1"),
    ],
)
def test_schedules_refuse_values_outside_their_ranges(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_schedule_past_its_end_at_zero_is_refused(backend, to_backend):
    with pytest.raises(ValueError, match=r"fit: learning_rate\(2\) returned 0.0 for epoch 2"):
        _fit(backend, to_backend, epochs=3, learning_rate=CosineWarmup(learning_rate=0.1, total_epochs=2))
