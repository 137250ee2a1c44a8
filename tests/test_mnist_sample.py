"""The MNIST sample shipped in the package: shapes, classes, and provenance against the real files."""

import os
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch

from foveate.data.mnist import SAMPLE_RESOURCE, find_file, load_mnist, load_mnist_sample

SHARED_MNIST = Path(__file__).parents[1] / ".." / "shared" / "data" / "mnist"
SIZES = {"train": (5000, 60000), "test": (1000, 10000)}  # sample size, canonical size


def canonical_dir() -> Path | None:
    """A directory with all four canonical files: $FOVEATE_DATA or the shared folder."""
    candidates = [SHARED_MNIST]
    if os.environ.get("FOVEATE_DATA"):
        candidates.insert(0, Path(os.environ["FOVEATE_DATA"]))
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
    names += ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    for d in candidates:
        if all(find_file(n, d) for n in names):
            return d
    return None


@pytest.fixture(scope="module")
def arrays():
    with resources.files("foveate.data").joinpath(SAMPLE_RESOURCE).open("rb") as f:
        with np.load(f) as npz:
            return dict(npz)


@pytest.mark.parametrize("split", ["train", "test"])
def test_shapes_and_classes(split):
    images, labels = load_mnist_sample(split)
    n = SIZES[split][0]
    assert images.shape == (n, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (n,) and labels.dtype == torch.int64
    # Stratified: every class equally often.
    assert torch.bincount(labels, minlength=10).tolist() == [n // 10] * 10
    assert images.float().mean(dim=(1, 2)).min() > 0  # no blank images


@pytest.mark.parametrize("split", ["train", "test"])
def test_stored_indices(arrays, split):
    n, total = SIZES[split]
    index = arrays[f"{split}_indices"]
    assert index.shape == (n,)
    assert (np.diff(index) > 0).all()  # sorted, no repeats
    assert 0 <= index[0] and index[-1] < total


def test_sample_is_small():
    size = resources.files("foveate.data").joinpath(SAMPLE_RESOURCE).stat().st_size
    assert size < 3_000_000


@pytest.mark.parametrize("split", ["train", "test"])
def test_indices_reproduce_canonical_digits(arrays, split):
    directory = canonical_dir()
    if directory is None:
        pytest.skip("canonical MNIST files not found (set FOVEATE_DATA)")
    images, labels = load_mnist(split, directory, download=False)
    index = torch.from_numpy(arrays[f"{split}_indices"].astype(np.int64))
    np.testing.assert_array_equal(images[index].numpy(), arrays[f"{split}_images"])
    np.testing.assert_array_equal(labels[index].numpy(), arrays[f"{split}_labels"])
