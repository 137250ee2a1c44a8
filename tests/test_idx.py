"""IDX reading: exact round trips, the real MNIST files, and every kind of damage raising IdxError."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from foveate.data.idx import IdxError, read_idx, write_idx

SHARED_MNIST = Path(__file__).parents[1] / ".." / "shared" / "data" / "mnist"
MNIST_SHAPES = {
    "train-images-idx3-ubyte": (60000, 28, 28),
    "train-labels-idx1-ubyte": (60000,),
    "t10k-images-idx3-ubyte": (10000, 28, 28),
    "t10k-labels-idx1-ubyte": (10000,),
}


def mnist_dirs() -> list[Path]:
    """Directories that may hold the real files: $FOVEATE_DATA, then the shared folder."""
    dirs = [Path(os.environ["FOVEATE_DATA"])] if os.environ.get("FOVEATE_DATA") else []
    return [*dirs, SHARED_MNIST]


def real_file(name: str) -> Path | None:
    for d in mnist_dirs():
        for candidate in (d / name, d / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


@pytest.fixture
def images() -> np.ndarray:
    # Mostly zeros with random strokes, like digits: compresses into real deflate blocks.
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    x[rng.random(x.shape) < 0.7] = 0
    return x


def assert_raises_naming(path: Path, *fragments: str) -> str:
    with pytest.raises(IdxError) as caught:
        read_idx(path)
    message = str(caught.value)
    assert message.startswith(f"{path.name}:"), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_known_bytes(tmp_path):
    """A file written by hand, byte by byte, reads as the array the format defines."""
    data = (
        bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(range(6))
    )
    path = tmp_path / "tiny-idx2-ubyte"
    path.write_bytes(data)
    np.testing.assert_array_equal(read_idx(path), [[0, 1, 2], [3, 4, 5]])


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_round_trip(tmp_path, images, name):
    path = write_idx(tmp_path / name, images)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    out = read_idx(path, expect_shape=(None, 28, 28))
    assert out.dtype == np.uint8 and out.flags.writeable
    np.testing.assert_array_equal(out, images)


def test_labels_round_trip(tmp_path):
    labels = np.arange(10, dtype=np.uint8).repeat(3)
    path = write_idx(tmp_path / "labels-idx1-ubyte.gz", labels)
    assert path.read_bytes()[2:4] != b"\x08\x01"  # compressed: the header is not visible
    np.testing.assert_array_equal(read_idx(path, expect_shape=(None,)), labels)


@pytest.mark.parametrize("compress", [True, False])
def test_gzip_detected_by_content_not_name(tmp_path, images, compress):
    # A gzipped file without .gz, and a raw file that is called .gz.
    path = write_idx(tmp_path / ("plain" if compress else "raw.gz"), images, compress=compress)
    np.testing.assert_array_equal(read_idx(path), images)


@pytest.mark.parametrize("name", sorted(MNIST_SHAPES))
def test_real_mnist_files(name):
    path = real_file(name)
    if path is None:
        pytest.skip(f"{name} not found in {[str(d) for d in mnist_dirs()]}")
    shape = MNIST_SHAPES[name]
    array = read_idx(path, expect_shape=(None, 28, 28) if len(shape) == 3 else (None,))
    assert array.shape == shape and array.dtype == np.uint8
    if len(shape) == 1:
        assert set(np.unique(array)) == set(range(10))


@pytest.mark.parametrize("gz", [False, True])
def test_truncated(tmp_path, images, gz):
    raw = write_idx(tmp_path / "full", images).read_bytes()
    path = tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else ""))
    cut = raw[:-1234]
    path.write_bytes(gzip.compress(cut) if gz else cut)
    size = images.size
    assert_raises_naming(path, "truncated", f"50x28x28 = {size} bytes", f"file has {size - 1234}")


def test_trailing_garbage(tmp_path, images):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", images)
    path.write_bytes(path.read_bytes() + b"\0garbage")
    assert_raises_naming(path, "trailing bytes", f"file has {images.size + 8}")


@pytest.mark.parametrize(
    "magic", [b"\x12\x34\x08\x03", b"\x00\x00\x08\x00", b"<htm"], ids=["nonzero", "0-dims", "html"]
)
def test_wrong_magic(tmp_path, images, magic):
    path = write_idx(tmp_path / "t10k-images-idx3-ubyte", images)
    path.write_bytes(magic + path.read_bytes()[4:])
    assert_raises_naming(path, "not an IDX file", f"0x{magic.hex()}")


@pytest.mark.parametrize("code, kind", [(0x0D, "float32"), (0x0C, "int32"), (0x42, "unknown")])
def test_wrong_dtype(tmp_path, images, code, kind):
    path = write_idx(tmp_path / "t10k-images-idx3-ubyte", images)
    data = bytearray(path.read_bytes())
    data[2] = code
    path.write_bytes(bytes(data))
    assert_raises_naming(path, f"0x{code:02x}", kind, "expected 0x08 (uint8)")


@pytest.mark.parametrize("data", [b"", b"\0\0\x08", b"\0\0\x08\x03\0\0\0\x05"])
def test_short_header(tmp_path, data):
    path = tmp_path / "short-idx3-ubyte"
    path.write_bytes(data)
    assert_raises_naming(path, "truncated")


def test_expected_shape(tmp_path, images):
    path = write_idx(tmp_path / "train-labels-idx1-ubyte", images)
    with pytest.raises(
        IdxError, match=r"^train-labels-idx1-ubyte: expected dimensions N, found 50x28x28$"
    ):
        read_idx(path, expect_shape=(None,))
    with pytest.raises(IdxError, match="expected dimensions Nx32x32, found 50x28x28"):
        read_idx(path, expect_shape=(None, 32, 32))
    assert read_idx(path, expect_shape=(50, None, 28)).shape == (50, 28, 28)


@pytest.mark.parametrize("where", [0.3, 0.5, 0.8])
def test_corrupt_gzip(tmp_path, images, where):
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    data = bytearray(path.read_bytes())
    middle = int(len(data) * where)
    data[middle : middle + 4] = bytes(b ^ 0xFF for b in data[middle : middle + 4])
    path.write_bytes(bytes(data))
    assert_raises_naming(path, "corrupt gzip stream")


def test_cut_gzip_stream(tmp_path, images):
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    path.write_bytes(path.read_bytes()[:-100])
    assert_raises_naming(path, "corrupt gzip stream")
