"""What the models over sets of digits share: an encoder of each item, their output and loss.

A set model reads items (B, K, C, h, w) (digit crops, ``mask`` (B, K) True for real ones) and
answers with logits (B, A): over the K items (a pointer) or over classes (a bag's label). With
item-wise attention it also returns the weights alpha (B, K) it put on the items; with hard
attention, the log-probability and entropy of the item it drew. Their loss is the answer's
cross-entropy and, for hard attention, the score-function surrogate of Xu et al. 2015, eq. 12:
lambda_r (R - b) log p(s) + lambda_e H(alpha), with b a moving average of the reward R.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from foveate.models.cnn import conv_pool_stages
from foveate.models.reinforce import HardAttentionLoss


class DigitEncoder(nn.Module):
    """Items (B, K, C, h, w) -> embeddings (B, K, D): one small CNN applied to every item.

    Two 3x3 convolution stages with max-pooling, then a linear layer: on its own a 99% MNIST
    classifier's body.
    """

    def __init__(self, channels: int = 1, *, width: int = 32, size: int = 128, side: int = 28):
        super().__init__()
        self.conv = nn.Sequential(*conv_pool_stages(channels, width, 2 * width, 3), nn.Flatten())
        self.project = nn.Linear(2 * width * (side // 4) ** 2, size)
        self.size = size
        self.item_shape = ("B", "K", channels, side, side)  # what it reads (``check_input``)

    def forward(self, items: Tensor) -> Tensor:
        B, K = items.shape[:2]
        flat = self.conv(items.flatten(0, 1))  # (B*K, features)
        return F.relu(self.project(flat)).view(B, K, self.size)


@dataclass
class SetOutput:
    """logits: (B, A) the answer's scores; weights: (B, K) alpha, or None without attention;
    log_prob: (B,) log alpha of the drawn item (hard attention), else None; entropy: (B,)
    H(alpha) (hard attention), else None."""

    logits: Tensor
    weights: Tensor | None = None
    log_prob: Tensor | None = None
    entropy: Tensor | None = None


@dataclass
class SetLoss:
    """total: what is minimised; nll: the answer's cross-entropy; reinforce: the surrogate of
    hard attention (0 otherwise); correct: (B,) 1 where the answer is right."""

    total: Tensor
    nll: Tensor
    reinforce: Tensor
    correct: Tensor


def set_loss(output: SetOutput, targets: Tensor, hard: HardAttentionLoss | None) -> SetLoss:
    """The loss of a set model's output against targets (B,); ``hard`` when it drew an item."""
    token_nll = F.cross_entropy(output.logits, targets, reduction="none")  # (B,)
    nll = token_nll.mean()
    reinforce = nll.new_zeros(())
    if hard is not None and output.log_prob is not None:
        reinforce = hard(-token_nll, output.log_prob, output.entropy)  # R = log p(y | s)
    correct = (output.logits.argmax(-1) == targets).float()
    return SetLoss(total=nll + reinforce, nll=nll, reinforce=reinforce, correct=correct)


class SetModel(nn.Module):
    """What the set models share: hard attention's REINFORCE rule and draws, and ``answer``.

    A subclass calls ``_set_attention`` in its ``__init__`` and implements
    ``forward(items, noise=None, *, mask, query, sample)``.
    """

    attention: str
    hard: HardAttentionLoss | None

    def _set_attention(
        self,
        attention: str,
        *,
        reward_weight: float,
        entropy_weight: float,
        baseline_decay: float,
    ) -> None:
        kinds = ("soft", "hard", "none")
        if attention not in kinds:
            raise ValueError(f"attention must be one of {', '.join(kinds)}, got {attention!r}")
        self.attention = attention
        self.hard = (
            HardAttentionLoss(
                reward_weight=reward_weight, entropy_weight=entropy_weight, decay=baseline_decay
            )
            if attention == "hard"
            else None
        )

    def sample_noise(self, items: Tensor) -> Tensor:
        """The draw of hard attention: (B,) uniforms."""
        return torch.rand(items.shape[0], device=items.device)

    def _draws(self, items: Tensor, noise: Tensor | None, sample: bool | None) -> Tensor | None:
        """The uniforms hard attention draws with (made here if none are given), or None when it
        takes the most likely item (``sample=False``; by default, outside training)."""
        draw = self.training if sample is None else sample
        if not draw:
            return None
        return noise if noise is not None else self.sample_noise(items)

    def answer(
        self, items: Tensor, *, mask: Tensor | None = None, query: Tensor | None = None
    ) -> SetOutput:
        """The most likely answer (hard attention: from the most likely item), without grad."""
        with torch.no_grad():
            return self(items, mask=mask, query=query, sample=False)
