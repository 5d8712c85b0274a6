"""The timer, the device sync and the subprocess protocol every contender runs under.

Each timed run happens in a fresh process (``python -m benchmarks.harness SPEC``),
so that no library's threads, caches or import state reach another contender; the
process prints one JSON line on stdout. The parent runs the rounds interleaved
(every contender once per round) and summarises them with :func:`summarise`.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import machine

NOISY_SPREAD = 1.3  # slowest / fastest repeat above this: the figure is flagged
CHILD_TIMEOUT_S = 1800


def timed(run: Callable[[], Any], sync: Callable[[], None], warmup: int) -> tuple[float, Any]:
    """Seconds of one call of ``run`` after ``warmup`` untimed ones, the device synchronized around it;
    and what the timed call answered."""
    for _ in range(warmup):
        run()
    sync()
    start = time.perf_counter()
    out = run()
    sync()
    return time.perf_counter() - start, out


def summarise(seconds: list[float]) -> dict[str, Any]:
    """Median and spread (slowest / fastest) of the repeats; ``noisy`` above :data:`NOISY_SPREAD`."""
    spread = max(seconds) / min(seconds) if min(seconds) > 0 else math.inf
    return {
        "median_s": statistics.median(seconds),
        "spread": spread,
        "noisy": spread > NOISY_SPREAD,
        "seconds": seconds,
    }


def device_sync(name: str, device: str) -> Callable[[], None]:
    """The library backend's ``synchronize`` (a no-op on the CPU)."""
    if device == "cpu":
        return lambda: None
    from .contenders import library_backend

    return library_backend(name, device).synchronize


# ------------------------------------------------------------------ child


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """One timed run of one contender on one workload: the JSON the parent reads."""
    from .contenders import load
    from .workloads import WORKLOADS, predictions, training_loss

    workload = WORKLOADS[spec["workload"]].sized(spec["quick"], spec["device"])
    contender = load()[spec["contender"]]
    run = contender.prepare(workload, spec["dtype"], spec["device"])
    seconds, out = timed(run, device_sync(contender.sync, spec["device"]), workload.warmup)
    result: dict[str, Any] = {"seconds": seconds, "shape": None, "loss": out.loss, "extra": out.extra}
    if "portable_dnn" in sys.modules:  # which tree's package it timed
        result["library"] = str(Path(sys.modules["portable_dnn"].__file__ or "").parent)
    if out.params is not None:
        params = [(_host(W), _host(b)) for W, b in out.params]
        result["shape"] = [list(W.shape) for W, _ in params]
        if out.trained and out.loss is None:
            result["loss"] = training_loss(workload, params)
        if out.predictions is not None:  # the shared result: the largest difference from float64's
            expected = predictions(workload, params, spec["dtype"])
            result["loss"] = float(abs(_host(out.predictions) - expected).max())
    return result


def _host(a: Any) -> Any:
    """A NumPy copy of an array of any library (CuPy and PyTorch do not convert implicitly)."""
    import numpy as np

    if hasattr(a, "detach"):
        a = a.detach().cpu()
    elif hasattr(a, "get") and not isinstance(a, np.ndarray):
        a = a.get()
    return np.asarray(a, dtype=np.float64)


def main() -> None:
    spec = json.loads(sys.argv[1])
    try:
        result = child(spec)
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{exc.__class__.__name__}: {exc}"[:500]}
    print(json.dumps(result), flush=True)


def child_env(spec: dict[str, Any], cwd: Path) -> dict[str, str]:
    """The environment :func:`child` runs in: this one, ``cwd`` first on the path, and the workload's
    thread count, set before the child loads NumPy (its BLAS reads it once, at load)."""
    from .workloads import WORKLOADS

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(cwd), env.get("PYTHONPATH")]))
    env.setdefault("JAX_ENABLE_X64", "1")  # the float64 rows on JAX
    if spec["device"] == "cpu":
        env.setdefault("JAX_PLATFORMS", "cpu")
    threads = WORKLOADS[spec["workload"]].threads
    if threads is not None:
        env.update(dict.fromkeys(machine.BLAS_THREADS, str(threads)))
    return env


def spawn(spec: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter in ``cwd`` (whose ``portable_dnn`` it imports)."""
    env = child_env(spec, cwd)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.harness", json.dumps(spec)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT_S} s"}
    lines = proc.stdout.strip().splitlines()
    try:
        return dict(json.loads(lines[-1]))
    except (IndexError, ValueError):
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}"}


if __name__ == "__main__":
    main()
