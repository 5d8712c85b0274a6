"""The second course's ``predict(X, y, parameters)``: integer 0/1 decisions and the printed accuracy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portable_dnn.backend import index_dtype, namespace_of
from portable_dnn.training import predict as _decisions


def predict(X: Any, y: Any, parameters: Mapping[str, Any]) -> Any:
    """The network's decisions ``AL > 0.5`` as integer 0/1 labels ``(1, m)``; prints ``Accuracy: ...``.

    The second course's notebooks' ``predict``: the network is ReLU hidden layers and a
    sigmoid output, of any depth, and the labels are integers (the first course's
    :func:`portable_dnn.predict` answers 0.0/1.0 in X's float dtype); ``y`` is checked as
    there and the accuracy is the share of examples predicted right.

    >>> import numpy as np
    >>> p = {"W1": np.array([[1.0]]), "b1": np.array([[0.0]])}
    >>> predict(np.array([[-2.0, 3.0, 1.0]]), np.array([[0, 1, 0]]), p)
    Accuracy: 0.6666666666666666
    array([[0, 1, 1]])
    """
    decisions = _decisions(X, y, parameters)
    xp = namespace_of(decisions)
    return xp.astype(decisions, index_dtype(xp))
