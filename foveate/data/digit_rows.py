"""Rows of digits to read left to right: 1 to L MNIST digits side by side on one canvas.

The reading task of foveate's show-attend-tell reader (Xu et al., "Show, Attend and Tell", ICML
2015, applied to digits as in multi-digit recognition): each canvas holds a row of n digits
(n uniform in ``lengths``), consecutive digits separated by a random gap (negative gaps let
their 28x28 boxes overlap, not usually their ink, which MNIST keeps 4 pixels from the border),
the row starting at a random column where it fits and each digit moved up or down at random.
The brighter pixel is kept where boxes overlap. The labels are the digits' classes in reading
order; the boxes are kept so that a model's attention can be checked against where each digit
is.

Batched tensor code driven by an explicit ``torch.Generator``: a seed fixes every canvas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from foveate.data.tasks import _check_digits, _paste


@dataclass
class DigitRows:
    """A batch of rows and the truth about them.

    images: (N, H, W) uint8.
    lengths: (N,) int64, digits in each row.
    labels: (N, L) int64, the classes left to right, -1 past ``lengths`` (L: the longest row
        allowed).
    boxes: (N, L, 4) float32, each digit's box (left, top, right, bottom) in pixels (right and
        bottom exclusive), zeros past ``lengths``.
    """

    images: Tensor
    lengths: Tensor
    labels: Tensor
    boxes: Tensor


def row_canvas(
    longest: int, *, digit: int = 28, max_gap: int = 4, jitter: int = 4
) -> tuple[int, int]:
    """(H, W): the smallest canvas that holds a row of ``longest`` digits at the widest gaps."""
    return digit + 2 * jitter, longest * digit + (longest - 1) * max(max_gap, 0)


def make_rows(
    digits: Tensor,
    labels: Tensor,
    number: int,
    *,
    lengths: Sequence[int] = (1, 2, 3, 4, 5),
    gaps: tuple[int, int] = (-4, 4),
    jitter: int = 4,
    canvas: tuple[int, int] | None = None,
    generator: torch.Generator,
) -> DigitRows:
    """Draw ``number`` rows of digits.

    Args:
        digits: (M, h, w) uint8 images the rows are made of (a split's digits), on any device.
        labels: (M,) their classes.
        number: N, rows to make.
        lengths: the digit counts a row may have, each equally likely (all at least 1).
        gaps: (least, most) pixels between one digit's box and the next one's, each gap
            uniform in that range.
        jitter: each digit's top lies up to this many pixels above or below the row's middle.
        canvas: (H, W); default ``row_canvas`` of the longest row.
        generator: the source of every random choice.
    """
    lengths = tuple(sorted(set(int(n) for n in lengths)))
    if not lengths or lengths[0] < 1:
        raise ValueError(f"lengths must be one or more positive digit counts, got {lengths}")
    least, most = gaps
    if least > most:
        raise ValueError(f"gaps must be (least, most) with least <= most, got {gaps}")
    if jitter < 0:
        raise ValueError(f"jitter must be non-negative, got {jitter}")
    _check_digits(digits, labels, number=number)
    _, h, w = digits.shape
    if least <= -w:
        raise ValueError(
            f"gaps must be more than -{w} (the digits' width), so that each digit starts right "
            f"of the one before, got {gaps}"
        )
    longest = lengths[-1]
    if canvas is None:  # row_canvas's height is a square digit's: these are h x w
        canvas = (h + 2 * jitter, row_canvas(longest, digit=w, max_gap=most, jitter=jitter)[1])
    H, W = canvas
    needed = longest * w + (longest - 1) * most
    if H < h + 2 * jitter or W < needed:
        raise ValueError(
            f"a canvas of {H}x{W} cannot hold {longest} digits of {h}x{w} with gaps up to {most} "
            f"and jitter {jitter}: it needs at least {h + 2 * jitter}x{needed}"
        )
    device = digits.device

    def uniform_ints(low: Tensor | int, high: Tensor | int, *shape: int) -> Tensor:
        """Integers uniform in [low, high] (inclusive, broadcast), drawn on the generator's
        device and moved to the digits'."""
        u = torch.rand(shape, generator=generator, device=generator.device).to(device)
        return (low + (u * (torch.as_tensor(high) - low + 1)).floor()).long()

    count = torch.tensor(lengths, device=device)[uniform_ints(0, len(lengths) - 1, number)]
    chosen = uniform_ints(0, len(digits) - 1, number, longest)  # (N, L)
    gap = uniform_ints(least, most, number, longest)  # (N, L); gap[:, i] precedes digit i
    gap[:, 0] = 0
    present = torch.arange(longest, device=device) < count[:, None]  # (N, L)
    left = torch.arange(longest, device=device) * w + gap.cumsum(1)  # (N, L) from the row's start
    width = left.gather(1, count[:, None] - 1).squeeze(1) + w  # (N,) the row's extent
    left = left + uniform_ints(0, W - width, number)[:, None]  # the row starts where it fits
    left = left * present  # empty slots (pasting nothing) at the left edge, inside the canvas
    top = (H - h) // 2 + uniform_ints(-jitter, jitter, number, longest)
    top = top.clamp(0, H - h)
    flat = torch.zeros(number, H * W, dtype=torch.uint8, device=device)
    patches = digits[chosen] * present[..., None, None]  # an empty slot pastes nothing
    images = _paste(flat, patches, left, top, side=W).view(number, H, W)
    classes = torch.where(present, labels.to(device)[chosen], torch.full_like(chosen, -1))
    boxes = torch.stack([left, top, left + w, top + h], -1).float() * present[..., None]
    return DigitRows(images, count, classes, boxes)
