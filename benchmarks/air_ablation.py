"""What makes AIR count reliably: one setting of the multi-MNIST config changed at a time.

    python benchmarks/air_ablation.py --seeds 0 1 --data-dir ../shared/data/mnist

Each change is ``benchmarks/air_seeds.py`` on ``configs/air/multimnist.yaml`` with its flags
and a shorter schedule (``--max-epochs``, default 15 of the config's 50: count accuracy is
within a point of its final value by then in the full runs), two seeds at once on one thread
each, results kept as benchmarks/records/probes/air_ablation_<change>.json and its logs. Writes
benchmarks/records/probes/air_ablation.json: per change, how many seeds reached 98%, the median and
the worst count accuracy on the test scenes (checkpoints chosen on the validation bound).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from air_seeds import ROOT, TARGET
from common import PROBES, write_results

# change -> (what it does, the flags for foveate train)
CHANGES: dict[str, tuple[str, list[str]]] = {
    "base": ("the config as it is", []),
    "reinforce": ("the paper's likelihood ratio with NVIL baselines", ["--estimator", "reinforce"]),
    "concrete": ("a relaxed (Concrete) z_pres at temperature 0.5", ["--estimator", "concrete"]),
    "initial_presence_0.88": (
        "q(z_pres = 1) starting at 0.88 (the bias's default) instead of 0.1",
        ["--initial-presence", "0.88"],
    ),
    "wide_windows": (
        "window half-width anywhere in [0.05, 2] instead of [0.4, 0.62]",
        ["--scale-range=0.05,2.0"],
    ),
    "z_pres_prior_1e-6": ("z_pres prior 1e-6 instead of 1e-3", ["--z-pres-prior", "1e-6"]),
    "overlapping": ("digits that may overlap (harder than the paper's scenes)", ["--overlapping"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", nargs="+", default=list(CHANGES), choices=list(CHANGES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--max-epochs", type=int, default=15)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--data-dir", help="the dataset's directory (default: as foveate train)")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = {}
    for change in args.changes:
        _, flags = CHANGES[change]
        name = f"air_ablation_{change}"
        command = [sys.executable, str(ROOT / "benchmarks" / "air_seeds.py"), "air/multimnist.yaml"]
        command += ["--name", name, "--seeds", *map(str, args.seeds), "--jobs", str(args.jobs)]
        command += ["--resume"] + (["--data-dir", args.data_dir] if args.data_dir else [])
        command += ["--", "--max-epochs", str(args.max_epochs), *flags]
        print(" ".join(command), flush=True)
        subprocess.run(command, check=True)
        rows[change] = json.loads((PROBES / f"{name}.json").read_text())["metrics"]
    metrics = {}
    for change, m in rows.items():
        metrics[f"{change}_seeds_reaching_98"] = m["seeds_reaching_98"]
        metrics[f"{change}_seeds"] = m["seeds"]
        metrics[f"{change}_count_accuracy_pct_median"] = m["count_accuracy_pct_median"]
        metrics[f"{change}_count_accuracy_pct_worst"] = m["count_accuracy_pct_worst"]
        metrics[f"{change}_train_images_per_s_per_seed_run"] = m["train_images_per_s_per_seed_run"]
    notes = (
        f"Each change of configs/air/multimnist.yaml trained for {args.max_epochs} epochs of "
        f"15,000 scenes on seeds {args.seeds}, {args.jobs} at once on one thread each; test count "
        f"accuracy (%) on the fixed 0-2 digit test scenes, {TARGET}% the target. Changes: "
        + "; ".join(f"{c}: {CHANGES[c][0]}" for c in rows)
        + "."
    )
    path = write_results(
        "air_ablation",
        metrics=metrics,
        seed=args.seeds[0],
        wall_s=time.perf_counter() - started,
        notes=notes,
    )
    print(f"wrote {path}: {json.dumps(metrics)}")


if __name__ == "__main__":
    main()
