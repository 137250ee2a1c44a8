"""RAM's classification tables as measured: every row's results file beside the paper's error,
and the baselines on the same canvases, as markdown.

    python benchmarks/ram_table.py

Reads the rows' headline records, benchmarks/records/headline/ram_<row>.json (``foveate bench
ram_<row>``), the baselines' probe records benchmarks/records/probes/fc_<task>.json and
cnn_<task>.json (benchmarks/train.py), and the ablation probes'
benchmarks/records/probes/c100_ablation_<name>.json (benchmarks/ram_probe.py); a row, baseline
or probe not yet run says so. Prints the three tables that docs/ram.md shows.
"""

from __future__ import annotations

import json

from common import PROBES, RECORDS
from ram_row import PAPER

TASKS = {
    "mnist": "MNIST 28x28",
    "translated": "translated 60x60",
    "cluttered60": "cluttered 60x60, 4 pieces",
    "cluttered100": "cluttered 100x100, 8 pieces",
}


HEADLINE = RECORDS / "headline"
# Each probe changes one part of configs/ram/cluttered100_8g.yaml, trained 32 epochs (docs/ram.md,
# "Ablation of the recipe"); the table gives the --set options each probe recorded.
ABLATIONS = {
    "base": "none",
    "std_fixed": "the policy's std fixed at 0.1 (as in the paper; no anneal)",
    "std_learned": "the policy's std learned from 0.2, floored at 0.05",
    "core_rnn": "the paper's rectifier core instead of the LSTM",
    "baseline_constant": "a constant baseline instead of b_t from the core's state",
    "reinforce0.03": "the REINFORCE term's weight 0.03 (base: 0.1)",
    "reinforce0.3": "the REINFORCE term's weight 0.3 (base: 0.1)",
    "lr_constant": "a constant learning rate (base: cosine)",
    "curriculum": "16 epochs on translated100, then 16 on cluttered100 (trainer.init_from)",
    "glimpse_reward0.5": "each location also earns 0.5 x a glimpse reader's answer from its pixels",
    "glimpse_reward0.5_finest": "as above, the reader seeing only the finest 12x12 patch",
    "glimpse_reward1_finest": "the finest patch's reader, its reward weighted 1",
    "glimpse_reward2_finest": "the finest patch's reader, its reward weighted 2",
}


def read(folder, name: str) -> dict | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def ablation_line(name: str) -> str:
    path = PROBES / f"c100_ablation_{name}.json"
    head = f"| `c100_ablation_{name}` | {ABLATIONS[name]} |"
    if not path.exists():
        return head + " not run yet | | |"
    found = json.loads(path.read_text())
    sets = " ".join(f"`{c}`" for c in found["changes"] if not c.startswith("trainer.max_epochs"))
    m = found["metrics"]
    return (
        f"{head} {sets or 'none'} | {m['best_val_error_pct']:.2f}% | {m['val_hit_rate_pct']:.1f}% |"
    )


def row_line(row: str) -> str:
    task, glimpses = row.rsplit("_", 1)
    paper = PAPER[row]
    found = read(HEADLINE, f"ram_{row}")
    head = f"| {TASKS[task]} | {glimpses[:-1]} | {paper:.2f}% |"
    if found is None:
        return head + " not run yet | | | | |"
    m = found["metrics"]
    error, spread, seeds = m["test_error_pct"], m.get("test_error_pct_std"), found["num_seeds"]
    ours = f"**{error:.2f}%**" if error <= paper else f"{error:.2f}% (+{error - paper:.2f})"
    if seeds > 1:
        ours += f" ± {spread:.2f}"
    return (
        f"{head} {ours} | {m['test_error_pct_M10']:.2f}% | {seeds} | {m['hit_rate_pct']:.1f}% "
        f"| {found['wall_s'] / 60:.0f} min |"
    )


def baseline_cell(name: str) -> str:
    found = read(PROBES, name)
    if found is None:
        return "not run yet"
    m = found["metrics"]
    return f"{m['test_error_pct']:.2f}% ({m['epochs']} epochs, {found['wall_s'] / 60:.0f} min)"


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
    print()
    print("| probe | change | --set | best val error | val hit rate |")
    print("| --- | --- | --- | --- | --- |")
    for name in ABLATIONS:
        print(ablation_line(name))


if __name__ == "__main__":
    main()
