"""RAM's classification tables as measured: every row's results file beside the paper's error,
and the baselines on the same canvases, as markdown.

    python benchmarks/ram_table.py

Reads benchmarks/results/ram_<row>.json (written by ram_row.py), fc_<task>.json and
cnn_<task>.json (benchmarks/train.py); a row or baseline not yet run says so. Prints the two
tables that docs/ram.md shows.
"""

from __future__ import annotations

import json

from common import RESULTS
from ram_row import PAPER

TASKS = {
    "mnist": "MNIST 28x28",
    "translated": "translated 60x60",
    "cluttered60": "cluttered 60x60, 4 pieces",
    "cluttered100": "cluttered 100x100, 8 pieces",
}


def read(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def row_line(row: str) -> str:
    task, glimpses = row.rsplit("_", 1)
    paper = PAPER[row]
    found = read(f"ram_{row}")
    head = f"| {TASKS[task]} | {glimpses[:-1]} | {paper:.2f}% |"
    if found is None:
        return head + " not run yet | | | | |"
    m = found["metrics"]
    error, spread, seeds = m["test_error_pct"], m["test_error_pct_std"], len(m["seeds"])
    ours = f"**{error:.2f}%**" if error <= paper else f"{error:.2f}% (+{error - paper:.2f})"
    if seeds > 1:
        ours += f" ± {spread:.2f}"
    return (
        f"{head} {ours} | {m['test_error_pct_M10']:.2f}% | {seeds} | {m['hit_rate_pct']:.1f}% "
        f"| {m['wall_s'] / 60:.0f} min |"
    )


def baseline_cell(name: str) -> str:
    found = read(name)
    if found is None:
        return "not run yet"
    m = found["metrics"]
    return f"{m['test_error_pct']:.2f}% ({m['epochs']} epochs, {m['wall_s'] / 60:.0f} min)"


def main() -> None:
    print(
        "| task | glimpses | paper | ours, M=1 (± sd over seeds) | M=10 | seeds | "
        "glimpse hit rate | longest seed's wall time |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in PAPER:
        print(row_line(row))
    print()
    print("| task | fully connected, 2 x 256 | convolutional, 8 x 10x10 stride 5 + 256 |")
    print("| --- | --- | --- |")
    for task, label in TASKS.items():
        print(f"| {label} | {baseline_cell(f'fc_{task}')} | {baseline_cell(f'cnn_{task}')} |")


if __name__ == "__main__":
    main()
