"""Tasks on images of any size, and MNIST canvases unchanged by that generalisation.

The pinned hashes were computed with the 28x28-only implementation (commit 0696efa) before
``place`` learned other sizes: runs and checkpoints made before it keep their exact images.
"""

import hashlib

import pytest
import torch

from foveate.data.datamodule import TaskDataModule
from foveate.data.mnist import load_mnist_sample
from foveate.data.tasks import get_task, make_task_canvases, place, shift_randomly


def digest(*tensors: torch.Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def objects(n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(1, 256, (n, h, w), generator=gen(seed), dtype=torch.uint8)


@pytest.mark.parametrize(
    "task, images, boxes",
    [
        ("translated", "f2358eb44face618", "4284d3a6e378ecd8"),
        ("cluttered60", "f83a96c8a4685a7b", "3a56283efd17269e"),
        ("cluttered100", "5f9a362bb9f5c9c6", "7b9a7b1fa048742b"),
    ],
)
def test_mnist_canvases_are_unchanged(task, images, boxes):
    digits, _ = load_mnist_sample("train")
    spec = get_task(task)
    out = place(
        digits[:64],
        canvas=spec.canvas,
        generator=gen(0),
        clutter_pool=digits,
        clutter=spec.clutter,
        piece=spec.piece,
    )
    assert digest(out.images) == images
    assert digest(out.digit_boxes, out.clutter_boxes) == boxes


@pytest.mark.parametrize(
    "task, test, val",
    [
        ("mnist", "af400b398067621a", "f74d51f3565cc739"),
        ("cluttered60", "78f220358b7390bd", "0829856fd64ff8d3"),
    ],
)
def test_mnist_datamodule_images_are_unchanged(task, test, val):
    data = TaskDataModule(task, sample=True, val_size=500, binarize="fixed")
    data.setup()
    assert digest(next(iter(data.test_dataloader()))[0]) == test
    assert digest(next(iter(data.val_dataloader()))[0]) == val


@pytest.mark.parametrize("h, w", [(16, 16), (20, 12), (9, 31), (60, 60)])
def test_objects_of_any_size_lie_whole_inside_the_canvas(h, w):
    d = objects(300, h, w)
    out = place(d, canvas=60, generator=gen(0), clutter_pool=objects(20, 40, 33, 1), clutter=4)
    assert out.images.shape == (300, 60, 60)
    left, top, right, bottom = out.digit_boxes.unbind(-1)
    assert ((right - left) == w).all() and ((bottom - top) == h).all()
    assert (left >= 0).all() and (top >= 0).all() and (right <= 60).all() and (bottom <= 60).all()
    for n in range(300):
        assert (out.images[n, top[n] : bottom[n], left[n] : right[n]] >= d[n]).all()
    if w < 60:  # spread over all the room there is
        assert left.min() == 0 and right.max() == 60
    if h < 60:
        assert top.min() == 0 and bottom.max() == 60


def test_without_clutter_a_non_square_object_is_the_only_thing_on_the_canvas():
    d = objects(10, 11, 23)
    out = place(d, canvas=40, generator=gen(3))
    for n, (left, top, right, bottom) in enumerate(out.digit_boxes.tolist()):
        assert torch.equal(out.images[n, top:bottom, left:right], d[n])
        assert out.images[n].sum(dtype=torch.int64) == d[n].sum(dtype=torch.int64)


def test_clutter_is_cut_from_pool_images_of_their_own_size():
    # One 12x20 pool image whose pixel values say where they are: each piece is a whole 8x8 cut
    # from inside it, and every cut position occurs.
    pool = (torch.arange(12 * 20).view(1, 12, 20) + 1).to(torch.uint8)  # 1..240
    empty = torch.zeros(1000, 28, 28, dtype=torch.uint8)
    out = place(empty, canvas=40, generator=gen(0), clutter_pool=pool, clutter=1, piece=8)
    cuts = set()
    for n, (left, top, right, bottom) in enumerate(out.clutter_boxes[:, 0].tolist()):
        patch = out.images[n, top:bottom, left:right]
        cut_y, cut_x = divmod(int(patch[0, 0]) - 1, 20)
        assert torch.equal(patch, pool[0, cut_y : cut_y + 8, cut_x : cut_x + 8])
        cuts.add((cut_y, cut_x))
    assert cuts == {(y, x) for y in range(12 - 8 + 1) for x in range(20 - 8 + 1)}
    with pytest.raises(ValueError, match="piece of 13 pixels is larger than the 12x20"):
        place(empty, canvas=60, generator=gen(0), clutter_pool=pool, clutter=1, piece=13)


def test_too_large_objects_are_refused():
    with pytest.raises(ValueError, match="105x105 pixels do not fit a canvas of 100x100"):
        place(objects(2, 105, 105), canvas=100, generator=gen(0))
    with pytest.raises(ValueError, match="20x61 pixels do not fit"):
        place(objects(2, 20, 61), canvas=60, generator=gen(0))


def test_make_task_canvases_on_other_sizes():
    d = objects(6, 16, 16)
    assert make_task_canvases(get_task("mnist"), d, generator=gen(0), clutter_pool=None).images is d
    out = make_task_canvases(get_task("cluttered100"), d, generator=gen(0), clutter_pool=d)
    assert out.images.shape == (6, 100, 100)
    left, top, right, bottom = out.digit_boxes.T
    assert ((right - left) == 16).all() and ((bottom - top) == 16).all()


def test_shift_randomly_on_non_square_images():
    images = torch.zeros(300, 7, 11, dtype=torch.uint8)
    images[:, 3, 5] = 255
    shifted = shift_randomly(images, 1, generator=gen(0))
    assert shifted.shape == (300, 7, 11)
    rows, cols = (shifted == 255).nonzero()[:, 1:].T
    assert len(rows) == 300
    assert set(zip(rows.tolist(), cols.tolist(), strict=True)) == {
        (r, c) for r in (2, 3, 4) for c in (4, 5, 6)
    }
