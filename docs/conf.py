"""Sphinx configuration of portable_dnn's documentation.

Build: ``nox -s docs``, or ``sphinx-build -W --keep-going -b html docs docs/_build/html``
in an environment with ``pip install -e '.[docs]'``. The build needs no network:
nothing is fetched (no intersphinx), and the tutorial notebooks run on this machine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document the checkout, even where an older copy is installed

import portable_dnn  # noqa: E402

# -- project -----------------------------------------------------------------

project = "portable_dnn"
copyright = "portable_dnn contributors"
author = "portable_dnn contributors"
release = portable_dnn.__version__
version = ".".join(release.split(".")[:2])

# -- extensions --------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "jupyter_execute", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# autosummary writes one page per public name into api/generated/ (not committed).
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
add_module_names = False

# numpydoc renders the Parameters/Returns sections; the class pages list their
# members through the autosummary template, not through numpydoc's tables.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# MyST and MyST-NB: the tutorials are executed on every build; an error in a cell
# fails the build.
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = os.environ.get("PORTABLE_DNN_DOCS_EXECUTE", "force")
nb_execution_timeout = 180  # seconds per cell
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
nb_render_markdown_format = "myst"  # tables in the notebooks' Markdown output

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"portable_dnn {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]  # code lines wrap instead of scrolling
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# No left column on the user guide's pages and the tutorials (the header and the previous / next
# links navigate them): code, notebook cells and tables get its width.
html_sidebars = {"*": [], "tutorials/*": [], "api/**": ["sidebar-nav-bs"]}

# -- the command line's help, written at build time ----------------------------


def _write_cli_help() -> None:
    """``portable-dnn --help`` and each command's help, for the command-line page to include."""
    from portable_dnn.cli import build_parser

    out = DOCS / "generated"
    out.mkdir(exist_ok=True)
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal's width
    try:
        parser = build_parser()
        (out / "cli-help.txt").write_text(parser.format_help())
        sub = next(a for a in parser._actions if a.dest == "command")
        for name, command in sub.choices.items():  # type: ignore[union-attr]
            (out / f"cli-{name}-help.txt").write_text(command.format_help())
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


_write_cli_help()


# -- the tables of declared activations and optimizers ----------------------------------


def _declared_tables() -> str:
    """Markdown tables of every declared activation and optimizer, read from the declarations."""
    from portable_dnn.backend.activations import ACTIVATIONS
    from portable_dnn.optim import OPTIMIZERS

    rows = ["| activation | computes | backward reads |", "| --- | --- | --- |"]
    for act in ACTIVATIONS.values():
        rows.append(f"| `{act.name}` | {act.summary} | {'Z and A' if act.needs_input else 'A'} |")
    rows += ["", "| optimizer | what | hyperparameters (default, valid values) | slots |"]
    rows.append("| --- | --- | --- | --- |")
    for name, cls in OPTIMIZERS.items():
        settings = "; ".join(
            f"`{k}` = {f.default!r} ({f.metadata['range']}): {f.metadata['doc']}"
            for k, f in cls.hyperparameters().items()
        )
        slots = ", ".join(f"`{s}`" for s in cls.slots) or "none"
        rows.append(f"| `{name}` ({cls.__name__}) | {cls.summary} | {settings} | {slots} |")
    return "\n".join(rows) + "\n"


(DOCS / "generated").mkdir(exist_ok=True)
(DOCS / "generated" / "declared.md").write_text(_declared_tables())
