"""What ``foveate show`` draws for a ``Generative`` model: a grid of samples and the animation of
their drawing (``foveate.reports.drawings``). It needs no data."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from foveate.models.interface import Generative
from foveate.reports.drawings import drawing_animation, sample_grid
from foveate.reports.figures import FigureContext, register_figures


@register_figures(Generative)
def generative_figures(model: nn.Module, context: FigureContext) -> list[Path]:
    drawing = model.generate(context.images, generator=torch.Generator().manual_seed(context.seed))
    paths = [sample_grid(context.out / "samples.png", drawing.canvases[:, -1])]
    if context.animations:
        paths.append(
            drawing_animation(context.out / "drawing.gif", drawing.canvases, drawing.outlines)
        )
    return paths
