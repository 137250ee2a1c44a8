"""What the renderer draws: a batch of scenes of objects on a plane, and the fixed view of them.

World coordinates: y is up, the ground plane is y = 0, x runs to the right of the image and z
away from the camera (up the image). An object stands on the plane: its centre is at height
``HALF_SIZE`` = 1/2 above ``position`` = (x, z). ``rotation`` theta turns it about the vertical
axis through its centre, from +x toward +z (counter-clockwise on a map of the plane with x to
the right and z up); at theta = 0 a cube's faces are parallel to the x and z axes, one of them
facing the camera squarely. A cube looks the same at theta + pi/2, a sphere or a cylinder at
any theta. Units are the primitives' width: every object is 1 wide and 1 tall.

The default ``Camera`` keeps every object of position in [-1.5, 1.5]^2 whole in the image, at any
rotation (``tests/test_render.py`` checks the corners).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Scene:
    """B scenes of up to N objects each; object n of scene b is drawn where present[b, n].

    identity: (B, N) long, an index into ``foveate.render.shapes.SHAPES`` (cube, sphere,
        cylinder).
    position: (B, N, 2) as (x, z) on the ground plane, in object widths.
    rotation: (B, N) theta in radians about the vertical axis, from +x toward +z.
    present: (B, N) bool; an absent object's other fields are ignored.
    """

    identity: Tensor
    position: Tensor
    rotation: Tensor
    present: Tensor

    def __post_init__(self) -> None:
        batch = tuple(self.identity.shape)
        if len(batch) != 2:
            raise ValueError(f"identity must be (B, N), got {batch}")
        expected = {"position": (*batch, 2), "rotation": batch, "present": batch}
        for name, shape in expected.items():
            if tuple(getattr(self, name).shape) != shape:
                got = tuple(getattr(self, name).shape)
                raise ValueError(f"{name} must be {shape} for identity {batch}, got {got}")


@dataclass(frozen=True)
class Camera:
    """A pinhole camera looking down at the point ``target_height`` above the origin.

    distance: from the camera to that point, in object widths.
    elevation: the angle in radians of the line of sight below the horizontal.
    field_of_view: the full angle in radians that the image spans, side to side and top to
        bottom (the image is square).
    target_height: the height of the point at the image's centre; 1/2, the height of an
        object's centre, puts an object at position (0, 0) in the middle of the image.
    """

    distance: float = 9.0
    elevation: float = math.radians(40.0)
    field_of_view: float = math.radians(37.0)
    target_height: float = 0.5

    def frame(self) -> tuple[tuple[float, ...], ...]:
        """(eye, right, up, forward): the camera's position and its image axes, in world
        coordinates; right is +x, forward points down at the target, up completes them."""
        c, s = math.cos(self.elevation), math.sin(self.elevation)
        forward = (0.0, -s, c)
        eye = (0.0, self.target_height + self.distance * s, -self.distance * c)
        return eye, (1.0, 0.0, 0.0), (0.0, c, s), forward

    def project(self, points: Tensor) -> Tensor:
        """World points (..., 3) -> (..., 2) their places in the image as (x, y), each in [-1, 1]
        across the image: x from the left edge to the right, y from the top edge to the bottom
        (the normalised coordinates of ``torch.nn.functional.affine_grid``); the inverse of
        ``foveate.render.camera_rays`` for a point in front of the camera."""
        eye, right, up, forward = (points.new_tensor(v) for v in self.frame())
        seen = points - eye
        depth = seen @ forward
        half = math.tan(self.field_of_view / 2)
        across, upward = seen @ right / (depth * half), seen @ up / (depth * half)
        return torch.stack([across, -upward], -1)


@dataclass(frozen=True)
class Light:
    """A directional light plus ambient light, for Lambertian shading.

    direction: (x, y, z) pointing toward the light (normalised where used); the default comes
        from above, the left and the camera's side, so that a cube's top, front and left faces
        differ in brightness.
    ambient, diffuse: a surface facing the light has brightness ambient + diffuse, one facing
        away has ambient.
    """

    direction: tuple[float, float, float] = (-0.6, 1.0, -0.8)
    ambient: float = 0.25
    diffuse: float = 0.75


DEFAULT_CAMERA = Camera()
DEFAULT_LIGHT = Light()
