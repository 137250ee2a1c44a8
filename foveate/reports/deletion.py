"""Attention as explanation, measured: the pixels a model attends to, deleted, and the share of
its salience that falls on them.

If a model's attention shows what its answer rests on, deleting the pixels it attends to most
should cost more accuracy than deleting as many pixels at random (the deletion test, after
Samek et al., "Evaluating the visualization of what a deep neural network has learned", IEEE
TNNLS 2017, sec. III, and Petsiuk et al., "RISE", BMVC 2018, sec. 4.1), and its salience
(``foveate.reports.salience``) should lie mostly where it attends.

Attention in pixels: a reader's maps summed over the steps it read (``Reads``); for a model
that ``Attends`` through windows (RAM's retina, the spatial transformer's sampling grid, DRAW's
filterbank), how many steps' finest windows cover a pixel's centre. Where two pixels are
attended alike (all the pixels of one window, or of one cell of a reader's grid), the order
between them is drawn at random.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from foveate.models.interface import Attends, Reading, Reads, Stochastic, points_inside


def inside_quadrilaterals(corners: Tensor, height: int, width: int) -> Tensor:
    """Whether each pixel's centre lies inside each convex quadrilateral.

    corners: (..., 4, 2) the (x, y) corners in pixels, in order around the quadrilateral (as
    ``Glimpses.outlines``: pixel i covers [i, i + 1), so its centre is i + 0.5).
    Returns (..., height, width) booleans.
    """
    y, x = torch.meshgrid(
        torch.arange(height, device=corners.device, dtype=corners.dtype) + 0.5,
        torch.arange(width, device=corners.device, dtype=corners.dtype) + 0.5,
        indexing="ij",
    )
    centres = torch.stack([x, y], -1)  # (H, W, 2)
    return points_inside(corners[..., None, None, :, :], centres)


def reading_attention(reading: Reading) -> Tensor:
    """A reading's maps (B, T, H, W) summed over the steps up to its end token -> (B, H, W)."""
    if reading.maps is None:
        raise ValueError("a reading without attention maps has no attention to sum")
    steps = (reading.tokens >= 0).to(reading.maps.dtype)  # (B, T)
    return (reading.maps * steps[..., None, None]).sum(1).float()


@torch.no_grad()
def attention_in_pixels(model: nn.Module, images: Tensor) -> Tensor:
    """How much a model attends to each pixel of images (B, C, H, W) -> (B, H, W).

    A reader (``Reads``): its maps summed over the steps up to its end token; a model that
    ``Attends``: the number of steps whose finest window covers the pixel. A stochastic model
    is run with one draw of its noise.
    """
    H, W = images.shape[-2:]
    if isinstance(model, Reads):
        reading = model.reading(images)
        if reading.maps is None:
            raise ValueError(f"{type(model).__name__} reads without attention: nothing to delete")
        return reading_attention(reading)
    if isinstance(model, Attends):
        draws = (model.sample_noise(images),) if isinstance(model, Stochastic) else ()
        glimpses = model.attended(images, model(images, *draws))
        finest = glimpses.outlines[:, :, 0].float()  # (B, T, 4, 2)
        return inside_quadrilaterals(finest, H, W).float().sum(1)
    raise ValueError(f"{type(model).__name__} neither reads nor attends through windows")


def most_attended(
    attention: Tensor, fraction: float, *, generator: torch.Generator | None = None
) -> Tensor:
    """The ``fraction`` of each image's pixels with the most attention: attention (B, H, W) ->
    mask (B, H, W), True on round(fraction * H * W) pixels per image, ties ordered at random."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    B, H, W = attention.shape
    count = round(fraction * H * W)
    flat = attention.reshape(B, H * W).float()
    # a random order among equals: shuffle, then sort stably by attention
    shuffle = torch.rand(B, H * W, generator=generator, device=attention.device).argsort(1)
    ranked = shuffle.gather(1, flat.gather(1, shuffle).argsort(dim=1, descending=True, stable=True))
    mask = torch.zeros(B, H * W, dtype=torch.bool, device=attention.device)
    mask.scatter_(1, ranked[:, :count], True)
    return mask.view(B, H, W)


def random_pixels(
    shape: tuple[int, int, int], fraction: float, *, generator: torch.Generator | None = None
) -> Tensor:
    """round(fraction * H * W) pixels of each of B images chosen at random: mask (B, H, W)."""
    return most_attended(torch.zeros(shape), fraction, generator=generator)


def delete(images: Tensor, mask: Tensor) -> Tensor:
    """Images (B, C, H, W) with the pixels of mask (B, H, W) set to 0 (the background)."""
    return images.masked_fill(mask[:, None].to(images.device), 0.0)


def share_inside(maps: Tensor, mask: Tensor) -> Tensor:
    """The share of each map's absolute mass inside its mask: maps, mask (B, H, W) -> (B,)."""
    mass = maps.abs().float()
    total = mass.sum((1, 2)).clamp_min(1e-12)
    return (mass * mask).sum((1, 2)) / total
