"""The spatial transformer's grid and sampler: known crops and pastes on hand-made images,
inverses, outlines in pixels, gradients against finite differences, and batching.

Images are float64 so that "exactly" can mean "to 1e-9", far below the step of 1 between the
distinct pixels of a ramp: the only error left is the rounding of the grid's coordinates."""

import pytest
import torch
import torch.nn.functional as F

from foveate.attention.transformer import (
    affine_warp,
    crop,
    grid_corners,
    identity_theta,
    inverse_window,
    paste,
    window_theta,
)

F64 = torch.float64


def ramp(h=8, w=8):
    """An image whose pixel (row r, col c) holds 1 + r * w + c: every pixel is distinct."""
    return (torch.arange(h * w, dtype=F64) + 1).view(1, 1, h, w)


def same(a, b):
    """Equal but for the rounding of grid coordinates."""
    return a.shape == b.shape and torch.allclose(a, b, rtol=0, atol=1e-9)


def blob(size, *, sigma):
    """A smooth object: a centred Gaussian bump of peak ~1, (1, 1, size, size)."""
    u = torch.arange(size, dtype=F64) - (size - 1) / 2
    g = torch.exp(-(u**2) / (2 * sigma**2))
    return (g[:, None] * g[None, :])[None, None]


def z(s, x, y):
    """A batch of one window z_where = (s, x, y)."""
    return torch.tensor([[s, x, y]], dtype=F64)


def as_3x3(theta):
    """(B, 2, 3) -> (B, 3, 3) homogeneous matrices, so that maps compose by matmul."""
    bottom = theta.new_tensor([0.0, 0.0, 1.0]).expand(theta.shape[0], 1, 3)
    return torch.cat([theta, bottom], -2)


# --- crop: which pixels a window reads ----------------------------------------------------------


@pytest.mark.parametrize(
    "where, rows, cols",
    [
        ((0.5, -0.5, -0.5), slice(0, 4), slice(0, 4)),  # top-left quadrant
        ((0.5, 0.5, -0.5), slice(0, 4), slice(4, 8)),  # top-right: x is horizontal
        ((0.5, -0.5, 0.5), slice(4, 8), slice(0, 4)),  # bottom-left: y is vertical
        ((0.5, 0.5, 0.5), slice(4, 8), slice(4, 8)),
        ((0.25, 0.0, 0.0), slice(3, 5), slice(3, 5)),  # the middle 2x2
        ((0.25, 0.75, -0.75), slice(0, 2), slice(6, 8)),  # the top-right 2x2
        ((1.0, 0.0, 0.0), slice(0, 8), slice(0, 8)),  # s = 1 spans the whole image
    ],
)
def test_pixel_aligned_window_crops_exactly_its_pixels(where, rows, cols):
    image = ramp()
    expected = image[0, 0, rows, cols]
    assert same(crop(image, z(*where), size=expected.shape[0])[0, 0], expected)


def test_window_on_a_wide_image_spans_half_its_width_and_half_its_height():
    # On 8 x 16 pixels, s = 0.5 at (-0.5, -0.5) is rows 0..3 and columns 0..7; read at 4 x 4,
    # each output pixel falls midway between two columns, so bilinear sampling averages them.
    image = ramp(8, 16)
    patch = crop(image, z(0.5, -0.5, -0.5), size=4)
    assert same(patch, F.avg_pool2d(image[..., :4, :8], (1, 2)))
    patch = crop(image, z(0.5, 0.5, 0.5), size=4)
    assert same(patch, F.avg_pool2d(image[..., 4:, 8:], (1, 2)))


def test_affine_warp_to_a_non_square_size_reads_a_quadrant_exactly():
    image = ramp(6, 10)
    theta = torch.tensor([[[0.5, 0.0, 0.5], [0.0, 0.5, 0.5]]], dtype=F64)
    assert same(affine_warp(image, theta, size=(3, 5)), image[..., 3:, 5:])  # bottom-right
    theta = torch.tensor([[[0.5, 0.0, 0.5], [0.0, 0.5, -0.5]]], dtype=F64)
    assert same(affine_warp(image, theta, size=(3, 5)), image[..., :3, 5:])  # top-right


def test_window_half_outside_reads_zeros_there():
    image = ramp()
    patch = crop(image, z(0.5, -1.0, -1.0), size=4)[0, 0]  # centred on the top-left corner
    expected = torch.zeros(4, 4, dtype=F64)
    expected[2:, 2:] = image[0, 0, :2, :2]
    assert same(patch, expected)
    assert crop(image, z(0.5, 3.0, 0.0), size=4).abs().sum() == 0  # wholly outside


def test_flipping_theta_mirrors_the_image():
    image = ramp(5, 7)
    theta = torch.tensor([[[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]], dtype=F64)  # x -> -x
    assert same(affine_warp(image, theta, size=(5, 7)), image.flip(-1))


@pytest.mark.parametrize("height, width", [(8, 8), (6, 10), (10, 6), (7, 5), (28, 28)])
def test_identity_theta_returns_the_image(height, width):
    image = ramp(height, width)
    theta = identity_theta(1, dtype=F64)
    assert theta.tolist() == [[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]
    assert same(affine_warp(image, theta, size=(height, width)), image)


def test_identity_theta_is_a_fresh_batch():
    theta = identity_theta(3)
    assert theta.shape == (3, 2, 3) and theta.dtype == torch.float32
    theta[0, 0, 0] = 5.0  # a clone, not a view of one shared eye
    assert theta[1, 0, 0] == 1.0


# --- paste: where an object lands -----------------------------------------------------------------


def test_pixel_aligned_paste_writes_the_object_into_its_quadrant_and_zeros_elsewhere():
    g = torch.Generator().manual_seed(0)
    obj = torch.rand(1, 2, 4, 4, generator=g, dtype=F64)
    canvas = paste(obj, z(0.5, 0.5, -0.5), height=8, width=8)  # top-right quadrant
    expected = torch.zeros(1, 2, 8, 8, dtype=F64)
    expected[..., :4, 4:] = obj
    assert same(canvas, expected)


@pytest.mark.parametrize(
    "where, side",
    [((0.5, -0.5, -0.5), 8), ((0.25, 0.25, -0.75), 16), ((0.5, 0.5, 0.5), 8), ((1.0, 0, 0), 4)],
)
def test_crop_inverts_paste_for_pixel_aligned_windows(where, side):
    # Aligned: one object pixel per canvas pixel, on the canvas's pixel grid.
    g = torch.Generator().manual_seed(1)
    obj = torch.rand(3, 1, 4, 4, generator=g, dtype=F64)
    windows = z(*where).expand(3, 3)
    canvas = paste(obj, windows, height=side, width=side)
    assert same(crop(canvas, windows, size=4), obj)
    assert same(canvas.sum((-1, -2)), obj.sum((-1, -2)))  # nothing written elsewhere


def test_crop_inverts_paste_approximately_for_any_window():
    obj = blob(16, sigma=3.0)
    windows = torch.tensor([[0.37, 0.21, -0.13], [0.6, -0.3, 0.33], [0.45, 0.05, 0.5]], dtype=F64)
    canvas = paste(obj.expand(3, 1, 16, 16), windows, height=64, width=64)
    back = crop(canvas, windows, size=16)
    assert (back - obj).abs().max() < 0.05  # two bilinear resamplings of a bump of peak 1
    # The control: a window off by a few pixels reads something clearly different.
    shifted = windows + torch.tensor([0.0, 0.1, 0.0], dtype=F64)
    assert (crop(canvas, shifted, size=16) - obj).abs().amax((1, 2, 3)).min() > 0.2


def test_paste_keeps_the_mass_and_centres_it_on_the_window():
    obj = torch.ones(1, 1, 4, 4, dtype=F64)
    s, x, y = 0.25, 0.3, -0.2
    height, width = 32, 48
    canvas = paste(obj, z(s, x, y), height=height, width=width)[0, 0]
    # The window spans s W = 12 by s H = 8 pixels: an object of ones fills that area.
    assert canvas.sum().item() == pytest.approx(s * width * s * height, rel=1e-9)
    rows, cols = torch.meshgrid(
        torch.arange(height, dtype=F64) + 0.5, torch.arange(width, dtype=F64) + 0.5, indexing="ij"
    )  # pixel centres
    centre_x = (canvas * cols).sum() / canvas.sum()
    centre_y = (canvas * rows).sum() / canvas.sum()
    assert centre_x.item() == pytest.approx((x + 1) / 2 * width, abs=1e-9)  # 31.2
    assert centre_y.item() == pytest.approx((y + 1) / 2 * height, abs=1e-9)  # 12.8


def test_paste_is_zero_beyond_half_an_object_pixel_outside_the_window():
    # Bilinear sampling fades the object's edge pixels into the zero padding over one object
    # pixel, so the pasted object reaches half an object pixel past the window, and no further.
    g = torch.Generator().manual_seed(2)
    obj = torch.rand(1, 1, 4, 4, generator=g, dtype=F64) + 0.5  # no zero pixels of its own
    s, x, y = 0.25, 0.3, -0.2
    height, width = 32, 48
    canvas = paste(obj, z(s, x, y), height=height, width=width)[0, 0]
    box = grid_corners(window_theta(z(s, x, y)), height=height, width=width)[0]
    (left, top), (right, bottom) = box[0].tolist(), box[2].tolist()  # 25.2..37.2, 8.8..16.8
    half_x, half_y = s * width / 4 / 2, s * height / 4 / 2  # half an object pixel, in pixels
    centres_x, centres_y = torch.arange(width) + 0.5, torch.arange(height) + 0.5
    near_x = (centres_x > left - half_x) & (centres_x < right + half_x)
    near_y = (centres_y > top - half_y) & (centres_y < bottom + half_y)
    assert (canvas[~(near_y[:, None] & near_x[None, :])] == 0).all()
    inside_x = (centres_x > left + half_x) & (centres_x < right - half_x)
    inside_y = (centres_y > top + half_y) & (centres_y < bottom - half_y)
    assert (canvas[inside_y[:, None] & inside_x[None, :]] >= 0.5).all()


# --- the inverse window and the outlines ----------------------------------------------------------


def test_inverse_window_composed_with_the_window_is_the_identity():
    g = torch.Generator().manual_seed(3)
    scale = torch.rand(5, 1, generator=g, dtype=F64) + 0.2
    windows = torch.cat([scale, torch.rand(5, 2, generator=g, dtype=F64) * 2 - 1], -1)
    forward = as_3x3(window_theta(windows))
    backward = as_3x3(window_theta(inverse_window(windows)))
    eye = torch.eye(3, dtype=F64).expand(5, 3, 3)
    assert torch.allclose(forward @ backward, eye, atol=1e-12)
    assert torch.allclose(backward @ forward, eye, atol=1e-12)
    assert torch.allclose(inverse_window(inverse_window(windows)), windows, atol=1e-12)


def test_inverse_window_known_answer():
    # p = 0.5 q + (0.2, -0.4)  <=>  q = 2 p + (-0.4, 0.8)
    assert same(inverse_window(z(0.5, 0.2, -0.4)), z(2.0, -0.4, 0.8))


def test_window_theta_layout():
    expected = torch.tensor([[[0.3, 0.0, 0.1], [0.0, 0.3, -0.2]]], dtype=F64)
    assert torch.equal(window_theta(z(0.3, 0.1, -0.2)), expected)


def test_grid_corners_of_the_identity_are_the_image_corners():
    corners = grid_corners(identity_theta(2), height=6, width=10)
    assert corners.shape == (2, 4, 2)
    assert corners[1].tolist() == [[0.0, 0.0], [10.0, 0.0], [10.0, 6.0], [0.0, 6.0]]


def test_grid_corners_of_a_window_are_its_pixel_box():
    theta = window_theta(torch.tensor([[0.5, -0.5, -0.5], [0.25, 0.5, 0.25]]))
    corners = grid_corners(theta, height=8, width=16)
    assert corners[0].tolist() == [[0.0, 0.0], [8.0, 0.0], [8.0, 4.0], [0.0, 4.0]]
    # s = 0.25 at (0.5, 0.25): x in [0.25, 0.75] -> [10, 14], y in [0, 0.5] -> [4, 6].
    assert corners[1].tolist() == [[10.0, 4.0], [14.0, 4.0], [14.0, 6.0], [10.0, 6.0]]


def test_grid_corners_follow_a_rotation_and_extra_batch_dimensions():
    # A quarter turn: output (x, y) reads input (-y, x), so the output's top-left corner
    # (-1, -1) lands on the input's top-right corner (1, -1).
    theta = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]).expand(2, 3, 2, 3)
    corners = grid_corners(theta, height=4, width=6)
    assert corners.shape == (2, 3, 4, 2)
    assert corners[1, 2].tolist() == [[6.0, 0.0], [6.0, 4.0], [0.0, 4.0], [0.0, 0.0]]


# --- gradients ------------------------------------------------------------------------------------


def test_crop_gradient_known_answer_on_a_ramp():
    # On a ramp that rises by one per column, moving the window right by dx (normalised) moves
    # every sample by W dx / 2 pixels: d mean(crop) / dx = W / 2, and nothing for y or s
    # (the samples spread symmetrically about the centre).
    width = 12
    image = torch.arange(width, dtype=F64).expand(1, 1, 10, width)
    windows = z(0.4, 0.13, -0.07).requires_grad_(True)
    crop(image, windows, size=5).mean().backward()
    assert windows.grad[0].tolist() == pytest.approx([0.0, width / 2, 0.0], abs=1e-9)


def test_crop_gradcheck_wrt_window_and_image():
    g = torch.Generator().manual_seed(4)
    images = torch.rand(2, 2, 6, 7, generator=g, dtype=F64, requires_grad=True)
    windows = torch.tensor([[0.61, 0.13, -0.21], [0.43, -0.37, 0.29]], dtype=F64)
    windows.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda i, w: crop(i, w, size=3), (images, windows))


def test_paste_gradcheck_wrt_window_and_object():
    g = torch.Generator().manual_seed(5)
    objects = torch.rand(2, 1, 3, 3, generator=g, dtype=F64, requires_grad=True)
    windows = torch.tensor([[0.53, 0.11, -0.23], [0.71, -0.19, 0.17]], dtype=F64)
    windows.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda o, w: paste(o, w, height=6, width=7), (objects, windows))


def test_affine_warp_gradcheck_wrt_theta_and_images():
    g = torch.Generator().manual_seed(6)
    images = torch.rand(2, 1, 5, 6, generator=g, dtype=F64, requires_grad=True)
    theta = torch.tensor(
        [[[0.71, 0.13, 0.07], [-0.11, 0.83, -0.19]], [[0.52, -0.21, -0.13], [0.17, 0.61, 0.23]]],
        dtype=F64,
        requires_grad=True,
    )
    assert torch.autograd.gradcheck(lambda i, t: affine_warp(i, t, size=(4, 3)), (images, theta))


# --- batching and bad input -----------------------------------------------------------------------


def random_windows(g, batch):
    scale = torch.rand(batch, 1, generator=g) * 0.8 + 0.2
    centre = torch.rand(batch, 2, generator=g) * 2.4 - 1.2
    return torch.cat([scale, centre], -1)


def test_batched_crop_and_paste_agree_with_per_sample_calls():
    g = torch.Generator().manual_seed(7)
    windows = random_windows(g, 5)
    images = torch.rand(5, 2, 12, 15, generator=g)
    crops = crop(images, windows, size=6)
    assert crops.shape == (5, 2, 6, 6)
    for b in range(5):
        one = crop(images[b : b + 1], windows[b : b + 1], size=6)
        assert torch.allclose(crops[b : b + 1], one, rtol=0, atol=1e-6)
    objects = torch.rand(5, 2, 4, 4, generator=g)
    canvases = paste(objects, windows, height=12, width=15)
    assert canvases.shape == (5, 2, 12, 15)
    for b in range(5):
        one = paste(objects[b : b + 1], windows[b : b + 1], height=12, width=15)
        assert torch.allclose(canvases[b : b + 1], one, rtol=0, atol=1e-6)
    # The control: each sample's own window matters (a shared one would read the same place).
    shared = crop(images, windows[:1].expand(5, 3), size=6)
    assert not torch.allclose(crops[1:], shared[1:], atol=1e-3)


def test_batched_affine_warp_agrees_with_per_sample_calls():
    g = torch.Generator().manual_seed(8)
    images = torch.rand(4, 3, 9, 11, generator=g)
    theta = identity_theta(4) + 0.3 * torch.randn(4, 2, 3, generator=g)
    out = affine_warp(images, theta, size=(5, 7))
    assert out.shape == (4, 3, 5, 7)
    for b in range(4):
        one = affine_warp(images[b : b + 1], theta[b : b + 1], size=(5, 7))
        assert torch.allclose(out[b : b + 1], one, rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", [(2, 3, 3), (3, 2, 3), (1, 2, 3), (2, 6), (2, 3)])
def test_wrong_theta_shape_is_refused(shape):
    with pytest.raises(ValueError, match="theta must be"):
        affine_warp(torch.zeros(2, 1, 8, 8), torch.zeros(shape), size=(4, 4))
