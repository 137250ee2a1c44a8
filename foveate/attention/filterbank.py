"""DRAW's selective attention: an N x N grid of Gaussian filters (location-wise soft attention).

Gregor, Danihelka, Graves, Rezende, Wierstra, "DRAW: A Recurrent Neural Network For Image
Generation", ICML 2015, sec. 3.2. Five numbers emitted by the decoder,
(g~X, g~Y, log sigma^2, log delta~, log gamma), place the grid (eq. 21): centre (gX, gY) (eq. 22,
23), stride delta between filter centres (eq. 24), isotropic variance sigma^2 and intensity gamma.
The horizontal and vertical filterbanks F_X (N x A) and F_Y (N x B) (eq. 25, 26) then read an
N x N patch, gamma F_Y x F_X^T (eq. 27), and write one back, 1/gamma F_Y^T w F_X (eq. 29).

Coordinates follow the paper: pixel columns a = 1..A and rows b = 1..B, so the grid centre
gX = (A + 1)/2 (g~X + 1) of g~X = 0 is the middle of the image. (Counting pixels from 0 with the
same gX shifts every filter by half a pixel, a bug of some public implementations.)

Images are (batch, channels, B rows, A columns); every function is batched over the first axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class GaussianWindow:
    """Where an N x N filter grid lies on each image of a batch, in 1-based pixel units.

    centre: (batch, 2) grid centre (gX, gY); stride: (batch,) delta; variance: (batch,) sigma^2;
    intensity: (batch,) gamma; size: N, the filters per side.
    """

    centre: Tensor
    stride: Tensor
    variance: Tensor
    intensity: Tensor
    size: int

    def filter_centres(self) -> tuple[Tensor, Tensor]:
        """mu_X (batch, N), mu_Y (batch, N): mu_i = g + (i - N/2 - 0.5) delta, i = 1..N (eq. 19, 20)."""
        i = torch.arange(1, self.size + 1, device=self.stride.device, dtype=self.stride.dtype)
        offsets = (i - self.size / 2 - 0.5) * self.stride[:, None]  # (batch, N)
        return self.centre[:, :1] + offsets, self.centre[:, 1:] + offsets

    def boxes(self) -> Tensor:
        """(batch, 4) the grid's extent (left, top, right, bottom) in pixel-edge coordinates.

        One stride around every filter centre: from g - N delta / 2 to g + N delta / 2, moved by
        half a pixel because pixel a (1-based) spans the edges [a - 1, a] (the retina's convention).
        """
        half = self.size * self.stride / 2  # (batch,)
        x, y = self.centre.unbind(-1)
        return torch.stack([x - half, y - half, x + half, y + half], dim=-1) - 0.5


def stride_scale(*, height: int, width: int, size: int) -> float:
    """(max(A, B) - 1) / (N - 1), the stride of delta~ = 1 (eq. 24); 1 for a single filter."""
    # With one filter there is no stride to scale, and delta~ sets nothing that is read.
    return (max(height, width) - 1) / (size - 1) if size > 1 else 1.0


def covering_params(*, height: int, width: int, size: int) -> Tensor:
    """(5,) window parameters of eq. 21 for a grid that covers the whole image, blurred.

    g~ = 0 (centred), delta~ = 1 (the outer filters on the border pixels), gamma = 1, and each
    filter as wide as half the stride, sigma = delta / 2, so that together the filters see every
    pixel (a single filter: sigma half the image's side). A decoder whose window layer starts
    here reads the image from its first step; with log sigma^2 = 0 instead, a 2 x 2 grid on
    MNIST sees only the four corner pixels, which are blank.
    """
    # stride_scale is 1 for a single filter, whose delta~ is never read: here its "stride" is
    # the whole side, or a 1 x 1 grid would start as a point at the image's centre.
    half_stride = (max(height, width) - 1) / max(size - 1, 1) / 2
    log_variance = 2 * math.log(max(half_stride, 0.5))
    return torch.tensor([0.0, 0.0, log_variance, 0.0, 0.0])


def window_from_params(params: Tensor, *, height: int, width: int, size: int) -> GaussianWindow:
    """The window of eq. 21-24 from the decoder's five outputs.

    Args:
        params: (batch, 5) as (g~X, g~Y, log sigma^2, log delta~, log gamma), eq. 21.
        height, width: B and A, the image's rows and columns.
        size: N, filters per side.
    """
    if params.dim() != 2 or params.shape[-1] != 5:
        raise ValueError(f"params must be (batch, 5), got {tuple(params.shape)}")
    if size < 1:
        raise ValueError(f"the filter grid needs at least 1 filter per side, got {size}")
    # The grid's geometry in float32 at least, as the STN's theta: bfloat16 keeps 8 bits, which
    # moves a centre of 50 by up to an eighth of a pixel and one of 200 by half a pixel.
    params = params.to(torch.promote_types(params.dtype, torch.float32))
    g_x, g_y, log_variance, log_stride, log_intensity = params.unbind(-1)
    centre = torch.stack(
        [(width + 1) / 2 * (g_x + 1), (height + 1) / 2 * (g_y + 1)], -1
    )  # eq. 22, 23
    return GaussianWindow(
        centre=centre,
        stride=stride_scale(height=height, width=width, size=size) * log_stride.exp(),  # eq. 24
        variance=log_variance.exp(),
        intensity=log_intensity.exp(),
        size=size,
    )


def keep_on_image(
    params: Tensor, *, max_log_intensity: float = 2.0, min_variance: float = 0.0
) -> Tensor:
    """(batch, 5) window parameters of eq. 21 with the grid held on the image and gamma bounded.

    g~X, g~Y go through tanh, so that the centre (eq. 22, 23) stays in [0, A + 1] x [0, B + 1];
    log gamma through m tanh(log gamma / m), so that e^-m < gamma < e^m. Both maps are the identity
    near 0, where ``covering_params`` starts. Not in the paper: with eq. 21 as it stands, a grid
    can move off the canvas, where the glimpse is blank and the gradient that would bring it back
    vanishes (docs/draw.md, "Departures from the paper", tells the runs that showed it).

    With ``min_variance`` v > 0, sigma^2 becomes sigma^2 + v (log-add-exp on log sigma^2): a
    filter much narrower than a pixel samples one pixel, and its gradient in mu, which grows as
    1 / sigma^2, is near zero on the pixel and steep between pixels: a sharp landscape.
    """
    if params.shape[-1] != 5:
        raise ValueError(f"params must be (batch, 5), got {tuple(params.shape)}")
    centre, log_variance, log_stride, log_intensity = params.split([2, 1, 1, 1], dim=-1)
    bounded_intensity = max_log_intensity * torch.tanh(log_intensity / max_log_intensity)
    if min_variance > 0:
        log_variance = torch.logaddexp(
            log_variance, log_variance.new_tensor(math.log(min_variance))
        )
    return torch.cat([centre.tanh(), log_variance, log_stride, bounded_intensity], dim=-1)


def filterbanks(window: GaussianWindow, *, height: int, width: int) -> tuple[Tensor, Tensor]:
    """F_X (batch, N, A) and F_Y (batch, N, B), each row a normalised Gaussian (eq. 25, 26).

    Each row is normalised to sum to 1 (the Z_X, Z_Y of the paper). The normalisation is a
    softmax over pixels, which equals exp(-(a - mu)^2 / 2 sigma^2) / Z exactly but cannot divide
    by zero when a narrow filter lies far outside the image. A variance that underflowed to 0
    (log sigma^2 below about -104 in float32) gives the narrow filters' limit, each row the
    one-hot of its nearest pixel, not 0 / 0.
    """
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be at least 1 pixel, got {height}, {width}")
    mu_x, mu_y = window.filter_centres()  # (batch, N) each
    tiny = torch.finfo(window.variance.dtype).tiny
    two_variance = 2 * window.variance.clamp_min(tiny)[:, None, None]

    def bank(mu: Tensor, pixels: int) -> Tensor:
        a = torch.arange(1, pixels + 1, device=mu.device, dtype=mu.dtype)  # 1-based pixel index
        squared = (a - mu[:, :, None]) ** 2
        # Less the nearest pixel's (softmax is unchanged): that pixel scores 0 however narrow.
        return torch.softmax(-(squared - squared.amin(-1, keepdim=True)) / two_variance, dim=-1)

    return bank(mu_x, width), bank(mu_y, height)


def read(images: Tensor, window: GaussianWindow) -> Tensor:
    """gamma F_Y x F_X^T (eq. 27): (batch, C, B, A) -> (batch, C, N, N) glimpses."""
    batch = len(window.stride)
    if images.dim() != 4 or images.shape[0] != batch or min(images.shape[-2:]) < 1:
        raise ValueError(
            f"images must be ({batch}, C, B, A), one per window, B, A >= 1, got {tuple(images.shape)}"
        )
    *_, height, width = images.shape
    f_x, f_y = (f.to(images.dtype) for f in filterbanks(window, height=height, width=width))
    patches = f_y[:, None] @ images @ f_x[:, None].transpose(-1, -2)
    return window.intensity.to(images.dtype)[:, None, None, None] * patches


def write(patches: Tensor, window: GaussianWindow, *, height: int, width: int) -> Tensor:
    """1/gamma F_Y^T w F_X (eq. 29): (batch, C, N, N) patches -> (batch, C, B, A) images."""
    batch, N = len(window.stride), window.size
    if patches.dim() != 4 or patches.shape[0] != batch or patches.shape[-2:] != (N, N):
        raise ValueError(f"patches must be ({batch}, C, {N}, {N}), got {tuple(patches.shape)}")
    f_x, f_y = (f.to(patches.dtype) for f in filterbanks(window, height=height, width=width))
    images = f_y[:, None].transpose(-1, -2) @ patches @ f_x[:, None]
    return images / window.intensity.to(patches.dtype)[:, None, None, None]
