"""Smoke test of the benchmark runner: ``python -m benchmarks --quick`` runs and writes sane JSON.

Not a timed test: it asserts nothing about speed, only that every contender produced a
positive finite time and that portable_dnn trains like the course's own loop.
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


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "x.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--no-chart", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "ms / iteration" in proc.stdout
    with out.open(encoding="utf-8") as fh:
        return json.load(fh)


def test_rows_have_positive_finite_times(quick_result: dict) -> None:
    rows = quick_result["rows"]
    assert rows
    timed = [r for r in rows if r.get("ms_per_iter") is not None]
    errors = [
        f"{r['workload']}/{r['dtype']}/{r['contender']}: {r.get('error')}" for r in rows if r not in timed
    ]
    assert not errors, errors
    for r in timed:
        assert math.isfinite(r["ms_per_iter"]) and r["ms_per_iter"] > 0, r
        assert all(math.isfinite(t) and t > 0 for t in r["ms_repeats"]), r
    contenders = {r["contender"] for r in timed}
    assert {"portable_dnn", "course_loop", "gemm_floor"} <= contenders


def test_portable_dnn_matches_the_course_loop(quick_result: dict) -> None:
    checks = quick_result["correctness"]
    assert any(c["dtype"] == "float64" for c in checks), quick_result.get("notes")
    for c in checks:
        assert c.get("error") is None, c
        # float64 must agree to rounding; float32 only to its own precision.
        assert c["max_abs_diff"] <= (1e-10 if c["dtype"] == "float64" else 1e-4), c


def test_json_describes_machine_and_ratios(quick_result: dict) -> None:
    machine = quick_result["machine"]
    assert machine["cpu"]["logical_cores"] >= 1
    assert "OPENBLAS_CORETYPE" in machine["env"]
    assert quick_result["ratios"], "no ratio could be computed"
    assert all(math.isfinite(r["value"]) and r["value"] > 0 for r in quick_result["ratios"])
    for m in quick_result["memory"]:
        assert m.get("error") is None, m
        assert m["peak_bytes"] > 0 and m["budget_bytes"] > 0
