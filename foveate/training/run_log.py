"""A run's CSV log that survives resumption: Lightning's CSVLogger, appending instead of deleting.

Lightning's CSV writer deletes an existing metrics.csv when it starts, so a run resumed after a
crash would lose the learning curve of every earlier session. This one keeps the file, and its
columns, and appends the new session's rows.
"""

from __future__ import annotations

import csv

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment


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
