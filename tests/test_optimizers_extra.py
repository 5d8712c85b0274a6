"""Nesterov momentum, RMSprop, AdamW, clipping by global norm and a callable learning rate.

fit's parameters after a few full-batch steps are held to 1e-10 (float64) against the
update rules written out below in NumPy on the host, with gradients from the course's
own ``L_model_forward``/``L_model_backward``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.engine import SLOT_NAMES, Network, Step, flatten
from tests.compare import make_optimizer

from .compare import largest_difference

TOL = 1e-10
DIMS = [4, 5, 3, 1]
M = 12


def _data(n_x=DIMS[0], m=M, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_x, m)
    Y = (X[:1] + 0.3 * rng.randn(1, m) > 0).astype(np.int64)
    return X, Y


def _grads(X, Y, P, lambd):
    """The course's gradients on the host (keys ``W1``, ``b1``, ...), with the L2 term."""
    AL, caches = dnn.L_model_forward(X, P)
    grads = dnn.L_model_backward(AL, Y.astype(float), caches)
    g = {k: grads[f"d{k}"] for k in P}
    m = X.shape[1]
    for k in P:
        if k.startswith("W"):
            g[k] = g[k] + lambd / m * P[k]
    return g


def _reference(kind, X, Y, dims, steps, lr, *, lambd=0.0, clip=None, beta=0.9, rho=0.9,
               beta1=0.9, beta2=0.999, eps=1e-8, wd=0.01, seed=0):  # fmt: skip
    """``steps`` full-batch steps of each update rule, as written in docs/training.md.

    ``lr`` is a function of the step (from 0). Returns the parameters and the clipping
    factors used (so a test can see that clipping took effect)."""
    P = dnn.initialize_parameters_deep(dims, init="he", seed=seed, backend="numpy")
    v = {k: np.zeros_like(a) for k, a in P.items()}
    s = {k: np.zeros_like(a) for k, a in P.items()}
    factors = []
    for step in range(steps):
        t, rate = step + 1, lr(step)
        g = _grads(X, Y, P, lambd)
        if clip is not None:
            norm = math.sqrt(sum(float(np.sum(a**2)) for a in g.values()))
            factor = min(1.0, clip / (norm + 1e-6))
            factors.append(factor)
            g = {k: factor * a for k, a in g.items()}
        for k in P:
            if kind == "gd":
                P[k] = P[k] - rate * g[k]
            elif kind == "momentum":
                v[k] = beta * v[k] + (1 - beta) * g[k]
                P[k] = P[k] - rate * v[k]
            elif kind == "nesterov":
                v[k] = beta * v[k] + (1 - beta) * g[k]
                P[k] = P[k] - rate * (beta * v[k] + (1 - beta) * g[k])
            elif kind == "rmsprop":
                s[k] = rho * s[k] + (1 - rho) * g[k] ** 2
                P[k] = P[k] - rate * g[k] / (np.sqrt(s[k]) + eps)
            else:
                v[k] = beta1 * v[k] + (1 - beta1) * g[k]
                s[k] = beta2 * s[k] + (1 - beta2) * g[k] ** 2
                v_hat, s_hat = v[k] / (1 - beta1**t), s[k] / (1 - beta2**t)
                decay = wd if kind == "adamw" else 0.0
                P[k] = P[k] - rate * (v_hat / (np.sqrt(s_hat) + eps) + decay * P[k])
    return P, factors


OPTIMIZER_OPTIONS = {
    "nesterov": {"beta": 0.8},
    "rmsprop": {"rho": 0.85, "epsilon": 1e-7},
    "adamw": {"beta1": 0.85, "beta2": 0.99, "weight_decay": 0.1},
}
REFERENCE_NAMES = {"beta": "beta", "rho": "rho", "epsilon": "eps", "beta1": "beta1", "beta2": "beta2",
                   "weight_decay": "wd"}  # fmt: skip


@pytest.mark.parametrize("dims", [DIMS, [300, 500, 1]], ids=["one-buffer", "per-parameter"])
@pytest.mark.parametrize("optimizer", list(OPTIMIZER_OPTIONS))
def test_optimizer_equals_its_formula(backend, optimizer, dims):
    X, Y = _data(dims[0])
    options = OPTIMIZER_OPTIONS[optimizer]
    params, _ = dnn.fit(X, Y, dims, optimizer=optimizer, learning_rate=0.05, num_epochs=4, backend=backend,
                        **options)  # fmt: skip
    ref, _ = _reference(optimizer, X, Y, dims, 4, lambda e: 0.05,
                        **{REFERENCE_NAMES[k]: v for k, v in options.items()})  # fmt: skip
    assert largest_difference(ref, params) <= TOL


def test_nesterov_is_pytorchs_nesterov_at_a_scaled_rate(backend):
    """PyTorch's SGD(nesterov=True): u = beta u + g, W -= lr' (g + beta u); the EMA form at rate lr
    moves the same with lr' = lr (1 - beta)."""
    X, Y = _data()
    beta, lr = 0.8, 0.05
    params, _ = dnn.fit(X, Y, DIMS, optimizer="nesterov", beta=beta, learning_rate=lr, num_epochs=4,
                        backend=backend)  # fmt: skip
    P = dnn.initialize_parameters_deep(DIMS, init="he", seed=0, backend="numpy")
    u = {k: np.zeros_like(a) for k, a in P.items()}
    for _ in range(4):
        g = _grads(X, Y, P, 0.0)
        for k in P:
            u[k] = beta * u[k] + g[k]
            P[k] = P[k] - lr * (1 - beta) * (g[k] + beta * u[k])
    assert largest_difference(P, params) <= TOL
    momentum, _ = dnn.fit(X, Y, DIMS, optimizer="momentum", beta=beta, learning_rate=lr, num_epochs=4,
                          backend=backend)  # fmt: skip
    assert largest_difference(momentum, params) > 1e-4  # not plain momentum


def test_adamw_without_decay_is_adam(backend):
    X, Y = _data()
    adam, _ = dnn.fit(X, Y, DIMS, optimizer="adam", learning_rate=0.05, num_epochs=3, backend=backend)
    zero, _ = dnn.fit(X, Y, DIMS, optimizer="adamw", weight_decay=0.0, learning_rate=0.05, num_epochs=3,
                      backend=backend)  # fmt: skip
    assert largest_difference(adam, zero) <= TOL


def test_adamw_decays_weights_and_biases(backend):
    """AdamW's step is Adam's step minus lr * weight_decay * P0 on every parameter, biases too."""
    rng = np.random.RandomState(7)
    params = {k: rng.randn(*a.shape) for k, a in dnn.initialize_parameters_deep(DIMS, seed=1).items()}
    grads = [backend.asarray(rng.randn(*a.shape)) for a in flatten(params)]
    lr, wd, t = 0.05, 0.3, 2
    moved = []
    for kind in ("adam", "adamw"):
        opt = make_optimizer(kind, weight_decay=wd)
        ops = backend.ops(backend.xp.float64)
        state = [ops.pack([backend.asarray(a) for a in flatten(params)])]
        state += [ops.pack([backend.asarray(np.full(a.shape, 0.1)) for a in flatten(params)]) for _ in "vs"]
        new, _ = Step(ops, Network(), opt).update(state, backend.asarray(0.0),
                                                  [backend.xp.asarray(g, copy=True) for g in grads],
                                                  (lr, t, M))  # fmt: skip
        moved.append([dnn.to_numpy(a) for a in new[0]])
    for P0, adam, adamw in zip(flatten(params), *moved):
        np.testing.assert_allclose(adam - adamw, lr * wd * P0, rtol=0, atol=1e-14)


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam", "rmsprop"])
@pytest.mark.parametrize("clip, lambd", [(0.05, 0.0), (0.2, 0.7), (1e6, 0.0)])
def test_clipping_by_global_norm_equals_its_formula(backend, optimizer, clip, lambd):
    X, Y = _data()
    params, _ = dnn.fit(X, Y, DIMS, optimizer=optimizer, learning_rate=0.1, num_epochs=4, clip_norm=clip,
                        lambd=lambd, backend=backend)  # fmt: skip
    ref, factors = _reference(optimizer, X, Y, DIMS, 4, lambda e: 0.1, lambd=lambd, clip=clip)
    if clip < 1:
        assert max(factors) < 1  # the norm was above clip_norm at every step: clipping took effect
    else:
        assert factors == [1.0] * 4
    assert largest_difference(ref, params) <= TOL


def test_callable_learning_rate_equals_its_formula(backend):
    X, Y = _data()

    def rate(epoch):
        return 0.2 / (1 + epoch) ** 2

    params, history = dnn.fit(X, Y, DIMS, optimizer="momentum", learning_rate=rate, num_epochs=5,
                              backend=backend)  # fmt: skip
    ref, _ = _reference("momentum", X, Y, DIMS, 5, rate)
    assert largest_difference(ref, params) <= TOL
    assert len(history["cost"]) == 5


def test_callable_learning_rate_per_epoch_with_mini_batches():
    """Each epoch's batches all train at that epoch's rate: the rate is asked once per epoch."""
    X, Y = _data(m=20)
    asked = []

    def rate(epoch):
        asked.append(epoch)
        return 0.01 * (epoch + 1)

    dnn.fit(X, Y, DIMS, optimizer="adam", learning_rate=rate, batch_size=8, num_epochs=4, backend="numpy")
    assert asked == [0, 1, 2, 3]


@pytest.mark.parametrize("optimizer", ["nesterov", "rmsprop", "adamw"])
def test_resume_equals_uninterrupted(backend, optimizer, tmp_path):
    """Through a checkpoint file: the slots saved by name, loaded and resumed, end where an
    uninterrupted run ends."""
    X, Y = _data(m=20)
    kwargs = dict(optimizer=optimizer, learning_rate=0.03, batch_size=8, num_epochs=6, clip_norm=0.5,
                  backend=backend, **OPTIMIZER_OPTIONS[optimizer])  # fmt: skip
    saved = {}

    def checkpoint(state):
        if state.iteration == 3:
            opt = state.optimizer_state()
            slots = {k: v for k, v in opt.items() if k != "t"}
            assert sorted(slots) == sorted(SLOT_NAMES[optimizer])
            path = dnn.save_parameters(state.snapshot(), tmp_path / "ckpt.npz", optimizer_state=slots,
                                       metadata={"t": opt["t"], "costs": list(state.costs)})  # fmt: skip
            saved["path"] = path

    whole, history = dnn.fit(X, Y, DIMS, checkpoint=checkpoint, **kwargs)
    params, slots, meta = dnn.load_checkpoint(saved["path"], backend="numpy")
    assert sorted(slots) == sorted(SLOT_NAMES[optimizer])
    assert meta["metadata"]["t"] == 3 * 3  # three epochs of 3 mini-batches
    resume = {"parameters": params, **slots, "t": meta["metadata"]["t"], "epoch": 3,
              "costs": meta["metadata"]["costs"]}  # fmt: skip
    resumed, history2 = dnn.fit(X, Y, DIMS, resume=resume, **kwargs)
    assert largest_difference(whole, resumed) <= 1e-12
    np.testing.assert_allclose(history2["cost"], history["cost"], rtol=0, atol=1e-12)


@pytest.mark.default_backend
def test_resume_names_the_missing_slot():
    X, Y = _data()
    params = dnn.initialize_parameters_deep(DIMS, init="he", seed=0, backend="numpy")
    v = {f"d{k}": np.zeros_like(a) for k, a in params.items()}
    with pytest.raises(ValueError, match=r"fit: resume has no 's' for the rmsprop optimizer"):
        dnn.fit(X, Y, DIMS, optimizer="rmsprop", num_epochs=2,
                resume={"parameters": params, "v": v, "epoch": 0, "t": 0, "costs": []})  # fmt: skip


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"optimizer": "adagrad"}, ValueError, r"fit: optimizer must be one of .*'nesterov', 'rmsprop'"),
        ({"optimizer": "rmsprop", "rho": 1.0}, ValueError, r"fit: rho must be a number in \[0, 1\)"),
        ({"optimizer": "rmsprop", "rho": "0.9"}, TypeError, r"fit: rho must be a number"),
        ({"optimizer": "adam", "weight_decay": 0.5}, ValueError,
         r"fit: weight_decay is not a setting of the 'adam' optimizer .*; 'adamw' read it"),
        ({"optimizer": "gd", "beta": 0.5}, ValueError, r"fit: beta is not a setting of the 'gd' optimizer"),
        ({"optimizer": "adamw", "weight_decay": -0.1}, ValueError, r"fit: weight_decay must be a finite"),
        ({"optimizer": "adamw", "weight_decay": math.inf}, ValueError, r"fit: weight_decay must be a finite"),
        ({"clip_norm": 0.0}, ValueError, r"fit: clip_norm must be a positive finite number"),
        ({"clip_norm": math.nan}, ValueError, r"fit: clip_norm must be a positive finite number"),
        ({"clip_norm": True}, TypeError, r"fit: clip_norm must be a positive finite number, got True"),
        ({"learning_rate": lambda e: 0.1, "decay_rate": 0.5}, ValueError, r"fit: decay_rate and time_"),
        ({"learning_rate": lambda e: 0.1, "time_interval": 2}, ValueError, r"fit: decay_rate and time_"),
        ({"learning_rate": lambda e: 0.1 if e < 2 else -1.0}, ValueError,
         r"fit: learning_rate\(2\) returned -1.0 for epoch 2; it must return a positive finite number"),
        ({"learning_rate": lambda e: math.nan}, ValueError, r"fit: learning_rate\(0\) returned nan for"),
        ({"learning_rate": lambda e: "0.1"}, ValueError, r"fit: learning_rate\(0\) returned '0.1'"),
        ({"learning_rate": lambda e: True}, ValueError, r"fit: learning_rate\(0\) returned True"),
    ],
)  # fmt: skip
def test_bad_inputs_raise_clear_errors(kwargs, error, message):
    X, Y = _data()
    with pytest.raises(error, match=message):
        dnn.fit(X, Y, DIMS, num_epochs=4, backend="numpy", **kwargs)


def test_classifier_passes_the_new_options():
    pytest.importorskip("sklearn")
    from portable_dnn.sklearn import DNNClassifier

    X, Y = _data(m=30)
    clf = DNNClassifier(hidden_layer_sizes=(5, 3), optimizer="adamw", weight_decay=0.2, clip_norm=0.5,
                        learning_rate=0.05, batch_size=None, epochs=3, random_state=0)  # fmt: skip
    clf.fit(X.T, Y.ravel())
    params, _ = dnn.fit(X, Y, DIMS, optimizer="adamw", weight_decay=0.2, clip_norm=0.5, learning_rate=0.05,
                        num_epochs=3, backend="numpy")  # fmt: skip
    assert largest_difference(params, clf.parameters_) <= TOL
    with pytest.raises(ValueError, match="rho must be a number"):
        DNNClassifier(optimizer="rmsprop", rho=2.0, epochs=1).fit(X.T, Y.ravel())


def test_course_updates_of_parameters_packed_in_one_buffer_return_new_arrays():
    """Parameters and velocities that are views of one buffer each (as a trained network's can be):
    the course's update returns the stepped values and leaves its arguments alone."""
    from portable_dnn.optimizers import update_parameters_with_momentum

    rng = np.random.RandomState(0)
    shapes = {"W1": (3, 2), "b1": (3, 1), "W2": (1, 3), "b2": (1, 1)}

    def packed(values):
        flat = np.concatenate([values[k].ravel() for k in shapes])
        out, k0 = {}, 0
        for key, shape in shapes.items():
            n = int(np.prod(shape))
            out[key] = flat[k0 : k0 + n].reshape(shape)
            k0 += n
        return out

    params = packed({k: rng.randn(*s) for k, s in shapes.items()})
    v = {f"d{k}": a for k, a in packed({k: rng.randn(*s) for k, s in shapes.items()}).items()}
    grads = {f"d{k}": rng.randn(*s) for k, s in shapes.items()}
    before = {k: a.copy() for k, a in {**params, **v}.items()}
    new_p, new_v = update_parameters_with_momentum(params, grads, v, 0.9, 0.1)
    for k in shapes:
        expected_v = 0.9 * before[f"d{k}"] + (1 - 0.9) * grads[f"d{k}"]
        np.testing.assert_array_equal(new_v[f"d{k}"], expected_v)
        np.testing.assert_array_equal(new_p[k], before[k] - 0.1 * expected_v)
    for k, a in {**params, **v}.items():
        np.testing.assert_array_equal(a, before[k])
