"""Smoke test of the benchmark harness: every contender runs on a tiny workload, and ``--ref`` works.

Not a timed test: it asserts nothing about speed, only that each run gave a positive finite
time and parameters of the network's shapes, and that contenders which start from the same
weights and take the same steps end at the same loss. Contenders whose library is missing
are skipped; the Dask fault scenarios, which wait out seconds-long timeouts by design, run
one of them (``lineage[32]``) here and all with ``python -m benchmarks --quick``. The inference
contenders run together on ``infer_tiny``, where their outputs are held to a float64 reference.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks import harness as timing  # noqa: E402
from benchmarks import machine, report  # noqa: E402
from benchmarks.contenders import load  # noqa: E402
from benchmarks.workloads import WORKLOADS, examples, initial_weights  # noqa: E402

SLOW = {"lineage[32, killed]", "lineage[none]", "lineage[none, killed]", "scheduler_killed", "no_workers",
        "thread_taken", "dask[2 workers]"}  # fmt: skip
INFERENCE = WORKLOADS["infer_tiny"]  # every inference contender, run by the ``inference`` fixture


def harness(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "result.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return dict(json.loads(out.read_text(encoding="utf-8")))


#: The module each backend's session brings (its contenders run in that session).
SESSION_MODULE = {"torch": "torch", "jax": "jax", "dask": "distributed", "cupy": "cupy"}


def runs(backend: str = "numpy") -> dict[str, tuple[str, str]]:
    """Each available contender's first workload and its first dtype: in the numpy session every
    contender that can run, elsewhere those of the session's library."""
    registry = load()
    first: dict[str, tuple[str, str]] = {}
    left_out = {*SLOW, *INFERENCE.contenders}
    for w in WORKLOADS.values():
        for name in w.contenders:
            mine = backend == "numpy" or SESSION_MODULE.get(backend) in registry[name].needs
            runnable = w.missing() is None and registry[name].missing("cpu") is None
            if mine and runnable and name not in left_out:
                first.setdefault(name, (w.name, w.dtypes[0]))
    return first


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory, backend) -> list[dict]:
    if not runs(backend.name):
        pytest.skip(f"no benchmark contender runs on {backend.name}")
    rows = []
    by_workload: dict[tuple[str, str], list[str]] = {}
    for name, key in runs(backend.name).items():
        by_workload.setdefault(key, []).append(name)
    for (workload, dtype), names in by_workload.items():
        tmp = tmp_path_factory.mktemp(workload)
        result = harness(tmp, "--workload", workload, "--dtype", dtype, "--contender", ",".join(names))
        rows += result["rows"]
    return rows


def test_every_contender_runs_and_trains_the_network(smoke: list[dict], backend) -> None:
    assert {r["contender"] for r in smoke} == set(runs(backend.name))
    for r in smoke:
        w = WORKLOADS[r["workload"]].sized(True)
        assert "error" not in r, r
        assert all(math.isfinite(s) and s > 0 for s in r["seconds"]), r
        if r["workload"] != "dask_faults":
            assert r["shape"] == [[n_out, n_in] for n_in, n_out in zip(w.dims[:-1], w.dims[1:])], r
    registry = load()
    assert all(WORKLOADS[r["workload"]].kind in registry[r["contender"]].kinds for r in smoke)


def test_full_batch_contenders_end_at_the_same_loss(smoke: list[dict], backend) -> None:
    """From the same weights, the same gradient-descent steps: the losses differ by rounding alone,
    at most the products' length in units of eps, once per step."""
    w = WORKLOADS["course"].sized(True)
    losses = [r["loss"] for r in smoke if r["workload"] == "course" and r["loss"] is not None]
    if backend.name == "dask":
        pytest.skip("Dask's contenders run the fault and out-of-core workloads, not the course's")
    assert len(losses) >= 2, smoke
    eps = sys.float_info.epsilon
    assert max(losses) - min(losses) <= w.steps * max(w.dims) * eps * max(losses)


def test_ref_head_runs_the_library_beside_itself(tmp_path: Path) -> None:
    result = harness(tmp_path, "--workload", "course", "--dtype", "float64", "--contender",
                     "portable_dnn,course_loop", "--ref", "HEAD")  # fmt: skip
    trees = {(r["contender"], r["tree"]): r for r in result["rows"]}
    assert set(trees) == {("portable_dnn", "new"), ("portable_dnn", "ref"), ("course_loop", "new")}
    new, ref = trees["portable_dnn", "new"], trees["portable_dnn", "ref"]
    assert ref["library"] != new["library"] and ref["library"].startswith(tempfile_root())
    assert new["loss"] == pytest.approx(ref["loss"], rel=1e-12)  # HEAD trains as this tree does
    assert result["ref"]["commit"] == result["machine"]["commit"].removesuffix("+dirty")


def tempfile_root() -> str:
    import tempfile

    return str(Path(tempfile.gettempdir()))


@pytest.fixture(scope="module")
def inference(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    absent = [m for m in ("onnx", "ndonnx", "onnxruntime") if importlib.util.find_spec(m) is None]
    if absent:
        pytest.skip(f"{', '.join(absent)} not installed")
    tmp = tmp_path_factory.mktemp(INFERENCE.name)
    result = harness(tmp, "--workload", INFERENCE.name, "--dtype", "float64")
    return list(result["rows"])


def forward_error_bound(w: object) -> float:
    """The most two float64 computations of the quick ``w``'s sigmoid outputs may differ by. A computed
    ``W @ A + b`` (n products, then the bias) is within gamma(n + 1) (|W| |A| + |b|) of the exact one,
    gamma(k) = k u / (1 - k u), u = eps / 2 (Higham, Accuracy and Stability, 3.5); ReLU passes an error
    on undiminished and the next layer multiplies it by |W|; the sigmoid's slope is at most 1/4, and
    its own evaluation (exp, add, divide) adds at most 4 u. Each of the two is that far from exact."""
    u = sys.float_info.epsilon / 2
    X, _ = examples(w)  # type: ignore[arg-type]
    A, E = X.T, np.zeros_like(X.T)
    for W, b in initial_weights(w, "float64"):  # type: ignore[arg-type]
        k = W.shape[1] + 1
        E = k * u / (1 - k * u) * (abs(W) @ abs(A) + abs(b)) + abs(W) @ E
        A = np.maximum(W @ A + b, 0)
    return 2 * (float(E.max()) / 4 + 4 * u)


def test_inference_contenders_predict_what_the_network_computes(inference: list[dict]) -> None:
    w = INFERENCE.sized(True)
    assert w.output == "sigmoid"
    registry = load()
    have = {n for n in INFERENCE.contenders if registry[n].missing("cpu") is None}
    assert {r["contender"] for r in inference} == have
    bound = forward_error_bound(w)
    for r in inference:
        assert "error" not in r, r
        assert all(math.isfinite(s) and s > 0 for s in r["seconds"]), r
        assert r["shape"] == [[n_out, n_in] for n_in, n_out in zip(w.dims[:-1], w.dims[1:])], r
        assert 0 <= r["loss"] <= bound, (r, bound)  # the largest difference from the float64 reference


def test_inference_runs_on_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    spec = {"workload": INFERENCE.name, "device": "cpu"}
    env = timing.child_env(spec, ROOT)
    assert {v: env[v] for v in machine.BLAS_THREADS} == dict.fromkeys(machine.BLAS_THREADS, "1")
    assert timing.child_env({**spec, "workload": "course"}, ROOT)["OMP_NUM_THREADS"] == "2"
    assert "MKL_NUM_THREADS" not in timing.child_env({**spec, "workload": "course"}, ROOT)


def test_targets_are_reported_met_or_missed() -> None:
    def row(contender: str, seconds: float) -> dict:
        return {"dtype": "float64", "contender": contender, "tree": "new", "median_s": seconds}

    rows = [row("portable_dnn[forward]", 1.0), row("onnxruntime", 1.6), row("onnx_hand", 1.0)]
    assert report.targets(WORKLOADS["infer_mnist"], rows) == [
        "- onnxruntime / portable_dnn[forward], float64: 1.600 (target <= 1.5): MISSED",
    ]
    assert report.targets(INFERENCE, rows) == [
        "- onnxruntime / onnx_hand, float64: 1.600 (target <= 2.0): met",
    ]
    rows[1]["median_s"] = 2.5
    assert report.targets(INFERENCE, rows) == [
        "- onnxruntime / onnx_hand, float64: 2.500 (target <= 2.0): MISSED",
    ]
