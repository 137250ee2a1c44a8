"""What ``foveate show`` draws for a generator with codes (``HasCodes``, InfoGAN): [1] fig. 2.

- ``codes_c1.png``: one row per value of c1, one column per draw of the noise z (the same z down
  each column), the continuous codes at 0: does c1 choose the digit while z chooses the rest?
- ``codes_c2.png``, ``codes_c3.png``, ...: one row per value of c1 (one z per row), one column
  per value of the continuous code from -2 to 2, the others at 0: [1] sweeps beyond the prior's
  [-1, 1] to show that the code generalises (c2: slant, c3: width, in [1]'s run).
- ``codes_sweep.gif``: each continuous code in turn swept from -2 to 2 and back, over one image
  per value of c1.

[1] Chen et al., "InfoGAN", NIPS 2016. It needs no data.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; there may be no screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from foveate.models.infogan import Codes, HasCodes  # noqa: E402
from foveate.reports.codes import code_sweep  # noqa: E402
from foveate.reports.figures import FigureContext, register_figures  # noqa: E402
from foveate.reports.files import grey, save_gif, save_png  # noqa: E402

SWEEP = (-2.0, 2.0)  # [1] fig. 2 (c), (d)
COLUMNS = 10  # draws of z in the c1 figure, values of a code in a sweep (11: 0 among them)


def mosaic(images: Tensor) -> np.ndarray:
    """images (R, S, C, H, W) in [0, 1] -> one grey array (R H + R - 1, S W + S - 1) of tiles
    with one white pixel between them."""
    R, S = images.shape[:2]
    tiles = grey(images)  # (R, S, H, W)
    H, W = tiles.shape[-2:]
    sheet = np.ones((R * (H + 1) - 1, S * (W + 1) - 1), dtype=np.float32)
    for r in range(R):
        for s in range(S):
            sheet[r * (H + 1) : r * (H + 1) + H, s * (W + 1) : s * (W + 1) + W] = tiles[r, s]
    return sheet


def _grid_figure(
    path: Path, images: Tensor, *, title: str, xlabel: str, xticks: list[str], ylabel: str
) -> Path:
    R, S, _, H, W = images.shape
    figure, axes = plt.subplots(figsize=(1.0 + 0.5 * S, 1.0 + 0.5 * R))
    axes.imshow(mosaic(images), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    axes.set_xticks([s * (W + 1) + W / 2 for s in range(S)], xticks, fontsize=7)
    axes.set_yticks([r * (H + 1) + H / 2 for r in range(R)], [str(r) for r in range(R)], fontsize=7)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    return save_png(figure, path)


def _rows_of_c1(model: HasCodes, generator: torch.Generator) -> tuple[Tensor, Codes]:
    """One draw of z for each value of c1, the continuous codes at 0: z (K, Z), codes."""
    noise, codes = model.draw_latents(model.categories, generator=generator)
    categorical = torch.eye(model.categories, device=noise.device)
    return noise, Codes(categorical, torch.zeros_like(codes.continuous))


@torch.no_grad()
def c1_grid(model: HasCodes, generator: torch.Generator, columns: int = COLUMNS) -> Tensor:
    """G's images for each value of c1 (rows) and ``columns`` draws of z (the same z down a
    column), continuous codes at 0: (K, columns, C, H, W)."""
    K = model.categories
    noise, codes = model.draw_latents(columns, generator=generator)
    noise = noise[None].expand(K, -1, -1).reshape(K * columns, -1)
    categorical = torch.eye(K, device=noise.device).repeat_interleave(columns, 0)
    continuous = torch.zeros(K * columns, model.continuous_codes, device=noise.device)
    images = model.generate_with_codes(noise, Codes(categorical, continuous))
    return images.view(K, columns, *images.shape[1:])


def _sweep_frames(model: HasCodes, generator: torch.Generator, *, steps: int = 21) -> list:
    """Frames of the GIF: each continuous code swept over SWEEP and back, one image per value
    of c1 (K in a row, scaled 3x), its value written above."""
    noise, codes = _rows_of_c1(model, generator)
    values = torch.linspace(*SWEEP, steps)
    values = torch.cat([values, values.flip(0)[1:-1]])
    frames = []
    for code in range(model.continuous_codes):
        images = code_sweep(model, noise, codes, code, values)  # (K, S, C, H, W)
        for s, value in enumerate(values.tolist()):
            strip = mosaic(images[:, s][None])  # (H, K W + K - 1)
            picture = Image.fromarray(((1 - strip) * 255).astype(np.uint8)).convert("RGB")
            picture = picture.resize((picture.width * 3, picture.height * 3), Image.NEAREST)
            frame = Image.new("RGB", (picture.width, picture.height + 16), "white")
            frame.paste(picture, (0, 16))
            ImageDraw.Draw(frame).text((4, 2), f"c{code + 2} = {value:+.2f}", fill=(0, 0, 0))
            frames.append(frame)
    return frames


@register_figures(HasCodes)
def code_figures(model: nn.Module, context: FigureContext) -> list[Path]:
    generator = torch.Generator().manual_seed(context.seed)
    paths = [
        _grid_figure(
            context.out / "codes_c1.png",
            c1_grid(model, generator),
            title="c1 by row, z by column (c2.. = 0)",
            xlabel="draws of z",
            xticks=[str(i) for i in range(COLUMNS)],
            ylabel="c1",
        )
    ]
    noise, codes = _rows_of_c1(model, generator)
    values = torch.linspace(*SWEEP, COLUMNS + 1)
    for code in range(model.continuous_codes):
        images = code_sweep(model, noise, codes, code, values)
        paths.append(
            _grid_figure(
                context.out / f"codes_c{code + 2}.png",
                images,
                title=f"c{code + 2} from {SWEEP[0]:g} to {SWEEP[1]:g}, others at 0",
                xlabel=f"c{code + 2}",
                xticks=[f"{v:.1f}" for v in values.tolist()],
                ylabel="c1",
            )
        )
    if model.continuous_codes and context.animations:
        frames = _sweep_frames(model, generator)
        paths.append(save_gif(context.out / "codes_sweep.gif", frames, frame_ms=80, linger=5))
    return paths
