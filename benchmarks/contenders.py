"""The contenders: portable_dnn, the course's NumPy/CuPy loop, PyTorch eager, the GEMM floor.

Each contender is a ``setup()`` (untimed: move data and initial parameters to the
device) and a ``run(state, n)`` that trains ``n`` iterations. :func:`time_contender`
warms up, then times ``repeats`` runs and reports the median of ``time / n``.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import course_loop
from .workloads import LEARNING_RATE

WARMUP_ITERATIONS = 2


# ------------------------------------------------------------------ timing


def make_sync(device: str) -> Callable[[], None]:
    """A function that waits for every queued GPU kernel (a no-op on the CPU)."""
    if device == "cpu":
        return lambda: None
    syncs = []
    for name in ("cupy", "torch"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        if name == "cupy":
            syncs.append(lambda mod=mod: mod.cuda.Device().synchronize())
        elif mod.cuda.is_available():
            syncs.append(mod.cuda.synchronize)

    def sync() -> None:
        for s in syncs:
            s()

    return sync


def time_contender(
    setup: Callable[[], Any],
    run: Callable[[Any, int], Any],
    iterations: int,
    repeats: int,
    sync: Callable[[], None],
) -> dict[str, Any]:
    state = setup()
    run(state, min(WARMUP_ITERATIONS, iterations))
    sync()
    per_iter = []
    for _ in range(repeats):
        state = setup()
        sync()
        t0 = time.perf_counter()
        run(state, iterations)
        sync()
        per_iter.append((time.perf_counter() - t0) / iterations)
        del state
    return {
        "ms_per_iter": statistics.median(per_iter) * 1e3,
        "ms_repeats": [t * 1e3 for t in per_iter],
        "spread": max(per_iter) / min(per_iter),
        "iterations": iterations,
        "repeats": repeats,
    }


# ------------------------------------------------------------ array helpers


def host_cast(x: np.ndarray, dtype: str) -> np.ndarray:
    # Keep the layout the data comes in (the course's X is Fortran-ordered).
    return x.astype(dtype)


def to_lib(lib: str, x: np.ndarray, dtype: str, device: str = "cpu") -> Any:
    """Host array ``x`` as ``dtype`` in library ``lib`` (numpy, cupy or torch)."""
    x = host_cast(x, dtype)
    if lib == "numpy":
        return x
    if lib == "cupy":
        return importlib.import_module("cupy").asarray(x)
    torch = importlib.import_module("torch")
    return torch.as_tensor(x, device=device)


# ------------------------------------------------------------ course loop


def course_loop_contender(lib: str, X: np.ndarray, Y: np.ndarray, params: dict[str, np.ndarray], dtype: str):
    xp = importlib.import_module(lib)

    def setup() -> Any:
        return (
            to_lib(lib, X, dtype),
            to_lib(lib, Y, dtype),
            {k: to_lib(lib, v, dtype) for k, v in params.items()},
        )

    def run(state: Any, n: int) -> Any:
        Xd, Yd, p = state
        return course_loop.L_layer_model(xp, Xd, Yd, p, LEARNING_RATE, n)

    return setup, run


# ------------------------------------------------------------ PyTorch eager


def torch_eager_contender(
    X: np.ndarray, Y: np.ndarray, params: dict[str, np.ndarray], dtype: str, device: str
):
    torch = importlib.import_module("torch")
    L = len(params) // 2

    def setup() -> Any:
        Xd, Yd = to_lib("torch", X, dtype, device), to_lib("torch", Y, dtype, device)
        Ws = [to_lib("torch", params[f"W{l}"], dtype, device).requires_grad_() for l in range(1, L + 1)]
        bs = [to_lib("torch", params[f"b{l}"], dtype, device).requires_grad_() for l in range(1, L + 1)]
        return Xd, Yd, Ws, bs

    def run(state: Any, n: int) -> Any:
        Xd, Yd, Ws, bs = state
        costs = []
        for i in range(n):
            A = Xd
            for l in range(L - 1):
                A = torch.relu(Ws[l] @ A + bs[l])
            AL = torch.sigmoid(Ws[-1] @ A + bs[-1])
            cost = -torch.mean(Yd * torch.log(AL) + (1 - Yd) * torch.log(1 - AL))
            cost.backward()
            with torch.no_grad():
                for p in (*Ws, *bs):
                    p -= LEARNING_RATE * p.grad
                    p.grad = None
            if i % 100 == 0:
                costs.append(cost.detach())
        return Ws, bs, costs

    return setup, run


# ------------------------------------------------------------ GEMM floor


def _rand(lib: str, shape: tuple[int, int], dtype: str, seed: int) -> Any:
    if lib == "cupy":
        cupy = importlib.import_module("cupy")
        return cupy.random.default_rng(seed).random(shape, dtype=np.dtype(dtype)) - 0.5
    return np.random.default_rng(seed).random(shape, dtype=np.dtype(dtype)) - 0.5


def gemm_floor_contender(lib: str, dims: list[int], m: int, dtype: str):
    """Only the matrix products of one step, with the step's shapes, into preallocated outputs:
    ``Z[l] = W[l] @ A[l-1]`` and ``dW[l] = dZ[l] @ A[l-1].T`` for every layer and
    ``dA[l-1] = W[l].T @ dZ[l]`` for layers 2..L (no dA0)."""
    xp = importlib.import_module(lib)
    L = len(dims) - 1

    def setup() -> Any:
        W = [None] + [_rand(lib, (dims[l], dims[l - 1]), dtype, l) for l in range(1, L + 1)]
        A = [_rand(lib, (dims[l], m), dtype, 100 + l) for l in range(L)]
        dZ = [None] + [_rand(lib, (dims[l], m), dtype, 200 + l) for l in range(1, L + 1)]
        Z = [None] + [xp.empty((dims[l], m), dtype=dtype) for l in range(1, L + 1)]
        dW = [None] + [xp.empty((dims[l], dims[l - 1]), dtype=dtype) for l in range(1, L + 1)]
        dA = [xp.empty((dims[l], m), dtype=dtype) for l in range(L)]
        return W, A, dZ, Z, dW, dA

    def run(state: Any, n: int) -> None:
        W, A, dZ, Z, dW, dA = state
        matmul = xp.matmul
        for _ in range(n):
            for l in range(1, L + 1):
                matmul(W[l], A[l - 1], out=Z[l])
            for l in range(L, 0, -1):
                matmul(dZ[l], A[l - 1].T, out=dW[l])
                if l >= 2:
                    matmul(W[l].T, dZ[l], out=dA[l - 1])

    return setup, run


def gemm_flops(dims: list[int], m: int) -> float:
    L = len(dims) - 1
    fwd = sum(2.0 * dims[l] * dims[l - 1] * m for l in range(1, L + 1))
    dA = sum(2.0 * dims[l] * dims[l - 1] * m for l in range(2, L + 1))
    return 2 * fwd + dA


@contextlib.contextmanager
def cupy_tf32(enabled: bool) -> Iterator[None]:
    """Switch CuPy's float32 matmul to TF32 (or back to strict) at runtime.

    CuPy reads ``CUPY_TF32`` once, at the first float32 matmul; afterwards the
    compute type lives in ``cupy._core._routines_linalg`` and is changed with
    ``set_compute_type(dtype, COMPUTE_TYPE_TF32)``. Raises ``RuntimeError`` when this
    CuPy has no such switch (the runner then measures in a subprocess with CUPY_TF32=1).
    """
    cupy = importlib.import_module("cupy")
    try:
        rl = importlib.import_module("cupy._core._routines_linalg")
        get, set_ = rl.get_compute_type, rl.set_compute_type
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(f"this CuPy has no runtime compute-type switch: {exc}") from None
    tf32 = getattr(rl, "COMPUTE_TYPE_TF32", 7)
    default = getattr(rl, "COMPUTE_TYPE_DEFAULT", 1)
    old = get(cupy.float32)
    set_(cupy.float32, tf32 if enabled else default)
    try:
        yield
    finally:
        set_(cupy.float32, old)


@contextlib.contextmanager
def torch_strict_matmul() -> Iterator[None]:
    """Full float32 matmul precision in PyTorch (no TF32) inside the block."""
    torch = importlib.import_module("torch")
    old = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(old)


@contextlib.contextmanager
def strict_matmul(cupy: bool, torch: bool) -> Iterator[None]:
    """Strict float32 matmul in CuPy and PyTorch inside the block, whatever a TF32 run left set."""
    with contextlib.ExitStack() as stack:
        if cupy:
            with contextlib.suppress(RuntimeError):
                stack.enter_context(cupy_tf32(False))
        if torch:
            stack.enter_context(torch_strict_matmul())
        yield


# ------------------------------------------------------------ portable_dnn


@dataclass
class PortableDNN:
    """portable_dnn's ``L_layer_model``, called with whatever keywords it accepts."""

    fn: Any
    params: dict[str, inspect.Parameter]
    var_kw: bool

    @classmethod
    def load(cls) -> PortableDNN | None:
        import portable_dnn

        fn = getattr(portable_dnn, "L_layer_model", None)
        if fn is None:
            with contextlib.suppress(ImportError):
                fn = importlib.import_module("portable_dnn.training").L_layer_model
        if fn is None:
            return None
        sig = inspect.signature(fn)
        var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
        return cls(fn=fn, params=dict(sig.parameters), var_kw=var_kw)

    def accepts(self, name: str) -> bool:
        return name in self.params

    def default(self, name: str) -> Any:
        p = self.params.get(name)
        return None if p is None or p.default is inspect.Parameter.empty else p.default

    def backend(self, kind: str) -> Any:
        """``numpy``, ``cupy``, ``torch`` (CPU) or ``torch-cuda``, as a portable_dnn Backend."""
        from portable_dnn import get_backend

        if kind == "torch-cuda":
            return get_backend("torch", device="cuda")
        return get_backend(kind)

    def call(self, X: Any, Y: Any, dims: list[int], n: int, backend: Any, dtype: str, **extra: Any) -> Any:
        kwargs: dict[str, Any] = {"learning_rate": LEARNING_RATE, "num_iterations": n, "backend": backend}
        if self.accepts("print_cost"):
            kwargs["print_cost"] = False
        if self.accepts("dtype"):
            kwargs["dtype"] = dtype
        kwargs.update(extra)
        return self.fn(X, Y, list(dims), **kwargs)

    def contender(
        self,
        kind: str,
        X: np.ndarray,
        Y: np.ndarray,
        dims: list[int],
        dtype: str,
        params: dict[str, np.ndarray] | None = None,
        **extra: Any,
    ):
        """``(setup, run)`` for the timing loop. With ``params`` (and an ``L_layer_model`` that
        takes ``initial_parameters``), training starts from them, moved to the device untimed
        like every other contender's; otherwise ``L_layer_model`` draws its own."""
        be = self.backend(kind)
        pass_params = params is not None and self.accepts("initial_parameters")

        def setup() -> Any:
            Xd = be.asarray(host_cast(X, dtype), dtype=dtype)
            Yd = be.asarray(host_cast(Y, dtype), dtype=dtype)
            p0 = self.move(be, params, dtype) if pass_params else None
            return Xd, Yd, p0

        def run(state: Any, n: int) -> Any:
            Xd, Yd, p0 = state
            kw = dict(extra)
            if p0 is not None:
                kw["initial_parameters"] = p0
            return self.call(Xd, Yd, dims, n, be, dtype, **kw)

        return setup, run

    @staticmethod
    def move(be: Any, params: dict[str, np.ndarray] | None, dtype: str) -> dict[str, Any] | None:
        if params is None:
            return None
        return {k: be.asarray(host_cast(v, dtype), dtype=dtype) for k, v in params.items()}
