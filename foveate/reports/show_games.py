"""What ``foveate show`` draws for an agent that ``Plays``: the first test games, played
greedily, with its glimpses on each step's screen, as an animation and one game's strip
(``foveate.reports.games``)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from foveate.models.interface import Plays
from foveate.reports.figures import FigureContext, register_figures
from foveate.reports.games import play_animation, play_strip


@register_figures(Plays)
def play_figures(model: nn.Module, context: FigureContext) -> list[Path]:
    # imported here, not when the makers are discovered: the game and training code is heavy
    from foveate.data.games import GameBatch
    from foveate.training.games import play

    (test,) = list(context.data.test_dataloader())
    batch = GameBatch(test.games[: context.images], test.seed, test.make)
    with torch.no_grad():
        episode, screens = play(model, batch, greedy=True, record=True)
    H, W = screens.shape[-2:]
    outlines = model.glimpse_outlines(episode.locations, H, W)
    paths = []
    if context.animations:
        paths.append(
            play_animation(
                context.out / "play.gif", screens, outlines, episode.actions, episode.returns
            )
        )
    paths.append(play_strip(context.out / "play.png", screens[0], outlines[0], episode.actions[0]))
    return paths
