"""Smoke test of the benchmark harness: every contender runs on a tiny workload, and ``--ref`` works.

Not a timed test: it asserts nothing about speed, only that each run gave a positive finite
time and parameters of the network's shapes, and that contenders which start from the same
weights and take the same steps end at the same loss. Contenders whose library is missing
are skipped; the Dask fault scenarios, which wait out seconds-long timeouts by design, run
one of them (``lineage[32]``) here and all with ``python -m benchmarks --quick``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.contenders import load  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402

SLOW = {"lineage[32, killed]", "lineage[none]", "lineage[none, killed]", "scheduler_killed", "no_workers",
        "thread_taken", "dask[2 workers]"}  # fmt: skip


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


def runs() -> dict[str, tuple[str, str]]:
    """Each available contender's first workload and its first dtype."""
    registry = load()
    first: dict[str, tuple[str, str]] = {}
    for w in WORKLOADS.values():
        for name in w.contenders:
            if name not in SLOW and w.missing() is None and registry[name].missing("cpu") is None:
                first.setdefault(name, (w.name, w.dtypes[0]))
    return first


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    rows = []
    by_workload: dict[tuple[str, str], list[str]] = {}
    for name, key in runs().items():
        by_workload.setdefault(key, []).append(name)
    for (workload, dtype), names in by_workload.items():
        tmp = tmp_path_factory.mktemp(workload)
        result = harness(tmp, "--workload", workload, "--dtype", dtype, "--contender", ",".join(names))
        rows += result["rows"]
    return rows


def test_every_contender_runs_and_trains_the_network(smoke: list[dict]) -> None:
    assert {r["contender"] for r in smoke} == set(runs())
    for r in smoke:
        w = WORKLOADS[r["workload"]].sized(True)
        assert "error" not in r, r
        assert all(math.isfinite(s) and s > 0 for s in r["seconds"]), r
        if r["workload"] != "dask_faults":
            assert r["shape"] == [[n_out, n_in] for n_in, n_out in zip(w.dims[:-1], w.dims[1:])], r
    registry = load()
    assert all(WORKLOADS[r["workload"]].kind in registry[r["contender"]].kinds for r in smoke)


def test_full_batch_contenders_end_at_the_same_loss(smoke: list[dict]) -> None:
    """From the same weights, the same gradient-descent steps: the losses differ by rounding alone,
    at most the products' length in units of eps, once per step."""
    w = WORKLOADS["course"].sized(True)
    losses = [r["loss"] for r in smoke if r["workload"] == "course" and r["loss"] is not None]
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
