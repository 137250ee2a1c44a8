"""Multi-MNIST scenes: a few digits at random places of one canvas, with where and what they are.

Eslami et al., "Attend, Infer, Repeat: Fast Scene Understanding with Generative Models", NIPS
2016, sec. 3.1: 50x50 images holding 0, 1 or 2 MNIST digits (28x28, unscaled) at uniformly
random positions; digits may overlap, and where they do the brighter pixel is kept. The
generalisation experiments use other counts (3; or 0, 1 and 3).

Everything is batched tensor code driven by an explicit ``torch.Generator``, so a seed fixes
every scene; the digits may live on any device, and the random numbers are drawn on the
generator's device (see ``foveate.data.tasks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from foveate.data.tasks import _draw_ints, _paste


@dataclass
class Scenes:
    """A batch of scenes and the truth about them (labels for evaluation, never for training).

    images: (N, S, S) uint8.
    counts: (N,) int64, the number of digits in each scene.
    classes: (N, K) int64, each digit's class, -1 in the slots past ``counts`` (K: the most
        digits a scene may hold).
    boxes: (N, K, 4) float32, each digit's box (left, top, right, bottom) in pixels (right and
        bottom exclusive), zeros in the empty slots.
    """

    images: Tensor
    counts: Tensor
    classes: Tensor
    boxes: Tensor


def check_counts(counts: Sequence[int], *, name: str = "counts") -> tuple[int, ...]:
    """The digit counts as a sorted tuple; one-line errors for an empty or negative choice."""
    counts = tuple(sorted(set(int(c) for c in counts)))
    if not counts or counts[0] < 0:
        raise ValueError(f"{name} must be one or more non-negative digit counts, got {counts}")
    return counts


def make_scenes(
    digits: Tensor,
    labels: Tensor,
    number: int,
    *,
    counts: Sequence[int] = (0, 1, 2),
    canvas: int = 50,
    generator: torch.Generator,
) -> Scenes:
    """Draw ``number`` scenes, each holding a count of digits chosen uniformly from ``counts``.

    Args:
        digits: (M, h, w) uint8 images the scenes are made of (a split's digits), on any device:
            the scenes are made on it.
        labels: (M,) their classes.
        number: N, scenes to make.
        counts: the digit counts a scene may have, each equally likely.
        canvas: side S of the square canvas (at least the digits' side).
        generator: the source of every random choice.

    Returns:
        Scenes with K = max(counts) slots.
    """
    counts = check_counts(counts)
    _, h, w = digits.shape
    if h > canvas or w > canvas:
        raise ValueError(f"digits of {h}x{w} pixels do not fit a canvas of {canvas}x{canvas}")
    device = digits.device

    def randint(high: int, *shape: int) -> Tensor:
        return _draw_ints(high, shape, generator=generator, device=device)

    slots = max(counts)
    count = torch.tensor(counts, device=device)[randint(len(counts), number)]  # (N,)
    images = torch.zeros(number, canvas * canvas, dtype=torch.uint8, device=device)
    classes = torch.full((number, slots), -1, dtype=torch.long, device=device)
    boxes = torch.zeros(number, slots, 4, device=device)
    if slots:
        chosen = randint(len(digits), number, slots)  # (N, K)
        left, top = randint(canvas - w + 1, 2, number, slots)
        present = torch.arange(slots, device=device) < count[:, None]  # (N, K)
        patches = digits[chosen] * present[..., None, None]  # an empty slot pastes nothing
        images = _paste(images, patches, left, top, side=canvas)
        classes = torch.where(present, labels.to(device)[chosen], classes)
        placed = torch.stack([left, top, left + w, top + h], -1).float()
        boxes = placed * present[..., None]
    return Scenes(images.view(number, canvas, canvas), count, classes, boxes)
