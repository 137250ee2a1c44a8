"""Stop a run once a validation metric reaches a target: a problem solved needs no more steps,
and how many steps it took is the figure (Raffel and Ellis's runs stop when the problem is
solved, and report how long that took)."""

from __future__ import annotations

from typing import Any

import lightning as L

from foveate.training.schema import ConfigError


class StopAtTarget(L.Callback):
    """Ends training at the first validation where ``metric`` reaches ``value``: at least it
    when ``sense`` is 'max', at most it when 'min'. ``reached_at`` is then the number of training
    steps taken (None until it is reached); it is kept in checkpoints, so a resumed run that had
    reached its target still knows when."""

    def __init__(self, metric: str, value: float, sense: str) -> None:
        if sense not in ("min", "max"):
            raise ValueError(f"sense must be 'min' or 'max', got {sense!r}")
        self.metric, self.value, self.sense = metric, float(value), sense
        self.reached_at: int | None = None

    def reached(self, current: float) -> bool:
        """Whether ``current`` reaches the target."""
        return current >= self.value if self.sense == "max" else current <= self.value

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.reached_at is not None:
            return
        if self.metric not in trainer.callback_metrics:
            logged = ", ".join(k for k in trainer.callback_metrics if k.startswith("val_"))
            raise ConfigError(
                f"trainer.stop_metric: validation logs no {self.metric!r} (it logs {logged})"
            )
        if self.reached(float(trainer.callback_metrics[self.metric])):
            self.reached_at = trainer.global_step
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"reached_at": self.reached_at}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.reached_at = state_dict.get("reached_at")


def stop_at_target(module: L.LightningModule, metric: str | None, value: float) -> StopAtTarget:
    """The callback for ``trainer.stop_at``/``stop_metric`` on ``module``: the metric is one the
    module declares (``val_`` + its name), with a sense; None watches the module's monitor."""
    metric = metric or module.monitor
    declared = (
        module.metrics.get(metric.removeprefix("val_")) if metric.startswith("val_") else None
    )
    if declared is None or declared.sense is None:
        choices = ", ".join(f"val_{k}" for k, m in module.metrics.items() if m.sense is not None)
        raise ConfigError(f"trainer.stop_metric must be one of {choices}, got {metric!r}")
    return StopAtTarget(metric, value, declared.sense)
