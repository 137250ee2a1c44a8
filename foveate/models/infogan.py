"""InfoGAN: a GAN whose generator's codes c are made readable from its images, and the plain GAN
of the same networks.

[1] Chen, Duan, Houthooft, Schulman, Sutskever, Abbeel, "InfoGAN: Interpretable Representation
    Learning by Information Maximizing Generative Adversarial Nets", NIPS 2016.
[2] The authors' released code, github.com/openai/InfoGAN (``infogan/models/regularized_gan.py``,
    ``launchers/run_mnist_exp.py``): the MNIST networks of [1] appendix C.1.
[3] Krause, Perona, Gomes, "Discriminative Clustering by Regularized Information Maximization",
    NIPS 2010: a classifier's mutual information with its inputs, H(mean p) - mean H(p), as an
    objective without labels (the optional ``real_information_weight``, not [1]'s).
[4] Sajjadi, Javanmardi, Tasdizen, "Regularization With Stochastic Transformations and
    Perturbations for Deep Semi-Supervised Learning", NIPS 2016: a classifier's predictions made
    alike over random transformations of one unlabelled image (the optional
    ``consistency_weight``, not [1]'s).
[5] Miyato, Maeda, Koyama, Ishii, "Virtual Adversarial Training: A Regularization Method for
    Supervised and Semi-Supervised Learning", TPAMI 2018, eq. 10-14: the move of norm epsilon
    that most changes a classifier's prediction, found by one power iteration; Hu, Miyato,
    Tokui, Matsumoto, Sugiyama, "Learning Discrete Representations via Information Maximizing
    Self-Augmented Training" (IMSAT), ICML 2017, pair it with [3]'s term to cluster digits
    without labels (the optional ``consistency_move: adversarial``, not [1]'s).
[6] Ji, Henriques, Vedaldi, "Invariant Information Clustering for Unsupervised Image
    Classification and Segmentation", ICCV 2019, eq. 1-3: the mutual information between a
    clustering's assignments of an image and of the same image transformed, over the batch's
    joint distribution of the pairs (the optional ``consistency_measure:
    paired_information``, not [1]'s).

Parts, named as in [1] sec. 4-5:
    z           incompressible noise, 62 dimensions ~ Uniform(-1, 1) ([2]'s ``Uniform(62)``)
    c           the latent codes: c1 ~ Cat(K = 10, p = 0.1) (``OneHotCategorical``), and c2, c3
                ~ Uniform(-1, 1)                                              sec. 7.2
    G(z, c)     the generator: FC 1024 - BN - ReLU, FC 7 x 7 x 128 - BN - ReLU, deconv 4 x 4
                stride 2 to 64 - BN - ReLU, deconv 4 x 4 stride 2 to 1, sigmoid   app. C.1
    D(x)        the discriminator: conv 4 x 4 stride 2 64 - lReLU, conv 4 x 4 stride 2 128 - BN -
                lReLU, FC 1024 - BN - lReLU (its shared layers, ``Trunk``), then FC -> 1, the
                logit of x being real                                         app. C.1
    Q(c | x)    the auxiliary distribution, sharing D's shared layers: FC 128 - BN - lReLU, then
                the logits of c1 and the means of a factored Gaussian for c2, c3   sec. 5
The objective is min_{G,Q} max_D V(D, G) - lambda L_I(G, Q) (eq. 6), with the variational lower
bound of the mutual information I(c; G(z, c)) (eq. 4, 5)

    L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)} [log Q(c | x)] + H(c)  <=  I(c; G(z, c)),

estimated by Monte Carlo over each batch: for c1, L_I <= H(c1) = ln 10 nats, reached when Q names
every c1 from G's image. lambda is 1 for c1 and smaller for the continuous codes, whose L_I
holds a differential entropy ([1] sec. 7: "a smaller lambda is typically used").

Players (``information_to_players``): in InfoGAN ('infogan') -lambda L_I trains G, Q's head and
D's shared layers (the part of Q that D holds); in the plain GAN ('gan') it trains Q's head
alone, over D's features of G's images held fixed, so that Q still learns to read c and its L_I
measures how much of c a GAN's images carry without being asked to ([1] fig. 1).

Task-specific codes (Drozdov & Evtimova's variant of semi-supervised InfoGAN): where a real image
comes with its digit, ``supervised_weight`` times the cross-entropy of Q(c1 | x) with c1 = the
digit trains Q (and, in InfoGAN, D's shared layers), so that code value k comes to mean digit k.

Departures from [2], each marked where it is made: Q's own head is stepped with G (G's
optimiser, ``generator_parameters``), where [2] steps all of Q with D's; the leaky ReLUs' slope is
[1]'s 0.1 ([2]'s default is 0.01); batch norm normalises by running statistics in evaluation
(``_init_weights``), where [2] samples with each batch's moments.

The two players' losses are written once here (``discriminator_loss``, ``generator_loss``); a
training module steps each with its own optimiser (``foveate.training.adversarial``).
``forward``/``loss`` give both at once, for the library's checks and for use without Lightning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Normal, OneHotCategorical, Uniform

from foveate.attention.transformer import crop
from foveate.models import register_model
from foveate.models.interface import Drawing, check_input, check_square_size

TINY = dict(
    noise_size=4,
    categories=3,
    generator_hidden=16,
    width=4,
    discriminator_hidden=16,
    q_hidden=8,
)


@dataclass
class Codes:
    """The latent codes c of B images.

    categorical: (B, K) c1 one-hot.
    continuous: (B, M) c2, c3, ... each in [-1, 1] when drawn from the prior (a sweep may go
        beyond, as [1] fig. 2 does to -2..2).
    """

    categorical: Tensor
    continuous: Tensor

    def flat(self) -> Tensor:
        """(B, K + M): c as G reads it, c1 one-hot then the continuous codes."""
        return torch.cat([self.categorical, self.continuous], -1)


@dataclass
class CodePosterior:
    """Q(c | x) for B images, a factored distribution ([1] sec. 5).

    categorical: ``OneHotCategorical`` over c1, batch (B,), event (K,).
    continuous: ``Normal`` over c2, c3, ..., batch (B, M): each code's mean, and a standard
        deviation fixed at 1 ([2]'s ``fix_std=True``) or learned.
    """

    categorical: OneHotCategorical
    continuous: Normal


@runtime_checkable
class HasCodes(Protocol):
    """A generator with codes one can set and read back.

    ``generate_with_codes(noise, codes)``: noise z (B, Z) and ``Codes`` -> images (B, C, H, W)
    in [0, 1]; ``infer_codes(images)`` -> ``CodePosterior`` Q(c | x); ``draw_latents(count,
    generator=...)`` -> z (count, Z) and ``Codes`` from their priors.
    """

    categories: int
    continuous_codes: int

    def generate_with_codes(self, noise: Tensor, codes: Codes) -> Tensor: ...

    def infer_codes(self, images: Tensor) -> CodePosterior: ...

    def draw_latents(
        self, count: int, *, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Codes]: ...


CONSISTENCY_MOVES = ("jitter", "adversarial")
CONSISTENCY_MEASURES = ("kl", "paired_information")
# The power iteration's probe, a move small beside epsilon, so that the KL is near its quadratic
# form ([5] sec. 3.3). [5]'s 1e-6 is lost in float32: spread over 784 pixels it is below the
# rounding of a pixel near 1, so that the moved image reads exactly as the image, and the slope
# is zero.
POWER_ITERATION_XI = 0.1


def information_bound(
    posterior: torch.distributions.Distribution,
    codes: Tensor,
    prior: torch.distributions.Distribution,
) -> Tensor:
    """L_I(G, Q) for each image, the Monte Carlo term of eq. 5: log Q(c | x) + H(c).

    posterior: Q(c | x) with batch shape (B, ...); codes: the c each image was drawn with, in
    the posterior's event shape (B, ..., event); prior: P(c), whose entropy H(c) is a constant
    (ln K for a uniform c1; ln 2 per code for Uniform(-1, 1), a differential entropy). Returns
    (B, ...) in nats. Its mean over images drawn from the prior is at most H(c) for a discrete c
    (log Q <= 0), and equals H(c) when Q puts all its mass on the c each image was drawn with.
    """
    return posterior.log_prob(codes) + prior.entropy()


def adversarial_loss(logits: Tensor, real: bool) -> Tensor:
    """The GAN's cross-entropy of D's logits (B,) against 'real' (1) or 'fake' (0): -log D(x) or
    -log(1 - D(x)), averaged. The generator's loss is its non-saturating form, -log D(G(z, c))
    ([2], and [1] via Goodfellow et al. 2014 sec. 3)."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def _init_weights(model: nn.Module) -> None:
    """Zero biases, batch norm scales 1; He-normal weights for the layers whose outputs are batch
    normalised, N(0, 0.02) for the others, as [2] initialises every layer.

    Departure from [2]: batch norm's running statistics start at mean 0 and variance 1, and
    evaluation normalises by them. N(0, 0.02) weights give pre-normalisation variances near 0.01,
    so that G in eval mode draws blank images for its first hundreds of steps: in one probe, two
    steps in, eval-mode images spread 0.3% as far apart as real digits with N(0, 0.02) weights,
    8% with He weights before batch norm (training mode: 17% with either). Training normalises by
    each batch's own moments; only the size of Adam's steps relative to the weights differs.
    """
    layers = [
        m for m in model.modules() if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d)
    ]
    normalised = set()
    for block in model.modules():
        if isinstance(block, nn.Sequential):
            children = list(block)
            for layer, after in zip(children, children[1:], strict=False):
                if isinstance(after, nn.BatchNorm1d | nn.BatchNorm2d):
                    normalised.add(layer)
    for layer in layers:
        if layer in normalised:
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        else:
            nn.init.normal_(layer.weight, 0.0, 0.02)
        nn.init.zeros_(layer.bias)
    for norm in model.modules():
        if isinstance(norm, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.ones_(norm.weight)
            nn.init.zeros_(norm.bias)


class Generator(nn.Module):
    """G(z, c) of [1] app. C.1: (B, Z + K + M) -> images (B, C, S, S) in [0, 1]."""

    def __init__(
        self, *, inputs: int, hidden: int, width: int, image_size: int, channels: int
    ) -> None:
        super().__init__()
        self.side = image_size // 4
        self.width = width
        self.fully_connected = nn.Sequential(
            nn.Linear(inputs, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * width * self.side**2),
            nn.BatchNorm1d(2 * width * self.side**2),
            nn.ReLU(),
        )
        self.deconvolutions = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),  # S/4 -> S/2
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1),  # S/2 -> S
        )

    def forward(self, latent: Tensor) -> Tensor:
        """latent (B, Z + K + M): z then c -> images (B, C, S, S)."""
        h = self.fully_connected(latent).view(-1, 2 * self.width, self.side, self.side)
        return torch.sigmoid(self.deconvolutions(h))


class Trunk(nn.Module):
    """D's layers that Q shares ([1] sec. 5, app. C.1): images (B, C, S, S) -> (B, hidden)."""

    def __init__(
        self, *, channels: int, width: int, hidden: int, image_size: int, leak: float
    ) -> None:
        super().__init__()
        side = image_size // 4
        self.layers = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1),  # S -> S/2
            nn.LeakyReLU(leak),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),  # S/2 -> S/4
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(leak),
            nn.Flatten(),
            nn.Linear(2 * width * side**2, hidden),
            nn.BatchNorm1d(hidden),
            nn.LeakyReLU(leak),
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.layers(images)


class QHead(nn.Module):
    """Q's own layers over D's shared features (B, hidden): FC - BN - lReLU, then the
    parameters of Q(c | x) (``CodePosterior``)."""

    def __init__(
        self,
        *,
        features: int,
        hidden: int,
        categories: int,
        continuous_codes: int,
        learn_std: bool,
        leak: float,
    ) -> None:
        super().__init__()
        self.categories, self.continuous_codes, self.learn_std = (
            categories,
            continuous_codes,
            learn_std,
        )
        outputs = categories + continuous_codes * (2 if learn_std else 1)
        self.layers = nn.Sequential(
            nn.Linear(features, hidden),
            nn.BatchNorm1d(hidden),
            nn.LeakyReLU(leak),
            nn.Linear(hidden, outputs),
        )

    def forward(self, features: Tensor) -> CodePosterior:
        out = self.layers(features)  # (B, K + M [+ M])
        K, M = self.categories, self.continuous_codes
        logits, mean = out[:, :K], out[:, K : K + M]
        if self.learn_std:
            # A floor on the std: a Gaussian that narrows without limit makes log Q(c | x)
            # unbounded, and the information term then outweighs the GAN.
            std = out[:, K + M :].clamp(-2.5, 2.5).exp()
        else:
            std = torch.ones_like(mean)
        return CodePosterior(OneHotCategorical(logits=logits), Normal(mean, std))


@dataclass
class InfoGANOutput:
    """One pass: B real images, B images G drew, and what they were drawn from.

    images: (B, C, H, W) the real images x. fake: (B, C, H, W) G(z, c) in [0, 1].
    noise: (B, Z) z. codes: the ``Codes`` c of the fake images.
    """

    images: Tensor
    fake: Tensor
    noise: Tensor
    codes: Codes


@dataclass
class DiscriminatorLoss:
    """D's loss, what D's optimiser minimises (scalars, means over the batch; nats).

    total: the sum of the terms below.
    adversarial: -log D(x) - log(1 - D(G(z, c))).
    information: -lambda L_I over G's images held fixed, through D's shared layers (InfoGAN);
        0 for the plain GAN.
    supervised: the weighted cross-entropy of Q(c1 | x) with the digits of the labelled real
        images of the batch (InfoGAN with labels); else 0.
    clustering: -real_information_weight x the information of Q's c1 over the batch's real
        images (``code_information``), through D's shared layers; 0 where the weight is.
    consistency: consistency_weight x KL(Q(c1 | x) || Q(c1 | x moved)) over the batch's real
        images, each moved at random (``jitter``), through D's shared layers; 0 where the weight is.
    real_probability, fake_probability: D's mean probability that a real, a fake image is real.
    real_features: (B, hidden) D's shared features of the real images (not a loss: what the
        generator's step reuses for Q's supervised term).
    moved_features: (B, hidden) D's shared features of the moved real images, where the
        consistency term is on (else None), for the generator's step likewise.
    """

    total: Tensor
    adversarial: Tensor
    information: Tensor
    supervised: Tensor
    clustering: Tensor
    consistency: Tensor
    real_probability: Tensor
    fake_probability: Tensor
    real_features: Tensor
    moved_features: Tensor | None = None


@dataclass
class GeneratorLoss:
    """G's and Q's loss, what their optimiser minimises (scalars; nats).

    total: the sum of the terms below.
    adversarial: -log D(G(z, c)), the non-saturating generator loss.
    information: -(lambda_1 L_I(c1) + lambda_2 sum_j L_I(c_j)), over G's images.
    supervised: the weighted cross-entropy of Q(c1 | x) with the labelled real images' digits
        (0 without labels).
    clustering: -real_information_weight x the information of Q's c1 over the real images,
        reaching Q's head (0 where the weight is).
    consistency: consistency_weight x KL(Q(c1 | x) || Q(c1 | x moved)), reaching Q's head (0
        where the weight is).
    mi_bound_nats: L_I for c1 alone, H(c1) + E log Q(c1 | G(z, c)) <= ln K (not weighted).
    continuous_bound_nats: L_I of the continuous codes, summed over them (a differential
        entropy plus E log Q: it may be negative).
    """

    total: Tensor
    adversarial: Tensor
    information: Tensor
    supervised: Tensor
    clustering: Tensor
    consistency: Tensor
    mi_bound_nats: Tensor
    continuous_bound_nats: Tensor


@dataclass
class InfoGANLoss:
    """Both players' losses on one batch (scalars): ``total`` = discriminator + generator, whose
    gradient reaches every parameter (each optimiser steps on its own player's part: see
    ``foveate.training.adversarial``); the other fields as in ``DiscriminatorLoss`` and
    ``GeneratorLoss``."""

    total: Tensor
    discriminator: Tensor
    generator: Tensor
    information: Tensor
    supervised: Tensor
    mi_bound_nats: Tensor
    continuous_bound_nats: Tensor
    real_probability: Tensor
    fake_probability: Tensor


@register_model(
    "gan",
    training="adversarial",
    data="few_labels",
    tiny=TINY,
    fixed={"information_to_players": False},
)
@register_model(
    "infogan",
    training="adversarial",
    data="few_labels",
    tiny=TINY,
    fixed={"information_to_players": True},
)
class InfoGAN(nn.Module):
    """InfoGAN of [1] ('infogan') and the plain GAN of the same networks ('gan').

    Args, [1] app. C.1's MNIST settings by default:
        image_size: side S of the square images, a multiple of 4 (28 for MNIST).
        channels: C.
        noise_size: Z, dimensions of z ([1]: 62).
        categories: K, values of c1 ([1]: 10).
        continuous_codes: M, continuous codes c2, c3, ... ([1]: 2).
        generator_hidden: units of G's first layer ([1]: 1024).
        width: channels of G's last hidden map and of D's first convolution ([1]: 64; the
            layers between have twice as many, 128).
        discriminator_hidden: units of D's last shared layer ([1]: 1024).
        q_hidden: units of Q's own hidden layer ([1]: 128).
        leak: slope of the leaky ReLUs ([1] app. C.1: 0.1; [2]'s default 0.01).
        learn_continuous_std: Q's Gaussians over c2, c3 learn their standard deviation; False
            fixes it at 1 ([2]'s ``fix_std=True``), so that log Q(c | x) is a squared error and
            cannot grow without bound as the std shrinks.
        categorical_weight: lambda of c1 in the objective ([1] sec. 7: 1).
        continuous_weight: lambda of the continuous codes ([1] sec. 7: smaller than c1's).
        supervised_weight: weight of the cross-entropy of Q(c1 | x) on labelled real images.
        real_information_weight: weight of a term that is not [1]'s: Q's c1 as a clustering of
            the real images, H(mean Q(c1 | x)) - mean H(Q(c1 | x)) over each batch, maximised
            by D's shared layers and Q's head ([3]'s regularised information maximisation,
            without labels); 0 ([1]) leaves it out.
        consistency_weight: weight of another term that is not [1]'s: KL(Q(c1 | x) || Q(c1 |
            x moved)) over each batch's real images, the first held fixed, so that Q names a
            digit alike when it is moved a little ([4]); 0 ([1]) leaves it out.
        consistency_jitter: how far a real image is moved for that term: a window of scale
            1 +- j and centre +- j (half-widths of the image; ``foveate.attention.transformer
            .crop``), drawn uniformly for each image at each step.
        consistency_move: how the real image is moved for that term: 'jitter' (above) or
            'adversarial', the pixels moved by ``adversarial_epsilon`` (L2 norm over the image)
            in the direction that most changes Q(c1 | x), found by one power iteration ([5]).
        adversarial_epsilon: that move's norm ([5]'s MNIST setting: 2).
        consistency_measure: what the consistency term measures between Q(c1 | x) and Q(c1 | x
            moved): 'kl' (above: the KL, the first held fixed) or 'paired_information', minus
            the mutual information of the pairs (c1 of x, c1 of x moved) under the batch's joint
            distribution (``paired_information``, [6]): both readings trained, made alike and
            sure, and even over the batch, so that it needs no ``real_information_weight``.
        information_to_players: whether -lambda L_I (and the supervised term) reaches G and D's
            shared layers (InfoGAN), or Q's head alone (the plain GAN). Fixed by the registered
            name.
    """

    def __init__(
        self,
        *,
        image_size: int = 28,
        channels: int = 1,
        noise_size: int = 62,
        categories: int = 10,
        continuous_codes: int = 2,
        generator_hidden: int = 1024,
        width: int = 64,
        discriminator_hidden: int = 1024,
        q_hidden: int = 128,
        leak: float = 0.1,
        learn_continuous_std: bool = False,
        categorical_weight: float = 1.0,
        continuous_weight: float = 0.1,
        supervised_weight: float = 1.0,
        real_information_weight: float = 0.0,
        consistency_weight: float = 0.0,
        consistency_jitter: float = 0.1,
        consistency_move: str = "jitter",
        adversarial_epsilon: float = 2.0,
        consistency_measure: str = "kl",
        information_to_players: bool = True,
    ) -> None:
        super().__init__()
        if image_size < 4 or image_size % 4:
            raise ValueError(f"InfoGAN's image_size must be a multiple of 4, got {image_size}")
        for name, value in [
            ("channels", channels),
            ("categories", categories),
            ("generator_hidden", generator_hidden),
            ("width", width),
            ("discriminator_hidden", discriminator_hidden),
            ("q_hidden", q_hidden),
        ]:
            if value < 1:
                raise ValueError(f"InfoGAN needs {name} >= 1, got {value}")
        if noise_size < 0 or continuous_codes < 0:
            raise ValueError("noise_size and continuous_codes must be at least 0")
        for name, value in [
            ("categorical_weight", categorical_weight),
            ("continuous_weight", continuous_weight),
            ("supervised_weight", supervised_weight),
            ("real_information_weight", real_information_weight),
            ("consistency_weight", consistency_weight),
        ]:
            if value < 0:
                raise ValueError(f"{name} must be at least 0, got {value}")
        self.image_size, self.channels = image_size, channels
        self.noise_size, self.categories, self.continuous_codes = (
            noise_size,
            categories,
            continuous_codes,
        )
        self.categorical_weight, self.continuous_weight = categorical_weight, continuous_weight
        self.supervised_weight = supervised_weight
        self.real_information_weight = real_information_weight
        if not 0 <= consistency_jitter < 1:
            raise ValueError(f"consistency_jitter must be in [0, 1), got {consistency_jitter}")
        self.consistency_weight, self.consistency_jitter = consistency_weight, consistency_jitter
        if consistency_move not in CONSISTENCY_MOVES:
            raise ValueError(
                f"consistency_move must be one of {', '.join(CONSISTENCY_MOVES)}, "
                f"got {consistency_move!r}"
            )
        if not adversarial_epsilon > 0:
            raise ValueError(f"adversarial_epsilon must be positive, got {adversarial_epsilon}")
        self.consistency_move, self.adversarial_epsilon = consistency_move, adversarial_epsilon
        if consistency_measure not in CONSISTENCY_MEASURES:
            raise ValueError(
                f"consistency_measure must be one of {', '.join(CONSISTENCY_MEASURES)}, "
                f"got {consistency_measure!r}"
            )
        self.consistency_measure = consistency_measure
        self.information_to_players = information_to_players
        self.generator = Generator(
            inputs=noise_size + categories + continuous_codes,
            hidden=generator_hidden,
            width=width,
            image_size=image_size,
            channels=channels,
        )
        self.trunk = Trunk(
            channels=channels,
            width=width,
            hidden=discriminator_hidden,
            image_size=image_size,
            leak=leak,
        )
        self.discriminator_head = nn.Linear(discriminator_hidden, 1)
        self.Q = QHead(
            features=discriminator_hidden,
            hidden=q_hidden,
            categories=categories,
            continuous_codes=continuous_codes,
            learn_std=learn_continuous_std,
            leak=leak,
        )
        _init_weights(self)

    # The players' parameters, each stepped by its own optimiser.
    def discriminator_parameters(self) -> list[nn.Parameter]:
        """D's: its shared layers and its head."""
        return [*self.trunk.parameters(), *self.discriminator_head.parameters()]

    def generator_parameters(self) -> list[nn.Parameter]:
        """G's and Q's own head's (departure: [2] steps Q with D's optimiser; here Q learns at
        G's pace, as its objective min_{G,Q} puts it beside G)."""
        return [*self.generator.parameters(), *self.Q.parameters()]

    def check_input_size(self, height: int, width: int) -> None:
        check_square_size("InfoGAN", self.image_size, height, width)

    # Priors.
    def categorical_prior(self) -> OneHotCategorical:
        """P(c1): uniform over K values."""
        probs = self.discriminator_head.weight.new_full((self.categories,), 1 / self.categories)
        return OneHotCategorical(probs=probs)

    def continuous_prior(self) -> Uniform:
        """P(c_j) = Uniform(-1, 1), for each continuous code (and for z)."""
        one = self.discriminator_head.weight.new_ones(())
        return Uniform(-one, one)

    def draw_latents(
        self, count: int, *, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Codes]:
        """z (count, Z) ~ Uniform(-1, 1) and c from its prior, drawn with ``generator``.

        z is uniform as in [2] (``Uniform(62)``); [1] does not name its distribution.
        """
        device = self.discriminator_head.weight.device

        def uniform(*shape: int) -> Tensor:
            return torch.rand(*shape, generator=generator, device=device) * 2 - 1

        noise = uniform(count, self.noise_size)
        values = torch.randint(self.categories, (count,), generator=generator, device=device)
        categorical = F.one_hot(values, self.categories).float()
        return noise, Codes(categorical, uniform(count, self.continuous_codes))

    def sample_noise(self, images: Tensor) -> Tensor:
        """The draws of one pass over images (B, ...): (B, Z + K + M), z then c (one-hot c1),
        G's input (``split_latent`` parts it)."""
        noise, codes = self.draw_latents(len(images))
        return torch.cat([noise, codes.flat()], -1)

    def split_latent(self, latent: Tensor) -> tuple[Tensor, Codes]:
        """(B, Z + K + M) -> z (B, Z) and ``Codes``."""
        Z, K = self.noise_size, self.categories
        return latent[:, :Z], Codes(latent[:, Z : Z + K], latent[:, Z + K :])

    # G, D and Q.
    def generate_with_codes(self, noise: Tensor, codes: Codes) -> Tensor:
        """G(z, c): z (B, Z), c -> images (B, C, S, S) in [0, 1]."""
        return self.generator(torch.cat([noise, codes.flat()], -1))

    def discriminate(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """images (B, C, S, S) -> D's logits (B,) of each being real, and the shared features
        (B, hidden) Q reads."""
        features = self.trunk(images)
        return self.discriminator_head(features).squeeze(-1), features

    def infer_codes(self, images: Tensor) -> CodePosterior:
        """Q(c | x) for images (B, C, S, S)."""
        return self.Q(self.trunk(images))

    def generate(self, count: int, *, generator: torch.Generator | None = None) -> Drawing:
        """``count`` images of G from z and c drawn from their priors, as a one-step
        ``Drawing`` (canvases (count, 1, C, S, S))."""
        noise, codes = self.draw_latents(count, generator=generator)
        with torch.no_grad():
            return Drawing(self.generate_with_codes(noise, codes)[:, None])

    # The players' losses.
    def information_terms(self, posterior: CodePosterior, codes: Codes) -> tuple[Tensor, ...]:
        """-lambda L_I to minimise, and the bounds of c1 and of the continuous codes (nats,
        batch means; eq. 5)."""
        categorical = information_bound(
            posterior.categorical, codes.categorical, self.categorical_prior()
        ).mean()
        continuous = (
            information_bound(posterior.continuous, codes.continuous, self.continuous_prior())
            .sum(-1)
            .mean()
        )
        loss = -(self.categorical_weight * categorical + self.continuous_weight * continuous)
        return loss, categorical, continuous

    def supervised_term(self, posterior: CodePosterior, labels: Tensor | None) -> Tensor:
        """supervised_weight x the cross-entropy -log Q(c1 = y | x) over the images whose label y
        is known (labels (B,), -1 where unknown), averaged over them; 0 where none is."""
        if labels is None or self.supervised_weight == 0:
            return posterior.categorical.logits.new_zeros(())
        known = labels >= 0
        if int(labels.max()) >= self.categories:
            raise ValueError(
                f"a labelled image of class {int(labels.max())}: c1 has only {self.categories} "
                "values (task-specific codes need as many values as classes)"
            )
        target = F.one_hot(labels.clamp(min=0), self.categories).float()
        log_q = posterior.categorical.log_prob(target)  # (B,)
        # A mean over the known rows, by masking (no data-dependent shapes).
        return -self.supervised_weight * (log_q * known).sum() / known.sum().clamp(min=1)

    def clustering_term(self, posterior: CodePosterior) -> Tensor:
        """-real_information_weight x ``code_information`` of Q's c1 over a batch of real images:
        Q made sure of each image and even over the batch ([3]); 0 where the weight is."""
        if self.real_information_weight == 0:
            return posterior.categorical.logits.new_zeros(())
        return -self.real_information_weight * code_information(posterior.categorical.probs)

    def jitter(self, images: Tensor) -> Tensor:
        """images (B, C, S, S), each read through a window of scale 1 +- j and centre +- j drawn
        uniformly (j = ``consistency_jitter``; bilinear, zeros outside): the same digit moved,
        grown or shrunk a little."""
        j = self.consistency_jitter
        z_where = (torch.rand(len(images), 3, device=images.device) * 2 - 1) * j
        z_where[:, 0] += 1  # the scale about 1, the centre about 0
        return crop(images, z_where.to(images.dtype), size=self.image_size)

    def adversarial_move(self, images: Tensor, real: CodePosterior) -> Tensor:
        """images (B, C, S, S) each moved by ``adversarial_epsilon`` (L2 over its pixels) in the
        direction that most changes Q(c1 | x) from ``real`` (Q's reading of them as they are),
        by one power iteration from a random direction ([5] eq. 12-14). The move is a constant:
        no gradient reaches the networks through its finding."""

        def unit(d: Tensor) -> Tensor:
            return d / d.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, *[1] * (d.dim() - 1))

        # Found with gradients even where the caller has none (validation and test run under
        # inference mode), from copies of its tensors that autograd may keep.
        with torch.inference_mode(False), torch.enable_grad():
            seen = images.detach().clone()
            target = real.categorical.logits.detach().clone().log_softmax(-1)
            probe = (POWER_ITERATION_XI * unit(torch.randn_like(seen))).requires_grad_(True)
            log_moved = self.Q(self.trunk(seen + probe)).categorical.logits
            kl = (target.exp() * (target - log_moved.log_softmax(-1))).sum(-1).sum()
            (slope,) = torch.autograd.grad(kl, probe)
        return images + self.adversarial_epsilon * unit(slope)

    def moved(self, images: Tensor, real: CodePosterior) -> Tensor:
        """The real images (B, C, S, S) moved for the consistency term, by ``consistency_move``;
        ``real``: Q's reading of them as they are."""
        if self.consistency_move == "adversarial":
            return self.adversarial_move(images, real)
        return self.jitter(images)

    def consistency_term(self, real: CodePosterior, moved: CodePosterior) -> Tensor:
        """consistency_weight x KL(Q(c1 | x) || Q(c1 | x moved)), batch mean, Q(c1 | x) held
        fixed: the moved image is pulled towards what Q says of the image as it is ([4]); or,
        with ``consistency_measure: paired_information``, consistency_weight x -I(c1 of x; c1
        of x moved) over the batch, both readings trained ([6])."""
        if self.consistency_measure == "paired_information":
            pairs = paired_information(real.categorical.probs, moved.categorical.probs)
            return -self.consistency_weight * pairs
        target = real.categorical.probs.detach()
        log_target = real.categorical.logits.detach().log_softmax(-1)
        log_moved = moved.categorical.logits.log_softmax(-1)
        kl = (target * (log_target - log_moved)).sum(-1).mean()
        return self.consistency_weight * kl

    def discriminator_loss(
        self, images: Tensor, fake: Tensor, codes: Codes, labels: Tensor | None = None
    ) -> DiscriminatorLoss:
        """D's loss over real images (B, C, S, S) and G's images ``fake`` (B', C, S, S) drawn
        with ``codes`` (held fixed: no gradient reaches G). In InfoGAN, Q's terms (-lambda L_I
        on the fake images, the supervised cross-entropy on labelled real ones) train D's shared
        layers too, the part of Q that D holds; D's optimiser also leaves Q's head alone."""
        fake = fake.detach()
        real_logits, real_features = self.discriminate(images)
        fake_logits, fake_features = self.discriminate(fake)
        adversarial = adversarial_loss(real_logits, True) + adversarial_loss(fake_logits, False)
        zero = adversarial.new_zeros(())
        information = supervised = clustering = consistency = zero
        moved_features = None
        if self.information_to_players:
            information, _, _ = self.information_terms(self.Q(fake_features), codes)
            on_real = self.Q(real_features)
            supervised = self.supervised_term(on_real, labels)
            clustering = self.clustering_term(on_real)
            if self.consistency_weight > 0:
                moved_features = self.trunk(self.moved(images, on_real))
                consistency = self.consistency_term(on_real, self.Q(moved_features))
        return DiscriminatorLoss(
            total=adversarial + information + supervised + clustering + consistency,
            adversarial=adversarial,
            information=information,
            supervised=supervised,
            clustering=clustering,
            consistency=consistency,
            real_probability=torch.sigmoid(real_logits).mean().detach(),
            fake_probability=torch.sigmoid(fake_logits).mean().detach(),
            real_features=real_features,
            moved_features=moved_features,
        )

    def generator_loss(
        self,
        fake: Tensor,
        codes: Codes,
        real_features: Tensor | None = None,
        labels: Tensor | None = None,
        moved_features: Tensor | None = None,
    ) -> GeneratorLoss:
        """G's and Q's loss over G's images ``fake`` (B, C, S, S), drawn with ``codes``.

        real_features, labels: D's shared features (B, hidden) of the real images of the step,
            and their labels (B,) (-1 where unknown), for Q's supervised term; held fixed here.
        moved_features: D's shared features (B, hidden) of the same real images moved
            (``DiscriminatorLoss.moved_features``), for Q's consistency term; held fixed here.
        In the plain GAN, Q reads D's features of the fake images held fixed: L_I trains Q's
        head alone, never G.
        """
        logits, features = self.discriminate(fake)
        adversarial = adversarial_loss(logits, True)
        read = features if self.information_to_players else features.detach()
        information, categorical, continuous = self.information_terms(self.Q(read), codes)
        supervised = clustering = consistency = adversarial.new_zeros(())
        if real_features is not None:
            on_real = self.Q(real_features.detach())
            supervised = self.supervised_term(on_real, labels)
            if self.information_to_players:
                clustering = self.clustering_term(on_real)
                if moved_features is not None and self.consistency_weight > 0:
                    on_moved = self.Q(moved_features.detach())
                    consistency = self.consistency_term(on_real, on_moved)
        return GeneratorLoss(
            total=adversarial + information + supervised + clustering + consistency,
            adversarial=adversarial,
            information=information,
            supervised=supervised,
            clustering=clustering,
            consistency=consistency,
            mi_bound_nats=categorical.detach(),
            continuous_bound_nats=continuous.detach(),
        )

    def forward(self, images: Tensor, latent: Tensor | None = None) -> InfoGANOutput:
        """images x (B, C, S, S) in [0, 1]; latent (B, Z + K + M) from ``sample_noise`` (drawn
        here if None) -> the real images, and B images of G."""
        check_input(self, images, ("B", self.channels, self.image_size, self.image_size))
        latent = latent if latent is not None else self.sample_noise(images)
        noise, codes = self.split_latent(latent)
        return InfoGANOutput(images, self.generate_with_codes(noise, codes), noise, codes)

    def loss(self, output: InfoGANOutput, labels: Tensor | None = None) -> InfoGANLoss:
        """Both players' losses on one pass (labels (B,): -1 where unknown, or None); ``total``
        is their sum, whose gradient reaches every parameter. Training steps each player on its
        own part, D first (``foveate.training.adversarial``)."""
        d = self.discriminator_loss(output.images, output.fake, output.codes, labels)
        g = self.generator_loss(
            output.fake, output.codes, d.real_features, labels, d.moved_features
        )
        return InfoGANLoss(
            total=d.total + g.total,
            discriminator=d.total,
            generator=g.total,
            information=g.information,
            supervised=g.supervised,
            mi_bound_nats=g.mi_bound_nats,
            continuous_bound_nats=g.continuous_bound_nats,
            real_probability=d.real_probability,
            fake_probability=d.fake_probability,
        )


def code_information(probabilities: Tensor) -> Tensor:
    """How much Q's c1 says about real images, from Q(c1 | x) of N images (N, K): the mutual
    information of (x, c1) under Q, H(mean_x Q(c1 | x)) - mean_x H(Q(c1 | x)), in nats (0..ln K):
    ln K when Q is sure of each image and uses every value equally often, 0 when it says the same
    of every image. No labels: a measure of Q as a clustering of real images."""
    eps = torch.finfo(probabilities.dtype).tiny
    marginal = probabilities.mean(0)
    h_marginal = -(marginal * (marginal + eps).log()).sum()
    h_each = -(probabilities * (probabilities + eps).log()).sum(-1).mean()
    return h_marginal - h_each


def paired_information(probabilities: Tensor, moved: Tensor) -> Tensor:
    """The mutual information, in nats (0..ln K), of the pair (c, c'): c drawn from Q(c | x)
    (N, K) and c' from Q(c' | x moved) (N, K) for one of the N images, the two draws independent
    given the image ([6] eq. 3): the joint is mean_n Q(. | x_n) Q(. | x_n moved)^T, made
    symmetric. ln K when each image and its moved self get the same value for sure and every
    value is used equally often; 0 when the two readings say nothing of each other."""
    eps = torch.finfo(probabilities.dtype).tiny
    joint = probabilities.T @ moved / len(probabilities)  # (K, K)
    joint = ((joint + joint.T) / 2).clamp(min=eps)
    marginal = joint.sum(1)
    return (joint * (joint.log() - marginal[:, None].log() - marginal[None, :].log())).sum()


def best_assignment(counts: Tensor) -> list[int]:
    """The one-to-one matching of rows to columns of ``counts`` (R, C) that maximises the sum
    of the matched entries: ``assigned[r]`` is row r's column, or -1 for a row left over (when
    R > C). Exact, by dynamic programming over the sets of columns taken (R C 2^C steps: for
    C = 10, 10^4 states), the answer of the Hungarian algorithm (scipy's
    ``linear_sum_assignment``, which is not installed here)."""
    weights = counts.detach().double().cpu().tolist()
    rows, cols = len(weights), len(weights[0]) if weights else 0
    if rows > cols:  # match the columns to rows instead, and invert
        by_column = best_assignment(counts.T)
        assigned = [-1] * rows
        for column, row in enumerate(by_column):
            assigned[row] = column
        return assigned
    if cols > 20:
        raise ValueError(f"best_assignment enumerates subsets of columns: {cols} is too many")
    # taken columns (a bit mask) -> (best sum, the columns of rows 0..r-1)
    best: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
    for r in range(rows):
        following: dict[int, tuple[float, tuple[int, ...]]] = {}
        for taken, (total, chosen) in best.items():
            for c in range(cols):
                if taken >> c & 1:
                    continue
                key, score = taken | 1 << c, total + weights[r][c]
                if key not in following or score > following[key][0]:
                    following[key] = (score, (*chosen, c))
        best = following
    return list(max(best.values())[1])


def confusion_counts(codes: Tensor, labels: Tensor, categories: int, classes: int) -> Tensor:
    """How often each code value went with each class: codes, labels (N,) ints -> (K, classes)
    counts."""
    index = codes.long() * classes + labels.long()
    return torch.bincount(index, minlength=categories * classes).view(categories, classes)


def matched_accuracy(counts: Tensor) -> tuple[float, list[int]]:
    """Accuracy (%) of code values as classes once each value is matched to one class
    (``best_assignment`` over the (K, classes) ``confusion_counts``), and the matching: [1]
    sec. 7.2 "matching each category in c1 to a digit type"."""
    assigned = best_assignment(counts)
    hits = sum(float(counts[k, c]) for k, c in enumerate(assigned) if c >= 0)
    return 100.0 * hits / max(float(counts.sum()), 1.0), assigned
