"""Reading IDX files, the format of the MNIST release (raw or gzip-compressed).

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the values in C order. MNIST uses only uint8 data
(type 0x08): images have magic 0x00000803 (3 dims), labels 0x00000801 (1 dim). Any mismatch
raises ``IdxError`` with one line naming the file, because a truncated or corrupt file must never
become a silently wrong array.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
UINT8 = 0x08
# The other type codes of the format, named so that an error can say what it found.
IDX_TYPES = {
    0x08: "uint8",
    0x09: "int8",
    0x0B: "int16",
    0x0C: "int32",
    0x0D: "float32",
    0x0E: "float64",
}


class IdxError(ValueError):
    """A file that is not the IDX data it should be (the message names the file)."""


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed if they start with the gzip magic (whatever the name)."""
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise IdxError(f"{path.name}: is a directory, expected an IDX file") from None
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        # BadGzipFile (an OSError) for a bad CRC or header, EOFError for a cut stream,
        # zlib.error for damaged deflate data.
        raise IdxError(f"{path.name}: corrupt gzip stream: {error}") from None


def _dims(shape: tuple[int | None, ...]) -> str:
    return "x".join("N" if d is None else str(d) for d in shape) or "()"


def _parse_header(name: str, data: bytes) -> tuple[tuple[int, ...], int]:
    """(dimensions, header length in bytes) of the IDX file whose bytes start with ``data``."""
    if len(data) < 4:
        raise IdxError(f"{name}: truncated: {len(data)} bytes, an IDX header needs at least 4")
    magic = data[:4]
    ndim = magic[3]
    if magic[:2] != b"\0\0" or ndim == 0:
        raise IdxError(
            f"{name}: not an IDX file: magic number 0x{magic.hex()}, expected 0x0000TTDD "
            f"(TT a type code, DD >= 1 dimensions)"
        )
    if magic[2] != UINT8:
        found = IDX_TYPES.get(magic[2], "unknown type")
        raise IdxError(
            f"{name}: unsupported data type 0x{magic[2]:02x} ({found}) in magic number "
            f"0x{magic.hex()}, expected 0x08 (uint8)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(
            f"{name}: truncated header: magic says {ndim} dimensions = {header} header bytes, "
            f"file has {len(data)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return shape, header


def read_idx_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """The dimensions in an IDX file's header, reading only the header (cheap on large files).

    The values are not read, so a truncated file is not noticed here; ``read_idx`` checks them.

    Raises:
        IdxError: a corrupt gzip stream, a wrong magic number, a type other than uint8.
    """
    path = Path(path)
    with path.open("rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
    try:
        with gzip.open(path, "rb") if compressed else path.open("rb") as f:
            head = f.read(4)
            rest = f.read(4 * head[3]) if len(head) == 4 else b""
    except (OSError, EOFError, zlib.error) as error:
        raise IdxError(f"{path.name}: corrupt gzip stream: {error}") from None
    return _parse_header(path.name, head + rest)[0]


def read_idx(
    path: str | os.PathLike, *, expect_shape: tuple[int | None, ...] | None = None
) -> np.ndarray:
    """The uint8 array stored in an IDX file (gzip detected by its magic bytes, not its name).

    Args:
        path: the file.
        expect_shape: the dimensions it must have, None where any size goes, e.g. (None, 28, 28)
            for MNIST images, (None,) for labels. None checks only the file's own consistency.

    Returns:
        A writable uint8 array of the shape the header gives.

    Raises:
        IdxError: a corrupt gzip stream, a wrong magic number, a type other than uint8,
            unexpected dimensions, or values that are not exactly as many bytes as the header
            says (truncated, or followed by trailing bytes).
    """
    path = Path(path)
    name = path.name
    data = _read_bytes(path)
    shape, header = _parse_header(name, data)
    if expect_shape is not None:
        fits = len(shape) == len(expect_shape) and all(
            e is None or e == s for e, s in zip(expect_shape, shape, strict=True)
        )
        if not fits:
            raise IdxError(
                f"{name}: expected dimensions {_dims(expect_shape)}, found {_dims(shape)}"
            )
    size = math.prod(shape)
    payload = len(data) - header
    if payload != size:
        problem = "truncated" if payload < size else "trailing bytes"
        raise IdxError(
            f"{name}: {problem}: header says {_dims(shape)} = {size} bytes of values, "
            f"file has {payload}"
        )
    # Copy out of the immutable bytes so callers get an ordinary writable array.
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write a uint8 array as an IDX file, gzipped if ``compress`` (default: the name ends .gz).

    The inverse of ``read_idx``; used to make small fake MNIST files for tests.
    """
    path = Path(path)
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim == 0:
        raise ValueError(
            f"write_idx takes a uint8 array of 1+ dims, got {array.dtype} {array.shape}"
        )
    header = bytes([0, 0, UINT8, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + np.ascontiguousarray(array).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        # mtime=0: the same array always gives the same bytes.
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path
