"""Test matrix: one ``tests-<backend>`` session per file in backends/, plus lint and typecheck.

``nox`` runs every session this machine can run; ``nox -l`` lists them. A backend
that needs a CUDA device is skipped (not failed) on a machine without one. A
backend's file may set environment variables for its session (``env``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nox
import tomllib

ROOT = Path(__file__).parent
nox.options.reuse_existing_virtualenvs = False
nox.options.error_on_missing_interpreters = False


def _backend_specs() -> list[dict]:
    specs = []
    for path in sorted((ROOT / "backends").glob("*.toml")):
        with path.open("rb") as fh:
            spec = tomllib.load(fh)
        spec.setdefault("name", path.stem)
        specs.append(spec)
    return specs


def _cuda_device_present() -> bool:
    smi = shutil.which("nvidia-smi")
    if smi:
        result = subprocess.run([smi, "-L"], capture_output=True, text=True, check=False)
        return result.returncode == 0 and "GPU" in result.stdout
    return Path("/dev/nvidia0").exists()


def _python(session: nox.Session) -> str:
    # Under --no-venv nox passes through to the interpreter running it.
    return "python" if session.virtualenv.venv_backend != "none" else sys.executable


def _make_test_session(spec: dict) -> None:
    name = spec["name"]

    def tests(session: nox.Session) -> None:
        if spec.get("needs_cuda") and not _cuda_device_present():
            session.skip(f"backend {name!r} needs a CUDA device and this machine has none")
        session.install("-e", ".[test]", *spec.get("install", []))
        args = ["-m", "pytest", "--backend", name]
        if spec.get("coverage"):
            args += ["--cov=portable_dnn", "--cov-report=term-missing", "--cov-fail-under=90"]
        if spec.get("doctests"):
            # The backend-specific modules (cupy, torch.cuda, dask) and the Dask-only
            # streaming module are doctested in their own sessions, not here.
            args += [
                "--doctest-modules",
                "portable_dnn",
                "tests",
                "--ignore-glob=*/backend/_[!_]*.py",  # _cupy.py, _torch.py, _dask.py; not __init__.py
                "--ignore=portable_dnn/streaming.py",
            ]
        elif spec.get("doctest_modules"):
            args += ["--doctest-modules", *spec["doctest_modules"], "tests"]
        env = {"PORTABLE_DNN_BACKEND": name, **spec.get("env", {})}
        session.run(_python(session), *args, *session.posargs, env=env)

    tests.__doc__ = f"Run the test suite on {spec.get('description', name)}."
    nox.session(name=f"tests-{name}")(tests)


for _spec in _backend_specs():
    _make_test_session(_spec)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks (not run by default): ``nox -s bench -- --device cpu|gpu`` or ``-- --quick``."""
    session.install("-e", ".[cli,plot]", "torch==2.13.0")
    session.run(_python(session), "-m", "benchmarks", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    paths = ["portable_dnn", "tests", "benchmarks", "noxfile.py"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over the package."""
    session.install("-e", ".", "mypy>=1.10")
    session.run("mypy", "portable_dnn")
