"""DRAW's Gaussian filterbank against the paper's equations, on hand-made images."""

import math

import pytest
import torch

from foveate.attention.filterbank import (
    GaussianWindow,
    covering_params,
    filterbanks,
    keep_on_image,
    read,
    window_from_params,
    write,
)

SHARP = 1e-4  # a variance so small that each filter is one pixel


def window(centre, stride, *, size, variance=SHARP, intensity=1.0):
    """A batch-of-one window in 1-based pixel units."""
    return GaussianWindow(
        centre=torch.tensor([centre], dtype=torch.float64),
        stride=torch.tensor([stride], dtype=torch.float64),
        variance=torch.tensor([variance], dtype=torch.float64),
        intensity=torch.tensor([intensity], dtype=torch.float64),
        size=size,
    )


def params(g_x=0.0, g_y=0.0, variance=SHARP, stride=1.0, intensity=1.0):
    values = [g_x, g_y, math.log(variance), math.log(stride), math.log(intensity)]
    return torch.tensor([values], dtype=torch.float64)


def test_window_follows_eq_22_to_24():
    w = window_from_params(params(0.5, -1.0, 2.0, 0.5, 3.0), height=20, width=30, size=5)
    assert w.centre.tolist() == [[31 / 2 * 1.5, 0.0]]  # gX = (A+1)/2 (g~X+1), gY = (B+1)/2 (g~Y+1)
    assert w.stride.item() == pytest.approx(
        (30 - 1) / (5 - 1) * 0.5
    )  # delta = (max(A,B)-1)/(N-1) delta~
    assert w.variance.item() == pytest.approx(2.0)
    assert w.intensity.item() == pytest.approx(3.0)
    mu_x, mu_y = w.filter_centres()  # mu_i = g + (i - N/2 - 0.5) delta, eq. 19, 20
    expected = [15.5 * 1.5 + (i - 2.5 - 0.5) * w.stride.item() for i in range(1, 6)]
    assert mu_x[0].tolist() == pytest.approx(expected)


def test_one_filter_is_the_normalised_gaussian_of_eq_25():
    # One filter at the middle pixel of 3 (gX = 2), sigma^2 = 1: weights exp(-(a - 2)^2 / 2) / Z.
    f_x, f_y = filterbanks(window([2.0, 2.0], 1.0, size=1, variance=1.0), height=3, width=3)
    raw = torch.tensor([math.exp(-0.5), 1.0, math.exp(-0.5)], dtype=torch.float64)
    assert torch.allclose(f_x[0, 0], raw / raw.sum())
    assert torch.allclose(f_y, f_x)


def test_rows_sum_to_one_even_far_outside_the_image():
    w = window([500.0, -300.0], 2.0, size=4, variance=0.01)
    f_x, f_y = filterbanks(w, height=10, width=12)
    assert f_x.shape == (1, 4, 12) and f_y.shape == (1, 4, 10)
    assert torch.allclose(f_x.sum(-1), torch.ones(1, 4, dtype=torch.float64))
    assert torch.isfinite(f_y).all()


@pytest.mark.parametrize("height, width", [(7, 7), (5, 9), (9, 5)])
def test_identity_like_bank_reproduces_the_image(height, width):
    # N = A = B with g~ = 0 and delta~ = 1 puts one sharp filter on every pixel.
    size = max(height, width)
    image = torch.rand(1, 1, height, width, dtype=torch.float64)
    w = window_from_params(params(), height=size, width=size, size=size)
    padded = torch.zeros(1, 1, size, size, dtype=torch.float64)
    padded[..., :height, :width] = image
    assert torch.allclose(read(padded, w), padded, atol=1e-6)


def test_small_patch_reads_the_expected_pixels():
    image = torch.arange(1.0, 1 + 8 * 10, dtype=torch.float64).view(1, 1, 8, 10)  # B=8, A=10
    # Two sharp filters per side, stride 3, centred between columns 5 and 8 and rows 2 and 5
    # (1-based): they read pixels (row, col) = (2, 5), (2, 8), (5, 5), (5, 8).
    patch = read(image, window([6.5, 3.5], 3.0, size=2, intensity=2.0))
    pixel = lambda row, col: image[0, 0, row - 1, col - 1].item()  # noqa: E731
    expected = [[pixel(2, 5), pixel(2, 8)], [pixel(5, 5), pixel(5, 8)]]
    assert patch.shape == (1, 1, 2, 2)
    assert torch.allclose(patch[0, 0], 2.0 * torch.tensor(expected, dtype=torch.float64))


def test_read_after_write_round_trips_on_a_patch():
    patch = torch.rand(3, 2, 4, 4, dtype=torch.float64)  # batch of 3, 2 channels
    # Centre (12.5, 8.5), stride 3: filters on columns 8, 11, 14, 17 and rows 4, 7, 10, 13.
    p = params(variance=0.02, stride=3 * 3 / 23, intensity=1.5).expand(3, 5)
    w = window_from_params(p, height=16, width=24, size=4)
    assert w.filter_centres()[0][0].tolist() == pytest.approx([8, 11, 14, 17])
    canvas = write(patch, w, height=16, width=24)
    assert canvas.shape == (3, 2, 16, 24)
    assert torch.allclose(read(canvas, w), patch, atol=1e-6)
    # write puts the patch, divided by gamma, on the pixels that read takes it from
    assert canvas.sum().item() == pytest.approx(patch.sum().item() / w.intensity[0].item())


def test_non_square_images_and_batched_windows():
    batch, height, width, size = 5, 12, 30, 3
    images = torch.rand(batch, 1, height, width)
    w = window_from_params(torch.randn(batch, 5), height=height, width=width, size=size)
    f_x, f_y = filterbanks(w, height=height, width=width)
    assert f_x.shape == (batch, size, width) and f_y.shape == (batch, size, height)
    patches = read(images, w)
    assert patches.shape == (batch, 1, size, size)
    # batched equals one image at a time
    for n in range(batch):
        one = GaussianWindow(
            w.centre[n : n + 1],
            w.stride[n : n + 1],
            w.variance[n : n + 1],
            w.intensity[n : n + 1],
            size,
        )
        assert torch.allclose(read(images[n : n + 1], one), patches[n : n + 1], atol=1e-6)
    assert write(patches, w, height=height, width=width).shape == (batch, 1, height, width)


def test_gradients_reach_all_five_parameters():
    p = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
    images = torch.rand(2, 1, 9, 11, dtype=torch.float64)
    w = window_from_params(p, height=9, width=11, size=3)
    (
        read(images, w).sum()
        + write(torch.rand(2, 1, 3, 3, dtype=torch.float64), w, height=9, width=11).sum()
    ).backward()
    assert (p.grad.abs() > 0).all()
    torch.autograd.gradcheck(
        lambda q: read(images, window_from_params(q, height=9, width=11, size=3)), (p,)
    )


def test_box_of_the_identity_window_is_the_whole_image():
    w = window_from_params(params(), height=6, width=6, size=6)
    assert w.boxes()[0].tolist() == pytest.approx([0.0, 0.0, 6.0, 6.0])


@pytest.mark.parametrize(
    "size, height, width", [(2, 28, 28), (5, 28, 28), (12, 100, 100), (3, 20, 36)]
)
def test_covering_window_sees_every_pixel(size, height, width):
    """The starting window: centred, the outer filters on the border pixels, sigma = stride / 2."""
    p = covering_params(height=height, width=width, size=size)
    w = window_from_params(p[None], height=height, width=width, size=size)
    stride = (max(height, width) - 1) / (size - 1)
    assert w.centre[0].tolist() == pytest.approx([(width + 1) / 2, (height + 1) / 2])
    assert w.stride.item() == pytest.approx(stride)
    assert w.variance.item() == pytest.approx((stride / 2) ** 2, rel=1e-5)
    f_x, f_y = filterbanks(w, height=height, width=width)
    # Every pixel gets a real share of some filter: none lies in a blind gap between them.
    for bank in (f_x[0], f_y[0]):
        assert bank.max(0).values.min() > 0.1 * bank.max()


def test_keep_on_image_holds_the_centre_on_the_image_and_bounds_gamma():
    far = torch.tensor([[40.0, -40.0, 1.5, -0.5, 9.0], [0.0, 0.0, 1.5, -0.5, 0.0]])
    bounded = keep_on_image(far)
    window = window_from_params(bounded, height=100, width=60, size=12)
    # gX in [0, A + 1]: never more than one pixel beyond the image's outer pixel centres.
    assert (window.centre >= 0).all()
    assert (window.centre[:, 0] <= 61).all() and (window.centre[:, 1] <= 101).all()
    assert (window.intensity < math.exp(2)).all() and window.intensity[0] > math.exp(1.9)
    # Variance and stride pass through, and at 0, where windows start, nothing changes.
    assert torch.equal(bounded[:, 2:4], far[:, 2:4])
    assert torch.equal(bounded[1], far[1])
    # Near 0 the map is the identity to first order: the gradient of a small offset is 1.
    small = torch.full((1, 5), 1e-3, dtype=torch.float64, requires_grad=True)
    keep_on_image(small).sum().backward()
    assert torch.allclose(small.grad, torch.ones_like(small), atol=1e-5)


def test_keep_on_image_floors_the_variance_only_when_asked():
    log_variances = torch.tensor([-20.0, math.log(0.25), math.log(19.0)])
    raw = torch.zeros(3, 5)
    raw[:, 2] = log_variances
    assert torch.equal(keep_on_image(raw)[:, 2], log_variances)
    variance = keep_on_image(raw, min_variance=0.25)[:, 2].exp()
    # sigma^2 + v: from nearly 0 to v; v to 2v; the covering start of a 12 x 12 grid on
    # 100 x 100 (about 19) hardly changes.
    assert variance[0] == pytest.approx(0.25, rel=1e-6)
    assert variance[1] == pytest.approx(0.5, rel=1e-6)
    assert variance[2] == pytest.approx(19.0 + 0.25, rel=1e-3)
