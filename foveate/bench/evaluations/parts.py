"""The evaluation of a model that explains scenes step by step (AIR on Omniglot): what its parts
explain, over the whole test set (``foveate.reports.parts``)."""

from __future__ import annotations

import os

import torch

import foveate
from foveate.bench.evaluations.common import numbers
from foveate.bench.evaluations.registry import EVALUATIONS
from foveate.models.interface import Decomposes
from foveate.reports.parts import PartStatistics, part_statistics
from foveate.training.config import RunConfig
from foveate.training.fit import build_data


@EVALUATIONS.register("parts")
def parts(checkpoint: str | os.PathLike, config: RunConfig) -> dict[str, float]:
    """Over the fixed test scenes, each explained by its most likely decomposition: the share of
    the ink the reconstruction covers, the steps used per scene, and each step's window share."""
    model, _ = foveate.load(checkpoint)
    if not isinstance(model, Decomposes):
        raise ValueError(f"{checkpoint}: a {type(model).__name__} does not explain scenes in parts")
    data = build_data(config)
    data.setup("test")
    found = []
    with torch.no_grad():
        for images, _ in data.test_dataloader():
            found.append(part_statistics(images, model.decompose(images)))
    whole = PartStatistics(
        *(
            torch.cat([getattr(f, name) for f in found])
            for name in ("ink_covered", "steps", "window_share")
        )
    )
    return numbers(whole.summary())
