"""What ``foveate show`` draws for a ``Classifier``: its answers on test images, with where it
looked (``foveate.reports.glimpses``), and its salience beside its attention
(``foveate.reports.explanations``); for one that also ``Attends``, its glimpses added step by
step and what it saw at each step."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from foveate.models.interface import Attends, Classifier
from foveate.reports.explanations import attention_and_salience
from foveate.reports.figures import FigureContext, register_figures
from foveate.reports.glimpses import glimpse_animation, glimpse_episodes, glimpse_grid, view_strips
from foveate.reports.salience import salience


@register_figures(Classifier)
def classifier_figures(model: nn.Module, context: FigureContext) -> list[Path]:
    x, y = context.batch
    out = context.out
    # One set of episodes for every figure, so that they agree: RAM's glimpses are drawn at random.
    episodes = glimpse_episodes(model, x, y)
    every = context.every_window
    paths = [glimpse_grid(out / "glimpses.png", episodes, every_window=every)]
    maps = salience(model, x, episodes.predictions.to(x.device))
    answers = [f"class {int(k)}" for k in episodes.predictions]
    paths.append(attention_and_salience(out / "salience.png", x, maps, episodes.outlines, answers))
    if isinstance(model, Attends):
        if context.animations:
            paths.append(glimpse_animation(out / "glimpses.gif", episodes, every_window=every))
        if episodes.views is not None:
            paths.append(view_strips(out / "views.png", episodes))
    return paths
