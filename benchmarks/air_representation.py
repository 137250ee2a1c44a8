"""What AIR's latents are worth: two tasks learnt from few labels on them, against a CNN on pixels.

    python benchmarks/air_representation.py --commands   # the runner commands that measure it
    python benchmarks/air_representation.py --run --threads 1 --data-dir ../shared/data/mnist
    python benchmarks/air_representation.py --data-dir ../shared/data/mnist   # figure and table

Eslami et al. 2016, sec. 3.1 ("representational power", fig. 7): with AIR's inference network
frozen, a small network learns from its latents (a) the sum of the digits of a scene and (b)
whether they are in ascending order, read left to right; a convolutional network learns the same
from the pixels with the same labels. Both are trained by one fixed recipe (Adam, lr 1e-3,
weight decay 1e-4, 2,000 updates of 64 scenes drawn with replacement, no validation split, the
last weights tested: nothing reads the test set but the final measurement), for each number of
labelled scenes.

The runner measures every point: the specs ``air_representation_<task>_<reader>`` (task: sum or
order; reader: ``latents``, the relation reader over the per-step latents of
air_multimnist's seed-0 AIR, frozen, or ``pixels``, the CNN; ``foveate.models.scene_readers``,
the tasks ``foveate.data.scene_tasks``), one probe per label budget::

    foveate bench air_representation_sum_latents --set data.labels=100 \\
        --probe air_representation_sum_latents_100

whose records are benchmarks/records/probes/air_representation_<task>_<reader>_<N>.json. This
script trains nothing: it reads those records (the test error of each), and writes
docs/figures/air_representation.png (accuracy against labels), the table of docs/air.md, and
benchmarks/records/probes/air_representation.json, the records' accuracies in one probe record
(the README's analyses table reads it), with each task's majority class from its test scenes.
``--run`` first runs, in turn, the commands whose records are missing.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from common import PROBES, ROOT, load_data, write_results

from foveate.bench.record import read_record
from foveate.training.config import RunConfig

NAME = "air_representation"
TASKS = {"sum": "sum of the digits", "order": "digits in ascending order"}
# reader in the records' names -> its name in the figure, and in the metrics
READERS = {
    "latents": ("AIR latents", "air_latents"),
    "pixels": ("CNN on pixels", "cnn"),
    "objects": ("AIR objects named from z_what", "air_objects"),
    "glimpses": ("AIR objects named from glimpses", "air_glimpses"),
}
# The readers every table and figure needs; the others join them once their records exist.
REQUIRED = ("latents", "pixels")
LABELS = (100, 300, 1000, 3000, 10000)  # labelled training scenes


def probe(task: str, reader: str, labels: int) -> str:
    return f"{NAME}_{task}_{reader}_{labels}"


def commands(data_dir: str | None, threads: int | None) -> dict[str, list[str]]:
    """The runner command of every point, by its record's name."""
    found = {}
    for task in TASKS:
        for reader in READERS:
            for n in LABELS:
                words = ["foveate", "bench", f"{NAME}_{task}_{reader}"]
                words += ["--set", f"data.labels={n}", "--probe", probe(task, reader, n)]
                words += ["--data-dir", data_dir] if data_dir else []
                words += ["--threads", str(threads)] if threads else []
                found[probe(task, reader, n)] = words
    return found


def accuracy(record: dict) -> float:
    return round(100 - record["metrics"]["test_error_pct"], 2)


def majority(record: dict, data_dir: str | None) -> float:
    """The share (%) of the commonest answer among the task's test scenes."""
    data = load_data(RunConfig.from_dict(record["config"]), data_dir=data_dir, stage="test")
    answers = data.datasets["test"].targets
    return round(100 * torch.bincount(answers).max().item() / len(answers), 2)


def figure(curves: dict[str, dict[str, list[float]]], path: Path) -> None:
    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.4))
    for ax, (task, readers) in zip(axes, curves.items(), strict=True):
        for reader, values in readers.items():
            ax.plot(LABELS, values, marker="o", label=reader)
        ax.set_xscale("log")
        ax.set_xlabel("labelled scenes")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(TASKS[task])
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(curves: dict[str, dict[str, list[float]]]) -> str:
    """docs/air.md's table: one row per task and reader, the better reader's figure in bold."""
    lines = [
        "| labelled scenes | " + " | ".join(f"{n:,}" for n in LABELS) + " |",
        "| --- |" + " --- |" * len(LABELS),
    ]
    for task, readers in curves.items():
        best = [max(column) for column in zip(*readers.values(), strict=True)]
        for reader, values in readers.items():
            cells = [
                f"**{v:.2f}%**" if v == b else f"{v:.2f}%"
                for v, b in zip(values, best, strict=True)
            ]
            lines.append(f"| {task}, {reader} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="the dataset's directory (for the runs and the test)")
    parser.add_argument("--threads", type=int, help="torch threads per run (with --run)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--commands", action="store_true", help="print the runner's commands")
    what.add_argument("--run", action="store_true", help="run those whose records are missing")
    args = parser.parse_args()
    runs = commands(args.data_dir, args.threads)
    if args.commands:
        print("\n".join(shlex.join(words) for words in runs.values()))
        return
    missing = [name for name in runs if not (PROBES / f"{name}.json").is_file()]
    absent = [
        reader
        for reader in READERS
        if reader not in REQUIRED
        and all(probe(t, reader, n) in missing for t in TASKS for n in LABELS)
    ]
    if not args.run:  # a reader none of whose points has run yet is left out, and said so
        for reader in absent:
            print(f"{reader}: no record yet, left out")
        runs = {
            k: v
            for k, v in runs.items()
            if not any(k.startswith(f"{NAME}_{t}_{r}_") for t in TASKS for r in absent)
        }
        missing = [name for name in missing if name in runs]
    if args.run:
        # the command of the environment this script runs in, where it is not on the PATH
        foveate = shutil.which("foveate") or str(Path(sys.executable).with_name("foveate"))
        for name in missing:
            print(shlex.join(runs[name]), flush=True)
            subprocess.run([foveate, *runs[name][1:]], check=True, cwd=ROOT)
        missing = []
    if missing:
        raise SystemExit(
            f"{len(missing)} of {len(runs)} records missing ({missing[0]}, ...): "
            "--run runs them, --commands prints the commands"
        )
    records = {name: read_record(PROBES / f"{name}.json") for name in runs}
    metrics: dict[str, float] = {}
    curves: dict[str, dict[str, list[float]]] = {}
    for task in TASKS:
        curves[task] = {}
        for reader, (label, key) in READERS.items():
            if probe(task, reader, LABELS[0]) not in records:
                continue
            values = [accuracy(records[probe(task, reader, n)]) for n in LABELS]
            curves[task][label] = values
            for n, value in zip(LABELS, values, strict=True):
                metrics[f"{task}_{key}_accuracy_pct_{n}_labels"] = value
        first = records[probe(task, "pixels", LABELS[0])]
        metrics[f"{task}_majority_class_accuracy_pct"] = majority(first, args.data_dir)
    figure(curves, ROOT / "docs" / "figures" / f"{NAME}.png")
    print(table(curves))
    notes = (
        "Test accuracy (%) on 10,000 fixed test scenes per task, for each number of labelled "
        "training scenes, read from the runner's probe records "
        f"benchmarks/records/probes/{NAME}_<task>_<reader>_<labels>.json (test accuracy = 100 - "
        "their test_error_pct); AIR frozen (air_multimnist, seed 0); both readers trained with "
        "Adam (lr 1e-3, weight decay 1e-4, batch 64) for 2,000 updates, no validation split, "
        "the last weights tested. sum: 0-2 digit scenes, 19 classes; order: 2-digit scenes, "
        "left digit <= right."
    )
    path = write_results(
        NAME,
        metrics=metrics,
        seed=0,
        wall_s=sum(record["wall_s"] for record in records.values()),
        notes=notes,
        records=[f"benchmarks/records/probes/{name}.json" for name in records],
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
