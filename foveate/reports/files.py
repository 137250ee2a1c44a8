"""What every figure of this package does with its pictures and its files, written once.

``grey`` turns images into the arrays the figures draw; ``save_png`` writes a matplotlib figure
and closes it; ``png_frame`` renders one as a frame of an animation; ``save_gif`` writes frames
as a GIF that lingers on its last.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; there may be no screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from torch import Tensor  # noqa: E402


def grey(images: Tensor) -> np.ndarray:
    """(..., C, H, W) in [0, 1] -> (..., H, W) numpy on the CPU, channels averaged."""
    return images.detach().float().cpu().clamp(0, 1).mean(-3).numpy()


def save_png(fig: plt.Figure, path: str | os.PathLike, *, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG at ``path`` and close it; returns the path."""
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)


def png_frame(fig: plt.Figure, *, dpi: int = 80) -> Image.Image:
    """``fig`` rendered as an RGB image (a frame of an animation), and closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def save_gif(
    path: str | os.PathLike, frames: list[Image.Image], *, frame_ms: int, linger: int
) -> Path:
    """Write ``frames`` as a looping GIF, each shown ``frame_ms`` milliseconds and the last
    ``linger`` times as long (the answer, the finished drawing); returns the path."""
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * linger]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return Path(path)
