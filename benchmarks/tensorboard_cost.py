"""What TensorBoard logging costs a run: one short run with the CSV log, then the same with TensorBoard.

    python benchmarks/tensorboard_cost.py --data-dir ../shared/data/mnist --threads 1

Trains ``--config`` (default configs/ram/mnist.yaml: RAM on MNIST, 6 glimpses, compiled) for
``--epochs`` epochs twice, in turn, through the library's ``fit`` as ``foveate train`` runs it:
with ``trainer.logger: csv``, then with ``tensorboard`` and the figures ``foveate train``
attaches (``figure_callbacks``: the model's figures of ``foveate show`` at every validation).
An epoch's time is the median over the run's epochs of the wall time from an epoch's start to
its end, its validation included (the median leaves out the first epoch's compilation). The
headline, ``figures_pct_of_epoch``, is the seconds the figure callback spent per validation
against the CSV run's epoch (the aim: under 5%); ``epoch_overhead_pct`` is the whole difference
of the two runs' epochs (TensorBoard's scalars too, and the machine's noise). ``same_training``
is 1 where both runs logged the same losses and validation scores, row for row: the figures
must not change what the model learns. Time it with nothing else running. Writes
benchmarks/records/probes/tensorboard_cost.json; the runs stay in runs/tensorboard_cost/
(``--smoke``: two epochs of two batches of the shipped digits, nothing written but the runs).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import lightning as L
from common import write_results

from foveate.reports.tensorboard_figures import TensorBoardFigures, figure_callbacks
from foveate.training.checks import smoke_config
from foveate.training.config import RunConfig
from foveate.training.fit import fit

ROOT = Path(__file__).resolve().parents[1]
NAME = "tensorboard_cost"
CONFIG = ROOT / "configs" / "ram" / "mnist.yaml"
RUN_DIR = ROOT / "runs" / NAME
SMOKE_TRAINER = {"max_epochs": 2, "limit_train_batches": 2, "max_minutes": None}
UNTIMED = ("epoch", "step")  # metrics.csv's columns that are no measurement of the model


class EpochClock(L.Callback):
    """The wall time of each training epoch, from its start to its end (validation included)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._started = 0.0

    def on_train_epoch_start(self, *args) -> None:
        self._started = time.perf_counter()

    def on_train_epoch_end(self, *args) -> None:
        self.seconds.append(time.perf_counter() - self._started)


def logged_rows(run_dir: Path) -> list[dict[str, str]]:
    """The rows of a run's metrics.csv: what it logged, step by step."""
    with open(run_dir / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def train(config: RunConfig, logger: str, run_dir: Path) -> tuple[EpochClock, tuple]:
    """One run of ``config`` with ``logger``, with the callbacks ``foveate train`` attaches."""
    config = config.updated({"trainer": {"logger": logger}})
    clock, figures = EpochClock(), figure_callbacks(config)
    fit(config, run_dir, overwrite=True, callbacks=(clock, *figures))
    return clock, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=CONFIG, help="the run to time")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run")
    parser.add_argument("--data-dir", help="the dataset's directory (default: as foveate train)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument(
        "--smoke", action="store_true", help="two tiny epochs of the shipped digits; no record"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    trainer = {"max_epochs": args.epochs, "max_minutes": None, "progress_bar": False, "seed": 0}
    if args.threads:
        trainer["threads"] = args.threads
    config = RunConfig.from_yaml(args.config).updated(
        {"trainer": trainer, "data": {"data_dir": args.data_dir} if args.data_dir else {}}
    )
    run_dir = RUN_DIR
    if args.smoke:
        config = smoke_config(config).updated({"trainer": SMOKE_TRAINER})
        run_dir = RUN_DIR.with_name(NAME + "-smoke")

    csv_clock, _ = train(config, "csv", run_dir / "csv")
    board_clock, figures = train(config, "tensorboard", run_dir / "tensorboard")
    (drawer,) = [c for c in figures if isinstance(c, TensorBoardFigures)]
    epoch_csv = statistics.median(csv_clock.seconds)
    epoch_board = statistics.median(board_clock.seconds)
    per_validation = drawer.seconds / max(drawer.validations, 1)
    measured = [
        [{k: v for k, v in row.items() if k not in UNTIMED} for row in logged_rows(run_dir / side)]
        for side in ("csv", "tensorboard")
    ]
    metrics = {
        "epoch_s_csv": round(epoch_csv, 2),
        "epoch_s_tensorboard": round(epoch_board, 2),
        "figures_s_per_validation": round(per_validation, 3),
        "figures_pct_of_epoch": round(100 * per_validation / epoch_csv, 2),
        "epoch_overhead_pct": round(100 * (epoch_board - epoch_csv) / epoch_csv, 2),
        "same_training": int(measured[0] == measured[1]),
        "epochs": len(csv_clock.seconds),
    }
    for key, value in metrics.items():
        print(f"{key}: {value}")
    if args.smoke:
        return
    path = write_results(
        NAME,
        metrics=metrics,
        seed=0,
        wall_s=time.perf_counter() - started,
        config=config.as_dict(),
        notes=(
            f"The cost of trainer.logger: tensorboard, whose figures (foveate show's, "
            f"{drawer.images} test images each) are drawn and logged at every validation: "
            f"{args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT) else args.config}"
            f" for {args.epochs} epochs with the CSV log, then with TensorBoard, one run at a "
            "time on this machine. figures_pct_of_epoch: the figure callback's seconds per "
            "validation against the median epoch (validation included) of the CSV run; "
            "epoch_overhead_pct: the median epochs' whole difference; same_training: 1 where "
            "both runs logged the same metrics, row for row."
        ),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
