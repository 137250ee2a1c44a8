"""A Lightning DataModule of digit rows to read (``foveate.data.digit_rows``).

Splits as for scenes: validation digits carved from the training split with ``data_seed``,
validation rows made of them and test rows of the test split's digits, each set generated once
from ``data_seed``; training rows drawn afresh for every batch from the remaining digits.

Batches are (images (B, 1, H, W) float in [0, 1], truth), truth a dict of ``labels`` (B, L) (the
digits left to right, -1 past the row's end), ``lengths`` (B,) and ``boxes`` (B, L, 4).
"""

from __future__ import annotations

import os
from functools import partial

import torch
from torch import Tensor

from foveate.data.datasets import DatasetName
from foveate.data.digit_rows import DigitRows, make_rows, row_canvas
from foveate.data.generated import GeneratedDataModule
from foveate.data.sources import DATA_SOURCES

Batch = tuple[Tensor, dict[str, Tensor]]


def _as_batch(rows: DigitRows) -> Batch:
    truth = {"labels": rows.labels, "lengths": rows.lengths, "boxes": rows.boxes}
    return rows.images[:, None].float().div_(255), truth


@DATA_SOURCES.register("rows")
class RowsDataModule(GeneratedDataModule):
    """Rows of 1 to L digits to read left to right: train / validation / test loaders.

    Args:
        lengths: the digit counts a row may have, each equally likely.
        gaps: (least, most) pixels between neighbouring digits' boxes.
        jitter: the most pixels a digit lies above or below the row's middle.
        dataset, data_dir, sample, download: where the digits come from (as for the tasks).
        batch_size: training batch size (per process).
        eval_batch_size: validation and test batch size.
        epoch_size: training rows per epoch (drawn afresh every batch).
        val_size: validation rows (None: 2000; 200 with ``sample``).
        test_size: test rows (None: 10,000; 1000 with ``sample``).
        val_digits: training digits held out for the validation rows; None: a tenth, at most
            5000.
        data_seed: seed of the validation split and of the validation and test rows.
    """

    def __init__(
        self,
        lengths: tuple[int, ...] = (1, 2, 3, 4, 5),
        *,
        gaps: tuple[int, int] = (-4, 4),
        jitter: int = 4,
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
        self.lengths = tuple(sorted(set(int(n) for n in lengths)))
        if not self.lengths or self.lengths[0] < 1:
            raise ValueError(f"lengths must be one or more positive digit counts, got {lengths}")
        self.gaps, self.jitter = (int(gaps[0]), int(gaps[1])), jitter
        self.canvas = row_canvas(self.lengths[-1], max_gap=self.gaps[1], jitter=jitter)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (1, *self.canvas)

    def record(self) -> dict[str, object]:
        return {"dataset": self.dataset, "lengths": list(self.lengths)}

    def model_defaults(self) -> dict[str, object]:
        return {"image_size": list(self.canvas), "channels": 1, "max_length": self.lengths[-1]}

    def maker(self, digits: Tensor, labels: Tensor, split: str):
        return partial(
            _make, digits, labels, lengths=self.lengths, gaps=self.gaps, jitter=self.jitter
        )

    as_batch = staticmethod(_as_batch)


def _make(
    digits: Tensor, labels: Tensor, number: int, generator: torch.Generator, **row_args
) -> DigitRows:
    return make_rows(digits, labels, number, generator=generator, **row_args)
