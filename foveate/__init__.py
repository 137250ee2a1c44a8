"""foveate: attention-based vision in PyTorch. Models that choose where to look.

The Python API, beside the ``foveate`` command line::

    import foveate

    foveate.list_models()                               # ['cnn', 'draw', ..., 'stn']
    model = foveate.create_model("stn", image_size=60)  # a plain nn.Module
    model, config = foveate.load("runs/stn/checkpoints/best.ckpt")
    images, labels = foveate.load_dataset("mnist", "test", data_dir="path/to/mnist")
    window = foveate.attention.crop(images[:8, None] / 255.0, z_where, size=14)

Layers, each using only those before it: ``attention`` (pure functions and small modules),
``models`` (one file per paper, and the registry), ``data`` (datasets, tasks, DataModules),
``training`` (Lightning), ``reports`` (figures) and ``cli``.
"""

from __future__ import annotations

import os

from torch import nn

from foveate import attention
from foveate.data.datamodule import TaskDataModule
from foveate.data.datasets import DATASETS, load_dataset
from foveate.data.omniglot import load_omniglot
from foveate.models import create_model, list_models
from foveate.training.config import RunConfig
from foveate.training.fit import evaluate, load_config, load_module, train_and_test

__version__ = "0.1.0"


def load(checkpoint: str | os.PathLike) -> tuple[nn.Module, RunConfig]:
    """The trained model of a checkpoint (a plain ``nn.Module`` in eval mode, on the CPU) and the
    run config it was trained with."""
    config = load_config(checkpoint)
    return load_module(checkpoint, config).model.eval(), config


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
    "load_omniglot",
    "train",
]
