"""Compare training runs epoch by epoch from their metrics.csv files: the mean validation
error over a range of epochs and the best one up to an epoch (for probes stopped early).

    python benchmarks/ram_curves.py logs/ram_rows/ram_translated_8g_lr5e-4_seed0 \\
        logs/ram_probes/t60_8g_lr1e-3 logs/ram_probes/t60_8g_lr2e-3 --epochs 30 39 --best-by 43
"""

from __future__ import annotations

import argparse
import csv

from common import RECORDS


def validation_errors(name: str) -> list[float]:
    """Validation error per epoch, in order, from benchmarks/records/<name>.metrics.csv."""
    with open(RECORDS / f"{name}.metrics.csv") as f:
        return [float(r["val_error_pct"]) for r in csv.DictReader(f) if r.get("val_error_pct")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", help="paths under benchmarks/records, no suffix")
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
