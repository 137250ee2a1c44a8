"""What ``foveate show`` draws for a model that ``Reads``: each step's attention map and token,
as a table and an animation (``foveate.reports.readings``), and, beside its attention, the
salience of what it read (``foveate.reports.explanations``). A reader without attention gets
the table only."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from foveate.models.interface import Reads
from foveate.reports.deletion import reading_attention
from foveate.reports.explanations import attention_and_salience
from foveate.reports.figures import FigureContext, register_figures
from foveate.reports.readings import reading_animation, reading_steps
from foveate.reports.salience import reading_score, salience


@register_figures(Reads)
def reading_figures(model: nn.Module, context: FigureContext) -> list[Path]:
    x, y = context.batch
    out = context.out
    reading = model.reading(x)
    labels = y["labels"] if isinstance(y, dict) and "labels" in y else None
    paths = [reading_steps(out / "reading.png", x, reading, labels=labels)]
    if reading.maps is None:
        return paths
    if context.animations:
        paths.append(reading_animation(out / "reading.gif", x, reading))
    maps = salience(model, x, score=reading_score)
    read = [" ".join(reading.names[k] for k in row if k >= 0) for row in reading.tokens.tolist()]
    attention = reading_attention(reading)
    paths.append(
        attention_and_salience(out / "salience.png", x, maps, None, read, attention=attention)
    )
    return paths
