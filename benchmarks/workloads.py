"""The workloads: layer sizes, data (host NumPy float64) and how many iterations to time."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

LEARNING_RATE = 0.0075
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data" / "catvnoncat"

# (layer sizes, examples) of each workload on each device.
SHAPES: dict[tuple[str, str], tuple[list[int], int]] = {
    ("cpu", "course"): ([12288, 20, 7, 5, 1], 209),
    ("gpu", "course"): ([12288, 20, 7, 5, 1], 209),
    ("cpu", "wide"): ([784, 1024, 1024, 1], 4096),
    ("gpu", "wide"): ([1024, 4096, 4096, 4096, 1], 16384),
}
QUICK_SHAPES: dict[str, tuple[list[int], int]] = {
    "course": ([192, 20, 7, 5, 1], 48),
    "wide": ([48, 64, 64, 1], 48),
}
# Iterations per timed repeat, chosen so one repeat takes about a second.
DEFAULT_ITERATIONS = {
    ("cpu", "course"): 50,
    ("gpu", "course"): 300,
    ("cpu", "wide"): 4,
    ("gpu", "wide"): 30,
}
DEFAULT_REPEATS = {"cpu": 5, "gpu": 3}
QUICK_ITERATIONS, QUICK_REPEATS = 3, 2


@dataclass
class Workload:
    name: str
    device: str
    dims: list[int]
    X: np.ndarray  # (n_x, m) float64
    Y: np.ndarray  # (1, m) float64 labels 0/1
    source: str
    iterations: int
    repeats: int
    notes: list[str] = field(default_factory=list)

    @property
    def m(self) -> int:
        return int(self.X.shape[1])


def load_catvnoncat(data_dir: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The course's training set as (X, Y), or None when the file (or h5py) is missing."""
    path = Path(data_dir) / "train_catvnoncat.h5"
    if not path.is_file():
        return None
    try:
        import h5py
    except ImportError:
        return None
    with h5py.File(path, "r") as fh:
        x = np.asarray(fh["train_set_x"][:])
        y = np.asarray(fh["train_set_y"][:])
    X = x.reshape(x.shape[0], -1).T / 255.0
    Y = y.reshape(1, -1).astype(np.float64)
    return X, Y  # the course's layout: the transpose of an examples x features array


def random_data(n_x: int, m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-like inputs in [0, 1) and balanced 0/1 labels."""
    rng = np.random.default_rng(seed)
    X = rng.random((m, n_x)).T  # examples stored row by row, as data files hold them
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    return X, Y


def make_workload(
    name: str,
    device: str,
    *,
    quick: bool,
    data_dir: Path,
    iterations: int | None,
    repeats: int | None,
) -> Workload:
    if quick:
        dims, m = QUICK_SHAPES[name]
        n_iter, n_rep = QUICK_ITERATIONS, QUICK_REPEATS
    else:
        dims, m = SHAPES[(device, name)]
        n_iter, n_rep = DEFAULT_ITERATIONS[(device, name)], DEFAULT_REPEATS[device]
    notes: list[str] = []
    data = None
    if name == "course" and not quick:
        data = load_catvnoncat(data_dir)
        if data is None:
            notes.append(
                f"catvnoncat data not found at {data_dir} (or h5py missing): "
                "using random data of the same shape"
            )
    if data is not None:
        X, Y = data
        source = str(Path(data_dir) / "train_catvnoncat.h5")
    else:
        X, Y = random_data(dims[0], m)
        source = "random" + (" (quick shapes)" if quick else "")
    return Workload(
        name=name,
        device=device,
        dims=list(dims),
        X=X,
        Y=Y,
        source=source,
        iterations=iterations or n_iter,
        repeats=repeats or n_rep,
        notes=notes,
    )


def initial_parameters(dims: list[int], init: str = "xavier", seed: int = 1) -> dict[str, np.ndarray]:
    """Host float64 parameters drawn exactly as portable_dnn draws them."""
    from portable_dnn import initialize_parameters_deep

    params = initialize_parameters_deep(dims, init=init, seed=seed, backend="numpy", dtype="float64")
    return {k: np.asarray(v) for k, v in params.items()}


def memory_budget_bytes(dims: list[int], m: int, itemsize: int) -> dict[str, int]:
    """Data + parameters + one set of activations and gradients, in bytes.

    X, Y; W[l], b[l]; Z[l], A[l]; dW[l], db[l]; dZ[l], dA[l] for l = 1..L
    (dA[l] is the gradient of layer l's output; dA0, the gradient of X, is not counted).
    """
    L = len(dims) - 1
    data = dims[0] * m + m
    params = sum(dims[l] * dims[l - 1] + dims[l] for l in range(1, L + 1))
    acts = sum(2 * dims[l] * m for l in range(1, L + 1))  # Z, A
    grads = params + acts  # dW, db ; dZ, dA
    parts = {"data": data, "parameters": params, "activations": acts, "gradients": grads}
    out = {k: v * itemsize for k, v in parts.items()}
    out["total"] = sum(out.values())
    return out
