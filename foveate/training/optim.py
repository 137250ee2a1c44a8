"""The optimiser and learning-rate schedule shared by foveate's training modules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import torch
from torch import nn


def adam_with_schedule(
    parameters: Iterable[nn.Parameter],
    *,
    lr: float,
    weight_decay: float,
    schedule: Literal["cosine", "constant"],
    final_lr_fraction: float,
    epochs: int,
    betas: tuple[float, float] = (0.9, 0.999),
    fused: bool = True,
):
    """Adam, annealed per epoch along a cosine to ``lr * final_lr_fraction`` (or constant).

    fused: update all parameters in one kernel (Lightning refuses to clip the gradients of a
        fused optimiser under mixed precision, so a bf16 run passes False).

    Returns what ``LightningModule.configure_optimizers`` returns.
    """
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {schedule!r}")
    # The fused kernel updates all parameters in one call: ~15% faster steps for RAM on CPU.
    optimizer = torch.optim.Adam(
        parameters, lr=lr, betas=betas, weight_decay=weight_decay, fused=fused
    )
    if schedule == "constant":
        return optimizer
    annealing = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=epochs, eta_min=lr * final_lr_fraction
    )
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": annealing, "interval": "epoch"}}
