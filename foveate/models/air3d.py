"""AIR whose decoder is a fixed 3D renderer: scenes of primitives inverted, object by object.

[1] Eslami, Heess, Weber, Tassa, Szepesvari, Kavukcuoglu, Hinton, "Attend, Infer, Repeat: Fast
    Scene Understanding with Generative Models", NIPS 2016, sec. 3.3 ("3D scenes").
[2] Mnih, Gregor, "Neural Variational Inference and Learning in Belief Networks", ICML 2014.

The generative model of [1] sec. 3.3: a scene holds n objects (z_pres as in AIR); object i is
a primitive with an identity z_what_i (cube, sphere or cylinder, a discrete latent), a place
z_where_i = (x, z) on the ground plane and a rotation theta_i about the vertical axis; the image
is the scene drawn by a fixed renderer (``foveate.render``, not learned), and x ~ Normal(image,
``likelihood_std``) pixel by pixel. There is nothing to learn in the generative model: training
learns the inference network only, which inverts the renderer.

The inference network is AIR's ([1] fig. 3, ``foveate.models.air``): an LSTM runs for at most N
steps, reading the image (or with ``difference``, the image minus the scene drawn so far, as
DAIR does) and the latents of the step before; at step i it proposes q(z_pres_i) =
Bernoulli(rho_i) and q(z_where_i) = Normal over (x, z), then reads a glimpse of the image
around the place the camera sees that position at (``Camera.project``), from which it proposes
q(identity_i) = Categorical and q(theta_i) = Normal.

Priors (ours; [1] gives none for this experiment): a geometric count (``z_pres_prior``), the
identities uniform, each position coordinate Normal(0, ``position_prior_std``), each rotation
uniform on the circle. Its KL from q = Normal(mu, sigma) is log 2 pi - H(q), with sigma at most
0.5, where the normal's entropy and the wrapped normal's are the same to float precision.

Gradients ([1]: "finite differencing to obtain gradients through the renderer", and
score-function estimators for the discrete latents):

- position and rotation are reparameterised, and reach the renderer by autograd
  (``gradient='autograd'``) or by central finite differences (``'finite_differences'``, [1]'s);
- z_pres and the identities: ``estimator='enumerate'`` sums the bound over every count and
  every identity of the objects counted, exactly (sum_n 3^n terms: 40 for N = 3), rendering each
  step's object once per identity and compositing the combinations; ``'reinforce'`` draws them
  and takes the likelihood-ratio estimate with NVIL's baselines [2], as AIR's z_pres does.

Evaluation takes every latent's most likely value (``mode``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Bernoulli, Categorical, Normal, kl_divergence
from torch.func import functional_call

from foveate.attention.transformer import crop, grid_corners, window_theta
from foveate.models import register_model
from foveate.models.air import count_log_probs, mlp
from foveate.models.interface import Decomposition, Poses, check_input, check_square_size
from foveate.models.reinforce import nvil_signal
from foveate.render import (
    HALF_SIZE,
    SHAPES,
    ObjectLayers,
    Scene,
    composite,
    golden_section_minimum,
    render_objects,
    render_objects_finite_differences,
)
from foveate.render.scene import DEFAULT_CAMERA

Estimator = Literal["reinforce", "enumerate"]
Gradient = Literal["autograd", "finite_differences"]
IDENTITIES = len(SHAPES)
WHERE = 2  # (x, z) on the ground plane
# q(theta)'s standard deviation at most (radians), and where it starts. A cube looks the same
# every quarter turn (1.57 rad): drawn with a deviation near 1, its rotation reads as noise and
# the bound is flat in the mean, so the prior's entropy term widens q further (probe
# air3d_single_10ep_bounded: the deviation sat at its old cap, 1, and the rotation at chance).
ROTATION_STD_MAX = 0.5
ROTATION_STD_START = 0.1
# Where a rotation per identity learns at its own rate, q(identity) below this counts as this:
# the gradient is multiplied by 1000 at most.
MIN_IDENTITY_SHARE = 1e-3
CUBE = SHAPES.index("cube")
QUARTER_TURN = math.pi / 2  # a cube looks the same after it
# Each step hands on its position, its identity one-hot, its rotation as (cos, sin) and z_pres.
LATENTS = WHERE + IDENTITIES + 2 + 1

# The tiny model's likelihood sigma is 1: at 0.1, the renderer's searches compiled and eager
# differ by float rounding (a comparison of two close values can go either way) that 1 / sigma^2
# amplifies to 2.5e-4 of the bound, beyond the compiled-against-eager check's 1e-4.
TINY = dict(
    steps=2,
    lstm_size=16,
    hidden_size=16,
    embed_size=16,
    window=8,
    render_steps=8,
    likelihood_std=1.0,
)


@dataclass
class AIR3DOutput:
    """One pass of the inference network over B images, N steps.

    z_pres: (B, N) presence drawn (hard 0/1; under 'enumerate' in training, 1 at every step:
        the loss weighs each count by q). alive: (B, N) z_pres of the step before (1 at first).
    pres_probs: (B, N) rho_i.
    where_loc, where_scale: (B, N, 2) q(z_where_i); z_where: (B, N, 2) the positions drawn.
    identity_logits: (B, N, 3) q(identity_i); identity: (B, N) long, the identities drawn.
    rotation_loc, rotation_scale: (B, N) q(theta_i) of the identity drawn; rotation: (B, N) the
        rotations drawn. each_rotation_loc, each_rotation_scale, each_rotation: (B, N, R) the
        same for each identity (R = 3, ``rotation_per_identity``) or the one shared (R = 1).
    state: (B, N, L) the LSTM's state at each step (the baselines read it, detached).
    """

    z_pres: Tensor
    alive: Tensor
    pres_probs: Tensor
    where_loc: Tensor
    where_scale: Tensor
    z_where: Tensor
    identity_logits: Tensor
    identity: Tensor
    rotation_loc: Tensor
    rotation_scale: Tensor
    rotation: Tensor
    each_rotation_loc: Tensor
    each_rotation_scale: Tensor
    each_rotation: Tensor
    state: Tensor

    @property
    def count(self) -> Tensor:
        """(B,) the number of objects found."""
        return self.z_pres.sum(-1)


@dataclass
class AIR3DLoss:
    """The loss of one batch (scalars, nats per image unless said otherwise).

    total: what training minimises: the negative ELBO, plus under 'reinforce' the surrogate of
        the likelihood-ratio estimate and the baselines' squared error.
    nll_bound: the negative ELBO. reconstruction: -E_q log p(x | z).
    kl_pres, kl_identity, kl_where, kl_rotation: each kind of latent's KL, summed over steps.
    objects: the mean number of objects found (expected under q with 'enumerate').
    baseline_error: the baselines' squared error ('reinforce').
    """

    total: Tensor
    nll_bound: Tensor
    reconstruction: Tensor
    kl_pres: Tensor
    kl_identity: Tensor
    kl_where: Tensor
    kl_rotation: Tensor
    objects: Tensor
    baseline_error: Tensor


def identity_combinations(steps: int) -> Tensor:
    """(C, N) every assignment of identities to the first n steps, n = 0..N, in order of n: row
    c holds each step's identity, or ``IDENTITIES`` (absent) from step n on. C = sum_n 3^n."""
    rows = []
    for n in range(steps + 1):
        for ids in itertools.product(range(IDENTITIES), repeat=n):
            rows.append(list(ids) + [IDENTITIES] * (steps - n))
    return torch.tensor(rows, dtype=torch.long)


def weights_gradient_divided(
    module: nn.Module, inputs: Tensor, divisor: Callable[[Tensor], Tensor]
) -> Tensor:
    """``module(inputs)`` (B, O), whose gradient on the way to the module's weights is divided,
    output by output, by ``divisor(value)`` (B, O), while the gradient that reaches ``inputs``
    (B, F) is left as it is. Two passes, one whose gradient reaches the weights alone and one
    the inputs alone; the value is theirs (the same)."""
    weights_only = module(inputs.detach())
    fixed = {name: w.detach() for name, w in module.named_parameters()}
    inputs_only = functional_call(module, fixed, (inputs,))
    value = weights_only.detach()
    return value + (weights_only - value) / divisor(value) + (inputs_only - inputs_only.detach())


@register_model("air3d", training="inverse_graphics", data="rendered_scenes", tiny=TINY)
class AIR3D(nn.Module):
    """AIR inverting a fixed renderer ([1] sec. 3.3): count, identity, place, rotation.

    Args, the scenes' side first:
        image_size: side of the square images.
        channels: image channels (the renderer draws greyscale: 1).
        steps: N, the most objects a scene is explained by ([1]: scenes of 1 to 3).
        difference: each step reads the image minus the scene drawn so far (DAIR, [1] sec. 3.3)
            instead of the image.

    The inference network (sizes ours; [1] gives none for this experiment):
        lstm_size, hidden_size, embed_size: as AIR's.
        window: side of the glimpse read around each proposed object.
        glimpse_scale: its half-width in normalised image units (an object at the scene's
            centre spans about 0.16 of them).

    The generative model (the renderer's settings and the priors):
        likelihood_std: sigma of x ~ Normal(image, sigma).
        render_steps: iterations of the renderer's searches (``foveate.render``); fewer is
            faster and coarser.
        temperature: the renderer's soft silhouette (object widths), where training ends and
            what evaluation uses.
        temperature_start: where training starts it, None for ``temperature`` throughout. A
            wide silhouette gives a proposed object that does not yet overlap the true one a
            gradient towards it (a sharp one only pixels at its edge); it narrows log-linearly
            to ``temperature`` over the first ``temperature_anneal`` of training
            (``set_progress``).
        temperature_anneal: that share of training's steps.
        z_pres_prior: p(z_pres_i = 1 | z_pres_{i-1} = 1), a geometric prior on the count.
        position_prior_std: standard deviation of x and z's Normal(0, .) prior.

    How it learns:
        estimator: 'enumerate' (the bound summed over counts and identities, exact) or
            'reinforce' (likelihood ratio with NVIL baselines [2], [1]'s).
        gradient: 'autograd' (through the renderer) or 'finite_differences' ([1]'s).
        finite_difference_step: the central differences' step, in object widths and radians.
        baseline_hidden, signal_decay: 'reinforce': as AIR's.
        identity_logit_bound: q(identity)'s logits are b tanh(l / b), within +-b: no identity's
            probability falls below about e^(-2b) / 3, so that one that fits no scene early on
            (while the silhouette is wide, every shape looks alike) still gets a gradient when
            it comes to fit (the exact sum's gradient for an identity is its probability times
            its advantage). None: unbounded.
        initial_presence: q(z_pres_i = 1) at initialisation.
        identity_warmup: the share of training during which q(identity) is held uniform (its
            logits at zero), so that every identity's pose is trained alike while the
            silhouette is still wide; then it is learnt from a likelihood that tells the shapes
            apart. 0: learnt from the start. (Learnt from the start, q settled on one shape,
            then two, for every scene while the silhouette was wide, and the exact sum's
            gradient for an identity, its probability times its advantage, never brought the
            others back: probes air3d_single_10ep and _bounded, 32.0% and 65.2%. Held uniform
            for the first half, it settled on two shapes just the same once released: probe
            air3d_single_10ep_identity_warmup, 65.2%; docs/air.md.)
        rotation_per_identity: q(theta_i | identity_i), a rotation for each identity, in place
            of one rotation whatever the identity. Under 'enumerate' each identity's rotation
            then learns from that identity's own fit at full rate, its gradient divided by
            q(identity) (bounded at 1/``MIN_IDENTITY_SHARE``): where the bound is maximised in
            q(theta | k) does not depend on q(k), so this moves no optimum, but an identity
            that q has all but given up, a cube whose rotation is still wrong, say, goes on
            learning its rotation until it fits better than the shape that replaced it. The
            rotations then come from a network of their own (``turn_encoder``), and only its
            weights get the raised gradient: raised in a network shared with the identity's
            logits and reaching the glimpse, it drowned the rest (probe
            air3d_single_10ep_rotation_per_identity, commit 7b63bbc: q(identity) one shape
            for every scene, 32.0% of the test scenes).
        rotation_symmetry: n, where q(theta)'s mean is read as atan2(v) / n from a vector v the
            network gives: the rotation modulo a 1/n turn, which varies continuously with the
            image of a shape that looks the same every 1/n turn (a cube: 4). None: the mean is
            read as an angle, which must jump somewhere between a cube's images turned by
            just under and just over a quarter turn: rotation did not learn so (probes
            air3d_single_10ep_*, docs/air.md), where the same renderer's gradient, followed
            scene by scene, finds a cube's rotation to within a degree (air3d_landscape).
        rotation_std_max: q(theta)'s standard deviation at most (radians); it starts at the
            smaller of this and ``ROTATION_STD_START``. A cube's likelihood is periodic in a
            quarter turn (1.57 rad) with a sharp peak: drawn with a deviation of 0.5, a rotation
            near the peak mostly lands off it.
        rotation_search: n > 0: q(theta)'s mean is not the network's but found scene by scene,
            by analysis by synthesis: the cube drawn at n rotations spread over a quarter turn
            at the step's position, the one that best explains what the step sees kept, then
            ``rotation_refine`` steps of a golden-section search within a grid spacing of it.
            The network still gives q(theta)'s deviation. A cube's rotation is the only one the
            images show (a sphere's and an upright cylinder's cannot be seen), so the one
            search serves every identity. Why: followed scene by scene, the renderer finds a
            cube's rotation to within a degree, where no inference network tried learnt to
            give it, and at a wrong rotation a cube loses to the cylinder (air3d_landscape,
            docs/air.md). 0: the network's mean.
        rotation_refine: the golden-section steps after the grid (each shrinks the interval by
            0.618, from two grid spacings).
        identity_own_rate: under 'enumerate', the gradient that reaches the encoder's weights
            through identity k's logit is divided by q(identity = k) (bounded at
            1/``MIN_IDENTITY_SHARE``): the exact sum's gradient for a logit is q(k) times k's
            advantage, so an identity q has given up gets almost none however much better it
            now fits; divided, it gets its advantage (the natural gradient of a categorical's
            logits has this form), and no optimum moves. What reaches the reading, and through
            it the glimpse, the position and the LSTM, is left as it is. (With the rotation
            searched, q(cube) sat at the bound's floor for every cube scene while the cube fit
            better: air3d_heads_55min_rotation_search; docs/air.md.)
    """

    def __init__(
        self,
        *,
        image_size: int = 32,
        channels: int = 1,
        steps: int = 3,
        difference: bool = False,
        lstm_size: int = 256,
        hidden_size: int = 200,
        embed_size: int = 256,
        window: int = 16,
        glimpse_scale: float = 0.3,
        likelihood_std: float = 0.1,
        render_steps: int = 16,
        temperature: float = 0.05,
        temperature_start: float | None = None,
        temperature_anneal: float = 0.5,
        z_pres_prior: float = 0.5,
        position_prior_std: float = 1.0,
        estimator: Estimator = "enumerate",
        gradient: Gradient = "autograd",
        finite_difference_step: float = 1e-2,
        baseline_hidden: int = 100,
        signal_decay: float = 0.9,
        identity_logit_bound: float | None = None,
        initial_presence: float = 0.5,
        identity_warmup: float = 0.0,
        rotation_per_identity: bool = False,
        rotation_symmetry: int | None = None,
        rotation_std_max: float = ROTATION_STD_MAX,
        rotation_search: int = 0,
        rotation_refine: int = 8,
        identity_own_rate: bool = False,
    ) -> None:
        super().__init__()
        if estimator not in get_args(Estimator):
            raise ValueError(
                f"estimator must be one of {', '.join(get_args(Estimator))}, got {estimator!r}"
            )
        if gradient not in get_args(Gradient):
            raise ValueError(
                f"gradient must be one of {', '.join(get_args(Gradient))}, got {gradient!r}"
            )
        if channels != 1:
            raise ValueError(
                f"the renderer draws greyscale images: channels must be 1, got {channels}"
            )
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        if not 0 <= identity_warmup < 1:
            raise ValueError(f"identity_warmup must be in [0, 1), got {identity_warmup}")
        for name, value in (("z_pres_prior", z_pres_prior), ("initial_presence", initial_presence)):
            if not 0 < value < 1:
                raise ValueError(f"{name} must be in (0, 1), got {value}")
        for name, value in (
            ("likelihood_std", likelihood_std),
            ("temperature", temperature),
            ("position_prior_std", position_prior_std),
            ("finite_difference_step", finite_difference_step),
            ("temperature_start", temperature_start),
            ("temperature_anneal", temperature_anneal),
            ("identity_logit_bound", identity_logit_bound),
            ("glimpse_scale", glimpse_scale),
        ):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self.image_size, self.channels, self.steps = image_size, channels, steps
        self.difference, self.window, self.glimpse_scale = difference, window, glimpse_scale
        self.likelihood_std, self.render_steps, self.temperature = (
            likelihood_std,
            render_steps,
            temperature,
        )
        self.estimator, self.gradient = estimator, gradient
        self.temperature_start, self.temperature_anneal = temperature_start, temperature_anneal
        self.identity_logit_bound = identity_logit_bound
        self.identity_warmup = identity_warmup
        self.identity_held = identity_warmup > 0  # q(identity) uniform (training only)
        self.rotation_per_identity = rotation_per_identity
        rotations = IDENTITIES if rotation_per_identity else 1
        if not rotation_std_max > 0:
            raise ValueError(f"rotation_std_max must be positive, got {rotation_std_max}")
        self.rotation_std_max = rotation_std_max
        if rotation_symmetry is not None and rotation_symmetry < 1:
            raise ValueError(f"rotation_symmetry must be at least 1, got {rotation_symmetry}")
        self.rotation_symmetry = rotation_symmetry
        if rotation_search < 0 or rotation_refine < 0:
            raise ValueError(
                f"rotation_search and rotation_refine must be 0 or more, got {rotation_search} "
                f"and {rotation_refine}"
            )
        self.rotation_search, self.rotation_refine = rotation_search, rotation_refine
        self.identity_own_rate = identity_own_rate
        self.loc_width = 1 if rotation_symmetry is None else 2  # an angle, or a vector
        self.current_temperature = temperature
        self.finite_difference_step, self.signal_decay = finite_difference_step, signal_decay
        pixels = image_size * image_size
        self.embed = nn.Sequential(nn.Linear(pixels, embed_size), nn.ReLU())
        self.lstm = nn.LSTMCell(embed_size + LATENTS, lstm_size)
        self.propose = mlp([lstm_size, hidden_size, 1 + 2 * WHERE])  # rho, z_where's loc, scale
        # identity's logits, theta's loc and scale, from the glimpse and the LSTM's state; with a
        # rotation per identity, those come from a network of their own (``turn_encoder``), so
        # that their gradient, raised where q(identity) is small, does not drown the identity's
        reading = window * window + lstm_size
        shared_turn = 0 if rotation_per_identity else self.loc_width + 1
        self.encoder = mlp([reading, hidden_size, IDENTITIES + shared_turn])
        self.turn_encoder = (
            mlp([reading, hidden_size, (self.loc_width + 1) * IDENTITIES])
            if rotation_per_identity
            else None
        )
        self.baseline = mlp([lstm_size, baseline_hidden, 1]) if estimator == "reinforce" else None
        self.register_buffer("signal_mean", torch.zeros(()))
        self.register_buffer("signal_var", torch.ones(()))
        self.register_buffer("z_pres_prior", torch.tensor(float(z_pres_prior)))
        self.register_buffer("position_prior_std", torch.tensor(float(position_prior_std)))
        self.register_buffer("combinations", identity_combinations(steps), persistent=False)
        with torch.no_grad():
            last = self.propose[-1]
            last.weight.mul_(0.1)
            presence = math.log(initial_presence / (1 - initial_presence))
            last.bias.copy_(torch.tensor([presence, 0.0, 0.0, -1.0, -1.0]))
            # q(theta) starts narrow: softplus(b) = ROTATION_STD_START
            narrow = math.log(math.expm1(min(ROTATION_STD_START, rotation_std_max)))
            turns = self.turn_encoder if rotation_per_identity else self.encoder
            turns[-1].bias[-rotations:].fill_(narrow)

    # -- the parts ------------------------------------------------------------------------------

    def check_input_size(self, height: int, width: int) -> None:
        check_square_size(type(self).__name__, self.image_size, height, width)

    def sample_noise(self, images: Tensor) -> Tensor:
        """Every draw of one pass: (B, N, 5); columns 0 and 3 uniform (z_pres, identity by its
        inverse distribution function), 1, 2 and 4 standard normal (x, z, theta)."""
        B, N = images.shape[0], self.steps
        uniform = torch.rand(B, N, 2, device=images.device)
        normal = torch.randn(B, N, WHERE + 1, device=images.device)
        return torch.stack(
            [uniform[..., 0], normal[..., 0], normal[..., 1], uniform[..., 1], normal[..., 2]], -1
        )

    def glimpse_windows(self, z_where: Tensor) -> Tensor:
        """Positions (..., 2) -> windows (..., 3) as (s, x, y) around where the camera sees an
        object's centre there (``foveate.attention.transformer``'s convention)."""
        height = z_where.new_full((*z_where.shape[:-1], 1), HALF_SIZE)
        centre = torch.cat([z_where[..., :1], height, z_where[..., 1:]], -1)
        place = DEFAULT_CAMERA.project(centre)  # (..., 2)
        return torch.cat([torch.full_like(place[..., :1], self.glimpse_scale), place], -1)

    def set_progress(self, fraction: float) -> None:
        """Narrow the renderer's silhouette as training goes (``temperature_start``) and release
        q(identity) after ``identity_warmup``; called before every training step with the share
        of training done."""
        self.identity_held = fraction < self.identity_warmup
        if self.temperature_start is None:
            return
        done = min(1.0, fraction / self.temperature_anneal)
        start, end = math.log(self.temperature_start), math.log(self.temperature)
        self.current_temperature = math.exp(start + done * (end - start))

    def layers(self, scene: Scene) -> ObjectLayers:
        """Each object of ``scene`` rendered alone, by the configured gradient, with the
        silhouette of training's progress while training (``set_progress``), else the final
        one."""
        temperature = self.current_temperature if self.training else self.temperature
        settings = dict(size=self.image_size, temperature=temperature, steps=self.render_steps)
        if self.gradient == "finite_differences":
            return render_objects_finite_differences(
                scene, step=self.finite_difference_step, **settings
            )
        return render_objects(scene, **settings)

    def draw(self, identity: Tensor, position: Tensor, rotation: Tensor, present: Tensor) -> Tensor:
        """The scenes of these objects, (B, N) each ((B, N, 2) positions), rendered: (B, 1, S, S)."""
        return composite(self.layers(Scene(identity, position, rotation, present.bool())))

    # -- the recurrence -------------------------------------------------------------------------

    def forward(
        self, images: Tensor, noise: Tensor | None = None, *, mode: bool = False
    ) -> AIR3DOutput:
        """Infer the objects of images (B, 1, S, S) in at most N steps.

        noise: the draws of ``sample_noise``; None draws them. mode: take each latent's most
        likely value instead (z_pres_i = [rho_i > 0.5], the most likely identity, the means).
        """
        check_input(self, images, ("B", self.channels, self.image_size, self.image_size))
        if noise is None:
            noise = self.sample_noise(images)
        B = images.shape[0]
        h = images.new_zeros(B, self.lstm.hidden_size)
        c = torch.zeros_like(h)
        previous = images.new_zeros(B, LATENTS)
        alive = images.new_ones(B)
        canvas = torch.zeros_like(images)
        embedded = None if self.difference else self.embed(images.flatten(1))
        steps: list[dict[str, Tensor]] = []
        drawn: list[ObjectLayers] = []  # DAIR: each step's object, rendered once
        enumerate_all = self.estimator == "enumerate" and self.training and not mode
        for i in range(self.steps):
            seen = images - canvas if self.difference else images
            if self.difference:
                embedded = self.embed(seen.flatten(1))
            h, c = self.lstm(torch.cat([embedded, previous], -1), (h, c))
            proposal = self.propose(h)
            rho = torch.sigmoid(proposal[:, 0])
            where_loc = proposal[:, 1 : 1 + WHERE]
            where_scale = F.softplus(proposal[:, 1 + WHERE :]) + 1e-4
            u_pres, eps_x, eps_z, u_identity, eps_theta = noise[:, i].unbind(-1)
            eps_where = torch.stack([eps_x, eps_z], -1)
            z_where = where_loc if mode else where_loc + where_scale * eps_where
            glimpse = crop(seen, self.glimpse_windows(z_where), size=self.window)
            reading = torch.cat([glimpse.flatten(1), h], -1)
            encoded = self._encoded(reading, own_rate=self.identity_own_rate and enumerate_all)
            logits = encoded[:, :IDENTITIES]
            logits = self._bounded(logits)
            if self.training and self.identity_held:
                logits = torch.zeros_like(logits)
            if self.turn_encoder is None:
                turned = encoded[:, IDENTITIES:]  # one rotation whatever the identity
            else:
                turned = self._turns(reading, logits, own_rate=enumerate_all)  # one each
            rotations = turned.shape[-1] // (self.loc_width + 1)
            each_loc = self._rotation_mean(turned[:, : rotations * self.loc_width])  # (B, R)
            if self.rotation_search:
                each_loc = self.search_rotation(seen, z_where)[:, None].expand_as(each_loc)
            each_scale = (F.softplus(turned[:, rotations * self.loc_width :]) + 1e-4).clamp(
                max=self.rotation_std_max
            )
            each_rotation = each_loc if mode else each_loc + each_scale * eps_theta[:, None]
            if mode:
                z_pres = alive * (rho > 0.5).to(rho.dtype)
            elif enumerate_all:
                z_pres = alive  # every step proposes: the loss weighs each count by q
            else:
                z_pres = alive * (u_pres < rho).to(rho.dtype)
            if mode or enumerate_all:
                # under enumeration only DAIR's canvas and the next step's input read it: the
                # loss sums over the identities
                identity = logits.argmax(-1)
            else:  # drawn, by the inverse of its distribution function at u
                cumulative = logits.softmax(-1).cumsum(-1)
                identity = (u_identity[:, None] > cumulative[:, :-1]).sum(-1)
            # the identity's own rotation (the one rotation where it is shared)
            own = identity[:, None] if rotations > 1 else torch.zeros_like(identity[:, None])
            rotation_loc, rotation_scale, rotation = (
                field.gather(1, own).squeeze(1) for field in (each_loc, each_scale, each_rotation)
            )
            steps.append(
                dict(
                    z_pres=z_pres,
                    alive=alive,
                    pres_probs=rho,
                    where_loc=where_loc,
                    where_scale=where_scale,
                    z_where=z_where,
                    identity_logits=logits,
                    identity=identity,
                    rotation_loc=rotation_loc,
                    rotation_scale=rotation_scale,
                    rotation=rotation,
                    each_rotation_loc=each_loc,
                    each_rotation_scale=each_scale,
                    each_rotation=each_rotation,
                    state=h,
                )
            )
            if self.difference and i + 1 < self.steps:
                this = Scene(
                    identity[:, None], z_where[:, None], rotation[:, None], z_pres[:, None] > 0.5
                )
                drawn.append(self.layers(this))
                canvas = composite(
                    ObjectLayers(
                        torch.cat([d.coverage for d in drawn], 1),
                        torch.cat([d.shade for d in drawn], 1),
                        torch.cat([d.depth for d in drawn], 1),
                    )
                )
            one_hot = F.one_hot(identity, IDENTITIES).to(images.dtype)
            turn = torch.stack([rotation.cos(), rotation.sin()], -1)
            previous = torch.cat([z_where, one_hot, turn, z_pres[:, None]], -1)
            alive = z_pres
        return AIR3DOutput(**{k: torch.stack([s[k] for s in steps], 1) for k in steps[0]})

    # -- the bound --------------------------------------------------------------------------------

    def search_rotation(self, seen: Tensor, position: Tensor) -> Tensor:
        """The rotation (B,) of a cube at ``position`` (B, 2) that best explains ``seen`` (B, 1,
        S, S) alone, by ``rotation_search`` renders over a quarter turn and ``rotation_refine``
        golden-section steps around the best; no gradient flows through it."""
        B, tries = seen.shape[0], self.rotation_search
        temperature = self.current_temperature if self.training else self.temperature
        position = position.detach()

        def misfit(rotations: Tensor) -> Tensor:  # (B, K) -> (B, K): -log p(seen | the cube)
            K = rotations.shape[1]
            scene = Scene(
                identity=torch.full((B * K, 1), CUBE, device=seen.device),
                position=position.repeat_interleave(K, 0)[:, None],
                rotation=rotations.reshape(B * K, 1),
                present=torch.ones(B * K, 1, dtype=torch.bool, device=seen.device),
            )
            layers = render_objects(
                scene, size=self.image_size, temperature=temperature, steps=self.render_steps
            )
            return -self.log_likelihood(seen, composite(layers).unflatten(0, (B, K)))

        with torch.no_grad():
            spacing = QUARTER_TURN / tries
            grid = (torch.arange(tries, device=seen.device) * spacing).expand(B, tries)
            best = grid.gather(1, misfit(grid).argmin(1, keepdim=True))  # (B, 1)
            if self.rotation_refine:
                best = golden_section_minimum(
                    misfit, best - spacing, best + spacing, steps=self.rotation_refine
                )
        return best[:, 0]

    def log_likelihood(self, images: Tensor, rendered: Tensor) -> Tensor:
        """log p(x | z) (...,) of images (B, 1, S, S) under renders (B, ..., 1, S, S)."""
        extra = rendered.dim() - images.dim()
        target = images.reshape(images.shape[0], *([1] * extra), *images.shape[1:])
        return Normal(rendered, self.likelihood_std).log_prob(target).flatten(-3).sum(-1)

    def continuous_kl(self, out: AIR3DOutput) -> tuple[Tensor, Tensor]:
        """(B, N) KL of each step's position and rotation from their priors, were it present."""
        prior = Normal(torch.zeros_like(self.position_prior_std), self.position_prior_std)
        kl_where = kl_divergence(Normal(out.where_loc, out.where_scale), prior).sum(-1)
        entropy = Normal(out.rotation_loc, out.rotation_scale).entropy()
        return kl_where, math.log(2 * math.pi) - entropy

    def identity_kl(self, out: AIR3DOutput) -> Tensor:
        """(B, N) KL(q(identity_i) || uniform)."""
        q = Categorical(logits=out.identity_logits)
        return math.log(IDENTITIES) - q.entropy()

    def loss(self, out: AIR3DOutput, images: Tensor) -> AIR3DLoss:
        """The negative ELBO, exact in the discrete latents ('enumerate') or with the
        likelihood-ratio surrogate for them ('reinforce')."""
        if self.estimator == "enumerate" and self.training:
            return self._enumerated_loss(out, images)
        present = out.z_pres > 0.5
        log_lik = self.log_likelihood(
            images, self.draw(out.identity, out.z_where, out.rotation, present)
        )
        rho = out.pres_probs.clamp(1e-6, 1 - 1e-6)
        kl_pres = out.alive * kl_divergence(
            Bernoulli(probs=rho), Bernoulli(probs=self.z_pres_prior.expand_as(rho))
        )
        kl_where, kl_rotation = self.continuous_kl(out)
        kl_identity = self.identity_kl(out)
        kl_where, kl_rotation, kl_identity = (
            out.z_pres * kl for kl in (kl_where, kl_rotation, kl_identity)
        )
        elbo = log_lik - (kl_pres + kl_where + kl_rotation + kl_identity).sum(-1)
        total = -elbo.mean()
        baseline_error = elbo.new_zeros(())
        if self.estimator == "reinforce" and self.training:
            with torch.no_grad():
                # what step i's draws can change: the likelihood, and the KL of its own object
                # and every later one's
                later = kl_where + kl_rotation + kl_identity + F.pad(kl_pres[:, 1:], (0, 1))
                signal = log_lik[:, None] - later.flip(1).cumsum(1).flip(1)
            baseline = self.baseline(out.state.detach()).squeeze(-1)
            advantage, baseline_error = nvil_signal(
                signal,
                baseline,
                out.alive,
                running_mean=self.signal_mean,
                running_var=self.signal_var,
                decay=self.signal_decay,
            )
            log_q_pres = Bernoulli(probs=rho).log_prob(out.z_pres)
            log_q_identity = Categorical(logits=out.identity_logits).log_prob(out.identity)
            log_q = log_q_pres + out.z_pres * log_q_identity
            surrogate = -(out.alive * advantage * log_q).sum(-1).mean()
            total = total + surrogate + baseline_error
        return AIR3DLoss(
            total=total,
            nll_bound=-elbo.mean(),
            reconstruction=-log_lik.mean(),
            kl_pres=kl_pres.sum(-1).mean(),
            kl_identity=kl_identity.sum(-1).mean(),
            kl_where=kl_where.sum(-1).mean(),
            kl_rotation=kl_rotation.sum(-1).mean(),
            objects=out.count.mean(),
            baseline_error=baseline_error,
        )

    def _enumerated_loss(self, out: AIR3DOutput, images: Tensor) -> AIR3DLoss:
        """The bound summed over every count n and every identity of the first n objects: each
        step's object is rendered once per identity, and each combination composited."""
        B, N = out.z_pres.shape
        combos = self.combinations  # (C, N), IDENTITIES where absent
        count = (combos < IDENTITIES).sum(-1)  # (C,)
        share = out.identity_logits.softmax(-1).detach()  # (B, N, 3) q(identity_i)
        # Every step's object under every identity: (B, N * 3) objects, then (B, N, 3, H, W).
        each = torch.arange(IDENTITIES, device=images.device).repeat(B, N)
        layers = self.layers(
            Scene(
                identity=each,
                position=out.z_where.repeat_interleave(IDENTITIES, 1),
                rotation=out.each_rotation.expand(B, N, IDENTITIES).flatten(1),
                present=torch.ones_like(each, dtype=torch.bool),
            )
        )
        S = self.image_size

        def per_identity(field: Tensor, absent: float) -> Tensor:  # -> (B, N, 3 + 1, H, W)
            field = field.reshape(B, N, IDENTITIES, S, S)
            return torch.cat([field, field.new_full((B, N, 1, S, S), absent)], 2)

        step = torch.arange(N, device=images.device).expand_as(combos)
        chosen = ObjectLayers(
            *(
                per_identity(field, absent)[:, step, combos].flatten(0, 1)  # (B * C, N, H, W)
                for field, absent in (
                    (layers.coverage, 0.0),
                    (layers.shade, 0.0),
                    (layers.depth, math.inf),
                )
            )
        )
        rendered = composite(chosen).unflatten(0, (B, -1))  # (B, C, 1, H, W)
        log_lik = self.log_likelihood(images, rendered)  # (B, C)
        log_q_count = count_log_probs(out.pres_probs)  # (B, N + 1)
        log_p_count = count_log_probs(self.z_pres_prior.expand_as(out.pres_probs))
        log_q_identity = F.pad(out.identity_logits.log_softmax(-1), (0, 1))  # absent: log 1
        log_q = log_q_count[:, count] + log_q_identity[:, step, combos].sum(-1)  # (B, C)
        log_p = log_p_count[:, count] - count * math.log(IDENTITIES)
        q = log_q.exp()
        reconstruction = -(q * log_lik).sum(-1)
        kl_discrete = (q * (log_q - log_p)).sum(-1)
        # P(n > i): the probability that step i's object is counted
        q_count = log_q_count.exp()
        counted = q_count.flip(-1).cumsum(-1).flip(-1)[:, 1:]  # (B, N)
        kl_where, _ = self.continuous_kl(out)
        # E_q(identity) KL(q(theta | identity) || uniform on the circle)
        q_turns = Normal(out.each_rotation_loc, out.each_rotation_scale)
        kl_turns = math.log(2 * math.pi) - q_turns.entropy()  # (B, N, R)
        kl_rotation = (share * kl_turns).sum(-1) if kl_turns.shape[-1] > 1 else kl_turns[..., 0]
        where, rotation = (counted * kl_where).sum(-1), (counted * kl_rotation).sum(-1)
        kl_identity = (counted * self.identity_kl(out)).sum(-1)
        bound = reconstruction + kl_discrete + where + rotation
        counts = torch.arange(N + 1, device=q.device, dtype=q.dtype)
        return AIR3DLoss(
            total=bound.mean(),
            nll_bound=bound.mean(),
            reconstruction=reconstruction.mean(),
            kl_pres=(kl_discrete - kl_identity).mean(),
            kl_identity=kl_identity.mean(),
            kl_where=where.mean(),
            kl_rotation=rotation.mean(),
            objects=(q_count * counts).sum(-1).mean(),
            baseline_error=bound.new_zeros(()),
        )

    def _rotation_mean(self, raw: Tensor) -> Tensor:
        """q(theta)'s means (B, R) from the network's (B, R * w): the angles as they are (w = 1),
        or atan2 of each vector over ``rotation_symmetry`` (w = 2)."""
        if self.rotation_symmetry is None:
            return raw
        vectors = raw.unflatten(-1, (-1, 2))
        return torch.atan2(vectors[..., 1], vectors[..., 0]) / self.rotation_symmetry

    def _turns(self, reading: Tensor, logits: Tensor, *, own_rate: bool) -> Tensor:
        """Each identity's q(theta) from ``turn_encoder``: (B, 3 (w + 1)), the three means as
        the network gives them (w numbers each, ``_rotation_mean``), then the three scales before
        their softplus. With ``own_rate``, the gradient that reaches the turn
        encoder's weights for identity k is divided by q(identity = k) (from ``logits`` (B, 3),
        at least ``MIN_IDENTITY_SHARE``), while what reaches ``reading`` (B, F), and through it
        the glimpse, the position and the LSTM, is left as it is."""
        if not own_rate:
            return self.turn_encoder(reading)
        share = logits.detach().softmax(-1).clamp(min=MIN_IDENTITY_SHARE)
        share = torch.cat([share.repeat_interleave(self.loc_width, 1), share], 1)
        return weights_gradient_divided(self.turn_encoder, reading, lambda value: share)

    def _bounded(self, logits: Tensor) -> Tensor:
        """q(identity)'s logits (B, 3) within +-``identity_logit_bound`` (b tanh(l / b)), or as
        they are where it is None."""
        bound = self.identity_logit_bound
        return logits if bound is None else bound * torch.tanh(logits / bound)

    def _encoded(self, reading: Tensor, *, own_rate: bool) -> Tensor:
        """The encoder's output (B, 3 + ...) for ``reading`` (B, F): the identity's logits first.
        With ``own_rate`` (``identity_own_rate`` under 'enumerate' in training), the gradient
        that reaches the encoder's weights through logit k is divided by q(identity = k) (at
        least ``MIN_IDENTITY_SHARE``), the rest as it is."""
        if not own_rate:
            return self.encoder(reading)

        def share(value: Tensor) -> Tensor:
            q = self._bounded(value[:, :IDENTITIES]).softmax(-1).clamp(min=MIN_IDENTITY_SHARE)
            return F.pad(q, (0, value.shape[1] - IDENTITIES), value=1.0)

        return weights_gradient_divided(self.encoder, reading, share)

    # -- what it found ---------------------------------------------------------------------------

    def outlines(self, z_where: Tensor) -> Tensor:
        """Positions (..., 2) -> (..., 4, 2) the corners of a square in pixels around where the
        camera sees each object (the glimpse's window)."""
        windows = self.glimpse_windows(z_where)
        S = self.image_size
        return grid_corners(window_theta(windows.flatten(0, -2)), height=S, width=S).reshape(
            *windows.shape[:-1], 4, 2
        )

    def decompose(self, images: Tensor) -> Decomposition:
        """The most likely decomposition: each step's window and the scene after it."""
        out = self(images, mode=True)
        present = out.z_pres > 0.5
        layers = self.layers(Scene(out.identity, out.z_where, out.rotation, present))
        steps = torch.arange(self.steps, device=images.device)
        # (T, N): after step t, the objects of steps up to t; the others left out of the layers
        so_far = (steps[None, :] <= steps[:, None])[None, :, :, None, None]
        T = self.steps
        prefixes = ObjectLayers(
            (layers.coverage[:, None] * so_far).flatten(0, 1),
            layers.shade[:, None].expand(-1, T, -1, -1, -1).flatten(0, 1),
            layers.depth[:, None].masked_fill(~so_far, math.inf).flatten(0, 1),
        )
        canvases = composite(prefixes).unflatten(0, (len(images), T))
        return Decomposition(
            present=out.z_pres, outlines=self.outlines(out.z_where), canvases=canvases
        )

    def poses(self, images: Tensor) -> Poses:
        """The most likely objects of images (B, 1, S, S) and how they lie."""
        out = self(images, mode=True)
        return Poses(out.identity, out.z_where, out.rotation, out.z_pres > 0.5)
