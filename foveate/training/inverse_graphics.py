"""Training a model that inverts a renderer (AIR3D) by its bound; scored against the scenes' truth.

The scenes' truth (``foveate.data.rendered_scenes``: each object's identity, position on the
ground plane and rotation) never reaches training or the choice of checkpoint, which read only
the images and the bound (``SceneModule``'s). It is read to report what the model found, in the
scenes whose objects it counted right, each found object matched to the true one nearest in
position (the pairing of least total distance):

- ``identity_accuracy_pct``: the found objects of the true identity;
- ``rotation_error_deg``: how far the found rotation of each true cube is from its own, modulo a
  quarter turn (a cube looks the same turned by 90 degrees; a sphere's and a cylinder's rotation
  cannot be seen, and are not scored);
- ``position_error``: the distance of found to true positions, in object widths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from foveate.models.interface import Poses
from foveate.training.module import TRAINING_MODULES, Metered, Metric
from foveate.training.scenes import Batch, SceneModule, matched_objects

CUBE = 0  # foveate.render.SHAPES[0]
CUBE_PERIOD = math.pi / 2  # a cube's rotation repeats every quarter turn


def rotation_error(found: Tensor, truth: Tensor, period: float = CUBE_PERIOD) -> Tensor:
    """|found - truth| in radians, modulo ``period`` (the least turn between the two poses)."""
    return (torch.remainder(found - truth + period / 2, period) - period / 2).abs()


@dataclass
class PoseErrors:
    """How a model's ``Poses`` of B scenes compare with their truth, object by object.

    counted: (B,) bool, the scenes whose objects were counted right. In those, over their M
    true objects, each paired with a found one (``matched_objects``): identity_right (M,) bool;
    position_error (M,) in object widths; and over the true cubes among them, rotation_error
    (K,) in radians modulo a quarter turn (``rotation_error``).
    """

    counted: Tensor
    identity_right: Tensor
    position_error: Tensor
    rotation_error: Tensor

    def metered(self) -> dict[str, Metered]:
        """Each score's mean with how many objects it averages: the metrics of a batch."""
        scores: dict[str, Metered] = {}
        objects = len(self.identity_right)
        if objects:
            right = 100 * self.identity_right.float().mean()
            scores["identity_accuracy_pct"] = (right, objects)
            scores["position_error"] = (self.position_error.mean(), objects)
        if len(self.rotation_error):
            degrees = torch.rad2deg(self.rotation_error).mean()
            scores["rotation_error_deg"] = (degrees, len(self.rotation_error))
        return scores


def pose_errors(poses: Poses, truth: dict[str, Tensor]) -> PoseErrors:
    """``poses`` found in B scenes scored against their ``truth`` (``foveate.data.
    rendered_scenes``), in the scenes whose objects were counted right."""
    counted = poses.present.sum(-1) == truth["count"]
    located = counted & (truth["count"] > 0)
    count = truth["count"][located]
    found_position = poses.position[located]
    order = matched_objects(found_position, truth["position"][located], count)
    m = order.shape[1]
    real = torch.arange(m, device=order.device) < count[:, None]  # (S, m)

    def matched(field: Tensor) -> Tensor:  # (S, m, ...) the true objects in found order
        index = order.reshape(*order.shape, *[1] * (field.dim() - 2))
        return field[located][:, :m].gather(1, index.expand(-1, -1, *field.shape[2:]))

    true_identity = matched(truth["identity"])
    right = poses.identity[located][:, :m] == true_identity
    distance = (found_position[:, :m] - matched(truth["position"])).norm(dim=-1)
    cubes = real & (true_identity == CUBE)
    turned = rotation_error(poses.rotation[located][:, :m], matched(truth["rotation"]))
    return PoseErrors(counted, right[real], distance[real], turned[cubes])


@TRAINING_MODULES.register("inverse_graphics")
class InverseGraphicsModule(SceneModule):
    """Trains a renderer-inverting scene model by its loss (``SceneModule``'s optimisers and
    z_pres annealing); reports its bound, count accuracy, and the identity, rotation and
    position of the objects it found.

    Batches are (images, truth), truth as ``foveate.data.rendered_scenes`` makes it.
    """

    metrics = {
        "nll_nats": Metric("min", "NLL bound (the negative ELBO)", "nats"),
        "count_accuracy_pct": Metric("max", "scenes whose objects are counted right", "%"),
        "identity_accuracy_pct": Metric(
            "max", "objects of the right identity, in scenes counted right", "%"
        ),
        "rotation_error_deg": Metric(
            "min", "cubes' rotation error modulo 90 degrees, in scenes counted right", "deg"
        ),
        "position_error": Metric(
            "min", "distance of found to true positions, in scenes counted right", "widths"
        ),
    }
    monitor = "val_nll_nats"
    progress_bar = ("count_accuracy_pct", "identity_accuracy_pct")

    def batch_metrics(self, batch: Batch, stage: str) -> dict[str, Metered]:
        images, truth = batch
        bound = self.model.loss(self.model(images), images).nll_bound
        errors = pose_errors(self.model.poses(images), truth)
        metrics: dict[str, Metered] = {
            "nll_nats": (bound, len(images)),
            "count_accuracy_pct": (100 * errors.counted.float().mean(), len(images)),
        }
        return {**metrics, **errors.metered()}

    @classmethod
    def describe_found(cls, metrics: dict[str, Any]) -> str:
        said = ""
        if "test_identity_accuracy_pct" in metrics:
            said += f", identity accuracy {metrics['test_identity_accuracy_pct']:.2f}%"
        if "test_rotation_error_deg" in metrics:
            said += f", cubes' rotation error {metrics['test_rotation_error_deg']:.1f} deg"
        return said
