"""Attention pooling over a bag of digits: multiple-instance learning with item-wise attention.

Ilse, Tomczak, Welling, "Attention-based Deep Multiple Instance Learning", ICML 2018 ([1]): a bag
of instances h_k (here digit crops through one CNN) has one label, positive when some instance
is (here: a 9). The bag is pooled by attention without a context, z = sum_k a_k h_k with
a_k = softmax_k(w^T tanh(V h_k)) (eq. 8) or its gated form (eq. 9), and z is classified. The
weights a_k say which instances decided, and they are checked against the 9s.

- ``attention="soft"``: attention pooling (``AttentionPooling``).
- ``attention="hard"``: one instance drawn from the same weights is classified alone; REINFORCE
  with the reward log p(y | drawn instance), a moving-average baseline and an entropy bonus
  (Xu et al. 2015, eq. 12) trains the weights.
- ``attention="none"``: mean pooling ([1]'s baseline pooling; max pooling is the other).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from foveate.attention.items import AttentionPooling, hard_attention
from foveate.models import register_model
from foveate.models.interface import check_input
from foveate.models.set_models import DigitEncoder, SetLoss, SetModel, SetOutput, set_loss

TINY = dict(width=4, item_size=16, attention_size=8)


@register_model(
    "bags_none", training="sets", data="digit_bags", fixed={"attention": "none"}, tiny=TINY
)
@register_model(
    "bags_hard", training="sets", data="digit_bags", fixed={"attention": "hard"}, tiny=TINY
)
@register_model("bags", training="sets", data="digit_bags", fixed={"attention": "soft"}, tiny=TINY)
class BagClassifier(SetModel):
    """Labels a bag of digits through attention pooling ([1]); see the module docstring.

    Registered as 'bags' (soft), 'bags_hard' and 'bags_none'.

    Args:
        channels: image channels of the instances.
        num_classes: bag labels (2: negative, positive).
        attention: 'soft', 'hard' or 'none'.
        gated: the gated attention of [1] eq. 9.
        width: filters of the instance encoder's first convolution.
        item_size: the instances' embedding size.
        attention_size: hidden units of the attention (V and U of [1]).
        reward_weight, entropy_weight, baseline_decay: of hard attention's REINFORCE rule.
    """

    def __init__(
        self,
        *,
        channels: int = 1,
        num_classes: int = 2,
        attention: Literal["soft", "hard", "none"] = "soft",
        gated: bool = True,
        width: int = 32,
        item_size: int = 128,
        attention_size: int = 128,
        reward_weight: float = 1.0,
        entropy_weight: float = 0.01,
        baseline_decay: float = 0.9,
    ) -> None:
        super().__init__()
        self._set_attention(
            attention,
            reward_weight=reward_weight,
            entropy_weight=entropy_weight,
            baseline_decay=baseline_decay,
        )
        self.num_classes = num_classes
        self.encoder = DigitEncoder(channels, width=width, size=item_size)
        self.pool = (
            AttentionPooling(item_size, hidden=attention_size, gated=gated)
            if attention != "none"
            else None
        )
        self.classify = nn.Sequential(
            nn.Linear(item_size, 64), nn.ReLU(), nn.Linear(64, num_classes)
        )

    def forward(
        self,
        items: Tensor,
        noise: Tensor | None = None,
        *,
        mask: Tensor | None = None,
        query: Tensor | None = None,
        sample: bool | None = None,
    ) -> SetOutput:
        """items (B, K, C, h, w), mask (B, K) -> ``SetOutput`` with logits (B, num_classes).

        ``query`` is not read (a bag has no context). noise: (B,) hard attention's draw;
        sample: draw (default: in training mode) or take the most likely instance.
        """
        check_input(self, items, self.encoder.item_shape, what="items")
        h = self.encoder(items)  # (B, K, D)
        B, K, _ = h.shape
        real = mask if mask is not None else torch.ones(B, K, dtype=torch.bool, device=h.device)
        if self.pool is None:
            z = (h * real[..., None]).sum(1) / real.sum(1, keepdim=True).clamp_min(1)
            return SetOutput(logits=self.classify(z))
        if self.attention == "soft":
            pooled = self.pool(h, real)
            return SetOutput(logits=self.classify(pooled.context), weights=pooled.weights)
        uniform = self._draws(items, noise, sample)
        with torch.autocast(items.device.type, enabled=False):  # as the hard pointer's scores
            scores = self.pool.scores(h.float())
        picked = hard_attention(scores, h, real, sample=uniform is not None, uniform=uniform)
        return SetOutput(
            self.classify(picked.context), picked.weights, picked.log_prob, picked.entropy
        )

    def loss(self, output: SetOutput, targets: Tensor) -> SetLoss:
        """targets (B,): the bags' labels."""
        return set_loss(output, targets, self.hard)
