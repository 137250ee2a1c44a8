"""A classifier's attention beside its salience: what it says it looked at, and what its answer
rests on (``foveate.reports.salience``).

``attention_and_salience`` draws a row per image: the image with the windows of every step
(``Glimpses``, for a model that ``Attends``), then the salience of the predicted class at the
input, red where pixels raise the class score and blue where they lower it, with the same
windows over it, so that the two can be compared by eye.
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


def attention_and_salience(
    path: str | os.PathLike,
    images: Tensor,
    salience: Tensor,
    outlines: Tensor | None,
    predictions: Tensor,
) -> Path:
    """Write a PNG of N rows (image with windows; salience with windows); returns its path.

    images: (N, C, H, W) in [0, 1]; salience: (N, H, W); outlines: (N, T, K, 4, 2) window
    corners in pixels, or None; predictions: (N,) the explained classes.
    """
    pictures = images.detach().float().cpu().clamp(0, 1).mean(1).numpy()
    maps = salience.detach().float().cpu().numpy()
    corners = None if outlines is None else outlines.detach().float().cpu().numpy() - 0.5
    N = len(pictures)
    fig, axes = plt.subplots(N, 2, figsize=(4.4, 2.2 * N), squeeze=False)
    for n in range(N):
        scale = max(float(np.abs(maps[n]).max()), 1e-12)
        left, right = axes[n]
        left.imshow(pictures[n], cmap="gray", vmin=0, vmax=1)
        right.imshow(maps[n], cmap="bwr", vmin=-scale, vmax=scale)
        left.set_title(f"class {int(predictions[n])}: attention", fontsize=8)
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
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
