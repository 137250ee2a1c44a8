"""The REINFORCE rule of hard attention with a moving-average baseline, shared by the models
that draw where to attend (the reader's cell, the pointer's and the bag's item).

Xu et al., "Show, Attend and Tell", ICML 2015, sec. 4.1, eq. 12: the gradient of
lambda_r (R - b) log p(s) + lambda_e H(alpha) for a drawn attention s with reward R, where b is
a moving average of R (b <- 0.9 b + 0.1 R in the paper).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class HardAttentionLoss(nn.Module):
    """The REINFORCE rule of hard attention (Xu et al. 2015, eq. 12), with the moving-average
    baseline b <- decay b + (1 - decay) mean(R) kept as a buffer."""

    def __init__(
        self, *, reward_weight: float = 1.0, entropy_weight: float = 0.01, decay: float = 0.9
    ) -> None:
        super().__init__()
        self.reward_weight, self.entropy_weight, self.decay = reward_weight, entropy_weight, decay
        self.register_buffer("baseline", torch.zeros(()))

    def forward(self, reward: Tensor, log_prob: Tensor, entropy: Tensor) -> Tensor:
        """reward, log_prob, entropy: (B,) -> the scalar surrogate (its gradient is REINFORCE's)."""
        reward = reward.detach()
        if self.training:
            self.baseline.mul_(self.decay).add_((1 - self.decay) * reward.mean())
        advantage = reward - self.baseline
        return -(self.reward_weight * advantage * log_prob + self.entropy_weight * entropy).mean()
