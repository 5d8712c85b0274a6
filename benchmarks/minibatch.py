"""Mini-batch training, one epoch: ``fit`` against PyTorch eager, scikit-learn and the GEMM floor.

``python -m benchmarks.minibatch`` times one epoch of two workloads, each
contender in a fresh process of its own (no library's threads compete with
another's), interleaved, and prints the median of ``--repeats`` runs and the
ratios the targets are stated in.

- ``mnist``: 784-128-64-10, ReLU, softmax, Adam (lr 0.001), batch 128, 60,000 float32 examples;
- ``small``: 2-5-2-1, ReLU, sigmoid, Adam (lr 0.01), batch 64, 6,400 float64 examples.

Contenders: ``fit`` on NumPy and on the torch backend; a plain PyTorch eager
loop of the same network, optimizer and data (autograd, ``torch.optim.Adam``);
scikit-learn's ``MLPClassifier(solver="adam", batch_size=..., max_iter=1)``; and
the floor, the epoch's matrix products alone into preallocated outputs.

Every contender gets the same values, laid out before the clock starts the way
it reads them fastest: examples-major, as PyTorch and scikit-learn take
``(m, features)``, and for ``fit`` the same bytes seen as ``(features, m)``
(Fortran order). ``fit_numpy_c`` is ``fit`` given C-ordered ``(features, m)``
data, as the course builds it; ``fit`` then makes its examples-major copy on
the clock. Both ``fit_numpy`` rows report their peak memory (tracemalloc)
against data + parameters + Adam's two slots + one batch's activations and
gradients.

``--device cuda`` runs the GPU's contenders instead: ``fit`` on CuPy and on the
torch backend on the GPU, the PyTorch eager loop on the GPU and the floor in
CuPy. The data is moved to the GPU before the clock starts, and the GPU is
synchronized before it stops.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np

WORKLOADS = {
    "mnist": {"dims": [784, 128, 64, 10], "m": 60_000, "batch": 128, "dtype": "float32", "lr": 0.001},
    "small": {"dims": [2, 5, 2, 1], "m": 6_400, "batch": 64, "dtype": "float64", "lr": 0.01},
}
CONTENDERS = {
    "cpu": ("fit_numpy", "fit_numpy_c", "fit_torch", "torch_eager", "sklearn", "gemm_floor"),
    "cuda": ("fit_cupy", "fit_torch", "torch_eager", "gemm_floor"),
}
RATIOS = [("fit_numpy", "torch_eager"), ("fit_numpy", "sklearn"), ("fit_numpy_c", "torch_eager"),
          ("fit_numpy_c", "sklearn"), ("fit_torch", "torch_eager"), ("fit_numpy", "gemm_floor"),
          ("fit_cupy", "torch_eager"), ("fit_cupy", "gemm_floor")]  # fmt: skip


def data(w: dict) -> tuple[np.ndarray, np.ndarray]:
    """X ``(features, m)`` and integer labels ``(m,)``, the same in every process."""
    rng = np.random.RandomState(0)
    X = rng.rand(w["dims"][0], w["m"]).astype(w["dtype"])
    classes = max(2, w["dims"][-1])
    return X, rng.randint(0, classes, w["m"])


def sync(device: str) -> None:
    """Waits for the GPU work queued by the libraries this process has imported (none on the CPU)."""
    if device != "cuda":
        return
    if "cupy" in sys.modules:
        sys.modules["cupy"].cuda.Device().synchronize()
    if "torch" in sys.modules:
        sys.modules["torch"].cuda.synchronize()


def run_fit(w: dict, X: np.ndarray, y: np.ndarray, backend: str, device: str = "cpu") -> float:
    from portable_dnn import fit

    output = "softmax" if w["dims"][-1] > 1 else "sigmoid"
    if backend == "torch":
        import torch

        X, y = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
    elif backend == "cupy":
        import cupy

        X, y = cupy.asarray(X), cupy.asarray(y)
    sync(device)
    start = time.perf_counter()
    fit(X, y, w["dims"], output=output, optimizer="adam", learning_rate=w["lr"], batch_size=w["batch"],
        num_epochs=1, backend=None if device == "cuda" else backend)  # fmt: skip
    sync(device)
    return time.perf_counter() - start


def run_torch(w: dict, X: np.ndarray, y: np.ndarray, device: str = "cpu") -> float:
    import torch

    dt = getattr(torch, w["dtype"])
    dims, m, size = w["dims"], w["m"], w["batch"]
    Xt, yt = torch.from_numpy(X.T.copy()).to(device), torch.from_numpy(y).to(device)
    gen = torch.Generator().manual_seed(0)
    params = []
    for n_in, n_out in zip(dims[:-1], dims[1:]):
        W = torch.randn(n_in, n_out, generator=gen, dtype=dt) * (2 / n_in) ** 0.5
        params += [
            W.to(device).requires_grad_(),
            torch.zeros(n_out, dtype=dt, device=device, requires_grad=True),
        ]
    opt = torch.optim.Adam(params, lr=w["lr"])
    sync(device)
    start = time.perf_counter()
    perm = torch.randperm(m, generator=gen).to(device)
    for k in range(0, m, size):
        idx = perm[k : k + size]
        A = Xt[idx]
        for i in range(0, len(params) - 2, 2):
            A = torch.relu(A @ params[i] + params[i + 1])
        Z = A @ params[-2] + params[-1]
        if dims[-1] > 1:
            loss = torch.nn.functional.cross_entropy(Z, yt[idx])
        else:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(Z[:, 0], yt[idx].to(dt))
        opt.zero_grad()
        loss.backward()
        opt.step()
    sync(device)
    return time.perf_counter() - start


def run_sklearn(w: dict, X: np.ndarray, y: np.ndarray) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=tuple(w["dims"][1:-1]), solver="adam", batch_size=w["batch"],
                        max_iter=1, learning_rate_init=w["lr"], alpha=0.0, random_state=0)  # fmt: skip
    samples = np.ascontiguousarray(X.T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        clf.fit(samples, y)
        return time.perf_counter() - start


def run_floor(w: dict, X: np.ndarray, y: np.ndarray, device: str = "cpu") -> float:
    """The epoch's matrix products only: forward, dW for every layer, dA for layers 2..L
    (NumPy on the CPU, CuPy on the GPU)."""
    if device == "cuda":
        import cupy as lib
    else:
        lib = np
    dims, size = w["dims"], w["batch"]
    rng = np.random.RandomState(1)
    Ws = [lib.asarray(rng.randn(n_out, n_in).astype(X.dtype)) for n_in, n_out in zip(dims[:-1], dims[1:])]
    batches = [lib.ascontiguousarray(lib.asarray(X[:, k : k + size])) for k in range(0, w["m"], size)]
    sizes = {Xb.shape[1] for Xb in batches}  # contiguous outputs for the last, shorter batch too
    outs = {(k, n): [lib.empty((d, n), X.dtype) for d in dims] for k in ("A", "dA") for n in sizes}
    dWs = [lib.empty_like(W) for W in Ws]
    sync(device)
    start = time.perf_counter()
    for Xb in batches:
        n = Xb.shape[1]
        A = [Xb] + outs["A", n][1:]
        for l, W in enumerate(Ws):
            lib.matmul(W, A[l], out=A[l + 1])
        dZ = A[-1]
        for l in reversed(range(len(Ws))):
            lib.matmul(dZ, A[l].T, out=dWs[l])
            if l:
                dZ = lib.matmul(Ws[l].T, dZ, out=outs["dA", n][l])
    sync(device)
    return time.perf_counter() - start


def child(name: str, workload: str, device: str = "cpu") -> dict:
    w = WORKLOADS[workload]
    X, y = data(w)
    # fit's own layout, made only for the contenders that take it
    examples_major = np.asfortranarray(X) if name in ("fit_numpy", "fit_torch") else X
    run = {
        "fit_numpy": lambda: run_fit(w, examples_major, y, "numpy"),
        "fit_numpy_c": lambda: run_fit(w, X, y, "numpy"),
        "fit_cupy": lambda: run_fit(w, X, y, "cupy", device),
        "fit_torch": lambda: run_fit(w, examples_major, y, "torch", device),
        "torch_eager": lambda: run_torch(w, X, y, device),
        "sklearn": lambda: run_sklearn(w, X, y),
        "gemm_floor": lambda: run_floor(w, X, y, device),
    }[name]
    run()  # warm-up: imports, first-call costs, page faults
    result = {"seconds": run()}
    if name in ("fit_numpy", "fit_numpy_c"):
        tracemalloc.start()
        X = np.asfortranarray(X) if name == "fit_numpy" else X.copy()  # traced: the data counts once
        tracemalloc.reset_peak()
        run_fit(w, X, y, "numpy")
        result["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        result["budget"] = budget(w)
    return result


def budget(w: dict) -> int:
    """Bytes of data + parameters + Adam's slots + one batch's activations and gradients."""
    dims, item = w["dims"], np.dtype(w["dtype"]).itemsize
    params = sum(a * b + a for a, b in zip(dims[1:], dims[:-1]))
    data_ = (dims[0] + dims[-1]) * w["m"]  # X and one-hot (or 0/1) labels
    batch = 2 * w["batch"] * (sum(dims) + sum(dims[1:]))  # Z/A and dZ/dA per layer, with X_b
    return (data_ + 3 * params + params + batch) * item


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workloads", default="mnist,small")
    parser.add_argument("--device", choices=tuple(CONTENDERS), default="cpu")
    parser.add_argument("--contenders", help="comma-separated (default: all of the device's)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("CONTENDER", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, args.device)))
        return
    contenders = args.contenders or ",".join(CONTENDERS[args.device])
    print(f"device {args.device}; load average before: {os.getloadavg()[0]:.2f}")
    for workload in args.workloads.split(","):
        times: dict[str, list[float]] = {}
        extra: dict[str, dict] = {}
        for _ in range(args.repeats):
            for name in contenders.split(","):
                cmd = [sys.executable, "-m", "benchmarks.minibatch", "--device", args.device, "--child", name,
                       workload]  # fmt: skip
                out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
                times.setdefault(name, []).append(out.pop("seconds"))
                extra[name] = out
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"\n{workload}: {WORKLOADS[workload]}")
        for name, t in med.items():
            print(f"  {name:12s} {t * 1e3:9.1f} ms/epoch")
        for a, b in RATIOS:
            if a in med and b in med:
                print(f"  {a} / {b} = {med[a] / med[b]:.2f}x")
        for name in ("fit_numpy", "fit_numpy_c"):
            if "peak" in extra.get(name, {}):
                e = extra[name]
                print(f"  {name} peak memory {e['peak'] / 2**20:.1f} MiB = {e['peak'] / e['budget']:.2f}x "
                      f"budget {e['budget'] / 2**20:.1f} MiB")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
