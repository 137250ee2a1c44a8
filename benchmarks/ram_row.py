"""One row of RAM's classification tables, one seed at a time: train, test, and look where it looked.

    python benchmarks/ram_row.py cluttered100_8g --seed 0 --threads 1 --data-dir ../shared/data/mnist
    python benchmarks/ram_row.py cluttered100_8g --seed 0 --resume     # after a stop
    python benchmarks/ram_row.py cluttered100_8g --seed 0 --from-probe c100_reward_cap0.9

Trains ``configs/ram/<row>.yaml`` (``mnist.yaml`` for MNIST with 6 glimpses) with the seed, chooses the checkpoint on the 5,000 validation
digits, and tests it once on the task's 10,000 fixed test canvases: the error with one glimpse
path per image (M = 1, the paper's measure) and with M = 10 beside it, and the glimpse hit rate
(``foveate.reports.hits``: a glimpse of the second half whose finest patch covers the digit's
centre). --from-probe tests, as the seed, a probe (benchmarks/ram_probe.py) that trained the
row's config in full, its checkpoint chosen on validation like the row's own. Each seed's
record goes to benchmarks/records/logs/ram_rows/ram_<row>_seed<k>.json (with its
metrics.csv); then every seed recorded so far is summed up in the probe record
benchmarks/records/probes/ram_<row>.json: the mean error over seeds and its sample standard
deviation. The row's headline record is the runner's (``foveate bench ram_<row>``, in
benchmarks/records/headline/).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

from common import LOGS, PROBES, load_run, paper_figure, write_results

from foveate.bench.spec import load_specs
from foveate.reports.hits import hit_rate
from foveate.training.config import RunConfig
from foveate.training.fit import evaluate, train_and_test

ROOT = Path(__file__).resolve().parents[1]
ROWS = LOGS / "ram_rows"
PROBE_LOGS = LOGS / "ram_probes"  # the probes' metrics.csv; their records are in PROBES
PAPER = {  # Mnih et al. 2014, tables 1-2 (cluttered 100x100 as cited in DRAW's table 1)
    "mnist_6g": 1.12,
    "mnist_7g": 1.07,
    "translated_4g": 1.54,
    "translated_6g": 1.22,
    "translated_8g": 1.2,
    "cluttered60_4g": 4.96,
    "cluttered60_8g": 4.04,
    "cluttered100_4g": 9.41,
    "cluttered100_8g": 8.11,
}
CONFIGS = {"mnist_6g": "mnist.yaml"}  # the README's name


def config_path(row: str) -> Path:
    return ROOT / "configs" / "ram" / CONFIGS.get(row, f"{row}.yaml")


def one_seed(row: str, args: argparse.Namespace) -> dict:
    run_dir = ROOT / "runs" / f"bench-ram_{row}-seed{args.seed}"
    trainer = {"seed": args.seed, "progress_bar": False}
    if args.threads:
        trainer["threads"] = args.threads
    if args.max_minutes:
        trainer["max_minutes"] = args.max_minutes
    if args.resume:
        config = RunConfig.from_yaml(run_dir / "config.yaml")
    else:
        config = RunConfig.from_yaml(config_path(row))
    config = config.updated({"data": data_dir_override(args.data_dir) or {}, "trainer": trainer})
    summary = train_and_test(config, run_dir, resume=args.resume)
    trained = {k: summary[k] for k in ("best_val_error_pct", "epochs", "train_images_per_s")}
    return tested(
        row,
        args.seed,
        summary["best_checkpoint"],
        config,
        trained={
            **trained,
            "wall_s": summary["wall_s"],
            "test_error_pct": summary["test_error_pct"],
        },
        metrics_csv=run_dir / "metrics.csv",
        resumed=bool(args.resume),
    )


def from_probe(row: str, args: argparse.Namespace) -> dict:
    """A seed of the row from a finished probe that trained exactly the row's config."""
    probe = json.loads((PROBES / f"{args.from_probe}.json").read_text())
    config = RunConfig.from_dict(probe["config"])
    wanted = RunConfig.from_yaml(config_path(row))
    for section in ("model", "model_args", "optim"):
        if config.as_dict()[section] != wanted.as_dict()[section]:
            raise SystemExit(
                f"probe {args.from_probe} trained another {section} than {row}'s config"
            )
    same_data = {k: v for k, v in config.data.items() if k != "data_dir"} == wanted.data
    if not same_data or config.trainer.get("max_epochs") != wanted.trainer.get("max_epochs"):
        raise SystemExit(
            f"probe {args.from_probe} trained other data or epochs than {row}'s config"
        )
    if config.trainer.get("seed", 0) != args.seed:
        raise SystemExit(f"probe {args.from_probe} ran seed {config.trainer.get('seed', 0)}")
    if probe["metrics"]["epochs"] < wanted.trainer["max_epochs"]:
        raise SystemExit(f"probe {args.from_probe} stopped before its last epoch")
    if args.data_dir:
        config = config.updated({"data": data_dir_override(args.data_dir)})
    checkpoint = ROOT / "runs" / f"probe-{args.from_probe}" / "checkpoints" / "best.ckpt"
    m1 = evaluate(checkpoint, eval_samples=1, data_overrides=data_dir_override(args.data_dir))
    metrics = probe["metrics"]
    return tested(
        row,
        args.seed,
        str(checkpoint),
        config,
        trained={
            "best_val_error_pct": metrics["best_val_error_pct"],
            "epochs": metrics["epochs"],
            "train_images_per_s": metrics["train_images_per_s"],
            "wall_s": probe["wall_s"],
            "test_error_pct": m1["test_error_pct"],
        },
        metrics_csv=PROBE_LOGS / f"{args.from_probe}.metrics.csv",
        resumed=False,
        trained_by=f"python benchmarks/ram_probe.py {args.from_probe} ("
        + " ".join(probe["changes"])
        + ")",
    )


def data_dir_override(data_dir: str | None) -> dict | None:
    """The data section's override that reads the images from ``data_dir`` (None: none)."""
    return {"data_dir": data_dir} if data_dir else None


def tested(
    row: str,
    seed: int,
    checkpoint: str,
    config: RunConfig,
    *,
    trained: dict,
    metrics_csv: Path,
    resumed: bool,
    **more,
) -> dict:
    """The seed's record: M = 10 and the hit rate beside the training's M = 1 test."""
    started = time.perf_counter()
    data_dir = config.data.get("data_dir")
    m10 = evaluate(checkpoint, eval_samples=10, data_overrides=data_dir_override(data_dir))
    model, _, module = load_run(checkpoint, data_dir=data_dir, stage="test")
    test = module.datasets["test"]
    hits = hit_rate(model, test.images, test.labels, test.centres)
    record = {
        "row": row,
        "seed": seed,
        "test_error_pct": round(trained["test_error_pct"], 3),
        "test_error_pct_M10": round(m10["test_error_pct"], 3),
        "best_val_error_pct": round(trained["best_val_error_pct"], 3),
        **{k: round(v, 2) for k, v in hits.items()},
        "epochs": trained["epochs"],
        "train_images_per_s": round(trained["train_images_per_s"], 1),
        "wall_s": round(trained["wall_s"] + time.perf_counter() - started, 1),
        "resumed": resumed,
        "max_minutes": config.trainer_settings().max_minutes,
        **more,
        "config": config.as_dict(),
    }
    ROWS.mkdir(parents=True, exist_ok=True)
    (ROWS / f"ram_{row}_seed{seed}.json").write_text(json.dumps(record, indent=2) + "\n")
    shutil.copy(metrics_csv, ROWS / f"ram_{row}_seed{seed}.metrics.csv")
    return record


def summarise(row: str) -> Path:
    """benchmarks/records/probes/ram_<row>.json from every seed recorded for the row."""
    seeds = sorted(
        (json.loads(p.read_text()) for p in ROWS.glob(f"ram_{row}_seed*.json")),
        key=lambda r: r["seed"],
    )

    def mean(key: str) -> float:
        return round(statistics.fmean(s[key] for s in seeds), 3)

    errors = [s["test_error_pct"] for s in seeds]
    metrics = {
        "test_error_pct": mean("test_error_pct"),
        "test_error_pct_std": round(statistics.stdev(errors), 3) if len(errors) > 1 else 0.0,
        "test_error_pct_min": min(errors),
        "test_error_pct_max": max(errors),
        "test_error_pct_M10": mean("test_error_pct_M10"),
        "hit_rate_pct": round(statistics.fmean(s["hit_rate_pct"] for s in seeds), 2),
        "hit_rate_right_pct": round(statistics.fmean(s["hit_rate_right_pct"] for s in seeds), 2),
        "hit_rate_wrong_pct": round(statistics.fmean(s["hit_rate_wrong_pct"] for s in seeds), 2),
        "best_val_error_pct": mean("best_val_error_pct"),
        "epochs": mean("epochs"),
        "wall_s": max(s["wall_s"] for s in seeds),  # the longest seed: each trains on its own
        "train_images_per_s": mean("train_images_per_s"),
    }
    per_seed = [
        {
            "seed": s["seed"],
            "metrics": {k: v for k, v in s.items() if k not in ("row", "seed", "config")},
            "wall_s": s["wall_s"],
        }
        for s in seeds
    ]
    command = "python benchmarks/ram_row.py " + row + " --seed K --threads 1"
    return write_results(
        f"ram_{row}",
        metrics=metrics,
        seed=seeds[0]["seed"],
        wall_s=metrics["wall_s"],
        notes=(
            f"RAM, {config_path(row).relative_to(ROOT)}; per seed: best checkpoint by validation error "
            "(5,000 held-out training digits), tested once on the task's 10,000 fixed test "
            "canvases with one glimpse path per image (M=1; test_error_pct_M10 averages 10). "
            "test_error_pct is the mean over the seeds listed, test_error_pct_std their sample "
            "standard deviation. hit_rate_pct: test canvases on which the finest patch of at "
            "least one glimpse of the episode's second half covers the digit's centre (one "
            "episode each). wall_s: the longest seed's training and testing, every session of "
            "a resumed run summed; each seed's record, with its command, is in "
            f"benchmarks/records/logs/ram_rows/. Seeds recorded: {len(seeds)}. Command per "
            f"seed: {command}"
        ),
        config=seeds[-1]["config"],
        paper=paper_figure(
            {"test_error_pct": PAPER[row]}, load_specs(ROOT)[f"ram_{row}"].paper.source
        ),
        seeds=per_seed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("row", choices=sorted(PAPER), help="<task>_<glimpses>g")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data-dir", help="the dataset's directory (default: as foveate train)")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--from-probe", metavar="NAME", help="test a probe that trained the row's config in full"
    )
    parser.add_argument(
        "--max-minutes", type=float, help="another training budget than the config's (say so)"
    )
    parser.add_argument(
        "--summarise-only", action="store_true", help="only rewrite ram_<row>.json from the seeds"
    )
    args = parser.parse_args()
    if not args.summarise_only:
        record = from_probe(args.row, args) if args.from_probe else one_seed(args.row, args)
        print(json.dumps({k: v for k, v in record.items() if k != "config"}))
    print(f"wrote {summarise(args.row)}")


if __name__ == "__main__":
    main()
