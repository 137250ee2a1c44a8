"""A config's training throughput with nothing else running, on one thread and on all cores.

    python benchmarks/alone_speed.py configs/infogan/mnist.yaml --minutes 2 --threads 1 2 \\
        --data-dir ../shared/data/mnist

The runner's records time their seeds as they were trained, often two at a time on the two
cores, each on one thread: their ``train_images_per_s`` says what a seed had, not what the model
can do. This trains ``foveate train`` of one config for ``--minutes`` of training at each
``--threads`` in turn, one run at a time, and keeps each run's own ``train_images_per_s`` (the
harness's speed meter: training steps only, validation and compilation left out). The record
says what else was using the CPU at the start; a busy machine makes the figure meaningless, so
run it alone. Writes the probe record ``benchmarks/records/probes/<name>_speed_alone.json``
(name: the config's folder and stem, e.g. ``infogan_mnist``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import write_results
from speed_compare import busy

ROOT = Path(__file__).resolve().parents[1]


def train(config: Path, model: str, run_dir: Path, threads: int, args: argparse.Namespace) -> dict:
    """One timed ``foveate train`` of ``config`` on ``threads`` threads; its results.json."""
    command = [
        sys.executable, "-m", "foveate.cli", "train", model,
        "--config", str(config),
        "--run-dir", str(run_dir),
        "--max-minutes", str(args.minutes),
        "--threads", str(threads),
        "--no-progress-bar",
        "--overwrite",
    ]  # fmt: skip
    if args.data_dir:
        command += ["--data-dir", str(Path(args.data_dir).resolve())]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return json.loads((run_dir / "results.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path, help="a config file under configs/")
    parser.add_argument("--minutes", type=float, default=2.0, help="training minutes per run")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--data-dir", help="the dataset's folder (default: as foveate train)")
    args = parser.parse_args()
    config = args.config.resolve()
    model = _model_of(config)
    name = f"{config.parent.name}_{config.stem}"
    started = time.perf_counter()
    load = busy()
    speeds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for threads in args.threads:
            result = train(config, model, Path(scratch) / f"threads{threads}", threads, args)
            speeds[f"train_images_per_s_{threads}_threads"] = round(result["train_images_per_s"], 1)
            print(threads, "threads:", speeds[f"train_images_per_s_{threads}_threads"], flush=True)
    path = write_results(
        f"{name}_speed_alone",
        metrics=speeds,
        seed=0,
        wall_s=time.perf_counter() - started,
        notes=(
            f"Training throughput of {config.relative_to(ROOT)} trained alone, "
            f"{args.minutes} minutes of training at each thread count in turn: training images "
            f"per second of the harness's speed meter (validation left out). At the start: {load}."
        ),
    )
    print(f"wrote {path}")


def _model_of(config: Path) -> str:
    """The registered model a config file names (its ``model:`` line)."""
    import yaml

    return yaml.safe_load(config.read_text())["model"]


if __name__ == "__main__":
    main()
