"""Multi-MNIST scenes: a few digits at random places of one canvas, with where and what they are.

Eslami et al., "Attend, Infer, Repeat: Fast Scene Understanding with Generative Models", NIPS
2016, sec. 3.1: 50x50 images holding 0, 1 or 2 non-overlapping MNIST digits (28x28, unscaled
here) at uniformly random positions. The paper does not say what "non-overlapping" means for
28x28 digits, whose boxes on a 50x50 canvas always overlap; here it means that no pixel holds
more ink than one digit could give it (the digits' sum stays at most 255 everywhere, as in
Pyro's multi-MNIST), so a scene is exactly the sum of its digits. Scenes that break this are
drawn again whole, which makes every non-overlapping arrangement equally likely. With
``overlapping=True`` digits are placed independently and the brighter pixel is kept where they
meet (a harder task than the paper's). The generalisation experiments use other counts (3; or 0,
1 and 3).

Everything is batched tensor code driven by an explicit ``torch.Generator``, so a seed fixes
every scene; the digits may live on any device, and the random numbers are drawn on the
generator's device (see ``foveate.data.tasks``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from foveate.data.tasks import _check_digits, _draw_ints, _paste, _paste_index


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
    overlapping: bool = False,
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
        overlapping: let digits overlap (the brighter pixel kept) instead of drawing again any
            scene in which two digits' ink adds to more than 255.
        generator: the source of every random choice.

    Returns:
        Scenes with K = max(counts) slots.
    """
    counts = check_counts(counts)
    _check_digits(digits, labels, number=number)
    _, h, w = digits.shape
    if h > canvas or w > canvas:
        raise ValueError(f"digits of {h}x{w} pixels do not fit a canvas of {canvas}x{canvas}")
    device, slots = digits.device, max(counts)
    randint = _randint(generator, device)
    count, images, classes, boxes = _empty_scenes(number, counts, canvas, randint, device)
    if not overlapping:
        _fill_separate(images, classes, boxes, count, digits, labels, counts, canvas, randint)
        return Scenes(images.view(number, canvas, canvas), count, classes, boxes)
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


# A scene of k digits is drawn this many times over at once when non-overlapping ones are rare
# (about 3 in 10 pairs and 3 in 100 triples of MNIST digits on 50x50 do not overlap).
_MAX_CANDIDATES = 1 << 15


def _randint(generator: torch.Generator, device: torch.device):
    """``randint(high, *shape)``: integers in [0, high) from ``generator``, placed on ``device``."""

    def randint(high: int, *shape: int) -> Tensor:
        return _draw_ints(high, shape, generator=generator, device=device)

    return randint


def _empty_scenes(
    number: int, counts: tuple[int, ...], canvas: int, randint, device: torch.device
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Each scene's digit count (N,), drawn first, and its empty images (N, S*S), classes (N, K)
    and boxes (N, K, 4)."""
    count = torch.tensor(counts, device=device)[randint(len(counts), number)]
    slots = max(counts)
    images = torch.zeros(number, canvas * canvas, dtype=torch.uint8, device=device)
    classes = torch.full((number, slots), -1, dtype=torch.long, device=device)
    boxes = torch.zeros(number, slots, 4, device=device)
    return count, images, classes, boxes


def _fill_separate(
    images: Tensor,
    classes: Tensor,
    boxes: Tensor,
    count: Tensor,
    digits: Tensor,
    labels: Tensor,
    counts: tuple[int, ...],
    canvas: int,
    randint,
) -> None:
    """Fill the empty scenes in place with digits that never overlap: candidate scenes of each
    count are drawn in batches and the overlapping ones dropped until every scene has one."""
    _, h, w = digits.shape
    for k in counts:
        wanted = (count == k).nonzero().squeeze(1)
        if k == 0 or not len(wanted):
            continue
        kept: list[tuple[Tensor, Tensor, Tensor, Tensor]] = []
        found, tries = 0, 0
        while found < len(wanted):
            size = min(_MAX_CANDIDATES, 4 * (len(wanted) - found) + 64)
            chosen = randint(len(digits), size, k)  # (C, k)
            left, top = randint(canvas - w + 1, 2, size, k)
            index = _paste_index(left, top, h, w, side=canvas)  # (C, k*h*w)
            ink = torch.zeros(size, canvas * canvas, dtype=torch.int16, device=images.device)
            ink.scatter_add_(1, index, digits[chosen].to(torch.int16).reshape(size, -1))
            separate = ink.amax(1) <= 255  # (C,)
            kept.append(
                (ink[separate].to(torch.uint8), chosen[separate], left[separate], top[separate])
            )
            found += int(separate.sum())
            tries += size
            if tries > 1000 * len(wanted) + _MAX_CANDIDATES:
                raise ValueError(
                    f"{k} digits of {h}x{w} pixels almost never fit a canvas of "
                    f"{canvas}x{canvas} without overlapping; use a larger canvas or "
                    "overlapping=True"
                )
        ink, chosen, left, top = (
            torch.cat(parts)[: len(wanted)] for parts in zip(*kept, strict=True)
        )
        images[wanted] = ink
        classes[wanted, :k] = labels.to(images.device)[chosen]
        boxes[wanted, :k] = torch.stack([left, top, left + w, top + h], -1).float()
