"""The addition and multiplication problems: long sequences in which two marked values decide.

Hochreiter, Schmidhuber, "Long Short-Term Memory", Neural Computation 1997, sec. 5.4 (addition)
and 5.5 (multiplication) ([1]), as Raffel and Ellis, "Feed-Forward Networks with Attention Can
Solve Some Long-Term Memory Problems", ICLR workshop 2016 ([2]) use them (their code:
github.com/craffel/ff-attention, which draws from github.com/craffel/lstm_problems).

Each step t of a sequence of L steps is a pair (x_t, m_t): a value x_t, uniform in [-1, 1]
(addition) or [0, 1] (multiplication), and a marker m_t. The marker is 1 at two steps, the first
among steps 1..9 and the second among steps 1..L/2 - 2 (0-based; never the first one's), -1 at
the first and the last step (step 0 and step L - 1), and 0 elsewhere ([1] sec. 5.4). The target
is 0.5 + (x_a + x_b) / 4 for addition (the sum scaled into [0, 1] as in [1]) and x_a * x_b for
multiplication, a and b the marked steps. [1] counts an answer right when it is within 0.04 of
the target; [2]'s code stops a run when every test answer is.

Lengths: every sequence has ``max_length`` steps, or each draws its own L uniformly from
[min_length, max_length]; shorter sequences are padded to ``max_length`` with zeros (value and
marker) and a ``mask`` says which steps are real. Batched tensor code driven by an explicit
``torch.Generator``: validation and test sets are drawn once from ``data_seed``, training
sequences afresh for every batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from foveate.data.generated import SynthesisedDataModule
from foveate.data.sources import DATA_SOURCES

Problem = Literal["addition", "multiplication"]
PROBLEMS: tuple[str, ...] = ("addition", "multiplication")
FIRST_MARK_LAST = 9  # the first marked step is among steps 1..9 ([1] sec. 5.4: "first ten")
SHORTEST = 8  # the shortest sequence with room for two marks before its middle
Batch = tuple[Tensor, dict[str, Tensor]]


@dataclass
class MarkedSequences:
    """N sequences padded to T steps.

    values: (N, T) float32, x_t (0 in the padding).
    markers: (N, T) int8, m_t in {-1, 0, 1} (0 in the padding).
    lengths: (N,) int64, each sequence's L (its steps 0..L-1 are real).
    target: (N,) float32, the answer.
    """

    values: Tensor
    markers: Tensor
    lengths: Tensor
    target: Tensor


def _check(problem: str, min_length: int | None, max_length: int) -> int:
    """The shortest length, once the problem and the lengths are checked (ValueError if not)."""
    if problem not in PROBLEMS:
        raise ValueError(f"problem must be one of {', '.join(PROBLEMS)}, got {problem!r}")
    low = max_length if min_length is None else min_length
    if not SHORTEST <= low <= max_length:
        raise ValueError(
            f"lengths must satisfy {SHORTEST} <= min_length <= length, got min_length "
            f"{min_length} and length {max_length}"
        )
    return low


def _below(high: Tensor, generator: torch.Generator) -> Tensor:
    """Integers uniform in [0, high) for each entry of ``high`` (N,) (each at least 1)."""
    u = torch.rand(high.shape, generator=generator, dtype=torch.float64)
    return (u * high).long().clamp_max(high - 1)


def marked_sequences(
    problem: Problem,
    number: int,
    *,
    max_length: int,
    min_length: int | None = None,
    generator: torch.Generator,
) -> MarkedSequences:
    """``number`` sequences of the addition or multiplication problem (see the module docstring).

    Lengths are ``max_length``, or uniform in [min_length, max_length] when ``min_length`` is
    given; both at least 8 (room for two marks in the first half).
    """
    low = _check(problem, min_length, max_length)
    if number < 0:
        raise ValueError(f"number must be non-negative, got {number}")
    N, T = number, max_length
    lengths = low + _below(torch.full((N,), T - low + 1), generator)  # (N,)
    steps = torch.arange(T)
    real = steps < lengths[:, None]  # (N, T)
    values = torch.rand(N, T, generator=generator)
    if problem == "addition":
        values = 2 * values - 1
    values = values * real
    # Marks ([1] sec. 5.4): the second among steps 1..M, M = L // 2 - 2 (lstm_problems' range(1,
    # int(L/2 - 1))), never on the first; the first among 1..min(9, M), so that a short sequence
    # keeps both in its first half.
    last = lengths // 2 - 2  # (N,) M >= 2
    first = 1 + _below(last.clamp_max(FIRST_MARK_LAST), generator)
    second = 1 + _below(last - 1, generator)  # one of M - 1 steps: 1..M without ``first``
    second = second + (second >= first).long()
    rows = torch.arange(N)
    markers = torch.zeros(N, T, dtype=torch.int8)
    markers[:, 0] = -1
    markers[rows, lengths - 1] = -1
    markers[rows, first] = 1
    markers[rows, second] = 1
    a, b = values[rows, first], values[rows, second]
    target = 0.5 + (a + b) / 4 if problem == "addition" else a * b
    return MarkedSequences(values=values, markers=markers, lengths=lengths, target=target)


def as_batch(sequences: MarkedSequences) -> Batch:
    """Sequences as a loader yields them: steps (B, T, 2) as (x_t, m_t) float32, and truth, a
    dict of ``target`` (B,), ``mask`` (B, T) True on real steps and ``marked`` (B, T) True on
    the two marked steps."""
    T = sequences.values.shape[1]
    steps = torch.stack([sequences.values, sequences.markers.float()], -1)
    truth = {
        "target": sequences.target,
        "mask": torch.arange(T) < sequences.lengths[:, None],
        "marked": sequences.markers == 1,
    }
    return steps, truth


@DATA_SOURCES.register("long_sequences")
class LongSequenceDataModule(SynthesisedDataModule):
    """The addition or multiplication problem (``marked_sequences``): train / validation / test.

    Batches are (steps (B, T, 2), truth) with truth's ``target`` (B,), ``mask`` (B, T) and
    ``marked`` (B, T) (``as_batch``); T is ``length`` in every batch.

    Args:
        problem: 'addition' (values in [-1, 1], target 0.5 + (x_a + x_b) / 4) or
            'multiplication' (values in [0, 1], target x_a * x_b).
        length: T, the steps of the longest sequence (every sequence's, without
            ``min_length``); at least 8.
        min_length: the shortest sequence: each sequence draws its length uniformly from
            [min_length, length] and is padded to ``length`` with a mask ([2]'s fixed-length
            runs draw from [T0, 1.1 T0], its variable-length runs from [50, 10000]); None:
            every sequence has ``length`` steps.
        batch_size: training sequences per batch (per process; [2]: 100).
        eval_batch_size: validation and test sequences per batch.
        epoch_size: training sequences per epoch, drawn afresh for every batch ([2]'s code
            tests every 1000 batches of 100: 100,000).
        val_size: validation sequences, drawn once from data_seed + 1.
        test_size: test sequences, drawn once from data_seed ([2]'s code: 1000).
        data_seed: seed of the validation and test sets.
    """

    @classmethod
    def smoke_settings(cls) -> dict:
        """Settings that make any run over these data take seconds: short sequences of varied
        length (the masked path too), small batches and sets."""
        return {
            "length": 32,
            "min_length": 24,
            "batch_size": 8,
            "eval_batch_size": 32,
            "epoch_size": 16,
            "val_size": 32,
            "test_size": 32,
        }

    def __init__(
        self,
        problem: Problem = "addition",
        *,
        length: int = 100,
        min_length: int | None = None,
        batch_size: int = 100,
        eval_batch_size: int = 100,
        epoch_size: int = 100_000,
        val_size: int = 1000,
        test_size: int = 1000,
        data_seed: int = 0,
    ) -> None:
        super().__init__()
        _check(problem, min_length, length)
        self._keep_sizes(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            epoch_size=epoch_size,
            val_size=val_size,
            test_size=test_size,
            data_seed=data_seed,
        )
        self.problem, self.length, self.min_length = problem, length, min_length

    def record(self) -> dict[str, object]:
        """What identifies these data in a run's record: the problem and its lengths."""
        return {"problem": self.problem, "length": self.length, "min_length": self.min_length}

    def model_defaults(self) -> dict[str, int]:
        """The model arguments the data decide: two numbers a step (x_t, m_t)."""
        return {"input_size": 2}

    def make(self, number: int, generator: torch.Generator) -> MarkedSequences:
        return marked_sequences(
            self.problem,
            number,
            max_length=self.length,
            min_length=self.min_length,
            generator=generator,
        )

    as_batch = staticmethod(as_batch)
