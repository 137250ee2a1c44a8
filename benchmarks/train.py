"""Benchmarks: train a config, test its best checkpoint, write benchmarks/records/probes/<name>.json.

    python benchmarks/train.py ram_mnist
    python benchmarks/train.py draw_mnist --resume

The data are found as by ``foveate train`` (--data-dir, else $FOVEATE_DATA, else the user cache,
downloading what is missing). The results file records every test metric the model's training
module reported, whatever the model.

Hyper-parameters and the checkpoint are chosen on a validation split carved from the training
digits; the test set is touched once, at the end. A run cut off (a crash, the end of a session)
continues from its last checkpoint with --resume, and its wall time then sums every session.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from common import write_results

from foveate.training.config import RunConfig
from foveate.training.fit import evaluate, train_and_test

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Benchmark:
    """config: YAML under configs/ (its optim.eval_samples is the test's M or K); notes: what
    the numbers mean; more_samples: a second test with this many samples, its metrics suffixed
    ``_M<n>``; aliases: metrics also written under the names their issue gave them."""

    config: str
    notes: str
    more_samples: int | None = None
    aliases: tuple[tuple[str, str], ...] = ()  # (name an issue asks for, the measured metric)


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

OMNIGLOT_NOTES = (
    "AIR on single Omniglot characters (both small background sets at 28x28; drawers 1-16 train, "
    "400 of their images validate, drawers 17-20 test): test_nll_nats is the negative ELBO with "
    "one posterior sample; test_count_accuracy_pct counts the scenes explained by exactly one "
    "object, which is not the goal here (a character is explained in parts); the figure in "
    "docs/air.md shows the parts. The checkpoint is chosen on the validation bound."
)

READER_NOTES = (
    "Rows of 1 to 5 MNIST digits (36x156): test_sequence_accuracy_pct counts the rows whose every "
    "digit and end token are read right, greedily, on 10,000 fixed test rows of the test digits; "
    "test_attention_on_digit_pct the steps of rows read right whose attention map peaks on the "
    "digit the step reads. The checkpoint is chosen on 2,000 validation rows of digits held out "
    "of the training set."
)
SET_NOTES = (
    "Sets of MNIST digits (pointer: 9 digits of different classes and a query class; bags: 5 to "
    "15 digits, positive with a 9): test_accuracy_pct on 10,000 fixed test sets of the test "
    "digits; test_attention_on_relevant_pct the sets whose highest attention weight falls on "
    "the queried digit (pointer) or a 9 (positive bags). The checkpoint is chosen on 2,000 "
    "validation sets of digits held out of the training set."
)
GAME_NOTES = (
    "Catch (24x24 screen, 2-pixel paddle, a ball with a random column and drift, reward 1 for "
    "a catch): test_return_pct is the share of 1,000 fixed held-out test games caught with the "
    "policy's most likely moves and locations (greedy); test_return_sampled_pct with sampled "
    "ones. The checkpoint is chosen on 1,000 other fixed validation games; training games are "
    "drawn afresh for every step."
)
GAME_ALIASES = (
    ("catch_rate_pct", "test_return_pct"),
    ("catch_rate_sampled_pct", "test_return_sampled_pct"),
)
BASELINE_NOTES = CLASSIFICATION_NOTES.replace(
    "test_error_pct uses M={M} (glimpse paths per image)",
    "test_error_pct (a deterministic network)",
)
READER_ALIASES = (
    ("sequence_accuracy_pct", "test_sequence_accuracy_pct"),
    ("digit_accuracy_pct", "test_digit_accuracy_pct"),
    ("alignment_pct", "test_attention_on_digit_pct"),
)
POINTER_ALIASES = (("accuracy_pct", "test_accuracy_pct"),)
BAG_ALIASES = (
    ("bag_accuracy_pct", "test_accuracy_pct"),
    ("localisation_pct", "test_attention_on_relevant_pct"),
)

BENCHMARKS = {
    "ram_mnist": Benchmark("ram/mnist.yaml", CLASSIFICATION_NOTES, more_samples=10),
    "ram_catch_stage1": Benchmark("ram_agent/catch_stage1.yaml", GAME_NOTES, aliases=GAME_ALIASES),
    "ram_catch": Benchmark("ram_agent/catch.yaml", GAME_NOTES, aliases=GAME_ALIASES),
    **{
        f"{name}_{task}": Benchmark(f"{folder}/{task}.yaml", BASELINE_NOTES)
        for name, folder in (("fc", "fc"), ("cnn", "shallow_cnn"))
        for task in ("mnist", "translated", "cluttered60", "cluttered100")
    },
    "draw_cluttered100": Benchmark("draw/cluttered100.yaml", CLASSIFICATION_NOTES),
    "draw_cluttered100_160min": Benchmark("draw/cluttered100_160min.yaml", CLASSIFICATION_NOTES),
    "draw_mnist": Benchmark("draw/mnist.yaml", LIKELIHOOD_NOTES),
    "draw_noattn_mnist": Benchmark("draw/mnist_noattn.yaml", LIKELIHOOD_NOTES),
    "air_omniglot": Benchmark("air/omniglot.yaml", OMNIGLOT_NOTES),
    "air_omniglot_parts": Benchmark("air/omniglot_parts.yaml", OMNIGLOT_NOTES),
    "reader_soft": Benchmark("reader/rows.yaml", READER_NOTES, aliases=READER_ALIASES),
    "reader_hard": Benchmark("reader/rows_hard.yaml", READER_NOTES, aliases=READER_ALIASES),
    "reader_noattn": Benchmark("reader/rows_none.yaml", READER_NOTES, aliases=READER_ALIASES),
    "pointer_soft": Benchmark("pointer/mnist.yaml", SET_NOTES, aliases=POINTER_ALIASES),
    "pointer_hard": Benchmark("pointer/mnist_hard.yaml", SET_NOTES, aliases=POINTER_ALIASES),
    "pointer_noattn": Benchmark("pointer/mnist_none.yaml", SET_NOTES, aliases=POINTER_ALIASES),
    "bags": Benchmark("bags/mnist.yaml", SET_NOTES, aliases=BAG_ALIASES),
    "bags_hard": Benchmark("bags/mnist_hard.yaml", SET_NOTES, aliases=BAG_ALIASES),
    "bags_noattn": Benchmark("bags/mnist_none.yaml", SET_NOTES, aliases=BAG_ALIASES),
}


def measured(summary: dict, suffix: str = "") -> dict:
    """The test and best-validation metrics of a run's summary, rounded, whatever their names."""
    return {
        k + suffix: round(v, 3)
        for k, v in summary.items()
        if k.startswith(("test_", "best_val"))
        and k != "test_images"  # a count, recorded in the notes
        and isinstance(v, float | int)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--data-dir", help="the dataset's directory (default: as foveate train)")
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
    data = {"data_dir": args.data_dir} if args.data_dir else {}
    config = config.updated({"data": data, "trainer": trainer, "optim": optim})

    summary = train_and_test(config, run_dir, resume=args.resume)
    if not summary:
        return  # a DDP worker process
    tested = time.perf_counter()
    metrics = measured(summary)
    if bench.more_samples:
        more = evaluate(summary["best_checkpoint"], eval_samples=bench.more_samples)
        metrics.update(measured(more, suffix=f"_M{bench.more_samples}"))
    # The summary's wall time counts earlier sessions of a resumed run; add the second test.
    wall = summary["wall_s"] + time.perf_counter() - tested
    metrics.update({alias: metrics[name] for alias, name in bench.aliases if name in metrics})
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
        notes=bench.notes.format(M=summary["eval_samples"], K=summary["eval_samples"])
        + f" Dataset: {config.data.get('dataset', 'mnist')}. {settings.devices} process(es), max "
        f"{settings.max_epochs} epochs or {settings.max_minutes} minutes of training.",
        config=config.as_dict(),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
