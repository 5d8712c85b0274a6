"""The notebooks' ``model`` report: the recorded costs printed as their loops print them."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def print_costs(
    costs: Sequence[float], every: int, unit: str, spec: str = "", rate: Callable[[int], float] | None = None
) -> None:
    """``Cost after <unit> i: <cost>`` for ``i = 0, every, 2 every, ...``, the cost formatted with
    ``spec`` (``""``: as ``print`` shows it); with ``rate``, then ``learning rate after <unit> i:``.

    >>> print_costs([0.5, 0.25, 0.125], 2, "epoch", "f", rate=lambda i: 1 / (1 + i))
    Cost after epoch 0: 0.500000
    learning rate after epoch 0: 1.000000
    Cost after epoch 2: 0.125000
    learning rate after epoch 2: 0.333333
    """
    for i in range(0, len(costs), every):
        print(f"Cost after {unit} {i}: {costs[i]:{spec}}")
        if rate is not None:
            print(f"learning rate after {unit} {i}: {rate(i):f}")
