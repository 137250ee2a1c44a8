"""Item-wise attention: weights over a set of items, soft (a weighted sum) or hard (one item).

Bahdanau, Cho, Bengio, "Neural Machine Translation by Jointly Learning to Align and Translate",
ICLR 2015 ([1]); Luong, Pham, Manning, "Effective Approaches to Attention-based Neural Machine
Translation", EMNLP 2015 ([2]); Vaswani et al., "Attention Is All You Need", NIPS 2017 ([3]);
Xu et al., "Show, Attend and Tell", ICML 2015 ([4]); Raffel, Ellis, "Feed-Forward Networks with
Attention Can Solve Some Long-Term Memory Problems", ICLR workshop 2016 ([5]); Ilse, Tomczak,
Welling, "Attention-based Deep Multiple Instance Learning", ICML 2018 ([6]).

Items are (B, N, D) (annotation vectors a_i in [4], keys and values in [3]); a context is
(B, C) (the decoder state h_{t-1} in [1] and [4], a query in [3]). A score e_i says how well
item i matches the context; the weights are alpha = softmax(e) over the items that are there
(``mask``: (B, N) True for real items, False for padding), and soft attention returns the
expectation sum_i alpha_i a_i ([1] eq. 5-6, [4] eq. 4-5 with phi the weighted sum). Hard
attention draws one item from Categorical(alpha) ([4] sec. 4.1) and returns its log-probability
and the distribution's entropy, for REINFORCE.

A padded item's weight is exactly zero, whatever the other scores: it is dropped before the
softmax (its logit set to -inf), not given a large negative score that a row of very negative
real scores could tie with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Categorical

ScoreKind = Literal["additive", "dot", "scaled_dot", "bilinear"]
SCORES: tuple[str, ...] = ("additive", "dot", "scaled_dot", "bilinear")


class Scorer(nn.Module):
    """Scores e (B, N) of items (B, N, D) against a context (B, C).

    ``kind``:
        - ``additive``: e_i = v^T tanh(W a_i + U h) ([1] eq. 6 and appendix A.1.2, "concat" in
          [2] eq. 8; the f_att of [4]); ``hidden`` units.
        - ``dot``: e_i = h^T a_i ([2] eq. 8); needs C = D.
        - ``scaled_dot``: e_i = h^T a_i / sqrt(D) ([3] eq. 1); needs C = D.
        - ``bilinear``: e_i = h^T W a_i ("general" in [2] eq. 8).
    """

    def __init__(
        self, kind: ScoreKind, *, item_size: int, context_size: int, hidden: int = 128
    ) -> None:
        super().__init__()
        if kind not in SCORES:
            raise ValueError(f"unknown score {kind!r} (known: {', '.join(SCORES)})")
        if kind in ("dot", "scaled_dot") and item_size != context_size:
            raise ValueError(
                f"a {kind} score needs items and context of one size, got {item_size} and "
                f"{context_size}: use 'bilinear' or 'additive'"
            )
        self.kind = kind
        self.item_size, self.context_size = item_size, context_size
        if kind == "additive":
            self.item_proj = nn.Linear(item_size, hidden, bias=False)  # W
            self.context_proj = nn.Linear(context_size, hidden)  # U (and the bias)
            self.v = nn.Linear(hidden, 1, bias=False)
        elif kind == "bilinear":
            self.weight = nn.Linear(item_size, context_size, bias=False)  # W

    def forward(self, items: Tensor, context: Tensor) -> Tensor:
        """items (B, N, D), context (B, C) -> scores (B, N)."""
        if items.dim() != 3 or items.shape[-1] != self.item_size:
            raise ValueError(f"items must be (B, N, {self.item_size}), got {tuple(items.shape)}")
        if context.shape != (items.shape[0], self.context_size):
            raise ValueError(
                f"context must be ({items.shape[0]}, {self.context_size}), got {tuple(context.shape)}"
            )
        if self.kind == "additive":
            hidden = torch.tanh(self.item_proj(items) + self.context_proj(context)[:, None])
            return self.v(hidden).squeeze(-1)
        keys = self.weight(items) if self.kind == "bilinear" else items  # (B, N, C)
        scores = torch.einsum("bnc,bc->bn", keys, context)
        if self.kind == "scaled_dot":
            scores = scores / math.sqrt(self.item_size)
        return scores


def masked_logits(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Scores (B, N) with the padded items' (mask False) set to -inf."""
    if mask is None:
        return scores
    if mask.shape != scores.shape:
        raise ValueError(f"mask must be {tuple(scores.shape)}, got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be bool (True for real items), got {mask.dtype}")
    return scores.masked_fill(~mask, float("-inf"))


def attention_weights(scores: Tensor, mask: Tensor | None = None) -> Tensor:
    """alpha (B, N) = softmax over the real items of their scores (B, N) ([1] eq. 6).

    A row with no real item gets all-zero weights (not NaN).
    """
    logits = masked_logits(scores, mask)
    weights = F.softmax(logits, dim=-1)
    if mask is not None:
        weights = torch.where(mask.any(-1, keepdim=True), weights, torch.zeros_like(weights))
    return weights


def _check_items(scores: Tensor, values: Tensor) -> None:
    """Scores (B, N) and values (B, N, D) of the same items, or a one-line error."""
    if scores.dim() != 2:
        raise ValueError(f"scores must be (B, N), got {tuple(scores.shape)}")
    if values.dim() != 3 or values.shape[:2] != scores.shape:
        B, N = scores.shape
        raise ValueError(f"values must be ({B}, {N}, D), got {tuple(values.shape)}")


@dataclass
class SoftAttention:
    """weights: (B, N) alpha; context: (B, D) sum_i alpha_i a_i."""

    weights: Tensor
    context: Tensor


def soft_attention(scores: Tensor, values: Tensor, mask: Tensor | None = None) -> SoftAttention:
    """Soft item-wise attention: the weights and the expected item ([1] eq. 5, [4] eq. 5).

    scores: (B, N); values: (B, N, D) the items averaged; mask: (B, N), True for real items.
    """
    _check_items(scores, values)
    weights = attention_weights(scores, mask)
    return SoftAttention(weights, torch.einsum("bn,bnd->bd", weights, values))


@dataclass
class HardAttention:
    """index: (B,) the chosen item; context: (B, D) that item; weights: (B, N) alpha;
    log_prob: (B,) log alpha_index (differentiable in the scores); entropy: (B,) H(alpha)."""

    index: Tensor
    context: Tensor
    weights: Tensor
    log_prob: Tensor
    entropy: Tensor


def hard_attention(
    scores: Tensor,
    values: Tensor,
    mask: Tensor | None = None,
    *,
    sample: bool = True,
    uniform: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> HardAttention:
    """Hard item-wise attention ([4] sec. 4.1): one item drawn from Categorical(alpha).

    scores: (B, N); values: (B, N, D); mask: (B, N), True for real items (each row needs one).
    ``sample=False`` takes the most likely item (for evaluation). The draw inverts the weights'
    cumulative sum at ``uniform`` (B,) in [0, 1) when given (draws made outside a compiled graph
    stay fixed), else at uniforms from ``generator``. The index is not differentiable;
    REINFORCE trains the scores through ``log_prob`` ([4] eq. 12).
    """
    _check_items(scores, values)
    if uniform is not None and uniform.shape != scores.shape[:1]:
        raise ValueError(f"uniform must be ({len(scores)},), got {tuple(uniform.shape)}")
    if mask is not None and not bool(mask.any(-1).all()):
        raise ValueError("hard attention needs at least one real item in every row of the mask")
    # log_softmax first: Categorical's own normalisation (logits - logsumexp) loses log alpha
    # for scores of 1e8 and more, where the sum rounds back to the largest score.
    distribution = Categorical(logits=torch.log_softmax(masked_logits(scores, mask), -1))
    probs = distribution.probs
    if sample:
        if uniform is None:
            uniform = torch.rand(len(scores), generator=generator, device=scores.device)
        cdf = probs.detach().cumsum(-1)
        # The first item whose cumulative weight exceeds u: a padded item (no weight) never is.
        index = (cdf <= uniform[:, None] * cdf[:, -1:]).sum(-1)
        # Rounding can leave u * total at the very top: take the last item that has weight;
        # a u below 0 (or NaN) counts as 0: the first, never a padded item of no weight.
        last = scores.shape[-1] - 1 - (probs.flip(-1) > 0).long().argmax(-1)
        first = (probs > 0).long().argmax(-1)
        index = torch.maximum(torch.minimum(index, last), first)
    else:
        index = probs.argmax(-1)
    context = values[torch.arange(len(index), device=values.device), index]
    return HardAttention(
        index=index,
        context=context,
        weights=probs,
        log_prob=distribution.log_prob(index),
        entropy=distribution.entropy(),
    )


class AttentionPooling(nn.Module):
    """Feed-forward attention: a set of items (B, N, D) pooled with weights from each item alone.

    e_i = w^T tanh(V a_i) ([5] eq. 1-3; [6] eq. 8), or with ``gated=True``
    e_i = w^T (tanh(V a_i) * sigmoid(U a_i)) ([6] eq. 9). No context: what matters is learnt
    from the items themselves (multiple-instance learning in [6]).
    """

    def __init__(self, item_size: int, *, hidden: int = 128, gated: bool = False) -> None:
        super().__init__()
        self.item_size = item_size
        self.V = nn.Linear(item_size, hidden)
        self.U = nn.Linear(item_size, hidden) if gated else None
        self.w = nn.Linear(hidden, 1, bias=False)

    def scores(self, items: Tensor) -> Tensor:
        """items (B, N, D) -> e (B, N)."""
        if items.dim() != 3 or items.shape[-1] != self.item_size:
            raise ValueError(f"items must be (B, N, {self.item_size}), got {tuple(items.shape)}")
        hidden = torch.tanh(self.V(items))
        if self.U is not None:
            hidden = hidden * torch.sigmoid(self.U(items))
        return self.w(hidden).squeeze(-1)

    def forward(self, items: Tensor, mask: Tensor | None = None) -> SoftAttention:
        """items (B, N, D), mask (B, N) -> weights (B, N) and the pooled item (B, D)."""
        return soft_attention(self.scores(items), items, mask)
