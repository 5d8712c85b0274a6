"""One suite for every backend: ``pytest --backend NAME`` (or PORTABLE_DNN_BACKEND) picks it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

# The test processes (and the subprocesses some tests start) share one GPU: JAX, where it
# runs on one, takes memory as it needs it, not three quarters of the device at its first array.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import hypothesis
import numpy as np
import pytest

import portable_dnn as dnn

# The course's data stays in ../shared; PORTABLE_DNN_CAT_DIR points elsewhere (e.g. on a GPU machine).
CAT_DIR = Path(
    os.environ.get("PORTABLE_DNN_CAT_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "catvnoncat"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        default=os.environ.get("PORTABLE_DNN_BACKEND", "numpy"),
        help="array backend the suite runs on (numpy, array_api_strict, torch, cupy, ...)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "library: a test of one array library's own features; runs wherever it is installed"
    )
    config.addinivalue_line(
        "markers", "default_backend: meets the backend under test as the default one (PORTABLE_DNN_BACKEND)"
    )
    config.addinivalue_line(
        "markers",
        "thin_grid: a grid of cases, a third of which runs where each case compiles or builds a graph",
    )
    # Hypothesis draws a third as many examples where each compiles or builds a graph, as a
    # thin grid runs a third of its cases; a test's own settings leave max_examples to this.
    thin = config.getoption("--backend") in THIN_BACKENDS
    hypothesis.settings.register_profile("portable_dnn", max_examples=7 if thin else 20)
    hypothesis.settings.load_profile("portable_dnn")


def pytest_report_header(config: pytest.Config) -> str:
    return f"portable_dnn backend: {config.getoption('--backend')}"


#: The backend whose session runs the tests that no backend can change.
REFERENCE = "numpy"
#: The fixtures through which a test meets the backend under test.
BACKEND_FIXTURES = {"backend", "xp", "to_backend"}
#: Backends where each case of a grid costs far more than its arithmetic: on Dask every operation
#: builds a task graph computed when read, on JAX every new shape or setting compiles a program.
#: A ``thin_grid`` test runs every third of its cases there; the numpy session runs them all.
THIN_BACKENDS = {"dask", "jax"}


def _meets_the_backend(item: pytest.Item) -> bool:
    if not item.path.is_relative_to(Path(__file__).parent):
        return True  # a docstring's example, which its session runs on purpose
    fixtures = BACKEND_FIXTURES & set(getattr(item, "fixturenames", ()))
    return bool(fixtures or item.get_closest_marker("library") or item.get_closest_marker("default_backend"))


@pytest.fixture(autouse=True)
def _unmarked_tests_read_no_default_backend(request: pytest.FixtureRequest, monkeypatch) -> None:
    """In the reference session, a test said not to meet the backend runs with the default backend
    unset to a name no backend has: one that reads it fails there, naming the marker it lacks."""
    if request.config.getoption("--backend") == REFERENCE and not _meets_the_backend(request.node):
        monkeypatch.setenv(dnn.backend.ENV_VAR, "mark_the_test_default_backend")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside the reference backend's session, leave out the tests that do not meet the backend
    under test: they compute the same in every session (each picks its arrays' library itself,
    NumPy unless it names another), so one session runs them. Kept everywhere: the tests that
    meet it through a fixture (``backend``, ``xp``, ``to_backend``) or as the default backend
    (``@pytest.mark.default_backend``: files load onto it, the command line trains on it), and a
    library's own tests (``@pytest.mark.library``), which run wherever that library is installed.
    The reference session checks that an unmarked test never reads the default backend."""
    name = config.getoption("--backend")
    if name == REFERENCE:
        return
    kept, left = [], []
    position: dict[str, int] = {}
    for item in items:
        thin = name in THIN_BACKENDS and item.get_closest_marker("thin_grid") is not None
        if thin:
            key = f"{item.path}::{getattr(item, 'originalname', item.name)}"
            position[key] = position.get(key, -1) + 1
        (kept if _meets_the_backend(item) and not (thin and position[key] % 3) else left).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> dnn.Backend:
    name = request.config.getoption("--backend")
    try:
        return dnn.get_backend(name)
    except ValueError as exc:
        pytest.exit(f"cannot run the suite on backend {name!r}: {exc}", returncode=4)


@pytest.fixture(scope="session")
def xp(backend: dnn.Backend):
    return backend.xp


@pytest.fixture(scope="session")
def to_backend(backend: dnn.Backend):
    """Move host arrays (or nested tuples/dicts of them) to the backend, keeping dtypes."""

    def move(obj):
        if isinstance(obj, np.ndarray):
            return backend.xp.asarray(obj, device=backend.device)
        if isinstance(obj, tuple):
            return tuple(move(o) for o in obj)
        if isinstance(obj, list):
            return [move(o) for o in obj]
        if isinstance(obj, dict):
            return {k: move(v) for k, v in obj.items()}
        return obj

    return move


@pytest.fixture(scope="session")
def cat_paths() -> tuple[Path, Path]:
    train, test = CAT_DIR / "train_catvnoncat.h5", CAT_DIR / "test_catvnoncat.h5"
    if not (train.exists() and test.exists()):
        pytest.skip(f"course cat data not found in {CAT_DIR} (it lives in ../shared/data/catvnoncat)")
    return train, test


@pytest.fixture
def python_sigint():
    """Ctrl-C raising KeyboardInterrupt, as in an interactive session (CI may start us ignoring SIGINT)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
