"""Training a network with supervision to read one object's identity and pose (the baseline beside
AIR's inverse graphics, ``foveate.models.pose_cnn``), scored as ``inverse_graphics`` scores AIR.

Every training scene's truth (identity, position, rotation of its one object) is a label here:
this is the supervised side of the comparison. The checkpoint is chosen on the validation loss.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from foveate.training.inverse_graphics import pose_errors
from foveate.training.module import TRAINING_MODULES, Metered, Metric, TrainingModule

Batch = tuple[Tensor, dict[str, Tensor]]


def check_single_objects(truth: dict[str, Tensor]) -> None:
    """Refuse scenes of other than one object (in one line): the network reads one object."""
    if not bool((truth["count"] == 1).all()):
        counts = sorted(set(truth["count"].tolist()))
        raise ValueError(
            f"pose_regression reads scenes of exactly one object; these hold {counts} "
            "(set data.counts: [1])"
        )


@TRAINING_MODULES.register("pose_regression")
class PoseRegressionModule(TrainingModule):
    """Trains a pose regressor by its supervised loss; reports what ``inverse_graphics`` does.

    Batches are (images, truth), truth as ``foveate.data.rendered_scenes`` makes it, one object
    a scene.
    """

    metrics = {
        "loss": Metric("min", "the supervised loss (cross-entropy plus squared errors)", ""),
        "identity_accuracy_pct": Metric("max", "objects of the right identity", "%"),
        "rotation_error_deg": Metric("min", "cubes' rotation error modulo 90 degrees", "deg"),
        "position_error": Metric("min", "distance of found to true positions", "widths"),
    }
    monitor = "val_loss"
    progress_bar = ("identity_accuracy_pct", "rotation_error_deg")

    def losses(self, batch: Batch, *draws: Tensor) -> dict[str, Tensor]:
        images, truth = batch
        check_single_objects(truth)
        return self._as_dict(self.model.loss(self.model(images), truth))

    def batch_metrics(self, batch: Batch, stage: str) -> dict[str, Metered]:
        images, truth = batch
        check_single_objects(truth)
        loss = self.model.loss(self.model(images), truth).total
        errors = pose_errors(self.model.poses(images), truth)
        return {"loss": (loss, len(images)), **errors.metered()}

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        line = (
            f"test identity accuracy {metrics['test_identity_accuracy_pct']:.2f}% "
            f"({metrics['test_images']} test scenes), position error "
            f"{metrics['test_position_error']:.3f} widths"
        )
        if "test_rotation_error_deg" in metrics:
            line += f", cubes' rotation error {metrics['test_rotation_error_deg']:.1f} deg"
        return line + cls.best_validation(metrics, "loss", ".3f")
