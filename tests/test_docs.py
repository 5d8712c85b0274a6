"""The documentation keeps up with the code: every public name has its API page.

The names are read from the modules' ``__all__`` without importing them, so this runs
in every session, whatever optional libraries it has.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api" / "index.rst"
MODULES = {
    "portable_dnn": "portable_dnn/__init__.py",
    "portable_dnn.backend": "portable_dnn/backend/__init__.py",
    "portable_dnn.streaming": "portable_dnn/streaming.py",
    "portable_dnn.sklearn": "portable_dnn/sklearn.py",
    "portable_dnn.plotting": "portable_dnn/plotting.py",
    "portable_dnn.course2.initialization": "portable_dnn/course2/initialization.py",
    "portable_dnn.course2.regularization": "portable_dnn/course2/regularization.py",
    "portable_dnn.course2.optimization": "portable_dnn/course2/optimization.py",
    "portable_dnn.course2.gradient_checking": "portable_dnn/course2/gradient_checking.py",
}


def _public_names(path: Path) -> list[str]:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return [ast.literal_eval(e) for e in node.value.elts]  # type: ignore[attr-defined]
    raise AssertionError(f"{path} has no __all__")


def _documented(text: str) -> dict[str, set[str]]:
    """Names listed in autosummary blocks, per current module."""
    names: dict[str, set[str]] = {}
    module = None
    in_block = False
    for line in text.splitlines():
        if m := re.match(r"\.\. (?:currentmodule|automodule|module):: (\S+)", line):
            module, in_block = m.group(1), False
        elif line.startswith(".. autosummary::"):
            in_block = True
        elif in_block and (m := re.match(r"   ([A-Za-z_]\w*)$", line)):
            assert module is not None
            names.setdefault(module, set()).add(m.group(1))
        elif in_block and line and not line.startswith(" "):
            in_block = False
    return names


@pytest.mark.skipif(not API.exists(), reason="the docs/ folder is not in this copy of the project")
@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_public_name_has_an_api_page(module):
    public = set(_public_names(ROOT / MODULES[module]))
    documented = _documented(API.read_text()).get(module, set())
    assert public - documented == set(), f"add these names of {module} to {API.relative_to(ROOT)}"
    assert documented - public == set(), (
        f"{module} no longer exports these: {API.relative_to(ROOT)} lists them"
    )
