"""The package's layers: ``portable_dnn.backend`` depends on nothing above it, and only it
imports array libraries or its own library-specific modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import portable_dnn

PACKAGE = Path(portable_dnn.__file__).parent
ARRAY_LIBRARIES = {"numpy", "cupy", "torch", "jax", "dask", "array_api_strict", "distributed"}
#: The backend modules written for one array library each.
LIBRARY_MODULES = {"_numpy", "_cupy", "_torch", "_jax", "_dask"}
#: Outside the backend, array libraries named on purpose: NumPy is the host format every
#: backend takes and returns; convert.py builds PyTorch modules (an interchange format, not
#: arrays to compute on).
ALLOWED = {"numpy": None, "torch": {"convert.py"}}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path) -> list[str]:
    """The absolute names of the modules ``path`` imports (relative imports resolved)."""
    here = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = here[:-1] if here[-1] != "__init__" else here[:-1]
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def test_the_walk_finds_the_package():
    paths = {p.relative_to(PACKAGE).as_posix() for p in _modules()}
    assert {"backend/__init__.py", "backend/base.py", "engine.py", "batches.py"} <= paths
    assert "portable_dnn.backend._dask.runner.DaskRunner" in _imports(PACKAGE / "backend/_dask/__init__.py")


@pytest.mark.parametrize("path", [p for p in _modules() if "backend" in p.relative_to(PACKAGE).parts[:1]],
                         ids=lambda p: p.relative_to(PACKAGE).as_posix())  # fmt: skip
def test_the_backend_imports_nothing_above_it(path):
    above = [
        n for n in _imports(path) if n.startswith("portable_dnn") and not n.startswith("portable_dnn.backend")
    ]
    assert above == []


@pytest.mark.parametrize("path", [p for p in _modules() if "backend" not in p.relative_to(PACKAGE).parts[:1]],
                         ids=lambda p: p.relative_to(PACKAGE).as_posix())  # fmt: skip
def test_only_the_backend_imports_array_libraries(path):
    name = path.relative_to(PACKAGE).as_posix()
    imported = _imports(path)
    libraries = {n.split(".")[0] for n in imported} & ARRAY_LIBRARIES
    named = {lib for lib in libraries if lib not in ALLOWED or (ALLOWED[lib] and name not in ALLOWED[lib])}
    assert named == set()
    private = [
        n
        for n in imported
        if set(n.split(".")[2:3]) & LIBRARY_MODULES and n.startswith("portable_dnn.backend.")
    ]
    assert private == []
