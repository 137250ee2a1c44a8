"""What ``foveate show`` draws for a model that ``Decomposes`` scenes: test scenes with each
step's window in its own colour beside the reconstruction, their animation step by step, and
the steps side by side (``foveate.reports.scenes``)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from foveate.models.interface import Decomposes
from foveate.reports.figures import FigureContext, register_figures
from foveate.reports.scenes import scene_animation, scene_grid, scene_steps


@register_figures(Decomposes)
def scene_figures(model: nn.Module, context: FigureContext) -> list[Path]:
    x, y = context.batch
    with torch.no_grad():
        scenes = model.decompose(x)
    counts = y["count"] if isinstance(y, dict) and "count" in y else None
    return [
        scene_grid(context.out / "scenes.png", x, scenes, counts=counts),
        scene_animation(context.out / "scenes.gif", x, scenes, counts=counts),
        scene_steps(context.out / "scene_steps.png", x, scenes),
    ]
