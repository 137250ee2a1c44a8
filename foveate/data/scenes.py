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
from functools import partial
from typing import Literal

import torch
from torch import Tensor

from foveate.data.generated import GeneratedDataModule
from foveate.data.multi_mnist import Scenes, check_counts, make_scenes
from foveate.data.sources import DATA_SOURCES

Batch = tuple[Tensor, dict[str, Tensor]]
SceneDatasetName = Literal["mnist", "fashion-mnist", "idx", "omniglot"]


def _as_batch(scenes: Scenes) -> Batch:
    truth = {"count": scenes.counts, "classes": scenes.classes, "boxes": scenes.boxes}
    return scenes.images[:, None].float().div_(255), truth


def _make(
    digits: Tensor, labels: Tensor, number: int, generator: torch.Generator, **scene_args
) -> Scenes:
    return make_scenes(digits, labels, number, generator=generator, **scene_args)


@DATA_SOURCES.register("scenes")
class SceneDataModule(GeneratedDataModule):
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
        self.counts = check_counts(counts)
        self.test_counts = (
            check_counts(test_counts, name="test_counts") if test_counts else self.counts
        )
        self.canvas, self.overlapping = canvas, overlapping

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

    def maker(self, digits: Tensor, labels: Tensor, split: str):
        return partial(
            _make,
            digits,
            labels,
            counts=self.test_counts if split == "test" else self.counts,
            canvas=self.canvas,
            overlapping=self.overlapping,
        )

    as_batch = staticmethod(_as_batch)
