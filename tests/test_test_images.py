"""``foveate.test_images``: the first test examples of a config's data, the ones its run is tested
on and ``foveate show`` draws."""

import pytest
import torch

import foveate
from foveate import test_images  # imported by name: pytest must not take it for a test
from foveate.reports.figures import FigureContext
from foveate.training.config import RunConfig

SCENES = {"model": "air", "data": {"sample": True, "test_size": 20, "val_size": 20}}


def test_a_task_name_gives_its_test_canvases_and_labels():
    images, labels = test_images("translated", 5, sample=True)
    assert images.shape == (5, 1, 60, 60) and images.dtype == torch.float32
    assert 0 <= images.min() and images.max() <= 1
    assert labels.shape == (5,) and labels.dtype == torch.int64
    # The canvases are fixed by the data seed: asked twice, the same.
    again, same = foveate.test_images("translated", 5, sample=True)
    assert torch.equal(images, again) and torch.equal(labels, same)


def test_examples_span_test_batches_as_one_batch_would_hold_them():
    whole, labels = test_images("mnist", 8, sample=True)
    pieces, pieced = test_images("mnist", 8, sample=True, eval_batch_size=3)
    assert torch.equal(whole, pieces) and torch.equal(labels, pieced)


def test_they_are_the_examples_foveate_show_draws(tmp_path):
    config = RunConfig.from_dict(SCENES)
    context = FigureContext(tmp_path, images=4, seed=0, config=config)
    shown, truth = context.batch
    images, targets = test_images(config, 4)
    assert torch.equal(shown, images)
    assert targets.keys() == truth.keys()  # scenes' targets: a dict, each entry cut alike
    for key in truth:
        assert torch.equal(targets[key], truth[key]) and len(targets[key]) == 4


def test_a_config_dict_and_data_overrides_are_taken():
    images, targets = test_images(SCENES, 3, canvas=40)
    assert images.shape == (3, 1, 40, 40) and targets["count"].shape == (3,)


@pytest.mark.parametrize(
    "source, count, data, message",
    [
        ("cluttered", 4, {"sample": True}, "unknown task 'cluttered'"),
        ("mnist", 0, {"sample": True}, "count must be at least 1"),
        (SCENES, 21, {}, "the test set has 20 examples, fewer than the 21 asked for"),
        ({"model": "ram_agent"}, 2, {}, "is not images and targets"),
    ],
)
def test_what_cannot_be_given_is_refused_in_one_line(source, count, data, message):
    with pytest.raises(ValueError, match=message):
        test_images(source, count, **data)
