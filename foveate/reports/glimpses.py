"""Figures of hard attention: where a glimpse model looked, step by step.

``glimpse_grid`` draws a PNG grid (one panel per test image: the path of glimpse centres, one box
per retina scale at every step, steps numbered, the prediction in the title, green when right);
``glimpse_animation`` writes the same grid as an animated GIF that adds one glimpse per frame.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; there may be no screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from PIL import Image  # noqa: E402
from torch import Tensor  # noqa: E402


@dataclass
class GlimpseEpisodes:
    """What a glimpse model saw on N images, ready to draw.

    images: (N, H, W) in [0, 1]; boxes: (N, T, K, 4) the K windows (a retina's scales, or one
    filter grid) of each of T glimpses as (left, top, right, bottom) pixel edges; predictions,
    labels: (N,).
    """

    images: Tensor
    boxes: Tensor
    predictions: Tensor
    labels: Tensor


def _draw_panels(episodes: GlimpseEpisodes, *, steps: int) -> plt.Figure:
    """A grid of panels, one per image, showing its first ``steps`` glimpses."""
    images, predictions, labels = episodes.images, episodes.predictions, episodes.labels
    N, H, W = images.shape
    T = episodes.boxes.shape[1]
    # imshow puts pixel i's centre at i, so pixel edges move by half a pixel
    boxes = episodes.boxes.numpy() - 0.5
    centres = (boxes[:, :, 0, :2] + boxes[:, :, 0, 2:]) / 2  # (N, T, 2)
    images, predictions, labels = images.numpy(), predictions.numpy(), labels.numpy()
    cols = min(N, 4)
    rows = math.ceil(N / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.8 * rows), squeeze=False)
    colours = plt.cm.cool(np.linspace(0.0, 1.0, T))  # bright on black, cyan to magenta
    for n, ax in enumerate(axes.flat):
        ax.axis("off")
        if n >= N:
            continue
        ax.imshow(images[n], cmap="gray", vmin=0, vmax=1)
        shown = min(steps, T)
        if shown:
            ax.plot(centres[n, :shown, 0], centres[n, :shown, 1], "-", color="w", lw=0.8, alpha=0.6)
        for t in range(shown):
            current = t == shown - 1
            for left, top, right, bottom in boxes[n, t].tolist():
                ax.add_patch(
                    Rectangle(
                        (left, top),
                        right - left,
                        bottom - top,
                        fill=False,
                        edgecolor=colours[t],
                        lw=1.6 if current else 0.7,
                        alpha=1 if current else 0.6,
                    )
                )
            x, y = centres[n, t].tolist()
            ax.text(
                x,
                y,
                str(t + 1),
                color=colours[t],
                fontsize=8,
                ha="center",
                va="center",
                fontweight="bold",
            )
        ax.set_xlim(-0.5, W - 0.5)
        ax.set_ylim(H - 0.5, -0.5)
        if steps >= T:
            right = bool(predictions[n] == labels[n])
            ax.set_title(
                f"predicted {int(predictions[n])}, label {int(labels[n])}",
                fontsize=9,
                color="green" if right else "red",
            )
        else:
            ax.set_title(f"glimpse {steps} of {T}", fontsize=9)
    fig.tight_layout()
    return fig


def glimpse_grid(path: str | os.PathLike, episodes: GlimpseEpisodes) -> Path:
    """Write the PNG grid of every glimpse; returns its path."""
    fig = _draw_panels(episodes, steps=episodes.boxes.shape[1])
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def glimpse_animation(
    path: str | os.PathLike, episodes: GlimpseEpisodes, *, frame_ms: int = 600
) -> Path:
    """Write an animated GIF adding one glimpse per frame, the answer on the last; returns its path."""
    frames = []
    for steps in range(1, episodes.boxes.shape[1] + 1):
        fig = _draw_panels(episodes, steps=steps)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        plt.close(fig)
        frames.append(Image.open(buffer).convert("RGB"))
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * 4]  # linger on the answer
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return Path(path)


def glimpse_episodes(model, images: Tensor, labels: Tensor) -> GlimpseEpisodes:
    """Run a glimpse classifier (one with ``glimpse_boxes``) on images (N, 1, H, W)."""
    with torch.no_grad():
        output = model(images)
    return GlimpseEpisodes(
        images=images[:, 0],
        boxes=model.glimpse_boxes(output, height=images.shape[-2], width=images.shape[-1]),
        predictions=output.logits.argmax(-1),
        labels=labels,
    )
