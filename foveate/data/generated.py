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

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import Dataset

from foveate.data.datamodule import (
    DigitsDataModule,
    SplitLoaders,
    check_source,
    process_seed,
    require_positive,
)

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
        return self.as_batch(select(self.examples, torch.as_tensor(indices, dtype=torch.long)))


class GeneratedDataModule(DigitsDataModule):
    """A DataModule whose examples are generated from a digits dataset's splits.

    A subclass calls ``_set_common`` from its ``__init__`` and defines ``maker(digits, labels,
    split)`` (the ``make(number, generator)`` of a split) and ``as_batch``; the base carves the
    validation digits (``split_digits`` keeps each split's digits and labels), makes the fixed
    validation and test sets and seeds the training stream per process (``DigitsDataModule``
    serves the loaders).
    """

    def _set_common(
        self,
        *,
        dataset: str,
        data_dir,
        sample: bool,
        download: bool,
        batch_size: int,
        eval_batch_size: int,
        epoch_size: int,
        val_size: int | None,
        test_size: int | None,
        val_digits: int | None,
        data_seed: int,
    ) -> None:
        check_source(dataset, data_dir, sample, omniglot=True)
        self._keep_stream_settings(
            dataset=dataset,
            data_dir=data_dir,
            sample=sample,
            download=download,
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            epoch_size=epoch_size,
            val_size=val_size,
            test_size=test_size,
            val_digits=val_digits,
            data_seed=data_seed,
        )
        self.datasets: dict[str, GeneratedBatches] = {}
        self.split_digits: dict[str, tuple[Tensor, Tensor]] = {}  # the digits of each split

    def maker(
        self, digits: Tensor, labels: Tensor, split: str
    ) -> Callable[[int, torch.Generator], Any]:
        raise NotImplementedError

    @staticmethod
    def as_batch(examples: Any) -> Any:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        digits, labels = self.load("train")
        val, train = self.held_out(len(labels), self.val_digits, name="val_digits")
        test_digits, test_labels = self.load("test")
        splits = {
            "train": (digits[train], labels[train], self.epoch_size, None),
            "val": (digits[val], labels[val], self.val_size, self.data_seed + 1),
            "test": (test_digits, test_labels, self.test_size, self.data_seed),
        }
        self.split_digits = {split: (d, y) for split, (d, y, _, _) in splits.items()}
        self.datasets = {
            split: GeneratedBatches(self.maker(d, y, split), self.as_batch, size, fixed_seed=seed)
            for split, (d, y, size, seed) in splits.items()
        }
        self.datasets["train"].reseed(process_seed(self.trainer))


class SynthesisedDataModule(SplitLoaders, L.LightningDataModule):
    """A DataModule whose examples are synthesised from a seed alone, with no dataset (marked
    sequences, rendered scenes): training examples drawn afresh for every batch, validation and
    test sets drawn once from ``data_seed + 1`` and ``data_seed``.

    A subclass calls ``_keep_sizes`` from its ``__init__`` and defines ``make(number,
    generator)`` and ``as_batch`` (as ``GeneratedBatches`` takes them).
    """

    def _keep_sizes(
        self,
        *,
        batch_size: int,
        eval_batch_size: int,
        epoch_size: int,
        val_size: int,
        test_size: int,
        data_seed: int,
    ) -> None:
        """Check the sizes (each positive, an epoch at least a batch) and keep them."""
        require_positive(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            epoch_size=epoch_size,
            val_size=val_size,
            test_size=test_size,
        )
        if epoch_size < batch_size:
            raise ValueError(
                f"epoch_size ({epoch_size}) must hold at least one batch ({batch_size})"
            )
        self.batch_size, self.eval_batch_size, self.epoch_size = (
            batch_size,
            eval_batch_size,
            epoch_size,
        )
        self.val_size, self.test_size, self.data_seed = val_size, test_size, data_seed
        self.datasets: dict[str, GeneratedBatches] = {}

    def make(self, number: int, generator: torch.Generator) -> Any:
        raise NotImplementedError

    @staticmethod
    def as_batch(examples: Any) -> Any:
        raise NotImplementedError

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        make, as_batch = self.make, self.as_batch
        self.datasets = {
            "train": GeneratedBatches(make, as_batch, self.epoch_size, fixed_seed=None),
            "val": GeneratedBatches(make, as_batch, self.val_size, fixed_seed=self.data_seed + 1),
            "test": GeneratedBatches(make, as_batch, self.test_size, fixed_seed=self.data_seed),
        }
        self.datasets["train"].reseed(process_seed(self.trainer))
