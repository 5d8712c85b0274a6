"""The notebooks' two-dimensional point sets, drawn in code with scikit-learn's generators."""

from __future__ import annotations

import importlib

import numpy as np


def course_points(maker: str, n_samples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.<maker>(n_samples, noise=noise, random_state=seed)`` in the course's layout:
    ``X`` ``(2, n_samples)``, ``Y`` ``(1, n_samples)``.

    ``random_state=seed`` draws what a notebook's ``np.random.seed(seed)`` followed by the
    same call draws, since both read one ``RandomState`` seeded ``seed``.

    >>> X, Y = course_points("make_moons", 5, 0.2, 3)
    >>> X.shape, Y.shape
    ((2, 5), (1, 5))
    """
    try:
        datasets = importlib.import_module("sklearn.datasets")
    except ImportError as exc:
        raise ImportError(
            "load_dataset: the course's points are drawn by scikit-learn; install it with "
            "`pip install scikit-learn`"
        ) from exc
    X, y = getattr(datasets, maker)(n_samples=n_samples, noise=noise, random_state=seed)
    return X.T, y.reshape((1, n_samples))
