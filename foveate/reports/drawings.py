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

WINDOW_COLOUR = (255, 64, 64)
GAP = 2  # pixels between tiles, after scaling


def _tile(canvases: Tensor, boxes: Tensor | None, *, scale: int) -> Image.Image:
    """canvases (N, C, H, W) in [0, 1] and boxes (N, 4) pixel edges -> one RGB image of tiles."""
    N, C, H, W = canvases.shape
    cols = min(N, 8)
    rows = math.ceil(N / cols)
    tile_h, tile_w = H * scale, W * scale
    sheet = Image.new("RGB", (cols * (tile_w + GAP) + GAP, rows * (tile_h + GAP) + GAP), "white")
    grey = (canvases.clamp(0, 1).mean(1) * 255).byte().numpy()  # (N, H, W)
    draw = ImageDraw.Draw(sheet)
    for n in range(N):
        left = GAP + (n % cols) * (tile_w + GAP)
        top = GAP + (n // cols) * (tile_h + GAP)
        tile = Image.fromarray(np.ascontiguousarray(grey[n])).resize(
            (tile_w, tile_h), Image.NEAREST
        )
        sheet.paste(tile.convert("RGB"), (left, top))
        if boxes is not None:
            x0, y0, x1, y1 = (boxes[n] * scale).tolist()
            # Clip to the tile: a window may reach past the image's border.
            x0, x1 = sorted((max(0, min(tile_w, x0)), max(0, min(tile_w, x1))))
            y0, y1 = sorted((max(0, min(tile_h, y0)), max(0, min(tile_h, y1))))
            draw.rectangle([left + x0, top + y0, left + x1, top + y1], outline=WINDOW_COLOUR)
    return sheet


def sample_grid(path: str | os.PathLike, canvases: Tensor, *, scale: int = 3) -> Path:
    """Write images (N, C, H, W) in [0, 1] as a PNG grid, 8 per row; returns its path."""
    _tile(canvases, None, scale=scale).save(path)
    return Path(path)


def drawing_animation(
    path: str | os.PathLike,
    canvases: Tensor,
    write_boxes: Tensor | None,
    *,
    scale: int = 3,
    frame_ms: int = 80,
) -> Path:
    """Write an animated GIF of canvases (N, T, C, H, W) step by step; returns its path.

    write_boxes: (N, T, 4) the write window of each step in pixel edges, drawn in red (None for a
    model without attention).
    """
    T = canvases.shape[1]
    frames = [
        _tile(canvases[:, t], None if write_boxes is None else write_boxes[:, t], scale=scale)
        for t in range(T)
    ]
    frames.append(_tile(canvases[:, -1], None, scale=scale))  # the finished drawings, unmarked
    durations = [frame_ms] * T + [frame_ms * 25]  # linger on the result
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return Path(path)
