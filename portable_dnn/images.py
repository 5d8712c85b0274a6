"""Your own pictures through a trained network, as the course's application notebook ends.

Each file is read with Pillow, converted to RGB (an alpha channel is dropped, a grey or
palette picture expanded), turned upright where its EXIF data says so, resized to the
network's input image with bicubic resampling and flattened as the course's data is
(:func:`~portable_dnn.datasets.flatten_images`: ``x.reshape(m, -1).T / 255``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple, overload

import numpy as np

from ._checks import check_file
from .datasets import flatten_images
from .fit import forward_proba
from .trained import TrainedNetwork, as_trained

__all__ = ["ImagePrediction", "predict_image", "read_image"]


class ImagePrediction(NamedTuple):
    """One picture's answer: its ``path``, the ``label`` the network gives it (a class label
    where the model has them, else the class index) and the network's ``probability`` of it."""

    path: str
    label: Any
    probability: float


def _pillow(func: str) -> Any:
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise ImportError(f"{func} needs Pillow: pip install 'portable_dnn[image]'") from None
    return Image, ImageOps


def read_image(path: str | os.PathLike[str], size: tuple[int, int]) -> np.ndarray:
    """The picture in ``path`` as a ``(height, width, 3)`` uint8 array of the ``(height, width)`` given.

    >>> import os, tempfile
    >>> from PIL import Image
    >>> path = os.path.join(tempfile.mkdtemp(), "red.png")
    >>> Image.new("RGBA", (10, 7), (255, 0, 0, 128)).save(path)
    >>> x = read_image(path, (4, 4))
    >>> x.shape, x.dtype, x[0, 0].tolist()
    ((4, 4, 3), dtype('uint8'), [255, 0, 0])
    """
    func = "read_image"
    Image, ImageOps = _pillow(func)
    path = check_file(func, path, "image file")
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode == "P":  # a palette's transparency goes through RGBA without a warning
                img = img.convert("RGBA")
            rgb = img.convert("RGB").resize((size[1], size[0]), Image.Resampling.BICUBIC)
    except (Image.UnidentifiedImageError, OSError, SyntaxError) as exc:  # SyntaxError: a broken header
        raise ValueError(f"{func}: {path!r} is not an image Pillow can read ({exc})") from None
    return np.asarray(rgb, dtype=np.uint8)


def _image_size(func: str, net: TrainedNetwork) -> tuple[int, int]:
    """The (height, width) of the RGB image ``net`` takes: its recorded input shape, else the square one."""
    n_x = net.layer_dims[0]
    if net.input_shape is not None:
        if len(net.input_shape) != 3 or net.input_shape[2] != 3:
            raise ValueError(
                f"{func}: the model's input is {net.input_shape}, not an RGB image (height, width, 3)"
            )
        return net.input_shape[0], net.input_shape[1]
    side = int(round((n_x / 3) ** 0.5))
    if 3 * side * side != n_x:
        raise ValueError(
            f"{func}: the model takes {n_x} features and records no input shape; that is not an RGB "
            "image's height * width * 3 (save the model with its input_shape)"
        )
    return side, side


@overload
def predict_image(model: Any, path_or_paths: str | os.PathLike[str]) -> ImagePrediction: ...


@overload
def predict_image(
    model: Any, path_or_paths: list[str] | list[os.PathLike[str]] | tuple[str, ...]
) -> list[ImagePrediction]: ...


def predict_image(model: Any, path_or_paths: Any) -> ImagePrediction | list[ImagePrediction]:
    """Label pictures with ``model`` (anything :func:`~portable_dnn.trained.as_trained` reads, e.g.
    a model file) whose output is sigmoid or softmax: one :class:`ImagePrediction` for one path,
    a list of them for a list of paths.

    Each picture is resized to the input image the model records (64 x 64 x 3 for the
    course's cat model; a model that records none must take a square RGB image), then
    scaled and flattened as :func:`~portable_dnn.datasets.flatten_images` does.

    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> path = os.path.join(tempfile.mkdtemp(), "grey.png")
    >>> Image.new("L", (30, 20), 128).save(path)
    >>> params = {"W1": np.full((1, 12), 0.5), "b1": np.array([[-3.0]])}
    >>> net = as_trained(params, input_shape=(2, 2, 3), classes=["non-cat", "cat"])
    >>> predict_image(net, path)  # doctest: +ELLIPSIS
    ImagePrediction(path='.../grey.png', label='cat', probability=0.50...)
    """
    func = "predict_image"
    net = as_trained(model)
    if net.output not in ("sigmoid", "softmax"):
        raise ValueError(f"{func}: the model's output is {net.output}; labelling needs sigmoid or softmax")
    size = _image_size(func, net)
    single = isinstance(path_or_paths, (str, os.PathLike))
    paths = [path_or_paths] if single else path_or_paths
    if not isinstance(paths, Sequence) or not paths:
        raise TypeError(f"{func}: path_or_paths must be a path or a non-empty list of paths")
    X = flatten_images(np.stack([read_image(p, size) for p in paths]))
    AL = np.asarray(forward_proba(X, net.parameters, hidden_activation=net.hidden, output=net.output))
    if net.output == "sigmoid":
        index = (AL[0] > 0.5).astype(np.int64)
        chosen = np.where(index == 1, AL[0], 1 - AL[0])
    else:
        index = np.argmax(AL, axis=0)
        chosen = AL[index, np.arange(AL.shape[1])]
    out = [
        ImagePrediction(
            os.fspath(path),
            int(i) if net.classes is None else net.classes[i].item(),
            float(p),
        )
        for path, i, p in zip(paths, index, chosen)
    ]
    return out[0] if single else out
