"""What ``foveate show`` draws for a model that ``InfersPoses``: test scenes beside what it
found in them, drawn again by the renderer, object by object, and on a map of the ground plane
with the true objects beneath (``foveate.reports.poses``)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from foveate.models.interface import InfersPoses
from foveate.reports.figures import FigureContext, register_figures
from foveate.reports.poses import pose_grid


@register_figures(InfersPoses)
def pose_figures(model: nn.Module, context: FigureContext) -> list[Path]:
    x, truth = context.pick(slice(context.images))
    with torch.no_grad():
        poses = model.poses(x)
    known = truth if isinstance(truth, dict) and "position" in truth else None
    return [pose_grid(context.out / "poses.png", x, poses, truth=known)]
