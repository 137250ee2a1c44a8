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

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Normal

from foveate.attention.retina import patch_boxes, retina
from foveate.models import register_model
from foveate.models.interface import Glimpses, boxes_to_outlines


class GlimpseNetwork(nn.Module):
    """f_g(x, l): what the retina sees at l, together with where l is ([1], sec. 4.1)."""

    def __init__(
        self,
        *,
        patch_size: int,
        scales: int,
        channels: int = 1,
        what_size: int = 128,
        where_size: int = 128,
        glimpse_size: int = 256,
    ) -> None:
        super().__init__()
        self.patch_size, self.scales = patch_size, scales
        self.what = nn.Linear(scales * channels * patch_size**2, what_size)  # theta_g^0 -> h_g
        self.where = nn.Linear(2, where_size)  # theta_g^1 -> h_l
        self.what_out = nn.Linear(what_size, glimpse_size)
        self.where_out = nn.Linear(where_size, glimpse_size)

    def forward(self, images: Tensor, locations: Tensor) -> Tensor:
        """images (B, C, H, W), locations (B, 2) -> glimpse vector g_t (B, glimpse_size)."""
        rho = retina(images, locations, size=self.patch_size, scales=self.scales).flatten(1)
        h_g = F.relu(self.what(rho))
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

    The policy sees h_t through ``detach``: its REINFORCE gradient trains this network only, as
    the hybrid loss of [1] (sec. 4) prescribes, while the core and glimpse networks learn from the
    classification loss.
    """

    def __init__(self, *, hidden_size: int = 256, std: float = 0.1) -> None:
        super().__init__()
        if std <= 0:
            raise ValueError(f"location std must be positive, got {std}")
        self.mean = nn.Linear(hidden_size, 2)
        self.std = std

    def forward(self, h: Tensor) -> Normal:
        """h_t (B, hidden) -> the policy pi(l | h_t), a Normal with batch shape (B, 2)."""
        return Normal(torch.tanh(self.mean(h.detach())), self.std)


class ActionNetwork(nn.Module):
    """f_a: class logits from the last core state, (B, hidden) -> (B, num_classes)."""

    def __init__(self, *, hidden_size: int = 256, num_classes: int = 10) -> None:
        super().__init__()
        self.classify = nn.Linear(hidden_size, num_classes)

    def forward(self, h: Tensor) -> Tensor:
        return self.classify(h)


@dataclass
class RamOutput:
    """One unrolled episode of T glimpses over a batch of B images.

    logits: (B, num_classes) from the action network after the last glimpse.
    locations: (B, T, 2) where each glimpse was taken, normalised (x, y).
    log_probs: (B, T) log pi(l_t | h_{t-1}), summed over x and y; the only path of gradient into
        the location network.
    baselines: (B, T) b_t, the predicted reward from the state that chose l_t.
    """

    logits: Tensor
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
    """RAM for classification ([1], sec. 3-4). Sizes default to the paper's MNIST models."""

    def __init__(
        self,
        *,
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
    ) -> None:
        super().__init__()
        if glimpses < 1:
            raise ValueError(f"RAM needs at least one glimpse, got glimpses={glimpses}")
        if patch_size < 1 or scales < 1:
            raise ValueError(
                f"RAM needs patch_size >= 1 and scales >= 1, got {patch_size}, {scales}"
            )
        self.glimpses, self.patch_size, self.scales = glimpses, patch_size, scales
        self.num_classes = num_classes
        self.glimpse_network = GlimpseNetwork(
            patch_size=patch_size,
            scales=scales,
            channels=channels,
            what_size=what_size,
            where_size=where_size,
            glimpse_size=glimpse_size,
        )
        self.core_network = CoreNetwork(
            glimpse_size=glimpse_size, hidden_size=hidden_size, kind=core
        )
        self.location_network = LocationNetwork(hidden_size=hidden_size, std=location_std)
        self.action_network = ActionNetwork(hidden_size=hidden_size, num_classes=num_classes)
        self.baseline = nn.Linear(hidden_size, 1)

    def step(
        self, images: Tensor, state: CoreState, noise: Tensor
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
        baseline = self.baseline(state.h.detach()).squeeze(-1)
        g = self.glimpse_network(images, location)
        return self.core_network(g, state), location, log_prob, baseline

    def forward(self, images: Tensor, noise: Tensor | None = None) -> RamOutput:
        """Unroll T glimpses over images (B, C, H, W).

        noise: (B, T, 2) standard-normal draws behind the sampled locations; drawn here when
            None. Passing them makes an episode reproducible, and keeps random numbers out of a
            ``torch.compile``d graph, whose backward pass may recompute (redraw) them.
        """
        B = images.shape[0]
        if noise is None:
            noise = self.sample_noise(images)
        state = self.core_network.initial_state(B, images.device)
        locations, log_probs, baselines = [], [], []
        for t in range(self.glimpses):
            state, location, log_prob, baseline = self.step(images, state, noise[:, t])
            locations.append(location)
            log_probs.append(log_prob)
            baselines.append(baseline)
        return RamOutput(
            logits=self.action_network(state.h),
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
        return hybrid_loss(output, targets)

    @torch.no_grad()
    def predict_proba(self, images: Tensor, *, samples: int = 1) -> Tensor:
        """Class probabilities (B, num_classes), averaged over M = ``samples`` glimpse paths.

        The M episodes run as one batch of B * M images, not as a loop.
        """
        B = images.shape[0]
        output = self(images.repeat_interleave(samples, dim=0))
        return output.logits.softmax(-1).view(B, samples, -1).mean(1)


def hybrid_loss(output: RamOutput, targets: Tensor) -> RamLoss:
    """The hybrid loss of [1], sec. 4.

    Cross-entropy trains the action, core and glimpse networks; REINFORCE with the baseline
    (reward 1 for a right final answer, 0 otherwise, sec. 3.2) trains the location network;
    squared error trains the baseline.

    Args:
        output: an episode over B images.
        targets: (B,) class indices.
    """
    classification = F.cross_entropy(output.logits, targets)
    reward = (output.logits.argmax(-1) == targets).float()  # (B,)
    advantage = reward[:, None] - output.baselines.detach()  # (B, T), R - b_t
    reinforce = -(output.log_probs * advantage).sum(1).mean()  # eq. 2, with the baseline
    baseline = F.mse_loss(output.baselines, reward[:, None].expand_as(output.baselines))
    return RamLoss(
        total=classification + reinforce + baseline,
        classification=classification,
        reinforce=reinforce,
        baseline=baseline,
        correct=reward,
    )
