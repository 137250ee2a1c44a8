"""Training a latent-variable image model (DRAW) by its variational bound, with Lightning.

The model is a plain ``nn.Module`` from the registry that owns its loss (``model.loss``, the
negative ELBO in nats per image) and its importance-weighted likelihood estimate
(``model.importance_weighted_nll``); this module owns the optimiser, the schedule and the logging.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from foveate.training.module import TRAINING_MODULES, Metered, Metric, TrainingModule


@TRAINING_MODULES.register("generative")
class GenerativeModule(TrainingModule):
    """Trains a latent-variable model by its bound (the negative ELBO, nats per image).

    Takes ``TrainingModule``'s arguments; ``eval_samples`` is K, the posterior samples of the
    importance-weighted test likelihood. Batches are (images, labels); labels are not used.
    """

    metrics = {
        "nll_nats": Metric("min", "NLL bound (the negative ELBO)", "nats"),
        # A KL near zero means the latents carry nothing (posterior collapse): no better or worse.
        "kl_nats": Metric(None, "of which KL", "nats"),
        "reconstruction_nats": Metric("min", "of which reconstruction", "nats"),
        "nll_iw_nats": Metric("min", "importance-weighted NLL (K = eval_samples)", "nats"),
    }
    monitor = "val_nll_nats"

    def losses(self, batch: tuple[Tensor, Tensor], *draws: Tensor) -> dict[str, Tensor]:
        images, _ = batch
        return self._as_dict(self.model.loss(self.model(images, *draws), images))

    def batch_metrics(self, batch: tuple[Tensor, Tensor], stage: str) -> dict[str, Metered]:
        images, _ = batch
        loss = self.model.loss(self.model(images), images)
        metrics = {"nll_nats": (loss.total, len(images))}
        if stage == "test":
            # The bound's two parts: a KL near zero means the latents carry nothing (posterior
            # collapse).
            metrics["kl_nats"] = (loss.kl, len(images))
            metrics["reconstruction_nats"] = (loss.reconstruction, len(images))
            samples = self.hparams.eval_samples
            if samples > 1:
                nll = self.model.importance_weighted_nll(images, samples=samples).mean()
                metrics["nll_iw_nats"] = (nll, len(images))
        return metrics

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        line = f"test NLL bound {metrics['test_nll_nats']:.2f} nats ({metrics['test_images']} test images)"
        if "test_kl_nats" in metrics:
            line += f" of which KL {metrics['test_kl_nats']:.2f}"
        if "test_nll_iw_nats" in metrics:
            line += (
                f", importance-weighted (K={metrics['eval_samples']}) "
                f"{metrics['test_nll_iw_nats']:.2f} nats"
            )
        return line + cls.best_validation(metrics, "bound")
