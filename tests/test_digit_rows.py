"""Rows of digits for the reader (foveate.data.digit_rows)."""

import pytest
import torch

from foveate.data.digit_rows import make_rows, row_canvas


def digits(n: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """Digits whose every pixel is ink (value 10 + class), so each box's content is known."""
    labels = torch.arange(n) % 10
    return (10 + labels).to(torch.uint8)[:, None, None].expand(n, 28, 28).clone(), labels


def rows(number: int = 400, seed: int = 0, **kwargs):
    images, labels = digits()
    return make_rows(
        images, labels, number, generator=torch.Generator().manual_seed(seed), **kwargs
    )


def test_rows_hold_their_digits_in_reading_order_inside_the_canvas():
    r = rows()
    H, W = row_canvas(5)
    assert r.images.shape == (400, H, W) == (400, 36, 156)
    assert set(r.lengths.tolist()) == {1, 2, 3, 4, 5}
    present = torch.arange(5) < r.lengths[:, None]
    assert torch.equal(r.labels >= 0, present)
    left, top, right, bottom = r.boxes.unbind(-1)
    assert (left[present] >= 0).all() and (right[present] <= W).all()
    assert (top[present] >= 0).all() and (bottom[present] <= H).all()
    # left to right, and each gap within (-4, 4)
    gaps = left[:, 1:] - right[:, :-1]
    both = present[:, 1:]
    assert (gaps[both] >= -4).all() and (gaps[both] <= 4).all()
    # each box's centre pixel holds its own digit (overlaps are at most 4 pixels wide)
    n, i = present.nonzero().unbind(1)
    cx, cy = ((left + right) / 2).long()[n, i], ((top + bottom) / 2).long()[n, i]
    assert torch.equal(r.images[n, cy, cx].long(), 10 + r.labels[n, i])
    # and nothing lies outside the boxes
    ink = (r.images > 0).sum((1, 2))
    assert (ink <= r.lengths * 28 * 28).all() and (ink > 0).all()


def test_a_seed_fixes_the_rows_and_lengths_are_uniform():
    a, b = rows(seed=3), rows(seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    counts = torch.bincount(rows(5000).lengths, minlength=6)[1:].float() / 5000
    assert torch.allclose(counts, torch.full((5,), 0.2), atol=0.03)


def test_rows_start_anywhere_they_fit():
    r = rows(2000, lengths=(1,), canvas=(36, 156))
    left = r.boxes[:, 0, 0]
    assert left.min() <= 2 and left.max() >= 156 - 28 - 2


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(ValueError, match="positive digit counts"):
        rows(lengths=(0, 1))
    with pytest.raises(ValueError, match="least <= most"):
        rows(gaps=(3, 1))
    with pytest.raises(ValueError, match="cannot hold 5 digits"):
        rows(canvas=(36, 100))
