"""A scikit-learn classifier around :func:`portable_dnn.fit` (needs the ``sklearn`` extra).

scikit-learn's convention is X of shape (n_samples, n_features); the network's
is (n_features, m), so X is transposed here, at the boundary, and nowhere else.

>>> from sklearn.datasets import make_moons
>>> X, y = make_moons(n_samples=200, noise=0.1, random_state=0)
>>> clf = DNNClassifier(hidden_layer_sizes=(8,), epochs=50, learning_rate=0.01).fit(X, y)
>>> clf.classes_.tolist(), clf.n_features_in_, clf.score(X, y) > 0.8
([0, 1], 2, True)
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .backend import get_backend, to_numpy
from .fit import fit, forward_proba

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn

    def _validate_data(estimator: Any, X: Any = "no_validation", y: Any = "no_validation", **kw: Any) -> Any:
        return estimator._validate_data(X, y, **kw)


__all__ = ["DNNClassifier"]


class DNNClassifier(ClassifierMixin, BaseEstimator):
    """Feed-forward network classifier: sigmoid output for two classes, softmax for more.

    Parameters mirror :func:`portable_dnn.fit`: ``hidden_layer_sizes`` are
    the hidden layers (input and output sizes come from the data),
    ``activation`` the hidden activation, ``init`` the weight scale,
    ``optimizer`` one of "gd", "momentum", "nesterov", "rmsprop", "adam", "adamw"
    (with ``beta``, ``rho``, ``beta1``, ``beta2``, ``epsilon``, ``weight_decay``),
    ``clip_norm`` (gradient clipping by global norm, None: off), ``batch_size`` (None: full
    batch; capped at n_samples), ``epochs``, ``lambd`` (L2), ``keep_prob``
    (dropout), ``validation_fraction`` and ``early_stopping_patience``,
    ``backend`` (where the arithmetic runs; results come back as NumPy),
    ``dtype`` and ``random_state`` (an int seed).

    Fitted attributes: ``classes_``, ``n_features_in_``, ``parameters_`` (on the
    backend), ``history_`` (the costs per epoch) and ``n_iter_`` (epochs run).
    """

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (20, 7),
        activation: str = "relu",
        init: str = "he",
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        batch_size: int | None = 64,
        epochs: int = 200,
        beta: float = 0.9,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        rho: float = 0.9,
        weight_decay: float = 0.01,
        clip_norm: float | None = None,
        lambd: float = 0.0,
        keep_prob: float = 1.0,
        decay_rate: float = 0.0,
        validation_fraction: float = 0.0,
        early_stopping_patience: int | None = None,
        backend: str = "numpy",
        dtype: str = "float64",
        random_state: int | None = 0,
        verbose: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.beta = beta
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.rho = rho
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.lambd = lambd
        self.keep_prob = keep_prob
        self.decay_rate = decay_rate
        self.validation_fraction = validation_fraction
        self.early_stopping_patience = early_stopping_patience
        self.backend = backend
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X: Any, y: Any) -> DNNClassifier:
        """Train on X (n_samples, n_features) and labels y (n_samples,); returns self.

        X must hold finite real numbers (strings are refused, not parsed); y holds
        the class labels (any values but NaN; ``classes_`` are its distinct ones).
        """
        func = "DNNClassifier.fit"
        hidden = _hidden_sizes(func, self.hidden_layer_sizes)
        if self.batch_size is not None:
            _count(func, "batch_size", self.batch_size)
        if self.random_state is not None:
            _count(func, "random_state", self.random_state, 0)
        _refuse_strings(func, X)
        _refuse_nan_labels(func, y)
        X, y = _validate_data(self, X, y, dtype=(np.float64, np.float32), ensure_all_finite=False)
        _check_finite(func, X)
        check_classification_targets(y)
        y = column_or_1d(y, warn=True)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"DNNClassifier.fit: needs samples of at least 2 classes, but y holds only one class: "
                f"{self.classes_[0]!r}"
            )
        multiclass = len(self.classes_) > 2
        self._output = "softmax" if multiclass else "sigmoid"
        dims = [X.shape[1], *hidden, len(self.classes_) if multiclass else 1]
        seed = 0 if self.random_state is None else self.random_state
        batch_size = None if self.batch_size is None else min(int(self.batch_size), X.shape[0])
        self.parameters_, self.history_ = fit(
            X.T,
            y_idx.reshape(1, -1),
            dims,
            hidden_activation=self.activation,
            output=self._output,
            init=self.init,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            batch_size=batch_size,
            num_epochs=self.epochs,
            beta=self.beta,
            beta1=self.beta1,
            beta2=self.beta2,
            epsilon=self.epsilon,
            rho=self.rho,
            weight_decay=self.weight_decay,
            clip_norm=self.clip_norm,
            lambd=self.lambd,
            keep_prob=self.keep_prob,
            decay_rate=self.decay_rate,
            validation_fraction=self.validation_fraction,
            early_stopping_patience=self.early_stopping_patience,
            seed=seed,
            backend=self.backend,
            dtype=self.dtype,
            print_cost=100 if self.verbose else False,
        )
        self.n_iter_ = len(self.history_["cost"])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in the order of ``classes_``."""
        return self._proba(X, "DNNClassifier.predict_proba")

    def _proba(self, X: Any, func: str) -> np.ndarray:
        check_is_fitted(self)
        _refuse_strings(func, X)
        X = _validate_data(self, X, reset=False, dtype=(np.float64, np.float32), ensure_all_finite=False)
        _check_finite(func, X)
        be = get_backend(self.backend)
        AL = forward_proba(
            be.asarray(X.T, dtype=self.dtype),
            self.parameters_,
            hidden_activation=self.activation,
            output=self._output,
        )
        P = np.asarray(to_numpy(AL), dtype=np.float64).T
        if self._output == "sigmoid":
            P = np.hstack([1 - P, P])
        return P

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels, shape (n_samples,), taken from ``classes_``."""
        P = self._proba(X, "DNNClassifier.predict")
        if P.shape[1] == 2:
            return self.classes_[(P[:, 1] > 0.5).astype(np.intp)]
        return self.classes_[np.argmax(P, axis=1)]


def _count(func: str, name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{func}: {name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{func}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _hidden_sizes(func: str, hidden: Any) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a tuple of positive ints: an int, or a list or tuple of them."""
    sizes = (hidden,) if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool) else hidden
    message = (
        f"{func}: hidden_layer_sizes must be a positive integer or a tuple of them, such as (20, 7), "
        f"got {hidden!r}"
    )
    if not isinstance(sizes, (tuple, list)) or not all(
        isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in sizes
    ):
        raise TypeError(message)
    if not all(n > 0 for n in sizes):
        raise ValueError(message)
    return tuple(int(n) for n in sizes)


def _refuse_strings(func: str, X: Any) -> None:
    """Strings in X (a string array, or strings among objects) would be parsed as numbers: refuse them."""
    if isinstance(X, (list, tuple)) or hasattr(X, "dtypes"):  # lists, DataFrames
        try:
            X = np.asarray(X)
        except (ValueError, TypeError):  # ragged: scikit-learn says what is wrong
            return
    if not isinstance(X, np.ndarray):  # sparse matrices: scikit-learn decides
        return
    dtype = X.dtype
    if dtype.kind in "USV" or (dtype.kind == "O" and any(isinstance(v, (str, bytes)) for v in X.flat)):
        raise TypeError(
            f"{func}: X must hold numbers, got dtype {dtype}"
            + (" with strings" if dtype.kind == "O" else "")
            + "; convert it to numbers first"
        )


def _refuse_nan_labels(func: str, y: Any) -> None:
    try:
        labels = np.asarray(y)
    except (ValueError, TypeError):  # ragged: scikit-learn says what is wrong
        return
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        raise ValueError(f"{func}: y contains NaN or infinity; every sample needs a class label")


def _check_finite(func: str, X: np.ndarray) -> None:
    if not np.all(np.isfinite(X)):
        row, col = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{func}: X contains NaN or infinity ({float(X[row, col])!r} at [{row}, {col}])")
