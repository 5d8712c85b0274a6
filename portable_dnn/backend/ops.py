"""The training step's arithmetic: the kernels a backend may replace with faster ones.

:class:`Ops` writes every kernel of the training engine once, in Array API calls
only. A backend subclasses it to change how a kernel runs, never what it
computes: NumPy writes into buffers it owns, CuPy fuses elementwise work into
single kernels. Tests hold every subclass to this one.

The hidden activations are declared in :mod:`portable_dnn.backend.activations`;
:meth:`Ops.activation` and :meth:`Ops.activation_grad` run a declaration's
kernels, and a subclass may run a faster equivalent of one of them. A backward is
handed the layer's output ``A`` and, where the activation needs it, its input ``Z``
(otherwise None), so the forward pass keeps one array per layer for most of them.

>>> import array_api_compat.numpy as xp
>>> from portable_dnn.backend.activations import ACTIVATIONS
>>> ops = Ops(xp, xp.float64, "cpu")
>>> ops.activation(xp.asarray([[-1.0, 2.0]]), ACTIVATIONS["relu"])
array([[0., 2.]])
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from . import activations as _activations
from .activations import SIGMOID, Activation

__all__ = ["Ops"]


@functools.lru_cache
def _sigmoid_low(bits: int) -> float:
    """The most negative Z whose ``exp(-Z)`` is finite in the floating dtype of ``bits`` bits:
    about -709.78 in float64, -88.72 in float32."""
    host = np.dtype(f"float{bits}")
    low = np.asarray(-math.log(float(np.finfo(host).max)), dtype=host)
    with np.errstate(over="ignore"):
        while not np.isfinite(np.exp(-low)):
            low = np.nextafter(low, np.zeros_like(low))
    return float(low)


class Ops:
    """Kernels of the training step on the Array API namespace ``xp``, for floating ``dtype``.

    With ``inplace`` the update kernels overwrite the parameters and optimizer
    slots they are given (buffers the engine owns; fixed addresses are what a
    replayed CUDA graph needs); without it (immutable arrays: JAX, Dask) they
    return new arrays. Either way the caller keeps using what they return.
    """

    inplace = True

    def __init__(self, xp: Any, dtype: Any, device: Any, inplace: bool | None = None) -> None:
        self.xp, self.dtype, self.device = xp, dtype, device
        if inplace is not None:
            self.inplace = inplace
        self.eps = float(xp.finfo(dtype).eps)
        # The cost's clipping bounds as 0-d arrays, for maximum/minimum: xp.clip of some
        # wrapped libraries (CuPy's) indexes with boolean masks, which waits for the GPU.
        self.low = xp.asarray(self.eps, dtype=dtype, device=device)
        self.high = xp.asarray(1 - self.eps, dtype=dtype, device=device)
        self.one = xp.asarray(1.0, dtype=dtype, device=device)
        self.zero = xp.asarray(0.0, dtype=dtype, device=device)
        # A 0-d array: maximum() and minimum() of the standard take no Python scalars.
        self.sigmoid_low = xp.asarray(_sigmoid_low(xp.finfo(dtype).bits), dtype=dtype, device=device)

    # ------------------------------------------------------------ forward

    def linear(self, W: Any, A: Any, b: Any) -> Any:
        return W @ A + b

    def activation(self, Z: Any, act: Activation) -> Any:
        """``g(Z)`` for the declared activation ``act``; ``Z`` is scratch (a subclass may
        overwrite it) unless ``act.needs_input``."""
        return act.forward(self, Z)

    def realized(self, Z: Any) -> Any:
        """``Z`` from :meth:`linear` as an array (a backend may hand it on unfinished)."""
        return Z

    def erf(self, x: Any) -> Any:
        """The error function (GELU's); a backend whose library has one uses it."""
        return _activations.erf(self.xp, x)

    def probabilities(self, Z: Any, kind: str) -> Any:
        """The output layer's activation ``AL`` (``Z`` is scratch): the sigmoid of every unit
        (``"sigmoid"``, ``"multilabel"``), softmax over each column, or ``Z`` itself (``"identity"``)."""
        if kind in ("sigmoid", "multilabel"):
            return self.activation(Z, SIGMOID)
        if kind == "identity":
            return Z
        xp = self.xp
        E = xp.exp(Z - xp.max(Z, axis=0, keepdims=True))
        return E / xp.sum(E, axis=0, keepdims=True)

    def output(self, Z: Any, Y: Any, kind: str) -> tuple[Any, Any]:
        """``(AL, dZ)``: the output activation and ``dZ = AL - Y``, the cost's gradient in ``Z``
        times m for every output (each cost below is the one whose gradient that is)."""
        AL = self.probabilities(Z, kind)
        return AL, AL - Y

    def cost(self, AL: Any, Y: Any, kind: str, weights: Any = None) -> Any:
        """The mean cost over the m examples as a 0-d array.

        Cross-entropy ``-1/m sum(Y log(AL) + (1 - Y) log(1 - AL))``, summed over the units,
        for ``"sigmoid"`` and ``"multilabel"``; ``-1/m sum(Y log(AL))`` for ``"softmax"``
        (AL clipped to ``[eps, 1 - eps]`` so both stay finite); half the squared error
        ``1/(2m) sum((AL - Y)^2)``, summed over the targets, for ``"identity"``. With
        ``weights`` ``(1, m)`` (:meth:`batch_weights`), each example's loss is multiplied by its own.
        """
        xp = self.xp
        m = Y.shape[1]
        if kind == "identity":
            D = AL - Y
            loss = D * D
            return 1 / (2 * m) * xp.sum(loss if weights is None else loss * weights)
        if kind in ("sigmoid", "multilabel"):
            A = xp.minimum(xp.maximum(AL, self.low), self.high)
            loss = Y * xp.log(A) + (1 - Y) * xp.log(1 - A)
        else:
            loss = Y * xp.log(xp.maximum(AL, self.low))
        return -1 / m * xp.sum(loss if weights is None else loss * weights)

    def batch_weights(self, w: Any) -> Any:
        """A batch's per-example weights ``w`` ``(1, m)`` scaled to mean 1: ``u = w * (m / sum(w))``.

        With them the course's means stay as they are and become the weighted means:
        ``1/m sum(u_i loss_i) = sum(w_i loss_i) / sum(w_i)``, and ``dZ * u``
        (:meth:`weigh`) is that cost's gradient in ``Z`` times m. Weights that are all
        zero give zeros (the batch moves nothing), not NaN.
        """
        total = self.xp.sum(w)
        return w * (w.shape[1] / self.xp.where(total > 0, total, self.one))

    def weigh(self, dZ: Any, u: Any) -> Any:
        """``dZ * u``: each example's column of the output's gradient times its weight; ``dZ`` is scratch."""
        return dZ * u

    def dropout(self, A: Any, D: Any, keep_prob: float) -> Any:
        """Inverted dropout ``A * D / keep_prob`` (also its own backward)."""
        return A * D / keep_prob

    # ----------------------------------------------------------- backward

    def back(self, W: Any, dZ: Any) -> Any:
        """``dA`` of the layer below: ``W^T dZ``."""
        return W.T @ dZ

    def activation_grad(self, dA: Any, Z: Any, A: Any, act: Activation) -> Any:
        """``dZ = dA * g'(Z)`` from the layer's output ``A = g(Z)`` and, where ``act.needs_input``,
        its input ``Z`` (else None); ``dA`` is scratch."""
        return act.backward(self, dA, Z, A)

    def weight_grads(self, dZ: Any, A_prev: Any, mean: bool = True) -> tuple[Any, Any]:
        """The course's ``dW = 1/m dZ A_prev^T`` and ``db = 1/m sum(dZ)``; without ``mean``,
        ``dZ A_prev^T`` and ``sum(dZ)`` (for a ``dZ`` already divided by m)."""
        dW, db = dZ @ A_prev.T, self.xp.sum(dZ, axis=1, keepdims=True)
        if not mean:
            return dW, db
        m = A_prev.shape[1]
        return 1 / m * dW, 1 / m * db

    def l2(self, W: Any, lambd: float, m: int) -> tuple[Any, Any]:
        """The L2 term's cost ``lambd / (2m) sum(W^2)`` (0-d) and gradient ``lambd / m W``."""
        return lambd / (2 * m) * self.xp.sum(W * W), lambd / m * W

    # ------------------------------------------------------------ updates

    def pack(self, arrays: Any) -> list[Any]:
        """Copies of ``arrays`` for the engine to own (a backend may lay them out together)."""
        return [self.xp.asarray(a, copy=True) for a in arrays]

    def step_all(self, kernel: str, Ps: Any, Gs: Any, slots: Any, *hyper: Any) -> list[list[Any]]:
        """The update ``kernel`` (the name of a method ``(P, G, *its slots, *hyper) -> (P, *slots)``,
        e.g. :meth:`adam`) on every parameter: ``[Ps, *slots]`` after the step. A backend may run it
        over all parameters at once (NumPy: one buffer for a small network)."""
        update = getattr(self, kernel)
        moved = [update(P, G, *group, *hyper) for P, G, *group in zip(Ps, Gs, *slots)]
        return [list(column) for column in zip(*moved)]

    def clip_by_norm(self, Gs: Any, max_norm: float) -> list[Any]:
        """Every gradient times ``min(1, max_norm / (norm + 1e-6))``, ``norm`` the 2-norm of all of
        them together (PyTorch's ``clip_grad_norm_``); the ``Gs`` are scratch. The factor is a
        0-d array, so nothing waits for the device or branches on a value."""
        xp = self.xp
        total = xp.sum(Gs[0] * Gs[0])
        for G in Gs[1:]:
            total = total + xp.sum(G * G)
        factor = xp.minimum(max_norm / (xp.sqrt(total) + 1e-6), self.one)
        if self.inplace:
            for G in Gs:
                G *= factor
            return list(Gs)
        return [G * factor for G in Gs]

    def _set(self, dst: Any, value: Any) -> Any:
        if self.inplace:
            dst[...] = value
            return dst
        return value

    def _scaled(self, name: str, x: Any, factor: float) -> Any:
        """``factor x`` as a new array (a backend may reuse a buffer ``name`` from step to step)."""
        return factor * x

    def sgd(self, P: Any, G: Any, lr: float) -> Any:
        """``P - lr G``; ``G`` is scratch."""
        if self.inplace:
            P -= lr * G
            return P
        return P - lr * G

    def momentum(self, P: Any, G: Any, v: Any, beta: float, lr: float) -> tuple[Any, Any]:
        """``v = beta v + (1 - beta) G``, ``P = P - lr v``."""
        v = self._set(v, beta * v + (1 - beta) * G)
        return self.sgd(P, v, lr), v

    def nesterov(self, P: Any, G: Any, v: Any, beta: float, lr: float) -> tuple[Any, Any]:
        """``v = beta v + (1 - beta) G``, ``P = P - lr (beta v + (1 - beta) G)`` (the look-ahead form)."""
        v = self._set(v, beta * v + (1 - beta) * G)
        return self.sgd(P, beta * v + (1 - beta) * G, lr), v

    def rmsprop(self, P: Any, G: Any, s: Any, rho: float, lr: float, eps: float) -> tuple[Any, Any]:
        """``s = rho s + (1 - rho) G^2``, ``P = P - lr G / (sqrt(s) + eps)``."""
        s = self._set(s, rho * s + (1 - rho) * (G * G))
        step = lr * G / (self.xp.sqrt(s) + eps)
        if self.inplace:
            P -= step
            return P, s
        return P - step, s

    def adamw(
        self,
        P: Any,
        G: Any,
        v: Any,
        s: Any,
        t: Any,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        weight_decay: float,
    ) -> tuple[Any, Any, Any]:
        """:meth:`adam`'s step, then ``P = P - (lr weight_decay) P0`` with ``P0`` the parameter
        before the step (decoupled weight decay)."""
        decay = self._scaled("decay", P, lr * weight_decay)
        P, v, s = self.adam(P, G, v, s, t, lr, beta1, beta2, eps)
        if self.inplace:
            P -= decay
            return P, v, s
        return P - decay, v, s

    def adam(
        self, P: Any, G: Any, v: Any, s: Any, t: Any, lr: float, beta1: float, beta2: float, eps: float
    ) -> tuple[Any, Any, Any]:
        """One Adam step with the course's bias correction (``t`` counts steps from 1)."""
        v = self._set(v, beta1 * v + (1 - beta1) * G)
        s = self._set(s, beta2 * s + (1 - beta2) * (G * G))
        corrected = v / (1 - beta1**t)
        step = lr * corrected / (self.xp.sqrt(s / (1 - beta2**t)) + eps)
        if self.inplace:
            P -= step
            return P, v, s
        return P - step, v, s

    def nadam(
        self,
        P: Any,
        G: Any,
        v: Any,
        s: Any,
        mu: Any,
        t: Any,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        momentum_decay: float,
    ) -> tuple[Any, Any, Any, Any]:
        """One NAdam step, as PyTorch's: ``mu`` (0-d) is the running product of the ``mu_t``."""
        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu = self._set(mu, mu * mu_t)
        v = self._set(v, v + (1 - beta1) * (G - v))
        s = self._set(s, beta2 * s + (1 - beta2) * (G * G))
        d = self.xp.sqrt(s / (1 - beta2**t)) + eps
        step = (lr * (1 - mu_t) / (1 - mu)) * (G / d) + (lr * mu_next / (1 - mu * mu_next)) * (v / d)
        if self.inplace:
            P -= step
            return P, v, s, mu
        return P - step, v, s, mu

    # -------------------------------------------------------------- checks

    def largest(self, arrays: Any) -> Any:
        """``max |a|`` over ``arrays`` as a 0-d array (NaN when any is NaN): no host synchronisation."""
        xp = self.xp
        tops = [xp.max(xp.abs(a)) for a in arrays]
        top = tops[0]
        for other in tops[1:]:
            # maximum() propagates NaN, so a NaN anywhere is seen.
            top = xp.maximum(top, other)
        return top
