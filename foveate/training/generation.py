"""Training a latent-variable image model (DRAW) by its variational bound, with Lightning.

The model is a plain ``nn.Module`` from the registry that owns its loss (``model.loss``, the
negative ELBO in nats per image) and its importance-weighted likelihood estimate
(``model.importance_weighted_nll``); this module owns the optimiser, the schedule and the logging.
"""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor

from foveate.training.module import TrainingModule


class GenerativeModule(TrainingModule):
    """Args:
    model: registered model name, e.g. 'draw'.
    model_args: keyword arguments of that model.
    lr: Adam's learning rate.
    beta1: Adam's first-moment decay (0.5 is common for DRAW).
    lr_schedule: 'cosine' anneals to ``lr * final_lr_fraction`` over the run; 'constant' does not.
    final_lr_fraction: where the cosine schedule ends.
    max_epochs: length of the schedule.
    weight_decay: Adam's L2 penalty.
    eval_samples: K, posterior samples of the importance-weighted test likelihood (1: the
        bound only).
    compile: run the training step's forward and loss through ``torch.compile``.
    """

    monitor = "val_nll_nats"  # the bound on validation images chooses the best checkpoint

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
            raise ValueError(f"eval_samples (K) must be at least 1, got {eval_samples}")
        super().__init__(model=model, model_args=model_args, compile=compile)
        self.save_hyperparameters()

    def _losses(self, images: Tensor, noise: Tensor) -> dict[str, Tensor]:
        return self._as_dict(self.model.loss(self.model(images, noise), images))

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        images, _ = batch
        # Drawn outside the (possibly compiled) loss, whose backward might otherwise redraw them.
        losses = self._train_losses(images, self.model.sample_noise(images))
        self._log_training_losses(losses)
        return losses["total"]

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        images, _ = batch
        bound = self.model.loss(self.model(images), images).total
        self.log("val_nll_nats", bound, prog_bar=True, sync_dist=True)

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        images, _ = batch
        loss = self.model.loss(self.model(images), images)
        self.log("test_nll_nats", loss.total, sync_dist=True)
        # The bound's two parts: a KL near zero means the latents carry nothing (posterior collapse).
        self.log("test_kl_nats", loss.kl, sync_dist=True)
        self.log("test_reconstruction_nats", loss.reconstruction, sync_dist=True)
        samples = self.hparams.eval_samples
        if samples > 1:
            nll = self.model.importance_weighted_nll(images, samples=samples).mean()
            self.log("test_nll_iw_nats", nll, sync_dist=True)
