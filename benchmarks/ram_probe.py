"""A short RAM training run, judged on the validation split only: error and glimpse hit rate.

    python benchmarks/ram_probe.py reward_probability --config ram/cluttered100_80min.yaml \
        --set model_args.reward=probability --max-minutes 15 --threads 1

For choosing what makes RAM's policy search well (docs/ram.md, "Ablation"): each probe trains
a config with some settings changed, keeps its best checkpoint by validation error, and measures
on the validation canvases (held-out training digits; the test set is never read) the error of
one glimpse path per image (M = 1) and the glimpse hit rate (``foveate.reports.hits``). Writes
the probe record benchmarks/records/probes/<name>.json and keeps the run's metrics.csv in
benchmarks/records/logs/ram_probes/. A probe cut off continues with --resume.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import yaml
from common import LOGS, load_run, write_results

from foveate.reports.hits import hit_rate
from foveate.training.config import RunConfig
from foveate.training.fit import fit

ROOT = Path(__file__).resolve().parents[1]
PROBE_LOGS = LOGS / "ram_probes"


def overrides(settings: list[str]) -> dict[str, dict]:
    """['model_args.reward=probability', ...] -> {'model_args': {'reward': 'probability'}}."""
    sections: dict[str, dict] = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot:
            raise SystemExit(f"--set takes section.key=value, got {setting!r}")
        sections.setdefault(section, {})[name] = yaml.safe_load(value)
    return sections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--config", required=True, help="YAML under configs/")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--max-minutes", type=float, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    run_dir = ROOT / "runs" / f"probe-{args.name}"
    started = time.perf_counter()
    if args.resume:
        config = RunConfig.from_yaml(run_dir / "config.yaml")
    else:
        config = RunConfig.from_yaml(ROOT / "configs" / args.config).updated(overrides(args.set))
    trainer = {
        "max_minutes": args.max_minutes,
        "threads": args.threads,
        "seed": args.seed,
        "progress_bar": False,
    }
    config = config.updated({"data": {"data_dir": args.data_dir}, "trainer": trainer})
    result = fit(config, run_dir, resume=args.resume)
    model, _, data = load_run(str(result.best_checkpoint), stage="fit")
    val = data.datasets["val"]
    measured = hit_rate(model, val.images, val.labels, val.centres)
    metrics = {
        "val_error_pct": round(measured["episode_error_pct"], 2),
        "best_val_error_pct": round(result.best_val, 2),
        "val_hit_rate_pct": round(measured["hit_rate_pct"], 1),
        "val_hit_rate_right_pct": round(measured["hit_rate_right_pct"], 1),
        "val_hit_rate_wrong_pct": round(measured["hit_rate_wrong_pct"], 1),
        "epochs": result.epochs,
        "train_images_per_s": round(result.train_images_per_s, 1),
    }
    settings = ", ".join(args.set) or "as configured"
    write_results(
        args.name,
        metrics=metrics,
        seed=args.seed,
        wall_s=result.earlier_fit_seconds + time.perf_counter() - started,
        notes=(
            f"RAM probe on {args.config} with {settings}, {args.max_minutes:g} minutes: "
            "measured on the validation canvases only (held-out training digits). "
            "best_val_error_pct chooses the checkpoint; val_error_pct and the hit rates are one "
            "episode per canvas of that checkpoint."
        ),
        title=f"RAM probe {args.name} on {args.config}: {settings} (validation only)",
        config=config.as_dict(),
        changes=args.set,
        base_config=args.config,
    )
    PROBE_LOGS.mkdir(parents=True, exist_ok=True)
    shutil.copy(run_dir / "metrics.csv", PROBE_LOGS / f"{args.name}.metrics.csv")
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
