"""Inference of an exported network: onnxruntime against NumPy and against a hand-written graph.

``python benchmarks/onnx_inference.py`` exports each workload's network with
``portable_dnn.export_onnx`` and times, on one thread, the prediction of
``--examples`` examples (10,000):

- ``onnx``: the exported model in onnxruntime (``intra_op_num_threads=1``, sequential);
- ``numpy``: ``portable_dnn.forward_proba`` on NumPy (one BLAS thread: the thread
  variables are set to 1 before NumPy loads, unless already set);
- ``hand``: for the ``tiny`` workload, a graph written by hand from MatMul, Add, Relu and
  Sigmoid nodes, as one would write it without the library.

Workloads: ``course`` (the course's 12288-20-7-5-1, sigmoid output), ``mnist``
(784-128-64-10, softmax) and ``tiny`` (2-10-5-1, sigmoid). Each run prints the median
of ``--repeats`` timed calls after a warm-up, the ratios against their targets (onnx
within 1.5x of numpy; onnx within 2x of hand), the largest difference between the
outputs, the exported file's size and node count, and the load average: time on an
idle machine only.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy loads its BLAS

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

WORKLOADS = {
    "course": ([12288, 20, 7, 5, 1], "sigmoid"),
    "mnist": ([784, 128, 64, 10], "softmax"),
    "tiny": ([2, 10, 5, 1], "sigmoid"),
}
#: (contender, baseline, the most the contender may take, in multiples of the baseline)
TARGETS = [("onnx", "numpy", 1.5), ("onnx", "hand", 2.0)]


def _median_ms(call: Callable[[], Any], repeats: int) -> float:
    call()  # warm-up: first-run allocations and onnxruntime's own preparation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _session(model: str | bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def hand_written(params: dict[str, np.ndarray], output: str) -> bytes:
    """The network as one writes it by hand: ``X @ W^T + b^T`` per layer, Relu, then the output."""
    import onnx
    from onnx import helper, numpy_helper

    L = len(params) // 2
    dtype = params["W1"].dtype
    elem = helper.np_dtype_to_tensor_dtype(dtype)
    nodes, inits, last = [], [], "X"
    for l in range(1, L + 1):
        inits += [
            numpy_helper.from_array(np.ascontiguousarray(params[f"W{l}"].T), f"W{l}T"),
            numpy_helper.from_array(params[f"b{l}"].reshape(1, -1), f"b{l}"),
        ]
        nodes += [
            helper.make_node("MatMul", [last, f"W{l}T"], [f"P{l}"]),
            helper.make_node("Add", [f"P{l}", f"b{l}"], [f"Z{l}"]),
        ]
        act = "Relu" if l < L else {"sigmoid": "Sigmoid", "softmax": "Softmax"}[output]
        nodes.append(helper.make_node(act, [f"Z{l}"], [f"A{l}" if l < L else "probabilities"]))
        last = f"A{l}"
    n_x, units = params["W1"].shape[1], params[f"W{L}"].shape[0]
    graph = helper.make_graph(
        nodes,
        "hand_written",
        [helper.make_tensor_value_info("X", elem, ["batch", n_x])],
        [helper.make_tensor_value_info("probabilities", elem, ["batch", units])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()  # type: ignore[no-any-return]


def run(name: str, examples: int, repeats: int, dtype: str, folder: str) -> dict[str, float]:
    import portable_dnn as dnn
    from portable_dnn.backend._onnx import node_count

    dims, output = WORKLOADS[name]
    params = dnn.initialize_parameters_deep(dims, seed=1, backend="numpy", dtype=dtype)
    X = np.random.RandomState(0).rand(dims[0], examples).astype(dtype)  # NumPy's layout: one column each
    rows = np.ascontiguousarray(X.T)  # ONNX's: one row per example
    path = dnn.export_onnx(dnn.as_trained(params, output=output), os.path.join(folder, f"{name}.onnx"))
    with open(path, "rb") as fh:
        exported = fh.read()
    session = _session(exported)
    times = {
        "onnx": _median_ms(lambda: session.run(["probabilities"], {"X": rows}), repeats),
        "numpy": _median_ms(lambda: dnn.forward_proba(X, params, output=output), repeats),
    }
    expected = dnn.forward_proba(X, params, output=output)
    differences = {"onnx": float(np.max(np.abs(session.run(["probabilities"], {"X": rows})[0].T - expected)))}
    if name == "tiny":
        hand = _session(hand_written(params, output))
        times["hand"] = _median_ms(lambda: hand.run(["probabilities"], {"X": rows}), repeats)
        differences["hand"] = float(np.max(np.abs(hand.run(None, {"X": rows})[0].T - expected)))
    top, total = node_count(exported)
    print(f"\n{name}: {'-'.join(map(str, dims))} {output}, {examples} examples, {dtype}")
    print(f"  exported: {len(exported):,} bytes, {top} nodes ({total} with subgraphs)")
    for contender, ms in times.items():
        diff = (
            f", largest difference from forward_proba {differences[contender]:.2e}"
            if contender in differences
            else ""
        )
        print(f"  {contender:>6}: {ms:9.3f} ms{diff}")
    for contender, baseline, most in TARGETS:
        if contender in times and baseline in times:
            ratio = times[contender] / times[baseline]
            verdict = "PASS" if ratio <= most else "MISS"
            print(f"  {contender}/{baseline} = {ratio:.2f} (target <= {most}) {verdict}")
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workloads", default=",".join(WORKLOADS), help="comma-separated, of: " + ", ".join(WORKLOADS)
    )
    parser.add_argument("--examples", type=int, default=10_000, help="examples per prediction (10000)")
    parser.add_argument(
        "--repeats", type=int, default=21, help="timed calls per contender; the median is shown"
    )
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    args = parser.parse_args(argv)
    names = [w for w in args.workloads.split(",") if w]
    unknown = [w for w in names if w not in WORKLOADS]
    if unknown or args.examples < 1 or args.repeats < 1:
        parser.error(f"unknown workloads {unknown}" if unknown else "--examples and --repeats must be >= 1")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"one thread each; load average {load} (time on an idle machine)")
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            run(name, args.examples, args.repeats, args.dtype, folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
