"""Figures of a scene explained object by object, whatever the model (``Decomposition``).

``scene_grid`` draws, for each scene, the input with every present step's window in that step's
colour, and the reconstruction beside it; ``scene_animation`` writes a GIF whose frames add one
step at a time: the canvas after step t, with the windows of steps up to t, beside the input;
``scene_steps`` lays the steps out side by side, a row per scene: the input, then the canvas
after each step with that step's window (what each object added). ``scenes_with_objects``
chooses the scenes to show: an empty scene explains nothing.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; there may be no screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402
from torch import Tensor  # noqa: E402

from foveate.models.interface import Decomposition  # noqa: E402
from foveate.reports.files import grey, png_frame, save_gif, save_png  # noqa: E402

# One colour per step, distinct on black (the order of AIR's paper figures: red, green, blue).
STEP_COLOURS = ("#ff4040", "#40ff40", "#4080ff", "#ffd040", "#ff40ff", "#40ffff")


def scenes_with_objects(counts: Tensor, n: int) -> Tensor:
    """Positions (at most n) of the scenes worth a panel: those whose true count (B,) is at
    least one, in their order, then empty ones, in theirs, only if too few hold an object."""
    return torch.sort((counts < 1).long(), stable=True).indices[:n]  # a stable sort keeps order


def _draw(
    images: Tensor, scenes: Decomposition, *, steps: int, counts: Tensor | None
) -> plt.Figure:
    """Pairs of panels (input with windows, reconstruction after ``steps`` steps) per scene."""
    N, T = scenes.present.shape
    shown = min(steps, T)
    inputs = grey(images)
    canvases = grey(scenes.canvases[:, shown - 1]) if shown else np.zeros_like(inputs)
    present = scenes.present.detach().cpu().numpy() > 0.5
    # imshow puts pixel i's centre at i, so pixel edges move by half a pixel
    outlines = scenes.outlines.detach().float().cpu().numpy() - 0.5
    pairs = min(N, 4)
    rows = math.ceil(N / pairs)
    fig, axes = plt.subplots(rows, 2 * pairs, figsize=(2.2 * 2 * pairs, 2.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for n in range(N):
        left, right = axes[n // pairs, 2 * (n % pairs)], axes[n // pairs, 2 * (n % pairs) + 1]
        left.imshow(inputs[n], cmap="gray", vmin=0, vmax=1)
        right.imshow(canvases[n], cmap="gray", vmin=0, vmax=1)
        found = int(present[n].sum())
        title = f"{found} found"
        if counts is not None:
            title += f" / {int(counts[n])} there"
        left.set_title(title, fontsize=8)
        right.set_title(f"after step {shown}" if shown < T else "reconstruction", fontsize=8)
        h, w = inputs[n].shape
        for t in range(shown):
            if not present[n, t]:
                continue
            colour = STEP_COLOURS[t % len(STEP_COLOURS)]
            for ax in (left, right):
                ax.add_patch(
                    Polygon(outlines[n, t], closed=True, fill=False, edgecolor=colour, lw=1.4)
                )
                ax.set_xlim(-0.5, w - 0.5)
                ax.set_ylim(h - 0.5, -0.5)
    fig.tight_layout()
    return fig


def scene_grid(
    path: str | os.PathLike,
    images: Tensor,
    scenes: Decomposition,
    *,
    counts: Tensor | None = None,
) -> Path:
    """Write inputs (N, C, H, W) and their decomposition as a PNG; returns its path.

    counts: (N,) the true number of objects, shown beside the number found, or None.
    """
    return save_png(_draw(images, scenes, steps=scenes.present.shape[1], counts=counts), path)


def scene_animation(
    path: str | os.PathLike,
    images: Tensor,
    scenes: Decomposition,
    *,
    counts: Tensor | None = None,
    frame_ms: int = 700,
) -> Path:
    """Write an animated GIF adding one step per frame; returns its path."""
    T = scenes.present.shape[1]
    frames = [png_frame(_draw(images, scenes, steps=t, counts=counts)) for t in range(1, T + 1)]
    return save_gif(path, frames, frame_ms=frame_ms, linger=4)  # on the whole decomposition


def scene_steps(path: str | os.PathLike, images: Tensor, scenes: Decomposition) -> Path:
    """Write a PNG of N rows (scenes) and 1 + T columns: the input, then the reconstruction after
    each step t with step t's window in its colour (absent steps leave the canvas as it was and
    draw no window); returns its path."""
    N, T = scenes.present.shape
    inputs = grey(images)
    canvases = [grey(scenes.canvases[:, t]) for t in range(T)]
    present = scenes.present.detach().cpu().numpy() > 0.5
    outlines = scenes.outlines.detach().float().cpu().numpy() - 0.5  # pixel edges, as in _draw
    fig, axes = plt.subplots(N, 1 + T, figsize=(1.3 * (1 + T), 1.3 * N), squeeze=False)
    h, w = inputs.shape[1:]
    for n in range(N):
        for column, picture in enumerate([inputs[n]] + [c[n] for c in canvases]):
            ax = axes[n, column]
            ax.imshow(picture, cmap="gray", vmin=0, vmax=1)
            ax.axis("off")
            t = column - 1
            if t >= 0 and present[n, t]:
                colour = STEP_COLOURS[t % len(STEP_COLOURS)]
                ax.add_patch(
                    Polygon(outlines[n, t], closed=True, fill=False, edgecolor=colour, lw=1.2)
                )
                ax.set_xlim(-0.5, w - 0.5)
                ax.set_ylim(h - 0.5, -0.5)
            if n == 0:
                ax.set_title("input" if t < 0 else f"after step {t + 1}", fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)
