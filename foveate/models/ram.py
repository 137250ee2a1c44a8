"""RAM, the recurrent attention model.

Mnih, Heess, Graves, Kavukcuoglu, "Recurrent Models of Visual Attention", NIPS 2014 ([1]).

At each step t the agent takes a glimpse of the image through a multi-resolution retina at
location l_{t-1}, folds it into its internal state h_t, and chooses where to look next. After T
glimpses it classifies the image. The glimpse sensor is hard attention (a non-differentiable
crop), so the location network is trained with REINFORCE; everything else by backpropagation
(the "hybrid loss" of [1], sec. 4).

Parts, as named in [1], sec. 3 and 4.1:
    GlimpseNetwork  f_g: g_t = Rect(Linear(h_g) + Linear(h_l)), h_g = Rect(Linear(rho(x, l))),
                    h_l = Rect(Linear(l)); sizes 128, 128 and 256.
    CoreNetwork     f_h: h_t = Rect(Linear(h_{t-1}) + Linear(g_t)) with 256 units, or an LSTM.
    LocationNetwork f_l: l_t ~ N(tanh(Linear(h_t)), sigma^2), fixed sigma (tanh: see the class).
    ActionNetwork   f_a: softmax(Linear(h_T)) over the classes, at the last step.
    Baseline        b_t = Linear(h_t), the variance-reducing baseline of sec. 3.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Normal

from foveate.attention.retina import patch_boxes, retina, summed_area_table, table_is_cheaper
from foveate.models import register_model
from foveate.models.interface import Glimpses, boxes_to_outlines, check_input
from foveate.models.reinforce import episode_reinforce


class _Gain(nn.Module):
    """x (B, N) -> x * gain (N,), a fixed per-feature factor."""

    def __init__(self, gain: Tensor) -> None:
        super().__init__()
        self.register_buffer("gain", gain, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gain


class GlimpseNetwork(nn.Module):
    """f_g(x, l): what the retina sees at l, together with where l is ([1], sec. 4.1).

    ``normalise`` (not in [1]): a coarse patch is an average over 2^j x 2^j pixels, so a digit's
    stroke or a ball reads there at a fraction of its brightness. 'area' multiplies patch j by
    its pooling area 4^j, so that it reads the sum of the pixels each of its cells covers: a
    one-pixel ball reads 1 at every scale. 'batch' (or True) batch-normalises rho's pixels
    instead; its statistics in training are each step's batch of games and in evaluation one
    running average over every step, and a Catch agent trained with it caught 75.6% of the
    validation balls in training mode but 48.5% in evaluation mode (docs/ram.md, Catch).
    """

    def __init__(
        self,
        *,
        patch_size: int,
        scales: int,
        channels: int = 1,
        what_size: int = 128,
        where_size: int = 128,
        glimpse_size: int = 256,
        normalise: bool | Literal["batch", "area"] = False,
    ) -> None:
        super().__init__()
        if normalise not in (False, True, "batch", "area"):
            raise ValueError(f"normalise must be False, 'batch' or 'area', got {normalise!r}")
        self.patch_size, self.scales = patch_size, scales
        pixels = scales * channels * patch_size**2
        if normalise == "area":
            gain = (4.0 ** torch.arange(scales)).repeat_interleave(channels * patch_size**2)
            self.norm = _Gain(gain)
        elif normalise:
            self.norm = nn.BatchNorm1d(pixels)
        else:
            self.norm = nn.Identity()
        self.what = nn.Linear(pixels, what_size)  # theta_g^0 -> h_g
        self.where = nn.Linear(2, where_size)  # theta_g^1 -> h_l
        self.what_out = nn.Linear(what_size, glimpse_size)
        self.where_out = nn.Linear(where_size, glimpse_size)

    def sense(self, images: Tensor, locations: Tensor, table: Tensor | None = None) -> Tensor:
        """rho(x, l): images (B, C, H, W), locations (B, 2) -> the retina's patches, flat
        (B, scales * C * g * g); ``table``: the images' summed-area table, if the episode made
        one (``retina``)."""
        return retina(
            images, locations, size=self.patch_size, scales=self.scales, table=table
        ).flatten(1)

    def forward(self, images: Tensor, locations: Tensor, table: Tensor | None = None) -> Tensor:
        """images (B, C, H, W), locations (B, 2) -> glimpse vector g_t (B, glimpse_size)."""
        h_g = F.relu(self.what(self.norm(self.sense(images, locations, table))))
        h_l = F.relu(self.where(locations))
        return F.relu(self.what_out(h_g) + self.where_out(h_l))


class CoreState(NamedTuple):
    """The core network's recurrent state: h (B, hidden), and the LSTM cell c (B, hidden) or None."""

    h: Tensor
    c: Tensor | None


class CoreNetwork(nn.Module):
    """f_h: the recurrent core, a rectifier RNN as in [1] (sec. 4.1) or an LSTM (as in sec. 4.2)."""

    def __init__(self, *, glimpse_size: int = 256, hidden_size: int = 256, kind: str = "rnn"):
        super().__init__()
        if kind not in ("rnn", "lstm"):
            raise ValueError(f"core network must be 'rnn' or 'lstm', got {kind!r}")
        self.kind, self.hidden_size = kind, hidden_size
        if kind == "lstm":
            self.cell = nn.LSTMCell(glimpse_size, hidden_size)
        else:
            self.input = nn.Linear(glimpse_size, hidden_size)
            self.recurrent = nn.Linear(hidden_size, hidden_size, bias=False)

    def initial_state(self, batch_size: int, device: torch.device) -> CoreState:
        zeros = torch.zeros(batch_size, self.hidden_size, device=device)
        return CoreState(zeros, zeros if self.kind == "lstm" else None)

    def forward(self, g: Tensor, state: CoreState) -> CoreState:
        """g_t (B, glimpse_size), state at t-1 -> state at t."""
        if self.kind == "lstm":
            h, c = self.cell(g, (state.h, state.c))
            return CoreState(h, c)
        return CoreState(F.relu(self.input(g) + self.recurrent(state.h)), None)


class LocationNetwork(nn.Module):
    """f_l: a Gaussian policy over the next location, l_t ~ N(tanh(Linear(h_t)), std^2).

    Departure from [1] (sec. 4.1), where the mean is linear in h_t: an unbounded mean drifts
    outside the image as the rectifier core's activations grow, every later glimpse is clamped
    to a corner, and the policy never recovers (docs/ram.md, "Departures from the paper"). tanh
    keeps the mean inside [-1, 1]^2.

    Args:
        hidden_size: units of h_t.
        std: the policy's standard deviation (in normalised units: 1 is half the image), fixed
            as in [1]; where it is annealed, its value at the start; where learned, its start.
        std_schedule: 'fixed' ([1]); 'annealed': linearly from ``std`` to ``std_final`` over
            training (``set_progress``); 'learned': a parameter per axis, trained by REINFORCE
            like the mean, kept within [``std_final``, 1].
        std_final: the end of the annealed schedule, or the floor of the learned std.
        detach: the policy sees h_t through ``detach``, so that its REINFORCE gradient trains
            this network only, while the core and glimpse networks learn from the classification
            loss. False lets REINFORCE shape the core too, as it does in [1]'s eq. 2, whose
            gradient is taken with respect to every parameter of the agent.
        hidden: 0, the mean is linear in h_t ([1]); otherwise a hidden layer of this many
            rectifiers comes first, so the policy can turn the core's state into a position
            without the core having to lay positions out linearly.
    """

    def __init__(
        self,
        *,
        hidden_size: int = 256,
        std: float = 0.1,
        std_schedule: Literal["fixed", "annealed", "learned"] = "fixed",
        std_final: float = 0.05,
        detach: bool = True,
        hidden: int = 0,
    ) -> None:
        super().__init__()
        if std <= 0 or std_final <= 0:
            raise ValueError(f"location std must be positive, got {std} and final {std_final}")
        if std_schedule not in ("fixed", "annealed", "learned"):
            raise ValueError(
                f"location std_schedule must be 'fixed', 'annealed' or 'learned', got {std_schedule!r}"
            )
        if hidden < 0:
            raise ValueError(f"location network hidden units must be non-negative, got {hidden}")
        self.mean = (
            nn.Sequential(nn.Linear(hidden_size, hidden), nn.ReLU(), nn.Linear(hidden, 2))
            if hidden
            else nn.Linear(hidden_size, 2)
        )
        self.std_schedule, self.std_start, self.std_final = std_schedule, std, std_final
        self.detach = detach
        if std_schedule == "learned":
            self.log_std = nn.Parameter(torch.full((2,), math.log(std)))
        else:
            # A buffer, not a float: a compiled graph reads its value at every call, so the
            # annealed schedule does not recompile it. Saved where it moves, so that a trained
            # model keeps the std it reached.
            self.register_buffer("std", torch.tensor(std), persistent=std_schedule == "annealed")

    def set_progress(self, fraction: float) -> None:
        """Move an annealed std to where the schedule is, ``fraction`` of the way through training."""
        if self.std_schedule == "annealed":
            fraction = min(max(fraction, 0.0), 1.0)
            self.std.fill_(self.std_start + (self.std_final - self.std_start) * fraction)

    def current_std(self) -> Tensor:
        """The policy's std: () or (2,) for a learned one. An annealed std is the exploration of
        training; in evaluation mode the policy uses the std its schedule ends at, so that
        validation measures the policy that will be tested, wherever a run was stopped."""
        if self.std_schedule == "learned":
            return self.log_std.exp().clamp(self.std_final, 1.0)
        if self.std_schedule == "annealed" and not self.training:
            return self.std.new_tensor(self.std_final)
        return self.std

    def forward(self, h: Tensor) -> Normal:
        """h_t (B, hidden) -> the policy pi(l | h_t), a Normal with batch shape (B, 2)."""
        h = h.detach() if self.detach else h
        mean = torch.tanh(self.mean(h))
        return Normal(mean, self.current_std().expand_as(mean))


class Baseline(nn.Module):
    """b_t, the reward REINFORCE expects ([1], sec. 3.2): 'state', linear in h_t as in [1]
    (through ``detach``: it learns by its own squared error only); 'constant', one learned
    number for every state (an ablation). h (B, hidden) -> (B,)."""

    def __init__(self, *, hidden_size: int = 256, kind: Literal["state", "constant"] = "state"):
        super().__init__()
        if kind not in ("state", "constant"):
            raise ValueError(f"baseline must be 'state' or 'constant', got {kind!r}")
        self.kind = kind
        # The names of an nn.Linear(hidden, 1), which older checkpoints hold.
        self.bias = nn.Parameter(torch.zeros(1))
        if kind == "state":
            self.weight = nn.Parameter(torch.empty(1, hidden_size))
            bound = 1 / math.sqrt(hidden_size)  # nn.Linear's initialisation
            nn.init.uniform_(self.weight, -bound, bound)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, h: Tensor) -> Tensor:
        if self.kind == "state":
            return F.linear(h.detach(), self.weight, self.bias).squeeze(-1)
        return self.bias.expand(h.shape[0])


class ActionNetwork(nn.Module):
    """f_a: class logits from the last core state, (B, hidden) -> (B, num_classes)."""

    def __init__(self, *, hidden_size: int = 256, num_classes: int = 10) -> None:
        super().__init__()
        self.classify = nn.Linear(hidden_size, num_classes)

    def forward(self, h: Tensor) -> Tensor:
        return self.classify(h)


def glimpse_core_location(
    *,
    channels: int,
    patch_size: int,
    scales: int,
    what_size: int,
    where_size: int,
    glimpse_size: int,
    hidden_size: int,
    core: Literal["rnn", "lstm"],
    normalise_glimpse: bool | Literal["batch", "area"],
    location_std: float,
    location_std_schedule: Literal["fixed", "annealed", "learned"],
    location_std_final: float,
    location_hidden: int,
    policy_to_core: bool,
) -> tuple[GlimpseNetwork, CoreNetwork, LocationNetwork]:
    """f_g, f_h and f_l from the arguments of a model built on them (RAM's classifier and its
    game agent): the models' names mapped once onto the parts' (``normalise_glimpse`` onto
    ``GlimpseNetwork``'s ``normalise``; ``location_*`` and ``policy_to_core`` onto
    ``LocationNetwork``'s ``std*``, ``hidden`` and ``detach``), built in this order (so a seed gives the same initial weights)."""
    glimpse_network = GlimpseNetwork(
        patch_size=patch_size,
        scales=scales,
        channels=channels,
        what_size=what_size,
        where_size=where_size,
        glimpse_size=glimpse_size,
        normalise=normalise_glimpse,
    )
    core_network = CoreNetwork(glimpse_size=glimpse_size, hidden_size=hidden_size, kind=core)
    location_network = LocationNetwork(
        hidden_size=hidden_size,
        std=location_std,
        std_schedule=location_std_schedule,
        std_final=location_std_final,
        detach=not policy_to_core,
        hidden=location_hidden,
    )
    return glimpse_network, core_network, location_network


@dataclass
class RamOutput:
    """One unrolled episode of T glimpses over a batch of B images.

    logits: (B, num_classes) from the action network after the last glimpse.
    step_logits: (B, T, num_classes) the action network after each glimpse (the last is
        ``logits``).
    locations: (B, T, 2) where each glimpse was taken, normalised (x, y).
    log_probs: (B, T) log pi(l_t | h_{t-1}), summed over x and y; the only path of gradient into
        the location network.
    baselines: (B, T) b_t, the predicted reward from the state that chose l_t.
    """

    logits: Tensor
    step_logits: Tensor
    locations: Tensor
    log_probs: Tensor
    baselines: Tensor


@dataclass
class RamLoss:
    """The hybrid loss of [1], sec. 4, and its parts (scalars); correct: (B,) 1 where the final
    class is right, which is also the reward R of sec. 3.2."""

    total: Tensor
    classification: Tensor
    reinforce: Tensor
    baseline: Tensor
    correct: Tensor


@register_model(
    "ram", tiny=dict(glimpses=2, what_size=8, where_size=8, glimpse_size=16, hidden_size=16)
)
class RecurrentAttentionModel(nn.Module):
    """RAM for classification ([1], sec. 3-4).

    ``step`` is one glimpse; ``forward`` unrolls T of them and ``loss`` is the hybrid loss
    (``hybrid_loss``). Departures that are not options: the location policy's mean is bounded
    by tanh (``LocationNetwork``), and training uses Adam (docs/ram.md).

    Args, [1]'s model first (sec. 4.1; the defaults are its MNIST model, table 1a):
        num_classes: the classes f_a chooses among.
        channels: image channels.
        glimpses: T, glimpses per image ([1]: 6 or 7 on MNIST, 4 to 8 on larger canvases).
        patch_size: g, side of the retina's finest patch ([1]: 8 on MNIST, 12 on canvases).
        scales: k, patches in the retina, each twice as wide as the last ([1]: 1 on MNIST,
            3 on 60x60 canvases, 4 on 100x100).
        what_size, where_size: units of h_g and h_l in f_g ([1]: 128 and 128).
        glimpse_size: units of the glimpse vector g_t ([1]: 256).
        hidden_size: units of the core's state h_t ([1]: 256).
        core: f_h, 'rnn', the rectifier RNN of [1]'s static tasks, or 'lstm', the core of its
            dynamic ones (the clutter recipe's, below).
        location_std: sigma of the location policy l_t ~ N(mu_t, sigma^2), in normalised units
            (1 is half the image); fixed in [1] (where annealed or learned, its start).

    [1]'s hybrid loss (sec. 3.2, 4), and the alternatives measured against its parts:
        baseline: b_t, 'state' ([1]: learned from h_t), or 'constant' (an ablation: one learned
            number; ``Baseline``).
        reward: 'correct', 1 for a right final answer ([1], sec. 3.2); 'probability', the
            probability the action network gives the true class after the last glimpse (a
            graded reward; a probe, not adopted); 'step_probability', that probability after
            every glimpse, each glimpse's location credited with the sum of those from its own
            glimpse on (a departure, the clutter recipe's; needs ``classify_every_step``).

    Departures from [1]: the clutter recipe of configs/ram/cluttered100_8g.yaml, which every
    translated and cluttered config uses, each part chosen on validation canvases (docs/ram.md,
    "What makes the policy search well" and its ablation); the defaults are [1]'s:
        classify_every_step: train the action network on the state after every glimpse, not
            only the last (the mean cross-entropy over the steps); the answer is still the
            last step's.
        policy_to_core: let the REINFORCE gradient reach the core and glimpse networks, as
            [1]'s eq. 2 does (its hybrid loss keeps it in the location network): detached, the
            core learns only what classification needs and the policy cannot read from it
            where the digit lies.
        reinforce_weight: the REINFORCE term's weight in the hybrid loss ([1]: 1); with
            ``policy_to_core``, 1 swamps classification in the core, and the recipe uses 0.1.
        location_hidden: a hidden layer of this many rectifiers in f_l (0: linear, as in [1]).
        location_std_schedule: 'fixed' ([1]); 'annealed' from ``location_std`` to
            ``location_std_final`` over training, wide exploration early and narrow late (the
            recipe's); 'learned', a parameter trained by REINFORCE and floored at
            ``location_std_final`` (an ablation) (``LocationNetwork``).
        location_std_final: the end of the annealed std, or the floor of the learned one.
        normalise_glimpse: False ([1]), 'area' or 'batch' (True): how the retina's coarse
            pixels are brought to the finest one's brightness (``GlimpseNetwork``; the Catch
            agent's, not used by a classifier's config).
    """

    def __init__(
        self,
        *,
        # [1]'s model.
        num_classes: int = 10,
        channels: int = 1,
        glimpses: int = 6,
        patch_size: int = 8,
        scales: int = 1,
        what_size: int = 128,
        where_size: int = 128,
        glimpse_size: int = 256,
        hidden_size: int = 256,
        core: Literal["rnn", "lstm"] = "rnn",
        location_std: float = 0.1,
        # [1]'s hybrid loss, and the alternatives measured against it.
        baseline: Literal["state", "constant"] = "state",
        reward: Literal["correct", "probability", "step_probability"] = "correct",
        # Departures from [1] (the clutter recipe).
        classify_every_step: bool = False,
        policy_to_core: bool = False,
        reinforce_weight: float = 1.0,
        location_hidden: int = 0,
        location_std_schedule: Literal["fixed", "annealed", "learned"] = "fixed",
        location_std_final: float = 0.05,
        normalise_glimpse: bool | Literal["batch", "area"] = False,
    ) -> None:
        super().__init__()
        if glimpses < 1:
            raise ValueError(f"RAM needs at least one glimpse, got glimpses={glimpses}")
        if patch_size < 1 or scales < 1:
            raise ValueError(
                f"RAM needs patch_size >= 1 and scales >= 1, got {patch_size}, {scales}"
            )
        if reward not in ("correct", "probability", "step_probability"):
            raise ValueError(
                f"reward must be 'correct', 'probability' or 'step_probability', got {reward!r}"
            )
        if reward == "step_probability" and not classify_every_step:
            raise ValueError(
                "reward 'step_probability' rewards every glimpse by the action network's answer "
                "after it: set classify_every_step too"
            )
        if reinforce_weight < 0:
            raise ValueError(f"reinforce_weight must be non-negative, got {reinforce_weight}")
        self.glimpses, self.patch_size, self.scales = glimpses, patch_size, scales
        self.num_classes, self.channels = num_classes, channels
        self.reward, self.reinforce_weight = reward, reinforce_weight
        self.classify_every_step = classify_every_step
        self.glimpse_network, self.core_network, self.location_network = glimpse_core_location(
            channels=channels,
            patch_size=patch_size,
            scales=scales,
            what_size=what_size,
            where_size=where_size,
            glimpse_size=glimpse_size,
            hidden_size=hidden_size,
            core=core,
            normalise_glimpse=normalise_glimpse,
            location_std=location_std,
            location_std_schedule=location_std_schedule,
            location_std_final=location_std_final,
            location_hidden=location_hidden,
            policy_to_core=policy_to_core,
        )
        self.action_network = ActionNetwork(hidden_size=hidden_size, num_classes=num_classes)
        self.baseline = Baseline(hidden_size=hidden_size, kind=baseline)

    def set_progress(self, fraction: float) -> None:
        """Training is ``fraction`` of the way through: an annealed policy std follows it."""
        self.location_network.set_progress(fraction)

    def step(
        self, images: Tensor, state: CoreState, noise: Tensor, table: Tensor | None = None
    ) -> tuple[CoreState, Tensor, Tensor, Tensor]:
        """One glimpse: choose l_t from h_{t-1}, look, update the core.

        ``noise`` (B, 2) is a standard-normal draw: l_t = mean + std * noise is a sample of the
        policy, cut from the graph (the crop is not differentiable anyway, and the policy learns
        only through log_prob, i.e. REINFORCE).

        Returns the new state, l_t (B, 2), log pi(l_t) (B,) and b_t (B,).
        """
        policy = self.location_network(state.h)
        location = (policy.mean + policy.stddev * noise).detach().clamp(-1, 1)
        log_prob = policy.log_prob(location).sum(-1)
        baseline = self.baseline(state.h)
        g = self.glimpse_network(images, location, table)
        return self.core_network(g, state), location, log_prob, baseline

    def forward(self, images: Tensor, noise: Tensor | None = None) -> RamOutput:
        """Unroll T glimpses over images (B, C, H, W).

        noise: (B, T, 2) standard-normal draws behind the sampled locations; drawn here when
            None. Passing them makes an episode reproducible, and keeps random numbers out of a
            ``torch.compile``d graph, whose backward pass may recompute (redraw) them.
        """
        check_input(self, images, ("B", self.channels, "H", "W"))
        B = images.shape[0]
        if noise is None:
            noise = self.sample_noise(images)
        state = self.core_network.initial_state(B, images.device)
        H, W = images.shape[-2:]
        # One pass over the images makes every coarse patch of the episode a few lookups, where
        # that reads fewer pixels than cropping them (the same glimpses either way). A compiled
        # graph fuses the crop with its pooling and runs faster without the table (measured
        # on 100x100 canvases: 73 against 89 ms a training step; eager, 163 against 79).
        cheaper = not torch.compiler.is_compiling() and table_is_cheaper(
            H, W, size=self.patch_size, scales=self.scales, glimpses=self.glimpses
        )
        table = summed_area_table(images) if cheaper else None
        locations, log_probs, baselines, step_logits = [], [], [], []
        for t in range(self.glimpses):
            state, location, log_prob, baseline = self.step(images, state, noise[:, t], table)
            locations.append(location)
            log_probs.append(log_prob)
            baselines.append(baseline)
            step_logits.append(self.action_network(state.h))
        return RamOutput(
            logits=step_logits[-1],
            step_logits=torch.stack(step_logits, 1),
            locations=torch.stack(locations, 1),
            log_probs=torch.stack(log_probs, 1),
            baselines=torch.stack(baselines, 1),
        )

    def sample_noise(self, images: Tensor) -> Tensor:
        """Standard-normal draws (B, T, 2) for one episode over images (B, C, H, W)."""
        return torch.randn(images.shape[0], self.glimpses, 2, device=images.device)

    def check_input_size(self, height: int, width: int) -> None:
        """Refuse images smaller than the finest retina patch (it would see mostly padding)."""
        if self.patch_size > min(height, width):
            raise ValueError(
                f"glimpse patch {self.patch_size}x{self.patch_size} is larger than the "
                f"{height}x{width} images"
            )

    def attended(self, images: Tensor, output: RamOutput) -> Glimpses:
        """The retina's k patches at each of the T glimpses, and the finest patch's pixels."""
        B, C, H, W = images.shape
        boxes = patch_boxes(
            output.locations, height=H, width=W, size=self.patch_size, scales=self.scales
        )  # (B, T, k, 4)
        T, g = self.glimpses, self.patch_size
        finest = retina(
            images.repeat_interleave(T, 0), output.locations.reshape(B * T, 2), size=g
        )  # (B T, 1, C, g, g)
        return Glimpses(outlines=boxes_to_outlines(boxes), views=finest.view(B, T, C, g, g))

    def loss(self, output: RamOutput, targets: Tensor) -> RamLoss:
        return hybrid_loss(
            output,
            targets,
            reward=self.reward,
            reinforce_weight=self.reinforce_weight,
            classify_every_step=self.classify_every_step,
        )

    @torch.no_grad()
    def predict_proba(self, images: Tensor, *, samples: int = 1) -> Tensor:
        """Class probabilities (B, num_classes), averaged over M = ``samples`` glimpse paths.

        The M episodes run as one batch of B * M images, not as a loop.
        """
        B = images.shape[0]
        output = self(images.repeat_interleave(samples, dim=0))
        return output.logits.softmax(-1).view(B, samples, -1).mean(1)


def hybrid_loss(
    output: RamOutput,
    targets: Tensor,
    *,
    reward: Literal["correct", "probability", "step_probability"] = "correct",
    reinforce_weight: float = 1.0,
    classify_every_step: bool = False,
) -> RamLoss:
    """The hybrid loss of [1], sec. 4.

    Cross-entropy trains the action, core and glimpse networks; REINFORCE with the baseline
    (reward 1 for a right final answer, 0 otherwise, sec. 3.2) trains the location network;
    squared error trains the baseline.

    Args:
        output: an episode over B images.
        targets: (B,) class indices.
        reward: 'correct' ([1]), 'probability' (the true class's final probability) or
            'step_probability' (its probability after each glimpse; the location of glimpse t
            earns the sum over steps t..T-1). Rewards are detached.
        reinforce_weight: the weight of the REINFORCE term in ``total``.
        classify_every_step: the cross-entropy averaged over every step's answer, not only
            the last one's.
    """
    B, T = output.step_logits.shape[:2]
    if classify_every_step:
        classification = every_step_cross_entropy(output.step_logits, targets)
    else:
        classification = F.cross_entropy(output.logits, targets)
    correct = (output.logits.argmax(-1) == targets).float()  # (B,)
    if reward == "correct":
        returns = correct[:, None].expand(B, T)
    else:
        true_class = true_class_probability(output.step_logits, targets)
        if reward == "probability":
            returns = true_class[:, -1:].expand(B, T)
        else:
            returns = from_each_step_on(true_class)
    reinforce, baseline = episode_reinforce(output.log_probs, returns, output.baselines)
    return RamLoss(
        total=classification + reinforce_weight * reinforce + baseline,
        classification=classification,
        reinforce=reinforce,
        baseline=baseline,
        correct=correct,
    )


def every_step_cross_entropy(step_logits: Tensor, targets: Tensor) -> Tensor:
    """The mean cross-entropy of answers (B, T, C) after every step against targets (B,)."""
    B, T, C = step_logits.shape
    return F.cross_entropy(step_logits.reshape(B * T, C), targets.repeat_interleave(T))


def true_class_probability(step_logits: Tensor, targets: Tensor) -> Tensor:
    """Answers (B, T, C) -> (B, T), detached: the probability each gives the true class."""
    probs = step_logits.detach().float().softmax(-1)
    return probs.gather(2, targets[:, None, None].expand(*probs.shape[:2], 1)).squeeze(2)


def from_each_step_on(rewards: Tensor) -> Tensor:
    """rewards (B, T) -> (B, T): at step t, the sum of the rewards of steps t..T-1 (a reversed
    cumulative sum)."""
    return rewards.flip(1).cumsum(1).flip(1)
