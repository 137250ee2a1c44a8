"""Task generators: images (MNIST digits, or those of any dataset) placed on larger canvases.

The translated and cluttered tasks of Mnih et al., "Recurrent Models of Visual Attention",
NIPS 2014, sec. 4.1: a 28x28 digit at a uniformly random position of a 60x60 canvas; for the
cluttered variants, random 8x8 sub-patches of other random training digits at random positions
(4 pieces on 60x60, 8 pieces on 100x100). Here the object may be any h x w image that fits the
canvas (a Fashion-MNIST article, an IDX dataset's 16x16 images), and clutter is cut from the
pool's images, whatever their own size.

Everything is batched tensor code driven by an explicit ``torch.Generator``, so a seed fixes
every canvas. The images may live on any device, and so may the generator: random numbers are
drawn on the generator's device and moved to the images', so a CPU generator gives the same
canvases on every device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class TaskSpec:
    """What a task's images look like: canvas side, clutter pieces and their side, in pixels.

    ``canvas`` None: the dataset's own images, as they are (the 'mnist' task).
    """

    name: str
    canvas: int | None
    clutter: int = 0
    piece: int = 8

    def __post_init__(self) -> None:
        if self.clutter and self.canvas is None:
            raise ValueError(f"task {self.name!r}: clutter needs a canvas to lie on")

    @property
    def translated(self) -> bool:
        """Whether images are generated: placed on a canvas (with or without clutter)."""
        return self.canvas is not None


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec("mnist", canvas=None),
        TaskSpec("translated", canvas=60),
        TaskSpec("cluttered60", canvas=60, clutter=4),
        TaskSpec("cluttered100", canvas=100, clutter=8),
        # the digit alone on the 100x100 canvas: a curriculum's first stage for cluttered100
        TaskSpec("translated100", canvas=100),
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
    digit_boxes: (N, 4) the placed image's box (left, top, right, bottom) in pixels,
        right/bottom exclusive.
    clutter_boxes: (N, P, 4) the clutter pieces' boxes, P = number of pieces (may be 0).
    """

    images: Tensor
    digit_boxes: Tensor
    clutter_boxes: Tensor


def _check_digits(
    digits: Tensor, labels: Tensor | None = None, *, number: int = 0, name: str = "digits"
) -> None:
    """One-line errors for images that are not (M, h, w) uint8, labels that are not one per
    image (when given: the images are then drawn from, so there must be one), and a negative
    ``number`` of examples to make."""
    if digits.dim() != 3 or digits.dtype != torch.uint8:
        raise ValueError(
            f"{name} must be (M, h, w) uint8 images, got {tuple(digits.shape)} {digits.dtype}"
        )
    if labels is not None and not len(digits):
        raise ValueError("digits must hold at least one image to draw from, got none")
    if labels is not None and labels.shape != (len(digits),):
        raise ValueError(
            f"labels must be ({len(digits)},), one per digit, got {tuple(labels.shape)}"
        )
    if number < 0:
        raise ValueError(f"number must be non-negative, got {number}")


def _draw_ints(
    high: int, shape: tuple[int, ...], *, generator: torch.Generator, device: torch.device
) -> Tensor:
    """Integers uniform in [0, ``high``) of ``shape``, drawn on the generator's device, moved to
    ``device``."""
    return torch.randint(0, high, shape, generator=generator, device=generator.device).to(device)


def _paste(canvas: Tensor, patches: Tensor, left: Tensor, top: Tensor, *, side: int) -> Tensor:
    """Paste patches into flat canvases, keeping the brighter pixel where they overlap.

    canvas: (N, S*S) with S = ``side``; patches: (N, P, h, w); left, top: (N, P) integer corners.
    """
    N, P, h, w = patches.shape
    index = _paste_index(left, top, h, w, side=side)
    return canvas.scatter_reduce(1, index, patches.reshape(N, P * h * w), reduce="amax")


def _paste_index(left: Tensor, top: Tensor, h: int, w: int, *, side: int) -> Tensor:
    """Where the pixels of h x w patches with corners (left, top) fall in flat S x S canvases.

    left, top: (N, P) integer corners; returns (N, P*h*w) indices into (N, S*S), patch by patch
    in row-major order (as ``patches.reshape(N, -1)`` lays them out).
    """
    rows = top[..., None] + torch.arange(h, device=top.device)  # (N, P, h)
    cols = left[..., None] + torch.arange(w, device=left.device)  # (N, P, w)
    return (rows[..., :, None] * side + cols[..., None, :]).flatten(1)  # also for N = 0


def place(
    digits: Tensor,
    *,
    canvas: int,
    generator: torch.Generator,
    clutter_pool: Tensor | None = None,
    clutter: int = 0,
    piece: int = 8,
) -> Canvases:
    """Place each image at a uniformly random position of a canvas, then add clutter.

    Args:
        digits: (N, h, w) uint8 images to place (MNIST digits: 28x28), h and w at most S, on
            any device: the canvases are made on it.
        canvas: side S of the square canvas.
        generator: the source of every random choice. Random numbers are drawn in the same
            order for every size, so 28x28 digits give the canvases they always have.
        clutter_pool: (M, H, W) uint8 images to cut clutter from (the training images); needed
            when ``clutter`` > 0. Pieces are cut on its device, then moved to the digits'.
        clutter: P, the number of piece x piece clutter patches per canvas.
        piece: side of a clutter patch, at most min(H, W) and S.

    Returns:
        Canvases with images (N, S, S).
    """
    _check_digits(digits)
    N, h, w = digits.shape
    if h > canvas or w > canvas:
        raise ValueError(f"images of {h}x{w} pixels do not fit a canvas of {canvas}x{canvas}")
    if clutter < 0:
        raise ValueError(f"clutter must be a non-negative number of pieces, got {clutter}")
    if piece < 1:
        raise ValueError(f"clutter piece must be at least 1 pixel, got {piece}")
    if clutter:
        if clutter_pool is None or len(clutter_pool) == 0:
            raise ValueError("clutter needs a non-empty clutter_pool of images to cut pieces from")
        _check_digits(clutter_pool, name="clutter_pool")
        _, pool_h, pool_w = clutter_pool.shape
        if piece > min(pool_h, pool_w, canvas):
            raise ValueError(
                f"clutter piece of {piece} pixels is larger than the {pool_h}x{pool_w} images "
                f"it is cut from or the {canvas}-pixel canvas"
            )

    device = digits.device

    def randint(high: int, *shape: int, on: torch.device = device) -> Tensor:
        return _draw_ints(high, shape, generator=generator, device=on)

    images = torch.zeros(N, canvas * canvas, dtype=torch.uint8, device=device)
    clutter_boxes = torch.zeros(N, clutter, 4, dtype=torch.long, device=device)
    if clutter:
        # Clutter first, the image over it: a piece never hides the object it lies on.
        pool = clutter_pool.device
        sources = clutter_pool[randint(len(clutter_pool), N * clutter, on=pool)]  # (N*P, H, W)
        cut_x = randint(pool_w - piece + 1, N * clutter, on=pool)
        cut_y = randint(pool_h - piece + 1, N * clutter, on=pool)
        offsets = torch.arange(piece, device=pool)
        rows = (cut_y[:, None] + offsets)[:, :, None]
        cols = (cut_x[:, None] + offsets)[:, None, :]
        pieces = sources[torch.arange(N * clutter, device=pool)[:, None, None], rows, cols]
        pieces = pieces.to(device)  # (N*P, p, p)
        left, top = randint(canvas - piece + 1, 2, N, clutter)
        images = _paste(images, pieces.view(N, clutter, piece, piece), left, top, side=canvas)
        clutter_boxes = torch.stack([left, top, left + piece, top + piece], dim=-1)
    left = randint(canvas - w + 1, N, 1)
    top = randint(canvas - h + 1, N, 1)
    images = _paste(images, digits[:, None], left, top, side=canvas)
    digit_boxes = torch.cat([left, top, left + w, top + h], dim=-1)
    return Canvases(images.view(N, canvas, canvas), digit_boxes, clutter_boxes)


def shift_randomly(images: Tensor, max_shift: int, *, generator: torch.Generator) -> Tensor:
    """Move each image by its own random whole-pixel offset in [-max_shift, max_shift]^2.

    Pixels moved past the border are lost and the uncovered ones are zero, as if the digit had
    been placed off-centre. images: (N, H, W) -> (N, H, W).
    """
    if max_shift < 0:
        raise ValueError(f"max_shift must be non-negative, got {max_shift}")
    if images.dim() != 3:
        raise ValueError(f"images must be (N, H, W), got {tuple(images.shape)}")
    if max_shift == 0:
        return images
    N, H, W = images.shape
    padded = torch.nn.functional.pad(images, (max_shift,) * 4)  # (N, H + 2s, W + 2s)
    device = images.device
    left, top = _draw_ints(2 * max_shift + 1, (2, N), generator=generator, device=device)
    rows = (top[:, None] + torch.arange(H, device=device))[:, :, None]
    cols = (left[:, None] + torch.arange(W, device=device))[:, None, :]
    return padded[torch.arange(N, device=device)[:, None, None], rows, cols]


def binarize(images: Tensor, *, generator: torch.Generator) -> Tensor:
    """Sample each pixel on or off with its grey level as the probability (binarized MNIST).

    images: (N, ...) uint8 -> the same shape, uint8 0 or 255.
    """
    if images.dtype != torch.uint8:  # grey levels in [0, 1] would come out nearly all off
        raise ValueError(
            f"binarize expects uint8 images (grey levels 0 to 255), got {images.dtype}"
        )
    probs = images.float().div_(255)
    draws = torch.rand(probs.shape, generator=generator, device=generator.device)
    on = draws.to(probs.device) < probs
    return on.to(torch.uint8) * 255


def make_task_canvases(
    spec: TaskSpec, digits: Tensor, *, generator: torch.Generator, clutter_pool: Tensor | None
) -> Canvases:
    """The canvases of a task for these (N, h, w) images: placed (with clutter), or for 'mnist'
    the images themselves, each image's box the whole of it."""
    if spec.canvas is None:
        N, h, w = digits.shape
        boxes = torch.tensor([0, 0, w, h], device=digits.device).expand(N, 4)
        return Canvases(digits, boxes, torch.zeros(N, 0, 4, dtype=torch.long, device=digits.device))
    return place(
        digits,
        canvas=spec.canvas,
        generator=generator,
        clutter_pool=clutter_pool,
        clutter=spec.clutter,
        piece=spec.piece,
    )
