"""The evaluations every kind may use: the test again with more samples, and where glimpses hit."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any, TypeVar

import lightning as L
import torch
from torch import Tensor, nn

import foveate
from foveate.bench.evaluations.registry import EVALUATIONS
from foveate.reports.hits import hit_rate as glimpse_hit_rate
from foveate.training.config import RunConfig
from foveate.training.fit import build_data, evaluate

Measured = TypeVar("Measured")


def model_and_test_data(
    checkpoint: str | os.PathLike,
    config: RunConfig,
    *,
    interface: type | None = None,
    lacks: str = "",
) -> tuple[nn.Module, L.LightningDataModule]:
    """The model of ``checkpoint``, and ``config``'s data set up for testing. A model that is not
    an ``interface`` is refused: ValueError (one line) saying that it ``lacks`` what is asked
    ('names no poses')."""
    model, _ = foveate.load(checkpoint)
    if interface is not None and not isinstance(model, interface):
        raise ValueError(f"{checkpoint}: a {type(model).__name__} {lacks}")
    data = build_data(config)
    data.setup("test")
    return model, data


def over_test_set(
    data: L.LightningDataModule, measure: Callable[[Tensor, Any], Measured]
) -> list[Measured]:
    """``measure(images, targets)`` of each test batch of ``data``, in order, without gradients."""
    with torch.no_grad():
        return [measure(images, targets) for images, targets in data.test_dataloader()]


def numbers(metrics: dict[str, Any], *, suffix: str = "") -> dict[str, float]:
    """The finite numbers among ``metrics`` (a record holds numbers only), rounded to 4 places."""
    return {
        key + suffix: round(float(value), 4)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


@EVALUATIONS.register("samples")
def samples(
    checkpoint: str | os.PathLike, config: RunConfig, *, samples: int, suffix: str | None = None
) -> dict[str, float]:
    """The test again with ``samples`` glimpse paths averaged per image (a classifier's M) or
    importance samples (a generative model's K); metrics suffixed ``_M<samples>`` (or ``suffix``)."""
    tested = evaluate(checkpoint, eval_samples=samples, data_overrides=config.data)
    tested = {k: v for k, v in tested.items() if k.startswith("test_") and k != "test_images"}
    return numbers(tested, suffix=suffix if suffix is not None else f"_M{samples}")


@EVALUATIONS.register("hit_rate")
def hit_rate(checkpoint: str | os.PathLike, config: RunConfig) -> dict[str, float]:
    """How often the finest window of a later glimpse covers the digit's centre, over the task's
    fixed test canvases, one episode each (``foveate.reports.hits``)."""
    model, data = model_and_test_data(checkpoint, config)
    test = data.datasets["test"]
    L.seed_everything(config.trainer_settings().seed, verbose=False)
    return numbers(glimpse_hit_rate(model, test.images, test.labels, test.centres))
