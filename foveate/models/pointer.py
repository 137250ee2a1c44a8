"""A pointer over a set of digits: item-wise attention with a context, soft or hard.

Vinyals, Fortunato, Jaitly, "Pointer Networks", NIPS 2015 ([1]), sec. 2.3: the attention
weights over the input items are themselves the answer, u_j = v^T tanh(W_1 e_j + W_2 d) and
p(answer = j) = softmax(u)_j (eq. 3). Here the items e_j are digit crops through one CNN, the
context d is the embedding of a query class, and the answer is the position of the digit of
that class (``foveate.data.digit_sets.pointer_sets``).

- ``attention="soft"``: the weights alpha = softmax(scores) are p(answer); trained by their
  cross-entropy; the answer is the item attended to most.
- ``attention="hard"``: an item is drawn from alpha (``hard_attention``) and rewarded 1 when it
  is the queried digit, by REINFORCE with a moving-average baseline and an entropy bonus (Xu et
  al. 2015, eq. 12); no gradient flows from the answer's likelihood.
- ``attention="none"``: no weights; an MLP reads the query and every item's embedding in
  order and scores the K positions.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from foveate.attention.items import SCORES, Scorer, attention_weights, hard_attention
from foveate.models import register_model
from foveate.models.interface import check_input
from foveate.models.set_models import (
    DigitEncoder,
    SetLoss,
    SetModel,
    SetOutput,
    set_loss,
)

TINY = dict(width=4, item_size=16, attention_size=8)


@register_model(
    "pointer_none", training="sets", data="pointer_sets", fixed={"attention": "none"}, tiny=TINY
)
@register_model(
    "pointer_hard", training="sets", data="pointer_sets", fixed={"attention": "hard"}, tiny=TINY
)
@register_model(
    "pointer", training="sets", data="pointer_sets", fixed={"attention": "soft"}, tiny=TINY
)
class Pointer(SetModel):
    """Points at the digit of a query class among K digits ([1] eq. 3); see the module docstring.

    Registered as 'pointer' (soft), 'pointer_hard' and 'pointer_none'.

    Args:
        channels: image channels of the items.
        num_classes: query classes.
        set_size: K, the items of a set (the answer's classes; 'none' needs it fixed).
        attention: 'soft', 'hard' or 'none'.
        score: the attention score (``Scorer``): 'additive' ([1]'s), 'dot', 'scaled_dot' or
            'bilinear'.
        width: filters of the item encoder's first convolution.
        item_size: D, the items' and the query's embedding size.
        attention_size: hidden units of an additive score.
        reward_weight, entropy_weight, baseline_decay: of hard attention's REINFORCE rule.
    """

    def __init__(
        self,
        *,
        channels: int = 1,
        num_classes: int = 10,
        set_size: int = 9,
        attention: Literal["soft", "hard", "none"] = "soft",
        score: Literal["additive", "dot", "scaled_dot", "bilinear"] = "bilinear",
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
        if score not in SCORES:
            raise ValueError(f"score must be one of {', '.join(SCORES)}, got {score!r}")
        self.set_size, self.num_classes = set_size, num_classes
        self.encoder = DigitEncoder(channels, width=width, size=item_size)
        self.query = nn.Embedding(num_classes, item_size)  # the context d
        if attention == "none":
            self.reader = nn.Sequential(
                nn.Linear(item_size * (set_size + 1), 256), nn.ReLU(), nn.Linear(256, set_size)
            )
        else:
            self.f_att = Scorer(
                score, item_size=item_size, context_size=item_size, hidden=attention_size
            )

    def forward(
        self,
        items: Tensor,
        noise: Tensor | None = None,
        *,
        mask: Tensor | None = None,
        query: Tensor,
        sample: bool | None = None,
    ) -> SetOutput:
        """items (B, K, C, h, w), query (B,) classes, mask (B, K) -> ``SetOutput`` over K items.

        noise: (B,) hard attention's draw (``sample_noise``; made here if None); sample: draw
        (default: in training mode) or take the most likely item.
        """
        check_input(self, items, self.encoder.item_shape, what="items")
        if query is None or (query < 0).any():
            raise ValueError("a pointer needs a query class (0 or more) for every set")
        e = self.encoder(items)  # (B, K, D)
        d = self.query(query)  # (B, D)
        if self.attention == "none":
            if e.shape[1] != self.set_size:
                raise ValueError(f"pointer_none reads sets of {self.set_size}, got {e.shape[1]}")
            return SetOutput(logits=self.reader(torch.cat([d[:, None], e], 1).flatten(1)))
        # scores in float32 even under mixed precision: rounded to bfloat16, the small
        # REINFORCE updates of a hard pointer are lost and its weights collapse onto one item
        with torch.autocast(items.device.type, enabled=False):
            scores = self.f_att(e.float(), d.float())  # (B, K), u_j of eq. 3
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        if self.attention == "soft":
            return SetOutput(logits=scores, weights=attention_weights(scores, mask))
        uniform = self._draws(items, noise, sample)
        picked = hard_attention(scores, e, mask, sample=uniform is not None, uniform=uniform)
        # the answer is the drawn item: its logits are one-hot, the gradient REINFORCE's alone
        logits = torch.full_like(scores, -1e4).scatter(1, picked.index[:, None], 0.0)
        return SetOutput(logits, picked.weights, picked.log_prob, picked.entropy)

    def loss(self, output: SetOutput, targets: Tensor) -> SetLoss:
        """targets (B,): the position of the queried digit."""
        if self.hard is None:
            return set_loss(output, targets, None)
        reward = (output.logits.argmax(-1) == targets).float()  # 1 for the right item
        reinforce = self.hard(reward, output.log_prob, output.entropy)
        return SetLoss(
            total=reinforce, nll=reinforce.new_zeros(()), reinforce=reinforce, correct=reward
        )
