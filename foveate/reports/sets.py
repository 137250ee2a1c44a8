"""A figure of a model's attention over sets of items, whatever the model (``AnswersSets``).

``set_weights`` draws a row per set: its items side by side, each framed in a colour as strong
as the weight the model put on it, with the weight written under it; the title gives the query
(if any), the answer and the truth; the items the answer rests on are marked with a star.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; there may be no screen
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from torch import Tensor  # noqa: E402

from foveate.reports.files import grey, save_png  # noqa: E402


def set_weights(
    path: str | os.PathLike,
    items: Tensor,
    answer: Tensor,
    weights: Tensor | None,
    truth: dict[str, Tensor],
) -> Path:
    """Write a PNG of N sets; returns its path.

    items: (N, K, C, h, w) in [0, 1]; answer: (N,) the model's answers; weights: (N, K) or None;
    truth: the batch's ``mask``, ``query``, ``target`` and ``relevant`` (``foveate.data.sets``).
    """
    N, K = items.shape[:2]
    pictures = grey(items)  # (N, K, h, w)
    mask = truth["mask"].cpu()
    fig, axes = plt.subplots(N, K, figsize=(0.9 * K, 1.25 * N + 0.2), squeeze=False)
    for n in range(N):
        query = int(truth["query"][n])
        head = f"query {query}: " if query >= 0 else ""
        head += f"answer {int(answer[n])}, truth {int(truth['target'][n])}"
        for k in range(K):
            ax = axes[n, k]
            ax.axis("off")
            if not mask[n, k]:
                continue
            ax.imshow(pictures[n, k], cmap="gray", vmin=0, vmax=1)
            if weights is not None:
                w = float(weights[n, k])
                side = pictures.shape[-1]
                ax.add_patch(
                    Rectangle(
                        (-0.5, -0.5),
                        side,
                        side,
                        fill=False,
                        edgecolor=(1.0, 0.25, 0.25, max(w, 0.05)),
                        linewidth=1 + 4 * w,
                    )
                )
                ax.set_title(f"{w:.2f}", fontsize=7, pad=2)
            if truth["relevant"][n, k]:
                ax.text(1, 5, "*", color="#40ff40", fontsize=12, fontweight="bold")
        axes[n, 0].text(-2, -12, head, fontsize=8, ha="left", va="bottom")
    # room above each row for its title line (tight_layout cannot see text outside the axes)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.9, bottom=0.02, hspace=0.9, wspace=0.15)
    return save_png(fig, path)
