"""The glimpse sensor of the recurrent attention model: a multi-resolution retina.

Mnih, Heess, Graves, Kavukcuoglu, "Recurrent Models of Visual Attention", NIPS 2014, sec. 3.1:
the retina-like representation rho(x_t, l_{t-1}) holds k square patches centred at l, the first
g x g pixels, each next one twice as wide as the one before, all resized to g x g.

Locations are in normalised coordinates l = (x, y) in [-1, 1]^2, as in ``F.affine_grid``:
x runs left to right, y top to bottom, (-1, -1) is the top-left corner of the image and
(1, 1) the bottom-right one. Pixels outside the image read as zeros.

This is the hot path of RAM (one call per glimpse per batch), so it is a gather over integer
pixel indices for the whole batch at once: no padding copy of the image, no loop over samples.
A coarse patch is the average of blocks of 2^j x 2^j pixels; given the images' summed-area
table (``summed_area_table``, made once per episode), each block's sum is four lookups, so a
glimpse costs (g + 1)^2 reads per scale however wide its patches, instead of a crop of
(g 2^j)^2 pixels and a pooling (Crow, "Summed-area tables for texture mapping", SIGGRAPH 1984).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def patch_widths(size: int, scales: int) -> list[int]:
    """Widths in pixels of the retina's patches: size, 2 size, 4 size, ..."""
    return [size * 2**k for k in range(scales)]


def location_to_pixel(locations: Tensor, height: int, width: int) -> Tensor:
    """Map normalised locations (B, 2) as (x, y) in [-1, 1] to pixel coordinates (B, 2) as (x, y).

    Pixel i covers [i, i + 1), so -1 is the image's outer left/top edge and +1 its right/bottom edge.
    Computed in float32 at least: in bfloat16 (8 bits) a centre on a 100-pixel image moves by up
    to half a pixel, enough to move the rounded corner of its patch by one.
    """
    locations = locations.to(torch.promote_types(locations.dtype, torch.float32))
    scale = locations.new_tensor([width, height])
    return (locations + 1) / 2 * scale


def patch_corners(centres: Tensor, width: int) -> Tensor:
    """Top-left corners (B, 2) as (x, y) of width x width patches centred at pixel coordinates
    (B, 2): centres - width / 2 rounded to the nearest pixel (halves to even).

    A centre more than 2^24 pixels outside, infinite or NaN is taken as 2^24 pixels outside,
    where every pixel reads zero: converting such a float to an integer is undefined, and gives
    a different pixel on another processor.
    """
    far = float(2**24)
    centres = centres.double().nan_to_num(nan=-far).clamp(-far, far)
    # Rounded on the centre's fraction, not on the difference, which can itself round (in
    # float64, 2.5000000000000004 - 8 is -5.5): a patch cut from a wider one would then lie a
    # pixel away from its own crop.
    whole = centres.floor()
    fraction = centres - whole  # exact (but within 1e-16 of -1/2 for float64 centres)
    low = whole - (width + 1) // 2  # centres - width / 2 rounded down
    half = 0.0 if width % 2 else 0.5  # the fraction at which it lies halfway to low + 1
    up = (fraction > half) | ((fraction == half) & (low % 2 == 1))
    return (low + up.double()).long()


def extract_patches(images: Tensor, centres: Tensor, width: int) -> Tensor:
    """Crop a width x width patch per image, centred at a pixel coordinate, zeros outside.

    Args:
        images: (B, C, H, W).
        centres: (B, 2) pixel coordinates (x, y), as given by ``location_to_pixel``.
        width: side of the square patch in pixels.

    Returns:
        (B, C, width, width).
    """
    B, C, H, W = images.shape
    corner = patch_corners(centres, width)  # (B, 2) as (x, y)
    offsets = torch.arange(width, device=images.device)
    cols = corner[:, 0, None] + offsets  # (B, width)
    rows = corner[:, 1, None] + offsets  # (B, width)
    inside = ((rows >= 0) & (rows < H))[:, :, None] & ((cols >= 0) & (cols < W))[:, None, :]
    # Clamped indices read some pixel of the image; the mask then zeroes what lies outside.
    flat = rows.clamp(0, H - 1)[:, :, None] * W + cols.clamp(0, W - 1)[:, None, :]  # (B, w, w)
    index = flat.view(B, 1, width * width).expand(B, C, width * width)
    patches = images.reshape(B, C, H * W).gather(2, index).view(B, C, width, width)
    return patches * inside[:, None].to(patches.dtype)


def summed_area_table(images: Tensor) -> Tensor:
    """Sums of every top-left rectangle: (B, C, H, W) -> (B, C, H + 1, W + 1) float64, entry
    [y, x] the sum of images[..., :y, :x] (float64, so that differences of large sums keep a
    single pixel's precision)."""
    table = images.double().cumsum(-1).cumsum(-2)
    return F.pad(table, (1, 0, 1, 0))


def block_averages(table: Tensor, centres: Tensor, width: int, block: int) -> Tensor:
    """The patch of ``extract_patches(images, centres, width)`` average-pooled by ``block``, read
    from the images' summed-area table: (B, C, H + 1, W + 1), centres (B, 2) -> (B, C, n, n),
    n = width // block. Pixels outside the image count as zeros, as in the crop."""
    B, C, H1, W1 = table.shape
    n = width // block
    corner = patch_corners(centres, width)  # (B, 2) as (x, y), as extract_patches
    edges = torch.arange(n + 1, device=table.device) * block
    cols = (corner[:, 0, None] + edges).clamp(0, W1 - 1)  # (B, n + 1) block edges, in the image
    rows = (corner[:, 1, None] + edges).clamp(0, H1 - 1)
    flat = rows[:, :, None] * W1 + cols[:, None, :]  # (B, n + 1, n + 1)
    index = flat.view(B, 1, -1).expand(B, C, -1)
    corners = table.reshape(B, C, H1 * W1).gather(2, index).view(B, C, n + 1, n + 1)
    sums = (
        corners[..., 1:, 1:]
        - corners[..., :-1, 1:]
        - corners[..., 1:, :-1]
        + corners[..., :-1, :-1]
    )
    return sums.div_(block * block)


def retina(
    images: Tensor,
    locations: Tensor,
    *,
    size: int,
    scales: int = 1,
    table: Tensor | None = None,
) -> Tensor:
    """Take a glimpse: ``scales`` concentric patches around ``locations``, each resized to size x size.

    Args:
        images: (B, C, H, W) float.
        locations: (B, 2) normalised (x, y) in [-1, 1]; values outside are allowed (more zeros;
            a NaN location reads zeros, as one far outside).
        size: g, the side of the finest patch and of every returned patch, in pixels.
        scales: k, the number of patches; patch j is size * 2**j pixels wide and is
            average-pooled by 2**j down to size x size.
        table: the images' ``summed_area_table``, to read the coarse patches' averages from
            (the same numbers, to float rounding, at a cost that does not grow with their
            width); None crops and pools them.

    Returns:
        (B, scales, C, size, size): finest scale first.
    """
    if images.dim() != 4 or min(images.shape[-2:]) < 1:
        raise ValueError(
            f"retina expects images of shape (B, C, H, W), H, W >= 1, got {tuple(images.shape)}"
        )
    if not images.is_floating_point():
        raise ValueError(f"retina expects floating-point images, got {images.dtype}")
    if locations.shape != (images.shape[0], 2):
        raise ValueError(
            f"retina expects locations of shape ({images.shape[0]}, 2), got {tuple(locations.shape)}"
        )
    if size < 1 or scales < 1:
        raise ValueError(
            f"retina needs size >= 1 and scales >= 1, got size={size}, scales={scales}"
        )
    B, C, H, W = images.shape
    if table is not None and table.shape != (B, C, H + 1, W + 1):
        raise ValueError(
            f"table must be the images' summed_area_table ({B}, {C}, {H + 1}, {W + 1}), "
            f"got {tuple(table.shape)}"
        )
    centres = location_to_pixel(locations, H, W)
    widths = patch_widths(size, scales)
    if table is None and size % 4 == 0:
        # Every patch is the centre of the widest one: patch j's corner lies (widest - w_j) / 2
        # pixels inside the widest's, an even number when size is a multiple of 4, so the
        # rounded corners (halves to even) differ by exactly that. One crop reads a quarter
        # fewer pixels than one per scale.
        widest = extract_patches(images, centres, widths[-1])
        glimpses = []
        for k, width in enumerate(widths):
            inset = (widths[-1] - width) // 2
            patch = widest[..., inset : inset + width, inset : inset + width]
            glimpses.append(F.avg_pool2d(patch, 2**k) if k else patch)
        return torch.stack(glimpses, dim=1)
    glimpses = [extract_patches(images, centres, size)]
    for k, width in enumerate(widths[1:], start=1):
        if table is not None:
            glimpses.append(block_averages(table, centres, width, 2**k).to(images.dtype))
        else:
            glimpses.append(F.avg_pool2d(extract_patches(images, centres, width), 2**k))
    return torch.stack(glimpses, dim=1)


def table_is_cheaper(height: int, width: int, *, size: int, scales: int, glimpses: int) -> bool:
    """Whether an episode of ``glimpses`` reads fewer pixels through a summed-area table (one
    pass over the image, then (size + 1)^2 reads per coarse scale) than by cropping its coarse
    patches (their whole area): small images with wide patches and many glimpses."""
    crop = glimpses * sum(w * w for w in patch_widths(size, scales)[1:])
    through_table = 2 * height * width + glimpses * (scales - 1) * 4 * (size + 1) ** 2
    return scales > 1 and through_table < crop


def patch_boxes(locations: Tensor, *, height: int, width: int, size: int, scales: int) -> Tensor:
    """Pixel boxes of each retina patch, for drawing: (..., scales, 4) as (left, top, right, bottom).

    ``locations`` is (..., 2) normalised (x, y); boxes use the same rounding as ``retina`` (a
    NaN location's lie 2^24 pixels outside, as its patches).
    """
    if locations.shape[-1] != 2:
        raise ValueError(f"locations must be (..., 2) as (x, y), got {tuple(locations.shape)}")
    if size < 1 or scales < 1:
        raise ValueError(
            f"patch_boxes needs size >= 1 and scales >= 1, got size={size}, scales={scales}"
        )
    centres = location_to_pixel(locations.reshape(-1, 2), height, width)
    boxes = []
    for w in patch_widths(size, scales):
        corner = patch_corners(centres, w).to(centres.dtype)
        boxes.append(torch.cat([corner, corner + w], dim=-1))
    return torch.stack(boxes, dim=-2).reshape(*locations.shape[:-1], scales, 4)
