"""A run's test examples: the first images of its data source's fixed test set, and their
targets, the ones its test measures. ``foveate show`` draws them (``FigureContext``) and
``foveate.test_images`` hands them to people, to run a trained model on.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor

from foveate.data.datamodule import TaskDataModule
from foveate.data.tasks import TASKS
from foveate.training.config import RunConfig
from foveate.training.fit import build_data


def test_data(config: RunConfig) -> L.LightningDataModule:
    """The config's data source, set up for testing (its test set drawn, from ``data_seed``)."""
    data = build_data(config)
    data.setup("test")
    return data


def first_test_examples(
    data: L.LightningDataModule, count: int | None = None
) -> tuple[Tensor, Any]:
    """The first ``count`` examples of a set-up data source's test loader (None: its whole first
    batch): images (N, C, H, W) and their targets, a tensor (N, ...) or a dict of them."""
    if count is not None and count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    images, targets, held = [], [], 0
    for batch in data.test_dataloader():
        if not (isinstance(batch, tuple | list) and len(batch) == 2):
            raise ValueError(
                f"{type(data).__name__}'s test set is not images and targets "
                f"(its batches are {type(batch).__name__})"
            )
        images.append(batch[0])
        targets.append(batch[1])
        held += len(batch[0])
        if count is None or held >= count:
            break
    if count is not None and held < count:
        raise ValueError(f"the test set has {held} examples, fewer than the {count} asked for")
    cut = slice(count)
    if isinstance(targets[0], dict):
        joined = {key: torch.cat([t[key] for t in targets])[cut] for key in targets[0]}
    else:
        joined = torch.cat(targets)[cut]
    return torch.cat(images)[cut], joined


def test_images(source: RunConfig | dict | str, count: int = 8, **data: Any) -> tuple[Tensor, Any]:
    """The first ``count`` test examples of a config's data, the ones its run is tested on.

    source: a run config (``foveate.load``'s, ``foveate.load_pretrained``'s), its dict, or a
        task's name ('mnist', 'translated', 'cluttered60', 'cluttered100': ``TaskDataModule``'s
        canvases of MNIST).
    data: settings of the data section that replace the config's: ``data_dir=None`` reads the
        dataset from ``$FOVEATE_DATA`` or ``~/.cache/foveate`` rather than the folder the config
        names (a pretrained model's names the one of the machine that trained it);
        ``sample=True`` uses the MNIST digits shipped in the package.

    Returns images (count, C, H, W), floats in [0, 1], and their targets: class labels
    (count,) for a classifier's task, or a dict of tensors for scenes, rows and sets
    (``foveate.data``).
    """
    if isinstance(source, str):
        if source not in TASKS:
            raise ValueError(f"unknown task {source!r} (known: {', '.join(TASKS)})")
        module = TaskDataModule(source, **data)
        module.setup("test")
    else:
        if isinstance(source, dict):
            source = RunConfig.from_dict(source, source="test_images()")
        module = test_data(source.updated({"data": data}))
    return first_test_examples(module, count)


# Not a test: a name pytest would collect wherever a test module imports it.
test_data.__test__ = False
test_images.__test__ = False
