"""Multi-MNIST scenes: the right counts, boxes around the digits, fixed sets, labels kept apart."""

import pytest
import torch

from foveate.data.multi_mnist import make_scenes
from foveate.data.scenes import SceneDataModule


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def digits(n: int = 50, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Digit-like images: ink (1..255) in the central 12x12 of 28x28, as MNIST's ink is central."""
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    images[:, 8:20, 8:20] = torch.randint(
        1, 256, (n, 12, 12), generator=gen(seed), dtype=torch.uint8
    )
    return images, torch.arange(n) % 10


def test_scenes_hold_the_counts_asked_for_in_equal_shares():
    images, labels = digits()
    scenes = make_scenes(images, labels, 3000, counts=(0, 1, 2), generator=gen(1))
    assert scenes.images.shape == (3000, 50, 50) and scenes.images.dtype == torch.uint8
    shares = torch.bincount(scenes.counts, minlength=3).float() / 3000
    assert torch.allclose(shares, torch.full((3,), 1 / 3), atol=0.03)
    # classes fill exactly the first `count` slots
    filled = (scenes.classes >= 0).sum(-1)
    assert torch.equal(filled, scenes.counts)
    assert ((scenes.classes >= 0) == (torch.arange(2) < scenes.counts[:, None])).all()


def test_a_one_digit_scene_is_the_digit_inside_its_box_and_nothing_outside():
    images, labels = digits()
    scenes = make_scenes(images, labels, 200, counts=(1,), generator=gen(2))
    for n in range(20):
        left, top, right, bottom = scenes.boxes[n, 0].long().tolist()
        assert (right - left, bottom - top) == (28, 28)
        inside = scenes.images[n, top:bottom, left:right]
        assert any(torch.equal(inside, d) for d in images)
        assert scenes.images[n].sum() == inside.sum()


def test_overlapping_digits_keep_the_brighter_pixel():
    one = torch.full((1, 28, 28), 100, dtype=torch.uint8)
    two = torch.full((1, 28, 28), 200, dtype=torch.uint8)
    scenes = make_scenes(
        torch.cat([one, two]),
        torch.tensor([1, 2]),
        500,
        counts=(2,),
        canvas=30,
        overlapping=True,
        generator=gen(3),
    )
    assert set(scenes.images.unique().tolist()) <= {0, 100, 200}
    both_two = (scenes.classes == 2).all(-1)
    assert (scenes.images[both_two].max() == 200) and (scenes.images.amax((1, 2)) > 0).all()


@pytest.mark.parametrize("count", [2, 3])
def test_separate_digits_never_share_ink_and_the_scene_is_their_sum(count):
    images, labels = digits()
    scenes = make_scenes(images, labels, 400, counts=(count,), generator=gen(6))
    # each digit is the one of its class pasted in its box: rebuild the scene from the truth
    for n in range(40):
        ink = torch.zeros(50, 50, dtype=torch.int32)
        for k in range(count):
            left, top, right, bottom = scenes.boxes[n, k].long().tolist()
            piece = scenes.images[n, top:bottom, left:right].int()
            matches = [d for d, c in zip(images, labels, strict=True) if c == scenes.classes[n, k]]
            # the box holds its digit's ink wherever that digit is inked
            digit = next(d.int() for d in matches if torch.equal(piece * (d > 0), d.int()))
            ink[top:bottom, left:right] += digit
        assert int(ink.max()) <= 255 and torch.equal(ink, scenes.images[n].int())
    # and the overlapping mode does overlap them often, so the check has teeth
    loose = make_scenes(images, labels, 400, counts=(2,), overlapping=True, generator=gen(6))
    rows = loose.boxes[:, :, 1] + 8
    cols = loose.boxes[:, :, 0] + 8
    inked_together = ((rows[:, 0] - rows[:, 1]).abs() < 12) & ((cols[:, 0] - cols[:, 1]).abs() < 12)
    assert inked_together.float().mean() > 0.2


def test_digits_that_cannot_be_kept_apart_are_refused():
    full = torch.full((2, 28, 28), 200, dtype=torch.uint8)
    with pytest.raises(ValueError, match="overlapping=True"):
        make_scenes(full, torch.tensor([0, 1]), 4, counts=(2,), canvas=40, generator=gen(0))


def test_empty_scenes_and_empty_slots():
    images, labels = digits()
    scenes = make_scenes(images, labels, 10, counts=(0,), generator=gen(4))
    assert scenes.images.sum() == 0 and scenes.classes.shape == (10, 0)
    scenes = make_scenes(images, labels, 300, counts=(0, 3), generator=gen(4))
    empty = scenes.counts == 0
    assert (scenes.boxes[empty] == 0).all() and (scenes.classes[empty] == -1).all()


@pytest.mark.parametrize("overlapping", [False, True])
def test_a_seed_fixes_every_scene(overlapping):
    images, labels = digits()
    a = make_scenes(images, labels, 64, overlapping=overlapping, generator=gen(5))
    b = make_scenes(images, labels, 64, overlapping=overlapping, generator=gen(5))
    assert torch.equal(a.images, b.images) and torch.equal(a.boxes, b.boxes)


@pytest.mark.parametrize("counts", [(), (-1, 2)])
def test_impossible_counts_are_refused(counts):
    images, labels = digits()
    with pytest.raises(ValueError, match="counts"):
        make_scenes(images, labels, 4, counts=counts, generator=gen(0))


def test_the_datamodule_keeps_truth_apart_and_tests_on_other_counts():
    data = SceneDataModule(
        counts=(0, 1, 3),
        test_counts=(2,),
        sample=True,
        batch_size=16,
        val_size=40,
        test_size=30,
        eval_batch_size=30,
    )
    data.setup("fit")
    images, truth = next(iter(data.train_dataloader()))
    assert images.shape == (16, 1, 50, 50) and 0 <= images.min() and images.max() <= 1
    assert set(truth) == {"count", "classes", "boxes"}
    assert set(truth["count"].tolist()) <= {0, 1, 3}
    _, test_truth = next(iter(data.test_dataloader()))
    assert (test_truth["count"] == 2).all()
    # validation and test scenes are the same on every call; training scenes are new
    first = next(iter(data.val_dataloader()))[0]
    assert torch.equal(first, next(iter(data.val_dataloader()))[0])
    assert not torch.equal(images, next(iter(data.train_dataloader()))[0])
    assert data.record() == {"dataset": "mnist", "counts": [0, 1, 3], "overlapping": False}
    assert data.input_shape == (1, 50, 50) and data.max_objects == 3


def test_validation_digits_are_not_training_digits():
    data = SceneDataModule(sample=True, val_size=10, test_size=10)
    data.setup("fit")
    train = {bytes(d.numpy()) for d in data.split_digits["train"][0]}
    val = {bytes(d.numpy()) for d in data.split_digits["val"][0]}
    assert len(val) > 100 and not (train & val)
