"""ONNX graphs: the engine's forward pass traced on ndonnx's symbolic arrays (the ``onnx`` extra).

The network runs on ndonnx arrays as it runs on any backend, through the engine's
:class:`~portable_dnn.backend.Ops`: whatever the kernels compute (every hidden activation,
every output) becomes the graph's nodes. :class:`OnnxOps` changes how one kernel runs,
not what it computes: each layer's ``W @ A + b`` is one ``Gemm`` node. ndonnx's own
``@`` hides every product in an ``If`` that guards against empty inputs, with the shape
arithmetic of a dummy result in its branch: 4 ``If`` nodes and 754 nodes in all
(subgraphs included) for the course's 12288-20-7-5-1 network, against 41 here, none of
them ``If`` (onnxruntime's ``Gemm`` takes a batch of 0 examples as it is). The graph's
input is ``(batch, features)``, one example per row; the engine's columns are its
transpose, which the first ``Gemm`` reads in place (``transB``), so no transposed copy of
the input is made.
:func:`simplify` then drops the fills the kernels build for ``where`` (``zeros_like``
is ``Expand(0, Shape(Z))``), since ``Where`` broadcasts a scalar itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

try:
    import ndonnx as ndx
    import onnx
    import spox.opset.ai.onnx.v21 as op
except ImportError as exc:  # pragma: no cover - the onnx extra is part of the test extra
    raise ImportError(
        f"exporting to ONNX needs ndonnx and onnx: pip install 'portable_dnn[onnx]' ({exc})"
    ) from None

from .ops import Ops

__all__ = ["OnnxOps", "trace", "simplify", "node_count"]


class _Namespace:
    """ndonnx, but for ``max`` over given axes: one ``ReduceMax`` node. ndonnx's adds an ``If``
    against empty inputs and another ``If``, ``IsNaN`` and ``Where`` to propagate NaN; the
    reduced axes here are units (never empty), and a NaN among a column's logits makes
    softmax's sum, so every probability of the column, NaN either way."""

    def __getattr__(self, name: str) -> Any:
        return getattr(ndx, name)

    @staticmethod
    def max(x: Any, /, *, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Any:
        if axis is None:
            return ndx.max(x, keepdims=keepdims)
        axes = ndx.asarray(np.array([axis] if isinstance(axis, int) else axis, dtype=np.int64))
        return ndx.asarray(op.reduce_max(x.unwrap_spox(), axes.unwrap_spox(), keepdims=int(keepdims)))


class OnnxOps(Ops):
    """The engine's kernels on ndonnx arrays, each layer's product and bias one ``Gemm`` node.

    ``rows`` is the graph's ``(batch, features)`` input; :attr:`columns`, its transpose,
    is what the engine is handed as ``X``.
    """

    inplace = False

    def __init__(self, dtype: Any, rows: Any) -> None:
        super().__init__(_Namespace(), dtype, None, inplace=False)
        self.rows = rows
        self.columns = ndx.matrix_transpose(rows)

    def linear(self, W: Any, A: Any, b: Any) -> Any:
        if A is self.columns:  # the input itself: Gemm reads its rows transposed
            return ndx.asarray(op.gemm(W.unwrap_spox(), self.rows.unwrap_spox(), b.unwrap_spox(), transB=1))
        return ndx.asarray(op.gemm(W.unwrap_spox(), A.unwrap_spox(), b.unwrap_spox()))


def trace(
    compute: Callable[[Ops, list[Any], Any], Sequence[Any]],
    weights: Sequence[np.ndarray],
    *,
    input_name: str,
    batch: str,
    output_names: Sequence[str],
    properties: Mapping[str, str],
    doc: str,
) -> bytes:
    """The serialized ONNX model of ``compute(ops, params, X)``, checked (``full_check``).

    ``compute`` gets :class:`OnnxOps`, ``weights`` as graph constants and ``X``
    ``(features, batch)``, and returns arrays ``(units, batch)``: the model's outputs
    ``output_names``, each ``(batch, units)``. The input ``input_name`` is ``(batch,
    features)`` in the weights' dtype, ``batch`` its named dynamic dimension.
    ``properties`` become the model's metadata, ``doc`` its description.
    """
    dtype = getattr(ndx, str(weights[0].dtype))
    rows = ndx.argument(shape=(batch, int(weights[0].shape[1])), dtype=dtype)
    ops = OnnxOps(dtype, rows)
    results = compute(ops, [ndx.asarray(w) for w in weights], ops.columns)
    outputs = {name: ndx.matrix_transpose(a) for name, a in zip(output_names, results)}
    model = ndx.build({input_name: rows}, outputs)
    simplify(model.graph)
    kept = {p.key: p.value for p in model.metadata_props}
    onnx.helper.set_model_props(model, {**kept, **properties})
    model.doc_string = doc
    model.producer_name = "portable_dnn"
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()  # type: ignore[no-any-return]


def simplify(graph: Any) -> None:
    """Drop, in place, the ``Expand(value, Shape(x))`` fills that only feed ``Where`` nodes
    reading ``x`` too (broadcasting ``value`` there gives the same result), then every node
    whose outputs nothing reads."""
    producers = {name: node for node in graph.node for name in node.output}
    readers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    finals = {o.name for o in graph.output}
    for node in graph.node:
        if node.op_type != "Expand" or node.output[0] in finals:
            continue
        shape = producers.get(node.input[1])
        if shape is None or shape.op_type != "Shape":
            continue
        if not all(a.name == "start" and a.i == 0 for a in shape.attribute):  # a part of the shape
            continue
        users = readers.get(node.output[0], [])
        if users and all(u.op_type == "Where" and shape.input[0] in u.input for u in users):
            for user in users:
                user.input[:] = [node.input[0] if n == node.output[0] else n for n in user.input]
    _prune(graph)


def _prune(graph: Any) -> None:
    """Remove the nodes whose outputs neither another node nor the graph reads (last to first)."""
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))


def node_count(model: bytes) -> tuple[int, int]:
    """The serialized ``model``'s nodes: ``(in the main graph, in all its subgraphs too)``."""

    def count(graph: Any) -> int:
        return sum(1 + sum(count(a.g) for a in node.attribute if a.HasField("g")) for node in graph.node)

    graph = onnx.load_from_string(model).graph
    return len(graph.node), count(graph)
