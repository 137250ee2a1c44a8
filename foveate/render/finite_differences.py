"""The renderer's layers with gradients by finite differences, as AIR's 3D experiment took them.

Eslami et al., "Attend, Infer, Repeat", NIPS 2016, sec. 3.3: "we use finite differencing to
obtain gradients through the renderer". ``render_objects`` is differentiable by autograd; this
module offers the paper's way beside it, to compare (``docs/renderer.md``): the layers are
rendered without a graph, and the backward pass renders them again with each pose parameter
(x, z, theta) moved by +-``step``, a central difference per parameter.

An object's layer depends only on its own pose, so one parameter can be moved for every object
of every scene at once: the backward pass costs six renders, whatever the number of objects.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from foveate.render.raymarch import ObjectLayers, render_objects
from foveate.render.scene import Scene

STEP = 1e-2  # in object widths (x, z) and radians (theta): a twentieth of a 32-pixel image's pixel


class _FiniteDifferenceLayers(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        position: Tensor,
        rotation: Tensor,
        identity: Tensor,
        present: Tensor,
        step: float,
        settings: dict[str, Any],
    ) -> tuple[Tensor, Tensor, Tensor]:
        ctx.save_for_backward(position, rotation, identity, present)
        ctx.step, ctx.settings = step, settings
        layers = render_objects(Scene(identity, position, rotation, present), **settings)
        ctx.mark_non_differentiable(layers.depth)
        return layers.coverage, layers.shade, layers.depth

    @staticmethod
    def backward(
        ctx: Any, coverage_grad: Tensor, shade_grad: Tensor, _depth_grad: Tensor
    ) -> tuple[Tensor | None, ...]:
        position, rotation, identity, present = ctx.saved_tensors
        step, settings = ctx.step, ctx.settings

        def moved(parameter: int, by: float) -> ObjectLayers:
            """The layers with pose parameter 0 (x), 1 (z) or 2 (theta) moved ``by``."""
            pose = torch.cat([position, rotation[..., None]], -1).clone()
            pose[..., parameter] += by
            scene = Scene(identity, pose[..., :2], pose[..., 2], present)
            return render_objects(scene, **settings)

        grads = []
        with torch.no_grad():
            for parameter in range(3):
                ahead, behind = moved(parameter, step), moved(parameter, -step)
                d_coverage = (ahead.coverage - behind.coverage) / (2 * step)  # (B, N, H, W)
                d_shade = (ahead.shade - behind.shade) / (2 * step)
                grads.append((coverage_grad * d_coverage + shade_grad * d_shade).sum((-2, -1)))
        position_grad = torch.stack(grads[:2], -1)  # (B, N, 2)
        return position_grad, grads[2], None, None, None, None


def render_objects_finite_differences(
    scene: Scene, *, step: float = STEP, **settings: Any
) -> ObjectLayers:
    """``render_objects(scene, **settings)``, whose coverage and shade take their gradients with
    respect to ``scene.position`` and ``scene.rotation`` by central differences of ``step``
    (six more renders in the backward pass) instead of autograd. Depth has none, as with
    autograd (the layers' order is piecewise constant)."""
    coverage, shade, depth = _FiniteDifferenceLayers.apply(
        scene.position, scene.rotation, scene.identity, scene.present, step, settings
    )
    return ObjectLayers(coverage, shade, depth)
