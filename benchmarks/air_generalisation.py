"""AIR and DAIR on counts they never saw (Eslami et al. 2016, sec. 3.1, fig. 6).

    python benchmarks/air_generalisation.py --jobs 2 --data-dir ../shared/data/mnist

Extrapolation: trained on scenes of 0, 1 or 2 digits, tested on scenes of 3. Interpolation:
trained on 0, 1 or 3, tested on 2. Each of the four runs is one ``foveate train`` of the model's
multi-MNIST config with ``--counts`` and ``--test-counts`` (flags after ``--`` go to every run),
in runs/bench-air_generalisation/<model>_<split>; its checkpoint is chosen on the validation
bound of scenes with the training counts, then tested once on the fixed test scenes of the other
count. Finished runs are kept in benchmarks/records/logs/air_generalisation/ and not trained
again.

Writes the probe record benchmarks/records/probes/air_generalisation.json: each run's count
accuracy on the unseen count, and on the validation scenes of its training counts at the chosen
checkpoint. DAIR's headline records are the runner's (``foveate bench dair_extrapolation``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os

from air_seeds import KEPT, ROOT, keep, run_all, train_command
from common import paper_figure, write_results

SPLITS = {"extrapolation": ("0,1,2", "3"), "interpolation": ("0,1,3", "2")}
# Read off the paper's figure 6, as cited in the issue: roughly.
SOURCE = "Eslami et al. 2016 (NIPS), figure 6 (read off a plot)"
PAPER = {
    "air_extrapolation_count_accuracy_pct": 0,
    "air_interpolation_count_accuracy_pct": 60,
    "dair_extrapolation_count_accuracy_pct": 80,
    "dair_interpolation_count_accuracy_pct": 95,
}


def best_val_count(metrics_csv) -> float:
    """Count accuracy (%) on the validation scenes (training counts) at the best bound's epoch."""
    with open(metrics_csv) as f:
        rows = [r for r in csv.DictReader(f) if r.get("val_nll_nats")]
    best = min(rows, key=lambda r: float(r["val_nll_nats"]))
    return round(float(best["val_count_accuracy_pct"]), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["air", "dair"])
    parser.add_argument("--splits", nargs="+", choices=list(SPLITS), default=list(SPLITS))
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at once")
    parser.add_argument("--threads", type=int, help="threads per run (default: 1 with --jobs 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="air_generalisation", help="results name")
    parser.add_argument("--data-dir", help="the dataset's directory (default: as foveate train)")
    parser.add_argument("extra", nargs="*", help="flags for foveate train, after --")
    args = parser.parse_args()
    name = args.name
    base, kept = ROOT / "runs" / f"bench-{name}", KEPT / name
    threads = args.threads or (1 if args.jobs > 1 else None)
    extra = list(args.extra) + (["--data-dir", args.data_dir] if args.data_dir else [])
    runs = [(m, split) for m in args.models for split in args.splits]
    commands, logs = {}, {}
    for model, split in runs:
        key = f"{model}_{split}"
        if (kept / f"{key}.results.json").is_file():
            continue
        counts, test_counts = SPLITS[split]
        config = ROOT / "configs" / model / "multimnist.yaml"
        flags = ["--counts", counts, "--test-counts", test_counts, *extra]
        commands[key] = train_command(model, config, base / key, args.seed, threads, flags)
        logs[key] = base / f"{key}.log"
    base.mkdir(parents=True, exist_ok=True)
    run_all(commands, logs, args.jobs, on_done=lambda key: keep(base / key, kept, key))

    metrics, wall = {}, 0.0
    for model, split in runs:
        result = json.loads((kept / f"{model}_{split}.results.json").read_text())
        metrics[f"{model}_{split}_count_accuracy_pct"] = round(result["test_count_accuracy_pct"], 2)
        metrics[f"{model}_{split}_val_count_accuracy_pct"] = best_val_count(
            kept / f"{model}_{split}.metrics.csv"
        )
        metrics[f"{model}_{split}_train_minutes"] = round(result["train_seconds"] / 60, 1)
        wall += result["wall_s"]
    metrics["wall_s"] = round(wall, 1)
    metrics_keys = {f"{model}_{split}" for model, split in runs}
    notes = (
        "Count accuracy (%) on 10,000 fixed test scenes of a count never seen in training "
        "(extrapolation: trained on 0-2 digits, tested on 3; interpolation: trained on 0, 1 and 3, "
        "tested on 2); checkpoints chosen on the validation bound of scenes with the training "
        f"counts. {args.jobs} run(s) at once, {threads or 'all'} thread(s) each. "
        f"Flags beyond the configs: {' '.join(args.extra) or 'none'}. The paper's figures are read "
        "off its figure 6, roughly."
    )
    path = write_results(
        name,
        metrics=metrics,
        seed=args.seed,
        wall_s=wall,
        notes=notes,
        paper=paper_figure(
            {k: v for k, v in PAPER.items() if k.rsplit("_count", 1)[0] in metrics_keys}, SOURCE
        ),
    )
    print(f"wrote {path}: {json.dumps(metrics)}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
