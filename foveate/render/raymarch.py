"""A batched, differentiable renderer of scenes of primitives: AIR's fixed 3D decoder.

Eslami et al., "Attend, Infer, Repeat", NIPS 2016 ([1]), sec. 3.3 inverts a 3D renderer: scenes
of one to three primitives on a plane, from which AIR recovers how many objects there are, what
they are and where they lie. This module draws batches of scenes (``Scene``, whose conventions
``foveate.render.scene`` states) through a fixed pinhole ``Camera`` as greyscale images in [0, 1].

Each pixel casts one ray through its centre. Every object is rendered as a layer of its own,
from its signed distance f (``foveate.render.shapes``) along the ray, put in the object's
frame. f is convex along any line (the primitives are convex), so two searches with a fixed
number of ``steps`` find what is needed, with no rule of thumb about step sizes:

- the closest approach t*, where f along the ray is least: a golden-section search on the
  stretch of ray that passes the object's bounding sphere. m = f(t*) is the ray's signed
  distance to the object: negative when it goes through it (how deep), positive when it misses
  (by how much), zero on the silhouette;
- on a ray with m < 0, the entry point, where f first crosses zero: a bisection between the
  start of that stretch (f > 0) and t* (f < 0). (Sphere tracing, t <- t + f, reaches the same
  root from outside, but with a fixed number of steps it stops short at grazing angles, and it
  never gives the negative m inside.)

Each layer holds the object's coverage sigmoid(-m / temperature), its Lambertian shade,
ambient + diffuse max(0, n . l), at the entry point (or at t* on a ray that misses), with the
normal n the finite-difference gradient of f, and its depth, the ray parameter there.
``composite`` lays the layers over a constant background front to back, in the order of their
depths at each pixel. With hard coverage (temperature -> 0) this is exactly the image of the
scene's signed distance, the minimum over its objects, traced from the camera: the first
surface a ray meets is the nearest of each object's first surface.

There is no ground plane: the background is one constant. A plane lit by a directional light
without shadows is one constant brightness, and the camera looks down so steeply that the
horizon is out of view, so a drawn plane would add nothing but cost; an empty scene is then
exactly the background, and AIR's canvas starts blank.

What is exact and what is smoothed, for gradients with respect to position and rotation:

- exact: the ray's signed distance m (its gradient is f's at t*, which does not move to first
  order, since f is least there; where t* lies at a kink of f, inside a cube or a cylinder, the
  two pieces' gradients are weighed by their slopes), the shade inside a silhouette (the entry
  point moves with the pose by implicit differentiation of f = 0, so a sphere's shading follows
  it) and just outside it (t* moves by implicit differentiation of f' = 0), and the order of the
  layers, which is piecewise constant. "Exact" up to the finite differences along the ray and
  across it (normals, f', f'') of steps between 1e-4 (1e-3 in float32) and ``NORMAL_STEP``,
  a tenth of the distance to the surface where that is larger; a ray grazing an edge closer
  than that is shaded by a normal that swings faster than they follow, so there the gradient
  is approximate (``tests/test_render.py`` bounds the error on a whole image at 2% of the
  pixels' summed sensitivity; a sphere's is exact);
- smoothed: the silhouette against the background and against the objects behind, a sigmoid of
  width ``temperature`` (in object widths, measured across the ray) in place of a step, which
  gives pixels near an edge the gradient that moves the edge. The image's silhouette is thereby
  blurred by about a pixel at the defaults, and grows by the sigmoid's second moment around the
  rim (3% of a sphere's area at 128 x 128); the gradient is that of the blurred image, not of
  the hard one (which is zero almost everywhere). A ray that misses takes the shade of the
  point where it passes nearest: continuous with the shade inside for a sphere, but beside a
  cube's edge that point lies on the edge, whose normal is between the two faces';
- discrete: which objects a ray is traced against (those it passes within 16 temperatures of
  their bounding sphere; the rest have coverage below 1e-7, set to 0), and whether it hits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from foveate.render.scene import DEFAULT_CAMERA, DEFAULT_LIGHT, Camera, Light, Scene
from foveate.render.shapes import HALF_SIZE, distance, shape_parameters

RADIUS = math.sqrt(3.0) * HALF_SIZE  # every primitive lies in this ball about its centre
BOUND = 1.5  # the searches look this far either side of the ray's point nearest the centre
NORMAL_STEP = 1e-3  # the largest step of f's finite differences, in object widths
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


@dataclass
class ObjectLayers:
    """Each object of each scene drawn alone, (B, N, H, W) each.

    coverage: how much of the pixel the object covers, sigmoid(-m / temperature); 0 where
        the object is absent.
    shade: its Lambertian brightness at the point the ray meets it (or passes it nearest).
    depth: the ray parameter of that point, its distance from the camera; +inf where the
        object is absent.
    """

    coverage: Tensor
    shade: Tensor
    depth: Tensor


def camera_rays(
    camera: Camera, *, size: int, dtype: torch.dtype, device: torch.device | None = None
) -> tuple[Tensor, Tensor]:
    """(eye (3,), directions (size * size, 3)): unit rays through the pixels' centres, row by
    row from the top-left pixel, as the rows and columns of a (size, size) image."""
    eye, right, up, forward = (torch.tensor(v, dtype=dtype, device=device) for v in camera.frame())
    half = math.tan(camera.field_of_view / 2)
    centres = (torch.arange(size, dtype=dtype, device=device) + 0.5) / size * 2 - 1  # (size,)
    across = centres * half  # image x of each column, left to right
    down = -centres * half  # image y of each row, top to bottom
    directions = (forward + across[None, :, None] * right + down[:, None, None] * up).reshape(-1, 3)
    return eye, directions / directions.norm(dim=-1, keepdim=True)


def render_objects(
    scene: Scene,
    *,
    size: int = 32,
    camera: Camera = DEFAULT_CAMERA,
    light: Light = DEFAULT_LIGHT,
    temperature: float = 0.05,
    steps: int = 24,
) -> ObjectLayers:
    """Every object of every scene drawn alone, as the layers that ``composite`` lays over.

    Args:
        scene: B scenes of N objects.
        size: the images' height and width in pixels.
        camera, light: the fixed view and lighting (``foveate.render.scene``).
        temperature: the width of the soft silhouette, in object widths across the ray; a
            pixel of a 32 x 32 image spans about 0.19 of them at the scene's centre. Smaller is
            sharper and gives gradients to fewer pixels.
        steps: iterations of each search (golden section, then bisection); each shrinks the
            bracket by 0.618 or 0.5, so 24 leave at most 3e-5 of the 3-wide stretch searched.

    Returns:
        ``ObjectLayers``, each (B, N, size, size).
    """
    position, rotation = scene.position, scene.rotation
    dtype, device = position.dtype, position.device
    batch, objects = scene.identity.shape
    rays = batch, objects, size * size
    eye, world_rays = camera_rays(camera, size=size, dtype=dtype, device=device)  # (P, 3)
    rho, sigma = shape_parameters(scene.identity, dtype=dtype).unsqueeze(-2).unbind(-1)

    # The ray in each object's frame: translate by the centre, turn by -theta about y.
    cos, sin = rotation.cos().unsqueeze(-1), rotation.sin().unsqueeze(-1)  # (B, N, 1)
    ex = eye[0] - position[..., :1]
    ey = (eye[1] - HALF_SIZE).expand_as(ex)
    ez = eye[2] - position[..., 1:]
    ox, oy, oz = ex * cos + ez * sin, ey, ez * cos - ex * sin  # (B, N, 1)
    wx, wy, wz = world_rays.unbind(-1)  # (P,)
    dx, dy, dz = wx * cos + wz * sin, wy.expand(rays), wz * cos - wx * sin  # (B, N, P)
    lx, ly, lz = _light_in_frames(light, cos, sin)  # (B, N, 1)

    # Only rays that pass within 16 temperatures of an object's bounding sphere are traced:
    # the others' coverage is below sigmoid(-16) ~ 1e-7, set to 0.
    nearest = -(ox * dx + oy * dy + oz * dz)  # (B, N, P) the ray's point nearest the centre
    with torch.no_grad():
        passes_by = (ox * ox + oy * oy + oz * oz - nearest * nearest).clamp(min=0).sqrt()
        traced = scene.present.unsqueeze(-1) & (passes_by < RADIUS + 16 * temperature)
    per_ray = [v.expand(rays)[traced] for v in (ox, oy, oz, dx, dy, dz, rho, sigma, lx, ly, lz)]
    signed, facing, hit_depth = _trace(nearest[traced], *per_ray, steps=steps)

    coverage = torch.zeros(rays, dtype=dtype, device=device)
    coverage = coverage.index_put((traced,), torch.sigmoid(-signed / temperature))
    shade = torch.full(rays, light.ambient, dtype=dtype, device=device)
    shade = shade.index_put((traced,), light.ambient + light.diffuse * facing)
    depth = torch.where(scene.present.unsqueeze(-1), nearest.detach(), math.inf)
    depth = depth.index_put((traced,), hit_depth.detach())
    shape = (batch, objects, size, size)
    return ObjectLayers(coverage.reshape(shape), shade.reshape(shape), depth.reshape(shape))


def _light_in_frames(light: Light, cos: Tensor, sin: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(lx, ly, lz) the unit direction toward the light in each object's frame, shaped as cos."""
    norm = math.sqrt(sum(v * v for v in light.direction))
    x, y, z = (v / norm for v in light.direction)
    return x * cos + z * sin, torch.full_like(cos, y), z * cos - x * sin


def _trace(nearest, ox, oy, oz, dx, dy, dz, rho, sigma, lx, ly, lz, *, steps):
    """(m, n . l, depth) of rays given in their object's frame, all (R,): the ray's signed
    distance to the object, max(0, n . l) where it meets it (or passes nearest), and that depth."""

    def f(t: Tensor) -> Tensor:
        return distance(ox + t * dx, oy + t * dy, oz + t * dz, rho, sigma)

    with torch.no_grad():
        start = nearest - BOUND
        closest = golden_section_minimum(f, start, nearest + BOUND, steps=steps)
        entry = _bisection(f, start, closest, steps=steps)

    # Finite differences of f take steps of a tenth of the distance to the surface, the scale on
    # which f bends (outside a convex set, its distance is smooth), between NORMAL_STEP and what
    # the dtype resolves.
    smallest = min(NORMAL_STEP, max(1e-4, 3 * math.sqrt(torch.finfo(nearest.dtype).eps)))
    least = f(closest)
    e = (least.detach().abs() / 10).clamp(smallest, NORMAL_STEP)

    # m = f(t*). f is least at t*, so to first order t* does not move with the pose (the envelope
    # theorem) and m's gradient is f's at t*. Outside the object, f is smooth; inside, its least
    # value often lies at a kink, between two of its pieces (inside a cube: two faces), where
    # either piece's gradient is f's. m's gradient is then theirs weighed by the slopes: if
    # f = max(g_1, g_2) along the ray, with slopes s_1 < 0 < s_2, dm = (s_2 dg_1 - s_1 dg_2) /
    # (s_2 - s_1); f a step either side of t* stands for each piece.
    before, after = f(closest - e), f(closest + e)
    with torch.no_grad():
        falling, rising = least - before, after - least  # slopes times e: <= 0 <= rising
        bend = rising - falling
        weight = torch.where(bend > 1e-12, rising / bend.clamp(min=1e-12), 0.5)
        hit = least < 0
    at_kink = (
        least.detach()
        + weight * (before - before.detach())
        + (1 - weight) * (after - after.detach())
    )
    signed = torch.where(hit, at_kink, least)

    # A ray that meets the object is shaded at its entry, which moves with the pose: implicit
    # differentiation of f(t) = 0, dt = -df / f'(t), f' < 0 at an entry. The step also polishes t
    # by one Newton step. A grazing ray's f' -> 0; it is bounded here, where the coverage is near
    # one half and the shade changes fast anyway.
    at_entry = f(entry)
    with torch.no_grad():
        slope = (f(entry + NORMAL_STEP) - f(entry - NORMAL_STEP)) / (2 * NORMAL_STEP)
        slope = slope.clamp(max=-0.05)
    # A ray that misses is shaded where it passes nearest, t*, which moves with the pose too:
    # implicit differentiation of f'(t*) = 0, dt* = -df' / f'', with f' and f'' differences.
    with torch.no_grad():
        curvature = (bend / e**2).clamp(min=1e-2)
    step = ((after - before) / (2 * e) / curvature).clamp(-BOUND, BOUND)
    depth = torch.where(hit, entry - at_entry / slope, closest - step)

    x, y, z = ox + depth * dx, oy + depth * dy, oz + depth * dz
    nx, ny, nz = _normal(x, y, z, rho, sigma, step=torch.where(hit, smallest, e))
    from_light = (nx * lx + ny * ly + nz * lz).clamp(min=0)
    return signed, from_light, depth


def composite(layers: ObjectLayers, *, background: float = 0.0) -> Tensor:
    """(B, 1, H, W) the layers laid over the background front to back, nearest first at each
    pixel: I = sum_k c_k s_k prod_{j < k} (1 - c_j) + background prod_k (1 - c_k). Scenes of no
    objects (N = 0) are the background."""
    if layers.coverage.shape[1] == 0:
        return torch.full_like(layers.coverage.sum(1, keepdim=True), background)
    order = layers.depth.argsort(dim=1)  # (B, N, H, W) per pixel, the nearest object first
    coverage = layers.coverage.gather(1, order)
    shade = layers.shade.gather(1, order)
    through = torch.cumprod(1 - coverage, dim=1)  # light let through by the first k objects
    before = torch.cat([torch.ones_like(through[:, :1]), through[:, :-1]], dim=1)
    image = (coverage * shade * before).sum(dim=1) + background * through[:, -1]
    return image.unsqueeze(1)


def render(
    scene: Scene,
    *,
    size: int = 32,
    camera: Camera = DEFAULT_CAMERA,
    light: Light = DEFAULT_LIGHT,
    temperature: float = 0.05,
    background: float = 0.0,
    steps: int = 24,
) -> Tensor:
    """(B, 1, size, size) the scenes in greyscale in [0, 1]; differentiable with respect to
    ``scene.position`` and ``scene.rotation`` (the module's docstring says how exactly).

    Args:
        scene, size, camera, light, temperature, steps: as ``render_objects``.
        background: the brightness where no object is; an empty scene is this constant.
    """
    layers = render_objects(
        scene, size=size, camera=camera, light=light, temperature=temperature, steps=steps
    )
    return composite(layers, background=background)


def golden_section_minimum(f, low: Tensor, high: Tensor, *, steps: int) -> Tensor:
    """The minimiser of a convex f on [low, high], elementwise: one evaluation of f per step
    (two to start); the interval shrinks by 0.618 a step. f maps a tensor of ``low``'s shape to
    one of the same shape."""
    inner_low = high - _GOLDEN * (high - low)
    inner_high = low + _GOLDEN * (high - low)
    f_low, f_high = f(inner_low), f(inner_high)
    for _ in range(steps):
        left = f_low < f_high  # the minimum lies in [low, inner_high]: drop the right part
        low = torch.where(left, low, inner_low)
        high = torch.where(left, inner_high, high)
        # The kept inner point becomes the new inner point of the other side.
        new_low = torch.where(left, high - _GOLDEN * (high - low), inner_high)
        new_high = torch.where(left, inner_low, low + _GOLDEN * (high - low))
        value = f(torch.where(left, new_low, new_high))
        f_low, f_high = torch.where(left, value, f_high), torch.where(left, f_low, value)
        inner_low, inner_high = new_low, new_high
    return torch.where(f_low < f_high, inner_low, inner_high)


def _bisection(f, outside: Tensor, inside: Tensor, *, steps: int) -> Tensor:
    """A root of f between ``outside`` (f > 0) and ``inside`` (f < 0), elementwise; where f has no
    sign change the result is some point of the interval, which the caller ignores."""
    for _ in range(steps):
        middle = (outside + inside) / 2
        entered = f(middle) < 0
        inside = torch.where(entered, middle, inside)
        outside = torch.where(entered, outside, middle)
    return (outside + inside) / 2


def _normal(x, y, z, rho, sigma, *, step: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(nx, ny, nz) the unit gradient of f at (x, y, z): central differences of width 2 step."""
    gradient = (
        distance(x + step, y, z, rho, sigma) - distance(x - step, y, z, rho, sigma),
        distance(x, y + step, z, rho, sigma) - distance(x, y - step, z, rho, sigma),
        distance(x, y, z + step, rho, sigma) - distance(x, y, z - step, rho, sigma),
    )
    length = torch.sqrt(sum(g * g for g in gradient)).clamp(min=1e-12)
    return tuple(g / length for g in gradient)
