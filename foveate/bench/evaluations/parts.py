"""The evaluation of a model that explains scenes step by step (AIR on Omniglot): what its parts
explain, over the whole test set (``foveate.reports.parts``)."""

from __future__ import annotations

import os

import torch

from foveate.bench.evaluations.common import model_and_test_data, numbers, over_test_set
from foveate.bench.evaluations.registry import EVALUATIONS
from foveate.models.interface import Decomposes
from foveate.reports.parts import PartStatistics, part_statistics
from foveate.training.config import RunConfig


@EVALUATIONS.register("parts")
def parts(checkpoint: str | os.PathLike, config: RunConfig) -> dict[str, float]:
    """Over the fixed test scenes, each explained by its most likely decomposition: the share of
    the ink the reconstruction covers, the steps used per scene, and each step's window share."""
    model, data = model_and_test_data(
        checkpoint, config, interface=Decomposes, lacks="does not explain scenes in parts"
    )
    found = over_test_set(data, lambda images, _: part_statistics(images, model.decompose(images)))
    whole = PartStatistics(
        *(
            torch.cat([getattr(f, name) for f in found])
            for name in ("ink_covered", "steps", "window_share")
        )
    )
    return numbers(whole.summary())
