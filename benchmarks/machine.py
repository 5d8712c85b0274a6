"""What the numbers were measured on: CPU, BLAS, thread counts, library versions, GPU."""

from __future__ import annotations

import importlib
import importlib.util
import os
import platform
import re
import sys
from typing import Any

# Environment variables that change how fast the BLAS libraries run; recorded, never changed.
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OMP_WAIT_POLICY",
    "CUPY_TF32",
    "NVIDIA_TF32_OVERRIDE",
    "CUDA_VISIBLE_DEVICES",
    "PORTABLE_DNN_BACKEND",
)


def cpu_description() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    physical: set[tuple[str, str]] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        text = ""
    for block in text.split("\n\n"):
        fields = dict(
            (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in block.splitlines())
        )
        if "model name" in fields:
            model = fields["model name"]
        if "core id" in fields:
            physical.add((fields.get("physical id", "0"), fields["core id"]))
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {
        "model": model,
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "physical_cores": len(physical) or None,
    }


def blas_description() -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {"numpy": np.__version__}
    if importlib.util.find_spec("threadpoolctl") is not None:
        import threadpoolctl

        pools = threadpoolctl.threadpool_info()
        keep = ("user_api", "internal_api", "version", "num_threads", "threading_layer", "architecture")
        out["threadpools"] = [{k: p.get(k) for k in keep} for p in pools]
    try:
        config = np.show_config(mode="dicts")
        deps = config.get("Build Dependencies", {})
        out["numpy_blas"] = deps.get("blas")
        out["numpy_lapack"] = deps.get("lapack")
    except Exception as exc:  # older numpy: no mode="dicts"
        out["numpy_blas"] = f"unavailable ({exc.__class__.__name__})"
    return out


def torch_description() -> dict[str, Any] | None:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    out: dict[str, Any] = {
        "version": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        "cuda_available": bool(torch.cuda.is_available()),
    }
    if out["cuda_available"]:
        out["cuda_version"] = torch.version.cuda
        out["gpu"] = torch.cuda.get_device_name(0)
        out["cudnn"] = torch.backends.cudnn.version()
    return out


def cupy_description() -> dict[str, Any] | None:
    if importlib.util.find_spec("cupy") is None:
        return None
    try:
        cupy = importlib.import_module("cupy")
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return {"error": f"{exc.__class__.__name__}: {exc}"}
    out: dict[str, Any] = {"version": cupy.__version__, "device_count": n}
    if n:
        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"]
        out["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
        out["compute_capability"] = f"{props['major']}.{props['minor']}"
        out["total_memory_gib"] = round(props["totalGlobalMem"] / 2**30, 1)
        out["cuda_runtime"] = cupy.cuda.runtime.runtimeGetVersion()
        out["cuda_driver"] = cupy.cuda.runtime.driverGetVersion()
    return out


def cuda_present() -> bool:
    """True when CuPy or PyTorch sees a CUDA device."""
    if importlib.util.find_spec("cupy") is not None:
        try:
            cupy = importlib.import_module("cupy")
            if cupy.cuda.runtime.getDeviceCount() > 0:
                return True
        except Exception:
            pass
    if importlib.util.find_spec("torch") is not None:
        try:
            torch = importlib.import_module("torch")
            return bool(torch.cuda.is_available())
        except Exception:
            return False
    return False


def describe(with_torch: bool = True) -> dict[str, Any]:
    import array_api_compat

    import portable_dnn

    desc: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_description(),
        "env": {k: os.environ.get(k) for k in THREAD_ENV},
        "load_average": _load_average(),
        "blas": blas_description(),
        "array_api_compat": array_api_compat.__version__,
        "portable_dnn": getattr(portable_dnn, "__version__", None),
        "torch": torch_description() if with_torch else None,
        "cupy": cupy_description(),
    }
    return desc


def _load_average() -> list[float] | None:
    """1, 5 and 15-minute load: other work on the machine makes every number here slower."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _slug(text: str) -> str:
    text = re.sub(r"\((r|tm)\)|cpu @.*|@.*", "", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:40] or "unknown"


def host_kind(desc: dict[str, Any], device: str) -> str:
    """A file name for this machine: ``gpu-nvidia-h100-80gb-hbm3`` or ``cpu-2c-intel-xeon-...``."""
    if device != "cpu":
        for key in ("cupy", "torch"):
            lib = desc.get(key) or {}
            if lib.get("gpu"):
                return "gpu-" + _slug(lib["gpu"])
        return "gpu-unknown"
    cpu = desc["cpu"]
    return f"cpu-{cpu.get('usable_cores')}c-{_slug(cpu.get('model') or 'unknown')}"
