"""Stop a run whose loss (or a distribution's parameter, or its weights) is no longer a number,
before the step that would spoil its weights or its last checkpoint."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor

# What torch.distributions says when it validates a parameter or a value (validate_args, on by
# default): a NaN location of a Normal, a negative scale, NaN logits of a Categorical.
_INVALID = re.compile(
    r"Expected (?:parameter (?P<param>\w+)|value argument) .*?of (?:the )?distribution "
    r"(?P<dist>\w+)"
)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message (one line) says at which step, and which
    checkpoint still holds the last good weights."""


def diverged(
    trainer: L.Trainer, what: str, last_checkpoint: Path, *, step: int | None = None
) -> TrainingDiverged:
    """The error of a run in which ``what`` happened ('the loss became nan') at ``step`` (None:
    the one under way), naming it and the last checkpoint on disk (and the step it holds)."""
    step = trainer.global_step + 1 if step is None else step
    if last_checkpoint.is_file():
        state = torch.load(last_checkpoint, map_location="cpu", weights_only=False)
        kept = f"{last_checkpoint} (after step {state.get('global_step', '?')}) is intact"
    else:
        kept = "no checkpoint had been written yet"
    return TrainingDiverged(
        f"training diverged: {what} at step {step} "
        f"(epoch {trainer.current_epoch}, batch {trainer.fit_loop.batch_idx}); {kept}; "
        "try a lower --lr or --gradient-clip-val"
    )


def invalid_distribution(error: BaseException) -> str | None:
    """What a torch.distributions validation error says went wrong, in a few words ("a Normal's
    loc was NaN or out of its range"), or None for any other error."""
    found = _INVALID.search(str(error)) if isinstance(error, ValueError) else None
    if found is None:
        return None
    what = found["param"] or "sample"
    return f"a {found['dist']}'s {what} was NaN or out of its range"


@contextmanager
def stop_on_invalid_distribution(trainer: L.Trainer, last_checkpoint: Path) -> Iterator[None]:
    """Turn a torch.distributions validation error raised while ``trainer`` fits (weights gone
    NaN give a Normal a NaN loc before any loss is computed) into ``TrainingDiverged``, naming
    the step; other errors pass unchanged."""
    try:
        yield
    except ValueError as error:
        what = invalid_distribution(error)
        if what is None:
            raise
        raise diverged(trainer, what, last_checkpoint) from error


class StopOnNonFiniteLoss(L.Callback):
    """Raise ``TrainingDiverged`` when a loss about to be backpropagated is NaN or infinite, or
    when a checkpoint is about to be written of weights that are no longer all finite.

    The loss is checked before the backward pass (automatic and manual optimisation alike), so
    the weights in memory are those of the last good step and no checkpoint is written after
    it; a finite loss whose gradient overflowed spoils the weights without a NaN loss, and the
    check before each save keeps them off disk: the ``last_checkpoint`` on disk is left as it
    was. (Invalid distribution parameters are ``stop_on_invalid_distribution``'s.)
    """

    def __init__(self, last_checkpoint: str | Path) -> None:
        self.last_checkpoint = Path(last_checkpoint)

    def on_before_backward(self, trainer: L.Trainer, pl_module: L.LightningModule, loss: Tensor):
        # One host sync per step; a millisecond's fraction beside a training step.
        if bool(torch.isfinite(loss.detach()).all()):
            return
        value = loss.detach().float().flatten()[0].item()
        raise diverged(trainer, f"the loss became {value}", self.last_checkpoint)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        finite = [torch.isfinite(p.detach()).all() for p in pl_module.parameters()]
        if finite and not bool(torch.stack(finite).all()):
            what = "the weights became NaN or infinite (the loss was still finite)"
            # saved after the optimiser's step: the step that spoilt them is the one just done
            raise diverged(trainer, what, self.last_checkpoint, step=trainer.global_step)
