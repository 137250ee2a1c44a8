"""MNIST: the small sample shipped inside the package, and the full dataset by its old names.

The full dataset is the 'mnist' entry of ``foveate.data.datasets`` (where its files live, its
mirrors and checksums); ``load_mnist`` and the names below are kept for the code that imports
them from here.
"""

from __future__ import annotations

import os
from importlib import resources
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from foveate.data.datasets import MNIST, load_dataset
from foveate.data.download import DownloadError, find_file

__all__ = [
    "MNIST_FILES",
    "SAMPLE_RESOURCE",
    "SPLIT_FILES",
    "DownloadError",
    "find_file",
    "load_mnist",
    "load_mnist_sample",
]

MNIST_FILES = MNIST.md5  # file name -> MD5 of the decompressed canonical file
SPLIT_FILES = MNIST.files  # split -> (images file, labels file)
SAMPLE_RESOURCE = "sample/mnist_sample.npz"


def load_mnist(
    split: Literal["train", "test"],
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
) -> tuple[Tensor, Tensor]:
    """The 'train' (60,000) or 'test' (10,000) split of MNIST: ``load_dataset('mnist', ...)``.

    Returns:
        images (N, 28, 28) uint8 and labels (N,) int64 in 0..9.
    """
    return load_dataset(MNIST.name, split, data_dir, download=download)


def load_mnist_sample(split: Literal["train", "test"]) -> tuple[Tensor, Tensor]:
    """The MNIST subset shipped in the package: 5,000 train or 1,000 test digits.

    See foveate/data/sample/README.md for how it was drawn.

    Returns:
        images (N, 28, 28) uint8 and labels (N,) int64 in 0..9.
    """
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    with resources.files("foveate.data").joinpath(SAMPLE_RESOURCE).open("rb") as f:
        with np.load(f) as arrays:
            images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))
