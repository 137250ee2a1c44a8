"""Location-wise attention over a feature grid: a map over a CNN's cells, soft or hard.

Xu et al., "Show, Attend and Tell: Neural Image Caption Generation with Visual Attention", ICML
2015 ([1]), sec. 3.1.2 and 4: a convolutional encoder gives L = H x W annotation vectors a_i of
D features, one per cell of its last feature map; at each step the decoder scores every cell
against its state, and attends to the grid through alpha (B, H, W): softly, the context
z = sum_i alpha_i a_i (sec. 4.2, eq. 13), or hard, one cell s drawn from Multinoulli(alpha)
(sec. 4.1, eq. 8-9). These are item-wise attention (``foveate.attention.items``) over the
cells, returned with the weights laid out as a map so that they can be drawn on the image:
the map's cell (r, c) covers the input pixels that feature (r, c) sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from foveate.attention.items import hard_attention, soft_attention


def grid_items(features: Tensor) -> Tensor:
    """features (B, D, H, W) -> the cells' annotation vectors (B, H*W, D), row by row."""
    if features.dim() != 4:
        raise ValueError(f"features must be (B, D, H, W), got {tuple(features.shape)}")
    return features.flatten(2).transpose(1, 2)


def _as_items(
    scores: Tensor, features: Tensor, mask: Tensor | None
) -> tuple[Tensor, Tensor, Tensor | None]:
    """A grid's scores (B, H, W), features (B, D, H, W) and mask (B, H, W) as item-wise
    attention's scores (B, H*W), items (B, H*W, D) and mask (B, H*W), cells row by row."""
    items = grid_items(features)
    B, D, H, W = features.shape
    if scores.shape != (B, H, W):
        raise ValueError(f"scores must be ({B}, {H}, {W}), got {tuple(scores.shape)}")
    if mask is not None and mask.shape != (B, H, W):
        raise ValueError(f"mask must be ({B}, {H}, {W}), got {tuple(mask.shape)}")
    flat_mask = None if mask is None else mask.reshape(B, H * W)
    return scores.reshape(B, H * W), items, flat_mask


@dataclass
class GridSoftAttention:
    """map: (B, H, W) alpha, summing to one over the cells; context: (B, D) z."""

    map: Tensor
    context: Tensor


def grid_soft_attention(
    scores: Tensor, features: Tensor, mask: Tensor | None = None
) -> GridSoftAttention:
    """Soft attention over a grid ([1] eq. 13): scores (B, H, W) -> map (B, H, W), z (B, D).

    features: (B, D, H, W); mask: (B, H, W), True for cells that may be attended.
    """
    out = soft_attention(*_as_items(scores, features, mask))
    return GridSoftAttention(out.weights.view(scores.shape), out.context)


@dataclass
class GridHardAttention:
    """cell: (B, 2) the chosen (row, column); context: (B, D) its features; map: (B, H, W)
    alpha; log_prob: (B,) log alpha at the cell; entropy: (B,) H(alpha)."""

    cell: Tensor
    context: Tensor
    map: Tensor
    log_prob: Tensor
    entropy: Tensor


def grid_hard_attention(
    scores: Tensor,
    features: Tensor,
    mask: Tensor | None = None,
    *,
    sample: bool = True,
    uniform: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> GridHardAttention:
    """Hard attention over a grid ([1] sec. 4.1): one cell drawn from alpha (B, H, W).

    scores: (B, H, W); features: (B, D, H, W); ``sample=False`` takes the most likely cell;
    ``uniform`` and ``generator`` as for ``hard_attention``.
    """
    out = hard_attention(
        *_as_items(scores, features, mask), sample=sample, uniform=uniform, generator=generator
    )
    W = features.shape[-1]
    cell = torch.stack([out.index // W, out.index % W], -1)
    return GridHardAttention(
        cell, out.context, out.weights.view(scores.shape), out.log_prob, out.entropy
    )
