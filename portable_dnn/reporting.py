"""What :func:`~portable_dnn.fit` reports after each epoch besides the cost: scores and a progress bar.

The scores (``METRICS``; ``"val_"`` before a name asks for the validation score alone) are
computed on the device from the network's output ``AL``
(the forward pass without dropout) and the labels or targets ``Y`` as the training
loop holds them (``(units, m)``, one-hot for softmax), each as a 0-d array, so that a
caller reads all of an epoch's scores to the host at once:

- ``"accuracy"`` (sigmoid, softmax and multilabel outputs): the share of examples
  predicted right, as :func:`~portable_dnn.predict_labels` predicts (``AL > 0.5``, or
  the column's argmax); for multilabel an example counts only when every one of its
  labels is right (scikit-learn's ``accuracy_score``, subset accuracy);
- ``"r2"`` (identity output): the coefficient of determination ``1 - SS_res / SS_tot``
  of each target, averaged over the targets (scikit-learn's ``r2_score`` with
  ``multioutput="uniform_average"``); a constant target scores 1 when predicted
  exactly, else 0, as scikit-learn's ``force_finite`` does.

Where the examples are weighted (``sample_weight``), each score weighs them as the cost does:
accuracy is the weighted share, and R^2's mean and sums are weighted (scikit-learn's
``sample_weight``).

The progress bar is tqdm's (``tqdm.auto``: a widget in notebooks, text elsewhere),
an optional dependency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

METRICS = ("accuracy", "r2")
#: The outputs each score is defined for.
METRIC_OUTPUTS = {"accuracy": ("sigmoid", "softmax", "multilabel"), "r2": ("identity",)}


def check_metrics(func: str, metrics: Any, output: str, validation: bool) -> tuple[str, ...]:
    """The history keys ``metrics`` asks for, each once: a name of ``METRICS`` defined for ``output``
    is scored on the training data and, with ``validation``, on the validation data (``"val_"`` and
    the name); ``"val_"`` and a name asks for the validation score alone.

    >>> check_metrics("fit", ["accuracy"], "softmax", validation=True)
    ('accuracy', 'val_accuracy')
    >>> check_metrics("fit", ["val_r2"], "identity", validation=True)
    ('val_r2',)
    """
    names = ", ".join(map(repr, METRICS))
    if isinstance(metrics, str) or not isinstance(metrics, Sequence):
        raise TypeError(f"{func}: metrics must be a tuple of names from {names}, got {metrics!r}")
    keys: list[str] = []
    for key in metrics:
        name = key[4:] if isinstance(key, str) and key.startswith("val_") else key
        if not isinstance(name, str) or name not in METRICS:
            raise ValueError(
                f"{func}: unknown metric {key!r}; the metrics are {names} (with 'val_' before a name: "
                "its validation score alone)"
            )
        if output not in METRIC_OUTPUTS[name]:
            raise ValueError(
                f"{func}: metric {name!r} needs output {' or '.join(map(repr, METRIC_OUTPUTS[name]))}, "
                f"not {output!r}"
            )
        if key != name and not validation:
            raise ValueError(f"{func}: metric {key!r} needs validation_data or validation_fraction > 0")
        wanted = [key] if key != name else [name, f"val_{name}"] if validation else [name]
        keys += [k for k in wanted if k not in keys]
    return tuple(keys)


def score(xp: Any, name: str, AL: Any, Y: Any, output: str, weights: Any = None) -> Any:
    """The metric ``name`` of the output ``AL`` against ``Y`` (both ``(units, m)``), a 0-d array of
    AL's dtype on AL's device; nothing is read to the host. With ``weights`` ``(1, m)`` each example
    counts by its weight, as scikit-learn's ``sample_weight`` weighs its scores.

    >>> import numpy as np
    >>> AL = np.array([[0.9, 0.2, 0.6, 0.4]]); Y = np.array([[1.0, 0.0, 0.0, 0.0]])
    >>> float(score(np, "accuracy", AL, Y, "sigmoid"))
    0.75
    >>> float(score(np, "accuracy", AL, Y, "sigmoid", weights=np.array([[1.0, 1.0, 2.0, 0.0]])))
    0.5
    >>> float(score(np, "r2", np.array([[1.0, 2.0, 2.0]]), np.array([[1.0, 2.0, 3.0]]), "identity"))
    0.5
    """
    if name == "r2":
        return _r2(xp, AL, Y, weights)
    if output == "softmax":
        right = xp.argmax(AL, axis=0) == xp.argmax(Y, axis=0)
    else:
        right = (AL > 0.5) == (Y > 0.5)
        if output == "multilabel":
            right = xp.all(right, axis=0)
    right = xp.astype(xp.reshape(right, (-1,)), AL.dtype)
    if weights is None:
        return xp.mean(right)
    return xp.sum(right * weights[0, :]) / xp.sum(weights)


def _r2(xp: Any, AL: Any, Y: Any, weights: Any) -> Any:
    D = Y - AL
    if weights is None:
        residual = xp.sum(D * D, axis=1)
        C = Y - xp.mean(Y, axis=1, keepdims=True)
        total = xp.sum(C * C, axis=1)
    else:
        residual = xp.sum(D * D * weights, axis=1)
        C = Y - xp.sum(Y * weights, axis=1, keepdims=True) / xp.sum(weights)
        total = xp.sum(C * C * weights, axis=1)
    one, zero = xp.ones_like(total), xp.zeros_like(total)
    varies = total != 0
    # A constant target has no variance to explain: exact predictions score 1, others 0.
    per_target = xp.where(
        varies, 1 - residual / xp.where(varies, total, one), xp.where(residual == 0, one, zero)
    )
    return xp.mean(per_target)


def progress_bar_class(func: str) -> Any:
    """tqdm's ``tqdm.auto.tqdm``, or an ImportError that says how to install it."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError(f"{func}: progress=True needs tqdm; install it with: pip install tqdm") from None
    return tqdm
