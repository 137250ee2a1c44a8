"""Measurements of a generator's codes (InfoGAN's c): what each code value means, as numbers.

Pure functions over tensors, each with a known answer (``tests/test_infogan.py``):

- ``matched_accuracy`` (with ``best_assignment``, ``confusion_counts``): code values read as
  classes once each value is matched to one class, the matching that names most images right
  ([1] sec. 7.2: "matching each category in c1 to a digit type");
- ``slant`` and ``width`` of the ink of images, from its second moments;
- ``spearman``: rank correlation, batched; ``code_sweep`` and ``sweep_correlations``: the images
  of a continuous code swept with the others held, and how each measure follows it ([1] fig. 2
  (c), (d): c2 rotates digits, c3 widens them);
- ``conditional_purity``: images generated with c1 = k, as a fixed classifier names them,
  matched to digits;
- ``frechet_distance``: the Fréchet distance between two sets of features, each summed up by
  its mean and covariance (Heusel et al. 2017's FID, computed here in the penultimate features
  of a small MNIST classifier, ``classifier_features``: not Inception's, and not comparable with
  published FIDs).

[1] Chen et al., "InfoGAN", NIPS 2016.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from foveate.models.infogan import (
    Codes,
    HasCodes,
    best_assignment,
    confusion_counts,
    matched_accuracy,
)

__all__ = [
    "best_assignment",
    "classifier_features",
    "code_sweep",
    "conditional_purity",
    "confusion_counts",
    "frechet_distance",
    "gaussian_frechet_distance",
    "ink_moments",
    "matched_accuracy",
    "ranks",
    "slant",
    "spearman",
    "sweep_correlations",
    "width",
]


def ink_moments(images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The central second moments of the ink of images (N, C, H, W) or (N, H, W), intensities as
    mass: mu20 (spread along x, columns), mu02 (along y, rows, which run downwards) and mu11,
    each (N,), in pixels^2, normalised by the ink's total."""
    if images.dim() == 4:
        images = images.mean(1)
    mass = images.flatten(1).sum(-1).clamp(min=1e-8)  # (N,)
    H, W = images.shape[-2:]
    y = torch.arange(H, dtype=images.dtype, device=images.device)[:, None]  # rows, downwards
    x = torch.arange(W, dtype=images.dtype, device=images.device)[None, :]
    cx = (images * x).flatten(1).sum(-1) / mass
    cy = (images * y).flatten(1).sum(-1) / mass
    dx = x - cx[:, None, None]  # (N, 1, W)
    dy = y - cy[:, None, None]  # (N, H, 1)
    mu20 = (images * dx**2).flatten(1).sum(-1) / mass
    mu02 = (images * dy**2).flatten(1).sum(-1) / mass
    mu11 = (images * dx * dy).flatten(1).sum(-1) / mass
    return mu20, mu02, mu11


def slant(images: Tensor) -> Tensor:
    """How far the ink leans: the horizontal shift per pixel upwards that fits it best (the
    shear of a deskewing, -mu11 / mu02 with rows running down), (N,). Positive when the top of
    the digit leans right, like '/'; 0 for an upright one."""
    _, mu02, mu11 = ink_moments(images)
    return -mu11 / mu02.clamp(min=1e-8)


def width(images: Tensor) -> Tensor:
    """The ink's spread along x: the standard deviation of its columns, sqrt(mu20), in pixels
    (N,). (A slanted digit is wider by this measure too.)"""
    mu20, _, _ = ink_moments(images)
    return mu20.sqrt()


def ranks(values: Tensor) -> Tensor:
    """The ranks (1..S) of values (..., S) along the last dimension, ties given their mean rank."""
    below = (values[..., None, :] < values[..., :, None]).sum(-1)
    equal = (values[..., None, :] == values[..., :, None]).sum(-1)
    return below.to(values.dtype) + (equal.to(values.dtype) + 1) / 2


def spearman(a: Tensor, b: Tensor) -> Tensor:
    """Spearman's rank correlation of a and b (..., S) along the last dimension: the Pearson
    correlation of their ranks, (...). NaN where either is constant."""
    ra, rb = ranks(a.double()), ranks(b.double())
    ra, rb = ra - ra.mean(-1, keepdim=True), rb - rb.mean(-1, keepdim=True)
    return (ra * rb).sum(-1) / (ra.pow(2).sum(-1) * rb.pow(2).sum(-1)).sqrt()


@torch.no_grad()
def code_sweep(model: HasCodes, noise: Tensor, codes: Codes, code: int, values: Tensor) -> Tensor:
    """G's images as continuous code ``code`` (0 for c2) takes each of ``values`` (S,), the
    noise (R, Z) and the other codes of each row held: (R, S, C, H, W)."""
    R, S = len(noise), len(values)
    continuous = codes.continuous[:, None].repeat(1, S, 1)  # (R, S, M)
    continuous[:, :, code] = values.to(continuous)
    swept = Codes(
        codes.categorical[:, None].expand(R, S, -1).reshape(R * S, -1),
        continuous.reshape(R * S, -1),
    )
    images = model.generate_with_codes(noise[:, None].expand(R, S, -1).reshape(R * S, -1), swept)
    return images.view(R, S, *images.shape[1:])


@torch.no_grad()
def sweep_correlations(
    model: HasCodes,
    *,
    low: float,
    high: float,
    steps: int = 9,
    rows: int = 100,
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """How slant and width follow each continuous code: for ``rows`` draws of z and c1 (the
    other continuous codes held at 0), each code swept over ``steps`` values from low to high;
    Spearman's correlation of the code's value with each measure along each row, averaged over
    the rows. Returns {'slant': (M,), 'width': (M,)}, one correlation per code."""
    noise, codes = model.draw_latents(rows, generator=generator)
    codes.continuous.zero_()
    values = torch.linspace(low, high, steps)
    found: dict[str, list[Tensor]] = {"slant": [], "width": []}
    for code in range(model.continuous_codes):
        images = code_sweep(model, noise, codes, code, values).flatten(0, 1)  # (R S, C, H, W)
        for name, measure in (("slant", slant), ("width", width)):
            measured = measure(images).view(rows, steps)
            rho = spearman(values.expand(rows, steps).to(measured), measured)
            found[name].append(rho.nanmean())
    return {name: torch.stack(rhos) for name, rhos in found.items()}


def classifier_features(
    classifier: nn.Module, images: Tensor, *, batch_size: int = 1000
) -> tuple[Tensor, Tensor]:
    """A classifier's penultimate features (the input of its last linear layer) and its logits,
    for images (N, C, H, W): (N, F) and (N, classes), computed in batches."""
    last = [m for m in classifier.modules() if isinstance(m, nn.Linear)][-1]
    captured: list[Tensor] = []
    hook = last.register_forward_hook(lambda module, inputs, output: captured.append(inputs[0]))
    try:
        with torch.no_grad():
            logits = torch.cat([classifier(x) for x in images.split(batch_size)])
    finally:
        hook.remove()
    return torch.cat(captured), logits


@torch.no_grad()
def conditional_purity(
    model: HasCodes,
    classifier: nn.Module,
    *,
    count: int = 10_000,
    batch_size: int = 1000,
    generator: torch.Generator | None = None,
) -> tuple[float, Tensor, list[int]]:
    """How surely c1 = k makes one digit: ``count`` images drawn from the prior (z, c), in
    batches, named by ``classifier``; each value of c1 matched to the digit that the most of its
    images are named as (one value to one digit). Returns the share of images named as their
    value's digit (%), that share for each value (K,) in %, and the matching (K,)."""
    values, named = [], []
    for start in range(0, count, batch_size):
        noise, codes = model.draw_latents(min(batch_size, count - start), generator=generator)
        images = model.generate_with_codes(noise, codes)
        values.append(codes.categorical.argmax(-1))
        named.append(classifier(images).argmax(-1))
    value, name = torch.cat(values), torch.cat(named)
    classes = max(int(name.max()) + 1, model.categories)
    counts = confusion_counts(value, name, model.categories, classes)
    purity, assigned = matched_accuracy(counts)
    per_value = torch.tensor(
        [
            100.0 * float(counts[k, c]) / max(float(counts[k].sum()), 1.0)
            for k, c in enumerate(assigned)
        ]
    )
    return purity, per_value, assigned


def gaussian_frechet_distance(
    mean_a: Tensor, cov_a: Tensor, mean_b: Tensor, cov_b: Tensor
) -> float:
    """The Fréchet (2-Wasserstein) distance between N(mean_a, cov_a) and N(mean_b, cov_b),
    squared: |m_a - m_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), in float64.

    Tr((S_a S_b)^(1/2)) is the sum of the square roots of the eigenvalues of S_a^(1/2) S_b
    S_a^(1/2), a symmetric matrix (no general matrix square root needed)."""
    mean_a, mean_b, cov_a, cov_b = (t.double() for t in (mean_a, mean_b, cov_a, cov_b))
    eigenvalues, vectors = torch.linalg.eigh(cov_a)
    root_a = vectors @ torch.diag(eigenvalues.clamp(min=0).sqrt()) @ vectors.T
    middle = root_a @ cov_b @ root_a
    cross = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    distance = (mean_a - mean_b).pow(2).sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * cross
    return float(distance)


def frechet_distance(features_a: Tensor, features_b: Tensor) -> float:
    """The Fréchet distance between two sets of features (N, F) and (N', F), each summed up by
    its mean and (unbiased) covariance (``gaussian_frechet_distance``)."""
    a, b = features_a.double(), features_b.double()
    return gaussian_frechet_distance(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T))
