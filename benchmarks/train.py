"""Benchmarks: train a config, test its best checkpoint, write benchmarks/results/<name>.json.

    python benchmarks/train.py ram_mnist --data-dir ../shared/data/mnist
    python benchmarks/train.py draw_mnist --data-dir ../shared/data/mnist --resume

Hyper-parameters and the checkpoint are chosen on a validation split carved from the training
digits; the test set is touched once, at the end. A run cut off (a crash, the end of a session)
continues from its last checkpoint with --resume, and its wall time then sums every session.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from common import write_results

from foveate.training.config import RunConfig
from foveate.training.fit import evaluate, train_and_test

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Benchmark:
    """config: YAML under configs/; samples: M (classifiers) or K (generative models) of the
    test; more_samples: a second test with more M; notes: what the numbers mean."""

    config: str
    samples: int
    notes: str
    more_samples: int | None = None


CLASSIFICATION_NOTES = (
    "test_error_pct uses M={M} (glimpse paths per image) on the task's fixed test set (10,000 "
    "test digits); the checkpoint is chosen on 5,000 validation digits held out of the training "
    "set. train_images_per_s counts training time only; wall_s covers training, validation and "
    "testing."
)
LIKELIHOOD_NOTES = (
    "Binarized MNIST, one fixed binarization sampled from the canonical grey levels with "
    "data_seed (not the Larochelle-Murray file of the DRAW paper, which cannot be fetched here); "
    "55,000 training and 5,000 validation digits from the training set, 10,000 test digits. "
    "test_nll_nats is the negative ELBO (eq. 9-12) with one posterior sample per image; "
    "test_nll_iw_nats the importance-weighted estimate with K={K} samples (Burda et al. 2016). "
    "The checkpoint is chosen on the validation bound."
)

BENCHMARKS = {
    "ram_mnist": Benchmark("ram/mnist.yaml", 1, CLASSIFICATION_NOTES, more_samples=10),
    "ram_cluttered100_8g": Benchmark("ram/cluttered100.yaml", 1, CLASSIFICATION_NOTES),
    "draw_cluttered100": Benchmark("draw/cluttered100.yaml", 1, CLASSIFICATION_NOTES),
    "draw_cluttered100_160min": Benchmark("draw/cluttered100_160min.yaml", 1, CLASSIFICATION_NOTES),
    "draw_mnist": Benchmark("draw/mnist.yaml", 20, LIKELIHOOD_NOTES),
    "draw_noattn_mnist": Benchmark("draw/mnist_noattn.yaml", 20, LIKELIHOOD_NOTES),
}


def _rounded(summary: dict, keys: list[str]) -> dict:
    return {k: round(summary[k], 3) for k in keys if k in summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--run-dir", type=Path, help="default: runs/bench-<results name>")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--max-minutes", type=float, help="default: the config's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--lr", type=float, help="override the config's learning rate")
    parser.add_argument(
        "--results-name", help="results file name, for a variant (default: the benchmark's)"
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()
    bench = BENCHMARKS[args.name]
    run_dir = args.run_dir or ROOT / "runs" / f"bench-{args.results_name or args.name}"

    trainer = {"devices": args.devices, "seed": args.seed}
    for key, value in [
        ("max_epochs", args.max_epochs),
        ("max_minutes", args.max_minutes),
        ("threads", args.threads),
    ]:
        if value is not None:
            trainer[key] = value
    if args.no_progress:
        trainer["progress_bar"] = False
    if args.resume:
        config = RunConfig.from_yaml(run_dir / "config.yaml")  # the run's own record
    else:
        config = RunConfig.from_yaml(ROOT / "configs" / bench.config)
    optim = {"lr": args.lr} if args.lr is not None else {}
    config = config.updated(
        {"data": {"data_dir": args.data_dir}, "trainer": trainer, "optim": optim}
    )

    summary = train_and_test(config, run_dir, resume=args.resume, samples=bench.samples)
    if not summary:
        return  # a DDP worker process
    tested = time.perf_counter()
    metrics = _rounded(
        summary,
        ["test_error_pct", "test_nll_nats", "test_nll_iw_nats", "test_kl_nats"]
        + ["best_val_error_pct", "best_val_nll_nats"],
    )
    if bench.more_samples:
        more = evaluate(summary["best_checkpoint"], samples=bench.more_samples)
        metrics[f"test_error_pct_M{bench.more_samples}"] = round(more["test_error_pct"], 3)
    # The summary's wall time counts earlier sessions of a resumed run; add the second test.
    wall = summary["wall_s"] + time.perf_counter() - tested
    metrics.update(
        wall_s=round(wall, 1),
        train_images_per_s=round(summary["train_images_per_s"], 1),
        epochs=summary["epochs"],
    )
    settings = config.trainer_settings()
    path = write_results(
        args.results_name or args.name,
        metrics=metrics,
        seed=args.seed,
        wall_s=wall,
        notes=bench.notes.format(M=bench.samples, K=bench.samples)
        + f" {settings.devices} process(es), max {settings.max_epochs} epochs or "
        f"{settings.max_minutes} minutes of training.",
        config=dataclasses.asdict(config),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
