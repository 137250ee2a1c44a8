"""``foveate show``: the figures that explain a checkpoint, chosen by what its model can do.

Nothing here knows a model, or a kind of model, by name: the figures are registered per
capability (``foveate.reports.figures``), and every maker whose capabilities the model has is
called. A ``Generative`` model gets samples and their drawing (``show_drawings``); a model that
``Decomposes`` scenes, its windows on test scenes (``show_scenes``); a model that ``Reads``, its
attention and tokens step by step (``show_readings``); a model that ``AnswersSets``, the weight
it put on each item (``show_sets``); a ``Classifier``, its glimpses and salience
(``show_glimpses``); an agent that ``Plays``, held-out games (``show_games``). A new kind adds a
maker for its own Protocol; this file does not change.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from foveate.reports.figures import FigureContext, capabilities, figure_makers, shown_capabilities


def show_checkpoint(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    *,
    images: int = 8,
    seed: int = 0,
    data_overrides: dict | None = None,
    every_window: bool = False,
    empty_scenes: bool = False,
) -> list[Path]:
    """Write a checkpoint's figures into ``out`` and return their paths.

    images: test images to show (classifiers) or samples to draw (generative models);
    every_window, empty_scenes: as in ``FigureContext``.
    """
    from foveate.training.fit import load_config, load_module

    if images < 1:
        raise ValueError(f"--images must be at least 1, got {images}")
    config = load_config(checkpoint).updated({"data": data_overrides or {}})
    model = load_module(checkpoint, config).model.eval()
    makers = figure_makers(model)
    if not makers:
        raise ValueError(
            f"{checkpoint}: 'show' has no figure for a {type(model).__name__} "
            f"(it is {', '.join(capabilities(model)) or 'none of the known capabilities'}; "
            f"figures are registered for {', '.join(shown_capabilities())})"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    context = FigureContext(
        out,
        images=images,
        seed=seed,
        config=config,
        every_window=every_window,
        empty_scenes=empty_scenes,
    )
    torch.manual_seed(seed)
    return [path for maker in makers for path in maker.make(model, context)]
