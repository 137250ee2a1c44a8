"""Attention as explanation, measured: delete what a model attends to, or as much at random.

    foveate bench reader_soft && foveate bench stn_cluttered60_10ep    # the two models, trained
    python benchmarks/deletion.py reader_soft stn_cluttered60_10ep --data-dir ../shared/data/mnist

For each model (a reader of digit rows, a classifier that attends through windows: a benchmark's
name, whose record names the weights of its seed 0, or a checkpoint file), on its task's fixed
test set:
the accuracy left when the 10% of each image's pixels that the model attends to most are set to
the background, and when 10% of its pixels chosen at random are; and the share of the salience
(activation x gradient of the answer's score at the input, its absolute value) that falls on
each of those two sets of pixels. Attention in pixels, ties and the deletion are those of
``foveate.reports.deletion``. A reader's answer counts when it reads the whole row right; a
classifier's when its class is.

Metrics, prefixed by each model's name (``reader``, ``stn``): ``_accuracy_pct``
(intact images), ``_attended_accuracy_pct``, ``_random_accuracy_pct``,
``_salience_in_attended_pct``, ``_salience_in_random_pct``.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import load_data, load_trained, write_results
from torch import Tensor, nn

from foveate.models.interface import Reads
from foveate.models.reader import tokens_from_labels
from foveate.reports.deletion import (
    attention_in_pixels,
    delete,
    most_attended,
    random_pixels,
    share_inside,
)
from foveate.reports.salience import reading_score, salience


def correct(model: nn.Module, images: Tensor, truth) -> Tensor:
    """(B,) whether the model answers images (B, C, H, W) right: a whole row, or a class."""
    with torch.no_grad():
        if isinstance(model, Reads):
            answer, _ = model.read(images)
            return (answer == tokens_from_labels(truth["labels"], end=model.end)).all(1)
        return model.predict_proba(images).argmax(-1) == truth


def explained(model: nn.Module, images: Tensor) -> Tensor:
    """(B, H, W) the salience of the model's own answer at the input."""
    if isinstance(model, Reads):
        return salience(model, images, score=reading_score)
    return salience(model, images)


def measure(model: nn.Module, loader, *, fraction: float, seed: int) -> dict[str, float]:
    generator = torch.Generator().manual_seed(seed)
    sums = dict.fromkeys(
        ["accuracy", "attended_accuracy", "random_accuracy", "in_attended", "in_random"], 0.0
    )
    count = 0
    for images, truth in loader:
        attention = attention_in_pixels(model, images)
        attended = most_attended(attention, fraction, generator=generator)
        chance = random_pixels(attention.shape, fraction, generator=generator)
        maps = explained(model, images)
        sums["accuracy"] += correct(model, images, truth).sum().item()
        sums["attended_accuracy"] += correct(model, delete(images, attended), truth).sum().item()
        sums["random_accuracy"] += correct(model, delete(images, chance), truth).sum().item()
        sums["in_attended"] += share_inside(maps, attended).sum().item()
        sums["in_random"] += share_inside(maps, chance).sum().item()
        count += len(images)
    return {
        "accuracy_pct": 100 * sums["accuracy"] / count,
        "attended_accuracy_pct": 100 * sums["attended_accuracy"] / count,
        "random_accuracy_pct": 100 * sums["random_accuracy"] / count,
        "salience_in_attended_pct": 100 * sums["in_attended"] / count,
        "salience_in_random_pct": 100 * sums["in_random"] / count,
        "test_images": count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "models",
        nargs="+",
        help="benchmarks (or checkpoints) of a reader or an attending classifier",
    )
    parser.add_argument("--data-dir", help="the dataset's directory (default: as the run found it)")
    parser.add_argument("--fraction", type=float, default=0.1, help="of each image's pixels")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    metrics: dict[str, float] = {}
    described = []
    for given in args.models:
        model, config, source = load_trained(given)
        data = load_data(config, data_dir=args.data_dir, stage="test")
        name = config.model
        measured = measure(model, data.test_dataloader(), fraction=args.fraction, seed=0)
        images = measured.pop("test_images")
        metrics.update({f"{name}_{k}": round(v, 2) for k, v in measured.items()})
        described.append(f"{name}: {source}, {images} test images")
        print(
            f"{name}: {measured['accuracy_pct']:.2f}% intact, "
            f"{measured['attended_accuracy_pct']:.2f}% without its most attended "
            f"{args.fraction:.0%} of pixels, {measured['random_accuracy_pct']:.2f}% without "
            f"{args.fraction:.0%} at random; salience on the attended pixels "
            f"{measured['salience_in_attended_pct']:.1f}%, on the random ones "
            f"{measured['salience_in_random_pct']:.1f}%"
        )
    wall = time.perf_counter() - started
    metrics["wall_s"] = round(wall, 1)
    notes = (
        f"Deletion of {args.fraction:.0%} of each test image's pixels (set to 0), the most "
        "attended (ties in random order) or chosen at random; accuracy is whole-row for a "
        "reader, class for a classifier; salience shares are of |activation x gradient| at the "
        "input. " + "; ".join(described) + ". A benchmark's model is the weights its record "
        "names (foveate bench NAME trained them)."
    )
    path = write_results("deletion", metrics=metrics, seed=0, wall_s=wall, notes=notes)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
