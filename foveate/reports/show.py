"""``foveate show``: the figures that explain a checkpoint, chosen by what its model can do.

Nothing here knows a model by name; it asks the model for its capabilities
(``foveate.models.interface``): a ``Generative`` model gets a grid of samples and the animation of
their drawing; a model that ``Decomposes`` scenes gets test scenes with each step's window in its
own colour beside the reconstruction, and their animation step by step; a ``Classifier`` that
``Attends`` gets where it looked on test images (outlines on the image, step by step, and what it
saw at each step) and, beside its attention, its salience (``salience.png``); any other
``Classifier`` gets its answers and its salience; a model that ``Reads`` gets each
step's attention map and token, as a table and an animation; a model that ``AnswersSets`` gets
sets with the weight it put on each item; an agent that ``Plays`` gets held-out games played
greedily, its glimpses on each step's screen (an animation and one game's strip).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from foveate.models.interface import (
    AnswersSets,
    Attends,
    Classifier,
    Decomposes,
    Generative,
    Plays,
    Reads,
)
from foveate.reports.deletion import reading_attention
from foveate.reports.drawings import drawing_animation, sample_grid
from foveate.reports.explanations import attention_and_salience
from foveate.reports.games import play_animation, play_strip
from foveate.reports.glimpses import glimpse_animation, glimpse_episodes, glimpse_grid, view_strips
from foveate.reports.readings import reading_animation, reading_steps
from foveate.reports.salience import reading_score, salience
from foveate.reports.scenes import scene_animation, scene_grid, scene_steps
from foveate.reports.sets import set_weights


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
    from foveate.training.fit import build_data, load_config, load_module

    if images < 1:
        raise ValueError(f"--images must be at least 1, got {images}")
    config = load_config(checkpoint).updated({"data": data_overrides or {}})
    model = load_module(checkpoint, config).model.eval()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    paths: list[Path] = []
    if isinstance(model, Generative):
        drawing = model.generate(images, generator=torch.Generator().manual_seed(seed))
        paths += [
            sample_grid(out / "samples.png", drawing.canvases[:, -1]),
            drawing_animation(out / "drawing.gif", drawing.canvases, drawing.outlines),
        ]
    if isinstance(model, Decomposes | Classifier | Reads | AnswersSets):
        data = build_data(config)
        data.setup("test")
        x, y = next(iter(data.test_dataloader()))
        x = x[:images]
    if isinstance(model, Decomposes):
        with torch.no_grad():
            scenes = model.decompose(x)
        counts = y["count"][:images] if isinstance(y, dict) and "count" in y else None
        paths += [
            scene_grid(out / "scenes.png", x, scenes, counts=counts),
            scene_animation(out / "scenes.gif", x, scenes, counts=counts),
            scene_steps(out / "scene_steps.png", x, scenes),
        ]
    if isinstance(model, Reads):
        reading = model.reading(x)
        labels = y["labels"][:images] if isinstance(y, dict) and "labels" in y else None
        paths.append(reading_steps(out / "reading.png", x, reading, labels=labels))
        if reading.maps is not None:
            paths.append(reading_animation(out / "reading.gif", x, reading))
            maps = salience(model, x, score=reading_score)
            read = [
                " ".join(reading.names[k] for k in row if k >= 0) for row in reading.tokens.tolist()
            ]
            attention = reading_attention(reading)
            paths.append(
                attention_and_salience(
                    out / "salience.png", x, maps, None, read, attention=attention
                )
            )
    if isinstance(model, AnswersSets):
        truth = {k: v[:images] for k, v in y.items()}
        output = model.answer(x, mask=truth["mask"], query=truth["query"])
        answer = output.logits.argmax(-1)
        paths.append(set_weights(out / "sets.png", x, answer, output.weights, truth))
    if isinstance(model, Classifier):
        episodes = glimpse_episodes(model, x, y[:images])
        paths.append(glimpse_grid(out / "glimpses.png", episodes))
        maps = salience(model, x, episodes.predictions.to(x.device))
        answers = [f"class {int(k)}" for k in episodes.predictions]
        paths.append(
            attention_and_salience(out / "salience.png", x, maps, episodes.outlines, answers)
        )
        if isinstance(model, Attends):
            paths.append(glimpse_animation(out / "glimpses.gif", episodes))
            if episodes.views is not None:
                paths.append(view_strips(out / "views.png", episodes))
    if isinstance(model, Plays):
        paths += _play(model, config, out, games=images)
    if not paths:
        raise ValueError(f"{checkpoint}: 'show' has no figure for a {type(model).__name__}")
    return paths


def _play(model, config, out: Path, *, games: int) -> list[Path]:
    """The first ``games`` test games, played greedily, drawn with the agent's glimpses."""
    from foveate.data.games import GameBatch
    from foveate.training.fit import build_data
    from foveate.training.games import play

    data = build_data(config)
    data.setup("test")
    (test,) = list(data.test_dataloader())
    batch = GameBatch(test.games[:games], test.seed, test.make)
    with torch.no_grad():
        episode, screens = play(model, batch, greedy=True, record=True)
    H, W = screens.shape[-2:]
    outlines = model.glimpse_outlines(episode.locations, H, W)
    return [
        play_animation(out / "play.gif", screens, outlines, episode.actions, episode.returns),
        play_strip(out / "play.png", screens[0], outlines[0], episode.actions[0]),
    ]
