"""The hidden activations: each declared once, its forward beside its backward.

An :class:`Activation` is a name and two kernels written in Array API calls:
``forward(ops, Z) -> A`` and ``backward(ops, dA, Z, A) -> dZ``. The backward is
handed both the layer's input ``Z`` and its output ``A``; ``needs_input`` says
whether it reads ``Z`` (GELU, SiLU), so the engine keeps ``Z`` only for those.
``ops`` is the :class:`~portable_dnn.backend.ops.Ops` of the arrays, which supplies
the primitives a backend may compute faster (``erf``) and the dtype's constants.

The engine's step, the course's ``relu``/``relu_backward`` ... and
``linear_activation_forward``, the model files, the estimators and the command
line all take their list of activations from :data:`ACTIVATIONS`, so an
activation added here is available everywhere.

>>> import array_api_compat.numpy as xp
>>> from portable_dnn.backend.ops import Ops
>>> ops = Ops(xp, xp.float64, "cpu", inplace=False)
>>> ACTIVATIONS["relu"].forward(ops, xp.asarray([[-1.0, 2.0]]))
array([[0., 2.]])
"""

from __future__ import annotations

import math
from typing import Any

#: Leaky ReLU's slope for negative inputs (the course's 0.01).
LEAKY_SLOPE = 0.01
_SQRT1_2 = math.sqrt(0.5)
_SQRT_2PI = math.sqrt(2 * math.pi)


class Activation:
    """A hidden activation ``A = g(Z)`` and its gradient ``dZ = dA * g'(Z)``."""

    name: str = ""
    #: Whether :meth:`backward` reads the layer's input ``Z`` (else only its output ``A``).
    needs_input: bool = False
    #: One line for the docs' tables and error messages.
    summary: str = ""
    #: The same function as a ``torch.nn`` layer: its class name and keyword arguments
    #: (what :func:`~portable_dnn.to_torch` builds and :func:`~portable_dnn.from_torch` reads).
    torch_layer: tuple[str, dict[str, Any]] = ("", {})
    #: scikit-learn's MLP name for it, or ``None`` where its MLP has no such activation.
    sklearn_name: str | None = None

    def forward(self, ops: Any, Z: Any) -> Any:
        raise NotImplementedError

    def backward(self, ops: Any, dA: Any, Z: Any, A: Any) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<activation {self.name!r}>"


class ReLU(Activation):
    name, summary = "relu", "max(0, Z); NaN stays NaN"
    torch_layer, sklearn_name = ("ReLU", {}), "relu"

    def forward(self, ops: Any, Z: Any) -> Any:
        # maximum() keeps a NaN; where(Z > 0, Z, 0) would turn it into 0.
        return ops.xp.maximum(Z, ops.zero)

    def backward(self, ops: Any, dA: Any, Z: Any, A: Any) -> Any:
        return ops.xp.where(A > 0, dA, ops.zero)


class LeakyReLU(Activation):
    name, summary = "leaky_relu", f"Z where positive, {LEAKY_SLOPE} Z elsewhere"
    torch_layer = ("LeakyReLU", {"negative_slope": LEAKY_SLOPE})

    def forward(self, ops: Any, Z: Any) -> Any:
        return ops.xp.where(Z > 0, Z, LEAKY_SLOPE * Z)

    def backward(self, ops: Any, dA: Any, Z: Any, A: Any) -> Any:
        return ops.xp.where(A > 0, dA, LEAKY_SLOPE * dA)


class Tanh(Activation):
    name, summary = "tanh", "the hyperbolic tangent"
    torch_layer, sklearn_name = ("Tanh", {}), "tanh"

    def forward(self, ops: Any, Z: Any) -> Any:
        return ops.xp.tanh(Z)

    def backward(self, ops: Any, dA: Any, Z: Any, A: Any) -> Any:
        return dA * (1 - A * A)


class Sigmoid(Activation):
    name, summary = "sigmoid", "1 / (1 + exp(-Z)), the course's formula wherever exp(-Z) is finite"
    torch_layer, sklearn_name = ("Sigmoid", {}), "logistic"

    def forward(self, ops: Any, Z: Any) -> Any:
        xp = ops.xp
        # The course's 1 / (1 + exp(-Z)) to the bit; only where exp(-Z) would overflow
        # (Z below -log(max), where 1 + exp(-Z) is exp(-Z) in any case) is it exp(Z).
        low = ops.sigmoid_low
        course = 1 / (1 + xp.exp(-xp.maximum(Z, low)))
        return xp.where(Z < low, xp.exp(xp.minimum(Z, low)), course)

    def backward(self, ops: Any, dA: Any, Z: Any, A: Any) -> Any:
        return dA * A * (1 - A)


class GELU(Activation):
    name, summary = "gelu", "Z Phi(Z), Phi the normal CDF (the exact erf form, PyTorch's default)"
    torch_layer = ("GELU", {"approximate": "none"})
    needs_input = True

    def forward(self, ops: Any, Z: Any) -> Any:
        return Z * 0.5 * (1 + ops.erf(Z * _SQRT1_2))

    def backward(self, ops: Any, dA: Any, Z: Any, A: Any) -> Any:
        cdf = 0.5 * (1 + ops.erf(Z * _SQRT1_2))
        pdf = ops.xp.exp(-0.5 * Z * Z) * (1 / _SQRT_2PI)
        return dA * (cdf + Z * pdf)


class SiLU(Activation):
    name, summary = "silu", "Z sigmoid(Z) (also called swish)"
    torch_layer = ("SiLU", {})
    needs_input = True

    def forward(self, ops: Any, Z: Any) -> Any:
        return Z * SIGMOID.forward(ops, Z)

    def backward(self, ops: Any, dA: Any, Z: Any, A: Any) -> Any:
        s = SIGMOID.forward(ops, Z)
        return dA * s * (1 + Z * (1 - s))


SIGMOID = Sigmoid()

#: Every hidden activation by name, in the order the docs list them.
ACTIVATIONS: dict[str, Activation] = {
    a.name: a for a in (ReLU(), SIGMOID, Tanh(), LeakyReLU(), GELU(), SiLU())
}


def activation(name: Any, func: str = "portable_dnn", argument: str = "activation") -> Activation:
    """The declared activation called ``name`` (an :class:`Activation` passes through).

    >>> activation("tanh")
    <activation 'tanh'>
    >>> activation("swish")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: portable_dnn: activation must be one of 'relu', 'sigmoid', ..., 'silu', got 'swish'
    """
    if isinstance(name, Activation):
        return name
    found = ACTIVATIONS.get(name) if isinstance(name, str) else None
    if found is None:
        choices = ", ".join(repr(n) for n in ACTIVATIONS)
        raise ValueError(f"{func}: {argument} must be one of {choices}, got {name!r}")
    return found


# ---------------------------------------------------------------- erf


def _erf_series_terms(n: int) -> list[float]:
    return [2 / math.sqrt(math.pi) * (-1) ** k / (math.factorial(k) * (2 * k + 1)) for k in range(n)]


#: erf(x) = x * sum_k c_k x^(2k) (its Taylor series) for |x| <= 2: 30 terms reach
#: double precision there, and the alternating terms stay below 3 (little cancellation).
_ERF_TAYLOR = _erf_series_terms(30)
_ERF_SPLIT = 2.0
#: Depth of the continued fraction erfc(x) = exp(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + ...)))
#: used for |x| > 2, where 50 levels reach double precision.
_ERFC_DEPTH = 50


def erf(xp: Any, x: Any) -> Any:
    """The error function in Array API calls (the standard has none), to double precision.

    A backend whose library has its own ``erf`` uses that instead (see
    :meth:`~portable_dnn.backend.ops.Ops.erf`).

    >>> import array_api_compat.numpy as xp
    >>> float(erf(xp, xp.asarray(0.5)))  # math.erf(0.5) = 0.5204998778130465
    0.5204998778130465
    """
    a = xp.abs(x)
    small = xp.minimum(a, _ERF_SPLIT)
    u = small * small
    acc = xp.full_like(x, _ERF_TAYLOR[-1])
    for c in reversed(_ERF_TAYLOR[:-1]):
        acc = acc * u + c
    near = small * acc
    large = xp.maximum(a, _ERF_SPLIT)
    f = large
    for k in range(_ERFC_DEPTH, 0, -1):
        f = large + (k / 2) / f
    far = 1 - xp.exp(-large * large) / (math.sqrt(math.pi) * f)
    # A NaN x fails both comparisons and takes ``far``, which is NaN too.
    magnitude = xp.where(a <= _ERF_SPLIT, near, far)
    return xp.where(x < 0, -magnitude, magnitude)
