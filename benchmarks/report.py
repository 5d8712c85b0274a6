"""One table per workload, as Markdown: the figures, their spread, the ratios, ``--ref``'s verdicts,
and the workload's targets (a ratio of two contenders and the most it may be) met or missed.

Each workload's table sits between ``<!-- benchmarks:NAME -->`` and
``<!-- /benchmarks:NAME -->``, so that ``--update FILE`` can replace the tables it
measured in BENCHMARKS.md and leave the others as they are.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .workloads import WORKLOADS, Workload, data_note

NOISY_MARK = "~"


def _figure(row: dict[str, Any] | None, w: Workload) -> str:
    if row is None:
        return ""
    if row.get("error"):
        return "error"
    return f"{row['median_s'] / w.per_step:.4g}" + (NOISY_MARK if row["noisy"] else "")


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    if not a or not b or a.get("error") or b.get("error"):
        return None
    return float(a["median_s"] / b["median_s"])


def verdict(ratio: float | None, tolerance: float) -> str:
    """``ok`` within ``tolerance`` of the reference, else ``faster`` or ``SLOWER``."""
    if ratio is None:
        return ""
    if ratio > 1 + tolerance:
        return "SLOWER"
    return "faster" if ratio < 1 - tolerance else "ok"


def _notes(row: dict[str, Any]) -> str:
    if row.get("error"):
        return str(row["error"]).replace("|", "/")[:120]
    extra = {k: v for k, v in row.get("extra", {}).items() if not isinstance(v, (list, dict))}
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in extra.items())


def table(w: Workload, rows: list[dict[str, Any]], tolerance: float, ref: bool) -> list[str]:
    """The Markdown table of one workload's rows."""
    index = {(r["dtype"], r["contender"], r["tree"]): r for r in rows}
    head = ["contender", "dtype", w.unit, "spread"]
    if w.baseline:
        head.append(f"/ {w.baseline}")
    head += [w.shared, "notes"]
    if ref:
        head += [f"ref {w.unit}", "new / ref", "verdict"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if r["tree"] != "new":
            continue
        key = (r["dtype"], r["contender"])
        cells = [r["contender"], r["dtype"], _figure(r, w), "" if r.get("error") else f"{r['spread']:.2f}"]
        if w.baseline:
            ratio = _ratio(r, index.get((*key[:1], w.baseline, "new")))
            cells.append("" if ratio is None else f"{ratio:.3f}")
        cells += ["" if r.get("loss") is None else f"{r['loss']:.6g}", _notes(r)]
        if ref:
            other = index.get((*key, "ref"))
            ratio = _ratio(r, other)
            noisy = " (noisy)" if ratio is not None and (r["noisy"] or other["noisy"]) else ""  # type: ignore[index]
            cells += [
                _figure(other, w),
                "" if ratio is None else f"{ratio:.3f}",
                verdict(ratio, tolerance) + noisy,
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def targets(w: Workload, rows: list[dict[str, Any]]) -> list[str]:
    """One line per declared target and dtype measured: the ratio, the most it may be, met or not."""
    index = {(r["dtype"], r["contender"]): r for r in rows if r["tree"] == "new"}
    lines = []
    for contender, baseline, most in w.targets:
        for dtype in w.dtypes:
            ratio = _ratio(index.get((dtype, contender)), index.get((dtype, baseline)))
            if ratio is not None:
                met = "met" if ratio <= most else "MISSED"
                lines.append(f"- {contender} / {baseline}, {dtype}: {ratio:.3f} (target <= {most}): {met}")
    return lines


def header(result: dict[str, Any], w: Workload) -> str:
    m = result["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    ref = result.get("ref")
    where = f"{m['cpu']}, {m['cores']} cores" + (f", {m['gpu']}" if m.get("gpu") else "")
    n = result["repeats"]
    return "\n".join(
        [
            f"{w.description}." + ("" if result["quick"] else data_note(w)),
            f"Measured {result['date']} at commit {m['commit']}"
            + (f" beside {ref['rev']} ({ref['commit']})" if ref else "")
            + f" on {where}; load average {result['load_before']} before, {result['load_after']} after.",
            f"python {m['python']}, {versions}.",
            f"Median of {n} run{'s' if n > 1 else ''}, each in a fresh process"
            + (" (quick sizes)" if result["quick"] else "")
            + f"; {NOISY_MARK}: the slowest run took more than 1.3x the fastest.",
        ]
    )


def markdown(result: dict[str, Any]) -> dict[str, str]:
    """Each measured workload's block: provenance and table, between its markers."""
    blocks = {}
    for name in dict.fromkeys(r["workload"] for r in result["rows"]):
        w = WORKLOADS[name]
        rows = [r for r in result["rows"] if r["workload"] == name]
        lines = [f"<!-- benchmarks:{name} -->", header(result, w), ""]
        lines += table(w, rows, result["tolerance"], bool(result.get("ref")))
        met = targets(w, rows)
        lines += ["", "Targets:", "", *met] if met else []
        blocks[name] = "\n".join([*lines, f"<!-- /benchmarks:{name} -->"])
    return blocks


def update(path: Path, blocks: dict[str, str]) -> list[str]:
    """Replace the blocks of ``path`` measured now; answers the names that had no block there."""
    text = path.read_text(encoding="utf-8")
    missing = []
    for name, block in blocks.items():
        key = re.escape(name)
        pattern = re.compile(rf"<!-- benchmarks:{key} -->.*?<!-- /benchmarks:{key} -->", re.S)
        if pattern.search(text):
            text = pattern.sub(block.replace("\\", "\\\\"), text)
        else:
            missing.append(name)
    path.write_text(text, encoding="utf-8")
    return missing
