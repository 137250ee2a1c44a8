"""Evaluations of a model that names the objects of rendered scenes and their poses (AIR3D, and
the supervised network beside it), on each seed's best checkpoint: the scores of
``foveate.training.inverse_graphics.pose_errors`` over the whole test set, with the medians that
a batch's means cannot give (issue 33 asks for the median rotation error)."""

from __future__ import annotations

import os

import torch

from foveate.bench.evaluations.common import model_and_test_data, numbers, over_test_set
from foveate.bench.evaluations.registry import EVALUATIONS
from foveate.models.interface import InfersPoses
from foveate.training.config import RunConfig
from foveate.training.inverse_graphics import pose_errors


@EVALUATIONS.register("pose_errors")
def pose_error_medians(checkpoint: str | os.PathLike, config: RunConfig) -> dict[str, float]:
    """Over the fixed test scenes: count accuracy, identity accuracy, the cubes' rotation error
    in degrees (median, mean, and the share within 10 degrees) and the position error (median),
    in the scenes counted right."""
    model, data = model_and_test_data(
        checkpoint, config, interface=InfersPoses, lacks="names no poses"
    )
    parts = over_test_set(data, lambda images, truth: pose_errors(model.poses(images), truth))
    counted = torch.cat([p.counted for p in parts])
    right = torch.cat([p.identity_right for p in parts])
    position = torch.cat([p.position_error for p in parts])
    degrees = torch.rad2deg(torch.cat([p.rotation_error for p in parts]))
    scores = {
        "pose_count_accuracy_pct": 100 * counted.float().mean().item(),
        "pose_objects": len(right),
        "pose_cubes": len(degrees),
    }
    if len(right):
        scores["identity_accuracy_pct"] = 100 * right.float().mean().item()
        scores["position_error_median"] = position.median().item()
    if len(degrees):
        scores["rotation_error_deg_median"] = degrees.median().item()
        scores["rotation_error_deg_mean"] = degrees.mean().item()
        scores["rotation_within_10deg_pct"] = 100 * (degrees <= 10).float().mean().item()
    return numbers(scores)
