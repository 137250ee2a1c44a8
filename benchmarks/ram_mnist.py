"""Benchmark: RAM on full MNIST 28x28, 6 glimpses of 8x8 at one scale (Mnih et al. 2014, table 1a).

    python benchmarks/ram_mnist.py --data-dir ../shared/data/mnist

Trains configs/ram/mnist.yaml (hyper-parameters and the checkpoint chosen on a validation split
of 5,000 training digits), tests the best checkpoint on the 10,000 test digits with M=1 (and
M=10 beside it), and writes benchmarks/results/ram_mnist.json. A run cut off can be continued
with --resume.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from common import write_results

from foveate.training.config import RunConfig
from foveate.training.fit import evaluate, train_and_test

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "bench-ram-mnist")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--max-minutes", type=float, default=42.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    config = RunConfig.from_yaml(ROOT / "configs" / "ram" / "mnist.yaml")
    trainer = {"devices": args.devices, "seed": args.seed, "max_minutes": args.max_minutes}
    if args.max_epochs:
        trainer["max_epochs"] = args.max_epochs
    if args.threads:
        trainer["threads"] = args.threads
    if args.no_progress:
        trainer["progress_bar"] = False
    config = config.updated({"data": {"data_dir": args.data_dir}, "trainer": trainer})
    started = time.perf_counter()
    summary = train_and_test(config, args.run_dir, resume=args.resume, samples=1)
    if not summary:
        return  # a DDP worker process
    m10 = evaluate(summary["best_checkpoint"], samples=10)
    wall = time.perf_counter() - started
    settings = config.trainer_settings()
    path = write_results(
        "ram_mnist",
        metrics={
            "test_error_pct": round(summary["test_error_pct"], 3),
            "test_error_pct_M10": round(m10["test_error_pct"], 3),
            "best_val_error_pct": round(summary["best_val_error_pct"], 3),
            "wall_s": round(wall, 1),
            "train_images_per_s": round(summary["train_images_per_s"], 1),
            "epochs": summary["epochs"],
        },
        seed=args.seed,
        wall_s=wall,
        config=dataclasses.asdict(config),
        notes=(
            f"test_error_pct uses M=1 (one sampled glimpse path per image); test_error_pct_M10 "
            f"averages M=10. 10,000 MNIST test digits; checkpoint chosen on 5,000 validation "
            f"digits held out of the training set. {settings.devices} process(es), batch "
            f"{config.data.get('batch_size', 128)} per process, max {settings.max_epochs} epochs "
            f"or {settings.max_minutes} minutes. train_images_per_s counts training time only "
            f"(validation excluded). wall_s covers training and both tests."
        ),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
