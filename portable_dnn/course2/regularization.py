"""The second course's "Regularization" notebook: L2 regularization and dropout, ``model``, ``predict``.

``from portable_dnn.course2.regularization import *`` gives the notebook's graded functions
and the utilities they use, with the notebook's names, signatures and return values. The
notebook's network has three layers; these take any depth ``L`` (ReLU hidden layers, a
sigmoid output) and keep its layouts, which for ``L = 3`` are the notebook's own:

- ``forward_propagation`` returns ``(A3, cache)`` with
  ``cache = (Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)``: ``(Zl, Al, Wl, bl)`` per layer;
- ``forward_propagation_with_dropout`` caches ``(Zl, Dl, Al, Wl, bl)`` for each hidden layer
  (``Dl`` the boolean mask, ``Al`` after dropout) and ``(ZL, AL, WL, bL)`` for the output;
- the backward passes return ``{"dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1",
  "dZ1", "dW1", "db1"}``, in that order.

The arithmetic is the package's own (``linear_activation_forward``, ``linear_gradients``,
``apply_dropout``, ``dropout_backward``, ``add_l2_grads``, ...: the training engine's kernels). The
backward passes divide the products by m, as the graded ones do (and return their keys and
values); ``model`` trains through :func:`portable_dnn.fit` in the order of roundings of the
backward pass the notebook's model calls.

>>> import numpy as np
>>> p = {"W1": np.ones((2, 3)), "b1": np.zeros((2, 1)), "W2": np.ones((1, 2)), "b2": np.zeros((1, 1))}
>>> A2, cache = forward_propagation(np.zeros((3, 4)), p)
>>> A2, len(cache)
(array([[0.5, 0.5, 0.5, 0.5]]), 8)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import array_api_compat
import numpy as np

from portable_dnn._checks import (
    check_array,
    check_count,
    check_float,
    check_same_dtype,
    check_shape,
    dtype_kind,
    num_layers,
    shape_of,
)
from portable_dnn.activations import relu_backward
from portable_dnn.backend import Backend, host_random_state, namespace_of
from portable_dnn.cost import check_labels, checked_cross_entropy
from portable_dnn.course2._costs import print_costs
from portable_dnn.course2._predict import predict
from portable_dnn.fit import fit
from portable_dnn.layer import linear_activation_forward
from portable_dnn.linear import linear_gradients
from portable_dnn.regularization import (
    add_l2_grads,
    apply_dropout,
    check_keep_prob,
    check_lambd,
    checked_dropout,
    host_mask,
    l2_terms,
)

__all__ = [
    "compute_cost_with_regularization",
    "backward_propagation_with_regularization",
    "forward_propagation_with_dropout",
    "backward_propagation_with_dropout",
    "forward_propagation",
    "backward_propagation",
    "compute_cost",
    "predict",
    "model",
]

#: The notebook's ``np.random.seed(1)`` at the start of every dropout forward pass.
MASK_SEED = 1


# ------------------------------------------------------------------ cost


def compute_cost(a3: Any, Y: Any) -> Any:
    """Cross-entropy ``-1/m sum(Y log(a3) + (1 - Y) log(1 - a3))``: a NumPy ``float64`` for NumPy
    input, a 0-d array of the input's library otherwise.

    As :func:`portable_dnn.compute_cost` (outputs clipped to ``[eps, 1 - eps]``), but not
    converted to a Python float.

    >>> import numpy as np
    >>> compute_cost(np.array([[0.8, 0.9, 0.4]]), np.array([[1, 1, 1]])).round(6)
    np.float64(0.414932)
    """
    return checked_cross_entropy("compute_cost", a3, Y)


def compute_cost_with_regularization(A3: Any, Y: Any, parameters: Mapping[str, Any], lambd: float) -> Any:
    """The regularized cost: :func:`compute_cost` plus ``lambd / (2 m) * sum_l ||Wl||^2``.

    A NumPy ``float64`` for NumPy input, a 0-d array of the input's library otherwise.
    Every ``Wl`` of ``parameters`` counts, whatever the depth.

    >>> import numpy as np
    >>> p = {"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))}
    >>> compute_cost_with_regularization(np.array([[0.5, 0.5]]), np.array([[1, 0]]), p, 0.1).round(6)
    np.float64(0.743147)
    """
    func = "compute_cost_with_regularization"
    lambd = check_lambd(func, lambd)
    L = num_layers(func, parameters)
    check_array(func, "A3", A3)
    namespace_of(A3, *(parameters[f"W{l}"] for l in range(1, L + 1)), func=func)
    cross_entropy = checked_cross_entropy(func, A3, Y, stacklevel=4)  # checks A3 is (1, m)
    return cross_entropy + l2_terms(parameters, lambd, shape_of(A3)[1], func)[0]


# ---------------------------------------------------------------- forward


def forward_propagation(X: Any, parameters: Mapping[str, Any]) -> tuple[Any, tuple[Any, ...]]:
    """[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID: ``(AL, cache)``, the cache
    ``(Z1, A1, W1, b1, ..., ZL, AL, WL, bL)``.

    >>> import numpy as np
    >>> p = {"W1": np.array([[1.0], [-1.0]]), "b1": np.zeros((2, 1)),
    ...      "W2": np.array([[1.0, 1.0]]), "b2": np.zeros((1, 1))}
    >>> A2, (Z1, A1, W1, b1, Z2, _, W2, b2) = forward_propagation(np.array([[2.0]]), p)
    >>> A1.ravel(), Z2.ravel()
    (array([2., 0.]), array([2.]))
    """
    return forward_pass("forward_propagation", X, parameters)


def forward_propagation_with_dropout(
    X: Any, parameters: Mapping[str, Any], keep_prob: float = 0.5
) -> tuple[Any, tuple[Any, ...]]:
    """:func:`forward_propagation` with inverted dropout after every hidden layer: ``(AL, cache)``.

    As the notebook: the masks are ``rand(n[l], m) < keep_prob``, drawn layer after layer
    from a stream seeded 1 at every call (a private ``RandomState``: NumPy's global
    random state is left alone), so every call drops the same units. The cache holds
    ``(Zl, Dl, Al, Wl, bl)`` for each hidden layer (``Dl`` boolean, ``Al`` after dropout)
    and ``(ZL, AL, WL, bL)`` for the output.

    >>> import numpy as np
    >>> p = {"W1": np.ones((3, 1)), "b1": np.zeros((3, 1)), "W2": np.ones((1, 3)), "b2": np.zeros((1, 1))}
    >>> A2, (Z1, D1, A1, W1, b1, Z2, _, W2, b2) = forward_propagation_with_dropout(np.ones((1, 2)), p, 0.5)
    >>> D1
    array([[ True, False],
           [ True,  True],
           [ True,  True]])
    >>> A1
    array([[2., 0.],
           [2., 2.],
           [2., 2.]])
    """
    func = "forward_propagation_with_dropout"
    return forward_pass(func, X, parameters, check_keep_prob(func, keep_prob))


def forward_pass(
    func: str, X: Any, parameters: Mapping[str, Any], keep_prob: float | None = None
) -> tuple[Any, tuple[Any, ...]]:
    """The notebooks' forward pass, checked as ``func``: ``(AL, cache)`` in the layouts above, each
    layer :func:`portable_dnn.linear_activation_forward` (ReLU, then a sigmoid output) and, with
    ``keep_prob``, :func:`portable_dnn.apply_dropout` after each hidden layer.

    >>> import numpy as np
    >>> p = {"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))}
    >>> forward_pass("forward", np.zeros((2, 3)), p)[0]
    array([[0.5, 0.5, 0.5]])
    """
    L = num_layers(func, parameters)
    check_array(func, "X", X)
    W1 = parameters["W1"]
    xp = namespace_of(X, *parameters.values(), func=func)
    check_float(func, "X", xp, X)
    check_same_dtype(func, ("X", "W1"), (X, W1))
    n_x = shape_of(W1)[1]
    check_shape(func, "X", X, (n_x, None), f"(features must equal W1's columns, {n_x})")
    rng = host_random_state(MASK_SEED) if keep_prob is not None else None
    cache: list[Any] = []
    A = X
    for l in range(1, L + 1):
        W, b = parameters[f"W{l}"], parameters[f"b{l}"]
        A, (_, Z) = linear_activation_forward(A, W, b, "relu" if l < L else "sigmoid")
        if l == L or keep_prob is None:
            cache += [Z, A, W, b]
        else:
            D = xp.asarray(host_mask(rng, shape_of(A), keep_prob), device=array_api_compat.device(A))
            A = apply_dropout(A, D, keep_prob)
            cache += [Z, D, A, W, b]
    return A, tuple(cache)


# --------------------------------------------------------------- backward


def backward_propagation(X: Any, Y: Any, cache: tuple[Any, ...]) -> dict[str, Any]:
    """Gradients of :func:`compute_cost` from :func:`forward_propagation`'s cache:
    ``{"dZL", "dWL", "dbL", "dA(L-1)", ..., "dZ1", "dW1", "db1"}``.

    ``dZL = AL - Y``; below, ``dAl = W(l+1)^T dZ(l+1)`` and ``dZl = dAl`` where ``Al > 0``, else 0.
    (The notebook's ``reg_utils`` version returns ``dZ`` divided by m, under lower-case keys;
    this one keeps the graded functions' keys and values.)

    >>> import numpy as np
    >>> p = {"W1": np.ones((1, 1)), "b1": np.zeros((1, 1))}
    >>> A1, cache = forward_propagation(np.zeros((1, 2)), p)
    >>> backward_propagation(np.zeros((1, 2)), np.array([[1, 0]]), cache)["db1"]
    array([[0.]])
    """
    return backward_pass("backward_propagation", X, Y, cache)


def backward_propagation_with_regularization(
    X: Any, Y: Any, cache: tuple[Any, ...], lambd: float
) -> dict[str, Any]:
    """:func:`backward_propagation` with the L2 term: ``dWl`` gains ``lambd / m * Wl``.

    >>> import numpy as np
    >>> p = {"W1": np.ones((1, 1)), "b1": np.zeros((1, 1))}
    >>> A1, cache = forward_propagation(np.zeros((1, 2)), p)
    >>> backward_propagation_with_regularization(np.zeros((1, 2)), np.array([[1, 0]]), cache, 0.4)["dW1"]
    array([[0.2]])
    """
    func = "backward_propagation_with_regularization"
    return backward_pass(func, X, Y, cache, lambd=check_lambd(func, lambd))


def backward_propagation_with_dropout(
    X: Any, Y: Any, cache: tuple[Any, ...], keep_prob: float
) -> dict[str, Any]:
    """:func:`backward_propagation` through :func:`forward_propagation_with_dropout`'s cache:
    each ``dAl`` is masked by ``Dl`` and divided by ``keep_prob`` before ``dZl``.

    The masks may be boolean, 0/1 integers or 0/1 floats of the cache's dtype.

    >>> import numpy as np
    >>> p = {"W1": np.ones((2, 1)), "b1": np.zeros((2, 1)), "W2": np.ones((1, 2)), "b2": np.zeros((1, 1))}
    >>> A2, cache = forward_propagation_with_dropout(np.ones((1, 1)), p, 0.5)
    >>> cache[1].ravel()  # D1: the second unit dropped
    array([ True, False])
    >>> backward_propagation_with_dropout(np.ones((1, 1)), np.array([[1]]), cache, 0.5)["dW1"].round(6)
    array([[-0.238406],
           [ 0.      ]])
    """
    func = "backward_propagation_with_dropout"
    return backward_pass(func, X, Y, cache, keep_prob=check_keep_prob(func, keep_prob))


def backward_pass(
    func: str,
    X: Any,
    Y: Any,
    cache: tuple[Any, ...],
    lambd: float = 0.0,
    keep_prob: float | None = None,
) -> dict[str, Any]:
    """The notebooks' backward pass from :func:`forward_pass`'s cache, checked as ``func``.

    ``dZL = AL - Y``; each layer's gradients are :func:`portable_dnn.linear_gradients`'s, each
    ``dAl`` passes :func:`portable_dnn.dropout_backward` (with ``keep_prob``) and the ReLU's
    gradient (``dAl`` where the cached ``Al > 0``), and ``lambd > 0`` adds the L2 term's; the
    products are divided by m (the graded functions' and the gradient checking notebook's order).

    >>> import numpy as np
    >>> p = {"W1": np.ones((1, 1)), "b1": np.zeros((1, 1))}
    >>> cache = forward_pass("forward", np.ones((1, 2)), p)[1]
    >>> backward_pass("backward", np.ones((1, 2)), np.array([[1, 1]]), cache)["dW1"].round(6)
    array([[-0.268941]])
    """
    layers = _layers(func, X, cache, dropout=keep_prob is not None)
    L = len(layers)
    AL = layers[-1]["A"]
    xp = namespace_of(AL, func=func)
    Y = check_labels(func, xp, AL, Y)
    m = shape_of(X)[1]
    grads: dict[str, Any] = {}
    dZ = AL - Y
    for l in range(L, 0, -1):
        layer = layers[l - 1]
        A_prev = X if l == 1 else layers[l - 2]["A"]
        dA_prev, dW, db = linear_gradients(func, dZ, (A_prev, layer["W"], layer["b"]))
        grads[f"dZ{l}"], grads[f"dW{l}"], grads[f"db{l}"] = dZ, dW, db
        if l == 1:
            break
        below = layers[l - 2]
        if keep_prob is not None:
            dA_prev = checked_dropout(func, f"dA{l - 1}", dA_prev, below["D"], keep_prob, below["where"]["D"])
        grads[f"dA{l - 1}"] = dA_prev
        # The notebook's ReLU gradient: dA where the layer's (cached) output is positive.
        dZ = relu_backward(dA_prev, below["A"])
    if lambd > 0:
        weights = {f"{k}{l}": layers[l - 1][k] for l in range(1, L + 1) for k in ("W", "b")}
        grads = add_l2_grads(grads, weights, lambd, m)
    return grads


def _layers(func: str, X: Any, cache: Any, dropout: bool) -> list[dict[str, Any]]:
    """The cache as one dict per layer (``Z``, ``A``, ``W``, ``b``; ``D`` for a hidden layer
    with dropout; ``where``: what messages call each), checked against ``X``: shapes that
    chain, one floating dtype."""
    per_hidden, names = (5, ("Z", "D", "A", "W", "b")) if dropout else (4, ("Z", "A", "W", "b"))
    layout = f"(Z1, {'D1, ' if dropout else ''}A1, W1, b1, ..., ZL, AL, WL, bL)"
    n = len(cache) if isinstance(cache, (tuple, list)) else -1
    if n < 4 or (n - 4) % per_hidden:
        got = f"a {type(cache).__name__} of length {n}" if n >= 0 else type(cache).__name__
        raise ValueError(f"{func}: cache must be a tuple {layout}, got {got}")
    check_array(func, "X", X)
    for i, a in enumerate(cache):
        check_array(func, f"cache[{i}]", a)
    mask = None if dropout else next((i for i, a in enumerate(cache) if dtype_kind(a) == "bool"), None)
    if mask is not None:
        raise ValueError(
            f"{func}: cache[{mask}] is a boolean array, a dropout mask: {func} takes the cache "
            f"{layout}, without masks"
        )
    xp = namespace_of(X, *cache, func=func)
    check_float(func, "X", xp, X)
    L = (n - 4) // per_hidden + 1
    layers: list[dict[str, Any]] = []
    at = 0
    n_prev, m = shape_of(X)
    prev = "X"
    for l in range(1, L + 1):
        keys = names if l < L else ("Z", "A", "W", "b")
        layer = dict(zip(keys, cache[at : at + len(keys)]))
        where = {k: f"cache[{at + i}] ({k}{l})" for i, k in enumerate(keys)}
        at += len(keys)
        n_l = shape_of(layer["W"])[0]
        check_shape(
            func,
            where["W"],
            layer["W"],
            (n_l, n_prev),
            f"(its columns must equal the rows of {prev}, {n_prev})",
        )
        check_shape(func, where["b"], layer["b"], (n_l, 1), f"(one bias per row of W{l})")
        for k in ("Z", "A", "D") if "D" in layer else ("Z", "A"):
            check_shape(func, where[k], layer[k], (n_l, m), f"({n_l} units of {m} examples)")
        floats = ("Z", "A", "W", "b")
        check_same_dtype(func, ("X", *(where[k] for k in floats)), (X, *(layer[k] for k in floats)))
        layers.append({**layer, "where": where})
        n_prev, prev = n_l, f"A{l}"
    return layers


# ------------------------------------------------------------------ model


def model(
    X: Any,
    Y: Any,
    learning_rate: float = 0.3,
    num_iterations: int = 30000,
    print_cost: bool = True,
    lambd: float = 0,
    keep_prob: float = 1,
    *,
    backend: str | Backend | None = None,
) -> dict[str, Any]:
    """The notebook's LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID network: its parameters.

    Layers ``[n_x, 20, 3, 1]``, weights ``randn / sqrt(n[l-1])`` drawn with seed 3 (the
    package's ``init="xavier"``), full-batch gradient descent for ``num_iterations``
    iterations, with the L2 term when ``lambd > 0`` and inverted dropout after each
    hidden layer when ``keep_prob < 1``; with ``print_cost`` the cost (with its L2 term
    and dropout, as the notebook records it) every 10000 iterations. The cost curve is
    not plotted: train with :func:`portable_dnn.fit` for it (``history["cost"]``).
    ``backend`` picks where to train host data, as in ``fit``.

    It takes any data. The notebook's figures (train and test accuracy 0.948 and 0.915
    without regularization, 0.938 and 0.93 with ``lambd=0.7``, 0.929 and 0.95 with
    ``keep_prob=0.86``) are on the course's ``data.mat``, which is not shipped here. Two
    differences from the notebook: dropout draws fresh masks at every iteration (the
    notebook's ``forward_propagation_with_dropout`` reseeds, so its model drops the same
    units throughout), and ``lambd`` and ``keep_prob`` may be used together. The gradients are
    rounded as the backward pass the notebook's model calls rounds them: without ``lambd`` and
    dropout, ``reg_utils``'s ``dZ`` divided by m first (``fit(scale_dz_first=True)``).

    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0, 2.0, 3.0], [1.0, 0.0, 1.0, 0.0]]); Y = np.array([[0, 0, 1, 1]])
    >>> p = model(X, Y, num_iterations=2, lambd=0.7, backend="numpy", print_cost=False)
    >>> [p[k].shape for k in ("W1", "W2", "W3")]
    [(20, 2), (3, 20), (1, 3)]
    """
    func = "model"
    num_iterations = check_count(func, "num_iterations", num_iterations, 1)
    if isinstance(X, (list, tuple)):
        X = np.asarray(X)
    check_array(func, "X", X)
    parameters, history = fit(
        X,
        Y,
        [shape_of(X)[0], 20, 3, 1],
        init="xavier",
        init_seed=3,
        seed=MASK_SEED,
        learning_rate=learning_rate,
        num_epochs=num_iterations,
        lambd=lambd,
        keep_prob=keep_prob,
        scale_dz_first=bool(lambd == 0 and keep_prob == 1),
        backend=backend,
    )
    if print_cost:
        print_costs(history["cost"], 10000, "iteration")
    return parameters
