"""The spatial transformer: differentiable sampling of an image through an affine grid.

Jaderberg, Simonyan, Zisserman, Kavukcuoglu, "Spatial Transformer Networks", NIPS 2015 ([1]),
sec. 3: a localisation network predicts theta; the grid generator maps each point of a regular
output grid G_i = (x^t_i, y^t_i) to the source point (x^s_i, y^s_i) = theta (x^t_i, y^t_i, 1)^T
(eq. 1); the sampler reads the input there, bilinearly (eq. 5), so gradients reach theta
(eq. 6, 7). ``F.affine_grid`` is the grid generator and ``F.grid_sample`` the sampler.

Coordinates are normalised as everywhere in foveate (and in ``F.affine_grid`` with
``align_corners=False``): x runs left to right, y top to bottom, (-1, -1) is the outer top-left
corner of the image and (1, 1) the outer bottom-right one. Pixels outside read as zeros.

The attention window of AIR (Eslami et al., NIPS 2016) is the special case of a square window
without rotation, z_where = (s, x, y): a window centred at (x, y) whose half-width is s in
normalised units (s = 1 spans the whole image). ``crop`` reads such a window out of an image
(AIR's encoder side), ``paste`` writes an object back into a canvas (its decoder side); they are
each other's inverse transform.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

CORNERS = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))  # TL, TR, BR, BL of a grid


def affine_warp(images: Tensor, theta: Tensor, *, size: tuple[int, int]) -> Tensor:
    """Sample images through the affine grid theta ([1] eq. 1 and 5).

    Args:
        images: (B, C, H, W) the input U.
        theta: (B, 2, 3) A_theta, mapping output (target) coordinates to input (source) ones.
        size: (h, w) of the output V.

    Returns:
        (B, C, h, w) V, of the images' dtype; zeros where the grid falls outside the image.
    """
    if images.dim() != 4 or min(images.shape[1:]) < 1:
        raise ValueError(f"images must be (B, C, H, W), C, H, W >= 1, got {tuple(images.shape)}")
    if theta.shape != (images.shape[0], 2, 3):
        raise ValueError(f"theta must be ({images.shape[0]}, 2, 3), got {tuple(theta.shape)}")
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be (h, w) with h, w >= 1, got {tuple(size)}")
    if not len(images):  # an empty batch, which affine_grid refuses
        return images.new_zeros(0, images.shape[1], *size)
    # Grid and sampling in float32 at least, as the STN's: in bfloat16 (8 bits) even the
    # identity grid falls between the pixels of a 50-pixel image and blurs it.
    work = torch.promote_types(torch.promote_types(images.dtype, theta.dtype), torch.float32)
    grid = F.affine_grid(theta.to(work), [*images.shape[:2], *size], align_corners=False)
    # An infinite source point (a finite but huge theta, as a tiny window far out inverts to)
    # would read NaN: 2^24 image widths away, it reads the zeros it should.
    far = float(2**24)
    grid = grid.clamp(-far, far)
    warped = F.grid_sample(
        images.to(work), grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return warped.to(images.dtype)


def identity_theta(batch: int, *, device=None, dtype=None) -> Tensor:
    """(B, 2, 3) the identity transform: the output is the input, resampled."""
    eye = torch.eye(2, 3, device=device, dtype=dtype)
    return eye.expand(batch, 2, 3).clone()


def window_theta(z_where: Tensor) -> Tensor:
    """The affine map of a window z_where = (s, x, y): window coordinates -> image coordinates.

    z_where: (..., 3) scale s (half-width in normalised units, > 0) and centre (x, y).
    Returns (..., 2, 3) [[s, 0, x], [0, s, y]].
    """
    if z_where.shape[-1] != 3:
        raise ValueError(f"z_where must be (..., 3) as (s, x, y), got {tuple(z_where.shape)}")
    s, x, y = z_where.unbind(-1)
    zero = torch.zeros_like(s)
    return torch.stack([torch.stack([s, zero, x], -1), torch.stack([zero, s, y], -1)], -2)


def inverse_window(z_where: Tensor) -> Tensor:
    """z_where of the inverse map: image coordinates -> window coordinates, (B, 3) -> (B, 3).

    p = s q + c inverts to q = p / s - c / s, a window of scale 1/s at -c/s.
    """
    s, xy = z_where[..., :1], z_where[..., 1:]
    return torch.cat([1 / s, -xy / s], -1)


def crop(images: Tensor, z_where: Tensor, *, size: int) -> Tensor:
    """Read the window z_where out of each image, resampled to size x size (AIR's encoder side).

    images: (B, C, H, W); z_where: (B, 3) as (s, x, y). Returns (B, C, size, size). A window of
    s = 0 reads its centre's value into every pixel (the limit of ever smaller windows).
    """
    _check_windows(z_where, len(images))
    if size < 1:
        raise ValueError(f"crop size must be at least 1 pixel, got {size}")
    return affine_warp(images, window_theta(z_where), size=(size, size))


def paste(objects: Tensor, z_where: Tensor, *, height: int, width: int) -> Tensor:
    """Write each object into an empty canvas at the window z_where (AIR's decoder side).

    objects: (B, C, h, w); z_where: (B, 3) as (s, x, y). Returns (B, C, height, width), zero
    from half an object pixel outside the window on: bilinear sampling fades the object's edge
    pixels into the zero padding there, which keeps its mass (its sum times the window's area in
    canvas pixels over h w). A window of s = 0 has no inverse: its canvas holds NaN.
    """
    _check_windows(z_where, len(objects))
    if height < 1 or width < 1:
        raise ValueError(f"paste needs height, width >= 1, got {height}, {width}")
    return affine_warp(objects, window_theta(inverse_window(z_where)), size=(height, width))


def _check_windows(z_where: Tensor, batch: int) -> None:
    """One window z_where (B, 3) per image of a batch of B, or a one-line error."""
    if z_where.shape != (batch, 3):
        raise ValueError(
            f"z_where must be ({batch}, 3) as (s, x, y), one window per image, "
            f"got {tuple(z_where.shape)}"
        )


def grid_corners(theta: Tensor, *, height: int, width: int) -> Tensor:
    """Where the output grid's four corners fall on the input, in pixels, for drawing.

    theta: (..., 2, 3); returns (..., 4, 2) points (x, y) in pixel units (pixel i covers
    [i, i + 1)), in the order top-left, top-right, bottom-right, bottom-left.
    """
    if theta.shape[-2:] != (2, 3):
        raise ValueError(f"theta must be (..., 2, 3), got {tuple(theta.shape)}")
    corners = theta.new_tensor([[x, y, 1.0] for x, y in CORNERS])  # (4, 3)
    source = corners @ theta.transpose(-1, -2)  # (..., 4, 2), normalised
    return (source + 1) / 2 * theta.new_tensor([width, height])
