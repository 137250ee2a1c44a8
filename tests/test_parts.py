"""What the parts of a decomposition explain (``foveate.reports.parts``): known answers on drawn
boxes, and the ``parts`` evaluation on a tiny AIR run."""

import math

import pytest
import torch

from foveate.bench.evaluations import EVALUATIONS
from foveate.models.interface import Decomposition
from foveate.reports.parts import part_statistics
from foveate.training.checks import tiny_config
from foveate.training.fit import train_and_test


def _box(left, top, right, bottom):
    """A window's outline (4, 2) as (x, y) corners TL, TR, BR, BL, in pixels."""
    return torch.tensor(
        [[left, top], [right, top], [right, bottom], [left, bottom]], dtype=torch.float
    )


def _decomposition(present, boxes, canvas):
    B, T = len(present), len(present[0])
    return Decomposition(
        present=torch.tensor(present, dtype=torch.float),
        outlines=torch.stack([torch.stack(row) for row in boxes]),
        canvases=canvas[:, None].expand(B, T, *canvas.shape[1:]),
    )


def test_known_shares_of_ink_covered_and_held_by_each_window():
    images = torch.zeros(2, 1, 8, 8)
    images[0, 0, 0:4, 0:4] = 1.0  # 16 ink pixels
    images[1, 0, 4:8, 0:8] = 0.6  # 32 ink pixels, at the threshold's side of 0.5
    canvas = torch.zeros(2, 1, 8, 8)
    canvas[0, 0, 0:4, 0:2] = 0.9  # half of the first character drawn
    canvas[1, 0, 4:8, 0:8] = 0.5  # all of the second, exactly at the threshold
    boxes = [
        [_box(0, 0, 2, 4.5), _box(2, 0, 4, 1)],  # 8 of 16 ink pixels, then 2 of 16
        [_box(0, 0, 8, 8), _box(0, 0, 1, 1)],  # all 32; the second step found nothing
    ]
    stats = part_statistics(images, _decomposition([[1, 1], [1, 0]], boxes, canvas))
    assert stats.ink_covered.tolist() == [0.5, 1.0]
    assert stats.steps.tolist() == [2, 1]
    assert stats.window_share[0].tolist() == [0.5, 0.125]
    assert stats.window_share[1, 0] == 1.0 and math.isnan(stats.window_share[1, 1])
    summary = stats.summary()
    assert summary["ink_covered_pct"] == pytest.approx(75.0)
    assert summary["steps_per_character"] == 1.5
    assert summary["window_share_mean"] == pytest.approx((0.5 + 0.125 + 1.0) / 3)
    assert summary["window_share_step0"] == pytest.approx(0.75)
    assert summary["window_share_step1"] == pytest.approx(0.125)
    assert summary["window_share_max_step"] == pytest.approx(0.75)


def test_a_blank_image_counts_in_no_share_and_a_pixel_centre_decides_inside():
    images = torch.zeros(2, 1, 4, 4)
    images[1, 0, 1, 1] = 1.0  # one ink pixel, covering [1, 2) x [1, 2): its centre (1.5, 1.5)
    canvas = torch.zeros(2, 1, 4, 4)
    boxes = [[_box(0, 0, 4, 4)], [_box(1.5, 1.5, 3, 3)]]  # the centre on the box's edge: inside
    stats = part_statistics(images, _decomposition([[1], [1]], boxes, canvas))
    assert math.isnan(stats.ink_covered[0]) and stats.ink_covered[1] == 0.0
    assert math.isnan(stats.window_share[0, 0]) and stats.window_share[1, 0] == 1.0
    narrow = [[_box(0, 0, 4, 4)], [_box(1.6, 1.0, 3, 3)]]
    assert (
        part_statistics(images, _decomposition([[1], [1]], narrow, canvas)).window_share[1, 0] == 0
    )
    assert stats.summary()["ink_covered_pct"] == 0.0  # the blank image left out, not counted as 0


def test_the_parts_evaluation_runs_on_a_tiny_air_run(tmp_path):
    small = {"data": {"epoch_size": 16, "val_size": 16, "test_size": 48}}
    config = tiny_config("air").updated(small)
    summary = train_and_test(config, tmp_path / "run")
    scores = EVALUATIONS["parts"](summary["best_checkpoint"], config)
    assert 0 <= scores["ink_covered_pct"] <= 100
    assert 0 <= scores["steps_per_character"] <= config.model_args["steps"]
    if scores["steps_per_character"] > 0:
        assert 0 <= scores["window_share_mean"] <= 1
    cnn = tiny_config("cnn", limit_train_batches=1, limit_eval_batches=1)
    with pytest.raises(ValueError, match="does not explain scenes in parts"):
        EVALUATIONS["parts"](train_and_test(cnn, tmp_path / "cnn")["best_checkpoint"], cnn)
