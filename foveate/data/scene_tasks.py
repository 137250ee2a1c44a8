"""Labelled multi-MNIST scene tasks: what a scene's digits add up to, and whether they are in order.

Eslami et al., "Attend, Infer, Repeat", NIPS 2016, sec. 3.1 ("representational power", fig. 7):
with AIR's inference network frozen, a small network learns two tasks from few labelled scenes,
on its latents or (a CNN) on the pixels:

- ``sum``: scenes of 0, 1 or 2 digits (as AIR was trained on); the sum of their classes, 19
  classes (0..18; an empty scene sums to 0).
- ``order``: scenes of exactly 2 digits; 1 when the left digit (by its box's left edge, then its
  top) is at most the right one, else 0.

Splits, each made once from its own fixed seed (the task's index ``t``: sum 0, order 1):

- training: ``labels`` labelled scenes, the first ``labels`` of 10,000 (``LABELLED_POOL``; more
  when more are asked) made with seed ``data_seed + 1000 + t`` from the training digits less the
  validation digits that the scenes AIR learns from hold out (``held_out``, the same
  ``data_seed`` and ``val_digits`` as ``foveate.data.scenes``): a smaller budget's scenes are the
  first of a larger one's. A batch is ``batch_size`` of them drawn uniformly with replacement
  from the run's seed; an epoch is ``epoch_size`` scenes so drawn, only the interval between
  validations and checkpoints (the default, 128,000 = 2,000 batches of 64, is the experiment's
  recipe in one epoch).
- validation: ``val_size`` scenes of those validation digits (seed ``data_seed + 3000 + t``);
  0 makes none, as in the experiment, which trains for a fixed number of updates and tests the
  last weights (``trainer.test_checkpoint: last``).
- test: ``test_size`` scenes of the test split (seed ``data_seed + 2000 + t``).

Batches are (images (B, 1, S, S) float in [0, 1], targets (B,) int64).
"""

from __future__ import annotations

import os
from typing import Literal

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from foveate.data.datamodule import (
    DigitsDataModule,
    batch_loader,
    check_source,
    process_seed,
    require_positive,
)
from foveate.data.datasets import DatasetName
from foveate.data.multi_mnist import Scenes, make_scenes
from foveate.data.sources import DATA_SOURCES

Task = Literal["sum", "order"]
# Each task's digit counts and number of classes.
TASKS: dict[str, tuple[tuple[int, ...], int]] = {"sum": ((0, 1, 2), 19), "order": ((2,), 2)}
LABELLED_POOL = 10_000  # the labelled scenes of every budget are the first of this many


def targets(task: str, scenes: Scenes) -> Tensor:
    """The task's answer for each scene (N,) int64: the sum of its digits' classes ('sum'), or
    1 where its left digit is at most its right one ('order', scenes of two digits)."""
    present = scenes.classes >= 0
    if task == "sum":
        return (scenes.classes * present).sum(-1)
    if task != "order":
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if scenes.classes.shape[1] != 2 or not present.all():
        raise ValueError("the order task is defined on scenes of exactly two digits")
    # left to right by the box's left edge, then its top (exact ties are rare)
    key = scenes.boxes[:, :, 0] * 1000 + scenes.boxes[:, :, 1]
    ordered = scenes.classes.gather(1, key.argsort(-1))
    return (ordered[:, 0] <= ordered[:, 1]).long()


class LabelledScenes(Dataset):
    """Scenes and their targets, served a whole batch at a time.

    images: (N, S, S) uint8; targets: (N,). ``with_replacement``: every batch is drawn uniformly
    with replacement from ``generator`` (``reseed`` sets where it starts) and the loader's
    indices only say how many; ``size`` is then the scenes of an epoch. Otherwise the indices are
    served in order and ``size`` is N.
    """

    def __init__(
        self, images: Tensor, targets: Tensor, *, with_replacement: bool = False, size: int = 0
    ) -> None:
        self.images, self.targets = images, targets
        self.with_replacement = with_replacement
        self.size = size if with_replacement else len(targets)
        self.generator = torch.Generator().manual_seed(0)

    def reseed(self, seed: int) -> None:
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return self.size

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        if self.with_replacement:
            index = torch.randint(0, len(self.targets), (len(indices),), generator=self.generator)
        else:
            index = torch.as_tensor(indices, dtype=torch.long)
        return self.images[index][:, None].float().div_(255), self.targets[index]


@DATA_SOURCES.register("scene_tasks")
class SceneTaskDataModule(DigitsDataModule):
    """The labelled scene tasks: train / validation / test loaders (see the module's docstring).

    Args:
        task: 'sum' or 'order'.
        labels: labelled training scenes.
        canvas: side of the square scenes in pixels (the paper: 50).
        overlapping: let digits overlap (see ``make_scenes``); the paper's do not.
        dataset, data_dir, sample, download: where the digits come from (as for the tasks);
            ``sample`` makes scenes of the digits shipped in the package.
        batch_size: training batch size (drawn with replacement).
        eval_batch_size: validation and test batch size.
        epoch_size: training scenes drawn per epoch (the interval between validations and
            checkpoints).
        val_size: validation scenes (0: none); None: 2,000 (200 with ``sample``).
        test_size: test scenes; None: 10,000 (1,000 with ``sample``).
        val_digits: training digits held out for validation (None: a tenth, at most 5,000),
            as for the scenes AIR learnt from, so that no labelled scene holds a validation
            digit.
        data_seed: the seed the validation digits are held out with and the scenes' seeds
            start from (as for the scenes AIR learnt from).
    """

    def __init__(
        self,
        task: Task = "sum",
        *,
        labels: int = 1000,
        canvas: int = 50,
        overlapping: bool = False,
        dataset: DatasetName = "mnist",
        data_dir: str | os.PathLike | None = None,
        sample: bool = False,
        batch_size: int = 64,
        eval_batch_size: int = 1000,
        epoch_size: int = 128_000,
        val_size: int | None = None,
        test_size: int | None = None,
        val_digits: int | None = None,
        data_seed: int = 0,
        download: bool = True,
    ) -> None:
        super().__init__()
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        check_source(dataset, data_dir, sample)
        require_positive(labels=labels)
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
            allow_no_validation=True,
        )
        self.task, self.labels = task, labels
        self.canvas, self.overlapping = canvas, overlapping
        self.datasets: dict[str, LabelledScenes] = {}

    @property
    def counts(self) -> tuple[int, ...]:
        return TASKS[self.task][0]

    @property
    def num_classes(self) -> int:
        return TASKS[self.task][1]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (1, self.canvas, self.canvas)

    def record(self) -> dict[str, object]:
        return {"dataset": self.dataset, "task": self.task, "labels": self.labels}

    def model_defaults(self) -> dict[str, int | str]:
        return {
            "image_size": self.canvas,
            "channels": 1,
            "num_classes": self.num_classes,
            "task": self.task,  # for a reader that composes the task's answer itself
        }

    def scenes(self, digits: Tensor, labels: Tensor, number: int, seed: int) -> LabelledScenes:
        """``number`` scenes of the task made of these digits from ``seed``, with their targets."""
        made = make_scenes(
            digits,
            labels,
            number,
            counts=self.counts,
            canvas=self.canvas,
            overlapping=self.overlapping,
            generator=torch.Generator().manual_seed(seed),
        )
        return LabelledScenes(made.images, targets(self.task, made))

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        digits, labels = self.load("train")
        val, train = self.held_out(len(labels), self.val_digits, name="val_digits")
        test_digits, test_labels = self.load("test")
        seed = self.data_seed + list(TASKS).index(self.task)
        pool = self.scenes(
            digits[train], labels[train], max(self.labels, LABELLED_POOL), seed + 1000
        )
        self.datasets["train"] = LabelledScenes(
            pool.images[: self.labels],
            pool.targets[: self.labels],
            with_replacement=True,
            size=self.epoch_size,
        )
        self.datasets["train"].reseed(process_seed(self.trainer))
        if self.val_size:
            self.datasets["val"] = self.scenes(digits[val], labels[val], self.val_size, seed + 3000)
        self.datasets["test"] = self.scenes(test_digits, test_labels, self.test_size, seed + 2000)

    def val_dataloader(self) -> DataLoader | list:
        # No validation split (val_size 0): no loader, and Lightning skips validation.
        if "val" not in self.datasets:
            return []
        return batch_loader(self.datasets["val"], self.eval_batch_size, shuffle=False)
