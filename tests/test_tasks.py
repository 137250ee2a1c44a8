"""Task generators: determinism, the digit inside the canvas, the clutter count."""

import pytest
import torch

from foveate.data.tasks import TASKS, get_task, make_task_canvases, place, shift_randomly


def digits(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 256, (n, 28, 28), generator=g, dtype=torch.uint8)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def test_same_seed_same_canvases_other_seed_other_canvases():
    d, pool = digits(16), digits(50, seed=1)
    a = place(d, canvas=60, generator=gen(3), clutter_pool=pool, clutter=4)
    b = place(d, canvas=60, generator=gen(3), clutter_pool=pool, clutter=4)
    c = place(d, canvas=60, generator=gen(4), clutter_pool=pool, clutter=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.digit_boxes, b.digit_boxes)
    assert not torch.equal(a.images, c.images)


@pytest.mark.parametrize("canvas,clutter", [(28, 0), (60, 0), (60, 4), (100, 8)])
def test_digit_lies_whole_inside_the_canvas_and_on_top(canvas, clutter):
    d = digits(200)
    out = place(d, canvas=canvas, generator=gen(0), clutter_pool=digits(30, 2), clutter=clutter)
    assert out.images.shape == (200, canvas, canvas) and out.images.dtype == torch.uint8
    left, top, right, bottom = out.digit_boxes.unbind(-1)
    assert (left >= 0).all() and (top >= 0).all()
    assert (right <= canvas).all() and (bottom <= canvas).all()
    assert ((right - left) == 28).all() and ((bottom - top) == 28).all()
    for n in range(200):
        window = out.images[n, top[n] : bottom[n], left[n] : right[n]]
        # Clutter combines by maximum, so the digit's pixels are never dimmed.
        assert (window >= d[n]).all()
    if canvas > 28:  # positions are spread over the canvas, not stuck in a corner
        assert left.min() < 5 and left.max() > canvas - 28 - 5


def test_without_clutter_the_canvas_holds_exactly_the_digit():
    d = digits(8)
    out = place(d, canvas=60, generator=gen(0))
    assert out.images.sum(dtype=torch.int64) == d.sum(dtype=torch.int64)


@pytest.mark.parametrize("task", ["cluttered60", "cluttered100"])
def test_clutter_count(task):
    spec = get_task(task)
    empty = torch.zeros(500, 28, 28, dtype=torch.uint8)  # no digit: only clutter shows
    pool = torch.full((10, 28, 28), 255, dtype=torch.uint8)  # every piece a solid square
    out = place(
        empty,
        canvas=spec.canvas,
        generator=gen(0),
        clutter_pool=pool,
        clutter=spec.clutter,
        piece=spec.piece,
    )
    assert out.clutter_boxes.shape == (500, spec.clutter, 4)
    lit = (out.images > 0).flatten(1).sum(1)
    # Each image is lit by its P pieces of 8x8: at most P * 64 pixels (less where they overlap),
    # and exactly the union of the recorded boxes.
    assert (lit <= spec.clutter * 64).all() and (lit == spec.clutter * 64).float().mean() > 0.3
    for n in range(20):
        mask = torch.zeros(spec.canvas, spec.canvas, dtype=torch.bool)
        for left, top, right, bottom in out.clutter_boxes[n].tolist():
            mask[top:bottom, left:right] = True
        assert torch.equal(mask, out.images[n] > 0)


def test_task_registry():
    assert set(TASKS) == {"mnist", "translated", "cluttered60", "cluttered100", "translated100"}
    assert get_task("cluttered100").canvas == 100 and get_task("cluttered100").clutter == 8
    assert get_task("cluttered60").clutter == 4
    with pytest.raises(ValueError, match="unknown task"):
        get_task("cifar")
    d = digits(3)
    canvases = make_task_canvases(get_task("mnist"), d, generator=gen(0), clutter_pool=None)
    assert canvases.images is d
    assert canvases.digit_boxes.tolist() == [[0, 0, 28, 28]] * 3


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="canvas"):
        place(digits(2), canvas=20, generator=gen(0))
    with pytest.raises(ValueError, match="clutter_pool"):
        place(digits(2), canvas=60, generator=gen(0), clutter=3)


def test_shift_randomly_moves_each_image_by_its_own_offset_within_bounds():
    images = torch.zeros(400, 9, 9, dtype=torch.uint8)
    images[:, 4, 4] = 255  # one bright pixel in the middle
    shifted = shift_randomly(images, 2, generator=torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape
    assert (shifted == 255).sum((1, 2)).eq(1).all()  # nothing lost, nothing added
    rows, cols = (shifted == 255).nonzero()[:, 1:].T
    # every offset in [-2, 2]^2 occurs, none beyond
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == {
        (r, c) for r in range(2, 7) for c in range(2, 7)
    }
    assert torch.equal(shift_randomly(images, 0, generator=torch.Generator()), images)
    with pytest.raises(ValueError, match="non-negative"):
        shift_randomly(images, -1, generator=torch.Generator())
