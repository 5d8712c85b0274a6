"""Inference: one prediction of the workload's examples with its shared initial weights, one thread.

* ``portable_dnn[forward]``: :func:`portable_dnn.forward_proba` on NumPy (the harness
  sets the workload's one BLAS thread before NumPy loads), the examples as the library
  takes them, ``(features, m)``: the transpose of the examples-major data, no copy;
* ``onnxruntime``: the network written by :func:`portable_dnn.export_onnx`, run in
  onnxruntime on one thread (``intra_op_num_threads=1``, ``inter_op_num_threads=1``,
  sequential execution) on the examples-major data, one row per example;
* ``onnx_hand``: the same network as one writes it by hand with the ``onnx`` helper API,
  ``MatMul`` and ``Add`` per layer, ``Relu``, then ``Sigmoid`` (or ``Softmax``), run as
  ``onnxruntime`` is.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as np

from ..workloads import Workload, as_parameters, examples, initial_weights
from . import Outcome, register

_ONNX = ("onnxruntime", "onnx")


def session(model: bytes) -> Any:
    """An onnxruntime session of ``model`` on one CPU thread."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _run_onnx(w: Workload, dtype: str, model: bytes, extra: dict[str, Any]) -> Callable[[], Outcome]:
    layers = initial_weights(w, dtype)
    rows = np.ascontiguousarray(examples(w)[0].astype(dtype))
    sess = session(model)

    def run() -> Outcome:
        (P,) = sess.run(["probabilities"], {"X": rows})
        return Outcome(layers, extra, trained=False, predictions=P)

    return run


@register("portable_dnn[forward]", ("inference",), library=True, devices=("cpu",))
def forward(w: Workload, dtype: str, device: str) -> Callable[[], Outcome]:
    import portable_dnn as dnn

    layers = initial_weights(w, dtype)
    params = as_parameters(layers)
    X = examples(w)[0].astype(dtype).T

    def run() -> Outcome:
        return Outcome(layers, trained=False, predictions=dnn.forward_proba(X, params, output=w.output).T)

    return run


@register("onnxruntime", ("inference",), needs=(*_ONNX, "ndonnx"), library=True, devices=("cpu",))
def exported(w: Workload, dtype: str, device: str) -> Callable[[], Outcome]:
    import onnx

    import portable_dnn as dnn

    net = dnn.as_trained(as_parameters(initial_weights(w, dtype)), output=w.output)
    with tempfile.TemporaryDirectory() as folder:
        with open(dnn.export_onnx(net, os.path.join(folder, "net.onnx")), "rb") as fh:
            model = fh.read()
    nodes = len(onnx.load_from_string(model).graph.node)
    return _run_onnx(w, dtype, model, {"nodes": nodes, "bytes": len(model)})


@register("onnx_hand", ("inference",), needs=_ONNX, devices=("cpu",))
def hand_written(w: Workload, dtype: str, device: str) -> Callable[[], Outcome]:
    """``X @ W^T + b^T`` per layer, ``Relu`` between, the output's own node last."""
    import onnx
    from onnx import helper, numpy_helper

    layers = initial_weights(w, dtype)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    nodes, inits, last = [], [], "X"
    for l, (W, b) in enumerate(layers, start=1):
        inits += [numpy_helper.from_array(np.ascontiguousarray(W.T), f"W{l}T"),
                  numpy_helper.from_array(b.reshape(1, -1), f"b{l}")]  # fmt: skip
        nodes += [helper.make_node("MatMul", [last, f"W{l}T"], [f"P{l}"]),
                  helper.make_node("Add", [f"P{l}", f"b{l}"], [f"Z{l}"])]  # fmt: skip
        act = "Relu" if l < len(layers) else {"sigmoid": "Sigmoid", "softmax": "Softmax"}[w.output]
        last = f"A{l}" if l < len(layers) else "probabilities"
        nodes.append(helper.make_node(act, [f"Z{l}"], [last]))
    graph = helper.make_graph(
        nodes,
        "hand_written",
        [helper.make_tensor_value_info("X", elem, ["batch", w.dims[0]])],
        [helper.make_tensor_value_info("probabilities", elem, ["batch", w.dims[-1]])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    onnx.checker.check_model(model, full_check=True)
    return _run_onnx(w, dtype, model.SerializeToString(), {"nodes": len(nodes)})
