"""``python -m benchmarks``: every workload's contenders, each run in a fresh process, interleaved.

``--ref GITREV`` also runs the contenders that train with portable_dnn from a
temporary ``git worktree`` of GITREV, beside the current tree's in the same rounds,
and gives each row's ratio new / ref with a verdict against ``--tolerance``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import harness, machine, report
from .contenders import load
from .workloads import REPO, WORKLOADS, select


def _names(text: list[str] | None) -> list[str] | None:
    return [n.strip() for t in text for n in t.split(",") if n.strip()] if text else None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    p.add_argument("--workload", action="append", help=f"comma-separated, of: {', '.join(WORKLOADS)}")
    p.add_argument("--contender", action="append", help="comma-separated (default: each workload's own)")
    p.add_argument("--dtype", action="append", help="comma-separated (default: each workload's own)")
    p.add_argument("--repeats", type=int, help="runs of each contender, interleaved (default 5; --quick: 1)")
    p.add_argument("--quick", action="store_true", help="tiny sizes and one run: checks that all runs")
    p.add_argument("--ref", metavar="GITREV", help="time the library's contenders at GITREV too")
    p.add_argument("--tolerance", type=float, default=0.03, help="new / ref above 1 + this: SLOWER")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--markdown", action="store_true", help="print the tables for BENCHMARKS.md only")
    p.add_argument("--update", type=Path, metavar="FILE", help="replace the measured tables in FILE")
    p.add_argument("--json", type=Path, metavar="FILE", help="write every run's figures here")
    p.add_argument("--list", action="store_true", help="list the workloads and their contenders")
    args = p.parse_args(argv)
    args.workload, args.contender, args.dtype = map(_names, (args.workload, args.contender, args.dtype))
    args.repeats = args.repeats or (1 if args.quick else 5)
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    return args


def plan(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[str]]:
    """The runs of one round, and why the contenders left out were left out."""
    registry = load()
    unknown = sorted(set(args.contender or ()) - set(registry))
    if unknown:
        raise SystemExit(f"unknown contender(s) {unknown}; choose from {', '.join(registry)}")
    jobs, skipped = [], []
    for w in select(args.workload):
        for name in w.contenders:
            if args.contender and name not in args.contender:
                continue
            why = w.missing() or registry[name].missing(args.device)
            if why:
                skipped.append(f"{w.name}: {name} skipped ({why})")
                continue
            trees = ("new", "ref") if args.ref and registry[name].library else ("new",)
            for dtype in (d for d in w.dtypes if not args.dtype or d in args.dtype):
                jobs += [{"workload": w.name, "dtype": dtype, "contender": name, "tree": t} for t in trees]
    return jobs, skipped


@contextlib.contextmanager
def ref_tree(rev: str) -> Iterator[tuple[Path, str]]:
    """A folder whose ``portable_dnn`` is GITREV's (a temporary worktree) and whose ``benchmarks`` is
    this tree's, so that the same contenders time the other commit's package; and GITREV's hash."""
    tmp = Path(tempfile.mkdtemp(prefix="portable-dnn-ref-"))
    tree, path = tmp / "tree", tmp / "path"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(tree), rev], cwd=REPO, check=True)
    try:
        path.mkdir()
        (path / "portable_dnn").symlink_to(tree / "portable_dnn")
        (path / "benchmarks").symlink_to(REPO / "benchmarks")
        yield path, machine.commit(tree)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def execute(args: argparse.Namespace, jobs: list[dict[str, Any]], trees: dict[str, Path]) -> list[dict]:
    """``args.repeats`` rounds of every job, interleaved; a row's new and ref runs swap places each
    round, so that a drift in the machine's speed reaches both alike."""
    runs: list[list[dict[str, Any]]] = [[] for _ in jobs]
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, job in enumerate(jobs):
        groups.setdefault((job["workload"], job["dtype"], job["contender"]), []).append(i)
    for rnd in range(args.repeats):
        for group in groups.values():
            for i in group[:: -1 if rnd % 2 else 1]:
                job = jobs[i]
                if runs[i] and "error" in runs[i][-1]:
                    continue  # failed once: no use repeating
                print(f"[{rnd + 1}/{args.repeats}] {job['workload']} {job['dtype']} {job['contender']} "
                      f"({job['tree']})", file=sys.stderr, flush=True)  # fmt: skip
                spec = {**job, "quick": args.quick, "device": args.device}
                runs[i].append(harness.spawn(spec, trees[job["tree"]]))
    return [_row(job, r) for job, r in zip(jobs, runs, strict=True)]


def _row(job: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    row = {**job, "unit": WORKLOADS[job["workload"]].unit}
    failed = [r for r in runs if "error" in r]
    if failed:
        return {**row, "error": failed[-1]["error"]}
    last = runs[-1]
    return {**row, **harness.summarise([r["seconds"] for r in runs]),
            "shape": last["shape"], "loss": last["loss"], "extra": last["extra"],
            "library": last.get("library")}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        registry = load()
        for w in WORKLOADS.values():
            have = [n if not registry[n].missing(args.device) else f"({n})" for n in w.contenders]
            print(f"{w.name}: {w.description}\n    {', '.join(have)}")
        return 0
    jobs, skipped = plan(args)
    for line in skipped:
        print(line, file=sys.stderr)
    result: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "machine": machine.describe(REPO, args.device),
        "load_before": machine.load_average(),
        "quick": args.quick, "repeats": args.repeats, "tolerance": args.tolerance, "device": args.device,
        "skipped": skipped, "ref": None,
    }  # fmt: skip
    with contextlib.ExitStack() as stack:
        trees = {"new": REPO}
        if args.ref:
            trees["ref"], ref_commit = stack.enter_context(ref_tree(args.ref))
            result["ref"] = {"rev": args.ref, "commit": ref_commit}
        result["rows"] = execute(args, jobs, trees)
    result["load_after"] = machine.load_average()
    blocks = report.markdown(result)
    if not args.markdown:
        m = result["machine"]
        print(f"{m['cpu']} ({m['cores']} cores), commit {m['commit']}, load average "
              f"{result['load_before']} before, {result['load_after']} after")  # fmt: skip
        print("\n".join(skipped), end="\n\n" if skipped else "")
    print("\n\n".join(f"### {name}\n\n{block}" for name, block in blocks.items()))
    if args.update:
        for name in report.update(args.update, blocks):
            print(f"{args.update} has no table for {name}: paste it in by hand", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 1 if any("error" in r for r in result["rows"]) else 0
