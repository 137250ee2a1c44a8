"""Training a classifier (RAM, DRAW's attentive classifier, the STN, the CNN) with Lightning.

The model is a plain ``nn.Module`` from the registry; it owns its paper's loss (``model.loss``)
and its test-time prediction (``model.predict_proba``). This module owns the optimiser, the
schedule and the logging.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from foveate.training.module import TRAINING_MODULES, Metered, Metric, TrainingModule


@TRAINING_MODULES.register("classifier")
class ClassifierModule(TrainingModule):
    """Trains a classifier by its model's loss and reports its error in percent.

    Takes ``TrainingModule``'s arguments; ``eval_samples`` is M, the glimpse paths averaged per
    test image. Batches are (images (B, C, H, W), labels (B,)).
    """

    metrics = {"error_pct": Metric("min", "error (images classified wrongly)", "%")}
    monitor = "val_error_pct"

    def losses(self, batch: tuple[Tensor, Tensor], *draws: Tensor) -> dict[str, Tensor]:
        images, labels = batch
        return self._as_dict(self.model.loss(self.model(images, *draws), labels))

    def forward(self, images: Tensor):
        return self.model(images)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        losses = self.batch_losses(batch)
        self._log_training_losses(losses)
        # Counted in a plain tensor, not by self.log on every step (a millisecond a call).
        self._train_errors += (losses["correct"] == 0).sum().detach()
        self._train_images += len(batch[1])
        return losses["total"]

    def _reset_training_error(self) -> None:
        self._train_errors = torch.zeros((), dtype=torch.long, device=self.device)
        self._train_images = 0

    # Not on_train_epoch_start: a run resumed in the middle of an epoch does not start that epoch.
    def on_train_start(self) -> None:
        super().on_train_start()
        self._reset_training_error()

    def on_train_epoch_end(self) -> None:
        if self._train_images:
            error = 100 * self._train_errors.item() / self._train_images
            self.log("train/error_pct", error, sync_dist=True)
        self._reset_training_error()

    def batch_metrics(self, batch: tuple[Tensor, Tensor], stage: str) -> dict[str, Metered]:
        images, labels = batch
        # Validation averages one glimpse path (M=1); the test, eval_samples of them.
        samples = self.hparams.eval_samples if stage == "test" else 1
        probs = self.model.predict_proba(images, samples=samples)
        return {"error_pct": (100 * (probs.argmax(-1) != labels).float().mean(), len(labels))}

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        line = (
            f"test error {metrics['test_error_pct']:.2f}% (M={metrics['eval_samples']}, "
            f"{metrics['test_images']} test images)"
        )
        return line + cls.best_validation(metrics, "error")
