"""The extension point of training: a registry of LightningModules, and the base most of them share.

A model's registry entry names its training module (``@register_model(..., training="name")``);
a module registers under that name with ``@TRAINING_MODULES.register("name")``. What the harness
(``fit.py``, the command line, the benchmark runner) asks of a training module, and nothing
more:

- its ``__init__`` takes ``model`` (the registered name), ``model_args`` and ``max_epochs``
  besides its own typed keyword arguments, which are the config's ``optim`` section;
- ``monitor`` and ``monitor_mode``: the validation metric that chooses the best checkpoint, and
  whether lower ('min') or higher ('max') is better;
- ``configure_optimizers`` (Lightning's): any optimisers, parameter groups, schedules, or
  manual optimisation (``self.automatic_optimization = False``);
- ``test_step`` logs the test metrics, each named ``test_...``; ``describe(metrics)`` turns
  them into one line for people. The harness records and prints whatever was logged.

``TrainingModule`` is a convenient base for models trained by one loss and Adam; a module of
another kind (two players, parameter groups with their own learning rates, an agent) subclasses
``L.LightningModule`` or overrides ``configure_optimizers`` and ``training_step``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import lightning as L
import torch
from torch import Tensor

from foveate.models import create_model
from foveate.models.interface import FollowsProgress, Stochastic, loss_parts
from foveate.registry import Registry
from foveate.training.optim import adam_with_schedule

TRAINING_MODULES: Registry[type[L.LightningModule]] = Registry("training module")


class TrainingModule(L.LightningModule):
    """A model from the registry trained by the loss it defines, with Adam and a schedule.

    Its arguments are the optimiser section of a run's config, saved as the checkpoint's
    hyperparameters. A subclass names ``monitor`` (and ``monitor_mode``), defines ``losses``
    (the loss parts of one batch, the training step's work) and ``test_step``, and may override
    ``describe``. The training step runs ``losses``, compiled if asked.

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

    monitor: ClassVar[str]
    monitor_mode: ClassVar[Literal["min", "max"]] = "min"

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
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        super().__init__()
        self.save_hyperparameters()
        self.model = create_model(model, **model_args)
        # Asked once: a runtime Protocol check costs microseconds, every training step.
        self._stochastic = isinstance(self.model, Stochastic)
        self._follows_progress = isinstance(self.model, FollowsProgress)
        self._train_losses = torch.compile(self.losses) if compile else self.losses

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self._follows_progress:
            steps = max(1, self.trainer.estimated_stepping_batches)
            self.model.set_progress(min(1.0, self.global_step / steps))

    def losses(self, batch: Any, *draws: Tensor) -> dict[str, Tensor]:
        """The loss parts of one batch, ``total`` the one to minimise; ``draws`` are the model's
        random draws for it (``draw_noise``)."""
        raise NotImplementedError

    def draw_noise(self, images: Tensor) -> tuple[Tensor, ...]:
        """The random draws of one forward pass, made outside a (possibly compiled) loss: a
        compiled backward pass may recompute random operations, which would redraw them."""
        return (self.model.sample_noise(images),) if self._stochastic else ()

    @staticmethod
    def _as_dict(loss: Any) -> dict[str, Tensor]:
        return loss_parts(loss)

    def _log_training_losses(self, losses: dict[str, Tensor]) -> None:
        # Lightning's self.log costs about a millisecond a call, a third of a compiled RAM step:
        # log only on the steps the logger writes.
        if self.global_step % self.trainer.log_every_n_steps == 0:
            parts = {f"train/{k}": v for k, v in losses.items() if v.dim() == 0}
            self.log_dict(parts, on_step=True, on_epoch=False)

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        """One line of test metrics for people (override to say what they mean)."""
        shown = {k: v for k, v in metrics.items() if k.startswith(("test_", "best_"))}
        return ", ".join(f"{k} {v:.4g}" for k, v in shown.items() if isinstance(v, float | int))

    def parameter_groups(self) -> Any:
        """What Adam optimises: the parameters, or groups of them with their own settings (a
        subclass's override: AIR's baselines at their own learning rate)."""
        return self.parameters()

    def configure_optimizers(self):
        hp = self.hparams
        return adam_with_schedule(
            self.parameter_groups(),
            lr=hp.lr,
            betas=(hp.beta1, 0.999),
            weight_decay=hp.weight_decay,
            schedule=hp.lr_schedule,
            final_lr_fraction=hp.final_lr_fraction,
            epochs=hp.max_epochs,
            # Lightning refuses to clip the gradients of a fused optimiser under mixed precision,
            # and the fused kernel is CPU/CUDA only.
            fused=self.trainer.precision == "32-true" and self.device.type in ("cpu", "cuda"),
        )
