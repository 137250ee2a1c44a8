"""Omniglot: handwritten characters of the world's alphabets, read from the released zips.

Lake, Salakhutdinov, Tenenbaum, "Human-level concept learning through probabilistic program
induction", Science 350(6266), 2015. https://github.com/brendenlake/omniglot (MIT licence).

Each zip (e.g. images_background_small1.zip) holds ``<zip name>/<Alphabet>/characterNN/
<id>_<drawer>.png``: 105x105 binary PNGs, a black stroke on white, one per character and drawer
(20 drawers per character). The PNGs are decoded with Pillow straight from the zip, nothing is
extracted, and the images are inverted to MNIST's convention: stroke 255 on a black 0 background.

The zips are looked for in ``data_dir``, else ``$FOVEATE_DATA/omniglot``, else
``~/.cache/foveate/omniglot`` (``foveate.data.datasets.resolve_data_dir``). Nothing is downloaded.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from foveate.data.datasets import resolve_data_dir

IMAGE_SIZE = 105
# The two small background sets (5 alphabets each; Greek and Latin are in both).
BACKGROUND_SMALL = ("images_background_small1", "images_background_small2")
# <zip name>/<Alphabet>/characterNN/<id>_<drawer>.png, where <id> is Omniglot's own number of
# the character and <drawer> 01..20.
_MEMBER = re.compile(
    r"^[^/]+/(?P<alphabet>[^/]+)/(?P<character>character\d+)/\d+_(?P<drawer>\d+)\.png$"
)


@dataclass
class Omniglot:
    """Omniglot images with their alphabet, character and drawer.

    images: (N, 105, 105) uint8, stroke 255 on background 0.
    alphabet: (N,) int64 index into ``alphabet_names``.
    character: (N,) int64 index into ``character_names``, over all the alphabets read.
    drawer: (N,) int64 the drawer's number, 1..20, as in the file name.
    alphabet_names: (A,) e.g. 'Greek', sorted.
    character_names: (C,) '<Alphabet>/characterNN', e.g. 'Greek/character01', sorted.
    """

    images: Tensor
    alphabet: Tensor
    character: Tensor
    drawer: Tensor
    alphabet_names: tuple[str, ...]
    character_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)


def _decode(data: bytes, where: str) -> np.ndarray:
    """One PNG's bytes -> (105, 105) uint8, stroke (dark in the file) 255, background 0."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.size != (IMAGE_SIZE, IMAGE_SIZE):
                width, height = image.size
                raise ValueError(
                    f"{where}: {width}x{height} pixels, Omniglot images are "
                    f"{IMAGE_SIZE}x{IMAGE_SIZE}"
                )
            grey = np.asarray(image.convert("L"))
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"{where}: not a readable PNG: {error}") from None
    return np.where(grey < 128, 255, 0).astype(np.uint8)


def _read_zip(path: Path) -> dict[str, bytes]:
    """'<Alphabet>/characterNN/<file>.png' -> its PNG bytes, for every image in the zip."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"{path}: not a zip file") from None
    with archive:
        members = {}
        for info in archive.infolist():
            if info.is_dir() or not info.filename.endswith(".png"):
                continue
            if not _MEMBER.match(info.filename):
                raise ValueError(
                    f"{path.name}: {info.filename} is not laid out as Omniglot's "
                    f"<zip name>/<Alphabet>/characterNN/<id>_<drawer>.png"
                )
            members[info.filename.split("/", 1)[1]] = archive.read(info)
    if not members:
        raise ValueError(
            f"{path.name}: no Omniglot images (<zip name>/<Alphabet>/characterNN/"
            f"<id>_<drawer>.png) in it"
        )
    return members


def load_omniglot(
    sets: str | Sequence[str] = BACKGROUND_SMALL,
    data_dir: str | os.PathLike | None = None,
) -> Omniglot:
    """The images of one or more Omniglot zips, with their labels.

    Args:
        sets: zip names without '.zip', e.g. 'images_background_small1'; default both small
            background sets. An image in several of them (the same alphabet, character and file
            name) is read once.
        data_dir: the directory of the zips; see the module docstring.

    Returns:
        Omniglot, the images in the order of their '<Alphabet>/characterNN/<file>' paths (the
        same whatever the order of ``sets``). images_background_small1 alone: 2720 images of 136
        characters in 5 alphabets; images_background_small2: 3120 images, 156 characters, 5
        alphabets; both: 4840 images, 242 characters, 8 alphabets.

    Raises:
        FileNotFoundError: no such directory, or no such zip in it.
        ValueError: a file that is not an Omniglot zip (not a zip, no images in Omniglot's
            layout, an image not 105x105), or an image that two zips hold with different bytes.
    """
    names = (sets,) if isinstance(sets, str) else tuple(sets)
    if not names:
        raise ValueError("sets must name at least one Omniglot zip")
    directory = resolve_data_dir("omniglot", data_dir)
    if not directory.is_dir():
        raise FileNotFoundError(
            f"Omniglot directory {directory} does not exist: give data_dir, or put the zips in "
            f"$FOVEATE_DATA/omniglot"
        )
    members: dict[str, bytes] = {}
    for name in names:
        path = directory / f"{name}.zip"
        if not path.is_file():
            found = ", ".join(sorted(p.name for p in directory.glob("*.zip"))) or "no zips"
            raise FileNotFoundError(f"Omniglot zip {path} not found ({directory} holds {found})")
        for member, data in _read_zip(path).items():
            if members.setdefault(member, data) != data:
                raise ValueError(f"{path.name}: {member} differs from the one in an earlier zip")

    paths = sorted(members)
    images = np.stack([_decode(members[p], p) for p in paths])  # (N, 105, 105)
    parts = [_MEMBER.match(f"root/{p}") for p in paths]
    alphabet_names = tuple(sorted({m["alphabet"] for m in parts}))
    character_names = tuple(sorted({f"{m['alphabet']}/{m['character']}" for m in parts}))
    alphabet_index = {a: i for i, a in enumerate(alphabet_names)}
    character_index = {c: i for i, c in enumerate(character_names)}
    return Omniglot(
        images=torch.from_numpy(images),
        alphabet=torch.tensor([alphabet_index[m["alphabet"]] for m in parts], dtype=torch.int64),
        character=torch.tensor(
            [character_index[f"{m['alphabet']}/{m['character']}"] for m in parts],
            dtype=torch.int64,
        ),
        drawer=torch.tensor([int(m["drawer"]) for m in parts], dtype=torch.int64),
        alphabet_names=alphabet_names,
        character_names=character_names,
    )


# Drawers 1..16 of every character train, 17..20 test: the same characters, new hands.
TEST_DRAWERS = range(17, 21)


def omniglot_split(
    split: str, data_dir: str | os.PathLike | None = None, *, size: int = 28
) -> tuple[Tensor, Tensor]:
    """Both small background sets as a 'train' or 'test' split of images for scene models.

    The 105x105 strokes are shrunk to ``size`` x ``size`` by averaging the pixels each output
    pixel covers (as MNIST's digits are anti-aliased), so a stroke of 105 pixels' width 3 keeps a
    grey edge. 'train' holds drawers 1-16 of every character, 'test' drawers 17-20.

    Returns images (N, size, size) uint8 (stroke bright) and labels (N,) the character index.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    data = load_omniglot(BACKGROUND_SMALL, data_dir)
    test = torch.isin(data.drawer, torch.tensor(list(TEST_DRAWERS)))
    keep = test if split == "test" else ~test
    images = data.images[keep][:, None].float()
    small = F.interpolate(images, size=(size, size), mode="area")[:, 0]
    return small.round().clamp(0, 255).to(torch.uint8), data.character[keep]
