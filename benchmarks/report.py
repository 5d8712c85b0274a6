"""Ratios with their targets, the printed tables, the JSON file and the bar chart."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RatioSpec:
    name: str
    numerator: str
    denominator: str
    device: str
    workloads: tuple[str, ...]
    dtypes: tuple[str, ...]
    target: float | None = None  # ratio must be <= target


ALL = ("course", "wide")
BOTH = ("float64", "float32")

# The ratios with targets; a target is "value <= target".
RATIOS: tuple[RatioSpec, ...] = (
    # CPU
    RatioSpec(
        "portable_dnn / torch eager", "portable_dnn", "torch_eager", "cpu", ("course",), ("float64",), 0.70
    ),
    RatioSpec(
        "portable_dnn / torch eager", "portable_dnn", "torch_eager", "cpu", ("course",), ("float32",), 0.55
    ),
    RatioSpec("portable_dnn / torch eager", "portable_dnn", "torch_eager", "cpu", ("wide",), BOTH, 1.0),
    RatioSpec(
        "portable_dnn / numpy course loop", "portable_dnn", "course_loop", "cpu", ("course",), BOTH, 0.5
    ),
    RatioSpec("portable_dnn / numpy course loop", "portable_dnn", "course_loop", "cpu", ("wide",), BOTH),
    RatioSpec("portable_dnn / GEMM floor", "portable_dnn", "gemm_floor", "cpu", ALL, BOTH),
    # GPU
    RatioSpec(
        "portable_dnn[cupy] / torch eager", "portable_dnn", "torch_eager", "gpu", ("course",), BOTH, 0.70
    ),
    RatioSpec("portable_dnn[cupy] / torch eager", "portable_dnn", "torch_eager", "gpu", ("wide",), BOTH),
    RatioSpec(
        "portable_dnn[torch,graph] / torch eager",
        "portable_dnn[torch,graph]",
        "torch_eager",
        "gpu",
        ("course",),
        BOTH,
        0.20,
    ),
    RatioSpec("portable_dnn[cupy] / cupy course loop", "portable_dnn", "course_loop", "gpu", ALL, BOTH),
    RatioSpec("portable_dnn[cupy] / GEMM floor", "portable_dnn", "gemm_floor", "gpu", ("wide",), BOTH, 1.03),
    RatioSpec("portable_dnn[cupy] / GEMM floor", "portable_dnn", "gemm_floor", "gpu", ("course",), BOTH),
    RatioSpec(
        "portable_dnn[torch] / GEMM floor", "portable_dnn[torch]", "gemm_floor", "gpu", ("wide",), BOTH, 1.03
    ),
    RatioSpec(
        "portable_dnn[tf32] / GEMM floor[tf32]",
        "portable_dnn[tf32]",
        "gemm_floor[tf32]",
        "gpu",
        ("wide",),
        ("float32",),
        1.03,
    ),
    RatioSpec(
        "portable_dnn[torch,tf32] / GEMM floor[tf32]",
        "portable_dnn[torch,tf32]",
        "gemm_floor[tf32]",
        "gpu",
        ("wide",),
        ("float32",),
        1.03,
    ),
    # TF32 >= 4x faster than the strict float32 floor, on the wide workload (the course one is launch-bound).
    RatioSpec(
        "GEMM floor[tf32] / strict floor",
        "gemm_floor[tf32]",
        "gemm_floor",
        "gpu",
        ("wide",),
        ("float32",),
        0.25,
    ),
    RatioSpec(
        "GEMM floor[tf32] / strict floor", "gemm_floor[tf32]", "gemm_floor", "gpu", ("course",), ("float32",)
    ),
)
MEMORY_TARGET = 1.25
NOISY_SPREAD = 1.3  # slowest / fastest repeat above this: the time is marked "~" (noisy)


def compute_ratios(rows: list[dict[str, Any]], memory: list[dict[str, Any]]) -> list[dict[str, Any]]:
    times = {
        (r["device"], r["workload"], r["dtype"], r["contender"]): r["ms_per_iter"]
        for r in rows
        if r.get("ms_per_iter") is not None
    }
    out = []
    for spec in RATIOS:
        for wl in spec.workloads:
            for dt in spec.dtypes:
                num = times.get((spec.device, wl, dt, spec.numerator))
                den = times.get((spec.device, wl, dt, spec.denominator))
                if num is None or den is None:
                    continue
                value = num / den
                out.append(_ratio(spec.name, spec.device, wl, dt, value, spec.target))
    for mem in memory:
        if mem.get("ratio") is not None and mem["contender"].startswith("portable_dnn"):
            name = f"memory {mem['contender']} / budget ({mem['method']})"
            out.append(
                _ratio(name, mem["device"], mem["workload"], mem["dtype"], mem["ratio"], MEMORY_TARGET)
            )
    return out


def _ratio(name: str, device: str, wl: str, dt: str, value: float, target: float | None) -> dict[str, Any]:
    status = None if target is None else ("PASS" if value <= target else "MISS")
    return {
        "name": name,
        "device": device,
        "workload": wl,
        "dtype": dt,
        "value": value,
        "target": target,
        "status": status,
    }


# ------------------------------------------------------------------ printing


def _fmt_ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}"


def format_tables(result: dict[str, Any]) -> str:
    lines: list[str] = []
    rows = result["rows"]
    dtypes = [d for d in ("float64", "float32") if any(r["dtype"] == d for r in rows)]
    for wl in result["workloads"]:
        block = [r for r in rows if r["workload"] == wl["name"] and r["device"] == wl["device"]]
        if not block:
            continue
        dims = "-".join(map(str, wl["dims"]))
        lines.append("")
        lines.append(f"{wl['device']} / {wl['name']}: {dims}, m={wl['m']}, data: {wl['source']}")
        for note in wl.get("notes", []):
            lines.append(f"  NOTE: {note}")
        lines.append(f"  {'ms / iteration':<30}" + "".join(f"{d:>12}" for d in dtypes))
        contenders = list(dict.fromkeys(r["contender"] for r in block))
        for c in contenders:
            cells = []
            for d in dtypes:
                r = next((r for r in block if r["contender"] == c and r["dtype"] == d), None)
                if r is None:
                    cells.append("")
                elif r.get("ms_per_iter") is None:
                    cells.append("error" if r.get("error") else "skipped")
                else:
                    noisy = r.get("spread", 1.0) > NOISY_SPREAD
                    cells.append(_fmt_ms(r["ms_per_iter"]) + ("~" if noisy else " "))
            lines.append(f"  {c:<30}" + "".join(f"{x:>12}" for x in cells))
        for r in block:
            if r.get("error"):
                lines.append(f"  ! {r['contender']} {r['dtype']}: {r['error']}")
    if any(r.get("spread", 1.0) > NOISY_SPREAD for r in rows):
        lines.append("")
        lines.append(f"~ : slowest repeat > {NOISY_SPREAD}x the fastest (other load on the machine?)")
    if result.get("correctness"):
        lines.append("")
        lines.append("correctness: max |portable_dnn - course loop| over parameters after a few iterations")
        for c in result["correctness"]:
            head = f"  {c['device']:<4}{c['workload']:<8}{c['dtype']:<9}{c['contender']:<28}"
            if c.get("max_abs_diff") is None:
                lines.append(head + f"error: {c.get('error', '-')}")
                continue
            exp = f" (expected <= {c['expected_max']:g})" if c.get("expected_max") else ""
            lines.append(head + f"{c['max_abs_diff']:.3g}{exp}  start: {c.get('init')}")
    if result.get("memory"):
        lines.append("")
        lines.append(
            "memory: peak during training vs budget (data + parameters + one set of activations/grads)"
        )
        for m in result["memory"]:
            ratio = f"{m['ratio']:.3f}x" if m.get("ratio") is not None else m.get("error", "-")
            lines.append(
                f"  {m['device']:<4}{m['workload']:<8}{m['dtype']:<9}{m['contender']:<28}"
                f"peak {m.get('peak_bytes', 0) / 2**20:9.2f} MiB  budget {m['budget_bytes'] / 2**20:9.2f} MiB"
                f"  {ratio}"
            )
    if result.get("ratios"):
        lines.append("")
        lines.append(f"  {'ratio':<52}{'wl':<8}{'dtype':<9}{'value':>8}  target")
        for r in result["ratios"]:
            target = f"<= {r['target']:g}  {r['status']}" if r["target"] is not None else ""
            label = f"{r['device']} {r['name']}"
            lines.append(
                f"  {label:<52}{r['workload']:<8}{r['dtype']:<9}{r['value']:>8.3f}  {target}".rstrip()
            )
    return "\n".join(lines)


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        json.dump(_jsonable(result), fh, indent=1, sort_keys=False, allow_nan=False)
        fh.write("\n")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, "item"):
        return _jsonable(obj.item())
    return str(obj)


def write_chart(result: dict[str, Any], path: Path) -> str:
    """A PNG of ms/iteration, one panel per device/workload; returns a message."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no chart"
    rows = [r for r in result["rows"] if r.get("ms_per_iter")]
    panels = list(dict.fromkeys((r["device"], r["workload"]) for r in rows))
    if not panels:
        return "no timings: no chart"
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for ax, (dev, wl) in zip(axes[0], panels, strict=True):
        block = [r for r in rows if r["device"] == dev and r["workload"] == wl]
        contenders = list(dict.fromkeys(r["contender"] for r in block))
        dtypes = list(dict.fromkeys(r["dtype"] for r in block))
        width = 0.8 / max(len(dtypes), 1)
        for j, dt in enumerate(dtypes):
            xs, hs = [], []
            for i, c in enumerate(contenders):
                r = next((r for r in block if r["contender"] == c and r["dtype"] == dt), None)
                if r is not None:
                    xs.append(i + (j - (len(dtypes) - 1) / 2) * width)
                    hs.append(r["ms_per_iter"])
            ax.bar(xs, hs, width=width, label=dt)
        ax.set_xticks(range(len(contenders)))
        ax.set_xticklabels(contenders, rotation=35, ha="right", fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("ms / iteration (log)")
        ax.set_title(f"{dev} / {wl}")
        ax.legend(fontsize=8)
    fig.suptitle(result.get("host_kind", ""))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"chart written to {path}"
