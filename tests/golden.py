"""Golden results: what today's library answers for a matrix of public calls, per backend, to the bit.

The cases (tests/golden_cases.py: the course's functions; tests/golden_training.py: ``fit`` one
option at a time, the course's models, the estimators, the command line) each return a dict of
host arrays. ``python -m tests.golden record [--backend NAME ...]`` runs every case twice (refusing
to record one whose two runs differ) and writes ``tests/golden/<backend>.npz`` and
``tests/golden/MACHINE.json``: the machine's fingerprint (CPU model, NumPy and its BLAS with the
core type it picked), each backend's library versions, and each case's group, dtype and arrays.
tests/test_golden.py holds later code to them on a machine of the same fingerprint.

Floating-point results are exact only on one machine: NumPy's last bits differ between
processors (and BLAS builds), so on another fingerprint the comparison is skipped, not loosened.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

import portable_dnn as dnn

from . import golden_training  # noqa: F401  (registers the training cases)
from .golden_cases import CASES, Case, Result, Skip

__all__ = ["CASES", "Case", "Skip", "DIR", "BACKENDS", "machine", "libraries", "run", "tolerance", "compare"]

DIR = Path(__file__).resolve().parent / "golden"
BACKENDS = ("numpy", "array_api_strict", "torch", "jax", "dask")
_LIBRARIES = {
    "numpy": ("numpy",),
    "array_api_strict": ("array_api_strict", "numpy"),
    "torch": ("torch", "numpy"),
    "jax": ("jax", "jaxlib", "numpy"),
    "dask": ("dask", "numpy"),
}
RECORD_AGAIN = "python -m tests.golden record"


# ------------------------------------------------------------ the fingerprint


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _blas() -> list[dict[str, str]]:
    """NumPy's BLAS: library, version and the core type it dispatched to (threadpoolctl), else the build's."""
    try:
        import threadpoolctl
    except ImportError:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return [{"name": str(blas.get("name")), "version": str(blas.get("version"))}]
    found = [
        {
            "name": str(lib["internal_api"]),
            "version": str(lib["version"]),
            "core": str(lib.get("architecture")),
        }
        for lib in threadpoolctl.threadpool_info()
        if lib["user_api"] == "blas" and "numpy" in lib["filepath"]
    ]
    return sorted(found, key=lambda d: sorted(d.items()))


def machine() -> dict[str, Any]:
    """What decides NumPy's last bits here: the CPU, NumPy and its BLAS with the core type it picked."""
    return {"cpu": _cpu(), "arch": platform.machine(), "numpy": np.__version__, "blas": _blas()}


def libraries(backend: str) -> dict[str, str]:
    """The versions of the libraries that compute on ``backend`` (and, for JAX, its 64-bit mode, which
    changes how float32 steps round their Python-number constants)."""
    names = ("array_api_compat", *_LIBRARIES.get(backend, (backend,)))
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    if backend == "jax":
        try:
            dnn.get_backend("jax").check_dtype("float64")
            versions["jax_enable_x64"] = "on"
        except ValueError:
            versions["jax_enable_x64"] = "off"
    return versions


# ------------------------------------------------------------ running and comparing


def run(case: Case, be: dnn.Backend) -> Result:
    """The case's arrays on ``be``, on one BLAS thread; :class:`Skip` where it cannot run there."""
    if case.dtype == "float64":
        try:
            be.check_dtype("float64", case.name)
        except ValueError as exc:
            raise Skip(str(exc)) from None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return case.run(be)
    with threadpool_limits(limits=1):
        return case.run(be)


def tolerance(case: Case, backend: str) -> float:
    """The largest difference allowed, relative to an array's largest magnitude (0: the same values).

    float64 training (fit, the estimators, the command line, the models) is the same bit for bit on
    NumPy and to 1e-15 on the other libraries; the course's functions to 1e-13; float32 cases to
    8 float32 epsilons (a few roundings).
    """
    if case.dtype == "float32":
        return 8 * float(np.finfo(np.float32).eps)
    if case.group == "course":
        return 1e-13
    return 0.0 if backend == "numpy" else 1e-15


def compare(got: Result, want: Result, tol: float) -> list[str]:
    """What differs between ``got`` and the golden ``want`` (names, shapes, dtypes, values), one line each.

    A result the golden one lacks (a later version's new history entry) is not a movement."""
    problems = [f"{k}: missing" for k in sorted(set(want) - set(got))]
    for k in sorted(set(got) & set(want)):
        a, b = got[k], want[k]
        if a.shape != b.shape or a.dtype != b.dtype:
            problems.append(f"{k}: {a.dtype}{list(a.shape)}, golden {b.dtype}{list(b.shape)}")
            continue
        if not np.issubdtype(b.dtype, np.floating):
            if not np.array_equal(a, b):
                problems.append(f"{k}: not the same values")
            continue
        finite = np.isfinite(a) & np.isfinite(b)
        with np.errstate(over="ignore"):
            diff = np.abs(a[finite].astype(np.float64) - b[finite].astype(np.float64))
        largest = float(np.max(diff, initial=0.0))
        if not np.array_equal(a[~finite], b[~finite], equal_nan=True):
            problems.append(f"{k}: NaN or infinite values where the golden result has others")
        elif tol == 0:  # the same bits: the same values, signs of zeros too
            if largest > 0 or not np.array_equal(np.signbit(a), np.signbit(b)):
                problems.append(f"{k}: not the same values (largest difference {largest:.3e})")
        else:
            scale = float(np.max(np.abs(b[finite]), initial=0.0))
            if largest > tol * scale:
                problems.append(
                    f"{k}: largest difference {largest:.3e} > {tol:.1e} x max |golden| {scale:.3e}"
                )
    return problems


# ------------------------------------------------------------ the golden files


def load_record() -> dict[str, Any]:
    path = DIR / "MACHINE.json"
    if not path.exists():
        return {"machine": None, "backends": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def pack(results: dict[str, Result]) -> dict[str, np.ndarray]:
    """Cases' arrays as one byte string (compressed as one, not entry by entry) and its JSON layout."""
    layout = {case: [[k, r[k].dtype.str, list(r[k].shape)] for k in sorted(r)] for case, r in results.items()}
    blob = b"".join(np.ascontiguousarray(r[k]).tobytes() for case, r in results.items() for k in sorted(r))
    return {"data": np.frombuffer(blob, dtype=np.uint8), "layout": np.array(json.dumps(layout))}


def load_arrays(backend: str) -> dict[str, Result]:
    """``{case: {name: array}}`` of ``tests/golden/<backend>.npz``."""
    with np.load(DIR / f"{backend}.npz", allow_pickle=False) as data:
        blob, layout = data["data"].tobytes(), json.loads(str(data["layout"]))
    out: dict[str, Result] = {}
    start = 0
    for case, arrays in layout.items():
        out[case] = {}
        for name, dtype, shape in arrays:
            n = int(np.prod(shape)) * np.dtype(dtype).itemsize
            out[case][name] = np.frombuffer(blob[start : start + n], dtype=dtype).reshape(shape)
            start += n
    return out


def _record_backend(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    be = dnn.get_backend(name)
    cases: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    results: dict[str, Result] = {}
    for case in CASES.values():
        try:
            first = run(case, be)
        except Skip as exc:
            skipped[case.name] = str(exc)
            continue
        second = run(case, be)
        differ = compare(second, first, 0.0)
        if differ:
            raise SystemExit(
                f"{name}: {case.name} is not deterministic, not recorded:\n  " + "\n  ".join(differ)
            )
        assert all(first), f"{case.name}: every array needs a name"
        cases[case.name] = f"{case.group} {case.dtype}"
        results[case.name] = first
    entry = {"libraries": libraries(name), "cases": cases, "skipped": skipped}
    return entry, pack(results)


def record(backends: list[str]) -> None:
    """Record ``backends`` here; backends recorded on another machine are dropped with their files."""
    os.environ.setdefault("JAX_ENABLE_X64", "1")  # before JAX is first imported
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    DIR.mkdir(exist_ok=True)
    saved = load_record()
    here = machine()
    if saved["machine"] != here:
        for old in saved["backends"]:
            (DIR / f"{old}.npz").unlink(missing_ok=True)
        saved = {"machine": here, "backends": {}}
    for name in backends:
        entry, arrays = _record_backend(name)
        np.savez_compressed(DIR / f"{name}.npz", **arrays)
        saved["backends"][name] = entry
        size = (DIR / f"{name}.npz").stat().st_size
        counts = f"{len(entry['cases'])} cases recorded, {len(entry['skipped'])} skipped"
        print(f"{name}: {counts}, {size / 1024:.1f} KB")
        for case, why in entry["skipped"].items():
            print(f"  skipped {case}: {why}")
    saved["backends"] = dict(sorted(saved["backends"].items()))
    (DIR / "MACHINE.json").write_text(json.dumps(saved, indent=1, sort_keys=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.golden", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="run every case twice and write tests/golden/")
    rec.add_argument(
        "--backend", action="append", choices=BACKENDS, help="default: all of " + ", ".join(BACKENDS)
    )
    sub.add_parser("list", help="print the cases")
    args = parser.parse_args(argv)
    if args.command == "list":
        for case in CASES.values():
            print(f"{case.name:32} {case.group:9} {case.dtype}")
        return 0
    record(args.backend or list(BACKENDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
