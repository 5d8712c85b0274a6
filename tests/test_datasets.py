"""portable_dnn.datasets: the course's HDF5 files, .npz data sets and the embedded flower data (host side)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from portable_dnn.datasets import (
    check_same_features,
    default_dataset,
    flatten_images,
    load_dataset,
    load_npz_dataset,
)


def _course_planar_dataset() -> tuple[np.ndarray, np.ndarray]:
    """The course's week-3 ``load_planar_dataset``, verbatim except for a restored global seed."""
    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(1)  # noqa: NPY002
        m = 400
        N = int(m / 2)
        D = 2
        X = np.zeros((m, D))
        Y = np.zeros((m, 1), dtype="uint8")
        a = 4
        for j in range(2):
            ix = range(N * j, N * (j + 1))
            t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + np.random.randn(N) * 0.2  # noqa: NPY002
            r = a * np.sin(4 * t) + np.random.randn(N) * 0.2  # noqa: NPY002
            X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
            Y[ix] = j
        return X.T, Y.T
    finally:
        np.random.set_state(saved)  # noqa: NPY002


# ----------------------------------------------------------- default_dataset


def test_default_dataset_shapes_and_types():
    X, Y, Xt, Yt = default_dataset()
    assert X.shape == (2, 320) and Y.shape == (1, 320)
    assert Xt.shape == (2, 80) and Yt.shape == (1, 80)
    assert X.dtype == np.float64 and Xt.dtype == np.float64
    assert Y.dtype == np.int64 and Yt.dtype == np.int64
    assert set(np.unique(np.concatenate([Y, Yt], axis=1)).tolist()) == {0, 1}
    assert int(Y.sum()) == 162 and int(Yt.sum()) == 38  # 200 flowers of each class in all


def test_default_dataset_pinned_values():
    X, Y, _, _ = default_dataset()
    np.testing.assert_allclose(
        X[:, :3],
        [
            [3.668172418645874, 3.90210781338067, -1.3989303003200817],
            [1.818409528102087, 1.4335161657349387, -2.036060855042705],
        ],
        rtol=1e-15,
    )
    assert Y[0, :10].tolist() == [1, 1, 1, 1, 1, 1, 1, 1, 1, 0]


def test_default_dataset_is_the_course_planar_data_split():
    X, Y, Xt, Yt = default_dataset()
    cX, cY = _course_planar_dataset()
    ours = np.concatenate([np.concatenate([X, Xt], axis=1), np.concatenate([Y, Yt], axis=1)], axis=0)
    course = np.concatenate([cX, cY.astype(np.float64)], axis=0)
    # The same 400 points and labels, only permuted.
    ours_sorted = ours[:, np.lexsort(ours[::-1])]
    course_sorted = course[:, np.lexsort(course[::-1])]
    np.testing.assert_array_equal(ours_sorted, course_sorted)


def test_default_dataset_is_deterministic_and_leaves_global_random_state_alone():
    np.random.seed(12345)  # noqa: NPY002
    expected = np.random.RandomState(12345).rand(3)
    first = default_dataset()
    np.testing.assert_array_equal(np.random.rand(3), expected)  # noqa: NPY002
    second = default_dataset()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert first[0] is not second[0]


# ------------------------------------------------------------ flatten_images


def test_flatten_images_is_the_course_expression():
    rng = np.random.RandomState(0)
    x = rng.randint(0, 256, size=(5, 4, 4, 3)).astype(np.uint8)
    flat = flatten_images(x)
    assert flat.shape == (48, 5) and flat.dtype == np.float64
    assert flat.flags["F_CONTIGUOUS"]
    np.testing.assert_array_equal(flat, x.reshape(5, -1).T / 255.0)
    np.testing.assert_array_equal(flat[:, 2], x[2].reshape(-1) / 255.0)


def test_flatten_images_rejects_bad_input():
    with pytest.raises(TypeError, match="flatten_images: x_orig must be a NumPy array"):
        flatten_images([[1, 2]])
    with pytest.raises(ValueError, match=r"flatten_images: x_orig must be \(m, \.\.\.\)"):
        flatten_images(np.zeros(3))


# -------------------------------------------------------------- load_dataset


def test_load_dataset_cat_data(cat_paths):
    train_x, train_y, test_x, test_y, classes = load_dataset(*cat_paths)
    assert train_x.shape == (209, 64, 64, 3) and train_x.dtype == np.uint8
    assert test_x.shape == (50, 64, 64, 3) and test_x.dtype == np.uint8
    assert train_y.shape == (1, 209) and test_y.shape == (1, 50)
    assert int(train_y.sum()) == 72 and int(test_y.sum()) == 33
    assert classes.tolist() == [b"non-cat", b"cat"]
    assert int(train_x[0, 0, 0, 0]) == 17 and int(train_x.sum()) == 264542077
    flat = flatten_images(train_x)
    assert flat.shape == (12288, 209) and flat.flags["F_CONTIGUOUS"]
    assert float(flat.max()) <= 1.0 and float(flat.min()) >= 0.0


def test_load_dataset_accepts_pathlike_and_str(cat_paths):
    a = load_dataset(str(cat_paths[0]), str(cat_paths[1]))
    b = load_dataset(*cat_paths)
    np.testing.assert_array_equal(a[1], b[1])


def _write_h5(path, **datasets):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        for k, v in datasets.items():
            f.create_dataset(k, data=v)


def test_load_dataset_errors(tmp_path):
    good_train, good_test = tmp_path / "train.h5", tmp_path / "test.h5"
    classes = np.array([b"non-cat", b"cat"])
    _write_h5(
        good_train,
        train_set_x=np.zeros((3, 2, 2, 3), np.uint8),
        train_set_y=np.array([0, 1, 0]),
        list_classes=classes,
    )
    _write_h5(
        good_test,
        test_set_x=np.zeros((2, 2, 2, 3), np.uint8),
        test_set_y=np.array([1, 1]),
        list_classes=classes,
    )
    tx, ty, sx, sy, cl = load_dataset(good_train, good_test)
    assert ty.tolist() == [[0, 1, 0]] and sy.tolist() == [[1, 1]] and tx.shape == (3, 2, 2, 3)

    with pytest.raises(ValueError, match=r"load_dataset: file '.*nope\.h5' does not exist"):
        load_dataset(tmp_path / "nope.h5", good_test)
    with pytest.raises(
        ValueError, match=r"load_dataset: file '.*train\.h5' has no dataset 'test_set_x', 'test_set_y'"
    ):
        load_dataset(good_train, good_train)
    no_classes = tmp_path / "noclasses.h5"
    _write_h5(no_classes, test_set_x=np.zeros((2, 2, 2, 3), np.uint8), test_set_y=np.array([1, 1]))
    with pytest.raises(ValueError, match=r"noclasses\.h5' has no dataset 'list_classes'"):
        load_dataset(good_train, no_classes)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"this is not hdf5" * 10)
    with pytest.raises(
        ValueError, match=r"garbage\.h5' is not a readable HDF5 file \(damaged, or not HDF5\)$"
    ):
        load_dataset(good_train, garbage)
    mismatch = tmp_path / "mismatch.h5"
    _write_h5(
        mismatch,
        test_set_x=np.zeros((2, 2, 2, 3), np.uint8),
        test_set_y=np.array([1, 1, 0]),
        list_classes=classes,
    )
    with pytest.raises(ValueError, match="holds 3 labels for 2 examples"):
        load_dataset(good_train, mismatch)
    with pytest.raises(TypeError, match="load_dataset: path must be a str or os.PathLike"):
        load_dataset(3, good_test)  # type: ignore[arg-type]


# ---------------------------------------------------------- load_npz_dataset


def test_load_npz_dataset_round_trip(tmp_path):
    X, Y, Xt, Yt = default_dataset()
    path = tmp_path / "d.npz"
    np.savez(path, X=X, Y=Y, X_test=Xt, Y_test=Yt)
    got = load_npz_dataset(path)
    for a, b in zip(got, (X, Y, Xt, Yt), strict=True):
        np.testing.assert_array_equal(a, b)
    only_train = tmp_path / "train.npz"
    np.savez(only_train, X=np.arange(6, dtype=np.uint8).reshape(2, 3), Y=np.array([0, 1, 1]))
    X2, Y2, Xt2, Yt2 = load_npz_dataset(only_train)
    assert X2.dtype == np.float64 and X2.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert Y2.shape == (1, 3) and Xt2 is None and Yt2 is None


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"X": np.zeros((2, 3))}, r"has no array 'Y' \(found 'X'\)"),
        ({"A": np.zeros(1)}, "has no array 'X', 'Y'"),
        ({"X": np.zeros((2, 3)), "Y": np.zeros((1, 4))}, r"'Y' in .* has shape \(1, 4\), expected \(1, 3\)"),
        (
            {"X": np.zeros(3), "Y": np.zeros((1, 3))},
            r"'X' in .* has shape \(3,\), expected \(features, examples\)",
        ),
        ({"X": np.zeros((2, 3)), "Y": np.array([[0, 2, 1]])}, "must hold labels 0 or 1 only"),
        (
            {"X": np.zeros((2, 3)), "Y": np.zeros((1, 3)), "X_test": np.zeros((2, 1))},
            "both X_test and Y_test",
        ),
        (
            {
                "X": np.zeros((2, 3)),
                "Y": np.zeros((1, 3)),
                "X_test": np.zeros((4, 1)),
                "Y_test": np.zeros((1, 1)),
            },
            "'X_test' in .* has 4 features, 'X' has 2",
        ),
        ({"X": np.array([["a", "b"]]), "Y": np.zeros((1, 2))}, "must be numeric"),
    ],
)
def test_load_npz_dataset_rejects_bad_contents(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="load_npz_dataset: " + ".*" + message):
        load_npz_dataset(path)


def test_load_npz_dataset_rejects_bad_files(tmp_path):
    with pytest.raises(ValueError, match=r"load_npz_dataset: file '.*missing\.npz' does not exist"):
        load_npz_dataset(tmp_path / "missing.npz")
    for name, content in [
        ("garbage.npz", bytes(range(256)) * 4),
        ("pickled.npz", pickle.dumps({"X": 1})),
        ("empty.npz", b""),
        ("text.npz", b"X,Y\n1,0\n"),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError) as info:
            load_npz_dataset(path)
        assert str(info.value) == (
            f"load_npz_dataset: file {str(path)!r} is not an .npz file, expected an .npz with X and Y"
        )
    objects = tmp_path / "objects.npz"
    np.savez(objects, X=np.array([object(), 1], dtype=object), Y=np.zeros((1, 2)))
    with pytest.raises(ValueError) as info:
        load_npz_dataset(objects)
    assert str(info.value) == (
        f"load_npz_dataset: array 'X' in {str(objects)!r} holds Python objects, which cannot be read "
        "without pickle"
    )
    npy = tmp_path / "single.npy"
    np.save(npy, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="is a single .npy array"):
        load_npz_dataset(npy)
    good = tmp_path / "good.npz"
    np.savez(good, X=np.zeros((2, 3)), Y=np.zeros((1, 3)))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:150])
    with pytest.raises(ValueError, match=r"truncated\.npz' is not a readable .npz file"):
        load_npz_dataset(truncated)


# ----------------------------------------------- odd contents of HDF5 files

_TRAIN = {
    "train_set_x": np.zeros((3, 2, 2, 3), np.uint8),
    "train_set_y": np.array([0, 1, 0]),
    "list_classes": np.array([b"non-cat", b"cat"]),
}


def _odd_h5(path, **changes):
    """A training file in the course's layout, some datasets replaced (by "group", "null", ...) or removed."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        for key, value in {**_TRAIN, **changes}.items():
            if value is None:
                continue
            if isinstance(value, str) and value == "group":
                f.create_group(key).create_dataset("inner", data=np.zeros(3))
            elif isinstance(value, str) and value == "null":
                f.create_dataset(key, data=h5py.Empty("f8"))
            elif isinstance(value, str) and value == "vlen-strings":
                f.create_dataset(key, data=["a", "b", "c"], dtype=h5py.string_dtype())
            else:
                f.create_dataset(key, data=value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"train_set_x": "group"},
            "'train_set_x' in {path} is a group, expected a dataset of (m, ...) images",
        ),
        ({"train_set_y": "group"}, "'train_set_y' in {path} is a group, expected a dataset of (m,) labels"),
        (
            {"train_set_x": np.array([b"ab", b"cd", b"ef"])},
            "'train_set_x' in {path} holds strings of dtype |S2, expected numbers ((m, ...) images",
        ),
        (
            {"train_set_y": "vlen-strings"},
            "'train_set_y' in {path} holds strings of dtype object, expected numbers ((m,) labels)",
        ),
        ({"train_set_x": np.float64(3.0)}, "'train_set_x' in {path} is a scalar, expected (m, ...) images"),
        ({"train_set_y": np.int64(1)}, "'train_set_y' in {path} is a scalar, expected (m,) labels"),
        ({"train_set_x": "null"}, "'train_set_x' in {path} is an empty dataset with no shape, expected"),
        (
            {"train_set_x": np.zeros((0, 2, 2, 3), np.uint8), "train_set_y": np.zeros(0, np.int64)},
            "'train_set_x' in {path} is empty (shape (0, 2, 2, 3)), expected (m, ...) images",
        ),
        ({"train_set_x": np.zeros(3)}, "'train_set_x' in {path} has shape (3,), expected (m, ...) images"),
        (
            {"train_set_y": np.zeros((3, 1, 1))},
            "'train_set_y' in {path} has shape (3, 1, 1), expected (3,) labels",
        ),
        ({"train_set_y": np.zeros((3, 2))}, "'train_set_y' in {path} has shape (3, 2), expected (3,) labels"),
        (
            {"train_set_y": np.array([0, 1])},
            "'train_set_y' in {path} holds 2 labels for 3 examples in 'train_set_x'",
        ),
        ({"train_set_y": np.array([0, 1, 2])}, "'train_set_y' in {path} must hold labels 0 or 1 only"),
        ({"list_classes": "group"}, "'list_classes' in {path} is not a dataset, expected class names"),
        (
            {"list_classes": None},
            "file {path} has no dataset 'list_classes' (found 'train_set_x', 'train_set_y')",
        ),
    ],
    ids=[
        "x-group",
        "y-group",
        "x-strings",
        "y-vlen-strings",
        "x-scalar",
        "y-scalar",
        "x-null",
        "x-empty",
        "x-1d",
        "y-3d",
        "y-2d",
        "y-count",
        "y-labels",
        "classes-group",
        "classes-missing",
    ],
)
def test_load_dataset_refuses_odd_contents(tmp_path, changes, message):
    odd = tmp_path / "odd.h5"
    _odd_h5(odd, **changes)
    test = tmp_path / "test.h5"
    _write_h5(
        test,
        test_set_x=np.zeros((2, 2, 2, 3)),
        test_set_y=np.array([1, 0]),
        list_classes=_TRAIN["list_classes"],
    )
    with pytest.raises(ValueError) as info:
        load_dataset(odd, test)
    assert str(info.value).startswith("load_dataset: " + message.format(path=repr(str(odd)))), str(info.value)


def test_load_dataset_accepts_labels_as_a_row_or_a_column(tmp_path):
    test = tmp_path / "test.h5"
    _write_h5(
        test,
        test_set_x=np.zeros((1, 2, 2, 3)),
        test_set_y=np.array([[1]]),
        list_classes=_TRAIN["list_classes"],
    )
    for shape in [(3,), (1, 3), (3, 1)]:
        path = tmp_path / "train.h5"
        _odd_h5(path, train_set_y=np.array([1, 0, 1]).reshape(shape))
        train_x, train_y, test_x, test_y, classes = load_dataset(path, test)
        assert train_y.tolist() == [[1, 0, 1]] and test_y.tolist() == [[1]], shape
        assert train_x.shape == (3, 2, 2, 3) and test_x.shape == (1, 2, 2, 3)
        assert classes.tolist() == [b"non-cat", b"cat"]


# ------------------------------------------------------ check_same_features


def test_check_same_features_accepts_matching_examples():
    assert check_same_features(np.zeros((5, 4, 4, 3)), np.zeros((2, 4, 4, 3))) is None
    assert check_same_features(np.zeros((6, 5)), np.zeros((6, 2)), axis=1) is None
    assert check_same_features(np.zeros((6, 5)), np.zeros((6, 2)), axis=-1) is None


def test_check_same_features_names_the_files(cat_paths):
    train_x, _, test_x, _, _ = load_dataset(*cat_paths)
    check_same_features(train_x, test_x, train_name=str(cat_paths[0]), test_name=str(cat_paths[1]))
    with pytest.raises(ValueError) as info:
        check_same_features(train_x, test_x[:, :32, :32], train_name="train.h5", test_name="test.h5")
    assert str(info.value) == (
        "check_same_features: test_x ('test.h5') holds (32, 32, 3) examples, expected (64, 64, 3) like "
        "train_x ('train.h5')"
    )


def test_check_same_features_rejects_bad_arguments():
    with pytest.raises(
        ValueError, match=r"^check_same_features: test_x holds \(3,\) examples, expected \(2,\)"
    ):
        check_same_features(np.zeros((2, 5)), np.zeros((3, 5)), axis=1)
    with pytest.raises(TypeError, match="check_same_features: test_x must be a NumPy array, got list"):
        check_same_features(np.zeros((2, 5)), [[0.0] * 5])
    with pytest.raises(
        ValueError, match=r"check_same_features: axis must be an axis of train_x \(shape \(2, 5\)\)"
    ):
        check_same_features(np.zeros((2, 5)), np.zeros((2, 5)), axis=2)
    with pytest.raises(ValueError, match="check_same_features: axis must be an axis of train_x"):
        check_same_features(np.zeros((2, 5)), np.zeros((2, 5)), axis=True)


def test_complex_npz_data_is_refused_not_cast(tmp_path):
    path = tmp_path / "complex.npz"
    np.savez(path, X=np.ones((2, 3)) * (1 + 2j), Y=np.array([[0, 1, 0]]))
    with pytest.raises(
        ValueError, match=r"load_npz_dataset: .X. in .*complex.npz. is complex128; training needs real"
    ):
        load_npz_dataset(str(path))
