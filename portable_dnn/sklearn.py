"""scikit-learn estimators around :func:`portable_dnn.fit` (needs the ``sklearn`` extra).

scikit-learn's convention is X of shape (n_samples, n_features); the network's
is (n_features, m), so X is transposed here, at the boundary, and nowhere else.

With ``sklearn.config_context(array_api_dispatch=True)`` an X of an array
library (PyTorch, CuPy, JAX, array-api-strict, ...) is trained on where it
lies: the parameters stay on X's backend and ``predict``/``predict_proba``
return arrays of X's library and device. Otherwise inputs are taken as NumPy
and the arithmetic runs on ``backend``, results coming back as NumPy.

>>> from sklearn.datasets import make_moons
>>> X, y = make_moons(n_samples=200, noise=0.1, random_state=0)
>>> clf = DNNClassifier(hidden_layer_sizes=(8,), epochs=50, learning_rate=0.01).fit(X, y)
>>> clf.classes_.tolist(), clf.n_features_in_, clf.score(X, y) > 0.8
([0, 1], 2, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn import get_config
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, column_or_1d

from .backend import backend_of, index_dtype, to_numpy
from .data import to_backend
from .estimator_base import DNNEstimator
from .estimator_checks import (
    FLOATS,
    check_finite_host,
    checked_sample_weight,
    class_weighted,
    continues,
    is_device_array,
    refuse_nan_labels,
    refuse_strings,
)
from .optim import Optimizer

__all__ = ["DNNClassifier", "DNNRegressor"]


class DNNClassifier(ClassifierMixin, DNNEstimator):
    """Feed-forward network classifier: sigmoid output for two classes, softmax for more,
    independent sigmoid units for multi-label ``y`` of shape (n_samples, n_labels) of 0/1.

    Parameters mirror :func:`portable_dnn.fit`: ``hidden_layer_sizes`` are
    the hidden layers (input and output sizes come from the data),
    ``activation`` the hidden activation, ``init`` the weight scale,
    ``optimizer`` an optimizer object (``Adam(beta2=0.99)``, :mod:`portable_dnn.optim`; its
    fields tune as ``optimizer__beta2``) or a name ("gd", "momentum", "nesterov", "rmsprop",
    "adam", "adamw", "nadam"), the keywords ``beta``, ``rho``, ``beta1``, ``beta2``,
    ``epsilon``, ``weight_decay`` setting its hyperparameters one by one (None: its own),
    ``clip_norm`` (gradient clipping by global norm, None: off), ``batch_size`` (None: full
    batch; capped at n_samples), ``epochs``, ``lambd`` (L2), ``keep_prob``
    (dropout), ``validation_fraction`` and ``early_stopping_patience``,
    ``warm_start`` (fit continues from the last fit, optimizer state included),
    ``backend`` (where the arithmetic runs for NumPy inputs; results come back
    as NumPy), ``dtype``, ``random_state`` (an int seed), ``verbose`` (the cost every
    100 epochs) and ``progress`` (a progress bar over the epochs; needs tqdm). ``class_weight``
    multiplies each sample's weight by its class's: None (all 1), ``"balanced"``
    (``n_samples / (n_classes * bincount(y))``, the counts weighted by
    ``sample_weight`` where given, as scikit-learn's ``compute_class_weight``) or a
    dict ``{label: weight}`` (labels it leaves out weigh 1); single-label ``y`` only.

    Fitted attributes: ``classes_`` (for multi-label, ``0 .. n_labels - 1``),
    ``n_features_in_``, ``parameters_`` (on the backend), ``history_`` (:func:`~portable_dnn.fit`'s
    history: ``"cost"`` per epoch, over all calls; with ``validation_fraction``, ``"val_cost"``
    and ``"val_accuracy"`` per epoch of the last call), ``loss_curve_`` (the
    costs, as ``MLPClassifier``'s), ``validation_scores_`` (the held-out share's accuracy per
    epoch of the last call, subset accuracy for multi-label; None without ``validation_fraction``,
    as ``MLPClassifier`` without ``early_stopping``) and ``n_iter_`` (epochs run, over all calls).
    """

    _validation_score = "accuracy"
    classes_: np.ndarray

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (20, 7),
        activation: str = "relu",
        init: str = "he",
        optimizer: str | Optimizer = "adam",
        learning_rate: float = 0.001,
        batch_size: int | None = 64,
        epochs: int = 200,
        beta: float | None = None,
        beta1: float | None = None,
        beta2: float | None = None,
        epsilon: float | None = None,
        rho: float | None = None,
        weight_decay: float | None = None,
        clip_norm: float | None = None,
        lambd: float = 0.0,
        keep_prob: float = 1.0,
        decay_rate: float = 0.0,
        validation_fraction: float = 0.0,
        early_stopping_patience: int | None = None,
        warm_start: bool = False,
        backend: str = "numpy",
        dtype: str = "float64",
        random_state: int | None = 0,
        verbose: bool = False,
        progress: bool = False,
        class_weight: str | Mapping[Any, float] | None = None,
    ) -> None:
        # scikit-learn reads an estimator's parameters from its own __init__'s signature.
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            init=init,
            optimizer=optimizer,
            learning_rate=learning_rate,
            batch_size=batch_size,
            epochs=epochs,
            beta=beta,
            beta1=beta1,
            beta2=beta2,
            epsilon=epsilon,
            rho=rho,
            weight_decay=weight_decay,
            clip_norm=clip_norm,
            lambd=lambd,
            keep_prob=keep_prob,
            decay_rate=decay_rate,
            validation_fraction=validation_fraction,
            early_stopping_patience=early_stopping_patience,
            warm_start=warm_start,
            backend=backend,
            dtype=dtype,
            random_state=random_state,
            verbose=verbose,
            progress=progress,
        )
        self.class_weight = class_weight

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> DNNClassifier:
        """Train on X (n_samples, n_features) and labels y (n_samples,) or (n_samples, n_labels) of 0/1;
        returns self.

        X must hold finite real numbers (strings are refused, not parsed); y holds
        the class labels (any values but NaN; ``classes_`` are its distinct ones).
        ``sample_weight`` (n_samples,) multiplies each sample's loss (see :func:`portable_dnn.fit`).
        """
        return self._staged(lambda est: est._fit("fit", X, y, None, None, sample_weight))

    def partial_fit(self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None) -> DNNClassifier:
        """One more epoch on (X, y), continuing the epochs, optimizer state and shuffles of the calls
        before: n calls equal ``fit`` with ``epochs=n``. ``classes`` (all labels) on the first call
        when y may not show them all (later calls may repeat it, unchanged); ``sample_weight`` as in
        :meth:`fit`."""
        return self._staged(lambda est: est._fit("partial_fit", X, y, classes, 1, sample_weight))

    def _fit(
        self, method: str, X: Any, y: Any, classes: Any, epochs: int | None, sample_weight: Any
    ) -> DNNClassifier:
        func = f"DNNClassifier.{method}"
        X, be, warm = self._training_input(func, X, y, epochs)
        if is_device_array(y):
            y = to_numpy(y)  # labels may be any values: they are sorted out on the host
        refuse_nan_labels(func, y)
        y = check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=False)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"{func}: X has {X.shape[0]} samples but y has {y.shape[0]}")
        check_classification_targets(y)
        weights = checked_sample_weight(func, sample_weight, X.shape[0])
        multilabel = y.ndim == 2 and y.shape[1] > 1 or type_of_target(y) == "multilabel-indicator"
        if warm and multilabel != (self._output == "multilabel"):
            kinds = ("single-label", "multi-label")
            raise ValueError(
                f"{func}: y is {kinds[multilabel]}, but the network was fitted on {kinds[not multilabel]} y "
                f"(classes_ {self.classes_.tolist()}), which {continues(func)}"
            )
        if multilabel:
            if self.class_weight is not None:
                raise ValueError(
                    f"{func}: class_weight weighs the classes of single-label y, and y is multi-label; "
                    "weigh the samples with sample_weight instead"
                )
            if not warm:
                self.classes_ = np.arange(y.shape[1])
            elif y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"{func}: y has {y.shape[1]} labels, but the fitted network's classes_ are "
                    f"{self.classes_.tolist()}, which {continues(func)}"
                )
            self._train(func, X, be, y.T, "multilabel", y.shape[1], epochs, weights, warm)
            return self
        y = column_or_1d(y, warn=True)
        self.classes_ = self._classes(func, y, classes, warm)
        y_idx = np.searchsorted(self.classes_, y)
        y_idx = np.minimum(y_idx, len(self.classes_) - 1)
        if not np.all(self.classes_[y_idx] == y):
            unknown = y[self.classes_[y_idx] != y][0]
            raise ValueError(
                f"{func}: y holds {unknown.tolist()!r}, not among classes_ {self.classes_.tolist()}"
            )
        if self.class_weight is not None:
            weights = class_weighted(func, method, self.class_weight, self.classes_, y_idx, weights)
        multiclass = len(self.classes_) > 2
        output = "softmax" if multiclass else "sigmoid"
        n_out = len(self.classes_) if multiclass else 1
        self._train(func, X, be, y_idx.reshape(1, -1), output, n_out, epochs, weights, warm)
        return self

    def _classes(self, func: str, y: np.ndarray, classes: Any, warm: bool) -> np.ndarray:
        """The call's classes: ``classes`` or y's labels for a new network; the fitted ``classes_``,
        checked against ``classes`` and (``warm_start``) y's labels, for one that goes on."""
        if classes is not None:
            if np.ndim(classes) != 1:
                raise ValueError(
                    f"{func}: classes must be an array-like of all the class labels, such as [0, 1, 2], "
                    f"got {classes!r}"
                )
            refuse_nan_labels(func, classes, "classes")
            classes = np.unique(np.asarray(classes))
            if warm and classes.tolist() != self.classes_.tolist():
                raise ValueError(
                    f"{func}: classes={classes.tolist()} differ from classes_ {self.classes_.tolist()} "
                    "of the earlier calls; the labels cannot change once training has begun"
                )
        if warm:
            labels = np.unique(y)
            if func.endswith(".fit") and labels.tolist() != self.classes_.tolist():
                raise ValueError(
                    f"{func}: y has the classes {labels.tolist()}, but the fitted network's classes_ are "
                    f"{self.classes_.tolist()}, which {continues(func)}"
                )
            return self.classes_
        found = np.unique(y if classes is None else classes)
        if len(found) < 2:
            raise ValueError(
                f"{func}: needs samples of at least 2 classes, but y holds only one class: {found[0]!r}"
            )
        return found

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, shape (n_samples, n_classes), columns in the order of ``classes_``
        (multi-label: each label's probability, shape (n_samples, n_labels))."""
        return self._proba(X, "predict_proba")

    def _proba(self, X: Any, func: str) -> Any:
        P, be = self._forward(func, X)
        if self._output != "sigmoid":
            return P
        if be is None:
            return np.hstack([1 - P, P])
        return be.xp.concat([1 - P, P], axis=1)

    def predict(self, X: Any) -> Any:
        """Predicted labels, shape (n_samples,), taken from ``classes_`` (multi-label: (n_samples, n_labels)
        of 0/1)."""
        P, be = self._forward("predict", X)
        xp = np if be is None else be.xp
        if self._output == "multilabel":
            return xp.astype(P > 0.5, index_dtype(xp)) if be is not None else (P > 0.5).astype(np.int64)
        idx = P[:, 0] > 0.5 if self._output == "sigmoid" else xp.argmax(P, axis=1)
        if be is None:
            return self.classes_[np.asarray(idx).astype(np.intp)]
        idx = xp.astype(idx, index_dtype(xp))
        if self.classes_.dtype.kind not in "biuf":  # labels the array library cannot hold
            return self.classes_[np.asarray(to_numpy(idx))]
        return xp.take(be.asarray(self.classes_), idx)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of ``predict(X)`` against y (multi-label: every label of a sample right)."""
        predicted = to_numpy(self.predict(X)) if is_device_array(X) else self.predict(X)
        truth = to_numpy(y) if is_device_array(y) else y
        weights = to_numpy(sample_weight) if is_device_array(sample_weight) else sample_weight
        return float(accuracy_score(truth, predicted, sample_weight=weights))


class DNNRegressor(RegressorMixin, DNNEstimator):
    """Feed-forward network regressor: a linear (identity) output, cost ``1/(2m) sum ||AL - Y||^2``.

    The parameters are those of :class:`DNNClassifier`; y is (n_samples,) or (n_samples, n_targets)
    of real numbers (scale them, as the inputs, for the default learning rate to suit). The fitted
    attributes too, with R^2 (averaged over the targets, as ``score``) in place of accuracy:
    ``validation_scores_`` and ``history_["val_r2"]``.

    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(n_samples=200, n_features=3, noise=0.1, random_state=0)
    >>> reg = DNNRegressor(hidden_layer_sizes=(), epochs=100, learning_rate=0.05).fit(X, y / y.std())
    >>> reg.score(X, y / y.std()) > 0.99
    True
    """

    _validation_score = "r2"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> DNNRegressor:
        """Train on X (n_samples, n_features) and targets y (n_samples,) or (n_samples, n_targets);
        returns self. ``sample_weight`` (n_samples,) multiplies each sample's loss."""
        return self._staged(lambda est: est._fit("fit", X, y, None, sample_weight))

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> DNNRegressor:
        """One more epoch on (X, y), continuing the epochs, optimizer state and shuffles of the calls
        before: n calls equal ``fit`` with ``epochs=n``; ``sample_weight`` as in :meth:`fit`."""
        return self._staged(lambda est: est._fit("partial_fit", X, y, 1, sample_weight))

    def _fit(self, method: str, X: Any, y: Any, epochs: int | None, sample_weight: Any) -> DNNRegressor:
        func = f"DNNRegressor.{method}"
        X, be, warm = self._training_input(func, X, y, epochs)
        refuse_strings(func, y, "y")
        if be is None:
            if is_device_array(y):
                y = to_numpy(y)
            y = check_array(y, ensure_2d=False, dtype=FLOATS, ensure_all_finite=False)
            if y.ndim == 2 and y.shape[1] == 1:
                y = y.ravel()
        else:
            y = to_backend(be, y)  # on X's backend; fit checks it is finite
        if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
            raise ValueError(
                f"{func}: y must be (n_samples,) or (n_samples, n_targets) for X's {X.shape[0]} samples, "
                f"got shape {tuple(y.shape)}"
            )
        n_out = 1 if y.ndim == 1 else int(y.shape[1])
        if not warm:
            self._single = y.ndim == 1
        elif n_out != self.parameters_[f"b{len(self.parameters_) // 2}"].shape[0]:
            fitted = self.parameters_[f"b{len(self.parameters_) // 2}"].shape[0]
            raise ValueError(
                f"{func}: y has {n_out} targets, but the fitted network predicts {fitted}, "
                f"which {continues(func)}"
            )
        if be is None:
            check_finite_host(func, y.reshape(len(y), -1), "y")
        weights = checked_sample_weight(func, sample_weight, X.shape[0])
        self._train(func, X, be, y.T if y.ndim == 2 else y, "identity", n_out, epochs, weights, warm)
        return self

    def predict(self, X: Any) -> Any:
        """Predicted targets, shape (n_samples,) (or (n_samples, n_targets) when fitted on several)."""
        P, be = self._forward("predict", X)
        if not self._single:
            return P
        return P[:, 0]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R^2 of ``predict(X)`` against y (averaged over targets), on X's backend with dispatch."""
        predicted = self.predict(X)
        if self._input_backend is not None and get_config()["array_api_dispatch"]:
            y = to_backend(backend_of(predicted), y)
        elif is_device_array(y):
            y = to_numpy(y)
        return float(r2_score(y, predicted, sample_weight=sample_weight))
