"""``portable-dnn info`` (the backends and versions here, or a saved model) and ``portable-dnn export``."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import re

from ..backend import ENV_VAR, available_backends, get_backend


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cmd_export(args: argparse.Namespace) -> int:
    from ..export import export_onnx

    print(f"ONNX model written to {export_onnx(args.model, args.out)}")
    return 0


def _extras() -> dict[str, list[str]] | None:
    """Each distribution portable_dnn requires and the extras that install it (``[]``: always),
    read from the installed distribution's ``Requires-Dist``; None where it is not installed."""
    try:
        requires = importlib.metadata.requires("portable_dnn") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found: dict[str, list[str]] = {}
    for line in requires:
        name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if name is None or name.group(1).lower().replace("_", "-") == "portable-dnn":
            continue  # an extra that names other extras: their requirements are listed themselves
        extra = re.search(r"extra\s*==\s*[\"']([^\"']+)[\"']", line)
        extras = found.setdefault(name.group(1), [])
        if extra and extra.group(1) not in extras:
            extras.append(extra.group(1))
    return found


def cmd_info(args: argparse.Namespace) -> int:
    from .. import __version__

    if args.model is not None:
        from ..trained import summary

        summary(args.model)
        return 0
    auto = get_backend("auto")
    print(f"portable_dnn {__version__} on Python {platform.python_version()} ({platform.platform()})")
    print(f"Backends that can run here: {', '.join(available_backends())}")
    print(f"'auto' picks: {auto.name} on {auto.device}{' (GPU)' if auto.is_gpu else ''}")
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        print(f"{ENV_VAR}={chosen}")
    extras = _extras()
    if extras is None:
        print("Versions (portable_dnn is not installed, so its optional dependencies are unknown):")
        extras = {"numpy": [], "array-api-compat": []}
    else:
        print("Versions (optional dependencies with the extras that install them):")
    for dist, names in extras.items():
        print(f"  {dist}: {_version(dist)}" + (f"  [{', '.join(names)}]" if names else ""))
    return 0
