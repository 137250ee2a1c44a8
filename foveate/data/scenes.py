"""A Lightning DataModule of multi-object scenes (multi-MNIST) for models that learn without labels.

Splits: validation digits are carved from the training split with a fixed seed (``data_seed``);
validation scenes are made of them, test scenes of the test split's digits, each set generated
once from ``data_seed`` so every model and every seed of a model is measured on the same scenes.
Training scenes are drawn afresh for every batch from the remaining training digits.

Batches are (images (B, 1, S, S) float in [0, 1], truth) where truth is a dict of the scenes'
``count`` (B,), ``classes`` (B, K) and ``boxes`` (B, K, 4) (see ``Scenes``): evaluation compares
a model's decomposition with them; training never reads them.
"""

from __future__ import annotations

import os
from typing import Literal

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from foveate.data.datamodule import DigitsDataModule
from foveate.data.datasets import get_dataset
from foveate.data.generated import GeneratedBatches, batch_loader
from foveate.data.multi_mnist import Scenes, check_counts, make_scenes
from foveate.data.sources import DATA_SOURCES

Batch = tuple[Tensor, dict[str, Tensor]]
SceneDatasetName = Literal["mnist", "fashion-mnist", "idx", "omniglot"]


def _as_batch(scenes: Scenes) -> Batch:
    truth = {"count": scenes.counts, "classes": scenes.classes, "boxes": scenes.boxes}
    return scenes.images[:, None].float().div_(255), truth


class SceneBatches(GeneratedBatches[Scenes]):
    """Scenes served a whole batch at a time (see ``GeneratedBatches``).

    Args:
        digits: (M, h, w) uint8 digits the scenes are made of; labels: (M,) their classes.
        size: scenes in the set (per epoch, for training).
        counts: digit counts a scene may have.
        canvas: side of the scenes.
        overlapping: let digits overlap (see ``make_scenes``).
        fixed_seed: make every scene once from this seed (validation, test); None draws new
            scenes for every batch (training).
    """

    def __init__(
        self,
        digits: Tensor,
        labels: Tensor,
        size: int,
        *,
        counts: tuple[int, ...],
        canvas: int,
        overlapping: bool,
        fixed_seed: int | None,
    ) -> None:
        self.digits, self.labels = digits, labels
        self.counts, self.canvas, self.overlapping = counts, canvas, overlapping
        super().__init__(self._make, _as_batch, size, fixed_seed=fixed_seed)

    def _make(self, number: int, generator: torch.Generator) -> Scenes:
        return make_scenes(
            self.digits,
            self.labels,
            number,
            counts=self.counts,
            canvas=self.canvas,
            overlapping=self.overlapping,
            generator=generator,
        )


@DATA_SOURCES.register("scenes")
class SceneDataModule(DigitsDataModule):
    """Multi-MNIST scenes: train / validation / test loaders.

    Args:
        counts: digit counts of training and validation scenes, each equally likely
            (the paper: 0, 1 and 2).
        test_counts: digit counts of test scenes; default ``counts`` (the generalisation tests
            train on 0-2 and test on 3, or train on 0, 1, 3 and test on 2).
        canvas: side of the square scenes in pixels (the paper: 50).
        overlapping: let digits overlap, the brighter pixel kept where they meet; the paper's
            digits do not overlap (the default: see ``make_scenes``).
        dataset: the objects: 'mnist', 'fashion-mnist' or 'idx' (see ``foveate.data.datasets``),
            or 'omniglot': both small background sets of characters at 28x28, drawers 1-16 for
            training and validation, 17-20 for test (``foveate.data.omniglot.omniglot_split``);
            with ``counts`` (1,) and ``canvas`` 28 a scene is one character.
        data_dir: directory of the dataset's files; ignored with ``sample``.
        sample: make scenes of the small MNIST subset shipped inside the package.
        batch_size: training batch size (per process).
        eval_batch_size: validation and test batch size.
        epoch_size: training scenes per epoch (drawn afresh every batch; an epoch is only the
            interval between validations and checkpoints).
        val_size: validation scenes.
        test_size: test scenes.
        val_digits: training digits held out to make the validation scenes of; None: a tenth
            of the training split, at most 5000.
        data_seed: seed of the validation split and of the validation and test scenes.
        download: fetch the dataset's missing files from its mirrors.
    """

    def __init__(
        self,
        counts: tuple[int, ...] = (0, 1, 2),
        *,
        test_counts: tuple[int, ...] | None = None,
        canvas: int = 50,
        overlapping: bool = False,
        dataset: SceneDatasetName = "mnist",
        data_dir: str | os.PathLike | None = None,
        sample: bool = False,
        batch_size: int = 64,
        eval_batch_size: int = 1000,
        epoch_size: int = 60000,
        val_size: int = 2000,
        test_size: int = 10000,
        val_digits: int | None = None,
        data_seed: int = 0,
        download: bool = True,
    ) -> None:
        super().__init__()
        self.counts = check_counts(counts)
        self.test_counts = (
            check_counts(test_counts, name="test_counts") if test_counts else self.counts
        )
        if dataset != "omniglot" and get_dataset(dataset).needs_data_dir and not data_dir:
            raise ValueError(f"dataset {dataset!r} reads the IDX files in data_dir; give one")
        if sample and dataset != "mnist":
            raise ValueError(
                f"sample=True is the shipped MNIST sample; it cannot stand for {dataset!r}"
            )
        for name, value in (
            ("batch_size", batch_size),
            ("eval_batch_size", eval_batch_size),
            ("epoch_size", epoch_size),
            ("val_size", val_size),
            ("test_size", test_size),
        ):
            if value < 1:
                raise ValueError(f"{name} must be positive, got {value}")
        if epoch_size < batch_size:
            raise ValueError(
                f"epoch_size ({epoch_size}) must hold at least one batch ({batch_size})"
            )
        self.dataset, self.data_dir, self.sample, self.download = (
            dataset,
            data_dir,
            sample,
            download,
        )
        self.canvas, self.overlapping = canvas, overlapping
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.epoch_size, self.val_size, self.test_size = epoch_size, val_size, test_size
        self.val_digits, self.data_seed = val_digits, data_seed
        self.datasets: dict[str, SceneBatches] = {}

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (1, self.canvas, self.canvas)

    @property
    def max_objects(self) -> int:
        """The most digits any scene of these loaders holds."""
        return max(self.counts + self.test_counts)

    def record(self) -> dict[str, object]:
        return {
            "dataset": self.dataset,
            "counts": list(self.counts),
            "overlapping": self.overlapping,
        }

    def model_defaults(self) -> dict[str, int]:
        return {"image_size": self.canvas, "channels": 1}

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        digits, labels = self.load("train")
        val, train = self.held_out(len(labels), self.val_digits, name="val_digits")
        test_digits, test_labels = self.load("test")
        common = {"canvas": self.canvas, "overlapping": self.overlapping}
        self.datasets = {
            "train": SceneBatches(
                digits[train],
                labels[train],
                self.epoch_size,
                counts=self.counts,
                fixed_seed=None,
                **common,
            ),
            "val": SceneBatches(
                digits[val],
                labels[val],
                self.val_size,
                counts=self.counts,
                fixed_seed=self.data_seed + 1,
                **common,
            ),
            "test": SceneBatches(
                test_digits,
                test_labels,
                self.test_size,
                counts=self.test_counts,
                fixed_seed=self.data_seed,
                **common,
            ),
        }
        rank = self.trainer.global_rank if self.trainer is not None else 0
        self.datasets["train"].reseed((torch.initial_seed() + rank) % 2**63)

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        return batch_loader(self.datasets[split], batch_size, shuffle=shuffle)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, shuffle=False)
