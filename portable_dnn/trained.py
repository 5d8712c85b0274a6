"""A trained network, described completely: what every export, summary and model file reads.

:func:`as_trained` turns whatever holds a trained network (a parameters dict, what
:func:`~portable_dnn.fit` returns, a model file, a fitted
:class:`~portable_dnn.sklearn.DNNClassifier` or ``DNNRegressor``) into one
:class:`TrainedNetwork`: host NumPy parameters, the hidden activation, the output, the
input's shape and the class labels where known, and how it was trained.

>>> import numpy as np
>>> net = as_trained({"W1": np.ones((3, 2)), "b1": np.zeros((3, 1))}, output="softmax")
>>> net.layer_dims, net.hidden, net.output, net.dtype
([2, 3], 'relu', 'softmax', 'float64')
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ._checks import check_activation, num_layers, shape_of
from ._schema import DTYPES, bad_field, classes_problem, input_shape_problem
from .backend import to_numpy
from .engine import HIDDEN, OUTPUTS
from .serialization import load_checkpoint, save_parameters

__all__ = ["TrainedNetwork", "as_trained", "summary"]

#: The entries of ``fit``'s settings that name the network rather than its training.
_NETWORK_KEYS = ("hidden_activation", "output")


@dataclasses.dataclass(frozen=True, eq=False)  # arrays have no one truth value: compared by identity
class TrainedNetwork:
    """A trained network: ``parameters`` (host NumPy ``W1, b1, ..., WL, bL``, read-only), the
    ``hidden`` activation, the ``output`` (``sigmoid``, ``softmax``, ``multilabel`` or
    ``identity``), ``input_shape`` (one example's shape before flattening, e.g. ``(64, 64, 3)``;
    None where unknown), ``classes`` (the label of each output, or None) and ``info`` (how it was
    trained: ``optimizer``, ``learning_rate``, ``epochs`` or ``iterations``, ``costs``, ...).

    Build it with :func:`as_trained`, which checks it.

    >>> import numpy as np, os, tempfile
    >>> net = as_trained({"W1": np.ones((1, 4)), "b1": np.zeros((1, 1))}, input_shape=(2, 2),
    ...                  classes=["dog", "cat"])
    >>> path = net.save(os.path.join(tempfile.mkdtemp(), "m.npz"))
    >>> again = as_trained(path)
    >>> again.input_shape, again.classes.tolist(), again.layer_dims
    ((2, 2), ['dog', 'cat'], [4, 1])
    """

    parameters: dict[str, np.ndarray]
    hidden: str = "relu"
    output: str = "sigmoid"
    input_shape: tuple[int, ...] | None = None
    classes: np.ndarray | None = None
    info: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def num_layers(self) -> int:
        return len(self.parameters) // 2

    @property
    def layer_dims(self) -> list[int]:
        """``[n0, n1, ..., nL]``: the input size, then each layer's units."""
        units = [shape_of(self.parameters[f"W{l}"])[0] for l in range(1, self.num_layers + 1)]
        return [shape_of(self.parameters["W1"])[1], *units]

    @property
    def dtype(self) -> str:
        """``"float32"`` or ``"float64"``."""
        return str(self.parameters["W1"].dtype)

    @property
    def activations(self) -> list[str]:
        """One name per layer, as a model file records them: the hidden activation, then the output."""
        return [self.hidden] * (self.num_layers - 1) + [self.output]

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the network to the model file ``path`` (:func:`~portable_dnn.save_parameters`,
        atomically) with everything it describes; return the path."""
        return save_parameters(
            self.parameters,
            path,
            activations=self.activations,
            metadata=self.info,
            input_shape=self.input_shape,
            classes=self.classes,
        )


def as_trained(
    model: Any,
    *,
    hidden: str | None = None,
    output: str | None = None,
    input_shape: Sequence[int] | None = None,
    classes: Any = None,
    info: Mapping[str, Any] | None = None,
) -> TrainedNetwork:
    """``model`` as a checked :class:`TrainedNetwork`.

    ``model`` is a :class:`TrainedNetwork`, a parameters dict (arrays of any backend; give
    ``hidden=`` and ``output=``, default ``relu`` and, as :func:`~portable_dnn.forward_proba`,
    ``sigmoid`` for one output unit, else ``softmax``), the ``(parameters, history)`` pair that
    :func:`~portable_dnn.fit` returns (its ``history["settings"]`` says the rest), the path of a
    model file, or a fitted ``DNNClassifier``/``DNNRegressor``. The keywords, where given,
    replace what the model says.

    >>> import numpy as np
    >>> import portable_dnn as dnn
    >>> X = np.array([[0.0, 1.0, 2.0, 3.0]]); Y = np.array([[0.1, 0.9, 2.1, 2.9]])
    >>> net = as_trained(dnn.fit(X, Y, [1, 3, 1], output="identity", hidden_activation="tanh",
    ...                          num_epochs=5, backend="numpy"))
    >>> net.hidden, net.output, net.info["optimizer"], net.info["epochs"]
    ('tanh', 'identity', 'gd', 5)
    """
    func = "as_trained"
    found = _described(func, model)
    given = {
        "hidden": hidden,
        "output": output,
        "input_shape": input_shape,
        "classes": classes,
        "info": info,
    }
    found.update({k: v for k, v in given.items() if v is not None})
    params = found["parameters"]
    L = num_layers(func, params)
    host = {f"{c}{l}": np.array(to_numpy(params[f"{c}{l}"])) for l in range(1, L + 1) for c in "Wb"}
    dtypes = {str(a.dtype) for a in host.values()}
    if len(dtypes) != 1 or not dtypes <= set(DTYPES):
        raise TypeError(f"{func}: parameters must share one dtype, float32 or float64, got {sorted(dtypes)}")
    for a in host.values():
        a.flags.writeable = False
    units = shape_of(host[f"W{L}"])[0]
    found.setdefault("hidden", "relu")
    found.setdefault("output", "sigmoid" if units == 1 else "softmax")
    check_activation(func, found["hidden"], HIDDEN)
    if found["output"] not in OUTPUTS:
        raise ValueError(
            f"{func}: output must be one of {', '.join(map(repr, OUTPUTS))}, got {found['output']!r}"
        )
    if found["output"] == "sigmoid" and units != 1 or found["output"] == "softmax" and units < 2:
        raise ValueError(
            f"{func}: a {found['output']} output needs {'one unit' if units != 1 else 'two or more units'}, "
            f"and W{L} has {units}"
        )
    labels = found.get("classes")
    net = TrainedNetwork(
        host,
        found["hidden"],
        found["output"],
        None if found.get("input_shape") is None else tuple(int(n) for n in found["input_shape"]),
        None if labels is None else _labels(labels),
        dict(found.get("info") or {}),
    )
    _check_record(func, net)
    return net


def _described(func: str, model: Any) -> dict[str, Any]:
    """What ``model`` says about itself: ``parameters`` and, where it knows them, ``hidden``,
    ``output``, ``input_shape``, ``classes`` and ``info``."""
    if isinstance(model, TrainedNetwork):
        return {f.name: getattr(model, f.name) for f in dataclasses.fields(model)}
    if isinstance(model, (str, os.PathLike)):
        params, _, meta = load_checkpoint(model, backend="numpy")
        acts = meta["activations"]
        hidden = set(acts[:-1])
        if len(hidden) > 1:
            raise ValueError(
                f"{func}: {os.fspath(model)!r} has layers of different activations {acts}; "
                "the engine runs one hidden activation"
            )
        found = {"parameters": params, "output": acts[-1], "info": meta["metadata"]}
        found.update({k: meta[k] for k in ("input_shape", "classes") if meta[k] is not None})
        if hidden:
            found["hidden"] = hidden.pop()
        return found
    if isinstance(model, tuple) and len(model) == 2 and isinstance(model[1], Mapping):
        params, history = model
        settings = dict(history.get("settings", {}))
        info = {k: v for k, v in settings.items() if k not in _NETWORK_KEYS}
        info.update(epochs=len(history.get("cost", [])), costs=[float(c) for c in history.get("cost", [])])
        found = {"parameters": params, "info": info}
        for key, name in zip(_NETWORK_KEYS, ("hidden", "output")):
            if key in settings:
                found[name] = settings[key]
        return found
    if isinstance(model, Mapping):
        return {"parameters": model}
    if hasattr(model, "parameters_") and hasattr(model, "activation"):
        found = _described(func, (model.parameters_, model.history_))
        found["hidden"], found["output"] = model.activation, model._output
        if getattr(model, "classes_", None) is not None and model._output != "multilabel":
            found["classes"] = model.classes_
        return found
    if hasattr(model, "get_params") and hasattr(model, "activation"):
        raise ValueError(f"{func}: this {type(model).__name__} is not fitted yet; call fit first")
    raise TypeError(
        f"{func}: model must be a parameters dict, fit's (parameters, history), a model file's path, a "
        f"fitted DNNClassifier or DNNRegressor, or a TrainedNetwork; got {type(model).__name__}"
    )


def _labels(classes: Any) -> np.ndarray:
    """Class labels as a read-only NumPy array; strings held as Python objects or bytes become str."""
    labels = np.array(classes if isinstance(classes, (list, tuple)) else to_numpy(classes))
    if labels.dtype.kind == "S":
        labels = np.char.decode(labels, "utf-8")
    elif labels.dtype.kind == "O" and all(isinstance(v, str) for v in labels.flat):
        labels = labels.astype(str)
    labels.flags.writeable = False
    return labels


def _check_record(func: str, net: TrainedNetwork) -> None:
    """Refuse what a model file could not hold, now rather than at a save: the file's own checks."""
    dims = net.layer_dims
    if net.input_shape is not None:
        problem = input_shape_problem(np.array(net.input_shape, dtype=np.int64), dims[0])
        if problem:
            raise ValueError(f"{func}: input_shape {net.input_shape!r} {problem}")
    if net.classes is not None:
        problem = classes_problem(net.classes, dims[-1], net.output)
        if problem:
            raise ValueError(f"{func}: classes {net.classes.tolist()!r} {problem}")
    bad = bad_field(net.info)
    if bad is not None:
        raise ValueError(f"{func}: info[{bad[0]!r}] must be {bad[1]}, got {net.info[bad[0]]!r}")
    for key, a in net.parameters.items():
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{func}: parameters[{key!r}] holds NaN or infinite values")


def summary(model: Any, *, print_fn: Callable[[str], Any] | None = print) -> str:
    """A table of ``model``'s layers (anything :func:`as_trained` takes), as Keras's ``summary()``:
    each layer's units, activation, weight shape and parameter count, the totals and dtype, the
    input's shape and the classes where known, and how the network was trained. Printed with
    ``print_fn`` (None: not printed) and returned.

    >>> import numpy as np
    >>> net = as_trained({"W1": np.ones((3, 4)), "b1": np.zeros((3, 1)), "W2": np.ones((1, 3)),
    ...                   "b2": np.zeros((1, 1))}, input_shape=(2, 2), classes=["dog", "cat"],
    ...                  info={"optimizer": "adam", "learning_rate": 0.01, "epochs": 3,
    ...                        "costs": [0.7, 0.5]})
    >>> text = summary(net)
    Network 4-3-1, float64
    Input: 4 features, one example of shape (2, 2)
    Layer  Units  Activation  Weights  Parameters
    1          3  relu        (3, 4)           15
    2          1  sigmoid     (1, 3)            4
    Total parameters: 19 (152 bytes)
    Classes: 'dog' (0), 'cat' (1)
    Trained: adam, learning rate 0.01, 3 epochs, last cost 0.5
    """
    net = as_trained(model)
    dims = net.layer_dims
    shape = "" if net.input_shape is None else f", one example of shape {net.input_shape}"
    rows = [("Layer", "Units", "Activation", "Weights", "Parameters")]
    for l, act in enumerate(net.activations, start=1):
        W = net.parameters[f"W{l}"]
        rows.append((str(l), str(dims[l]), act, str(W.shape), f"{W.size + dims[l]:,}"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    right = (False, True, False, False, True)
    lines = [f"Network {'-'.join(map(str, dims))}, {net.dtype}", f"Input: {dims[0]} features{shape}"]
    for row in rows:
        cells = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right)]
        lines.append("  ".join(cells).rstrip())
    total = sum(a.size for a in net.parameters.values())
    nbytes = sum(a.nbytes for a in net.parameters.values())
    lines.append(f"Total parameters: {total:,} ({nbytes:,} bytes)")
    if net.classes is not None:
        lines.append("Classes: " + ", ".join(f"{c!r} ({i})" for i, c in enumerate(net.classes.tolist())))
    trained = _training(net.info)
    if trained:
        lines.append(f"Trained: {trained}")
    text = "\n".join(lines)
    if print_fn is not None:
        print_fn(text)
    return text


def _training(info: Mapping[str, Any]) -> str:
    """How the network was trained, in words, from what its record holds."""
    parts = []
    if "optimizer" in info:
        parts.append(str(info["optimizer"]))
    if "learning_rate" in info:
        parts.append(f"learning rate {info['learning_rate']}")
    if info.get("batch_size") is not None:
        parts.append(f"mini-batches of {info['batch_size']}")
    for unit in ("epochs", "iterations"):
        if unit in info:
            parts.append(f"{info[unit]} {unit}")
    if info.get("costs"):
        parts.append(f"last cost {info['costs'][-1]:.6g}")
    if "data" in info:
        parts.append(f"on {info['data']}")
    return ", ".join(parts)
