"""Games to play as a data source: what an agent learns from instead of a dataset.

A batch is not data but an order to play: ``GameBatch`` says how many games, from which seed,
and how to make their (vectorised, gymnasium-API) environment. Training batches draw a new seed
each; the validation and test games are fixed by ``data_seed`` and never played in training
(their seeds are not drawn there; a drawn seed that equals one is skipped).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import gymnasium
import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from foveate.data.catch import CatchVectorEnv
from foveate.data.datamodule import process_seed, require_positive
from foveate.data.sources import DATA_SOURCES
from foveate.registry import Registry

GAMES: Registry[Callable[..., gymnasium.vector.VectorEnv]] = Registry("game")
GAMES.add("catch", CatchVectorEnv)


class GameBatch(NamedTuple):
    """games: (N,) the games' numbers (N games are played); seed: starts them all; make:
    ``make(N, device=...)`` builds their environment; copies: each game is played this many
    times side by side, from the same start (N / copies different games), so that a game's
    plays can be compared with each other (the environment's ``reset`` option ``copies``)."""

    games: Tensor
    seed: int
    make: Callable[..., gymnasium.vector.VectorEnv]
    copies: int = 1


class GameOrders(Dataset):
    """``batches`` orders of ``games`` games each; fixed seeds if given, else drawn per order."""

    def __init__(
        self,
        make: Callable[..., gymnasium.vector.VectorEnv],
        games: int,
        batches: int,
        *,
        seeds: list[int] | None = None,
        avoid: tuple[int, ...] = (),
        copies: int = 1,
    ) -> None:
        if games % copies:
            raise ValueError(f"{games} games a batch cannot be {copies} copies of whole games")
        self.make, self.games, self.batches, self.seeds, self.avoid = (
            make,
            games,
            batches,
            seeds,
            avoid,
        )
        self.copies = copies
        self.generator = torch.Generator().manual_seed(0)

    def reseed(self, seed: int) -> None:
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return self.batches

    def __getitem__(self, i: int) -> GameBatch:
        if self.seeds is not None:
            seed = self.seeds[i]
        else:
            seed = int(torch.randint(2**62, (), generator=self.generator))
            while seed in self.avoid:
                seed = int(torch.randint(2**62, (), generator=self.generator))
        return GameBatch(torch.arange(self.games), seed, self.make, self.copies)


@DATA_SOURCES.register("games")
class GameDataModule(L.LightningDataModule):
    """Games of a registered game (``GAMES``): training orders, and fixed validation and test games.

    Args:
        game: the game's name ('catch').
        batch_size: games played at once per training step.
        batches_per_epoch: training steps per epoch.
        val_games, test_games: the fixed games of validation and test.
        data_seed: seeds the validation (data_seed + 1) and test (data_seed) games.
        copies: training plays each game this many times side by side (``GameBatch``; a
            batch of ``batch_size`` plays holds batch_size / copies games); validation and
            test play every game once.
        size, paddle, max_drift: Catch's screen side, paddle width and the ball's largest
            horizontal speed (``CatchVectorEnv``).
    """

    @classmethod
    def smoke_settings(cls) -> dict:
        """Settings that make any run over games take seconds: a few games a step and a test."""
        return {"batch_size": 8, "batches_per_epoch": 2, "val_games": 16, "test_games": 16}

    def __init__(
        self,
        game: str = "catch",
        *,
        batch_size: int = 256,
        batches_per_epoch: int = 100,
        val_games: int = 1000,
        test_games: int = 1000,
        data_seed: int = 0,
        copies: int = 1,
        size: int = 24,
        paddle: int = 2,
        max_drift: float = 1.0,
    ) -> None:
        super().__init__()
        require_positive(
            batch_size=batch_size,
            batches_per_epoch=batches_per_epoch,
            val_games=val_games,
            test_games=test_games,
            copies=copies,
        )
        self.make = functools.partial(GAMES[game], size=size, paddle=paddle, max_drift=max_drift)
        probe = self.make(1)
        self.num_actions = int(probe.single_action_space.n)
        self.screen_shape = tuple(probe.single_observation_space.shape)
        self.game, self.batch_size, self.batches_per_epoch = game, batch_size, batches_per_epoch
        self.val_games, self.test_games, self.data_seed = val_games, test_games, data_seed
        if batch_size % copies:
            raise ValueError(f"batch_size {batch_size} is not a whole number of {copies} copies")
        self.copies = copies
        self.orders: dict[str, GameOrders] = {}

    def record(self) -> dict[str, str]:
        return {"game": self.game}

    def model_defaults(self) -> dict[str, int]:
        """The model arguments the game decides: its moves and the screen's channels."""
        return {"num_actions": self.num_actions, "channels": self.screen_shape[0]}

    def setup(self, stage: str | None = None) -> None:
        if self.orders:
            return
        val_seed, test_seed = self.data_seed + 1, self.data_seed
        self.orders = {
            "train": GameOrders(
                self.make,
                self.batch_size,
                self.batches_per_epoch,
                avoid=(val_seed, test_seed),
                copies=self.copies,
            ),
            "val": GameOrders(self.make, self.val_games, 1, seeds=[val_seed]),
            "test": GameOrders(self.make, self.test_games, 1, seeds=[test_seed]),
        }
        self.orders["train"].reseed(process_seed(self.trainer))

    def _loader(self, split: str) -> DataLoader:
        return DataLoader(self.orders[split], batch_size=None, collate_fn=_as_is)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")


def _as_is(batch: GameBatch) -> GameBatch:
    return batch
