"""Datasets by name: the registry, where files are found, Fashion-MNIST downloads from mirrors
served on 127.0.0.1, the 'idx' dataset read from a directory, and TaskDataModule on each."""

import dataclasses
import functools
import gzip
import hashlib
import http.server
import threading
from pathlib import Path
from typing import get_args

import numpy as np
import pytest
import torch

from foveate.data import datasets
from foveate.data.datamodule import TaskDataModule
from foveate.data.datasets import (
    DATASETS,
    FASHION_MNIST,
    DatasetName,
    dataset_image_shape,
    dataset_num_classes,
    get_dataset,
    load_dataset,
    resolve_data_dir,
)
from foveate.data.download import DownloadError
from foveate.data.idx import IdxError, read_idx_shape, write_idx

DEBIAN_FASHION = Path(FASHION_MNIST.fallback_dirs[0])
LAYOUT = [name for pair in datasets.MNIST_LAYOUT.values() for name in pair]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def mirror(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/www; yields (directory, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def fake_arrays(*, size=(28, 28), classes=10, n=(30, 12), seed=0) -> dict[str, np.ndarray]:
    """A tiny dataset in MNIST's layout: file name -> array."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for (images, labels), count in zip(datasets.MNIST_LAYOUT.values(), n, strict=True):
        arrays[images] = rng.integers(0, 256, (count, *size), dtype=np.uint8)
        arrays[labels] = np.arange(count, dtype=np.uint8) % classes
    return arrays


def serve(directory: Path, arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """Serve each array as ``name.gz``; return the MD5 of each decompressed file."""
    directory.mkdir(parents=True, exist_ok=True)
    md5s = {}
    for name, array in arrays.items():
        raw = write_idx(directory / name, array).read_bytes()
        (directory / name).unlink()
        (directory / f"{name}.gz").write_bytes(gzip.compress(raw))
        md5s[name] = hashlib.md5(raw).hexdigest()
    return md5s


def write_dir(directory: Path, arrays: dict[str, np.ndarray]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(directory / f"{name}.gz", array)
    return directory


# --- the registry ---


def test_registry_matches_the_typed_names():
    assert tuple(DATASETS) == get_args(DatasetName) == ("mnist", "fashion-mnist", "idx")
    for name, spec in DATASETS.items():
        assert spec.name == name and get_dataset(name) is spec
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; known datasets: mnist, "):
        get_dataset("cifar")


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_named_datasets_can_be_downloaded_and_verified(name):
    spec = get_dataset(name)
    assert sorted(spec.md5) == sorted(LAYOUT)
    assert all(len(md5) == 32 and int(md5, 16) >= 0 for md5 in spec.md5.values())
    assert spec.mirrors and all(m.startswith(("http://", "https://")) for m in spec.mirrors)
    assert all(m.endswith("/") for m in spec.mirrors)
    assert spec.num_classes == 10 == len(spec.class_names) and spec.image_shape == (28, 28)


def test_fashion_mnist_md5_matches_the_debian_package():
    if not DEBIAN_FASHION.is_dir():
        pytest.skip(f"{DEBIAN_FASHION} not found (apt-get install dataset-fashion-mnist)")
    for name, md5 in FASHION_MNIST.md5.items():
        raw = gzip.decompress((DEBIAN_FASHION / f"{name}.gz").read_bytes())
        assert hashlib.md5(raw).hexdigest() == md5, name


# --- where the files are ---


def test_resolve_data_dir(tmp_path, monkeypatch):
    env, cache = tmp_path / "env", tmp_path / "cache"
    monkeypatch.setenv("FOVEATE_DATA", str(env))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    env.mkdir()
    # $FOVEATE_DATA without subfolders: MNIST's own directory, as it always was.
    assert resolve_data_dir("mnist") == env
    assert resolve_data_dir("fashion-mnist") == cache / "foveate" / "fashion-mnist"
    assert resolve_data_dir("omniglot") == cache / "foveate" / "omniglot"
    for name in ("mnist", "fashion-mnist", "omniglot"):
        (env / name).mkdir()
        assert resolve_data_dir(name) == env / name
        assert resolve_data_dir(name, tmp_path / "arg") == tmp_path / "arg"


def test_idx_needs_a_data_dir():
    with pytest.raises(ValueError, match="'idx'.*--data-dir"):
        load_dataset("idx", "train")
    with pytest.raises(ValueError, match="'idx'.*--data-dir"):
        dataset_num_classes("idx")


# --- Fashion-MNIST downloads (local mirrors, tiny fake files) ---


@pytest.fixture
def fake_fashion(mirror, monkeypatch):
    """Tiny fake Fashion-MNIST files: a bad mirror first, then a good one; no Debian fallback."""
    root, url = mirror
    arrays = fake_arrays()
    md5s = serve(root / "good", arrays)
    serve(root / "bad", fake_arrays(seed=1))  # valid gzip and IDX, wrong MD5
    spec = dataclasses.replace(
        FASHION_MNIST, md5=md5s, mirrors=(f"{url}bad/", f"{url}good/"), fallback_dirs=()
    )
    monkeypatch.setitem(DATASETS, "fashion-mnist", spec)
    return arrays


@pytest.mark.parametrize("split", ["train", "test"])
def test_fashion_mnist_download_verifies_and_renames(tmp_path, fake_fashion, split, caplog):
    data_dir = tmp_path / "data"
    images, labels = load_dataset("fashion-mnist", split, data_dir)
    image_name, label_name = datasets.MNIST_LAYOUT[split]
    np.testing.assert_array_equal(images.numpy(), fake_fashion[image_name])
    np.testing.assert_array_equal(labels.numpy(), fake_fashion[label_name])
    assert labels.dtype == torch.int64
    # Only the verified, uncompressed files: no temporary left, nothing from the bad mirror.
    assert sorted(p.name for p in data_dir.iterdir()) == sorted([image_name, label_name])
    assert "/bad/" in caplog.text and "MD5" in caplog.text
    again, _ = load_dataset("fashion-mnist", split, data_dir, download=False)
    assert torch.equal(again, images)


def test_fashion_mnist_all_mirrors_bad_leaves_nothing(tmp_path, fake_fashion, monkeypatch):
    spec = get_dataset("fashion-mnist")
    monkeypatch.setitem(
        DATASETS, "fashion-mnist", dataclasses.replace(spec, mirrors=spec.mirrors[:1])
    )
    data_dir = tmp_path / "data"
    with pytest.raises(DownloadError, match="train-images-idx3-ubyte.*MD5"):
        load_dataset("fashion-mnist", "train", data_dir)
    assert not data_dir.exists()


def test_fallback_dir_is_used_before_downloading(tmp_path, monkeypatch):
    arrays = fake_arrays(seed=2)
    system = write_dir(tmp_path / "usr-share", arrays)
    dead = "http://127.0.0.1:9/"  # would fail if tried; it is not
    spec = dataclasses.replace(FASHION_MNIST, mirrors=(dead,), fallback_dirs=(str(system),))
    monkeypatch.setitem(DATASETS, "fashion-mnist", spec)
    data_dir = tmp_path / "data"
    images, _ = load_dataset("fashion-mnist", "test", data_dir)
    np.testing.assert_array_equal(images.numpy(), arrays["t10k-images-idx3-ubyte"])
    assert not data_dir.exists()  # read in place, not copied
    # A file in the data directory wins over the fallback.
    write_dir(data_dir, {"t10k-images-idx3-ubyte": arrays["t10k-images-idx3-ubyte"][::-1].copy()})
    images, _ = load_dataset("fashion-mnist", "test", data_dir)
    np.testing.assert_array_equal(images.numpy(), arrays["t10k-images-idx3-ubyte"][::-1])


def test_named_dataset_checks_label_range_and_size(tmp_path):
    arrays = fake_arrays(size=(20, 20))
    write_dir(tmp_path, arrays)
    with pytest.raises(IdxError, match="expected dimensions Nx28x28, found 30x20x20"):
        load_dataset("fashion-mnist", "train", tmp_path, download=False)
    arrays = fake_arrays(classes=11)
    write_dir(tmp_path, arrays)
    with pytest.raises(IdxError, match="labels must be 0..9, found 10"):
        load_dataset("fashion-mnist", "train", tmp_path, download=False)


# --- 'idx': any dataset in MNIST's layout ---


def test_idx_dataset_reads_a_directory_and_counts_its_classes(tmp_path):
    arrays = fake_arrays(size=(16, 20), classes=3)
    write_dir(tmp_path, arrays)
    assert dataset_num_classes("idx", tmp_path) == 3
    assert dataset_image_shape("idx", tmp_path) == (16, 20)
    images, labels = load_dataset("idx", "train", tmp_path)
    assert images.shape == (30, 16, 20) and labels.tolist() == [i % 3 for i in range(30)]
    np.testing.assert_array_equal(images.numpy(), arrays["train-images-idx3-ubyte"])
    # The largest label of either split counts.
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([0] * 11 + [6], np.uint8))
    assert dataset_num_classes("idx", tmp_path) == 7


def test_idx_dataset_missing_file_is_not_downloaded(tmp_path):
    write_dir(tmp_path, {"train-images-idx3-ubyte": np.zeros((2, 5, 5), np.uint8)})
    with pytest.raises(FileNotFoundError) as caught:
        load_dataset("idx", "train", tmp_path)
    message = str(caught.value)
    assert "train-labels-idx1-ubyte" in message and str(tmp_path) in message
    assert "download" not in message


# --- TaskDataModule on each dataset ---


def test_datamodule_fashion_mnist_translated():
    if not DEBIAN_FASHION.is_dir():
        pytest.skip(f"{DEBIAN_FASHION} not found (apt-get install dataset-fashion-mnist)")
    data = TaskDataModule(
        "translated", dataset="fashion-mnist", data_dir=DEBIAN_FASHION, download=False
    )
    assert data.num_classes == 10 and data.image_size == 60
    data.setup()
    assert [len(data.datasets[s]) for s in ("train", "val", "test")] == [55000, 5000, 10000]
    images, labels = next(iter(data.train_dataloader()))
    assert images.shape == (128, 1, 60, 60) and images.dtype == torch.float32
    assert labels.shape == (128,) and 0 <= labels.min() and labels.max() <= 9
    # Each canvas holds one 28x28 article somewhere, the rest black.
    lit = images[:, 0] > 0
    rows, cols = lit.any(2), lit.any(1)  # (B, 60) each
    for axis in (rows, cols):
        first = axis.float().argmax(1)
        last = 59 - axis.flip(1).float().argmax(1)
        assert axis.any(1).all() and (last - first < 28).all()
    assert rows.float().argmax(1).unique().numel() > 10  # at many positions
    test_images, _ = data.datasets["test"].__getitems__(list(range(4)))
    assert test_images.shape == (4, 1, 60, 60)


@pytest.mark.parametrize("task, side", [("mnist", 20), ("translated", 60), ("cluttered100", 100)])
def test_datamodule_idx(tmp_path, task, side):
    write_dir(tmp_path, fake_arrays(size=(20, 20), classes=3, n=(60, 9)))
    data = TaskDataModule(task, dataset="idx", data_dir=tmp_path, batch_size=8)
    assert data.num_classes == 3 and data.image_size == side
    data.setup()
    assert len(data.datasets["val"]) == 6  # a tenth of the 60 training images
    images, labels = next(iter(data.train_dataloader()))
    assert images.shape == (8, 1, side, side) and set(labels.tolist()) <= {0, 1, 2}
    images, _ = next(iter(data.test_dataloader()))
    assert images.shape == (9, 1, side, side)


def test_datamodule_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'emnist'; known datasets: mnist"):
        TaskDataModule(dataset="emnist")
    with pytest.raises(ValueError, match="sample.*MNIST.*'fashion-mnist'"):
        TaskDataModule(dataset="fashion-mnist", sample=True)
    with pytest.raises(ValueError, match="'idx' reads the IDX files in data_dir"):
        TaskDataModule(dataset="idx")
    write_dir(tmp_path / "wide", fake_arrays(size=(16, 20), classes=3))
    with pytest.raises(ValueError, match="16x20 images.*square"):
        _ = TaskDataModule("mnist", dataset="idx", data_dir=tmp_path / "wide").image_size
    assert TaskDataModule("translated", dataset="idx", data_dir=tmp_path / "wide").image_size == 60
    arrays = fake_arrays(size=(20, 20), classes=3)
    arrays["t10k-images-idx3-ubyte"] = np.zeros((12, 21, 21), np.uint8)
    write_dir(tmp_path / "mixed", arrays)
    with pytest.raises(ValueError, match=r"test images are \(21, 21\), training images \(20, 20\)"):
        TaskDataModule("translated", dataset="idx", data_dir=tmp_path / "mixed").setup()


def test_datamodule_sample_defaults():
    data = TaskDataModule(sample=True)
    assert data.dataset == "mnist" and data.num_classes == 10 and data.image_size == 28
    data.setup()
    assert [len(data.datasets[s]) for s in ("train", "val", "test")] == [4500, 500, 1000]


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_read_idx_shape_reads_only_the_header(tmp_path, name):
    path = write_idx(tmp_path / name, np.zeros((7, 5, 3), np.uint8))
    assert read_idx_shape(path) == (7, 5, 3)
    data = path.read_bytes() if not name.endswith(".gz") else gzip.decompress(path.read_bytes())
    cut = data[:20]  # header only: the values are not read, so not missed
    path.write_bytes(gzip.compress(cut) if name.endswith(".gz") else cut)
    assert read_idx_shape(path) == (7, 5, 3)
    path.write_bytes(b"<html>" + data[6:])
    with pytest.raises(IdxError, match="not an IDX file"):
        read_idx_shape(path)


def test_model_defaults_follow_the_data(tmp_path):
    write_dir(tmp_path, fake_arrays(size=(20, 20), classes=3))
    data = TaskDataModule("mnist", dataset="idx", data_dir=tmp_path)
    assert data.model_defaults() == {"image_size": 20, "channels": 1, "num_classes": 3}
    assert TaskDataModule("cluttered100", sample=True).model_defaults() == {
        "image_size": 100,
        "channels": 1,
        "num_classes": 10,
    }
