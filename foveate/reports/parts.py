"""What the parts of a decomposition explain: how much of the ink the reconstruction covers, how
many steps a scene takes, and how much of it each step's window holds.

Eslami et al. 2016 (sec. 3.2) show AIR explaining Omniglot characters with parts that look like
strokes; these are the measures issue 33 asks of that claim. On a character (B images):

- ink: the pixels at ``threshold`` or above; *covered* where the final reconstruction is at
  ``threshold`` or above too. ``ink_covered`` is the share of a character's ink covered.
- steps: the number of steps that found an object.
- a step's *window share*: the share of the character's ink whose pixel centres lie inside that
  step's window (the box around its outline), for each step that found an object. A step that
  took a stroke holds a small share; one that took the whole character, all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from foveate.models.interface import Decomposition

INK = 0.5  # binary strokes shrunk by averaging: a pixel at least half inked is ink


@dataclass
class PartStatistics:
    """Per image of B: ink_covered (B,) in [0, 1] (NaN for an image with no ink); steps (B,);
    window_share (B, T) in [0, 1], NaN where step t found nothing or the image has no ink."""

    ink_covered: Tensor
    steps: Tensor
    window_share: Tensor

    def summary(self) -> dict[str, float]:
        """The set's figures: ``ink_covered_pct`` (the mean share, in %), ``steps_per_character``,
        ``window_share_mean`` (over every step that found an object), ``window_share_max_step``
        (the largest of the steps' mean shares: issue 33 asks each to stay at most one half),
        and ``window_share_step<t>`` for each step t that ever found one."""
        share = self.window_share
        found = ~share.isnan()
        per_step = share.nan_to_num(0).sum(0) / found.sum(0).clamp(min=1)  # (T,)
        used = found.any(0)
        scores = {
            "ink_covered_pct": 100 * self.ink_covered.nanmean().item(),
            "steps_per_character": self.steps.float().mean().item(),
            "window_share_mean": share[found].mean().item() if found.any() else float("nan"),
            "window_share_max_step": per_step[used].max().item() if used.any() else float("nan"),
        }
        scores.update({f"window_share_step{t}": per_step[t].item() for t in used.nonzero()[:, 0]})
        return scores


def part_statistics(
    images: Tensor, decomposition: Decomposition, *, threshold: float = INK
) -> PartStatistics:
    """The statistics of a decomposition of images (B, C, H, W) in [0, 1] (channels averaged)."""
    ink = images.mean(1) >= threshold  # (B, H, W)
    final = decomposition.canvases[:, -1].mean(1)  # (B, H, W)
    total = ink.flatten(1).sum(-1).float()  # (B,)
    covered = (ink & (final >= threshold)).flatten(1).sum(-1).float()
    none = total == 0
    ink_covered = torch.where(none, float("nan"), covered / total.clamp(min=1))

    H, W = ink.shape[-2:]
    corners = decomposition.outlines  # (B, T, 4, 2) as (x, y) pixels
    low, high = corners.amin(-2), corners.amax(-2)  # (B, T, 2)
    ys = torch.arange(H, dtype=corners.dtype) + 0.5  # pixel i covers [i, i + 1)
    xs = torch.arange(W, dtype=corners.dtype) + 0.5
    inside_x = (xs >= low[..., :1]) & (xs < high[..., :1])  # (B, T, W)
    inside_y = (ys >= low[..., 1:]) & (ys < high[..., 1:])  # (B, T, H)
    inside = inside_y[..., :, None] & inside_x[..., None, :]  # (B, T, H, W)
    held = (inside & ink[:, None]).flatten(2).sum(-1).float()  # (B, T)
    present = decomposition.present > 0.5
    share = held / total.clamp(min=1)[:, None]
    share = torch.where(present & ~none[:, None], share, float("nan"))
    return PartStatistics(ink_covered, present.sum(-1), share)
