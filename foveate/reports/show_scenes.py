"""What ``foveate show`` draws for a model that ``Decomposes`` scenes: test scenes with each
step's window in its own colour beside the reconstruction, their animation step by step, and
the steps side by side (``foveate.reports.scenes``). Where the data gives each scene's count,
the scenes shown hold at least one object, unless empty ones are asked for."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from foveate.models.interface import Decomposes
from foveate.reports.figures import FigureContext, register_figures
from foveate.reports.scenes import scene_animation, scene_grid, scene_steps, scenes_with_objects


@register_figures(Decomposes)
def scene_figures(model: nn.Module, context: FigureContext) -> list[Path]:
    _, truth = context.test_batch
    counted = isinstance(truth, dict) and "count" in truth
    chosen = slice(context.images)
    if counted and not context.empty_scenes:
        chosen = scenes_with_objects(truth["count"], context.images)
    x, y = context.pick(chosen)
    with torch.no_grad():
        scenes = model.decompose(x)
    counts = y["count"] if counted else None
    paths = [scene_grid(context.out / "scenes.png", x, scenes, counts=counts)]
    if context.animations:
        paths.append(scene_animation(context.out / "scenes.gif", x, scenes, counts=counts))
    paths.append(scene_steps(context.out / "scene_steps.png", x, scenes))
    return paths
