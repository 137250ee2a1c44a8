"""Figures of a reading, whatever the reader (``Reading``): where each step looked, what it read.

``reading_steps`` lays a reading out as a table, a row per image and a column per step up to
the end token: the image with that step's attention map over it in red, titled with the token
the step read. ``reading_animation`` writes a GIF whose frame t shows every image with step t's
map and the tokens read so far. A reader without attention gets its images titled with what it
read.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; there may be no screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from torch import Tensor  # noqa: E402

from foveate.models.interface import Reading  # noqa: E402
from foveate.reports.files import grey, png_frame, save_gif, save_png  # noqa: E402


def overlay(image: np.ndarray, attention: np.ndarray | None) -> np.ndarray:
    """(H, W) grey and (H, W) weights -> (H, W, 3): the map in red over the image, scaled to
    its own peak."""
    rgb = np.repeat(image[..., None], 3, -1) * 0.75
    if attention is not None:
        heat = attention / max(float(attention.max()), 1e-12)
        rgb[..., 0] = np.clip(rgb[..., 0] + heat, 0, 1)
        rgb[..., 1:] *= 1 - 0.5 * heat[..., None]
    return rgb


def _read(reading: Reading, n: int, upto: int | None = None) -> list[str]:
    tokens = reading.tokens[n].tolist()[:upto]
    return [reading.names[k] for k in tokens if k >= 0]


def reading_steps(
    path: str | os.PathLike,
    images: Tensor,
    reading: Reading,
    *,
    labels: Tensor | None = None,
) -> Path:
    """Write a PNG of N rows (images) by the steps up to the last end token; returns its path.

    labels: (N, L) the true digits (-1 past the end), to title each row with the truth.
    """
    inputs = grey(images)
    N = len(inputs)
    ended = (reading.tokens >= 0).sum(1)  # steps that read something, the end included
    T = int(ended.max()) if reading.maps is not None else 1
    h, w = inputs.shape[1:]
    fig, axes = plt.subplots(
        N, T, figsize=(2.2 * T * w / max(w, h), 2.2 * h / max(w, h) * N + 0.4), squeeze=False
    )
    for n in range(N):
        truth = "" if labels is None else " ".join(str(k) for k in labels[n].tolist() if k >= 0)
        for t in range(T):
            ax = axes[n, t]
            ax.axis("off")
            if reading.maps is None:
                ax.imshow(overlay(inputs[n], None))
                ax.set_title(f"read {' '.join(_read(reading, n))}  (true {truth})", fontsize=8)
                continue
            if t >= int(ended[n]):
                continue
            ax.imshow(overlay(inputs[n], reading.maps[n, t].float().cpu().numpy()))
            title = reading.names[int(reading.tokens[n, t])]
            if t == 0 and labels is not None:
                title = f"true {truth}: {title}"
            ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)


def reading_animation(
    path: str | os.PathLike, images: Tensor, reading: Reading, *, frame_ms: int = 600
) -> Path:
    """Write an animated GIF, frame t: every image with step t's map and what is read so far."""
    inputs = grey(images)
    N = len(inputs)
    T = int((reading.tokens >= 0).sum(1).max()) if reading.maps is not None else 1
    h, w = inputs.shape[1:]
    frames = []
    for t in range(T):
        fig, axes = plt.subplots(N, 1, figsize=(3.2 * w / max(w, h), 3.2 * h / max(w, h) * N + 0.5))
        for n, ax in enumerate(np.atleast_1d(axes)):
            ax.axis("off")
            live = reading.maps is not None and int(reading.tokens[n, t]) >= 0
            attention = reading.maps[n, t].float().cpu().numpy() if live else None
            ax.imshow(overlay(inputs[n], attention))
            ax.set_title(" ".join(_read(reading, n, t + 1)) or " ", fontsize=9)
        fig.tight_layout()
        frames.append(png_frame(fig))
    return save_gif(path, frames, frame_ms=frame_ms, linger=4)
