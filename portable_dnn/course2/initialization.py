"""The second course's "Initialization" notebook: its three initializations, ``model``, ``predict``, data.

``from portable_dnn.course2.initialization import *`` gives the notebook's names with the
notebook's signatures. The weights are drawn as the notebook draws them after
``np.random.seed(3)``, from a private ``RandomState`` (NumPy's global random state is left
alone); ``model`` trains through :func:`portable_dnn.fit`.

>>> p = initialize_parameters_he([2, 4, 1])
>>> p["W2"].round(8)
array([[-0.03098412, -0.33744411, -0.92904268,  0.62552248]])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from portable_dnn._checks import check_array, check_count, check_layer_dims, shape_of
from portable_dnn.backend import Backend, backend_of
from portable_dnn.course2._costs import print_costs
from portable_dnn.course2._data import course_points
from portable_dnn.course2._predict import predict
from portable_dnn.fit import fit
from portable_dnn.initialization import draw_parameters

__all__ = [
    "initialize_parameters_zeros",
    "initialize_parameters_random",
    "initialize_parameters_he",
    "model",
    "predict",
    "load_dataset",
]

#: The notebook's ``np.random.seed(3)`` before each initialization's draws.
SEED = 3
#: The notebook's "large random" weights: ``randn * 10``.
RANDOM_SCALE = 10.0


def initialize_parameters_zeros(
    layers_dims: Sequence[int], *, backend: str | Backend | None = None, dtype: Any = None
) -> dict[str, Any]:
    """``W1, b1, ..., WL, bL`` all zeros, for the sizes in ``layers_dims``.

    ``backend`` and ``dtype`` as in :func:`portable_dnn.initialize_parameters_deep`.

    >>> p = initialize_parameters_zeros([3, 2, 1])
    >>> p["W1"], p["b2"]
    (array([[0., 0., 0.],
           [0., 0., 0.]]), array([[0.]]))
    """
    return _initialize("initialize_parameters_zeros", layers_dims, "zeros", 1.0, backend, dtype)


def initialize_parameters_random(
    layers_dims: Sequence[int], *, backend: str | Backend | None = None, dtype: Any = None
) -> dict[str, Any]:
    """Large random weights ``randn(n[l], n[l-1]) * 10`` drawn with seed 3, zero biases.

    >>> initialize_parameters_random([3, 2, 1])["W2"].round(8)
    array([[-0.82741481, -6.27000677]])
    """
    return _initialize("initialize_parameters_random", layers_dims, "random", RANDOM_SCALE, backend, dtype)


def initialize_parameters_he(
    layers_dims: Sequence[int], *, backend: str | Backend | None = None, dtype: Any = None
) -> dict[str, Any]:
    """He initialization: ``randn(n[l], n[l-1]) * sqrt(2 / n[l-1])`` drawn with seed 3, zero biases.

    >>> initialize_parameters_he([3, 1, 2])["W1"].round(8)
    array([[1.46040903, 0.3564088 , 0.07878985]])
    """
    return _initialize("initialize_parameters_he", layers_dims, "he", 1.0, backend, dtype)


def _initialize(
    func: str, layers_dims: Sequence[int], init: str, scale: float, backend: Any, dtype: Any
) -> dict[str, Any]:
    dims = check_layer_dims(func, layers_dims, name="layers_dims")
    return draw_parameters(dims, init, scale, SEED, backend, dtype, func)


_INITIALIZATIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "zeros": initialize_parameters_zeros,
    "random": initialize_parameters_random,
    "he": initialize_parameters_he,
}


def model(
    X: Any,
    Y: Any,
    learning_rate: float = 0.01,
    num_iterations: int = 15000,
    print_cost: bool = True,
    initialization: str = "he",
    *,
    backend: str | Backend | None = None,
) -> dict[str, Any]:
    """The notebook's LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID network: its parameters.

    Layers ``[n_x, 10, 5, 1]``, weights from ``initialization`` (``"zeros"``, ``"random"``
    or ``"he"``), full-batch gradient descent for ``num_iterations`` iterations; with
    ``print_cost`` the cost every 1000 iterations, printed as the notebook prints it. The
    cost curve is not plotted: train with :func:`portable_dnn.fit` for it
    (``history["cost"]``). ``backend`` picks where to train host data, as in ``fit``.

    The network trains as the notebook's code does, in its order of roundings (``dZ``
    divided by m before the products: ``fit(scale_dz_first=True)``), so every printed cost
    is the notebook's computation's on the same machine. One difference: the notebook's cost
    takes ``log`` of outputs that round to exactly 0 or 1, so its ``"random"`` run prints
    ``inf`` at iteration 0; the engine clips the outputs to ``[eps, 1 - eps]`` and prints a
    large finite cost there (18.02... on the circles). That run's weights of size 10 amplify
    last-bit differences between processors' BLAS kernels to the third decimal, so its
    published costs are one processor's.

    >>> import numpy as np
    >>> X = np.array([[0.0, 1.0, 2.0, 3.0], [1.0, 0.0, 1.0, 0.0]]); Y = np.array([[0, 0, 1, 1]])
    >>> p = model(X, Y, num_iterations=2, initialization="zeros", backend="numpy")
    Cost after iteration 0: 0.6931471805599453
    >>> sorted(p)
    ['W1', 'W2', 'W3', 'b1', 'b2', 'b3']
    """
    func = "model"
    if not isinstance(initialization, str) or initialization not in _INITIALIZATIONS:
        raise ValueError(
            f"{func}: initialization must be one of {', '.join(map(repr, _INITIALIZATIONS))}, "
            f"got {initialization!r}"
        )
    num_iterations = check_count(func, "num_iterations", num_iterations, 1)
    if isinstance(X, (list, tuple)):
        X = np.asarray(X)
    check_array(func, "X", X)
    layers_dims = [shape_of(X)[0], 10, 5, 1]
    # Drawn where X lives (host data: on the host); fit moves them to its backend in X's floating dtype.
    start = _INITIALIZATIONS[initialization](layers_dims, backend=backend_of(X))
    parameters, history = fit(
        X,
        Y,
        layers_dims,
        learning_rate=learning_rate,
        num_epochs=num_iterations,
        resume={"parameters": start, "epoch": 0, "t": 0, "costs": []},
        scale_dz_first=True,
        backend=backend,
    )
    if print_cost:
        print_costs(history["cost"], 1000, "iteration")
    return parameters


def load_dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The notebook's circles: ``train_X`` (2, 300), ``train_Y`` (1, 300), ``test_X`` (2, 100), ``test_Y``.

    Drawn in code, as the notebook draws them: scikit-learn's ``make_circles`` with noise
    0.05, seed 1 for the 300 training points and seed 2 for the 100 test points. Needs
    scikit-learn (``pip install scikit-learn``).

    >>> train_X, train_Y, test_X, test_Y = load_dataset()
    >>> train_X.shape, train_Y.shape, test_X.shape, test_Y.shape
    ((2, 300), (1, 300), (2, 100), (1, 100))
    """
    return (*course_points("make_circles", 300, 0.05, 1), *course_points("make_circles", 100, 0.05, 2))
