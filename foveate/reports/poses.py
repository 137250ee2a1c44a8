"""Figures of the objects a model found in rendered scenes, and how they lie (``Poses``).

``pose_grid`` draws a row per scene: the input; the scene drawn again by the renderer from what
the model found; each found object drawn alone; and a map of the ground plane seen from above
(x to the right, z up, as ``foveate.render.scene`` orients it) with each found object's
footprint in its step's colour, turned by its rotation (a cube a square; a sphere and a
cylinder a circle, with a tick at its rotation, which the image cannot show), and where the
data give them, the true objects' footprints in grey beneath.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; there may be no screen
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Circle, Polygon  # noqa: E402
from torch import Tensor  # noqa: E402

from foveate.models.interface import Poses  # noqa: E402
from foveate.render import (  # noqa: E402
    HALF_SIZE,
    SHAPES,
    ObjectLayers,
    Scene,
    composite,
    render_objects,
)
from foveate.reports.files import grey, save_png  # noqa: E402
from foveate.reports.scenes import STEP_COLOURS  # noqa: E402

EXTENT = 2.2  # the map shows [-2.2, 2.2]^2 of the plane: objects within 1.5 fit whole


def footprint(ax: plt.Axes, identity: int, x: float, z: float, theta: float, **style) -> None:
    """An object's outline on the plane seen from above, at (x, z), turned by theta."""
    if SHAPES[identity] == "cube":
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * HALF_SIZE
        c, s = math.cos(theta), math.sin(theta)
        turned = corners @ np.array([[c, s], [-s, c]])  # counter-clockwise from +x toward +z
        ax.add_patch(Polygon(turned + [x, z], closed=True, fill=False, **style))
    else:
        ax.add_patch(Circle((x, z), HALF_SIZE, fill=False, **style))
    tick = HALF_SIZE * np.array([math.cos(theta), math.sin(theta)])
    ax.plot([x, x + tick[0]], [z, z + tick[1]], **style)


def _name(identity: int, theta: float) -> str:
    degrees = math.degrees(theta) % (90 if SHAPES[identity] == "cube" else 360)
    return f"{SHAPES[identity]} {degrees:.0f}°" if SHAPES[identity] == "cube" else SHAPES[identity]


def pose_grid(
    path: str | os.PathLike,
    images: Tensor,
    poses: Poses,
    *,
    truth: dict[str, Tensor] | None = None,
) -> Path:
    """Rows of (input, the scene drawn again, each found object alone, the map) for images
    (B, 1, S, S) and what the model found in them; ``truth`` (``foveate.data.rendered_scenes``)
    puts the true objects on the map too."""
    B, N = poses.present.shape
    size = images.shape[-1]
    present = poses.present.bool()
    with torch.no_grad():
        scene = Scene(poses.identity, poses.position.float(), poses.rotation.float(), present)
        layers = render_objects(scene, size=size)  # each found object drawn once
        again = composite(layers)
        alone = [
            composite(
                ObjectLayers(
                    *(f[:, i : i + 1] for f in (layers.coverage, layers.shade, layers.depth))
                )
            )
            for i in range(N)
        ]
    columns = 2 + N + 1
    fig, axes = plt.subplots(B, columns, figsize=(1.9 * columns, 2.0 * B), squeeze=False)
    inputs, drawn = grey(images), grey(again)
    each = [grey(a) for a in alone]
    for b in range(B):
        row = axes[b]
        for ax in row[:-1]:
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].imshow(inputs[b], cmap="gray", vmin=0, vmax=1)
        row[1].imshow(drawn[b], cmap="gray", vmin=0, vmax=1)
        if b == 0:
            row[0].set_title("input", fontsize=9)
            row[1].set_title("drawn again", fontsize=9)
        for i in range(N):
            ax = row[2 + i]
            ax.imshow(each[i][b], cmap="gray", vmin=0, vmax=1)
            colour = STEP_COLOURS[i % len(STEP_COLOURS)]
            for spine in ax.spines.values():
                spine.set_color(colour if present[b, i] else "#888888")
                spine.set_linewidth(2)
            if present[b, i]:
                name = _name(int(poses.identity[b, i]), float(poses.rotation[b, i]))
                ax.set_xlabel(f"step {i + 1}: {name}", fontsize=8)
            else:
                ax.set_xlabel(f"step {i + 1}: none", fontsize=8)
        plane = row[-1]
        plane.set_xlim(-EXTENT, EXTENT)
        plane.set_ylim(-EXTENT, EXTENT)
        plane.set_aspect("equal")
        plane.tick_params(labelsize=6)
        if b == 0:
            plane.set_title("plane from above", fontsize=9)
        if truth is not None:
            for k in range(int(truth["count"][b])):
                x, z = truth["position"][b, k].tolist()
                footprint(
                    plane,
                    int(truth["identity"][b, k]),
                    x,
                    z,
                    float(truth["rotation"][b, k]),
                    color="#999999",
                    linewidth=3,
                )
        for i in range(N):
            if present[b, i]:
                x, z = poses.position[b, i].tolist()
                footprint(
                    plane,
                    int(poses.identity[b, i]),
                    x,
                    z,
                    float(poses.rotation[b, i]),
                    color=STEP_COLOURS[i % len(STEP_COLOURS)],
                    linewidth=1.5,
                )
    legend = "grey: the true objects" if truth is not None else ""
    fig.suptitle(f"what was found, and how it lies{'; ' + legend if legend else ''}", fontsize=10)
    fig.tight_layout()
    return save_png(fig, path)
