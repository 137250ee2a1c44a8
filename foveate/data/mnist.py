"""MNIST: where its files live, how they are fetched and verified, and how they are read.

The data directory is the explicit argument (``--data-dir``), else $FOVEATE_DATA, else a per-user
cache (``$XDG_CACHE_HOME/foveate/mnist``, by default ``~/.cache/foveate/mnist``). Files may be raw
or gzipped IDX. Missing files are downloaded from the standard mirrors, the next mirror tried on
any failure, checked against the MD5 of the decompressed file, and renamed into place only once
verified: a failed download leaves nothing behind. Files already present are not re-hashed on
every load (that costs more than reading them); ``read_idx`` still checks their structure.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import logging
import os
import sys
import tempfile
import urllib.request
import zlib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from foveate.data.idx import IdxError, read_idx

log = logging.getLogger(__name__)

# MD5 of the decompressed files of the canonical release (the gzip wrappers differ by mirror).
MNIST_FILES = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Tried in order; each serves ``<name>.gz``. The original site is often down, so it comes last.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
SAMPLE_RESOURCE = "sample/mnist_sample.npz"
# What one mirror can do wrong: connection or HTTP errors (URLError, timeouts: OSError), a cut
# or malformed response (HTTPException), a bad gzip stream (BadGzipFile is an OSError, EOFError,
# zlib.error), a malformed mirror URL (ValueError).
_MIRROR_FAILURES = (OSError, EOFError, zlib.error, http.client.HTTPException, ValueError)
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """No mirror delivered a verified file (the message says what each one gave)."""


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The explicit directory, else $FOVEATE_DATA, else the per-user cache directory."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get("FOVEATE_DATA"):
        return Path(os.environ["FOVEATE_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "foveate" / "mnist"


def find_file(name: str, data_dir: str | os.PathLike) -> Path | None:
    """``data_dir/name`` or else ``data_dir/name.gz``, or None if neither is a file."""
    data_dir = Path(data_dir)
    for candidate in (data_dir / name, data_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _fetch(url: str, *, timeout: float) -> bytes:
    """The body at ``url``, with a progress bar on stderr for large files at a terminal."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        body = io.BytesIO()
        # disable=None hides the bar when stderr is not a terminal (logs, CI, tests).
        with tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            desc=url.rsplit("/", 1)[-1],
            file=sys.stderr,
            disable=None if total and total > _CHUNK else True,
            leave=False,
        ) as bar:
            while chunk := response.read(_CHUNK):
                body.write(chunk)
                bar.update(len(chunk))
    return body.getvalue()


def download_file(
    name: str,
    data_dir: str | os.PathLike,
    *,
    mirrors: Sequence[str] | None = None,
    md5: str | None = None,
    timeout: float = 30,
) -> Path:
    """Fetch ``<mirror><name>.gz`` from the first mirror that gives a verified file.

    The decompressed bytes must have the MD5 ``md5``. They are written to a temporary file in
    ``data_dir`` and renamed to ``data_dir/name`` only once verified, so a reader never sees a
    partial file and a failure leaves nothing behind.

    Args:
        name: the file's name without ``.gz``, e.g. 'train-images-idx3-ubyte'.
        data_dir: where to put it (created if missing).
        mirrors: base URLs, tried in order; default ``MIRRORS`` (read at call time).
        md5: expected MD5 of the decompressed file; default ``MNIST_FILES[name]``.
        timeout: seconds to wait on each connection and read.

    Returns:
        The path of the uncompressed file.

    Raises:
        DownloadError: no mirror delivered; the one-line message says what each one gave.
    """
    data_dir = Path(data_dir)
    expected = md5 if md5 is not None else MNIST_FILES[name]
    failures = []
    for mirror in MIRRORS if mirrors is None else mirrors:
        url = f"{mirror}{name}.gz"
        log.info("downloading %s", url)
        try:
            content = gzip.decompress(_fetch(url, timeout=timeout))
        except _MIRROR_FAILURES as error:
            failures.append(f"{url}: {type(error).__name__}: {error}")
            log.warning("download failed, trying the next mirror: %s", failures[-1])
            continue
        digest = hashlib.md5(content).hexdigest()
        if digest != expected:
            failures.append(f"{url}: MD5 {digest}, expected {expected}")
            log.warning("download failed, trying the next mirror: %s", failures[-1])
            continue
        data_dir.mkdir(parents=True, exist_ok=True)
        # Same directory as the target, so that os.replace is an atomic rename.
        fd, partial = tempfile.mkstemp(dir=data_dir, prefix=f".{name}.", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
            os.replace(partial, data_dir / name)
        finally:
            Path(partial).unlink(missing_ok=True)
        return data_dir / name
    tried = "; ".join(failures) or "no mirrors given"
    raise DownloadError(f"could not download {name} into {data_dir}: {tried}")


def _locate(name: str, data_dir: Path, *, download: bool) -> Path:
    path = find_file(name, data_dir)
    if path is not None:
        return path
    if not download:
        raise FileNotFoundError(
            f"MNIST file {name} (or {name}.gz) is not in {data_dir}: point --data-dir or "
            f"FOVEATE_DATA at a directory that holds it, or allow the download"
        )
    return download_file(name, data_dir)


def load_mnist(
    split: Literal["train", "test"],
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
) -> tuple[Tensor, Tensor]:
    """The 'train' (60,000) or 'test' (10,000) split of MNIST.

    Args:
        split: 'train' or 'test' (the t10k files).
        data_dir: directory of the IDX files, raw or gzipped; see ``resolve_data_dir``.
        download: fetch missing files from ``MIRRORS``; else a missing file is an error.

    Returns:
        images (N, 28, 28) uint8 and labels (N,) int64 in 0..9.

    Raises:
        FileNotFoundError: a file is missing and ``download`` is False.
        DownloadError: a missing file could not be downloaded.
        IdxError: a file is corrupt, or images and labels do not match.
    """
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    directory = resolve_data_dir(data_dir)
    image_name, label_name = SPLIT_FILES[split]
    image_file = _locate(image_name, directory, download=download)
    label_file = _locate(label_name, directory, download=download)
    images = read_idx(image_file, expect_shape=(None, 28, 28))
    labels = read_idx(label_file, expect_shape=(None,))
    if len(images) != len(labels):
        raise IdxError(
            f"{image_file.name}: holds {len(images)} images, but {label_file.name} holds "
            f"{len(labels)} labels"
        )
    if len(labels) and labels.max() > 9:
        raise IdxError(f"{label_file.name}: labels must be 0..9, found {labels.max()}")
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


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
