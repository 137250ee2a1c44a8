"""Attention in pixels, the pixels deleted, and salience shares (foveate.reports.deletion)."""

import pytest
import torch

from foveate.models import create_model
from foveate.models.interface import boxes_to_outlines, points_inside
from foveate.reports.deletion import (
    attention_in_pixels,
    delete,
    inside_quadrilaterals,
    most_attended,
    random_pixels,
    share_inside,
)
from foveate.reports.salience import reading_score, salience


def test_inside_a_box_either_way_round_known_answer():
    box = torch.tensor([[1.0, 1.0], [3.0, 1.0], [3.0, 3.0], [1.0, 3.0]])
    expected = torch.zeros(4, 5, dtype=torch.bool)
    expected[1:3, 1:3] = True  # pixel centres 1.5 and 2.5 on both axes
    assert torch.equal(inside_quadrilaterals(box, 4, 5), expected)
    assert torch.equal(inside_quadrilaterals(box.flip(0), 4, 5), expected)


def test_inside_a_rotated_square_known_answer():
    # a diamond around pixel (2, 2)'s centre reaching 1.2 pixels out: the centre and its four
    # neighbours (1 away in L1 distance), not the diagonal ones (2 away)
    c, r = 2.5, 1.2
    diamond = torch.tensor([[c, c - r], [c + r, c], [c, c + r], [c - r, c]])
    inside = inside_quadrilaterals(diamond, 5, 5)
    assert inside.sum() == 5
    assert inside[2, 2] and inside[1, 2] and inside[3, 2] and inside[2, 1] and inside[2, 3]


def test_most_attended_takes_the_top_fraction_known_answer():
    attention = torch.arange(20.0).view(1, 4, 5)
    mask = most_attended(attention, 0.2)
    assert mask.sum() == 4
    assert mask.flatten()[16:].all()


def test_ties_are_broken_at_random_so_each_pixel_is_chosen_as_often():
    attention = torch.zeros(4000, 2, 5)
    attention[:, 0, :2] = 1.0  # two clear winners, then eight tied pixels for the other two
    mask = most_attended(attention, 0.4, generator=torch.Generator().manual_seed(0))
    assert mask[:, 0, :2].all()
    frequency = mask.flatten(1)[:, 2:].float().mean(0)  # each tied pixel: 2 of 8 places
    assert torch.allclose(frequency, torch.full((8,), 0.25), atol=0.03)


def test_random_pixels_count_and_bad_fraction():
    mask = random_pixels((3, 10, 10), 0.1, generator=torch.Generator().manual_seed(1))
    assert mask.sum((1, 2)).tolist() == [10, 10, 10]
    with pytest.raises(ValueError, match="fraction"):
        random_pixels((1, 4, 4), 0.0)


def test_delete_sets_pixels_to_background_and_shares_known_answer():
    images = torch.ones(1, 2, 2, 2)
    mask = torch.tensor([[[True, False], [False, False]]])
    deleted = delete(images, mask)
    assert deleted[0, :, 0, 0].tolist() == [0.0, 0.0] and deleted.sum() == 6
    maps = torch.tensor([[[3.0, -1.0], [0.0, 0.0]]])
    assert share_inside(maps, mask).item() == pytest.approx(0.75)


def test_a_whole_image_window_attends_every_pixel_once_per_step():
    torch.manual_seed(0)
    model = create_model("stn", image_size=28, conv_width=4, hidden_size=8).eval()
    # an untrained localisation network gives the identity: the grid covers the whole image
    attention = attention_in_pixels(model, torch.rand(2, 1, 28, 28))
    assert torch.equal(attention, torch.ones(2, 28, 28))


def test_a_readers_attention_sums_to_the_steps_it_read():
    torch.manual_seed(0)
    tiny = dict(encoder_widths=(4, 4, 8, 8), lstm_size=16, embed_size=8, attention_size=8)
    model = create_model("reader", image_size=(36, 156), max_length=3, **tiny).eval()
    images = torch.rand(3, 1, 36, 156)
    attention = attention_in_pixels(model, images)
    steps = (model.reading(images).tokens >= 0).sum(1).float()
    assert torch.allclose(attention.sum((1, 2)), steps, atol=1e-4)
    maps = salience(model, images, score=reading_score)
    assert maps.shape == (3, 36, 156) and maps.abs().sum() > 0
    with pytest.raises(ValueError, match="without attention"):
        attention_in_pixels(create_model("reader_none", image_size=(36, 156), **tiny), images)


def test_points_inside_known_answer():
    box = boxes_to_outlines(torch.tensor([2.0, 2.0, 6.0, 4.0]))  # x in [2, 6], y in [2, 4]
    points = torch.tensor([[3.0, 3.0], [6.0, 4.0], [1.9, 3.0], [3.0, 4.1]])
    assert points_inside(box, points).tolist() == [True, True, False, False]
