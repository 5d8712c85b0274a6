"""A plain PyTorch eager loop, the one loop for every workload: autograd, ``torch.optim``, parameters
by the workload (layers, ReLU hidden layers, output and loss, optimizer, batch size, dtype).

Examples-major data ``(m, features)``, as PyTorch users hold it; weights ``(out, in)`` from the
workload's shared start; full batch without shuffling, mini-batches over a seeded permutation
drawn each epoch. The loss: binary cross-entropy on the logits (sigmoid), cross-entropy
(softmax) or the mean squared error (identity).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..workloads import Workload, examples, initial_weights
from . import Outcome, register


def _loss(torch: Any, output: str) -> Callable[[Any, Any], Any]:
    F = torch.nn.functional
    if output == "softmax":
        return F.cross_entropy
    if output == "identity":
        return lambda Z, y: F.mse_loss(Z[:, 0], y)
    return lambda Z, y: F.binary_cross_entropy_with_logits(Z[:, 0], y)


@register("torch_eager", ("full_batch", "minibatch", "regression"), needs=("torch",), sync="torch")
def prepare(w: Workload, dtype: str, device: str) -> Callable[[], Outcome]:
    import torch

    where = "cuda" if device == "gpu" else "cpu"
    X, y = examples(w)
    Xt = torch.from_numpy(X.astype(dtype)).to(where)
    yt = torch.from_numpy(y if w.output == "softmax" else y.astype(dtype)).to(where)
    start = [(torch.from_numpy(W).to(where), torch.from_numpy(b[:, 0]).to(where)) for W, b in
             initial_weights(w, dtype)]  # fmt: skip
    layers = [(W.clone().requires_grad_(), b.clone().requires_grad_()) for W, b in start]
    flat = [p for pair in layers for p in pair]
    make_optimizer = torch.optim.Adam if w.optimizer == "adam" else torch.optim.SGD
    loss_of = _loss(torch, w.output)
    gen = torch.Generator().manual_seed(0)
    size = w.batch or w.m

    def forward(A: Any) -> Any:
        for W, b in layers[:-1]:
            A = torch.relu(A @ W.T + b)
        W, b = layers[-1]
        return A @ W.T + b

    def run() -> Outcome:
        with torch.no_grad():  # every run trains from the shared start, as the other contenders do
            for p, p0 in zip(flat, (p0 for pair in start for p0 in pair), strict=True):
                p.copy_(p0)
        opt = make_optimizer(flat, lr=w.learning_rate)
        for _ in range(w.steps):
            order = torch.randperm(w.m, generator=gen).to(where) if w.batch else None
            for k in range(0, w.m, size):
                idx = None if order is None else order[k : k + size]
                Xb, yb = (Xt, yt) if idx is None else (Xt[idx], yt[idx])
                loss = loss_of(forward(Xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        return Outcome([(W.detach(), b.detach()) for W, b in layers])

    return run
