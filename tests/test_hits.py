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


def test_hit_rate_splits_by_right_and_wrong_answers_and_by_class():
    boxes = torch.tensor([[[0, 0, 12, 12]], [[0, 0, 12, 12]]])
    model = PlacedWindows(boxes)
    images = torch.zeros(4, 100, 100, dtype=torch.uint8)
    centres = torch.tensor([[6.0, 6.0], [50.0, 50.0], [6.0, 6.0], [6.0, 6.0]])
    labels = torch.tensor([0, 0, 3, 3])  # the model answers 0: two right, two wrong
    rates = hit_rate(model, images, labels, centres, batch_size=3)
    assert rates["hit_rate_pct"] == 75.0
    assert rates["hit_rate_right_pct"] == 50.0 and rates["hit_rate_wrong_pct"] == 100.0
    assert rates["episode_error_pct"] == 50.0
    # per class: class 0 found once in two, class 3 always
    assert rates["hit_rate_pct_class0"] == 50.0 and rates["hit_rate_pct_class3"] == 100.0
    assert rates["hit_rate_pct_worst_class"] == 50.0 and rates["hit_rate_worst_class"] == 0


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


def test_offsets_measure_each_finest_window_from_the_centre():
    from foveate.reports.hits import glimpse_offsets

    boxes = torch.tensor([[[40, 40, 52, 52], [0, 0, 100, 100]], [[10, 20, 22, 32], [0, 0, 9, 9]]])
    model = PlacedWindows(boxes)
    centres = torch.tensor([[46.0, 46.0], [16.0, 30.0]])
    offsets, half, output = glimpse_offsets(model, torch.zeros(2, 1, 100, 100), centres)
    assert offsets.tolist() == [[[0.0, 0.0], [-30.0, -20.0]], [[30.0, 16.0], [0.0, -4.0]]]
    assert (half == 6).all() and output.logits.shape == (2, 10)
    # the same rule as the hit rate: covered where |offset| <= half in both axes
    covered = (offsets.abs() <= half).all(-1)[:, 1:]
    hits, _ = glimpse_hits(model, torch.zeros(2, 1, 100, 100), centres)
    assert covered.any(1).tolist() == hits.tolist()


def test_a_greedy_path_follows_the_policy_mean_and_a_sampled_one_does_not():
    from foveate.models.ram import RecurrentAttentionModel
    from foveate.reports.hits import glimpse_offsets

    torch.manual_seed(0)
    model = RecurrentAttentionModel(glimpses=3, location_std=0.3).eval()
    images, centres = torch.rand(4, 1, 28, 28), torch.full((4, 2), 14.0)
    greedy = [glimpse_offsets(model, images, centres, greedy=True)[0] for _ in range(2)]
    sampled = [glimpse_offsets(model, images, centres)[0] for _ in range(2)]
    assert torch.equal(greedy[0], greedy[1])
    assert not torch.equal(sampled[0], sampled[1])
