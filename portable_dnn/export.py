"""A trained network as an ONNX model, run by onnxruntime or any ONNX runtime (the ``onnx`` extra).

The graph is the library's own forward pass, traced: the engine's
:meth:`~portable_dnn.engine.Step.forward` runs on symbolic arrays, so the model
computes what :func:`~portable_dnn.forward_proba` and
:func:`~portable_dnn.predict_labels` compute, for every hidden activation and output.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ._atomic import atomic_write
from ._checks import check_path
from .engine import Network, Optimizer, Step, flatten
from .fit import labels_of
from .trained import TrainedNetwork, as_trained

__all__ = ["export_onnx"]


def export_onnx(
    model: Any, path: str | os.PathLike[str], *, input_name: str = "X", batch: str = "batch"
) -> str:
    """Write ``model`` (anything :func:`~portable_dnn.as_trained` takes) as the ONNX model ``path``;
    return the path.

    The model's input ``input_name`` is ``(batch, features)``, one example per row (the
    transpose of the library's ``X``), in the network's dtype (float32 or float64); ``batch``
    names its dynamic dimension, so any number of examples, 0 included, runs. Its outputs,
    one row per example, are the transposes of :func:`~portable_dnn.forward_proba` and
    :func:`~portable_dnn.predict_labels`: ``probabilities`` ``(batch, units)`` (``values``
    for an identity output) and ``labels`` ``(batch, 1)`` int64, the class index (sigmoid,
    softmax), ``(batch, units)`` of 0/1 (multilabel) or the values themselves (identity).
    The model's metadata property ``portable_dnn`` holds the network's description as JSON
    (layers, activations, dtype, input shape and class labels where known). The model is
    checked with ``onnx.checker`` (``full_check``) and written atomically, as model files are.

    >>> import os, tempfile
    >>> import numpy as np
    >>> import onnxruntime
    >>> params = {"W1": np.array([[1.0, -1.0]]), "b1": np.array([[0.5]])}
    >>> path = export_onnx(params, os.path.join(tempfile.mkdtemp(), "net.onnx"))
    >>> session = onnxruntime.InferenceSession(path)
    >>> proba, labels = session.run(None, {"X": np.array([[2.0, 0.0], [0.0, 2.0]])})
    >>> from portable_dnn import forward_proba
    >>> labels.tolist(), np.allclose(proba.T, forward_proba(np.array([[2.0, 0.0], [0.0, 2.0]]), params))
    ([[1], [0]], True)
    """
    func = "export_onnx"
    path = check_path(func, path)
    for name, value in (("input_name", input_name), ("batch", batch)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{func}: {name} must be a non-empty string, got {value!r}")
    net = as_trained(model)
    from .backend import _onnx

    network = Network(net.hidden, net.output)

    def compute(ops: Any, params: list[Any], X: Any) -> list[Any]:
        AL = Step(ops, network, Optimizer()).forward(params, X)
        return [AL, labels_of(ops.xp, AL, net.output)]

    proto = _onnx.trace(
        compute,
        flatten(net.parameters),
        input_name=input_name,
        batch=batch,
        output_names=("values" if net.output == "identity" else "probabilities", "labels"),
        properties={"portable_dnn": json.dumps(_description(net))},
        doc=f"{'-'.join(map(str, net.layer_dims))} network, {net.hidden} hidden layers, {net.output} output",
    )
    atomic_write(func, path, lambda fh: fh.write(proto))
    return path


def _description(net: TrainedNetwork) -> dict[str, Any]:
    return {
        "layer_dims": net.layer_dims,
        "activations": net.activations,
        "dtype": net.dtype,
        "input_shape": None if net.input_shape is None else list(net.input_shape),
        "classes": None if net.classes is None else net.classes.tolist(),
    }
