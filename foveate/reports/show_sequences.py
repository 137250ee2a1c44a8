"""What ``foveate show`` draws for a model that ``AnswersSequences``: test sequences with its
answers and the weight it put on each step (``foveate.reports.sequences``)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from foveate.models.ffattention import AnswersSequences
from foveate.reports.figures import FigureContext, register_figures
from foveate.reports.sequences import sequence_weights


@register_figures(AnswersSequences)
def sequence_figures(model: nn.Module, context: FigureContext) -> list[Path]:
    steps, truth = context.batch
    with torch.no_grad():
        output = model.answer_sequence(steps, mask=truth["mask"])
    path = context.out / "sequences.png"
    return [sequence_weights(path, steps, output.prediction, output.weights, truth)]
