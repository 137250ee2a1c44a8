"""A run's logs: its CSV log, which survives resumption, and TensorBoard's where asked.

Lightning's CSV writer deletes an existing metrics.csv when it starts, so a run resumed after a
crash would lose the learning curve of every earlier session. This one keeps the file, and its
columns, and appends the new session's rows. ``run_loggers`` gives the loggers of a run: always
that CSV log (reports and the benchmark runner read it), and with ``trainer.logger: tensorboard``
TensorBoard's too, whose folder a resumed session adds an event file to.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from foveate.training.schema import ConfigError


class _AppendingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        # Called by the writer's __init__, where Lightning removes the file; instead, take over
        # its header, so that a session logging new columns rewrites it with all of them.
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = next(csv.reader(file), [])


class ResumableCSVLogger(CSVLogger):
    """``CSVLogger`` whose metrics.csv keeps the rows of earlier sessions of the run."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


@rank_zero_only
def forget_rows_from(path: str | os.PathLike, step: int) -> int:
    """Remove the rows of the CSV log ``path`` logged at ``step`` or later (its ``step``
    column), keeping its header; returns how many went. A run resumed from a checkpoint of
    ``step`` batches logs those rows again: a session killed after logging them but before its
    next checkpoint would otherwise leave them twice (tests/test_random_kills.py). Written to a
    temporary file renamed over the log, so a kill here leaves the old log or the new one."""
    path = Path(path)
    if not path.is_file():
        return 0
    with open(path, newline="") as file:
        lines = list(csv.reader(file))
    if not lines or "step" not in lines[0]:
        return 0
    header, rows = lines[0], lines[1:]
    column = header.index("step")
    kept = [
        row
        for row in rows
        if not (row[column:] and row[column].isdigit()) or int(row[column]) < step
    ]
    if len(kept) == len(rows):
        return 0
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", newline="") as file:
        csv.writer(file, lineterminator="\n").writerows([header, *kept])
    os.replace(temporary, path)
    return len(rows) - len(kept)


def logged_step(trainer) -> int:
    """The step Lightning's loggers give what is logged now, during training or its
    validation: the index of the last training batch (a validation after 60 batches logs at 59),
    whatever the optimiser steps a batch. What a callback logs itself (TensorBoard's figures)
    takes it too, so that it lines up with the curves and a resumed run's logs drop both alike."""
    return max(trainer.fit_loop.epoch_loop.batch_progress.total.processed - 1, 0)


def logger_writes_this_step(trainer) -> bool:
    """Whether Lightning's loggers write what a training step logs now: they write on the step
    whose count of batches trained before it, plus one, is a multiple of ``log_every_n_steps``,
    whatever the optimiser steps a batch (one for most models, two for a GAN's players). A value
    logged on any other step is written late, at the next such step, or never (the step's values
    are dropped at an epoch's end), so a module logs its training curves only on these steps."""
    every = trainer.log_every_n_steps
    batches_before = trainer.fit_loop.epoch_loop.batch_progress.total.processed
    return bool(every) and (batches_before + 1) % every == 0


TENSORBOARD = "tensorboard"  # the folder of a run's TensorBoard event files


def run_loggers(
    logger: str, run_dir: str | os.PathLike, *, resumed_at: int | None = None
) -> list[Logger]:
    """The loggers of a run in ``run_dir``: its CSV log (``metrics.csv``), first, so that it is
    the trainer's ``logger``; with ``logger`` 'tensorboard', TensorBoard's, writing to
    ``run_dir/tensorboard/``. ``resumed_at``: where a resumed run's checkpoint left it (batches
    trained); what the logs hold from that step on, logged by a session killed after the
    checkpoint, is dropped, since the resumed session logs it again (the CSV log's rows removed,
    TensorBoard's events hidden by its ``purge_step``).

    Raises ConfigError (one line) where TensorBoard is asked for and not installed.
    """
    if resumed_at is not None:
        forget_rows_from(Path(run_dir) / "metrics.csv", resumed_at)
    loggers: list[Logger] = [ResumableCSVLogger(run_dir, name="", version="")]
    if logger == TENSORBOARD:
        purge = {} if resumed_at is None else {"purge_step": resumed_at}
        try:
            # No hp_metric: the hyperparameters' placeholder score would be a curve of one point.
            board = TensorBoardLogger(
                run_dir, name=TENSORBOARD, version="", default_hp_metric=False, **purge
            )
        except ModuleNotFoundError:
            raise ConfigError(
                "--logger tensorboard needs the tensorboard package: pip install tensorboard"
            ) from None
        loggers.append(board)
    return loggers
