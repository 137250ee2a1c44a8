"""InfoGAN's figures for docs/infogan.md, read from the runner's records, logs and weights.

    python benchmarks/infogan_figures.py

- ``docs/figures/infogan_mi_curves.png``: the information bound L_I of c1 against generator steps,
  for every recorded seed of InfoGAN (``infogan_mnist``) and of the plain GAN (``gan_mnist``), from
  the training logs the runner keeps beside the records (Chen et al. 2016, fig. 1).
- ``docs/figures/infogan_task_codes.png``: code accuracy without matching against the number of
  labelled digits, from the ``infogan_task_codes_<n>`` records (each seed a point, the median a
  line).
- ``docs/figures/infogan_codes_c1.png`` etc.: ``foveate show`` of the pretrained ``infogan/mnist``
  (seed 0's weights): the paper's fig. 2.

Trains nothing; a record that is missing is skipped, and said.
"""

from __future__ import annotations

import csv
import json
import shutil
import statistics
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "benchmarks" / "records"
FIGURES = ROOT / "docs" / "figures"
LABELS = (10, 20, 50, 100)


def record(name: str) -> dict | None:
    for folder in ("headline", "probes"):
        path = RECORDS / folder / f"{name}.json"
        if path.is_file():
            return json.loads(path.read_text())
    print(f"no record {name}: skipped")
    return None


def curve(log: Path) -> tuple[list[float], list[float]]:
    """(generator steps, L_I of c1) of a training log."""
    steps, bound = [], []
    with open(log) as file:
        for row in csv.DictReader(file):
            if row.get("train/mi_bound_nats") and row.get("train/generator_steps"):
                steps.append(float(row["train/generator_steps"]))
                bound.append(float(row["train/mi_bound_nats"]))
    return steps, bound


def mi_curves(path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for name, label, colour in (("infogan_mnist", "InfoGAN", "C0"), ("gan_mnist", "GAN", "C1")):
        found = record(name)
        for k, seed in enumerate(found["seeds"] if found else []):
            if not seed.get("log"):
                continue
            steps, bound = curve(ROOT / seed["log"])
            ax.plot(steps, bound, color=colour, alpha=0.7, lw=1, label=label if k == 0 else None)
    ax.axhline(2.3026, color="grey", ls="--", lw=1, label="H(c1) = ln 10")
    ax.axvline(2000, color="grey", ls=":", lw=1)
    ax.set_xlabel("generator steps")
    ax.set_ylabel("L_I of c1 (nats)")
    ax.set_ylim(0, 2.45)
    ax.set_title("The information bound during training, every recorded seed")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def task_codes(path: Path) -> None:
    points = {}
    for n in LABELS:
        found = record(f"infogan_task_codes_{n}")
        if found:
            points[n] = [s["metrics"]["test_code_accuracy_unmatched_pct"] for s in found["seeds"]]
    if not points:
        return
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for n, values in points.items():
        ax.scatter([n] * len(values), values, color="C0", alpha=0.6, s=18)
    ax.plot(list(points), [statistics.median(v) for v in points.values()], color="C0", marker="o")
    ax.axhline(98, color="grey", ls="--", lw=1, label="98% (the issue's target at 100 labels)")
    ax.set_xscale("log")
    ax.set_xticks(list(points), [str(n) for n in points])
    ax.set_xlabel("labelled training digits (equal per class)")
    ax.set_ylabel("test accuracy of c1 = digit (%)")
    ax.set_title("Task-specific codes: no matching")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


def code_figures() -> None:
    from foveate.cli import main

    with tempfile.TemporaryDirectory() as out:
        if main(["show", "infogan/mnist", "--out", out]) != 0:
            return
        for made in Path(out).iterdir():
            target = FIGURES / f"infogan_{made.name}"
            shutil.copyfile(made, target)
            print(f"wrote {target}")


def main() -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    mi_curves(FIGURES / "infogan_mi_curves.png")
    task_codes(FIGURES / "infogan_task_codes.png")
    code_figures()


if __name__ == "__main__":
    main()
