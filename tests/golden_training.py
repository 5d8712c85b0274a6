"""The golden matrix's training cases: ``fit`` one option at a time around a base case, the course's
models, the scikit-learn estimators, the command line and the second course's models."""

from __future__ import annotations

import functools
import os
import tempfile
from typing import Any

import numpy as np

import portable_dnn as dnn
from portable_dnn import cli
from portable_dnn.course2 import initialization as init2
from portable_dnn.course2 import optimization as opt2
from portable_dnn.course2 import regularization as reg2

from .golden_cases import Result, Skip, draw, host, quiet, register

M = 24  # examples of the fit cases


def _data(output: str) -> tuple[np.ndarray, np.ndarray, int]:
    """``(X, Y, units)`` for ``output``: 4 features, labels that depend on them (so training moves)."""
    X = draw(100, 4, M)
    score = X[0] + 0.5 * X[1] - X[2] * X[3]
    if output == "sigmoid":
        return X, (score > 0).astype(np.int64)[None, :], 1
    if output == "softmax":
        return X, np.digitize(score, [-0.5, 0.5])[None, :], 3
    if output == "multilabel":
        return X, (np.stack([score, X[1], X[0] * X[2]]) > 0).astype(np.int64), 3
    return X, np.stack([score, np.sin(X[0])]), 2


def fit_case(
    be: dnn.Backend, *, output: str = "sigmoid", dtype: str = "float64", proba: bool = False, **options: Any
) -> Result:
    """``fit``'s parameters and history (and with ``proba`` the trained network's output on X)."""
    X, Y, units = _data(output)
    kw: dict[str, Any] = dict(output=output, learning_rate=0.05, num_epochs=12, seed=1) | options
    if options.get("sample_weight") is True:
        kw["sample_weight"] = np.random.default_rng(101).uniform(0, 2, M)
    hidden = kw.get("hidden_activation", "relu")
    parameters, history = dnn.fit(X, Y, [4, 5, 3, units], backend=be, dtype=dtype, **kw)
    # The history's numbers (costs, scores, ...); its record of the settings is not a result.
    numbers = {k: np.asarray(v) for k, v in history.items() if k != "settings"}
    out = {**host(parameters), **numbers}
    if proba:
        Xb = be.asarray(X, dtype=dtype)
        out["AL"] = host(dnn.forward_proba(Xb, parameters, hidden_activation=hidden, output=output))[""]
    return out


FIT = {
    "base": dict(proba=True),
    "momentum": dict(optimizer="momentum"),
    "nesterov": dict(optimizer="nesterov", beta=0.8),
    "rmsprop": dict(optimizer="rmsprop", learning_rate=0.01),
    "adam": dict(optimizer="adam", learning_rate=0.01),
    "adamw": dict(optimizer="adamw", learning_rate=0.01, weight_decay=0.05),
    "softmax": dict(output="softmax", proba=True),
    "multilabel": dict(output="multilabel", proba=True),
    "identity": dict(output="identity", learning_rate=0.01, proba=True),
    "tanh": dict(hidden_activation="tanh", proba=True),
    "leaky_relu": dict(hidden_activation="leaky_relu"),
    "sigmoid_hidden": dict(hidden_activation="sigmoid", learning_rate=0.5),
    "dropout": dict(keep_prob=0.8),
    "l2": dict(lambd=0.7),
    "sample_weight": dict(sample_weight=True),
    "decay": dict(decay_rate=0.3),
    "decay_interval": dict(decay_rate=0.3, time_interval=4),
    "schedule": dict(learning_rate=lambda e: 0.1 / (1 + e)),
    "clip_norm": dict(clip_norm=0.05, learning_rate=0.2),
    "minibatch": dict(batch_size=8),
    "minibatch_remainder": dict(batch_size=10, optimizer="momentum"),
    "minibatch_adam_dropout_l2": dict(
        batch_size=10, optimizer="adam", learning_rate=0.01, keep_prob=0.9, lambd=0.3
    ),
    "minibatch_weighted": dict(batch_size=8, sample_weight=True, optimizer="rmsprop", learning_rate=0.01),
    "minibatch_no_replay": dict(batch_size=8, optimizer="adam", learning_rate=0.01, replay=False),
    "init_xavier": dict(init="xavier", init_seed=7),
    "validation": dict(validation_fraction=0.25, metrics=("accuracy", "val_accuracy")),
    "early_stopping": dict(
        validation_fraction=0.25, early_stopping_patience=2, learning_rate=0.5, num_epochs=30
    ),
    "identity_r2": dict(output="identity", learning_rate=0.01, batch_size=8, metrics=("r2",)),
    "float32": dict(dtype="float32"),
    "float32_adam_minibatch": dict(dtype="float32", optimizer="adam", learning_rate=0.01, batch_size=8),
    "float32_softmax_dropout": dict(dtype="float32", output="softmax", keep_prob=0.8),
}
for _name, _options in FIT.items():
    register(
        f"fit_{_name}", functools.partial(fit_case, **_options), "training", _options.get("dtype", "float64")
    )


def fit_resumed(be: dnn.Backend) -> Result:
    """Six epochs of Adam, then six more from the saved state."""
    X, Y, _ = _data("sigmoid")
    kw: dict[str, Any] = dict(optimizer="adam", learning_rate=0.01, batch_size=8, seed=1, backend=be)
    states: list[Any] = []
    dnn.fit(X, Y, [4, 5, 3, 1], num_epochs=6, checkpoint=states.append, **kw)
    state = states[-1]
    resume = {
        "parameters": state.snapshot(),
        **state.optimizer_state(),
        "epoch": state.iteration,
        "costs": state.costs,
    }
    parameters, history = dnn.fit(X, Y, [4, 5, 3, 1], num_epochs=12, resume=resume, **kw)
    return {**host(parameters), "cost": np.asarray(history["cost"])}


register("fit_resumed", fit_resumed, "training")


# ------------------------------------------------------------ the course's models


def course_model(be: dnn.Backend, *, model: str = "L_layer_model", dtype: str = "float64") -> Result:
    X, Y, _ = _data("sigmoid")
    if model == "two_layer_model":
        parameters, costs = dnn.two_layer_model(X, Y, (4, 5, 1), 0.1, 201, backend=be, dtype=dtype)
    else:
        parameters, costs = dnn.L_layer_model(X, Y, [4, 5, 3, 1], 0.1, 201, backend=be, dtype=dtype)
    return {**host(parameters), "costs": np.asarray([float(c) for c in costs])}


register("L_layer_model", course_model, "training")
register("L_layer_model_float32", functools.partial(course_model, dtype="float32"), "training", "float32")
register("two_layer_model", functools.partial(course_model, model="two_layer_model"), "training")


def course2_models(be: dnn.Backend) -> Result:
    """The second course's three notebooks' ``model`` on a few iterations of small data."""
    X, Y, _ = _data("sigmoid")
    X = X[:2]
    out: Result = {}
    for how in ("he", "zeros"):
        out.update(host(init2.model(X, Y, 0.05, 20, False, how, backend=be), f"init_{how}_"))
    out.update(host(reg2.model(X, Y, 0.1, 20, False, lambd=0.7, backend=be), "reg_l2_"))
    out.update(host(reg2.model(X, Y, 0.1, 20, False, keep_prob=0.8, backend=be), "reg_dropout_"))
    p = opt2.model(X, Y, [2, 4, 3, 1], "momentum", 0.01, 8, num_epochs=6, print_cost=False, backend=be)
    out.update(host(p, "opt_momentum_"))
    p = opt2.model(X, Y, [2, 4, 1], "adam", 0.01, 8, num_epochs=6, print_cost=False, decay=dnn.update_lr,
                   backend=be)  # fmt: skip
    return {**out, **host(p, "opt_decay_")}


register("course2_models", course2_models, "training")


# ------------------------------------------------------------ the estimators


def estimator_case(be: dnn.Backend, *, kind: str) -> Result:
    try:
        from portable_dnn.sklearn import DNNClassifier, DNNRegressor
    except ImportError as exc:
        raise Skip(f"the estimators need scikit-learn: {exc}") from None
    X, Y, _ = _data("softmax" if kind == "multiclass" else "identity" if kind == "regressor" else "sigmoid")
    kw: dict[str, Any] = dict(hidden_layer_sizes=(5, 3), epochs=6, batch_size=8, learning_rate=0.01,
                              random_state=2, backend=be.name)  # fmt: skip
    if kind == "regressor":
        est = DNNRegressor(**kw).fit(X.T, Y.T)
        out = {"predict": est.predict(X.T)}
    else:
        est = DNNClassifier(lambd=0.1, **kw).fit(X.T, Y.ravel())
        out = {"predict": est.predict(X.T), "predict_proba": est.predict_proba(X.T)}
    return {**host(out), **host(est.parameters_, "param_"), "loss_curve": np.asarray(est.loss_curve_)}


for _kind in ("binary", "multiclass", "regressor"):
    register(f"estimator_{_kind}", functools.partial(estimator_case, kind=_kind), "training")


# ------------------------------------------------------------ the command line


def cli_case(be: dnn.Backend, *, options: tuple[str, ...]) -> Result:
    """``portable-dnn train`` on the embedded data, in-process: the saved parameters and costs."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "model.npz")
        args = ["train", "--layers", "3", "--quiet", "--backend", be.name, "--out", out, *options]
        status = quiet(cli.main, args)
        if status != 0:
            raise AssertionError(f"portable-dnn {' '.join(args)} exited with {status}")
        meta = dnn.load_metadata(out)
        return {
            **host(dnn.load_parameters(out, backend="numpy")),
            "costs": np.asarray(meta["metadata"]["costs"]),
        }


register("cli_train", functools.partial(cli_case, options=("--iterations", "201")), "training")
register(
    "cli_train_adam",
    functools.partial(
        cli_case,
        options=("--iterations", "4", "--optimizer", "adam", "--batch-size", "64", "--learning-rate", "0.01"),
    ),  # fmt: skip
    "training",
)
