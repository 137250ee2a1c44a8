"""What foveate's Lightning modules share: a model from the registry, its training loss (compiled
if asked), and Adam with its learning-rate schedule."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import lightning as L
import torch
from torch import Tensor

from foveate.models import create_model
from foveate.training.optim import adam_with_schedule


class TrainingModule(L.LightningModule):
    """The base of ``ClassifierModule`` and ``GenerativeModule``: their shared arguments, which
    are the optimiser section of a run's config, saved as the checkpoint's hyperparameters.

    A subclass names the validation metric that chooses the best checkpoint (``monitor``) and
    defines ``_losses``: the model's loss terms for one batch, as a dict of tensors. Its training
    step calls ``self._train_losses``, which is ``_losses``, compiled if asked.

    Args:
        model: registered model name, e.g. 'ram' or 'draw'.
        model_args: keyword arguments of that model.
        lr: Adam's learning rate.
        beta1: Adam's first-moment decay (0.5 is common for DRAW).
        lr_schedule: 'cosine' anneals to ``lr * final_lr_fraction`` over the run; 'constant'
            does not.
        final_lr_fraction: where the cosine schedule ends.
        max_epochs: length of the schedule.
        weight_decay: Adam's L2 penalty.
        eval_samples: samples averaged per test image: for a classifier, M glimpse paths (its
            validation always uses M=1); for a generative model, K posterior samples of the
            importance-weighted likelihood (1: the bound only).
        compile: run the training step's forward and loss through ``torch.compile`` (about twice
            as fast for RAM on CPU, after half a minute of compilation).
    """

    monitor: str  # the validation metric that chooses the best checkpoint (lower is better)

    def __init__(
        self,
        *,
        model: str,
        model_args: dict[str, Any],
        lr: float = 1e-3,
        beta1: float = 0.9,
        lr_schedule: Literal["cosine", "constant"] = "cosine",
        final_lr_fraction: float = 0.01,
        max_epochs: int = 100,
        weight_decay: float = 0.0,
        eval_samples: int = 1,
        compile: bool = False,
    ) -> None:
        if eval_samples < 1:
            raise ValueError(f"eval_samples must be at least 1, got {eval_samples}")
        super().__init__()
        self.save_hyperparameters()
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
