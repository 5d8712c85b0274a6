"""scikit-learn's ``MLPClassifier`` (mini-batch workloads: ``fit`` for the workload's epochs) and
``MLPRegressor`` (regression: ``partial_fit`` once per epoch, as ``DNNRegressor`` is timed), Adam,
the workload's batch size and learning rate, no L2 term; their own (Glorot) initialization."""

from __future__ import annotations

import warnings
from collections.abc import Callable

from ..workloads import Workload, examples
from . import Outcome, register


@register("sklearn_mlp", ("minibatch", "regression"), needs=("sklearn",), devices=("cpu",))
def prepare(w: Workload, dtype: str, device: str) -> Callable[[], Outcome]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    X, y = examples(w)
    X = X.astype(dtype)
    options = dict(hidden_layer_sizes=tuple(w.dims[1:-1]), solver="adam", batch_size=w.batch,
                   learning_rate_init=w.learning_rate, alpha=0.0, random_state=0)  # fmt: skip
    if w.kind == "regression":
        reg = MLPRegressor(**options)  # type: ignore[arg-type]

        def train() -> object:
            for _ in range(w.steps):
                reg.partial_fit(X, y)
            return reg

    else:
        clf = MLPClassifier(max_iter=w.steps, **options)  # type: ignore[arg-type]

        def train() -> object:
            with warnings.catch_warnings():  # a few epochs do not converge, by design
                warnings.simplefilter("ignore", ConvergenceWarning)
                return clf.fit(X, y)

    def run() -> Outcome:
        model = train()
        return Outcome([(W.T, b) for W, b in zip(model.coefs_, model.intercepts_, strict=True)])  # type: ignore[attr-defined]

    return run
