"""Training a latent-variable image model (DRAW) by its variational bound, with Lightning.

The model is a plain ``nn.Module`` from the registry that owns its loss (``model.loss``, the
negative ELBO in nats per image) and its importance-weighted likelihood estimate
(``model.importance_weighted_nll``); this module owns the optimiser, the schedule and the logging.
"""

from __future__ import annotations

from torch import Tensor

from foveate.training.module import TrainingModule


class GenerativeModule(TrainingModule):
    """Trains a latent-variable model by its bound (the negative ELBO, nats per image).

    Takes ``TrainingModule``'s arguments; ``eval_samples`` is K, the posterior samples of the
    importance-weighted test likelihood.
    """

    monitor = "val_nll_nats"

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
