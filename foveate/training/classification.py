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
from foveate.training.run_log import logged_step

# The checkpoint's key for the training error counted so far in the epoch being trained.
TRAINING_ERROR_COUNTS = "foveate_training_error_counts"


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

    def _reset_training_error(self, errors: int = 0, images: int = 0) -> None:
        self._train_errors = torch.tensor(errors, dtype=torch.long, device=self.device)
        self._train_images = images

    # Not on_train_epoch_start: a run resumed in the middle of an epoch does not start that epoch;
    # it goes on with the counts its checkpoint held. Under data parallelism each process counts
    # its own share but only the first process's counts are saved, so an epoch resumed midway
    # counts that share in place of the others'.
    def on_train_start(self) -> None:
        super().on_train_start()
        epoch, errors, images = getattr(self, "_resumed_training_error", (-1, 0, 0))
        if epoch == self.current_epoch:  # counts of the epoch the resumed run goes on with
            self._reset_training_error(errors, images)
        else:
            self._reset_training_error()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        if hasattr(self, "_train_errors"):
            counts = (self.current_epoch, int(self._train_errors), self._train_images)
            checkpoint[TRAINING_ERROR_COUNTS] = counts

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self._resumed_training_error = tuple(checkpoint.get(TRAINING_ERROR_COUNTS, (-1, 0, 0)))

    # Written straight to the loggers after the epoch's last batch, not by self.log at the
    # epoch's end: Lightning hands what is logged there to the loggers only after the end-of-
    # epoch checkpoint (checkpointing.LastCheckpoint), so a run killed after that checkpoint
    # lost the epoch's row for good (tests/test_random_kills.py).
    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        super().on_train_batch_end(outputs, batch, batch_idx)
        if batch_idx + 1 < self.trainer.num_training_batches:
            return
        counts = torch.stack(
            [self._train_errors, torch.tensor(self._train_images, device=self.device)]
        ).float()
        errors, images = self.trainer.strategy.reduce(counts, reduce_op="sum").tolist()
        self._reset_training_error()
        if images and self.trainer.is_global_zero:
            row = {"train/error_pct": 100 * errors / images, "epoch": self.current_epoch}
            for logger in self.loggers:
                logger.log_metrics(row, step=logged_step(self.trainer))

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
