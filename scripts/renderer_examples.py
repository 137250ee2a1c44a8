"""Draw docs/figures/renderer_examples.png: what foveate.render draws, for docs/renderer.md.

    python scripts/renderer_examples.py

Row 1: a cube, a sphere and a cylinder alone at the centre, the cube turned by 0, pi/8 and pi/4.
Row 2: one object of each kind at the four corners of the square of positions, [-1.5, 1.5]^2,
turned by pi/4 (the widest a cube gets), and the scene of all three. Rows 3 and 4: random scenes
of 1 to 3 objects (torch.Generator seeded 0), at 64 x 64 and at AIR's likely 32 x 32. Takes a
few seconds on one thread.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import torch

matplotlib.use("Agg")  # figures are files; there may be no screen
import matplotlib.pyplot as plt  # noqa: E402

from foveate.render import SHAPES, Scene, render  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "figures" / "renderer_examples.png"
COLUMNS = 6


def single(identity: int, x: float, z: float, rotation: float) -> Scene:
    """One object, as a batch of one scene of one object."""
    return Scene(
        identity=torch.tensor([[identity]]),
        position=torch.tensor([[[x, z]]]),
        rotation=torch.tensor([[rotation]]),
        present=torch.ones(1, 1, dtype=torch.bool),
    )


def random_scenes(count: int, generator: torch.Generator) -> Scene:
    """count scenes of 3 slots, 1 to 3 of them present, anywhere in [-1.5, 1.5]^2."""
    objects = torch.randint(1, 4, (count, 1), generator=generator)
    return Scene(
        identity=torch.randint(0, len(SHAPES), (count, 3), generator=generator),
        position=torch.rand(count, 3, 2, generator=generator) * 3 - 1.5,
        rotation=torch.rand(count, 3, generator=generator) * 2 * math.pi,
        present=torch.arange(3) < objects,
    )


def main() -> None:
    generator = torch.Generator().manual_seed(0)
    cube, sphere, cylinder = (SHAPES.index(s) for s in ("cube", "sphere", "cylinder"))
    rows, titles = [], []
    first = [single(cube, 0.0, 0.0, a) for a in (0.0, math.pi / 8, math.pi / 4)]
    first += [single(sphere, 0.0, 0.0, 0.0), single(cylinder, 0.0, 0.0, 0.0)]
    first.append(
        Scene(
            identity=torch.tensor([[cube, sphere, cylinder]]),
            position=torch.tensor([[[-0.9, 0.6], [0.0, -0.7], [0.9, 0.4]]]),
            rotation=torch.tensor([[0.5, 0.0, 0.0]]),
            present=torch.ones(1, 3, dtype=torch.bool),
        )
    )
    rows.append([render(s, size=64)[0, 0] for s in first])
    titles.append(["cube", "cube, pi/8", "cube, pi/4", "sphere", "cylinder", "all three"])
    corners = [(-1.5, -1.5), (1.5, -1.5), (-1.5, 1.5), (1.5, 1.5), (-1.5, 0.0), (1.5, 0.0)]
    rows.append(
        [
            render(single(i % 3, x, z, math.pi / 4), size=64)[0, 0]
            for i, (x, z) in enumerate(corners)
        ]
    )
    titles.append([f"({x:g}, {z:g})" for x, z in corners])
    for size in (64, 32):
        batch = random_scenes(COLUMNS, generator)
        rows.append(list(render(batch, size=size)[:, 0]))
        titles.append([f"{int(n)} object(s), {size}x{size}" for n in batch.present.sum(1)])

    figure, axes = plt.subplots(len(rows), COLUMNS, figsize=(1.6 * COLUMNS, 1.75 * len(rows)))
    for row, (images, names) in enumerate(zip(rows, titles, strict=True)):
        for column, (image, name) in enumerate(zip(images, names, strict=True)):
            axis = axes[row, column]
            axis.imshow(image.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            axis.set_title(name, fontsize=7)
            axis.set_axis_off()
    figure.suptitle("foveate.render: position (x, z), rotation in radians", fontsize=9)
    figure.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
