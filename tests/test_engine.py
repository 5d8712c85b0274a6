"""The engine's step against the course's public functions, for every option, on every backend.

The training loops run :class:`portable_dnn.engine.Step`; the course's functions
(``linear_activation_forward`` ... ``update_parameters_with_adam``) are what a
learner reads. These tests hold the two to 1e-12 in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.backend.activations import ACTIVATIONS
from portable_dnn.backend.ops import Ops
from portable_dnn.engine import HIDDEN, OPTIMIZERS, Network, Step, flatten, new_state, unflatten
from portable_dnn.optim import GD
from tests.compare import make_optimizer

TOL = 1e-12
DIMS = [5, 4, 3]


def _data(backend, output, m=7, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(DIMS[0], m)
    if output == "sigmoid":
        Y = (rng.rand(1, m) > 0.5).astype(float)
    else:
        Y = np.eye(3)[:, rng.randint(0, 3, m)]
    masks = [(rng.rand(n, m) < 0.7).astype(float) for n in DIMS[1:]]
    return backend.asarray(X), backend.asarray(Y), [backend.asarray(D) for D in masks]


def _course_gradients(X, Y, params, hidden, output, keep_prob, masks, lambd):
    """The cost and gradients written with the course's own public functions."""
    L = len(params) // 2
    caches, A = [], X
    for l in range(1, L):
        A, cache = dnn.linear_activation_forward(A, params[f"W{l}"], params[f"b{l}"], hidden)
        caches.append(cache)
        if keep_prob < 1:
            A = dnn.apply_dropout(A, masks[l - 1], keep_prob)
    if output == "sigmoid":
        AL, cache = dnn.linear_activation_forward(A, params[f"W{L}"], params[f"b{L}"], "sigmoid")
        cost = dnn.compute_cost(AL, Y)
        dA, dW, db = dnn.linear_activation_backward(dnn.compute_cost_backward(AL, Y), cache, "sigmoid")
    else:
        Z, linear_cache = dnn.linear_forward(A, params[f"W{L}"], params[f"b{L}"])
        AL, _ = dnn.softmax(Z)
        cost = dnn.compute_cost_softmax(AL, Y)
        dA, dW, db = dnn.linear_backward(dnn.compute_cost_softmax_backward(AL, Y), linear_cache)
    grads = {f"dW{L}": dW, f"db{L}": db}
    for l in reversed(range(1, L)):
        if keep_prob < 1:
            dA = dnn.dropout_backward(dA, masks[l - 1], keep_prob)
        dA, grads[f"dW{l}"], grads[f"db{l}"] = dnn.linear_activation_backward(dA, caches[l - 1], hidden)
    m = int(X.shape[1])
    if lambd > 0:
        cost += dnn.l2_cost(params, lambd, m)
        grads = dnn.add_l2_grads(grads, params, lambd, m)
    return cost, grads


def _close(backend, got, expected, what):
    diff = float(np.max(np.abs(dnn.to_numpy(got) - dnn.to_numpy(expected))))
    assert diff <= TOL, f"{what}: differs by {diff}"


@pytest.mark.thin_grid
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("keep_prob, lambd", [(1.0, 0.0), (0.7, 0.0), (1.0, 0.3), (0.8, 0.5)])
def test_step_gradients_equal_the_course_functions(backend, hidden, output, keep_prob, lambd):
    X, Y, masks = _data(backend, output)
    dims = [*DIMS, 1 if output == "sigmoid" else 3]
    params = dnn.initialize_parameters_deep(dims, init="he", seed=2, backend=backend)
    cost_ref, grads_ref = _course_gradients(X, Y, params, hidden, output, keep_prob, masks, lambd)
    network = Network(hidden, output, keep_prob, lambd)
    # Plain gradient descent at rate 1 turns the update into "parameters minus gradients".
    step = Step(backend.ops(X.dtype), network, GD())
    state = new_state(backend.ops(X.dtype), params, GD())
    used = masks[: len(dims) - 2] if keep_prob < 1 else []
    (new,), cost = step(state, (X, Y, *used), (1.0, 1, int(X.shape[1])))
    assert float(cost) == pytest.approx(cost_ref, rel=0, abs=TOL)
    for key, value in unflatten(new).items():
        _close(backend, params[key] - value, grads_ref[f"d{key}"], f"d{key}")


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam"])
def test_step_updates_equal_the_course_optimizers(backend, optimizer):
    rng = np.random.RandomState(4)
    dims = [*DIMS, 1]
    params = dnn.initialize_parameters_deep(dims, init="he", seed=3, backend=backend)
    grads = {f"d{k}": backend.asarray(rng.randn(*v.shape)) for k, v in params.items()}
    slots = {k: backend.asarray(rng.rand(*v.shape)) for k, v in grads.items()}
    slots2 = {k: backend.asarray(rng.rand(*v.shape)) for k, v in grads.items()}
    opt = make_optimizer(optimizer, beta=0.8, beta1=0.85, beta2=0.99, epsilon=1e-7)
    lr, t = 0.05, 3
    if optimizer == "gd":
        expected = [dnn.update_parameters_with_gd(params, grads, lr)]
    elif optimizer == "momentum":
        expected = list(dnn.update_parameters_with_momentum(params, grads, slots, 0.8, lr))
    else:
        expected = list(
            dnn.update_parameters_with_adam(params, grads, slots, slots2, t, lr, 0.85, 0.99, 1e-7)
        )[:3]
    xp = backend.xp
    ops = backend.ops(xp.float64)
    # Laid out as the engine lays them out (on NumPy: one buffer per group, updated at once).
    state = [ops.pack(flatten(params))]
    state += [ops.pack(flatten(g, "d")) for g in (slots, slots2)[: len(expected) - 1]]
    step = Step(ops, Network(), opt)
    got, _ = step.update(state, xp.asarray(0.0), [xp.asarray(a, copy=True) for a in flatten(grads, "d")],
                         (lr, t, 7))  # fmt: skip
    for group, reference in zip(got, expected):
        prefix = "d" if "dW1" in reference else ""
        for key, value in unflatten(group, prefix).items():
            _close(backend, value, reference[key], key)


@pytest.mark.parametrize("dims", [[5, 4, 3], [300, 500, 3]], ids=["one-buffer", "per-parameter"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_a_step_is_its_gradients_then_its_update(backend, dims, optimizer):
    """A step moves the parameters as gradients() then update() do, step after step, whether the
    backend updates the state as one buffer or parameter by parameter, and leaves the arrays an
    earlier gradients() returned alone."""
    rng = np.random.RandomState(5)
    X = backend.asarray(rng.randn(dims[0], 9))
    Y = backend.asarray(np.eye(3)[:, rng.randint(0, 3, 9)])
    params = dnn.initialize_parameters_deep(dims, init="he", seed=4, backend=backend)
    opt = make_optimizer(optimizer, beta=0.8, beta1=0.85, beta2=0.99, epsilon=1e-7, rho=0.8, clip_norm=0.5)
    step = Step(backend.ops(X.dtype), Network("tanh", "softmax"), opt)
    one, two = new_state(step.ops, params, opt), new_state(step.ops, params, opt)
    _, kept = step.gradients(one[0], X, Y)
    kept_values = [dnn.to_numpy(g).copy() for g in kept]
    for t in (1, 2, 3):
        hyper = (0.05, t, 9)
        one, cost_one = step(one, (X, Y), hyper)
        two, cost_two = step.update(two, *step.gradients(two[0], X, Y), hyper)
        assert float(cost_one) == pytest.approx(float(cost_two), rel=0, abs=TOL)
        for a, b in zip(one[0], two[0]):
            _close(backend, a, b, f"parameters after step {t}")
    for g, value in zip(kept, kept_values):
        np.testing.assert_array_equal(dnn.to_numpy(g), value)


@pytest.mark.parametrize("kind", HIDDEN)
def test_backend_kernels_equal_the_array_api_kernels(backend, kind):
    """A backend's own kernels (in place, fused) compute what the plain Array API kernels compute."""
    rng = np.random.RandomState(6)
    fast = backend.ops(backend.xp.float64)
    plain = Ops(backend.xp, backend.xp.float64, backend.device, inplace=False)
    W, A, b = (backend.asarray(rng.randn(*s)) for s in ((4, 5), (5, 6), (4, 1)))
    Y = backend.asarray((rng.rand(4, 6) > 0.5).astype(float))

    def fresh(x):
        return backend.xp.asarray(x, copy=True)

    # Each side's forward kernels take its own linear(): a backend's may hand over W A and b unsummed.
    for name, args in [
        ("activation", lambda o: (o.realized(o.linear(W, A, b)), ACTIVATIONS[kind])),
        ("probabilities", lambda o: (o.linear(W, A, b), "softmax")),
        ("output", lambda o: (o.linear(W, A, b), Y, "sigmoid")),
        (
            "activation_grad",
            lambda o: (fresh(A[:4, :]), A[:4, :] - 0.25, backend.xp.abs(A[:4, :]) * 0.5, ACTIVATIONS[kind]),
        ),
        ("weight_grads", lambda o: (fresh(A[:4, :]), A)),
        ("sgd", lambda o: (fresh(W), fresh(W * 0.5), 0.1)),
        ("momentum", lambda o: (fresh(W), fresh(W * 0.5), fresh(W * 0.1), 0.9, 0.1)),
        ("adam", lambda o: (fresh(W), fresh(W * 0.5), fresh(W * 0.1), fresh(W * W), 2, 0.1, 0.9, 0.99, 1e-8)),
        ("nesterov", lambda o: (fresh(W), fresh(W * 0.5), fresh(W * 0.1), 0.9, 0.1)),
        ("rmsprop", lambda o: (fresh(W), fresh(W * 0.5), fresh(W * W), 0.9, 0.1, 1e-8)),
        (
            "adamw",
            lambda o: (fresh(W), fresh(W * 0.5), fresh(W * 0.1), fresh(W * W), 2, 0.1, 0.9, 0.99, 1e-8, 0.01),
        ),
        ("clip_by_norm", lambda o: ([fresh(W), fresh(b)], 0.5)),
    ]:
        got, want = getattr(fast, name)(*args(fast)), getattr(plain, name)(*args(plain))
        for g, w in zip(
            got if isinstance(got, (tuple, list)) else (got,),
            want if isinstance(want, (tuple, list)) else (want,),
        ):
            _close(backend, g, w, f"{name}({kind})")


def test_engine_trains_what_the_course_loop_trains(backend):
    """fit's full-batch gradient descent equals the course's own loop (relu, sigmoid, xavier)."""
    X, Y, _, _ = dnn.default_dataset()
    dims = [2, 6, 3, 1]
    params, history = dnn.fit(X, Y, dims, init="xavier", init_seed=1, learning_rate=0.3, num_epochs=30,
                              backend=backend)  # fmt: skip
    ref = dnn.initialize_parameters_deep(dims, init="xavier", seed=1, backend=backend)
    Xb, Yb = backend.asarray(X), backend.asarray(Y)
    costs = []
    for _ in range(30):
        AL, caches = dnn.L_model_forward(Xb, ref)
        costs.append(dnn.compute_cost(AL, Yb))
        ref = dnn.update_parameters(ref, dnn.L_model_backward(AL, Yb, caches), 0.3)
        ref = dict(zip(ref, backend.cut_graph(*ref.values())))
    np.testing.assert_allclose(history["cost"], costs, rtol=0, atol=TOL)
    for key in ref:
        _close(backend, params[key], ref[key], key)
