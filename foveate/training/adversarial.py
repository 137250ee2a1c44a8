"""Training two players (a GAN, InfoGAN) by manual optimisation, with Lightning.

The model (``foveate.models.infogan``) owns both players' losses: ``discriminator_loss`` (D's)
and ``generator_loss`` (G's and Q's). This module owns the two optimisers, the order of their
steps, the logging and the measurements. Each training batch is two steps, written out in
``training_step``:

1. D: one Adam step (``discriminator_lr``) on D's loss over the batch's real images and G's
   images of this batch, held fixed;
2. G and Q: one Adam step (``generator_lr``) on their loss over the same G images, judged by the
   D just updated.

Lightning counts an optimiser step as a global step, so ``trainer.global_step`` is twice the
generator's steps; this module logs ``train/generator_steps`` beside every curve.

Nothing here uses a label but the test: a batch's labels are -1 but for the few a semi-supervised
run keeps (``foveate.data.few_labels``), which only Q's supervised term reads. The checkpoint is
chosen on ``val_mi_bound_nats``, the information bound of c1 over G's images (no labels).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar

import lightning as L
import torch
from torch import Tensor

from foveate.models import create_model
from foveate.models.infogan import (
    code_information,
    confusion_counts,
    matched_accuracy,
)
from foveate.models.interface import loss_parts
from foveate.training.module import TRAINING_MODULES, Metric, describe_metrics
from foveate.training.run_log import logger_writes_this_step

# Generated images whose mean pairwise distance is below this fraction of the real images' are
# reported as mode collapse: a GAN that draws a handful of images has a far smaller spread.
COLLAPSE_DIVERSITY = 0.5
# A bound of c1 below this fraction of H(c1) after an epoch is reported as flat: Q reads almost
# nothing of c1 from G's images (in InfoGAN it rises to most of H(c1) within a few hundred steps).
FLAT_FRACTION = 0.25
# Images of a validation batch compared pairwise for the diversity ratio (cost: DIVERSITY^2).
DIVERSITY = 256


def mean_pairwise_distance(images: Tensor) -> Tensor:
    """Mean Euclidean distance between distinct images of (N, C, H, W), N >= 2."""
    flat = images.flatten(1)
    distances = torch.cdist(flat, flat)
    n = len(flat)
    return distances.sum() / (n * (n - 1))


@TRAINING_MODULES.register("adversarial")
class AdversarialModule(L.LightningModule):
    """Trains a model of two players (``discriminator_loss``, ``generator_loss``,
    ``discriminator_parameters``, ``generator_parameters``: ``foveate.models.infogan.InfoGAN``)
    by manual optimisation.

    Args (the config's ``optim`` section):
        discriminator_lr: Adam's learning rate for D ([2]: 2e-4).
        generator_lr: Adam's learning rate for G and Q's head ([2]: 1e-3 for G; it steps Q with
            D's optimiser).
        beta1, beta2: Adam's moment decays ([2]: 0.5, 0.999, as DCGAN).

    ``model``, ``model_args`` and ``max_epochs`` are filled in by the harness. [2]: the released
    code of InfoGAN (``foveate.models.infogan``).
    """

    metrics: ClassVar[dict[str, Metric]] = {
        "mi_bound_nats": Metric(
            "max", "information bound of c1, H(c1) + E log Q(c1|G(z,c))", "nats"
        ),
        "continuous_bound_nats": Metric(None, "information bound of c2.., summed", "nats"),
        "discriminator_loss": Metric(None, "D's loss, -log D(x) - log(1 - D(G(z,c)))", "nats"),
        "generator_loss": Metric(None, "G's loss, -log D(G(z,c))", "nats"),
        "diversity_ratio": Metric(None, "spread of G's images over the real ones'"),
        "real_code_information_nats": Metric("max", "information of Q's c1 on real images", "nats"),
        "mode_collapse": Metric(None, "1 where G's images spread less than half the real ones'"),
        "flat_information": Metric(None, "1 where the bound of c1 stays under a quarter of H(c1)"),
        "code_accuracy_pct": Metric("max", "real test digits named by Q's c1, matched", "%"),
        "code_accuracy_unmatched_pct": Metric("max", "c1 = digit without matching", "%"),
    }
    monitor: ClassVar[str] = "val_mi_bound_nats"

    def __init__(
        self,
        *,
        model: str,
        model_args: dict[str, Any],
        max_epochs: int = 100,
        discriminator_lr: float = 2e-4,
        generator_lr: float = 1e-3,
        beta1: float = 0.5,
        beta2: float = 0.999,
    ) -> None:
        for name, lr in (("discriminator_lr", discriminator_lr), ("generator_lr", generator_lr)):
            if lr <= 0:
                raise ValueError(f"{name} must be positive, got {lr}")
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.model = create_model(model, **model_args)
        self._reset_counts()

    # Optimisation.
    def configure_optimizers(self):
        hp = self.hparams
        betas = (hp.beta1, hp.beta2)
        return [
            torch.optim.Adam(
                self.model.discriminator_parameters(), hp.discriminator_lr, betas=betas
            ),
            torch.optim.Adam(self.model.generator_parameters(), hp.generator_lr, betas=betas),
        ]

    def batch_losses(self, batch: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
        """Both players' losses on one batch, with this step's draws of z and c; ``total`` their
        sum (what the library's checks train; ``training_step`` steps each on its own part)."""
        images, labels = batch
        output = self.model(images, self.model.sample_noise(images))
        return loss_parts(self.model.loss(output, labels))

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        images, labels = batch
        opt_d, opt_g = self.optimizers()
        latent = self.model.sample_noise(images)
        noise, codes = self.model.split_latent(latent)
        fake = self.model.generate_with_codes(noise, codes)

        # D's step: D's optimiser holds D's parameters only; the gradients the loss leaves on Q's
        # head are cleared by the generator's zero_grad below, before its step.
        d = self.model.discriminator_loss(images, fake.detach(), codes, labels)
        opt_d.zero_grad()
        self.manual_backward(d.total)
        opt_d.step()

        # G's and Q's step, against the D just updated. Its gradients on D's parameters are
        # cleared by D's zero_grad at the next step.
        g = self.model.generator_loss(fake, codes, d.real_features, labels, d.moved_features)
        opt_g.zero_grad()
        self.manual_backward(g.total)
        opt_g.step()

        if logger_writes_this_step(self.trainer):
            parts = {
                "discriminator": d.total,
                "discriminator_adversarial": d.adversarial,
                "generator": g.total,
                "generator_adversarial": g.adversarial,
                "information": g.information,
                "supervised": g.supervised,
                "clustering": g.clustering,
                "consistency": g.consistency,
                "mi_bound_nats": g.mi_bound_nats,
                "continuous_bound_nats": g.continuous_bound_nats,
                "real_probability": d.real_probability,
                "fake_probability": d.fake_probability,
                "generator_steps": torch.tensor(float(self.global_step // 2)),  # this one included
            }
            self.log_dict(
                {f"train/{k}": v.detach() for k, v in parts.items()}, on_step=True, on_epoch=False
            )

    # Validation and test: the same measurements over G's images and the real ones.
    def _reset_counts(self) -> None:
        self._named: list[tuple[Tensor, Tensor]] = []  # Q's c1 and the digit, test images
        self._sums: dict[str, tuple[float, int]] = {}  # name -> (weighted sum, images)

    def _measure(self, batch: tuple[Tensor, Tensor], batch_idx: int, stage: str) -> None:
        images, labels = batch
        model = self.model
        # The same z and c at every validation: the bound moves only with the model.
        generator = torch.Generator(device=images.device).manual_seed(batch_idx)
        noise, codes = model.draw_latents(len(images), generator=generator)
        fake = model.generate_with_codes(noise, codes)
        d = model.discriminator_loss(images, fake, codes)
        g = model.generator_loss(fake, codes)
        real = model.Q(d.real_features).categorical.probs  # (B, K)
        measured = {
            "mi_bound_nats": g.mi_bound_nats,
            "continuous_bound_nats": g.continuous_bound_nats,
            "discriminator_loss": d.adversarial,
            "generator_loss": g.adversarial,
            "real_code_information_nats": code_information(real),
        }
        self._add("mi_bound_nats", float(g.mi_bound_nats), len(images))
        if len(images) >= 2:  # a spread needs two images
            spread = mean_pairwise_distance(fake[:DIVERSITY]) / mean_pairwise_distance(
                images[:DIVERSITY]
            ).clamp(min=1e-8)
            measured["diversity_ratio"] = spread
            self._add("diversity_ratio", float(spread), len(images))
        for name, value in measured.items():
            self.log(
                f"{stage}_{name}", value, batch_size=len(images), prog_bar=name == "mi_bound_nats"
            )
        if stage == "test":
            self._named.append((real.argmax(-1), labels))

    def _add(self, name: str, value: float, count: int) -> None:
        """Add a batch's value, weighted by its images, to the epoch's sums for ``_diagnose``."""
        total, weight = self._sums.get(name, (0.0, 0))
        self._sums[name] = (total + value * count, weight + count)

    def _epoch_mean(self, name: str) -> float | None:
        total, weight = self._sums.get(name, (0.0, 0))
        return total / weight if weight else None

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._measure(batch, batch_idx, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._measure(batch, batch_idx, "test")

    def on_validation_epoch_start(self) -> None:
        self._reset_counts()

    on_test_epoch_start = on_validation_epoch_start

    def _diagnose(self, stage: str) -> None:
        """Log, and warn of, mode collapse and a flat information bound."""
        bound, diversity = self._epoch_mean("mi_bound_nats"), self._epoch_mean("diversity_ratio")
        if bound is None or diversity is None:
            return
        collapsed = diversity < COLLAPSE_DIVERSITY
        flat = bound < FLAT_FRACTION * math.log(self.model.categories)
        self.log(f"{stage}_mode_collapse", float(collapsed))
        self.log(f"{stage}_flat_information", float(flat))
        if self.trainer.sanity_checking:
            return
        # A test's trainer is a fresh one, its step 0 whatever the checkpoint's: name no step.
        where = (
            stage
            if self.trainer.testing
            else f"{stage}, epoch {self.current_epoch}, generator step {self.global_step // 2}"
        )
        if collapsed:
            warnings.warn(
                f"mode collapse ({where}): G's images spread {diversity:.2f} times as far apart "
                f"as the real ones (below {COLLAPSE_DIVERSITY})",
                stacklevel=1,
            )
        if flat:
            warnings.warn(
                f"flat information bound ({where}): L_I of c1 is {bound:.3f} nats, under "
                f"{FLAT_FRACTION:.0%} of H(c1) = {math.log(self.model.categories):.3f}: Q reads "
                "little of c1 from G's images",
                stacklevel=1,
            )

    def on_validation_epoch_end(self) -> None:
        self._diagnose("val")

    def on_test_epoch_end(self) -> None:
        self._diagnose("test")
        if not self._named:
            return
        codes, labels = (torch.cat(parts) for parts in zip(*self._named, strict=True))
        classes = int(labels.max()) + 1
        counts = confusion_counts(codes, labels, self.model.categories, classes)
        accuracy, _ = matched_accuracy(counts)
        # Code value k read as digit k: what task-specific codes learn from a few labels.
        unmatched = 100.0 * float((codes == labels).float().mean())
        self.log("test_code_accuracy_pct", accuracy)
        self.log("test_code_accuracy_unmatched_pct", unmatched)

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        """'c1 names A% of test digits once matched (B% unmatched); information bound of c1 ...
        nats, ...; best validation bound ... nats'."""
        line = ""
        if "test_code_accuracy_pct" in metrics:
            line = (
                f"c1 names {metrics['test_code_accuracy_pct']:.2f}% of test digits once matched "
                f"({metrics.get('test_code_accuracy_unmatched_pct', float('nan')):.2f}% "
                "unmatched); "
            )
        shown = ("mi_bound_nats", "real_code_information_nats", "diversity_ratio")
        line += describe_metrics({k: cls.metrics[k] for k in shown}, metrics)
        key = f"best_{cls.monitor}"
        if key in metrics:
            line += f"; best validation bound {metrics[key]:.3f} nats"
        return line
