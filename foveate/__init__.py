"""foveate: attention-based vision in PyTorch. Models that choose where to look.

The Python API, beside the ``foveate`` command line::

    import foveate

    foveate.list_models()                               # ['cnn', 'draw', ..., 'stn']
    model = foveate.create_model("stn", image_size=60)  # a plain nn.Module
    model = foveate.create_model("ram", pretrained="mnist_6g")  # trained: a README row's weights
    model, config = foveate.load_pretrained("air/multimnist")
    model, config = foveate.load("runs/stn/checkpoints/best.ckpt")
    images, targets = foveate.test_images(config, 8)   # the first 8 test images of its task
    images, labels = foveate.load_dataset("mnist", "test", data_dir="path/to/mnist")
    window = foveate.attention.crop(images[:8, None] / 255.0, z_where, size=14)

Layers, each using only those before it: ``attention`` (pure functions and small modules),
``models`` (one file per paper, and the registry), ``data`` (datasets, tasks, DataModules),
``training`` (Lightning), ``reports`` (figures) and ``cli``.
"""

from __future__ import annotations

import os
from typing import Any

# PyTorch's CPU allocator maps every large tensor afresh, 4 KB page by page: a batch of
# 10,000-step sequences (hundreds of MB a layer) spent more time in page faults than in
# arithmetic. With 2 MB pages it takes about 90 times fewer (record page_faults). The allocator reads
# this at its first allocation, so it holds where foveate is imported before torch (the CLI).
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from torch import nn  # noqa: E402

from foveate import attention
from foveate.data.datamodule import TaskDataModule
from foveate.data.datasets import DATASETS, load_dataset
from foveate.data.omniglot import load_omniglot
from foveate.models import create_model as _create_model
from foveate.models import list_models
from foveate.training.config import RunConfig
from foveate.training.examples import test_images
from foveate.training.fit import evaluate, load_config, load_module, train_and_test

__version__ = "0.1.0"


def load(checkpoint: str | os.PathLike) -> tuple[nn.Module, RunConfig]:
    """The trained model of a checkpoint (a plain ``nn.Module`` in eval mode, on the CPU) and the
    run config it was trained with."""
    config = load_config(checkpoint)
    return load_module(checkpoint, config).model.eval(), config


def create_model(name: str, *, pretrained: str | None = None, **kwargs: Any) -> nn.Module:
    """A registered model: built from ``kwargs`` (its constructor's arguments), or, with
    ``pretrained`` (a row of the README's results table, e.g. ``create_model("ram",
    pretrained="mnist_6g")``), the weights that row's benchmark trained, in eval mode."""
    if pretrained is None:
        return _create_model(name, **kwargs)
    if kwargs:
        raise ValueError(
            f"create_model({name!r}, pretrained=...) takes no other arguments: the weights fix "
            f"them ({', '.join(sorted(kwargs))})"
        )
    return load_pretrained(f"{name}/{pretrained}")[0]


def load_pretrained(name: str) -> tuple[nn.Module, RunConfig]:
    """A pretrained model by name, 'model/row' (``foveate list --pretrained`` lists them), in
    eval mode, and the run config that trained it. Its weights file is found in
    ``$FOVEATE_WEIGHTS``, the checkout's ``benchmarks/weights`` or ``~/.cache/foveate/weights``,
    or downloaded, and checked against the manifest's SHA-256 (``foveate.bench.pretrained``)."""
    from foveate.bench.pretrained import load_pretrained as load

    return load(name)


def train(config: RunConfig | dict, run_dir: str | os.PathLike, **kwargs) -> dict:
    """Train a config (a ``RunConfig`` or its dict), test its best checkpoint, return the
    results; keyword arguments as ``train_and_test`` (``resume``, ``overwrite``)."""
    if isinstance(config, dict):
        config = RunConfig.from_dict(config, source="train()")
    return train_and_test(config, run_dir, **kwargs)


__all__ = [
    "DATASETS",
    "RunConfig",
    "TaskDataModule",
    "attention",
    "create_model",
    "evaluate",
    "list_models",
    "load",
    "load_dataset",
    "load_pretrained",
    "load_omniglot",
    "test_images",
    "train",
]
