"""DRAW, a recurrent variational auto-encoder that reads and writes through attention, and the
attentive classifier of the same paper.

[1] Gregor, Danihelka, Graves, Rezende, Wierstra, "DRAW: A Recurrent Neural Network For Image
    Generation", ICML 2015.

Parts, named as in [1] sec. 2 (x is the image, c_t the canvas, sigma the logistic sigmoid):
    read        r_t = read(x, x^_t, h^dec_{t-1}), x^_t = x - sigma(c_{t-1})    eq. 3, 4
                through an N x N Gaussian filter grid (eq. 27), or the whole images (eq. 17)
    encoder     h^enc_t = LSTM^enc(h^enc_{t-1}, [r_t, h^dec_{t-1}])           eq. 5
    Q           z_t ~ Q(Z_t | h^enc_t) = N(mu_t, sigma_t)                     eq. 1, 2, 6
    decoder     h^dec_t = LSTM^dec(h^dec_{t-1}, z_t)                          eq. 7
    write       c_t = c_{t-1} + write(h^dec_t)                                eq. 8
                through the filter grid (eq. 29), or a linear map (eq. 18)
    D(X | c_T)  independent Bernoulli pixels with means sigma(c_T)            eq. 9
The loss is L = L^x + L^z, the negative log-likelihood of x under D plus the KL divergences of
Q(Z_t | h^enc_t) from the N(0, I) prior, summed over the T steps (eq. 9-12). Generation (sec.
2.3, eq. 13-16) runs the decoder alone, z_t drawn from the prior.

``DRAW.step`` is one step of that recurrence, from the state the step before handed on
(``DrawState``) to the next one and what the step drew (``DrawStep``); without an image it is
the decoder's step of generation. ``DRAW.unroll`` runs T of them: ``forward`` (the
encoder-decoder) and ``generate`` (the decoder alone) both go through it.

``DrawClassifier`` is the network of [1] sec. 4.1: an LSTM that takes T glimpses through the
filter grid, each placed from its previous state, and classifies from its last state. Its
recurrence is not DRAW's (one LSTM that reads from its own state, where DRAW's encoder reads
from the decoder's): it shares the read (``AttentiveRead``), and has its own ``step``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Normal, kl_divergence

from foveate.attention.filterbank import (
    GaussianWindow,
    covering_params,
    keep_on_image,
    read,
    window_from_params,
    write,
)
from foveate.models import register_model
from foveate.models.interface import (
    ClassifierLoss,
    Drawing,
    Glimpses,
    boxes_to_outlines,
    check_input,
    check_square_size,
)

WINDOW_PARAMS = 5  # (g~X, g~Y, log sigma^2, log delta~, log gamma), eq. 21


def window_layer(*, state_size: int, height: int, width: int, size: int) -> nn.Linear:
    """The linear map of eq. 21 from a state to the window parameters.

    Its bias starts at a grid that covers the whole image with blurred filters
    (``covering_params``). [1] does not say how it initialises this layer; a zero bias gives
    filters one pixel wide, and a 2 x 2 read then sees only blank corners: the encoder has
    nothing to encode, and the KL term collapses the posterior (measured in docs/draw.md, "Why a
    5 x 5 read").
    """
    layer = nn.Linear(state_size, WINDOW_PARAMS)
    with torch.no_grad():
        layer.bias.copy_(covering_params(height=height, width=width, size=size))
    return layer


class AttentiveRead(nn.Module):
    """read with attention (eq. 27): an N x N glimpse of the image and of the error image.

    The window comes from a linear map of h^dec_{t-1} (eq. 21); with ``bounded``, through
    ``keep_on_image`` too (the centre held on the image, gamma within e^-2..e^2, and sigma^2
    above ``min_variance``).
    """

    def __init__(
        self,
        *,
        state_size: int,
        height: int,
        width: int,
        size: int,
        bounded: bool = False,
        min_variance: float = 0.0,
    ) -> None:
        super().__init__()
        if min_variance < 0:
            raise ValueError(f"min_variance must be at least 0, got {min_variance}")
        if min_variance and not bounded:
            raise ValueError("min_variance is a bound of keep_on_image: it needs bounded=True")
        self.height, self.width, self.size, self.bounded = height, width, size, bounded
        self.min_variance = min_variance
        self.window_params = window_layer(
            state_size=state_size, height=height, width=width, size=size
        )

    def output_size(self, channels: int, images: int) -> int:
        return images * channels * self.size**2

    def forward(self, images: Tensor, state: Tensor) -> tuple[Tensor, GaussianWindow]:
        """images: (B, K, C, H, W), K images read through one window; state: (B, S).

        Returns the glimpses (B, K C N N) and the window.
        """
        params = self.window_params(state)
        if self.bounded:
            params = keep_on_image(params, min_variance=self.min_variance)
        window = window_from_params(params, height=self.height, width=self.width, size=self.size)
        B, K, C, H, W = images.shape
        glimpses = read(images.reshape(B, K * C, H, W), window)  # (B, K C, N, N)
        return glimpses.flatten(1), window


class FullRead(nn.Module):
    """read without attention (eq. 17): the images themselves."""

    def __init__(self, *, height: int, width: int) -> None:
        super().__init__()
        self.height, self.width = height, width

    def output_size(self, channels: int, images: int) -> int:
        return images * channels * self.height * self.width

    def forward(self, images: Tensor, state: Tensor) -> tuple[Tensor, None]:
        """images: (B, K, C, H, W) -> (B, K C H W), no window."""
        return images.flatten(1), None


class AttentiveWrite(nn.Module):
    """write with attention (eq. 28, 29): an N x N patch w_t = W(h^dec_t) put through the grid."""

    def __init__(self, *, state_size: int, channels: int, height: int, width: int, size: int):
        super().__init__()
        self.channels, self.height, self.width, self.size = channels, height, width, size
        self.patch = nn.Linear(state_size, channels * size * size)  # eq. 28
        self.window_params = window_layer(
            state_size=state_size, height=height, width=width, size=size
        )

    def forward(self, state: Tensor) -> tuple[Tensor, GaussianWindow]:
        """state: (B, S) -> canvas update (B, C, H, W), and the window."""
        window = window_from_params(
            self.window_params(state), height=self.height, width=self.width, size=self.size
        )
        patch = self.patch(state).view(-1, self.channels, self.size, self.size)
        return write(patch, window, height=self.height, width=self.width), window


class LinearWrite(nn.Module):
    """write without attention (eq. 18): a linear map of h^dec_t onto the whole canvas."""

    def __init__(self, *, state_size: int, channels: int, height: int, width: int) -> None:
        super().__init__()
        self.shape = (channels, height, width)
        self.linear = nn.Linear(state_size, channels * height * width)

    def forward(self, state: Tensor) -> tuple[Tensor, None]:
        return self.linear(state).view(-1, *self.shape), None


class DrawState(NamedTuple):
    """What step t hands step t + 1 ([1] sec. 2.1), for B images; all zero before the first.

    canvas: (B, C, H, W) c_t, the logits of D(X | c_t).
    h_enc, cell_enc: (B, S_enc) the encoder LSTM's state (zero throughout generation).
    h_dec, cell_dec: (B, S_dec) the decoder LSTM's state.
    """

    canvas: Tensor
    h_enc: Tensor
    cell_enc: Tensor
    h_dec: Tensor
    cell_dec: Tensor


class DrawStep(NamedTuple):
    """What step t drew besides the state it hands on, for B images.

    mu, sigma: (B, Z) Q(Z_t | h^enc_t) (eq. 1, 2), or None in generation (z_t from the prior).
    z: (B, Z) z_t.
    read_window: where the read's filter grid lay (eq. 21), or None without attention or an
        image to read; write_window: the same for the write.
    """

    mu: Tensor | None
    sigma: Tensor | None
    z: Tensor
    read_window: GaussianWindow | None
    write_window: GaussianWindow | None


@dataclass
class DrawOutput:
    """One pass of DRAW over B images for T steps.

    canvas: (B, C, H, W) c_T, the logits of D(X | c_T).
    mu, sigma: (B, T, Z) the parameters of Q(Z_t | h^enc_t).
    z: (B, T, Z) the latents drawn from them.
    read_boxes, write_boxes: (B, T, 4) the attention windows' extents in pixels, or None without
        attention.
    """

    canvas: Tensor
    mu: Tensor
    sigma: Tensor
    z: Tensor
    read_boxes: Tensor | None
    write_boxes: Tensor | None


@dataclass
class DrawLoss:
    """L = L^x + L^z (eq. 9-12), in nats per image, averaged over the batch.

    total: the negative ELBO, the training loss and the bound on -log p(x); reconstruction: L^x;
    kl: L^z; per_image: (B,) the bound for each image.
    """

    total: Tensor
    reconstruction: Tensor
    kl: Tensor
    per_image: Tensor


def _boxes(windows: list[GaussianWindow | None]) -> Tensor | None:
    """T windows over B images -> their boxes (B, T, 4) in pixels, or None without attention."""
    if windows[0] is None:
        return None
    return torch.stack([w.boxes() for w in windows], dim=1)  # (B, T, 4)


@register_model(
    "draw",
    training="generative",
    tiny=dict(steps=3, read_size=2, write_size=3, encoder_size=16, decoder_size=16, latent_size=4),
)
class DRAW(nn.Module):
    """DRAW of [1], with or without attention.

    Args, all [1]'s settings for MNIST (sec. 4.2, table 3; the defaults):
        image_size: side of the square images (H = W), 28 for MNIST.
        channels: C, image channels.
        steps: T, glimpses (and canvas updates) per image ([1]: 64).
        attention: read and write through Gaussian filter grids (sec. 3.2); False reads the
            whole images and writes through a linear map (sec. 3.1).
        read_size: N of the read grid ([1]: 2).
        write_size: N of the write grid ([1]: 5).
        encoder_size, decoder_size: LSTM units of the encoder and decoder ([1]: 256).
        latent_size: Z, dimensions of each z_t ([1]: 100).
    """

    def __init__(
        self,
        *,
        image_size: int = 28,
        channels: int = 1,
        steps: int = 64,
        attention: bool = True,
        read_size: int = 2,
        write_size: int = 5,
        encoder_size: int = 256,
        decoder_size: int = 256,
        latent_size: int = 100,
    ) -> None:
        super().__init__()
        for name, value in [
            ("image_size", image_size),
            ("channels", channels),
            ("steps", steps),
            ("read_size", read_size),
            ("write_size", write_size),
            ("encoder_size", encoder_size),
            ("decoder_size", decoder_size),
            ("latent_size", latent_size),
        ]:
            if value < 1:
                raise ValueError(f"DRAW needs {name} >= 1, got {value}")
        if attention and max(read_size, write_size) > image_size:
            raise ValueError(
                f"attention grids ({read_size}, {write_size}) larger than the {image_size}-pixel image"
            )
        self.image_size, self.channels, self.steps = image_size, channels, steps
        self.latent_size = latent_size
        size = dict(height=image_size, width=image_size)
        if attention:
            self.reader = AttentiveRead(state_size=decoder_size, size=read_size, **size)
            self.writer = AttentiveWrite(
                state_size=decoder_size, channels=channels, size=write_size, **size
            )
        else:
            self.reader = FullRead(**size)
            self.writer = LinearWrite(state_size=decoder_size, channels=channels, **size)
        read_out = self.reader.output_size(channels, images=2)
        self.encoder = nn.LSTMCell(read_out + decoder_size, encoder_size)
        self.Q = nn.Linear(encoder_size, 2 * latent_size)  # mu_t and log sigma_t, eq. 1, 2
        self.decoder = nn.LSTMCell(latent_size, decoder_size)

    def check_input_size(self, height: int, width: int) -> None:
        check_square_size("DRAW", self.image_size, height, width)

    def initial_state(self, batch: int) -> DrawState:
        """The state before the first step for ``batch`` images: c_0 and every LSTM state zero."""
        p = self.Q.weight
        zeros = lambda n: p.new_zeros(batch, n)  # noqa: E731
        canvas = p.new_zeros(batch, self.channels, self.image_size, self.image_size)
        enc, dec = self.encoder.hidden_size, self.decoder.hidden_size
        return DrawState(canvas, zeros(enc), zeros(enc), zeros(dec), zeros(dec))

    def sample_noise(self, images: Tensor) -> Tensor:
        """epsilon (B, T, Z) ~ N(0, I), the reparameterisation noise of every z_t."""
        return torch.randn(len(images), self.steps, self.latent_size, device=images.device)

    def step(
        self, state: DrawState, noise: Tensor, images: Tensor | None = None
    ) -> tuple[DrawState, DrawStep]:
        """Step t: from the state after step t - 1 to the state after step t.

        state: the step before's (``initial_state`` before the first).
        noise: (B, Z) epsilon_t, a standard normal draw.
        images: x (B, C, H, W) in [0, 1]: read it and encode it, z_t ~ Q(Z_t | h^enc_t) (eq.
            3-8). None: generation (sec. 2.3), the decoder alone with z_t = epsilon_t, a draw
            of the prior N(0, I) (eq. 13-15); the encoder's state stays as it is.

        Returns the next state and what this step drew.
        """
        if images is None:
            z, mu, sigma, read_window = noise, None, None, None  # eq. 13
            h_enc, cell_enc = state.h_enc, state.cell_enc
        else:
            error = images - torch.sigmoid(state.canvas)  # x^_t, eq. 3
            r, read_window = self.reader(torch.stack([images, error], 1), state.h_dec)  # eq. 4
            h_enc, cell_enc = self.encoder(
                torch.cat([r, state.h_dec], -1), (state.h_enc, state.cell_enc)
            )  # eq. 5
            mu, log_sigma = self.Q(h_enc).chunk(2, -1)  # (B, Z) each, eq. 1, 2
            sigma = log_sigma.exp()
            z = mu + sigma * noise  # eq. 6, reparameterised
        h_dec, cell_dec = self.decoder(z, (state.h_dec, state.cell_dec))  # eq. 7; generating, 14
        update, write_window = self.writer(h_dec)  # (B, C, H, W)
        canvas = state.canvas + update  # c_t, eq. 8; generating, 15
        after = DrawState(canvas, h_enc, cell_enc, h_dec, cell_dec)
        return after, DrawStep(mu, sigma, z, read_window, write_window)

    def unroll(
        self, noise: Tensor, images: Tensor | None = None
    ) -> Iterator[tuple[DrawState, DrawStep]]:
        """The T steps from ``initial_state``, one at a time: (the state after step t, what
        step t drew). noise: (B, T, Z), epsilon_t for each step; images: as in ``step``.

        A generator, so that a caller keeps only what it needs of each step (``forward`` no
        canvas but the last, ``generate`` every canvas).
        """
        state = self.initial_state(len(noise))
        for t in range(self.steps):
            state, drawn = self.step(state, noise[:, t], images)
            yield state, drawn

    def forward(self, images: Tensor, noise: Tensor | None = None) -> DrawOutput:
        """Encode and reconstruct images (B, C, H, W) in [0, 1] over T steps.

        noise: (B, T, Z) standard normal draws for z_t = mu_t + sigma_t epsilon_t; drawn here if
            None (the training loop draws them outside a compiled graph).
        """
        check_input(self, images, ("B", self.channels, self.image_size, self.image_size))
        noise = self.sample_noise(images) if noise is None else noise
        steps = []
        for after, drawn in self.unroll(noise, images):
            steps.append(drawn)
            canvas = after.canvas  # c_T once the loop ends
        return DrawOutput(
            canvas=canvas,
            mu=torch.stack([s.mu for s in steps], 1),
            sigma=torch.stack([s.sigma for s in steps], 1),
            z=torch.stack([s.z for s in steps], 1),
            read_boxes=_boxes([s.read_window for s in steps]),
            write_boxes=_boxes([s.write_window for s in steps]),
        )

    def loss(self, output: DrawOutput, images: Tensor) -> DrawLoss:
        """L^x + L^z of eq. 9-12 for binary images (B, C, H, W)."""
        reconstruction = (
            F.binary_cross_entropy_with_logits(output.canvas, images, reduction="none")
            .flatten(1)
            .sum(1)
        )  # L^x, eq. 9
        prior = Normal(torch.zeros_like(output.mu), torch.ones_like(output.sigma))
        kl = kl_divergence(Normal(output.mu, output.sigma), prior).flatten(1).sum(1)  # L^z, eq. 11
        per_image = reconstruction + kl
        return DrawLoss(
            total=per_image.mean(),
            reconstruction=reconstruction.mean(),
            kl=kl.mean(),
            per_image=per_image,
        )

    def log_weights(self, output: DrawOutput, images: Tensor) -> Tensor:
        """log p(x | z) + log p(z) - log Q(z | x) (B,) for the latents drawn in ``output``.

        The average of exp(log weight) over K draws is an unbiased estimate of p(x), so
        log-mean-exp over K bounds log p(x) from below, ever tighter as K grows (Burda et al. 2016).
        """
        log_likelihood = (
            -F.binary_cross_entropy_with_logits(output.canvas, images, reduction="none")
            .flatten(1)
            .sum(1)
        )
        log_prior = Normal(0.0, 1.0).log_prob(output.z).flatten(1).sum(1)
        log_q = Normal(output.mu, output.sigma).log_prob(output.z).flatten(1).sum(1)
        return log_likelihood + log_prior - log_q

    @torch.no_grad()
    def importance_weighted_nll(self, images: Tensor, *, samples: int, chunk: int = 1000) -> Tensor:
        """-log p(x) estimated from K = ``samples`` posterior draws per image: (B,) nats.

        Runs the K draws of each image as one batch of up to ``chunk`` rows at a time.
        """
        if samples < 1:
            raise ValueError(f"importance sampling needs at least 1 sample, got {samples}")
        repeated = images.repeat_interleave(samples, 0)  # (B K, C, H, W)
        weights = torch.cat(
            [
                self.log_weights(self(part), part)
                for part in repeated.split(max(chunk // samples, 1) * samples)
            ]
        ).view(len(images), samples)
        return -(torch.logsumexp(weights, 1) - math.log(samples))

    @torch.no_grad()
    def generate(self, count: int, *, generator: torch.Generator | None = None) -> Drawing:
        """Draw ``count`` images from the prior (sec. 2.3): z_t ~ N(0, I) through the decoder
        and write, T steps of ``step`` without an image. canvases: (count, T, C, H, W)."""
        # One draw a step, in step order, on the CPU: the same images on every device.
        noise = torch.stack(
            [torch.randn(count, self.latent_size, generator=generator) for _ in range(self.steps)],
            1,
        ).to(self.Q.weight)  # (count, T, Z)
        canvases, windows = [], []
        for state, drawn in self.unroll(noise):
            canvases.append(torch.sigmoid(state.canvas))
            windows.append(drawn.write_window)
        boxes = _boxes(windows)  # (count, T, 4) or None
        outlines = None if boxes is None else boxes_to_outlines(boxes)
        return Drawing(canvases=torch.stack(canvases, 1), outlines=outlines)


@dataclass
class ClassifierOutput:
    """logits: (B, num_classes) from the last state; read_boxes: (B, T, 4) glimpse windows in
    pixels; glimpses: (B, T, C, N, N) what each glimpse read."""

    logits: Tensor
    read_boxes: Tensor
    glimpses: Tensor


class ClassifierState(NamedTuple):
    """The classifier's LSTM state after t glimpses: h_t and its cell, (B, S) each (zero at 0)."""

    h: Tensor
    cell: Tensor


class ClassifierStep(NamedTuple):
    """What glimpse t read: glimpse (B, C N N), the N x N read of each channel, flattened; window,
    where its filter grid lay (placed from h_{t-1}, eq. 21)."""

    glimpse: Tensor
    window: GaussianWindow


@register_model("draw_classifier", tiny=dict(glimpses=2, read_size=4, hidden_size=16))
class DrawClassifier(nn.Module):
    """The attentive classifier of [1] sec. 4.1 (cluttered MNIST): an LSTM that reads T glimpses.

    h_t = LSTM(h_{t-1}, read(x, h_{t-1})); the N x N read window of step t comes from h_{t-1}
    (eq. 21, 27), and a softmax layer classifies from h_T. Everything is differentiable, so the
    whole network trains by backpropagation of the cross-entropy. ``step`` is one glimpse;
    ``forward`` unrolls T of them.

    Args, [1]'s settings for 100 x 100 cluttered MNIST first (sec. 4.1, table 3; the defaults):
        image_size: side of the square images ([1]: 100).
        channels: image channels.
        glimpses: T ([1]: 8).
        read_size: N, the glimpse is N x N ([1]: 12).
        hidden_size: LSTM units ([1]: 256).
        num_classes: output classes.

    Departures from [1]:
        bounded_window: hold the read grid's centre on the image and bound its intensity
            (``keep_on_image``; not in [1]): a grid that leaves the canvas sees nothing that
            brings it back (docs/draw.md, "Departures from the paper").
        min_read_variance: with ``bounded_window``, keep each filter's sigma^2 above this, in
            pixels^2 (``keep_on_image``; not in [1]). 0: no floor. Filters narrower than a pixel
            make a sharp landscape (docs/draw.md).
    """

    def __init__(
        self,
        *,
        image_size: int = 100,
        channels: int = 1,
        glimpses: int = 8,
        read_size: int = 12,
        hidden_size: int = 256,
        num_classes: int = 10,
        bounded_window: bool = True,
        min_read_variance: float = 0.0,
    ) -> None:
        super().__init__()
        if glimpses < 1:
            raise ValueError(f"the classifier needs at least 1 glimpse, got {glimpses}")
        if not 1 <= read_size <= image_size:
            raise ValueError(f"read_size must be 1..{image_size} (the image side), got {read_size}")
        self.image_size, self.glimpses, self.num_classes = image_size, glimpses, num_classes
        self.channels, self.read_size = channels, read_size
        self.reader = AttentiveRead(
            state_size=hidden_size,
            height=image_size,
            width=image_size,
            size=read_size,
            bounded=bounded_window,
            min_variance=min_read_variance,
        )
        self.core = nn.LSTMCell(self.reader.output_size(channels, images=1), hidden_size)
        self.classify = nn.Linear(hidden_size, num_classes)

    def check_input_size(self, height: int, width: int) -> None:
        check_square_size("the classifier", self.image_size, height, width)

    def initial_state(self, images: Tensor) -> ClassifierState:
        """The state before the first glimpse of images (B, C, H, W): zero."""
        h = images.new_zeros(len(images), self.core.hidden_size)
        return ClassifierState(h, torch.zeros_like(h))

    def step(
        self, state: ClassifierState, images: Tensor
    ) -> tuple[ClassifierState, ClassifierStep]:
        """Glimpse t: read images (B, C, H, W) through the window h_{t-1} places, then update
        the LSTM. Returns the state after glimpse t and what it read."""
        glimpse, window = self.reader(images[:, None], state.h)  # (B, C N N), eq. 21, 27
        h, cell = self.core(glimpse, (state.h, state.cell))
        return ClassifierState(h, cell), ClassifierStep(glimpse, window)

    def forward(self, images: Tensor) -> ClassifierOutput:
        """images (B, C, H, W) -> logits (B, num_classes) after T glimpses."""
        check_input(self, images, ("B", self.channels, self.image_size, self.image_size))
        B, N = len(images), self.read_size
        state, steps = self.initial_state(images), []
        for _ in range(self.glimpses):
            state, read = self.step(state, images)
            steps.append(read)
        glimpses = torch.stack([s.glimpse for s in steps], 1)  # (B, T, C N N)
        return ClassifierOutput(
            logits=self.classify(state.h),
            read_boxes=torch.stack([s.window.boxes() for s in steps], 1),
            glimpses=glimpses.view(B, self.glimpses, self.channels, N, N),
        )

    def attended(self, images: Tensor, output: ClassifierOutput) -> Glimpses:
        """Each glimpse's filter grid on the image (one window a step), and what it read."""
        return Glimpses(
            outlines=boxes_to_outlines(output.read_boxes)[:, :, None], views=output.glimpses
        )

    def loss(self, output: ClassifierOutput, targets: Tensor) -> ClassifierLoss:
        correct = (output.logits.argmax(-1) == targets).float()
        return ClassifierLoss(total=F.cross_entropy(output.logits, targets), correct=correct)

    @torch.no_grad()
    def predict_proba(self, images: Tensor, *, samples: int = 1) -> Tensor:
        """(B, classes) class probabilities; deterministic, so ``samples`` changes nothing."""
        return self(images).logits.softmax(-1)
