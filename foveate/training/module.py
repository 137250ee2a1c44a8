"""The extension point of training: a registry of LightningModules, the contract each keeps, and
the base most of them share.

A model's registry entry names its training module (``@register_model(..., training="name")``);
a module registers under that name with ``@TRAINING_MODULES.register("name")``. What the harness
(``fit.py``, the command line, the benchmark runner, the per-model checks of
``foveate.training.checks``) asks of a training module, and nothing more (``TrainingContract``):

- a ``LightningModule`` whose ``__init__`` takes ``model`` (the registered name), ``model_args``
  and ``max_epochs`` besides its own typed keyword arguments, which are the config's ``optim``
  section;
- ``metrics``, a class attribute: every metric it logs, by bare name (``error_pct``), each a
  ``Metric`` with its sense ('min': lower is better, 'max': higher is) and what it measures. A
  metric is logged as ``val_<name>`` by ``validation_step`` and as ``test_<name>`` by
  ``test_step`` (either or both), one name for one quantity in both; nothing else is logged
  under ``val_`` or ``test_``;
- ``monitor``, a class attribute: ``"val_" + name`` of a declared metric with a sense, which
  validation logs and which chooses the best checkpoint, kept lowest or highest by that sense
  (and recorded as ``best_<monitor>``). ``check_training_module`` refuses, in one line, a
  module that declares otherwise, before anything is built;
- ``batch_losses(batch) -> dict[str, Tensor]``: the named loss parts that one training step on
  ``batch`` minimises, ``total`` the scalar whose gradient reaches every trained parameter (two
  players trained by manual optimisation, a GAN's: the sum of their losses), drawing whatever
  random numbers the step draws, compiled where the module was built with ``compile=True``.
  The checks train and compare modules through it alone;
- ``configure_optimizers`` (Lightning's): any optimisers, parameter groups, schedules, or manual
  optimisation (``self.automatic_optimization = False``);
- ``describe(metrics)``, a classmethod: the one line printed for people from a run's metrics
  (the ``test_...`` ones, ``test_images``, ``eval_samples``, ``best_<monitor>``). The harness
  records whatever was logged.

``TrainingModule`` is a convenient base for models trained by one loss and Adam: it implements
``batch_losses`` from its subclass's ``losses`` and ``draw_noise``, and ``validation_step`` and
``test_step`` from its ``batch_metrics``, which are not part of the contract. A module of
another kind (two players, an agent) subclasses ``L.LightningModule`` or overrides
``configure_optimizers``, ``training_step`` and ``batch_losses`` (and ``validation_step`` and
``test_step``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import lightning as L
import torch
from torch import Tensor

from foveate.models import create_model
from foveate.models.interface import FollowsProgress, Stochastic, loss_parts
from foveate.registry import Registry
from foveate.training.optim import adam_with_schedule
from foveate.training.run_log import logger_writes_this_step

TRAINING_MODULES: Registry[type[L.LightningModule]] = Registry("training module")

# The checkpoint's key for the wall time trained so far (``schedule_minutes``'s clock).
SCHEDULE_CLOCK = "foveate_trained_seconds"

# A metric of one batch and how many cases it averages (its weight in the epoch's mean).
Metered = tuple[Tensor, int]


@dataclass(frozen=True)
class Metric:
    """A quantity a training module reports, logged as ``val_<name>`` and ``test_<name>``.

    sense: 'min' when lower is better, 'max' when higher is; None for a figure that is neither
        (a count of what was tested, a part of a bound whose size is a diagnosis): it cannot be
        monitored.
    description: what it measures, a short phrase for people ('rows read right').
    unit: '%', 'nats', 'px', ... ('' for a plain number).
    """

    sense: Literal["min", "max"] | None
    description: str
    unit: str = ""

    def __post_init__(self) -> None:
        if self.sense not in ("min", "max", None):
            raise ValueError(f"a metric's sense is 'min', 'max' or None, got {self.sense!r}")

    def format(self, value: float, spec: str = ".4g") -> str:
        """``value`` in this metric's unit, written by format ``spec``: '1.23%', '88.4 nats'."""
        number = format(value, spec)
        return f"{number}{self.unit}" if self.unit in ("", "%") else f"{number} {self.unit}"


class TrainingContract(Protocol):
    """What the harness asks of a training module besides Lightning's (see this module's
    docstring for each member)."""

    metrics: ClassVar[dict[str, Metric]]
    monitor: ClassVar[str]

    def batch_losses(self, batch: Any) -> dict[str, Tensor]: ...

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str: ...


class ContractError(ValueError):
    """A training module that does not keep the contract: one line naming it and what is wrong
    (a ValueError, so that the command line prints it without a traceback)."""


def check_training_module(cls: type) -> Metric:
    """The metric ``cls`` monitors, once its declarations are checked: ``metrics`` maps bare
    names to ``Metric``s, ``monitor`` is ``"val_"`` + one of them that has a sense (and agrees
    with a ``monitor_mode`` it may still declare), and ``batch_losses`` and ``describe`` exist.

    Raises ContractError (one line) otherwise.
    """
    where = f"training module {cls.__name__}"
    metrics = getattr(cls, "metrics", None)
    if (
        not isinstance(metrics, dict)
        or not metrics
        or not all(isinstance(m, Metric) for m in metrics.values())
    ):
        raise ContractError(
            f"{where}: its class attribute `metrics` must map each metric's bare name to a "
            "foveate.training.module.Metric"
        )
    monitor = getattr(cls, "monitor", None)
    name = monitor[len("val_") :] if isinstance(monitor, str) else None
    if not isinstance(monitor, str) or not monitor.startswith("val_") or name not in metrics:
        raise ContractError(
            f"{where}: monitor {monitor!r} is not 'val_' + one of its metrics "
            f"({', '.join(metrics)})"
        )
    metric = metrics[name]
    if metric.sense is None:
        raise ContractError(f"{where}: it monitors {monitor}, a metric with no sense")
    mode = getattr(cls, "monitor_mode", metric.sense)
    if mode != metric.sense:
        raise ContractError(
            f"{where}: monitor_mode {mode!r} disagrees with the sense of {name} "
            f"({metric.sense!r}); leave monitor_mode out, the metric says it"
        )
    for method in ("batch_losses", "describe"):
        if not callable(getattr(cls, method, None)):
            raise ContractError(f"{where} has no {method}() (foveate.training.module)")
    return metric


def describe_metrics(declared: dict[str, Metric], values: dict[str, Any]) -> str:
    """The default one line: each declared metric that was tested, in its words and unit."""
    return ", ".join(
        f"{metric.description} {metric.format(values[f'test_{name}'])}"
        for name, metric in declared.items()
        if isinstance(values.get(f"test_{name}"), float | int)
    )


class TrainingModule(L.LightningModule):
    """A model from the registry trained by the loss it defines, with Adam and a schedule.

    Its arguments are the optimiser section of a run's config, saved as the checkpoint's
    hyperparameters. A subclass declares ``metrics`` and ``monitor``, defines ``losses`` (the
    loss parts of one batch given its random draws) and ``batch_metrics`` (the metrics of one
    batch of validation or test, each with how many cases it averages), and may override
    ``describe``. ``batch_losses`` draws the noise (``draw_noise``) and runs ``losses``, compiled
    if asked; the training step minimises what it returns. ``validation_step`` and ``test_step``
    log what ``batch_metrics`` returns as ``val_<name>`` and ``test_<name>``, the monitor (and
    ``progress_bar``'s) on the progress bar while validating.

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
        schedule_minutes: size the schedules by training's wall time instead of its epochs: the
            cosine runs its course, and a model that follows training's progress (an annealed
            exploration) reaches its end, after this many minutes of training, validation
            included, counted over every session of a resumed run. Set ``trainer.max_minutes``
            to the same budget (and ``max_epochs`` past what it allows): the schedule then ends
            with the budget whatever the machine's speed. None: sized by ``max_epochs``.
    """

    metrics: ClassVar[dict[str, Metric]]
    monitor: ClassVar[str]
    # Metrics (bare names) shown on the progress bar while validating, besides the monitor.
    progress_bar: ClassVar[tuple[str, ...]] = ()

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
        schedule_minutes: float | None = None,
    ) -> None:
        if schedule_minutes is not None and not 0 < schedule_minutes < math.inf:
            raise ValueError(f"schedule_minutes must be positive, got {schedule_minutes}")
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
        # Static shapes: every module's ``losses`` shares one code object, so after one model
        # compiled at one batch size the next is traced with a symbolic batch, and the affine
        # grid's backward (AIR's and AIR3D's glimpses) refuses symbolic sizes. A new shape
        # (an epoch's last, smaller batch) is compiled once more instead.
        self._train_losses = torch.compile(self.losses, dynamic=False) if compile else self.losses
        # schedule_minutes' clock: seconds trained in earlier sessions, and this session's start
        self._seconds_before = 0.0
        self._clock_started: float | None = None

    def on_train_start(self) -> None:
        self._clock_started = time.monotonic()

    def trained_seconds(self) -> float:
        """Training's wall time so far, validation included, over every session of the run."""
        now = time.monotonic() - self._clock_started if self._clock_started is not None else 0.0
        return self._seconds_before + now

    def training_progress(self) -> float:
        """The share of training done, in [0, 1]: of ``schedule_minutes`` of wall time where it
        is set, else of the run's steps (``max_epochs`` of them)."""
        minutes = self.hparams.schedule_minutes
        if minutes is not None:
            return min(1.0, self.trained_seconds() / (60 * minutes))
        steps = max(1, self.trainer.estimated_stepping_batches)
        return min(1.0, self.global_step / steps)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        if self._follows_progress:
            self.model.set_progress(self.training_progress())

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[SCHEDULE_CLOCK] = self.trained_seconds()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._seconds_before = checkpoint.get(SCHEDULE_CLOCK, 0.0)

    def batch_losses(self, batch: Any) -> dict[str, Tensor]:
        """The named loss parts one training step on ``batch`` minimises, ``total`` the scalar
        to minimise: this batch's random draws, then ``losses``, compiled if asked."""
        return self._train_losses(batch, *self.draw_noise(batch[0]))

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        losses = self.batch_losses(batch)
        self._log_training_losses(losses)
        return losses["total"]

    def losses(self, batch: Any, *draws: Tensor) -> dict[str, Tensor]:
        """The loss parts of one batch, ``total`` the one to minimise; ``draws`` are the model's
        random draws for it (``draw_noise``)."""
        raise NotImplementedError

    def draw_noise(self, images: Tensor) -> tuple[Tensor, ...]:
        """The random draws of one forward pass, made outside a (possibly compiled) loss: a
        compiled backward pass may recompute random operations, which would redraw them."""
        return (self.model.sample_noise(images),) if self._stochastic else ()

    def batch_metrics(self, batch: Any, stage: Literal["val", "test"]) -> dict[str, Metered]:
        """Each metric of one batch of validation or test (``stage``), by bare name, with how
        many cases it averages (images, rows, steps): its weight in the epoch's mean."""
        raise NotImplementedError

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._log_metrics(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._log_metrics(batch, "test")

    def _log_metrics(self, batch: Any, stage: Literal["val", "test"]) -> None:
        for name, (value, count) in self.batch_metrics(batch, stage).items():
            key = f"{stage}_{name}"
            shown = key == self.monitor or (stage == "val" and name in self.progress_bar)
            self.log(key, value, prog_bar=shown, sync_dist=True, batch_size=count)

    @staticmethod
    def _as_dict(loss: Any) -> dict[str, Tensor]:
        return loss_parts(loss)

    def logger_writes_this_step(self) -> bool:
        """Whether Lightning writes what this training step logs (``run_log.logger_writes_this_step``)."""
        return logger_writes_this_step(self.trainer)

    def _log_training_losses(self, losses: dict[str, Tensor]) -> None:
        # Lightning's self.log costs about a millisecond a call, a third of a compiled RAM step:
        # log only on the steps the logger writes.
        if self.logger_writes_this_step():
            parts = {f"train/{k}": v for k, v in losses.items() if v.dim() == 0}
            self.log_dict(parts, on_step=True, on_epoch=False)

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        """One line of test metrics for people: each declared metric tested, in its words
        (override to say more)."""
        return describe_metrics(cls.metrics, metrics)

    @classmethod
    def best_validation(cls, metrics: dict[str, Any], words: str, spec: str = ".2f") -> str:
        """The end of ``describe``'s line for a run that recorded the best value of its monitor
        (``best_<monitor>``): ', best validation <words> <value in its unit>'; else ''."""
        key = f"best_{cls.monitor}"
        if key not in metrics:
            return ""
        metric = cls.metrics[cls.monitor.removeprefix("val_")]
        return f", best validation {words} {metric.format(metrics[key], spec)}"

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
            progress=self.training_progress if hp.schedule_minutes is not None else None,
            # Lightning refuses to clip the gradients of a fused optimiser under mixed precision,
            # and the fused kernel is CPU/CUDA only.
            fused=self.trainer.precision == "32-true" and self.device.type in ("cpu", "cuda"),
        )
