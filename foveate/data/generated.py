"""A dataset of generated examples (scenes, rows of digits, sets), served a batch at a time.

A generator ``make(number, generator) -> examples`` returns a dataclass of tensors whose first
dimension is the example (``Scenes``, ``DigitRows``, ...). A fixed set (validation, test) is made
once from its seed; a training set draws new examples for every batch. ``DataLoader`` hands
``__getitems__`` a batch's indices at once, so a batch is one batched generation (or one
tensor index), never a Python loop and a collate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

Examples = TypeVar("Examples")


def select(examples: Examples, index: Tensor) -> Examples:
    """The examples at ``index`` of a dataclass of tensors, each indexed on its first dimension."""
    return type(examples)(
        **{f.name: getattr(examples, f.name)[index] for f in dataclasses.fields(examples)}
    )


class GeneratedBatches(Dataset, Generic[Examples]):
    """Generated examples, a whole batch at a time.

    Args:
        make: ``make(number, generator)`` draws ``number`` examples.
        as_batch: turns examples into what a loader yields (e.g. (images, truth)).
        size: examples in the set (per epoch, for training).
        fixed_seed: make every example once from this seed (validation, test); None draws new
            ones for every batch (training; ``reseed`` sets where they start).
    """

    def __init__(
        self,
        make: Callable[[int, torch.Generator], Examples],
        as_batch: Callable[[Examples], Any],
        size: int,
        *,
        fixed_seed: int | None,
    ) -> None:
        self.make, self.as_batch, self.size = make, as_batch, size
        self.generator = torch.Generator().manual_seed(fixed_seed if fixed_seed is not None else 0)
        self.examples = make(size, self.generator) if fixed_seed is not None else None

    def reseed(self, seed: int) -> None:
        """Seed the on-the-fly generator (differently per process under data parallelism)."""
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return self.size

    def __getitems__(self, indices: list[int]) -> Any:
        if self.examples is None:
            return self.as_batch(self.make(len(indices), self.generator))
        return self.as_batch(select(self.examples, torch.as_tensor(indices)))


def _batch_as_is(batch: Any) -> Any:
    return batch


def batch_loader(dataset: Dataset, batch_size: int, *, shuffle: bool) -> DataLoader:
    """A loader over a dataset that serves whole batches (``__getitems__``)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=shuffle,
        collate_fn=_batch_as_is,
    )
