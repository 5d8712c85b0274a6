"""portable_dnn.plotting: the figures are written, titled, and their labels are legible.

Legible means: every text on the figure is at least 8 points, and no two image
labels overlap once drawn. The figures are inspected as matplotlib objects.
"""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import portable_dnn as dnn
from portable_dnn import cli
from portable_dnn.plotting import plot_costs, plot_decision_boundary, plot_mislabeled

PNG = b"\x89PNG\r\n\x1a\n"
MIN_POINTS = 8


def _draw(fig):
    """Draw the figure with Agg (as savefig does) and return the renderer, so text extents are known."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _texts(fig):
    """Every visible, non-empty text artist of the figure (titles, labels, tick labels, legends)."""
    from matplotlib.text import Text

    _draw(fig)
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def _assert_legible(fig):
    texts = _texts(fig)
    assert texts
    small = [(t.get_text(), t.get_fontsize()) for t in texts if t.get_fontsize() < MIN_POINTS]
    assert not small, small


def _assert_png(path):
    assert path.read_bytes()[:8] == PNG


def _images(m=7, side=8, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, size=(m, side, side, 3)).astype(np.uint8)


def test_the_core_import_does_not_import_matplotlib():
    code = "import sys, portable_dnn, portable_dnn.cli; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------ costs


def test_plot_costs_writes_a_titled_png(tmp_path, backend):
    path = tmp_path / "cost.png"
    costs = [0.69, 0.5, 0.41, 0.3]
    fig = plot_costs(costs, learning_rate=0.0075, path=path)
    _assert_png(path)
    (ax,) = fig.axes
    assert ax.get_title() == "Cost (learning rate 0.0075)"
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "cost"
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [0, 100, 200, 300])
    np.testing.assert_allclose(line.get_ydata(), costs)
    _assert_legible(fig)


def test_plot_costs_compares_runs_on_one_axes():
    fig = plot_costs({"gd": [0.7, 0.6], "adam": [0.7, 0.3]}, every=1, xlabel="epoch", logy=True, title="runs")
    (ax,) = fig.axes
    assert ax.get_title() == "runs" and ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["gd", "adam"]
    _assert_legible(fig)
    with pytest.raises(ValueError, match="every must be a positive integer"):
        plot_costs([1.0], every=0)


def test_plot_costs_draws_on_a_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plot_costs([1.0, 0.5], ax=right) is fig
    assert right.get_lines() and not left.get_lines()


# -------------------------------------------------------------- mislabeled


def test_plot_mislabeled_labels_each_wrong_image(tmp_path, to_backend):
    images = _images()
    y = np.array([[1, 0, 1, 1, 0, 0, 1]])
    p = np.array([[0, 0, 1, 0, 1, 0, 1]])  # wrong at 0, 3, 4
    path = tmp_path / "mislabeled.png"
    fig = plot_mislabeled(images, to_backend(y), to_backend(p), classes=[b"non-cat", b"cat"], path=path)
    _assert_png(path)
    assert fig.get_suptitle() == "Mislabeled images (3 of 7)"
    drawn = [ax for ax in fig.axes if ax.get_images()]
    assert len(fig.axes) == 3 and len(drawn) == 3
    assert [ax.get_title() for ax in drawn] == [
        "predicted: non-cat\ntrue: cat",
        "predicted: non-cat\ntrue: cat",
        "predicted: cat\ntrue: non-cat",
    ]
    np.testing.assert_allclose(drawn[1].get_images()[0].get_array(), images[3] / 255.0)
    _assert_legible(fig)


def test_plot_mislabeled_grid_labels_do_not_overlap(tmp_path):
    m = 12
    X = dnn.flatten_images(_images(m, side=64))  # (12288, m) columns: drawn as 64 x 64 x 3
    y = np.zeros((1, m))
    fig = plot_mislabeled(X, y, 1 - y, classes=["non-cat", "cat"], max_images=8, ncols=4)
    assert fig.get_suptitle() == "Mislabeled images (12 of 12), first 8 shown"
    assert len(fig.axes) == 8 and all(ax.get_images() for ax in fig.axes)
    _assert_legible(fig)
    renderer = _draw(fig)
    titles = [ax.title.get_window_extent(renderer) for ax in fig.axes]
    images = [ax.get_window_extent(renderer) for ax in fig.axes]
    for a, b in itertools.combinations(titles, 2):
        assert not a.overlaps(b)
    for title, image in itertools.product(titles, images):
        assert not (
            title.overlaps(image) and title.y0 < image.y1 - 1
        )  # a label may touch its image, not cover it


def test_plot_mislabeled_without_mistakes_says_so():
    y = np.array([1, 0, 1])
    fig = plot_mislabeled(_images(3), y, y)
    assert fig.get_suptitle() == "Mislabeled images (0 of 3)"
    assert "no mislabeled images" in [t.get_text() for t in _texts(fig)]
    _assert_legible(fig)


def test_plot_mislabeled_gray_and_shaped_columns():
    gray = np.random.RandomState(1).rand(16, 2)  # two 4 x 4 gray images as columns, floats in [0, 1]
    fig = plot_mislabeled(gray, [0, 1], [1, 1])
    (ax,) = fig.axes
    assert ax.get_title() == "predicted: 1\ntrue: 0"
    fig = plot_mislabeled(np.ones((12, 2)), [0, 1], [1, 0], image_shape=(2, 2, 3), title="mine")
    assert fig.get_suptitle() == "mine" and len(fig.axes) == 2


@pytest.mark.parametrize(
    ("X", "y", "p", "kwargs", "message"),
    [
        (_images(3), [0, 1, 1], [0, 1], {}, "Y has 3 labels but predictions has 2"),
        (_images(3), np.zeros((2, 3)), np.zeros((2, 3)), {}, r"Y must have shape \(1, m\) or \(m,\)"),
        (_images(2), [0, 1, 1], [0, 1, 1], {}, "X has 2 images but the labels have 3"),
        (np.ones((10, 3)), [0, 1, 1], [0, 1, 1], {}, "cannot tell the image shape of 10 features"),
        (np.ones((12, 2)), [0, 1, 1], [0, 1, 1], {}, "X has 2 columns"),
        (np.ones((12, 3)), [0, 1, 1], [0, 1, 1], {"image_shape": (2, 2)}, "does not hold 12 features"),
        (np.ones(3), [0, 1, 1], [0, 1, 1], {}, "X must be images"),
        (_images(3), [0, 1, 1], [0, 1, 1], {"ncols": 0}, "must be positive"),
    ],
)
def test_plot_mislabeled_errors(X, y, p, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_mislabeled(X, y, p, **kwargs)


# ------------------------------------------------------- decision boundary


def test_plot_decision_boundary_from_parameters_and_from_a_function(tmp_path, backend):
    X, Y, _, _ = dnn.default_dataset()
    params, _ = dnn.fit(X, Y, [2, 4, 1], optimizer="adam", learning_rate=0.01, num_epochs=5, backend=backend)
    path = tmp_path / "boundary.png"
    fig = plot_decision_boundary(params, X, Y, resolution=40, title="flower", path=path)
    _assert_png(path)
    (ax,) = fig.axes
    assert ax.get_title() == "flower" and ax.get_xlabel() == "$x_1$"
    assert len(ax.collections) >= 2  # the regions and the points
    _assert_legible(fig)
    fig = plot_decision_boundary(lambda P: (P[0] > 0).astype(int), X, Y.reshape(-1), resolution=20)
    assert fig.axes[0].get_title() == ""


def test_plot_decision_boundary_errors():
    with pytest.raises(ValueError, match=r"X must have shape \(2, m\)"):
        plot_decision_boundary(lambda P: P[0], np.ones((3, 4)), np.ones(4))
    with pytest.raises(ValueError, match="X has 4 columns but Y has 3 labels"):
        plot_decision_boundary(lambda P: P[0], np.ones((2, 4)), np.ones(3))


# ------------------------------------------------------------ command line


def _course_like_h5(path, split, images, labels):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        f[f"{split}_set_x"] = images
        f[f"{split}_set_y"] = labels
        f["list_classes"] = np.array([b"non-cat", b"cat"])


@pytest.mark.default_backend
def test_cli_predict_scores_the_test_file_alone_and_shows_mislabeled(tmp_path, capsys):
    train, test = tmp_path / "train.h5", tmp_path / "test.h5"
    _course_like_h5(train, "train", _images(20, seed=1), np.arange(20) % 2)
    _course_like_h5(test, "test", _images(9, seed=2), np.arange(9) % 2)
    model = str(tmp_path / "m.npz")
    common = ["--backend", "numpy"]
    train_args = ["train", "--data", str(train), str(test), "--layers", "3", "--iterations", "5", "--quiet"]
    assert cli.main([*train_args, *common, "--out", model]) == 0
    capsys.readouterr()
    png = tmp_path / "wrong.png"
    assert cli.main(["predict", model, "--data", str(test), *common, "--show-mislabeled", str(png)]) == 0
    out = capsys.readouterr().out
    assert "Predicted 9 test examples of test.h5" in out and "Accuracy: " in out
    assert f"Mislabeled images written to {png}" in out
    _assert_png(png)
    # The train file alone scores the train set; both files still work as before.
    assert cli.main(["predict", model, "--data", str(train), *common]) == 0
    assert "Predicted 20 train examples of train.h5" in capsys.readouterr().out
    png2 = tmp_path / "wrong2.png"
    both = ["predict", model, "--data", str(train), str(test), *common, "--show-mislabeled", str(png2)]
    assert cli.main(both) == 0
    _assert_png(png2)
    capsys.readouterr()

    flower = str(tmp_path / "flower.npz")
    assert cli.main(["train", "--iterations", "2", "--quiet", "--out", flower, *common]) == 0
    not_h5 = tmp_path / "not.h5"
    not_h5.write_bytes(b"not hdf5")
    other = tmp_path / "other.h5"
    h5py = pytest.importorskip("h5py")
    with h5py.File(other, "w") as f:
        f["x"] = np.ones(2)
    for argv, message in [
        (["predict", flower, "--show-mislabeled", "x.png"], "--show-mislabeled needs image data"),
        (["predict", model, "--data", str(test), "--split", "train"], "test.h5 holds the test set only"),
        (["predict", model, "--data", str(tmp_path / "none.h5")], "does not exist"),
        (["predict", model, "--data", str(not_h5)], "is not a readable HDF5 file"),
        (["predict", model, "--data", str(other)], "has neither test_set_x/test_set_y"),
    ]:
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("portable-dnn: error: ") and message in err and err.count("\n") == 1, err
