"""Stop a run whose loss is no longer a number, before the step that would spoil its weights."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch import Tensor


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message (one line) says at which step, and which
    checkpoint still holds the last good weights."""


class StopOnNonFiniteLoss(L.Callback):
    """Raise ``TrainingDiverged`` when a loss about to be backpropagated is NaN or infinite.

    Checked before the backward pass (automatic and manual optimisation alike), so the weights
    in memory are those of the last good step and no checkpoint is written after it: the
    ``last_checkpoint`` on disk is left as it was.
    """

    def __init__(self, last_checkpoint: str | Path) -> None:
        self.last_checkpoint = Path(last_checkpoint)

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule, loss: Tensor):
        # One host sync per step; a millisecond's fraction beside a training step.
        if bool(torch.isfinite(loss.detach()).all()):
            return
        value = loss.detach().float().flatten()[0].item()
        if self.last_checkpoint.is_file():
            state = torch.load(self.last_checkpoint, map_location="cpu", weights_only=False)
            kept = f"{self.last_checkpoint} (after step {state.get('global_step', '?')}) is intact"
        else:
            kept = "no checkpoint had been written yet"
        raise TrainingDiverged(
            f"training diverged: the loss became {value} at step {trainer.global_step + 1} "
            f"(epoch {trainer.current_epoch}, batch {trainer.fit_loop.batch_idx}); {kept}; "
            "try a lower --lr or --gradient-clip-val"
        )
