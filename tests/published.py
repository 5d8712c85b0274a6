"""Comparing results with the course's published outputs, digit for digit."""

import re

import numpy as np

import portable_dnn as dnn

_NUMBER = re.compile(r"-?\d+\.\d*(?:e[-+]?\d+)?|-?\d+")


def assert_printed(actual, printed: str) -> None:
    """Assert ``actual`` rounds to every digit of the course's printed output ``printed``.

    Each printed number with d decimals bounds the value to within half a unit
    of its last digit.
    """
    got = np.asarray(dnn.to_numpy(actual), dtype=np.float64).ravel()
    tokens = _NUMBER.findall(printed)
    assert got.size == len(tokens), f"{got.size} values vs {len(tokens)} printed: {printed}"
    for value, token in zip(got, tokens):
        decimals = len(token.split(".")[1]) if "." in token else 0
        tolerance = 0.5 * 10.0**-decimals + 1e-15
        assert abs(value - float(token)) <= tolerance, (
            f"{value!r} does not print as {token} (printed output: {printed})"
        )
