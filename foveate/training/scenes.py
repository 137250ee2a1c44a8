"""Training a model that explains scenes object by object (AIR, DAIR) by its bound, with no labels.

The model is a plain ``nn.Module`` from the registry that owns its loss (the negative ELBO and,
for a discrete latent, the surrogate of its gradient estimate) and its decomposition of a scene
(``Decomposes``). This module owns the optimiser (its baselines learn at their own rate), the
logging, and the evaluation against the scenes' truth: the count of objects, and where they are.
Training and checkpoint selection read only the images; the truth is used to report.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
from torch import Tensor

from foveate.training.module import TRAINING_MODULES, Metered, Metric, TrainingModule

Batch = tuple[Tensor, dict[str, Tensor]]


def box_centres(boxes: Tensor) -> Tensor:
    """Boxes (..., 4) as (left, top, right, bottom) -> centres (..., 2)."""
    return (boxes[..., :2] + boxes[..., 2:]) / 2


def matched_objects(found: Tensor, truth: Tensor, count: Tensor) -> Tensor:
    """The pairing of found and true objects of least total distance, scene by scene.

    found: (B, T, 2) positions of the found objects, the present ones first; truth: (B, K, 2)
    true positions, the first ``count`` real; count: (B,) objects in each scene, also found in
    each (the caller keeps the scenes counted right), at most min(T, K).

    Returns (B, m) m = min(T, K): for found object i < count, the index of its true object
    (rows past the count hold any index). The pairings are the permutations of m objects, a
    handful, each evaluated on the whole batch.
    """
    m = min(found.shape[1], truth.shape[1])
    distance = torch.cdist(found[:, :m], truth[:, :m])  # (B, m, m)
    rows = torch.arange(m, device=found.device)
    real = rows < count[:, None]  # (B, m)
    best_cost = torch.full(count.shape, math.inf, dtype=distance.dtype, device=found.device)
    best = rows.expand(len(count), m).clone()
    for order in itertools.permutations(range(m)):
        order = torch.tensor(order, device=found.device)
        cost = (distance[:, rows, order] * real).sum(-1)
        onto_real = ((order < count[:, None]) | ~real).all(-1)  # real found -> real true
        better = onto_real & (cost < best_cost)
        best_cost = torch.where(better, cost, best_cost)
        best[better] = order
    return best


def matched_centre_error(found: Tensor, truth: Tensor, count: Tensor) -> Tensor:
    """Mean distance in pixels between found and true object centres, best matched.

    found: (B, T, 4) boxes of the steps, the present ones first; truth: (B, K, 4) true boxes,
    the first ``count`` real; count: (B,) objects in each scene, also found in each scene (the
    caller keeps the scenes counted right), at most min(T, K).

    Returns (B,) the mean centre distance under the pairing of least total distance
    (``matched_objects``; NaN where count is 0).
    """
    centres, true_centres = box_centres(found), box_centres(truth)
    order = matched_objects(centres, true_centres, count)
    m = order.shape[1]
    distance = torch.cdist(centres[:, :m], true_centres[:, :m])  # (B, m, m)
    rows = torch.arange(m, device=found.device)
    real = rows < count[:, None]
    chosen = distance.gather(2, order[..., None])[..., 0]  # (B, m) found i to its true one
    return (chosen * real).sum(-1) / count.to(distance.dtype)


@TRAINING_MODULES.register("scenes")
class SceneModule(TrainingModule):
    """Trains a scene model by its loss; reports its bound, count accuracy and position error.

    Takes ``TrainingModule``'s arguments (its ``lr`` is the model's) and:

    Args:
        baseline_lr: the learning rate of the model's parameters under ``baseline`` (NVIL's
            baselines, which chase a moving target and learn faster than the model).
        z_pres_prior_start: anneal the model's ``z_pres_prior`` from this value to the one it
            was built with, log-linearly over ``z_pres_prior_steps`` training steps (a prior
            that lets objects be found while the decoder is poor, then charges each one more);
            None keeps the model's value throughout.
        z_pres_prior_steps: the annealing's length in steps.

    Batches are (images, truth); only images reach the loss.
    """

    metrics = {
        "nll_nats": Metric("min", "NLL bound (the negative ELBO)", "nats"),
        "count_accuracy_pct": Metric("max", "scenes whose objects are counted right", "%"),
        "position_error_px": Metric(
            "min", "distance of found to true object centres, in scenes counted right", "px"
        ),
    }
    monitor = "val_nll_nats"
    progress_bar = ("count_accuracy_pct",)

    def __init__(
        self,
        *,
        baseline_lr: float = 1e-3,
        z_pres_prior_start: float | None = None,
        z_pres_prior_steps: int = 0,
        **kwargs: Any,
    ) -> None:
        if baseline_lr <= 0:
            raise ValueError(f"baseline_lr must be positive, got {baseline_lr}")
        if z_pres_prior_start is not None and not 0 < z_pres_prior_start < 1:
            raise ValueError(f"z_pres_prior_start must be in (0, 1), got {z_pres_prior_start}")
        if z_pres_prior_steps < 0:
            raise ValueError(f"z_pres_prior_steps must be non-negative, got {z_pres_prior_steps}")
        super().__init__(**kwargs)
        self.save_hyperparameters()
        self._z_pres_prior_end = float(self.model.z_pres_prior) if z_pres_prior_start else None

    def z_pres_prior_at(self, step: int) -> float:
        """The z_pres prior of training step ``step`` under the annealing schedule."""
        start, end = self.hparams.z_pres_prior_start, self._z_pres_prior_end
        if start is None:
            return float(self.model.z_pres_prior)
        done = (
            min(1.0, step / self.hparams.z_pres_prior_steps)
            if self.hparams.z_pres_prior_steps
            else 1.0
        )
        return math.exp(math.log(start) + done * (math.log(end) - math.log(start)))

    def on_train_batch_start(self, batch: Batch, batch_idx: int) -> None:
        super().on_train_batch_start(batch, batch_idx)
        if self.hparams.z_pres_prior_start is not None:
            self.model.z_pres_prior.fill_(self.z_pres_prior_at(self.global_step))

    def parameter_groups(self) -> list[dict[str, Any]]:
        hp = self.hparams
        baseline = [p for n, p in self.model.named_parameters() if n.startswith("baseline.")]
        rest = [p for n, p in self.model.named_parameters() if not n.startswith("baseline.")]
        groups: list[dict[str, Any]] = [{"params": rest}]
        if baseline:
            groups.append({"params": baseline, "lr": hp.baseline_lr})
        return groups

    def losses(self, batch: Batch, *draws: Tensor) -> dict[str, Tensor]:
        images, _ = batch  # the truth never reaches training
        return self._as_dict(self.model.loss(self.model(images, *draws), images))

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        if self.logger_writes_this_step():
            self.log("train/z_pres_prior", self.model.z_pres_prior, on_step=True, on_epoch=False)
        return super().training_step(batch, batch_idx)

    def batch_metrics(self, batch: Batch, stage: str) -> dict[str, Metered]:
        images, truth = batch
        bound = self.model.loss(self.model(images), images).nll_bound
        scenes = self.model.decompose(images)
        found = scenes.present.sum(-1).round().long()
        right = found == truth["count"]
        metrics = {
            "nll_nats": (bound, len(images)),
            "count_accuracy_pct": (100 * right.float().mean(), len(images)),
        }
        if stage == "test":
            corners = scenes.outlines  # (B, T, 4, 2)
            boxes = torch.cat([corners[..., 0, :], corners[..., 2, :]], -1)
            located = right & (truth["count"] > 0)
            if located.any():
                error = matched_centre_error(
                    boxes[located], truth["boxes"][located], truth["count"][located]
                )
                # Averaged over located scenes, not batches: weight the batch by how many.
                metrics["position_error_px"] = (error.mean(), int(located.sum()))
        return metrics

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        line = (
            f"test count accuracy {metrics['test_count_accuracy_pct']:.2f}% "
            f"({metrics['test_images']} test scenes), NLL bound {metrics['test_nll_nats']:.1f} nats"
        )
        return line + cls.describe_found(metrics) + cls.best_validation(metrics, "bound", ".1f")

    @classmethod
    def describe_found(cls, metrics: dict[str, Any]) -> str:
        """What ``describe`` says of the objects found, after the count and the bound."""
        if "test_position_error_px" in metrics:
            return f", position error {metrics['test_position_error_px']:.2f} px"
        return ""
