"""Figures for training runs: the cost curve, mislabeled images, decision boundaries.

Needs matplotlib (``pip install 'portable_dnn[plot]'``); ``import portable_dnn``
never imports this module. Each function draws on a new
:class:`matplotlib.figure.Figure` (or on the ``ax`` it is given), never touches
pyplot's global state, returns the figure, and writes it to ``path`` when one
is given. Arrays may come from any backend: they are brought to the host with
:func:`~portable_dnn.to_numpy` first.

>>> from portable_dnn.plotting import plot_costs
>>> fig = plot_costs([0.69, 0.52, 0.31], learning_rate=0.0075)
>>> fig.axes[0].get_title()
'Cost (learning rate 0.0075)'
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import to_numpy

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_costs", "plot_mislabeled", "plot_decision_boundary"]

#: Font size of the image labels and tick labels: legible when the figure is shown at its size.
LABEL_FONTSIZE = 9
TITLE_FONTSIZE = 12


def _figure(figsize: tuple[float, float]) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "portable_dnn.plotting needs matplotlib: pip install 'portable_dnn[plot]'"
        ) from None
    return Figure(figsize=figsize, layout="constrained")


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig = _figure(figsize)
    return fig, fig.subplots()


def _save(fig: Figure, path: str | os.PathLike[str] | None) -> None:
    if path is not None:
        fig.savefig(path, dpi=100)


def _row(func: str, name: str, a: Any) -> np.ndarray:
    """A ``(1, m)`` or ``(m,)`` array of any backend as a flat host array."""
    host = np.asarray(to_numpy(a))
    if host.ndim == 2 and host.shape[0] == 1:
        return host.reshape(-1)
    if host.ndim == 1:
        return host
    raise ValueError(f"{func}: {name} must have shape (1, m) or (m,), got {host.shape}")


def plot_costs(
    costs: Sequence[float] | Mapping[str, Sequence[float]],
    *,
    learning_rate: float | None = None,
    every: int = 100,
    xlabel: str = "iteration",
    title: str | None = None,
    logy: bool = False,
    ax: Axes | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Draw the cost curve of a training run (or several, for comparison).

    Parameters
    ----------
    costs : sequence of float, or mapping of str to sequence of float
        The recorded costs, as :func:`~portable_dnn.L_layer_model` returns them
        (one every ``every`` iterations), or ``{label: costs}`` to draw several
        runs on one axes with a legend.
    learning_rate : float, optional
        Shown in the default title.
    every : int
        Iterations (or epochs) between two recorded costs: 100 for the course's
        models, 1 for the per-epoch ``history["cost"]`` of :func:`~portable_dnn.fit`.
    xlabel : str
        Label of the x axis.
    title : str, optional
        Default: ``"Cost"``, with the learning rate when given.
    logy : bool
        Draw the cost on a log scale.
    ax : matplotlib.axes.Axes, optional
        Draw there instead of on a new figure.
    path : str or os.PathLike, optional
        Also write the figure there (the format follows the extension).

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    func = "plot_costs"
    runs = dict(costs) if isinstance(costs, Mapping) else {"": costs}
    if every < 1:
        raise ValueError(f"{func}: every must be a positive integer, got {every!r}")
    fig, ax = _axes(ax, (6.0, 4.0))
    for label, run in runs.items():
        values = [float(c) for c in run]
        ax.plot([every * i for i in range(len(values))], values, label=label or None)
    if len(runs) > 1:
        ax.legend(fontsize=LABEL_FONTSIZE)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cost")
    if title is None:
        title = "Cost" if learning_rate is None else f"Cost (learning rate {learning_rate})"
    ax.set_title(title, fontsize=TITLE_FONTSIZE)
    ax.grid(alpha=0.3)
    _save(fig, path)
    return fig


def _images(func: str, X: Any, m: int, image_shape: Sequence[int] | None) -> np.ndarray:
    """``X`` as ``m`` images ``(m, h, w[, c])`` with values in [0, 1]."""
    host = np.asarray(to_numpy(X))
    if host.ndim == 2:
        # Flattened columns (features, m), as flatten_images gives them.
        if host.shape[1] != m:
            raise ValueError(
                f"{func}: X has {host.shape[1]} columns (examples) but the labels have {m} entries"
            )
        if image_shape is None:
            side = math.isqrt(host.shape[0] // 3)
            if 3 * side * side == host.shape[0]:
                image_shape = (side, side, 3)
            else:
                side = math.isqrt(host.shape[0])
                if side * side != host.shape[0]:
                    raise ValueError(
                        f"{func}: cannot tell the image shape of {host.shape[0]} features; "
                        "pass image_shape=(height, width[, channels])"
                    )
                image_shape = (side, side)
        if math.prod(image_shape) != host.shape[0]:
            raise ValueError(
                f"{func}: image_shape {tuple(image_shape)} does not hold {host.shape[0]} features"
            )
        images = host.T.reshape(m, *image_shape)
    elif host.ndim in (3, 4):
        if host.shape[0] != m:
            raise ValueError(f"{func}: X has {host.shape[0]} images but the labels have {m} entries")
        images = host
    else:
        raise ValueError(
            f"{func}: X must be images (m, height, width[, channels]) or flattened columns "
            f"(features, m), got shape {host.shape}"
        )
    if images.dtype.kind in "ui" or images.max(initial=0) > 1.0:
        images = images / 255.0
    return np.clip(images.astype(np.float64, copy=False), 0.0, 1.0)


def _class_name(classes: Sequence[Any] | np.ndarray | None, k: int) -> str:
    if classes is None:
        return str(k)
    name = classes[k]
    if isinstance(name, (bytes, np.bytes_)):
        return bytes(name).decode("utf-8")
    return str(name)


def plot_mislabeled(
    X: Any,
    Y: Any,
    predictions: Any,
    *,
    classes: Sequence[Any] | np.ndarray | None = None,
    image_shape: Sequence[int] | None = None,
    max_images: int = 10,
    ncols: int = 5,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Draw a grid of the images whose prediction differs from the label.

    Each image is labeled ``predicted: <class>`` and ``true: <class>`` under it,
    the course's ``print_mislabeled_images`` as one figure.

    Parameters
    ----------
    X : array
        The images, either as loaded ``(m, height, width[, channels])`` or as the
        flattened columns ``(features, m)`` that :func:`~portable_dnn.flatten_images`
        returns. Integer images are read as 0..255, floating ones as 0..1 (or
        0..255 when larger than 1).
    Y, predictions : array
        True labels and predicted labels, ``(1, m)`` or ``(m,)``.
    classes : sequence, optional
        Class names indexed by label (the course's ``classes``, bytes or str);
        default: the label numbers.
    image_shape : sequence of int, optional
        ``(height, width[, channels])`` of flattened columns; default: square
        RGB images (``12288 = 64 * 64 * 3``), else square gray ones.
    max_images : int
        Draw at most this many (the first ones in order).
    ncols : int
        Images per row.
    title : str, optional
        Default: ``"Mislabeled images (k of m)"``.
    path : str or os.PathLike, optional
        Also write the figure there.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    func = "plot_mislabeled"
    y = _row(func, "Y", Y)
    p = _row(func, "predictions", predictions)
    if y.shape != p.shape:
        raise ValueError(f"{func}: Y has {y.shape[0]} labels but predictions has {p.shape[0]}")
    if max_images < 1 or ncols < 1:
        raise ValueError(f"{func}: max_images and ncols must be positive, got {max_images} and {ncols}")
    images = _images(func, X, y.shape[0], image_shape)
    wrong = np.flatnonzero(np.rint(p) != np.rint(y))
    shown = wrong[:max_images]
    if title is None:
        title = f"Mislabeled images ({wrong.size} of {y.shape[0]})"
        if shown.size < wrong.size:
            title += f", first {shown.size} shown"
    cols = max(1, min(ncols, shown.size))
    rows = max(1, math.ceil(shown.size / cols))
    fig = _figure((2.0 * cols + 0.4, 2.35 * rows + 0.6))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).reshape(-1)
    for ax in axes:
        ax.set_axis_off()
    if shown.size == 0:
        axes[0].text(0.5, 0.5, "no mislabeled images", ha="center", va="center", fontsize=LABEL_FONTSIZE + 2)
    for ax, i in zip(axes, shown):
        image = images[i]
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, interpolation="nearest", vmin=0, vmax=1)
        predicted = _class_name(classes, int(np.rint(p[i])))
        true = _class_name(classes, int(np.rint(y[i])))
        ax.set_title(f"predicted: {predicted}\ntrue: {true}", fontsize=LABEL_FONTSIZE)
    fig.suptitle(title, fontsize=TITLE_FONTSIZE)
    _save(fig, path)
    return fig


def plot_decision_boundary(
    model: Callable[[np.ndarray], Any] | Mapping[str, Any],
    X: Any,
    Y: Any,
    *,
    resolution: int = 300,
    margin: float = 0.5,
    hidden_activation: str = "relu",
    title: str | None = None,
    ax: Axes | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Draw a two-feature classifier's regions with the data on top.

    Parameters
    ----------
    model : callable or dict of arrays
        Either a function taking host points ``(2, k)`` (features x examples)
        and returning labels ``(1, k)`` or ``(k,)`` of any backend, or trained
        parameters (as :func:`~portable_dnn.fit` returns them), whose labels
        :func:`~portable_dnn.predict_labels` gives.
    X : array
        The data, ``(2, m)``.
    Y : array
        Its labels, ``(1, m)`` or ``(m,)``.
    resolution : int
        Grid points along each axis.
    margin : float
        Space drawn around the data.
    hidden_activation : str
        Hidden activation of ``model`` when it is a parameter dict.
    title : str, optional
        The axes' title.
    ax : matplotlib.axes.Axes, optional
        Draw there instead of on a new figure (to put several models side by side).
    path : str or os.PathLike, optional
        Also write the figure there.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    func = "plot_decision_boundary"
    host = np.asarray(to_numpy(X), dtype=np.float64)
    if host.ndim != 2 or host.shape[0] != 2:
        raise ValueError(f"{func}: X must have shape (2, m), two features per column, got {host.shape}")
    y = _row(func, "Y", Y)
    if y.shape[0] != host.shape[1]:
        raise ValueError(f"{func}: X has {host.shape[1]} columns but Y has {y.shape[0]} labels")
    labels_of: Callable[[np.ndarray], Any]
    if isinstance(model, Mapping):
        from .backend import backend_of
        from .fit import predict_labels

        parameters = model
        be = backend_of(parameters["W1"])
        dtype = str(parameters["W1"].dtype).rsplit(".", 1)[-1]  # 'float32' from any library's name

        def from_parameters(points: np.ndarray) -> Any:
            X_grid = be.asarray(points, dtype=dtype)
            return predict_labels(X_grid, parameters, hidden_activation=hidden_activation)

        labels_of = from_parameters
    else:
        labels_of = model

    x0_min, x0_max = host[0].min() - margin, host[0].max() + margin
    x1_min, x1_max = host[1].min() - margin, host[1].max() + margin
    xx, yy = np.meshgrid(np.linspace(x0_min, x0_max, resolution), np.linspace(x1_min, x1_max, resolution))
    grid = np.stack([xx.ravel(), yy.ravel()])
    zz = np.asarray(to_numpy(labels_of(grid)), dtype=np.float64).reshape(xx.shape)
    n_classes = int(max(zz.max(), y.max())) + 1
    fig, ax = _axes(ax, (5.0, 4.0))
    ax.contourf(xx, yy, zz, levels=np.arange(n_classes + 1) - 0.5, cmap="RdBu", alpha=0.35)
    ax.scatter(host[0], host[1], c=y, cmap="RdBu", edgecolors="k", linewidths=0.4, s=16)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title is not None:
        ax.set_title(title, fontsize=TITLE_FONTSIZE)
    _save(fig, path)
    return fig
