"""Every workload the benchmarks time, declared once: network, data, optimizer, what one timed run is.

A workload's ``kind`` says which code path the contenders take: ``full_batch``
(gradient descent on all examples: ``L_layer_model``), ``minibatch`` (one epoch of
``fit``), ``regression`` (one epoch of ``DNNRegressor.partial_fit``), ``dask_ooc``
and ``dask_faults`` (training on a loopback Dask cluster), ``inference`` (predicting every
example once with the shared initial weights, on one thread). ``--quick`` swaps in the
``quick`` sizes, so that every contender runs in seconds.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data" / "catvnoncat"


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    kind: str
    dims: tuple[int, ...]
    m: int
    contenders: tuple[str, ...]
    dtypes: tuple[str, ...] = ("float64",)
    data: str = "random"  # random | catvnoncat | friedman | zarr | embedded
    output: str = "sigmoid"  # sigmoid | softmax | identity
    optimizer: str = "gd"  # gd | adam
    learning_rate: float = 0.0075
    batch: int | None = None  # None: full batch
    init: str = "xavier"  # how the shared initial weights are drawn
    steps: int = 1  # epochs in one timed run (full batch: iterations)
    warmup: int = 1  # untimed runs before the timed one
    unit: str = "ms / iteration"
    baseline: str | None = "torch_eager"  # the contender the ratio column divides by
    targets: tuple[tuple[str, str, float], ...] = ()  # (contender, baseline, most): ratio <= most
    shared: str = "loss"  # the result every contender must agree on: its column's name
    threads: int | None = None  # BLAS and OpenMP threads of the timed process (None: the machine's)
    needs: tuple[str, ...] = ()  # modules its data needs
    params: dict[str, Any] = field(default_factory=dict)  # kind-specific settings
    quick: dict[str, Any] = field(default_factory=dict)  # replacements for --quick
    gpu: dict[str, Any] = field(default_factory=dict)  # replacements for --device gpu

    def sized(self, quick: bool, device: str = "cpu") -> Workload:
        """The workload at the size it runs: ``quick``'s, else the device's."""
        if quick:
            return dataclasses.replace(self, **self.quick, quick={}, gpu={})
        return dataclasses.replace(self, **self.gpu, quick={}, gpu={}) if device == "gpu" else self

    def missing(self) -> str | None:
        """Why this workload cannot run here, or None."""
        absent = [m for m in self.needs if importlib.util.find_spec(m) is None]
        return f"{', '.join(absent)} not installed" if absent else None

    @property
    def per_step(self) -> float:
        """What a timed run's seconds are divided by to give the unit (ms per iteration or epoch)."""
        return self.steps / 1e3 if self.unit.startswith("ms") else 1.0


_FULL = ("portable_dnn", "portable_dnn[torch]", "course_loop", "gemm_floor", "torch_eager")
_ADAM_EPOCH: dict[str, Any] = {"optimizer": "adam", "init": "he", "unit": "ms / epoch"}  # one timed epoch
_QUICK_COURSE = {"dims": (192, 20, 7, 5, 1), "m": 48, "steps": 3, "data": "random"}
_ONNX_VS_FORWARD = ("onnxruntime", "portable_dnn[forward]", 1.5)


def _inference(name: str, dims: tuple[int, ...], output: str, **options: Any) -> Workload:
    """Predicting 10,000 random examples once (one timed run), one thread, the shared initial weights."""
    options.setdefault("contenders", ("portable_dnn[forward]", "onnxruntime"))
    options.setdefault("targets", (_ONNX_VS_FORWARD,))
    # Warm-up runs: onnxruntime plans its memory on the first calls.
    return Workload(name, f"{'-'.join(map(str, dims))} {output}: predicting 10,000 random examples once, "
                    "one thread", "inference", dims, 10_000, output=output, dtypes=("float64", "float32"),
                    baseline="portable_dnn[forward]", shared="largest difference", threads=1, warmup=3,
                    unit="ms / prediction", **options)  # fmt: skip


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "course",
            "12288-20-7-5-1 on the 209 catvnoncat training images, full batch, gradient descent",
            "full_batch",
            (12288, 20, 7, 5, 1),
            209,
            (*_FULL, "portable_dnn[jax]", "jax_jit"),
            dtypes=("float64", "float32"),
            data="catvnoncat",
            steps=50,
            quick=_QUICK_COURSE,
            gpu={"steps": 300},
        ),
        Workload(
            "wide",
            "784-1024-1024-1 on 4096 random examples (GPU: 1024-4096-4096-4096-1 on 16,384), full batch, GD",
            "full_batch",
            (784, 1024, 1024, 1),
            4096,
            _FULL,
            dtypes=("float64", "float32"),
            steps=4,
            quick={"dims": (48, 64, 64, 1), "m": 48, "steps": 3},
            gpu={"dims": (1024, 4096, 4096, 4096, 1), "m": 16384, "steps": 30},
        ),
        Workload(
            "mnist",
            "784-128-64-10 softmax on 60,000 random MNIST-shaped examples, Adam, batches of 128",
            "minibatch",
            (784, 128, 64, 10),
            60_000,
            (
                "portable_dnn",
                "portable_dnn[C-order]",
                "portable_dnn[torch]",
                "portable_dnn[jax]",
                "torch_eager",
                "sklearn_mlp",
                "jax_jit",
                "gemm_floor",
            ),  # fmt: skip
            dtypes=("float32",),
            output="softmax",
            learning_rate=0.001,
            batch=128,
            **_ADAM_EPOCH,
            quick={"dims": (64, 16, 8, 10), "m": 512},
        ),
        Workload(
            "layout",
            "784-128-64-10 softmax on 60,000 MNIST-shaped examples, Adam, batches of 128, 3 epochs: "
            "fit given C-ordered (features, m) data against the same in Fortran order",
            "minibatch",
            (784, 128, 64, 10),
            60_000,
            ("portable_dnn", "portable_dnn[C-order]"),
            dtypes=("float32",),
            output="softmax",
            learning_rate=0.001,
            batch=128,
            optimizer="adam",
            init="he",
            steps=3,
            unit="s",
            baseline="portable_dnn",
            targets=(("portable_dnn[C-order]", "portable_dnn", 1.15),),
            quick={"dims": (64, 16, 8, 10), "m": 512},
        ),
        Workload(
            "small",
            "2-5-2-1 on 6,400 random examples, Adam, batches of 64",
            "minibatch",
            (2, 5, 2, 1),
            6_400,
            ("portable_dnn", "portable_dnn[torch]", "torch_eager", "sklearn_mlp", "gemm_floor"),
            learning_rate=0.01,
            batch=64,
            **_ADAM_EPOCH,
            quick={"m": 256},
        ),
        Workload(
            "regressor",
            "10-64-32-1 regression on 50,000 standardised make_friedman1 examples, Adam, batches of 200",
            "regression",
            (10, 64, 32, 1),
            50_000,
            ("portable_dnn", "portable_dnn[torch]", "sklearn_mlp", "torch_eager"),
            data="friedman",
            needs=("sklearn",),
            output="identity",
            learning_rate=0.001,
            batch=200,
            **_ADAM_EPOCH,
            quick={"m": 1000},
        ),
        Workload(
            "dask_out_of_core",
            "fit_out_of_core 512-20-7-5-1, one epoch over a 0.8 GiB Zarr store, workers of 200 MiB",
            "dask_ooc",
            (512, 20, 7, 5, 1),
            209_715,
            ("dask[1 worker]", "dask[2 workers]"),
            data="zarr",
            learning_rate=0.05,
            baseline="dask[1 worker]",
            warmup=0,
            unit="s / epoch",
            params={"chunk": 4096, "memory_limit": "200MiB", "batch_chunks": 2},
            quick={
                "dims": (16, 5, 1),
                "m": 2048,
                "params": {"chunk": 256, "memory_limit": "1GiB", "batch_chunks": 2},
            },  # fmt: skip
        ),
        Workload(
            "dask_faults",
            "2-6-1 on the embedded data, 2 loopback workers: seconds per step, or from a fault to its error",
            "dask_faults",
            (2, 6, 1),
            400,
            (
                "lineage[32]",
                "lineage[32, killed]",
                "lineage[none]",
                "lineage[none, killed]",
                "scheduler_killed",
                "no_workers",
                "thread_taken",
            ),  # fmt: skip
            data="embedded",
            optimizer="momentum",
            baseline=None,
            learning_rate=0.05,
            batch=100,
            warmup=0,
            unit="s",
            params={"epochs": 30, "kill_after_epoch": 17},
            quick={"params": {"epochs": 3, "kill_after_epoch": 1}},
        ),
        _inference(
            "infer_course", (12288, 20, 7, 5, 1), "sigmoid", quick={"dims": (192, 20, 7, 5, 1), "m": 256}
        ),
        _inference("infer_mnist", (784, 128, 64, 10), "softmax", quick={"dims": (64, 16, 8, 10), "m": 256}),
        _inference(
            "infer_tiny",
            (2, 10, 5, 1),
            "sigmoid",
            contenders=("portable_dnn[forward]", "onnxruntime", "onnx_hand"),
            # 10,000 predictions of this network take a fraction of a millisecond, mostly
            # onnxruntime's own per-call work, so its yardstick is the hand-written graph.
            targets=(("onnxruntime", "onnx_hand", 2.0),),
            quick={"m": 256},
        ),
    )
}


def select(names: list[str] | None) -> list[Workload]:
    if not names:
        return list(WORKLOADS.values())
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise SystemExit(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    return [WORKLOADS[n] for n in names]


# ------------------------------------------------------------------ data


def examples(w: Workload) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (m, features) float64, C-ordered, and the targets ``y`` (m,): 0/1 floats for a sigmoid
    output, integer classes for softmax, floats for regression. The same values in every process."""
    if w.data == "catvnoncat":
        found = _catvnoncat()
        if found is not None:
            return found
    if w.data == "friedman":
        from sklearn.datasets import make_friedman1

        X, y = make_friedman1(n_samples=w.m, n_features=w.dims[0], noise=1.0, random_state=0)
        return (X - X.mean(axis=0)) / X.std(axis=0), (y - y.mean()) / y.std()
    rng = np.random.default_rng(0)
    X = rng.random((w.m, w.dims[0]))
    if w.output == "softmax":
        return X, rng.integers(0, w.dims[-1], w.m)
    return X, (rng.random(w.m) < 0.5).astype(np.float64)


def data_note(w: Workload) -> str:
    """Where the data comes from, when it is not what the workload names."""
    if w.data == "catvnoncat" and _catvnoncat() is None:
        return f" No {DATA_DIR / 'train_catvnoncat.h5'} (or no h5py): random data of its shape."
    return ""


def _catvnoncat() -> tuple[np.ndarray, np.ndarray] | None:
    path = DATA_DIR / "train_catvnoncat.h5"
    try:
        import h5py
    except ImportError:
        return None
    if not path.is_file():
        return None
    with h5py.File(path, "r") as fh:
        x = np.asarray(fh["train_set_x"][:])
        y = np.asarray(fh["train_set_y"][:])
    return x.reshape(x.shape[0], -1) / 255.0, y.astype(np.float64)


def initial_weights(w: Workload, dtype: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(W, b)`` per layer, W of shape (out, in): the course's ``randn / sqrt(n[l-1])`` (xavier) or
    ``randn * sqrt(2 / n[l-1])`` (he), seed 1; every contender that can starts from these."""
    rng = np.random.default_rng(1)
    gain = 1.0 if w.init == "xavier" else 2.0
    return [
        (
            (rng.standard_normal((n_out, n_in)) * np.sqrt(gain / n_in)).astype(dtype),
            np.zeros((n_out, 1), dtype=dtype),
        )
        for n_in, n_out in zip(w.dims[:-1], w.dims[1:], strict=True)
    ]


def as_parameters(weights: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """The course's ``{"W1": ..., "b1": ..., ...}`` layout of :func:`initial_weights`."""
    return {f"{k}{l}": a for l, pair in enumerate(weights, start=1) for k, a in zip("Wb", pair, strict=True)}


def _logits(params: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray) -> np.ndarray:
    """The last layer's ``Z`` (units, m) of examples-major ``X``, in float64 on the host."""
    A = X.T
    for W, b in params[:-1]:
        A = np.maximum(W @ A + b.reshape(-1, 1), 0)
    W, b = params[-1]
    return np.asarray(W @ A + b.reshape(-1, 1))


def training_loss(w: Workload, params: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """The workload's loss on its training data (float64, on the host) for trained ``params``:
    contenders that start from the same weights and take the same steps must agree on it."""
    X, y = examples(w)
    Z = _logits(params, X)
    if w.output == "identity":
        return float(np.mean((Z[0] - y) ** 2))
    if w.output == "softmax":
        Z = Z - Z.max(axis=0)
        log_p = Z - np.log(np.exp(Z).sum(axis=0))
        return float(-np.mean(log_p[y.astype(int), np.arange(y.size)]))
    p = np.clip(1 / (1 + np.exp(-Z[0])), 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def predictions(w: Workload, params: list[tuple[np.ndarray, np.ndarray]], dtype: str) -> np.ndarray:
    """The network's outputs (m, units) for the workload's examples as a contender of ``dtype`` reads
    them, computed in float64 on the host: what the inference contenders' outputs are held to."""
    X, _ = examples(w)
    Z = _logits(params, X.astype(dtype).astype(np.float64))
    if w.output == "softmax":
        E = np.exp(Z - Z.max(axis=0))
        Z = E / E.sum(axis=0)
    elif w.output == "sigmoid":
        Z = 1 / (1 + np.exp(-Z))
    return Z.T
