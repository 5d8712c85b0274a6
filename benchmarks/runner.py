"""``python -m benchmarks``: time portable_dnn's training beside its baselines, in one run."""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import gc
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import time
import traceback
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import contenders as C
from . import course_loop, machine, report
from .workloads import DEFAULT_DATA_DIR, LEARNING_RATE, REPO, Workload, initial_parameters, make_workload
from .workloads import memory_budget_bytes as budget_of

CORRECTNESS_ITERATIONS = 20  # enough for L_layer_model to take its Gram path where it times it
MEMORY_ITERATIONS = 3
INIT_CANDIDATES = (("xavier", 1), ("random", 3), ("random", 1), ("he", 1))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time portable_dnn's training (ms per iteration) against the course's NumPy loop, "
        "PyTorch eager and the GEMM floor.",
    )
    p.add_argument(
        "--device",
        choices=("cpu", "gpu", "all", "auto"),
        default="auto",
        help="auto: gpu when CuPy or PyTorch sees a CUDA device, else cpu; all: both",
    )
    p.add_argument("--workloads", default="course,wide", help="comma-separated: course, wide")
    p.add_argument("--dtypes", default="float64,float32", help="comma-separated: float64, float32")
    p.add_argument(
        "--iterations", type=int, default=None, help="iterations per timed repeat (default per workload)"
    )
    p.add_argument(
        "--repeats", type=int, default=None, help="timed repeats after the warm-up (median reported)"
    )
    p.add_argument("--quick", action="store_true", help="tiny smoke run on small random shapes (seconds)")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder of train_catvnoncat.h5")
    p.add_argument(
        "--out", type=Path, default=None, help="JSON path (default benchmarks/results/<host-kind>.json)"
    )
    p.add_argument("--no-chart", action="store_true", help="do not write the PNG chart")
    args = p.parse_args(argv)
    args.workloads = _split(p, args.workloads, ("course", "wide"), "--workloads")
    args.dtypes = _split(p, args.dtypes, ("float64", "float32"), "--dtypes")
    for name in ("iterations", "repeats"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1")
    return args


def _split(p: argparse.ArgumentParser, text: str, valid: tuple[str, ...], flag: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in valid]
    if bad or not items:
        p.error(f"{flag}: expected a comma-separated subset of {', '.join(valid)}, got {text!r}")
    return items


def _have(mod: str) -> bool:
    return importlib.util.find_spec(mod) is not None


def _cupy_usable() -> bool:
    if not _have("cupy"):
        return False
    try:
        return importlib.import_module("cupy").cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def _torch_cuda_usable() -> bool:
    return _have("torch") and bool(importlib.import_module("torch").cuda.is_available())


def _err(exc: BaseException) -> str:
    text = f"{exc.__class__.__name__}: {exc}"
    return text if len(text) < 400 else text[:400] + "..."


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -------------------------------------------------------------- the run


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rows: list[dict[str, Any]] = []
        self.correctness: list[dict[str, Any]] = []
        self.memory: list[dict[str, Any]] = []
        self.workloads: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.torch_cpu_jobs: list[dict[str, Any]] = []
        self.workload_objs: list[Workload] = []
        self.pd = C.PortableDNN.load()
        if self.pd is None:
            self.notes.append(
                "portable_dnn has no L_layer_model yet: its rows, correctness and memory are skipped"
            )
        self.init = self._default_init()
        self.torch_ok = _have("torch")
        if not self.torch_ok:
            self.notes.append("torch is not installed: no PyTorch rows")

    # ---------------------------------------------------------------- helpers

    def add_row(self, wl: Workload, dtype: str, contender: str, backend: str, fn: Callable[[], dict]) -> None:
        row: dict[str, Any] = {
            "device": wl.device,
            "workload": wl.name,
            "dtype": dtype,
            "contender": contender,
            "backend": backend,
            "ms_per_iter": None,
        }
        _log(f"  {wl.device}/{wl.name}/{dtype}: {contender} ...")
        t0 = time.perf_counter()
        try:
            row.update(fn())
        except Exception as exc:
            row["error"] = _err(exc)
            if os.environ.get("BENCHMARKS_TRACEBACK"):
                traceback.print_exc()
        row["wall_s"] = round(time.perf_counter() - t0, 3)
        if row.get("ms_per_iter") is not None:
            row["gemm_gflops"] = C.gemm_flops(wl.dims, wl.m) / (row["ms_per_iter"] * 1e-3) / 1e9
        self.rows.append(row)
        gc.collect()

    def timed(self, wl: Workload, setup: Callable, run: Callable) -> dict[str, Any]:
        return C.time_contender(setup, run, wl.iterations, wl.repeats, C.make_sync(wl.device))

    # ------------------------------------------------------------ correctness

    def check(
        self,
        wl: Workload,
        dtype: str,
        contender: str,
        kind: str,
        loop_lib: str,
        extra: dict[str, Any],
        params: dict[str, np.ndarray],
    ) -> tuple[str, int] | None:
        """Run portable_dnn and the course loop a few iterations from the same start; record the
        largest parameter difference. Returns the (init, seed) both started from.

        ``params`` (drawn with ``self.init``) are handed to portable_dnn when it takes
        ``initial_parameters``; otherwise it draws its own and the init is found by trying
        the course's ways of drawing them."""
        assert self.pd is not None
        from portable_dnn import to_numpy

        entry: dict[str, Any] = {
            "device": wl.device,
            "workload": wl.name,
            "dtype": dtype,
            "contender": contender,
            "iterations": CORRECTNESS_ITERATIONS,
            "max_abs_diff": None,
        }
        if dtype == "float64" and "matmul_precision" not in extra:
            entry["expected_max"] = 1e-12
        try:
            passes = self.pd.accepts("initial_parameters")
            entry["start"] = "initial_parameters passed" if passes else "drawn by L_layer_model"
            setup, run = self.pd.contender(kind, wl.X, wl.Y, wl.dims, dtype, params, **extra)
            params_pd, _ = run(setup(), CORRECTNESS_ITERATIONS)
            got = {k: to_numpy(v) for k, v in params_pd.items()}
            entry["param_dtype"] = str(got["W1"].dtype)
            if entry["param_dtype"] != dtype:
                entry["note"] = f"portable_dnn returned {entry['param_dtype']} parameters for {dtype} input"
            xp = importlib.import_module(loop_lib)
            tol = 1e-9 if dtype == "float64" else 1e-4
            candidates = [self.init] if passes else list(dict.fromkeys([self.init, *INIT_CANDIDATES]))
            best: tuple[float, tuple[str, int]] | None = None
            for init, seed in candidates:
                p0 = params if (init, seed) == self.init else initial_parameters(wl.dims, init, seed)
                state = (
                    C.to_lib(loop_lib, wl.X, dtype),
                    C.to_lib(loop_lib, wl.Y, dtype),
                    {k: C.to_lib(loop_lib, v, dtype) for k, v in p0.items()},
                )
                ref, _ = course_loop.L_layer_model(xp, *state, LEARNING_RATE, CORRECTNESS_ITERATIONS)
                diff = max(
                    float(np.max(np.abs(got[k].astype(np.float64) - to_numpy(ref[k]).astype(np.float64))))
                    for k in ref
                )
                if best is None or diff < best[0]:
                    best = (diff, (init, seed))
                if diff <= tol:
                    break
            assert best is not None
            entry["max_abs_diff"], entry["init"] = best[0], f"{best[1][0]}, seed {best[1][1]}"
            return best[1]
        except Exception as exc:
            entry["error"] = _err(exc)
            return None
        finally:
            self.correctness.append(entry)
            gc.collect()

    def _default_init(self) -> tuple[str, int]:
        """How portable_dnn's L_layer_model draws its weights by default (the course: xavier, seed 1)."""
        if self.pd is not None:
            init, seed = self.pd.default("init"), self.pd.default("seed")
            if isinstance(init, str) and isinstance(seed, int):
                return (init, seed)
        return ("xavier", 1)

    # ----------------------------------------------------------------- memory
    # Each measure records one entry: peak bytes over the budget of data, parameters
    # and one set of activations and gradients (workloads.memory_budget_bytes).

    def memory_numpy(self, wl: Workload, dtype: str, contender: str, fn: Callable[[Any, Any], Any]) -> None:
        entry, budget = _memory_entry(wl, dtype, contender, "cpu", "tracemalloc")
        gc.collect()
        tracemalloc.start()
        try:
            X = C.host_cast(wl.X, dtype)  # the data counts: it is copied inside the trace
            Y = C.host_cast(wl.Y, dtype)
            fn(X, Y)
            entry["peak_bytes"] = tracemalloc.get_traced_memory()[1]
            entry["ratio"] = entry["peak_bytes"] / budget["total"]
        except Exception as exc:
            entry["error"] = _err(exc)
        finally:
            tracemalloc.stop()
        self.memory.append(entry)

    def memory_cupy(self, wl: Workload, dtype: str, contender: str, fn: Callable[[Any, Any], Any]) -> None:
        cupy = importlib.import_module("cupy")
        entry, budget = _memory_entry(wl, dtype, contender, "gpu", "cupy pool total_bytes")
        pool = cupy.get_default_memory_pool()
        try:
            gc.collect()
            cupy.cuda.Device().synchronize()
            pool.free_all_blocks()
            base = pool.total_bytes()
            X = C.to_lib("cupy", wl.X, dtype)
            Y = C.to_lib("cupy", wl.Y, dtype)
            fn(X, Y)
            cupy.cuda.Device().synchronize()
            entry["peak_bytes"] = pool.total_bytes() - base
            entry["ratio"] = entry["peak_bytes"] / budget["total"]
            del X, Y
        except Exception as exc:
            entry["error"] = _err(exc)
        gc.collect()
        pool.free_all_blocks()
        self.memory.append(entry)

    def memory_torch_cuda(
        self, wl: Workload, dtype: str, contender: str, fn: Callable[[Any, Any], Any]
    ) -> None:
        torch = importlib.import_module("torch")
        entry, budget = _memory_entry(wl, dtype, contender, "gpu", "torch max_memory_allocated")
        try:
            gc.collect()
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            X = C.to_lib("torch", wl.X, dtype, "cuda")
            Y = C.to_lib("torch", wl.Y, dtype, "cuda")
            fn(X, Y)
            torch.cuda.synchronize()
            entry["peak_bytes"] = torch.cuda.max_memory_allocated() - base
            entry["ratio"] = entry["peak_bytes"] / budget["total"]
            del X, Y
        except Exception as exc:
            entry["error"] = _err(exc)
        gc.collect()
        torch.cuda.empty_cache()
        self.memory.append(entry)

    # -------------------------------------------------------------- workloads

    def start_params(self, wl: Workload, found: tuple[str, int] | None, params: Any) -> tuple[Any, Any]:
        """``(init, params)`` every contender starts from (re-drawn when the check found that
        portable_dnn draws differently from ``self.init``)."""
        if found is not None and found != self.init:
            wl.notes.append(f"portable_dnn draws its weights as {found}, not {self.init}")
            return found, initial_parameters(wl.dims, *found)
        return self.init, params

    def pd_memory(self, wl: Workload, dtype: str, kind: str, params: Any, **extra: Any) -> Callable:
        """Training ``MEMORY_ITERATIONS`` iterations, the initial parameters allocated inside."""
        pd = self.pd
        assert pd is not None
        be = pd.backend(kind)

        def fn(X: Any, Y: Any) -> Any:
            if pd.accepts("initial_parameters"):
                extra["initial_parameters"] = pd.move(be, params, dtype)
            return pd.call(X, Y, wl.dims, MEMORY_ITERATIONS, be, dtype, **extra)

        return fn

    def run_cpu(self, wl: Workload, dtype: str) -> None:
        pd = self.pd
        init, params = self.init, initial_parameters(wl.dims, *self.init)
        if pd is not None:
            found = self.check(wl, dtype, "portable_dnn", "numpy", "numpy", {}, params)
            init, params = self.start_params(wl, found, params)
            self.add_row(
                wl,
                dtype,
                "portable_dnn",
                "numpy",
                lambda: self.timed(wl, *pd.contender("numpy", wl.X, wl.Y, wl.dims, dtype, params)),
            )
            self.memory_numpy(wl, dtype, "portable_dnn", self.pd_memory(wl, dtype, "numpy", params))
        self.add_row(
            wl,
            dtype,
            "course_loop",
            "numpy",
            lambda: self.timed(wl, *C.course_loop_contender("numpy", wl.X, wl.Y, params, dtype)),
        )
        self.memory_numpy(
            wl,
            dtype,
            "course_loop",
            lambda X, Y: course_loop.L_layer_model(
                np, X, Y, {k: v.astype(dtype) for k, v in params.items()}, LEARNING_RATE, MEMORY_ITERATIONS
            ),
        )
        self.add_row(
            wl,
            dtype,
            "gemm_floor",
            "numpy",
            lambda: self.timed(wl, *C.gemm_floor_contender("numpy", wl.dims, wl.m, dtype)),
        )
        if self.torch_ok:
            # Timed later, in a child process: PyTorch's OpenMP pool and NumPy's BLAS pool in one
            # process slow each other down (their idle threads spin) on machines with few cores.
            self.torch_cpu_jobs.append({"workload": wl.name, "dtype": dtype, "init": list(init)})

    def run_torch_cpu_jobs(self) -> None:
        jobs, self.torch_cpu_jobs = self.torch_cpu_jobs, []
        if not jobs:
            return
        args = self.args
        spec = {
            "jobs": jobs,
            "quick": args.quick,
            "data_dir": str(args.data_dir),
            "iterations": args.iterations,
            "repeats": args.repeats,
        }
        _log("  cpu: torch_eager rows, in a child process ...")
        try:
            code = "from benchmarks.runner import _torch_cpu_child; _torch_cpu_child()"
            proc = subprocess.run(
                [sys.executable, "-c", code, json.dumps(spec)],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"child exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
            results = json.loads(proc.stdout.strip().splitlines()[-1])
        except Exception as exc:
            results = [{"error": _err(exc)} for _ in jobs]
        for job, res in zip(jobs, results, strict=True):
            wl = next(w for w in self.workload_objs if w.device == "cpu" and w.name == job["workload"])
            self.add_row(
                wl, job["dtype"], "torch_eager", "torch cpu (child process)", lambda r=res: _unwrap(r)
            )

    def run_gpu(self, wl: Workload, dtype: str) -> None:
        pd = self.pd
        has_cupy, has_torch = _cupy_usable(), _torch_cuda_usable()
        loop_lib = "cupy" if has_cupy else "numpy"
        params = initial_parameters(wl.dims, *self.init)
        variants: list[tuple[str, str, dict[str, Any]]] = []
        if pd is not None:
            tf32 = dtype == "float32" and pd.accepts("matmul_precision")
            graph = pd.accepts("cuda_graph")
            if has_cupy:
                variants.append(("portable_dnn", "cupy", {}))
                if tf32:
                    variants.append(("portable_dnn[tf32]", "cupy", {"matmul_precision": "tf32"}))
            if has_torch:
                variants.append(("portable_dnn[torch]", "torch-cuda", {"cuda_graph": False} if graph else {}))
                if graph:
                    variants.append(("portable_dnn[torch,graph]", "torch-cuda", {"cuda_graph": True}))
                if tf32:
                    variants.append(("portable_dnn[torch,tf32]", "torch-cuda", {"matmul_precision": "tf32"}))
            for i, (name, kind, extra) in enumerate(variants):
                with self.precision(extra, has_cupy, has_torch):
                    found = self.check(wl, dtype, name, kind, loop_lib, extra, params)
                if i == 0:
                    _, params = self.start_params(wl, found, params)
        for name, kind, extra in variants:
            assert pd is not None
            backend = "cupy" if kind == "cupy" else "torch cuda"
            if extra:
                backend += " " + ", ".join(f"{k}={v!r}" for k, v in extra.items())
            with self.precision(extra, has_cupy, has_torch):
                self.add_row(
                    wl,
                    dtype,
                    name,
                    backend,
                    lambda k=kind, e=extra: self.timed(
                        wl, *pd.contender(k, wl.X, wl.Y, wl.dims, dtype, params, **e)
                    ),
                )
                mem_fn = self.memory_cupy if kind == "cupy" else self.memory_torch_cuda
                mem_fn(wl, dtype, name, self.pd_memory(wl, dtype, kind, params, **extra))
        # Every baseline below runs with strict float32 matmul, whatever a TF32 run left set.
        with C.strict_matmul(has_cupy, has_torch):
            self.run_gpu_baselines(wl, dtype, params, has_cupy, has_torch)

    @staticmethod
    def precision(extra: dict[str, Any], has_cupy: bool, has_torch: bool) -> Any:
        """Strict matmul around a portable_dnn run unless it asks for TF32 itself."""
        if "matmul_precision" in extra:
            return contextlib.nullcontext()
        return C.strict_matmul(has_cupy, has_torch)

    def run_gpu_baselines(
        self, wl: Workload, dtype: str, params: dict[str, np.ndarray], has_cupy: bool, has_torch: bool
    ) -> None:
        if has_cupy:
            self.add_row(
                wl,
                dtype,
                "course_loop",
                "cupy",
                lambda: self.timed(wl, *C.course_loop_contender("cupy", wl.X, wl.Y, params, dtype)),
            )
        if has_torch:
            self.add_row(
                wl,
                dtype,
                "torch_eager",
                "torch cuda",
                lambda: self.timed(wl, *C.torch_eager_contender(wl.X, wl.Y, params, dtype, "cuda")),
            )
        if has_cupy:
            self.add_row(
                wl,
                dtype,
                "gemm_floor",
                "cupy",
                lambda: self.timed(wl, *C.gemm_floor_contender("cupy", wl.dims, wl.m, dtype)),
            )
            if dtype == "float32":
                self.add_row(wl, dtype, "gemm_floor[tf32]", "cupy tf32", lambda: self.tf32_floor(wl, dtype))

    def tf32_floor(self, wl: Workload, dtype: str) -> dict[str, Any]:
        try:
            with C.cupy_tf32(True):
                out = self.timed(wl, *C.gemm_floor_contender("cupy", wl.dims, wl.m, dtype))
            out["tf32_switch"] = "cupy._core._routines_linalg.set_compute_type"
            return out
        except RuntimeError:
            pass
        # No runtime switch in this CuPy: measure in a fresh interpreter with CUPY_TF32=1.
        spec = {
            "dims": wl.dims,
            "m": wl.m,
            "dtype": dtype,
            "iterations": wl.iterations,
            "repeats": wl.repeats,
        }
        env = dict(os.environ, CUPY_TF32="1")
        code = "from benchmarks.runner import _tf32_floor_child; _tf32_floor_child()"
        proc = subprocess.run(
            [sys.executable, "-c", code, json.dumps(spec)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        out["tf32_switch"] = "CUPY_TF32=1 in a subprocess"
        return out

    # -------------------------------------------------------------------- all

    def devices(self) -> list[str]:
        dev = self.args.device
        gpu = machine.cuda_present()
        if dev == "auto":
            return ["gpu"] if gpu else ["cpu"]
        if dev == "all":
            return ["cpu", "gpu"] if gpu else ["cpu"]
        if dev == "gpu" and not gpu:
            raise SystemExit("--device gpu: neither CuPy nor PyTorch sees a CUDA device")
        return [dev]

    def execute(self) -> dict[str, Any]:
        args = self.args
        devices = self.devices()
        started = time.perf_counter()
        load_before = machine._load_average()
        for device in devices:
            for name in args.workloads:
                wl = make_workload(
                    name,
                    device,
                    quick=args.quick,
                    data_dir=args.data_dir,
                    iterations=args.iterations,
                    repeats=args.repeats,
                )
                self.workloads.append(
                    {
                        "device": device,
                        "name": name,
                        "dims": wl.dims,
                        "m": wl.m,
                        "source": wl.source,
                        "iterations": wl.iterations,
                        "repeats": wl.repeats,
                        "notes": wl.notes,
                    }
                )
                for note in wl.notes:
                    _log(f"NOTE: {note}")
                self.workload_objs.append(wl)
                for dtype in args.dtypes:
                    (self.run_cpu if device == "cpu" else self.run_gpu)(wl, dtype)
            self.run_torch_cpu_jobs()
            self.workload_objs.clear()
            gc.collect()
        desc = machine.describe(with_torch=self.torch_ok)
        desc["load_average_at_start"] = load_before
        kind = "quick" if args.quick else machine.host_kind(desc, devices[-1])
        result = {
            "schema": 1,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "argv": sys.argv[1:],
            "quick": args.quick,
            "host_kind": kind,
            "devices": devices,
            "learning_rate": LEARNING_RATE,
            "timing": "median over repeats of (wall time of N iterations) / N, after a "
            f"{C.WARMUP_ITERATIONS}-iteration warm-up; GPU synchronized before and after",
            "memory_budget": "X, Y; W, b; Z, A; dW, db; dZ, dA for every layer (no dA0)",
            "machine": desc,
            "notes": self.notes,
            "workloads": self.workloads,
            "rows": self.rows,
            "correctness": self.correctness,
            "memory": self.memory,
            "ratios": report.compute_ratios(self.rows, self.memory),
            "total_wall_s": round(time.perf_counter() - started, 2),
        }
        return result


def _tf32_floor_child() -> None:
    spec = json.loads(sys.argv[1])
    setup, run = C.gemm_floor_contender("cupy", spec["dims"], spec["m"], spec["dtype"])
    out = C.time_contender(setup, run, spec["iterations"], spec["repeats"], C.make_sync("gpu"))
    print(json.dumps(out))


def _unwrap(res: dict[str, Any]) -> dict[str, Any]:
    if "error" in res:
        raise RuntimeError(res["error"])
    return res


def _torch_cpu_child() -> None:
    """Time the CPU PyTorch-eager rows in a process of their own; prints one JSON list."""
    spec = json.loads(sys.argv[1])
    out = []
    workloads: dict[str, Workload] = {}
    for job in spec["jobs"]:
        try:
            name = job["workload"]
            if name not in workloads:
                workloads[name] = make_workload(
                    name,
                    "cpu",
                    quick=spec["quick"],
                    data_dir=Path(spec["data_dir"]),
                    iterations=spec["iterations"],
                    repeats=spec["repeats"],
                )
            wl = workloads[name]
            params = initial_parameters(wl.dims, job["init"][0], int(job["init"][1]))
            setup, run = C.torch_eager_contender(wl.X, wl.Y, params, job["dtype"], "cpu")
            res = C.time_contender(setup, run, wl.iterations, wl.repeats, C.make_sync("cpu"))
            res["torch_threads"] = importlib.import_module("torch").get_num_threads()
            out.append(res)
        except Exception as exc:
            out.append({"error": _err(exc)})
    print(json.dumps(out))


def _machine_summary(desc: dict[str, Any]) -> str:
    cpu = desc["cpu"]
    lines = [
        f"CPU: {cpu['model']} ({cpu['usable_cores']} usable / {cpu['logical_cores']} logical"
        f" / {cpu['physical_cores']} physical cores), load average {desc.get('load_average')}",
        "env: "
        + (", ".join(f"{k}={v}" for k, v in desc["env"].items() if v is not None) or "(none of note set)"),
    ]
    blas = desc["blas"]
    for pool in blas.get("threadpools", []):
        lines.append(
            f"threadpool: {pool.get('internal_api')} {pool.get('version')} ({pool.get('user_api')}), "
            f"{pool.get('num_threads')} threads, {pool.get('architecture') or pool.get('threading_layer')}"
        )
    if not blas.get("threadpools"):
        lines.append(f"numpy BLAS: {blas.get('numpy_blas')}")
    lines.append(
        f"numpy {blas['numpy']}, array-api-compat {desc['array_api_compat']}, python {desc['python']}"
    )
    t = desc.get("torch")
    if t:
        gpu = f", {t['gpu']} (CUDA {t.get('cuda_version')})" if t.get("gpu") else ""
        lines.append(f"torch {t['version']}, {t['num_threads']} threads{gpu}")
    c = desc.get("cupy")
    if c and c.get("gpu"):
        lines.append(
            f"cupy {c['version']}: {c['gpu']} (cc {c['compute_capability']}, {c['total_memory_gib']} GiB)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        result = Run(args).execute()
    print(f"portable_dnn benchmarks ({'quick' if args.quick else 'full'}) on {result['host_kind']}")
    print(_machine_summary(result["machine"]))
    for note in result["notes"]:
        print(f"NOTE: {note}")
    print(report.format_tables(result))
    out = args.out or (REPO / "benchmarks" / "results" / f"{result['host_kind']}.json")
    report.write_json(result, out)
    print(f"\nJSON written to {out}")
    if not args.no_chart:
        try:
            print(report.write_chart(result, out.with_suffix(".png")))
        except Exception as exc:  # a chart is a convenience: never lose the JSON over it
            print(f"no chart: {_err(exc)}")
    return 0


def _memory_entry(
    wl: Workload, dtype: str, contender: str, device: str, method: str
) -> tuple[dict[str, Any], dict[str, int]]:
    """A memory row before measuring, and the budget it is measured against."""
    budget = budget_of(wl.dims, wl.m, np.dtype(dtype).itemsize)
    entry = {
        "device": device,
        "workload": wl.name,
        "dtype": dtype,
        "contender": contender,
        "method": method,
        "budget_bytes": budget["total"],
        "budget": budget,
    }
    return entry, budget
