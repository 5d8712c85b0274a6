"""The second course's "Regularization" notebook: its exercises' published values, and any depth.

The inputs are the ones the notebook's tests build (``np.random.seed(1)`` then ``randn`` in a
fixed order, and the caches they spell out); the expected values are the numbers the
notebook and its tests print.
"""

from __future__ import annotations

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn._checks import dtype_kind
from portable_dnn.backend import namespace_of
from portable_dnn.course2 import regularization as reg
from portable_dnn.gradcheck import gradient_check

from .published import assert_printed

KEYS = ["dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1"]


SHAPES = {"W1": (2, 3), "b1": (2, 1), "W2": (3, 2), "b2": (3, 1), "W3": (1, 3), "b3": (1, 1)}


def _draws():
    """``np.random.seed(1)``; X (3, 5), then W1 (2, 3), b1, W2 (3, 2), b2, W3 (1, 3), b3."""
    rng = np.random.RandomState(1)
    X = rng.randn(3, 5)
    return X, {k: rng.randn(*shape) for k, shape in SHAPES.items()}


def _cost_draws():
    """The cost test's parameters: ``np.random.seed(1)``, then W1, b1, ... (no X drawn first)."""
    rng = np.random.RandomState(1)
    return {k: rng.randn(*shape) for k, shape in SHAPES.items()}


Y = np.array([[1, 1, 0, 1, 0]])

# The cache the notebook's L2 test spells out: forward_propagation of ``_draws()``.
Z1 = (
    "[[-1.52855314  3.32524635  2.13994541  2.60700654 -0.75942115]"
    " [-1.98043538  4.1600994   0.79051021  1.46493512 -0.45506242]]"
)
A1 = "[[ 0.  3.32524635  2.13994541  2.60700654  0. ] [ 0.  4.1600994   0.79051021  1.46493512  0. ]]"
Z2 = (
    "[[ 0.53035547  5.94892323  2.31780174  3.16005701  0.53035547]"
    " [-0.69166075 -3.47645987 -2.25194702 -2.65416996 -0.69166075]"
    " [-0.39675353 -4.62285846 -2.61101729 -3.22874921 -0.39675353]]"
)
A2 = "[[ 0.53035547  5.94892323  2.31780174  3.16005701  0.53035547] [0 0 0 0 0] [0 0 0 0 0]]"
Z3 = "[[-0.3771104  -4.10060224 -1.60539468 -2.18416951 -0.3771104 ]]"
A3 = "[[ 0.40682402  0.01629284  0.16722898  0.10118111  0.40682402]]"


def _parse(text):
    rows = [[float(v) for v in row.split()] for row in text.strip("[] ").split("] [")]
    return np.array(rows)


def _l2_cache():
    X, p = _draws()
    arrays = [_parse(Z1), _parse(A1), p["W1"], p["b1"], _parse(Z2), _parse(A2), p["W2"], p["b2"]]
    return X, (*arrays, _parse(Z3), _parse(A3), p["W3"], p["b3"])


def _dropout_cache():
    """The cache the notebook's dropout backward test spells out (masks of keep_prob 0.5 there)."""
    X, p = _draws()
    D1 = np.array([[True, False, True, True, True], [True, True, True, True, False]])
    D2 = np.array([[1, 0, 1, 0, 1], [0, 1, 0, 1, 1], [0, 0, 1, 0, 0]], dtype=bool)
    A1 = np.array([[0.0, 0.0, 4.27989081, 5.21401307, 0.0], [0.0, 8.32019881, 1.58102041, 2.92987024, 0.0]])
    Z2 = np.array(
        [
            [0.53035547, 8.02565606, 4.10524802, 5.78975856, 0.53035547],
            [-0.69166075, -1.71413186, -3.81223329, -4.61667916, -0.69166075],
            [-0.39675353, -2.62563561, -4.82528105, -6.0607449, -0.39675353],
        ]
    )
    A2 = np.zeros((3, 5))
    A2[0] = [1.06071093, 0.0, 8.21049603, 0.0, 1.06071093]
    Z3 = np.array([[-0.7415562, -0.0126646, -5.65469333, -0.0126646, -0.7415562]])
    A3 = np.array([[0.32266394, 0.49683389, 0.00348883, 0.49683389, 0.32266394]])
    hidden = (_parse(Z1), D1, A1, p["W1"], p["b1"], Z2, D2, A2, p["W2"], p["b2"])
    return X, (*hidden, Z3, A3, p["W3"], p["b3"])


# ------------------------------------------------------------------ costs


def test_compute_cost_with_regularization(backend, xp, to_backend):
    p = _cost_draws()
    A3_ = to_backend(_parse(A3))
    cost = reg.compute_cost_with_regularization(A3_, to_backend(Y), to_backend(p), 0.1)
    # The notebook's test: np.float64(1.7864859451590758); its earlier edition printed 1.78648594516.
    assert float(cost) == pytest.approx(1.7864859451590758, rel=1e-12)
    if backend.name == "numpy":
        assert type(cost) is np.float64
    else:
        assert namespace_of(cost) is xp and tuple(cost.shape) == ()
    plain = reg.compute_cost(A3_, to_backend(Y))
    l2 = 0.1 / (2 * 5) * sum(np.sum(p[k] ** 2) for k in ("W1", "W2", "W3"))
    assert float(plain) == pytest.approx(1.7864859451590758 - l2, rel=1e-12)
    assert type(plain) is np.float64 if backend.name == "numpy" else namespace_of(plain) is xp
    assert float(reg.compute_cost_with_regularization(A3_, to_backend(Y), to_backend(p), 0)) == float(plain)


def test_compute_cost_with_regularization_takes_any_depth(to_backend):
    rng = np.random.RandomState(2)
    p = {f"{k}{l}": rng.randn(2, 2) if k == "W" else rng.randn(2, 1) for l in (1, 2, 3, 4) for k in "Wb"}
    p["W4"], p["b4"] = rng.randn(1, 2), rng.randn(1, 1)
    AL = np.array([[0.3, 0.8, 0.6]])
    labels = np.array([[0, 1, 1]])
    cost = reg.compute_cost_with_regularization(to_backend(AL), to_backend(labels), to_backend(p), 0.4)
    expected = dnn.compute_cost(AL, labels) + 0.4 / 6 * sum(np.sum(p[f"W{l}"] ** 2) for l in (1, 2, 3, 4))
    assert float(cost) == pytest.approx(expected, rel=1e-13)


# ---------------------------------------------------------------- forward


def test_forward_propagation(to_backend):
    X, p = _draws()
    AL, cache = reg.forward_propagation(to_backend(X), to_backend(p))
    assert len(cache) == 12
    assert_printed(AL, A3)
    for got, text in zip(cache[:2] + cache[4:6] + cache[8:10], (Z1, A1, Z2, A2, Z3, A3)):
        assert_printed(got, text)
    for got, key in zip(cache[2:4] + cache[6:8] + cache[10:], ("W1", "b1", "W2", "b2", "W3", "b3")):
        np.testing.assert_array_equal(dnn.to_numpy(got), p[key])


def test_forward_propagation_with_dropout(backend, xp, to_backend):
    X, p = _draws()
    AL, cache = reg.forward_propagation_with_dropout(to_backend(X), to_backend(p), 0.7)
    assert_printed(AL, "[[0.36974721 0.00305176 0.04565099 0.49683389 0.36974721]]")
    assert len(cache) == 14
    Z1_, D1, A1_, W1, b1, Z2_, D2, A2_, W2, b2, Z3_, A3_, W3, b3 = cache
    assert_printed(Z1_, Z1)
    masks = {
        "D1": (D1, [[True, False, True, True, True], [True, True, True, True, True]]),
        "D2": (
            D2,
            [
                [True, True, True, False, True],
                [True, True, True, True, True],
                [False, False, True, True, False],
            ],
        ),
    }
    for D, expected in masks.values():
        assert namespace_of(D) is xp and dtype_kind(D) == "bool"
        np.testing.assert_array_equal(dnn.to_numpy(D), np.array(expected))
    assert_printed(A1_, "[[0.  0.  3.05706487 3.72429505 0. ] [0.  5.94299915 1.1293003  2.09276446 0. ]]")
    assert_printed(
        Z2_,
        "[[ 0.53035547  5.88414161  3.08385015  4.28707196  0.53035547]"
        " [-0.69166075 -1.42199726 -2.92064114 -3.49524533 -0.69166075]"
        " [-0.39675353 -1.98881216 -3.55998747 -4.44246165 -0.39675353]]",
    )
    assert_printed(A2_, "[[0.75765067 8.40591658 4.40550021 0.  0.75765067] [0 0 0 0 0] [0 0 0 0 0]]")
    assert_printed(Z3_, "[[-0.53330145 -5.78898099 -3.04000407 -0.0126646  -0.53330145]]")
    assert A3_ is AL
    for got, key in zip((W1, b1, W2, b2, W3, b3), ("W1", "b1", "W2", "b2", "W3", "b3")):
        np.testing.assert_array_equal(dnn.to_numpy(got), p[key])
    assert AL.dtype == to_backend(X).dtype


def test_dropout_masks_are_the_notebooks_stream_at_any_depth(to_backend):
    """np.random.seed(1) at every call, then one rand per hidden layer in order; NumPy's global state
    is left alone."""
    rng = np.random.RandomState(4)
    dims = [3, 4, 5, 2, 1]
    p = {}
    for l in range(1, len(dims)):
        p[f"W{l}"], p[f"b{l}"] = rng.randn(dims[l], dims[l - 1]), rng.randn(dims[l], 1)
    X = rng.randn(3, 6)
    np.random.seed(5)
    state = np.random.get_state()[1].copy()
    for _ in range(2):
        _, cache = reg.forward_propagation_with_dropout(to_backend(X), to_backend(p), 0.6)
        assert len(cache) == 5 * 3 + 4
        stream = np.random.RandomState(1)
        for l, n in enumerate(dims[1:-1]):
            np.testing.assert_array_equal(dnn.to_numpy(cache[5 * l + 1]), stream.rand(n, 6) < 0.6)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    # keep_prob=1 keeps every unit: the values of forward_propagation.
    AL, cache = reg.forward_propagation_with_dropout(to_backend(X), to_backend(p), 1.0)
    AL_plain, _ = reg.forward_propagation(to_backend(X), to_backend(p))
    np.testing.assert_array_equal(dnn.to_numpy(AL), dnn.to_numpy(AL_plain))


# --------------------------------------------------------------- backward

L2_GRADS = {
    "dZ3": "[[-0.59317598 -0.98370716  0.16722898 -0.89881889  0.40682402]]",
    "dW3": "[[-1.77691347 -0.11832879 -0.09397446]]",
    "db3": "[[-0.38032981]]",
    "dA2": (
        "[[ 0.40761434  0.67597671 -0.11491519  0.6176438  -0.27955836]"
        " [ 0.50135568  0.83143484 -0.14134288  0.7596868  -0.34384996]"
        " [ 0.39816708  0.66030962 -0.11225181  0.6033287  -0.27307905]]"
    ),
    "dZ2": "[[ 0.40761434  0.67597671 -0.11491519  0.6176438  -0.27955836] [0 0 0 0 0] [0 0 0 0 0]]",
    "dW2": "[[ 0.79276486  0.85133918] [-0.0957219  -0.01720463] [-0.13100772 -0.03750433]]",
    "db2": "[[0.26135226] [0.        ] [0.        ]]",
    "dA1": (
        "[[ 0.2048239   0.33967447 -0.05774423  0.31036252 -0.14047649]"
        " [ 0.3672018   0.60895764 -0.10352203  0.5564081  -0.25184181]]"
    ),
    "dZ1": "[[ 0.  0.33967447 -0.05774423  0.31036252 -0. ] [ 0.  0.60895764 -0.10352203  0.5564081  -0. ]]",
    "dW1": "[[-0.25604646  0.12298827 -0.28297129] [-0.17706303  0.34536094 -0.4410571 ]]",
    "db1": "[[0.11845855] [0.21236874]]",
}

DROPOUT_GRADS = {
    "dZ3": "[[-0.67733606 -0.50316611  0.00348883 -0.50316611  0.32266394]]",
    "dW3": "[[-0.06951191  0.          0.        ]]",
    "db3": "[[-0.2715031]]",
    "dA2": (
        "[[ 0.58180856  0.         -0.00299679  0.         -0.27715731]"
        " [ 0.          0.53159854 -0.          0.53159854 -0.34089673]"
        " [ 0.          0.         -0.00292733  0.         -0.        ]]"
    ),
    "dZ2": "[[ 0.58180856  0.  -0.00299679  0.  -0.27715731] [0 0 0 0 0] [0 0 0 0 0]]",
    "dW2": "[[-0.00256518 -0.0009476 ] [ 0.  0. ] [ 0.  0. ]]",
    "db2": "[[0.06033089] [0.        ] [0.        ]]",
    "dA1": "[[ 0.36544439  0.  -0.00188233  0.  -0.17408748] [ 0.65515713  0.  -0.00337459  0.  -0. ]]",
    "dZ1": "[[ 0.  0.  -0.00188233  0.  -0. ] [ 0.  0.  -0.00337459  0.  -0. ]]",
    "dW1": "[[0.00019884 0.00028657 0.00012138] [0.00035647 0.00051375 0.00021761]]",
    "db1": "[[-0.00037647] [-0.00067492]]",
}


def _assert_grads(grads, printed, xp, dtype):
    """The printed gradients to 1e-7: the caches the tests spell out are rounded to 8 decimals,
    the printed values were computed from unrounded ones."""
    assert list(grads) == KEYS
    for key, text in printed.items():
        assert namespace_of(grads[key]) is xp and grads[key].dtype == dtype, key
        np.testing.assert_allclose(dnn.to_numpy(grads[key]), _parse(text), atol=1e-7, rtol=0, err_msg=key)


def test_backward_propagation_with_regularization(xp, to_backend):
    X, cache = _l2_cache()
    cache = to_backend(cache)
    grads = reg.backward_propagation_with_regularization(to_backend(X), to_backend(Y), cache, 0.7)
    _assert_grads(grads, L2_GRADS, xp, cache[0].dtype)


def test_backward_propagation(xp, to_backend):
    """Without the L2 term: the notebook's dW less ``lambd / m * W``; everything else unchanged."""
    X, cache = _l2_cache()
    grads = reg.backward_propagation(to_backend(X), to_backend(Y), to_backend(cache))
    assert list(grads) == KEYS
    weights = {"dW1": cache[2], "dW2": cache[6], "dW3": cache[10]}
    for key, text in L2_GRADS.items():
        expected = _parse(text) - (0.7 / 5 * weights[key] if key in weights else 0)
        np.testing.assert_allclose(dnn.to_numpy(grads[key]), expected, atol=1e-8, rtol=0)


def test_backward_propagation_with_dropout(xp, to_backend):
    X, cache = _dropout_cache()
    grads = reg.backward_propagation_with_dropout(to_backend(X), to_backend(Y), to_backend(cache), 0.8)
    _assert_grads(grads, DROPOUT_GRADS, xp, to_backend(cache[0]).dtype)
    # The masks as the course's int (astype(int)) or as 0/1 floats give the same gradients.
    for kind in (np.int64, np.float64):
        again = list(cache)
        again[1], again[6] = cache[1].astype(kind), cache[6].astype(kind)
        other = reg.backward_propagation_with_dropout(
            to_backend(X), to_backend(Y), to_backend(tuple(again)), 0.8
        )
        for key in KEYS:
            np.testing.assert_array_equal(dnn.to_numpy(other[key]), dnn.to_numpy(grads[key]))


@pytest.mark.parametrize(
    ("at", "mask", "found"),
    [
        (1, np.random.RandomState(0).rand(2, 5), repr(float(np.random.RandomState(0).rand())) + " at [0, 0]"),
        (6, np.full((3, 5), 2, dtype=np.int64), "2.0 at [0, 0]"),
        (6, np.where(np.eye(3, 5) > 0, np.nan, 1.0), "nan at [0, 0]"),
    ],
    ids=["D1-uniform", "D2-twos", "D2-nan"],
)
def test_backward_propagation_with_dropout_refuses_masks_that_are_not_zero_one(to_backend, at, mask, found):
    X, cache = _dropout_cache()
    cache = list(cache)
    cache[at] = mask
    with pytest.raises(ValueError) as info:
        reg.backward_propagation_with_dropout(to_backend(X), to_backend(Y), to_backend(tuple(cache)), 0.8)
    name = f"cache[{at}] (D{1 if at == 1 else 2})"
    assert str(info.value) == (
        f"backward_propagation_with_dropout: {name} must be a dropout mask of 0s and 1s "
        f"(rand(...) < keep_prob), found {found}"
    )


def test_inputs_are_left_as_they_were(to_backend):
    X, cache = _dropout_cache()
    before = [np.array(a, copy=True) for a in cache]
    reg.backward_propagation_with_dropout(X, Y, cache, 0.8)
    X2, p = _draws()
    saved = {k: v.copy() for k, v in p.items()}
    reg.forward_propagation_with_dropout(X2, p, 0.7)
    reg.compute_cost_with_regularization(_parse(A3), Y, p, 0.1)
    for a, b in zip(cache, before):
        np.testing.assert_array_equal(a, b)
    for k, v in p.items():
        np.testing.assert_array_equal(v, saved[k])


def _deep(dims, seed=6):
    rng = np.random.RandomState(seed)
    p = {}
    for l in range(1, len(dims)):
        p[f"W{l}"], p[f"b{l}"] = rng.randn(dims[l], dims[l - 1]), 0.1 * rng.randn(dims[l], 1)
    return rng.randn(dims[0], 7), (rng.rand(1, 7) < 0.5).astype(np.int64), p


@pytest.mark.parametrize("dims", [[3, 1], [3, 4, 1], [3, 3, 2, 2, 1]])
def test_backward_passes_are_the_costs_gradients_at_any_depth(backend, to_backend, dims):
    """Checked numerically against compute_cost and compute_cost_with_regularization."""
    X, labels, p = _deep(dims)
    X_, Y_ = to_backend(X), to_backend(labels)

    def cost(q):
        return float(reg.compute_cost(reg.forward_propagation(X_, q)[0], Y_))

    def grads(q):
        g = reg.backward_propagation(X_, Y_, reg.forward_propagation(X_, q)[1])
        return {k: v for k, v in g.items() if k[:2] in ("dW", "db")}

    assert gradient_check(cost, grads, to_backend(p)) < 1e-7

    def l2_cost(q):
        return float(reg.compute_cost_with_regularization(reg.forward_propagation(X_, q)[0], Y_, q, 0.7))

    def l2_grads(q):
        cache = reg.forward_propagation(X_, q)[1]
        g = reg.backward_propagation_with_regularization(X_, Y_, cache, 0.7)
        return {k: v for k, v in g.items() if k[:2] in ("dW", "db")}

    assert gradient_check(l2_cost, l2_grads, to_backend(p)) < 1e-7
    L = len(dims) - 1
    cache = reg.forward_propagation(X_, to_backend(p))[1]
    expected = []
    for l in range(L, 0, -1):
        expected += [f"dZ{l}", f"dW{l}", f"db{l}"] + ([f"dA{l - 1}"] if l > 1 else [])
    assert list(reg.backward_propagation(X_, Y_, cache)) == expected


def test_dropout_backward_is_the_gradient_with_its_masks_fixed(backend, to_backend):
    """With the masks the forward pass drew held fixed, backward_propagation_with_dropout is the
    gradient of the cost of that forward pass (the notebook's masks are the same at every call)."""
    X, labels, p = _deep([3, 5, 4, 1])
    X_, Y_ = to_backend(X), to_backend(labels)

    def cost(q):
        return float(reg.compute_cost(reg.forward_propagation_with_dropout(X_, q, 0.6)[0], Y_))

    def grads(q):
        cache = reg.forward_propagation_with_dropout(X_, q, 0.6)[1]
        g = reg.backward_propagation_with_dropout(X_, Y_, cache, 0.6)
        return {k: v for k, v in g.items() if k[:2] in ("dW", "db")}

    assert gradient_check(cost, grads, to_backend(p)) < 1e-7


def test_errors():
    X, cache = _l2_cache()
    with pytest.raises(ValueError, match=r"backward_propagation: cache must be a tuple \(Z1, A1, W1, b1"):
        reg.backward_propagation(X, Y, cache[:-1])
    with pytest.raises(
        ValueError, match=r"backward_propagation_with_dropout: cache must be a tuple \(Z1, D1, A1"
    ):
        reg.backward_propagation_with_dropout(X, Y, cache, 0.8)
    with pytest.raises(
        ValueError, match="backward_propagation_with_regularization: lambd must be a finite number"
    ):
        reg.backward_propagation_with_regularization(X, Y, cache, -1)
    with pytest.raises(
        ValueError, match=r"backward_propagation_with_dropout: keep_prob must be a number in \(0, 1\]"
    ):
        reg.backward_propagation_with_dropout(X, Y, _dropout_cache()[1], 0)
    with pytest.raises(
        ValueError,
        match=r"backward_propagation: cache\[2\] \(W1\) has shape \(2, 3\), expected \(2, 2\) "
        r"\(its columns must equal the rows of X, 2\)",
    ):
        reg.backward_propagation(X[:2], Y, cache)
    with pytest.raises(TypeError, match="backward_propagation: cache\\[5\\] must be an array"):
        reg.backward_propagation(X, Y, (*cache[:5], [0.0], *cache[6:]))
    _, p = _draws()
    with pytest.raises(
        ValueError, match="forward_propagation: X has shape \\(2, 5\\), expected \\(3, any\\)"
    ):
        reg.forward_propagation(X[:2], p)
    with pytest.raises(
        ValueError, match=r"forward_propagation_with_dropout: keep_prob must be a number in \(0, 1\]"
    ):
        reg.forward_propagation_with_dropout(X, p, 1.5)
    with pytest.raises(ValueError, match="compute_cost_with_regularization: lambd must be a finite number"):
        reg.compute_cost_with_regularization(_parse(A3), Y, p, float("nan"))
    with pytest.raises(ValueError, match="compute_cost: Y has shape"):
        reg.compute_cost(_parse(A3), np.ones((1, 4)))


# ------------------------------------------------------------------ model


@pytest.fixture(scope="module")
def circles():
    pytest.importorskip("sklearn")
    from portable_dnn.course2.initialization import load_dataset

    return load_dataset()


@pytest.mark.parametrize("lambd, keep_prob", [(0, 1), (0.7, 1), (0, 0.86)])
def test_model_starts_from_the_notebooks_weights(backend, circles, capsys, lambd, keep_prob):
    """The notebook's [n_x, 20, 3, 1] network from randn / sqrt(n[l-1]) drawn with seed 3: the first
    printed cost is the cost (with its L2 term) of those weights; dropout draws its own masks."""
    X, labels, _, _ = circles
    parameters = reg.model(X, labels, num_iterations=2, lambd=lambd, keep_prob=keep_prob, backend=backend)
    line = capsys.readouterr().out
    assert line.startswith("Cost after iteration 0: ") and line.count("\n") == 1
    printed = float(line.split(": ")[1])
    start = dnn.initialize_parameters_deep([2, 20, 3, 1], init="xavier", seed=3, backend="numpy")
    AL, _ = reg.forward_propagation(X, start)
    if keep_prob == 1:
        expected = reg.compute_cost_with_regularization(AL, labels, start, lambd)
        assert printed == pytest.approx(float(expected), rel=1e-12)
    else:
        assert printed != pytest.approx(float(reg.compute_cost(AL, labels)), rel=1e-6)
    assert [tuple(parameters[f"W{l}"].shape) for l in (1, 2, 3)] == [(20, 2), (3, 20), (1, 3)]


@pytest.mark.parametrize("lambd, keep_prob", [(0, 1), (0.7, 1), (0, 0.86)])
def test_model_rounds_as_the_backward_pass_its_notebook_calls(circles, lambd, keep_prob):
    """Without L2 and dropout the notebook's model calls ``reg_utils.backward_propagation``, which
    divides dZ by m before the products; otherwise the graded passes, which divide the products."""
    X, labels, _, _ = circles
    parameters = reg.model(X, labels, num_iterations=3, print_cost=False, lambd=lambd, keep_prob=keep_prob,
                           backend="numpy")  # fmt: skip
    expected, _ = dnn.fit(X, labels, [2, 20, 3, 1], init="xavier", init_seed=3, seed=reg.MASK_SEED,
                          learning_rate=0.3, num_epochs=3, lambd=lambd, keep_prob=keep_prob,
                          scale_dz_first=lambd == 0 and keep_prob == 1, backend="numpy")  # fmt: skip
    for key, value in expected.items():
        np.testing.assert_array_equal(parameters[key], value, err_msg=key)


def test_model_prints_every_10000_iterations(circles, capsys):
    X, labels, _, _ = circles
    parameters = reg.model(X, labels, num_iterations=10001, backend="numpy")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["Cost after iteration 0", "Cost after iteration 10000"]
    assert float(lines[1].split(": ")[1]) < float(lines[0].split(": ")[1])
    predictions = reg.predict(X, labels, parameters)
    assert capsys.readouterr().out.startswith("Accuracy: ")
    assert tuple(predictions.shape) == (1, 300)


def test_model_errors():
    X, labels = np.zeros((2, 4)), np.zeros((1, 4))
    with pytest.raises(ValueError, match="model: num_iterations must be an integer >= 1"):
        reg.model(X, labels, num_iterations=0)
    with pytest.raises(ValueError, match="fit: keep_prob must be a number in"):
        reg.model(X, labels, keep_prob=0, print_cost=False)
    with pytest.raises(TypeError, match="model: X must be an array"):
        reg.model(None, labels)
