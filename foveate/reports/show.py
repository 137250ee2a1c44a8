"""``foveate show``: the figures that explain a checkpoint, chosen by what its model does.

A glimpse classifier (RAM, DRAW's attentive classifier) gets its glimpse paths on test images;
a generative model (DRAW) gets a grid of samples and the animation of their drawing.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from foveate.reports.drawings import drawing_animation, sample_grid
from foveate.reports.glimpses import glimpse_animation, glimpse_episodes, glimpse_grid


def show_checkpoint(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    *,
    images: int = 8,
    seed: int = 0,
    data_overrides: dict | None = None,
) -> list[Path]:
    """Write a checkpoint's figures into ``out`` and return their paths.

    images: test images to show (classifiers) or samples to draw (generative models).
    """
    from foveate.data.datamodule import TaskDataModule
    from foveate.training.fit import load_config, load_module

    if images < 1:
        raise ValueError(f"--images must be at least 1, got {images}")
    config = load_config(checkpoint).updated({"data": data_overrides or {}})
    model = load_module(checkpoint, config).model.eval()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if getattr(model, "objective", None) == "generation":
        drawing = model.generate(images, generator=torch.Generator().manual_seed(seed))
        return [
            sample_grid(out / "samples.png", drawing.canvases[:, -1]),
            drawing_animation(out / "drawing.gif", drawing.canvases, drawing.write_boxes),
        ]
    if not hasattr(model, "glimpse_boxes"):
        raise ValueError(f"{checkpoint}: 'show' has no figure for a {type(model).__name__}")
    data = TaskDataModule(**config.data)
    data.setup("test")
    x, y = data.datasets["test"].__getitems__(list(range(images)))
    episodes = glimpse_episodes(model, x, y)
    return [
        glimpse_grid(out / "glimpses.png", episodes),
        glimpse_animation(out / "glimpses.gif", episodes),
    ]
