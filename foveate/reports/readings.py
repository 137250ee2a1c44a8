"""Figures of a reading, whatever the reader (``Reading``): where each step looked, what it read.

``reading_steps`` lays a reading out as a table (``reading_table``), a row per image, its
true digits at the left, and a column per step up to the end token: the image with that step's
attention map over it in red, titled with the step and the token it read.
``reading_animation`` writes a GIF whose frame t shows every image with step t's map and the
tokens read so far. A reader without attention gets its images titled with what it read.
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


# Inches of a panel's longer side: a wide strip of digits still gets rows one can read.
PANEL_INCHES = 3.4


def reading_table(images: Tensor, reading: Reading, *, labels: Tensor | None = None) -> plt.Figure:
    """N rows (images) by the steps up to the last end token, each panel the image with that
    step's attention in red, titled with the step and the token it read; the true digits at the
    left of each row. The figure grows with the steps and the images, a panel's longer side
    ``PANEL_INCHES``.

    images: (N, C, H, W); labels: (N, L) the true digits (-1 past the end), or None.
    """
    inputs = grey(images)
    N = len(inputs)
    ended = (reading.tokens >= 0).sum(1)  # steps that read something, the end included
    T = int(ended.max()) if reading.maps is not None else 1
    h, w = inputs.shape[1:]
    panel_w, panel_h = PANEL_INCHES * w / max(w, h), PANEL_INCHES * h / max(w, h)
    truth_inches = 0.0 if labels is None else 1.0  # the column of true digits
    fig, axes = plt.subplots(
        N,
        T,
        figsize=(panel_w * T + truth_inches, (panel_h + 0.45) * N + 0.6),  # 0.45: a title's room
        squeeze=False,
        layout="constrained",
    )
    if reading.maps is None:
        fig.suptitle("What the reader read from each test image", fontsize=11)
    else:
        fig.suptitle(
            "Where the reader attended (red) at each step, and the token it read", fontsize=11
        )
    for n in range(N):
        if labels is not None:
            truth = " ".join(str(k) for k in labels[n].tolist() if k >= 0)
            axes[n, 0].text(
                -0.04,
                0.5,
                f"true\n{truth}",
                transform=axes[n, 0].transAxes,
                ha="right",
                va="center",
                fontsize=10,
            )
        for t in range(T):
            ax = axes[n, t]
            ax.axis("off")
            if reading.maps is None:
                ax.imshow(overlay(inputs[n], None))
                ax.set_title(f"read: {' '.join(_read(reading, n))}", fontsize=10)
                continue
            if t >= int(ended[n]):
                continue
            ax.imshow(overlay(inputs[n], reading.maps[n, t].float().cpu().numpy()))
            ax.set_title(
                f"step {t + 1} read: {reading.names[int(reading.tokens[n, t])]}", fontsize=10
            )
    return fig


def reading_steps(
    path: str | os.PathLike,
    images: Tensor,
    reading: Reading,
    *,
    labels: Tensor | None = None,
) -> Path:
    """Write ``reading_table`` as a PNG; returns its path."""
    return save_png(reading_table(images, reading, labels=labels), path)


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
