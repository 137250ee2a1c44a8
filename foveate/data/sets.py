"""Lightning DataModules of digit sets (``foveate.data.digit_sets``): pointer sets, and bags.

Splits as for scenes: validation digits carved from the training split with ``data_seed``,
validation sets made of them and test sets of the test split's digits, each generated once from
``data_seed``; training sets drawn afresh for every batch from the remaining digits.

Batches are (items (B, K, 1, h, w) float in [0, 1], truth), truth a dict of ``mask`` (B, K),
``labels`` (B, K), ``query`` (B,), ``target`` (B,) and ``relevant`` (B, K) (see ``DigitSets``).
"""

from __future__ import annotations

import os
from functools import partial

import torch
from torch import Tensor

from foveate.data.datasets import DatasetName
from foveate.data.digit_sets import DigitSets, digit_bags, pointer_sets
from foveate.data.generated import GeneratedDataModule
from foveate.data.sources import DATA_SOURCES

Batch = tuple[Tensor, dict[str, Tensor]]


def _as_batch(sets: DigitSets) -> Batch:
    truth = {
        "mask": sets.mask,
        "labels": sets.labels,
        "query": sets.query,
        "target": sets.target,
        "relevant": sets.relevant,
    }
    return sets.items[:, :, None].float().div_(255), truth


def _make(kind, digits: Tensor, labels: Tensor, number: int, generator: torch.Generator, **args):
    return kind(digits, labels, number, generator=generator, **args)


class _SetsDataModule(GeneratedDataModule):
    """What the two set sources share: the batch format and the record."""

    def record(self) -> dict[str, object]:
        return {"dataset": self.dataset}

    def model_defaults(self) -> dict[str, object]:
        return {"channels": 1}

    as_batch = staticmethod(_as_batch)


@DATA_SOURCES.register("pointer_sets")
class PointerSetsDataModule(_SetsDataModule):
    """Pointer sets (``pointer_sets``): train / validation / test loaders.

    Args:
        set_size: digits in a set, of different classes.
        dataset, data_dir, sample, download: where the digits come from (as for the tasks).
        batch_size: training batch size (per process).
        eval_batch_size: validation and test batch size.
        epoch_size: training sets per epoch (drawn afresh every batch).
        val_size: validation sets (None: 2000; 200 with ``sample``).
        test_size: test sets (None: 10,000; 1000 with ``sample``).
        val_digits: training digits held out for the validation sets; None: a tenth, at most
            5000.
        data_seed: seed of the validation split and of the validation and test sets.
    """

    def __init__(
        self,
        set_size: int = 9,
        *,
        dataset: DatasetName = "mnist",
        data_dir: str | os.PathLike | None = None,
        sample: bool = False,
        batch_size: int = 64,
        eval_batch_size: int = 500,
        epoch_size: int = 30000,
        val_size: int | None = None,
        test_size: int | None = None,
        val_digits: int | None = None,
        data_seed: int = 0,
        download: bool = True,
    ) -> None:
        super().__init__()
        self._set_common(
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
        self.set_size = set_size

    def model_defaults(self) -> dict[str, object]:
        return {"channels": 1, "set_size": self.set_size}

    def maker(self, digits: Tensor, labels: Tensor, split: str):
        return partial(_make, pointer_sets, digits, labels, size=self.set_size)


@DATA_SOURCES.register("digit_bags")
class BagsDataModule(_SetsDataModule):
    """Bags of digits (``digit_bags``), positive when one is a 9: train / validation / test.

    Args:
        bag_sizes: (least, most) digits in a bag.
        dataset, data_dir, sample, download: where the digits come from (as for the tasks).
        batch_size: training batch size (per process).
        eval_batch_size: validation and test batch size.
        epoch_size: training sets per epoch (drawn afresh every batch).
        val_size: validation sets (None: 2000; 200 with ``sample``).
        test_size: test sets (None: 10,000; 1000 with ``sample``).
        val_digits: training digits held out for the validation sets; None: a tenth, at most
            5000.
        data_seed: seed of the validation split and of the validation and test sets.
    """

    def __init__(
        self,
        bag_sizes: tuple[int, int] = (5, 15),
        *,
        dataset: DatasetName = "mnist",
        data_dir: str | os.PathLike | None = None,
        sample: bool = False,
        batch_size: int = 64,
        eval_batch_size: int = 500,
        epoch_size: int = 30000,
        val_size: int | None = None,
        test_size: int | None = None,
        val_digits: int | None = None,
        data_seed: int = 0,
        download: bool = True,
    ) -> None:
        super().__init__()
        self._set_common(
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
        self.bag_sizes = (int(bag_sizes[0]), int(bag_sizes[1]))

    def maker(self, digits: Tensor, labels: Tensor, split: str):
        return partial(_make, digit_bags, digits, labels, sizes=self.bag_sizes)
