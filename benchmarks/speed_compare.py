"""Is RAM's training step as fast as at an earlier commit? Both trained alone, in turn, on this machine.

    python benchmarks/speed_compare.py --before e49cffa --minutes 3 --rounds 2 \\
        --data-dir ../shared/data/mnist

Checks the earlier commit out in a temporary git worktree and runs, in turn, ``foveate train``
of ``configs/ram/mnist.yaml`` (RAM on MNIST, 6 glimpses, compiled) from that commit and from
this checkout, each for ``--minutes`` of training, ``--rounds`` times (before, after, before,
after: a drift of the machine's speed falls on both). The throughput is each run's own
``train_images_per_s`` (training steps only, compilation excluded by the harness's speed
meter). Nothing else should run meanwhile: the record says what else was running at the start.
Writes the probe record benchmarks/records/probes/ram_mnist_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import write_results

ROOT = Path(__file__).resolve().parents[1]


def train(checkout: Path, run_dir: Path, args: argparse.Namespace) -> dict:
    """One ``foveate train`` of the MNIST config from ``checkout``; its results.json."""
    command = [
        sys.executable,
        "-m",
        "foveate.cli",
        "train",
        "ram",
        "--config",
        str(checkout / "configs" / "ram" / "mnist.yaml"),
        "--run-dir",
        str(run_dir),
        "--max-minutes",
        str(args.minutes),
        "--no-progress-bar",
        "--overwrite",
    ]
    if args.data_dir:
        command += ["--data-dir", str(Path(args.data_dir).resolve())]
    if args.threads:
        command += ["--threads", str(args.threads)]
    environment = {**os.environ, "PYTHONPATH": str(checkout)}
    subprocess.run(command, cwd=checkout, env=environment, check=True, capture_output=True)
    return json.loads((run_dir / "results.json").read_text())


def busy() -> str:
    """The load average at the start, and the processes using the CPU besides this one."""
    top = subprocess.run(
        ["ps", "-eo", "pcpu,comm", "--sort=-pcpu"], capture_output=True, text=True
    ).stdout.splitlines()[1:4]
    return f"load average {os.getloadavg()[0]:.2f}; busiest: " + "; ".join(t.strip() for t in top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="e49cffa", help="the earlier commit")
    parser.add_argument("--minutes", type=float, default=3.0, help="training minutes per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data-dir", help="MNIST's folder (default: as foveate train)")
    parser.add_argument("--threads", type=int, help="torch threads per run (default: all)")
    args = parser.parse_args()
    started = time.perf_counter()
    load = busy()
    with tempfile.TemporaryDirectory() as scratch:
        before = Path(scratch) / "before"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before), args.before],
            check=True,
            capture_output=True,
        )
        try:
            speeds: dict[str, list[float]] = {"before": [], "after": []}
            for round_ in range(args.rounds):
                for side, checkout in (("before", before), ("after", ROOT)):
                    run_dir = Path(scratch) / f"{side}{round_}"
                    result = train(checkout, run_dir, args)
                    speeds[side].append(round(result["train_images_per_s"], 1))
                    print(side, round_, speeds[side][-1], flush=True)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)],
                check=False,
            )
    mean = {side: statistics.fmean(values) for side, values in speeds.items()}
    path = write_results(
        "ram_mnist_speed",
        metrics={
            "train_images_per_s_before": round(mean["before"], 1),
            "train_images_per_s_after": round(mean["after"], 1),
            "after_over_before": round(mean["after"] / mean["before"], 4),
            "train_images_per_s_before_runs": speeds["before"],
            "train_images_per_s_after_runs": speeds["after"],
        },
        seed=0,
        wall_s=time.perf_counter() - started,
        notes=(
            "RAM's training throughput on MNIST (configs/ram/mnist.yaml: 6 glimpses, compiled), "
            f"training images per second of the harness's speed meter, at commit {args.before} "
            f"(before) and at this checkout (after), {args.minutes} minutes of training each, "
            f"{args.rounds} rounds in turn, one run at a time. At the start: {load}."
        ),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
