"""Training a reader of digit rows (``foveate.models.reader``) and measuring where it looked.

The model owns its loss (teacher-forced likelihood, the doubly stochastic penalty, the
REINFORCE surrogate of hard attention) and its greedy reading. This module owns the optimiser,
the logging and the evaluation: a row counts as read when every digit and the end token come
out right (whole-sequence accuracy), a digit when step i names digit i (digit accuracy); for a
model with an attention map, the share of the steps of correctly read rows whose map peaks on
the digit that step named.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from foveate.models.reader import tokens_from_labels
from foveate.training.module import TRAINING_MODULES, Metered, Metric, TrainingModule

Batch = tuple[Tensor, dict[str, Tensor]]
STRIDE = 8  # pixels per cell of the reader's feature grid


def peaks_on_digits(maps: Tensor, boxes: Tensor, lengths: Tensor) -> Tensor:
    """Whether the attention of step i peaks on digit i, for the digit steps of each row.

    maps: (B, T, h, w) attention over the feature grid; boxes: (B, L, 4) the digits' boxes in
    pixels; lengths: (B,) digits per row. A peak is on digit i when the centre of its cell
    (column c spans pixels [8c, 8c + 8)) lies inside digit i's box horizontally and nearer to
    its centre than to any other digit's of the row (neighbouring boxes may overlap).

    Returns (B, L) booleans, False past each row's length.
    """
    B, T, h, w = maps.shape
    L = boxes.shape[1]
    peak = maps[:, :L].flatten(2).argmax(-1)  # (B, L) the peak cell of each digit step
    x = (peak % w).float() * STRIDE + STRIDE / 2  # (B, L) its centre in pixels
    left, right = boxes[..., 0], boxes[..., 2]  # (B, L)
    inside = (x >= left) & (x < right)
    real = torch.arange(L, device=maps.device) < lengths[:, None]  # (B, L)
    centres = (left + right) / 2  # (B, L)
    distance = (x[:, :, None] - centres[:, None, :]).abs()  # (B, step, digit)
    distance = distance.masked_fill(~real[:, None, :], float("inf"))
    nearest = distance.argmin(-1) == torch.arange(L, device=maps.device)
    return inside & nearest & real


@TRAINING_MODULES.register("reader")
class ReaderModule(TrainingModule):
    """Trains a reader by its model's loss; reports whole-row accuracy and where it looked.

    Takes ``TrainingModule``'s arguments. Batches are (images (B, 1, H, W), truth) with truth's
    ``labels`` (B, L), ``lengths`` (B,) and ``boxes`` (B, L, 4) (``foveate.data.reading``).
    """

    metrics = {
        "sequence_accuracy_pct": Metric("max", "whole-row accuracy (every digit and the end)", "%"),
        "digit_accuracy_pct": Metric("max", "digits read in their place", "%"),
        "length_accuracy_pct": Metric("max", "rows read to their length", "%"),
        "attention_on_digit_pct": Metric(
            "max", "steps of rows read right whose attention peaks on the digit read", "%"
        ),
    }
    monitor = "val_sequence_accuracy_pct"

    def losses(self, batch: Batch, *draws: Tensor) -> dict[str, Tensor]:
        images, truth = batch
        tokens = tokens_from_labels(truth["labels"], end=self.model.end)
        output = self.model(images, *draws, tokens=tokens)
        return self._as_dict(self.model.loss(output, tokens))

    def batch_metrics(self, batch: Batch, stage: str) -> dict[str, Metered]:
        """Each metric of a batch, with how many cases it averages (rows, or steps)."""
        images, truth = batch
        tokens = tokens_from_labels(truth["labels"], end=self.model.end)
        answer, output = self.model.read(images)
        right = (answer == tokens).all(1)  # (B,) every digit and the end
        length = (answer >= 0).sum(1) - 1  # digits before the end token (if it came)
        labels = truth["labels"]  # (B, L), -1 past each row's end
        real = labels >= 0
        digits = int(real.sum())
        digit_right = (answer[:, : labels.shape[1]] == labels) & real  # digit i read as digit i
        rows = len(images)
        metrics = {
            "sequence_accuracy_pct": (100 * right.float().mean(), rows),
            "digit_accuracy_pct": (100 * digit_right.sum() / digits, digits),
            "length_accuracy_pct": (100 * (length == truth["lengths"]).float().mean(), rows),
        }
        if output.maps is not None and right.any():
            lengths = truth["lengths"][right]
            on = peaks_on_digits(output.maps[right], truth["boxes"][right], lengths)
            steps = int(lengths.sum())
            metrics["attention_on_digit_pct"] = (100 * on.sum() / steps, steps)
        return metrics

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        line = (
            f"test whole-row accuracy {metrics['test_sequence_accuracy_pct']:.2f}% "
            f"({metrics['test_images']} test rows)"
        )
        if "test_attention_on_digit_pct" in metrics:
            line += (
                f", attention on the digit read {metrics['test_attention_on_digit_pct']:.2f}% of "
                "the steps of rows read right"
            )
        return line + cls.best_validation(metrics, "whole-row accuracy")
