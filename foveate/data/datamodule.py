"""Lightning DataModules for the classification tasks: a dataset's images, or their canvases.

Splits: the validation set is carved from the training digits with a fixed seed (``data_seed``),
so hyper-parameters and checkpoints are chosen without the test set. Validation and test canvases
are generated once from ``data_seed``: every model is measured on the same images. Training
canvases are drawn afresh for every batch, so a translated or cluttered task never repeats an image.
"""

from __future__ import annotations

import inspect
import os
from typing import Any, Literal

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from foveate.data.datasets import (
    DatasetName,
    check_data_dir,
    dataset_image_shape,
    dataset_num_classes,
    get_dataset,
    load_dataset,
)
from foveate.data.mnist import load_mnist_sample
from foveate.data.omniglot import omniglot_split
from foveate.data.sources import DATA_SOURCES
from foveate.data.tasks import TaskSpec, binarize, get_task, make_task_canvases, shift_randomly


class TaskBatches(Dataset):
    """Images of a task, served a whole batch at a time through ``__getitems__``.

    ``DataLoader`` hands ``__getitems__`` the batch's indices at once, so a batch is one tensor
    index (and, for generated tasks, one batched placement), not 128 calls and a collate.

    Args:
        digits: (N, H, W) uint8 images (MNIST digits: 28x28).
        labels: (N,) int64.
        spec: the task.
        fixed_seed: generate every canvas once from this seed (validation, test), kept as
            ``images`` with ``centres``, where each image's object lies (the digit's centre,
            (N, 2) pixel coordinates (x, y), for measuring where a model looks); None draws new
            canvases for each batch (training).
        clutter_pool: (M, H', W') uint8 images that clutter is cut from; default ``digits``.
        shift: move each generated image by up to this many pixels (training augmentation).
        resample_binary: binarize each generated image afresh (stochastic binarization).
    """

    def __init__(
        self,
        digits: Tensor,
        labels: Tensor,
        spec: TaskSpec,
        *,
        fixed_seed: int | None,
        clutter_pool: Tensor | None = None,
        shift: int = 0,
        resample_binary: bool = False,
    ) -> None:
        self.digits, self.labels, self.spec, self.shift = digits, labels, spec, shift
        self.resample_binary = resample_binary
        self.clutter_pool = clutter_pool if clutter_pool is not None else digits
        self.generator = torch.Generator().manual_seed(fixed_seed if fixed_seed is not None else 0)
        self.fixed = fixed_seed is not None
        self.images, self.centres = self._make(digits) if self.fixed else (None, None)

    def _make(self, digits: Tensor) -> tuple[Tensor, Tensor | None]:
        """Images (N, S, S) uint8 of these digits, and where each digit's centre lies, (N, 2)
        pixel coordinates (x, y), or None where a random shift moved them."""
        canvases = make_task_canvases(
            self.spec, digits, generator=self.generator, clutter_pool=self.clutter_pool
        )
        images = shift_randomly(canvases.images, self.shift, generator=self.generator)
        if self.resample_binary:
            images = binarize(images, generator=self.generator)
        boxes = canvases.digit_boxes.float()
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2 if not self.shift else None
        return images, centres

    def reseed(self, seed: int) -> None:
        """Seed the on-the-fly generator (differently per process under data parallelism)."""
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        """indices -> images (B, 1, S, S) float in [0, 1], labels (B,)."""
        index = torch.as_tensor(indices, dtype=torch.long)
        images = self.images[index] if self.fixed else self._make(self.digits[index])[0]
        return images[:, None].float().div_(255), self.labels[index]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        images, labels = self.__getitems__([i])
        return images[0], labels[0]


def _batch_as_is(batch: Any) -> Any:
    return batch


def batch_loader(dataset: Dataset, batch_size: int, *, shuffle: bool) -> DataLoader:
    """A loader over a dataset that serves whole batches (``__getitems__``); a shuffled
    (training) one drops the last, short batch."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=shuffle,
        collate_fn=_batch_as_is,
    )


def process_seed(trainer: L.Trainer | None) -> int:
    """The seed of this process's training stream: the run's seed (``torch.initial_seed``,
    which ``seed_everything`` sets) plus the process's rank, so that the processes of a
    data-parallel run draw different training examples."""
    rank = trainer.global_rank if trainer is not None else 0
    return (torch.initial_seed() + rank) % 2**63


def require_positive(**settings: float) -> None:
    """Refuse a setting below 1 (batch sizes, set sizes, counts), naming it."""
    for name, value in settings.items():
        if value < 1:
            raise ValueError(f"{name} must be positive, got {value}")


def check_source(dataset: str, data_dir, sample: bool, *, omniglot: bool = False) -> None:
    """Refuse a dataset whose files are only where the caller says without ``data_dir`` (an
    unknown name fails here too), and the shipped MNIST sample standing for another dataset.
    ``omniglot``: accept 'omniglot', which ``DigitsDataModule.load`` reads itself (from
    ``data_dir`` or the cache)."""
    if not (omniglot and dataset == "omniglot"):
        if get_dataset(dataset).needs_data_dir and not data_dir:
            raise ValueError(f"dataset {dataset!r} reads the IDX files in data_dir; give one")
    if sample and dataset != "mnist":
        raise ValueError(
            f"sample=True is the shipped MNIST sample; it cannot stand for {dataset!r}"
        )


class SplitLoaders:
    """The loaders of a DataModule whose ``datasets`` hold its 'train', 'val' and 'test'
    datasets, each serving whole batches: training batches of ``batch_size`` in a shuffled
    order, validation and test batches of ``eval_batch_size`` in theirs."""

    datasets: dict[str, Dataset]
    batch_size: int
    eval_batch_size: int

    def train_dataloader(self) -> DataLoader:
        return batch_loader(self.datasets["train"], self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return batch_loader(self.datasets["val"], self.eval_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return batch_loader(self.datasets["test"], self.eval_batch_size, shuffle=False)


class DigitsDataModule(SplitLoaders, L.LightningDataModule):
    """What every DataModule over a digits dataset shares: reading a split (or the sample shipped
    in the package), downloading once, the validation digits held out of the training split, and
    the loaders (``SplitLoaders``). A subclass sets ``dataset``, ``data_dir``, ``sample``, ``download``,
    ``data_seed``, ``batch_size`` and ``eval_batch_size``, and its ``setup`` fills ``datasets``
    (the 'train', 'val' and 'test' datasets, each serving whole batches)."""

    datasets: dict[str, Dataset]

    def load(self, split: Literal["train", "test"]) -> tuple[Tensor, Tensor]:
        """images (N, H, W) uint8, labels (N,) int64 of the dataset's split."""
        if self.sample:
            return load_mnist_sample(split)
        if self.dataset == "omniglot":  # characters for scene models (``omniglot_split``)
            return omniglot_split(split, self.data_dir)
        check_data_dir(self.dataset, self.data_dir)  # a mistyped folder is no download folder
        return load_dataset(self.dataset, split, self.data_dir, download=self.download)

    @classmethod
    def smoke_settings(cls) -> dict:
        """Data settings that make any run over this source take seconds: the digits shipped in
        the package (they stand in for any dataset, Omniglot's characters too), small batches."""
        wanted = {"sample": True, "dataset": "mnist", "batch_size": 8, "eval_batch_size": 64}
        accepted = inspect.signature(cls.__init__).parameters
        return {k: v for k, v in wanted.items() if k in accepted}

    def prepare_data(self) -> None:
        # Runs on one process before the others read: downloads happen once.
        if not self.sample:
            self.load("train"), self.load("test")

    def _keep_stream_settings(
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
        allow_no_validation: bool = False,
    ) -> None:
        """Check and keep the settings of a source whose training examples are drawn afresh
        (``epoch_size`` per epoch) and whose validation and test sets are fixed: ``val_size``
        None is 2,000 (200 with ``sample``, the shipped digits being few), ``test_size`` None is
        10,000 (1,000); ``allow_no_validation`` accepts ``val_size`` 0."""
        val_size = val_size if val_size is not None else (200 if sample else 2000)
        test_size = test_size if test_size is not None else (1000 if sample else 10000)
        require_positive(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            epoch_size=epoch_size,
            test_size=test_size,
            **({} if allow_no_validation else {"val_size": val_size}),
        )
        if val_size < 0:
            raise ValueError(f"val_size must be 0 (no validation) or more, got {val_size}")
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
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.epoch_size, self.val_size, self.test_size = epoch_size, val_size, test_size
        self.val_digits, self.data_seed = val_digits, data_seed

    def held_out(self, count: int, size: int | None, *, name: str) -> tuple[Tensor, Tensor]:
        """Indices (validation, training) of ``count`` training digits: ``size`` of them (None:
        a tenth, at most 5000) drawn with ``data_seed``; ``name`` is the setting, for errors."""
        size = size if size is not None else min(5000, count // 10)
        if not 0 < size < count:
            raise ValueError(f"{name} must be in 1..{count - 1}, got {size}")
        order = torch.randperm(count, generator=torch.Generator().manual_seed(self.data_seed))
        return order[:size], order[size:]


@DATA_SOURCES.register("tasks")
class TaskDataModule(DigitsDataModule):
    """A classification task on a dataset's images: train / validation / test loaders.

    Args:
        task: 'mnist' (the dataset's images as they are), 'translated', 'cluttered60' or
            'cluttered100' (the images placed on a canvas, with clutter cut from other images).
        dataset: 'mnist', 'fashion-mnist', or 'idx' (MNIST's IDX file names in ``data_dir``,
            as many classes as the largest label + 1); see ``foveate.data.datasets``.
        data_dir: directory of the dataset's IDX files (else under $FOVEATE_DATA, else the user
            cache; see ``foveate.data.datasets.resolve_data_dir``); needed for 'idx', ignored
            with ``sample``.
        sample: use the small MNIST subset shipped inside the package (no files, no network);
            MNIST only.
        batch_size: training batch size (per process).
        eval_batch_size: validation and test batch size.
        val_size: training images held out for validation; None: a tenth of them, at most 5000
            (5000 of MNIST's 60,000, 500 of the sample's 5000).
        data_seed: seed of the validation split and of the validation and test canvases.
        binarize: 'none' keeps grey levels; 'fixed' samples every pixel on or off once, from
            ``data_seed`` (one binarized dataset, as in the DRAW paper's likelihood table);
            'stochastic' samples training images afresh each batch (validation and test images
            are still binarized once, so that every model is measured on the same pixels).
        train_shift: move each training image by a random offset of up to this many pixels in x
            and y (augmentation; validation and test images are never moved).
        download: fetch the dataset's missing files from its mirrors.
    """

    def __init__(
        self,
        task: str = "mnist",
        *,
        dataset: DatasetName = "mnist",
        data_dir: str | os.PathLike | None = None,
        sample: bool = False,
        batch_size: int = 128,
        eval_batch_size: int = 1000,
        val_size: int | None = None,
        data_seed: int = 0,
        binarize: Literal["none", "fixed", "stochastic"] = "none",
        train_shift: int = 0,
        download: bool = True,
    ) -> None:
        super().__init__()
        self.spec = get_task(task)
        check_source(dataset, data_dir, sample)
        self.dataset = dataset
        require_positive(batch_size=batch_size, eval_batch_size=eval_batch_size)
        self.data_dir, self.sample, self.download = data_dir, sample, download
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        if binarize not in ("none", "fixed", "stochastic"):
            raise ValueError(f"binarize must be 'none', 'fixed' or 'stochastic', got {binarize!r}")
        self.binarize = binarize
        if train_shift < 0:
            raise ValueError(f"train_shift must be non-negative, got {train_shift}")
        self.val_size, self.data_seed, self.train_shift = val_size, data_seed, train_shift
        self.datasets: dict[str, TaskBatches] = {}

    @property
    def image_size(self) -> int:
        """Side S of the (square) images the loaders give: the task's canvas, else the dataset's."""
        if self.spec.canvas is not None:
            return self.spec.canvas
        height, width = dataset_image_shape(self.dataset, self.data_dir)
        if height != width:
            raise ValueError(
                f"task {self.spec.name!r} keeps the {height}x{width} images of {self.dataset!r} "
                f"as they are, and the models take square ones: choose a task with a canvas"
            )
        return height

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the images this module serves."""
        return (1, self.image_size, self.image_size)

    @property
    def num_classes(self) -> int:
        """The dataset's number of classes ('idx': its largest label + 1, from the label files)."""
        return dataset_num_classes(self.dataset, self.data_dir)

    def record(self) -> dict[str, str]:
        """What identifies these data in a run's record: the dataset and the task."""
        return {"dataset": self.dataset, "task": self.spec.name}

    def model_defaults(self) -> dict[str, int]:
        """The model arguments this data decides: image side, channels (grey: 1), classes."""
        return {"image_size": self.image_size, "channels": 1, "num_classes": self.num_classes}

    def prepare_data(self) -> None:
        """Read (once, download) the splits, and refuse a batch the training split cannot fill,
        before the trainer starts: the shuffled loader drops a short batch, so such a run would
        train on nothing."""
        _, labels = self.load("train")
        if not self.sample:
            self.load("test")
        _, train = self.held_out(len(labels), self.val_size, name="val_size")
        if self.batch_size > len(train):
            raise ValueError(
                f"batch_size {self.batch_size} is larger than the training split, {len(train)} "
                f"images ({len(labels)} less {len(labels) - len(train)} held out for validation)"
            )

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        digits, labels = self.load("train")
        val, train = self.held_out(len(labels), self.val_size, name="val_size")
        test_digits, test_labels = self.load("test")
        if test_digits.shape[1:] != digits.shape[1:]:
            raise ValueError(
                f"{self.dataset!r}: test images are {tuple(test_digits.shape[1:])}, "
                f"training images {tuple(digits.shape[1:])}"
            )
        train_digits = digits
        if self.binarize != "none":
            # Before placement, so that canvases hold binary digits. Validation and test are
            # binarized once; stochastic training keeps grey digits and resamples every batch.
            test_digits = binarize(
                test_digits, generator=torch.Generator().manual_seed(self.data_seed)
            )
            digits = binarize(digits, generator=torch.Generator().manual_seed(self.data_seed + 1))
            if self.binarize == "fixed":
                train_digits = digits
        self.datasets = {
            "train": TaskBatches(
                train_digits[train],
                labels[train],
                self.spec,
                fixed_seed=None,
                shift=self.train_shift,
                resample_binary=self.binarize == "stochastic",
            ),
            "val": TaskBatches(digits[val], labels[val], self.spec, fixed_seed=self.data_seed + 1),
            "test": TaskBatches(test_digits, test_labels, self.spec, fixed_seed=self.data_seed),
        }
        self.datasets["train"].reseed(process_seed(self.trainer))
