"""A trained network in and out of PyTorch (``nn.Sequential``) and scikit-learn (``MLPClassifier``,
``MLPRegressor``), weights bit for bit.

PyTorch and scikit-learn serve here as model formats, not as array backends: the
functions read and write host NumPy weights, as the model files do, so this module
sits beside ``serialization`` rather than under ``backend/``. Each library is imported
inside the function that needs it, so that ``import portable_dnn`` never imports them.

>>> import numpy as np
>>> from portable_dnn.trained import as_trained
>>> net = as_trained({"W1": np.ones((3, 2)), "b1": np.zeros((3, 1)),
...                   "W2": np.ones((1, 3)), "b2": np.zeros((1, 1))}, hidden="tanh")
>>> est = to_sklearn(net)
>>> type(est).__name__, est.activation, est.coefs_[0].shape
('MLPClassifier', 'tanh', (2, 3))
>>> back = from_sklearn(est)
>>> back.hidden, back.output, all((back.parameters[k] == net.parameters[k]).all() for k in net.parameters)
('tanh', 'sigmoid', True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend.activations import ACTIVATIONS
from .engine import HIDDEN
from .trained import TrainedNetwork, as_trained

__all__ = ["to_torch", "from_torch", "to_sklearn", "from_sklearn"]

# Both directions of each conversion read these views of the activations' declarations.
TORCH_ACTIVATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    name: a.torch_layer for name, a in ACTIVATIONS.items()
}
SKLEARN_ACTIVATIONS = {name: a.sklearn_name for name, a in ACTIVATIONS.items() if a.sklearn_name}
# Layers that compute nothing at inference.
_NO_OPS = ("Identity", "Dropout")


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError("PyTorch is not installed: pip install 'portable_dnn[torch]'") from None
    return torch


def _torch_activation(nn: Any, name: str) -> Any:
    cls, kwargs = TORCH_ACTIVATIONS[name]
    return getattr(nn, cls)(**kwargs)


def to_torch(model: Any, output: bool = True) -> Any:
    """The network as a ``torch.nn.Sequential`` taking ``(m, features)`` rows: ``Linear`` layers
    holding its weights (its dtype, on the CPU) and its activations.

    ``model`` is anything :func:`~portable_dnn.trained.as_trained` reads. The output's
    activation (``Sigmoid`` for sigmoid and multilabel, ``Softmax(dim=1)``, none for
    identity) ends the module; ``output=False`` leaves it out, so that it returns logits.

    >>> import numpy as np, pytest
    >>> torch = pytest.importorskip("torch")  # the example needs PyTorch
    >>> params = {"W1": np.array([[2.0, -1.0]]), "b1": np.array([[0.5]])}
    >>> module = to_torch(params)
    >>> module
    Sequential(
      (0): Linear(in_features=2, out_features=1, bias=True)
      (1): Sigmoid()
    )
    >>> module(torch.tensor([[1.0, 1.0]], dtype=torch.float64)).detach()
    tensor([[0.8176]], dtype=torch.float64)
    """
    torch = _torch()
    nn = torch.nn
    net = as_trained(model)
    dtype = getattr(torch, net.dtype)
    layers = []
    for l in range(1, net.num_layers + 1):
        W, b = net.parameters[f"W{l}"], net.parameters[f"b{l}"]
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.array(W)))  # a writable copy of the read-only weights
            linear.bias.copy_(torch.from_numpy(np.array(b[:, 0])))
        layers.append(linear)
        if l < net.num_layers:
            layers.append(_torch_activation(nn, net.hidden))
    if output and net.output in ("sigmoid", "multilabel"):
        layers.append(nn.Sigmoid())
    elif output and net.output == "softmax":
        layers.append(nn.Softmax(dim=1))
    return nn.Sequential(*layers)


def _layers(nn: Any, module: Any) -> list[Any]:
    """The layers of an ``nn.Sequential`` (nested ones flattened), without the no-op ones."""
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"from_torch: module must be a torch.nn.Sequential, got {type(module).__name__}")
    out = []
    for layer in module:
        if isinstance(layer, nn.Sequential):
            out.extend(_layers(nn, layer))
        elif type(layer).__name__ not in _NO_OPS:
            out.append(layer)
    return out


def _activation_name(nn: Any, layer: Any) -> str:
    """The hidden activation ``layer`` computes, or ``ValueError`` naming what it is."""
    for name in HIDDEN:
        cls, kwargs = TORCH_ACTIVATIONS[name]
        if type(layer) is getattr(nn, cls):
            if all(getattr(layer, k) == v for k, v in kwargs.items()):
                return name
            raise ValueError(
                f"from_torch: {layer!r} is not a layer portable_dnn can express "
                f"(its {name} is {_torch_activation(nn, name)!r})"
            )
    raise ValueError(f"from_torch: {type(layer).__name__} is not a layer portable_dnn can express")


def _output_of(nn: Any, layer: Any, units: int) -> str:
    if isinstance(layer, nn.Sigmoid):
        return "sigmoid" if units == 1 else "multilabel"
    if isinstance(layer, nn.Softmax) and layer.dim in (1, -1):
        return "softmax"
    raise ValueError(f"from_torch: {layer!r} after the last Linear is not an output portable_dnn has")


def from_torch(module: Any, output: str | None = None) -> TrainedNetwork:
    """The network of a ``torch.nn.Sequential`` of ``Linear`` layers and activations, as a
    :class:`~portable_dnn.trained.TrainedNetwork` (weights copied to host NumPy, same bits).

    The activation after the last ``Linear`` gives the output (``Sigmoid``: sigmoid for one
    unit, else multilabel; ``Softmax(dim=1)``); without one it is ``identity`` unless
    ``output`` names what the logits feed (e.g. ``"softmax"`` for a module trained with
    ``CrossEntropyLoss``). ``Dropout`` and ``Identity`` are skipped; any other layer is refused
    by name.

    >>> import pytest
    >>> torch = pytest.importorskip("torch")  # the example needs PyTorch
    >>> from_torch(torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Softmax(dim=1))).output
    'softmax'
    >>> from_torch(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3)))
    Traceback (most recent call last):
    ...
    ValueError: from_torch: Conv2d is not a layer portable_dnn can express
    """
    nn = _torch().nn
    layers = _layers(nn, module)
    for layer in layers:  # anything else is refused by name before the structure is read
        if not isinstance(layer, (nn.Linear, nn.Softmax)):
            _activation_name(nn, layer)
    linear = [i for i, layer in enumerate(layers) if isinstance(layer, nn.Linear)]
    if not linear or linear[0] != 0:
        first = type(layers[0]).__name__ if layers else "nothing"
        raise ValueError(f"from_torch: the module must start with a Linear layer, got {first}")
    params: dict[str, np.ndarray] = {}
    hidden: set[str] = set()
    ends = [*linear[1:], len(layers)]
    for l, (i, end) in enumerate(zip(linear, ends), start=1):
        W = layers[i].weight.detach().cpu().numpy().copy()
        bias = layers[i].bias
        b = np.zeros(W.shape[0], W.dtype) if bias is None else bias.detach().cpu().numpy().copy()
        params[f"W{l}"], params[f"b{l}"] = W, b.reshape(-1, 1)
        between = layers[i + 1 : end]
        if l < len(linear) and (len(between) != 1 or isinstance(between[0], nn.Softmax)):
            names = [type(x).__name__ for x in between]
            raise ValueError(
                f"from_torch: Linear layers {l} and {l + 1} need one activation between them, got {names}"
            )
        if l < len(linear):
            hidden.add(_activation_name(nn, between[0]))
        elif len(between) > 1:
            raise ValueError(
                f"from_torch: the last Linear is followed by {len(between)} layers; one output at most"
            )
    tail = layers[linear[-1] + 1 :]
    found = _output_of(nn, tail[0], params[f"W{len(linear)}"].shape[0]) if tail else None
    if len(hidden) > 1:
        raise ValueError(
            f"from_torch: the hidden layers use {sorted(hidden)}; portable_dnn runs one activation"
        )
    if found is not None and output is not None and output != found:
        raise ValueError(f"from_torch: the module ends in a {found} output, but output={output!r} was given")
    return as_trained(params, hidden=hidden.pop() if hidden else None, output=found or output or "identity")


def to_sklearn(model: Any) -> Any:
    """The network as a fitted scikit-learn ``MLPClassifier`` (sigmoid, softmax, multilabel output)
    or ``MLPRegressor`` (identity), whose ``predict``/``predict_proba`` give the network's answers.

    ``coefs_`` and ``intercepts_`` hold the weights transposed (scikit-learn multiplies rows);
    ``classes_`` are the network's labels (``0, 1, ...`` where it has none), sorted as
    scikit-learn keeps them, the output units reordered to match (a one-unit output whose
    labels are in reverse order is negated). A two-unit softmax becomes scikit-learn's single
    logistic unit (``W[1] - W[0]``, ``b[1] - b[0]``). These give the same probabilities to
    rounding; otherwise :func:`from_sklearn` reads back the same bits. scikit-learn has no
    leaky_relu, gelu or silu: those are refused.

    >>> import numpy as np
    >>> est = to_sklearn({"W1": np.array([[2.0, -1.0]]), "b1": np.array([[0.5]])})
    >>> est.predict_proba(np.array([[1.0, 1.0]])).round(4), est.classes_
    (array([[0.1824, 0.8176]]), array([0, 1]))
    """
    try:
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        from sklearn.preprocessing import LabelBinarizer
    except ImportError:
        raise ImportError("scikit-learn is not installed: pip install 'portable_dnn[sklearn]'") from None
    net = as_trained(model)
    if net.hidden not in SKLEARN_ACTIVATIONS and net.num_layers > 1:
        raise ValueError(
            f"to_sklearn: scikit-learn's MLP has no {net.hidden} activation "
            f"(it has {', '.join(SKLEARN_ACTIVATIONS)})"
        )
    Ws, bs, labels = _sklearn_layers(net)
    est = (MLPRegressor if net.output == "identity" else MLPClassifier)(
        hidden_layer_sizes=tuple(W.shape[0] for W in Ws[:-1]),
        activation=SKLEARN_ACTIVATIONS.get(net.hidden, "relu"),
    )
    est.coefs_ = [np.array(W.T) for W in Ws]
    est.intercepts_ = [np.array(b) for b in bs]
    est.n_features_in_ = Ws[0].shape[1]
    est.n_layers_ = net.num_layers + 1
    est.n_outputs_ = Ws[-1].shape[0]
    est.out_activation_ = (
        "identity"
        if net.output == "identity"
        else "softmax"
        if est.n_outputs_ > 1 and net.output == "softmax"
        else "logistic"
    )
    est.n_iter_ = est.t_ = 0
    est.loss_curve_ = [float(c) for c in net.info.get("costs", [])]
    est.loss_ = est.loss_curve_[-1] if est.loss_curve_ else None
    est.best_loss_, est.validation_scores_, est.best_validation_score_ = est.loss_, None, None
    if labels is not None:
        est._label_binarizer = LabelBinarizer().fit(labels)
        est.classes_ = est._label_binarizer.classes_
    return est


def _sklearn_layers(net: TrainedNetwork) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray | None]:
    """The weights and intercepts of ``net`` as scikit-learn holds them, and the labels its
    ``LabelBinarizer`` is fitted on (None for a regression)."""
    Ws = [net.parameters[f"W{l}"] for l in range(1, net.num_layers + 1)]
    bs = [net.parameters[f"b{l}"][:, 0] for l in range(1, net.num_layers + 1)]
    units = Ws[-1].shape[0]
    if net.output == "identity":
        return Ws, bs, None
    if net.output == "multilabel":
        if net.classes is not None and net.classes.tolist() != list(range(units)):
            raise ValueError(
                f"to_sklearn: scikit-learn labels a multilabel output's columns 0..{units - 1}, "
                f"not {net.classes.tolist()!r}"
            )
        return Ws, bs, np.eye(units, dtype=np.int64)  # an indicator matrix: the multilabel binarizer
    labels = np.arange(max(units, 2)) if net.classes is None else net.classes
    # scikit-learn keeps classes_ sorted: the output units follow them.
    order = np.argsort(labels, kind="stable")
    if net.output == "softmax":
        Ws[-1], bs[-1] = Ws[-1][order], bs[-1][order]
    elif order[0] == 1:  # one unit for the second label: sigmoid(-z) answers for the first
        Ws[-1], bs[-1] = -Ws[-1], -bs[-1]
    if units == 2:  # sigmoid(z1 - z0) is a two-unit softmax's second probability
        Ws[-1], bs[-1] = Ws[-1][1:] - Ws[-1][:1], bs[-1][1:] - bs[-1][:1]
    return Ws, bs, labels


def from_sklearn(estimator: Any) -> TrainedNetwork:
    """The network of a fitted scikit-learn ``MLPClassifier`` or ``MLPRegressor``, weights
    transposed back to ``W1 (n1, n0)``, ..., bit for bit.

    The output follows ``out_activation_``: ``logistic`` is sigmoid for one output (binary,
    with ``classes_`` as labels) and multilabel for several, ``softmax`` keeps ``classes_``,
    ``identity`` is a regression.

    >>> import numpy as np
    >>> from sklearn.neural_network import MLPClassifier
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = ["no", "no", "yes", "yes"]
    >>> net = from_sklearn(MLPClassifier((3,), solver="lbfgs", random_state=0).fit(X, y))
    >>> net.layer_dims, net.output, net.classes.tolist()
    ([1, 3, 1], 'sigmoid', ['no', 'yes'])
    """
    func = "from_sklearn"
    if not hasattr(estimator, "out_activation_") or not hasattr(estimator, "coefs_"):
        raise TypeError(
            f"{func}: estimator must be a fitted MLPClassifier or MLPRegressor, "
            f"got {type(estimator).__name__}"
        )
    names = {v: k for k, v in SKLEARN_ACTIVATIONS.items()}
    if estimator.activation not in names and len(estimator.coefs_) > 1:
        raise ValueError(f"{func}: portable_dnn has no {estimator.activation!r} hidden activation")
    outputs = {"identity": "identity", "softmax": "softmax"}
    if estimator.out_activation_ == "logistic":
        outputs["logistic"] = "sigmoid" if estimator.n_outputs_ == 1 else "multilabel"
    if estimator.out_activation_ not in outputs:
        raise ValueError(f"{func}: portable_dnn has no {estimator.out_activation_!r} output")
    output = outputs[estimator.out_activation_]
    params: dict[str, np.ndarray] = {}
    for l, (W, b) in enumerate(zip(estimator.coefs_, estimator.intercepts_), start=1):
        params[f"W{l}"], params[f"b{l}"] = np.array(W.T), np.array(b).reshape(-1, 1)
    classes = getattr(estimator, "classes_", None) if output in ("sigmoid", "softmax") else None
    return as_trained(params, hidden=names.get(estimator.activation, "relu"), output=output, classes=classes)
