"""Image classification datasets by name: MNIST, Fashion-MNIST, and any dataset in their layout.

Each is four IDX files (``idx.py``) in MNIST's layout: images (N, H, W) uint8 and labels (N,)
for a 'train' and a 'test' split, raw or gzipped. A named dataset (``DATASETS``) knows its file
names, the MD5 of each decompressed file, its mirrors and its number of classes: a missing file is
downloaded, verified and renamed into place only then (``download.py``). Files already present are
not re-hashed on every load (that costs more than reading them); ``read_idx`` still checks their
structure. The name 'idx' means MNIST's file names in the directory the caller gives
(``--data-dir``): no download, no checksum, as many classes as the largest label + 1.

Datasets:
    mnist: LeCun, Bottou, Bengio, Haffner, "Gradient-based learning applied to document
        recognition", Proc. IEEE 1998. 60,000 + 10,000 digits, 28x28.
    fashion-mnist: Xiao, Rasul, Vollgraf, "Fashion-MNIST: a novel image dataset for benchmarking
        machine learning algorithms", arXiv:1708.07747, 2017. 60,000 + 10,000 Zalando article
        images, 28x28, 10 classes.

Where the files are (``resolve_data_dir``), first match wins:
    1. the explicit directory (``--data-dir``);
    2. ``$FOVEATE_DATA/<name>`` if that is a directory, so that one $FOVEATE_DATA holds them all
       (mnist/, fashion-mnist/, omniglot/);
    3. for 'mnist' only, $FOVEATE_DATA itself (what it meant before there were other datasets);
    4. the per-user cache ``$XDG_CACHE_HOME/foveate/<name>``, by default ~/.cache/foveate/<name>.
A file missing there is looked for in the dataset's ``fallback_dirs`` (a system package's copy,
such as Debian's dataset-fashion-mnist) before it is downloaded into that directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from foveate.data.download import download_file, find_file
from foveate.data.idx import IdxError, read_idx, read_idx_shape

DatasetName = Literal["mnist", "fashion-mnist", "idx"]
Split = Literal["train", "test"]

# The images and labels files of each split, without .gz, as MNIST names them.
MNIST_LAYOUT: Mapping[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class IdxDataset:
    """A dataset of IDX files: images (N, H, W) uint8 and labels (N,) for 'train' and 'test'.

    Attributes:
        name: as on the command line (``--dataset``) and in results.
        title: as in prose and messages, e.g. 'Fashion-MNIST'.
        num_classes: labels are 0..num_classes-1; None: the largest label + 1, read from the
            label files.
        image_shape: (H, W) the images must have; None: whatever the files hold.
        md5: MD5 of each decompressed file, by file name (the gzip wrappers differ by mirror).
        mirrors: base URLs that serve ``<file name>.gz``, tried in order; empty: never downloaded.
        fallback_dirs: directories searched for a file missing from the data directory, before
            it is downloaded.
        needs_data_dir: the files are wherever the caller says, and only there.
        class_names: what each label means, if known.
        files: the images and labels files of each split, without ``.gz``.
    """

    name: str
    title: str
    num_classes: int | None
    image_shape: tuple[int, int] | None = None
    md5: Mapping[str, str] = field(default_factory=dict)
    mirrors: tuple[str, ...] = ()
    fallback_dirs: tuple[str, ...] = ()
    needs_data_dir: bool = False
    class_names: tuple[str, ...] = ()
    files: Mapping[str, tuple[str, str]] = field(default_factory=lambda: dict(MNIST_LAYOUT))


MNIST = IdxDataset(
    name="mnist",
    title="MNIST",
    num_classes=10,
    image_shape=(28, 28),
    # MD5 of the decompressed files of the canonical release.
    md5={
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    # The original site is often down, so it comes last.
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    class_names=tuple("0123456789"),
)

FASHION_MNIST = IdxDataset(
    name="fashion-mnist",
    title="Fashion-MNIST",
    num_classes=10,
    image_shape=(28, 28),
    # MD5 of the decompressed files, computed from Debian's dataset-fashion-mnist
    # (0.0~git20200523.55506a9-1, a snapshot of Zalando's repository). Zalando's README lists the
    # MD5s of its .gz files instead; Debian's gzip wrappers differ from those, the data does not.
    md5={
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
    # Zalando's own: the S3 website bucket its README links (http only: S3 website endpoints
    # have no https), then the data/fashion folder of its GitHub repository.
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    fallback_dirs=("/usr/share/datasets/fashion-mnist",),  # apt-get install dataset-fashion-mnist
    class_names=(
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
)

IDX = IdxDataset(name="idx", title="IDX", num_classes=None, needs_data_dir=True)

DATASETS: dict[str, IdxDataset] = {spec.name: spec for spec in (MNIST, FASHION_MNIST, IDX)}


def get_dataset(name: str) -> IdxDataset:
    """The dataset called ``name``; a clear error listing the known ones otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}"
        ) from None


def resolve_data_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Where dataset ``name``'s files are: ``data_dir``, else under $FOVEATE_DATA, else the cache.

    Any name goes (also 'omniglot'); the rules are in this module's docstring.
    """
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get("FOVEATE_DATA"):
        root = Path(os.environ["FOVEATE_DATA"]).expanduser()
        if (root / name).is_dir():
            return root / name
        if name == MNIST.name:
            return root
    return cache_dir(name)


def cache_dir(name: str) -> Path:
    """The per-user cache of dataset ``name``: ``$XDG_CACHE_HOME/foveate/<name>``, by default
    ~/.cache/foveate/<name>."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "foveate" / name


def check_data_dir(name: str, data_dir: str | os.PathLike | None = None) -> None:
    """Refuse a folder of dataset ``name`` that someone named (``data_dir``, $FOVEATE_DATA) but
    that does not exist: a mistyped one would otherwise become, silently, a new folder that the
    whole dataset is downloaded into. Only the per-user cache is made on demand; to download
    into another folder, create it first. Raises FileNotFoundError (one line)."""
    directory = resolve_data_dir(name, data_dir)
    if directory.is_dir() or directory == cache_dir(name):
        return
    named = "--data-dir" if data_dir else "FOVEATE_DATA"
    raise FileNotFoundError(
        f"data directory {directory} ({named}) does not exist: point {named} at the folder "
        f"that holds the {name} files, create it first to have them downloaded into it, or "
        f"leave {named} out to use {cache_dir(name)}"
    )


def _directory(spec: IdxDataset, data_dir: str | os.PathLike | None) -> Path:
    if spec.needs_data_dir and not data_dir:
        raise ValueError(
            f"dataset {spec.name!r} reads the IDX files of the directory given as data_dir "
            f"(--data-dir), and none was given"
        )
    return resolve_data_dir(spec.name, data_dir)


def _locate(spec: IdxDataset, name: str, directory: Path, *, download: bool) -> Path:
    """The file ``name`` (or ``name.gz``): in ``directory``, a fallback directory, or downloaded."""
    for where in (directory, *spec.fallback_dirs):
        path = find_file(name, where)
        if path is not None:
            return path
    if download and spec.mirrors:
        return download_file(name, directory, mirrors=spec.mirrors, md5=spec.md5[name])
    allow = ", or allow the download" if spec.mirrors else ""
    raise FileNotFoundError(
        f"{spec.title} file {name} (or {name}.gz) is not in {directory}: point --data-dir or "
        f"FOVEATE_DATA at a directory that holds it{allow}"
    )


def load_dataset(
    name: str,
    split: Split,
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
) -> tuple[Tensor, Tensor]:
    """The 'train' or 'test' split of dataset ``name``.

    Args:
        name: a key of ``DATASETS``: 'mnist', 'fashion-mnist' or 'idx'.
        split: 'train' or 'test' (the t10k files).
        data_dir: directory of the IDX files, raw or gzipped; see ``resolve_data_dir``. Needed
            for 'idx'.
        download: fetch missing files from the dataset's mirrors; else a missing file is an error.

    Returns:
        images (N, H, W) uint8 and labels (N,) int64 in 0..num_classes-1 (for MNIST and
        Fashion-MNIST: N = 60,000 or 10,000, H = W = 28, 10 classes).

    Raises:
        ValueError: an unknown dataset or split, or 'idx' without ``data_dir``.
        FileNotFoundError: a file is missing and cannot be downloaded.
        DownloadError: a missing file could not be downloaded.
        IdxError: a file is corrupt, or images and labels do not match.
    """
    spec = get_dataset(name)
    if split not in spec.files:
        raise ValueError(f"split must be one of {', '.join(spec.files)}, got {split!r}")
    directory = _directory(spec, data_dir)
    image_name, label_name = spec.files[split]
    image_file = _locate(spec, image_name, directory, download=download)
    label_file = _locate(spec, label_name, directory, download=download)
    images = read_idx(image_file, expect_shape=(None, *(spec.image_shape or (None, None))))
    labels = read_idx(label_file, expect_shape=(None,))
    if len(images) != len(labels):
        raise IdxError(
            f"{image_file.name}: holds {len(images)} images, but {label_file.name} holds "
            f"{len(labels)} labels"
        )
    if spec.num_classes is not None and len(labels) and labels.max() >= spec.num_classes:
        raise IdxError(
            f"{label_file.name}: labels must be 0..{spec.num_classes - 1}, found {labels.max()}"
        )
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def dataset_num_classes(name: str, data_dir: str | os.PathLike | None = None) -> int:
    """The number of classes: the dataset's own, else the largest label of any split + 1.

    Only a dataset without a number of its own ('idx') reads files: its label files (small), never
    its images, and never downloads.
    """
    spec = get_dataset(name)
    if spec.num_classes is not None:
        return spec.num_classes
    directory = _directory(spec, data_dir)
    largest = 0
    for _, label_name in spec.files.values():
        labels = read_idx(
            _locate(spec, label_name, directory, download=False), expect_shape=(None,)
        )
        largest = max(largest, int(labels.max(initial=0)))
    return largest + 1


def dataset_image_shape(name: str, data_dir: str | os.PathLike | None = None) -> tuple[int, int]:
    """(H, W) of the dataset's images: its own, else read from the training images' header."""
    spec = get_dataset(name)
    if spec.image_shape is not None:
        return spec.image_shape
    path = _locate(spec, spec.files["train"][0], _directory(spec, data_dir), download=False)
    shape = read_idx_shape(path)
    if len(shape) != 3:
        raise IdxError(f"{path.name}: expected images of dimensions NxHxW, found {len(shape)} dims")
    return shape[1], shape[2]
