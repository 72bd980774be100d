"""Verified, atomic downloads against a throwaway HTTP server on 127.0.0.1."""
import functools
import hashlib
import http.server
import threading
import urllib.error

import numpy as np
import pytest

from upsampling.data import download, load_data, locate, write_idx
from upsampling.data.download import download_files

FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Four tiny IDX .gz files served from 127.0.0.1; yields (base_url, {name: sha256}, data)."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "www" / "mnist"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    data = {}
    for prefix, n in (("train", 4), ("t10k", 2)):
        data[prefix] = (rng.integers(0, 256, (n, 5, 5), dtype=np.uint8),
                        rng.integers(0, 10, n, dtype=np.uint8))
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", data[prefix][0])
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", data[prefix][1])
    hashes = {f: hashlib.sha256((root / f).read_bytes()).hexdigest() for f in FILES}
    handler = functools.partial(_QuietHandler, directory=str(tmp_path / "www"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mnist/", hashes, data
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_matching_hash_installs_file(served, tmp_path):
    base, hashes, _ = served
    dest = tmp_path / "dest"
    paths = download_files({FILES[1]: hashes[FILES[1]]}, base, dest)
    assert paths == [dest / FILES[1]]
    assert sorted(p.name for p in dest.iterdir()) == [FILES[1]]
    assert (dest / FILES[1]).read_bytes() == (tmp_path / "www" / "mnist" / FILES[1]).read_bytes()


def test_wrong_hash_raises_and_leaves_nothing(served, tmp_path):
    base, hashes, _ = served
    dest = tmp_path / "dest"
    with pytest.raises(ValueError) as e:
        download_files({FILES[0]: "0" * 64}, base.rstrip("/"), dest)
    msg = str(e.value)
    assert FILES[0] in msg and "0" * 64 in msg and hashes[FILES[0]] in msg
    assert list(dest.iterdir()) == []


def test_missing_hash_refuses_before_fetching(served, tmp_path):
    base, _, _ = served
    with pytest.raises(ValueError, match="SHA-256"):
        download_files({FILES[0]: None}, base, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_http_error_leaves_nothing(served, tmp_path):
    base, _, _ = served
    with pytest.raises(urllib.error.HTTPError):
        download_files({"nope.gz": "0" * 64}, base, tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("UPSAMPLING_DATA", raising=False)
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setattr(locate, "SYSTEM_DIRS", {"mnist": (), "fashion_mnist": ()})


def test_load_data_download_falls_back_to_next_mirror_and_caches(served, tmp_path, isolated,
                                                                 monkeypatch):
    base, hashes, data = served
    monkeypatch.setitem(download.SHA256, "mnist", hashes)
    monkeypatch.setitem(download.MIRRORS, "mnist", (base + "missing/", base))
    cache = tmp_path / "cache"
    x, y = load_data("mnist", split="test", download=True, cache_dir=cache, scale=None)
    np.testing.assert_array_equal(x[..., 0], data["t10k"][0])
    np.testing.assert_array_equal(y, data["t10k"][1])
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(FILES[2:])
    monkeypatch.setitem(download.MIRRORS, "mnist", ())  # no network needed the second time
    _, y = load_data("mnist", split="test", cache_dir=cache)
    np.testing.assert_array_equal(y, data["t10k"][1])


def test_load_data_default_cache_dir(served, tmp_path, isolated, monkeypatch):
    base, hashes, data = served
    monkeypatch.setitem(download.SHA256, "mnist", hashes)
    monkeypatch.setitem(download.MIRRORS, "mnist", (base,))
    _, y = load_data("mnist", split="all", download=True)
    np.testing.assert_array_equal(y, np.concatenate([data["train"][1], data["t10k"][1]]))
    assert sorted(p.name for p in (tmp_path / "home/.cache/upsampling/mnist").iterdir()) \
        == sorted(FILES)


def test_load_data_download_bad_hash_or_no_hash(served, tmp_path, isolated, monkeypatch):
    base, hashes, _ = served
    monkeypatch.setitem(download.MIRRORS, "mnist", (base,))
    monkeypatch.setitem(download.SHA256, "mnist", dict(hashes, **{FILES[0]: "f" * 64}))
    with pytest.raises(ValueError, match=FILES[0]):
        load_data("mnist", download=True, cache_dir=tmp_path / "c")
    leftovers = [p.name for p in (tmp_path / "c" / "mnist").iterdir()]
    assert FILES[0] not in leftovers and not [n for n in leftovers if n.endswith(".part")]
    monkeypatch.setitem(download.SHA256, "mnist", {})
    with pytest.raises(ValueError, match="No known SHA-256"):
        load_data("mnist", download=True, cache_dir=tmp_path / "d")


def test_all_mirrors_down(served, tmp_path, isolated, monkeypatch):
    base, hashes, _ = served
    monkeypatch.setitem(download.SHA256, "mnist", hashes)
    monkeypatch.setitem(download.MIRRORS, "mnist", (base + "a/", base + "b/"))
    with pytest.raises(ConnectionError, match="a/.*b/"):
        load_data("mnist", download=True, cache_dir=tmp_path / "c")


def test_shipped_hash_tables_are_complete():
    for name in ("mnist", "fashion_mnist"):
        assert sorted(download.SHA256[name]) == sorted(FILES)
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in download.SHA256[name].values())
        assert download.MIRRORS[name]


def test_explicit_path_is_never_downloaded_into(served, tmp_path, isolated, monkeypatch):
    base, hashes, _ = served
    monkeypatch.setitem(download.SHA256, "mnist", hashes)
    monkeypatch.setitem(download.MIRRORS, "mnist", (base,))
    (tmp_path / "mine").mkdir()
    with pytest.raises(FileNotFoundError, match="mine"):
        load_data("mnist", path=tmp_path / "mine", download=True, cache_dir=tmp_path / "c")
    assert not (tmp_path / "c").exists() and not list((tmp_path / "mine").iterdir())
