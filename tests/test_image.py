"""Your own pictures through a trained network: predict_image and `portable-dnn predict --image`."""

from __future__ import annotations

import numpy as np
import pytest

import portable_dnn as dnn
from portable_dnn.cli import main
from portable_dnn.images import ImagePrediction, predict_image, read_image
from portable_dnn.trained import as_trained

Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed")


def _picture(path, mode, size, seed=0):
    """A picture of random pixels in ``mode`` (RGB, RGBA, L, P), ``size`` = (width, height)."""
    rng = np.random.RandomState(seed)
    w, h = size
    if mode == "L":
        img = Image.fromarray(rng.randint(0, 256, (h, w), dtype=np.uint8), "L")
    else:
        img = Image.fromarray(rng.randint(0, 256, (h, w, 3), dtype=np.uint8), "RGB")
        if mode == "RGBA":
            img.putalpha(Image.fromarray(rng.randint(0, 256, (h, w), dtype=np.uint8), "L"))
        elif mode == "P":
            img = img.quantize(16)
    img.save(path)
    return str(path)


def _course_flattening(path, height, width):
    """The application notebook's steps, in Pillow and flatten_images, for one picture."""
    with Image.open(path) as img:
        rgb = img.convert("RGBA" if img.mode == "P" else img.mode).convert("RGB")
        x = np.asarray(rgb.resize((width, height), Image.Resampling.BICUBIC))
    return dnn.flatten_images(x[None])


def _model(backend, to_backend, input_shape=(8, 6, 3), units=1, seed=1, **kw):
    n_x = int(np.prod(input_shape))
    p = dnn.initialize_parameters_deep([n_x, 5, units], init="xavier", seed=seed, backend="numpy")
    p = to_backend({k: v * 3 for k, v in p.items()})
    return p, as_trained(p, input_shape=input_shape, **kw)


@pytest.mark.parametrize("mode,size", [("RGB", (6, 8)), ("RGBA", (37, 23)), ("L", (11, 64)), ("P", (5, 5))])
def test_probability_is_forward_proba_on_the_course_flattening(backend, to_backend, tmp_path, mode, size):
    params, net = _model(backend, to_backend, classes=["non-cat", "cat"])
    path = _picture(tmp_path / f"pic.{mode}.png", mode, size)
    answer = predict_image(net, path)
    assert isinstance(answer, ImagePrediction) and answer.path == path
    X = _course_flattening(path, 8, 6)
    # predict_image computes on the host, whatever backend the parameters came from: so does the reference.
    p = float(dnn.forward_proba(X, net.parameters)[0, 0])
    assert answer.label == ("cat" if p > 0.5 else "non-cat")
    assert answer.probability == (p if p > 0.5 else 1 - p)


def test_a_list_gives_a_list_and_softmax_names_the_likeliest(backend, to_backend, tmp_path):
    params, net = _model(backend, to_backend, units=3, classes=["a", "b", "c"])
    paths = [_picture(tmp_path / f"{i}.png", "RGB", (9, 9), seed=i) for i in range(4)]
    answers = predict_image(net, paths)
    X = np.hstack([_course_flattening(p, 8, 6) for p in paths])
    AL = dnn.forward_proba(X, {k: dnn.to_numpy(v) for k, v in params.items()}, output="softmax")
    assert [a.path for a in answers] == paths
    assert [a.label for a in answers] == [["a", "b", "c"][i] for i in AL.argmax(axis=0)]
    assert [a.probability for a in answers] == AL.max(axis=0).tolist()


def test_a_model_file_and_no_labels(tmp_path):
    p, net = _model(None, lambda x: x, input_shape=(4, 4, 3))
    path = net.save(tmp_path / "m.npz")
    answer = predict_image(path, _picture(tmp_path / "x.png", "RGB", (20, 10)))
    assert answer.label in (0, 1) and isinstance(answer.label, int)
    assert answer == predict_image(as_trained(p, input_shape=(4, 4, 3)), str(tmp_path / "x.png"))


def test_the_course_image_gives_the_course_probability(tmp_path, cat_paths):
    train_x, _, test_x, _, classes = dnn.load_dataset(*map(str, cat_paths))
    params = dnn.initialize_parameters_deep([12288, 7, 1], seed=1, backend="numpy")
    net = as_trained(params, input_shape=(64, 64, 3), classes=classes)
    path = tmp_path / "course.png"
    Image.fromarray(test_x[1]).save(path)  # lossless, already 64 x 64: no resampling
    answer = predict_image(net, path)
    p = float(dnn.forward_proba(dnn.flatten_images(test_x[1:2]), params)[0, 0])
    assert answer.probability == (p if p > 0.5 else 1 - p)
    assert answer.label == ("cat" if p > 0.5 else "non-cat")


def test_without_a_recorded_shape_a_square_rgb_input_is_assumed(tmp_path):
    pic = _picture(tmp_path / "x.png", "RGB", (13, 7))
    params = dnn.initialize_parameters_deep([27, 1], seed=1, backend="numpy")
    answer = predict_image(params, pic)
    p = float(dnn.forward_proba(_course_flattening(pic, 3, 3), params)[0, 0])
    assert answer.probability == (p if p > 0.5 else 1 - p)
    with pytest.raises(ValueError, match="takes 20 features and records no input shape; that is not an RGB"):
        predict_image(dnn.initialize_parameters_deep([20, 1], seed=1, backend="numpy"), pic)
    with pytest.raises(ValueError, match=r"the model's input is \(4, 5\), not an RGB image"):
        predict_image(
            as_trained(dnn.initialize_parameters_deep([20, 1], backend="numpy"), input_shape=(4, 5)), pic
        )


def test_files_that_are_not_images_and_outputs_that_are_not_labels(tmp_path):
    params, net = _model(None, lambda x: x)
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(ValueError, match=r"notes.png' is not an image Pillow can read"):
        predict_image(net, str(text))
    with pytest.raises(ValueError, match=r"image file '.*missing.jpg' does not exist"):
        predict_image(net, str(tmp_path / "missing.jpg"))
    with pytest.raises(TypeError, match="non-empty list of paths"):
        predict_image(net, [])
    multilabel = as_trained(dnn.initialize_parameters_deep([12, 3], backend="numpy"), output="multilabel")
    with pytest.raises(ValueError, match="output is multilabel; labelling needs sigmoid or softmax"):
        predict_image(multilabel, _picture(tmp_path / "x.png", "RGB", (2, 2)))


def test_read_image_keeps_a_picture_of_the_right_size_as_it_is(tmp_path):
    pixels = np.random.RandomState(2).randint(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_image(tmp_path / "p.png", (5, 7)), pixels)


def test_cli_predict_image(tmp_path, capsys):
    _, net = _model(None, lambda x: x, classes=["non-cat", "cat"])
    model = net.save(tmp_path / "cat.npz")
    a = _picture(tmp_path / "a.png", "RGB", (30, 40), seed=1)
    b = _picture(tmp_path / "b.png", "L", (8, 8), seed=2)
    assert main(["predict", model, "--image", a, b]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = predict_image(net, [a, b])
    assert lines == [f"{e.path}: {e.label} (probability {e.probability:.4f})" for e in expected]
    assert main(["predict", model, "--image", str(tmp_path / "cat.npz")]) == 1
    assert "is not an image Pillow can read" in capsys.readouterr().err
    assert main(["predict", model, "--image", a, "--data", a]) == 1
    assert "--image labels pictures alone" in capsys.readouterr().err
