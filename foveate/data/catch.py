"""The game of Catch, the dynamic task of the recurrent attention model, as a vectorised
gymnasium environment.

Mnih, Heess, Graves, Kavukcuoglu, "Recurrent Models of Visual Attention", NIPS 2014, sec. 4.2:
a ball falls from a random column of the top row of a 24 x 24 screen with a random horizontal
drift; a paddle two pixels wide on the bottom row moves left, stays or moves right at every
step; the game ends when the ball reaches the bottom row, with reward 1 if the paddle is under
it and 0 otherwise. The agent sees only the screen.

Here the drift is a speed drawn uniformly in [-``max_drift``, ``max_drift``] pixels per row
(``max_drift`` 1 by default: up to 45 degrees), the ball bounces off the side walls, its pixel is
its rounded position, and the paddle starts at a random place. Every game lasts ``size - 1``
steps, so a batch of games starts and ends together.

``CatchVectorEnv`` follows gymnasium's ``VectorEnv`` API (``reset``, ``step``, spaces, next-step
autoreset) with tensors in and out, on any device: all games are one batch of tensor
operations. ``CatchEnv`` is one game with NumPy arrays, gymnasium's ``Env`` API, for tools that
expect it; it is registered as ``foveate/Catch-v0``.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from torch import Tensor

MOVES = ("left", "stay", "right")  # action a moves the paddle by a - 1 pixels


class CatchVectorEnv(gymnasium.vector.VectorEnv):
    """``num_envs`` games of Catch at once.

    Observations: (num_envs, 1, size, size) float32 screens, 1 where the ball or the paddle is.
    Actions: (num_envs,) integers in {0, 1, 2} (left, stay, right). Rewards: (num_envs,) float32,
    1 on the step a ball is caught. Terminated: (num_envs,) bool on the last step of a game; the
    step after it starts new games (gymnasium's next-step autoreset), with reward 0.

    Args:
        num_envs: games played at once.
        size: side of the square screen in pixels (24 in [RAM]).
        paddle: width of the paddle in pixels (2).
        max_drift: the largest horizontal speed of the ball, pixels per row.
        device: where the games' tensors live.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int,
        *,
        size: int = 24,
        paddle: int = 2,
        max_drift: float = 1.0,
        device: str | torch.device = "cpu",
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"Catch needs at least one game, got num_envs={num_envs}")
        if size < 3 or not 1 <= paddle < size:
            raise ValueError(f"Catch needs size >= 3 and 1 <= paddle < size, got {size}, {paddle}")
        if not 0 <= max_drift <= size - 1:  # NaN too
            # faster, the ball would cross the screen and bounce twice between two rows
            raise ValueError(f"max_drift must be in [0, size - 1 = {size - 1}], got {max_drift}")
        self.num_envs, self.size, self.paddle, self.max_drift = num_envs, size, paddle, max_drift
        self.device = torch.device(device)
        self.single_observation_space = spaces.Box(0.0, 1.0, (1, size, size), np.float32)
        self.single_action_space = spaces.Discrete(len(MOVES))
        self.observation_space = spaces.Box(0.0, 1.0, (num_envs, 1, size, size), np.float32)
        self.action_space = spaces.MultiDiscrete(np.full(num_envs, len(MOVES)))
        self.generator = torch.Generator(device=self.device)
        self.generator.seed()
        self._needs_reset = torch.ones(num_envs, dtype=torch.bool, device=self.device)
        zeros = torch.zeros(num_envs, device=self.device)
        self.ball_x, self.ball_y, self.drift, self.paddle_x = zeros, zeros.clone(), zeros, zeros
        self.steps = size - 1

    def _uniform(self, low: float, high: float) -> Tensor:
        draw = torch.rand(self.num_envs, generator=self.generator, device=self.device)
        return low + (high - low) * draw

    def _new_games(self, which: Tensor, copies: int = 1) -> None:
        """Start new games where ``which`` (num_envs,) is True; with ``copies``, every run of
        that many games starts as the first of them."""
        column = torch.floor(self._uniform(0, self.size)).clamp(max=self.size - 1)
        drift = self._uniform(-self.max_drift, self.max_drift)
        paddle = torch.floor(self._uniform(0, self.size - self.paddle + 1)).clamp(
            max=self.size - self.paddle
        )
        if copies > 1:
            first = torch.arange(self.num_envs, device=self.device) // copies * copies
            column, drift, paddle = column[first], drift[first], paddle[first]
        self.ball_x = torch.where(which, column, self.ball_x)
        self.ball_y = torch.where(which, torch.zeros_like(self.ball_y), self.ball_y)
        self.drift = torch.where(which, drift, self.drift)
        self.paddle_x = torch.where(which, paddle, self.paddle_x)
        self._needs_reset = self._needs_reset & ~which

    def screens(self) -> Tensor:
        """The games' screens now: (num_envs, 1, size, size) float32."""
        n, s = self.num_envs, self.size
        screen = torch.zeros(n, s, s, device=self.device)
        rows = torch.arange(n, device=self.device)
        ball_col = self.ball_x.round().long().clamp(0, s - 1)
        screen[rows, self.ball_y.long(), ball_col] = 1.0
        cols = torch.arange(s, device=self.device)
        left = self.paddle_x.long()[:, None]
        screen[:, s - 1] = torch.maximum(
            screen[:, s - 1], ((cols >= left) & (cols < left + self.paddle)).float()
        )
        return screen[:, None]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Tensor, dict[str, Any]]:
        """Start every game; ``seed`` fixes all of them; ``options={"copies": k}`` makes every
        run of k games (num_envs a multiple of k) the same game, played k times side by side.
        Returns (screens, {})."""
        copies = int((options or {}).get("copies", 1))
        if copies < 1 or self.num_envs % copies:
            raise ValueError(f"{self.num_envs} games cannot be copies of {copies} games each")
        if seed is not None:
            self.generator.manual_seed(seed)
        self._new_games(torch.ones(self.num_envs, dtype=torch.bool, device=self.device), copies)
        return self.screens(), {}

    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        """Move every paddle by ``actions`` (num_envs,) in {0, 1, 2}, then every ball by a row.

        Returns (screens, rewards, terminated, truncated, {}) as described in the class.
        """
        actions = torch.as_tensor(actions, device=self.device)
        if actions.shape != (self.num_envs,):
            raise ValueError(
                f"Catch expects ({self.num_envs},) actions, got {tuple(actions.shape)}"
            )
        if ((actions < 0) | (actions >= len(MOVES))).any():
            raise ValueError("Catch actions must be 0 (left), 1 (stay) or 2 (right)")
        restarting = self._needs_reset
        self.paddle_x = (self.paddle_x + actions.to(self.paddle_x.dtype) - 1).clamp(
            0, self.size - self.paddle
        )
        x = self.ball_x + self.drift
        # bounce off the side walls: reflect the position and the speed
        wall = float(self.size - 1)
        left, right = x < 0, x > wall
        x = torch.where(left, -x, torch.where(right, 2 * wall - x, x))
        self.drift = torch.where(left | right, -self.drift, self.drift)
        self.ball_x, self.ball_y = x, self.ball_y + 1
        landed = self.ball_y >= self.size - 1
        column = self.ball_x.round()
        caught = landed & (column >= self.paddle_x) & (column < self.paddle_x + self.paddle)
        rewards = caught.float()
        if restarting.any():  # the games that ended at the last step start again instead
            self._new_games(restarting)
            rewards = torch.where(restarting, torch.zeros_like(rewards), rewards)
            landed = landed & ~restarting
        self._needs_reset = landed
        truncated = torch.zeros_like(landed)
        return self.screens(), rewards, landed, truncated, {}


class CatchEnv(gymnasium.Env):
    """One game of Catch with gymnasium's ``Env`` API: NumPy screens (1, size, size) float32,
    actions 0, 1, 2; a ``CatchVectorEnv`` of one game underneath. ``render()`` gives the screen
    as an RGB array (size, size, 3) uint8."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, render_mode: str | None = None, **settings: Any) -> None:
        self.games = CatchVectorEnv(1, **settings)
        self.observation_space = self.games.single_observation_space
        self.action_space = self.games.single_action_space
        self.render_mode = render_mode

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is None and self._np_random is not None:
            seed = int(self.np_random.integers(2**62))
        screens, _ = self.games.reset(seed=seed)
        return screens[0].numpy(), {}

    def step(self, action: int):
        screens, rewards, terminated, truncated, _ = self.games.step(torch.tensor([int(action)]))
        return (
            screens[0].numpy(),
            float(rewards[0]),
            bool(terminated[0]),
            bool(truncated[0]),
            {},
        )

    def render(self) -> np.ndarray:
        screen = (self.games.screens()[0, 0].numpy() * 255).astype(np.uint8)
        return np.repeat(screen[:, :, None], 3, axis=2)


gymnasium.register(id="foveate/Catch-v0", entry_point=CatchEnv, vector_entry_point=CatchVectorEnv)
