"""A figure of a model's answers to long sequences, and its weights over their steps, whatever
the model (``AnswersSequences``).

``sequence_weights`` draws a row per sequence: its values x_t (grey) over the steps, the two
marked steps (red), and, for a model that weighs the steps, the weight alpha_t it put on each
(blue, on its own axis); the title gives the target, the answer and the weight on the marks.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; there may be no screen
import matplotlib.pyplot as plt  # noqa: E402
from torch import Tensor  # noqa: E402

from foveate.reports.files import save_png  # noqa: E402


def sequence_weights(
    path: str | os.PathLike,
    steps: Tensor,
    answer: Tensor,
    weights: Tensor | None,
    truth: dict[str, Tensor],
) -> Path:
    """Write a PNG of N sequences; returns its path.

    steps: (N, T, 2) the values x_t and markers m_t; answer: (N,) the model's answers;
    weights: (N, T) alpha, or None; truth: the batch's ``target``, ``mask`` and ``marked``
    (``foveate.data.long_sequences``).
    """
    steps, answer = steps.detach().cpu(), answer.detach().float().cpu()
    weights = weights.detach().float().cpu() if weights is not None else None
    N = len(steps)
    fig, axes = plt.subplots(N, 1, figsize=(8, 1.6 * N + 0.3), squeeze=False)
    for n in range(N):
        ax = axes[n, 0]
        L = int(truth["mask"][n].sum())
        values = steps[n, :L, 0].numpy()
        marked = truth["marked"][n, :L].cpu().nonzero().flatten().numpy()
        ax.plot(values, color="0.6", linewidth=0.5)
        ax.scatter(marked, values[marked], color="#d62728", s=14, zorder=3)
        for t in marked:
            ax.axvline(t, color="#d62728", linewidth=0.8, alpha=0.6)
        ax.set_xlim(-0.5, L - 0.5)
        ax.set_ylabel("x_t", fontsize=7)
        ax.tick_params(labelsize=6)
        target = float(truth["target"][n])
        head = f"target {target:.3f}, answer {float(answer[n]):.3f}"
        if weights is not None:
            share = float(weights[n, marked].sum())
            head += f"; weight on the marks {100 * share:.1f}%"
            twin = ax.twinx()
            twin.plot(weights[n, :L].numpy(), color="#1f77b4", linewidth=0.8)
            twin.set_ylim(bottom=0)
            twin.set_ylabel("alpha_t", fontsize=7, color="#1f77b4")
            twin.tick_params(labelsize=6, colors="#1f77b4")
        ax.set_title(head, fontsize=8, loc="left")
    axes[-1, 0].set_xlabel("step t", fontsize=7)
    fig.tight_layout()
    return save_png(fig, path)
