"""Regression, one epoch: ``DNNRegressor`` against scikit-learn's ``MLPRegressor`` and a PyTorch loop.

``python -m benchmarks.regressor`` times one epoch of the same network on the same
data, each contender in a fresh process of its own (no library's threads compete
with another's), interleaved, and prints the median of ``--repeats`` runs, the
ratios, the machine's CPU and load average, and a warning where the repeats of a
contender spread past 1.3x.

Workload ``friedman``: ``make_friedman1`` (10 features, noise 1.0, seed 0) with
50,000 examples, inputs and targets standardised; 10-64-32-1, ReLU, identity
output, squared error, Adam (lr 0.001), mini-batches of 200 (scikit-learn's
default), float64.

Contenders: ``dnn_numpy`` and ``dnn_torch`` (``DNNRegressor.partial_fit``, one
epoch, on the numpy and torch backends); ``sklearn`` (``MLPRegressor.partial_fit``,
one epoch, ``alpha=0``); ``torch_eager`` (autograd, ``torch.optim.Adam``,
``mse_loss``); each also reports its R^2 on the training data after the timed
epoch (the second one, after a warm-up epoch), so the epochs compared are real
training.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

from benchmarks.machine import cpu_description

WORKLOAD = {"dims": [10, 64, 32, 1], "m": 50_000, "batch": 200, "lr": 0.001}
CONTENDERS = ("dnn_numpy", "dnn_torch", "sklearn", "torch_eager")
RATIOS = [("dnn_numpy", "sklearn"), ("dnn_numpy", "torch_eager"), ("dnn_torch", "torch_eager")]


def data() -> tuple[np.ndarray, np.ndarray]:
    """X ``(m, 10)`` and y ``(m,)``, standardised, the same in every process."""
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=WORKLOAD["m"], n_features=10, noise=1.0, random_state=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, (y - y.mean()) / y.std()


def r2(y: np.ndarray, p: np.ndarray) -> float:
    return float(1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2))


def second_epoch(reg: Any, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The seconds of ``reg.partial_fit``'s second epoch (the first warms up imports and first-call
    costs) and the training R^2 after it."""
    reg.partial_fit(X, y)
    start = time.perf_counter()
    reg.partial_fit(X, y)
    seconds = time.perf_counter() - start
    return seconds, r2(y, reg.predict(X))


def run_dnn(X: np.ndarray, y: np.ndarray, backend: str) -> tuple[float, float]:
    from portable_dnn.sklearn import DNNRegressor

    w = WORKLOAD
    reg = DNNRegressor(hidden_layer_sizes=tuple(w["dims"][1:-1]), learning_rate=w["lr"],
                       batch_size=w["batch"], backend=backend, random_state=0)  # fmt: skip
    return second_epoch(reg, X, y)


def run_sklearn(X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.neural_network import MLPRegressor

    w = WORKLOAD
    reg = MLPRegressor(hidden_layer_sizes=tuple(w["dims"][1:-1]), solver="adam", batch_size=w["batch"],
                       learning_rate_init=w["lr"], alpha=0.0, random_state=0)  # fmt: skip
    return second_epoch(reg, X, y)


def run_torch(X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    import torch

    w = WORKLOAD
    dims, m, size = w["dims"], w["m"], w["batch"]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)
    params = []
    for n_in, n_out in zip(dims[:-1], dims[1:]):
        W = torch.randn(n_in, n_out, generator=gen, dtype=torch.float64) * (2 / n_in) ** 0.5
        params += [W.requires_grad_(), torch.zeros(n_out, dtype=torch.float64, requires_grad=True)]
    opt = torch.optim.Adam(params, lr=w["lr"])

    def forward(A: torch.Tensor) -> torch.Tensor:
        for i in range(0, len(params) - 2, 2):
            A = torch.relu(A @ params[i] + params[i + 1])
        return (A @ params[-2] + params[-1])[:, 0]

    def epoch() -> None:
        perm = torch.randperm(m, generator=gen)
        for k in range(0, m, size):
            idx = perm[k : k + size]
            loss = torch.nn.functional.mse_loss(forward(Xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()

    epoch()
    start = time.perf_counter()
    epoch()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        return seconds, r2(y, forward(Xt).numpy())


def child(name: str) -> dict:
    X, y = data()
    run = {
        "dnn_numpy": lambda: run_dnn(X, y, "numpy"),
        "dnn_torch": lambda: run_dnn(X, y, "torch"),
        "sklearn": lambda: run_sklearn(X, y),
        "torch_eager": lambda: run_torch(X, y),
    }[name]
    seconds, score = run()
    return {"seconds": seconds, "r2": score}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", metavar="CONTENDER", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return
    print(f"CPU {cpu_description().get('model')}; load average before: {os.getloadavg()[0]:.2f}")
    print(f"friedman: {WORKLOAD}")
    times: dict[str, list[float]] = {}
    scores: dict[str, float] = {}
    for _ in range(args.repeats):
        for name in args.contenders.split(","):
            cmd = [sys.executable, "-m", "benchmarks.regressor", "--child", name]
            out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
            times.setdefault(name, []).append(out["seconds"])
            scores[name] = out["r2"]
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, t in med.items():
        spread = max(times[name]) / min(times[name])
        warn = f"  (repeats spread {spread:.2f}x: noisy)" if spread > 1.3 else ""
        print(f"  {name:12s} {t * 1e3:9.1f} ms/epoch  R^2 after two epochs {scores[name]:.4f}{warn}")
    for a, b in RATIOS:
        if a in med and b in med:
            print(f"  {a} / {b} = {med[a] / med[b]:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
