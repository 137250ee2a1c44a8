"""What foveate's Lightning modules share: a model from the registry, its training loss (compiled
if asked), and Adam with its learning-rate schedule."""

from __future__ import annotations

import dataclasses
from typing import Any

import lightning as L
import torch
from torch import Tensor

from foveate.models import create_model
from foveate.training.optim import adam_with_schedule


class TrainingModule(L.LightningModule):
    """The base of ``ClassifierModule`` and ``GenerativeModule``.

    A subclass calls ``save_hyperparameters()`` after this ``__init__``, with lr, beta1,
    weight_decay, lr_schedule, final_lr_fraction and max_epochs among its arguments, and defines
    ``_losses``: the model's loss terms for one batch, as a dict of tensors. Its training step
    calls ``self._train_losses``, which is ``_losses``, compiled if asked.

    Args:
        model: registered model name, e.g. 'ram' or 'draw'.
        model_args: keyword arguments of that model.
        compile: run the training step's forward and loss through ``torch.compile``.
    """

    def __init__(self, *, model: str, model_args: dict[str, Any], compile: bool) -> None:
        super().__init__()
        self.model = create_model(model, **model_args)
        self._train_losses = torch.compile(self._losses) if compile else self._losses

    def _losses(self, *batch: Tensor) -> dict[str, Tensor]:
        raise NotImplementedError

    @staticmethod
    def _as_dict(loss: Any) -> dict[str, Tensor]:
        """A model's loss dataclass as a dict (a shape ``torch.compile`` passes through)."""
        return {f.name: getattr(loss, f.name) for f in dataclasses.fields(loss)}

    def _log_training_losses(self, losses: dict[str, Tensor]) -> None:
        # Lightning's self.log costs about a millisecond a call, a third of a compiled RAM step:
        # log only on the steps the logger writes.
        if self.global_step % self.trainer.log_every_n_steps == 0:
            parts = {f"train/{k}": v for k, v in losses.items() if v.dim() == 0}
            self.log_dict(parts, on_step=True, on_epoch=False)

    def configure_optimizers(self):
        hp = self.hparams
        return adam_with_schedule(
            self.parameters(),
            lr=hp.lr,
            betas=(hp.beta1, 0.999),
            weight_decay=hp.weight_decay,
            schedule=hp.lr_schedule,
            final_lr_fraction=hp.final_lr_fraction,
            epochs=hp.max_epochs,
            # Lightning refuses to clip the gradients of a fused optimiser under mixed precision.
            fused=self.trainer.precision == "32-true",
        )
