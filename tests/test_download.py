"""Downloads from mirrors served on 127.0.0.1 (no internet): verification, fallback, clean failure."""

import dataclasses
import functools
import gzip
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from foveate.data import datasets
from foveate.data.datasets import resolve_data_dir
from foveate.data.download import DownloadError, download_file, find_file
from foveate.data.idx import IdxError, write_idx
from foveate.data.mnist import load_mnist

NAME = "train-labels-idx1-ubyte"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep test output clean
        pass


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www; yields its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def dead_mirror():
    """A URL whose port refuses connections: bound (so nobody else takes it) but not listening."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/mnist/"
    sock.close()


def www(server_url: str, tmp_path: Path, mirror: str) -> tuple[Path, str]:
    """The directory and URL of one mirror on the test server."""
    directory = tmp_path / "www" / mirror
    directory.mkdir(exist_ok=True)
    return directory, f"{server_url}{mirror}/"


def put(directory: Path, name: str, array: np.ndarray) -> str:
    """Serve ``array`` as ``name.gz`` from ``directory``; return the MD5 of the raw IDX file."""
    write_idx(directory / name, array)
    raw = (directory / name).read_bytes()
    (directory / f"{name}.gz").write_bytes(gzip.compress(raw))
    (directory / name).unlink()
    return hashlib.md5(raw).hexdigest()


LABELS = np.arange(10, dtype=np.uint8).repeat(2)


def test_good_file(server, tmp_path):
    directory, url = www(server, tmp_path, "a")
    md5 = put(directory, NAME, LABELS)
    data_dir = tmp_path / "data" / "new"  # created on demand
    path = download_file(NAME, data_dir, mirrors=[url], md5=md5)
    assert path == data_dir / NAME
    assert hashlib.md5(path.read_bytes()).hexdigest() == md5
    assert sorted(p.name for p in data_dir.iterdir()) == [NAME]  # uncompressed, no temp left


def corrupt(directory: Path, kind: str) -> None:
    """Replace the served NAME.gz with a bad one of the given kind."""
    target = directory / f"{NAME}.gz"
    if kind == "md5-mismatch":
        put(directory, NAME, LABELS[::-1].copy())
    elif kind == "flipped-bytes":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    elif kind == "truncated":
        target.write_bytes(target.read_bytes()[:-10])
    elif kind == "not-gzip":
        target.write_bytes(b"<html>Access denied</html>")
    elif kind == "missing":
        target.unlink()


BAD_KINDS = ["md5-mismatch", "flipped-bytes", "truncated", "not-gzip", "missing"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_first_mirror_falls_back(server, tmp_path, kind, caplog):
    bad_dir, bad_url = www(server, tmp_path, "bad")
    good_dir, good_url = www(server, tmp_path, "good")
    md5 = put(good_dir, NAME, LABELS)
    put(bad_dir, NAME, LABELS)
    corrupt(bad_dir, kind)
    data_dir = tmp_path / "data"
    path = download_file(NAME, data_dir, mirrors=[bad_url, good_url], md5=md5)
    assert hashlib.md5(path.read_bytes()).hexdigest() == md5
    assert [p.name for p in data_dir.iterdir()] == [NAME]
    assert bad_url in caplog.text  # the failed mirror was reported


def test_dead_mirror_falls_back(server, tmp_path, dead_mirror):
    directory, url = www(server, tmp_path, "good")
    md5 = put(directory, NAME, LABELS)
    path = download_file(NAME, tmp_path / "data", mirrors=[dead_mirror, url], md5=md5, timeout=5)
    assert hashlib.md5(path.read_bytes()).hexdigest() == md5


def test_all_mirrors_bad(server, tmp_path, dead_mirror):
    mirrors = [dead_mirror]
    for kind in BAD_KINDS:
        directory, url = www(server, tmp_path, kind)
        md5 = put(directory, NAME, LABELS)
        corrupt(directory, kind)
        mirrors.append(url)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with pytest.raises(DownloadError) as caught:
        download_file(NAME, data_dir, mirrors=mirrors, md5=md5, timeout=5)
    message = str(caught.value)
    assert "\n" not in message and NAME in message
    for url in mirrors:
        assert url in message
    assert "MD5" in message and "404" in message
    assert list(data_dir.iterdir()) == []  # neither the file nor a temporary


def test_an_offline_failure_is_one_line_naming_the_file_and_the_folder(
    tmp_path, dead_mirror, caplog
):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with pytest.raises(DownloadError) as caught:
        download_file(NAME, data_dir, mirrors=[dead_mirror, dead_mirror], md5="0" * 32, timeout=5)
    assert str(caught.value).startswith(
        f"could not download {NAME} into {data_dir}: no mirror could be reached (is this "
        "machine offline?); put"
    )
    assert "\n" not in str(caught.value)
    assert "WARNING" not in caplog.text  # no wall of mirrors' errors before it


def test_failed_download_keeps_nothing_and_does_not_create_dir(tmp_path, dead_mirror):
    data_dir = tmp_path / "nowhere"
    with pytest.raises(DownloadError):
        download_file(NAME, data_dir, mirrors=[dead_mirror], md5="0" * 32, timeout=5)
    assert not data_dir.exists()


def test_mnist_checksum_is_canonical(server, tmp_path, monkeypatch):
    # load_mnist checks downloads against the canonical MNIST checksum: a fake file is rejected.
    directory, url = www(server, tmp_path, "a")
    name = "train-images-idx3-ubyte"
    put(directory, name, np.zeros((2, 28, 28), np.uint8))
    mirrored = dataclasses.replace(datasets.MNIST, mirrors=(url,))
    monkeypatch.setitem(datasets.DATASETS, "mnist", mirrored)
    with pytest.raises(DownloadError, match=datasets.MNIST.md5[name]):
        load_mnist("train", tmp_path / "data")


@pytest.fixture
def fake_mnist(server, tmp_path, monkeypatch):
    """Small fake MNIST files on a local mirror, installed as the 'mnist' dataset's mirror and MD5s."""
    directory, url = www(server, tmp_path, "mnist")
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 12, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 5, dtype=np.uint8),
    }
    md5s = {name: put(directory, name, array) for name, array in arrays.items()}
    fake = dataclasses.replace(datasets.MNIST, md5=md5s, mirrors=(url,))
    monkeypatch.setitem(datasets.DATASETS, "mnist", fake)
    return arrays


@pytest.mark.parametrize("split, prefix", [("train", "train"), ("test", "t10k")])
def test_load_mnist_downloads_missing_files(tmp_path, fake_mnist, split, prefix):
    data_dir = tmp_path / "data"
    images, labels = load_mnist(split, data_dir)
    assert images.dtype == torch.uint8 and labels.dtype == torch.int64
    np.testing.assert_array_equal(images.numpy(), fake_mnist[f"{prefix}-images-idx3-ubyte"])
    np.testing.assert_array_equal(labels.numpy(), fake_mnist[f"{prefix}-labels-idx1-ubyte"])
    assert sorted(p.name for p in data_dir.iterdir()) == [
        f"{prefix}-images-idx3-ubyte",
        f"{prefix}-labels-idx1-ubyte",
    ]
    # Now present: loads again without the network.
    again, _ = load_mnist(split, data_dir, download=False)
    assert torch.equal(again, images)


def test_load_mnist_only_downloads_what_is_missing(tmp_path, fake_mnist, monkeypatch):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_idx(data_dir / "train-images-idx3-ubyte.gz", fake_mnist["train-images-idx3-ubyte"])
    fetched = []
    real = datasets.download_file

    def recording(name, data_dir, **kwargs):
        fetched.append(name)
        return real(name, data_dir, **kwargs)

    monkeypatch.setattr(datasets, "download_file", recording)
    images, _ = load_mnist("train", data_dir)
    assert fetched == ["train-labels-idx1-ubyte"]
    np.testing.assert_array_equal(images.numpy(), fake_mnist["train-images-idx3-ubyte"])


def test_load_mnist_missing_without_download(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        load_mnist("test", tmp_path, download=False)
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path) in message and "t10k-images-idx3-ubyte" in message
    assert "--data-dir" in message and "FOVEATE_DATA" in message


def test_load_mnist_checks_consistency(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(IdxError, match="3 images.*4 labels"):
        load_mnist("train", tmp_path, download=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.array([0, 1, 10], np.uint8))
    with pytest.raises(IdxError, match="labels must be 0..9, found 10"):
        load_mnist("train", tmp_path, download=False)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 32, 32), np.uint8))
    with pytest.raises(IdxError, match="expected dimensions Nx28x28"):
        load_mnist("train", tmp_path, download=False)


def test_find_file_prefers_raw(tmp_path):
    assert find_file(NAME, tmp_path) is None
    (tmp_path / f"{NAME}.gz").write_bytes(b"")
    assert find_file(NAME, tmp_path) == tmp_path / f"{NAME}.gz"
    (tmp_path / NAME).write_bytes(b"")
    assert find_file(NAME, tmp_path) == tmp_path / NAME


def test_resolve_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FOVEATE_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_data_dir("mnist", tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir("mnist", None) == tmp_path / "env"
    monkeypatch.delenv("FOVEATE_DATA")
    assert resolve_data_dir("mnist", None) == tmp_path / "cache" / "foveate" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir("mnist", None) == tmp_path / "home" / ".cache" / "foveate" / "mnist"
