"""Omniglot read from its zips: known pixels and labels from a zip built here, clear errors, and
the real background sets when ../shared/data/omniglot holds them."""

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from foveate.data.omniglot import BACKGROUND_SMALL, load_omniglot, omniglot_split

SHARED_OMNIGLOT = Path(__file__).parents[1] / ".." / "shared" / "data" / "omniglot"


def png(strokes: list[tuple[int, int]], size: tuple[int, int] = (105, 105)) -> bytes:
    """A 1-bit PNG as Omniglot stores them: white, with black pixels at (row, col) ``strokes``."""
    pixels = np.ones(size[::-1], dtype=bool)
    for row, col in strokes:
        pixels[row, col] = False
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert("1").save(buffer, format="PNG")
    return buffer.getvalue()


def make_zip(path: Path, members: dict[str, bytes], *, root: str | None = None) -> Path:
    """A zip of ``<root>/<member>`` files (root: the zip's name), with directory entries."""
    root = root or path.stem
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{root}/", b"")
        for name, data in members.items():
            archive.writestr(f"{root}/{name}", data)
    return path


# Two alphabets; names chosen so that sorting differs from the order written.
TINY = {
    "Tifinagh/character02/0900_03.png": [(0, 0)],
    "Tifinagh/character02/0900_01.png": [(104, 104), (50, 7)],
    "Tifinagh/character01/0899_20.png": [(10, 20)],
    "Angelic/character01/0001_05.png": [(3, 4), (3, 5), (3, 6)],
}


@pytest.fixture
def tiny(tmp_path) -> Path:
    make_zip(tmp_path / "tiny.zip", {name: png(strokes) for name, strokes in TINY.items()})
    return tmp_path


def test_tiny_zip_pixels_and_labels(tiny):
    data = load_omniglot("tiny", tiny)
    assert len(data) == 4
    assert data.images.shape == (4, 105, 105) and data.images.dtype == torch.uint8
    assert data.alphabet_names == ("Angelic", "Tifinagh")
    assert data.character_names == (
        "Angelic/character01",
        "Tifinagh/character01",
        "Tifinagh/character02",
    )
    # Sorted by path: Angelic/01/_05, Tifinagh/01/_20, Tifinagh/02/_01, Tifinagh/02/_03.
    order = sorted(TINY)
    assert data.alphabet.tolist() == [0, 1, 1, 1]
    assert data.character.tolist() == [0, 1, 2, 2]
    assert data.drawer.tolist() == [5, 20, 1, 3]
    for i, name in enumerate(order):
        expected = torch.zeros(105, 105, dtype=torch.uint8)
        for row, col in TINY[name]:
            expected[row, col] = 255  # inverted: the black stroke is bright, as in MNIST
        assert torch.equal(data.images[i], expected), name
    for labels in (data.alphabet, data.character, data.drawer):
        assert labels.dtype == torch.int64 and labels.shape == (4,)


def test_several_zips_share_images_once(tmp_path):
    shared = {"Greek/character01/0394_01.png": png([(1, 1)])}
    make_zip(tmp_path / "a.zip", {**shared, "Latin/character01/0683_02.png": png([(2, 2)])})
    make_zip(tmp_path / "b.zip", {**shared, "Korean/character03/0700_04.png": png([(3, 3)])})
    data = load_omniglot(["b", "a"], tmp_path)
    assert len(data) == 3 and data.alphabet_names == ("Greek", "Korean", "Latin")
    assert torch.equal(data.images, load_omniglot(["a", "b"], tmp_path).images)
    make_zip(tmp_path / "c.zip", {"Greek/character01/0394_01.png": png([(9, 9)])})
    with pytest.raises(ValueError, match="c.zip: Greek/character01/0394_01.png differs"):
        load_omniglot(["a", "c"], tmp_path)


def test_default_directory_under_foveate_data(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("FOVEATE_DATA", str(tmp_path / "root"))
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "omniglot").mkdir()
    (tiny / "tiny.zip").rename(tmp_path / "root" / "omniglot" / "tiny.zip")
    assert len(load_omniglot("tiny")) == 4


def test_missing_directory_and_zip(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^Omniglot directory .*nowhere does not exist"):
        load_omniglot("tiny", tmp_path / "nowhere")
    make_zip(tmp_path / "other.zip", {"A/character01/0001_01.png": png([])})
    with pytest.raises(FileNotFoundError) as caught:
        load_omniglot("images_background_small1", tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "images_background_small1.zip" in message
    assert "other.zip" in message  # says what is there


def test_files_that_are_not_omniglot(tmp_path):
    (tmp_path / "text.zip").write_text("not a zip")
    with pytest.raises(ValueError, match=r"text.zip: not a zip file$"):
        load_omniglot("text", tmp_path)
    make_zip(tmp_path / "flat.zip", {"image.png": png([])})
    with pytest.raises(ValueError, match="flat.zip: flat/image.png is not laid out as Omniglot"):
        load_omniglot("flat", tmp_path)
    make_zip(tmp_path / "docs.zip", {"README.txt": b"hello"})
    with pytest.raises(ValueError, match="docs.zip: no Omniglot images"):
        load_omniglot("docs", tmp_path)
    make_zip(tmp_path / "mnist.zip", {"A/character01/0001_01.png": png([], size=(28, 28))})
    with pytest.raises(ValueError, match="character01/0001_01.png: 28x28 pixels, Omniglot images"):
        load_omniglot("mnist", tmp_path)
    make_zip(tmp_path / "broken.zip", {"A/character01/0001_01.png": b"\x89PNG garbage"})
    with pytest.raises(ValueError, match="0001_01.png: not a readable PNG"):
        load_omniglot("broken", tmp_path)


@pytest.mark.parametrize(
    "name, images, characters, alphabets",
    [("images_background_small1", 2720, 136, 5), ("images_background_small2", 3120, 156, 5)],
)
def test_real_background_sets(name, images, characters, alphabets):
    if not (SHARED_OMNIGLOT / f"{name}.zip").is_file():
        pytest.skip(f"{name}.zip not in {SHARED_OMNIGLOT}")
    data = load_omniglot(name, SHARED_OMNIGLOT)
    assert data.images.shape == (images, 105, 105)
    assert len(data.character_names) == characters and len(data.alphabet_names) == alphabets
    assert data.images.unique().tolist() == [0, 255]
    stroke = (data.images > 0).float().mean((1, 2))
    assert (stroke > 0).all() and stroke.mean() < 0.15  # thin bright strokes on black
    # 20 drawers, 1..20, for every character.
    per_character = torch.bincount(data.character * 21 + data.drawer, minlength=characters * 21)
    assert torch.equal(
        per_character.view(characters, 21)[:, 1:], torch.ones(characters, 20, dtype=torch.int64)
    )


def test_real_background_sets_together():
    if not all((SHARED_OMNIGLOT / f"{name}.zip").is_file() for name in BACKGROUND_SMALL):
        pytest.skip(f"the small background sets are not in {SHARED_OMNIGLOT}")
    data = load_omniglot(data_dir=SHARED_OMNIGLOT)
    # Greek and Latin are in both zips (1000 images): read once.
    assert len(data) == 2720 + 3120 - 1000 and len(data.character_names) == 136 + 156 - 50
    assert data.alphabet_names == (
        "Balinese",
        "Early_Aramaic",
        "Greek",
        "Japanese_(katakana)",
        "Korean",
        "Latin",
        "Sanskrit",
        "Tagalog",
    )
    first = data.character_names.index("Greek/character01")
    assert data.alphabet_names[int(data.alphabet[data.character == first][0])] == "Greek"


def test_the_split_for_scene_models_shrinks_by_area_and_keeps_drawers_apart(tmp_path):
    square = [(r, c) for r in range(15) for c in range(15)]  # 15/105 of the side: 4 of 28
    make_zip(
        tmp_path / "images_background_small1.zip",
        {"Greek/character01/0001_01.png": png(square), "Greek/character01/0001_17.png": png([])},
    )
    make_zip(tmp_path / "images_background_small2.zip", {"Latin/character01/0002_16.png": png([])})
    train, train_labels = omniglot_split("train", tmp_path)
    test, test_labels = omniglot_split("test", tmp_path)
    assert train.shape == (2, 28, 28) and test.shape == (1, 28, 28)
    assert train.dtype == torch.uint8 and train_labels.tolist() == [0, 1]
    expected = torch.zeros(28, 28, dtype=torch.uint8)
    expected[:4, :4] = 255
    assert torch.equal(train[0], expected) and train[1].sum() == 0 and test.sum() == 0
    assert test_labels.tolist() == [0]
    with pytest.raises(ValueError, match="split"):
        omniglot_split("validation", tmp_path)
