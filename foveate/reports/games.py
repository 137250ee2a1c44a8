"""Figures of an agent at play: the screens of a few games, step by step, with its glimpses.

``play_animation`` writes an animated GIF with one frame per step: each game's screen, enlarged,
with the retina's windows at that step (finest in yellow, coarser in orange and red) and the
move it chose; the last frame says which balls were caught. ``play_strip`` puts every step of
one game side by side in a PNG.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from torch import Tensor

from foveate.reports.files import save_gif

SCALE_COLOURS = [(255, 220, 0), (255, 140, 0), (230, 40, 40), (160, 0, 160)]
GAP = 4
MOVES = {0: "<", 1: "=", 2: ">"}


def _screen(screen: Tensor, outlines: Tensor | None, *, scale: int, caption: str) -> Image.Image:
    """screen (C, H, W) in [0, 1], outlines (K, 4, 2) in pixels -> an RGB tile with a caption."""
    grey = (screen.detach().cpu().clamp(0, 1).mean(0) * 255).byte().numpy()
    H, W = grey.shape
    tile = Image.fromarray(np.ascontiguousarray(grey)).resize((W * scale, H * scale), Image.NEAREST)
    tile = tile.convert("RGB")
    draw = ImageDraw.Draw(tile)
    if outlines is not None:
        for k, corners in enumerate(outlines.detach().cpu().tolist()):
            points = [
                (max(0, min(W * scale - 1, x * scale)), max(0, min(H * scale - 1, y * scale)))
                for x, y in corners
            ]
            draw.polygon(points, outline=SCALE_COLOURS[k % len(SCALE_COLOURS)])
    draw.text((3, 2), caption, fill=(120, 200, 255))
    return tile


def _sheet(tiles: list[Image.Image], cols: int) -> Image.Image:
    w, h = tiles[0].size
    rows = math.ceil(len(tiles) / cols)
    sheet = Image.new("RGB", (cols * (w + GAP) + GAP, rows * (h + GAP) + GAP), "white")
    for n, tile in enumerate(tiles):
        sheet.paste(tile, (GAP + (n % cols) * (w + GAP), GAP + (n // cols) * (h + GAP)))
    return sheet


def play_animation(
    path: str | os.PathLike,
    screens: Tensor,
    outlines: Tensor,
    actions: Tensor,
    returns: Tensor,
    *,
    scale: int = 8,
    frame_ms: int = 120,
) -> Path:
    """Write an animated GIF of N games; returns its path.

    screens: (N, T, C, H, W) the screen each step's choices were made from; outlines:
    (N, T, K, 4, 2) the glimpse windows of each step; actions: (N, T) the moves; returns: (N,)
    each game's reward.
    """
    N, T = actions.shape
    cols = min(N, 4)
    frames = []
    for t in range(T):
        tiles = [
            _screen(
                screens[n, t],
                outlines[n, t],
                scale=scale,
                caption=f"{t + 1} {MOVES.get(int(actions[n, t]), '?')}",
            )
            for n in range(N)
        ]
        frames.append(_sheet(tiles, cols))
    verdicts = ["caught" if r > 0 else "missed" for r in returns.tolist()]
    frames.append(
        _sheet(
            [_screen(screens[n, -1], None, scale=scale, caption=verdicts[n]) for n in range(N)],
            cols,
        )
    )
    return save_gif(path, frames, frame_ms=frame_ms, linger=12)  # on the verdicts


def play_strip(
    path: str | os.PathLike, screens: Tensor, outlines: Tensor, actions: Tensor, *, scale: int = 5
) -> Path:
    """Write one game's steps side by side as a PNG: screens (T, C, H, W), outlines
    (T, K, 4, 2), actions (T,)."""
    tiles = [
        _screen(
            screens[t],
            outlines[t],
            scale=scale,
            caption=f"{t + 1}{MOVES.get(int(actions[t]), '?')}",
        )
        for t in range(len(actions))
    ]
    _sheet(tiles, min(len(tiles), 12)).save(path)
    return Path(path)
