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

from foveate.attention.retina import location_to_pixel, patch_boxes  # noqa: E402


@dataclass
class GlimpseEpisodes:
    """What a glimpse model saw on N images, ready to draw.

    images: (N, H, W) in [0, 1]; locations: (N, T, 2) normalised (x, y); predictions, labels: (N,);
    patch_size, scales: the retina's g and k.
    """

    images: Tensor
    locations: Tensor
    predictions: Tensor
    labels: Tensor
    patch_size: int
    scales: int


def _draw_panels(episodes: GlimpseEpisodes, *, steps: int) -> plt.Figure:
    """A grid of panels, one per image, showing its first ``steps`` glimpses."""
    images, locations = episodes.images, episodes.locations
    patch_size, scales = episodes.patch_size, episodes.scales
    predictions, labels = episodes.predictions, episodes.labels
    N, H, W = images.shape
    T = locations.shape[1]
    boxes = patch_boxes(locations, height=H, width=W, size=patch_size, scales=scales).numpy() - 0.5
    centres = location_to_pixel(locations.reshape(-1, 2), H, W).view(N, T, 2).numpy() - 0.5
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
    fig = _draw_panels(episodes, steps=episodes.locations.shape[1])
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def glimpse_animation(
    path: str | os.PathLike, episodes: GlimpseEpisodes, *, frame_ms: int = 600
) -> Path:
    """Write an animated GIF adding one glimpse per frame, the answer on the last; returns its path."""
    frames = []
    for steps in range(1, episodes.locations.shape[1] + 1):
        fig = _draw_panels(episodes, steps=steps)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        plt.close(fig)
        frames.append(Image.open(buffer).convert("RGB"))
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * 4]  # linger on the answer
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return Path(path)


def show_checkpoint(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    *,
    images: int = 8,
    seed: int = 0,
    data_overrides: dict | None = None,
) -> list[Path]:
    """Glimpse figures of a classifier checkpoint on the first ``images`` test images.

    Writes ``glimpses.png`` and ``glimpses.gif`` into ``out`` and returns their paths.
    """
    from foveate.data.datamodule import TaskDataModule
    from foveate.training.fit import load_config, load_module

    if images < 1:
        raise ValueError(f"--images must be at least 1, got {images}")
    module = load_module(checkpoint)
    model = module.model.eval()
    if not hasattr(model, "patch_size"):
        raise ValueError(f"{checkpoint}: 'show' draws glimpse models; this model has no retina")
    config = load_config(checkpoint).updated({"data": data_overrides or {}})
    data = TaskDataModule(**config.data)
    data.setup("test")
    x, y = data.datasets["test"].__getitems__(list(range(images)))
    torch.manual_seed(seed)
    with torch.no_grad():
        output = model(x)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    episodes = GlimpseEpisodes(
        images=x[:, 0],
        locations=output.locations,
        predictions=output.logits.argmax(-1),
        labels=y,
        patch_size=model.patch_size,
        scales=model.scales,
    )
    return [
        glimpse_grid(out / "glimpses.png", episodes),
        glimpse_animation(out / "glimpses.gif", episodes),
    ]
