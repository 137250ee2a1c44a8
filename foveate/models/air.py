"""Attend, Infer, Repeat: a scene explained object by object, with no labels.

[1] Eslami, Heess, Weber, Tassa, Szepesvari, Kavukcuoglu, Hinton, "Attend, Infer, Repeat: Fast
    Scene Understanding with Generative Models", NIPS 2016.
[2] Mnih, Gregor, "Neural Variational Inference and Learning in Belief Networks", ICML 2014
    (NVIL: input-dependent baselines, centred and normalised learning signals).
[3] Maddison, Mnih, Teh, "The Concrete Distribution", ICLR 2017; Jang, Gu, Poole, "Categorical
    Reparameterization with Gumbel-Softmax", ICLR 2017.

The generative model ([1] sec. 2, fig. 2): a scene x holds n objects; object i has a presence
z_pres_i (1 for i < n, then 0 for good), a place z_where_i and an appearance z_what_i. The
decoder renders z_what_i into a small image y_i and pastes it into the canvas through the window
z_where_i (a spatial transformer, ``foveate.attention.transformer.paste``); the canvas is the sum
of the present objects, and x ~ Normal(canvas, 0.3) pixel by pixel (``LIKELIHOOD_STD``).

The inference network ([1] sec. 2.2, fig. 3): an LSTM runs for at most N steps; at step i it
reads the image (``AIR``) or the part of it not yet explained, x minus the canvas so far
(``DAIR``, [1] sec. 3.3), and the previous step's latents, and proposes
    q(z_pres_i) = Bernoulli(rho_i)          ... only while z_pres_{i-1} = 1
    q(z_where_i) = Normal(mu, sigma)        ... from the LSTM's state
    q(z_what_i) = Normal(mu', sigma')       ... from the window z_where_i cropped out of the
                                                 image (``crop``) by an encoder MLP.
``AIR.step`` is that step, with the decoder's paste, as Pyro's AIR writes ``guide_step``: it
takes the state step i - 1 handed on (``AIRState``: the LSTM's state, z_pres, z_where, z_what,
the canvas) and returns the next one and what it proposed (``AIRProposal``); ``forward`` unrolls
N of them.

The ELBO ([1] eq. 2-4): E_q[log p(x | z)] - KL(q(z) || p(z)). The continuous latents are
reparameterised; z_pres is discrete, and its gradient is the likelihood-ratio estimate of [1]
sec. 2.2 with NVIL's learned input-dependent baselines [2] (``estimator='reinforce'``). The
option ``estimator='concrete'`` replaces z_pres by its Concrete relaxation [3] during training
(objects are pasted with a weight in (0, 1)), a biased but low-variance alternative.
``estimator='enumerate'`` sums over z_pres exactly: since a step is present only if every step
before it is, z_pres_1..N takes just N + 1 values (the count n = 0..N), and one pass that
proposes an object at every step gives all of them at once (the canvas after n objects, the
latents of the first n steps). The bound is then sum_n q(n) ELBO(n) - KL(q(n) || p(n)), exact in
z_pres and unbiased in the continuous latents, with no baseline and no variance from z_pres.
Evaluation always uses hard z_pres.

Latent layout. z_where = (z_scale, x, y): the window's half-width is s = exp(z_scale) in
normalised units (s = 1 spans the image; a 28-pixel digit on a 50-pixel canvas is s = 0.56)
and (x, y) its centre in [-1, 1]. The scale is a log so that every draw is a valid window;
with ``scale_range`` (lo, hi), s = lo + (hi - lo) sigmoid(z_scale) instead.

Priors (the model's arguments; [1] gives none for multi-MNIST): p(z_pres_i = 1 | z_pres_{i-1} =
1) = ``z_pres_prior``, a geometric prior on the count; z_scale ~ Normal(``scale_prior``), by
default Normal(log 0.5, 0.3); x, y ~ Normal(0, ``shift_prior_std``); z_what ~ Normal(0, I).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal, NamedTuple, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Bernoulli, Normal, kl_divergence

from foveate.attention.transformer import crop, grid_corners, paste, window_theta
from foveate.models import register_model
from foveate.models.interface import Decomposition, Glimpses, check_input, check_square_size
from foveate.models.reinforce import nvil_signal

Estimator = Literal["reinforce", "concrete", "enumerate"]
WHERE = 3  # z_where = (z_scale, x, y)


@dataclass
class AIROutput:
    """One pass of the inference network and the decoder over B images, N steps.

    z_pres: (B, N) presence used (hard 0/1, or relaxed in (0, 1) under 'concrete').
    alive: (B, N) z_pres of the step before (1 at the first step): whether step i could
        propose an object at all.
    pres_probs: (B, N) rho_i, q(z_pres_i = 1) given an object at the step before.
    where_loc, where_scale: (B, N, 3) q(z_where_i); z_where: (B, N, 3) the draws.
    what_loc, what_scale: (B, N, D) q(z_what_i); z_what: (B, N, D) the draws.
    objects: (B, N, C, h, w) the decoded objects y_i, before pasting.
    canvases: (B, N, C, H, W) the reconstruction after each step.
    state: (B, N, L) the LSTM's state at each step (the baselines read it, detached).
    """

    z_pres: Tensor
    alive: Tensor
    pres_probs: Tensor
    where_loc: Tensor
    where_scale: Tensor
    z_where: Tensor
    what_loc: Tensor
    what_scale: Tensor
    z_what: Tensor
    objects: Tensor
    canvases: Tensor
    state: Tensor

    @property
    def count(self) -> Tensor:
        """(B,) the number of objects found (the sum of z_pres)."""
        return self.z_pres.sum(-1)


@dataclass
class AIRLoss:
    """The loss of one batch (scalars, nats per image unless said otherwise).

    total: what training minimises: the negative ELBO, plus the surrogate whose gradient is the
        likelihood-ratio estimate for z_pres and the baselines' squared error ('reinforce').
    nll_bound: the negative ELBO, -log p(x) <= nll_bound.
    reconstruction: -E_q log p(x | z).
    kl_pres, kl_where, kl_what: the KL of each kind of latent, summed over steps.
    objects: the mean number of objects found.
    baseline_error: the baselines' mean squared error, in units of the signal's running std.
    """

    total: Tensor
    nll_bound: Tensor
    reconstruction: Tensor
    kl_pres: Tensor
    kl_where: Tensor
    kl_what: Tensor
    objects: Tensor
    baseline_error: Tensor


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of these widths with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def count_log_probs(pres_probs: Tensor) -> Tensor:
    """log q(n) (..., N + 1) of each count n = 0..N, from rho (..., N), q(z_pres_i = 1) given
    an object at the step before: the first n steps present, then (for n < N) step n + 1
    absent."""
    rho = pres_probs.clamp(1e-6, 1 - 1e-6)
    present = F.pad(rho.log().cumsum(-1), (1, 0))  # sum of log rho_i over i <= n
    return present + F.pad((1 - rho).log(), (0, 1))  # the stop, except after step N


def where_to_window(z_where: Tensor, scale_range: tuple[float, float] | None = None) -> Tensor:
    """z_where (..., 3) as (z_scale, x, y) -> the transformer's window (..., 3) as (s, x, y).

    The half-width s is exp(z_scale), or with ``scale_range`` (lo, hi) lo + (hi - lo)
    sigmoid(z_scale): a window that can be neither smaller nor larger than an object may be.
    """
    z_scale = z_where[..., :1]
    if scale_range is None:
        s = z_scale.exp()
    else:
        lo, hi = scale_range
        s = lo + (hi - lo) * torch.sigmoid(z_scale)
    return torch.cat([s, z_where[..., 1:]], -1)


def window_outlines(
    z_where: Tensor, *, height: int, width: int, scale_range: tuple[float, float] | None = None
) -> Tensor:
    """z_where (..., 3) -> the window's corners (..., 4, 2) in pixels (TL, TR, BR, BL)."""
    window = where_to_window(z_where, scale_range)
    return grid_corners(window_theta(window), height=height, width=width)


def window_boxes(
    z_where: Tensor, *, height: int, width: int, scale_range: tuple[float, float] | None = None
) -> Tensor:
    """z_where (..., 3) -> the window's box (..., 4) as (left, top, right, bottom) in pixels."""
    corners = window_outlines(z_where, height=height, width=width, scale_range=scale_range)
    return torch.cat([corners[..., 0, :], corners[..., 2, :]], -1)


TINY = dict(steps=2, z_what_size=4, lstm_size=16, hidden_size=16, embed_size=16, window=8)

# The pixels' standard deviation around the canvas, sigma in x ~ Normal(canvas, sigma). [1] does
# not give it; 0.3 is Pyro's. 0.2 was tried once for DAIR on unseen counts and not adopted
# (benchmarks/records/probes/dair_interpolation_memoryless_std0.2.json, docs/air.md).
LIKELIHOOD_STD = 0.3


class AIRState(NamedTuple):
    """What step i hands step i + 1 ([1] fig. 3; Pyro AIR's ``GuideState``), for B images.

    h, c: (B, L) the inference LSTM's state.
    z_pres: (B,) step i's presence; z_where: (B, 3), z_what: (B, D) its latents. The next step's
        LSTM reads all three; before the first step they are 0 (no latents yet).
    alive: (B,) whether step i + 1 may propose an object: z_pres_i, and 1 before the first step.
    canvas: (B, C, H, W) the reconstruction so far, the sum of the objects pasted (0 at first).
    """

    h: Tensor
    c: Tensor
    z_pres: Tensor
    z_where: Tensor
    z_what: Tensor
    alive: Tensor
    canvas: Tensor


class AIRProposal(NamedTuple):
    """What step i proposed besides the latents it hands on in ``AIRState``, for B images.

    pres_probs: (B,) rho_i, q(z_pres_i = 1) given an object at the step before.
    where_loc, where_scale: (B, 3) q(z_where_i); what_loc, what_scale: (B, D) q(z_what_i).
    objects: (B, C, w, w) the decoded object y_i, before pasting.
    """

    pres_probs: Tensor
    where_loc: Tensor
    where_scale: Tensor
    what_loc: Tensor
    what_scale: Tensor
    objects: Tensor


@register_model("dair", training="scenes", data="scenes", fixed={"difference": True}, tiny=TINY)
@register_model("air", training="scenes", data="scenes", fixed={"difference": False}, tiny=TINY)
class AIR(nn.Module):
    """AIR of [1] ('air'), and DAIR ('dair': the same network with ``difference=True``).

    ``step`` is one step of the inference network and the decoder; ``forward`` unrolls N of
    them from ``initial_state``, and everything else that runs the recurrence calls ``forward``.

    Args, [1]'s settings for multi-MNIST first (sec. 3.1; the defaults):
        image_size: side of the square scenes (multi-MNIST: 50).
        channels: image channels.
        steps: N, the most objects a scene is explained by ([1]: 3 for multi-MNIST).
        z_what_size: D, the appearance code ([1]: 50).
        lstm_size: L, the inference LSTM's state ([1]: 256).
        hidden_size: hidden units of the encoder, decoder and proposal MLPs ([1]: 200).
        difference: DAIR ([1] sec. 3.3): each step reads the image minus the canvas so far.
            Fixed by the registered name, 'air' or 'dair'.

    How z_pres learns ([1] sec. 2.2 and the alternatives):
        estimator: 'reinforce' (likelihood ratio with NVIL baselines, [1]'s), 'concrete' (a
            relaxed z_pres during training, [3]) or 'enumerate' (the sum over the N + 1 counts,
            exact; a departure from [1], and the one every config uses).
        baseline_hidden: 'reinforce': hidden units of the baseline MLP (reads the LSTM state,
            detached).
        signal_decay: 'reinforce': decay of the running mean that centres the learning signal
            ([2] sec. 3.3) and of the running variance the baselines' error is measured in.
        temperature: 'concrete': the relaxation's temperature.

    What [1] does not give for multi-MNIST (sizes, priors):
        embed_size: the image is embedded by one layer of this width before the LSTM reads it.
        window: w, side of the square glimpse the encoder reads and the object the decoder
            writes.
        z_pres_prior: p(z_pres_i = 1 | z_pres_{i-1} = 1), a geometric prior on the count.
        scale_prior: mean and standard deviation of z_scale's prior (the log half-width, or
            with ``scale_range`` the logit of its place in the range).
        shift_prior_std: standard deviation of the window centre's prior.

    Departures from [1] (each measured in docs/air.md):
        scale_range: bounds (lo, hi) of the window's half-width, None for any (see
            ``where_to_window``). [1]'s scale is only held by its prior: a prior is a price,
            and a window over two digits can pay it.
        initial_presence: q(z_pres_i = 1) at initialisation, whatever the image: low starts
            with few objects, so the first step's decoder learns whole digits before later
            steps can share them out.
        decoder_bias: initial bias of the decoder's output logits: negative starts objects dark,
            so the first steps do not paint the whole window grey.
        recurrent: carry the LSTM's state from step to step, as in [1]. False starts every step
            from a zero state: a step then knows only what it reads (with ``difference``, what
            is left to explain) and the latents of the step before, not how many objects came
            before it; for counts never seen in training.
    """

    def __init__(
        self,
        *,
        # [1]'s model for multi-MNIST.
        image_size: int = 50,
        channels: int = 1,
        steps: int = 3,
        z_what_size: int = 50,
        lstm_size: int = 256,
        hidden_size: int = 200,
        difference: bool = False,
        # How z_pres learns.
        estimator: Estimator = "reinforce",
        baseline_hidden: int = 100,
        signal_decay: float = 0.9,
        temperature: float = 0.5,
        # What [1] does not give.
        embed_size: int = 256,
        window: int = 20,
        z_pres_prior: float = 0.01,
        scale_prior: tuple[float, float] = (math.log(0.5), 0.3),
        shift_prior_std: float = 1.0,
        # Departures from [1].
        scale_range: tuple[float, float] | None = None,
        initial_presence: float = 0.5,
        decoder_bias: float = -2.0,
        recurrent: bool = True,
    ) -> None:
        super().__init__()
        if estimator not in get_args(Estimator):
            raise ValueError(
                f"estimator must be one of {', '.join(get_args(Estimator))}, got {estimator!r}"
            )
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        if not 0 < z_pres_prior < 1:
            raise ValueError(f"z_pres_prior must be in (0, 1), got {z_pres_prior}")
        if not 0 < initial_presence < 1:
            raise ValueError(f"initial_presence must be in (0, 1), got {initial_presence}")
        if scale_range is not None and not 0 < scale_range[0] < scale_range[1]:
            raise ValueError(f"scale_range must be (lo, hi) with 0 < lo < hi, got {scale_range}")
        if temperature <= 0 or scale_prior[1] <= 0:
            raise ValueError("temperature and the scale prior's std must be > 0")
        self.image_size, self.channels, self.steps = image_size, channels, steps
        self.z_what_size, self.window, self.estimator = z_what_size, window, estimator
        self.temperature = temperature
        self.difference, self.signal_decay = difference, signal_decay
        self.recurrent = recurrent
        self.scale_range = tuple(scale_range) if scale_range is not None else None
        pixels = channels * image_size * image_size
        glimpse = channels * window * window
        latents = WHERE + z_what_size + 1
        # Inference network ([1] fig. 3).
        self.embed = nn.Sequential(nn.Linear(pixels, embed_size), nn.ReLU())
        self.lstm = nn.LSTMCell(embed_size + latents, lstm_size)
        self.propose = mlp([lstm_size, hidden_size, 1 + 2 * WHERE])  # rho, z_where's loc, scale
        self.encoder = mlp([glimpse, hidden_size, 2 * z_what_size])  # z_what's loc, scale
        # Generative model.
        self.decoder = mlp([z_what_size, hidden_size, glimpse])
        # NVIL baselines [2]: b_i from the LSTM state, trained by squared error; only the
        # likelihood ratio needs them.
        self.baseline = mlp([lstm_size, baseline_hidden, 1]) if estimator == "reinforce" else None
        self.register_buffer("signal_mean", torch.zeros(()))
        self.register_buffer("signal_var", torch.ones(()))
        self.register_buffer("z_pres_prior", torch.tensor(float(z_pres_prior)))
        self.register_buffer("scale_prior", torch.tensor([float(v) for v in scale_prior]))
        self.register_buffer("shift_prior_std", torch.tensor(float(shift_prior_std)))
        with torch.no_grad():
            last = self.propose[-1]
            last.weight.mul_(0.1)
            # Windows start at the prior's size, in the middle.
            presence = math.log(initial_presence / (1 - initial_presence))
            last.bias.copy_(torch.tensor([presence, scale_prior[0], 0.0, 0.0, -2.0, -2.0, -2.0]))
            self.decoder[-1].bias.fill_(decoder_bias)

    # -- the model's parts ---------------------------------------------------------------------

    def check_input_size(self, height: int, width: int) -> None:
        check_square_size(type(self).__name__, self.image_size, height, width)

    def sample_noise(self, images: Tensor) -> Tensor:
        """Every draw of one pass: (B, N, 1 + 3 + D); column 0 uniform (z_pres), the rest
        standard normal (z_where, z_what)."""
        B, N = images.shape[0], self.steps
        uniform = torch.rand(B, N, 1, device=images.device)
        normal = torch.randn(B, N, WHERE + self.z_what_size, device=images.device)
        return torch.cat([uniform, normal], -1)

    def decode(self, z_what: Tensor) -> Tensor:
        """z_what (..., D) -> objects (..., C, w, w) in (0, 1)."""
        logits = self.decoder(z_what)
        return torch.sigmoid(logits).unflatten(-1, (self.channels, self.window, self.window))

    def render(self, objects: Tensor, z_where: Tensor) -> Tensor:
        """Objects (B, C, w, w) pasted through z_where (B, 3) -> (B, C, H, W)."""
        S = self.image_size
        return paste(objects, where_to_window(z_where, self.scale_range), height=S, width=S)

    def _present(self, rho: Tensor, u: Tensor, alive: Tensor, mode: bool) -> Tensor:
        """z_pres_i (B,) from q's probability rho, a uniform draw u, and the step before's."""
        if mode:
            return alive * (rho > 0.5).to(rho.dtype)
        if self.estimator == "enumerate" and self.training:
            return alive  # every step proposes: the loss weighs each count by q(n)
        if self.estimator == "concrete" and self.training:
            # A Concrete (relaxed Bernoulli) draw through the logistic noise of u ([3] eq. 12).
            logit = torch.logit(rho, eps=1e-6) + torch.logit(u, eps=1e-6)
            return alive * torch.sigmoid(logit / self.temperature)
        return alive * (u < rho).to(rho.dtype)

    # -- the recurrence --------------------------------------------------------------------------

    def initial_state(self, images: Tensor) -> AIRState:
        """The state before the first step, for images (B, C, H, W): zero LSTM state, no latents,
        an empty canvas, and a first step that may always propose."""
        B = images.shape[0]
        h = images.new_zeros(B, self.lstm.hidden_size)
        return AIRState(
            h=h,
            c=torch.zeros_like(h),
            z_pres=images.new_zeros(B),
            z_where=images.new_zeros(B, WHERE),
            z_what=images.new_zeros(B, self.z_what_size),
            alive=images.new_ones(B),
            canvas=torch.zeros_like(images),
        )

    def step(
        self,
        state: AIRState,
        images: Tensor,
        noise: Tensor,
        *,
        embedded: Tensor | None = None,
        mode: bool = False,
    ) -> tuple[AIRState, AIRProposal]:
        """Step i ([1] fig. 3): read, propose z_pres_i and z_where_i, crop and encode z_what_i,
        decode the object y_i and paste it into the canvas.

        state: the step before's (``initial_state`` before the first). images: x (B, C, H, W).
        noise: (B, 1 + 3 + D) this step's draws, ``sample_noise(images)[:, i]``.
        embedded: (B, E) the embedding of x, which every step of AIR reads: computed once by the
            caller, or None to embed here. DAIR's steps embed what they read, x - canvas.
        mode: take each latent's most likely value (see ``forward``).

        Returns the state after step i and what it proposed.
        """
        seen = images - state.canvas if self.difference else images  # (B, C, H, W)
        if self.difference or embedded is None:
            embedded = self.embed(seen.flatten(1))  # (B, E)
        h, c = state.h, state.c
        if not self.recurrent:
            h, c = torch.zeros_like(h), torch.zeros_like(c)
        previous = torch.cat([state.z_where, state.z_what, state.z_pres[:, None]], -1)
        h, c = self.lstm(torch.cat([embedded, previous], -1), (h, c))  # (B, L) each
        proposal = self.propose(h)  # (B, 1 + 2 * 3)
        rho = torch.sigmoid(proposal[:, 0])  # (B,)
        where_loc = proposal[:, 1 : 1 + WHERE]
        where_scale = F.softplus(proposal[:, 1 + WHERE :]) + 1e-4
        u, eps_where, eps_what = noise.split([1, WHERE, self.z_what_size], -1)
        z_pres = self._present(rho, u[:, 0], state.alive, mode)
        z_where = where_loc if mode else where_loc + where_scale * eps_where  # reparameterised
        glimpse = crop(seen, where_to_window(z_where, self.scale_range), size=self.window)
        encoded = self.encoder(glimpse.flatten(1))  # (B, 2 D)
        what_loc, what_scale = encoded[:, : self.z_what_size], encoded[:, self.z_what_size :]
        what_scale = F.softplus(what_scale) + 1e-4
        z_what = what_loc if mode else what_loc + what_scale * eps_what
        objects = self.decode(z_what)  # (B, C, w, w)
        canvas = state.canvas + z_pres[:, None, None, None] * self.render(objects, z_where)
        after = AIRState(
            h=h, c=c, z_pres=z_pres, z_where=z_where, z_what=z_what, alive=z_pres, canvas=canvas
        )
        return after, AIRProposal(rho, where_loc, where_scale, what_loc, what_scale, objects)

    def forward(
        self, images: Tensor, noise: Tensor | None = None, *, mode: bool = False
    ) -> AIROutput:
        """Explain images (B, C, H, W) in [0, 1] in at most N steps: N calls of ``step``.

        noise: the draws of ``sample_noise``; None draws them here. mode: take every latent's
        most likely value instead (z_pres_i = [rho_i > 0.5], the means of z_where and z_what),
        the deterministic decomposition that evaluation counts objects with.
        """
        check_input(self, images, ("B", self.channels, self.image_size, self.image_size))
        if noise is None:
            noise = self.sample_noise(images)
        # AIR reads the same x at every step: embed it once.
        embedded = None if self.difference else self.embed(images.flatten(1))
        states, proposals = [self.initial_state(images)], []
        for i in range(self.steps):
            state, proposal = self.step(
                states[-1], images, noise[:, i], embedded=embedded, mode=mode
            )
            states.append(state)
            proposals.append(proposal)
        before, after = states[:-1], states[1:]

        def stack(items: list, name: str) -> Tensor:  # (B, ...) per step -> (B, N, ...)
            return torch.stack([getattr(item, name) for item in items], 1)

        return AIROutput(
            z_pres=stack(after, "z_pres"),
            alive=stack(before, "alive"),
            pres_probs=stack(proposals, "pres_probs"),
            where_loc=stack(proposals, "where_loc"),
            where_scale=stack(proposals, "where_scale"),
            z_where=stack(after, "z_where"),
            what_loc=stack(proposals, "what_loc"),
            what_scale=stack(proposals, "what_scale"),
            z_what=stack(after, "z_what"),
            objects=stack(proposals, "objects"),
            canvases=stack(after, "canvas"),
            state=stack(after, "h"),
        )

    # -- the bound and its gradient -------------------------------------------------------------

    def kl_terms(self, out: AIROutput) -> tuple[Tensor, Tensor, Tensor]:
        """Per step KL terms (B, N) of z_pres, z_where, z_what, weighted as in the ELBO: a step
        proposes z_pres only when the step before found an object, and z_where and z_what count
        only for present objects."""
        rho = out.pres_probs.clamp(1e-6, 1 - 1e-6)
        prior = self.z_pres_prior.expand_as(rho)
        kl_pres = out.alive * kl_divergence(Bernoulli(probs=rho), Bernoulli(probs=prior))
        where_prior = Normal(
            torch.cat([self.scale_prior[:1], self.scale_prior.new_zeros(2)]),
            torch.cat([self.scale_prior[1:], self.shift_prior_std.expand(2)]),
        )
        kl_where = kl_divergence(Normal(out.where_loc, out.where_scale), where_prior).sum(-1)
        kl_what = kl_divergence(Normal(out.what_loc, out.what_scale), Normal(0.0, 1.0)).sum(-1)
        return kl_pres, out.z_pres * kl_where, out.z_pres * kl_what

    def log_likelihood(self, images: Tensor, out: AIROutput) -> Tensor:
        """log p(x | z) (B,): the pixels under Normal(final canvas, ``LIKELIHOOD_STD``)."""
        canvas = out.canvases[:, -1]
        return Normal(canvas, LIKELIHOOD_STD).log_prob(images).flatten(1).sum(-1)

    def loss(self, out: AIROutput, images: Tensor) -> AIRLoss:
        """The negative ELBO, and for 'reinforce' the surrogate for z_pres's gradient.

        The learning signal of z_pres_i ([1] sec. 2.2) is every term of the ELBO that its draw
        can change: log p(x | z) minus the KL of z_where and z_what from step i on and of
        z_pres after step i. It is centred by the baseline b_i and by a running mean (NVIL
        [2]); the baselines learn its value by squared error. ``images`` are the targets: the
        model explains its input.
        """
        if self.estimator == "enumerate" and self.training:
            return self._enumerated_loss(out, images)
        log_lik = self.log_likelihood(images, out)
        kl_pres, kl_where, kl_what = self.kl_terms(out)
        elbo = log_lik - (kl_pres + kl_where + kl_what).sum(-1)  # (B,)
        total = -elbo.mean()
        baseline_error = elbo.new_zeros(())
        if self.estimator == "reinforce" and self.training:
            with torch.no_grad():
                # cost_i: KL of z_where, z_what at steps >= i and of z_pres at steps > i.
                later = kl_where + kl_what + F.pad(kl_pres[:, 1:], (0, 1))
                cost = later.flip(1).cumsum(1).flip(1)
                signal = log_lik[:, None] - cost  # (B, N)
            baseline = self.baseline(out.state.detach()).squeeze(-1)  # (B, N)
            alive = out.alive
            advantage, baseline_error = nvil_signal(
                signal,
                baseline,
                alive,
                running_mean=self.signal_mean,
                running_var=self.signal_var,
                decay=self.signal_decay,
            )
            log_q = Bernoulli(probs=out.pres_probs.clamp(1e-6, 1 - 1e-6)).log_prob(
                (out.z_pres > 0.5).to(out.pres_probs.dtype)
            )
            surrogate = -(alive * advantage * log_q).sum(-1).mean()
            total = total + surrogate + baseline_error
        return AIRLoss(
            total=total,
            nll_bound=-elbo.mean(),
            reconstruction=-log_lik.mean(),
            kl_pres=kl_pres.sum(-1).mean(),
            kl_where=kl_where.sum(-1).mean(),
            kl_what=kl_what.sum(-1).mean(),
            objects=out.count.mean(),
            baseline_error=baseline_error,
        )

    def count_log_probs(self, pres_probs: Tensor) -> Tensor:
        """log q(n) (B, N + 1) of each count n = 0..N (``count_log_probs``)."""
        return count_log_probs(pres_probs)

    def _enumerated_loss(self, out: AIROutput, images: Tensor) -> AIRLoss:
        """The bound summed over the N + 1 counts (``estimator='enumerate'``): ``out`` is a
        pass in which every step proposed an object."""
        log_q = self.count_log_probs(out.pres_probs)  # (B, N + 1)
        log_p = self.count_log_probs(self.z_pres_prior.expand_as(out.pres_probs))
        q = log_q.exp()
        kl_count = (q * (log_q - log_p)).sum(-1)  # KL(q(n) || p(n)), (B,)
        canvases = torch.cat([torch.zeros_like(out.canvases[:, :1]), out.canvases], 1)
        log_lik = (
            Normal(canvases, LIKELIHOOD_STD).log_prob(images[:, None]).flatten(2).sum(-1)
        )  # (B, N + 1): log p(x | the first n objects)
        _, kl_where, kl_what = self.kl_terms(out)  # (B, N), every step present

        def up_to(per_step: Tensor) -> Tensor:  # (B, N) -> (B, N + 1), summed over i <= n
            return F.pad(per_step.cumsum(-1), (1, 0))

        reconstruction = -(q * log_lik).sum(-1)
        where, what = (q * up_to(kl_where)).sum(-1), (q * up_to(kl_what)).sum(-1)
        bound = reconstruction + where + what + kl_count
        counts = torch.arange(q.shape[-1], device=q.device, dtype=q.dtype)
        return AIRLoss(
            total=bound.mean(),
            nll_bound=bound.mean(),
            reconstruction=reconstruction.mean(),
            kl_pres=kl_count.mean(),
            kl_where=where.mean(),
            kl_what=what.mean(),
            objects=(q * counts).sum(-1).mean(),
            baseline_error=bound.new_zeros(()),
        )

    # -- what it found ---------------------------------------------------------------------------

    def decompose(self, images: Tensor) -> Decomposition:
        """The most likely decomposition of images (B, C, H, W): see ``Decomposition``."""
        out = self(images, mode=True)
        S = self.image_size
        return Decomposition(
            present=out.z_pres,
            outlines=window_outlines(out.z_where, height=S, width=S, scale_range=self.scale_range),
            canvases=out.canvases,
        )

    def attended(self, images: Tensor, output: AIROutput) -> Glimpses:
        """The windows of each step (B, N, 1, 4, 2), and the glimpses read through them."""
        S = self.image_size
        outlines = window_outlines(output.z_where, height=S, width=S, scale_range=self.scale_range)[
            :, :, None
        ]
        windows = where_to_window(output.z_where, self.scale_range).flatten(0, 1)
        repeated = images.repeat_interleave(self.steps, 0)
        views = crop(repeated, windows, size=self.window).unflatten(0, (-1, self.steps))
        return Glimpses(outlines=outlines, views=views)
