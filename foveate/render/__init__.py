"""A small differentiable 3D renderer in PyTorch: AIR's fixed decoder for scenes of primitives.

Eslami et al., "Attend, Infer, Repeat", NIPS 2016, sec. 3.3. ``Scene`` holds B scenes of up to N
cubes, spheres and cylinders on a plane (identity, position, rotation, present); ``render``
draws them through a fixed ``Camera`` and ``Light`` as (B, 1, H, W) greyscale images, with
gradients with respect to position and rotation. ``render_objects`` gives each object's own
layer and ``composite`` lays the layers over the background;
``render_objects_finite_differences`` gives the layers the gradient the paper took, by finite
differences. This package sits below
foveate.models and foveate.data and imports nothing else of foveate; docs/renderer.md tells why it
exists and what its soft silhouette trades.
"""

from foveate.render.finite_differences import render_objects_finite_differences
from foveate.render.raymarch import (
    ObjectLayers,
    camera_rays,
    composite,
    golden_section_minimum,
    render,
    render_objects,
)
from foveate.render.scene import Camera, Light, Scene
from foveate.render.shapes import (
    HALF_SIZE,
    SHAPE_PARAMETERS,
    SHAPES,
    shape_parameters,
    signed_distance,
)

__all__ = [
    "HALF_SIZE",
    "SHAPES",
    "SHAPE_PARAMETERS",
    "Camera",
    "Light",
    "ObjectLayers",
    "Scene",
    "camera_rays",
    "composite",
    "golden_section_minimum",
    "render",
    "render_objects",
    "render_objects_finite_differences",
    "shape_parameters",
    "signed_distance",
]
