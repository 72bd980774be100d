"""Full MNIST / Fashion-MNIST from IDX or NPZ files: parser, search order, helpful errors."""
import gzip
import os
import struct

import numpy as np
import pytest

from upsampling.data import (DEBIAN_FASHION_MNIST_DIR, DatasetNotFoundError, load_data, read_idx,
                             write_idx)
from upsampling.data import locate

RNG = np.random.default_rng(1)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real data anywhere: empty HOME, no env folders, no system folders."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("UPSAMPLING_DATA", raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setattr(locate, "SYSTEM_DIRS", {"mnist": (), "fashion_mnist": ()})
    return home


def make_set(folder, n_train=5, n_test=3, shape=(4, 3), gz=True, seed=0):
    """Write train + t10k IDX pairs into ``folder``; return the arrays."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n,) + shape, dtype=np.uint8)
        x.flat[0], x.flat[1] = 0, 255
        y = rng.integers(0, 10, n, dtype=np.uint8)
        ext = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", y)
        out[prefix] = (x, y)
    return out


def test_read_idx_hand_built_bytes(tmp_path):
    pixels = bytes(range(12))
    (tmp_path / "img").write_bytes(struct.pack(">IIII", 0x803, 2, 2, 3) + pixels)
    with gzip.open(tmp_path / "lab.gz", "wb") as f:
        f.write(struct.pack(">II", 0x801, 2) + bytes([7, 3]))
    np.testing.assert_array_equal(read_idx(tmp_path / "img"), np.arange(12).reshape(2, 2, 3))
    np.testing.assert_array_equal(read_idx(tmp_path / "lab.gz"), [7, 3])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip_dtypes(tmp_path, dtype):
    a = (RNG.standard_normal((3, 2, 5)) * 100).astype(dtype)
    write_idx(tmp_path / "a.idx.gz", a)
    b = read_idx(tmp_path / "a.idx.gz")
    assert b.dtype == a.dtype and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_folder_round_trip(tmp_path, isolated, gz, name):
    data = make_set(tmp_path / "d", gz=gz)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x, y = load_data(name, split=split, path=tmp_path / "d", scale=None)
        assert x.shape == data[prefix][0].shape + (1,) and x.dtype == np.float32
        np.testing.assert_array_equal(x[..., 0], data[prefix][0])
        np.testing.assert_array_equal(y, data[prefix][1])
        assert y.dtype == np.int64
    x, y = load_data(name, split="all", path=str(tmp_path / "d"))
    assert x.shape == (8, 4, 3, 1) and x.min() == -1.0 and x.max() == 1.0
    expected = np.concatenate([data["train"][0], data["t10k"][0]]) / 127.5 - 1.0
    np.testing.assert_allclose(x[..., 0], expected, atol=1e-6)
    np.testing.assert_array_equal(y, np.concatenate([data["train"][1], data["t10k"][1]]))


def test_kaggle_dot_spelling(tmp_path, isolated):
    data = make_set(tmp_path, gz=False)
    for f in tmp_path.glob("*-idx?-ubyte"):
        f.rename(tmp_path / f.name.replace("-idx", ".idx"))
    _, y = load_data("mnist", path=tmp_path)
    np.testing.assert_array_equal(y, data["train"][1])


def _corrupt_magic(path):
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[3] = 0x02
    path.write_bytes(gzip.compress(bytes(raw)))


@pytest.mark.parametrize("damage,words", [
    (_corrupt_magic, ["train-images-idx3-ubyte.gz", "magic", "0x00000802", "0x00000803"]),
    (lambda p: p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:-5])),
     ["train-images-idx3-ubyte.gz", "data bytes"]),
    (lambda p: p.write_bytes(b"not gzip at all"), ["train-images-idx3-ubyte.gz", "gzip"]),
])
def test_corrupt_file_names_file_and_reason(tmp_path, isolated, damage, words):
    make_set(tmp_path)
    damage(tmp_path / "train-images-idx3-ubyte.gz")
    with pytest.raises(ValueError) as e:
        load_data("mnist", path=tmp_path)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_labels_file_with_images_magic_is_rejected(tmp_path, isolated):
    make_set(tmp_path, gz=False)
    os.replace(tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte")
    make_set(tmp_path / "x", gz=False)
    os.replace(tmp_path / "x" / "train-images-idx3-ubyte", tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.*0x00000801"):
        load_data("mnist", path=tmp_path)


def _save_npz(path, seed=0):
    rng = np.random.default_rng(seed)
    arrays = dict(x_train=rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
                  y_train=rng.integers(0, 10, 6).astype(np.uint8),
                  x_test=rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
                  y_test=rng.integers(0, 10, 2).astype(np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def test_npz_file_and_folder(tmp_path, isolated):
    a = _save_npz(tmp_path / "mnist.npz")
    for p in (tmp_path / "mnist.npz", tmp_path):
        x, y = load_data("mnist", path=p, split="test", scale="sigmoid")
        assert x.shape == (2, 28, 28, 1) and y.dtype == np.int64
        np.testing.assert_allclose(x[..., 0], a["x_test"] / 255.0, atol=1e-7)
        np.testing.assert_array_equal(y, a["y_test"])
    x, y = load_data("mnist", path=tmp_path / "mnist.npz", split="all")
    assert x.shape == (8, 28, 28, 1)
    np.testing.assert_array_equal(y, np.concatenate([a["y_train"], a["y_test"]]))


def test_npz_missing_keys(tmp_path, isolated):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="mnist.npz.*y_train"):
        load_data("mnist", path=tmp_path / "mnist.npz")


def test_search_order_env_then_keras_then_system(tmp_path, isolated, monkeypatch):
    system = make_set(tmp_path / "usr" / "share" / "my-fashion-mnist", seed=3)
    pattern = str(tmp_path / "usr/share/*fashion*mnist*")
    monkeypatch.setattr(locate, "SYSTEM_DIRS", {"mnist": (), "fashion_mnist": (pattern,)})
    _, y = load_data("fashion_mnist")
    np.testing.assert_array_equal(y, system["train"][1])

    keras = make_set(isolated / ".keras" / "datasets" / "fashion-mnist", seed=2)
    _, y = load_data("fashion-mnist")
    np.testing.assert_array_equal(y, keras["train"][1])

    env = make_set(tmp_path / "env" / "fashion-mnist", seed=1)
    monkeypatch.setenv("UPSAMPLING_DATA", str(tmp_path / "env"))
    _, y = load_data("fashion_mnist", split="test")
    np.testing.assert_array_equal(y, env["t10k"][1])
    with pytest.raises(DatasetNotFoundError):  # mnist files are not fashion files
        load_data("mnist")


def test_keras_mnist_npz_in_home(tmp_path, isolated):
    a = _save_npz(isolated / ".keras" / "datasets" / "mnist.npz")
    _, y = load_data("mnist")
    np.testing.assert_array_equal(y, a["y_train"])


def test_explicit_path_does_not_fall_back(tmp_path, isolated, monkeypatch):
    make_set(tmp_path / "env" / "mnist")
    monkeypatch.setenv("UPSAMPLING_DATA", str(tmp_path / "env"))
    load_data("mnist")  # found through the env var
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty"):
        load_data("mnist", path=tmp_path / "empty")


def test_missing_fashion_says_what_to_install(isolated):
    with pytest.raises(FileNotFoundError) as e:
        load_data("fashion_mnist")
    msg = str(e.value)
    assert isinstance(e.value, DatasetNotFoundError)
    assert msg.startswith("Fashion-MNIST not found.")
    for part in ("apt-get install dataset-fashion-mnist", "~/.keras/datasets/fashion-mnist/",
                 "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "path=",
                 "download=True"):
        assert part in msg, part


def test_missing_mnist_says_where_to_put_files(isolated):
    with pytest.raises(FileNotFoundError) as e:
        load_data("mnist", split="test")
    msg = str(e.value)
    for part in ("MNIST not found", "mnist.npz", "~/.keras/datasets/", "$UPSAMPLING_DATA/mnist/",
                 "download=True", str(isolated)):
        assert part in msg, part


def test_test_split_needs_only_test_files(tmp_path, isolated):
    data = make_set(tmp_path)
    for f in tmp_path.glob("train-*"):
        f.unlink()
    _, y = load_data("mnist", path=tmp_path, split="test")
    np.testing.assert_array_equal(y, data["t10k"][1])
    with pytest.raises(FileNotFoundError):
        load_data("mnist", path=tmp_path, split="all")


@pytest.mark.skipif(not os.path.isdir(DEBIAN_FASHION_MNIST_DIR),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("UPSAMPLING_DATA", raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    x, y = load_data("fashion_mnist", split="test")
    assert x.shape == (10000, 28, 28, 1) and x.min() == -1.0 and x.max() == 1.0
    assert np.bincount(y).tolist() == [1000] * 10
