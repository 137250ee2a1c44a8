"""The 3D renderer (foveate.render) against known answers: distances of the primitives, a sphere's
projected area, the symmetries of each shape, occlusion, batching, and gradients against central
finite differences."""

import math

import pytest
import torch

from foveate.render import (
    SHAPES,
    Camera,
    ObjectLayers,
    Scene,
    camera_rays,
    composite,
    render,
    render_objects,
    shape_parameters,
    signed_distance,
)

CUBE, SPHERE, CYLINDER = (SHAPES.index(name) for name in ("cube", "sphere", "cylinder"))
F64 = torch.float64


def scene(identity, position, rotation, present=None, *, dtype=F64):
    """A batch of one scene from lists of its objects."""
    n = len(identity)
    return Scene(
        identity=torch.tensor([identity]),
        position=torch.tensor([position], dtype=dtype).reshape(1, n, 2),
        rotation=torch.tensor([rotation], dtype=dtype),
        present=torch.tensor([present if present is not None else [True] * n]),
    )


def objects(*each, present=None):
    """A batch of one scene from its objects, each [identity, [x, z], rotation]."""
    identity, position, rotation = ([o[k] for o in each] for k in range(3))
    return scene(identity, position, rotation, present)


def one(identity, x, z, rotation=0.0, **kwargs):
    return scene([identity], [[x, z]], [rotation], **kwargs)


def test_each_primitive_has_its_known_distances_in_one_batched_call():
    r2, r3 = math.sqrt(2), math.sqrt(3)
    cases = [  # (identity, point, distance); every primitive is 1 wide and 1 tall
        (CUBE, (0.0, 0.0, 0.0), -0.5),
        (CUBE, (0.2, 0.1, 0.0), -0.3),  # nearest face x = 1/2
        (CUBE, (1.0, 0.0, 0.0), 0.5),
        (CUBE, (1.0, 1.0, 0.0), math.sqrt(0.5)),  # nearest an edge
        (CUBE, (1.0, 1.0, 1.0), math.sqrt(0.75)),  # nearest a corner
        (SPHERE, (0.0, 0.0, 0.0), -0.5),
        (SPHERE, (0.6, 0.8, 0.0), 0.5),
        (SPHERE, (1.0, 1.0, 1.0), r3 - 0.5),
        (SPHERE, (0.5, 0.5, 0.0), math.sqrt(0.5) - 0.5),  # a cube's edge, outside the sphere
        (CYLINDER, (0.0, 0.0, 0.0), -0.5),
        (CYLINDER, (0.3, 0.0, 0.0), -0.2),
        (CYLINDER, (1.0, 0.0, 1.0), r2 - 0.5),  # beside the curved side
        (CYLINDER, (0.0, 1.0, 0.0), 0.5),  # above the top
        (CYLINDER, (0.6, 0.8, 0.0), math.sqrt(0.1**2 + 0.3**2)),  # nearest the rim
        (CYLINDER, (0.45, 0.0, 0.45), math.sqrt(0.405) - 0.5),  # inside the cube, outside it
    ]
    identity = torch.tensor([c[0] for c in cases])
    points = torch.tensor([c[1] for c in cases], dtype=F64)
    distances = signed_distance(points, shape_parameters(identity, dtype=F64))
    assert distances.tolist() == pytest.approx([c[2] for c in cases], abs=1e-12)


def test_a_spheres_silhouette_has_the_area_of_its_projected_conic():
    # The rays tangent to a sphere of radius r centred at c (camera frame, focal length 1) meet
    # the image plane in an ellipse of area pi r^2 sqrt(|c|^2 - r^2) / (c_z^2 - r^2)^(3/2); on the
    # line of sight (c_x = c_y = 0) it is the disc of radius tan(asin(r / |c|)).
    camera, size, r = Camera(), 128, 0.5
    eye, right, up, forward = (torch.tensor(v, dtype=F64) for v in camera.frame())
    pixels_per_unit = size / (2 * math.tan(camera.field_of_view / 2))
    for x, z in [(0.0, 0.0), (1.2, -1.0), (-1.4, 1.3)]:
        c = torch.tensor([x, 0.5, z], dtype=F64) - eye
        k, depth = c.dot(c) - r * r, c.dot(forward)
        k, depth = k.item(), depth.item()
        expected = math.pi * r * r * math.sqrt(k) / (depth**2 - r * r) ** 1.5 * pixels_per_unit**2
        sharp = render_objects(one(SPHERE, x, z), size=size, temperature=0.005).coverage
        assert sharp.sum().item() == pytest.approx(expected, rel=0.01), (x, z)
        # The soft edge adds (pi^3 / 3) w^2 for an edge w pixels wide, the sigmoid's second moment
        # around the rim: some 3% here.
        soft = render_objects(one(SPHERE, x, z), size=size).coverage
        assert soft.sum().item() == pytest.approx(expected, rel=0.05), (x, z)
    on_axis = math.tan(math.asin(r / camera.distance)) * pixels_per_unit
    assert expected != pytest.approx(math.pi * on_axis**2, rel=0.05)  # off the axis, it differs


def test_positions_move_the_image_as_the_conventions_say():
    def centroid_and_area(x, z):
        coverage = render_objects(one(SPHERE, x, z), size=32).coverage[0, 0]
        rows, cols = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
        area = coverage.sum()
        return (rows * coverage).sum() / area, (cols * coverage).sum() / area, area

    row, col, area = centroid_and_area(0.0, 0.0)
    assert (row.item(), col.item()) == pytest.approx((15.5, 15.5), abs=0.05)  # the centre
    assert centroid_and_area(1.0, 0.0)[1] > col + 3  # +x: to the right
    far_row, _, far_area = centroid_and_area(0.0, 1.0)
    near_row, _, near_area = centroid_and_area(0.0, -1.0)
    assert far_row < row - 3 < near_row - 6  # +z: away from the camera, up the image
    assert far_area < area < near_area  # and smaller


@pytest.mark.parametrize("identity", [CUBE, SPHERE, CYLINDER])
def test_every_object_in_the_square_of_positions_stays_in_view(identity):
    corners = [(-1.5, -1.5), (1.5, -1.5), (-1.5, 1.5), (1.5, 1.5)]
    batch = Scene(
        identity=torch.full((4, 1), identity),
        position=torch.tensor(corners).unsqueeze(1),
        rotation=torch.full((4, 1), math.pi / 4),  # a cube at its widest
        present=torch.ones(4, 1, dtype=torch.bool),
    )
    coverage = render_objects(batch, size=32).coverage[:, 0]
    border = torch.cat([coverage[:, 0], coverage[:, -1], coverage[:, :, 0], coverage[:, :, -1]], 1)
    assert border.max() < 0.02
    assert (coverage.flatten(1).max(1).values > 0.99).all()


def test_a_cube_looks_the_same_turned_by_a_right_angle_and_not_by_half_of_one():
    image = render(scene([CUBE], [[0.4, -0.3]], [0.3]))
    turned = render(scene([CUBE], [[0.4, -0.3]], [0.3 + math.pi / 2]))
    half = render(scene([CUBE], [[0.4, -0.3]], [0.3 + math.pi / 4]))
    assert (image - turned).abs().max() < 1e-4
    assert (image - half).abs().max() > 0.2


@pytest.mark.parametrize("identity", [SPHERE, CYLINDER])
def test_a_sphere_or_cylinder_looks_the_same_at_any_rotation(identity):
    images = render(
        Scene(
            identity=torch.full((4, 1), identity),
            position=torch.tensor([[[-0.5, 0.8]]], dtype=F64).expand(4, 1, 2),
            rotation=torch.tensor([[0.0], [0.7], [2.0], [-2.9]], dtype=F64),
            present=torch.ones(4, 1, dtype=torch.bool),
        )
    )
    assert images[0].max() > 0.5
    # Not exactly: the normals' finite differences turn with the object, which tells apart at a
    # grazing ray's nearest point on a cylinder's rim.
    assert (images - images[:1]).abs().max() < 1e-3


@pytest.mark.parametrize("background", [0.0, 0.3])
def test_an_empty_scene_is_the_background(background):
    empty = scene([CUBE, SPHERE], [[0.0, 0.0], [1.0, 1.0]], [0.0, 0.0], [False, False])
    image = render(empty, background=background)
    assert image.shape == (1, 1, 32, 32)
    assert torch.equal(image, torch.full_like(image, background))


def test_layers_are_laid_front_to_back_by_depth_at_each_pixel():
    # Two pixels, two half-covering layers of shades 1 and 0.2: where the first is nearer,
    # I = 0.5 * 1 + 0.5 * (0.5 * 0.2) + 0.25 * background, and the other way round where not.
    layers = ObjectLayers(
        coverage=torch.full((1, 2, 1, 2), 0.5),
        shade=torch.tensor([1.0, 0.2]).view(1, 2, 1, 1).expand(1, 2, 1, 2),
        depth=torch.tensor([[1.0, 3.0], [2.0, 2.0]]).view(1, 2, 1, 2),
    )
    image = composite(layers, background=0.4)
    assert image.shape == (1, 1, 1, 2)
    assert image.flatten().tolist() == pytest.approx([0.5 + 0.05 + 0.1, 0.1 + 0.25 + 0.1])


def test_a_batch_renders_each_scene_as_if_alone():
    generator = torch.Generator().manual_seed(0)
    batch = Scene(
        identity=torch.randint(0, 3, (5, 3), generator=generator),
        position=torch.rand(5, 3, 2, generator=generator, dtype=F64) * 3 - 1.5,
        rotation=torch.rand(5, 3, generator=generator, dtype=F64) * 2 * math.pi,
        present=torch.rand(5, 3, generator=generator) < 0.7,
    )
    images = render(batch, background=0.1)
    for b in range(5):
        alone = Scene(
            batch.identity[b : b + 1],
            batch.position[b : b + 1],
            batch.rotation[b : b + 1],
            batch.present[b : b + 1],
        )
        assert torch.allclose(images[b : b + 1], render(alone, background=0.1), atol=1e-12)
    assert (images.flatten(1).max(1).values > 0.5).sum() >= 4  # scenes with something in them


def test_a_nearer_object_hides_a_farther_one_whatever_their_order():
    near, far = ([SPHERE, [0.0, -0.55], 0.0], [CUBE, [0.1, 0.5], 0.0])  # the sphere before the cube

    def draw(*each):
        return render(objects(*each), temperature=0.01)[:, 0]

    layers = render_objects(objects(near, far), temperature=0.01)
    both = (layers.coverage > 0.99).all(1)  # (1, H, W) where each would cover the pixel alone
    assert both.sum() >= 4
    image, sphere_alone, cube_alone = draw(near, far), draw(near), draw(far)
    assert torch.allclose(image, draw(far, near), atol=1e-12)
    assert torch.allclose(image[both], sphere_alone[both], atol=1e-2)
    assert (image[both] - cube_alone[both]).abs().max() > 0.1  # the cube's shade is another


def test_two_objects_apart_are_each_drawn_as_if_alone():
    pair = [CUBE, [-1.0, 0.2], 0.5], [CYLINDER, [1.0, -0.4], 0.0]
    both = render(objects(*pair))
    first = render(objects(*pair, present=[True, False]))
    second = render(objects(*pair, present=[False, True]))
    assert first.max() > 0.5 and second.max() > 0.5
    assert (first * second).max() < 1e-6  # they do not overlap
    assert torch.allclose(both, first + second, atol=1e-6)  # the background is 0


def test_the_identity_picks_the_shape():
    images = [render(one(identity, 0.3, 0.2, 0.4)) for identity in (CUBE, SPHERE, CYLINDER)]
    for a in range(3):
        for b in range(a):
            assert (images[a] - images[b]).abs().max() > 0.2


def test_hard_coverage_is_the_scenes_signed_distance_traced_from_the_camera():
    # The scene's distance is the least of its objects'; sphere tracing it from the eye (t <- t +
    # f, as many steps as it takes) meets the first surface. The renderer's layers, with coverage
    # near 0 or 1 (a small temperature), must agree with it off the edges: where a ray hits, and
    # the nearest layer's depth.
    trio = scene([SPHERE, CUBE, CYLINDER], [[0.0, -0.6], [0.1, 0.5], [0.9, 0.1]], [0.0, 0.4, 1.0])
    size, eye_rays = 24, camera_rays(Camera(), size=24, dtype=F64)
    eye, rays = eye_rays
    centres = torch.cat(
        [trio.position[0, :, :1], torch.full((3, 1), 0.5, dtype=F64), trio.position[0, :, 1:]], 1
    )
    cos, sin = trio.rotation[0].cos(), trio.rotation[0].sin()
    shapes = shape_parameters(trio.identity[0], dtype=F64)

    def union(points):  # (P, 3) -> (P,): the least distance over the objects
        d = points[:, None, :] - centres  # (P, 3 objects, 3) world offsets, turned by -theta
        local = torch.stack(
            [d[..., 0] * cos + d[..., 2] * sin, d[..., 1], d[..., 2] * cos - d[..., 0] * sin], -1
        )
        return signed_distance(local, shapes).min(1).values

    t = torch.zeros(size * size, dtype=F64)
    for _ in range(300):
        t = t + union(eye + t[:, None] * rays).clamp(max=20.0)
    traced_hit = (union(eye + t[:, None] * rays) < 1e-4) & (t < 20)

    sharp = render_objects(trio, size=size, temperature=1e-3)
    edge = render_objects(trio, size=size, temperature=0.01).coverage
    away_from_edges = ((edge < 0.02) | (edge > 0.98)).all(1).flatten()
    hit = (sharp.coverage > 0.5).any(1).flatten()
    assert away_from_edges.sum() > 0.8 * size * size and traced_hit.sum() > 30
    assert torch.equal(hit[away_from_edges], traced_hit[away_from_edges])
    nearest = torch.where(sharp.coverage > 0.5, sharp.depth, math.inf).amin(1).flatten()
    both = away_from_edges & hit
    assert torch.allclose(nearest[both], t[both], atol=1e-4)


def test_gradients_are_finite_in_float32_even_where_objects_overlap():
    batch = scene(
        [CUBE, SPHERE, CYLINDER],
        [[0.0, -0.3], [0.2, 0.3], [-0.3, 0.4]],
        [0.3, 0.0, 1.0],
        dtype=torch.float32,
    )
    position, rotation = batch.position.requires_grad_(), batch.rotation.requires_grad_()
    (render(batch, temperature=1e-3) * torch.rand(1, 1, 32, 32)).sum().backward()
    assert torch.isfinite(position.grad).all() and torch.isfinite(rotation.grad).all()
    assert position.grad.abs().min() > 0


def _gradients(batch, weights, *, h=1e-5):
    """(autograd, central differences, the differences' L1 scale), each over (x, z, theta) of
    every object: d/dpose sum(weights * image), in float64, with searches precise to ~1e-8."""

    def loss(position, rotation):
        image = render(Scene(batch.identity, position, rotation, batch.present), steps=40)
        return image * weights

    position = batch.position.clone().requires_grad_()
    rotation = batch.rotation.clone().requires_grad_()
    loss(position, rotation).sum().backward()
    autograd = torch.cat([position.grad, rotation.grad.unsqueeze(-1)], -1).flatten()
    pose = torch.cat([batch.position, batch.rotation.unsqueeze(-1)], -1).flatten()
    differences, scale = [], []
    for k in range(pose.numel()):
        step = torch.zeros_like(pose)
        step[k] = h
        plus, minus = ((pose + s).view(*batch.position.shape[:2], 3) for s in (step, -step))
        change = loss(plus[..., :2], plus[..., 2]) - loss(minus[..., :2], minus[..., 2])
        differences.append(change.sum() / (2 * h))
        scale.append(change.abs().sum() / (2 * h))
    return autograd, torch.stack(differences), torch.stack(scale)


def test_a_spheres_gradients_are_exact():
    batch = scene([SPHERE, SPHERE], [[-0.7, 0.2], [0.6, -0.5]], [0.0, 0.0])
    weights = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0), dtype=F64)
    autograd, differences, scale = _gradients(batch, weights)
    assert scale[[0, 1, 3, 4]].min() > 1  # x and z of each move the image
    assert torch.allclose(autograd, differences, rtol=1e-4, atol=1e-4)


def test_gradients_agree_with_finite_differences_of_the_image_sum():
    # A cube, a sphere and a cylinder, the sphere in front of part of the cylinder. Inside the
    # silhouettes the gradient is exact, but for the finite differences along the ray that find
    # the kinks of f and the normals; a ray that grazes a cube's or cylinder's edge is shaded by a
    # normal that swings with the pose faster than those differences follow, so the sum agrees to
    # within 2% of the pixels' total sensitivity, sum |d pixel / d pose|, not exactly.
    batch = scene(
        [CUBE, SPHERE, CYLINDER], [[-0.8, -0.3], [0.3, -0.5], [0.6, 0.4]], [0.3, 0.0, -0.7]
    )
    hidden = (render_objects(batch).coverage[:, 1:] > 0.5).all(1)  # the sphere before the cylinder
    assert hidden.any()
    autograd, differences, scale = _gradients(batch, torch.ones(1, 1, 32, 32, dtype=F64))
    assert torch.isfinite(autograd).all()
    moves = torch.tensor([True] * 5 + [False] + [True] * 2 + [False])  # not round ones turning
    assert scale[moves].min() > 5
    assert ((autograd - differences).abs() <= 0.02 * scale + 1e-3).all()
