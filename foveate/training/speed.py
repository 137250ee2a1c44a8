"""Training throughput: images per second of training, validation excluded."""

from __future__ import annotations

import time
from typing import Any

import lightning as L


class TrainingSpeed(L.Callback):
    """Count training images and the wall time spent in training epochs (not in validation).

    ``images_per_s`` covers every process: under data parallelism, each batch is multiplied by
    the world size.
    """

    def __init__(self) -> None:
        self.images = 0
        self.seconds = 0.0
        self._started: float | None = None

    def _start(self) -> None:
        self._started = time.perf_counter()

    def _stop(self) -> None:
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def on_train_epoch_start(self, *args: Any) -> None:
        self._start()

    def on_validation_start(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.training:
            self._stop()

    def on_validation_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.training:
            self._start()

    def on_train_epoch_end(self, *args: Any) -> None:
        self._stop()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.images += len(batch[1]) * trainer.world_size

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds else float("nan")
