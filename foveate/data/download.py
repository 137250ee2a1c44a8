"""Fetching a data file from mirrors: verified against its MD5, renamed into place only then.

Each mirror serves ``<base URL><name>.gz``. The next mirror is tried on any failure; the
decompressed bytes must have the expected MD5 (the gzip wrappers differ by mirror, the data
must not); the file is written to a temporary name beside its target and renamed only once
verified, so a reader never sees a partial file and a failed download leaves nothing behind.
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
from pathlib import Path
from urllib.error import HTTPError, URLError

from tqdm import tqdm

log = logging.getLogger(__name__)

# What one mirror can do wrong: connection or HTTP errors (URLError, timeouts: OSError), a cut
# or malformed response (HTTPException), a bad gzip stream (BadGzipFile is an OSError, EOFError,
# zlib.error), a malformed mirror URL (ValueError).
_MIRROR_FAILURES = (OSError, EOFError, zlib.error, http.client.HTTPException, ValueError)
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """No mirror delivered a verified file (the message says what each one gave)."""


def find_file(name: str, data_dir: str | os.PathLike) -> Path | None:
    """``data_dir/name`` or else ``data_dir/name.gz``, or None if neither is a file."""
    data_dir = Path(data_dir)
    for candidate in (data_dir / name, data_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def fetch(url: str, *, timeout: float = 30) -> bytes:
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


def write_atomically(content: bytes, target: str | os.PathLike) -> Path:
    """Write ``content`` to ``target`` (its folder created if missing) through a temporary file
    renamed into place, so that a reader never sees a partial file."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Same directory as the target, so that os.replace is an atomic rename.
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(partial, target)
    finally:
        Path(partial).unlink(missing_ok=True)
    return target


def download_file(
    name: str,
    data_dir: str | os.PathLike,
    *,
    mirrors: Sequence[str],
    md5: str,
    timeout: float = 30,
) -> Path:
    """Fetch ``<mirror><name>.gz`` from the first mirror that gives a verified file.

    Args:
        name: the file's name without ``.gz``, e.g. 'train-images-idx3-ubyte'.
        data_dir: where to put it (created if missing, and only once a file is verified).
        mirrors: base URLs ending in '/', tried in order.
        md5: expected MD5 of the decompressed file.
        timeout: seconds to wait on each connection and read.

    Returns:
        The path of the uncompressed file, ``data_dir/name``.

    Raises:
        DownloadError: no mirror delivered; the one-line message names the file and the folder,
            whether any mirror could be reached at all, and what each one gave. The failures
            of mirrors before one that delivers are logged as warnings.
    """
    data_dir = Path(data_dir)
    failures, unreachable = [], 0
    for mirror in mirrors:
        url = f"{mirror}{name}.gz"
        log.info("downloading %s", url)
        try:
            content = gzip.decompress(fetch(url, timeout=timeout))
        except _MIRROR_FAILURES as error:
            if isinstance(error, URLError) and not isinstance(error, HTTPError):
                unreachable += 1  # no answer at all: no network, no name service, refused
                failures.append(f"{url}: {error.reason}")
            else:
                failures.append(f"{url}: {type(error).__name__}: {error}")
            continue
        digest = hashlib.md5(content).hexdigest()
        if digest != md5:
            failures.append(f"{url}: MD5 {digest}, expected {md5}")
            continue
        for failure in failures:  # said only now: had no mirror delivered, the error says it
            log.warning("a mirror failed before %s delivered: %s", mirror, failure)
        return write_atomically(content, data_dir / name)
    if not failures:
        raise DownloadError(f"could not download {name} into {data_dir}: no mirrors given")
    why = (
        "no mirror could be reached (is this machine offline?)"
        if unreachable == len(failures)
        else "no mirror gave the verified file"
    )
    raise DownloadError(
        f"could not download {name} into {data_dir}: {why}; put {name} or {name}.gz there "
        f"yourself, or point --data-dir at a folder that holds it (tried {'; '.join(failures)})"
    )
