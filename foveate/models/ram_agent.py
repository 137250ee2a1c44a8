"""RAM as an agent in a game: it looks through its retina, moves, and learns both from reward.

Mnih, Heess, Graves, Kavukcuoglu, "Recurrent Models of Visual Attention", NIPS 2014 ([1]),
sec. 4.2 (the game of Catch): at every step t the agent glimpses the current screen x_t at
l_{t-1}, folds the glimpse into an LSTM core, and chooses an environment action a_t (the
paddle's move) and the next location l_t. There is no supervised signal: both policies and the
glimpse and core networks are trained by REINFORCE on the game's reward (eq. 2, with a
baseline), unlike the classifier's hybrid loss: the move policy's gradient trains the core and
glimpse networks, the location policy's trains the location network alone.

The parts are RAM's (``foveate.models.ram``): ``GlimpseNetwork``, ``CoreNetwork``,
``LocationNetwork``, ``Baseline``; the action network f_a is a softmax over the game's moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn
from torch.distributions import Categorical

from foveate.attention.retina import patch_boxes
from foveate.models import register_model
from foveate.models.interface import boxes_to_outlines, check_input
from foveate.models.ram import Baseline, CoreState, glimpse_core_location
from foveate.models.reinforce import episode_reinforce


@dataclass
class AgentStep:
    """One step of B games.

    state: the core's state after this step's glimpse.
    location: (B, 2) where the glimpse was taken, normalised (x, y).
    action: (B,) the move chosen.
    log_prob: (B,) log pi(l_t) + log pi(a_t), the two draws of the step.
    entropy: (B,) the entropy of the move's distribution.
    baseline: (B,) b_t, the expected return from the state that chose l_t.
    """

    state: CoreState
    location: Tensor
    action: Tensor
    log_prob: Tensor
    entropy: Tensor
    baseline: Tensor


@dataclass
class AgentEpisode:
    """T steps of B games stacked: locations (B, T, 2), actions (B, T), log_probs, entropies,
    baselines (B, T) as in ``AgentStep``; returns (B,) the reward each game earned; alive
    (B, T) 1 at the steps where a game was still going (games may end at different steps)."""

    locations: Tensor
    actions: Tensor
    log_probs: Tensor
    entropies: Tensor
    baselines: Tensor
    returns: Tensor
    alive: Tensor

    @classmethod
    def stack(cls, steps: list[AgentStep], returns: Tensor, alive: Tensor) -> AgentEpisode:
        return cls(
            locations=torch.stack([s.location for s in steps], 1),
            actions=torch.stack([s.action for s in steps], 1),
            log_probs=torch.stack([s.log_prob for s in steps], 1),
            entropies=torch.stack([s.entropy for s in steps], 1),
            baselines=torch.stack([s.baseline for s in steps], 1),
            returns=returns,
            alive=alive,
        )


@dataclass
class AgentLoss:
    """REINFORCE's surrogate and its parts (scalars): total = reinforce + baseline -
    entropy_weight * entropy; reward, the mean return (logged, not optimised)."""

    total: Tensor
    reinforce: Tensor
    baseline: Tensor
    entropy: Tensor
    reward: Tensor


@register_model(
    "ram_agent",
    training="game",
    data="games",
    tiny=dict(what_size=8, where_size=8, glimpse_size=16, hidden_size=16),
)
class RecurrentAttentionAgent(nn.Module):
    """RAM for a game ([1], sec. 4.2).

    Args, [1]'s Catch agent first (the defaults: an LSTM core of 256 and a retina of 3 scales
    of 6x6):
        num_actions: the game's moves (Catch: 3).
        channels: channels of the screen.
        patch_size, scales: g and k of the retina (``foveate.attention.retina``).
        what_size, where_size, glimpse_size: the glimpse network's layers.
        hidden_size: units of the core.
        core: 'lstm' ([1]'s dynamic tasks) or 'rnn'.
        location_std: sigma of the location policy, fixed in [1] (``LocationNetwork``).

    Departures from [1] (docs/ram.md, "The game of Catch"):
        entropy_weight: a bonus on the entropy of the move policy, against an early collapse
            onto one move (0: none, as in [1]).
        normalise_glimpse: False ([1]), 'area' or 'batch' (True): how the retina's coarse
            pixels are brought to the finest one's brightness (``GlimpseNetwork``); the configs
            use 'area', without which a one-pixel ball reads at 1/16 in the coarsest patch.
        policy_to_core: False (the default, a departure) keeps the location policy's
            REINFORCE gradient out of the core, which learns from the move policy's alone; True
            lets it in too, as [1]'s eq. 2 does.
        location_std_schedule, location_std_final: the location policy's std annealed or
            learned (``LocationNetwork``; 'fixed', [1]'s, by default).
    """

    def __init__(
        self,
        *,
        # [1]'s Catch agent.
        num_actions: int = 3,
        channels: int = 1,
        patch_size: int = 6,
        scales: int = 3,
        what_size: int = 128,
        where_size: int = 128,
        glimpse_size: int = 256,
        hidden_size: int = 256,
        core: Literal["rnn", "lstm"] = "lstm",
        location_std: float = 0.1,
        # Departures from [1].
        entropy_weight: float = 0.01,
        normalise_glimpse: bool | Literal["batch", "area"] = False,
        policy_to_core: bool = False,
        location_std_schedule: Literal["fixed", "annealed", "learned"] = "fixed",
        location_std_final: float = 0.05,
    ) -> None:
        super().__init__()
        if num_actions < 2:
            raise ValueError(f"an agent needs at least two moves, got num_actions={num_actions}")
        if entropy_weight < 0:
            raise ValueError(f"entropy_weight must be non-negative, got {entropy_weight}")
        self.num_actions, self.patch_size, self.scales = num_actions, patch_size, scales
        self.channels = channels
        self.entropy_weight = entropy_weight
        # By default the location policy sees the core through ``detach``: the core learns
        # from the move policy's REINFORCE gradient only. With the location's gradient let in
        # too, an agent on a 10x10 screen began to learn about five times later (docs/ram.md,
        # "The game of Catch").
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
            location_hidden=0,
            policy_to_core=policy_to_core,
        )
        self.action_network = nn.Linear(hidden_size, num_actions)
        self.baseline = Baseline(hidden_size=hidden_size)

    def set_progress(self, fraction: float) -> None:
        """Training is ``fraction`` of the way through: an annealed policy std follows it."""
        self.location_network.set_progress(fraction)

    def initial_state(self, games: int, device: torch.device) -> CoreState:
        return self.core_network.initial_state(games, device)

    def glimpse_outlines(self, locations: Tensor, height: int, width: int) -> Tensor:
        """Normalised locations (..., 2) -> the retina's windows (..., scales, 4, 2) in pixels."""
        boxes = patch_boxes(
            locations, height=height, width=width, size=self.patch_size, scales=self.scales
        )
        return boxes_to_outlines(boxes)

    def forward(
        self,
        screens: Tensor,
        state: CoreState,
        *,
        generator: torch.Generator | None = None,
        greedy: bool = False,
    ) -> AgentStep:
        """One step over screens (B, C, H, W): choose l_t from the state, glimpse, update the
        core, choose a move. ``greedy``: the policies' means and most likely moves
        instead of draws; ``generator`` draws the rest."""
        check_input(self, screens, ("B", self.channels, "H", "W"), what="screens")
        policy = self.location_network(state.h)
        B = screens.shape[0]
        if greedy:
            location = policy.mean.detach().clamp(-1, 1)
        else:
            noise = _draw(torch.randn, (B, 2), generator, screens.device)
            location = (policy.mean + policy.stddev * noise).detach().clamp(-1, 1)
        log_prob = policy.log_prob(location).sum(-1)
        baseline = self.baseline(state.h)
        g = self.glimpse_network(screens, location)
        state = self.core_network(g, state)
        moves = Categorical(logits=self.action_network(state.h))
        if greedy:
            action = moves.probs.argmax(-1)
        else:  # inverse transform sampling: the first move whose cumulative probability passes u
            u = _draw(torch.rand, (B, 1), generator, screens.device)
            below = moves.probs.detach().cumsum(-1)[:, :-1] < u
            action = below.sum(-1)
        return AgentStep(
            state=state,
            location=location,
            action=action,
            log_prob=log_prob + moves.log_prob(action),
            entropy=moves.entropy(),
            baseline=baseline,
        )

    def loss(self, episode: AgentEpisode, returns: Tensor | None = None) -> AgentLoss:
        """REINFORCE with a baseline ([1], eq. 2) for B games of T steps: every draw of a game
        is credited with its whole return (``returns`` (B,), default the episode's: the reward
        comes at the end), less the baseline; steps after a game ended count for nothing."""
        returns = episode.returns if returns is None else returns
        alive = episode.alive
        target = returns[:, None].expand_as(episode.baselines)
        reinforce, baseline = episode_reinforce(
            episode.log_probs, target, episode.baselines, alive=alive
        )
        entropy = (episode.entropies * alive).sum() / alive.sum()
        return AgentLoss(
            total=reinforce + baseline - self.entropy_weight * entropy,
            reinforce=reinforce,
            baseline=baseline,
            entropy=entropy,
            reward=returns.mean(),
        )


def _draw(sampler, shape: tuple[int, ...], generator: torch.Generator | None, device) -> Tensor:
    """Random numbers of ``shape`` from ``sampler`` (torch.rand, torch.randn), drawn on the
    generator's device (so a CPU generator gives the same games everywhere), moved to ``device``."""
    on = generator.device if generator is not None else device
    return sampler(shape, generator=generator, device=on).to(device)
