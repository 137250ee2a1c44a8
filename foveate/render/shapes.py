"""Signed distance functions of the primitives of AIR's 3D scenes, in object coordinates.

Eslami et al., "Attend, Infer, Repeat", NIPS 2016, sec. 3.3 renders scenes of a few primitive
objects on a plane; here the primitives are a cube, a sphere and a cylinder (``SHAPES``), each
``2 * HALF_SIZE`` = 1 unit wide and tall, centred at the origin of its own frame: x and z
horizontal, y vertical (the cylinder's axis).

One formula gives all three, exactly: a square of half-width 1/2 whose corners are rounded by
rho (rho = 0: the square; rho = 1/2: the disc) is the horizontal cross-section, and the
vertical profile (that cross-section's distance h against the height |y|) is a rectangle whose
corners are rounded by sigma. (rho, sigma) = (0, 0) is the cube, (1/2, 0) the cylinder and
(1/2, 1/2) the sphere, whose distance reduces to |p| - 1/2. Each is an exact Euclidean signed
distance (negative inside), and each is convex, so along any line it is a convex function of
the line's parameter: the renderer relies on that (``foveate.render.raymarch``).

An integer identity picks the row of ``SHAPE_PARAMETERS``, so a batch of objects of different
kinds is one gather and one evaluation of the formula, with no loop over objects or kinds.
"""

from __future__ import annotations

import torch
from torch import Tensor

SHAPES = ("cube", "sphere", "cylinder")
HALF_SIZE = 0.5  # every primitive spans [-1/2, 1/2] along each axis of its frame
# (rho, sigma) of each identity: the rounding of the cross-section's corners, then of the profile's.
SHAPE_PARAMETERS = ((0.0, 0.0), (0.5, 0.5), (0.5, 0.0))


def shape_parameters(identity: Tensor, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """(..., 2) the (rho, sigma) of each identity (..., long), an index into ``SHAPES``."""
    table = torch.tensor(SHAPE_PARAMETERS, dtype=dtype, device=identity.device)
    return table[identity]


def signed_distance(points: Tensor, shape: Tensor) -> Tensor:
    """Signed distance (...,) of points (..., 3) as (x, y, z) in object coordinates to the
    primitive of parameters ``shape`` (..., 2) as (rho, sigma), broadcast against the points."""
    x, y, z = points.unbind(-1)
    rho, sigma = shape.unbind(-1)
    return distance(x, y, z, rho, sigma)


def distance(x: Tensor, y: Tensor, z: Tensor, rho: Tensor, sigma: Tensor) -> Tensor:
    """``signed_distance`` on the coordinates one by one: the renderer's hot path, which keeps
    x, y, z apart to avoid stacking them at every step."""
    corner = HALF_SIZE - rho
    qx, qz = x.abs() - corner, z.abs() - corner
    across = _outside(qx, qz) - rho  # h: the cross-section's signed distance (a rounded square)
    wx, wy = across + sigma, y.abs() - HALF_SIZE + sigma
    return _outside(wx, wy) - sigma  # the profile, a rectangle with corners rounded by sigma


def _outside(a: Tensor, b: Tensor) -> Tensor:
    """|max((a, b), 0)| + min(max(a, b), 0): a rectangle's signed distance from its corner's
    offsets (a, b), exact outside and inside."""
    return _norm(a.clamp(min=0), b.clamp(min=0)) + torch.maximum(a, b).clamp(max=0)


def _norm(a: Tensor, b: Tensor) -> Tensor:
    """sqrt(a^2 + b^2) with a zero gradient at (0, 0), where torch.hypot's is NaN. Inside a
    rectangle both offsets clamp to zero, so (0, 0) is common, not an accident."""
    square = a * a + b * b
    positive = square > 0
    return torch.where(positive, torch.where(positive, square, 1.0).sqrt(), 0.0)
