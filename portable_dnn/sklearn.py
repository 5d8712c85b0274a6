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

import copy
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import array_api_compat
import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from ._checks import check_finite
from .backend import Backend, backend_of, get_backend, index_dtype, to_numpy
from .data import move_weights, to_backend
from .engine import TrainingState
from .fit import fit, forward_proba
from .optim import Optimizer

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn

    def _validate_data(estimator: Any, X: Any = "no_validation", y: Any = "no_validation", **kw: Any) -> Any:
        return estimator._validate_data(X, y, **kw)


__all__ = ["DNNClassifier", "DNNRegressor"]

_FLOATS = (np.float64, np.float32)


class _DNNEstimator(BaseEstimator):
    """What both estimators share: the parameters, the data's way in and out, and training."""

    # Fitted: where fit's X lay (None: host data) and the network's parameters.
    _input_backend: tuple[str, str] | None
    parameters_: dict[str, Any]
    #: The optimizer's state, epoch count and costs of the last call, for one that goes on.
    _resume: dict[str, Any]
    #: The score recorded on the held-out share each epoch (``validation_scores_``).
    _validation_score: str

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
        self.warm_start = warm_start
        self.backend = backend
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.progress = progress

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        return tags

    # ------------------------------------------------------------ data in

    def _staged(self, fit_on: Callable[[Any], Any]) -> Any:
        """``fit_on(trial)`` on a copy of the estimator, whose attributes become the estimator's only
        when it returns: a call that raises (refused data, a diverged run) leaves it as it was."""
        trial = copy.copy(self)
        fit_on(trial)
        self.__dict__.clear()
        self.__dict__.update(trial.__dict__)
        return self

    def _training_input(
        self, func: str, X: Any, y: Any, epochs: int | None
    ) -> tuple[Any, Backend | None, bool]:
        """X checked for a training call, its backend, and whether the call continues the fitted
        network (``partial_fit``, or ``fit`` with ``warm_start``): then X keeps ``n_features_in_``."""
        warm = hasattr(self, "_resume") and (epochs is not None or bool(self.warm_start))
        shape = _shape(X) if warm else ()
        if len(shape) == 2 and shape[1] != self.n_features_in_:
            raise ValueError(
                f"{func}: X has {shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input: n_features_in_ of the fitted network, which "
                f"{_continues(func)}"
            )
        X, be = self._input(func, X, reset=not warm, y=y)
        return X, be, warm

    def _input(self, func: str, X: Any, reset: bool, y: Any = ()) -> tuple[Any, Backend | None]:
        """X checked, and the backend it stays on (None: host data, trained on ``backend``)."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        if get_config()["array_api_dispatch"] and _is_device_array(X):
            be = backend_of(X)
            X = _validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=False)
            check_finite(func, "X", be.xp, X)
            if reset:
                self._input_backend = (be.name, str(be.device))
            return X, be
        _refuse_strings(func, X)
        X = _validate_data(self, X, reset=reset, dtype=_FLOATS, ensure_all_finite=False)
        _check_finite(func, X)
        if reset:
            self._input_backend = None
        return X, None

    def _same_place(self, func: str, X: Any) -> Backend | None:
        """Refuse X of another library or device than fit's, as scikit-learn's array-API convention says."""
        if not get_config()["array_api_dispatch"]:
            return None
        be = backend_of(X) if _is_device_array(X) else None
        got = None if be is None else (be.name, str(be.device))
        if got != getattr(self, "_input_backend", None):
            fitted = self._input_backend or ("numpy", "cpu")
            raise ValueError(
                f"Inputs passed to {type(self).__name__}.{func}() must use the same namespace and the "
                f"same device as those passed to fit(): fit had {fitted[0]} on {fitted[1]}, "
                f"{func} got {got[0] if got else 'numpy'} on {got[1] if got else 'cpu'}"
            )
        return be

    # ----------------------------------------------------------- training

    def _train(
        self,
        func: str,
        X: Any,
        be: Backend | None,
        Y: Any,
        output: str,
        n_out: int,
        epochs: int | None,
        sample_weight: np.ndarray | None = None,
        warm: bool = False,
    ) -> None:
        """``epochs`` (``None``: ``self.epochs``) more epochs, from the last state when ``warm``."""
        hidden = _hidden_sizes(func, self.hidden_layer_sizes)
        if self.batch_size is not None:
            _count(func, "batch_size", self.batch_size)
        if self.random_state is not None:
            _count(func, "random_state", self.random_state, 0)
        m = int(X.shape[0])
        dims = [int(X.shape[1]), *hidden, n_out]
        if epochs is None:
            epochs = _count(func, "epochs", self.epochs)
        resume = None
        if warm:
            fitted = [int(self.parameters_[f"W{l}"].shape[0]) for l in range(1, len(self.parameters_) // 2)]
            if list(hidden) != fitted:
                raise ValueError(
                    f"{func}: hidden_layer_sizes {hidden} differ from the fitted network's {tuple(fitted)}, "
                    f"which {_continues(func)}"
                )
            resume = {"parameters": self.parameters_, **self._resume}
        done = 0 if resume is None else resume["epoch"]
        seed = 0 if self.random_state is None else self.random_state
        batch_size = None if self.batch_size is None else min(int(self.batch_size), m)
        last: list[TrainingState] = []

        def keep(state: TrainingState) -> None:  # the state after the last epoch, for the next call
            last[:] = [state]

        # X stays where it is; host data goes to ``backend`` (fit moves it once).
        self.parameters_, self.history_ = fit(
            X.T,
            Y,
            dims,
            sample_weight=sample_weight,
            hidden_activation=self.activation,
            output=output,
            init=self.init,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            batch_size=batch_size,
            num_epochs=done + epochs,
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
            backend=self.backend if be is None else be,
            dtype=self.dtype,
            print_cost=100 if self.verbose else False,
            progress=self.progress,
            # Scored each epoch only when a share is held out: validation_scores_.
            metrics=(f"val_{self._validation_score}",) if self.validation_fraction else (),
            resume=resume,
            checkpoint=keep,
        )
        state = last[-1]
        self._resume = {**state.optimizer_state(), "epoch": state.iteration, "costs": list(state.costs)}
        self.n_iter_ = len(self.history_["cost"])
        self.loss_curve_ = list(self.history_["cost"])
        scores = self.history_.get(f"val_{self._validation_score}")
        self.validation_scores_ = None if scores is None else list(scores)
        self._output = output

    def save(self, path: str) -> str:
        """Write the fitted network to the model file ``path``, with its activation, output, classes
        and training record (:meth:`portable_dnn.TrainedNetwork.save`); return the path.
        ``portable_dnn.as_trained(path)`` reads it back."""
        from .trained import as_trained

        return as_trained(self).save(path)

    # ----------------------------------------------------------- data out

    def _forward(self, func: str, X: Any) -> tuple[Any, Backend | None]:
        """The network's output ``(n_samples, units)``, on X's backend (with dispatch) or the fit's."""
        check_is_fitted(self)
        be = self._same_place(func, X)
        X, _ = self._input(f"{type(self).__name__}.{func}", X, reset=False)
        if be is None:
            X = backend_of(self.parameters_["W1"]).asarray(X.T, dtype=self.dtype)
        else:
            X = (
                X.T
                if X.dtype == self.parameters_["W1"].dtype
                else be.xp.astype(X.T, self.parameters_["W1"].dtype)
            )
        AL = forward_proba(X, self.parameters_, hidden_activation=self.activation, output=self._output)
        return (AL.T if be is not None else np.asarray(to_numpy(AL), dtype=np.float64).T), be


class DNNClassifier(ClassifierMixin, _DNNEstimator):
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
        if _is_device_array(y):
            y = to_numpy(y)  # labels may be any values: they are sorted out on the host
        _refuse_nan_labels(func, y)
        y = check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=False)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"{func}: X has {X.shape[0]} samples but y has {y.shape[0]}")
        check_classification_targets(y)
        weights = _sample_weight(func, sample_weight, X.shape[0])
        multilabel = y.ndim == 2 and y.shape[1] > 1 or type_of_target(y) == "multilabel-indicator"
        if warm and multilabel != (self._output == "multilabel"):
            kinds = ("single-label", "multi-label")
            raise ValueError(
                f"{func}: y is {kinds[multilabel]}, but the network was fitted on {kinds[not multilabel]} y "
                f"(classes_ {self.classes_.tolist()}), which {_continues(func)}"
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
                    f"{self.classes_.tolist()}, which {_continues(func)}"
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
            weights = self._class_weighted(func, method, y_idx, weights)
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
            _refuse_nan_labels(func, classes, "classes")
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
                    f"{self.classes_.tolist()}, which {_continues(func)}"
                )
            return self.classes_
        found = np.unique(y if classes is None else classes)
        if len(found) < 2:
            raise ValueError(
                f"{func}: needs samples of at least 2 classes, but y holds only one class: {found[0]!r}"
            )
        return found

    def _class_weighted(
        self, func: str, method: str, y_idx: np.ndarray, weights: np.ndarray | None
    ) -> np.ndarray:
        """The samples' weights times their classes' (``class_weight``), on the host."""
        given, k = self.class_weight, len(self.classes_)
        if isinstance(given, str) and given == "balanced":
            if method == "partial_fit":
                raise ValueError(
                    f"{func}: class_weight='balanced' would balance each call's y alone; compute the "
                    "weights once over all the data with sklearn.utils.class_weight.compute_class_weight"
                    "('balanced', classes=classes, y=y) and pass them as a dict"
                )
            counts = np.bincount(y_idx, weights=weights, minlength=k)
            present = np.count_nonzero(np.bincount(y_idx, minlength=k))
            # A class whose samples all weigh 0 gets weight 0, not infinity (times 0: NaN).
            per_class = np.divide(counts.sum(), present * counts, out=np.zeros(k), where=counts > 0)
        elif isinstance(given, Mapping):
            known = set(self.classes_.tolist())
            unknown = [label for label in given if label not in known]
            if unknown:
                raise ValueError(
                    f"{func}: class_weight names labels that are not classes: {unknown} "
                    f"(classes_ are {self.classes_.tolist()})"
                )
            per_class = np.ones(k)
            for i, label in enumerate(self.classes_.tolist()):
                if label in given:
                    value = given[label]
                    if (
                        isinstance(value, bool)
                        or not isinstance(value, numbers.Real)
                        or not (math.isfinite(value) and value >= 0)
                    ):
                        raise ValueError(
                            f"{func}: class_weight[{label!r}] must be a finite number >= 0, got {value!r}"
                        )
                    per_class[i] = float(value)
        else:
            raise ValueError(
                f"{func}: class_weight must be None, 'balanced' or a dict of class label -> weight, "
                f"got {given!r}"
            )
        if per_class.max() > 0:  # scaled as sample_weight is, so the product stays in range
            per_class = per_class / per_class.max()
        weighted = per_class[y_idx] if weights is None else weights * per_class[y_idx]
        if not np.any(weighted > 0):
            raise ValueError(f"{func}: class_weight and sample_weight leave every sample with weight zero")
        return weighted

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
        predicted = to_numpy(self.predict(X)) if _is_device_array(X) else self.predict(X)
        truth = to_numpy(y) if _is_device_array(y) else y
        weights = to_numpy(sample_weight) if _is_device_array(sample_weight) else sample_weight
        return float(accuracy_score(truth, predicted, sample_weight=weights))


class DNNRegressor(RegressorMixin, _DNNEstimator):
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
        _refuse_strings(func, y, "y")
        if be is None:
            if _is_device_array(y):
                y = to_numpy(y)
            y = check_array(y, ensure_2d=False, dtype=_FLOATS, ensure_all_finite=False)
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
                f"which {_continues(func)}"
            )
        if be is None:
            _check_finite(func, y.reshape(len(y), -1), "y")
        weights = _sample_weight(func, sample_weight, X.shape[0])
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
        elif _is_device_array(y):
            y = to_numpy(y)
        return float(r2_score(y, predicted, sample_weight=sample_weight))


def _continues(func: str) -> str:
    """How the training call ``func`` came to continue the fitted network, for its refusals."""
    if func.endswith("partial_fit"):
        return "partial_fit continues"
    return "warm_start=True continues (warm_start=False fits a new network)"


def _shape(x: Any) -> tuple[int, ...]:
    """x's shape where it has one (arrays, DataFrames, sparse matrices, rectangular lists), else ()."""
    if hasattr(x, "shape"):
        return tuple(x.shape)
    if not isinstance(x, (list, tuple)):
        return ()
    try:
        return np.shape(x)
    except ValueError:  # ragged: scikit-learn says what is wrong
        return ()


def _is_device_array(x: Any) -> bool:
    """An array of an array library other than NumPy."""
    return array_api_compat.is_array_api_obj(x) and not isinstance(x, np.ndarray)


def _sample_weight(func: str, sample_weight: Any, m: int) -> np.ndarray | None:
    """``sample_weight`` checked, as host float64 ``(m,)`` (None stays None); :func:`fit` moves it
    to X's backend."""
    if sample_weight is None:
        return None
    w = to_numpy(sample_weight) if _is_device_array(sample_weight) else np.asarray(sample_weight)
    return np.asarray(move_weights(func, get_backend("numpy"), w, np.float64, m)).reshape(m)


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


def _refuse_strings(func: str, X: Any, name: str = "X") -> None:
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
            f"{func}: {name} must hold numbers, got dtype {dtype}"
            + (" with strings" if dtype.kind == "O" else "")
            + "; convert it to numbers first"
        )


def _refuse_nan_labels(func: str, y: Any, name: str = "y") -> None:
    try:
        labels = np.asarray(y)
    except (ValueError, TypeError):  # ragged: scikit-learn says what is wrong
        return
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        raise ValueError(f"{func}: {name} contains NaN or infinity, which is no class label")


def _check_finite(func: str, X: np.ndarray, name: str = "X") -> None:
    if not np.all(np.isfinite(X)):
        row, col = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(
            f"{func}: {name} contains NaN or infinity ({float(X[row, col])!r} at [{row}, {col}])"
        )
