"""A classifier's attention beside its salience: what it says it looked at, and what its answer
rests on (``foveate.reports.salience``).

``attention_and_salience`` draws a row per image: the image with the windows of every step
(``Glimpses``, for a model that ``Attends``) or an attention map in red (a reader's, summed
over its steps), then the salience of the answer at the input, red where pixels raise its score
and blue where they lower it, with the same windows over it, so that the two can be compared by
eye.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; there may be no screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402
from torch import Tensor  # noqa: E402

from foveate.reports.files import grey, save_png  # noqa: E402
from foveate.reports.readings import overlay  # noqa: E402


def attention_and_salience(
    path: str | os.PathLike,
    images: Tensor,
    salience: Tensor,
    outlines: Tensor | None,
    answers: list[str],
    *,
    attention: Tensor | None = None,
) -> Path:
    """Write a PNG of N rows (image with its attention; salience with windows); returns its path.

    images: (N, C, H, W) in [0, 1]; salience: (N, H, W); outlines: (N, T, K, 4, 2) window
    corners in pixels, or None; answers: the N explained answers ('class 7', '3 1 4');
    attention: (N, H, W) a map drawn over the image, or None.
    """
    pictures = grey(images)
    maps = salience.detach().float().cpu().numpy()
    corners = None if outlines is None else outlines.detach().float().cpu().numpy() - 0.5
    heat = None if attention is None else attention.detach().float().cpu().numpy()
    N, H, W = pictures.shape
    width = 2.2 * min(max(W / H, 1.0), 4.0)  # rows of digits are wide
    fig, axes = plt.subplots(N, 2, figsize=(2 * width, 2.2 * N), squeeze=False)
    for n in range(N):
        scale = max(float(np.abs(maps[n]).max()), 1e-12)
        left, right = axes[n]
        if heat is None:
            left.imshow(pictures[n], cmap="gray", vmin=0, vmax=1)
        else:
            left.imshow(overlay(pictures[n], heat[n]))
        right.imshow(maps[n], cmap="bwr", vmin=-scale, vmax=scale)
        left.set_title(f"{answers[n]}: attention", fontsize=8)
        right.set_title("salience (activation x gradient)", fontsize=8)
        for ax in (left, right):
            ax.axis("off")
            if corners is not None:
                T = corners.shape[1]
                for t in range(T):
                    colour = plt.cm.autumn(t / max(T - 1, 1))  # bright on black and white
                    # the finest window of each step
                    ax.add_patch(Polygon(corners[n, t, 0], fill=False, edgecolor=colour, lw=1))
    fig.tight_layout()
    return save_png(fig, path)
