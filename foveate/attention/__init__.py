"""Attention primitives: pure functions and small modules, testable without any model.

The four kinds (item-wise or location-wise, soft or hard):

- item-wise, soft: ``Scorer`` (additive, dot, scaled dot, bilinear scores against a context),
  ``soft_attention`` (the weights and the weighted sum), ``AttentionPooling`` (feed-forward,
  no context);
- item-wise, hard: ``hard_attention`` (an item drawn from the same weights, with its
  log-probability and entropy for REINFORCE);
- location-wise, soft: DRAW's Gaussian filterbank (``read``, ``write``, ``GaussianWindow``), the
  spatial transformer (``affine_warp``, and AIR's window: ``crop``, ``paste``) and a map over a
  feature grid (``grid_soft_attention``);
- location-wise, hard: the RAM retina (``retina``, ``patch_boxes``) and one cell of a feature
  grid (``grid_hard_attention``).
"""

from foveate.attention.filterbank import GaussianWindow, read, write
from foveate.attention.grid import grid_hard_attention, grid_items, grid_soft_attention
from foveate.attention.items import (
    AttentionPooling,
    Scorer,
    attention_weights,
    hard_attention,
    soft_attention,
)
from foveate.attention.retina import patch_boxes, retina
from foveate.attention.transformer import affine_warp, crop, grid_corners, paste, window_theta

__all__ = [
    "AttentionPooling",
    "GaussianWindow",
    "Scorer",
    "affine_warp",
    "attention_weights",
    "crop",
    "grid_corners",
    "grid_hard_attention",
    "grid_items",
    "grid_soft_attention",
    "hard_attention",
    "paste",
    "patch_boxes",
    "read",
    "retina",
    "soft_attention",
    "window_theta",
    "write",
]
