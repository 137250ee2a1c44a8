"""Figures of where a model looked, step by step, whatever the model.

They draw ``Glimpses`` (``foveate.models.interface``): each step's windows as outlines on the
image. ``glimpse_grid`` draws a PNG grid (one panel per test image: the path of the windows'
centres, each step's finest window (every window, a retina's every scale, on request) in the
step's colour, a colourbar naming the colours' order, the first and last steps numbered, the
prediction in the title, green when right); ``glimpse_animation`` writes the same grid as an
animated GIF that adds one step per frame; ``view_strips`` puts what the model saw at each step
beside the image. A classifier that says nothing of where it looked gets panels with its
predictions only.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; there may be no screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.cm import ScalarMappable  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402
from matplotlib.patheffects import withStroke  # noqa: E402
from torch import Tensor  # noqa: E402

from foveate.reports.files import png_frame, save_gif, save_png  # noqa: E402


@dataclass
class GlimpseEpisodes:
    """What a model saw on N images, ready to draw, on the CPU.

    images: (N, H, W) in [0, 1]; outlines: (N, T, K, 4, 2) the corners (x, y) in pixel units of
    the K windows (a retina's scales, one filter grid, a sampling grid) of each of T steps, or
    None; views: (N, T, C, h, w) what it saw at each step, or None; predictions, labels: (N,).
    """

    images: Tensor
    outlines: Tensor | None
    views: Tensor | None
    predictions: Tensor
    labels: Tensor

    @property
    def steps(self) -> int:
        return 0 if self.outlines is None else self.outlines.shape[1]

    def select(self, index: Tensor) -> GlimpseEpisodes:
        """The episodes at ``index`` (a LongTensor of positions)."""
        pick = lambda x: None if x is None else x[index]  # noqa: E731
        return GlimpseEpisodes(
            pick(self.images),
            pick(self.outlines),
            pick(self.views),
            pick(self.predictions),
            pick(self.labels),
        )


def glimpse_panels(
    episodes: GlimpseEpisodes, *, steps: int, every_window: bool = False
) -> plt.Figure:
    """A grid of panels, one per image, showing its first ``steps`` glimpses.

    Each step draws its finest window (``every_window``: all K of them, a retina's coarser
    scales thinner) in the step's colour, cyan to magenta, named by a colourbar; the path of
    the centres is dotted in the same colours, and only the first and last glimpses drawn are
    numbered, on opposite sides, so that numbers of nearby glimpses do not pile up.
    """
    images, predictions, labels = episodes.images, episodes.predictions, episodes.labels
    N, H, W = images.shape
    T = episodes.steps
    # imshow puts pixel i's centre at i, so pixel edges move by half a pixel
    outlines = episodes.outlines.numpy() - 0.5 if T else np.zeros((N, 0, 1, 4, 2))
    centres = outlines[:, :, 0].mean(2)  # (N, T, 2), the finest window's centre
    if not every_window:
        outlines = outlines[:, :, :1]
    images, predictions, labels = images.numpy(), predictions.numpy(), labels.numpy()
    cols = min(N, 4)
    rows = math.ceil(N / cols)
    legend = T > 1  # one step needs no colour order
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(2.6 * cols + 0.8 * legend, 2.8 * rows),
        squeeze=False,
        layout="constrained",  # room for the colourbar beside the grid
    )
    colours = plt.cm.cool(np.linspace(0.0, 1.0, T))  # bright on black, cyan to magenta
    shown = min(steps, T)
    for n, ax in enumerate(axes.flat):
        ax.axis("off")
        if n >= N:
            continue
        ax.imshow(images[n], cmap="gray", vmin=0, vmax=1)
        if shown:
            ax.plot(centres[n, :shown, 0], centres[n, :shown, 1], "-", color="w", lw=0.8, alpha=0.6)
            if T > 1:
                ax.scatter(*centres[n, :shown].T, s=9, c=colours[:shown], zorder=3)
        for t in range(shown):
            current = t == shown - 1
            for k, corners in enumerate(outlines[n, t]):
                ax.add_patch(
                    Polygon(
                        corners,
                        closed=True,
                        fill=False,
                        edgecolor=colours[t],
                        lw=(1.6 if current else 0.9) / (1 + k),  # coarser scales thinner
                        alpha=1 if current else 0.7,
                    )
                )
            if T == 1:
                _grid_lines(ax, outlines[n, t, 0], colours[t])
        for t, offset in ((0, (-7, 7)), (shown - 1, (7, -7))) if T > 1 and shown else ():
            ax.annotate(
                str(t + 1),
                centres[n, t],
                xytext=offset,
                textcoords="offset points",
                color=colours[t],
                fontsize=8,
                fontweight="bold",
                ha="center",
                va="center",
                path_effects=[withStroke(linewidth=2, foreground="black")],
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
    if legend:
        order = BoundaryNorm(np.arange(T + 1) + 0.5, T)  # one block of colour per glimpse
        bar = fig.colorbar(
            ScalarMappable(order, ListedColormap(colours)), ax=axes, shrink=0.8, aspect=30
        )
        bar.set_ticks(np.arange(1, T + 1))
        bar.minorticks_off()
        bar.set_label("glimpse, in order")
    return fig


def _grid_lines(ax: plt.Axes, corners: np.ndarray, colour, lines: int = 3) -> None:
    """Inner lines of an affine sampling grid, whose four corners (4, 2) are TL, TR, BR, BL:
    an affine map keeps straight lines and ratios, so they join points spaced evenly along
    opposite sides."""
    top_left, top_right, bottom_right, bottom_left = corners
    for f in np.linspace(0, 1, lines + 2)[1:-1]:
        for a, b in (
            (top_left + f * (top_right - top_left), bottom_left + f * (bottom_right - bottom_left)),
            (top_left + f * (bottom_left - top_left), top_right + f * (bottom_right - top_right)),
        ):
            ax.plot([a[0], b[0]], [a[1], b[1]], color=colour, lw=0.5, alpha=0.6)


def glimpse_grid(
    path: str | os.PathLike, episodes: GlimpseEpisodes, *, every_window: bool = False
) -> Path:
    """Write the PNG grid of every glimpse (``glimpse_panels``); returns its path."""
    figure = glimpse_panels(episodes, steps=episodes.steps, every_window=every_window)
    return save_png(figure, path, dpi=120)


def glimpse_animation(
    path: str | os.PathLike,
    episodes: GlimpseEpisodes,
    *,
    frame_ms: int = 600,
    every_window: bool = False,
) -> Path:
    """Write an animated GIF adding one glimpse per frame, the answer on the last; returns its path."""
    frames = [
        png_frame(glimpse_panels(episodes, steps=steps, every_window=every_window))
        for steps in range(1, episodes.steps + 1)
    ]
    return save_gif(path, frames, frame_ms=frame_ms, linger=4)  # on the answer


def view_strips(path: str | os.PathLike, episodes: GlimpseEpisodes) -> Path:
    """Write a PNG with one row per image: the image with each step's finest window, then what
    the model saw at each step (the retina's finest patch, a filter grid's read, a transformed
    image)."""
    if episodes.views is None:
        raise ValueError("these episodes carry no views")
    N, T = episodes.views.shape[:2]
    fig, axes = plt.subplots(N, T + 1, figsize=(1.6 * (T + 1), 1.7 * N), squeeze=False)
    colours = plt.cm.cool(np.linspace(0.0, 1.0, T))
    outlines = episodes.outlines[:, :, :1].numpy() - 0.5  # the window each view came through
    views = episodes.views.mean(2).numpy()  # (N, T, h, w), channels averaged
    for n in range(N):
        ax = axes[n, 0]
        ax.imshow(episodes.images[n].numpy(), cmap="gray", vmin=0, vmax=1)
        for t in range(T):
            for corners in outlines[n, t]:
                ax.add_patch(Polygon(corners, closed=True, fill=False, edgecolor=colours[t], lw=1))
            if T == 1:
                _grid_lines(ax, outlines[n, t, 0], colours[t])
        height, width = episodes.images.shape[-2:]
        ax.set_xlim(-0.5, width - 0.5)  # a window may reach past the image: keep the image's frame
        ax.set_ylim(height - 0.5, -0.5)
        for t in range(T):
            axes[n, t + 1].imshow(views[n, t], cmap="gray", vmin=0, vmax=max(1.0, views.max()))
            if n == 0:
                axes[n, t + 1].set_title(f"step {t + 1}" if T > 1 else "what it saw", fontsize=8)
        if n == 0:
            axes[n, 0].set_title("input", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    fig.tight_layout()
    return save_png(fig, path, dpi=110)


def glimpse_episodes(model, images: Tensor, labels: Tensor) -> GlimpseEpisodes:
    """Run a classifier on images (N, C, H, W): where it looked (if it ``Attends``), what it saw,
    and what it answered in that same pass. Works on any device; the episodes come back on the
    CPU."""
    from foveate.models.interface import Attends

    with torch.no_grad():
        output = model(images)
        glimpses = model.attended(images, output) if isinstance(model, Attends) else None
        # the answer of the episode drawn (a stochastic model's next pass would look elsewhere)
        logits = getattr(output, "logits", output if isinstance(output, Tensor) else None)
        scores = logits if logits is not None else model.predict_proba(images)
    cpu = lambda x: None if x is None else x.detach().float().cpu()  # noqa: E731
    return GlimpseEpisodes(
        images=cpu(images.mean(1)),
        outlines=cpu(glimpses.outlines) if glimpses is not None else None,
        views=cpu(glimpses.views) if glimpses is not None else None,
        predictions=cpu(scores.argmax(-1)).long(),
        labels=cpu(labels).long(),
    )
