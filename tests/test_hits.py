"""The glimpse hit rate: known answers on a model whose windows are placed by hand."""

from dataclasses import dataclass

import torch
from torch import nn

from foveate.models.interface import Glimpses, boxes_to_outlines
from foveate.reports.hits import glimpse_hits, hit_rate


@dataclass
class Looked:
    logits: torch.Tensor
    boxes: torch.Tensor  # (B, T, K, 4)


class PlacedWindows(nn.Module):
    """Looks where it is told: boxes (T, K, 4) for every image; answers class 0."""

    def __init__(self, boxes):
        super().__init__()
        self.boxes = boxes
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, images):
        B = images.shape[0]
        return Looked(
            torch.zeros(B, 10).index_fill(1, torch.tensor([0]), 1.0),
            self.boxes.expand(B, -1, -1, -1),
        )

    def attended(self, images, output):
        return Glimpses(outlines=boxes_to_outlines(output.boxes.float()))


def test_only_the_finest_window_of_the_second_half_counts():
    boxes = torch.tensor(
        [
            [[40, 40, 52, 52], [0, 0, 100, 100]],  # step 0: on the centre, but early
            [[0, 0, 12, 12], [0, 0, 100, 100]],  # step 1: its coarse window covers everything
            [[10, 10, 22, 22], [0, 0, 100, 100]],  # step 2: finest window on (16, 16)
            [[70, 70, 82, 82], [0, 0, 100, 100]],  # step 3
        ]
    )
    model = PlacedWindows(boxes)
    images = torch.zeros(3, 1, 100, 100)
    centres = torch.tensor([[46.0, 46.0], [16.0, 16.0], [76.0, 71.0]])
    hits, logits = glimpse_hits(model, images, centres)
    assert hits.tolist() == [False, True, True]
    assert logits.shape == (3, 10)


def test_hit_rate_splits_by_right_and_wrong_answers():
    boxes = torch.tensor([[[0, 0, 12, 12]], [[0, 0, 12, 12]]])
    model = PlacedWindows(boxes)
    images = torch.zeros(4, 100, 100, dtype=torch.uint8)
    centres = torch.tensor([[6.0, 6.0], [50.0, 50.0], [6.0, 6.0], [6.0, 6.0]])
    labels = torch.tensor([0, 0, 3, 3])  # the model answers 0: two right, two wrong
    rates = hit_rate(model, images, labels, centres, batch_size=3)
    assert rates["hit_rate_pct"] == 75.0
    assert rates["hit_rate_right_pct"] == 50.0 and rates["hit_rate_wrong_pct"] == 100.0
    assert rates["episode_error_pct"] == 50.0


def test_task_batches_know_where_their_digits_are():
    from foveate.data.datamodule import TaskBatches
    from foveate.data.tasks import get_task

    digits = torch.zeros(5, 28, 28, dtype=torch.uint8)
    digits[:, 14, 14] = 255  # one lit pixel, at the digit's centre
    fixed = TaskBatches(
        digits,
        torch.zeros(5, dtype=torch.long),
        get_task("cluttered60"),
        fixed_seed=3,
        clutter_pool=torch.zeros(5, 28, 28, dtype=torch.uint8),
    )
    x, y = fixed.centres.long().T
    assert (fixed.images[torch.arange(5), y, x] == 255).all()
    mnist = TaskBatches(digits, torch.zeros(5, dtype=torch.long), get_task("mnist"), fixed_seed=0)
    assert mnist.centres.tolist() == [[14.0, 14.0]] * 5
