"""Evaluations of a generator with codes (InfoGAN, and the plain GAN beside it), on each seed's
best checkpoint: what c1 means to a fixed classifier, how slant and width follow the continuous
codes, how far G's images lie from real ones, and how fast the information bound rose.

The fixed classifier is the CNN of ``benchmarks/specs/cnn_mnist.yaml``, read from the weights
its benchmark exports (``foveate bench cnn_mnist``); a spec names their file. The measurements
are those of ``foveate.reports.codes``.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import torch

import foveate
from foveate.bench.evaluations.common import numbers
from foveate.bench.evaluations.registry import EVALUATIONS
from foveate.bench.spec import project_root
from foveate.bench.weights import load_weights
from foveate.models.infogan import HasCodes
from foveate.reports.codes import (
    classifier_features,
    conditional_purity,
    frechet_distance,
    sweep_correlations,
)
from foveate.training.config import RunConfig
from foveate.training.fit import build_data


def _model_with_codes(checkpoint: str | os.PathLike) -> torch.nn.Module:
    model, _ = foveate.load(checkpoint)
    if not isinstance(model, HasCodes):
        raise ValueError(f"{checkpoint}: a {type(model).__name__} has no codes to evaluate")
    return model


def fixed_classifier(path: str | os.PathLike) -> torch.nn.Module:
    """The classifier of weights exported by the runner (relative to the project's root), in
    eval mode; a clear error if they have not been trained yet."""
    path = Path(path)
    path = path if path.is_absolute() else project_root() / path
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no classifier weights; train them first with "
            "`foveate bench cnn_mnist --data-dir ../shared/data/mnist`"
        )
    classifier, _ = load_weights(path)
    return classifier


def _seeded(config: RunConfig) -> torch.Generator:
    return torch.Generator().manual_seed(config.trainer_settings().seed)


@EVALUATIONS.register("code_purity")
def code_purity(
    checkpoint: str | os.PathLike, config: RunConfig, *, classifier: str, images: int = 10_000
) -> dict[str, float]:
    """``images`` drawn from the prior, named by the fixed classifier; each value of c1 matched
    to one digit: ``purity_pct`` (images named as their value's digit) and
    ``purity_pct_lowest_value`` (the value whose images are named so the least often)."""
    model = _model_with_codes(checkpoint)
    purity, per_value, _ = conditional_purity(
        model, fixed_classifier(classifier), count=images, generator=_seeded(config)
    )
    return numbers({"purity_pct": purity, "purity_pct_lowest_value": float(per_value.min())})


@EVALUATIONS.register("code_sweeps")
def code_sweeps(
    checkpoint: str | os.PathLike, config: RunConfig, *, rows: int = 200, steps: int = 9
) -> dict[str, float]:
    """Spearman's correlation of each continuous code with the slant and the width of G's
    images, each code swept over -2..2 ([1] fig. 2) and over the prior's -1..1, the others held
    at 0, averaged over ``rows`` draws of z and c1 (``foveate.reports.codes``).

    ``slant_rank_correlation``, ``width_rank_correlation``: over -2..2, the absolute
    correlation of the code that follows the measure the most closely (a code's direction is
    arbitrary: c2 may lean digits left as it grows in one seed, right in another), and that
    code's number (``slant_code``, ``width_code``: 2 for c2); ``..._prior_range``: the same
    code's over -1..1, absolute; and every code's, signed, suffixed ``_c2``, ``_c3``, ...
    """
    model = _model_with_codes(checkpoint)
    found: dict[str, float] = {}
    for suffix, (low, high) in (("", (-2.0, 2.0)), ("_prior_range", (-1.0, 1.0))):
        rho = sweep_correlations(
            model, low=low, high=high, steps=steps, rows=rows, generator=_seeded(config)
        )
        for measure, values in rho.items():
            for code, value in enumerate(values.tolist()):
                found[f"{measure}_rank_correlation{suffix}_c{code + 2}"] = value
    for measure in ("slant", "width"):
        wide = [
            found[f"{measure}_rank_correlation_c{c + 2}"] for c in range(model.continuous_codes)
        ]
        if not wide:
            continue
        best = max(range(len(wide)), key=lambda c: -1.0 if math.isnan(wide[c]) else abs(wide[c]))
        found[f"{measure}_code"] = best + 2
        found[f"{measure}_rank_correlation"] = abs(wide[best])
        found[f"{measure}_rank_correlation_prior_range"] = abs(
            found[f"{measure}_rank_correlation_prior_range_c{best + 2}"]
        )
    return numbers(found)


@EVALUATIONS.register("frechet_distance")
def frechet(
    checkpoint: str | os.PathLike, config: RunConfig, *, classifier: str, images: int = 10_000
) -> dict[str, float]:
    """The Fréchet distance between ``images`` of G (z and c from the prior) and as many real
    test images, in the penultimate features of the fixed classifier: ``frechet_distance``. Not
    Inception's FID: comparable only with itself (the same classifier's weights)."""
    model = _model_with_codes(checkpoint)
    data = build_data(config)
    data.setup("test")
    real = data.datasets["test"].images[:images][:, None].float().div(255)
    generator, fake = _seeded(config), []
    with torch.no_grad():
        for start in range(0, len(real), 1000):
            noise, codes = model.draw_latents(min(1000, len(real) - start), generator=generator)
            fake.append(model.generate_with_codes(noise, codes))
    net = fixed_classifier(classifier)
    real_features, _ = classifier_features(net, real)
    fake_features, _ = classifier_features(net, torch.cat(fake))
    return numbers({"frechet_distance": frechet_distance(fake_features, real_features)})


def logged_curve(run_dir: str | os.PathLike, name: str) -> list[tuple[float, float]]:
    """(generator step, value) of a training curve the adversarial module logged
    (``train/<name>`` beside ``train/generator_steps`` in the run's metrics.csv), in order, one
    value a step (Lightning writes a run's last logged values again when it stops)."""
    by_step = {}
    with open(Path(run_dir) / "metrics.csv", newline="") as file:
        for row in csv.DictReader(file):
            step, value = row.get("train/generator_steps"), row.get(f"train/{name}")
            if step and value:
                by_step[float(step)] = float(value)
    return sorted(by_step.items())


@EVALUATIONS.register("mi_bound_at_steps")
def mi_bound_at_steps(
    checkpoint: str | os.PathLike, config: RunConfig, *, steps: int = 2000, window: int = 250
) -> dict[str, float]:
    """The information bound of c1 on the training curve at ``steps`` generator steps: the mean
    of the values logged in the ``window`` steps up to it (each is one batch's estimate),
    ``mi_bound_nats_at_<steps>_steps``. Nothing when the run stopped before ``steps``."""
    run_dir = Path(checkpoint).resolve().parent.parent  # run_dir/checkpoints/best.ckpt
    curve = logged_curve(run_dir, "mi_bound_nats")
    near = [value for step, value in curve if steps - window < step <= steps]
    if not curve or curve[-1][0] < steps or not near:
        return {}
    return numbers({f"mi_bound_nats_at_{steps}_steps": sum(near) / len(near)})


@EVALUATIONS.register("validation_code_accuracy")
def validation_code_accuracy(checkpoint: str | os.PathLike, config: RunConfig) -> dict[str, float]:
    """Q's matched code accuracy on the validation digits (held out of the training split), with
    their labels, and (a code of ten values) the accuracy with value k read as digit k: what the probes that choose InfoGAN's settings are compared by, never the
    test set's. A spec that uses it says so in ``used_labels`` (labels chose the settings)."""
    from foveate.models.infogan import confusion_counts, matched_accuracy

    model = _model_with_codes(checkpoint)
    data = build_data(config)
    data.setup("fit")
    held_out = data.datasets["val"].batches  # the validation digits, their labels kept here
    images, labels = held_out.__getitems__(list(range(len(held_out))))
    with torch.no_grad():
        codes = torch.cat(
            [model.infer_codes(x).categorical.probs.argmax(-1) for x in images.split(500)]
        )
    categories = model.categorical_prior().event_shape[0]
    counts = confusion_counts(codes, labels, categories, 10)
    accuracy, _ = matched_accuracy(counts)
    measured = {"val_code_accuracy_pct": accuracy}
    if categories == 10:  # task-specific codes: value k read as digit k, no matching
        measured["val_code_accuracy_unmatched_pct"] = 100 * float(counts.trace() / counts.sum())
    return numbers(measured)
