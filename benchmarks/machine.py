"""What the numbers were measured on: CPU, cores, load, thread settings, library versions, commits."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

# How many threads the BLAS and OpenMP runtimes start: a workload with ``threads`` sets them in its
# timed processes.
BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Environment variables that change how fast the BLAS libraries run; recorded, never changed here.
THREAD_ENV = (*BLAS_THREADS, "OPENBLAS_CORETYPE", "OMP_WAIT_POLICY", "CUPY_TF32", "NVIDIA_TF32_OVERRIDE",
              "CUDA_VISIBLE_DEVICES")  # fmt: skip
LIBRARIES = ("numpy", "array-api-compat", "torch", "scikit-learn", "jax", "dask", "distributed", "cupy")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load: other work on the machine makes every figure slower."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def versions() -> dict[str, str]:
    """Installed versions, read from the package metadata (nothing is imported)."""
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def commit(tree: Path, rev: str = "HEAD") -> str:
    """``rev``'s short hash in ``tree``, with ``+dirty`` for HEAD when tracked files are changed."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tree, capture_output=True, text=True, check=True).stdout

    try:
        short = git("rev-parse", "--short", rev).strip()
        dirty = rev == "HEAD" and bool(git("status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return short + ("+dirty" if dirty else "")


def gpu_name() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, check=True, timeout=30).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0] if out.strip() else None


def describe(tree: Path, device: str) -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0
    return {
        "cpu": cpu_model(),
        "cores": usable,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "env": {k: v for k in THREAD_ENV if (v := os.environ.get(k)) is not None},
        "versions": versions(),
        "commit": commit(tree),
        "gpu": gpu_name() if device == "gpu" else None,
    }
