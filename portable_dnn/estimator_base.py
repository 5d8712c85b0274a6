"""What both scikit-learn estimators share: their parameters, the data's way in and out, and training."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._checks import check_count, check_finite
from .backend import Backend, backend_of, to_numpy
from .engine import TrainingState
from .estimator_checks import (
    FLOATS,
    check_finite_host,
    continues,
    hidden_sizes,
    input_shape,
    is_device_array,
    refuse_strings,
)
from .fit import fit, forward_proba
from .optim import Optimizer

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - older scikit-learn

    def validate_data(estimator: Any, X: Any = "no_validation", y: Any = "no_validation", **kw: Any) -> Any:
        return estimator._validate_data(X, y, **kw)


__all__ = ["DNNEstimator"]

#: The estimators' parameters that :func:`~portable_dnn.fit` takes under the same names.
PASSED = (
    "init", "optimizer", "learning_rate", "beta", "beta1", "beta2", "epsilon", "rho", "weight_decay",
    "clip_norm", "lambd", "keep_prob", "decay_rate", "validation_fraction", "early_stopping_patience",
    "dtype", "progress",
)  # fmt: skip


class DNNEstimator(BaseEstimator):
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
        shape = input_shape(X) if warm else ()
        if len(shape) == 2 and shape[1] != self.n_features_in_:
            raise ValueError(
                f"{func}: X has {shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input: n_features_in_ of the fitted network, which "
                f"{continues(func)}"
            )
        X, be = self._input(func, X, reset=not warm, y=y)
        return X, be, warm

    def _input(self, func: str, X: Any, reset: bool, y: Any = ()) -> tuple[Any, Backend | None]:
        """X checked, and the backend it stays on (None: host data, trained on ``backend``)."""
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        if get_config()["array_api_dispatch"] and is_device_array(X):
            be = backend_of(X)
            X = validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=False)
            check_finite(func, "X", be.xp, X)
            if reset:
                self._input_backend = (be.name, str(be.device))
            return X, be
        refuse_strings(func, X)
        X = validate_data(self, X, reset=reset, dtype=FLOATS, ensure_all_finite=False)
        check_finite_host(func, X)
        if reset:
            self._input_backend = None
        return X, None

    def _same_place(self, func: str, X: Any) -> Backend | None:
        """Refuse X of another library or device than fit's, as scikit-learn's array-API convention says."""
        if not get_config()["array_api_dispatch"]:
            return None
        be = backend_of(X) if is_device_array(X) else None
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
        hidden = hidden_sizes(func, self.hidden_layer_sizes)
        if self.batch_size is not None:
            check_count(func, "batch_size", self.batch_size, 1)
        if self.random_state is not None:
            check_count(func, "random_state", self.random_state, 0)
        m = int(X.shape[0])
        dims = [int(X.shape[1]), *hidden, n_out]
        if epochs is None:
            epochs = check_count(func, "epochs", self.epochs, 1)
        resume = self._resume_from(func, hidden) if warm else None
        done = 0 if resume is None else resume["epoch"]
        seed = 0 if self.random_state is None else self.random_state
        batch_size = None if self.batch_size is None else min(int(self.batch_size), m)
        last: list[TrainingState] = []

        def keep(state: TrainingState) -> None:  # the state after the last epoch, for the next call
            last[:] = [state]

        # X stays where it is; host data goes to ``backend`` (fit moves it once).
        self.parameters_, self.history_ = fit(
            X.T, Y, dims, sample_weight=sample_weight, hidden_activation=self.activation, output=output,
            batch_size=batch_size, num_epochs=done + epochs, seed=seed,
            backend=self.backend if be is None else be, print_cost=100 if self.verbose else False,
            # Scored each epoch only when a share is held out: validation_scores_.
            metrics=(f"val_{self._validation_score}",) if self.validation_fraction else (),
            resume=resume, checkpoint=keep, **{name: getattr(self, name) for name in PASSED},
        )  # fmt: skip
        state = last[-1]
        self._resume = {**state.optimizer_state(), "epoch": state.iteration, "costs": list(state.costs)}
        self.n_iter_ = len(self.history_["cost"])
        self.loss_curve_ = list(self.history_["cost"])
        scores = self.history_.get(f"val_{self._validation_score}")
        self.validation_scores_ = None if scores is None else list(scores)
        self._output = output

    def _resume_from(self, func: str, hidden: tuple[int, ...]) -> dict[str, Any]:
        """The fitted network's state, for a call that continues it with the same hidden layers."""
        fitted = [int(self.parameters_[f"W{l}"].shape[0]) for l in range(1, len(self.parameters_) // 2)]
        if list(hidden) != fitted:
            raise ValueError(
                f"{func}: hidden_layer_sizes {hidden} differ from the fitted network's {tuple(fitted)}, "
                f"which {continues(func)}"
            )
        return {"parameters": self.parameters_, **self._resume}

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
