"""The recurrent baseline of feed-forward attention: an LSTM that reads the sequence step by step.

Raffel, Ellis, "Feed-Forward Networks with Attention Can Solve Some Long-Term Memory Problems",
ICLR workshop 2016 ([1]) set its network beside the recurrent networks that had been tried on
the same problems (Hochreiter, Schmidhuber, "Long Short-Term Memory", Neural Computation 1997
([2]); Martens, Sutskever, ICML 2011; Sutskever et al., ICML 2013), which reached lengths of
a few hundred steps. This baseline trains an LSTM ([2]) on the same data, with the same budget
and the same answer head as ``ffattention``: its state after the last real step of each
sequence (padding is never read: the batch is packed) goes through s = LReLU(W c + b) to y.

The forget gates' biases start at 1 (Gers, Schmidhuber, Cummins 2000), so that the state is
kept by default at the start of training.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from foveate.models import register_model
from foveate.models.ffattention import LEAKY_SLOPE, AnswerHead, SequenceModel, SequenceOutput


@register_model(
    "lstm_sequence", training="long_memory", data="long_sequences", tiny=dict(hidden_size=8)
)
class LSTMSequence(SequenceModel):
    """An LSTM over the steps; its last state answers (see the module docstring).

    Args:
        input_size: I, numbers a step (2: the value and its marker).
        hidden_size: units of the LSTM's state and of the answer's hidden layer (100, as
            ``ffattention``'s D).
        slope: the answer layer's leaky rectifier slope below zero (as ``ffattention``'s).
    """

    def __init__(
        self, *, input_size: int = 2, hidden_size: int = 100, slope: float = LEAKY_SLOPE
    ) -> None:
        super().__init__()
        if min(input_size, hidden_size) < 1:
            raise ValueError(
                f"sizes must be positive, got input {input_size}, hidden {hidden_size}"
            )
        self.input_size, self.hidden_size = input_size, hidden_size
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        H = hidden_size
        with_forget = self.lstm.bias_ih_l0.detach()
        with_forget[H : 2 * H] = 1.0  # gates in PyTorch's order (i, f, g, o)
        self.lstm.bias_hh_l0.detach()[H : 2 * H] = 0.0
        self.head = AnswerHead(hidden_size, hidden_size, slope=slope)

    def forward(self, sequences: Tensor, *, mask: Tensor | None = None) -> SequenceOutput:
        """steps (B, T, I), mask (B, T) True on real steps (a prefix of each row) ->
        ``SequenceOutput`` with y (B,) and no weights."""
        self.check_sequences(sequences)
        if mask is None:
            _, (state, _) = self.lstm(sequences)
        else:
            lengths = mask.sum(1).clamp_min(1).cpu()
            packed = pack_padded_sequence(
                sequences, lengths, batch_first=True, enforce_sorted=False
            )
            _, (state, _) = self.lstm(packed)  # state (1, B, H) after each one's last step
        return SequenceOutput(prediction=self.head(state[-1]))
