"""Scenes of primitives on a plane, rendered: the data of AIR's 3D experiment.

Eslami et al., "Attend, Infer, Repeat", NIPS 2016, sec. 3.3 ([1]): scenes of one to three
objects, each a primitive with an identity, a place on the ground plane and a rotation about the
vertical axis, drawn by a fixed renderer through a fixed camera; AIR, whose decoder is that
renderer, recovers from the image alone how many objects there are, which each is, and how each
lies. ``random_scenes`` draws such scenes as batched tensors and ``foveate.render`` draws them.

What is drawn ([1] gives no ranges; these are ours):

- the count, uniform over ``counts``;
- each identity uniform over the renderer's ``SHAPES`` (cube, sphere, cylinder);
- each position uniform in [-``extent``, ``extent``]^2 (1.5 keeps the whole object in view at
  any rotation, ``foveate.render.scene``), and at least ``separation`` object widths from every
  other object of its scene, so that no two objects intersect (a position that breaks this is
  drawn again, every such position of the batch at once);
- each rotation uniform in [0, 2 pi).

Batches are (images (B, 1, S, S) in [0, 1], truth) with truth's ``count`` (B,), ``identity``
(B, K) long (-1 where there is no object), ``position`` (B, K, 2) and ``rotation`` (B, K), K the
most objects a scene of these data holds; objects are listed in the order they were drawn.
Validation and test scenes are drawn once from ``data_seed``; training scenes afresh for every
batch, so that "the images a model saw" is the number of training batches times their size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from foveate.data.datamodule import require_positive
from foveate.data.generated import SynthesisedDataModule
from foveate.data.sources import DATA_SOURCES
from foveate.render import SHAPES, Scene, render

Batch = tuple[Tensor, dict[str, Tensor]]
EXTENT = 1.5  # positions in [-1.5, 1.5]^2 keep any object whole in the image
SEPARATION = 1.5  # centres this far apart: two unit objects at any rotations do not touch
REDRAWS = 200  # rounds of drawing crowded scenes again before giving up


@dataclass
class RenderedScenes:
    """B rendered scenes of up to K objects (the objects of scene b: the first count[b]).

    images: (B, S, S) float in [0, 1].
    count: (B,) long. identity: (B, K) long, -1 where absent. position: (B, K, 2) as (x, z).
    rotation: (B, K) radians in [0, 2 pi).
    """

    images: Tensor
    count: Tensor
    identity: Tensor
    position: Tensor
    rotation: Tensor


def random_scenes(
    number: int,
    *,
    counts: tuple[int, ...],
    size: int = 32,
    extent: float = EXTENT,
    separation: float = SEPARATION,
    generator: torch.Generator | None = None,
) -> RenderedScenes:
    """``number`` scenes drawn as the module says and rendered at ``size`` x ``size``.

    Raises ValueError (one line) for impossible settings: a count below 0, or more objects than
    fit ``separation`` apart within ``extent`` (found when redrawing fails ``REDRAWS`` times).
    """
    if not counts or min(counts) < 0:
        raise ValueError(f"counts must be non-negative numbers of objects, got {counts}")
    most = max(counts)
    choices = torch.tensor(counts)
    count = choices[torch.randint(len(counts), (number,), generator=generator)]
    slots = torch.arange(most)
    present = slots < count[:, None]  # (B, K)
    identity = torch.randint(len(SHAPES), (number, most), generator=generator)
    rotation = torch.rand(number, most, generator=generator) * (2 * math.pi)
    position = _separated_positions(number, most, extent, separation, generator)
    scene = Scene(identity=identity, position=position, rotation=rotation, present=present)
    with torch.no_grad():
        images = render(scene, size=size)[:, 0]
    return RenderedScenes(
        images=images,
        count=count,
        identity=identity.masked_fill(~present, -1),
        position=position * present[..., None],
        rotation=rotation * present,
    )


def _separated_positions(
    number: int, most: int, extent: float, separation: float, generator: torch.Generator | None
) -> Tensor:
    """(number, most, 2) positions in [-extent, extent]^2, each scene's ``separation`` apart: a
    scene whose objects lie too near each other is drawn again whole (placing them one by one
    can leave no room for the last), every such scene of the batch at once."""
    position = torch.empty(number, most, 2)
    todo = torch.ones(number, dtype=torch.bool)
    pairs = torch.triu_indices(most, most, offset=1)
    for _ in range(REDRAWS):
        drawn = (torch.rand(int(todo.sum()), most, 2, generator=generator) * 2 - 1) * extent
        position[todo] = drawn
        gaps = (position[:, pairs[0]] - position[:, pairs[1]]).norm(dim=-1)  # (B, pairs)
        todo = (gaps < separation).any(-1)
        if not todo.any():
            return position
    raise ValueError(
        f"cannot place {most} objects {separation} apart within +-{extent}: lower the counts "
        "or the separation"
    )


def as_batch(scenes: RenderedScenes) -> Batch:
    """(images (B, 1, S, S), truth) as the module's docstring says."""
    truth = {
        "count": scenes.count,
        "identity": scenes.identity,
        "position": scenes.position,
        "rotation": scenes.rotation,
    }
    return scenes.images[:, None], truth


@DATA_SOURCES.register("rendered_scenes")
class RenderedSceneDataModule(SynthesisedDataModule):
    """Rendered scenes of primitives (``random_scenes``): train / validation / test loaders.

    Args:
        counts: objects in a scene, each equally likely (the default: one, [1]'s first
            experiment and what the supervised baseline reads; [1]'s scenes of one to three:
            (1, 2, 3)).
        size: side of the square images in pixels.
        batch_size: training scenes per batch (per process), rendered afresh.
        eval_batch_size: validation and test scenes per batch.
        epoch_size: training scenes per epoch (an epoch is only the interval between
            validations and checkpoints).
        val_size: validation scenes, drawn once from data_seed + 1.
        test_size: test scenes, drawn once from data_seed.
        data_seed: seed of the validation and test scenes.
    """

    @classmethod
    def smoke_settings(cls) -> dict:
        """Settings that make any run over these data take seconds: small images and sets."""
        return {
            "size": 16,
            "batch_size": 4,
            "eval_batch_size": 8,
            "epoch_size": 8,
            "val_size": 8,
            "test_size": 8,
        }

    def __init__(
        self,
        counts: tuple[int, ...] = (1,),
        *,
        size: int = 32,
        batch_size: int = 32,
        eval_batch_size: int = 250,
        epoch_size: int = 16_000,
        val_size: int = 1000,
        test_size: int = 2000,
        data_seed: int = 0,
    ) -> None:
        super().__init__()
        counts = tuple(int(c) for c in counts)
        if not counts or min(counts) < 0:
            raise ValueError(f"counts must be non-negative numbers of objects, got {counts}")
        require_positive(size=size)
        self._keep_sizes(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            epoch_size=epoch_size,
            val_size=val_size,
            test_size=test_size,
            data_seed=data_seed,
        )
        self.counts, self.size = counts, size

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (1, self.size, self.size)

    @property
    def max_objects(self) -> int:
        """The most objects any scene of these loaders holds."""
        return max(self.counts)

    def record(self) -> dict[str, object]:
        """What identifies these data in a run's record: the counts and the image size."""
        return {"counts": list(self.counts), "size": self.size}

    def model_defaults(self) -> dict[str, int]:
        """The model arguments the data decide: the image side and channels."""
        return {"image_size": self.size, "channels": 1}

    def make(self, number: int, generator: torch.Generator) -> RenderedScenes:
        return random_scenes(number, counts=self.counts, size=self.size, generator=generator)

    as_batch = staticmethod(as_batch)
