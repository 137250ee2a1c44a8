"""Task generators: MNIST digits placed on larger canvases, with or without clutter.

The translated and cluttered tasks of Mnih et al., "Recurrent Models of Visual Attention",
NIPS 2014, sec. 4.1: a 28x28 digit at a uniformly random position of a 60x60 canvas; for the
cluttered variants, random 8x8 sub-patches of other random training digits at random positions
(4 pieces on 60x60, 8 pieces on 100x100).

Everything is batched tensor code driven by an explicit ``torch.Generator``, so a seed fixes
every canvas.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

DIGIT_SIZE = 28


@dataclass(frozen=True)
class TaskSpec:
    """What a task's images look like: canvas side, clutter pieces and their side, in pixels."""

    name: str
    canvas: int
    clutter: int = 0
    piece: int = 8

    @property
    def translated(self) -> bool:
        return self.canvas != DIGIT_SIZE


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec("mnist", canvas=28),
        TaskSpec("translated", canvas=60),
        TaskSpec("cluttered60", canvas=60, clutter=4),
        TaskSpec("cluttered100", canvas=100, clutter=8),
    )
}


def get_task(name: str) -> TaskSpec:
    """The task called ``name``; a clear error listing the known ones otherwise."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None


@dataclass
class Canvases:
    """A batch of generated images and where their parts are.

    images: (N, S, S) uint8.
    digit_boxes: (N, 4) the digit's box (left, top, right, bottom) in pixels, right/bottom exclusive.
    clutter_boxes: (N, P, 4) the clutter pieces' boxes, P = number of pieces (may be 0).
    """

    images: Tensor
    digit_boxes: Tensor
    clutter_boxes: Tensor


def _paste(canvas: Tensor, patches: Tensor, left: Tensor, top: Tensor) -> Tensor:
    """Paste square patches into flat canvases, keeping the brighter pixel where they overlap.

    canvas: (N, S*S); patches: (N, P, w, w); left, top: (N, P) integer corners.
    """
    N, P, w, _ = patches.shape
    side = int(round(canvas.shape[1] ** 0.5))
    offsets = torch.arange(w)
    rows = top[..., None] + offsets  # (N, P, w)
    cols = left[..., None] + offsets  # (N, P, w)
    index = (rows[..., :, None] * side + cols[..., None, :]).reshape(N, P * w * w)
    return canvas.scatter_reduce(1, index, patches.reshape(N, P * w * w), reduce="amax")


def place(
    digits: Tensor,
    *,
    canvas: int,
    generator: torch.Generator,
    clutter_pool: Tensor | None = None,
    clutter: int = 0,
    piece: int = 8,
) -> Canvases:
    """Place each digit at a uniformly random position of a canvas, then add clutter.

    Args:
        digits: (N, 28, 28) uint8 digits to place.
        canvas: side S of the square canvas, at least 28.
        generator: the source of every random choice.
        clutter_pool: (M, 28, 28) uint8 digits to cut clutter from (the training digits); needed
            when ``clutter`` > 0.
        clutter: P, the number of piece x piece clutter patches per canvas.
        piece: side of a clutter patch, at most 28.

    Returns:
        Canvases with images (N, S, S).
    """
    N, h, w = digits.shape
    if (h, w) != (DIGIT_SIZE, DIGIT_SIZE):
        raise ValueError(f"digits must be (N, 28, 28), got {tuple(digits.shape)}")
    if canvas < DIGIT_SIZE:
        raise ValueError(f"canvas must be at least {DIGIT_SIZE} pixels wide, got {canvas}")
    if clutter and (clutter_pool is None or len(clutter_pool) == 0):
        raise ValueError("clutter needs a non-empty clutter_pool of digits to cut pieces from")
    if not 1 <= piece <= DIGIT_SIZE:
        raise ValueError(f"clutter piece must be 1..{DIGIT_SIZE} pixels, got {piece}")

    def randint(high: int, *shape: int) -> Tensor:
        return torch.randint(0, high, shape, generator=generator)

    images = torch.zeros(N, canvas * canvas, dtype=torch.uint8)
    clutter_boxes = torch.zeros(N, clutter, 4, dtype=torch.long)
    if clutter:
        # Clutter first, the digit over it: a piece never hides the digit it lies on.
        sources = clutter_pool[randint(len(clutter_pool), N * clutter)]  # (N*P, 28, 28)
        cut_x, cut_y = randint(DIGIT_SIZE - piece + 1, 2, N * clutter)
        offsets = torch.arange(piece)
        rows = (cut_y[:, None] + offsets)[:, :, None]
        cols = (cut_x[:, None] + offsets)[:, None, :]
        pieces = sources[torch.arange(N * clutter)[:, None, None], rows, cols]
        left, top = randint(canvas - piece + 1, 2, N, clutter)
        images = _paste(images, pieces.view(N, clutter, piece, piece), left, top)
        clutter_boxes = torch.stack([left, top, left + piece, top + piece], dim=-1)
    left, top = randint(canvas - DIGIT_SIZE + 1, 2, N, 1)
    images = _paste(images, digits[:, None], left, top)
    digit_boxes = torch.cat([left, top, left + DIGIT_SIZE, top + DIGIT_SIZE], dim=-1)
    return Canvases(images.view(N, canvas, canvas), digit_boxes, clutter_boxes)


def shift_randomly(images: Tensor, max_shift: int, *, generator: torch.Generator) -> Tensor:
    """Move each image by its own random whole-pixel offset in [-max_shift, max_shift]^2.

    Pixels moved past the border are lost and the uncovered ones are zero, as if the digit had
    been placed off-centre. images: (N, S, S) -> (N, S, S).
    """
    if max_shift < 0:
        raise ValueError(f"max_shift must be non-negative, got {max_shift}")
    if max_shift == 0:
        return images
    N, S, _ = images.shape
    padded = torch.nn.functional.pad(images, (max_shift,) * 4)  # (N, S + 2s, S + 2s)
    left, top = torch.randint(0, 2 * max_shift + 1, (2, N), generator=generator)
    offsets = torch.arange(S)
    rows = (top[:, None] + offsets)[:, :, None]
    cols = (left[:, None] + offsets)[:, None, :]
    return padded[torch.arange(N)[:, None, None], rows, cols]


def binarize(images: Tensor, *, generator: torch.Generator) -> Tensor:
    """Sample each pixel on or off with its grey level as the probability (binarized MNIST).

    images: (N, ...) uint8 -> the same shape, uint8 0 or 255.
    """
    probs = images.float().div_(255)
    on = torch.rand(probs.shape, generator=generator) < probs
    return on.to(torch.uint8) * 255


def make_task_images(
    spec: TaskSpec, digits: Tensor, *, generator: torch.Generator, clutter_pool: Tensor | None
) -> Tensor:
    """The images (N, S, S) uint8 of a task for these digits (the digits themselves for 'mnist')."""
    if not spec.translated and not spec.clutter:
        return digits
    return place(
        digits,
        canvas=spec.canvas,
        generator=generator,
        clutter_pool=clutter_pool,
        clutter=spec.clutter,
        piece=spec.piece,
    ).images
