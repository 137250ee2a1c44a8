"""Compare training runs epoch by epoch from their metrics.csv files: the mean validation
error over a range of epochs and the best one up to an epoch (for probes stopped early).

    python benchmarks/ram_curves.py logs/ram_rows/ram_translated_8g_lr5e-4_seed0 \\
        logs/ram_probes/t60_8g_lr1e-3 logs/ram_probes/t60_8g_lr2e-3 --epochs 30 39 --best-by 43
    python benchmarks/ram_curves.py ram_translated_8g t60_8g_lr1e-3 --epochs 30 39 --best-by 43

Each run is a log kept under benchmarks/records (its path there, without ``.metrics.csv``), or
the name of a benchmark or probe the runner trained (its seed-0 run's
runs/bench/<name>/seed0/metrics.csv).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from common import RECORDS, ROOT

RUNS = ROOT / "runs" / "bench"  # the runner's runs: runs/bench/<name>/seed<k>


def metrics_csv(name: str) -> Path:
    """benchmarks/records/<name>.metrics.csv if it is there, else the runner's seed-0 log."""
    kept = RECORDS / f"{name}.metrics.csv"
    return kept if kept.is_file() else RUNS / name / "seed0" / "metrics.csv"


def validation_errors(name: str) -> list[float]:
    """Validation error per epoch, in order, from the run's metrics.csv."""
    path = metrics_csv(name)
    if not path.is_file():
        raise SystemExit(f"{name}: neither {RECORDS / name}.metrics.csv nor {path} exists")
    with open(path) as f:
        return [float(r["val_error_pct"]) for r in csv.DictReader(f) if r.get("val_error_pct")]


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("names", nargs="+", help="logs under benchmarks/records, or runs' names")
    parser.add_argument("--epochs", nargs=2, type=int, required=True, metavar=("FIRST", "LAST"))
    parser.add_argument("--best-by", type=int, required=True, help="epochs counted for the best")
    args = parser.parse_args()
    first, last = args.epochs
    for name in args.names:
        errors = validation_errors(name)
        if len(errors) <= last or len(errors) < args.best_by:
            raise SystemExit(f"{name} has {len(errors)} epochs, fewer than asked for")
        window = errors[first : last + 1]
        print(
            f"{name}: mean val error, epochs {first}-{last}: {sum(window) / len(window):.2f}%; "
            f"best in the first {args.best_by} epochs: {min(errors[: args.best_by]):.2f}%"
        )


if __name__ == "__main__":
    main()
