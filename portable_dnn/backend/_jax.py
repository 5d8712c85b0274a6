"""JAX: the training step compiled by XLA with ``jax.jit``, once per shape and option set.

A JAX array's step is a pure function of the state, the batch and the
hyper-parameters: ``jax.jit`` compiles it on its first call for each batch
shape, and every later call runs the compiled step, on the CPU or on JAX's
GPU or TPU. The compiled step is kept per network, optimizer and dtype, so a
second training run of the same network (another call of ``fit`` or
``L_layer_model``) reuses it. The state stays on the device between steps (its
buffers are donated to the next step) and the cost is read only when the loop
asks. The learning rate, Adam's step count and the batch's size are traced
scalars: a decaying learning rate or a growing step count runs the same
compiled step.

A mini-batch epoch of ``fit`` is one program (:meth:`JitRunner.run_epoch`):
the step scanned over the epoch's batches, gathered on the device from the
host permutation, so an epoch costs one dispatch rather than one per batch.

float64 needs JAX's 64-bit mode, which JAX keeps off by default: turn it on
with ``jax.config.update("jax_enable_x64", True)`` (or ``JAX_ENABLE_X64=1``)
before creating arrays. Without it the library refuses float64 on JAX rather
than let JAX round it to float32.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import numbers
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.special
import numpy as np

from .base import Backend, EpochPlan, Runner, dtype_name
from .ops import Ops

#: Compiled steps kept for later runs (least recently used dropped first).
CACHE_SIZE = 32


def x64_enabled() -> bool:
    """Whether JAX computes in 64 bits here (``jax_enable_x64``, globally or in a ``with`` block)."""
    return bool(jax.dtypes.canonicalize_dtype(np.float64) == np.float64)


def _float_name(dtype: Any, like: Any) -> str | None:
    """The floating dtype training in ``dtype`` on data ``like`` computes in (None if not a float)."""
    if dtype is None:
        own = getattr(like, "dtype", None)
        try:
            name = dtype_name(own) if own is not None else "float64"
        except ValueError:
            return None
        return name if name in ("float32", "float64") else "float64"
    try:
        return dtype_name(dtype)
    except ValueError:
        return None


class JaxOps(Ops):
    """:class:`Ops` with XLA's own ``erf``."""

    def erf(self, x: Any) -> Any:
        return jax.scipy.special.erf(x)


class JaxBackend(Backend):
    """JAX arrays on JAX's default device, with the step compiled by ``jax.jit``."""

    name = "jax"
    namespace = "jax.numpy"
    mutable = False
    # The Gram form keeps buffers between steps outside the state a compiled step returns.
    supports_gram = False
    replays_epochs = True

    def __init__(self, xp: Any, device: Any) -> None:
        super().__init__(xp, device)
        self._ops: dict[str, Ops] = {}

    @property
    def sync_is_cheap(self) -> bool:
        return False

    def check_dtype(self, dtype: Any, func: str = "portable_dnn", like: Any = None) -> None:
        if _float_name(dtype, like) == "float64" and not x64_enabled():
            raise ValueError(
                f"{func}: float64 on JAX needs its 64-bit mode, which is off: call "
                'jax.config.update("jax_enable_x64", True) first (or set JAX_ENABLE_X64=1), '
                "or train in float32 (dtype='float32')"
            )

    def to_host(self, x: Any) -> np.ndarray:
        return np.asarray(jax.device_get(x))

    def ops(self, dtype: Any) -> Ops:
        # One Ops per dtype: a step built from it is equal to the last run's, whose compiled form is kept.
        key = dtype_name(dtype)
        if key not in self._ops:
            self._ops[key] = JaxOps(self.xp, dtype, self.device, inplace=False)
        return self._ops[key]

    def take_columns(self, A: Any, index: np.ndarray) -> Any:
        # int32 indices: int64 ones are float64's twin (refused, or warned about, without 64-bit mode).
        kind = np.int32 if A.shape[-1] <= np.iinfo(np.int32).max else np.int64
        columns = self.xp.asarray(np.asarray(index, dtype=kind), device=self.device)
        return self.xp.take(A, columns, axis=A.ndim - 1, mode="clip")

    def mini_batches(self, arrays: Any, order: np.ndarray, size: int) -> Iterator[tuple[Any, ...]]:
        # One gather for the epoch, then one compiled slice per block width with the offset a
        # traced scalar: a basic slice would compile once per offset and cost more to dispatch.
        gathered = [self.take_columns(A, order) for A in arrays]
        m = len(order)
        return (tuple(_cut(A, k, min(size, m - k)) for A in gathered) for k in range(0, m, size))

    def runner(
        self, step: Any, state: list[list[Any]], same_batch: bool = False, cuda_graph: Any = "auto"
    ) -> Any:
        super().runner(step, state, same_batch, cuda_graph)  # refuses cuda_graph=True
        return JitRunner(step, state)


@functools.partial(jax.jit, static_argnums=2)
def _cut(A: Any, start: Any, width: int) -> Any:
    """Columns ``start .. start + width - 1`` of ``A``."""
    return jax.lax.dynamic_slice_in_dim(A, start, width, axis=1)


_compiled: collections.OrderedDict[Any, Any] = collections.OrderedDict()


def _shareable(step: Any) -> bool:
    """Whether ``step``'s values all live in its (hashable) fields, so an equal step may share its program."""
    try:
        fields = {f.name for f in dataclasses.fields(step)}
        return set(vars(step)) == fields and hash(step) is not None
    except TypeError:
        return False


def compiled(step: Any) -> Any:
    """``jax.jit(step)`` with the state donated, shared by every equal step.

    A step whose values all live in its (hashable) fields is kept and found
    again by equality; one holding arrays of its own besides is compiled for
    itself alone.
    """
    if not _shareable(step):
        return jax.jit(step, donate_argnums=0)
    if step in _compiled:
        _compiled.move_to_end(step)
        return _compiled[step]
    fn = _compiled[step] = jax.jit(step, donate_argnums=0)
    while len(_compiled) > CACHE_SIZE:
        _compiled.popitem(last=False)
    return fn


def _scalar(value: Any) -> Any:
    """A hyper-parameter as a Python scalar: traced with a weak type, so it neither changes
    the arrays' dtype nor, when its value changes, the compiled step."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value


def _epoch(
    step: Any, state: Any, X: Any, Y: Any, W: Any, full: Any, last: Any, masks: Any, lr: Any, t: Any
) -> Any:
    """One epoch as one program: the step scanned over the full batches, then the narrower last one.

    ``W`` is the examples' weights ``(1, m)`` (None: not weighted), gathered with ``Y``;
    ``full`` is ``(n, size)`` column indices (one row a batch), ``last`` the
    last batch's ``(rest,)`` or None; ``masks`` the pair ``(per-layer
    (n, rows, size) bool stacks, per-layer (rows, rest) bools)``. Batches are
    gathered here, on the device. Returns the state, the full batches' costs
    ``(n,)`` and the last batch's cost (None without one).
    """
    dtype = X.dtype
    stacks, rests = masks

    examples = (X, Y) if W is None else (X, Y, W)

    def one(state: Any, index: Any, ms: Any, t: Any) -> Any:
        batch = (*(jnp.take(A, index, axis=1) for A in examples), *(D.astype(dtype) for D in ms))
        return step(state, batch, (lr, t, int(index.shape[0])))

    def body(carry: Any, xs: Any) -> Any:
        state, t = carry
        state, cost = one(state, xs[0], xs[1], t + 1)
        return (state, t + 1), cost

    costs = cost = None
    if full.shape[0]:  # a static shape: no scan where one batch is narrower than the batch size
        (state, t), costs = jax.lax.scan(body, (state, t), (full, stacks))
    if last is not None:
        state, cost = one(state, last, rests, t + 1)
    return state, costs, cost


_compiled_epochs: collections.OrderedDict[Any, Any] = collections.OrderedDict()


def compiled_epoch(step: Any) -> Any:
    """:func:`_epoch` of ``step`` under ``jax.jit`` (state donated), kept like :func:`compiled`."""
    fn = _compiled_epochs.get(step) if _shareable(step) else None
    if fn is None:
        fn = jax.jit(functools.partial(_epoch, step), donate_argnums=0)
        if _shareable(step):
            _compiled_epochs[step] = fn
            while len(_compiled_epochs) > CACHE_SIZE:
                _compiled_epochs.popitem(last=False)
    else:
        _compiled_epochs.move_to_end(step)
    return fn


class JitRunner(Runner):
    """Runs ``step`` compiled; the state's buffers are handed to each next step.

    A mini-batch :class:`~portable_dnn.backend.base.EpochPlan` runs as one XLA
    program (:func:`_epoch`), compiled once per data shape, batch size and
    option set: the host sends the epoch's permutation (int32) and dropout
    masks (bool), the device gathers each batch (its weights too, where the
    examples are weighted) and steps through them all.
    """

    def __init__(self, step: Any, state: list[list[Any]]) -> None:
        # Copies to donate: the arrays the caller handed in (a resumed run's) stay usable.
        super().__init__(step, jax.tree.map(jnp.copy, state))
        self._compiled = compiled(step)
        self._epoch: Any = None

    def __call__(self, batch: Any, hyper: tuple[float, ...]) -> Any:
        self.state, cost = self._compiled(self.state, tuple(batch), tuple(_scalar(h) for h in hyper))
        return cost

    def run_epoch(self, batches: Any, lr: float, t: int) -> tuple[list[tuple[Any, int]], int]:
        if not isinstance(batches, EpochPlan) or not batches.replay or batches.order is None:
            return super().run_epoch(batches, lr, t)  # one batch: one step is the whole program
        plan, size, order = batches, batches.size, batches.order
        m = len(order)
        n, rest = divmod(m, size)
        kind = np.int32 if m <= np.iinfo(np.int32).max else np.int64
        order = np.asarray(order, dtype=kind)
        drawn = [plan.masks(w) for w in plan.widths()] if plan.masks is not None else []
        layers = len(drawn[0]) if drawn else 0
        stacks = [np.stack([d[l] for d in drawn[:n]]) for l in range(layers)] if n else []
        rests = list(drawn[n]) if rest and drawn else []
        full = order[: n * size].reshape(n, size)
        last = order[n * size :] if rest else None
        if self._epoch is None:
            self._epoch = compiled_epoch(self.step)
        self.state, costs, cost = self._epoch(
            self.state, plan.X, plan.Y, plan.weights, full, last, (stacks, rests), _scalar(lr), _scalar(t)
        )
        pending: list[tuple[Any, int]] = [(costs, size)] if n else []
        if rest:
            pending.append((cost, rest))
        return pending, t + n + (1 if rest else 0)

    def fetch(self, values: Any) -> list[Any]:
        # A compiled epoch's costs come as one array: kept whole, in float64, for the loop's mean.
        return [
            float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=np.float64)
            for v in jax.device_get(list(values))
        ]
