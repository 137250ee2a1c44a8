"""Training an agent in a game (RAM playing Catch) by REINFORCE on the game's reward, with
Lightning.

A batch is an order to play (``foveate.data.games.GameBatch``): the module plays those games
with its model, one batched step for all of them at a time, and learns from the episode. The
model (``foveate.models.ram_agent``) owns its step and its REINFORCE loss; this module owns the
play loop, the optimiser and the logging. Validation and test play fixed games with the policy's
most likely choices (greedy); the test also plays them with sampled choices.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from foveate.data.games import GameBatch
from foveate.models.ram_agent import AgentEpisode
from foveate.training.module import TRAINING_MODULES, Metric, TrainingModule


def play(
    agent: torch.nn.Module,
    batch: GameBatch,
    *,
    greedy: bool = False,
    record: bool = False,
    max_steps: int = 10_000,
) -> tuple[AgentEpisode, Tensor | None]:
    """Play the batch's games to their end with ``agent``, all at once.

    Returns the episode (its ``alive`` (B, T) marks the steps each game was still going) and,
    with ``record``, the screens each step was chosen from, (B, T, C, H, W); else None.
    """
    device = next(agent.parameters()).device
    games = len(batch.games)
    env = batch.make(games, device=device)
    screens, _ = env.reset(seed=batch.seed, options={"copies": batch.copies})
    # the agent's draws come from their own generator: one seed fixes a whole batch of games
    generator = torch.Generator().manual_seed(batch.seed % 2**63 + 1)
    state = agent.initial_state(games, device)
    returns = torch.zeros(games, device=device)
    going = torch.ones(games, dtype=torch.bool, device=device)
    steps, alive, seen = [], [], []
    for _ in range(max_steps):
        step = agent(screens, state, generator=generator, greedy=greedy)
        if record:
            seen.append(screens)
        screens, rewards, terminated, truncated, _ = env.step(step.action)
        steps.append(step)
        alive.append(going)
        returns = returns + rewards * going
        going = going & ~(terminated | truncated)
        state = step.state
        if not going.any():
            break
    else:
        raise RuntimeError(f"games still going after {max_steps} steps")
    episode = AgentEpisode.stack(steps, returns, torch.stack(alive, 1).float())
    return episode, torch.stack(seen, 1) if record else None


@TRAINING_MODULES.register("game")
class GameModule(TrainingModule):
    """Trains an agent by its model's REINFORCE loss on games it plays.

    Takes ``TrainingModule``'s arguments; ``compile`` has no effect (a step of play waits on
    the game between the model's steps). Logs the percentage of the most a game can return that
    the agent earned (``return_pct``: for Catch, whose game returns 1 for a catch, the share of
    balls caught).
    """

    metrics = {
        "return_pct": Metric("max", "return, of the most a game gives, greedy", "%"),
        "return_sampled_pct": Metric("max", "return with sampled choices", "%"),
        "games": Metric(None, "games played"),
    }
    monitor = "val_return_pct"

    def losses(self, batch: GameBatch, *draws: Tensor) -> dict[str, Tensor]:
        episode, _ = play(self.model, batch)
        return self._as_dict(self.model.loss(episode))

    def batch_losses(self, batch: GameBatch) -> dict[str, Tensor]:
        # The agent draws its moves from a generator the batch seeds, while it plays.
        return self.losses(batch)

    def _return_pct(self, batch: GameBatch, *, greedy: bool) -> Tensor:
        episode, _ = play(self.model, batch, greedy=greedy)
        return 100 * episode.returns.mean()

    def validation_step(self, batch: GameBatch, batch_idx: int) -> None:
        with torch.no_grad():
            games = len(batch.games)
            self.log(
                "val_return_pct",
                self._return_pct(batch, greedy=True),
                prog_bar=True,
                batch_size=games,
            )

    def test_step(self, batch: GameBatch, batch_idx: int) -> None:
        games = len(batch.games)
        with torch.no_grad():
            self.log("test_return_pct", self._return_pct(batch, greedy=True), batch_size=games)
            sampled = self._return_pct(batch, greedy=False)
            self.log("test_return_sampled_pct", sampled, batch_size=games)
        self.log("test_games", float(games), batch_size=games)

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        return (
            f"test return {metrics['test_return_pct']:.2f}% of the most a game gives, greedy "
            f"({metrics.get('test_return_sampled_pct', float('nan')):.2f}% with sampled choices)"
        )
