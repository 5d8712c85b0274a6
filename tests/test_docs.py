"""The documentation keeps up with the code: every public name has its API page, and every
code block of the README and the documentation's pages runs after the install line its page
gives (or is marked ``<!-- no-run: why -->``).

The names are read from the modules' ``__all__`` without importing them, so this runs
in every session, whatever optional libraries it has.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shlex
from dataclasses import dataclass
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


# -- every code block of the README and the documentation's pages runs --------------------------

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs").glob("*/*.md"))]
#: ``<!-- no-run: why -->`` on the line before a fence: a block that is not meant to run.
NO_RUN = re.compile(r"<!--\s*no-run:\s*(\S.*?)\s*-->")
RUNNABLE = {"python", "bash", "shell"}
#: What a block uses -> the extra that installs it, and the modules that extra brings.
EXTRAS = {
    "cli": (r"\bh5py\b|\btqdm\b|progress=True|^\s*portable-dnn\b|python -m portable_dnn", ("h5py", "tqdm")),
    "plot": (r"\bmatplotlib\b|portable_dnn\.plotting|--plot\b|--show-mislabeled", ("matplotlib",)),
    "torch": (r"\btorch\b", ("torch",)),
    "jax": (r"\bjax\b", ("jax",)),
    "strict": (r"array_api_strict", ("array_api_strict",)),
    "dask": (r"\bdask\b|\bdistributed\b|portable_dnn\.streaming", ("dask", "distributed")),
    "sklearn": (r"\bsklearn\b|load_dataset\(\)", ("sklearn",)),
    # onnxruntime is not in the extra (the runtime is the user's choice): a page that runs the
    # models names it beside the extra, and its blocks skip without it
    "onnx": (r"\bonnxruntime\b|export_onnx|portable-dnn export", ("ndonnx", "onnx", "onnxruntime")),
    "image": (r"predict_image|--image\b|\bPIL\b", ("PIL",)),
}
#: The extras an extra brings with it (``pip install '.[docs]'``).
INCLUDES = {"docs": {"cli", "plot", "strict", "dask", "sklearn", "image"}}


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    code: str
    no_run: str | None

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line} ({self.lang})"

    def extras(self) -> set[str]:
        return {name for name, (pattern, _) in EXTRAS.items() if re.search(pattern, self.code, re.M)}

    def commands(self) -> list[list[str]]:
        """A shell block's commands: lines joined at ``\\``, comments dropped, split at ``&&``."""
        text = self.code.replace("\\\n", " ")
        words = [shlex.split(line, comments=True) for line in text.splitlines()]
        commands: list[list[str]] = []
        for line in filter(None, words):
            commands.append([])
            for word in line:
                if word == "&&":
                    commands.append([])
                else:
                    commands[-1].append(word)
        return commands


def _blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page; MyST directives (```{name}) are not code."""
    lines, blocks, i = page.read_text().splitlines(), [], 0
    while i < len(lines):
        fence = re.match(r"(`{3,})\s*([\w-]*)\s*$", lines[i])
        directive = re.match(r"`{3,}\{", lines[i])
        if fence or directive:
            ticks = re.match(r"`+", lines[i]).group()  # type: ignore[union-attr]
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == ticks)
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            if fence:
                marked = NO_RUN.search(before)
                code = "\n".join(lines[i + 1 : end]) + "\n"
                blocks.append(Block(page, i + 1, fence.group(2), code, marked and marked.group(1)))
            i = end
        i += 1
    return blocks


def _installed_extras(page: Path) -> set[str]:
    """The extras a page's ``pip install '.[a,b]'`` lines name, with those they include."""
    named = set()
    for line in re.findall(r"pip install .*", page.read_text()):
        for group in re.findall(r"\.\[([\w,-]+)\]", line):
            named |= set(group.split(","))
    for extra in list(named):
        named |= INCLUDES.get(extra, set())
    return named


def _runs(block: Block) -> bool:
    return block.no_run is None


ALL_BLOCKS = [block for page in PAGES for block in _blocks(page)]


def test_the_pages_have_code_blocks():
    assert len(ALL_BLOCKS) > 30 and {b.page.name for b in ALL_BLOCKS} >= {"README.md", "training.md"}


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=str)
def test_every_block_runs_or_says_why_not(block):
    if block.no_run is not None:
        return
    assert block.lang in RUNNABLE, f"{block}: mark it <!-- no-run: why --> or make it python"
    if block.lang != "python":
        for command in block.commands():
            assert command[0] == "portable-dnn" or command[:3] == ["python", "-m", "portable_dnn"], (
                f"{block}: {' '.join(command)!r} is not run by the tests: mark the block <!-- no-run: why -->"
            )


@pytest.mark.parametrize("page", [p for p in PAGES if any(map(_runs, _blocks(p)))], ids=lambda p: p.name)
def test_a_page_installs_what_its_blocks_use(page):
    installed = _installed_extras(page)
    for block in filter(_runs, _blocks(page)):
        assert block.extras() <= installed, f"{block} needs {block.extras() - installed}: name it on the page"


def _missing(extras: set[str]) -> list[str]:
    modules = [m for extra in sorted(extras) for m in EXTRAS[extra][1]]
    return [m for m in modules if importlib.util.find_spec(m) is None]


def _run_shell(block: Block, capsys) -> None:
    from portable_dnn.cli import main

    for command in block.commands():
        argv = command[1:] if command[0] == "portable-dnn" else command[3:]
        try:
            status = main(argv)
        except SystemExit as exc:  # --version, --help: argparse exits
            status = exc.code
        assert status in (0, None), f"{block}: {' '.join(command)!r} exited {status}: {capsys.readouterr()}"


@pytest.mark.parametrize("page", [p for p in PAGES if any(map(_runs, _blocks(p)))], ids=lambda p: p.name)
def test_the_blocks_of_a_page_run_in_order(page, backend, tmp_path, monkeypatch, capsys):
    """A page's blocks run one after the other in one namespace, in a fresh folder, as a reader
    would paste them; a block whose extra is not installed stops the page with the reason."""
    needs = set().union(*(block.extras() for block in filter(_runs, _blocks(page))))
    session = "strict" if backend.name == "array_api_strict" else backend.name
    if backend.name != "numpy" and session not in needs:
        pytest.skip("a page runs in the numpy session, and in the session of a library it names")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__docs__"}
    for block in filter(_runs, _blocks(page)):
        if missing := _missing(block.extras()):
            pytest.skip(f"{block} and the blocks after it need {', '.join(missing)}")
        if block.lang == "python":
            exec(compile(block.code, str(block), "exec"), namespace)
        else:
            _run_shell(block, capsys)


@pytest.mark.skipif(not API.exists(), reason="the docs/ folder is not in this copy of the project")
def test_the_documentation_wraps_long_code_lines():
    """Long code lines wrap at the content column instead of hiding behind a scroll bar."""
    conf = ast.parse((ROOT / "docs" / "conf.py").read_text())
    settings = {
        t.id: ast.literal_eval(node.value)
        for node in conf.body
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(t, ast.Name) and t.id in ("html_static_path", "html_css_files")
    }
    rules = {}
    for static in settings["html_static_path"]:
        for name in settings["html_css_files"]:
            css = re.sub(r"/\*.*?\*/", "", (ROOT / "docs" / static / name).read_text(), flags=re.S)
            for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
                for selector in selectors.split(","):
                    rules[" ".join(selector.split())] = body
    for selector in ("div.highlight pre", "div.cell div.cell_input pre", "div.cell div.cell_output pre"):
        assert re.search(r"white-space:\s*pre-wrap", rules.get(selector, "")), selector
