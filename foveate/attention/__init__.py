"""Attention primitives: pure functions and small modules, testable without any model.

Location-wise, hard: the RAM retina (``retina``, ``patch_boxes``). Location-wise, soft: DRAW's
Gaussian filterbank (``read``, ``write``, ``GaussianWindow``) and the spatial transformer
(``affine_warp``, and AIR's window: ``crop``, ``paste``).
"""

from foveate.attention.filterbank import GaussianWindow, read, write
from foveate.attention.retina import patch_boxes, retina
from foveate.attention.transformer import affine_warp, crop, grid_corners, paste, window_theta

__all__ = [
    "GaussianWindow",
    "affine_warp",
    "crop",
    "grid_corners",
    "paste",
    "patch_boxes",
    "read",
    "retina",
    "window_theta",
    "write",
]
