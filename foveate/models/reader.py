"""A show-attend-tell reader: a CNN's feature grid read digit by digit by an attending LSTM.

Xu, Ba, Kiros, Cho, Courville, Salakhutdinov, Zemel, Bengio, "Show, Attend and Tell: Neural
Image Caption Generation with Visual Attention", ICML 2015 ([1]). The encoder gives L = h x w
annotation vectors a_i (sec. 3.1.1); at step t the decoder LSTM, from its state h_{t-1}, scores
each of them (f_att, here additive: eq. 4 with [1]'s MLP) and attends to the grid
(``foveate.attention.grid``) for a context z_t; it reads (E y_{t-1}, z_t) and emits the next
token through the deep output layer p(y_t) ~ exp(L_o(E y_{t-1} + L_h h_t + L_z z_t)) (eq. 7).
The tokens are the digits of a row left to right and an end token; a row of n digits takes
n + 1 steps. The LSTM starts from MLPs of the mean annotation vector (sec. 3.1.2).

Departures from [1], each an argument: the encoder is trained from scratch with batch
normalisation (``batch_norm``; [1] used a pretrained VGG), and each annotation vector carries
its cell's (x, y) (``coordinates``), so that a reader can find the next digit to the right.

- ``attention="soft"``: z_t = beta_t sum_i alpha_ti a_i, with the gating scalar
  beta_t = sigmoid(f_beta(h_{t-1})) (sec. 4.2.1) and the doubly stochastic penalty
  lambda sum_i (1 - sum_t alpha_ti)^2 (eq. 14), which asks every cell to be attended about once.
- ``attention="hard"``: z_t is the annotation vector of one cell drawn from alpha_t
  (sec. 4.1, eq. 8-9); trained by the REINFORCE rule of eq. 12 with the reward
  log p(y | s, a), a moving-average baseline (b <- 0.9 b + 0.1 log p) and an entropy bonus;
  with probability ``expectation_prob`` a training row uses the expected context (soft,
  without the gate) instead of a draw (sec. 4.1, "0.5"). ``reward="step"`` rewards each step's
  draw by its own token's log-likelihood instead (a departure, with less variance).
- ``attention="none"``: no map; z_t is a fixed embedding of the whole grid, the same at every
  step (the show-and-tell baseline [1] compares with).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from foveate.attention.grid import grid_hard_attention, grid_items, grid_soft_attention
from foveate.attention.items import Scorer
from foveate.models import register_model
from foveate.models.interface import Reading, check_input
from foveate.models.reinforce import HardAttentionLoss

ATTENTION = ("soft", "hard", "none")


def tokens_from_labels(labels: Tensor, *, end: int) -> Tensor:
    """Labels (B, L), -1 past each row's end -> tokens (B, L + 1): the digits, the end token
    after the last one, and -1 (ignored) after it."""
    B, L = labels.shape
    padded = torch.cat([labels, labels.new_full((B, 1), -1)], 1)
    lengths = (labels >= 0).sum(1)
    padded[torch.arange(B, device=labels.device), lengths] = end
    return padded


class Encoder(nn.Module):
    """images (B, C, H, W) -> annotation vectors as a grid (B, D, H/8, W/8).

    Three stages of 3x3 convolutions, each followed by 2x2 max-pooling, then one more
    convolution: each cell sees about 50 pixels around it, enough for a 28-pixel digit.
    """

    def __init__(
        self, channels: int, widths: tuple[int, int, int, int], *, batch_norm: bool = True
    ) -> None:
        super().__init__()

        def conv(inputs: int, outputs: int) -> list[nn.Module]:
            norm = [nn.BatchNorm2d(outputs)] if batch_norm else []
            return [nn.Conv2d(inputs, outputs, 3, padding=1, bias=not batch_norm), *norm, nn.ReLU()]

        layers: list[nn.Module] = []
        previous = channels
        for i, width in enumerate(widths):
            layers += conv(previous, width)
            if i < 3:
                layers += [*conv(width, width), nn.MaxPool2d(2)]
            previous = width
        self.net = nn.Sequential(*layers)

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)


@dataclass
class ReaderOutput:
    """One reading of B rows over T = max_length + 1 steps.

    logits: (B, T, V) scores of the V = num_classes + 1 tokens (the last: the end token).
    maps: (B, T, h, w) the attention alpha_t over the feature grid (None without attention).
    log_probs: (B, T) log alpha of the drawn cells (hard attention when it drew), else None.
    entropy: (B, T) H(alpha_t) (hard attention), else None.
    """

    logits: Tensor
    maps: Tensor | None = None
    log_probs: Tensor | None = None
    entropy: Tensor | None = None


@dataclass
class ReaderLoss:
    """total: what is minimised; nll: -log p(y | a) per row; penalty: the doubly stochastic term
    (soft); reinforce: the score-function surrogate and entropy bonus (hard); correct: (B,) 1
    where the whole row was read right (greedy, from these logits)."""

    total: Tensor
    nll: Tensor
    penalty: Tensor
    reinforce: Tensor
    correct: Tensor


TINY = dict(encoder_widths=(4, 4, 8, 8), lstm_size=16, embed_size=8, attention_size=8)


@register_model(
    "reader_none", training="reader", data="rows", fixed={"attention": "none"}, tiny=TINY
)
@register_model(
    "reader_hard", training="reader", data="rows", fixed={"attention": "hard"}, tiny=TINY
)
@register_model("reader", training="reader", data="rows", fixed={"attention": "soft"}, tiny=TINY)
class Reader(nn.Module):
    """The show-attend-tell reader of rows of digits ([1]); see the module's docstring.

    Registered as 'reader' (soft attention), 'reader_hard' and 'reader_none'.

    Args:
        image_size: (H, W) of the rows.
        channels: image channels.
        num_classes: digit classes; the end token is number ``num_classes``.
        max_length: the most digits in a row; a reading has ``max_length + 1`` steps.
        attention: 'soft', 'hard' or 'none'.
        encoder_widths: filters of the encoder's four stages; D is the last.
        batch_norm: batch normalisation after every convolution of the encoder (a departure
            from [1], whose encoder was a pretrained VGG: from scratch, it trains faster).
        coordinates: append each cell's (x, y) to its annotation vector (a departure from [1]:
            reading in order needs to know where a cell lies, which convolutions hide).
        lstm_size: the decoder LSTM's units.
        embed_size: the token embedding E's size.
        attention_size: hidden units of f_att.
        gate: multiply the soft context by beta_t ([1] sec. 4.2.1).
        doubly_stochastic: lambda of [1] eq. 14 (soft attention).
        reward_weight: lambda_r of [1] eq. 12 (hard attention).
        entropy_weight: lambda_e of [1] eq. 12 (hard attention).
        baseline_decay: of the moving-average baseline of log p(y | s, a).
        expectation_prob: the chance that a training row of hard attention uses the expected
            context instead of a draw ([1] sec. 4.1: 0.5).
        reward: what rewards hard attention's draws: 'row', the log-likelihood of the whole row
            for every step's draw ([1] eq. 12), or 'step', each step's draw by the
            log-likelihood of its own token (less variance; a departure from [1]).
    """

    def __init__(
        self,
        *,
        image_size: tuple[int, int] = (36, 156),
        channels: int = 1,
        num_classes: int = 10,
        max_length: int = 5,
        attention: Literal["soft", "hard", "none"] = "soft",
        encoder_widths: tuple[int, int, int, int] = (16, 32, 64, 128),
        batch_norm: bool = True,
        coordinates: bool = True,
        lstm_size: int = 256,
        embed_size: int = 32,
        attention_size: int = 128,
        gate: bool = True,
        doubly_stochastic: float = 1.0,
        reward_weight: float = 1.0,
        entropy_weight: float = 0.01,
        baseline_decay: float = 0.9,
        expectation_prob: float = 0.5,
        reward: Literal["row", "step"] = "row",
    ) -> None:
        super().__init__()
        if attention not in ATTENTION:
            raise ValueError(f"attention must be one of {', '.join(ATTENTION)}, got {attention!r}")
        H, W = image_size
        if H < 8 or W < 8:
            raise ValueError(f"the reader needs rows of at least 8x8 pixels, got {H}x{W}")
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1, got {max_length}")
        if reward not in ("row", "step"):
            raise ValueError(f"reward must be 'row' or 'step', got {reward!r}")
        if not 0 <= expectation_prob <= 1:
            raise ValueError(f"expectation_prob must be in [0, 1], got {expectation_prob}")
        self.image_size, self.num_classes, self.max_length = (H, W), num_classes, max_length
        self.channels = channels
        self.attention = attention
        self.end = num_classes
        self.gate_on, self.doubly_stochastic = gate, doubly_stochastic
        self.expectation_prob, self.reward = expectation_prob, reward
        D = encoder_widths[-1] + (2 if coordinates else 0)
        self.grid = (H // 8, W // 8)
        self.encoder = Encoder(channels, encoder_widths, batch_norm=batch_norm)
        if coordinates:  # (2, h, w): x then y of each cell's centre, in [-1, 1]
            y, x = torch.meshgrid(
                torch.linspace(-1, 1, self.grid[0]),
                torch.linspace(-1, 1, self.grid[1]),
                indexing="ij",
            )
            self.register_buffer("coordinates", torch.stack([x, y]), persistent=False)
        else:
            self.coordinates = None
        self.embed = nn.Embedding(num_classes + 2, embed_size)  # the digits, end, start
        self.init_h = nn.Linear(D, lstm_size)  # f_init,h
        self.init_c = nn.Linear(D, lstm_size)  # f_init,c
        self.lstm = nn.LSTMCell(embed_size + D, lstm_size)
        if attention == "none":
            self.whole = nn.Linear(D * self.grid[0] * self.grid[1], D)
        else:
            self.f_att = Scorer(
                "additive", item_size=D, context_size=lstm_size, hidden=attention_size
            )
        self.f_beta = nn.Linear(lstm_size, 1) if gate and attention == "soft" else None
        # the deep output layer (eq. 7)
        self.L_h = nn.Linear(lstm_size, embed_size)
        self.L_z = nn.Linear(D, embed_size, bias=False)
        self.L_o = nn.Linear(embed_size, num_classes + 1)
        self.hard = (
            HardAttentionLoss(
                reward_weight=reward_weight, entropy_weight=entropy_weight, decay=baseline_decay
            )
            if attention == "hard"
            else None
        )

    @property
    def steps(self) -> int:
        return self.max_length + 1

    def check_input_size(self, height: int, width: int) -> None:
        if (height, width) != self.image_size:
            H, W = self.image_size
            raise ValueError(
                f"the reader was built for {H}x{W} rows, got {height}x{width}: set "
                "model_args.image_size"
            )

    def sample_noise(self, images: Tensor) -> Tensor:
        """The draws of one reading (B, T + 1) uniforms: column 0 decides whether a row takes
        the expected context (hard attention in training), column 1 + t draws step t's cell."""
        return torch.rand(images.shape[0], self.steps + 1, device=images.device)

    def forward(
        self,
        images: Tensor,
        noise: Tensor | None = None,
        *,
        tokens: Tensor | None = None,
        sample: bool | None = None,
    ) -> ReaderOutput:
        """Read rows: images (B, C, H, W) -> ``ReaderOutput`` over T = max_length + 1 steps.

        noise: (B, T + 1) the draws of hard attention (``sample_noise``; made here if None).
        tokens: (B, T) the true tokens (``tokens_from_labels``) for teacher forcing (each step
            reads the previous true token); None reads greedily (each step its own last answer).
        sample: hard attention draws cells (default: in training mode), and in training mode
            a row takes the expected context with ``expectation_prob``; False attends to the
            most likely cell.
        """
        check_input(self, images, ("B", self.channels, *self.image_size))
        features = self.encoder(images)  # (B, D, h, w)
        if self.coordinates is not None:
            where = self.coordinates.to(features.dtype).expand(len(features), -1, -1, -1)
            features = torch.cat([features, where], 1)
        B = features.shape[0]
        items = grid_items(features)  # (B, L, D)
        mean = items.mean(1)
        h, c = torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean))
        previous = torch.full((B,), self.num_classes + 1, device=images.device)  # start
        hard = self.attention == "hard"
        draw = hard and (self.training if sample is None else sample)
        if draw and noise is None:
            noise = self.sample_noise(images)
        expected = (
            noise[:, 0] < self.expectation_prob
            if draw and self.training
            else torch.zeros(B, dtype=torch.bool, device=images.device)
        )
        whole = self.whole(features.flatten(1)) if self.attention == "none" else None
        logits, maps, log_probs, entropies = [], [], [], []
        for t in range(self.steps):
            if whole is not None:
                z = whole
            else:
                scores = self.f_att(items, h).view(B, *features.shape[2:])  # (B, h, w)
                soft = grid_soft_attention(scores, features)
                maps.append(soft.map)
                z = soft.context
                if self.f_beta is not None:
                    z = torch.sigmoid(self.f_beta(h)) * z  # beta_t
                if hard:
                    cell = grid_hard_attention(
                        scores, features, sample=draw, uniform=noise[:, 1 + t] if draw else None
                    )
                    z = torch.where(expected[:, None], z, cell.context)
                    log_probs.append(cell.log_prob.masked_fill(expected, 0.0))
                    entropies.append(cell.entropy)
            e = self.embed(previous)
            h, c = self.lstm(torch.cat([e, z], -1), (h, c))
            step_logits = self.L_o(e + self.L_h(h) + self.L_z(z))  # eq. 7
            logits.append(step_logits)
            if tokens is not None:
                previous = tokens[:, t].clamp_min(0)  # after the end, any token: ignored
            else:
                previous = step_logits.argmax(-1)
        return ReaderOutput(
            logits=torch.stack(logits, 1),
            maps=torch.stack(maps, 1) if maps else None,
            log_probs=torch.stack(log_probs, 1) if log_probs else None,
            entropy=torch.stack(entropies, 1) if entropies else None,
        )

    def loss(self, output: ReaderOutput, tokens: Tensor) -> ReaderLoss:
        """The loss of a teacher-forced reading of rows with true ``tokens`` (B, T)."""
        B, T, V = output.logits.shape
        real = tokens >= 0  # (B, T)
        token_nll = F.cross_entropy(
            output.logits.reshape(B * T, V), tokens.clamp_min(0).reshape(-1), reduction="none"
        ).view(B, T)
        row_nll = (token_nll * real).sum(1)  # -log p(y | a), (B,)
        nll = row_nll.mean()
        zero = nll.new_zeros(())
        penalty, reinforce = zero, zero
        if output.maps is not None and self.attention == "soft" and self.doubly_stochastic:
            # eq. 14 over the steps each row reads (its digits and its end)
            attended = (output.maps * real[..., None, None]).sum(1)  # (B, h, w)
            penalty = self.doubly_stochastic * ((1 - attended) ** 2).sum((1, 2)).mean()
        if output.log_probs is not None and self.hard is not None:
            if self.reward == "row":
                reinforce = self.hard(
                    -row_nll,  # R = log p(y | s, a)
                    (output.log_probs * real).sum(1),
                    (output.entropy * real).sum(1),
                )
            else:  # each step's draw rewarded by its own token's log-likelihood
                reinforce = self.hard(
                    -token_nll[real], output.log_probs[real], output.entropy[real]
                )
        correct = ((output.logits.argmax(-1) == tokens) | ~real).all(1).float()
        return ReaderLoss(
            total=nll + penalty + reinforce,
            nll=nll,
            penalty=penalty,
            reinforce=reinforce,
            correct=correct,
        )

    def read(self, images: Tensor) -> tuple[Tensor, ReaderOutput]:
        """Greedy reading: images (B, C, H, W) -> the tokens read (B, T), -1 after the first
        end token (comparable with ``tokens_from_labels``), and the output (hard attention at
        its most likely cells); the logits keep their graph, for salience."""
        output = self(images, sample=False)
        answer = output.logits.argmax(-1)  # (B, T)
        after_end = ((answer == self.end).cumsum(1) - (answer == self.end).long()) > 0
        return answer.masked_fill(after_end, -1), output

    @torch.no_grad()
    def reading(self, images: Tensor) -> Reading:
        """The greedy reading of images (B, C, H, W) with each step's map in pixels (B, T, H, W):
        a cell's weight spread evenly over the 8x8 pixels it stands for."""
        tokens, output = self.read(images)
        names = tuple(str(k) for k in range(self.num_classes)) + ("end",)
        if output.maps is None:
            return Reading(tokens, names)
        B, T, h, w = output.maps.shape
        H, W = self.image_size
        pixels = output.maps.repeat_interleave(8, 2).repeat_interleave(8, 3) / 64
        pixels = F.pad(pixels, (0, W - 8 * w, 0, H - 8 * h))  # the rows and columns pooling drops
        return Reading(tokens, names, pixels)
