"""Figures of a generative model that draws: a grid of samples, and the canvas building up.

``sample_grid`` writes the final canvases of a ``Drawing`` as one PNG; ``drawing_animation``
writes an animated GIF with one frame per step, the write window of that step drawn on each
canvas, so one can watch where the model puts ink.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from torch import Tensor

from foveate.reports.files import save_gif

WINDOW_COLOUR = (255, 64, 64)
GAP = 2  # pixels between tiles, after scaling


def _tile(canvases: Tensor, outlines: Tensor | None, *, scale: int) -> Image.Image:
    """canvases (N, C, H, W) in [0, 1] and window outlines (N, 4, 2) in pixels -> one RGB image
    of tiles."""
    N, C, H, W = canvases.shape
    cols = min(N, 8)
    rows = math.ceil(N / cols)
    tile_h, tile_w = H * scale, W * scale
    sheet = Image.new("RGB", (cols * (tile_w + GAP) + GAP, rows * (tile_h + GAP) + GAP), "white")
    grey = (canvases.detach().cpu().clamp(0, 1).mean(1) * 255).byte().numpy()  # (N, H, W)
    draw = ImageDraw.Draw(sheet)
    for n in range(N):
        left = GAP + (n % cols) * (tile_w + GAP)
        top = GAP + (n // cols) * (tile_h + GAP)
        tile = Image.fromarray(np.ascontiguousarray(grey[n])).resize(
            (tile_w, tile_h), Image.NEAREST
        )
        sheet.paste(tile.convert("RGB"), (left, top))
        if outlines is not None:
            # Clipped to the tile: a window may reach past the image's border.
            corners = (outlines[n].detach().cpu() * scale).tolist()
            points = [
                (left + max(0, min(tile_w, x)), top + max(0, min(tile_h, y))) for x, y in corners
            ]
            draw.polygon(points, outline=WINDOW_COLOUR)
    return sheet


def sample_grid(path: str | os.PathLike, canvases: Tensor, *, scale: int = 3) -> Path:
    """Write images (N, C, H, W) in [0, 1] as a PNG grid, 8 per row; returns its path."""
    _tile(canvases, None, scale=scale).save(path)
    return Path(path)


def drawing_animation(
    path: str | os.PathLike,
    canvases: Tensor,
    outlines: Tensor | None,
    *,
    scale: int = 3,
    frame_ms: int = 80,
) -> Path:
    """Write an animated GIF of canvases (N, T, C, H, W) step by step; returns its path.

    outlines: (N, T, 4, 2) the corners of each step's write window in pixels, drawn in red (None
    for a model without attention).
    """
    T = canvases.shape[1]
    frames = [
        _tile(canvases[:, t], None if outlines is None else outlines[:, t], scale=scale)
        for t in range(T)
    ]
    frames.append(_tile(canvases[:, -1], None, scale=scale))  # the finished drawings, unmarked
    return save_gif(path, frames, frame_ms=frame_ms, linger=25)  # on the result
