"""Sets of MNIST digits for item-wise attention: a pointer's nine candidates, and bags of digits.

- ``pointer_sets``: nine digits of nine different classes and a query class among them; the
  answer is the position of the digit of that class (an item-wise attention task with a
  context: Vinyals et al.'s pointer networks, NIPS 2015, in miniature).
- ``digit_bags``: bags of 5 to 15 digits, positive when at least one digit is a 9 (multiple-
  instance learning as in Ilse, Tomczak, Welling, "Attention-based Deep Multiple Instance
  Learning", ICML 2018, sec. 5.2, whose MNIST bags these follow); half the bags are positive.

Both return ``DigitSets``, padded to the largest set, with the items a model should attend to
marked (``relevant``: the target digit; the 9s), so that attention can be checked against them.
Batched tensor code driven by an explicit ``torch.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from foveate.data.tasks import _check_digits


@dataclass
class DigitSets:
    """N sets of at most K digits.

    items: (N, K, h, w) uint8, zeros in the padding.
    mask: (N, K) True for real items.
    labels: (N, K) int64, each item's class, -1 in the padding.
    query: (N,) int64, the class asked for (pointer sets), or -1.
    target: (N,) int64, the answer: the queried item's position, or the bag's label (0 or 1).
    relevant: (N, K) True for the items the answer rests on (the queried digit; the 9s).
    """

    items: Tensor
    mask: Tensor
    labels: Tensor
    query: Tensor
    target: Tensor
    relevant: Tensor


class _ByClass:
    """Draws digits of given classes: indices into a split sorted by class."""

    def __init__(self, labels: Tensor, classes: int = 10) -> None:
        if len(labels) and (labels.min() < 0 or labels.max() >= classes):
            low, high = int(labels.min()), int(labels.max())
            raise ValueError(f"labels must be classes 0 to {classes - 1}, got {low} to {high}")
        self.order = labels.argsort(stable=True)
        counts = torch.bincount(labels, minlength=classes)
        if (counts == 0).any():
            missing = (counts == 0).nonzero().flatten().tolist()
            raise ValueError(f"the digits hold no example of class(es) {missing}")
        self.counts = counts
        self.starts = counts.cumsum(0) - counts

    def draw(self, classes: Tensor, generator: torch.Generator) -> Tensor:
        """classes (...) -> indices (...) of random digits of those classes."""
        u = torch.rand(classes.shape, generator=generator)
        pick = (u * self.counts[classes]).long().clamp_max(self.counts[classes] - 1)
        return self.order[self.starts[classes] + pick]


def pointer_sets(
    digits: Tensor, labels: Tensor, number: int, *, size: int = 9, generator: torch.Generator
) -> DigitSets:
    """``number`` sets of ``size`` digits of different classes, and a query class among them.

    digits: (M, h, w) uint8; labels: (M,) classes 0-9 (``size`` at most 10).
    """
    if not 1 <= size <= 10:
        raise ValueError(f"a pointer set holds 1 to 10 digits of different classes, got {size}")
    _check_digits(digits, labels, number=number)
    by_class = _ByClass(labels)
    classes = torch.rand(number, 10, generator=generator).argsort(-1)[:, :size]  # (N, K)
    chosen = by_class.draw(classes, generator)
    target = (torch.rand(number, generator=generator) * size).long().clamp_max(size - 1)
    rows = torch.arange(number)
    relevant = torch.zeros(number, size, dtype=torch.bool)
    relevant[rows, target] = True
    return DigitSets(
        items=digits[chosen],
        mask=torch.ones(number, size, dtype=torch.bool),
        labels=labels[chosen],
        query=classes[rows, target],
        target=target,
        relevant=relevant,
    )


def digit_bags(
    digits: Tensor,
    labels: Tensor,
    number: int,
    *,
    sizes: tuple[int, int] = (5, 15),
    positive_class: int = 9,
    generator: torch.Generator,
) -> DigitSets:
    """``number`` bags of digits, half of them positive (holding at least one ``positive_class``).

    digits: (M, h, w) uint8; labels: (M,). A bag's size is uniform in ``sizes`` (inclusive); a
    negative bag's digits are drawn from the other classes, a positive bag's from all classes
    with one random place then given a ``positive_class`` digit.
    """
    least, most = sizes
    if not 1 <= least <= most:
        raise ValueError(f"sizes must be (least, most) with 1 <= least <= most, got {sizes}")
    if not 0 <= positive_class <= 9:
        raise ValueError(f"positive_class must be a class 0 to 9, got {positive_class}")
    _check_digits(digits, labels, number=number)
    by_class = _ByClass(labels)
    size = least + (torch.rand(number, generator=generator) * (most - least + 1)).long()
    size = size.clamp_max(most)
    positive = torch.rand(number, generator=generator) < 0.5
    # classes: uniform over all ten for positive bags, over the nine others for negative ones
    u = torch.rand(number, most, generator=generator)
    others = (u * 9).long().clamp_max(8)
    others = others + (others >= positive_class).long()  # skip the positive class
    anything = (u * 10).long().clamp_max(9)
    classes = torch.where(positive[:, None], anything, others)
    place = (torch.rand(number, generator=generator) * size).long().clamp_max(size - 1)
    rows = torch.arange(number)
    classes[rows[positive], place[positive]] = positive_class
    mask = torch.arange(most) < size[:, None]  # (N, K)
    chosen = by_class.draw(classes, generator)
    items = digits[chosen] * mask[..., None, None]
    item_labels = torch.where(mask, labels[chosen], torch.full_like(chosen, -1))
    relevant = item_labels == positive_class
    return DigitSets(
        items=items,
        mask=mask,
        labels=item_labels,
        query=torch.full((number,), -1),
        target=relevant.any(1).long(),
        relevant=relevant,
    )
