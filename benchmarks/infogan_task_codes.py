"""Task-specific codes against the number of labels: the issue's ``infogan_task_codes`` record.

    python benchmarks/infogan_task_codes.py

Reads the runner's records of ``foveate bench infogan_task_codes_<n>`` for n = 10, 20, 50, 100
labelled training digits (benchmarks/records/probes/infogan_task_codes_<n>.json; each seed's
``test_code_accuracy_unmatched_pct``: c1 = k read as digit k, no matching) and writes
benchmarks/records/probes/infogan_task_codes.json, whose metrics name each n:
``code_accuracy_pct_<n>_labels`` (the median over seeds), ``code_accuracy_pct_<n>_labels_worst``,
``seeds_<n>_labels`` and ``seeds_reaching_98_<n>_labels``. It trains nothing; an n not yet run
is left out and said so in the notes.
"""

from __future__ import annotations

import statistics

from common import PROBES, write_results

from foveate.bench.record import read_record

LABELS = (10, 20, 50, 100)
TARGET = 98.0  # the target at 100 labels, counted at every n
METRIC = "test_code_accuracy_unmatched_pct"


def main() -> None:
    metrics: dict[str, float] = {}
    seeds, missing, sources = [], [], []
    wall_s = 0.0
    for n in LABELS:
        path = PROBES / f"infogan_task_codes_{n}.json"
        if not path.is_file():
            missing.append(n)
            continue
        record = read_record(path)
        values = [s["metrics"][METRIC] for s in record["seeds"] if METRIC in s["metrics"]]
        if not values:
            missing.append(n)
            continue
        metrics[f"code_accuracy_pct_{n}_labels"] = statistics.median(values)
        metrics[f"code_accuracy_pct_{n}_labels_worst"] = min(values)
        metrics[f"seeds_{n}_labels"] = len(values)
        metrics[f"seeds_reaching_98_{n}_labels"] = sum(v >= TARGET for v in values)
        wall_s = max(wall_s, record.get("wall_s", 0.0))
        sources.append(f"{path.name} (commit {record['git']['commit'][:7]}, {record['machine']})")
        seeds.extend(
            {
                "seed": s["seed"],
                "command": s.get("command", record["command"]),
                "metrics": {"labels": n, METRIC: s["metrics"][METRIC]},
                "wall_s": s.get("wall_s", 0.0),
            }
            for s in record["seeds"]
            if METRIC in s["metrics"]
        )
    if not metrics:
        raise SystemExit(
            "no infogan_task_codes_<n> record yet: foveate bench infogan_task_codes_100 "
            "--data-dir ../shared/data/mnist trains one"
        )
    notes = (
        "Task-specific codes (Drozdov & Evtimova): InfoGAN's c1 bound to the digit by Q's "
        "supervised term over n labelled training digits; the test digits named by c1 = k read "
        "as digit k, no matching, median and worst over seeds. Gathered from "
        + "; ".join(sources)
        + (f". Not yet run: n = {', '.join(map(str, missing))}" if missing else "")
        + ". Labels: the n training digits in training; validation labels hidden in training and "
        "in choosing the checkpoint; test labels only to measure."
    )
    path = write_results(
        "infogan_task_codes",
        metrics=metrics,
        seed=0,
        wall_s=wall_s,
        notes=notes,
        seeds=seeds,
        title="InfoGAN's task-specific codes against the number of labelled digits",
    )
    for key, value in metrics.items():
        print(f"{key}: {value:g}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
