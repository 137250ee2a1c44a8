"""Training an attention classifier (RAM, DRAW's attentive classifier) with Lightning.

The model is a plain ``nn.Module`` from the registry; it owns its paper's loss (``model.loss``)
and its test-time prediction (``model.predict_proba``). This module owns the optimiser, the
schedule and the logging.
"""

from __future__ import annotations

import torch
from torch import Tensor

from foveate.training.module import TrainingModule


class ClassifierModule(TrainingModule):
    """Trains a classifier by its model's loss and reports its error in percent.

    Takes ``TrainingModule``'s arguments; ``eval_samples`` is M, the glimpse paths averaged per
    test image.
    """

    monitor = "val_error_pct"

    def _losses(self, images: Tensor, labels: Tensor, *noise: Tensor) -> dict[str, Tensor]:
        return self._as_dict(self.model.loss(self.model(images, *noise), labels))

    def forward(self, images: Tensor):
        return self.model(images)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        images, labels = batch
        # A stochastic model's random draws are made here, outside the (possibly compiled) loss:
        # a compiled backward pass may recompute random ops, which would redraw them.
        sample_noise = getattr(self.model, "sample_noise", None)
        noise = (sample_noise(images),) if sample_noise is not None else ()
        losses = self._train_losses(images, labels, *noise)
        self._log_training_losses(losses)
        # Counted in a plain tensor, not by self.log on every step (a millisecond a call).
        self._train_errors += (losses["correct"] == 0).sum().detach()
        self._train_images += len(labels)
        return losses["total"]

    def _reset_training_error(self) -> None:
        self._train_errors, self._train_images = torch.zeros((), dtype=torch.long), 0

    # Not on_train_epoch_start: a run resumed in the middle of an epoch does not start that epoch.
    def on_train_start(self) -> None:
        self._reset_training_error()

    def on_train_epoch_end(self) -> None:
        if self._train_images:
            error = 100 * self._train_errors.item() / self._train_images
            self.log("train/error_pct", error, sync_dist=True)
        self._reset_training_error()

    def _error_pct(self, batch: tuple[Tensor, Tensor], samples: int) -> Tensor:
        images, labels = batch
        probs = self.model.predict_proba(images, samples=samples)
        return 100 * (probs.argmax(-1) != labels).float().mean()

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self.log("val_error_pct", self._error_pct(batch, 1), prog_bar=True, sync_dist=True)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        samples = self.hparams.eval_samples
        self.log("test_error_pct", self._error_pct(batch, samples), sync_dist=True)
