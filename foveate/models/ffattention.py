"""Feed-forward attention over long sequences: each step embedded alone, then pooled by weights.

Raffel, Ellis, "Feed-Forward Networks with Attention Can Solve Some Long-Term Memory Problems",
ICLR workshop 2016, arXiv 1512.08756 ([1]); the authors' code is github.com/craffel/ff-attention.

A sequence x_1..x_T (B, T, I) is read without recurrence:

    h_t = LReLU(W_xh x_t + b_xh)            each step on its own                (B, T, D)
    e_t = a(h_t) = tanh(w_hc^T h_t + b_hc)  one score a step                    (B, T)
    alpha = softmax(e) over the real steps                                      (B, T)
    c = sum_t alpha_t h_t                   the sequence in one vector          (B, D)
    s = LReLU(W_cs c + b_cs);  y = w_sy^T s + b_sy                              (B,)

so the steps are computed in parallel and the gradient reaches any step in one hop, however
long the sequence. ``pooling="mean"`` is [1]'s baseline, the same network with alpha_t = 1 / L.
The loss is the squared error of y ([1]'s code: its mean over the batch).

Departures from the authors' code, on purpose: padded steps get no weight (their layer takes no
mask; their runs never pad); the output y is linear (their fixed-length runs put a leaky
rectifier on it, their variable-length runs a rectifier); ``attention_size`` > 0 offers a
score through hidden tanh units (``AttentionPooling``), unbounded where [1]'s lies in [-1, 1].

``AnswersSequences`` is what the training module and ``foveate show`` use of a model of
sequences (this one, mean pooling, the LSTM of ``lstm_sequence``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from foveate.attention.items import AttentionPooling, SoftAttention, soft_attention
from foveate.models import register_model
from foveate.models.interface import check_input

Pooling = Literal["attention", "mean"]
POOLINGS: tuple[str, ...] = ("attention", "mean")
LEAKY_SLOPE = 0.01  # Lasagne's leaky_rectify, which [1]'s code uses


@dataclass
class SequenceOutput:
    """prediction: (B,) y, the answer; weights: (B, T) alpha, the weight of each step in the
    answer (zero on padding), or None for a model without (the LSTM)."""

    prediction: Tensor
    weights: Tensor | None = None


@dataclass
class SequenceLoss:
    """total: the mean squared error, minimised; squared_error: (B,) each sequence's."""

    total: Tensor
    squared_error: Tensor


@runtime_checkable
class AnswersSequences(Protocol):
    """A model that answers a sequence with one number: ``answer_sequence(sequences,
    mask=...)`` maps steps (B, T, I) and ``mask`` (B, T) (True on real steps; None: all real)
    to a ``SequenceOutput``, the weights it put on the steps included where it has them. (Not
    ``answer``: a runtime Protocol checks names only, and ``AnswersSets`` has that one.)"""

    def answer_sequence(
        self, sequences: Tensor, *, mask: Tensor | None = None
    ) -> SequenceOutput: ...


def squared_error_loss(output: SequenceOutput, targets: Tensor) -> SequenceLoss:
    """The loss of a prediction (B,) against targets (B,)."""
    squared = (output.prediction.float() - targets.float()) ** 2
    return SequenceLoss(total=squared.mean(), squared_error=squared.detach())


def _dense_init(layer: nn.Linear) -> None:
    """[1]'s code: Lasagne's HeNormal at its default gain, N(0, 1 / fan_in), and zero bias."""
    nn.init.normal_(layer.weight, 0.0, layer.in_features**-0.5)
    nn.init.zeros_(layer.bias)


class AnswerHead(nn.Module):
    """The vector c (B, D) of a sequence -> its answer y (B,): s = LReLU(W_cs c + b_cs),
    y = w_sy^T s + b_sy."""

    def __init__(self, size: int, hidden_size: int, *, slope: float = LEAKY_SLOPE) -> None:
        super().__init__()
        self.hidden = nn.Linear(size, hidden_size)  # W_cs, b_cs
        self.out = nn.Linear(hidden_size, 1)  # w_sy, b_sy
        self.slope = slope
        _dense_init(self.hidden)
        _dense_init(self.out)

    def forward(self, c: Tensor) -> Tensor:
        s = F.leaky_relu(self.hidden(c), self.slope)
        return self.out(s).squeeze(-1)


class SequenceModel(nn.Module):
    """What the models of sequences share: their input check, loss and ``answer_sequence``."""

    input_size: int

    def check_sequences(self, sequences: Tensor) -> None:
        check_input(self, sequences, ("B", "T", self.input_size), what="sequences")

    def loss(self, output: SequenceOutput, targets: Tensor) -> SequenceLoss:
        """targets (B,): the answers."""
        return squared_error_loss(output, targets)

    def answer_sequence(self, sequences: Tensor, *, mask: Tensor | None = None) -> SequenceOutput:
        """The answer to steps (B, T, I) with mask (B, T): ``forward`` (nothing is drawn)."""
        return self(sequences, mask=mask)


TINY: dict[str, Any] = dict(hidden_size=8)


@register_model(
    "ffmeanpool",
    training="long_memory",
    data="long_sequences",
    fixed={"pooling": "mean"},
    tiny=TINY,
)
@register_model(
    "ffattention",
    training="long_memory",
    data="long_sequences",
    fixed={"pooling": "attention"},
    tiny=TINY,
)
class FeedForwardAttention(SequenceModel):
    """[1]'s feed-forward network with attention (see the module docstring).

    Registered as 'ffattention' (attention) and 'ffmeanpool' (uniform weights, [1]'s baseline).

    Args:
        input_size: I, numbers a step (2: the value and its marker).
        hidden_size: D, units of h_t and of s ([1]'s code: 100 for both).
        pooling: 'attention' (alpha = softmax(e)) or 'mean' (alpha_t = 1 / L on the L real
            steps).
        attention_size: 0: [1]'s score, one tanh unit e_t = tanh(w_hc^T h_t + b_hc); n > 0:
            e_t = w^T tanh(V h_t + b) through n tanh units (``AttentionPooling``), whose scores
            are not bounded to [-1, 1] (a departure from [1]). Unused with mean pooling.
        slope: the leaky rectifiers' slope below zero ([1]'s code: Lasagne's 0.01).
    """

    def __init__(
        self,
        *,
        input_size: int = 2,
        hidden_size: int = 100,
        pooling: Pooling = "attention",
        attention_size: int = 0,
        slope: float = LEAKY_SLOPE,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        if min(input_size, hidden_size) < 1 or attention_size < 0:
            raise ValueError(
                f"sizes must be positive (attention_size 0 or more), got input {input_size}, "
                f"hidden {hidden_size}, attention {attention_size}"
            )
        self.input_size, self.hidden_size, self.pooling = input_size, hidden_size, pooling
        self.slope = slope
        self.embed = nn.Linear(input_size, hidden_size)  # W_xh, b_xh
        _dense_init(self.embed)
        self.score: nn.Linear | None = None
        self.pool: AttentionPooling | None = None
        if pooling == "attention" and attention_size == 0:
            self.score = nn.Linear(hidden_size, 1)  # w_hc, b_hc
            # [1]'s code: w_hc ~ N(0, 1 / D), b_hc = 0
            nn.init.normal_(self.score.weight, 0.0, hidden_size**-0.5)
            nn.init.zeros_(self.score.bias)
        elif pooling == "attention":
            self.pool = AttentionPooling(hidden_size, hidden=attention_size)
        self.head = AnswerHead(hidden_size, hidden_size, slope=slope)

    def embed_steps(self, sequences: Tensor) -> Tensor:
        """steps (B, T, I) -> h (B, T, D), each step on its own."""
        return F.leaky_relu(self.embed(sequences), self.slope)

    def scores(self, h: Tensor) -> Tensor:
        """h (B, T, D) -> e (B, T), the attention's scores."""
        if self.pool is not None:
            return self.pool.scores(h)
        return torch.tanh(self.score(h)).squeeze(-1)

    def pooled(self, h: Tensor, mask: Tensor | None) -> SoftAttention:
        """h (B, T, D), mask (B, T) -> the weights alpha (B, T) and c (B, D)."""
        if self.pooling == "mean":
            real = mask.float() if mask is not None else h.new_ones(h.shape[:2])
            weights = real / real.sum(1, keepdim=True).clamp_min(1)
            return SoftAttention(weights, torch.einsum("bt,btd->bd", weights, h))
        return soft_attention(self.scores(h), h, mask)

    def forward(self, sequences: Tensor, *, mask: Tensor | None = None) -> SequenceOutput:
        """steps (B, T, I), mask (B, T) True on real steps -> ``SequenceOutput``: y (B,) and
        the weights alpha (B, T)."""
        self.check_sequences(sequences)
        pooled = self.pooled(self.embed_steps(sequences), mask)
        return SequenceOutput(prediction=self.head(pooled.context), weights=pooled.weights)
