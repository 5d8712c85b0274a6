"""Test matrix: one ``tests-<backend>`` session per file in backends/, then lint, typecheck,
the documentation and one coverage figure for the whole package.

``nox`` runs every session this machine can run, in the order below, each even after
an earlier one failed, and exits non-zero if any failed; ``nox -l`` lists them. Within a
session too every stage runs, and the session fails at the end naming the failed ones. A
backend that needs a CUDA device is skipped (not failed) on a machine without one. Each
``tests-*`` session writes its coverage data to ``.coverage.<session>``; the ``coverage``
session, last, combines them and fails under 90%.

``PORTABLE_DNN_TORCH_SPEC`` replaces the torch requirement (default ``torch==2.13.0``),
e.g. ``PORTABLE_DNN_TORCH_SPEC='torch==2.13.0+cpu'`` together with
``PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu`` for PyTorch's CPU-only wheel.
A backend's file may set environment variables for its session (``env``).
"""

# /// script
# dependencies = ["nox", "tomli; python_version < '3.11'"]
# ///

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nox

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

ROOT = Path(__file__).parent
nox.options.reuse_existing_virtualenvs = False
nox.options.error_on_missing_interpreters = False
# uv, where nox finds it (``pip install nox uv``), makes each session's environment in seconds
# from its cache; without it, virtualenv and pip (half a minute a session).
nox.options.default_venv_backend = "uv|virtualenv"

#: pip's settings from the environment that uv reads under its own names: wheel folders, and an
#: extra index such as PyTorch's CPU-only one.
UV_SETTINGS = {"PIP_FIND_LINKS": "UV_FIND_LINKS", "PIP_EXTRA_INDEX_URL": "UV_EXTRA_INDEX_URL"}

#: The torch requirement of the sessions that install PyTorch.
TORCH_SPEC = os.environ.get("PORTABLE_DNN_TORCH_SPEC", "torch==2.13.0")


def _backend_specs() -> list[dict]:
    specs = []
    for path in sorted((ROOT / "backends").glob("*.toml")):
        with path.open("rb") as fh:
            spec = tomllib.load(fh)
        spec.setdefault("name", path.stem)
        specs.append(spec)
    return specs


def _requirement(req: str) -> str:
    """``req``, with the torch requirement replaced by ``TORCH_SPEC``."""
    return TORCH_SPEC if re.match(r"torch\b(?![-_.\w])", req) else req


def _install(session: nox.Session, *args: str) -> None:
    """``session.install``; under uv, with the wheel folders and extra index pip is given in the
    environment, so that both install the same files (a local CPU build of PyTorch among them)."""
    env: dict[str, str | None] = {}
    if session.virtualenv.venv_backend == "uv":
        for pip_name, uv_name in UV_SETTINGS.items():
            if os.environ.get(pip_name) and not os.environ.get(uv_name):
                env[uv_name] = ",".join(os.environ[pip_name].split())
    session.install(*args, env=env)


def _cuda_device_present() -> bool:
    smi = shutil.which("nvidia-smi")
    if smi:
        result = subprocess.run([smi, "-L"], capture_output=True, text=True, check=False)
        return result.returncode == 0 and "GPU" in result.stdout
    return Path("/dev/nvidia0").exists()


def _python(session: nox.Session) -> str:
    # Under --no-venv nox passes through to the interpreter running it.
    return "python" if session.virtualenv.venv_backend != "none" else sys.executable


def _run_stages(session: nox.Session, *stages: tuple[list[str], dict[str, str] | None]) -> None:
    """Run every stage (a command and its environment), each even after an earlier one failed, and then
    fail the session naming those that failed: one failure hides no other test or coverage data."""
    failed = []
    for args, env in stages:
        try:
            session.run(*args, env=env)
        except nox.command.CommandFailed as exc:
            failed.append(f"{' '.join(args[:3])} ... ({exc.reason})")
    if failed:
        session.error("failed: " + "; ".join(failed))


def _make_test_session(spec: dict) -> None:
    name = spec["name"]
    session_name = f"tests-{name}"

    def tests(session: nox.Session) -> None:
        if spec.get("needs_cuda") and not _cuda_device_present():
            session.skip(f"backend {name!r} needs a CUDA device and this machine has none")
        _install(session, "-e", ".[test]", *map(_requirement, spec.get("install", [])))
        # pytest-xdist: one test process per core ("auto"), or the backend file's ``workers``;
        # idle processes take queued tests from busy ones (worksteal), as test times vary 1000x.
        workers = str(spec.get("workers", "auto"))
        common = ["-m", "pytest", "--backend", name, "-n", workers, "--dist", "worksteal"]
        # Coverage data of this session only; the coverage session combines them all.
        cov = ["--cov=portable_dnn", "--cov-report="]
        env = {
            # One BLAS / PyTorch thread per test process: the processes already fill the cores.
            **({"OMP_NUM_THREADS": "1"} if workers != "0" else {}),
            "PORTABLE_DNN_BACKEND": name,
            "COVERAGE_FILE": str(ROOT / f".coverage.{session_name}"),
            **spec.get("env", {}),
        }
        doctest: list[str] = []
        if spec.get("doctests"):
            # The backend-specific modules (cupy, torch.cuda, dask) and the Dask-only
            # streaming module are doctested in their own sessions, not here.
            doctest = [
                "--doctest-modules",
                "portable_dnn",
                "--ignore-glob=*/backend/_[!_]*.py",  # _cupy.py, _torch.py, ...; not __init__.py
                "--ignore=portable_dnn/backend/_dask",
                "--ignore=portable_dnn/streaming.py",
            ]
        elif spec.get("doctest_modules"):
            doctest = ["--doctest-modules", *spec["doctest_modules"]]
        python = _python(session)
        measured = spec.get("coverage_tests")
        if measured and not session.posargs:
            # Tracing costs a slow backend half its time again. Its own tests are measured;
            # the rest of the suite, which the numpy session measures, runs untraced here.
            _run_stages(
                session,
                ([python, *common, "tests", *(f"--ignore={path}" for path in measured)], env),
                ([python, *common, *cov, *doctest, *measured], env),
            )
        else:
            paths = ["tests"] if doctest else []  # beside doctest paths; otherwise pytest's testpaths
            session.run(python, *common, *cov, *doctest, *paths, *session.posargs, env=env)

    tests.__doc__ = f"Run the test suite on {spec.get('description', name)}."
    nox.session(name=session_name)(tests)


for _spec in _backend_specs():
    _make_test_session(_spec)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks (not run by default): ``nox -s bench -- --device cpu|gpu`` or ``-- --quick``."""
    _install(session, "-e", ".[cli,plot]", TORCH_SPEC)
    session.run(_python(session), "-m", "benchmarks", *session.posargs)


#: The quick subset the smoke session runs.
SMOKE_TESTS = [
    "tests/test_backend.py",
    "tests/test_course_outputs.py",
    "tests/test_errors.py",
    "tests/test_training.py",
    "tests/test_serialization.py",
    "tests/test_plotting.py",
    "tests/test_docs.py",
]


@nox.session(default=False)
def smoke(session: nox.Session) -> None:
    """A quick part of the suite on NumPy, on the Python running nox: checks an install (CI: Python 3.10)."""
    _install(session, "-e", ".[test]")
    session.run(
        _python(session),
        "-m",
        "pytest",
        "--backend",
        "numpy",
        *SMOKE_TESTS,
        *session.posargs,
        env={"PORTABLE_DNN_BACKEND": "numpy"},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    _install(session, "ruff>=0.6")
    paths = ["portable_dnn", "tests", "benchmarks", "docs", "noxfile.py"]
    _run_stages(session, (["ruff", "check", *paths], None), (["ruff", "format", "--check", *paths], None))


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over the package."""
    _install(session, "-e", ".", "mypy>=1.10")
    session.run("mypy", "portable_dnn")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML documentation into docs/_build/html, warnings as errors; the tutorials run here."""
    _install(session, "-e", ".[docs]", TORCH_SPEC)
    session.run(
        "sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html", *session.posargs
    )


@nox.session
def coverage(session: nox.Session) -> None:
    """Combine the tests-* sessions' coverage data and report one figure (fails under 90%)."""
    _install(session, "coverage[toml]>=7.4")
    data = sorted(ROOT.glob(".coverage.tests-*"))
    if not data:
        session.error("no coverage data: run the tests-* sessions first (plain `nox` runs them before this)")
    session.log("combining " + ", ".join(p.name for p in data))
    env = {"COVERAGE_FILE": str(ROOT / ".coverage")}
    session.run("coverage", "combine", "--keep", *map(str, data), env=env)
    session.run("coverage", "report", "--fail-under=90", env=env)


if __name__ == "__main__":  # `pipx run noxfile.py` / `uv run noxfile.py`: the script metadata above
    nox.main()
