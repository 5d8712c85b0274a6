"""A run to continue: the state ``resume`` holds, checked against the network, on the backend."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from ._checks import check_array, check_count, check_finite, is_array, num_layers, shape_of
from .backend import Backend
from .data import host_checked, to_backend
from .optim import Optimizer


def resume_state(
    func: str,
    be: Backend,
    resume: Mapping[str, Any],
    dims: list[int],
    opt: Optimizer,
    dtype: Any,
    epochs: int,
) -> tuple[list[list[Any]], int, int, list[float]]:
    """The engine's state, first epoch, Adam's step count and costs of a run to continue, each checked
    against the network and naming the part of ``resume`` at fault."""
    if not isinstance(resume, Mapping) or "parameters" not in resume:
        raise TypeError(f"{func}: resume must be a dict with 'parameters', 'epoch', 't' and 'costs'")
    params = resume["parameters"]
    L = num_layers(func, params, name="resume['parameters']")
    got = [shape_of(params["W1"])[1]] + [shape_of(params[f"W{l}"])[0] for l in range(1, L + 1)]
    if got != dims:
        raise ValueError(f"{func}: resume['parameters'] have layer sizes {got}, expected layers_dims {dims}")
    epoch = check_count(func, "resume['epoch']", resume.get("epoch"))
    t = check_count(func, "resume['t']", resume.get("t", 0))
    if t > MAX_STEPS:
        shown = t if t < 10**20 else f"an integer of {len(str(t))} digits"
        raise ValueError(f"{func}: resume['t'] counts the optimizer's steps, at most 2**53; got {shown}")
    if epoch > epochs:
        raise ValueError(f"{func}: resume['epoch'] {epoch} is past num_epochs {epochs}")
    costs = _resume_costs(func, resume.get("costs", []), epoch)
    names = opt.slots
    for name in names:
        if not isinstance(resume.get(name), Mapping):
            raise ValueError(f"{func}: resume has no {name!r} for the {opt.name} optimizer")
    state = [_resume_group(func, be, "parameters", params, "", params, dtype)]
    state += [
        _resume_group(func, be, name, resume[name], "d", params, dtype, name in opt.scalar_slots)
        for name in names
    ]
    return state, epoch, t, costs


#: The most optimizer steps a resumed state may count: a float64 counts integers exactly up to it.
MAX_STEPS = 2**53


def _resume_group(
    func: str,
    be: Backend,
    name: str,
    group: Mapping[str, Any],
    prefix: str,
    params: Mapping[str, Any],
    dtype: Any,
    scalar: bool = False,
) -> list[Any]:
    """``resume[name]``'s arrays (keys ``prefix + "W1"``, ...) on ``be`` as ``dtype``, in the engine's
    order, each checked: real, finite and shaped as its parameter in ``params`` (shape () for a
    ``scalar`` slot)."""
    keys = [f"{p}{l}" for l in range(1, num_layers(func, params) + 1) for p in ("W", "b")]
    values = []
    for key in keys:
        label, shape = f"resume[{name!r}][{prefix + key!r}]", () if scalar else shape_of(params[key])
        if prefix + key not in group:
            raise ValueError(f"{func}: resume[{name!r}] has no {prefix + key!r}; it needs one array per "
                             f"parameter: {', '.join(repr(prefix + k) for k in keys)}")  # fmt: skip
        value = host_checked(func, label, group[prefix + key])
        check_array(func, label, value, ndim=None)
        if shape_of(value) != shape:
            raise ValueError(f"{func}: {label} has shape {shape_of(value)}; the parameters need {shape}")
        value = to_backend(be, value, dtype)
        check_finite(func, label, be.xp, value)
        values.append(value)
    return values


def _resume_costs(func: str, costs: Any, epoch: int) -> list[float]:
    """``resume['costs']``: one finite number per epoch done."""
    if isinstance(costs, (str, bytes)) or not isinstance(costs, Sequence) or len(costs) != epoch:
        raise ValueError(f"{func}: resume['costs'] must hold one cost per epoch done ({epoch})")
    for i, cost in enumerate(costs):
        real = isinstance(cost, numbers.Real) or (is_array(cost) and shape_of(cost) == ())
        if isinstance(cost, bool) or not real or not math.isfinite(float(cost)):
            raise ValueError(f"{func}: resume['costs'][{i}] must be a finite number, got {cost!r}")
    return [float(c) for c in costs]
