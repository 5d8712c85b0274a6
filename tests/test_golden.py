"""Every case of the golden matrix (tests/golden.py) answers what was recorded, on the suite's backend.

The golden bits belong to the machine that recorded them: on one of another fingerprint (CPU,
NumPy and its BLAS core type, the backend's library versions) the cases are skipped, with the
command that records them there.
"""

from __future__ import annotations

import pytest

from . import golden


@pytest.fixture(scope="module")
def recorded(backend):
    """The golden arrays of the suite's backend, or a skip saying why they do not apply here."""
    saved = golden.load_record()
    entry = saved["backends"].get(backend.name)
    if entry is None:
        pytest.skip(
            f"no golden results for backend {backend.name!r}; record them with "
            f"`{golden.RECORD_AGAIN} --backend {backend.name}`"
        )
    here = {"machine": golden.machine(), "libraries": golden.libraries(backend.name)}
    there = {"machine": saved["machine"], "libraries": entry["libraries"]}
    changed = [
        f"{part}.{key}: recorded {there[part].get(key)!r}, here {here[part].get(key)!r}"
        for part in here
        for key in sorted(set(here[part]) | set(there[part]))
        if here[part].get(key) != there[part].get(key)
    ]
    if changed:
        pytest.skip(
            "the golden bits belong to the machine that recorded them, and this one differs ("
            + "; ".join(changed)
            + f"); to hold later code to this machine's results, record them from an unchanged "
            f"checkout with `{golden.RECORD_AGAIN}`"
        )
    return entry, golden.load_arrays(backend.name)


@pytest.mark.parametrize("name", list(golden.CASES))
def test_golden(name, backend, recorded):
    entry, arrays = recorded
    case = golden.CASES[name]
    if name in entry["skipped"]:
        pytest.skip(f"{name} was not recorded on {backend.name}: {entry['skipped'][name]}")
    assert name in entry["cases"], f"{name} has no golden result; record it with `{golden.RECORD_AGAIN}`"
    assert entry["cases"][name] == f"{case.group} {case.dtype}", "the case changed its group or dtype"
    try:
        got = golden.run(case, backend)
    except golden.Skip as exc:
        pytest.skip(str(exc))
    tol = golden.tolerance(case, backend.name)
    problems = golden.compare(got, arrays[name], tol)
    assert not problems, f"{name} on {backend.name} moved from its golden result:\n  " + "\n  ".join(problems)
