"""What ``foveate show`` draws for a model that ``AnswersSets``: test sets with the weight it
put on each item (``foveate.reports.sets``)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from foveate.models.interface import AnswersSets
from foveate.reports.figures import FigureContext, register_figures
from foveate.reports.sets import set_weights


@register_figures(AnswersSets)
def set_figures(model: nn.Module, context: FigureContext) -> list[Path]:
    x, truth = context.batch
    output = model.answer(x, mask=truth["mask"], query=truth["query"])
    answer = output.logits.argmax(-1)
    return [set_weights(context.out / "sets.png", x, answer, output.weights, truth)]
