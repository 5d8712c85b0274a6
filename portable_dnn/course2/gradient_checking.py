"""The second course's "Gradient Checking" notebook: the 1-D and N-D checks, and its ``gc_utils``.

``from portable_dnn.course2.gradient_checking import *`` gives the notebook's names with the
notebook's signatures. The N-D network is the package's: ``forward_propagation_n`` and
``backward_propagation_n`` are the regularization notebook's passes (the package's layer
functions, the cache checked layer by layer) with the notebook's cost and order of roundings,
and both checks are :func:`portable_dnn.gradient_check`.
``dictionary_to_vector``, ``vector_to_dictionary`` and ``gradients_to_vector`` keep the
course's contract here (``(theta, keys)``, the notebook's fixed shapes); the package's
versions of the same names return and take a layout instead.

>>> difference = gradient_check(2, 4)
>>> difference < 1e-7
True
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from portable_dnn import activations, gradcheck
from portable_dnn._checks import check_array, check_positive_float, count_layers, num_layers, shape_of
from portable_dnn.backend import namespace_of
from portable_dnn.cost import binary_cost, check_labels, cross_entropy
from portable_dnn.course2.regularization import backward_pass, forward_pass
from portable_dnn.engine import parameter_keys
from portable_dnn.model import L_model_forward

__all__ = [
    "sigmoid",
    "relu",
    "dictionary_to_vector",
    "vector_to_dictionary",
    "gradients_to_vector",
    "forward_propagation",
    "backward_propagation",
    "gradient_check",
    "forward_propagation_n",
    "backward_propagation_n",
    "gradient_check_n",
    "predict",
]

#: The notebook's network: 4 features, hidden layers of 5 and 3 units, one output unit.
NOTEBOOK_LAYOUT: gradcheck.Layout = [
    ("W1", (5, 4)),
    ("b1", (5, 1)),
    ("W2", (3, 5)),
    ("b2", (3, 1)),
    ("W3", (1, 3)),
    ("b3", (1, 1)),
]


# ------------------------------------------------------------ gc_utils


def _activation(forward: Any, x: Any) -> Any:
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return float(forward(np.asarray(float(x)))[0])
    return forward(x)[0]


def sigmoid(x: Any) -> Any:
    """The sigmoid of a number or an array, alone (``gc_utils``'s; :func:`portable_dnn.sigmoid` adds a cache).

    >>> import numpy as np
    >>> sigmoid(np.array([0.0])), sigmoid(0)
    (array([0.5]), 0.5)
    """
    return _activation(activations.sigmoid, x)


def relu(x: Any) -> Any:
    """``max(0, x)`` of a number or an array, alone (``gc_utils``'s; :func:`portable_dnn.relu` adds a cache).

    >>> import numpy as np
    >>> relu(np.array([-1.0, 2.0])), relu(-3)
    (array([0., 2.]), 0.0)
    """
    return _activation(activations.relu, x)


def _parameter_names(func: str, parameters: Any, prefix: str = "") -> list[str]:
    """``W1, b1, ..., WL, bL`` (with ``prefix``, ``dW1, db1, ...``): the notebook's order."""
    L = count_layers(func, parameters, prefix=prefix)
    names = parameter_keys(L, prefix)
    for name in names:
        if name not in parameters:
            raise ValueError(f"{func}: has {prefix}W{name[len(prefix) + 1 :]} but no {name!r}")
    return names


def dictionary_to_vector(parameters: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """``(theta, keys)``: ``W1, b1, ..., WL, bL`` flattened into one ``(n, 1)`` column.

    ``keys`` names each entry's parameter (``["W1"] * 20 + ["b1"] * 5 + ...`` for the
    notebook's network). :func:`portable_dnn.dictionary_to_vector` returns a layout instead.

    >>> import numpy as np
    >>> theta, keys = dictionary_to_vector({"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))})
    >>> theta.T, keys
    (array([[1., 1., 0.]]), ['W1', 'W1', 'b1'])
    """
    names = _parameter_names("dictionary_to_vector", parameters)
    theta, layout = gradcheck.dictionary_to_vector(parameters, names)
    return theta, [key for key, shape in layout for _ in range(math.prod(shape))]


def vector_to_dictionary(theta: Any, layout: gradcheck.Layout | None = None) -> dict[str, Any]:
    """The parameters cut from ``theta``: the notebook's shapes, or ``layout``'s ``(key, shape)`` pairs.

    The notebook's shapes are W1 (5, 4), b1 (5, 1), W2 (3, 5), b2 (3, 1), W3 (1, 3),
    b3 (1, 1), 47 entries; ``layout`` (from :func:`portable_dnn.dictionary_to_vector`) cuts others.

    >>> import numpy as np
    >>> p = vector_to_dictionary(np.arange(47.0).reshape(47, 1))
    >>> p["W3"], p["b3"]
    (array([[43., 44., 45.]]), array([[46.]]))
    >>> vector_to_dictionary(np.arange(3.0).reshape(3, 1), [("W1", (1, 2)), ("b1", (1, 1))])["b1"]
    array([[2.]])
    """
    func = "vector_to_dictionary"
    if layout is None:
        check_array(func, "theta", theta, ndim=None)
        n = math.prod(shape_of(theta))
        if n != 47:
            raise ValueError(
                f"{func}: theta has {n} entries, the notebook's network 47; "
                "pass layout=[(key, shape), ...] for other shapes"
            )
        layout = NOTEBOOK_LAYOUT
    return gradcheck.vector_to_dictionary(theta, layout)


def gradients_to_vector(gradients: Mapping[str, Any]) -> Any:
    """``dW1, db1, ..., dWL, dbL`` of ``gradients`` as one ``(n, 1)`` column; other keys are left out.

    >>> import numpy as np
    >>> gradients_to_vector({"dW1": np.ones((1, 2)), "db1": np.zeros((1, 1)), "dZ1": np.ones((1, 4))}).T
    array([[1., 1., 0.]])
    """
    names = _parameter_names("gradients_to_vector", gradients, prefix="d")
    return gradcheck.dictionary_to_vector(gradients, names)[0]


# ------------------------------------------------------------ 1-D


def real_number(func: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not (isinstance(value, numbers.Real) or hasattr(value, "shape")):
        raise TypeError(f"{func}: {name} must be a real number or an array, got {type(value).__name__}")


def forward_propagation(x: Any, theta: Any) -> Any:
    """The notebook's 1-D "network": the cost ``J = theta * x``.

    >>> forward_propagation(2, 4)
    8
    """
    real_number("forward_propagation", "x", x)
    real_number("forward_propagation", "theta", theta)
    return theta * x


def backward_propagation(x: Any, theta: Any) -> Any:
    """The derivative of ``J = theta * x`` with respect to theta: ``dtheta = x``.

    >>> backward_propagation(3, 4)
    3
    """
    real_number("backward_propagation", "x", x)
    real_number("backward_propagation", "theta", theta)
    return x


def _scalar(func: str, name: str, value: Any) -> float:
    real_number(func, name, value)
    if hasattr(value, "shape"):
        if math.prod(shape_of(value)) != 1:
            raise ValueError(f"{func}: {name} must be one number, got shape {shape_of(value)}")
        value = namespace_of(value, func=func).reshape(value, ())
    return float(value)


def gradient_check(x: Any, theta: Any, epsilon: float = 1e-7, print_msg: bool = False) -> float:
    """The relative difference between ``backward_propagation(x, theta)`` and the central difference of J.

    ``x`` and ``theta`` are numbers (or one-element arrays); the check is
    :func:`portable_dnn.gradient_check` on ``{"theta": theta}``. ``print_msg`` prints the
    notebook's verdict (a mistake above ``2e-7``).

    >>> gradient_check(2, 4, print_msg=True)
    Your backward propagation works perfectly fine! difference = 2.919335883291695e-10
    2.919335883291695e-10
    """
    func = "gradient_check"
    x_value, theta_value = _scalar(func, "x", x), _scalar(func, "theta", theta)
    epsilon = check_positive_float(func, "epsilon", epsilon)

    def cost(p: dict[str, Any]) -> float:
        return forward_propagation(x_value, float(p["theta"][0, 0]))

    def grads(p: dict[str, Any]) -> dict[str, Any]:
        return {"dtheta": np.full((1, 1), backward_propagation(x_value, float(p["theta"][0, 0])))}

    return gradcheck.gradient_check(cost, grads, {"theta": np.full((1, 1), theta_value)}, epsilon, print_msg)


# ------------------------------------------------------------ N-D


def forward_propagation_n(X: Any, Y: Any, parameters: Mapping[str, Any]) -> tuple[float, tuple[Any, ...]]:
    """The notebook's LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID network: ``(cost, cache)``.

    Any depth: ``W1, b1, ..., WL, bL`` with ReLU hidden layers and a sigmoid output.
    ``cost`` is the cross-entropy (a float); ``cache`` is ``(Z1, A1, W1, b1, ..., ZL, AL,
    WL, bL)``, the notebook's ``(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)`` for
    three layers. ``Y`` is ``(1, m)`` or the course's 1-D ``(m,)``.

    >>> import numpy as np
    >>> p = {"W1": np.array([[1.0, -1.0]]), "b1": np.array([[0.0]])}
    >>> cost, cache = forward_propagation_n(np.array([[1.0, 2.0], [0.0, 2.0]]), np.array([1, 0]), p)
    >>> round(cost, 6), len(cache)
    (0.503204, 4)
    """
    func = "forward_propagation_n"
    AL, cache = forward_pass(func, X, parameters)
    return binary_cost(func, AL, Y), cache


def backward_propagation_n(X: Any, Y: Any, cache: tuple[Any, ...]) -> dict[str, Any]:
    """The gradients of :func:`forward_propagation_n`'s cost: ``dZ3, dW3, db3, dA2, dZ2, ...``.

    For L layers: ``dZl``, ``dWl``, ``dbl`` for every layer and ``dAl`` for the hidden
    ones, in the notebook's order (from the output back). This is the correct backward
    pass, not the notebook's exercise with its planted mistakes.

    >>> import numpy as np
    >>> p = {"W1": np.array([[1.0, -1.0]]), "b1": np.array([[0.0]])}
    >>> X = np.array([[1.0, 2.0], [0.0, 2.0]])
    >>> cost, cache = forward_propagation_n(X, np.array([1, 0]), p)
    >>> g = backward_propagation_n(X, np.array([1, 0]), cache)
    >>> list(g), g["db1"]
    (['dZ1', 'dW1', 'db1'], array([[0.11552929]]))
    """
    # The regularization notebook's graded backward pass without its L2 term and dropout is this one.
    return backward_pass("backward_propagation_n", X, Y, cache)


def gradient_check_n(
    parameters: Mapping[str, Any],
    gradients: Mapping[str, Any],
    X: Any,
    Y: Any,
    epsilon: float = 1e-7,
    print_msg: bool = False,
) -> float:
    """The relative difference between ``gradients`` and the central differences of the network's cost.

    Each of the parameters ``W1, b1, ..., WL, bL`` is nudged by ``+-epsilon`` in turn,
    the cost of :func:`forward_propagation_n` taken at both, and the resulting
    ``gradapprox`` compared with ``dW1, db1, ...`` of ``gradients`` (other keys are left
    out) by :func:`portable_dnn.gradient_check`. Below about ``2e-7`` (float64) the
    backward pass is right; ``print_msg`` prints the notebook's verdict.

    >>> import numpy as np
    >>> p = {"W1": np.array([[1.0, -1.0]]), "b1": np.array([[0.0]])}
    >>> X, Y = np.array([[1.0, 2.0], [0.0, 2.0]]), np.array([1, 0])
    >>> g = backward_propagation_n(X, Y, forward_propagation_n(X, Y, p)[1])
    >>> gradient_check_n(p, g, X, Y) < 1e-7
    True
    """
    func = "gradient_check_n"
    epsilon = check_positive_float(func, "epsilon", epsilon)
    L = num_layers(func, parameters)
    names = parameter_keys(L)
    if not isinstance(gradients, Mapping):
        raise TypeError(f"{func}: gradients must be a dict of arrays, got {type(gradients).__name__}")
    for name in names:
        g = gradients.get("d" + name)
        if g is None:
            raise ValueError(f"{func}: gradients has no {'d' + name!r}")
        check_array(func, f"gradients[{'d' + name!r}]", g)
        if shape_of(g) != shape_of(parameters[name]):
            raise ValueError(
                f"{func}: gradients[{'d' + name!r}] has shape {shape_of(g)}, "
                f"expected {name}'s {shape_of(parameters[name])}"
            )
    # X, Y and the parameters are checked once, by the first forward pass; each nudged
    # cost after that is one forward pass and one number read back.
    AL, _ = L_model_forward(X, parameters)
    xp = namespace_of(AL, Y, *(gradients["d" + name] for name in names), func=func)
    labels = check_labels(func, xp, AL, Y)

    def cost(p: dict[str, Any]) -> Any:
        return cross_entropy(xp, L_model_forward(X, p)[0], labels)

    return gradcheck.gradient_check(
        cost, lambda p: gradients, {name: parameters[name] for name in names}, epsilon, print_msg
    )


def predict(parameters: Mapping[str, Any], X: Any) -> Any:
    """The network's 0/1 decisions ``AL > 0.5`` for ``X``, a boolean ``(1, m)`` array.

    The notebook's network (ReLU hidden layers, a sigmoid output) of any depth; the
    argument order is the course's ``predict(parameters, X)`` of its shallow networks.

    >>> import numpy as np
    >>> p = {"W1": np.array([[1.0, -1.0]]), "b1": np.array([[0.0]])}
    >>> predict(p, np.array([[2.0, 0.0], [1.0, 1.0]]))
    array([[ True, False]])
    """
    AL, _ = L_model_forward(X, parameters)
    return AL > 0.5
