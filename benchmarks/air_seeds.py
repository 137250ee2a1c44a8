"""AIR (or DAIR) on multi-MNIST over several seeds: how many reach 98% count accuracy, and how fast.

    python benchmarks/air_seeds.py air/multimnist.yaml --seeds 0 1 2 3 4 --jobs 2
    python benchmarks/air_seeds.py air/multimnist.yaml --name air_ablation_lr --seeds 0 1 2 \\
        --jobs 2 -- --lr 0.001

Each seed is one ``foveate train`` of the config (flags after ``--`` are passed to it: an
ablation changes one setting), in runs/bench-<name>/seed-<k>, its checkpoint chosen on the
validation bound (no labels), tested once on the fixed test scenes. ``--jobs 2`` trains two seeds
at once on one thread each (each run then has less than the machine, a harder condition than
the issue's); ``--speed-minutes`` first trains alone on every core for that long to measure
the throughput. A run cut off continues with --resume; finished seeds are not trained again.

Writes the probe record benchmarks/records/probes/<name>.json: the median and worst count
accuracy, how many seeds reached 98%, each seed's accuracy, bound and position error, and the
throughput. Each finished seed's results.json and metrics.csv are kept in
benchmarks/records/logs/<name>/ (runs/ does not outlive a session): a later session trains only
the seeds missing there, and the summary covers every kept seed of the list. The headline
records of AIR and DAIR are the runner's (``foveate bench air_multimnist``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import LOGS, write_results

from foveate.training.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
KEPT = LOGS
FOVEATE = [sys.executable, "-m", "foveate.cli"]
TARGET = 98.0


def train_command(
    model: str, config: Path, run_dir: Path, seed: int, threads: int | None, extra: list[str]
) -> list[str]:
    command = [*FOVEATE, "train", model, "--config", str(config), "--run-dir", str(run_dir)]
    command += ["--seed", str(seed), "--no-progress-bar", *extra]
    if threads:
        command += ["--threads", str(threads)]
    if (run_dir / "checkpoints" / "last.ckpt").is_file():
        command.append("--resume")
    return command


def keep(run_dir: Path, kept: Path, prefix: str) -> None:
    """Copy a finished run's record (results, log of metrics, config) where git keeps it, as
    kept/<prefix>.results.json and so on."""
    kept.mkdir(parents=True, exist_ok=True)
    for file in ("results.json", "metrics.csv", "config.yaml"):
        shutil.copyfile(run_dir / file, kept / f"{prefix}.{file}")


def run_all(
    commands: dict[int, list[str]], logs: dict[int, Path], jobs: int, on_done=lambda seed: None
) -> None:
    """Run the commands, at most ``jobs`` at once; stop at the first that fails; call
    ``on_done(seed)`` for each that succeeds."""
    waiting, running = list(commands), {}
    while waiting or running:
        while waiting and len(running) < jobs:
            seed = waiting.pop(0)
            print(f"run {seed}: {' '.join(commands[seed])}", flush=True)
            log = logs[seed].open("a")
            running[seed] = subprocess.Popen(commands[seed], stdout=log, stderr=subprocess.STDOUT)
        time.sleep(5)
        for seed, process in list(running.items()):
            if process.poll() is None:
                continue
            del running[seed]
            if process.returncode:
                for other in running.values():
                    other.terminate()
                sys.exit(f"run {seed} failed (exit {process.returncode}); see {logs[seed]}")
            on_done(seed)
            print(f"run {seed}: done", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "config", help="a config under configs/ (e.g. air/multimnist.yaml), or a config file's path"
    )
    parser.add_argument("--name", help="results name (default: <model>_<config name>)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=1, help="seeds trained at once")
    parser.add_argument(
        "--threads", type=int, help="threads per run (default: 1 with --jobs 2 or more, else all)"
    )
    parser.add_argument("--speed-minutes", type=float, default=0.0)
    parser.add_argument("--data-dir", help="the dataset's directory (default: as foveate train)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("extra", nargs="*", help="flags for foveate train, after --")
    # argparse cannot take '-- flags' after options that follow the positional config: split
    # them off first.
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    args.extra = list(args.extra) + argv[cut + 1 :]
    given = Path(args.config)  # a config under configs/, or any config file (a kept one)
    config_path = given.resolve() if given.is_file() else ROOT / "configs" / args.config
    config = RunConfig.from_yaml(config_path)
    name = args.name or f"{config.model}_{config_path.stem}"
    base = ROOT / "runs" / f"bench-{name}"
    base.mkdir(parents=True, exist_ok=True)
    extra = list(args.extra) + (["--data-dir", args.data_dir] if args.data_dir else [])
    threads = args.threads or (1 if args.jobs > 1 else None)
    if not args.resume and any(base.glob("seed-*/checkpoints")):
        sys.exit(f"{base} holds runs already: --resume, or remove it")

    speed = None
    if args.speed_minutes:
        speed_dir = base / "speed"
        done = speed_dir / "results.json"
        if not done.is_file():
            command = [*FOVEATE, "train", config.model, "--config", str(config_path)]
            command += ["--run-dir", str(speed_dir)]
            command += [
                "--max-minutes",
                str(args.speed_minutes),
                "--no-progress-bar",
                "--overwrite",
            ]
            print("speed, alone:", " ".join(command + extra), flush=True)
            subprocess.run(
                command + extra,
                check=True,
                stdout=(base / "speed.log").open("w"),
                stderr=subprocess.STDOUT,
            )
        speed = json.loads(done.read_text())["train_images_per_s"]

    kept = KEPT / name
    commands, logs = {}, {}
    for seed in args.seeds:
        run_dir = base / f"seed-{seed}"
        if (kept / f"seed-{seed}.results.json").is_file():
            continue
        if (run_dir / "results.json").is_file():
            keep(run_dir, kept, f"seed-{seed}")
            continue
        commands[seed] = train_command(config.model, config_path, run_dir, seed, threads, extra)
        logs[seed] = base / f"seed-{seed}.log"
    run_all(
        commands,
        logs,
        args.jobs,
        on_done=lambda seed: keep(base / f"seed-{seed}", kept, f"seed-{seed}"),
    )

    results = {s: json.loads((kept / f"seed-{s}.results.json").read_text()) for s in args.seeds}
    accuracy = {s: r["test_count_accuracy_pct"] for s, r in results.items()}
    metrics = {
        "count_accuracy_pct_median": round(statistics.median(accuracy.values()), 2),
        "count_accuracy_pct_worst": round(min(accuracy.values()), 2),
        "seeds": len(accuracy),
        "seeds_reaching_98": sum(a >= TARGET for a in accuracy.values()),
    }
    if speed is not None:
        metrics["train_images_per_s"] = round(speed, 1)
    metrics["train_images_per_s_per_seed_run"] = round(
        statistics.median(r["train_images_per_s"] for r in results.values()), 1
    )
    for s, r in results.items():
        metrics[f"count_accuracy_pct_seed{s}"] = round(r["test_count_accuracy_pct"], 2)
        metrics[f"nll_nats_seed{s}"] = round(r["test_nll_nats"], 1)
        if "test_position_error_px" in r:
            metrics[f"position_error_px_seed{s}"] = round(r["test_position_error_px"], 2)
        metrics[f"train_minutes_seed{s}"] = round(r["train_seconds"] / 60, 1)
    wall = sum(r["wall_s"] for r in results.values())
    metrics["wall_s"] = round(wall, 1)
    trained = RunConfig.from_yaml(kept / f"seed-{args.seeds[0]}.config.yaml")
    jobs = f"{args.jobs} seed(s) at once, {threads or 'all'} thread(s) each"
    notes = (
        f"Count accuracy (%) on the fixed test scenes (data_seed 0, counts "
        f"{trained.data.get('counts')}); each seed's checkpoint chosen on the validation bound "
        f"(no labels anywhere in training or selection). {jobs}; "
        f"train_images_per_s_per_seed_run is the median throughput of those runs. "
        + (
            f"train_images_per_s: {args.speed_minutes} minutes trained alone on every core, "
            "before the seeds. "
            if speed is not None
            else ""
        )
        + f"wall_s sums every seed's run. Flags beyond the config: {' '.join(args.extra) or 'none'}."
    )
    path = write_results(
        name,
        metrics=metrics,
        seed=args.seeds[0],
        wall_s=wall,
        notes=notes,
        config=trained.as_dict(),
        seeds=[
            {
                "seed": s,
                "metrics": {k: v for k, v in r.items() if k.startswith(("test_", "best_val"))},
                "wall_s": r["wall_s"],
            }
            for s, r in results.items()
        ],
    )
    print(f"wrote {path}: {json.dumps(metrics)}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
