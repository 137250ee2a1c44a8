"""The spatial transformer network beside a plain CNN with the same classifier and time budget.

    python benchmarks/stn.py cluttered60 --threads 1
    python benchmarks/stn.py translated --threads 1

Trains configs/stn/<task>.yaml, then configs/cnn/<task>.yaml, each choosing its checkpoint on
the validation split and testing it once; writes the probe record
benchmarks/records/probes/stn_<task>.json with both test errors and the RAM paper's row for the
same task (the headline records are the runner's: ``foveate bench stn_<task>`` and
``cnn_<task>``). A run cut off continues with --resume
(a model whose run has finished is not trained again).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import paper_figure, write_results

from foveate.training.config import RunConfig
from foveate.training.fit import train_and_test

ROOT = Path(__file__).resolve().parents[1]
# Mnih et al. 2014 (test error, %), the rows for the same canvases.
RAM_PAPER = {
    "translated": (1.22, "RAM, 6 glimpses: Mnih et al. 2014 (NIPS), table 1 (b)"),
    "cluttered60": (4.04, "RAM, 8 glimpses: Mnih et al. 2014 (NIPS), table 2 (a)"),
}
NOTES = (
    "Test error (%) on the task's fixed 10,000 test canvases (dataset: {dataset}; data_seed 0); "
    "each checkpoint chosen on 5,000 validation digits held out of the training set. Training "
    "canvases drawn afresh every batch. test_error_pct is the STN's, cnn_test_error_pct the plain "
    "CNN's (the STN's classifier on the whole canvas) with the same training budget; wall_s and "
    "train_minutes are the STN's. Each model trained on one thread. {beside}"
)


def run(name: str, config: RunConfig, run_dir: Path, resume: bool) -> dict:
    """Train and test one config, or read the results of a run that has already finished."""
    done = run_dir / "results.json"
    if resume and done.is_file():
        return json.loads(done.read_text())
    resuming = resume and (run_dir / "checkpoints" / "last.ckpt").is_file()
    print(f"{name}: {'resuming' if resuming else 'training'} in {run_dir}", flush=True)
    return train_and_test(config, run_dir, resume=resuming)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=sorted(RAM_PAPER))
    parser.add_argument("--data-dir", help="the dataset's directory (default: as foveate train)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--beside", default="", help="what else ran on the machine meanwhile, for the notes"
    )
    args = parser.parse_args()
    summaries, configs = {}, {}
    for model in ("stn", "cnn"):
        trainer = {"seed": args.seed, "progress_bar": not args.no_progress}
        if args.threads:
            trainer["threads"] = args.threads
        config = RunConfig.from_yaml(ROOT / "configs" / model / f"{args.task}.yaml").updated(
            {"data": {"data_dir": args.data_dir} if args.data_dir else {}, "trainer": trainer}
        )
        run_dir = ROOT / "runs" / f"bench-{model}_{args.task}"
        summaries[model] = run(model, config, run_dir, args.resume)
        configs[model] = config.as_dict()
    stn, cnn = summaries["stn"], summaries["cnn"]
    metrics = {
        "test_error_pct": round(stn["test_error_pct"], 3),
        "cnn_test_error_pct": round(cnn["test_error_pct"], 3),
        "best_val_error_pct": round(stn["best_val_error_pct"], 3),
        "cnn_best_val_error_pct": round(cnn["best_val_error_pct"], 3),
        "wall_s": round(stn["wall_s"], 1),
        "train_minutes": round(stn["train_seconds"] / 60, 1),
        "cnn_train_minutes": round(cnn["train_seconds"] / 60, 1),
        "epochs": stn["epochs"],
        "cnn_epochs": cnn["epochs"],
        "train_images_per_s": round(stn["train_images_per_s"], 1),
        "cnn_train_images_per_s": round(cnn["train_images_per_s"], 1),
    }
    path = write_results(
        f"stn_{args.task}",
        metrics=metrics,
        seed=args.seed,
        wall_s=stn["wall_s"] + cnn["wall_s"],  # both models, every session of a resumed run
        notes=NOTES.format(
            beside=args.beside, dataset=configs["stn"]["data"].get("dataset", "mnist")
        ),
        paper=paper_figure({"test_error_pct": RAM_PAPER[args.task][0]}, RAM_PAPER[args.task][1]),
        config=configs,
    )
    print(f"wrote {path}: {json.dumps(metrics)}")


if __name__ == "__main__":
    main()
