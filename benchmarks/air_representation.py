"""What AIR's latents are worth: two tasks learnt from few labels on them, against a CNN on pixels.

    python benchmarks/air_representation.py air_multimnist --threads 1 --data-dir ../shared/data/mnist

Eslami et al. 2016, sec. 3.1 ("representational power", fig. 7): with AIR's inference network
frozen, a small network learns from its latents (a) the sum of the digits of a scene and (b)
whether they are in ascending order, read left to right; a convolutional network learns the same
from the pixels with the same labels. Both are trained with the same fixed recipe (Adam, the
same number of updates for every label budget, no early stopping: nothing here reads the test
set but the final measurement), for each number of labelled scenes.

- sum: scenes of 0, 1 or 2 digits (as AIR was trained on), 19 classes (0..18; an empty scene
  sums to 0).
- order: scenes of exactly 2 digits, 1 when the left digit (by its box's left edge, then top)
  is at most the right one.

The latents of a scene are, per step, (z_pres, the mean of z_where, the mean of z_what) from
the most likely decomposition, z_where and z_what zeroed where no object is. The small network
reads them as a set with pairwise terms (each present step and each ordered pair of present
steps through shared MLPs, summed, then an MLP), so it need not learn AIR's step order and can
compare two objects; the CNN has three convolutions and two layers.
Labelled scenes are made from the training digits (less AIR's validation digits), the test
scenes from the test split, all from fixed seeds.

The AIR model is a benchmark's name (the weights its record names for seed 0) or a checkpoint
file. Writes benchmarks/records/probes/air_representation.json (test accuracy per
task, reader and label budget) and docs/figures/air_representation.png (accuracy against labels).

Not yet the runner's: this script still trains, with a loop of its own (``train_and_test``
below), 20 small networks (2 tasks x 2 readers x 5 label budgets). The port needs:

- models: ``RelationReader`` and ``PixelCNN`` moved to foveate/models (registered, with the
  ``loss`` and ``predict_proba`` of a classifier, so that the classification training module
  trains them and ``tests/test_zoo.py`` covers them);
- a data source of labelled multi-MNIST scene tasks (``task: sum | order``, ``labels: N``
  labelled training scenes, the fixed test scenes above) whose inputs are either the pixels or
  the latents of a frozen AIR (``encoder``: a benchmark's name, read with
  ``foveate.bench.weights.load_weights`` from the weights its record names, the latents computed once at setup);
- a way to train for a fixed number of updates and test the last weights: the runner chooses
  the best checkpoint on a validation split, which this experiment does not have (its recipe:
  Adam, lr 1e-3, weight decay 1e-4, batch 64, 2,000 updates, no early stopping), so either
  ``trainer.max_steps`` with a "test the last checkpoint" setting, or a validation split carved
  from the labelled scenes (which changes the experiment and its figures);
- specs: one per task and reader (``air_representation_sum_latents`` ...), the label budget a
  probe's ``--set data.labels=N`` (or one spec per budget), and this script reduced to the
  figure and table read from those records.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from common import load_data, load_trained, write_results
from torch import Tensor, nn

from foveate.data.multi_mnist import Scenes, make_scenes

ROOT = Path(__file__).resolve().parents[1]
NAME = "air_representation"
TASKS = {"sum": ((0, 1, 2), 19), "order": ((2,), 2)}
LABELS = (100, 300, 1000, 3000, 10000)  # labelled training scenes
UPDATES = 2000  # Adam updates per training, for every label budget
TEST_SIZE = 10000  # test scenes per task
SEED = 0


def targets(task: str, scenes: Scenes) -> Tensor:
    """The task's label of each scene (N,)."""
    present = scenes.classes >= 0
    if task == "sum":
        return (scenes.classes * present).sum(-1)
    # left to right by the box's left edge, then its top (exact ties are rare)
    key = scenes.boxes[:, :, 0] * 1000 + scenes.boxes[:, :, 1]
    order = key.argsort(-1)
    ordered = scenes.classes.gather(1, order)
    return (ordered[:, 0] <= ordered[:, 1]).long()


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def labelled_scenes(
    model: nn.Module, task: str, split: tuple[Tensor, Tensor], number: int, seed: int, **scene_args
) -> tuple[Tensor, Tensor, Tensor]:
    """``number`` scenes of a split's (digits, labels): images (N, 1, S, S), AIR's latents
    (N, T, F) and the task's labels (N,)."""
    scenes = make_scenes(*split, number, **scene_args, generator=seeded(seed))
    images = scenes.images[:, None].float() / 255
    return images, latents(model, images), targets(task, scenes)


@torch.no_grad()
def latents(model: nn.Module, images: Tensor, batch: int = 1000) -> Tensor:
    """(N, T, 1 + 3 + D) per step: z_pres, z_where's mean, z_what's mean (zero when absent)."""
    model.eval()
    parts = []
    for chunk in images.split(batch):
        out = model(chunk, mode=True)
        present = out.z_pres[..., None]
        parts.append(torch.cat([present, out.where_loc * present, out.what_loc * present], -1))
    return torch.cat(parts)


class RelationReader(nn.Module):
    """Per-step latents (B, T, F) -> logits (B, K), the same for any order of the steps.

    rho(sum_i p_i phi(z_i) + sum_{i != j} p_i p_j psi(z_i, z_j)), p_i the step's z_pres: a set
    reader (Zaheer et al. 2017) with pairwise terms (a relation network, Santoro et al. 2017),
    so that it can compare two objects' classes and positions, which the order task needs.
    """

    def __init__(self, features: int, classes: int, hidden: int = 128) -> None:
        super().__init__()
        self.phi = nn.Sequential(
            nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.psi = nn.Sequential(
            nn.Linear(2 * features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.rho = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def forward(self, z: Tensor) -> Tensor:
        T = z.shape[1]
        present = z[..., :1]  # (B, T, 1)
        single = (self.phi(z) * present).sum(1)  # (B, hidden)
        i, j = (torch.ones(T, T) - torch.eye(T)).nonzero().unbind(1)  # the T(T-1) ordered pairs
        pairs = torch.cat([z[:, i], z[:, j]], -1)  # (B, T(T-1), 2F)
        pair = (self.psi(pairs) * present[:, i] * present[:, j]).sum(1)  # (B, hidden)
        return self.rho(single + pair)


class PixelCNN(nn.Module):
    """Images (B, 1, S, S) -> logits (B, K): three 3x3 convolutions with pooling, two layers."""

    def __init__(self, size: int, classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for width in (32, 64, 64):
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            channels, size = width, size // 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(channels * size * size, 256), nn.ReLU(), nn.Linear(256, classes)
        )

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.body(images))


def train_and_test(
    net: nn.Module,
    inputs: Tensor,
    labels: Tensor,
    test_inputs: Tensor,
    test_labels: Tensor,
    *,
    updates: int,
    seed: int,
) -> float:
    """Train with Adam for a fixed number of updates on (inputs, labels); test accuracy in %."""
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    batch = min(64, len(labels))
    net.train()
    for _ in range(updates):
        index = torch.randint(0, len(labels), (batch,), generator=generator)
        loss = nn.functional.cross_entropy(net(inputs[index]), labels[index])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    net.eval()
    with torch.no_grad():
        found = torch.cat([net(x).argmax(-1) for x in test_inputs.split(1000)])
    return 100 * (found == test_labels).float().mean().item()


def figure(budgets: list[int], accuracy: dict[str, dict[str, list[float]]], path: Path) -> None:
    fig, axes = plt.subplots(1, len(accuracy), figsize=(4.2 * len(accuracy), 3.4))
    for ax, (task, readers) in zip(axes, accuracy.items(), strict=True):
        for reader, values in readers.items():
            ax.plot(budgets, values, marker="o", label=reader)
        ax.set_xscale("log")
        ax.set_xlabel("labelled scenes")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title({"sum": "sum of the digits", "order": "digits in ascending order"}[task])
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an AIR (or DAIR) benchmark on multi-MNIST, or a checkpoint")
    parser.add_argument("--data-dir", help="the dataset's directory, if not the run's")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model, config, source = load_trained(args.model)
    data = load_data(config, data_dir=args.data_dir)
    train, test = data.split_digits["train"], data.split_digits["test"]
    size = data.canvas
    metrics: dict[str, float] = {}
    curves: dict[str, dict[str, list[float]]] = {}
    for t, (task, (counts, classes)) in enumerate(TASKS.items()):
        common = {"counts": counts, "canvas": size, "overlapping": data.overlapping}
        images, z, y = labelled_scenes(model, task, train, max(LABELS), 1000 + t, **common)
        test_images, test_z, test_y = labelled_scenes(
            model, task, test, TEST_SIZE, 2000 + t, **common
        )
        readers = {
            "AIR latents": (partial(RelationReader, z.shape[-1], classes), z, test_z),
            "CNN on pixels": (partial(PixelCNN, size, classes), images, test_images),
        }
        curves[task] = {reader: [] for reader in readers}
        for n in LABELS:
            line = []
            for reader, (build, inputs, test_inputs) in readers.items():
                torch.manual_seed(SEED)  # the same initial weights for every budget
                accuracy = train_and_test(
                    build(),
                    inputs[:n],
                    y[:n],
                    test_inputs,
                    test_y,
                    updates=UPDATES,
                    seed=SEED,
                )
                curves[task][reader].append(accuracy)
                key = "air_latents" if reader == "AIR latents" else "cnn"
                metrics[f"{task}_{key}_accuracy_pct_{n}_labels"] = round(accuracy, 2)
                line.append(f"{reader} {accuracy:.2f}%")
            print(f"{task}, {n} labels: " + ", ".join(line), flush=True)
        majority = torch.bincount(test_y, minlength=classes).max().item() / len(test_y)
        metrics[f"{task}_majority_class_accuracy_pct"] = round(100 * majority, 2)
    figure(list(LABELS), curves, ROOT / "docs" / "figures" / f"{NAME}.png")
    wall = time.perf_counter() - started
    notes = (
        f"Test accuracy (%) on {TEST_SIZE} fixed test scenes per task, for each number of "
        f"labelled training scenes; AIR frozen ({source}); both readers trained "
        f"with Adam (lr 1e-3, weight decay 1e-4, batch 64) for {UPDATES} updates, no early "
        "stopping. sum: 0-2 digit scenes, 19 classes; order: 2-digit scenes, left digit <= right."
    )
    path = write_results(NAME, metrics=metrics, seed=SEED, wall_s=wall, notes=notes)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
