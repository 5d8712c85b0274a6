"""The noxfile: a failing stage hides no other stage of its session (tests, coverage data, lint)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

nox = pytest.importorskip("nox")
ROOT = Path(__file__).resolve().parents[1]


class Stopped(Exception):
    pass


class FakeSession:
    """Records the commands a session runs; the ``failing`` ones (by position) fail as nox's do."""

    posargs: list[str] = []

    class virtualenv:
        venv_backend = "none"

    def __init__(self, failing):
        self.failing, self.commands, self.errors = set(failing), [], []

    def install(self, *args, **kwargs):
        pass

    def log(self, *args, **kwargs):
        pass

    def skip(self, reason):
        raise AssertionError(f"skipped: {reason}")

    def run(self, *args, env=None, **kwargs):
        self.commands.append(args)
        if len(self.commands) in self.failing:
            raise nox.command.CommandFailed("Returned code 1")

    def error(self, message):
        self.errors.append(message)
        raise Stopped(message)


@pytest.fixture(scope="module")
def sessions():
    if not (ROOT / "noxfile.py").exists():
        pytest.skip("the noxfile is not in this copy of the project")
    spec = importlib.util.spec_from_file_location("portable_dnn_noxfile", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return nox.registry.get()


@pytest.mark.parametrize("failing", [{1}, {2}, {1, 2}])
def test_every_stage_of_the_dask_session_runs_and_failures_fail_it(sessions, failing):
    session = FakeSession(failing)
    with pytest.raises(Stopped):
        sessions["tests-dask"](session)
    assert len(session.commands) == 2  # the suite untraced, then the Dask tests under coverage
    assert "--cov=portable_dnn" in session.commands[1] and "tests/test_dask.py" in session.commands[1]
    assert session.errors[0].count("Returned code 1") == len(failing)


def test_a_session_whose_stages_pass_passes(sessions):
    session = FakeSession(set())
    sessions["tests-dask"](session)
    sessions["lint"](session)
    assert len(session.commands) == 4 and session.errors == []


def test_lint_runs_the_formatter_check_after_a_failed_ruff_check(sessions):
    session = FakeSession({1})
    with pytest.raises(Stopped):
        sessions["lint"](session)
    assert [c[:2] for c in session.commands] == [("ruff", "check"), ("ruff", "format")]
