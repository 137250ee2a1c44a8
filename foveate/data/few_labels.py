"""A dataset's images with their labels hidden, but for a few training images and the test set.

A model that learns without labels (a GAN) reads the images of the 'mnist' task (the digits as
they are, 28 x 28 in [0, 1]) with every training and validation label replaced by -1, so that
nothing it trains or chooses a checkpoint by can use one. The test set keeps its labels, for
measurements made once after training.

With ``labelled: n``, n training images keep their labels, n / classes of each class, drawn with
a fixed seed (``labelled_seed``) from the training digits (never from the validation ones). Each
training batch then carries ``labelled_per_batch`` of them, drawn afresh, in place of its last
rows: a semi-supervised objective adds its supervised term over the rows whose label is known
(Drozdov & Evtimova's task-specific codes for InfoGAN). With ``labelled_shift: s``, each labelled
image is moved by a whole number of pixels drawn afresh in [-s, s] on each axis each time it is
drawn: a hundred images seen every few steps are otherwise learnt by heart.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from foveate.data.datamodule import TaskBatches, TaskDataModule, process_seed, require_positive
from foveate.data.datasets import DatasetName
from foveate.data.sources import DATA_SOURCES

UNKNOWN = -1  # the label of an image whose label is hidden


def labelled_subset(labels: Tensor, count: int, classes: int, *, seed: int) -> Tensor:
    """Indices (count,) into ``labels`` (N,): count / classes images of each class, the first
    of each class in a permutation drawn from ``seed``; sorted by class.

    Raises ValueError when count is not a multiple of classes or a class has too few images.
    """
    if count % classes:
        raise ValueError(f"labelled must be a multiple of the {classes} classes, got {count}")
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    chosen = []
    for label in range(classes):
        members = order[labels[order] == label][: count // classes]
        if len(members) < count // classes:
            raise ValueError(f"class {label} has only {len(members)} training images")
        chosen.append(members)
    return torch.cat(chosen)


def shift_images(images: Tensor, shifts: Tensor) -> Tensor:
    """images (B, C, H, W) moved by whole pixels, shifts (B, 2) (right, down), the vacated rows
    and columns filled with 0: one ``affine_grid`` translation per image, read back by nearest
    neighbour, so that each pixel lands exactly on another."""
    height, width = images.shape[-2:]
    theta = torch.zeros(len(images), 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    # Normalised coordinates span 2 over the width: a pixel is 2 / width. The grid names where
    # each output pixel reads from, so a move right reads from the left.
    theta[:, 0, 2] = -2 * shifts[:, 0].to(images.dtype) / width
    theta[:, 1, 2] = -2 * shifts[:, 1].to(images.dtype) / height
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="nearest", padding_mode="zeros", align_corners=False)


class HiddenLabels(Dataset):
    """A task's batches (``TaskBatches``) with their labels replaced by -1.

    labelled: (L, 1, H, W) float images in [0, 1] and (L,) their labels, of which each batch
        carries ``per_batch``, drawn with replacement from ``generator``, in place of its last
        rows (their labels kept); None: no labels at all.
    shift: each labelled image drawn is moved by up to this many pixels on each axis
        (``shift_images``; 0: as it is).
    """

    def __init__(
        self,
        batches: TaskBatches,
        *,
        labelled: tuple[Tensor, Tensor] | None = None,
        per_batch: int = 0,
        shift: int = 0,
        generator: torch.Generator | None = None,
    ) -> None:
        self.batches, self.labelled, self.per_batch = batches, labelled, per_batch
        self.shift = shift
        self.generator = generator or torch.Generator().manual_seed(0)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        """indices -> images (B, 1, H, W) in [0, 1], labels (B,): -1 but for the labelled rows."""
        images, labels = self.batches.__getitems__(indices)
        labels = torch.full_like(labels, UNKNOWN)
        if self.labelled is not None and self.per_batch:
            pool_images, pool_labels = self.labelled
            rows = min(self.per_batch, len(images))
            pick = torch.randint(len(pool_labels), (rows,), generator=self.generator)
            chosen = pool_images[pick]
            if self.shift:
                moves = torch.randint(
                    -self.shift, self.shift + 1, (rows, 2), generator=self.generator
                )
                chosen = shift_images(chosen, moves)
            images[-rows:], labels[-rows:] = chosen, pool_labels[pick]
        return images, labels

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        images, labels = self.__getitems__([i])
        return images[0], labels[0]


@DATA_SOURCES.register("few_labels")
class FewLabelsDataModule(TaskDataModule):
    """The images of a dataset as they are, their training and validation labels hidden (-1)
    but for ``labelled`` training images; the test labels kept.

    Args: those of ``TaskDataModule`` that apply (the task is 'mnist': the images as they are),
    and:
        labelled: training images whose labels are kept, as many of each class (0: none).
        labelled_per_batch: labelled images in each training batch, in place of its last rows.
        labelled_seed: the seed of the draw of the labelled images.
        labelled_shift: the most pixels a labelled image is moved by, on each axis, each time a
            batch carries it (0: never moved).
    """

    def __init__(
        self,
        *,
        dataset: DatasetName = "mnist",
        data_dir: str | os.PathLike | None = None,
        sample: bool = False,
        batch_size: int = 64,
        eval_batch_size: int = 1000,
        val_size: int | None = None,
        data_seed: int = 0,
        download: bool = True,
        labelled: int = 0,
        labelled_per_batch: int = 16,
        labelled_seed: int = 0,
        labelled_shift: int = 0,
    ) -> None:
        super().__init__(
            "mnist",
            dataset=dataset,
            data_dir=data_dir,
            sample=sample,
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            val_size=val_size,
            data_seed=data_seed,
            download=download,
        )
        if labelled < 0:
            raise ValueError(f"labelled must be at least 0, got {labelled}")
        if labelled:
            require_positive(labelled_per_batch=labelled_per_batch)
            if labelled_per_batch >= batch_size:
                raise ValueError(
                    f"labelled_per_batch ({labelled_per_batch}) must be smaller than batch_size "
                    f"({batch_size}): the rest of each batch are unlabelled images"
                )
        self.labelled, self.labelled_per_batch = labelled, labelled_per_batch
        self.labelled_seed = labelled_seed
        if labelled_shift < 0:
            raise ValueError(f"labelled_shift must be at least 0, got {labelled_shift}")
        self.labelled_shift = labelled_shift

    @classmethod
    def smoke_settings(cls) -> dict:
        """``TaskDataModule``'s (the shipped digits, batches of 8), with 2 labelled images in
        each batch, fewer than its rows."""
        return {**super().smoke_settings(), "labelled_per_batch": 2}

    def record(self) -> dict[str, str | int]:
        """What identifies these data: the dataset, and how many training labels are kept."""
        return {"dataset": self.dataset, "labelled": self.labelled}

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        super().setup(stage)
        train = self.datasets["train"]
        pool = None
        if self.labelled:
            chosen = labelled_subset(
                train.labels, self.labelled, self.num_classes, seed=self.labelled_seed
            )
            # The task is 'mnist': a training image is its digit as it is.
            pool = (train.digits[chosen][:, None].float().div(255), train.labels[chosen])
        generator = torch.Generator().manual_seed(process_seed(self.trainer) + 1)
        self.datasets = {
            "train": HiddenLabels(
                train,
                labelled=pool,
                per_batch=self.labelled_per_batch,
                shift=self.labelled_shift,
                generator=generator,
            ),
            "val": HiddenLabels(self.datasets["val"]),
            "test": self.datasets["test"],
        }
