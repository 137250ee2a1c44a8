"""Learning curves from a run's ``metrics.csv``: one small PNG per metric, training and
validation curves together.

Lightning's CSV log has a column per logged name and a row per logging event, each row filling
only the columns logged then. A training module logs a metric as ``train/<name>`` and
``val_<name>`` (``foveate.training.module``): both are one metric, one panel. Any other column
(a learning rate, an adversarial module's step count) is a panel of its own.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are files; there may be no screen
import matplotlib.pyplot as plt  # noqa: E402

from foveate.reports.files import save_png  # noqa: E402

# What the columns of the same metric start with, and how its curve is labelled.
PHASES = (("train/", "train"), ("train_", "train"), ("val/", "val"), ("val_", "val"))
# Columns that count, not measure: the x-axis and the epoch.
COUNTERS = ("step", "epoch")

Curve = list[tuple[float, float]]


def read_log(path: str | os.PathLike) -> dict[str, Curve]:
    """Column -> its (step, value) points in the file's order, from a Lightning CSV log; a row
    gives a point to each column it fills."""
    curves: dict[str, Curve] = {}
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            step = row.get("step")
            if not step:
                continue
            for column, value in row.items():
                if column in COUNTERS or column is None or value in ("", None):
                    continue
                try:
                    curves.setdefault(column, []).append((float(step), float(value)))
                except ValueError:
                    continue  # a value that is not a number has no curve
    return curves


def metric_of(column: str) -> tuple[str, str]:
    """'train/error_pct' -> ('error_pct', 'train'); 'val_error_pct' -> ('error_pct', 'val');
    a column of no phase is a metric of its own, labelled by its name."""
    for prefix, phase in PHASES:
        if column.startswith(prefix) and len(column) > len(prefix):
            return column[len(prefix) :], phase
    return column, column


def metric_groups(curves: dict[str, Curve]) -> dict[str, dict[str, Curve]]:
    """metric -> {phase: curve}, in the order the metrics' first columns come in ``curves``."""
    groups: dict[str, dict[str, Curve]] = {}
    for column, curve in curves.items():
        metric, phase = metric_of(column)
        groups.setdefault(metric, {})[phase] = curve
    return groups


def file_name(metric: str) -> str:
    """A metric's PNG name: what is not a letter, digit, '-' or '.' becomes '_'."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", metric).strip("_") + ".png"


def draw_curves(log: str | os.PathLike, out: str | os.PathLike) -> list[Path]:
    """A PNG in ``out`` for each metric of the CSV log ``log``: its curves against the training
    step, training as a line, validation as points joined by a line. Returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for metric, phases in metric_groups(read_log(log)).items():
        fig, ax = plt.subplots(figsize=(4.0, 2.6), layout="constrained")
        # training first, whichever the log wrote first, so that colours mean the same
        for phase, curve in sorted(phases.items(), key=lambda item: item[0] != "train"):
            steps, values = zip(*curve, strict=True)
            # validation comes once an epoch: few points, each worth marking
            marker = "o" if phase == "val" or len(curve) < 20 else None
            ax.plot(steps, values, marker=marker, markersize=3, linewidth=1, label=phase)
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if len(phases) > 1:
            ax.legend(fontsize=7)
        paths.append(save_png(fig, out / file_name(metric), dpi=80))
    return paths
